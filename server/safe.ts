/*
 * No input may crash the server: every request handler runs inside `safely`, which logs the error
 * (with the request name) to the client's output channel and answers with an empty result.
 */
import type { Connection } from 'vscode-languageserver/node';

export type Logger = Pick<Connection['console'], 'error' | 'log'>;

export function safely<P extends unknown[], R>(log: Logger, name: string, empty: R, fn: (...args: P) => R | Promise<R>): (...args: P) => Promise<R> {
  return async (...args: P) => {
    try {
      return await fn(...args);
    } catch (err) {
      log.error(`popek: ${name} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      return empty;
    }
  };
}
