/*
 * Disassembler (NASM syntax): one decoder, two readers. The CPU's decoder (core/cpu/decoder.ts)
 * decides what the bytes are — valid or not, how long, which instruction-table row and encoding
 * form — and this module only formats that form's operands. So the debugger's disassembly view shows
 * exactly what the CPU executes. The text assembles back to the same bytes for everything NASM
 * itself emits (short jumps say `short`, displacements and immediates NASM would shrink say
 * `byte`/`dword`/`strict`), which the tests check on every form and example; encodings NASM never
 * emits (a redundant SIB, 66 on a size-neutral instruction) are printed as the CPU reads them.
 */
import type { DisasmLine } from './ast';
import type { EncodingForm, InstructionInfo, OperandPattern } from '../isa/types';
import { decodeBytes } from '../cpu/decoder';
import type { Insn } from '../cpu/insn';
import { GPR16, GPR32, GPR8, SREGS } from './registers';
import { assemble } from './assembler';

const SIZE_NAME: Record<number, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword', 80: 'tword', 128: 'oword' };
const PAT_SIZE: Partial<Record<OperandPattern, number>> = {
  rm8: 8, rm16: 16, rm32: 32, m8: 8, m16: 16, m32: 32, m64: 64, m80: 80, r8: 8, r16: 16, r32: 32, al: 8, ax: 16, eax: 32, moffs8: 8, moffs16: 16, moffs32: 32,
};
const SIMD_RM: Partial<Record<OperandPattern, string>> = { 'mm/m32': 'mm', 'mm/m64': 'mm', 'xmm/m32': 'xmm', 'xmm/m64': 'xmm', 'xmm/m128': 'xmm' };
const SEG_PREFIXES: Record<number, string> = { 0x26: 'es', 0x2e: 'cs', 0x36: 'ss', 0x3e: 'ds', 0x64: 'fs', 0x65: 'gs' };
/** 16-bit addressing: r/m → registers. */
const EA16 = ['bx+si', 'bx+di', 'bp+si', 'bp+di', 'si', 'di', 'bp', 'bx'];

function hex(n: number): string { return '0x' + (n >>> 0).toString(16); }
function sx8(b: number): number { return b & 0x80 ? b - 0x100 : b; }
function le(bytes: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let k = n - 1; k >= 0; k--) v = (v * 256) + bytes[at + k];
  return v >>> 0;
}

/** Decodes one instruction at `offset` of `bytes`, located at `address`, in a code segment of `bits`. */
export function disassembleOne(bytes: Uint8Array, offset: number, address: number, bits: 16 | 32 = 32): DisasmLine {
  const insn = decodeBytes(bytes, offset, address, bits);
  if (insn?.info && insn.form) {
    const text = format(insn, insn.info, insn.form, bytes, offset, address, bits);
    if (text !== undefined) return { address, bytes: bytes.slice(offset, offset + insn.len), text, mnemonic: insn.info.mnemonic };
  }
  return { address, bytes: bytes.slice(offset, offset + 1), text: `db ${hex(bytes[offset] ?? 0)}`, mnemonic: 'db' };
}

interface Prefixes { lock: boolean; rep: number; seg: string; o16: boolean; a16: boolean }

function prefixesOf(bytes: Uint8Array, offset: number, n: number): Prefixes {
  const pf: Prefixes = { lock: false, rep: 0, seg: '', o16: false, a16: false };
  for (let k = offset; k < offset + n; k++) {
    const b = bytes[k];
    if (b === 0xf0) pf.lock = true;
    else if (b === 0xf2 || b === 0xf3) pf.rep = b;
    else if (b === 0x66) pf.o16 = true;
    else if (b === 0x67) pf.a16 = true;
    else pf.seg = SEG_PREFIXES[b];
  }
  return pf;
}

/** Bytes of the form's immediates at this operand / address size. */
function immBytes(form: EncodingForm, o16: boolean, a16: boolean): number {
  let n = 0;
  for (const k of form.imm) n += k === 'ib' || k === 'rel8' ? 1 : k === 'iw' ? 2 : k === 'id' ? 4 : k === 'rel32' ? (o16 ? 2 : 4) : k === 'ptr16:32' ? (o16 ? 4 : 6) : a16 ? 2 : 4;
  return n;
}

