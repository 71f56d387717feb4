/*
 * Going back in time: checkpoints taken while the guest runs (history.ts), re-execution from the
 * nearest one to any earlier instruction boundary (`replayTo`), and on top of it step back by
 * instruction or by source line and reverse continue to the latest breakpoint hit.
 */
import { isOutcome } from '../../core/machine/machine';
import type { Vm, VmSnapshot } from '../../core/vmm';
import type { CodeBreakpoints } from './codeBreakpoints';
import { ElfSourceIndex } from './elfProgram';
import { frameOf } from './frames';
import { CheckpointStore } from './history';
import { FINE_BATCH, TURN_MS, yieldToHost, type RunContext } from './runContext';
import type { Granularity } from './stepping';

/** Fewest instructions between checkpoints while running. */
const CHECKPOINT_MIN_DISTANCE = 1_000_000;
/** Running time between checkpoints, as a multiple of what the last checkpoint cost (≈ 5 % overhead). */
const CHECKPOINT_COST_FACTOR = 20;
/** At a stop, a checkpoint is added when the last one is further back than this. */
const CHECKPOINT_AT_STOP = 100_000;

export class TimeTravel {
  readonly history = new CheckpointStore();
  /** Stopped right after a delivery, before any instruction retired: step back goes to the faulting instruction first. */
  midDelivery = false;
  /** Host time spent running since the last checkpoint, and what the last checkpoint cost (ms). */
  private runMs = 0;
  private checkpointMs = 10;
  private editedAt = -1;
  /** Instructions the main thread's twin executed to reach the guest's count (replays included). */
  twinRan = 0;

  /**
   * Called before the twin is run, restored or kept in a checkpoint: it takes a state a worker
   * thread ran it to, if any (twinWindows.ts).
   */
  syncTwin: () => void = () => {};
  /** Whether the twin stands at the guest's count (a checkpoint holds both; none is taken otherwise). */
  twinInStep: () => boolean = () => true;
  /**
   * The twin's state at the guest's count as a worker thread gave it, if it did: a checkpoint keeps
   * that as it is, without the main thread's twin taking it first (a RAM compare and copy).
   */
  twinStateAtCount: () => VmSnapshot | undefined = () => undefined;

  /**
   * `twin`: the native twin replayed with the guest (its state goes into every checkpoint), while
   * there is one (nativeTwin.ts adds and drops it). `afterReplay`: the other parts forget what the
   * re-execution left behind.
   */
  constructor(private readonly ctx: RunContext, public twin: Vm | undefined, private readonly codeBps: CodeBreakpoints, private readonly afterReplay: () => void) {}

  /**
   * A twin added after checkpoints were taken: it runs from the start (where it stands) through
   * every checkpoint, each of which keeps its state too. When the guest has run past the first
   * checkpoint, `atFirst` is called with the guest and the twin both there (the guest is put back
   * where it was afterwards).
   */
  catchUpTwin(twin: Vm, atFirst: () => void): void {
    const ctx = this.ctx, vm = ctx.vm;
    const first = this.history.latestAtOrBefore(this.history.positions()[0] ?? -1);
    if (!first) return;
    const runTo = (icount: number) => this.runTwin(twin, icount);
    if (ctx.cpu.icount > first.icount) {
      ctx.quietly(() => {
        const now = vm.snapshot();
        vm.restore(first.snap);
        try {
          runTo(first.icount);
          atFirst();
        } finally { vm.restore(now); }
      });
    }
    this.history.fillExtras((icount) => { runTo(icount); return twin.snapshot(true); });
  }

  /** While running: `ms` more host time spent. */
  ran(ms: number): void { this.runMs += ms; }

  /** Between turns: a checkpoint when it is worth its cost. */
  periodicCheckpoint(): void {
    if (this.twinInStep() && this.ctx.cpu.icount - this.history.lastIcount >= CHECKPOINT_MIN_DISTANCE && this.runMs >= CHECKPOINT_COST_FACTOR * this.checkpointMs) this.checkpoint();
  }

  /** At a stop: a checkpoint here when the last one is far back (the next step back is quick). */
  atStop(): void {
    if (this.twinInStep() && this.history.count > 0 && this.ctx.cpu.icount - this.history.lastIcount >= CHECKPOINT_AT_STOP) this.checkpoint();
  }

  private checkpoint(): void {
    const t0 = performance.now();
    // The twin's state at this count goes with the guest's.
    let twin = this.twin && this.twinStateAtCount();
    if (this.twin && !twin) {
      this.twinToCount();
      twin = this.twin.snapshot(true);
    }
    this.ctx.quietly(() => this.history.add(this.ctx.cpu.icount, this.ctx.vm.snapshot(true), twin));
    this.checkpointMs = performance.now() - t0;
    this.runMs = 0;
  }

