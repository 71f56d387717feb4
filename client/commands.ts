/*
 * The commands (category "Popek"). Each one works on the file it is given (menus pass its URI) or
 * the active guest editor, runs the CLI in a child process where the simulator is needed, and
 * returns a value the end-to-end suite checks. None throws into VS Code: failures become messages.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Cli, parseJsonOutput } from './cli';
import { CompareModel, compareModel } from './compareData';
import { CompareView } from './compareView';
import { Config, MODE_LABELS, Mode, SECTION, isMode, modeOverride } from './config';
import { debugFile } from './debug';
import { PopekLanguageClient } from './languageClient';
import { Log } from './log';
import { ScreenView } from './screenView';
import { pickMode } from './status';
import { TraceLink, TraceReport, traceDocument } from './traceView';
import { WALKTHROUGH, WALKTHROUGH_ARG, completeStep, setWalkthroughExample, walkthroughExample } from './walkthrough';
import { xenHeaderName } from '../core/lint/xenInclude';

export const PREVIEW_SCHEME = 'popek-preview';
export const TRACE_SCHEME = 'popek-trace';

export interface Ctx {
  context: vscode.ExtensionContext;
  log: Log;
  cli: Cli;
  server: PopekLanguageClient;
  compareView: CompareView;
  /** "Popek: Guest Screen": the guest's VGA text screen during debugging. */
  screenView: ScreenView;
  runChannel: vscode.OutputChannel;
  /** Text of the read-only virtual documents (diff previews, traces), by URI. */
  virtualDocs: VirtualDocs;
}

export class VirtualDocs implements vscode.TextDocumentContentProvider, vscode.DocumentLinkProvider {
  private readonly docs = new Map<string, string>();
  private readonly links = new Map<string, TraceLink[]>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  set(uri: vscode.Uri, text: string, links: TraceLink[] = []): void {
    this.docs.set(uri.toString(), text);
    this.links.set(uri.toString(), links);
    this.changed.fire(uri);
  }
  provideTextDocumentContent(uri: vscode.Uri): string { return this.docs.get(uri.toString()) ?? ''; }
  /** Source columns of a trace: a click opens the guest file at that line. */
  provideDocumentLinks(doc: vscode.TextDocument): vscode.DocumentLink[] {
    return (this.links.get(doc.uri.toString()) ?? []).map((l) => {
      const link = new vscode.DocumentLink(new vscode.Range(l.line, l.start, l.line, l.end), vscode.Uri.file(l.file).with({ fragment: `L${l.sourceLine}` }));
      link.tooltip = `Open ${path.basename(l.file)} at line ${l.sourceLine}`;
      return link;
    });
  }
}

const GUEST = new Set(['popek-nasm', 'popek-gas']);

/**
 * The guest file last shown in an editor: what a command means when it runs from a place with no
 * text editor (the walkthrough's buttons, a webview), so "Paravirtualize this file" works on the file
 * the walkthrough opened.
 */
let lastGuest: vscode.Uri | undefined;
export function trackLastGuest(context: vscode.ExtensionContext): void {
  const note = (e: vscode.TextEditor | undefined) => { if (e && e.document.uri.scheme === 'file' && GUEST.has(e.document.languageId)) lastGuest = e.document.uri; };
  note(vscode.window.activeTextEditor);
  context.subscriptions.push(vscode.window.onDidChangeActiveTextEditor(note));
}

/** The guest document a command works on, saved (the CLI reads the file), or undefined after a message. */
async function guestDocument(uri: vscode.Uri | undefined, what: string, languages = GUEST): Promise<vscode.TextDocument | undefined> {
  const active = vscode.window.activeTextEditor?.document;
  const fallback = !active && lastGuest ? await Promise.resolve(vscode.workspace.openTextDocument(lastGuest)).then((d) => d, () => undefined) : undefined;
  const doc = uri instanceof vscode.Uri ? await vscode.workspace.openTextDocument(uri) : active ?? fallback;
  if (!doc || !languages.has(doc.languageId)) {
    void vscode.window.showWarningMessage(`Popek: open a guest assembly file to ${what}.`);
    return undefined;
  }
  if (doc.uri.scheme !== 'file') {
    void vscode.window.showWarningMessage(`Popek: to ${what}, the file must be on disk (this one is ${doc.uri.scheme}:).`);
    return undefined;
  }
  if (doc.isDirty && !(await doc.save())) return undefined;
  return doc;
}

function effectiveMode(doc: vscode.TextDocument): Mode {
  return modeOverride(doc.getText()) ?? new Config(vscode.workspace.getConfiguration(SECTION, doc.uri)).mode;
}

function failed(ctx: Ctx, what: string, res: { stderr: string; stdout: string; code: number | null }): Error {
  const detail = (res.stderr.trim() || res.stdout.trim()).split('\n').slice(-3).join(' ');
  ctx.log.error(`${what} failed (exit ${res.code}):\n${res.stderr}${res.stdout}`);
  return new Error(detail || `exit status ${res.code}`);
}