/** The memory operand's text (without size), and where the bytes after it start; NASM's spelling. */
function memoryText(bytes: Uint8Array, at: number, a16: boolean, seg: string): { text: string; end: number } {
  const modrm = bytes[at++];
  const mod = modrm >> 6, rm = modrm & 7;
  let t: string;
  if (a16) {
    let disp = 0, dispBytes = 0;
    if (mod === 0 && rm === 6) dispBytes = 2; else if (mod === 1) dispBytes = 1; else if (mod === 2) dispBytes = 2;
    if (dispBytes === 1) disp = sx8(bytes[at]); else if (dispBytes === 2) disp = le(bytes, at, 2);
    at += dispBytes;
    if (mod === 0 && rm === 6) t = hex(disp);
    else {
      t = EA16[rm];
      const d16 = disp & 0x8000 ? disp - 0x10000 : disp;
      // NASM shrinks a displacement that fits a byte and drops a zero one (not [bp]): say the size it has
      const nasm = dispBytes === 0 ? 0 : d16 === 0 && rm !== 6 ? 0 : d16 >= -128 && d16 <= 127 ? 1 : 2;
      if (dispBytes) t += d16 < 0 ? '-' + hex(-d16) : '+' + hex(d16);
      if (nasm !== dispBytes) t = `${dispBytes === 1 ? 'byte' : 'word'} ${t}`;
    }
  } else {
    let base = -1, index = -1, scale = 1, dispBytes = 0, sib = false;
    if (rm === 4) {
      sib = true;
      const s = bytes[at++];
      scale = 1 << (s >> 6); index = (s >> 3) & 7; base = s & 7;
      if (index === 4) index = -1;
      if (base === 5 && mod === 0) { base = -1; dispBytes = 4; }
    } else if (rm === 5 && mod === 0) dispBytes = 4;
    else base = rm;
    if (mod === 1) dispBytes = 1; else if (mod === 2) dispBytes = 4;
    const disp = dispBytes === 1 ? sx8(bytes[at]) : dispBytes === 4 ? le(bytes, at, 4) | 0 : 0;
    at += dispBytes;
    const parts: string[] = [];
    if (base >= 0) parts.push(GPR32[base]);
    if (index >= 0) parts.push(scale === 1 && base >= 0 ? GPR32[index] : `${GPR32[index]}*${scale}`);
    t = parts.join('+');
    if (dispBytes) {
      if (!parts.length) t = hex(disp);
      else if (disp < 0) t += '-' + hex(-disp);
      else t += '+' + hex(disp);
    }
    if (base >= 0) {
      const nasm = disp === 0 && base !== 5 ? 0 : disp >= -128 && disp <= 127 ? 1 : 4;
      if (nasm !== dispBytes) t = `${dispBytes === 1 ? 'byte' : 'dword'} ${t}`;
    }
    // [x*2] without a base is written [x+x] by NASM unless told `nosplit`
    if (sib && base < 0 && index >= 0 && scale === 2) t = 'nosplit ' + t;
  }
  if (seg) t = `${seg}:${t}`;
  return { text: `[${t}]`, end: at };
}

