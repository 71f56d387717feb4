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
const MAX_STRETCH = 1_000_000;
/** The stretch after one that made a difference (differences come in bursts). */
const MIN_STRETCH = 10_000;

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
   * compared; a new difference re-runs the stretch in lock step. Returns the divergence stop found
   * there (the guest and its twin then stand at it), else undefined with both back where the
   * stretch ended and what it recorded for the other stops kept.
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
    const reported = this.lock.reported;
    const stop = await this.lockStep(this.clean!.icount, now.icount);
    // Nothing the lock step reports came of these chunks' differences: they are not the guest's.
    if (!stop && this.lock.reported === reported) for (const at of found) if (at >= 0) this.ignored.add(at);
    this.divergenceAtClean = this.lock.divergence;
    if (stop) {
      this.clean = twinDifferences(vm, twin, this.ignored);
      return stop;
    }
    // Back where the stretch ended: its events and watched write still stand.
    events.pending = kept.pending;
    events.view = kept.view;
    dataBps.hit = kept.hit;
    this.clean = twinDifferences(vm, twin, this.ignored);
    return undefined;
  }

  /** Re-runs `from`..`to` one instruction at a time in lock step; the divergence stop on the way. */
  private async lockStep(from: number, to: number): Promise<StopInfo | undefined> {
    const ctx = this.ctx, cpu = ctx.cpu;
    // The stretch may have ended inside a delivery (a fault's handler reached, no instruction retired).
    const endPc = ctx.pc;
    if (!await this.parts.travel.replayTo(from, undefined, from)) throw new Error(`no checkpoint before instruction ${from}`);
    // As the lock step had it there (the replay forgot it).
    this.lock.divergence = this.divergenceAtClean;
    ctx.replaying = true;
    ctx.suppressWatches = true;
    try {
      let deliveries = 0;
      const more = () => cpu.icount < to || (cpu.icount === to && ctx.pc !== endPc && deliveries++ < 2);
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