  /**
   * Re-execution to instructions after `icount` starts at `icount` from now on: a checkpoint is
   * taken there (re-running to it first) when the nearest one before it is more than `within`
   * instructions back. `interrupted`: as for `replayTo` (no checkpoint then).
   */
  async anchorAt(icount: number, within: number, interrupted?: () => boolean): Promise<void> {
    const nearest = this.history.positionAtOrBefore(icount);
    if (nearest < 0 || icount - nearest <= within) return;
    if (await this.replayTo(icount, undefined, icount, true, interrupted) && this.ctx.cpu.icount === icount && !this.ctx.disposed) this.checkpoint();
  }

  /**
   * Step back needs a checkpoint where the recording starts, and one of any state the user edited;
   * taken before the guest moves.
   */
  ensureFirstCheckpoint(): void {
    const icount = this.ctx.cpu.icount;
    if (!this.ctx.disposed && (this.history.count === 0 || this.history.lastIcount < icount && this.editedAt === icount)) this.checkpoint();
    this.editedAt = -1;
  }

  /** The user edited the state: checkpoints from here on no longer describe the future. */
  noteEdited(): void {
    this.history.truncateFrom(this.ctx.cpu.icount);
    this.editedAt = this.ctx.cpu.icount;
  }

  /**
   * Restores the state at `target` instructions, re-executing from the latest checkpoint at or
   * before `startAtOrBefore`; `observe` sees every instruction boundary on the way. `onward`: when
   * the guest stands between that checkpoint and `target`, it runs on from where it is (the same
   * deterministic path, without restoring and re-running what lies behind it). `interrupted`: asked
   * between turns; true leaves the guest (and the twin) where the re-execution stands, short of `target`.
   */
  async replayTo(target: number, observe?: (icount: number, lin: number) => void, startAtOrBefore = target, onward = false, interrupted?: () => boolean): Promise<boolean> {
    const at = this.history.positionAtOrBefore(startAtOrBefore);
    if (at < 0) return false;
    const ctx = this.ctx, vm = ctx.vm, cpu = ctx.cpu, twin = this.twin;
    this.syncTwin();
    ctx.replaying = true;
    ctx.suppressWatches = true;
    try {
      if (!onward || cpu.icount > target || cpu.icount < at) {
        // Unpacked only when restored (a 16 MiB copy per side).
        const cp = this.history.latestAtOrBefore(startAtOrBefore)!;
        vm.restore(cp.snap);
        if (twin && cp.extra) twin.restore(cp.extra);
      }
      while (cpu.icount < target) {
        const t0 = performance.now();
        while (cpu.icount < target && performance.now() - t0 < TURN_MS) {
          if (observe) {
            for (let k = 0; k < FINE_BATCH && cpu.icount < target; k++) {
              observe?.(cpu.icount, ctx.pc);
              const r = vm.runSlice(1);
              if (r === 'breakpoint') cpu.resume();
              this.twinToCount();
              if (isOutcome(r)) return true;
            }
          } else {
            const r = vm.runSlice(Math.min(target - cpu.icount, 500_000));
            // The debugger's breakpoints may be set (placing a stop): re-execution runs through them.
            if (r === 'breakpoint') cpu.resume();
            this.twinToCount();
            if (isOutcome(r)) return true;
          }
        }
        if (cpu.icount < target) await yieldToHost();
        if (ctx.disposed) return false;
        if (cpu.icount < target && interrupted?.()) return true;
      }
      return true;
    } finally {
      ctx.replaying = false;
      ctx.suppressWatches = false;
      this.midDelivery = false;
      this.afterReplay();
    }
  }

  /** The native twin runs to the guest's instruction count (both replay the same stretch). */
  twinToCount(): void {
    this.syncTwin();
    if (this.twin) this.runTwin(this.twin, this.ctx.cpu.icount);
  }

  private runTwin(twin: Vm, target: number): void {
    const from = twin.cpu.icount;
    while (twin.cpu.icount < target && !isOutcome(twin.runSlice(target - twin.cpu.icount))) { /* on to the count */ }
    this.twinRan += Math.max(0, twin.cpu.icount - from);
  }

  /**
   * Linear address of the instruction that retired last (compiled code did not say which): the
   * state one instruction back, re-executed from a checkpoint, then forward again to now.
   */
  async lastInstruction(): Promise<number> {
    const now = this.ctx.cpu.icount;
    if (!await this.replayTo(now - 1, undefined, now - 1)) throw new Error(`no checkpoint before instruction ${now - 1}`);
    const lin = this.ctx.pc;
    await this.replayTo(now, undefined, now - 1);
    return lin;
  }