function format(insn: Insn, info: InstructionInfo, f: EncodingForm, bytes: Uint8Array, offset: number, address: number, bits: 16 | 32): string | undefined {
  const pf = prefixesOf(bytes, offset, insn.prefixLen);
  const o16 = insn.operandSize === 16, a16 = insn.addr16;
  const opStart = offset + insn.prefixLen;
  let q = opStart + f.opcode.length;
  const modrm = f.modrm !== undefined ? bytes[q] : -1;
  const mod = modrm >> 6;
  const rmIsReg = modrm >= 0 && (mod === 3 || f.anyMod === true);
  let memText = '';
  let usedSeg = false;
  if (modrm >= 0) {
    if (rmIsReg) q++;
    else {
      const m = memoryText(bytes, q, a16, pf.seg);
      memText = m.text; q = m.end;
      if (pf.seg) usedSeg = true;
    }
  }
  const n = immBytes(f, o16, a16);
  if (q + n !== offset + insn.len) return undefined; // the form and the CPU disagree on the length: a table bug
  const imms: number[] = [];
  let moffs = -1;
  for (const k of f.imm) {
    const size = k === 'ib' || k === 'rel8' ? 1 : k === 'iw' ? 2 : k === 'id' ? 4 : k === 'rel32' ? (o16 ? 2 : 4) : k === 'ptr16:32' ? (o16 ? 4 : 6) : a16 ? 2 : 4;
    if (k === 'ptr16:32') { const w = size - 2; imms.push(le(bytes, q, w), le(bytes, q + w, 2)); }
    else if (k === 'moffs') moffs = le(bytes, q, size);
    else imms.push(le(bytes, q, size));
    q += size;
  }
  const end = address + insn.len;
  const regf = modrm >= 0 ? (modrm >> 3) & 7 : 0;
  const rmf = modrm >= 0 ? modrm & 7 : 0;
  const plusReg = f.plusReg ? bytes[opStart + f.opcode.length - 1] & 7 : 0;
  const gpr = (size: number | undefined, r: number) => (size === 8 ? GPR8 : size === 16 ? GPR16 : GPR32)[r];
  const registerSizes = new Set<number>();
  f.operands.forEach((p, k) => {
    if (p === 'r8' || p === 'r16' || p === 'r32' || p === 'al' || p === 'ax' || p === 'eax') registerSizes.add(PAT_SIZE[p]!);
    else if (k === f.rmOperand && rmIsReg && PAT_SIZE[p]) registerSizes.add(PAT_SIZE[p]!);
  });
  const texts: string[] = [];
  let immI = 0;
  for (let k = 0; k < f.operands.length; k++) {
    const p = f.operands[k];
    if (f.plusReg && k === f.plusRegOperand) { texts.push(p === 'sti' ? `st${plusReg}` : gpr(PAT_SIZE[p], plusReg)); continue; }
    if (k === f.rmOperand && modrm >= 0) {
      if (rmIsReg) {
        const simd = SIMD_RM[p];
        texts.push(simd ? `${simd}${rmf}` : p === 'mm' || p === 'xmm' ? `${p}${rmf}` : gpr(p === 'r16/32/m16' ? 32 : PAT_SIZE[p] ?? 32, rmf));
      } else if (p === 'm16:32') texts.push(`far ${memText}`);
      else {
        const size = PAT_SIZE[p];
        const needSize = size !== undefined && !registerSizes.has(size) && !(f.defaultMemSize === size && !f.operands.some((x, j) => j !== k && (x.startsWith('imm') || x === 'simm8')));
        texts.push(needSize ? `${SIZE_NAME[size]} ${memText}` : memText);
      }
      continue;
    }
    if (k === f.regOperand && modrm >= 0) {
      if (p === 'sreg' || p === 'sreg-no-cs') texts.push(SREGS[regf]);
      else if (p === 'cr') texts.push(`cr${regf}`);
      else if (p === 'dr') texts.push(`dr${regf}`);
      else if (p === 'mm' || p === 'xmm') texts.push(`${p}${regf}`);
      else texts.push(gpr(PAT_SIZE[p], regf));
      continue;
    }
    switch (p) {
      case 'al': case 'ax': case 'eax': case 'cl': case 'dx': case 'cs': case 'ds': case 'es': case 'fs': case 'gs': case 'ss': case 'st0': texts.push(p); break;
      case 'one': texts.push('1'); break;
      case 'moffs8': case 'moffs16': case 'moffs32':
        if (pf.seg) usedSeg = true;
        texts.push(`[${pf.seg ? pf.seg + ':' : ''}${hex(moffs)}]`);
        break;
      case 'imm8': case 'imm8u': texts.push(hex(imms[immI++])); break;
      case 'simm8': {
        const v = sx8(imms[immI++]);
        texts.push(hex((f.opsize ?? bits) === 16 ? v & 0xffff : v >>> 0));
        break;
      }
      case 'imm16': case 'imm32': {
        const v = imms[immI++];
        const size = p === 'imm16' ? 16 : 32;
        const sv = size === 16 ? (v & 0x8000 ? v - 0x10000 : v) : v | 0;
        // NASM would pick a sign-extended imm8 form if one exists and the value fits: keep this one
        const hasShort = info.forms.some((g) => !g.decodeOnly && g.operands.includes('simm8') && g.operands.length === f.operands.length);
        const pushLike = f.operands.length === 1;
        texts.push((hasShort && sv >= -128 && sv <= 127 ? `strict ${SIZE_NAME[size]} ` : pushLike && f.opsize === 16 ? 'word ' : '') + hex(v));
        break;
      }
      case 'rel8': case 'rel32': {
        const raw = imms[immI++];
        const rel = p === 'rel8' ? sx8(raw) : o16 ? (raw & 0x8000 ? raw - 0x10000 : raw) : raw | 0;
        let target = (end + rel) >>> 0;
        if (o16) target &= 0xffff; // a 16-bit operand size truncates EIP
        const short = p === 'rel8' && info.forms.some((g) => g.imm[0] === 'rel32');
        texts.push((short ? 'short ' : '') + hex(target));
        break;
      }
      case 'far16:32': { const off = imms[immI++]; const sel = imms[immI++]; texts.push(`${hex(sel)}:${hex(off)}`); break; }
      default: return undefined;
    }
  }
  const pre: string[] = [];
  if (pf.lock) pre.push('lock');
  if (pf.rep && !f.mandatoryPrefix && !f.exactPrefixes) pre.push(pf.rep === 0xf3 ? (/^(cmps|scas)/.test(info.mnemonic) ? 'repe' : 'rep') : 'repne');
  if (pf.seg && !usedSeg) pre.push(pf.seg);
  // operand / address size the form does not state itself (66 c3 is `o16 ret`, 67 ac `a16 lodsb`)
  if (pf.o16 && f.opsize === undefined && !f.exactPrefixes) pre.push(bits === 32 ? 'o16' : 'o32');
  if (pf.a16 && !memText && f.addrsize === undefined) pre.push(bits === 32 ? 'a16' : 'a32');
  if (f.operands.length === 1 && f.operands[0] === 'simm8' && f.opsize === 16) texts[0] = 'word ' + texts[0];
  return [...pre, info.mnemonic].join(' ') + (texts.length ? ' ' + texts.join(',') : '');
}

