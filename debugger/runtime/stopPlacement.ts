/*
 * Where a stop of the fast path belongs. Compiled code runs whole blocks and the CPU answers a
 * requested stop (an event the filters matched, a watched write) at the next instruction boundary;
 * from the event itself it is worked out where the stop goes — before the instruction (a trap, a VM
 * exit, a hypercall: `rewindBefore`), after it (a critical instruction, INT n), at the handler a
 * fault leads to. Should the CPU have stopped elsewhere, the guest goes back to before the
 * instruction concerned (deterministic re-execution) and runs one instruction at a time from there
 * (`refine`): the event happens again where it belongs.
 */
import type { DataBreakpoints } from './dataBreakpoints';
import type { CodeBreakpoints } from './codeBreakpoints';
import type { EventFilters } from './eventFilters';
import { STOP_BEFORE, type EventRewind } from './eventStops';
import { FINE_BATCH, TURN_MS, yieldToHost, type RunContext, type StopInfo } from './runContext';
import type { Goal } from './stepping';
import type { TimeTravel } from './timeTravel';

/**
 * Runs up to `n` instructions one at a time with every check; returns a stop or undefined.
 * `compareTwin` false: the native twin keeps in step without being compared (done for the stretch).
 */
export type FineRunner = (goal: Goal, n: number, compareTwin?: boolean) => StopInfo | undefined;

export class StopPlacement {
  constructor(
    private readonly ctx: RunContext,
    private readonly parts: { codeBps: CodeBreakpoints; dataBps: DataBreakpoints; events: EventFilters; travel: TimeTravel },
    private readonly runFine: FineRunner,
  ) {}

  /** After a slice of the fast path: the stop it ran into, placed where it belongs. */
  async afterSlice(): Promise<StopInfo | undefined> {
    const { codeBps, dataBps, events, travel } = this.parts;
    const cpu = this.ctx.cpu;
    const pending = events.pending[0], data = dataBps.hit;
    // A request the slice's budget ended before is answered here.
    cpu.withdrawStop();
    if (data && !pending) {
      // The CPU stopped right after the write (at the next instruction boundary), so the condition
      // and the hit count are checked on the state a stop shows.
      dataBps.take();
      if (!dataBps.counts(data)) return codeBps.stopHere();
      // At most one instruction retired since the count the watch saw: the writer is the one the
      // watch saw (compiled code keeps the count per block: then it was the block's first).
      const writer = cpu.icount <= data.icount + 1 ? data.writer : await travel.lastInstruction();
      return dataBps.stopInfo(data, writer);
    }
    if (pending && !STOP_BEFORE.has(pending.filter) && cpu.icount !== pending.stopAt) {
      // Up to where the CPU stopped, and at least to where the event's stop belongs.
      const from = pending.icountBefore ?? pending.icount, to = Math.max(cpu.icount, pending.stopAt);
      events.pending = [];
      dataBps.take();
      return this.refine(from, to);
    }
    // A write by the instruction an event stops before or at is not a stop of its own.
    dataBps.take();
    // A fault delivered to the guest's handler, no instruction retired since: step back goes to the
    // faulting instruction first (as after one instruction at a time).
    if (pending && pending.filter === 'guest-exception' && pending.stopAt === pending.icount && cpu.icount === pending.stopAt) travel.midDelivery = true;
    return events.takeStop() ?? codeBps.stopHere();
  }

  /** Replays to `from` and runs one instruction at a time with every check up to `to`; the stop met on the way. */
  async refine(from: number, to: number): Promise<StopInfo | undefined> {
    const ctx = this.ctx;
    if (!await this.parts.travel.replayTo(from, undefined, from)) throw new Error(`no checkpoint before instruction ${from}`);
    const goal: Goal = { kind: 'continue' };
    while (ctx.cpu.icount < to && !ctx.ended) {
      const t0 = performance.now();
      do {
        const stop = this.runFine(goal, Math.min(FINE_BATCH, to - ctx.cpu.icount), false);
        if (stop) return stop;
      } while (ctx.cpu.icount < to && !ctx.ended && performance.now() - t0 < TURN_MS);
      await yieldToHost();
      if (ctx.disposed) return undefined;
    }
    return undefined;
  }

  /** Re-executes to the state before the event's instruction (see `EventRewind`). */
  async rewindBefore(r: EventRewind): Promise<void> {
    const travel = this.parts.travel;
    if (!r.exact && r.icount > 0) {
      const t = r.icount - 1;
      if (await travel.replayTo(t, undefined, t) && this.ctx.pc === r.eip) return;
    }
    await travel.replayTo(r.icount, undefined, Math.max(0, r.icount - 1));
  }
}
