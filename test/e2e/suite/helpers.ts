/* Helpers for the end-to-end suite: waiting on VS Code's state, and watching DAP traffic. */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'popek.popek';

export function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not installed in this VS Code`);
  return ext;
}

export function built(file: 'server' | 'debugAdapter' | 'cli'): boolean {
  return fs.existsSync(path.join(extension().extensionPath, 'dist', `${file}.js`));
}

/**
 * The JSON `popek ARGS --json` prints (the installed extension's CLI), or undefined when it prints
 * none: a probe for what this build can do. Its exit status is the guest's, so it is not the test.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of several commands' shapes
export function cliJson(args: string[]): Promise<any> {
  const cli = path.join(extension().extensionPath, 'dist', 'cli.js');
  if (!fs.existsSync(cli)) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString('utf8'); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', () => { clearTimeout(timer); resolve(undefined); });
    child.on('close', () => {
      clearTimeout(timer);
      try { resolve(JSON.parse(out)); } catch { resolve(undefined); }
    });
  });
}

/** Skips the current test with a reason the result file keeps, when `ok` is false. */
export function requireThat(ctx: Mocha.Context, ok: boolean, reason: string): asserts ok {
  if (ok) return;
  if (ctx.test) (ctx.test as unknown as { skipReason?: string }).skipReason = reason;
  ctx.skip();
}

export function workspaceFile(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('the end-to-end suite needs a workspace folder (test/e2e/fixtures/ws)');
  return vscode.Uri.joinPath(folder.uri, name);
}

/** Polls `probe` until it returns a truthy value; never a fixed sleep. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function open(name: string): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(workspaceFile(name));
  return vscode.window.showTextDocument(doc);
}

export function lineOf(doc: vscode.TextDocument, needle: RegExp): number {
  for (let i = 0; i < doc.lineCount; i++) if (needle.test(doc.lineAt(i).text)) return i;
  throw new Error(`no line matching ${needle} in ${doc.fileName}`);
}

export interface DapMessage { type: string; event?: string; command?: string; body?: Record<string, unknown>; success?: boolean; message?: string }

/** Records every message the popek adapters send, per session id. */
export class DapRecorder implements vscode.Disposable {
  readonly messages = new Map<string, DapMessage[]>();
  private readonly reg: vscode.Disposable;
  constructor() {
    this.reg = vscode.debug.registerDebugAdapterTrackerFactory('popek', {
      createDebugAdapterTracker: (session) => {
        const list: DapMessage[] = [];
        this.messages.set(session.id, list);
        return {
          onDidSendMessage: (m: DapMessage) => { list.push(m); },
          onWillReceiveMessage: (m: DapMessage) => { list.push({ ...m, type: 'request→' }); },
        };
      },
    });
  }
  /** The last n messages both ways, for failure messages. */
  tail(session: vscode.DebugSession, n = 12): string {
    return (this.messages.get(session.id) ?? []).slice(-n)
      .map((m) => `${m.type} ${m.event ?? m.command ?? ''} ${JSON.stringify(m.body ?? (m as { arguments?: unknown }).arguments ?? '').slice(0, 120)}`).join('\n');
  }
  events(session: vscode.DebugSession, event: string): DapMessage[] {
    return (this.messages.get(session.id) ?? []).filter((m) => m.type === 'event' && m.event === event);
  }
  /** Waits for the n-th (1-based) `stopped` event of a session. */
  stopped(session: vscode.DebugSession, n = 1, timeoutMs = 30_000): Promise<DapMessage> {
    return waitFor(`stop #${n} of ${session.name}`, () => {
      const term = this.events(session, 'terminated')[0] ?? this.events(session, 'exited')[0];
      const stops = this.events(session, 'stopped');
      if (stops.length >= n) return stops[n - 1];
      if (term) throw new Error(`${session.name} ended before stop #${n}: ${JSON.stringify(this.messages.get(session.id)?.filter((m) => m.event === 'output').map((m) => m.body?.output))}`);
      return undefined;
    }, timeoutMs);
  }
  dispose(): void { this.reg.dispose(); }
}

export async function startSession(config: vscode.DebugConfiguration): Promise<vscode.DebugSession> {
  let session: vscode.DebugSession | undefined;
  const sub = vscode.debug.onDidStartDebugSession((s) => { if (s.configuration.name === config.name) session = s; });
  try {
    const ok = await vscode.debug.startDebugging(vscode.workspace.workspaceFolders?.[0], config);
    if (!ok) throw new Error(`startDebugging(${config.name}) returned false`);
    return await waitFor(`session ${config.name}`, () => session);
  } finally {
    sub.dispose();
  }
}

export async function stopAll(): Promise<void> {
  if (!vscode.debug.activeDebugSession) return;
  await vscode.debug.stopDebugging();
  await waitFor('no debug session', () => !vscode.debug.activeDebugSession, 10_000).catch(() => undefined);
}

export interface DapVariable { name: string; value: string; variablesReference: number }

/** The variables of each scope of the top frame of thread `threadId`. */
export async function scopesOfTopFrame(session: vscode.DebugSession, threadId: number): Promise<Map<string, DapVariable[]>> {
  const st = await session.customRequest('stackTrace', { threadId, startFrame: 0, levels: 1 }) as { stackFrames: Array<{ id: number; line: number; source?: { path?: string } }> };
  const frame = st.stackFrames[0];
  const { scopes } = await session.customRequest('scopes', { frameId: frame.id }) as { scopes: Array<{ name: string; variablesReference: number }> };
  const out = new Map<string, DapVariable[]>();
  for (const s of scopes) {
    const { variables } = await session.customRequest('variables', { variablesReference: s.variablesReference }) as { variables: DapVariable[] };
    out.set(s.name, variables);
  }
  return out;
}

export async function topFrame(session: vscode.DebugSession, threadId: number): Promise<{ line: number; path?: string; instructionPointerReference?: string }> {
  const st = await session.customRequest('stackTrace', { threadId, startFrame: 0, levels: 1 }) as { stackFrames: Array<{ line: number; source?: { path?: string }; instructionPointerReference?: string }> };
  const f = st.stackFrames[0];
  return { line: f.line, path: f.source?.path, instructionPointerReference: f.instructionPointerReference };
}
