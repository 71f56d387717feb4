/*
 * The whole-file assembler pass of a big document runs in a worker thread, so that the editor's
 * requests (each edit's diagnostics, hover, completion) never wait for it. The worker is the same
 * bundle (dist/server.js) started in a worker thread; it answers one request at a time.
 */
import { parentPort, Worker } from 'node:worker_threads';
import { readIncludeText } from '../core/machine/safeRead';
import { binaryReader, diskIncludeEnv, resolveInclude } from '../core/lint/includes';
import type { LintDocument } from '../core/lint/document';
import { assembleSource, nasmIncludeLines, type LintDiagnostic } from '../core/lint/lint';
import type { Syntax } from '../core/lint/lineModel';

/** The assembler thread's young generation (V8 semi-spaces), in MB. */
const WORKER_YOUNG_GENERATION_MB = 3;

interface Job { id: number; fileName: string; syntax: Syntax; text: string; openFiles: Record<string, string>; searchPaths?: string[]; roots?: string[]; nasmDefines?: Record<string, string> }
interface Result { id: number; diagnostics: LintDiagnostic[] }

/** Worker side: assemble what the main thread sends. */
export function runAssemblerWorker(): void {
  parentPort?.on('message', (job: Job) => {
    let diagnostics: LintDiagnostic[];
    try {
      // No LintDocument here: the assembler needs the text only (a 100,000-line file's facts would double the memory).
      const disk = diskIncludeEnv(job.searchPaths ?? [], job.roots ?? []);
      const env = { ...disk, exists: (f: string) => job.openFiles[f] !== undefined || disk.exists(f) };
      diagnostics = assembleSource(job.fileName, job.text, (p, from) => {
          const full = resolveInclude(p, from, env);
          if (!full) return undefined;
          if (job.openFiles[full] !== undefined) return job.openFiles[full];
          return readIncludeText(full);
        }, nasmIncludeLines(job.text), job.nasmDefines, binaryReader(disk));
    } catch (err) {
      diagnostics = [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, severity: 'error', code: 'internal', message: `assembler failed: ${(err as Error).message}` }];
    }
    parentPort!.postMessage({ id: job.id, diagnostics } satisfies Result);
  });
}

/**
 * Main-thread side: a worker that assembles documents, started when needed and ended when idle (its
 * heap would otherwise hold a big file's assembly for good). A new job while one runs ends the
 * running one: its result would be stale, and the fresh one need not wait seconds behind it.
 * Without worker threads the work runs in the calling thread.
 */
export class AssemblerWorker {
  private worker?: Worker;
  private next = 0;
  private pending = new Map<number, (d: LintDiagnostic[] | undefined) => void>();
  private idle?: NodeJS.Timeout;
  private usable: boolean;

  constructor(private readonly script: string, private readonly idleMs = 3000) {
    this.usable = script.endsWith('.js');
  }

  private start(): Worker | undefined {
    if (this.worker || !this.usable) return this.worker;
    try {
      // A small young generation: the assembler's garbage dies young, and V8's default (3 × 16 MB
      // semi-spaces) would add ~30 MB of RSS to a big file's pass for no gain in speed.
      const w = new Worker(this.script, { resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
      w.unref();
      w.on('message', (r: Result) => {
        this.pending.get(r.id)?.(r.diagnostics);
        this.pending.delete(r.id);
        if (this.pending.size === 0) this.scheduleStop();
      });
      w.on('error', () => { if (this.worker === w) this.worker = undefined; this.usable = false; });
      this.worker = w;
    } catch {
      this.usable = false;
    }
    return this.worker;
  }

  private stop(): void {
    const w = this.worker;
    this.worker = undefined;
    for (const resolve of this.pending.values()) resolve(undefined);
    this.pending.clear();
    void w?.terminate();
  }

  private scheduleStop(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => { if (this.pending.size === 0) this.stop(); }, this.idleMs);
    this.idle.unref();
  }

  /** The assembler's diagnostics, or undefined when a newer job cancelled this one. */
  assemble(doc: LintDocument, openFiles: Record<string, string>, inThread: () => LintDiagnostic[], where: { searchPaths?: string[]; roots?: string[]; nasmDefines?: Record<string, string> } = {}): Promise<LintDiagnostic[] | undefined> {
    clearTimeout(this.idle);
    if (this.pending.size > 0) this.stop();
    const worker = this.start();
    if (!worker) return Promise.resolve(inThread());
    const id = ++this.next;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ id, fileName: doc.fileName, syntax: doc.syntax, text: doc.text, openFiles, ...where } satisfies Job);
    });
  }

  dispose(): void { clearTimeout(this.idle); this.stop(); }
}
