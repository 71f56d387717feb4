/*
 * Which table form a decoded instruction is. The index from opcode to encoding forms is built from
 * the table one opcode at a time, when the decoder first meets it; `findForm` applies the rules that pick one: operand and address size, ModRM digit,
 * register or memory operand, fixed trailing bytes (0f 01 c1, d4 0a), mandatory prefix (f3 90).
 * The CPU's decoder names every instruction it decodes with it (mnemonic, monitor class, block end,
 * LOCK legality come from the form), and the disassembler formats the form it gives: one decoder,
 * two readers.
 */
import { forEachOpcodeKey } from './opcodeKeys';
import { definedInstructions, defineLateRows, isLateOpcode, rowsWithOpcode, tableGeneration } from './table';
import type { EncodingForm, InstructionInfo, OperandPattern } from './types';

export interface FormMatch {
  info: InstructionInfo;
  form: EncodingForm;
  /** Register number added to the opcode (`+r` forms). */
  reg?: number;
  /** Opcode bytes after the indexed ones that must follow (0f 01 c1, d4 0a). */
  tail?: number[];
}

/** What the decoder saw; `at(k)` is the k-th byte after the opcode (for fixed trailing bytes). */
export interface DecodedShape {
  /** 0x00–0xff one-byte opcodes, 0x100 | b for 0f b. */
  opcode: number;
  /** ModRM byte, or -1 when the instruction has none. */
  modrm: number;
  /** Effective operand and address sizes (prefixes applied to the code segment's default). */
  operandSize: 16 | 32;
  addressSize: 16 | 32;
  /** Last F2/F3 prefix byte, or 0. */
  rep: number;
  /** A 0x66 prefix is present. */
  opsizePrefix: boolean;
}

const MEM_ONLY = new Set<OperandPattern>(['m', 'm8', 'm16', 'm32', 'm64', 'm80', 'm128', 'm16:32']);
const REG_ONLY_RM = new Set<OperandPattern>(['r8', 'r16', 'r32', 'mm', 'xmm']);

function rank(c: FormMatch): number {
  if (c.tail !== undefined) return 0;
  if (c.form.mandatoryPrefix) return 1;
  if (c.form.operands.length === 0) return 2;
  if (c.form.decodeOnly) return 4;
  return 3;
}

/**
 * The matches of `info`'s forms under `key` (all keys when undefined), in form order: a `+r` form
 * gives one per register, a form whose opcode goes on past the key byte a tail to match.
 */
function addMatches(info: InstructionInfo, key: number | undefined, add: (key: number, m: FormMatch) => void): void {
  for (const form of info.forms) {
    const op = form.opcode, n = op[0] === 0x0f && op.length > 1 ? 2 : 1;
    const hasTail = op.length > n && form.modrm === undefined;
    forEachOpcodeKey(op, form.plusReg === true, form.plusCc ? form.cc ?? 0 : 0, (k, reg, lastByte) => {
      if (key !== undefined && k !== key) return;
      const m: FormMatch = { info, form };
      if (reg !== undefined) m.reg = reg;
      if (hasTail) { const t = op.slice(n); t[t.length - 1] = lastByte; m.tail = t; }
      add(k, m);
    });
  }
}

/** In order of preference: stable, so table order within a rank (NASM's order of preference). */
function byPreference(list: FormMatch[]): FormMatch[] {
  return list.sort((a, b) => rank(a) - rank(b));
}

/**
 * Each opcode's list, built when first asked for from the rows with a form there (table.ts
 * rowsWithOpcode: only those rows are compiled). Built again for the late x87/SIMD rows: they are
 * defined on the first look-up of an opcode of theirs (isLateOpcode), and the table generation counts it.
 */
const LISTS: Array<FormMatch[] | undefined> = new Array(0x200);
let listsGeneration = -1;

