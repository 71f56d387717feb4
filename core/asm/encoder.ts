/*
 * Instruction encoder driven by the ISA table: picks the first form the operands match (NASM's
 * matcher, with its -Ox choices: sign-extended imm8, short jumps, moffs, [x*2] → [x+x]) and emits
 * the bytes. Operands arrive resolved (numbers, registers, decomposed memory) from the assembler.
 */
import type { EncodingForm, InstructionInfo, OperandPattern } from '../isa/types';
import { instructionInfo, PREFIXES } from '../isa/table';
import { register, SEG_PREFIX, type RegInfo } from './registers';

/** A value computed by the assembler's evaluator. */
export interface Value {
  n: number;
  /** Section index the value is relative to (a label), or -1 for a plain number. */
  seg: number;
  known: boolean;
}

export type ROp =
  | { t: 'reg'; reg: RegInfo }
  | { t: 'imm'; v: Value; size?: number; strict?: boolean; jump?: 'short' | 'near' | 'far' }
  | { t: 'mem'; size?: number; seg?: string; base: number; index: number; scale: number; disp: Value; hasDisp: boolean; dispSize?: number; nosplit?: boolean; far?: boolean; regs16?: boolean; regs32?: boolean }
  | { t: 'far'; sel: Value; off: Value };

export interface EncodeContext {
  bits: 16 | 32;
  /** Absolute address of the instruction's first byte. */
  address: number;
  /** Current section index (for the short-jump decision). */
  section: number;
  /** The jump stays near (set by the assembler after it grew, to guarantee convergence). */
  forceNear?: boolean;
  /** Only the length is needed (sizing passes): forms without ModRM skip building the bytes. */
  sizeOnly?: boolean;
}

export interface Encoded {
  /** Number of bytes; the bytes are `encodedBytes()[0..length)` (not written when `ctx.sizeOnly` skipped them). */
  length: number;
  form: EncodingForm;
  info: InstructionInfo;
  warnings?: string[];
}

/** The bytes of the last instruction encoded (see `encodedBytes`); grown for a line of a thousand prefixes. */
let outBuf = new Uint8Array(64);
let outLen = 0;
/**
 * The bytes of the last instruction encoded, `[0, Encoded.length)`, valid until the next
 * `encodeInstruction` (the caller copies them at once): a 100,000-line file costs no array per instruction.
 */
export function encodedBytes(): Uint8Array { return outBuf; }
function out8(b: number): void {
  if (outLen === outBuf.length) { const g = new Uint8Array(outLen * 2); g.set(outBuf); outBuf = g; }
  outBuf[outLen++] = b;
}
function out16(v: number): void { out8(v); out8(v >>> 8); }
function out32(v: number): void { out8(v); out8(v >>> 8); out8(v >>> 16); out8(v >>> 24); }
export interface EncodeError { error: string; code: string; operand?: number }

const SIZE_OF_PATTERN: Partial<Record<OperandPattern, number>> = {
  r8: 8, r16: 16, r32: 32, rm8: 8, rm16: 16, rm32: 32, m8: 8, m16: 16, m32: 32, m64: 64, m80: 80, m128: 128,
  al: 8, ax: 16, eax: 32, moffs8: 8, moffs16: 16, moffs32: 32,
};
/** MMX/SSE register-or-memory patterns: the register kind and the memory size (unsized memory is fine). */
const SIMD_RM: Partial<Record<OperandPattern, [string, number]>> = {
  'mm/m32': ['mmx', 32], 'mm/m64': ['mmx', 64], 'xmm/m32': ['xmm', 32], 'xmm/m64': ['xmm', 64], 'xmm/m128': ['xmm', 128],
};
const INFER_PATTERNS = new Set<OperandPattern>(['r8', 'r16', 'r32', 'rm8', 'rm16', 'rm32', 'al', 'ax', 'eax', 'moffs8', 'moffs16', 'moffs32', 'm8', 'm16', 'm32', 'imm16', 'imm32']);

function opSize(op: ROp): number | undefined {
  if (op.t === 'reg') return op.reg.kind === 'gpr' ? op.reg.size : undefined;
  if (op.t === 'mem') return op.size;
  if (op.t === 'imm') return op.size;
  return undefined;
}

function fitsS8(n: number, size: number): boolean {
  let v = n;
  if (size === 16) { v = n & 0xffff; if (v & 0x8000) v -= 0x10000; }
  else if (size === 32) v = n | 0;
  return v >= -128 && v <= 127;
}

