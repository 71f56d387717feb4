/*
 * A Debug Adapter Protocol client over a session in this process, as the extension's inline mode
 * runs it (messages in through handleMessage, out through onDidSendMessage): the debugger benches
 * drive the adapter with it.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import { PopekDebugSession } from '../../debugger/session';

/** A DAP client over an inline session. */
export class InlineClient {
  private seq = 1;
  private readonly session = new PopekDebugSession();
  private readonly waiters: Array<{ match: (m: DebugProtocol.ProtocolMessage) => boolean; resolve: (m: DebugProtocol.ProtocolMessage) => void }> = [];
  constructor() {
    this.session.onDidSendMessage((m) => {
      const msg = m as DebugProtocol.ProtocolMessage;
      // Every waiter that matches gets the message.
      for (let i = this.waiters.length - 1; i >= 0; i--) if (this.waiters[i].match(msg)) this.waiters.splice(i, 1)[0].resolve(msg);
    });
  }
  wait<T extends DebugProtocol.ProtocolMessage>(match: (m: DebugProtocol.ProtocolMessage) => boolean): Promise<T> {
    return new Promise((resolve) => this.waiters.push({ match, resolve: resolve as (m: DebugProtocol.ProtocolMessage) => void }));
  }
  event<T extends DebugProtocol.Event>(name: string): Promise<T> {
    return this.wait<T>((m) => m.type === 'event' && (m as DebugProtocol.Event).event === name);
  }
  request<T extends DebugProtocol.Response>(command: string, args?: unknown): Promise<T> {
    const seq = this.seq++;
    const p = this.wait<T>((m) => m.type === 'response' && (m as DebugProtocol.Response).request_seq === seq);
    this.session.handleMessage({ seq, type: 'request', command, arguments: args } as DebugProtocol.Request);
    return p;
  }
  /** initialize → launch → configurationDone; resolves at the first stopped event (or termination). */
  async launch(args: Record<string, unknown>, before?: () => Promise<void>): Promise<string> {
    await this.request('initialize', { adapterID: 'popek', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    const stopped = Promise.race([this.event<DebugProtocol.StoppedEvent>('stopped').then((e) => e.body.reason), this.event('terminated').then(() => 'terminated')]);
    const initialized = this.event('initialized');
    const launched = this.request('launch', args);
    await initialized;
    await before?.();
    await this.request('configurationDone');
    await launched;
    return stopped;
  }
  dispose(): void { this.session.dispose(); }
}
