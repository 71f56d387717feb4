/*
 * `popek bench server-push`: the language server in push mode (a client without pull
 * diagnostics: the server publishes after every change) on 20,000- and 100,000-line files, over
 * the protocol with the bundled dist/server.js: time from didChange to the publishDiagnostics of
 * that version, or to the server's word that they did not change (it publishes only changes) (p50/p95), when the assembler pass's late publication arrives after the typing
 * stops, and the server's RSS (after opening, and the highest seen while editing).
 * POPEK_BENCH_EACH=1 prints every edit's time; serverBench.ts's forkServer says how to profile the server.
 */
import {
  createProtocolConnection, IPCMessageReader, IPCMessageWriter, InitializeRequest, InitializedNotification,
  DidOpenTextDocumentNotification, DidChangeTextDocumentNotification, ConfigurationRequest, RegistrationRequest,
  PublishDiagnosticsNotification, ShutdownRequest, ExitNotification, type PublishDiagnosticsParams, type TextDocumentContentChangeEvent,
} from 'vscode-languageserver-protocol/node';
import * as os from 'node:os';
import type { BenchSuite } from './benchSupport';
import { percentile } from './benchSupport';
import { bigSource } from '../../core/lint/bigSource';
import { forkServer } from './serverBench';

const EDITS = 40;
const ms = (n: number): string => n.toFixed(1);
const mib = (n: number): string => (n / 2 ** 20).toFixed(0);

async function measure(lines: number, print: (s: string) => void): Promise<void> {
  const text = bigSource(lines);
  const editLine = Math.floor(lines / 2) + 2;
  const keystroke = (i: number) => (i % 2 === 0
    ? { range: { start: { line: editLine, character: 8 }, end: { line: editLine, character: 8 } }, text: 'x' }
    : { range: { start: { line: editLine, character: 8 }, end: { line: editLine, character: 9 } }, text: '' });
  const child = forkServer();
  const c = createProtocolConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
  const waiters: Array<{ version: number; resolve: (p: PublishDiagnosticsParams) => void }> = [];
  const last = { publish: 0 };
  c.onNotification(PublishDiagnosticsNotification.type, (p) => {
    last.publish = performance.now();
    for (const w of [...waiters]) if (p.version === undefined || p.version >= w.version) { waiters.splice(waiters.indexOf(w), 1); w.resolve(p); }
  });
  const published = (version: number): Promise<PublishDiagnosticsParams> => new Promise((resolve) => waiters.push({ version, resolve }));
  c.onRequest(ConfigurationRequest.type, (p) => p.items.map(() => ({ mode: 'paravirtual', maxNumberOfProblems: 1000 })));
  c.onRequest(RegistrationRequest.type, () => undefined);
  c.listen();
  let peak = 0;
  const sample = async (): Promise<number> => { const m = await c.sendRequest('popek/memoryUsage') as NodeJS.MemoryUsage; peak = Math.max(peak, m.rss); return m.rss; };
  try {
    await c.sendRequest(InitializeRequest.type, { processId: process.pid, rootUri: null, workspaceFolders: null, capabilities: { workspace: { configuration: true } } });
    await c.sendNotification(InitializedNotification.type, {});
    const uri = `file:///bench/push-${lines}.gasm`;
    let t = performance.now();
    const first = published(1);
    await c.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'popek-nasm', version: 1, text } });
    await first;
    print(`${lines} lines: open + first published diagnostics ${ms(performance.now() - t)} ms; RSS ${mib(await sample())} MiB`);
    const edit: number[] = [];
    const cpuBefore = await c.sendRequest('popek/cpuUsage') as NodeJS.CpuUsage;
    let version = 1;
    let sent = 0;
    const change = async (contentChange: TextDocumentContentChangeEvent): Promise<number> => {
      const start = performance.now();
      await c.sendNotification(DidChangeTextDocumentNotification.type, { textDocument: { uri, version: ++version }, contentChanges: [contentChange] });
      // answered once the server has published this version's diagnostics, or found them unchanged (nothing to send)
      const settled = await c.sendRequest('popek/diagnosticsSettled', { uri }) as { version?: number; published: boolean };
      if (settled.published) sent++;
      return performance.now() - start;
    };
    for (let i = 0; i < EDITS; i++) {
      edit.push(await change(keystroke(i)));
      if (i % 10 === 9) await sample();
    }
    if (process.env.POPEK_BENCH_EACH) print(edit.map(ms).join(" "));
    const cpu = await c.sendRequest('popek/cpuUsage') as NodeJS.CpuUsage;
    print(`${lines} lines: edit → its diagnostics published (or found unchanged): p50 ${ms(percentile(edit, 50))} ms, p95 ${ms(percentile(edit, 95))} ms, max ${ms(Math.max(...edit))} ms; published after ${sent} of ${EDITS} edits`);
    // CPU time is what the server itself spent (user + system, every thread), whatever else the machine runs.
    print(`${lines} lines: server CPU time per edit ${ms((cpu.user + cpu.system - cpuBefore.user - cpuBefore.system) / 1000 / EDITS)} ms (load average ${os.loadavg()[0].toFixed(1)})`);
    // Edits that do change a diagnostic (`nop` ↔ `cli` on one line): every one is published.
    const flipLine = text.split('\n').findIndex((l, k) => k >= editLine && l === '    nop');
    const flipped: number[] = [];
    sent = 0;
    for (let i = 0; i < EDITS; i++) flipped.push(await change({ range: { start: { line: flipLine, character: 4 }, end: { line: flipLine, character: 7 } }, text: i % 2 === 0 ? 'cli' : 'nop' }));
    print(`${lines} lines: edit changing a diagnostic → published: p50 ${ms(percentile(flipped, 50))} ms, p95 ${ms(percentile(flipped, 95))} ms, max ${ms(Math.max(...flipped))} ms; published after ${sent} of ${EDITS} edits`);
    // The assembler's pass runs after the typing pauses, in its thread; its result is published late.
    t = performance.now();
    last.publish = 0;
    for (let k = 0; k < 200 && (last.publish === 0 || performance.now() - last.publish < 1500); k++) { await new Promise((r) => setTimeout(r, 50)); if (k % 4 === 0) await sample(); }
    // (the server publishes only a change: none when the assembler's pass finds what was already shown)
    print(`${lines} lines: assembler diagnostics ${last.publish ? `published ${ms(last.publish - t)} ms after the last keystroke` : 'not published within 10 s (unchanged, or the pass took longer)'} (off the editing path)`);
    print(`${lines} lines: server RSS after editing ${mib(await sample())} MiB, highest seen ${mib(peak)} MiB`);
    await c.sendRequest(ShutdownRequest.type);
    // Let it exit on its own (a profile is written at exit), then make sure.
    const exited = new Promise((r) => { child.once('exit', r); setTimeout(r, 3000).unref(); });
    await c.sendNotification(ExitNotification.type);
    await exited;
  } finally {
    c.dispose();
    child.kill();
  }
}

export const serverPushBench: BenchSuite = {
  name: 'server-push',
  async run(print) {
    for (const lines of [20_000, 100_000]) await measure(lines, print);
  },
};