async function guarded<T>(ctx: Ctx, what: string, fn: () => Thenable<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    ctx.log.showError(`${what} failed`, err);
    return undefined;
  }
}

// ---- popek.selectMode ------------------------------------------------------------------------

export async function selectMode(ctx: Ctx, mode?: unknown): Promise<Mode | undefined> {
  const doc = vscode.window.activeTextEditor?.document;
  const scope = doc && GUEST.has(doc.languageId) ? doc.uri : undefined;
  const current = new Config(vscode.workspace.getConfiguration(SECTION, scope)).mode;
  const picked = isMode(mode) ? mode : await pickMode(current, 'Target technique for diagnostics and debugging');
  if (!picked) return undefined;
  if (mode === WALKTHROUGH_ARG) void vscode.commands.executeCommand('setContext', WALKTHROUGH.techniqueChosen, true);
  // Workspace setting when a folder is open (the choice belongs to the project), else user setting.
  const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration(SECTION, scope).update('mode', picked, target);
  ctx.log.info(`popek.mode = ${picked}`);
  const override = doc ? modeOverride(doc.getText()) : undefined;
  if (override && override !== picked) {
    void vscode.window.showInformationMessage(`Popek: ${path.basename(doc!.fileName)} says "popek: mode=${override}", which wins over the setting for that file.`);
  }
  return picked;
}

// ---- popek.runInMode -------------------------------------------------------------------------

export interface RunJson {
  mode?: string; outcome?: string; exitCode?: number; console?: string; instructions?: number; cycles?: number;
  traps?: Record<string, number>; critical?: Record<string, number>; vmExits?: Record<string, number>;
  hypercalls?: Record<string, number>; wallMs?: number;
}

const counts = (o: Record<string, number> | undefined) =>
  o && Object.keys(o).length ? Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') : 'none';

export async function runInMode(ctx: Ctx, uri?: vscode.Uri, mode?: unknown): Promise<RunJson | undefined> {
  const doc = await guestDocument(uri, 'run it', new Set(['popek-nasm']));
  if (!doc) return undefined;
  const m = isMode(mode) ? mode : await pickMode(effectiveMode(doc), `Run ${path.basename(doc.fileName)} under…`);
  if (!m) return undefined;
  return guarded(ctx, 'Run', () => vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Popek: running ${path.basename(doc.fileName)} (${MODE_LABELS[m]})`, cancellable: true },
    async (_p, token) => {
      const res = await ctx.cli.run(['run', doc.fileName, '--mode', m, '--json'], token);
      let json: RunJson;
      try { json = parseJsonOutput(res.stdout) as RunJson; } catch { throw failed(ctx, 'popek run', res); }
      const out = ctx.runChannel;
      out.appendLine(`── ${path.basename(doc.fileName)} · ${m} · ${new Date().toLocaleTimeString()} ──`);
      if (json.console) out.append(json.console.endsWith('\n') ? json.console : json.console + '\n');
      out.appendLine(`outcome: ${json.outcome} (exit code ${json.exitCode}); ${json.instructions?.toLocaleString('en-US')} instructions, ${json.cycles?.toLocaleString('en-US')} modelled cycles`);
      out.appendLine(`traps: ${counts(json.traps)} · critical: ${counts(json.critical)} · VM exits: ${counts(json.vmExits)} · hypercalls: ${counts(json.hypercalls)}`);
      out.appendLine('');
      out.show(true);
      return json;
    }));
}

// ---- popek.compare ---------------------------------------------------------------------------

export async function compare(ctx: Ctx, uri?: vscode.Uri, data?: unknown): Promise<CompareModel | undefined> {
  if (data !== undefined) {
    // Figures given by the caller (a saved `popek compare --json`): show them as they are.
    const model = compareModel(data, uri?.fsPath ?? '');
    ctx.compareView.show(model);
    return model;
  }
  const doc = await guestDocument(uri, 'compare techniques', new Set(['popek-nasm']));
  if (!doc) return undefined;
  const run = () => guarded(ctx, 'Compare', () => vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Popek: running ${path.basename(doc.fileName)} under every technique`, cancellable: true },
    async (_p, token) => {
      const res = await ctx.cli.run(['compare', doc.fileName, '--json'], token);
      let json: unknown;
      try { json = parseJsonOutput(res.stdout); } catch { throw failed(ctx, 'popek compare', res); }
      const model = compareModel(json, doc.fileName);
      ctx.compareView.show(model);
      completeStep(WALKTHROUGH.compared, doc.uri);
      return model;
    }));
  ctx.compareView.onRefresh = () => { void run(); };
  return run();
}

