/*
 * The whole-file assembler pass of a big document runs in a worker thread, so that the editor's
 * requests (each edit's diagnostics, hover, completion) never wait for it. The worker is the same
 * bundle (dist/server.js) started in a worker thread; it answers one request at a time.
 */
import { parentPort, Worker } from 'node:worker_threads';
import { readIncludeText } from '../core/machine/safeRead';
import { diskIncludeEnv, resolveInclude } from '../core/lint/includes';
import { LintDocument } from '../core/lint/document';
import { assemblerDiagnostics, type LintDiagnostic } from '../core/lint/lint';
import type { Syntax } from '../core/lint/lineModel';

interface Job { id: number; fileName: string; syntax: Syntax; text: string; openFiles: Record<string, string>; searchPaths?: string[]; roots?: string[] }
interface Result { id: number; diagnostics: LintDiagnostic[] }

/** Worker side: assemble what the main thread sends. */
export function runAssemblerWorker(): void {
  parentPort?.on('message', (job: Job) => {
    let diagnostics: LintDiagnostic[];
    try {
      const doc = new LintDocument(job.fileName, job.syntax, job.text);
      diagnostics = assemblerDiagnostics(doc, {
        readFile: (p, from) => {
          const disk = diskIncludeEnv(job.searchPaths ?? [], job.roots ?? []);
          const env = { ...disk, exists: (f: string) => job.openFiles[f] !== undefined || disk.exists(f) };
          const full = resolveInclude(p, from, env);
          if (!full) return undefined;
          if (job.openFiles[full] !== undefined) return job.openFiles[full];
          return readIncludeText(full);
        },
      });
    } catch (err) {
      diagnostics = [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, severity: 'error', code: 'internal', message: `assembler failed: ${(err as Error).message}` }];
    }
    parentPort!.postMessage({ id: job.id, diagnostics } satisfies Result);
  });
}

/** Main-thread side: a worker that assembles documents; falls back to in-thread work if none can start. */
export class AssemblerWorker {
  private worker?: Worker;
  private next = 0;
  private pending = new Map<number, (d: LintDiagnostic[]) => void>();

  constructor(script: string) {
    try {
      if (!script.endsWith('.js')) return;
      this.worker = new Worker(script);
      this.worker.unref();
      this.worker.on('message', (r: Result) => { this.pending.get(r.id)?.(r.diagnostics); this.pending.delete(r.id); });
      this.worker.on('error', () => { this.worker = undefined; });
    } catch {
      this.worker = undefined;
    }
  }

  assemble(doc: LintDocument, openFiles: Record<string, string>, inThread: () => LintDiagnostic[], where: { searchPaths?: string[]; roots?: string[] } = {}): Promise<LintDiagnostic[]> {
    if (!this.worker) return Promise.resolve(inThread());
    const id = ++this.next;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.worker!.postMessage({ id, fileName: doc.fileName, syntax: doc.syntax, text: doc.text, openFiles, ...where } satisfies Job);
    });
  }

  dispose(): void { void this.worker?.terminate(); }
}
