/*
 * Running the guest for `continue` and the steps: slices that yield to the host between turns (so a
 * pause is answered), on the fast path where the CPU checks breakpoint addresses and requested
 * stops itself ('bp', compiled code runs), with no checks at all ('free'), or one instruction at a
 * time with every check ('fine': steps, the native twin). Ends with the stop or the end of the run.
 */
import { isOutcome } from '../../core/machine/machine';
import type { CodeBreakpoints } from './codeBreakpoints';
import type { CoverageRecorder } from './coverage';
import type { DataBreakpoints } from './dataBreakpoints';
import { endMessage, twinVerdict } from './endOfRun';
import { guestIf } from './equivalence';
import type { EventFilters } from './eventFilters';
import { FINE_BATCH, TURN_MS, yieldToHost, type RunContext, type StopInfo } from './runContext';
import type { Goal } from './stepping';
import { StopPlacement } from './stopPlacement';
import type { TimeTravel } from './timeTravel';
import type { TwinLockStep } from './twinLockStep';
import type { TwinWindows } from './twinWindows';

export interface RunParts {
  codeBps: CodeBreakpoints;
  dataBps: DataBreakpoints;
  events: EventFilters;
  travel: TimeTravel;
  twin: TwinLockStep | undefined;
  /** The twin compared at the end of each stretch of `continue` (with `twin`). */
  windows: TwinWindows | undefined;
  coverage: CoverageRecorder;
}

export class RunLoop {
  private readonly placement: StopPlacement;

  constructor(private readonly ctx: RunContext, private readonly parts: RunParts) {
    this.placement = new StopPlacement(ctx, parts, (goal, n, compareTwin) => this.runFine(goal, n, compareTwin));
  }

  /**
   * How to run: 'fine' looks after every instruction (steps; the reference `oneAtATime`); 'bp' lets
   * the CPU check code breakpoint addresses itself and stop where an event the filters ask for or a
   * data watch requested a stop (compiled blocks and regions run; see stopPlacement.ts); 'free'
   * runs slices with no checks. The native twin, if any, is compared after each slice (twinWindows.ts).
   */
  private mode(goal: Goal): 'fine' | 'bp' | 'free' {
    const { codeBps, dataBps, events, coverage } = this.parts;
    if (goal.kind === 'step' || this.ctx.options.oneAtATime) return 'fine';
    // The CPU checks every instruction (per block, compiled blocks run) but the one it resumes at.
    return codeBps.size === 0 && events.watching === 0 && dataBps.count === 0 && !coverage.probing ? 'free' : 'bp';
  }

  async run(goal: Goal): Promise<void> {
    const ctx = this.ctx, cpu = ctx.cpu;
    const { codeBps, events, travel, coverage } = this.parts;
    if (ctx.running || ctx.ended || ctx.disposed) return;
    // After a pause between comparisons the twin is behind: it catches up before anything looks at it.
    if (this.parts.windows) travel.twinToCount();
    try { travel.ensureFirstCheckpoint(); } catch (e) { ctx.host.output(`popek debugger: no step back: ${(e as Error).message}\n`, 'stderr'); }
    ctx.running = true;
    ctx.clearPause();
    events.view = undefined;
    events.recentSeqLimit = undefined;
    travel.midDelivery = false;
    let stop: StopInfo | undefined;
    let sliceSize = 100_000;
    const startedAt = cpu.icount;
    const windows = this.mode(goal) !== 'fine' ? this.parts.windows : undefined;
    try {
      // A step compares in lock step from where it starts: a comparison left for later is made first.
      if (!windows) stop = await this.parts.windows?.resolve();
      windows?.begin();
      while (!stop) {
        const turnStart = performance.now();
        const mode = this.mode(goal);
        // The CPU checks the code breakpoints itself: the fast path of `continue`, and one instruction
        // at a time (each slice resumes at EIP, see runFine) where an event it delivered inside the
        // slice leads to one (a handler's first instruction, reached without an instruction retiring).
        codeBps.cpuChecks(mode !== 'free');
        if (mode === 'bp') coverage.addProbes(cpu.breakpoints);
        if (mode === 'fine') {
          do {
            stop = this.runFine(goal, FINE_BATCH);
          } while (!stop && !ctx.ended && performance.now() - turnStart < TURN_MS);
        } else {
          // Resuming: the instruction at EIP was already stopped at or checked (the last slice's end).
          if (mode === 'bp') {
            // Its probe (if any) is not checked either: it runs first thing (a halted CPU runs nothing).
            if (!cpu.halted) coverage.record(ctx.pc);
            cpu.resume();
          }
          const budget = windows ? Math.min(sliceSize, windows.sliceCap) : sliceSize;
          const sliceEnd = cpu.icount + budget;
          let r = ctx.vm.runSlice(budget);
          if (mode === 'bp') r = coverage.runPastProbes(ctx.vm, r, sliceEnd, (lin) => codeBps.hasAt(lin));
          const dt = performance.now() - turnStart;
          sliceSize = Math.max(10_000, Math.min(20_000_000, Math.round(sliceSize * (dt > 0 ? Math.min(4, TURN_MS / dt) : 4))));
          this.forgetResumeSkip();
          // The twin is compared at the stretch's end, and before a stop the slice may have run into.
          stop = await windows?.afterSlice(r !== 'slice' || this.parts.events.pending.length > 0 || this.parts.dataBps.hit !== undefined, isOutcome(r));
          if (stop) this.dropPending();
          else if (isOutcome(r)) this.finish();
          else if (mode === 'bp') stop = await this.placement.afterSlice();
        }
        travel.ran(performance.now() - turnStart);
        ctx.flushConsole();
        if (ctx.ended || stop) break;
        ctx.host.turn?.();
        travel.periodicCheckpoint();
        await yieldToHost();
        if (ctx.disposed) return;
        if (ctx.pauseRequested) { stop = { reason: 'pause', description: `Paused at ${ctx.where(ctx.pc)}` }; break; }
      }
      // A stop between two comparisons: the stretch so far is compared first (a divergence in it
      // comes first); a pause is answered at once, the comparison left to the next run.
      if (stop?.reason === 'pause') windows?.deferComparison();
      else if (stop && !ctx.ended) {
        const divergence = await windows?.settle();
        if (divergence) { this.dropPending(); stop = divergence; }
      }
    } catch (e) {
      ctx.host.output(`popek debugger: internal error while running: ${(e as Error)?.message ?? e}\n`, 'stderr');
      stop = { reason: 'pause', description: 'Stopped after an internal error' };
    } finally {
      ctx.running = false;
      codeBps.cpuChecks(false);
      cpu.withdrawStop();
    }
    if (stop?.rewind !== undefined && !ctx.ended && !ctx.disposed) await this.rewind(stop.rewind);
    // A divergence made before the run started (the twin was added after the guest ran past it):
    // the guest was taken back to it; the stop says so.
    if (stop?.reason === 'divergence' && cpu.icount < startedAt) stop = { ...stop, description: `${stop.description} (went back: the guest had diverged before instruction ${startedAt}, where this run started)` };
    if (stop && !ctx.ended) {
      travel.atStop();
      // The debugger's own pause (a filter ticked while running): the run goes on, nothing stopped.
      if (stop.reason === 'pause' && ctx.ownPause && !ctx.disposed) {
        ctx.ownPause = false;
        ctx.onOwnPause();
        return;
      }
      ctx.host.stopped(stop);
    }
  }

