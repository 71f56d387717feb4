/* Helpers for the debug adapter's protocol tests: the bundled adapter, launch sequences, lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireFreshBundle } from '../support/freshBundle';
import { REPO_ROOT } from '../support/repoRoot';

/** The repository root (tests run from test/ through tsx and from out/test/ compiled). */
export const ROOT = REPO_ROOT;
export const ADAPTER = path.join(ROOT, 'dist', 'debugAdapter.js');
/** The sources bundled into the adapter: a bundle older than any of them is refused (test/support/freshBundle.ts). */
export const ADAPTER_SOURCES = ['debugger', 'core'];
export const example = (name: string) => path.join(ROOT, 'examples', name);
export const fixture = (name: string) => path.join(ROOT, 'test', 'debugger', 'fixtures', name);

/** 1-based line of the first line of `file` containing `text` (after `after`, if given). */
export function lineOf(file: string, text: string, after = 0): number {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (let i = after; i < lines.length; i++) if (lines[i].includes(text)) return i + 1;
  throw new Error(`'${text}' not in ${file}`);
}

export async function startClient(): Promise<DebugClient> {
  requireFreshBundle(ADAPTER, ADAPTER_SOURCES);
  const dc = new DebugClient('node', ADAPTER, 'popek', { stdio: ['pipe', 'pipe', 'pipe'] });
  await dc.start();
  return dc;
}

export interface Setup {
  breakpoints?: Array<{ path: string; breakpoints: DebugProtocol.SourceBreakpoint[] }>;
  exceptions?: DebugProtocol.SetExceptionBreakpointsArguments;
  instructions?: DebugProtocol.InstructionBreakpoint[];
}

/**
 * Launches, sets breakpoints between `initialized` and `configurationDone`, and resolves with the
 * first stopped event (and the setBreakpoints responses).
 */
export async function launchToStop(dc: DebugClient, args: Record<string, unknown>, setup: Setup = {}): Promise<{ stop: DebugProtocol.StoppedEvent; breakpoints: DebugProtocol.SetBreakpointsResponse[] }> {
  const stopped = dc.waitForEvent('stopped', 20000) as Promise<DebugProtocol.StoppedEvent>;
  const responses: DebugProtocol.SetBreakpointsResponse[] = [];
  const configure = dc.waitForEvent('initialized').then(async () => {
    for (const b of setup.breakpoints ?? []) responses.push(await dc.setBreakpointsRequest({ source: { path: b.path }, breakpoints: b.breakpoints }));
    if (setup.exceptions) await dc.setExceptionBreakpointsRequest(setup.exceptions);
    if (setup.instructions) await send(dc, 'setInstructionBreakpoints', { breakpoints: setup.instructions });
    await dc.configurationDoneRequest();
  });
  await Promise.all([configure, dc.launch(args as DebugProtocol.LaunchRequestArguments)]);
  return { stop: await stopped, breakpoints: responses };
}

/** Sends a request that resumes the guest and waits for the next stopped event. */
export async function resumeToStop(dc: DebugClient, request: Promise<unknown>): Promise<DebugProtocol.StoppedEvent> {
  const stopped = dc.waitForEvent('stopped', 20000) as Promise<DebugProtocol.StoppedEvent>;
  await request;
  return stopped;
}

export async function topFrame(dc: DebugClient): Promise<DebugProtocol.StackFrame> {
  const st = await dc.stackTraceRequest({ threadId: 1 });
  return st.body.stackFrames[0];
}

/** Variables of a scope by name, as name → value. */
export async function scope(dc: DebugClient, name: string): Promise<Map<string, DebugProtocol.Variable>> {
  const scopes = await dc.scopesRequest({ frameId: 0 });
  const s = scopes.body.scopes.find((x) => x.name === name);
  if (!s) throw new Error(`no scope ${name} (have ${scopes.body.scopes.map((x) => x.name).join(', ')})`);
  const vars = await dc.variablesRequest({ variablesReference: s.variablesReference });
  return new Map(vars.body.variables.map((v) => [v.name, v]));
}

export async function register(dc: DebugClient, name: string): Promise<number> {
  const v = (await scope(dc, 'Registers')).get(name);
  if (!v) throw new Error(`no register ${name}`);
  return parseInt(v.value, 16);
}

/** Collects output events by category. */
export function collectOutput(dc: DebugClient): { text: (category?: string) => string } {
  const out: Array<{ category: string; output: string }> = [];
  dc.on('output', (e: DebugProtocol.OutputEvent) => out.push({ category: e.body.category ?? 'console', output: e.body.output }));
  return { text: (category) => out.filter((o) => !category || o.category === category).map((o) => o.output).join('') };
}

/** Expects a request to fail; returns the error message. */
export async function failure(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return (e as Error).message; }
  throw new Error('the request succeeded');
}

/** A request DebugClient has no method for (readMemory, writeMemory, setInstructionBreakpoints). */
export function send<T extends DebugProtocol.Response>(dc: DebugClient, command: string, args: unknown): Promise<T> {
  return dc.send(command, args) as Promise<T>;
}

/** `node dist/debugAdapter.js --server=0` (a session per connection) and the port it listens on. */
export async function startAdapterServer(): Promise<{ child: ChildProcess; port: number }> {
  requireFreshBundle(ADAPTER, ADAPTER_SOURCES);
  const child: ChildProcess = spawn(process.execPath, [ADAPTER, '--server=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const port = await new Promise<number>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (code) => reject(new Error(`adapter exited (${code}): ${err}`)));
  });
  return { child, port };
}

/** Threads of process `pid` in the kernel's view (/proc/PID/status). */
export function threads(pid: number): number {
  const m = /^Threads:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no thread count for ${pid}`);
  return Number(m[1]);
}

/** The thread count once it has stayed the same over a few looks (threads start and end asynchronously). */
export async function settledThreads(pid: number, until: (n: number) => boolean = () => true): Promise<number> {
  let last = -1, same = 0;
  for (let i = 0; i < 400; i++) {
    const n = threads(pid);
    same = n === last ? same + 1 : 0;
    last = n;
    if (same >= 5 && until(n)) return n;
    await new Promise((r) => setTimeout(r, 25));
  }
  return last;
}
