/*
 * `checkEquivalence` while continuing, without the twin slowing every instruction down: the guest
 * runs a stretch on the fast path, the native twin runs to the same instruction count, and the two
 * are compared as a whole (registers, flags, IF as the guest believes it, all guest RAM). Only when
 * the stretch made a new difference is it run again, from where the last comparison was clean, one
 * instruction at a time in lock step (twinLockStep.ts): the divergence stop and the Debug Console
 * lines come out exactly where the lock step puts them, at the price of the lock step only for the
 * stretches that need it.
 *
 * A stretch in which the technique did nothing (no event, nothing it does silently, the guest's
 * system state as it was) is not run by the twin at all: native would have ended it exactly where
 * the guest did, so the twin takes the guest's state there (stateTransfer.ts says why that is sound,
 * and which cases were checked). Only stretches the technique acted in are run by the twin and
 * compared: a guest whose events are sparse (compute-bound code) costs the twin almost nothing.
 *
 * A stretch after one the technique acted in is likely to need the twin too: when it is long, a
 * worker thread runs the twin to its end at the same time as the guest's run (twinAhead.ts), and the
 * main thread's twin adopts the worker's state there. A slice that ends before the stretch does (a
 * breakpoint, an event, a watched write: a stop may follow) is compared at once, the main thread's
 * twin running there itself.
 */
import { isOutcome } from '../../core/machine/machine';
import type { VmSnapshot } from '../../core/vmm';
import { CHUNK, newDifferences, observable, techniqueChunks, twinDifferences, type TwinDifferences } from './equivalence';
import { adoptGuestState, inAgreement, pagesThatMayDiffer, StretchWatch, type StretchMark } from './stateTransfer';
import type { DataBreakpoints } from './dataBreakpoints';
import type { EventFilters } from './eventFilters';
import { TURN_MS, yieldToHost, type RunContext, type StopInfo } from './runContext';
import type { TimeTravel } from './timeTravel';
import type { TwinAhead, TwinState } from './twinAhead';
import type { TwinLockStep } from './twinLockStep';

/**
 * Largest stretch between comparisons (instructions): bounds what one lock-step re-run costs, and
 * what the twin runs of the stretch the guest ends in (its last events — console output, the exit —
 * make it one the twin must run; on average half of MAX_STRETCH). Against that, each stretch end
 * costs a state transfer: the pages written in the stretch (write epochs, not a 16 MiB compare),
 * the devices, the system state — ~0.2 ms. Over a run of N instructions at t per instruction for
 * the twin (~2.4 ns cold: it compiles what it runs), N/L transfers of cost c plus L/2 instructions
 * for the twin are least at L = sqrt(2Nc/t): ~6 M for compute.gasm ×300 (N = 200 M). Measured
 * there (7 paired rounds per technique, one process, session 9): 8 M against 4 M took 9–12 ms
 * less main-thread CPU in every technique (143–151 against 153–163 ms) and 7–20 ms less of the
 * whole process, though the twin ran 2.5× the instructions (6.7 M against 2.7 M; PV 15.5 M against
 * 7.5 M): a transfer also costs what it leaves behind (marks, epochs that slow the guest's next
 * first writes), more than the ~0.2 ms measured alone. 16 M and 32 M were no better than 8 M.
 */
const MAX_STRETCH = 8_000_000;
/** The stretch after one that made a difference (differences come in bursts). */
const MIN_STRETCH = 10_000;
/**
 * Each clean stretch is this many times the last, up to MAX_STRETCH: few comparisons (each reads
 * all guest RAM on both sides) on the way to the longest stretch — 6 to 16 M instructions.
 */
const GROWTH = 4;
/** A new difference is narrowed down to this many instructions before the lock step re-runs them. */
const WINDOW = 4096;
/** Windows looked at per stretch; then the rest of it runs in lock step (a difference in every part). */
const MAX_WINDOWS = 8;
/**
 * A stretch at least this long after ones the technique acted in is run by the worker beside the
 * guest. Shorter ones the main thread's twin runs if it must: handing the worker the twin's state
 * (a 16 MiB snapshot) costs about what running a few million instructions does.
 */