export interface DisassembleOptions {
  /**
   * Guarantee that the text assembles back to the same bytes: each decoded instruction is
   * re-encoded, and bytes NASM would encode differently (e.g. `8b c3`, which NASM writes as
   * `89 d8`) are printed as `db`. For `popek disasm`; the debugger's view leaves it off.
   */
  roundTrip?: boolean;
}

function reencodes(l: DisasmLine): boolean {
  const r = assemble('disasm', `bits 32\norg ${l.address}\n${l.text}\n`);
  if (r.diagnostics.some((d) => d.severity === 'error') || r.bytes.length !== l.bytes.length) return false;
  for (let i = 0; i < r.bytes.length; i++) if (r.bytes[i] !== l.bytes[i]) return false;
  return true;
}

/** Disassembles a flat image loaded at `org` (NASM syntax). */
export function disassemble(bytes: Uint8Array, org = 0, options: DisassembleOptions = {}): DisasmLine[] {
  const out: DisasmLine[] = [];
  for (let off = 0; off < bytes.length;) {
    let l = disassembleOne(bytes, off, (org + off) >>> 0);
    if (options.roundTrip && l.mnemonic !== 'db' && !reencodes(l)) {
      l = { address: l.address, bytes: bytes.slice(off, off + 1), text: `db ${hex(bytes[off])}`, mnemonic: 'db' };
    }
    out.push(l);
    off += l.bytes.length;
  }
  return out;
}
