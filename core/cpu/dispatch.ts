/*
 * The CPU's dispatch tables, built from the instruction table (core/isa/table.ts) at load time: for
 * every one-byte opcode and every 0F xx opcode, the encoding forms the table defines there (group
 * /digit variants, +r and +cc forms, mandatory-prefix variants, fixed trailing bytes), whether a
 * ModRM byte follows, and each form's semantics (core/cpu/semantics.ts). The decoder reads the
 * prefixes and the opcode, picks the form with `findAmong`, decodes the operands the form lists and
 * takes the form's handler: no opcode switch restates what the table says.
 */
import { formsForOpcode, type FormMatch } from '../isa/formIndex';
import type { EncodingForm, OperandPattern } from '../isa/types';
import { semanticsOf, type Bind } from './semantics';

/** What decoding a form needs beyond the form itself, computed once. */
export interface FormDecoding {
  /** The semantics. */
  readonly bind: Bind;
  /** A byte operation (`Insn.size` 1): some operand is an 8-bit register or memory. */
  readonly byteOp: boolean;
  /** The immediate operands' patterns, in encoding order (simm8 is sign-extended). */
  readonly immOps: readonly OperandPattern[];
}

const BYTE_OPERANDS = new Set<OperandPattern>(['r8', 'rm8', 'm8', 'al', 'moffs8']);
const IMM_OPERANDS = new Set<OperandPattern>(['imm8', 'imm16', 'imm32', 'simm8', 'imm8u']);

export interface DispatchEntry {
  /** The forms at this opcode, best first (the table's order of preference). */
  readonly forms: readonly FormMatch[];
  /** A ModRM byte follows the opcode (some form has one; x87 register forms are its values). */
  readonly readsModrm: boolean;
  /** MOV CRn/DRn: ModRM.mod is ignored, r/m is a register (no SIB, no displacement). */
  readonly rawModrm: boolean;
  /** Each form's semantics and decoding facts. */
  readonly decoding: ReadonlyMap<EncodingForm, FormDecoding>;
}

/** The WAIT opcode: forms that start with it and go on (`finit` = 9B DB E3) are two instructions to the CPU. */
const WAIT = 0x9b;

function entryFor(opcode: number): DispatchEntry | undefined {
  const forms = formsForOpcode(opcode).filter((m) => !(m.form.opcode[0] === WAIT && m.form.opcode.length > 1));
  if (forms.length === 0) return undefined;
  const decoding = new Map<EncodingForm, FormDecoding>();
  for (const m of forms) {
    const bind = semanticsOf(m.form);
    if (!bind) throw new Error(`cpu dispatch: no semantics handler '${m.form.handler}' for '${m.info.mnemonic}' (${m.form.encoding})`);
    const ops = m.form.operands;
    decoding.set(m.form, { bind, byteOp: ops.some((p) => BYTE_OPERANDS.has(p)), immOps: ops.filter((p) => IMM_OPERANDS.has(p)) });
  }
  return {
    forms, decoding,
    readsModrm: forms.some((m) => m.form.modrm !== undefined),
    rawModrm: forms.some((m) => m.form.anyMod === true),
  };
}

/** Entries by opcode, each built on its first decode (null: the table defines nothing there). */
const TABLES: Array<DispatchEntry | null | undefined> = new Array(0x200);

/**
 * The entry of an opcode (one-byte 0x00–0xff, 0F xx as 0x100 | xx; 0F itself is the escape, never
 * an entry), or undefined when the table defines nothing there. Each is built when an instruction
 * first needs it (a short `popek run` decodes a few dozen opcodes of the 500; the semantics also
 * live in modules that import the CPU, which imports the decoder).
 */
export function dispatchEntry(opcode: number): DispatchEntry | undefined {
  let e = TABLES[opcode];
  if (e === undefined) TABLES[opcode] = e = (opcode === 0x0f ? undefined : entryFor(opcode)) ?? null;
  return e ?? undefined;
}