function memSizeOk(form: EncodingForm, ops: ROp[], idx: number, want: number): boolean {
  if (form.defaultMemSize === want) return true;
  for (let i = 0; i < ops.length; i++) {
    if (i === idx) continue;
    const p = form.operands[i];
    // `add [bx], dword 5`: a sized immediate sizes the operation, even in the sign-extended imm8 form
    if (p === 'simm8' && ops[i].t === 'imm' && opSize(ops[i]) !== undefined && opSize(ops[i]) !== 8) return opSize(ops[i]) === want;
    if (!INFER_PATTERNS.has(p)) continue;
    const s = opSize(ops[i]);
    if (s !== undefined) return s === want;
  }
  return false;
}

function matchOperand(p: OperandPattern, op: ROp, form: EncodingForm, ops: ROp[], idx: number, bits: number): boolean {
  switch (p) {
    case 'r8': case 'r16': case 'r32':
      return op.t === 'reg' && op.reg.kind === 'gpr' && op.reg.size === SIZE_OF_PATTERN[p];
    case 'al': case 'ax': case 'eax': case 'cl': case 'dx':
      return op.t === 'reg' && op.reg.name === p;
    case 'rm8': case 'rm16': case 'rm32': {
      const s = SIZE_OF_PATTERN[p]!;
      if (op.t === 'reg') return op.reg.kind === 'gpr' && op.reg.size === s;
      if (op.t !== 'mem' || op.far) return false;
      return op.size === s || (op.size === undefined && memSizeOk(form, ops, idx, s));
    }
    case 'm': return op.t === 'mem' && !op.far;
    case 'm8': case 'm16': case 'm32': case 'm64': case 'm80': case 'm128': {
      if (op.t !== 'mem' || op.far) return false;
      const s = SIZE_OF_PATTERN[p]!;
      // unsized: cmpxchg8b's m64 and SSE's m128 have one size; x87 forms only when the mnemonic has one memory form (defaultMemSize)
      return op.size === s || (op.size === undefined && (((p === 'm64' || p === 'm128') && form.opcode[0] === 0x0f) || memSizeOk(form, ops, idx, s)));
    }
    case 'st0': return op.t === 'reg' && op.reg.kind === 'fpu' && op.reg.num === 0;
    case 'sti': return op.t === 'reg' && op.reg.kind === 'fpu';
    case 'mm': return op.t === 'reg' && op.reg.kind === 'mmx';
    case 'xmm': return op.t === 'reg' && op.reg.kind === 'xmm';
    case 'mm/m32': case 'mm/m64': case 'xmm/m32': case 'xmm/m64': case 'xmm/m128': {
      const [kind, size] = SIMD_RM[p]!;
      if (op.t === 'reg') return op.reg.kind === kind;
      return op.t === 'mem' && !op.far && (op.size === undefined || op.size === size);
    }
    case 'm16:32': return op.t === 'mem' && !!op.far;
    case 'r16/32/m16':
      if (op.t === 'reg') return op.reg.kind === 'gpr' && op.reg.size !== 8;
      return op.t === 'mem' && !op.far && (op.size === undefined || op.size === 16 || op.size === 32);
    case 'sreg': return op.t === 'reg' && op.reg.kind === 'sreg';
    case 'sreg-no-cs': return op.t === 'reg' && op.reg.kind === 'sreg' && op.reg.name !== 'cs';
    case 'cs': case 'ds': case 'es': case 'fs': case 'gs': case 'ss':
      return op.t === 'reg' && op.reg.name === p;
    case 'cr': return op.t === 'reg' && op.reg.kind === 'cr';
    case 'dr': return op.t === 'reg' && op.reg.kind === 'dr';
    case 'moffs8': case 'moffs16': case 'moffs32': {
      if (op.t !== 'mem' || op.far || op.base >= 0 || op.index >= 0) return false;
      const s = SIZE_OF_PATTERN[p]!;
      return op.size === s || (op.size === undefined && memSizeOk(form, ops, idx, s));
    }
    case 'imm8': case 'imm8u':
      return op.t === 'imm' && !op.jump && (op.size === undefined || op.size === 8);
    case 'imm16': case 'imm32': {
      if (op.t !== 'imm' || op.jump) return false;
      const want = p === 'imm16' ? 16 : 32;
      if (op.size !== undefined) return op.size === want;
      return form.opsize === undefined || form.opsize === bits || memSizeOk(form, ops, idx, want);
    }
    case 'simm8': {
      if (op.t !== 'imm' || op.jump) return false;
      const fsz = form.opsize ?? bits;
      if (op.size !== undefined && op.size !== 8 && op.size !== fsz) return false;
      if (op.size === 8) return true;
      if (op.strict) return false;
      if (op.size === undefined && form.opsize !== undefined && form.opsize !== bits && !memSizeOk(form, ops, idx, form.opsize)) return false;
      return op.v.known && op.v.seg < 0 && fitsS8(op.v.n, fsz);
    }
    case 'one':
      return op.t === 'imm' && !op.jump && (op.size === undefined || op.size === 8) && op.v.known && op.v.seg < 0 && op.v.n === 1 && !op.strict;
    case 'rel8':
      return op.t === 'imm' && op.jump !== 'near' && op.jump !== 'far' && (op.size === undefined);
    case 'rel32':
      return op.t === 'imm' && op.jump !== 'short' && op.jump !== 'far';
    case 'far16:32': return op.t === 'far';
  }
  return false;
}

