/*
 * Which instruction-table entry and encoding form a scanned instruction is, and so its
 * virtualization facts. The table (core/isa) is the only source of the facts; this module only
 * picks the form from the operands (e.g. `mov eax, cr0` is the CRn form, privileged; `mov ds, ax`
 * the Sreg form, critical; `jmp 0x08:x` the far form, critical).
 */
import { instructionInfo, virtFactsFor, type EncodingForm, type InstructionInfo, type OperandPattern, type VirtFacts } from '../isa';
import type { ScannedInstruction, ScannedOperand } from './lineModel';

export interface Classified {
  info: InstructionInfo;
  form?: EncodingForm;
  facts: VirtFacts;
}

const SREG_PATTERNS = new Set<OperandPattern>(['sreg', 'sreg-no-cs', 'cs', 'ds', 'es', 'fs', 'gs', 'ss']);

/** Whether operand `o` of `instr` fits the table's operand pattern `p` (also GNU as's operand check). */
export function operandMatches(p: OperandPattern, o: ScannedOperand, instr: ScannedInstruction): boolean {
  const cls = o.registerClass;
  // A far memory operand (`jmp far [p]`, `ljmp *p`) is only the m16:32 pointer, never a near r/m.
  const farMem = o.kind === 'memory' && (o.far === true || instr.far === true);
  switch (p) {
    case 'sreg': return cls === 'sreg';
    case 'sreg-no-cs': return cls === 'sreg' && o.register !== 'cs';
    case 'cs': case 'ds': case 'es': case 'fs': case 'gs': case 'ss': return o.register === p;
    case 'cr': return cls === 'cr';
    case 'dr': return cls === 'dr';
    case 'far16:32': return o.kind === 'far';
    case 'm16:32': return o.kind === 'memory' && (o.far === true || instr.far === true);
    case 'al': case 'ax': case 'eax': case 'cl': case 'dx': return o.register === p;
    case 'r8': return cls === 'gpr8';
    case 'r16': return cls === 'gpr16';
    case 'r32': return cls === 'gpr32';
    case 'rm8': return cls === 'gpr8' || (o.kind === 'memory' && !farMem);
    case 'rm16': return cls === 'gpr16' || (o.kind === 'memory' && !farMem);
    case 'rm32': return cls === 'gpr32' || (o.kind === 'memory' && !farMem);
    case 'r16/32/m16': return cls === 'gpr16' || cls === 'gpr32' || (o.kind === 'memory' && !farMem);
    case 'm': case 'm8': case 'm16': case 'm32': case 'm64': case 'm80': case 'm128': return o.kind === 'memory' && !farMem;
    // x87: `st0`/`%st`/`%st(0)`; MMX and XMM registers, or memory for the r/m patterns
    case 'st0': return cls === 'fpu' && (o.register === 'st0' || o.register === 'st');
    case 'sti': return cls === 'fpu';
    case 'mm': return cls === 'mmx';
    case 'xmm': return cls === 'xmm';
    case 'mm/m32': case 'mm/m64': return cls === 'mmx' || (o.kind === 'memory' && !farMem);
    case 'xmm/m32': case 'xmm/m64': case 'xmm/m128': return cls === 'xmm' || (o.kind === 'memory' && !farMem);
    case 'moffs8': case 'moffs16': case 'moffs32': return o.kind === 'memory';
    case 'one': case 'imm8': case 'imm16': case 'imm32': case 'simm8': case 'imm8u': case 'rel8': case 'rel32':
      return o.kind === 'immediate';
    default: return false;
  }
}

/** True when an operand can only be matched by a system form (Sreg, CRn, DRn, far pointer). */
function isSpecial(o: ScannedOperand, instr: ScannedInstruction): boolean {
  return o.registerClass === 'sreg' || o.registerClass === 'cr' || o.registerClass === 'dr' || o.kind === 'far' || (o.kind === 'memory' && (o.far === true || instr.far === true));
}

function formMatches(form: EncodingForm, instr: ScannedInstruction): boolean {
  if (form.operands.length !== instr.operands.length) return false;
  return form.operands.every((p, i) => operandMatches(p, instr.operands[i], instr));
}

/** The table entry for a scanned instruction's Intel mnemonic (retf falls back to ret's far form). */
export function lookup(instr: ScannedInstruction): InstructionInfo | undefined {
  return instructionInfo(instr.mnemonic) ?? (instr.mnemonic === 'retf' ? instructionInfo('ret') : undefined);
}

/** Classifies a scanned instruction, or undefined when the mnemonic is not in the table. */
export function classify(instr: ScannedInstruction): Classified | undefined {
  const info = lookup(instr);
  if (!info) return undefined;
  const forms = info.forms.filter((f) => !f.decodeOnly);
  let form = forms.find((f) => formMatches(f, instr)) ?? info.forms.find((f) => formMatches(f, instr));
  if (!form && instr.operands.some((o) => isSpecial(o, instr))) {
    // Sizes may not line up (e.g. `mov eax, ds` written as r32): match the system operand alone.
    form = info.forms.find((f) => f.operands.length === instr.operands.length
      && f.operands.every((p, i) => !isSpecial(instr.operands[i], instr) || operandMatches(p, instr.operands[i], instr))
      && f.operands.some((p) => SREG_PATTERNS.has(p) || p === 'cr' || p === 'dr' || p === 'far16:32' || p === 'm16:32'));
  }
  if (!form && instr.far) form = info.forms.find((f) => f.operands.some((p) => p === 'far16:32' || p === 'm16:32') || (f.virt?.class === 'critical'));
  return classified(info, form);
}

/** One shared result per table entry and form: a 100,000-line file has as many instructions, but ~100 distinct results. */
const interned = new Map<InstructionInfo, Map<EncodingForm | undefined, Classified>>();

function classified(info: InstructionInfo, form: EncodingForm | undefined): Classified {
  let byForm = interned.get(info);
  if (!byForm) { byForm = new Map(); interned.set(info, byForm); }
  let c = byForm.get(form);
  if (!c) { c = Object.freeze({ info, form, facts: virtFactsFor(info, form) }); byForm.set(form, c); }
  return c;
}

/** The diagnostic class of a classified instruction: what SPEC §7 reports. */
export function reportedClass(c: Classified): 'critical' | 'privileged' | undefined {
  switch (c.facts.class) {
    case 'critical': return 'critical';
    case 'privileged': case 'iopl-sensitive': return 'privileged';
    default: return undefined;
  }
}
