/*
 * The worker thread of twinAhead.ts: a native VM built from the same image and disks as the
 * debugger's twin, run to the instruction counts the main thread asks for; each answer is the
 * twin's whole state there. Its RAM is copied into one of two buffers shared with the main thread,
 * taken in turn: the main thread reads the one of the last answer while the worker fills the other
 * (it asks for the next state only after taking the last: see twinAhead.ts). No allocation per
 * answer — a fresh 16 MiB buffer each time cost more than the copy.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isOutcome } from '../../core/machine/machine';
import { createVm } from '../../core/vmm';
import { observable } from './equivalence';
import type { TwinInit, TwinReply, TwinRequest } from './twinAhead';

/** Instructions between looks at the epoch (a run the main thread no longer wants stops soon). */
const CHUNK = 1_000_000;

const init = workerData as TwinInit;
const epoch = new Int32Array(init.epoch);
const twin = createVm({ mode: 'native', memoryMiB: init.memoryMiB, maxInstructions: init.maxInstructions, disks: init.disks.map((bytes) => ({ bytes })) });
twin.load({ bytes: init.image.bytes, origin: init.image.origin, entry: init.image.entry, via: 'assembler', diagnostics: [] });

function runTo(to: number, asOf: number): boolean {
  while (twin.cpu.icount < to) {
    const before = twin.cpu.icount;
    const r = twin.runSlice(Math.min(to - before, CHUNK));
    if (isOutcome(r) || twin.cpu.icount === before) return true;
    if (Atomics.load(epoch, 0) !== asOf) return false;
  }
  return true;
}

const shared = [0, 1].map(() => new Uint8Array(new SharedArrayBuffer(twin.cpu.mem.bytes.length)));
let answers = 0;

/**
 * Instructions a scratch copy of the twin runs while the worker has nothing to do yet (the entry
 * stop): this thread's JIT compiles and optimises the guest's code paths then, not during the first
 * `continue` — a fresh thread's first run of a guest costs about twice the CPU of the next (V8's
 * compilers on their helper threads included). The scratch VM runs the same image as the twin but
 * is not the twin: it is dropped afterwards, the twin's state never moves.
 */
const WARM_UP = 20_000_000;
/** Warm-up instructions between looks at the message queue (a request ends the warm-up at once). */
const WARM_SLICE = 250_000;
let warming = true;

function warmUp(): void {
  const scratch = createVm({ mode: 'native', memoryMiB: init.memoryMiB, maxInstructions: init.maxInstructions, disks: init.disks.map((bytes) => ({ bytes: bytes.slice() })) });
  scratch.load({ bytes: init.image.bytes, origin: init.image.origin, entry: init.image.entry, via: 'assembler', diagnostics: [] });
  const next = (): void => {
    const before = scratch.cpu.icount;
    // Over when asked for work, after WARM_UP instructions, or when the guest ends or stands still (halted).
    if (!warming || before >= WARM_UP || isOutcome(scratch.runSlice(WARM_SLICE)) || scratch.cpu.icount === before) { warming = false; return; }
    setImmediate(next);
  };
  setImmediate(next);
}
warmUp();

parentPort!.on('message', (m: TwinRequest) => {
  warming = false;
  if (m.kind === 'reset') { twin.restore(m.state); return; }
  if (m.epoch !== Atomics.load(epoch, 0) || !runTo(m.to, m.epoch)) { parentPort!.postMessage({ id: m.id } satisfies TwinReply); return; }
  const ram = shared[answers++ & 1];
  ram.set(twin.cpu.mem.bytes);
  const state = twin.snapshot(true);
  state.machine.memory = ram;
  parentPort!.postMessage({ id: m.id, state, observed: observable(twin) } satisfies TwinReply);
});