/** Length of the form's immediates/displacement-free tail, for rel computations. */
/** Address size of a memory operand: from its registers, else the mode's. */
function addrSize(m: Extract<ROp, { t: 'mem' }>, bits: number): 16 | 32 {
  return m.regs16 ? 16 : m.regs32 ? 32 : (bits as 16 | 32);
}

/** Bytes of the form's immediates: rel32/ptr/moffs shrink to 16 bits with a 16-bit operand/address size. */
function immLength(form: EncodingForm, bits: number, addr16 = false): number {
  const o16 = (form.opsize ?? bits) === 16;
  let n = 0;
  for (const i of form.imm) {
    if (i === 'ib' || i === 'rel8') n += 1;
    else if (i === 'iw') n += 2;
    else if (i === 'id') n += 4;
    else if (i === 'rel32') n += o16 ? 2 : 4;
    else if (i === 'ptr16:32') n += o16 ? 4 : 6;
    else n += addr16 ? 2 : 4; // moffs
  }
  return n;
}

/** ModRM + displacement for 16-bit addressing ([bx+si], [bp+di+8], [si], [0x10] …), NASM's choices. */
function encodeEA16(m: Extract<ROp, { t: 'mem' }>, regField: number): string | undefined {
  const regs = [m.base, m.index].filter((r) => r >= 0);
  if (m.index >= 0 && m.scale !== 1) return 'scaled index registers need 32-bit addressing';
  const has = (r: number) => regs.includes(r);
  let rm: number;
  if (regs.length === 0) rm = -1;
  else if (regs.length === 1) rm = has(6) ? 4 : has(7) ? 5 : has(5) ? 6 : has(3) ? 7 : -2;
  else rm = has(3) && has(6) ? 0 : has(3) && has(7) ? 1 : has(5) && has(6) ? 2 : has(5) && has(7) ? 3 : -2;
  if (rm === -2) return 'invalid 16-bit effective address (use bx or bp, plus si or di)';
  const d = m.disp;
  const v = d.n | 0;
  if (rm === -1) { out8((regField << 3) | 6); out16(v); return undefined; }
  let small = d.known && d.seg < 0 && v >= -128 && v <= 127;
  let zero = d.known && d.seg < 0 && v === 0;
  if (m.dispSize === 16 || m.dispSize === 32) { small = false; zero = false; } else if (m.dispSize === 8) { zero = false; small = true; }
  const mod = zero && rm !== 6 ? 0 : small ? 1 : 2;
  out8((mod << 6) | (regField << 3) | rm);
  if (mod === 1) out8(v); else if (mod === 2) out16(v);
  return undefined;
}

