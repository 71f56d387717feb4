/*
 * The bundled language server (dist/server.js) in a separate process on stdio, as an editor starts
 * it, with a real protocol client (vscode-languageserver-protocol) — plus a raw channel for writing
 * malformed bytes between well-formed messages. Every request is timed; one not answered within
 * the limit is recorded as a hang (and the test goes on).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import {
  createProtocolConnection, StreamMessageReader, StreamMessageWriter, CancellationTokenSource,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import { REPO_ROOT } from '../../support/repoRoot';
import { HangWatch } from './schedstat';

/** Wall time a request to a server only starved of CPU is given before it counts as unanswered all the same. */
const STARVED_CAP_MS = 120_000;

export interface Answer { ok: boolean; result?: unknown; error?: { code: number; message: string }; ms: number; hung?: boolean }

export class LspProcess {
  readonly proc: ChildProcess;
  readonly connection: ProtocolConnection;
  stderr = '';
  exited: number | null | undefined;
  requests = 0;
  hangs: string[] = [];
  maxMs = 0;
  slowest = '';
  logErrors: string[] = [];
  /** Requests answered after their limit while the server was only starved of CPU (HangWatch). */
  starvedButAnswered = 0;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(readonly settings: Record<string, unknown>) {
    this.proc = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/server.js'), '--stdio'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.proc.on('exit', (code) => { this.exited = code; });
    this.proc.stdin!.on('error', () => undefined);
    this.connection = createProtocolConnection(new StreamMessageReader(this.proc.stdout!), new StreamMessageWriter(this.proc.stdin!));
    this.connection.onRequest('workspace/configuration', (p: { items: Array<{ section?: string }> }) => p.items.map((i) => (i.section === 'popek' ? this.settings : null)));
    this.connection.onRequest('client/registerCapability', () => null);
    this.connection.onRequest('workspace/diagnostic/refresh', () => null);
    this.connection.onRequest('workspace/semanticTokens/refresh', () => null);
    this.connection.onNotification('window/logMessage', (m: { type: number; message: string }) => { if (m.type === 1) this.logErrors.push(m.message); });
    this.connection.onNotification('textDocument/publishDiagnostics', () => undefined);
    this.connection.onError(() => undefined);
    this.connection.listen();
  }

  async start(): Promise<void> {
    await this.request('initialize', {
      processId: process.pid, rootUri: null, workspaceFolders: null,
      capabilities: {
        workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true }, diagnostics: { refreshSupport: true } },
        textDocument: { diagnostic: { dynamicRegistration: false }, synchronization: {}, completion: { completionItem: { snippetSupport: true } } },
      },
    }, 30_000);
    await this.notify('initialized', {});
  }

  notify(method: string, params: unknown): Promise<void> {
    const p = this.connection.sendNotification(method, params);
    this.writes = p.catch(() => undefined);
    return p;
  }

  /** Bytes as they are, after every message sent so far (framing of the others stays intact). */
  async raw(bytes: string): Promise<void> {
    await this.writes;
    await new Promise<void>((resolve) => this.proc.stdin!.write(bytes, () => resolve()));
  }

  /** Sends a request; `cancelAfterMs` sends $/cancelRequest that much later. */
  async request(method: string, params: unknown, limitMs = 10_000, cancelAfterMs?: number): Promise<Answer> {
    this.requests++;
    const t0 = performance.now(), watch = new HangWatch(this.proc.pid, limitMs, STARVED_CAP_MS);
    const source = new CancellationTokenSource();
    let timer: NodeJS.Timeout | undefined;
    const sent = this.connection.sendRequest(method, params, source.token).then(
      (result) => ({ ok: true, result }) as Answer,
      (error: { code: number; message: string }) => ({ ok: false, error: { code: error?.code, message: String(error?.message) } }) as Answer,
    );
    this.writes = sent.catch(() => undefined);
    if (cancelAfterMs !== undefined) setTimeout(() => source.cancel(), cancelAfterMs);
    const limit = new Promise<Answer>((resolve) => {
      const check = () => { if (watch.keepWaiting()) timer = setTimeout(check, 1000); else resolve({ ok: false, hung: true, ms: limitMs }); };
      timer = setTimeout(check, limitMs);
    });
    const a = await Promise.race([sent, limit]);
    clearTimeout(timer);
    a.ms = performance.now() - t0;
    if (a.hung) this.hangs.push(`${method} (no answer in ${Math.round(a.ms)} ms; the server was ${watch.verdict()}) ${JSON.stringify(params).slice(0, 300)}`);
    else if (a.ms > limitMs) this.starvedButAnswered++;
    else if (a.ms > this.maxMs) { this.maxMs = a.ms; this.slowest = method; }
    source.dispose();
    return a;
  }

  async stop(): Promise<void> {
    if (this.exited === undefined) {
      await this.request('shutdown', null, 10_000).catch(() => undefined);
      await this.notify('exit', null).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
    this.connection.dispose();
    if (this.exited === undefined) this.proc.kill();
  }
}
