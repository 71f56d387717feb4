/*
 * The language client: starts dist/server.js over IPC for both guest languages, restarts it a few
 * times if it crashes, and says so (with the log) when it cannot start.
 */
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import {
  CloseAction, ErrorAction, ErrorHandler, LanguageClient, LanguageClientOptions, ServerOptions, State, TransportKind,
} from 'vscode-languageclient/node';
import { SECTION } from './config';
import { Log } from './log';
import { SERVER_EXEC_ARGV } from '../server/launchOptions';

export const LANGUAGES = ['popek-nasm', 'popek-gas'] as const;

/** At most this many crashes within RESTART_WINDOW_MS before the client gives up. */
const MAX_RESTARTS = 4;
const RESTART_WINDOW_MS = 3 * 60_000;

export type ServerHealth = 'starting' | 'running' | 'stopped' | 'failed' | 'missing';

export class PopekLanguageClient implements vscode.Disposable {
  client: LanguageClient | undefined;
  health: ServerHealth = 'stopped';
  private readonly onHealth = new vscode.EventEmitter<ServerHealth>();
  readonly onDidChangeHealth = this.onHealth.event;
  private crashes: number[] = [];

  constructor(private readonly context: vscode.ExtensionContext, private readonly log: Log) {}

  get serverModule(): string { return this.context.asAbsolutePath('dist/server.js'); }

  private setHealth(h: ServerHealth): void {
    this.health = h;
    this.onHealth.fire(h);
  }

  async start(): Promise<void> {
    if (!fs.existsSync(this.serverModule)) {
      // The server bundle is built separately; without it the rest of the extension still works.
      this.log.warn(`language server not found at ${this.serverModule}; diagnostics, hover and quick fixes are off`);
      this.setHealth('missing');
      return;
    }
    const serverOptions: ServerOptions = {
      run: { module: this.serverModule, transport: TransportKind.ipc, options: { execArgv: [...SERVER_EXEC_ARGV] } },
      debug: { module: this.serverModule, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6009'] } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: LANGUAGES.map((language) => ({ language })),
      // The server pulls settings with workspace/configuration; this tells it when they change.
      synchronize: { configurationSection: SECTION },
      outputChannel: vscode.window.createOutputChannel('Popek Language Server', { log: true }),
      errorHandler: this.errorHandler(),
      initializationFailedHandler: (error) => {
        this.log.showError('the language server failed to initialize', error);
        this.setHealth('failed');
        return false; // do not retry: the same input fails the same way
      },
    };
    const client = new LanguageClient(SECTION, 'Popek Language Server', serverOptions, clientOptions);
    this.client = client;
    client.onDidChangeState((e) => {
      this.log.debug(`language server state ${State[e.oldState]} → ${State[e.newState]}`);
      if (e.newState === State.Running) this.setHealth('running');
      else if (e.newState === State.Starting) this.setHealth('starting');
      else if (this.health !== 'failed') this.setHealth('stopped');
    });
    this.setHealth('starting');
    try {
      await client.start();
      this.log.info(`language server started (${this.serverModule})`);
    } catch (err) {
      this.setHealth('failed');
      this.log.showError('cannot start the language server', err);
    }
  }

  private errorHandler(): ErrorHandler {
    return {
      error: (error, _message, count) => {
        this.log.error('language server connection error', error);
        return { action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown };
      },
      closed: () => {
        const now = Date.now();
        this.crashes = [...this.crashes.filter((t) => now - t < RESTART_WINDOW_MS), now];
        if (this.crashes.length > MAX_RESTARTS) {
          this.setHealth('failed');
          return {
            action: CloseAction.DoNotRestart,
            message: `The Popek language server crashed ${this.crashes.length} times in 3 minutes and will not be restarted. See the "Popek Language Server" output; "Popek: Restart Language Server" tries again.`,
          };
        }
        this.log.warn(`language server closed; restarting (${this.crashes.length} of ${MAX_RESTARTS})`);
        return { action: CloseAction.Restart, handled: true };
      },
    };
  }

  async restart(): Promise<void> {
    this.crashes = [];
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) {
      try { await client.stop(2000); } catch (err) { this.log.error('stopping the language server', err); }
      client.outputChannel.dispose();
    }
    this.setHealth('stopped');
  }

  dispose(): void {
    void this.stop();
    this.onHealth.dispose();
  }
}