/** ModRM + SIB + displacement bytes for a memory operand (32-bit addressing, NASM's choices). */
function encodeEA(m: Extract<ROp, { t: 'mem' }>, regField: number): string | undefined {
  let b = m.base, i = m.index, s = m.scale;
  const disp = m.disp;
  if (i >= 0 && s === 0) i = -1;
  if (b < 0 && i >= 0 && s === 1) { b = i; i = -1; }
  if (!m.nosplit && b < 0 && i >= 0 && ((s === 2 && i !== 4) || s === 3 || s === 5 || s === 9)) { b = i; s--; }
  if (i === 4 && s === 1 && b !== 4) { const t = b; b = 4; i = t; }
  if (i === 4) return 'ESP cannot be an index register';
  if (i >= 0 && s !== 1 && s !== 2 && s !== 4 && s !== 8) return `invalid scale ${s} (use 1, 2, 4 or 8)`;
  const dispVal = disp.n | 0;
  let small = disp.known && disp.seg < 0 && dispVal >= -128 && dispVal <= 127;
  let zero = disp.known && disp.seg < 0 && dispVal === 0;
  if (m.dispSize === 32) { small = false; zero = false; }
  else if (m.dispSize === 8) { zero = false; small = true; }
  if (b < 0 && i < 0) { out8((regField << 3) | 5); out32(dispVal); return undefined; }
  if (i < 0 && b !== 4) {
    let mod: number;
    if (zero && b !== 5) mod = 0; else if (small) mod = 1; else mod = 2;
    out8((mod << 6) | (regField << 3) | b);
    if (mod === 1) out8(dispVal); else if (mod === 2) out32(dispVal);
    return undefined;
  }
  const ss = s === 8 ? 3 : s === 4 ? 2 : s === 2 ? 1 : 0;
  const idx = i < 0 ? 4 : i;
  if (b < 0) {
    out8((regField << 3) | 4); out8((ss << 6) | (idx << 3) | 5);
    out32(dispVal);
    return undefined;
  }
  let mod: number;
  if (zero && b !== 5) mod = 0; else if (small) mod = 1; else mod = 2;
  out8((mod << 6) | (regField << 3) | 4); out8((ss << 6) | (idx << 3) | b);
  if (mod === 1) out8(dispVal); else if (mod === 2) out32(dispVal);
  return undefined;
}


const SEG_PREFIX_NAMES = new Set(['es', 'cs', 'ss', 'ds', 'fs', 'gs']);

/** Memory patterns of one size: an unsized memory operand that fails them is a size problem. */
const UNSIZED_MEMORY = new Set<OperandPattern>(['rm8', 'rm16', 'rm32', 'm8', 'm16', 'm32']);

/** Instructions whose immediate does not size the operation (nasm: no size match between the operands). */
const OWN_SIZE_IMMEDIATE = new Set(['rol', 'ror', 'rcl', 'rcr', 'shl', 'sal', 'shr', 'sar', 'bt', 'bts', 'btr', 'btc']);

/** Spellings whose operand size is the mode's (`pusha` is `pushaw` in 16-bit code, `pushad` in 32-bit). */
const MODE_SIZED_16: Record<string, string> = Object.assign(Object.create(null), { pusha: 'pushaw', popa: 'popaw', pushf: 'pushfw', popf: 'popfw', iret: 'iretw' });

function matchesAll(form: EncodingForm, ops: ROp[], bits: number): boolean {
  for (let k = 0; k < ops.length; k++) if (!matchOperand(form.operands[k], ops[k], form, ops, k, bits)) return false;
  return true;
}

/** An entry's assemblable forms by operand count, in the table's order (rebuilt if the late rows add forms to the entry). */
const FORMS_BY_COUNT = new Map<InstructionInfo, { of: number; byCount: EncodingForm[][] }>();
const NO_FORMS: EncodingForm[] = [];
function formsTaking(info: InstructionInfo, count: number): readonly EncodingForm[] {
  let e = FORMS_BY_COUNT.get(info);
  if (e === undefined || e.of !== info.forms.length) {
    const byCount: EncodingForm[][] = [];
    for (const f of info.forms) if (!f.decodeOnly) (byCount[f.operands.length] ??= []).push(f);
    FORMS_BY_COUNT.set(info, e = { of: info.forms.length, byCount });
  }
  return e.byCount[count] ?? NO_FORMS;
}

