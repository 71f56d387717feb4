/*
 * x87 FPU rows of the instruction table (same `def` format as table.ts, which calls `defineX87`).
 * Encodings and operand forms follow NASM's insns.dat: memory operands need a size (dword = single,
 * qword = double, tword = extended or packed BCD), register forms name ST(i) as st0–st7 (the
 * `st0,sti` / `sti,st0` forms, and the one-operand `sti` form that means `st0,sti`). The DC/DE
 * register forms swap SUB/SUBR and DIV/DIVR, as on every x86. WAIT-prefixed spellings (finit,
 * fstsw …) are 9B followed by the no-wait instruction: the CPU decodes them as two instructions.
 * The register aliases some CPUs execute in reserved slots (fstp1, fcom2, fxch4 …) are left out:
 * objdump and ndisasm call them invalid, and so does Popek (#UD).
 * Execution lives in core/cpu (x87 unit); the virtualization facts are all innocuous.
 */
import type { Category, InstructionInfo, VirtFacts } from './types';

export type DefFn = (mnemonic: string, category: Category, description: string, flagSpec: string, virt: VirtFacts, forms: string[],
  extra?: { att?: string[]; aliases?: string[]; handler?: string; attSize?: Record<string, 16 | 32 | 64 | 80> }) => InstructionInfo;

/** Operand size a GNU as x87 suffix means: s single/short, l double/long, t extended, q and ll 64-bit integer. */
function attSizes(mnemonic: string, att: string[]): Record<string, 16 | 32 | 64 | 80> {
  const out: Record<string, 16 | 32 | 64 | 80> = {};
  const integer = mnemonic.startsWith('fi');
  for (const a of att) {
    const sfx = a.slice(mnemonic.length);
    const size = sfx === 's' ? (integer ? 16 : 32) : sfx === 'l' ? (integer ? 32 : 64) : sfx === 't' ? 80 : sfx === 'q' || sfx === 'll' ? 64 : undefined;
    if (size) out[a] = size;
  }
  return out;
}

const h = (n: number) => n.toString(16).padStart(2, '0');

const MEM_SIZE: Record<string, 16 | 32 | 64 | 80> = { m16: 16, m32: 32, m64: 64, m80: 80 };
/** NASM takes unsized memory when the mnemonic has one memory form (fldcw [x], fbld [x]); fld [x] is ambiguous. */
function unsizedWhenOne(info: InstructionInfo): InstructionInfo {
  const mem = info.forms.filter((f) => !f.decodeOnly && f.rmOperand !== undefined);
  const size = mem.length === 1 ? MEM_SIZE[mem[0].operands[mem[0].rmOperand!]] : undefined;
  if (size) mem[0].defaultMemSize = size;
  return info;
}