// ---- popek.paravirtualize --------------------------------------------------------------------

export interface ParavirtualizeResult { changed: boolean; applied: boolean; summary: string }

export async function paravirtualize(ctx: Ctx, uri?: vscode.Uri, options?: { confirm?: boolean }): Promise<ParavirtualizeResult | undefined> {
  const doc = await guestDocument(uri, 'paravirtualize it');
  if (!doc) return undefined;
  return guarded(ctx, 'Paravirtualize', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-fix-'));
    try {
      // The text `popek fix` reads (guestDocument saved it): an edit made meanwhile fails the Apply below.
      const original = doc.getText();
      const version = doc.version;
      const out = path.join(dir, path.basename(doc.fileName));
      // A xen.inc already beside the file is the one the rewrite will use: the summary says so.
      copyXenHeader(path.dirname(doc.fileName), dir, ctx);
      const res = await ctx.cli.run(['fix', doc.fileName, '-o', out, '--mode', 'paravirtual']);
      if (res.code !== 0 || !fs.existsSync(out)) throw failed(ctx, 'popek fix', res);
      const fixed = fs.readFileSync(out, 'utf8');
      // The CLI names the file it wrote (a temporary one here): name the user's file instead.
      const summary = ((res.stdout.trim() || res.stderr.trim()).split('\n').pop() ?? '').split(out).join(path.basename(doc.fileName));
      if (fixed === original) {
        void vscode.window.showInformationMessage(`Popek: ${path.basename(doc.fileName)} has nothing to rewrite. ${summary}`);
        return { changed: false, applied: false, summary };
      }
      const preview = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: doc.uri.path, query: String(Date.now()) });
      ctx.virtualDocs.set(preview, fixed);
      await vscode.commands.executeCommand('vscode.diff', doc.uri, preview, `${path.basename(doc.fileName)} ↔ paravirtualized`, { preview: true });
      let apply = options?.confirm === false;
      if (!apply) {
        const choice = await vscode.window.showInformationMessage(`Popek: apply the paravirtual rewrites to ${path.basename(doc.fileName)}? ${summary}`, 'Apply', 'Cancel');
        apply = choice === 'Apply';
      }
      await closeTabsOf(preview);
      if (!apply) return { changed: true, applied: false, summary };
      if (doc.version !== version) throw new Error('the file changed while the preview was open; run the command again');
      // The header first: the language server lints the rewritten text at once, %include included.
      copyXenHeader(dir, path.dirname(doc.fileName), ctx);
      const edit = new vscode.WorkspaceEdit();
      edit.replace(doc.uri, new vscode.Range(doc.positionAt(0), doc.positionAt(original.length)), fixed);
      const applied = await vscode.workspace.applyEdit(edit);
      ctx.log.info(`paravirtualize ${doc.fileName}: ${applied ? 'applied' : 'not applied'}; ${summary}`);
      if (applied) {
        // The diff took the file's place in its group and is closed now: show the rewritten file
        // (from the walkthrough, no editor of it may be left open and the edit would go unseen).
        await vscode.window.showTextDocument(doc.uri, { preview: false });
        completeStep(WALKTHROUGH.paravirtualized, doc.uri);
      }
      return { changed: true, applied, summary };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

/**
 * Copies the Xen constants headers (xen.inc, xen-gas.inc) from one directory to another, unless a
 * file of that name is there already: the user's into `popek fix`'s temporary directory (so the fix
 * uses it and says so), and the one `popek fix` wrote back next to the user's file.
 */
function copyXenHeader(from: string, to: string, ctx: Ctx): void {
  for (const name of XEN_HEADERS) {
    const source = path.join(from, name);
    if (!fs.existsSync(source) || fs.existsSync(path.join(to, name))) continue;
    try {
      fs.copyFileSync(source, path.join(to, name), fs.constants.COPYFILE_EXCL);
      ctx.log.info(`wrote ${path.join(to, name)} (the Xen constants the rewrites name)`);
    } catch (err) {
      ctx.log.error(`could not write ${name} next to the file: ${String(err)}`);
    }
  }
}
const XEN_HEADERS = [xenHeaderName('nasm'), xenHeaderName('att')];

async function closeTabsOf(uri: vscode.Uri): Promise<void> {
  const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) =>
    t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === uri.toString());
  if (tabs.length) await vscode.window.tabGroups.close(tabs);
}

// ---- popek.showVmExitTrace -------------------------------------------------------------------

