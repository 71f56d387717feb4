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

/**
 * Builds the twin and answers `first` and every request after it. Called by the thread's small
 * start-up script (twinAhead.ts) at the first request, not when the thread starts: most sessions
 * never ask, and loading this beside a guest that has just been continued took ~100 ms of a core.
 */
export function serve(first: TwinRequest): void {
  const init = workerData as TwinInit;
  const epoch = new Int32Array(init.epoch);
  const twin = createVm({ mode: 'native', memoryMiB: init.memoryMiB, maxInstructions: init.maxInstructions, disks: init.disks.map((bytes) => ({ bytes })), boot: init.boot });
  twin.load({ bytes: init.image.bytes, origin: init.image.origin, entry: init.image.entry, via: 'assembler', diagnostics: [] });

  /** Instructions this thread's twin executed (reported with each answer: what the twin cost). */
  let ran = 0;

  const runTo = (to: number, asOf: number): boolean => {
    while (twin.cpu.icount < to) {
      const before = twin.cpu.icount;
      const r = twin.runSlice(Math.min(to - before, CHUNK));
      ran += Math.max(0, twin.cpu.icount - before);
      if (isOutcome(r) || twin.cpu.icount === before) return true;
      if (Atomics.load(epoch, 0) !== asOf) return false;
    }
    return true;
  };

  const shared = [0, 1].map(() => new Uint8Array(new SharedArrayBuffer(twin.cpu.mem.bytes.length)));
  let answers = 0;

  // No warm-up run while idle (session 7 had one: 20 M instructions of a scratch VM): the twin now
  // runs only stretches the technique acted in, most guests never ask this thread for anything, and
  // a warm-up would spend a core's CPU beside the guest for nothing.
  const answer = (m: TwinRequest): void => {
    if (m.kind === 'reset') { twin.restore(m.state); return; }
    if (m.epoch !== Atomics.load(epoch, 0) || !runTo(m.to, m.epoch)) { parentPort!.postMessage({ id: m.id, ran } satisfies TwinReply); return; }
    const ram = shared[answers++ & 1];
    ram.set(twin.cpu.mem.bytes);
    const state = twin.snapshot(true);
    state.machine.memory = ram;
    parentPort!.postMessage({ id: m.id, state, observed: observable(twin), ran } satisfies TwinReply);
  };
  answer(first);
  parentPort!.on('message', answer);
}