  /** Back to the instruction the event happened at (deterministic re-execution), keeping the VMM's view of the event. */
  private async rewind(r: NonNullable<StopInfo['rewind']>): Promise<void> {
    const ctx = this.ctx, events = this.parts.events;
    const view = events.view;
    const seqLimit = ctx.vm.events.seq;
    try {
      ctx.running = true;
      await this.placement.rewindBefore(r);
      events.resumeSkip = { icount: r.eventIcount, eip: r.eip };
      events.recentSeqLimit = seqLimit;
    } catch (e) {
      ctx.host.output(`popek debugger: cannot show the state before the event: ${(e as Error).message}\n`, 'stderr');
    } finally { ctx.running = false; }
    events.view = view;
  }

  /** A divergence found earlier than where the slice ended: what the slice recorded after it is not a stop. */
  private dropPending(): void {
    const { events, dataBps } = this.parts;
    events.pending = [];
    events.view = undefined;
    dataBps.take();
    this.ctx.cpu.withdrawStop();
  }

  /** The event a stop was rewound to stops no more once the guest is past its instruction. */
  private forgetResumeSkip(): void {
    const events = this.parts.events;
    if (events.resumeSkip && this.ctx.cpu.icount > events.resumeSkip.icount + 1) events.resumeSkip = undefined;
  }

  /** Runs up to `n` instructions one at a time with every check; returns a stop or undefined. */
  private runFine(goal: Goal, n: number, compareTwin = true): StopInfo | undefined {
    const ctx = this.ctx, vm = ctx.vm, cpu = ctx.cpu;
    const { codeBps, dataBps, events, travel, twin } = this.parts;
    for (let k = 0; k < n; k++) {
      ctx.oneByOne++;
      const before = ctx.pc;
      goal.before?.(before);
      twin?.beforeInstruction();
      // A stop asked for outside a run (an edit through a data watch) is not this instruction's.
      cpu.withdrawStop();
      const ic0 = cpu.icount;
      ctx.insnIcount = ic0;
      // The instruction at EIP was checked (the previous slice's end, or a stop): it runs now.
      cpu.resume();
      if (!cpu.halted) this.parts.coverage.record(before);
      const r = vm.runSlice(1);
      ctx.insnIcount = -1;
      this.forgetResumeSkip();
      // Stopped right after an event was delivered (an exception, an interrupt to a handler with a
      // breakpoint), before any instruction retired: the same instruction count as the instruction
      // before it (step back goes there first).
      const retired = cpu.icount !== ic0;
      travel.midDelivery = !retired;
      if (isOutcome(r)) { this.finish(); return undefined; }
      const divergence = twin?.afterInstruction(retired, compareTwin);
      if (divergence) return divergence;
      const evStop = events.takeStop();
      if (evStop) return evStop;
      const dataStop = dataBps.stopAfter(before);
      if (dataStop) return dataStop;
      // A step completes after an instruction (not after a delivery alone, e.g. a step out's `ret`).
      const stepDone = retired && (goal.done?.(ctx.pc) ?? false);
      const bpStop = codeBps.stopHere();
      if (bpStop) return bpStop;
      if (stepDone) return { reason: 'step', description: `Stepped to ${ctx.where(ctx.pc)}` };
    }
    return undefined;
  }

  /** The guest's run is over: the end sentence (with the twin's verdict). */
  private finish(): void {
    const ctx = this.ctx;
    if (ctx.ended) return;
    ctx.flushConsole();
    ctx.ended = true;
    const r = ctx.vm.report();
    const interruptsEnabled = (guestIf(ctx.vm) ?? ((ctx.cpu.getEflags() >>> 9) & 1)) === 1;
    let message = endMessage(r, ctx.vm.machine.error, (lin) => ctx.where(lin), interruptsEnabled);
    this.parts.windows?.syncTwin();
    if (this.parts.twin) message += ' ' + twinVerdict(this.parts.twin.twin, r);
    ctx.host.ended(message, r.exitCode);
  }
}