/** Encodes one instruction; returns its bytes or an error explaining why no form matched. */
export function encodeInstruction(mnemonic: string, prefixes: readonly string[], ops: ROp[], ctx: EncodeContext): Encoded | EncodeError {
  const info = instructionInfo(ctx.bits === 16 ? MODE_SIZED_16[mnemonic] ?? mnemonic : mnemonic);
  if (!info) {
    if (PREFIXES[mnemonic] !== undefined && ops.length === 0) {
      outLen = 0;
      out8(PREFIXES[mnemonic]);
      return encoded(1, { operands: [], encoding: mnemonic, opcode: [PREFIXES[mnemonic]], imm: [], handler: 'nop' }, instructionInfo('nop')!, undefined);
    }
    return { error: `unknown instruction '${mnemonic}'`, code: 'unknown-instruction' };
  }
  const bits = ctx.bits;
  const forms = formsTaking(info, ops.length);
  for (const form of forms) {
    if (!matchesAll(form, ops, bits)) continue;
    // short jumps: range check (optimistic while the target is unknown)
    if (form.imm[0] === 'rel8') {
      const op = ops[0] as Extract<ROp, { t: 'imm' }>;
      if (op.jump !== 'short') {
        if (ctx.forceNear && info.forms.some((f) => f.imm[0] === 'rel32')) continue;
        if (op.v.known) {
          if (op.v.seg !== ctx.section && info.forms.some((f) => f.imm[0] === 'rel32')) continue;
          const pre = prefixes.length + (form.opsize && form.opsize !== bits ? 1 : 0) + (form.addrsize && form.addrsize !== bits ? 1 : 0);
          const rel = op.v.n - (ctx.address + pre + form.opcode.length + 1);
          if ((rel < -128 || rel > 127) && info.forms.some((f) => f.imm[0] === 'rel32')) continue;
        }
      }
    }
    if (ctx.sizeOnly && form.modrm === undefined) {
      // must count exactly what emit() writes
      let memOp: Extract<ROp, { t: 'mem' }> | undefined;
      for (const o of ops) if (o.t === 'mem') memOp = o;
      const a16 = memOp !== undefined && addrSize(memOp, bits) === 16;
      let n = (form.opsize && form.opsize !== bits ? 1 : 0) + (form.addrsize && form.addrsize !== bits ? 1 : 0) + (form.mandatoryPrefix?.length ?? 0) + form.opcode.length + immLength(form, bits, a16);
      for (const p of prefixes) {
        if (PREFIXES[p] !== undefined || SEG_PREFIX_NAMES.has(p)) n++;
        else if ((p === 'o16' || p === 'a16') && bits === 32) n++;
        else if ((p === 'o32' || p === 'a32') && bits === 16) n++;
      }
      if (memOp) { if (memOp.seg) n++; if (addrSize(memOp, bits) !== bits) n++; }
      return encoded(n, form, info, undefined);
    }
    return emit(info, form, prefixes, ops, ctx);
  }
  // whether an unsized memory operand is what failed, for a clearer message
  const sizeProblem = forms.some((form) => !matchesAll(form, ops, bits) && ops.some((o, k) => o.t === 'mem' && o.size === undefined && UNSIZED_MEMORY.has(form.operands[k])));
  if (sizeProblem) {
    // `mov [bx], byte 5`: nasm sizes the operation by the immediate's keyword when the memory operand
    // has none — except where the immediate is a count of its own size (shifts, bit tests)
    const imm = ops.find((o) => o.t === 'imm' && o.size !== undefined && !o.jump) as Extract<ROp, { t: 'imm' }> | undefined;
    const memAt = ops.findIndex((o) => o.t === 'mem' && o.size === undefined);
    if (imm !== undefined && memAt >= 0 && !OWN_SIZE_IMMEDIATE.has(info.mnemonic)) {
      const sized = ops.slice();
      sized[memAt] = { ...(ops[memAt] as Extract<ROp, { t: 'mem' }>), size: imm.size };
      const again = encodeInstruction(mnemonic, prefixes, sized, ctx);
      if (!('error' in again)) return again;
    }
    return { error: `operation size not specified for '${mnemonic}' (add byte, word or dword)`, code: 'invalid-operands' };
  }
  return { error: `invalid combination of opcode and operands for '${mnemonic}'`, code: 'invalid-operands' };
}

/** The result of the last successful encoding (one object, refilled by every call: see encodedBytes). */
const RESULT: Encoded = { length: 0, form: undefined as unknown as EncodingForm, info: undefined as unknown as InstructionInfo, warnings: undefined };
function encoded(length: number, form: EncodingForm, info: InstructionInfo, warnings: string[] | undefined): Encoded {
  RESULT.length = length; RESULT.form = form; RESULT.info = info; RESULT.warnings = warnings;
  return RESULT;
}