const ASK_AHEAD = 4_000_000;
/**
 * Stretches in a row the technique acted in before the worker runs the next one ahead: events that
 * keep coming (a timer's interrupts). One alone (the PIT's first interrupt held while the guest has
 * IF = 0, its console output) is mostly followed by a stretch the twin does not run at all, and the
 * worker's run of it — cold, a core's worth of CPU beside the guest — would be thrown away.
 */
const ACTED_IN_A_ROW = 2;

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
  private readonly ignored: Set<number>;
  /** Instructions re-run in lock step because their stretch made a difference. */
  lockStepped = 0;
  /** Where the stretch being run ends (instruction count): the worker's twin runs there meanwhile. */
  private stretchEnd = 0;
  /**
   * The worker's twin follows the main thread's (no replay or lock step since it was handed over;
   * at first both stand at instruction 0 as the image loaded them: nothing to hand over).
   */
  private aheadInStep = true;
  /**
   * The twin's state at the last stretch end, from the worker, not given to the main thread's twin
   * yet (`syncTwin`): a clean comparison needs only its registers and RAM.
   */
  private adopted: TwinState | undefined;
  /**
   * A pause came before the comparison (or during the search for a difference): the last clean
   * point, from which the next run compares (the difference, if any, is found then).
   */
  private unresolved: { clean: TwinDifferences; divergence: string | undefined } | undefined;
  /** Looking for a difference in a stretch (narrowing, re-running in lock step): a pause is answered here. */
  searching = false;
  /** Settles when this run's pause is asked for (one wait per run, raced against the worker's answers). */
  private pauseAsked: Promise<'pause'> = new Promise(() => {});
  /** Where the stretch being run started, and whether the twin agreed with the guest there (stateTransfer.ts). */
  private mark: (StretchMark & { agreed: boolean }) | undefined;
  /** Stretches in a row the technique acted in (the twin ran them): the next one likely needs the twin too. */
  private actedInARow = 0;
  private readonly watch: StretchWatch;
  /** Stretches the twin did not run (it took the guest's state), and their instructions. */
  adoptions = 0;
  adoptedInstructions = 0;

  constructor(
    private readonly ctx: RunContext,
    private readonly lock: TwinLockStep,
    private readonly parts: { events: EventFilters; dataBps: DataBreakpoints; travel: TimeTravel },
    private readonly ahead: TwinAhead | undefined,
  ) {
    this.ignored = new Set(techniqueChunks(ctx.vm));
    this.watch = new StretchWatch(ctx.vm);
  }

  dispose(): void { this.watch.dispose(); }

  /** At most this many instructions before the stretch ends. */
  get sliceCap(): number { return Math.max(1, this.stretchEnd - this.ctx.cpu.icount); }

  /** The twin stands where the guest does (a checkpoint may include it). */
  get inStep(): boolean {
    const twin = this.lock.twin;
    return this.adopted ? this.adopted.icount === this.ctx.cpu.icount || this.adopted.state.machine.outcome !== undefined
      : twin.cpu.icount === this.ctx.cpu.icount || twin.machine.outcome !== undefined;
  }

  /**
   * The main thread's twin takes the state last taken from the worker (before anything runs,
   * restores or snapshots it): a page compare and the pages that differ.
   */
  syncTwin(): void {
    const adopted = this.adopted;
    this.adopted = undefined;
    if (adopted && !this.ctx.disposed) this.lock.twin.restore(adopted.state);
  }

  /** The state the worker gave for the guest's count, not taken by the main thread's twin yet. */
  get adoptedAtCount(): VmSnapshot | undefined {
    return this.adopted?.icount === this.ctx.cpu.icount ? this.adopted.state : undefined;
  }

  /** A run starts here: the differences now are the reference (they were looked at already). */
  begin(): void {
    this.parts.travel.twinToCount();
    const unresolved = this.unresolved?.clean.icount !== undefined && this.unresolved.clean.icount <= this.ctx.cpu.icount ? this.unresolved : undefined;
    this.unresolved = undefined;
    this.clean = unresolved?.clean ?? twinDifferences(this.ctx.vm, this.lock.twin, this.ignored);
    this.divergenceAtClean = unresolved ? unresolved.divergence : this.lock.divergence;
    this.pauseAsked = this.ctx.whenPauseRequested().then(() => 'pause');
    this.startStretch();
  }

  /**
   * A pause between comparisons: answered at once, the twin left where it is; the next run brings
   * it to the guest's count and compares from the last clean point.
   */
  deferComparison(): void {
    if (!this.inStep && this.clean && !this.adoptIfQuiet()) this.unresolved ??= { clean: this.clean, divergence: this.divergenceAtClean };
  }

  /**
   * The next run compares from `clean` (an earlier point, both sides there as it says): a twin added
   * after the guest ran (nativeTwin.ts) looks for a divergence from the first checkpoint on.
   */
  compareFrom(clean: TwinDifferences): void {
    this.unresolved = { clean, divergence: undefined };
  }

  /**
   * Before a step (which compares in lock step, one instruction at a time): the comparison left for
   * later (a pause between comparisons, a twin added after the guest ran) is made now, so that a
   * divergence already behind is found where it happened, not taken for the step's. Its stop, if any.
   */
  async resolve(): Promise<StopInfo | undefined> {
    const unresolved = this.unresolved;
    if (!unresolved) return undefined;
    this.unresolved = undefined;
    this.parts.travel.twinToCount();
    if (unresolved.clean.icount > this.ctx.cpu.icount) return undefined;
    this.clean = unresolved.clean;
    this.divergenceAtClean = unresolved.divergence;
    return this.afterStretch();
  }

  /**
   * The next stretch, from here: the worker is asked for the twin's state at its end when the twin
   * will likely have to run it (see ASK_AHEAD).
   */
  private startStretch(): void {
    this.stretchEnd = this.ctx.cpu.icount + this.stretch;
    this.markHere();
    const ahead = this.ahead;
    if (!ahead?.alive || this.actedInARow < ACTED_IN_A_ROW || this.stretch < ASK_AHEAD) return;
    if (!this.aheadInStep || ahead.position !== (this.adopted?.icount ?? this.lock.twin.cpu.icount)) {
      this.syncTwin();
      ahead.reset(this.lock.twin);
    }
    this.aheadInStep = true;
    ahead.ask(this.stretchEnd);
  }

  /** A stretch starts here: what `adoptIfQuiet` needs at its end. */
  private markHere(): void {
    const vm = this.ctx.vm, clean = this.clean;
    const twin = this.adopted ? this.adopted.state.machine.cpu : this.lock.twin.cpu;
    this.mark = { ...this.watch.mark(this.lock.twin, this.ignored, CHUNK), agreed: clean !== undefined && this.inStep && inAgreement(clean, vm, twin) };
  }

  /**
   * The stretch since the mark, when the twin agreed with the guest at its start and the technique
   * did nothing in it: the twin takes the guest's state instead of running it (stateTransfer.ts), the
   * comparison is clean by construction. False when the twin has to run the stretch.
   */
  private adoptIfQuiet(): boolean {
    const ctx = this.ctx, vm = ctx.vm, twin = this.lock.twin, mark = this.mark;
    if (!mark || ctx.cpu.icount === mark.icount || ctx.disposed) return false;
    if (!mark.agreed || this.watch.acted(mark)) {
      this.actedInARow++;
      return false;
    }
    this.actedInARow = 0;
    this.syncTwin();
    if (twin.cpu.icount !== mark.icount || twin.machine.outcome !== undefined) return false;
    this.mark = undefined;
    // What the worker was asked for is no longer wanted (it runs the stretch the twin skipped).
    if (this.ahead?.alive && this.ahead.asking) this.ahead.drop();
    this.aheadInStep = false;
    adoptGuestState(twin, vm, mark, CHUNK);
    this.adoptions++;
    this.adoptedInstructions += ctx.cpu.icount - mark.icount;
    // Equal but in the chunks the comparison ignores (left as they were on each side).
    this.clean = { icount: ctx.cpu.icount, vm: observable(vm), twin: observable(twin), chunks: new Map() };
    this.divergenceAtClean = undefined;
    this.stretch = Math.min(MAX_STRETCH, this.stretch * GROWTH);
    return true;
  }

  /**
   * After a slice of the fast path: the comparison when the stretch is over, or when the slice
   * ended before it with a stop that may follow (`mayStop`). The divergence stop, if any.
   */
  async afterSlice(mayStop: boolean, guestEnded = false): Promise<StopInfo | undefined> {
    const icount = this.ctx.cpu.icount;
    if (!mayStop && icount < this.stretchEnd) return undefined;
    if (this.adoptIfQuiet()) {
      this.startStretch();
      return undefined;
    }
    if (guestEnded && icount < this.stretchEnd && this.ahead?.has(this.stretchEnd)) {
      // The guest's end: the worker's twin, asked for the stretch's end, stops at its own end — at
      // the same count when the two end alike; then that is the state to compare (the main thread's
      // twin would otherwise run the stretch so far itself).
      const state = await Promise.race([this.ahead.take(this.stretchEnd), this.pauseAsked]);
      if (state === 'pause') return undefined;
      this.aheadInStep = false;
      if (state?.icount === icount && state.state.machine.outcome !== undefined) this.adopted = state;
      return this.afterStretch();
    }
    if (icount === this.stretchEnd && this.ahead?.has(icount)) {
      // A pause while the worker is still on its way is answered at once (compared at the next run).
      const state = await Promise.race([this.ahead.take(icount), this.pauseAsked]);
      if (state === 'pause') return undefined;
      // The worker goes on with the next stretch (as long as this one ends clean) while this one is
      // compared; the state before (its shared RAM the worker fills next) is no longer needed.
      const next = icount + Math.min(MAX_STRETCH, this.stretch * GROWTH);
      if (state) {
        this.adopted = state;
        this.ahead.ask(next);
      }
      const stop = await this.afterStretch();
      if (!stop && this.ahead.has(next) && this.aheadInStep) {
        this.stretchEnd = next;
        this.markHere();
      } else if (!stop) this.startStretch();
      return stop;
    }
    const stop = await this.afterStretch();
    if (!stop && (icount >= this.stretchEnd || !this.aheadInStep)) this.startStretch();
    // The stretch goes on from this comparison.
    else if (!stop) this.markHere();
    return stop;
  }

  /** A stop between slices: the stretch so far is compared (the twin brought to the guest's count). */
  async settle(): Promise<StopInfo | undefined> {
    return this.inStep || this.adoptIfQuiet() ? undefined : this.afterStretch();
  }


  /**
   * After a stretch on the fast path: the twin runs to the guest's instruction count and the two are
   * compared; a new difference is narrowed down (`narrow`) to a window of a few thousand
   * instructions, re-run in lock step, and the search goes on in the rest of the stretch. Returns
   * the divergence stop found (the guest and its twin then stand at it), else undefined with both
   * back where the stretch ended and what it recorded for the other stops kept.
   */
  private async afterStretch(): Promise<StopInfo | undefined> {
    const ctx = this.ctx, vm = ctx.vm, twin = this.lock.twin;
    const adopted = this.adopted?.icount === ctx.cpu.icount ? this.adopted : undefined;
    if (!adopted) this.parts.travel.twinToCount();
    const now = twinDifferences(vm, adopted?.side ?? twin, this.ignored, adopted || !this.mark ? undefined : pagesThatMayDiffer(vm, twin, this.mark, this.clean));
    const quiet = this.clean !== undefined && this.lock.quietFrom(this.clean.icount);
    const found = this.clean && !quiet && this.clean.icount <= now.icount ? newDifferences(this.clean, now, this.ignored) : [];
    if (!found.length) {
      // A stretch without a new difference ends on an instruction whose effect was the same on both.
      if (!quiet && (!this.clean || now.icount !== this.clean.icount)) this.divergenceAtClean = undefined;
      this.clean = now;
      this.stretch = Math.min(MAX_STRETCH, this.stretch * GROWTH);
      return undefined;
    }
    this.stretch = MIN_STRETCH;
    // Re-run and lock-stepped here: the worker's twin is handed the main thread's state anew.
    this.aheadInStep = false;
    this.syncTwin();
    const { events, dataBps } = this.parts;
    const kept = { pending: events.pending, view: events.view, hit: dataBps.hit };
    // The stretch may have ended inside a delivery (a fault's handler reached, no instruction retired).
    const end = now.icount, endPc = ctx.pc;
    let stop: StopInfo | undefined;
    this.searching = true;
    try {
      stop = await this.search(end, endPc);
    } finally { this.searching = false; }
    if (stop) return stop;
    // Back where the stretch ended: its events and watched write still stand.
    events.pending = kept.pending;
    events.view = kept.view;
    dataBps.hit = kept.hit;
    return undefined;
  }

  /**
   * The new differences of the stretch up to `end`, window by window, each re-run in lock step: the
   * divergence stop, else undefined with the guest back at `end`. A pause on the way stops where
   * the search stands (the next run looks again from its last clean point).
   */
  private async search(end: number, endPc: number): Promise<StopInfo | undefined> {
    const ctx = this.ctx, vm = ctx.vm, twin = this.lock.twin;
    let stop: StopInfo | undefined;
    const paused = (): StopInfo => {
      this.unresolved = { clean: this.clean!, divergence: this.divergenceAtClean };
      return { reason: 'pause', description: `Paused at ${ctx.where(ctx.pc)} (while looking for a divergence from native)` };
    };
    for (let windows = 0; ; windows++) {
      const last = windows >= MAX_WINDOWS;
      // Where the lock step starts and ends: the whole rest once enough windows were looked at.
      const window = last ? { from: this.clean!.icount, to: end } : await this.narrow(this.clean!, end);
      if (!window || ctx.pauseRequested) return paused();
      const { from, to } = window;
      const reported = this.lock.reported;
      stop = await this.lockStep(from, to, to === end ? endPc : undefined);
      if (!stop && ctx.pauseRequested && ctx.cpu.icount < to) return paused();
      const here = twinDifferences(vm, twin, this.ignored);
      if (!stop && this.lock.reported === reported) {
        // Nothing the lock step reports came of these chunks' differences: they are not the guest's.
        for (const at of newDifferences(this.clean!, here, this.ignored)) if (at >= 0) this.ignored.add(at);
      }
      this.divergenceAtClean = this.lock.divergence;
      this.clean = twinDifferences(vm, twin, this.ignored);
      if (stop || to === end || ctx.disposed) return stop;
      // The rest of the stretch, on the fast path: a new difference there is looked for the same way.
      await this.parts.travel.replayTo(end, undefined, end, true, () => ctx.pauseRequested);
      if (ctx.cpu.icount < end) return paused();
      this.deliverAsBefore(end, endPc);
      const rest = twinDifferences(vm, twin, this.ignored);
      if (this.lock.quietFrom(this.clean.icount) || !newDifferences(this.clean, rest, this.ignored).length) {
        if (rest.icount !== this.clean.icount) this.divergenceAtClean = undefined;
        this.clean = rest;
        return undefined;
      }
    }
  }

  /**
   * The window a new difference since `clean` first shows in, before instruction `end`: halved
   * until it is at most WINDOW instructions, by re-running to its middle on the fast path and
   * comparing there (the guest and the twin stand at the window's start afterwards, or later).
   */
  private async narrow(clean: TwinDifferences, end: number): Promise<{ from: number; to: number } | undefined> {
    const ctx = this.ctx, travel = this.parts.travel;
    let lo = clean, hi = end, divergence = this.divergenceAtClean;
    // The halvings re-run from the nearest checkpoint: one at the clean point when the nearest is
    // further back than a quarter of the stretch (each halving would re-run that again; checkpoints
    // are sparse: each costs a RAM compare).
    if (hi - lo.icount > WINDOW) await travel.anchorAt(lo.icount, (hi - lo.icount) / 4, () => ctx.pauseRequested);
    while (hi - lo.icount > WINDOW && !ctx.disposed && !ctx.pauseRequested) {
      const mid = lo.icount + Math.floor((hi - lo.icount) / 2);
      // Between two re-runs the host answers requests (a pause stops the search here).
      await yieldToHost();
      if (ctx.pauseRequested) break;
      if (!await travel.replayTo(mid, undefined, mid, true, () => ctx.pauseRequested)) break;
      if (ctx.cpu.icount < mid) break;
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
    return ctx.pauseRequested ? undefined : { from: lo.icount, to: hi };
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
    if (!await this.parts.travel.replayTo(from, undefined, from, true, () => ctx.pauseRequested)) throw new Error(`no checkpoint before instruction ${from}`);
    if (cpu.icount < from) return undefined;
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
        // A pause stops the lock step here (the caller sees the guest short of the window's end).
        if (ctx.disposed || ctx.pauseRequested) return undefined;
      }
      return undefined;
    } finally {
      ctx.replaying = false;
      ctx.suppressWatches = false;
    }
  }
}
