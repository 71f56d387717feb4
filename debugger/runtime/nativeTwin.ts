/*
 * The native twin — what "Divergence from native" and `checkEquivalence` compare the guest with —
 * as one part the runtime adds when the filter is ticked (or the launch asks for it) and drops when
 * neither wants it any more: a native VM built from the same image and disks, its lock step
 * (twinLockStep.ts), the stretch comparisons of `continue` (twinWindows.ts), the worker thread that
 * runs it ahead (twinAhead.ts), and its state in every step-back checkpoint.
 *
 * Added after the guest has run, the twin catches up from the first checkpoint (at native speed,
 * leaving its state in every checkpoint on the way) and the next run compares from there: a
 * divergence the guest made before the filter was ticked is found where it happened (the guest is
 * taken back to it), as if the twin had run beside it from the start.
 */
import type { Vm } from '../../core/vmm';
import type { DataBreakpoints } from './dataBreakpoints';
import { twinDifferences } from './equivalence';
import type { EventFilters } from './eventFilters';
import type { RunContext } from './runContext';
import type { TimeTravel } from './timeTravel';
import { TwinAhead, type TwinInit } from './twinAhead';
import { TwinLockStep } from './twinLockStep';
import { TwinWindows } from './twinWindows';

export interface NativeTwinParts { events: EventFilters; dataBps: DataBreakpoints; travel: TimeTravel }

/**
 * Idle time at a stop the twin may spend running ahead to warm its code (`warmUp`): this thread's
 * time (the adapter answers nothing meanwhile) and instructions, whichever comes first.
 */
const WARM_UP_MS = 40, WARM_UP_INSTRUCTIONS = 40_000_000;

export class NativeTwin {
  readonly lockStep: TwinLockStep;
  readonly windows: TwinWindows;
  /** undefined when no worker thread could be had: the main thread's twin runs alone. */
  readonly ahead: TwinAhead | undefined;

  /** `vm`: a native VM loaded as the guest was (at instruction 0); `init`: what the worker builds its own from. */
  /** Whether the twin has disks (a run ahead would write them: their bytes are not in a snapshot). */
  private readonly hasDisks: boolean;

  constructor(ctx: RunContext, readonly vm: Vm, private readonly parts: NativeTwinParts, init: Omit<TwinInit, 'epoch'>, stopsOnDivergence: () => boolean) {
    this.hasDisks = init.disks.length > 0;
    this.lockStep = new TwinLockStep(ctx, vm, stopsOnDivergence);
    this.ahead = TwinAhead.start(init);
    const windows = this.windows = new TwinWindows(ctx, this.lockStep, parts, this.ahead);
    const travel = parts.travel;
    travel.twin = vm;
    travel.syncTwin = () => windows.syncTwin();
    travel.twinInStep = () => windows.inStep;
    travel.twinStateAtCount = () => windows.adoptedAtCount;
    // Checkpoints taken so far (the entry stop's, a run's) get the twin's state; the next run
    // compares from the first of them (from where it starts when the guest has not run yet).
    travel.catchUpTwin(vm, () => windows.compareFrom(twinDifferences(ctx.vm, vm)));
  }

  /**
   * Idle time at a stop (the twin just added): the twin runs ahead of the guest and is put back
   * exactly where it was. Its decoded and compiled code stays (a restore keeps it: Cpu.setState), so
   * the first stretch it has to run later runs warm code: the guest's last stretch on compute.gasm
   * (its console output and exit: 6.7 M instructions) cost the twin 18–21 ms of this thread cold,
   * 7 ms warm. What the run ahead changed (memory, devices, the console) goes back with the state;
   * a twin with disks is not run ahead (a snapshot does not hold their bytes).
   */
  warmUp(): void {
    const twin = this.vm;
    if (this.hasDisks || twin.machine.outcome !== undefined) return;
    this.windows.syncTwin();
    const state = twin.snapshot();
    const t0 = performance.now(), end = twin.cpu.icount + WARM_UP_INSTRUCTIONS;
    try {
      while (twin.cpu.icount < end && performance.now() - t0 < WARM_UP_MS && twin.runSlice(Math.min(1_000_000, end - twin.cpu.icount)) === 'slice') { /* ahead */ }
    } finally {
      twin.restore(state);
    }
  }

  /** The twin is no longer wanted: its thread ends, checkpoints forget its states. */
  dispose(): void {
    this.ahead?.dispose();
    this.windows.dispose();
    const travel = this.parts.travel;
    if (travel.twin !== this.vm) return;
    travel.twin = undefined;
    travel.syncTwin = () => {};
    travel.twinInStep = () => true;
    travel.twinStateAtCount = () => undefined;
    travel.history.dropExtras();
  }
}