export function defineX87(def: DefFn, facts: VirtFacts): void {
  const x = (m: string, desc: string, forms: string[], att: string[] = []) => unsizedWhenOne(def(m, 'x87', desc, '', facts, forms, { att, attSize: attSizes(m, att) }));
  // AT&T suffixes (GNU as): s = single/short int, l = double/long int, t = extended, q = 64-bit int (fild/fistp)
  x('fld', 'Pushes a real number (memory or ST(i)) onto the register stack.', ['m32: d9 /0', 'm64: dd /0', 'm80: db /5', 'sti: d9 c0+r'], ['flds', 'fldl', 'fldt']);
  x('fst', 'Stores ST0 to memory or ST(i).', ['m32: d9 /2', 'm64: dd /2', 'sti: dd d0+r'], ['fsts', 'fstl']);
  x('fstp', 'Stores ST0 to memory or ST(i) and pops.', ['m32: d9 /3', 'm64: dd /3', 'm80: db /7', 'sti: dd d8+r'], ['fstps', 'fstpl', 'fstpt']);
  x('fild', 'Pushes a signed integer from memory.', ['m16: df /0', 'm32: db /0', 'm64: df /5'], ['filds', 'fildl', 'fildq', 'fildll']);
  x('fist', 'Stores ST0 to memory as a signed integer.', ['m16: df /2', 'm32: db /2'], ['fists', 'fistl']);
  x('fistp', 'Stores ST0 to memory as a signed integer and pops.', ['m16: df /3', 'm32: db /3', 'm64: df /7'], ['fistps', 'fistpl', 'fistpq', 'fistpll']);
  x('fbld', 'Pushes an 18-digit packed-BCD number from memory.', ['m80: df /4']);
  x('fbstp', 'Stores ST0 to memory as packed BCD and pops.', ['m80: df /6']);
  x('fxch', 'Exchanges ST0 and ST(i) (ST1 without an operand).', [': d9 c9', 'sti: d9 c8+r', 'st0,sti: d9 c8+r', 'sti,st0: d9 c8+r']);
  for (const [cc, op, base, what] of [['b', 0xda, 0xc0, 'below (CF = 1)'], ['e', 0xda, 0xc8, 'equal (ZF = 1)'], ['be', 0xda, 0xd0, 'below or equal (CF = 1 or ZF = 1)'], ['u', 0xda, 0xd8, 'unordered (PF = 1)'],
    ['nb', 0xdb, 0xc0, 'not below (CF = 0)'], ['ne', 0xdb, 0xc8, 'not equal (ZF = 0)'], ['nbe', 0xdb, 0xd0, 'not below or equal (CF = 0 and ZF = 0)'], ['nu', 0xdb, 0xd8, 'not unordered (PF = 0)']] as const) {
    def('fcmov' + cc, 'x87', `Copies ST(i) to ST0 if ${what}.`, `r:${cc.includes('u') ? 'PF' : cc.includes('e') && cc.includes('b') ? 'CF,ZF' : cc.includes('e') ? 'ZF' : 'CF'}`, facts,
      [`sti: ${h(op)} ${h(base)}+r`, `st0,sti: ${h(op)} ${h(base)}+r`]);
  }
  // arithmetic: the /digit of the memory forms; D8 register forms are st0 op= st(i), DC forms st(i) op= st0
  const ARITH: Array<[string, number, string]> = [['add', 0, 'Adds'], ['mul', 1, 'Multiplies'], ['sub', 4, 'Subtracts'], ['subr', 5, 'Reverse-subtracts'], ['div', 6, 'Divides'], ['divr', 7, 'Reverse-divides']];
  const DC_OF: Record<number, number> = { 0: 0, 1: 1, 4: 5, 5: 4, 6: 7, 7: 6 };
  for (const [m, d, verb] of ARITH) {
    const d8 = h(0xc0 + d * 8), dc = h(0xc0 + DC_OF[d] * 8);
    x('f' + m, `${verb} ST0 and a real number (memory or ST(i)); the result goes to the destination.`, [
      `m32: d8 /${d}`, `m64: dc /${d}`, `sti: d8 ${d8}+r`, `sti,st0: dc ${dc}+r`, `st0,sti: d8 ${d8}+r`,
    ], ['f' + m + 's', 'f' + m + 'l']);
    x('f' + m + 'p', `${verb} as F${m.toUpperCase()} with ST(i) as the destination, then pops.`, [`: de ${h(0xc0 + DC_OF[d] * 8 + 1)}`, `sti: de ${dc}+r`, `sti,st0: de ${dc}+r`]);
    x('fi' + m, `${verb} ST0 and a signed integer in memory.`, [`m32: da /${d}`, `m16: de /${d}`], ['fi' + m + 'l', 'fi' + m + 's']);
  }
  x('fcom', 'Compares ST0 with a real number (memory or ST(i); ST1 without an operand) into C0, C2, C3.', ['m32: d8 /2', 'm64: dc /2', ': d8 d1', 'sti: d8 d0+r', 'st0,sti: d8 d0+r'], ['fcoms', 'fcoml']);
  x('fcomp', 'Compares as FCOM, then pops.', ['m32: d8 /3', 'm64: dc /3', ': d8 d9', 'sti: d8 d8+r', 'st0,sti: d8 d8+r'], ['fcomps', 'fcompl']);
  x('fcompp', 'Compares ST0 with ST1, then pops twice.', [': de d9']);
  x('fucom', 'Unordered compare of ST0 with ST(i) (no #IA for a quiet NaN).', [': dd e1', 'sti: dd e0+r', 'st0,sti: dd e0+r']);
  x('fucomp', 'Unordered compare as FUCOM, then pops.', [': dd e9', 'sti: dd e8+r', 'st0,sti: dd e8+r']);
  x('fucompp', 'Unordered compare of ST0 with ST1, then pops twice.', [': da e9']);
  x('ficom', 'Compares ST0 with a signed integer in memory.', ['m32: da /2', 'm16: de /2'], ['ficoml', 'ficoms']);
  x('ficomp', 'Compares as FICOM, then pops.', ['m32: da /3', 'm16: de /3'], ['ficompl', 'ficomps']);
  for (const [m, op, base, pop] of [['fcomi', 0xdb, 0xf0, ''], ['fcomip', 0xdf, 0xf0, ', then pops'], ['fucomi', 0xdb, 0xe8, ''], ['fucomip', 0xdf, 0xe8, ', then pops']] as const) {
    def(m, 'x87', `Compares ST0 with ST(i) into ZF, PF, CF${m.startsWith('fu') ? ' (unordered)' : ''}${pop}.`, 'w:ZF,PF,CF', facts, [`sti: ${h(op)} ${h(base)}+r`, `st0,sti: ${h(op)} ${h(base)}+r`]);
  }
  x('ffree', 'Tags ST(i) empty.', ['sti: dd c0+r']);
  x('ffreep', 'Tags ST(i) empty and pops (undocumented).', ['sti: df c0+r']);
  const FIXED: Array<[string, string, string]> = [
    ['fnop', 'd9 d0', 'No operation.'], ['fchs', 'd9 e0', 'Negates ST0.'], ['fabs', 'd9 e1', 'Absolute value of ST0.'],
    ['ftst', 'd9 e4', 'Compares ST0 with 0.0.'], ['fxam', 'd9 e5', 'Classifies ST0 into C0–C3.'],
    ['fld1', 'd9 e8', 'Pushes +1.0.'], ['fldl2t', 'd9 e9', 'Pushes log2(10).'], ['fldl2e', 'd9 ea', 'Pushes log2(e).'], ['fldpi', 'd9 eb', 'Pushes π.'],
    ['fldlg2', 'd9 ec', 'Pushes log10(2).'], ['fldln2', 'd9 ed', 'Pushes ln(2).'], ['fldz', 'd9 ee', 'Pushes +0.0.'],
    ['f2xm1', 'd9 f0', 'ST0 = 2^ST0 − 1.'], ['fyl2x', 'd9 f1', 'ST1 = ST1 × log2(ST0), pops.'], ['fptan', 'd9 f2', 'ST0 = tan(ST0), pushes 1.0.'], ['fpatan', 'd9 f3', 'ST1 = arctan(ST1 / ST0), pops.'],
    ['fxtract', 'd9 f4', 'Splits ST0 into exponent and significand.'], ['fprem1', 'd9 f5', 'IEEE partial remainder of ST0 / ST1.'], ['fdecstp', 'd9 f6', 'Decrements the stack-top pointer.'], ['fincstp', 'd9 f7', 'Increments the stack-top pointer.'],
    ['fprem', 'd9 f8', 'Partial remainder of ST0 / ST1 (truncating).'], ['fyl2xp1', 'd9 f9', 'ST1 = ST1 × log2(ST0 + 1), pops.'], ['fsqrt', 'd9 fa', 'Square root of ST0.'], ['fsincos', 'd9 fb', 'Sine and cosine of ST0.'],
    ['frndint', 'd9 fc', 'Rounds ST0 to an integer.'], ['fscale', 'd9 fd', 'ST0 = ST0 × 2^trunc(ST1).'], ['fsin', 'd9 fe', 'Sine of ST0.'], ['fcos', 'd9 ff', 'Cosine of ST0.'],
    ['fneni', 'db e0', '8087 only: enables interrupts (a no-op on later FPUs).'], ['fndisi', 'db e1', '8087 only: disables interrupts (a no-op on later FPUs).'],
    ['fnclex', 'db e2', 'Clears the exception flags without checking for pending exceptions.'], ['fninit', 'db e3', 'Initialises the FPU without checking for pending exceptions.'],
    ['fsetpm', 'db e4', '80287 only: enters protected mode (a no-op on later FPUs; NASM has no WAIT form).'],
  ];
  for (const [m, enc, desc] of FIXED) x(m, desc, [`: ${enc}`]);
  x('fclex', 'Clears the exception flags (WAIT, then FNCLEX).', [': 9b db e2']);
  x('finit', 'Initialises the FPU (WAIT, then FNINIT).', [': 9b db e3']);
  x('feni', '8087 only (WAIT, then FNENI).', [': 9b db e0']);
  x('fdisi', '8087 only (WAIT, then FNDISI).', [': 9b db e1']);
  x('fnstsw', 'Stores the status word to AX or memory without checking for pending exceptions.', ['ax: df e0', 'm16: dd /7']);
  x('fstsw', 'Stores the status word (WAIT, then FNSTSW).', ['ax: 9b df e0', 'm16: 9b dd /7']);
  x('fnstcw', 'Stores the control word without checking for pending exceptions.', ['m16: d9 /7']);
  x('fstcw', 'Stores the control word (WAIT, then FNSTCW).', ['m16: 9b d9 /7']);
  x('fldcw', 'Loads the control word from memory.', ['m16: d9 /5']);
  x('fnstenv', 'Stores the FPU environment (14/28 bytes) without checking for pending exceptions, then masks all exceptions.', ['m: d9 /6']);
  x('fstenv', 'Stores the FPU environment (WAIT, then FNSTENV).', ['m: 9b d9 /6']);
  x('fldenv', 'Loads the FPU environment from memory.', ['m: d9 /4']);
  x('fnsave', 'Stores the whole FPU state (94/108 bytes) without checking for pending exceptions, then initialises.', ['m: dd /6']);
  x('fsave', 'Stores the whole FPU state (WAIT, then FNSAVE).', ['m: 9b dd /6']);
  x('frstor', 'Loads the whole FPU state from memory.', ['m: dd /4']);
}
