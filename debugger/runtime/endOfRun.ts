/*
 * The sentence the Debug Console shows when the guest's run is over, and with checkEquivalence what
 * the native twin, run to its own end, did differently that a user sees (console, outcome).
 */
import type { RunReport } from '../../core/machine/report';
import type { Vm } from '../../core/vmm';

/** Instructions the native twin may run past the guest's end to reach its own (checkEquivalence). */
const TWIN_FINISH_BUDGET = 20_000_000;

/** `interruptsEnabled`: IF as the guest believes it when the run ended (a halt's two cases differ). */
export function endMessage(r: RunReport, machineError: string | undefined, where: (lin: number) => string, interruptsEnabled = false): string {
  switch (r.outcome) {
    case 'exit': return `The guest exited with code ${r.exitCode} (isa-debug-exit) after ${r.instructions} instructions.`;
    case 'shutdown': return `The guest shut down (reason ${r.exitCode}) after ${r.instructions} instructions.`;
    case 'halt': return interruptsEnabled
      ? `The guest halted with interrupts enabled, but nothing is left that can interrupt it (no timer programmed, or its IRQ masked or never acknowledged) after ${r.instructions} instructions.`
      : `The guest halted with interrupts disabled (nothing can wake it) after ${r.instructions} instructions.`;
    case 'triple-fault': return `Triple fault at ${r.faultAddress !== undefined ? where(r.faultAddress) : '?'}: ${r.error ?? 'the CPU could not deliver an exception'}. The machine resets on real hardware; the session ends.`;
    case 'limit': return `The guest reached the instruction limit (${r.instructions} instructions).`;
    default: return `The guest could not go on: ${machineError ?? r.error ?? 'unknown error'}.`;
  }
}

/** checkEquivalence at the end: the native twin run to its own end, compared with the guest's `r`. */
export function twinVerdict(twin: Vm, r: RunReport): string {
  for (let budget = TWIN_FINISH_BUDGET; budget > 0 && !twin.machine.outcome; budget -= 1_000_000) twin.runSlice(1_000_000);
  const t = twin.report();
  if (!twin.machine.outcome) return `Natively the guest had not ended after ${t.instructions} instructions.`;
  const same: string[] = [], differ: string[] = [];
  (t.console === r.console ? same : differ).push('console');
  (t.outcome === r.outcome && t.exitCode === r.exitCode ? same : differ).push(`outcome (native: ${t.outcome} ${t.exitCode})`);
  return differ.length ? `Compared with native: ${differ.join(' and ')} differ${same.length ? `; ${same.join(' and ')} the same` : ''}.` : 'Compared with native: same console and outcome.';
}
