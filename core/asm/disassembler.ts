/*
 * Disassembler (NASM syntax) built from the same ISA table as the assembler: an index from opcode
 * bytes to encoding forms, then operands decoded by pattern. The text it prints assembles back to
 * the same bytes (short jumps say `short`, displacements and immediates NASM would shrink say
 * `byte`/`dword`/`strict`), which the tests check on every form and example.
 */
import type { DisasmLine } from './ast';
import type { EncodingForm, InstructionInfo, OperandPattern } from '../isa/types';
import { allInstructions } from '../isa/table';
import { GPR16, GPR32, GPR8, SREGS } from './registers';
import { assemble } from './assembler';

interface Candidate { info: InstructionInfo; form: EncodingForm; reg?: number; third?: number }

let INDEX: Map<string, Candidate[]> | undefined;

function key(bytes: number[]): string { return bytes.map((b) => b.toString(16).padStart(2, '0')).join(''); }

function buildIndex(): Map<string, Candidate[]> {
  const idx = new Map<string, Candidate[]>();
  const add = (k: string, c: Candidate) => { let l = idx.get(k); if (!l) idx.set(k, l = []); l.push(c); };
  for (const info of allInstructions()) {
    for (const form of info.forms) {
      const op = form.opcode.slice();
      if (form.plusCc) op[op.length - 1] += form.cc ?? 0;
      if (form.plusReg) {
        for (let r = 0; r < 8; r++) { const o = op.slice(); o[o.length - 1] += r; add(key(o), { info, form, reg: r }); }
      } else if (op.length === 3 && form.modrm === undefined && op[0] === 0x0f) {
        add(key(op.slice(0, 2)), { info, form, third: op[2] });
      } else add(key(op), { info, form });
    }
  }
  // preferences: fixed three-byte forms first, operand-less forms (nop over xchg eax,eax), mandatory prefixes first
  for (const l of idx.values()) {
    l.sort((a, b) => rank(a) - rank(b));
  }
  return idx;
}
function rank(c: Candidate): number {
  if (c.third !== undefined) return 0;
  if (c.form.mandatoryPrefix) return 1;
  if (c.form.operands.length === 0) return 2;
  if (c.form.decodeOnly) return 4;
  return 3;
}

const MEM_ONLY = new Set<OperandPattern>(['m', 'm8', 'm16', 'm32', 'm64', 'm16:32']);
const REG_ONLY_RM = new Set<OperandPattern>(['r8', 'r16', 'r32']);
const SIZE_NAME: Record<number, string> = { 8: 'byte', 16: 'word', 32: 'dword', 64: 'qword' };
const PAT_SIZE: Partial<Record<OperandPattern, number>> = { rm8: 8, rm16: 16, rm32: 32, m8: 8, m16: 16, m32: 32, m64: 64, r8: 8, r16: 16, r32: 32, al: 8, ax: 16, eax: 32, moffs8: 8, moffs16: 16, moffs32: 32 };

function hex(n: number): string { return '0x' + (n >>> 0).toString(16); }
function sx8(b: number): number { return b & 0x80 ? b - 0x100 : b; }

interface Decoded { text: string; mnemonic: string; length: number }

/** Decodes one instruction at `offset` of `bytes`, located at `address`. */
export function disassembleOne(bytes: Uint8Array, offset: number, address: number): DisasmLine {
  const d = decode(bytes, offset, address);
  if (d) return { address, bytes: bytes.slice(offset, offset + d.length), text: d.text, mnemonic: d.mnemonic };
  return { address, bytes: bytes.slice(offset, offset + 1), text: `db ${hex(bytes[offset] ?? 0)}`, mnemonic: 'db' };
}