  /** Steps back one instruction or one source line. */
  async stepBack(granularity: Granularity): Promise<void> {
    if (this.ctx.running) return;
    try { await this.stepBackInner(granularity); } catch (e) { this.travelFailed(e); }
  }

  /** Runs backwards to the most recent breakpoint hit before now, or to the start. */
  async reverseContinue(): Promise<void> {
    if (this.ctx.running) return;
    try { await this.reverseContinueInner(); } catch (e) { this.travelFailed(e); }
  }

  private travelFailed(e: unknown): void {
    this.ctx.running = false;
    this.ctx.host.output(`popek debugger: cannot go back: ${(e as Error)?.message ?? e}\n`, 'stderr');
    this.ctx.host.stopped({ reason: 'pause', description: `Going back failed: ${(e as Error).message}` });
  }

  private async stepBackInner(granularity: Granularity): Promise<void> {
    const ctx = this.ctx, cpu = ctx.cpu;
    this.ensureFirstCheckpoint();
    const now = cpu.icount;
    if (now === 0) { ctx.host.stopped({ reason: 'step', description: `At the first instruction: there is nothing before it` }); return; }
    ctx.running = true;
    try {
      let target = now - 1;
      if (this.midDelivery) {
        // The faulting instruction, before its exception was delivered (same instruction count).
        target = now;
      } else if (granularity === 'line') {
        const best = await this.previousLineStart(now);
        if (best >= (this.history.latestAtOrBefore(now - 1)?.icount ?? 0)) target = best;
      }
      await this.replayTo(target, undefined, Math.min(target, now - 1));
      ctx.ended = false;
    } finally { ctx.running = false; }
    ctx.host.stopped({ reason: 'step', description: `Stepped back to ${ctx.where(ctx.pc)} (instruction ${cpu.icount})` });
  }

  /** The instruction count of the latest start of another source line before `now` (-1: none since the checkpoint). */
  private async previousLineStart(now: number): Promise<number> {
    const ctx = this.ctx, cpu = ctx.cpu;
    const index = ctx.program.index;
    const cur = index.locate(ctx.pc);
    let best = -1;
    // Compiled code: back to the start of the previous statement of this frame (or a caller's),
    // not into the middle of a line or into a callee.
    const elf = index instanceof ElfSourceIndex ? index : undefined;
    const regs = (pc: number) => ({ pc, esp: cpu.regs[4] >>> 0, ebp: cpu.regs[5] >>> 0 });
    const curCfa = elf ? frameOf(cpu, elf, regs(ctx.pc))?.cfa : undefined;
    await this.replayTo(now, (ic, lin) => {
      if (elf) {
        if (!elf.isStatementStart(lin)) return;
        const loc = elf.locate(lin);
        if (!loc || (cur && loc.line === cur.line && loc.file === cur.file)) return;
        const f = curCfa !== undefined ? frameOf(cpu, elf, regs(lin)) : undefined;
        if (f && f.cfa < curCfa!) return;
        best = ic;
        return;
      }
      const e = index.at(lin);
      if (e && (!cur || e.range.start.line !== cur.line || e.file !== cur.file)) best = ic;
    }, now - 1);
    return best;
  }

  private async reverseContinueInner(): Promise<void> {
    const ctx = this.ctx;
    this.ensureFirstCheckpoint();
    ctx.running = true;
    let hitAt = -1, hitIds: number[] = [];
    const now = ctx.cpu.icount;
    try {
      // Checkpoint windows from the newest back: replay each, remember its last breakpoint hit.
      const starts = this.history.positions().filter((p) => p < now).reverse();
      for (let i = 0; i < starts.length && hitAt < 0; i++) {
        const end = i === 0 ? now : starts[i - 1];
        await this.replayTo(end, (ic, lin) => {
          const bps = this.codeBps.at(lin);
          if (!bps) return;
          const hit = this.codeBps.check(bps);
          if (hit.length) { hitAt = ic; hitIds = hit.map((b) => b.id); }
        }, starts[i]);
        if (ctx.disposed) return;
      }
      await this.replayTo(hitAt >= 0 ? hitAt : 0);
      ctx.ended = false;
    } finally { ctx.running = false; }
    if (hitAt >= 0) ctx.host.stopped({ reason: 'breakpoint', description: `Breakpoint at ${ctx.where(ctx.pc)} (reverse, instruction ${hitAt})`, hitBreakpointIds: hitIds });
    else ctx.host.stopped({ reason: 'entry', description: `Reached the start of the recording at ${ctx.where(ctx.pc)}` });
  }
}