/** Every form indexed under an opcode (0x100 | b for 0f b), best first. */
export function formsForOpcode(opcode: number): readonly FormMatch[] {
  if (isLateOpcode(opcode)) defineLateRows();
  if (listsGeneration !== tableGeneration) { LISTS.fill(undefined); listsGeneration = tableGeneration; }
  let list = LISTS[opcode];
  if (list === undefined) {
    list = [];
    const into = list;
    for (const info of rowsWithOpcode(opcode)) addMatches(info, opcode, (_k, m) => into.push(m));
    LISTS[opcode] = byPreference(list);
  }
  return list;
}

/**
 * The whole index over the rows defined so far, built at once (what `formsForOpcode` builds per
 * opcode; test/isa/lateRows.test.ts checks that the two agree on every opcode).
 */
export function wholeFormIndex(): Map<number, FormMatch[]> {
  const idx = new Map<number, FormMatch[]>();
  for (const info of definedInstructions()) addMatches(info, undefined, (k, m) => { let l = idx.get(k); if (!l) idx.set(k, l = []); l.push(m); });
  for (const l of idx.values()) byPreference(l);
  return idx;
}

/**
 * The first form (in the table's order of preference) the decoded instruction is an instance of, or
 * undefined when the table has none. `at(k)` reads the k-th byte after the opcode.
 */
export function findForm(d: DecodedShape, at: (k: number) => number): FormMatch | undefined {
  return findAmong(formsForOpcode(d.opcode), d, at);
}

/** `findForm` among the given candidates (a subset of an opcode's forms, best first). */
export function findAmong(cands: readonly FormMatch[], d: DecodedShape, at: (k: number) => number): FormMatch | undefined {
  // With a 0x66 prefix, a form that names the operand size wins over a size-neutral one (66 90 is
  // `xchg ax,ax`, not `nop`); a neutral form is taken only when no sized one fits (66 c3: ret).
  return match(cands, d, at, d.opsizePrefix) ?? (d.opsizePrefix ? match(cands, d, at, false) : undefined);
}

function match(cands: readonly FormMatch[], d: DecodedShape, at: (k: number) => number, sizedOnly: boolean): FormMatch | undefined {
  const modrm = d.modrm, mod = modrm >> 6, regf = (modrm >> 3) & 7;
  for (const c of cands) {
    const f = c.form;
    if (sizedOnly && f.opsize === undefined && !f.exactPrefixes) continue;
    if (f.exactPrefixes) {
      // the last F2/F3 selects the variant and a 66 beside it is ignored; 66 alone selects the 66 variant
      const mp = f.mandatoryPrefix?.[0] ?? 0;
      if (mp === 0x66 ? !d.opsizePrefix || d.rep !== 0 : mp === 0 ? d.opsizePrefix || d.rep !== 0 : d.rep !== mp) continue;
    } else if (f.mandatoryPrefix && d.rep !== f.mandatoryPrefix[0]) continue;
    if (f.opsize !== undefined && f.opsize !== d.operandSize) continue;
    if (f.addrsize !== undefined && f.addrsize !== d.addressSize) continue;
    if (c.tail !== undefined) {
      let ok = true;
      for (let k = 0; k < c.tail.length; k++) if (at(k) !== c.tail[k]) { ok = false; break; }
      if (!ok) continue;
    }
    if (f.modrm !== undefined) {
      if (modrm < 0) continue;
      if (typeof f.modrm === 'number' && regf !== f.modrm) continue;
      const rmPat = f.operands[f.rmOperand ?? -1];
      const regPat = f.operands[f.regOperand ?? -1];
      if (rmPat && MEM_ONLY.has(rmPat) && mod === 3) continue;
      if (rmPat && REG_ONLY_RM.has(rmPat) && f.rmOperand !== f.regOperand && mod !== 3 && !f.anyMod) continue;
      if (!f.anyMod && mod !== 3 && (regPat === 'cr' || regPat === 'dr')) continue;
      if (regPat === 'sreg-no-cs' && (regf === 1 || regf > 5)) continue;
      if (regPat === 'sreg' && regf > 5) continue;
      if (regPat === 'cr' && regf !== 0 && regf !== 2 && regf !== 3 && regf !== 4) continue;
      if (f.regOperand !== undefined && f.regOperand === f.rmOperand && (mod !== 3 || regf !== (modrm & 7))) continue;
    }
    return c;
  }
  return undefined;
}
