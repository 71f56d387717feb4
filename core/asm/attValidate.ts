/*
 * Operand checks GNU as makes on an AT&T instruction, against the forms of the instruction table:
 * the operand count and kinds must fit one form ("number of operands mismatch", "operand type
 * mismatch"), and a size suffix must agree with the general registers it is used with
 * ("incorrect register used with suffix"). Forms the table lists for the disassembler only are
 * accepted too, since GNU as assembles them.
 */
import type { InstructionInfo, OperandPattern } from '../isa';
import { registerSize, type ScannedInstruction, type ScannedOperand } from '../lint/lineModel';

function fits(p: OperandPattern, o: ScannedOperand, far: boolean): boolean {
  const cls = o.registerClass;
  const mem = o.kind === 'memory';
  switch (p) {
    case 'sreg': return cls === 'sreg';
    case 'sreg-no-cs': return cls === 'sreg' && o.register !== 'cs';
    case 'cs': case 'ds': case 'es': case 'fs': case 'gs': case 'ss': return o.register === p;
    case 'cr': return cls === 'cr';
    case 'dr': return cls === 'dr';
    case 'far16:32': return o.kind === 'far';
    case 'm16:32': return mem && far;
    case 'al': case 'ax': case 'eax': case 'cl': case 'dx': return o.register === p;
    case 'r8': return cls === 'gpr8';
    case 'r16': return cls === 'gpr16';
    case 'r32': return cls === 'gpr32';
    case 'rm8': return cls === 'gpr8' || mem;
    case 'rm16': return cls === 'gpr16' || mem;
    case 'rm32': return cls === 'gpr32' || mem;
    case 'r16/32/m16': return cls === 'gpr16' || cls === 'gpr32' || mem;
    case 'm': case 'm8': case 'm16': case 'm32': case 'm64': case 'moffs8': case 'moffs16': case 'moffs32': return mem;
    case 'one': case 'imm8': case 'imm16': case 'imm32': case 'simm8': case 'imm8u': case 'rel8': case 'rel32': return o.kind === 'immediate';
    default: return false;
  }
}

const SHIFTS = new Set(['shl', 'shr', 'sal', 'sar', 'rol', 'ror', 'rcl', 'rcr']);

/** String instructions take optional explicit memory operands in AT&T (`movsl (%esi), (%edi)`). */
const STRING = /^(movs|cmps|stos|lods|scas|ins|outs)[bwd]?$/;
/** Instructions whose operands legitimately differ in size from the suffix. */
const MIXED_SIZES = new Set(['movzx', 'movsx', 'in', 'out', 'lar', 'lsl', 'shl', 'shr', 'sal', 'sar', 'rol', 'ror', 'rcl', 'rcr', 'shld', 'shrd', 'enter', 'bound', 'arpl']);

/** The problem GNU as reports for this instruction's operands, or undefined. */
export function validateAttOperands(info: InstructionInfo, instr: ScannedInstruction): string | undefined {
  if (STRING.test(info.mnemonic) && instr.operands.length > 0) return undefined;
  const far = instr.far === true;
  const n = instr.operands.length;
  // `shrl %eax`: GNU as takes a shift or rotate without a count as a shift by one.
  if (n === 1 && SHIFTS.has(info.mnemonic) && info.forms.some((f) => f.operands.length === 2 && f.operands[1] === 'one')) {
    return fits('rm32', instr.operands[0], false) || fits('rm16', instr.operands[0], false) || fits('rm8', instr.operands[0], false) ? undefined : `operand type mismatch for \`${instr.spelling}'`;
  }
  let byCount = info.forms.filter((f) => f.operands.length === n);
  // `ljmp`/`lcall` take only a far pointer (immediate `$sel, $off` or `*mem`).
  if (far && info.mnemonic !== 'retf') byCount = byCount.filter((f) => f.operands.some((p) => p === 'far16:32' || p === 'm16:32'));
  if (byCount.length === 0) return `number of operands mismatch for \`${instr.spelling}'`;
  if (!byCount.some((f) => f.operands.every((p, i) => fits(p, instr.operands[i], far)))) {
    return `operand type mismatch for \`${instr.spelling}'`;
  }
  if (instr.opsize && instr.spelling !== instr.mnemonic && !MIXED_SIZES.has(info.mnemonic)) {
    for (const o of instr.operands) {
      if (o.registerClass !== 'gpr8' && o.registerClass !== 'gpr16' && o.registerClass !== 'gpr32') continue;
      if (registerSize(o.registerClass) !== instr.opsize) return `incorrect register \`%${o.register}' used with \`${instr.spelling.slice(-1)}' suffix`;
    }
  }
  return undefined;
}
