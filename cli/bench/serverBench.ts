/*
 * `popek bench server`: the language server on a 20,000-line file, measured over the protocol as
 * the editor drives it (the bundled dist/server.js over node IPC): diagnostics after one edit,
 * hover and completion latency (p50/p95), and the server's memory on that file.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  createProtocolConnection, IPCMessageReader, IPCMessageWriter, InitializeRequest, InitializedNotification,
  DidOpenTextDocumentNotification, DidChangeTextDocumentNotification, ConfigurationRequest, RegistrationRequest,
  DiagnosticRefreshRequest, DocumentDiagnosticRequest, HoverRequest, CompletionRequest, ShutdownRequest, ExitNotification,
} from 'vscode-languageserver-protocol/node';
import type { BenchSuite } from './benchSupport';
import { percentile } from './benchSupport';
import { bigSource } from '../../core/lint/bigSource';
import { LintDocument } from '../../core/lint/document';
import { lintDocument } from '../../core/lint/lint';
import { SERVER_EXEC_ARGV } from '../../server/launchOptions';

const LINES = 20_000;
/** The edited line: an instruction in the middle of the file (`    mov ebp, esp`). */
const EDIT_LINE = 10_002;

/** Typing one character, then deleting it again, alternately. */
function keystroke(i: number): { range: { start: { line: number; character: number }; end: { line: number; character: number } }; text: string } {
  return i % 2 === 0
    ? { range: { start: { line: EDIT_LINE, character: 8 }, end: { line: EDIT_LINE, character: 8 } }, text: 'x' }
    : { range: { start: { line: EDIT_LINE, character: 8 }, end: { line: EDIT_LINE, character: 9 } }, text: '' };
}
const EDITS = 40;
const REQUESTS = 300;

function serverBundle(): string {
  for (const p of [path.join(__dirname, 'server.js'), path.resolve(__dirname, '../../dist/server.js'), path.resolve('dist/server.js')]) if (existsSync(p)) return p;
  throw new Error('dist/server.js not found: run `npm run build`');
}

/**
 * The bundled server in a child process, started as the VS Code client starts it. To look inside
 * it under a scripted client: POPEK_SERVER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/p' (or
 * '--trace-gc' with POPEK_SERVER_STDOUT=1).
 */
export function forkServer(): ChildProcess {
  const execArgv = [...SERVER_EXEC_ARGV, ...(process.env.POPEK_SERVER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [])];
  return fork(serverBundle(), ['--node-ipc'], { stdio: ['ignore', process.env.POPEK_SERVER_STDOUT ? 'inherit' : 'ignore', 'ignore', 'ipc'], execArgv });
}

const ms = (n: number): string => n.toFixed(2);