function decode(bytes: Uint8Array, offset: number, address: number): Decoded | undefined {
  if (!INDEX) INDEX = buildIndex();
  let p = offset;
  const end = bytes.length;
  let lock = false, rep = 0, seg = '', opsize = false;
  const order: string[] = [];
  for (let n = 0; n < 8 && p < end; n++) {
    const b = bytes[p];
    if (b === 0xf0) { if (lock) return undefined; lock = true; order.push('lock'); }
    else if (b === 0xf2 || b === 0xf3) { if (rep) return undefined; rep = b; order.push(b === 0xf3 ? 'rep' : 'repne'); }
    else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0x64 || b === 0x65) {
      if (seg) return undefined;
      seg = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'][[0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65].indexOf(b)];
    } else if (b === 0x66) { if (opsize) return undefined; opsize = true; }
    else break;
    p++;
  }
  if (p >= end) return undefined;
  const opStart = p;
  let cands: Candidate[] | undefined;
  let opLen = 1;
  if (bytes[p] === 0x0f && p + 1 < end) { cands = INDEX.get(key([0x0f, bytes[p + 1]])); opLen = 2; }
  else cands = INDEX.get(key([bytes[p]]));
  if (!cands) return undefined;
  for (const c of cands) {
    const f = c.form;
    if (f.mandatoryPrefix) { if (rep !== f.mandatoryPrefix[0]) continue; }
    if (f.opsize === 16 && !opsize) continue;
    if (f.opsize === 32 && opsize) continue;
    if (f.opsize === undefined && opsize) continue;
    let q = opStart + opLen;
    if (c.third !== undefined) { if (bytes[q] !== c.third) continue; q++; }
    let modrm = -1;
    if (f.modrm !== undefined) {
      if (q >= end) continue;
      modrm = bytes[q];
      const mod = modrm >> 6, regf = (modrm >> 3) & 7;
      if (typeof f.modrm === 'number' && regf !== f.modrm) continue;
      const rmPat = f.operands[f.rmOperand ?? -1];
      if (rmPat && MEM_ONLY.has(rmPat) && mod === 3) continue;
      if (rmPat && (REG_ONLY_RM.has(rmPat) && f.rmOperand !== f.regOperand) && mod !== 3) continue;
      if (rmPat === 'moffs8') continue;
      if (f.operands[f.regOperand ?? -1] === 'sreg-no-cs' && (regf === 1 || regf > 5)) continue;
      if (f.operands[f.regOperand ?? -1] === 'sreg' && regf > 5) continue;
      if (f.operands[f.regOperand ?? -1] === 'cr' && ![0, 2, 3, 4].includes(regf)) continue;
      if (f.operands[f.regOperand ?? -1] === 'dr' && [4, 5].includes(regf)) continue;
      if ((f.operands[f.rmOperand ?? -1] === 'r32' || f.operands[f.rmOperand ?? -1] === 'r16') && f.operands.some((x) => x === 'cr' || x === 'dr') && mod !== 3) continue;
      if (f.regOperand === f.rmOperand && f.regOperand !== undefined && (mod !== 3 || regf !== (modrm & 7))) continue;
    }
    const r = formatForm(c, bytes, opStart, q, modrm, address, offset, { lock, rep, seg, opsize });
    if (r) return r;
  }
  return undefined;
}

interface Prefixes { lock: boolean; rep: number; seg: string; opsize: boolean }

