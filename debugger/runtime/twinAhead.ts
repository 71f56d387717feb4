/*
 * The native twin of `checkEquivalence` run ahead in a worker thread (twinWorker.ts), so that the
 * guest and its twin run at the same time on two cores instead of one after the other on one.
 * The twin is deterministic — the same image, the same disks, devices timed by instruction count —
 * so the worker's twin at instruction count N is the state the main thread's twin would reach by
 * running to N itself. The main thread asks for the state at the end of the stretch it is about to
 * run (`ask`), runs the guest meanwhile, and takes the worker's state there (`take`): its own twin
 * adopts it (a page compare, then the pages that differ) instead of running every instruction.
 *
 * The main thread's twin stays the reference for everything else (checkpoints, narrowing, the
 * lock step); `reset` hands its state to the worker whenever the two may have parted (a replay, a
 * stop that was not at a stretch end), and drops the work the worker was asked for before.
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Vm, VmSnapshot } from '../../core/vmm';
import type { MultibootBoot } from '../../core/machine/firmware';
import type { TwinSide } from './equivalence';

/** What the worker builds its twin from (as the runtime builds the main thread's). */
export interface TwinInit {
  image: { bytes: Uint8Array; origin: number; entry: number };
  memoryMiB: number;
  maxInstructions: number;
  disks: Uint8Array[];
  /** The Multiboot command line and modules the guest was started with. */
  boot: MultibootBoot;
  /** Int32 [0]: the current epoch; the worker abandons a run whose epoch is no longer current. */
  epoch: SharedArrayBuffer;
}

export type TwinRequest =
  | { kind: 'reset'; state: VmSnapshot }
  | { kind: 'run'; id: number; epoch: number; to: number };

/**
 * The twin's state after the run asked for (absent: abandoned, the epoch moved on). Its memory is
 * a view of a buffer shared with the worker: valid until the state after the next one is asked for.
 */
export interface TwinReply { id: number; state?: VmSnapshot; observed?: Int32Array; ran?: number }

/** A state taken from the worker: the whole (to restore a VM) and what the comparison reads. */
export interface TwinState { state: VmSnapshot; side: TwinSide; icount: number }

/** The worker's script beside this module: the bundle's dist/twinWorker.js, tsc's out/…/twinWorker.js, or the source under tsx. */
function workerScript(): { file: string; execArgv?: string[] } | undefined {
  const js = path.join(__dirname, 'twinWorker.js');
  if (fs.existsSync(js)) return { file: js };
  const ts = path.join(__dirname, 'twinWorker.ts');
  if (!fs.existsSync(ts)) return undefined;
  // From sources (mocha --require tsx registers tsx in this thread only): the worker registers it too.
  return { file: ts, execArgv: [...process.execArgv, '--require', createRequire(__filename).resolve('tsx/cjs')] };
}

/**
 * What the thread runs when it starts: nothing but a wait for the first request; then it loads the
 * twin's code (twinWorker.ts: ~0.7 MB of script, a native VM, two 16 MiB buffers) and serves. The
 * thread is there for the whole session (its count is the session's), but most guests never ask
 * it for anything, and loading it all at once beside a guest just continued took ~100 ms of a core
 * and slowed the guest's run on a busy machine.
 */
const START_UP = `const { parentPort, workerData } = require('node:worker_threads');
parentPort.once('message', (first) => require(workerData.script).serve(first));`;

export class TwinAhead {
  private readonly worker: Worker;
  private readonly epoch = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 1;
  private readonly waiting = new Map<number, (state: TwinState | undefined) => void>();
  /** Asked for and not taken yet, in order: the instruction count and the reply. */
  private asked: Array<{ to: number; reply: Promise<TwinState | undefined> }> = [];
  private gone = false;
  /**
   * Where the worker's twin stands once it has done what it was asked (instruction count): built
   * from the image as the main thread's twin is, it starts where that one does, at instruction 0.
   */
  position = 0;
  /** States taken from the worker and adopted by the main thread's twin. */
  adopted = 0;
  /** Instructions the worker's twin executed, as it last reported. */
  ran = 0;