export const serverBench: BenchSuite = {
  name: 'server',
  async run(print) {
    const text = bigSource(LINES);
    const lines = text.split('\n');

    // In-process: the core of the diagnostics after one edit, without the protocol.
    const doc = new LintDocument('big.gasm', 'nasm', text);
    lintDocument(doc, { mode: 'paravirtual', skipAssembler: true });
    const core: number[] = [];
    for (let i = 0; i < EDITS; i++) {
      const t = performance.now();
      doc.applyChange(keystroke(i));
      lintDocument(doc, { mode: 'paravirtual', skipAssembler: true });
      core.push(performance.now() - t);
    }
    print(`core/lint, one edit to a ${LINES}-line file (scan + diagnostics): p50 ${ms(percentile(core, 50))} ms, p95 ${ms(percentile(core, 95))} ms`);

    const child = forkServer();
    const c = createProtocolConnection(new IPCMessageReader(child), new IPCMessageWriter(child));
    let refreshes = 0;
    let onRefresh: (() => void) | undefined;
    c.onRequest(ConfigurationRequest.type, (p) => p.items.map(() => ({ mode: 'paravirtual', maxNumberOfProblems: 100000 })));
    c.onRequest(RegistrationRequest.type, () => undefined);
    c.onRequest(DiagnosticRefreshRequest.type, () => { refreshes++; onRefresh?.(); });
    c.listen();
    try {
      await c.sendRequest(InitializeRequest.type, {
        processId: process.pid, rootUri: null, workspaceFolders: null,
        capabilities: { workspace: { configuration: true, diagnostics: { refreshSupport: true } }, textDocument: { diagnostic: {} } },
      });
      await c.sendNotification(InitializedNotification.type, {});
      const uri = 'file:///bench/big.gasm';
      let t = performance.now();
      await c.sendNotification(DidOpenTextDocumentNotification.type, { textDocument: { uri, languageId: 'popek-nasm', version: 1, text } });
      let report = await c.sendRequest(DocumentDiagnosticRequest.type, { textDocument: { uri } });
      print(`open + first diagnostics: ${ms(performance.now() - t)} ms (${'items' in report ? report.items.length : 0} diagnostics)`);

      const edit: number[] = [];
      let version = 1;
      // As VS Code does: send the last result id, so an unchanged report need not be re-sent.
      let previousResultId = 'resultId' in report ? report.resultId : undefined;
      for (let i = 0; i < EDITS; i++) {
        t = performance.now();
        await c.sendNotification(DidChangeTextDocumentNotification.type, {
          textDocument: { uri, version: ++version },
          contentChanges: [keystroke(i)],
        });
        report = await c.sendRequest(DocumentDiagnosticRequest.type, { textDocument: { uri }, previousResultId });
        edit.push(performance.now() - t);
        previousResultId = 'resultId' in report ? report.resultId : previousResultId;
      }
      print(`diagnostics after one edit (didChange → pulled report): p50 ${ms(percentile(edit, 50))} ms, p95 ${ms(percentile(edit, 95))} ms, max ${ms(Math.max(...edit))} ms`);

      // The whole-file assembler pass that follows a pause in typing.
      const before = refreshes;
      t = performance.now();
      await c.sendNotification(DidChangeTextDocumentNotification.type, {
        textDocument: { uri, version: ++version },
        contentChanges: [{ range: { start: { line: EDIT_LINE, character: 0 }, end: { line: EDIT_LINE, character: 0 } }, text: ' ' }],
      });
      await c.sendRequest(DocumentDiagnosticRequest.type, { textDocument: { uri } });
      if (refreshes === before) await new Promise<void>((r) => { onRefresh = r; setTimeout(r, 20_000); });
      await c.sendRequest(DocumentDiagnosticRequest.type, { textDocument: { uri } });
      print(`assembler errors after one edit (includes the 250 ms typing pause): ${ms(performance.now() - t)} ms`);

      const instructionLines = lines.map((l, i) => (/^ {4}[a-z]/.test(l) ? i : -1)).filter((i) => i >= 0);
      const hover: number[] = [];
      const completion: number[] = [];
      for (let i = 0; i < REQUESTS; i++) {
        const line = instructionLines[(i * 7919) % instructionLines.length];
        t = performance.now();
        await c.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line, character: 5 } });
        hover.push(performance.now() - t);
        t = performance.now();
        await c.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: { line, character: i % 2 ? 4 : lines[line].length } });
        completion.push(performance.now() - t);
      }
      print(`hover: p50 ${ms(percentile(hover, 50))} ms, p95 ${ms(percentile(hover, 95))} ms`);
      print(`completion: p50 ${ms(percentile(completion, 50))} ms, p95 ${ms(percentile(completion, 95))} ms`);
      // As when typing: each completion follows an edit (the document's symbols are rebuilt).
      const typed: number[] = [];
      for (let i = 0; i < EDITS; i++) {
        await c.sendNotification(DidChangeTextDocumentNotification.type, {
          textDocument: { uri, version: ++version },
          contentChanges: [keystroke(i)],
        });
        const line = instructionLines[(i * 7919) % instructionLines.length];
        t = performance.now();
        await c.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: { line, character: lines[line].length } });
        typed.push(performance.now() - t);
      }
      print(`completion right after an edit: p50 ${ms(percentile(typed, 50))} ms, p95 ${ms(percentile(typed, 95))} ms`);
      const mem = await c.sendRequest('popek/memoryUsage') as NodeJS.MemoryUsage;
      print(`server memory with the ${LINES}-line file open: RSS ${(mem.rss / 2 ** 20).toFixed(1)} MiB, heap used ${(mem.heapUsed / 2 ** 20).toFixed(1)} MiB`);
      await c.sendRequest(ShutdownRequest.type);
      await c.sendNotification(ExitNotification.type);
    } finally {
      c.dispose();
      child.kill();
    }
  },
};