export async function showVmExitTrace(ctx: Ctx, uri?: vscode.Uri, mode?: unknown): Promise<vscode.TextDocument | undefined> {
  const doc = await guestDocument(uri, 'trace it', new Set(['popek-nasm']));
  if (!doc) return undefined;
  // VM exits are hardware assistance's: that is the technique traced unless the caller names another
  // (the other techniques' traps and hypercalls are listed the same way).
  const m = isMode(mode) ? mode : 'hardware-assisted';
  return guarded(ctx, 'VM-exit trace', () => vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Popek: tracing ${path.basename(doc.fileName)} (${MODE_LABELS[m]})`, cancellable: true },
    async (_p, token) => {
      // --trace --json: the report carries the events as fields (the stderr lines are for people).
      const res = await ctx.cli.run(['run', doc.fileName, '--mode', m, '--trace', '--json'], token);
      let json: TraceReport;
      try { json = parseJsonOutput(res.stdout) as TraceReport; } catch { throw failed(ctx, 'popek run --trace', res); }
      const trace = traceDocument(json, doc.fileName, m);
      const traceUri = vscode.Uri.from({ scheme: TRACE_SCHEME, path: `/${path.basename(doc.fileName)} (${m}) events.log` });
      ctx.virtualDocs.set(traceUri, trace.text, trace.links);
      const traceDoc = await vscode.workspace.openTextDocument(traceUri);
      // The active group: the trace's lines are wide, and a side column would cut them.
      await vscode.window.showTextDocument(traceDoc, { viewColumn: vscode.ViewColumn.Active, preview: true });
      return traceDoc;
    }));
}

// ---- popek.openExample -----------------------------------------------------------------------

export async function openExample(ctx: Ctx): Promise<vscode.TextDocument | undefined> {
  return guarded(ctx, 'Open example', async () => {
    const source = ctx.context.asAbsolutePath(path.join('walkthrough', 'hello.gasm'));
    // The extension's own storage, not the workspace: opening an example writes nothing of the user's.
    const dir = path.join(ctx.context.globalStorageUri.fsPath, 'walkthrough');
    fs.mkdirSync(dir, { recursive: true });
    const target = path.join(dir, 'hello.gasm');
    // A fresh copy each time the walkthrough opens it, unless that copy is open with unsaved edits.
    const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === target);
    if (!open?.isDirty) fs.copyFileSync(source, target);
    const doc = await vscode.workspace.openTextDocument(target);
    // Pinned: the later steps' previews (the paravirtualize diff) must not take its tab.
    await vscode.window.showTextDocument(doc, { preview: false });
    lastGuest = doc.uri;
    setWalkthroughExample(doc.uri);
    return doc;
  });
}

/**
 * A command's file argument: a Uri, or 'walkthrough' from a walkthrough step's link (the example the
 * walkthrough opened, opened now if it was not yet).
 */
async function fileArgument(ctx: Ctx, arg: unknown): Promise<vscode.Uri | undefined> {
  if (arg !== WALKTHROUGH_ARG) return arg instanceof vscode.Uri ? arg : undefined;
  const example = walkthroughExample();
  if (!example || !fs.existsSync(example.fsPath)) await openExample(ctx);
  return walkthroughExample();
}

// ---- registration ----------------------------------------------------------------------------

export function registerCommands(ctx: Ctx): void {
  const reg = (id: string, fn: (...args: unknown[]) => unknown) =>
    ctx.context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  reg('popek.selectMode', (mode) => selectMode(ctx, mode));
  reg('popek.runInMode', (uri, mode) => runInMode(ctx, uri as vscode.Uri | undefined, mode));
  reg('popek.debugFile', async (uri) => {
    const doc = await guestDocument(await fileArgument(ctx, uri), 'debug it', new Set(['popek-nasm']));
    return doc ? debugFile(doc.uri) : false;
  });
  // Hardware-assisted, stopping at every VM exit (the "VM exits" exception filter on from the start).
  reg('popek.debugVmExits', async (uri) => {
    const doc = await guestDocument(await fileArgument(ctx, uri), 'debug it', new Set(['popek-nasm']));
    return doc ? debugFile(doc.uri, 'hardware-assisted', ['vmexit']) : false;
  });
  reg('popek.compare', async (uri, data) => compare(ctx, await fileArgument(ctx, uri), data));
  reg('popek.paravirtualize', async (uri, options) => paravirtualize(ctx, await fileArgument(ctx, uri), options as { confirm?: boolean } | undefined));
  reg('popek.showVmExitTrace', (uri, mode) => showVmExitTrace(ctx, uri as vscode.Uri | undefined, mode));
  reg('popek.openExample', () => openExample(ctx));
  reg('popek.showScreen', () => ctx.screenView.show());
  trackLastGuest(ctx.context);
  reg('popek.showLog', () => ctx.log.show());
  reg('popek.restartServer', () => guarded(ctx, 'Restart language server', () => ctx.server.restart()));
  ctx.context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, ctx.virtualDocs),
    vscode.workspace.registerTextDocumentContentProvider(TRACE_SCHEME, ctx.virtualDocs),
    vscode.languages.registerDocumentLinkProvider({ scheme: TRACE_SCHEME }, ctx.virtualDocs),
  );
}

