/*
 * `checkEquivalence` while continuing, without the twin slowing every instruction down: the guest
 * runs a stretch on the fast path, the native twin runs to the same instruction count, and the two
 * are compared as a whole (registers, flags, IF as the guest believes it, all guest RAM). Only when
 * the stretch made a new difference is it run again, from where the last comparison was clean, one
 * instruction at a time in lock step (twinLockStep.ts): the divergence stop and the Debug Console
 * lines come out exactly where the lock step puts them, at the price of the lock step only for the
 * stretches that need it.
 */
import { isOutcome } from '../../core/machine/machine';
import { newDifferences, twinDifferences, type TwinDifferences } from './equivalence';
import type { DataBreakpoints } from './dataBreakpoints';
import type { EventFilters } from './eventFilters';
import { TURN_MS, yieldToHost, type RunContext, type StopInfo } from './runContext';
import type { TimeTravel } from './timeTravel';
import type { TwinLockStep } from './twinLockStep';

/** Largest stretch between comparisons (instructions): bounds what one lock-step re-run costs. */
const MAX_STRETCH = 16_000_000;
/** The stretch after one that made a difference (differences come in bursts). */
const MIN_STRETCH = 10_000;
/** A new difference is narrowed down to this many instructions before the lock step re-runs them. */
const WINDOW = 4096;
/** Windows looked at per stretch; then the rest of it runs in lock step (a difference in every part). */
const MAX_WINDOWS = 8;

export class TwinWindows {
  /** The last clean comparison (both sides at its instruction count). */
  private clean: TwinDifferences | undefined;
  private stretch = MIN_STRETCH;
  /** The lock step's "difference left by the last instruction" at the clean comparison's point. */
  private divergenceAtClean: string | undefined;
  /**
   * RAM chunks whose differences the lock step found nothing in (a technique's own data in guest
   * memory, e.g. a paravirtual shared-info page it updates): no longer a reason to re-run a stretch.
   */
  private readonly ignored = new Set<number>();
  /** Instructions re-run in lock step because their stretch made a difference. */
  lockStepped = 0;

  constructor(
    private readonly ctx: RunContext,
    private readonly lock: TwinLockStep,
    private readonly parts: { events: EventFilters; dataBps: DataBreakpoints; travel: TimeTravel },
  ) {}

  /** At most this many instructions before the next comparison. */
  get sliceCap(): number { return this.stretch; }

  /** A run starts here: the differences now are the reference (they were looked at already). */
  begin(): void {
    this.parts.travel.twinToCount();
    this.clean = twinDifferences(this.ctx.vm, this.lock.twin, this.ignored);
    this.divergenceAtClean = this.lock.divergence;
  }

  /**
   * After a stretch on the fast path: the twin runs to the guest's instruction count and the two are
   * compared; a new difference is narrowed down (`narrow`) to a window of a few thousand
   * instructions, re-run in lock step, and the search goes on in the rest of the stretch. Returns
   * the divergence stop found (the guest and its twin then stand at it), else undefined with both
   * back where the stretch ended and what it recorded for the other stops kept.
   */
  async afterStretch(): Promise<StopInfo | undefined> {
    const ctx = this.ctx, vm = ctx.vm, twin = this.lock.twin;
    this.parts.travel.twinToCount();
    const now = twinDifferences(vm, twin, this.ignored);
    const quiet = this.clean !== undefined && this.lock.quietFrom(this.clean.icount);
    const found = this.clean && !quiet && this.clean.icount <= now.icount ? newDifferences(this.clean, now, this.ignored) : [];
    if (!found.length) {
      // A stretch without a new difference ends on an instruction whose effect was the same on both.
      if (!quiet && (!this.clean || now.icount !== this.clean.icount)) this.divergenceAtClean = undefined;
      this.clean = now;
      this.stretch = Math.min(MAX_STRETCH, this.stretch * 2);
      return undefined;
    }
    this.stretch = MIN_STRETCH;
    const { events, dataBps } = this.parts;
    const kept = { pending: events.pending, view: events.view, hit: dataBps.hit };
    // The stretch may have ended inside a delivery (a fault's handler reached, no instruction retired).
    const end = now.icount, endPc = ctx.pc;
    let stop: StopInfo | undefined;
    for (let windows = 0; ; windows++) {
      const last = windows >= MAX_WINDOWS;
      // Where the lock step starts and ends: the whole rest once enough windows were looked at.
      const { from, to } = last ? { from: this.clean!.icount, to: end } : await this.narrow(this.clean!, end);
      const reported = this.lock.reported;
      stop = await this.lockStep(from, to, to === end ? endPc : undefined);
      const here = twinDifferences(vm, twin, this.ignored);
      if (!stop && this.lock.reported === reported) {
        // Nothing the lock step reports came of these chunks' differences: they are not the guest's.
        for (const at of newDifferences(this.clean!, here, this.ignored)) if (at >= 0) this.ignored.add(at);
      }
      this.divergenceAtClean = this.lock.divergence;
      this.clean = twinDifferences(vm, twin, this.ignored);
      if (stop || to === end || ctx.disposed) break;
      // The rest of the stretch, on the fast path: a new difference there is looked for the same way.
      await this.parts.travel.replayTo(end, undefined, end, true);
      this.deliverAsBefore(end, endPc);
      const rest = twinDifferences(vm, twin, this.ignored);
      if (this.lock.quietFrom(this.clean.icount) || !newDifferences(this.clean, rest, this.ignored).length) {
        if (rest.icount !== this.clean.icount) this.divergenceAtClean = undefined;
        this.clean = rest;
        break;
      }
    }
    if (stop) return stop;
    // Back where the stretch ended: its events and watched write still stand.
    events.pending = kept.pending;
    events.view = kept.view;
    dataBps.hit = kept.hit;
    return undefined;
  }