function emit(info: InstructionInfo, form: EncodingForm, prefixes: readonly string[], ops: ROp[], ctx: EncodeContext): Encoded | EncodeError {
  outLen = 0;
  let warnings: string[] | undefined;
  for (let k = 0; k < prefixes.length; k++) { const b = PREFIXES[prefixes[k]]; if (b !== undefined) out8(b); }
  for (let k = 0; k < prefixes.length; k++) {
    const p = prefixes[k];
    if (PREFIXES[p] !== undefined) continue;
    if (SEG_PREFIX_NAMES.has(p)) out8(SEG_PREFIX[p]);
    else if (p === 'o16') { if (ctx.bits === 32) out8(0x66); }
    else if (p === 'o32') { if (ctx.bits === 16) out8(0x66); }
    else if (p === 'a16') { if (ctx.bits === 32) out8(0x67); }
    else if (p === 'a32') { if (ctx.bits === 16) out8(0x67); }
  }
  let mem: Extract<ROp, { t: 'mem' }> | undefined;
  for (let k = 0; k < ops.length; k++) { const o = ops[k]; if (o.t === 'mem') mem = o; }
  if (mem?.seg) out8(SEG_PREFIX[mem.seg]);
  if (form.opsize && form.opsize !== ctx.bits) out8(0x66);
  const a16 = mem !== undefined && addrSize(mem, ctx.bits) === 16;
  if (mem && addrSize(mem, ctx.bits) !== ctx.bits) out8(0x67);
  else if (form.addrsize && form.addrsize !== ctx.bits) out8(0x67); // jcxz / jecxz: the count register's size
  if (form.mandatoryPrefix) for (const b of form.mandatoryPrefix) out8(b);
  const opc = form.opcode;
  for (let k = 0; k < opc.length - 1; k++) out8(opc[k]);
  let last = opc[opc.length - 1];
  if (form.plusReg) last += (ops[form.plusRegOperand!] as Extract<ROp, { t: 'reg' }>).reg.num;
  if (form.plusCc) last += form.cc ?? 0;
  out8(last);
  if (form.modrm !== undefined) {
    const regField = form.modrm === 'r' ? regNum(ops[form.regOperand!]) : form.modrm;
    const rm = ops[form.rmOperand!];
    if (rm.t === 'reg') out8(0xc0 | (regField << 3) | rm.reg.num);
    else if (rm.t === 'mem') {
      const err = a16 ? encodeEA16(rm, regField) : encodeEA(rm, regField);
      if (err) return { error: err, code: 'invalid-operands', operand: form.rmOperand };
    }
  }
  if (form.imm.length === 0) return encoded(outLen, form, info, undefined);
  const o16 = (form.opsize ?? ctx.bits) === 16;
  const immEnd = ctx.address + outLen + immLength(form, ctx.bits, a16);
  // the form's immediates come from the operands that supply one, in operand order
  let next = 0;
  for (const kind of form.imm) {
    let op: ROp | undefined;
    let pattern: OperandPattern | undefined;
    for (; next < ops.length && op === undefined; next++) {
      const o = ops[next];
      const p = form.operands[next];
      if ((o.t === 'imm' && !isImplicitOperand(p)) || o.t === 'far' || (o.t === 'mem' && p.startsWith('moffs'))) { op = o; pattern = p; }
    }
    if (!op) break;
    if (kind === 'moffs' && op.t === 'mem') { if (a16) out16(op.disp.n); else out32(op.disp.n); continue; }
    if (kind === 'ptr16:32' && op.t === 'far') { if (o16) out16(op.off.n); else out32(op.off.n); out16(op.sel.n); continue; }
    if (op.t !== 'imm') continue;
    const v = op.v.n;
    if (kind === 'ib') {
      if (op.v.known && (v < -128 || v > 255) && pattern !== 'simm8') (warnings ??= []).push(`byte value ${v} exceeds bounds`);
      out8(v);
    } else if (kind === 'iw') {
      if (op.v.known && (v < -32768 || v > 65535)) (warnings ??= []).push(`word value ${v} exceeds bounds`);
      out16(v);
    } else if (kind === 'id') out32(v);
    else if (kind === 'rel8' || kind === 'rel32') {
      const rel = v - immEnd;
      if (kind === 'rel8') {
        if (op.v.known && (rel < -128 || rel > 127)) return { error: `short jump target out of range (${rel} bytes)`, code: 'range', operand: 0 };
        out8(rel);
      } else if (o16) out16(rel); else out32(rel);
    }
  }
  return encoded(outLen, form, info, warnings);
}

/** Operand patterns matched by an immediate or register that encode no immediate bytes. */
function isImplicitOperand(p: string): boolean { return p === 'one' || p === 'cl' || p === 'dx'; }

function regNum(op: ROp): number {
  if (op.t === 'reg') return op.reg.num;
  return 0;
}

export { register };
