/*
 * `checkEquivalence` one instruction at a time: the guest's instruction, then the same instruction
 * on the native twin, then the two compared on what the guest can observe (equivalence.ts). The
 * first difference is reported in the Debug Console and, with the "Divergence from native" filter,
 * stops; later ones (often consequences of the first) are listed up to a limit.
 */
import { EXCEPTION_NAMES } from '../../core/cpu/constants';
import type { DeliveryEvent } from '../../core/cpu/monitor';
import type { Vm } from '../../core/vmm';
import { captureBefore, compareWithTwin, type Before } from './equivalence';
import { hex } from './guestState';
import type { RunContext, StopInfo } from './runContext';

/** Later divergences listed in the Debug Console. */
const DIVERGENCE_LINES = 20;

export class TwinLockStep {
  /** The difference the last instruction left (none reported again until the two agree). */
  divergence: string | undefined;
  private lastBefore: Before | undefined;
  /** What the twin delivered during the last instruction (an interrupt or exception frame that differs). */
  private delivery: DeliveryEvent | undefined;
  /** Instruction count just after the first divergence (it stops again there after a step back). */
  private firstDivergenceAt: number | undefined;
  private divergenceLines = 0;
  /** Differences reported so far (the first and the later ones, listed or not). */
  reported = 0;
  /** Instructions the twin executed in lock step with the guest. */
  ran = 0;

  constructor(private readonly ctx: RunContext, readonly twin: Vm, private readonly stopsOnDivergence: () => boolean) {
    twin.cpu.setMonitor({ onEvent: (_cpu, ev) => { this.delivery ??= ev; return false; } });
  }

  /** Before the guest's next instruction: what the comparison after it needs. */
  beforeInstruction(): void {
    this.lastBefore = captureBefore(this.ctx.vm, this.twin);
    this.delivery = undefined;
  }

  /**
   * After the guest's instruction (`retired`: it retired; else only a delivery happened): the twin
   * does the same, the two are compared; the divergence stop, if this is the first and the filter
   * asks for it. `compare` false: the twin only keeps in step (a stretch compared already).
   */
  afterInstruction(retired: boolean, compare = true): StopInfo | undefined {
    const { vm, cpu } = this.ctx, twin = this.twin;
    if (retired) {
      twin.runSlice(1);
      this.ran++;
    }
    else {
      // Delivery only: the twin delivers what it has at this boundary, and runs nothing (so the
      // two stay in lock step).
      twin.cpu.requestStop('lock step');
      twin.runSlice(1);
      twin.cpu.withdrawStop();
    }
    if (!compare) return undefined;
    const before = this.lastBefore!;
    const diff = compareWithTwin(vm, twin, before);
    if (!diff) { this.divergence = undefined; return undefined; }
    if (this.divergence) return undefined;
    this.divergence = diff;
    this.reported++;
    const d = this.delivery;
    const at = this.ctx.where(before.address) + (d ? `, delivering ${d.kind === 'external' ? `interrupt ${hex(d.vector, 2)}` : d.kind === 'software' ? `int ${hex(d.vector, 2)}` : EXCEPTION_NAMES[d.vector] ?? `vector ${d.vector}`}` : '');
    const first = this.firstDivergenceAt === undefined || cpu.icount <= this.firstDivergenceAt;
    this.ctx.flushConsole();
    if (first || this.divergenceLines < DIVERGENCE_LINES) {
      this.ctx.host.output(`Divergence from native: ${at} had a different effect under ${vm.mode} than natively: ${diff}\n`, 'console', this.ctx.program.index.locate(before.address));
    } else if (this.divergenceLines === DIVERGENCE_LINES) {
      this.ctx.host.output(`Divergence from native: further differences are not listed\n`, 'console');
    }
    if (!first) { this.divergenceLines++; return undefined; }
    this.firstDivergenceAt = cpu.icount;
    if (!this.stopsOnDivergence()) return undefined;
    return { reason: 'divergence', description: `Divergence from native after ${at}: ${diff}`, text: diff,
      exception: { filter: 'divergence', description: `The instruction at ${at} had a different effect under ${vm.mode} than natively`, details: diff } };
  }

  /**
   * Nothing a comparison from instruction `from` on could show: the first divergence is behind and
   * the later ones are no longer listed (a stretch with differences need not be looked at).
   */
  quietFrom(from: number): boolean {
    return this.firstDivergenceAt !== undefined && from >= this.firstDivergenceAt && this.divergenceLines > DIVERGENCE_LINES;
  }

  /** After a replay: the state the last comparison saw is gone. */
  clearAfterReplay(): void { this.divergence = undefined; }
}
