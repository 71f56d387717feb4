/*
 * `Machine.runSlice` with the CPU's interpreter loop replaced by a technique's own executor (the
 * binary translator's dispatcher, the VT-x non-root loop). Same contract: runs at most
 * `maxInstructions`, keeps the PIT in step (budgets end at its next event), idles a halted CPU until
 * the next timer interrupt, ends the run with the machine's outcomes, never throws for guest
 * behaviour. Kept in step with core/machine/machine.ts runSlice.
 */
import { CS, IF } from '../../cpu/constants';
import { UnsupportedError, type CpuStop } from '../../cpu/cpu';
import { TripleFault } from '../../cpu/fault';
import type { Machine, StopReason } from '../../machine/machine';

/** Runs at most `budget` instructions; the contract of `Cpu.run`. */
export type Executor = (budget: number) => CpuStop;

export function runSliceWith(machine: Machine, maxInstructions: number, execute: Executor): StopReason {
  if (machine.outcome) return machine.outcome;
  const cpu = machine.cpu, pit = machine.pit;
  const limit = machine.options.maxInstructions > 0 ? machine.options.maxInstructions : Infinity;
  const sliceEnd = cpu.icount + Math.max(0, Math.floor(maxInstructions));
  try {
    while (cpu.icount < sliceEnd) {
      if (cpu.icount >= limit) { machine.finish('limit'); break; }
      let budget = Math.min(sliceEnd, limit) - cpu.icount;
      const next = pit.nextEventCycle();
      if (next !== Infinity) budget = Math.max(1, Math.min(budget, next - cpu.time));
      const r = execute(budget);
      pit.update();
      if (machine.outcome) break;
      if (r === 'stop') { cpu.stopRequested = false; continue; }
      if (r === 'breakpoint') return 'breakpoint';
      if (r === 'halt') {
        if (cpu.interruptPending()) continue;
        const wake = (cpu.flags & IF) && (machine.pic.master.imr & 1) === 0 ? pit.nextEventCycle() : Infinity;
        if (wake === Infinity) { machine.finish('halt'); break; }
        cpu.idleCycles += Math.max(0, wake - cpu.time);
        pit.update();
      }
    }
  } catch (e) {
    if (e instanceof TripleFault) machine.finish('triple-fault', 0, { faultAddress: (e.eip + cpu.segBase[CS]) >>> 0, error: e.reason });
    else if (e instanceof UnsupportedError || e instanceof Error) machine.finish('error', 0, { error: e.message });
    else throw e;
  }
  if (!machine.outcome && cpu.icount >= limit) machine.finish('limit');
  return machine.outcome ?? 'slice';
}