function formatForm(c: Candidate, bytes: Uint8Array, opStart: number, afterOpcode: number, modrm: number, address: number, offset: number, pf: Prefixes): Decoded | undefined {
  const f = c.form;
  const end = bytes.length;
  let q = afterOpcode;
  let memText = '';
  let memDispSize = 0;
  let usedSeg = false;
  let rmIsReg = false;
  if (modrm >= 0) {
    q++;
    const mod = modrm >> 6, rm = modrm & 7;
    if (mod === 3) rmIsReg = true;
    else {
      let base = -1, index = -1, scale = 1, disp = 0, dispBytes = 0;
      if (rm === 4) {
        if (q >= end) return undefined;
        const sib = bytes[q++];
        scale = 1 << (sib >> 6);
        index = (sib >> 3) & 7;
        base = sib & 7;
        if (index === 4) index = -1;
        if (base === 5 && mod === 0) { base = -1; dispBytes = 4; }
        // encodings NASM never produces (redundant SIB, [x*1] without base): not round-trippable, decode as data
        if (index < 0 && base !== 4 && base >= 0) return undefined;
        if (index < 0 && base < 0) return undefined;
        if (base < 0 && scale === 1) return undefined;
      } else if (rm === 5 && mod === 0) { dispBytes = 4; } else base = rm;
      if (mod === 1) dispBytes = 1; else if (mod === 2) dispBytes = 4;
      if (q + dispBytes > end) return undefined;
      if (dispBytes === 1) disp = sx8(bytes[q]);
      else if (dispBytes === 4) disp = (bytes[q] | (bytes[q + 1] << 8) | (bytes[q + 2] << 16) | (bytes[q + 3] << 24));
      q += dispBytes;
      // what NASM would pick for this address; mark the displacement size where it differs
      if (base >= 0) {
        const nasmDisp = disp === 0 && base !== 5 ? 0 : disp >= -128 && disp <= 127 ? 1 : 4;
        if (nasmDisp !== dispBytes) memDispSize = dispBytes === 1 ? 8 : 32;
        if (base >= 0 && index >= 0 && scale === 1 && index === 5 && base !== 5) { /* fine */ }
        // [x*2] with no other base is written [x+x] by NASM: base==index, scale 1 only comes from that
      }
      const parts: string[] = [];
      if (base >= 0) parts.push(GPR32[base]);
      if (index >= 0) parts.push(scale === 1 ? GPR32[index] : `${GPR32[index]}*${scale}`);
      if (base < 0 && index >= 0 && (scale === 2 || scale === 3)) { /* not produced by NASM without nosplit */ }
      let t = parts.join('+');
      if (dispBytes) {
        if (!parts.length) t = hex(disp);
        else if (disp < 0) t += '-' + hex(-disp);
        else t += '+' + hex(disp);
      }
      if (base < 0 && index >= 0 && scale === 2) t = 'nosplit ' + t;
      if (memDispSize) t = `${SIZE_NAME[memDispSize]} ${t}`;
      if (pf.seg) { t = `${pf.seg}:${t}`; usedSeg = true; }
      memText = `[${t}]`;
    }
  }
  // immediates
  const imms: number[] = [];
  const immKinds = f.imm;
  let moffs = -1;
  for (const k of immKinds) {
    const n = k === 'ib' || k === 'rel8' ? 1 : k === 'iw' ? 2 : k === 'ptr16:32' ? 6 : 4;
    if (q + n > end) return undefined;
    if (k === 'ptr16:32') {
      imms.push((bytes[q] | (bytes[q + 1] << 8) | (bytes[q + 2] << 16) | (bytes[q + 3] << 24)) >>> 0, bytes[q + 4] | (bytes[q + 5] << 8));
    } else if (n === 1) imms.push(bytes[q]);
    else if (n === 2) imms.push(bytes[q] | (bytes[q + 1] << 8));
    else {
      const v = (bytes[q] | (bytes[q + 1] << 8) | (bytes[q + 2] << 16) | (bytes[q + 3] << 24)) >>> 0;
      if (k === 'moffs') moffs = v; else imms.push(v);
    }
    q += n;
  }
  const length = q - offset;
  const regSizeOf = (p: OperandPattern) => PAT_SIZE[p];
  const registerSizes = new Set<number>();
  f.operands.forEach((p, i) => {
    if (p === 'r8' || p === 'r16' || p === 'r32' || p === 'al' || p === 'ax' || p === 'eax') registerSizes.add(regSizeOf(p)!);
    else if (i === f.rmOperand && rmIsReg && regSizeOf(p)) registerSizes.add(regSizeOf(p)!);
  });
  const texts: string[] = [];
  let immI = 0;
  const regf = modrm >= 0 ? (modrm >> 3) & 7 : 0;
  const rmf = modrm >= 0 ? modrm & 7 : 0;
  const gpr = (size: number | undefined, n: number) => (size === 8 ? GPR8 : size === 16 ? GPR16 : GPR32)[n];
  let short = false;
  for (let i = 0; i < f.operands.length; i++) {
    const p = f.operands[i];
    if (f.plusReg && i === f.plusRegOperand) { texts.push(gpr(PAT_SIZE[p], c.reg ?? 0)); continue; }
    if (i === f.rmOperand && modrm >= 0) {
      if (rmIsReg) {
        const size = p === 'r16/32/m16' ? 32 : PAT_SIZE[p] ?? 32;
        texts.push(gpr(size, rmf));
      } else {
        let size = PAT_SIZE[p];
        if (p === 'm16:32') { texts.push(`far ${memText}`); continue; }
        const needSize = size !== undefined && !registerSizes.has(size) && !(f.defaultMemSize === size && !f.operands.some((x, k) => k !== i && (x.startsWith('imm') || x === 'simm8')));
        if (p === 'm' || p === 'r16/32/m16') size = undefined;
        texts.push(needSize && size ? `${SIZE_NAME[size]} ${memText}` : memText);
      }
      continue;
    }
    if (i === f.regOperand && modrm >= 0) {
      if (p === 'sreg' || p === 'sreg-no-cs') texts.push(SREGS[regf]);
      else if (p === 'cr') texts.push(`cr${regf}`);
      else if (p === 'dr') texts.push(`dr${regf}`);
      else texts.push(gpr(PAT_SIZE[p], regf));
      continue;
    }
    switch (p) {
      case 'al': case 'ax': case 'eax': case 'cl': case 'dx': case 'cs': case 'ds': case 'es': case 'fs': case 'gs': case 'ss': texts.push(p); break;
      case 'one': texts.push('1'); break;
      case 'moffs8': case 'moffs16': case 'moffs32': {
        const s = pf.seg ? `${pf.seg}:` : '';
        if (pf.seg) usedSeg = true;
        texts.push(`[${s}${hex(moffs)}]`);
        break;
      }
      case 'imm8': case 'imm8u': texts.push(hex(imms[immI++])); break;
      case 'simm8': {
        const v = sx8(imms[immI++]);
        const size = f.opsize ?? 32;
        const shown = size === 16 ? v & 0xffff : v >>> 0;
        // `push byte` keeps 6a when the value would otherwise need no size: plain value shrinks the same way
        texts.push(hex(shown));
        break;
      }
      case 'imm16': case 'imm32': {
        const v = imms[immI++];
        const size = p === 'imm16' ? 16 : 32;
        const sv = size === 16 ? (v & 0x8000 ? v - 0x10000 : v) : v | 0;
        // NASM would pick a sign-extended imm8 form if one exists and the value fits: keep this one
        const hasShort = c.info.forms.some((g) => !g.decodeOnly && g.operands.includes('simm8') && g.operands.length === f.operands.length);
        const pushLike = f.operands.length === 1;
        const strict = hasShort && sv >= -128 && sv <= 127 ? `strict ${SIZE_NAME[size]} ` : pushLike && f.opsize === 16 ? 'word ' : '';
        texts.push(strict + hex(v));
        break;
      }
      case 'rel8': case 'rel32': {
        const rel = p === 'rel8' ? sx8(imms[immI++]) : imms[immI++] | 0;
        const target = (address + (q - offset) + rel) >>> 0;
        if (p === 'rel8' && c.info.forms.some((g) => g.imm[0] === 'rel32')) short = true;
        texts.push((short ? 'short ' : '') + hex(target));
        break;
      }
      case 'far16:32': { const off = imms[immI++]; const sel = imms[immI++]; texts.push(`${hex(sel)}:${hex(off)}`); break; }
      default: return undefined;
    }
  }
  const pre: string[] = [];
  if (pf.lock) pre.push('lock');
  if (pf.rep && !f.mandatoryPrefix) {
    const repe = /^(cmps|scas)/.test(c.info.mnemonic);
    pre.push(pf.rep === 0xf3 ? (repe ? 'repe' : 'rep') : 'repne');
  }
  if (pf.seg && !usedSeg) pre.push(pf.seg);
  let mnemonic = c.info.mnemonic;
  // spellings NASM reads back the same way for the operand-size variants
  if (f.operands.length === 1 && f.operands[0] === 'simm8' && f.opsize === 16) texts[0] = 'word ' + texts[0];
  if (mnemonic === 'retf' || mnemonic === 'ret') { /* fine */ }
  const text = [...pre, mnemonic].join(' ') + (texts.length ? ' ' + texts.join(',') : '');
  if (mnemonic === 'pushad' || mnemonic === 'popad') mnemonic = mnemonic.slice(0, -1) + 'd';
  return { text, mnemonic, length };
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
