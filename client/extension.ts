/*
 * Popek's VS Code extension: activate / deactivate only; each concern lives in its own module.
 */
import * as vscode from 'vscode';
import { Cli } from './cli';
import { Ctx, VirtualDocs, registerCommands } from './commands';
import { CompareView } from './compareView';
import { registerDebug } from './debug';
import { registerInlineValues } from './inlineValues';
import { CoverageDecorations } from './coverage';
import { maybeRunE2eSuite } from './e2eHook';
import { PopekLanguageClient, ServerHealth } from './languageClient';
import { Log } from './log';
import { MemoryView } from './memoryView';
import { ScreenView } from './screenView';
import { ModeStatus } from './status';
import { RunStatus } from './runStatus';
import { registerSyntaxDetection } from './syntaxDetection';

/** What activate() returns to other extensions and to the end-to-end suite. */
export interface PopekApi {
  /** Settles once the language server has started (or failed / is missing). */
  serverReady: Promise<ServerHealth>;
  serverHealth(): ServerHealth;
  /** Milliseconds activate() took. */
  activationMs: number;
}

let server: PopekLanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<PopekApi> {
  const t0 = performance.now();
  const log = new Log();
  context.subscriptions.push(log);
  try {
    const api = start(context, log);
    api.activationMs = performance.now() - t0;
    log.info(`Popek ${context.extension.packageJSON.version} activated in ${api.activationMs.toFixed(1)} ms (VS Code ${vscode.version}, ${vscode.env.appName})`);
    maybeRunE2eSuite(log);
    return api;
  } catch (err) {
    // VS Code shows nothing when activation throws; say it, then let VS Code record the failure.
    log.showError('cannot activate the extension', err);
    throw err;
  }
}

function start(context: vscode.ExtensionContext, log: Log): PopekApi {
  server = new PopekLanguageClient(context, log);
  const status = new ModeStatus();
  const virtualDocs = new VirtualDocs();
  const ctx: Ctx = {
    context,
    log,
    cli: new Cli(context),
    server,
    compareView: new CompareView(context.extensionUri),
    screenView: new ScreenView(context.extensionUri),
    runChannel: vscode.window.createOutputChannel('Popek Run'),
    virtualDocs,
  };
  context.subscriptions.push(server, status, ctx.compareView, ctx.screenView, ctx.runChannel, server.onDidChangeHealth((h) => status.setHealth(h)));
  // The guest's speed while a debug session runs (instructions/s, modelled cycles).
  context.subscriptions.push(new RunStatus());
  // Guest memory in hex and ASCII, following an expression from stop to stop.
  context.subscriptions.push(new MemoryView(context.extensionUri));
  registerCommands(ctx);
  registerDebug(context, log);
  registerInlineValues(context);
  // Executed lines per technique as an editor decoration (Popek: Toggle Code Coverage).
  context.subscriptions.push(new CoverageDecorations(context));
  registerSyntaxDetection(context);
  const s = server;
  // The server starts in the background: activation (and the editor) does not wait for it.
  const serverReady = s.start().then(() => s.health, (err) => { log.error('language server start', err); return s.health; });
  return { serverReady, serverHealth: () => s.health, activationMs: 0 };
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
