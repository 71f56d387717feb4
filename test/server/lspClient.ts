/*
 * A real LSP client for the protocol tests: starts the BUNDLED server (dist/server.js, as the
 * VS Code client does: node IPC) and talks to it through vscode-languageserver-protocol.
 * It answers the server's own requests (workspace/configuration, client/registerCapability,
 * workspace/diagnostic/refresh) and records notifications.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { SERVER_EXEC_ARGV } from '../../server/launchOptions';
import {
  createProtocolConnection, IPCMessageReader, IPCMessageWriter, InitializeRequest, InitializedNotification,
  DidOpenTextDocumentNotification, DidChangeTextDocumentNotification, DidChangeConfigurationNotification,
  ConfigurationRequest, RegistrationRequest, DiagnosticRefreshRequest, PublishDiagnosticsNotification,
  ShutdownRequest, ExitNotification,
  type ProtocolConnection, type ClientCapabilities, type PublishDiagnosticsParams, type InitializeResult,
} from 'vscode-languageserver-protocol/node';


function serverPath(): string {
  // From out/test/server (tsc) or test/server (tsx) the bundle is <repo>/dist/server.js.
  for (const p of [path.resolve(__dirname, '../../dist/server.js'), path.resolve(__dirname, '../../../dist/server.js')]) if (existsSync(p)) return p;
  throw new Error('dist/server.js not found: run `npm run build` first');
}

export interface ClientOptions {
  pull?: boolean;
  /** Whether the client answers workspace/configuration (default true). */
  configuration?: boolean;
  settings?: Record<string, unknown>;
  /** Workspace folder paths sent at initialize. */
  folders?: string[];
}

export class TestClient {
  readonly connection: ProtocolConnection;
  readonly process: ChildProcess;
  settings: Record<string, unknown>;
  configurationRequests = 0;
  refreshRequests = 0;
  /** `window/showDocument` requests the server made. */
  shown: Array<{ uri: string; selection?: { start: { line: number; character: number } } }> = [];
  published = new Map<string, PublishDiagnosticsParams>();
  /** publishDiagnostics notifications received so far. */
  publishCount = 0;
  private publishWaiters: Array<() => void> = [];
  stderr = '';
  init!: InitializeResult;

  constructor(readonly options: ClientOptions = {}) {
    this.settings = options.settings ?? { mode: 'paravirtual', maxNumberOfProblems: 1000 };
    this.process = fork(serverPath(), ['--node-ipc'], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'], execArgv: [...SERVER_EXEC_ARGV] });
    this.process.stderr?.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.connection = createProtocolConnection(new IPCMessageReader(this.process), new IPCMessageWriter(this.process));
    this.connection.onRequest(ConfigurationRequest.type, (params) => {
      this.configurationRequests++;
      return params.items.map((i) => (i.section === 'popek' ? this.settings : null));
    });
    this.connection.onRequest(RegistrationRequest.type, () => undefined);
    this.connection.onRequest(DiagnosticRefreshRequest.type, () => { this.refreshRequests++; });
    this.connection.onRequest('window/showDocument', (p: TestClient['shown'][number]) => { this.shown.push(p); return { success: true }; });
    this.connection.onNotification(PublishDiagnosticsNotification.type, (p) => {
      this.publishCount++;
      this.published.set(p.uri, p);
      const w = this.publishWaiters;
      this.publishWaiters = [];
      w.forEach((f) => f());
    });
    this.connection.onNotification('window/logMessage', () => undefined);
    this.connection.listen();
  }

  async start(): Promise<InitializeResult> {
    const capabilities: ClientCapabilities = {
      workspace: { configuration: this.options.configuration !== false, didChangeConfiguration: { dynamicRegistration: true }, diagnostics: { refreshSupport: true } },
      window: { showDocument: { support: true } },
      textDocument: {
        synchronization: { dynamicRegistration: false },
        ...(this.options.pull === false ? {} : { diagnostic: { dynamicRegistration: false } }),
        publishDiagnostics: {},
        hover: { contentFormat: ['markdown'] },
        completion: { completionItem: { snippetSupport: true } },
      },
    };
    this.init = await this.connection.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, capabilities, workspaceFolders: this.options.folders?.map((f) => ({ uri: pathToFileURL(f).toString(), name: f })) ?? null });
    await this.connection.sendNotification(InitializedNotification.type, {});
    return this.init;
  }

  async open(uri: string, text: string, languageId = 'popek-nasm'): Promise<void> {
    await this.connection.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId, version: 1, text } });
  }

  private versions = new Map<string, number>();
  /** An incremental change: replace [line:char, endLine:endChar) with text. */
  async edit(uri: string, line: number, character: number, endLine: number, endCharacter: number, text: string): Promise<void> {
    const v = (this.versions.get(uri) ?? 1) + 1;
    this.versions.set(uri, v);
    await this.connection.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version: v },
      contentChanges: [{ range: { start: { line, character }, end: { line: endLine, character: endCharacter } }, text }],
    });
  }

  async changeSettings(settings: Record<string, unknown>): Promise<void> {
    this.settings = settings;
    await this.connection.sendNotification(DidChangeConfigurationNotification.type, { settings: { popek: settings } });
  }

  /** Resolves when the next publishDiagnostics for `uri` satisfying `pred` arrives. */
  async waitPublished(uri: string, pred: (p: PublishDiagnosticsParams) => boolean = () => true, timeoutMs = 10000): Promise<PublishDiagnosticsParams> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = this.published.get(uri);
      if (p && pred(p)) return p;
      if (Date.now() > deadline) throw new Error(`no matching publishDiagnostics for ${uri}`);
      await new Promise<void>((r) => { this.publishWaiters.push(r); setTimeout(r, 200); });
    }
  }

  async stop(): Promise<void> {
    try {
      await this.connection.sendRequest(ShutdownRequest.type);
      await this.connection.sendNotification(ExitNotification.type);
    } catch { /* the server may already be gone */ }
    this.connection.dispose();
    this.process.kill();
  }
}
