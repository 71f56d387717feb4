/*
 * The instruction-table row's virtualization facts for a decoded instruction (core/isa/table.ts):
 * its class (privileged, IOPL-sensitive, critical, innocuous), its VT-x exit (reason and control),
 * its binary-translation treatment and its paravirtual replacement. The techniques dispatch on these
 * (as KVM dispatches on the exit reason) instead of restating opcodes and mnemonics.
 */
import type { Insn } from '../cpu/insn';
import { virtFactsFor } from '../isa/table';
import type { EncodingForm, VirtFacts } from '../isa/types';

const FACTS = new WeakMap<EncodingForm, VirtFacts>();

/** The facts of the instruction's row and form; undefined for an invalid encoding (no row). */
export function rowFacts(insn: Insn): VirtFacts | undefined {
  const info = insn.info, form = insn.form;
  if (!info || !form) return undefined;
  let f = FACTS.get(form);
  if (!f) FACTS.set(form, f = virtFactsFor(info, form));
  return f;
}

/** The VT-x basic exit reason the row names (KVM's name), or undefined when the row never exits. */
export function rowExitReason(insn: Insn): { reason: string; reasonNumber: number; controlled: boolean } | undefined {
  const e = rowFacts(insn)?.vmExit;
  if (!e || e.kind === 'none') return undefined;
  return { reason: e.reason, reasonNumber: e.reasonNumber, controlled: e.kind === 'controlled' };
}