  /** undefined when no worker can be had (no script, no thread): the main thread's twin then runs alone. */
  static start(init: Omit<TwinInit, 'epoch'>): TwinAhead | undefined {
    const script = workerScript();
    try {
      return script && new TwinAhead(script, init);
    } catch {
      return undefined;
    }
  }

  private constructor(script: { file: string; execArgv?: string[] }, init: Omit<TwinInit, 'epoch'>) {
    const data: TwinInit = { ...init, epoch: this.epoch.buffer as SharedArrayBuffer };
    this.worker = new Worker(START_UP, { eval: true, workerData: { ...data, script: script.file }, execArgv: script.execArgv });
    this.worker.on('message', (m: TwinReply) => this.answered(m.ran, m.id, m.state && m.observed && {
      state: m.state, icount: m.state.machine.cpu.icount, side: { observed: m.observed, ram: m.state.machine.memory },
    }));
    const fail = () => {
      this.gone = true;
      for (const id of [...this.waiting.keys()]) this.answered(undefined, id, undefined);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', fail);
    // The worker never keeps the process alive by itself (only while a reply is awaited).
    this.worker.unref();
  }

  /** The worker is no more (an error, or disposed): nothing more can be asked. */
  get alive(): boolean { return !this.gone; }

  /** The worker's twin takes `twin`'s state; what it was asked for before is dropped. */
  reset(twin: Vm): void {
    if (this.gone) return;
    Atomics.add(this.epoch, 0, 1);
    this.asked = [];
    const state = twin.snapshot();
    this.post({ kind: 'reset', state }, [state.machine.memory.buffer as ArrayBuffer]);
    this.position = twin.cpu.icount;
  }

  /** The worker runs its twin on to instruction count `to` (after what it was asked before). */
  ask(to: number): void {
    if (this.gone) return;
    const id = this.nextId++;
    const reply = new Promise<TwinState | undefined>((resolve) => this.waiting.set(id, resolve));
    this.worker.ref();
    this.post({ kind: 'run', id, epoch: Atomics.load(this.epoch, 0), to });
    this.asked.push({ to, reply });
    this.position = to;
  }

  /** Something was asked for and not taken yet. */
  get asking(): boolean { return this.asked.length > 0; }

  /**
   * What was asked for is no longer wanted (the main thread's twin took the guest's state instead):
   * the worker abandons it; its twin's position is unknown until the next `reset`.
   */
  drop(): void {
    Atomics.add(this.epoch, 0, 1);
    this.asked = [];
    this.position = -1;
  }

  /** Whether the state at `to` was asked for and not taken yet. */
  has(to: number): boolean { return this.asked.some((a) => a.to === to); }

  /**
   * The twin's state at `to` (asked for before; earlier requests are dropped), or undefined when the
   * worker could not give it. The twin may have ended before `to` (its state then is the end's).
   */
  async take(to: number): Promise<TwinState | undefined> {
    const i = this.asked.findIndex((a) => a.to === to);
    if (i < 0) return undefined;
    const { reply } = this.asked[i];
    this.asked = this.asked.slice(i + 1);
    const state = await reply;
    if (state) this.adopted++;
    return state;
  }

  dispose(): void {
    this.gone = true;
    Atomics.add(this.epoch, 0, 1);
    void this.worker.terminate();
  }

  private post(m: TwinRequest, transfer: ArrayBuffer[] = []): void {
    try { this.worker.postMessage(m, transfer); } catch { this.gone = true; }
  }

  private answered(ran: number | undefined, id: number, state: TwinState | undefined): void {
    if (ran !== undefined) this.ran = Math.max(this.ran, ran);
    const resolve = this.waiting.get(id);
    if (!resolve) return;
    this.waiting.delete(id);
    if (this.waiting.size === 0) this.worker.unref();
    resolve(state);
  }
}