  /**
   * The window a new difference since `clean` first shows in, before instruction `end`: halved
   * until it is at most WINDOW instructions, by re-running to its middle on the fast path and
   * comparing there (the guest and the twin stand at the window's start afterwards, or later).
   */
  private async narrow(clean: TwinDifferences, end: number): Promise<{ from: number; to: number }> {
    const ctx = this.ctx, travel = this.parts.travel;
    let lo = clean, hi = end, divergence = this.divergenceAtClean;
    while (hi - lo.icount > WINDOW && !ctx.disposed) {
      const mid = lo.icount + Math.floor((hi - lo.icount) / 2);
      if (!await travel.replayTo(mid, undefined, mid, true)) break;
      const d = twinDifferences(ctx.vm, this.lock.twin, this.ignored);
      if (newDifferences(lo, d, this.ignored).length) hi = mid;
      else {
        // Clean up to here: the lock step would start here with nothing left over.
        if (d.icount !== lo.icount) divergence = undefined;
        lo = d;
      }
    }
    this.clean = lo;
    this.divergenceAtClean = divergence;
    return { from: lo.icount, to: hi };
  }

  /**
   * Re-running to `end` stops before a delivery the stretch had made there (an interrupt, a fault's
   * handler reached with no instruction retired): made again, up to the handler's first instruction
   * (a breakpoint there for the moment), so that it does not happen a second time later.
   */
  private deliverAsBefore(end: number, endPc: number): void {
    const ctx = this.ctx, cpu = ctx.cpu;
    if (cpu.icount !== end || ctx.pc === endPc) return;
    const at = endPc | 0, had = cpu.breakpoints.has(at);
    cpu.breakpoints.add(at);
    ctx.replaying = true;
    ctx.suppressWatches = true;
    try {
      cpu.resume();
      ctx.vm.runSlice(1);
      cpu.resume();
    } finally {
      if (!had) cpu.breakpoints.delete(at);
      ctx.replaying = false;
      ctx.suppressWatches = false;
    }
  }

  /**
   * Re-runs `from`..`to` one instruction at a time in lock step; the divergence stop on the way.
   * `endPc`: where the stretch ended at `to` (after a delivery there, its first instruction).
   */
  private async lockStep(from: number, to: number, endPc: number | undefined): Promise<StopInfo | undefined> {
    const ctx = this.ctx, cpu = ctx.cpu;
    if (!await this.parts.travel.replayTo(from, undefined, from, true)) throw new Error(`no checkpoint before instruction ${from}`);
    // As the lock step had it there (the replay forgot it).
    this.lock.divergence = this.divergenceAtClean;
    ctx.replaying = true;
    ctx.suppressWatches = true;
    try {
      let deliveries = 0;
      const more = () => cpu.icount < to || (endPc !== undefined && cpu.icount === to && ctx.pc !== endPc && deliveries++ < 2);
      while (more()) {
        const t0 = performance.now();
        while (more() && performance.now() - t0 < TURN_MS) {
          for (let k = 0; k < 256 && more(); k++) {
            this.lock.beforeInstruction();
            const ic0 = cpu.icount;
            // Breakpoints were checked on the fast path: each instruction runs.
            cpu.resume();
            const r = ctx.vm.runSlice(1);
            this.lockStepped++;
            if (isOutcome(r)) return undefined;
            const stop = this.lock.afterInstruction(cpu.icount !== ic0);
            if (stop) return stop;
          }
        }
        if (more()) await yieldToHost();
        if (ctx.disposed) return undefined;
      }
      return undefined;
    } finally {
      ctx.replaying = false;
      ctx.suppressWatches = false;
    }
  }
}
