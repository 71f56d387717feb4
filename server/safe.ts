/*
 * No input may crash the server or go unanswered: every request handler runs inside `safely`, which
 * logs an error (with the request name, one line) to the client's output channel and answers with
 * an empty result. It also honours `$/cancelRequest`: the handler first lets the messages queued
 * behind its request arrive (a cancel among them), and a request cancelled before or while it runs
 * is answered RequestCancelled, as LSP asks.
 */
import { LSPErrorCodes, ResponseError, type CancellationToken, type Connection } from 'vscode-languageserver/node';

export type Logger = Pick<Connection['console'], 'error' | 'log'>;

function tokenOf(args: unknown[]): CancellationToken | undefined {
  for (const a of args) {
    const t = a as CancellationToken | undefined;
    if (t && typeof t === 'object' && typeof t.isCancellationRequested === 'boolean' && typeof t.onCancellationRequested === 'function') return t;
  }
  return undefined;
}

const cancelled = () => new ResponseError(LSPErrorCodes.RequestCancelled, 'request cancelled');

export function safely<P extends unknown[], R>(log: Logger, name: string, empty: R, fn: (...args: P) => R | Promise<R>): (...args: P) => Promise<R> {
  return async (...args: P) => {
    const token = tokenOf(args);
    if (token) {
      // One turn of the event loop: a $/cancelRequest sent right after this request is read now.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (token.isCancellationRequested) throw cancelled();
    }
    let result: R;
    try {
      result = await fn(...args);
    } catch (err) {
      log.error(`popek: ${name} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      return empty;
    }
    if (token?.isCancellationRequested) throw cancelled();
    return result;
  };
}
