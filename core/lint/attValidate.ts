/*
 * Operand checks GNU as makes on an AT&T instruction, against the forms of the instruction table:
 * the operand count and kinds must fit one form ("number of operands mismatch", "operand type
 * mismatch"), and a size suffix must agree with the general registers it is used with
 * ("incorrect register used with suffix"). Forms the table lists for the disassembler only are
 * accepted too, since GNU as assembles them.
 */
import type { InstructionInfo } from '../isa';
import { operandMatches } from './classify';
import { registerSize, type ScannedInstruction } from './lineModel';

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
    return operandMatches('rm32', instr.operands[0], instr) || operandMatches('rm16', instr.operands[0], instr) || operandMatches('rm8', instr.operands[0], instr) ? undefined : `operand type mismatch for \`${instr.spelling}'`;
  }
  let byCount = info.forms.filter((f) => f.operands.length === n);
  // `ljmp`/`lcall` take only a far pointer (immediate `$sel, $off` or `*mem`).
  if (far && info.mnemonic !== 'retf') byCount = byCount.filter((f) => f.operands.some((p) => p === 'far16:32' || p === 'm16:32'));
  if (byCount.length === 0) return `number of operands mismatch for \`${instr.spelling}'`;
  if (!byCount.some((f) => f.operands.every((p, i) => operandMatches(p, instr.operands[i], instr)))) {
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
