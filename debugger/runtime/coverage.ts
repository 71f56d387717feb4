/*
 * Code coverage of a debug session: which instructions of the program have executed, by source line.
 *
 * Probes, not a per-instruction callback: while coverage is on, every instruction start of the
 * program (the source map; for an ELF kernel every instruction its line table covers) that has not
 * run yet is a one-shot code breakpoint. The CPU checks breakpoints before each instruction in every
 * executor — the interpreter, compiled blocks, compiled regions (a page with a breakpoint runs per
 * block), the binary translator (which interprets while any breakpoint is set), VT-x non-root — so a
 * probe stops the slice exactly before its instruction runs, the recorder notes the address and
 * takes the probe out, and the slice goes on. Each instruction costs one stop in the whole session;
 * code that has run is free again (a loop runs compiled after its first pass), and with coverage off
 * there is nothing at all: no probe, no check.
 *
 * One-instruction-at-a-time runs (steps, the native twin) note each instruction as it runs.
 * Headless: no protocol types.
 */
import { CS } from '../../core/cpu/constants';
import type { Cpu } from '../../core/cpu/cpu';
import type { StopReason as SliceResult } from '../../core/machine/machine';
import type { Vm } from '../../core/vmm';
import type { SourceIndex } from './program';

/** Executed lines of one source file (0-based lines, ascending). */
export interface FileCoverage { file: string; lines: number[] }

export interface CoverageReport {
  files: FileCoverage[];
  /** Instructions of the program that have executed, and how many it has. */
  executed: number;
  instructions: number;
}

export class CoverageRecorder {
  /** Instruction starts not executed yet, as the CPU keys breakpoints (signed 32-bit). */
  private readonly pending = new Set<number>();
  /** Executed instruction starts (unsigned). */
  private readonly executed = new Set<number>();
  private on = false;
  private total = 0;

  constructor(private readonly index: SourceIndex) {}

  get enabled(): boolean { return this.on; }

  /** Starts recording from now (what ran before is not known). Idempotent. */
  enable(): void {
    if (this.on) return;
    this.on = true;
    const all = this.index.instructionAddresses();
    this.total = all.length;
    for (const a of all) if (!this.executed.has(a >>> 0)) this.pending.add(a | 0);
  }

  /** True while some instruction has not run: the run must let the CPU check the probes. */
  get probing(): boolean { return this.pending.size > 0; }

  /** Adds the probes not hit yet to the CPU's breakpoint set (built afresh for each turn). */
  addProbes(set: Set<number>): void {
    for (const p of this.pending) set.add(p);
  }

  /** The instruction at linear `lin` runs now (or faults trying): true when it was a probe. */
  record(lin: number): boolean {
    if (!this.pending.delete(lin | 0)) return false;
    this.executed.add(lin >>> 0);
    return true;
  }

  /**
   * After a slice of the fast path: while it stopped at a probe that is not also a user's
   * breakpoint, records it, takes the probe out of the CPU's set and runs on to the slice's end.
   * Returns what the last piece of the slice returned ('slice' when the probes used it up).
   */
  runPastProbes(vm: Vm, r: SliceResult, sliceEnd: number, userBreakpointAt: (lin: number) => boolean): SliceResult {
    const cpu: Cpu = vm.cpu;
    while (r === 'breakpoint') {
      const lin = (cpu.eip + cpu.segBase[CS]) | 0;
      // At a user's breakpoint the instruction has not run yet (the stop shows it as the next one):
      // the next turn notes it as it resumes there.
      if (userBreakpointAt(lin >>> 0) || !this.record(lin)) return r;
      cpu.breakpoints.delete(lin);
      if (cpu.icount >= sliceEnd) return 'slice';
      r = vm.runSlice(sliceEnd - cpu.icount);
    }
    return r;
  }

  /** Executed lines by file, through the index (an address inside an instruction counts for its line). */
  report(): CoverageReport {
    const byFile = new Map<string, Set<number>>();
    for (const a of this.executed) {
      const loc = this.index.locate(a);
      if (!loc) continue;
      let lines = byFile.get(loc.file);
      if (!lines) byFile.set(loc.file, lines = new Set());
      lines.add(loc.line);
    }
    const files = [...byFile].map(([file, lines]) => ({ file, lines: [...lines].sort((x, y) => x - y) }));
    return { files, executed: this.executed.size, instructions: this.total };
  }
}
