/*
 * Instruction decoder: bytes at a linear address → an `Insn` with its operands resolved and the
 * semantics function chosen for its exact form (so execution does no operand-form dispatch). What
 * exists at each opcode, its operands and its semantics come from the instruction table's rows
 * (core/cpu/dispatch.ts builds the dispatch tables from them at load time); this file reads bytes.
 * Invalid encodings decode to an instruction that raises #UD when executed, so the fault is raised
 * at the right EIP. Instruction fetch goes through paging (a #PF on fetch is raised from decode).
 */
import { CS, DS, EBP, ESP, GP, SS } from './constants';
import { ATTR_DB, type Cpu } from './cpu';
import { CpuFault } from './fault';
import { Insn } from './insn';
import { InsnClass as C } from './monitor';
import * as B from './ops/basic';
import { dispatchEntry } from './dispatch';
import { findAmong } from '../isa/formIndex';
import { virtFactsFor } from '../isa/table';
import type { EncodingForm, InstructionInfo, OperandPattern } from '../isa/types';

const SREG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

const PRIV = C.PRIVILEGED;
const CRIT = C.CRITICAL;

/** What decoding reads: the CPU (through paging, at its CPL and code-segment size), or a byte buffer. */
export type DecodeSource = Pick<Cpu, 'readLinear8' | 'segAttr' | 'cpl' | 'monitor'>;

/** Thrown by a buffer source when the instruction runs past the end of the bytes. */
const TRUNCATED = new Error('truncated');

/**
 * Decodes one instruction from a byte buffer, as the CPU would at `address` in a code segment of
 * `bits` (the disassembler's entry: one decoder, two readers). Undefined when the bytes end inside
 * the instruction. The result is never executed; `exec` is what the CPU would run.
 */
export function decodeBytes(bytes: Uint8Array, offset: number, address: number, bits: 16 | 32 = 32): Insn | undefined {
  const attr = new Int32Array(6);
  attr[CS] = bits === 32 ? ATTR_DB : 0;
  const source: DecodeSource = {
    segAttr: attr, cpl: 0, monitor: undefined,
    readLinear8(lin: number): number {
      const k = offset + ((lin - address) >>> 0);
      if (k >= bytes.length) throw TRUNCATED;
      return bytes[k];
    },
  } as unknown as DecodeSource;
  try {
    return new Decoder(source).decode(address | 0);
  } catch (e) {
    if (e === TRUNCATED) return undefined;
    throw e;
  }
}

export class Decoder {
  private p = 0;
  private start = 0;
  private user = false;
  /** A 0x66 prefix was read (the table's mandatory-prefix and sized forms depend on it). */
  private opsizePrefix = false;
  constructor(private readonly cpu: DecodeSource) {}

  private byte(): number {
    if (this.p - this.start >= 15) throw new CpuFault(GP, 0);
    const b = this.cpu.readLinear8(this.p, this.user);
    this.p = (this.p + 1) | 0;
    return b;
  }
  private imm8s(): number { return (this.byte() << 24) >> 24; }
  private imm16(): number { return this.byte() | (this.byte() << 8); }
  private imm32(): number { return this.byte() | (this.byte() << 8) | (this.byte() << 16) | (this.byte() << 24); }
  private immSize(size: number): number { return size === 4 ? this.imm32() : size === 2 ? this.imm16() : this.byte(); }
  /** Immediate of the operand size, sign-extended from a byte when `sx`. */
  private immV(size: number, sx: boolean): number {
    if (sx) { const v = this.imm8s(); return size === 4 ? v : v & (size === 2 ? 0xffff : 0xff); }
    return this.immSize(size);
  }

  private modrm(i: Insn, segPrefix: number): void {
    const m = this.byte();
    i.modrm = m;
    const mod = m >> 6, rm = m & 7;
    i.reg = (m >> 3) & 7;
    if (mod === 3) { i.rm = rm; return; }
    i.rm = -1;
    let defSs: boolean;
    if (i.addr16) {
      const bases = [3, 3, 5, 5, 6, 7, 5, 3], indexes = [6, 7, 6, 7, -1, -1, -1, -1];
      i.base = bases[rm]; i.index = indexes[rm];
      if (mod === 0 && rm === 6) { i.base = -1; i.disp = this.imm16(); }
      else if (mod === 1) i.disp = this.imm8s();
      else if (mod === 2) i.disp = this.imm16();
      defSs = i.base === EBP;
    } else {
      let base = rm, index = -1, scale = 0, disp = 0;
      if (rm === 4) {
        const sib = this.byte();
        scale = sib >> 6; index = (sib >> 3) & 7; base = sib & 7;
        if (index === 4) index = -1;
        if (base === 5 && mod === 0) { base = -1; disp = this.imm32(); }
      } else if (rm === 5 && mod === 0) { base = -1; disp = this.imm32(); }
      if (mod === 1) disp = this.imm8s();
      else if (mod === 2) disp = this.imm32();
      i.base = base; i.index = index; i.scale = scale; i.disp = disp;
      defSs = base === ESP || base === EBP;
    }
    i.seg = segPrefix >= 0 ? segPrefix : defSs ? SS : DS;
  }

  decode(lin: number): Insn {
    const cpu = this.cpu;
    this.p = this.start = lin;
    this.user = cpu.cpl === 3;
    const i = new Insn();
    i.linear = lin;
    const codeDefault32 = (cpu.segAttr[CS] & ATTR_DB) !== 0;
    let opsize = codeDefault32 ? 4 : 2, seg = -1, b: number;
    this.opsizePrefix = false;
    i.addr16 = !codeDefault32;
    for (;;) {
      b = this.byte();
      if (b === 0x66) { opsize = codeDefault32 ? 2 : 4; this.opsizePrefix = true; }
      else if (b === 0x67) i.addr16 = codeDefault32;
      else if (b === 0x26 || b === 0x2e || b === 0x36 || b === 0x3e) seg = (b >> 3) & 3;
      else if (b === 0x64 || b === 0x65) seg = b - 0x60;
      else if (b === 0xf0) i.lock = true;
      else if (b === 0xf3) i.rep = 1;
      else if (b === 0xf2) i.rep = 2;
      else break;
    }
    i.prefixLen = (this.p - this.start - 1) | 0;
    if (b === 0x0f) b = 0x100 | this.byte();
    i.opcode = b;
    i.size = opsize;
    i.operandSize = opsize === 4 ? 32 : 16;
    i.seg = seg >= 0 ? seg : DS;
    i.segOverride = seg >= 0;
    try {
      this.decodeOperands(i, b, seg);
    } catch (e) {
      if (!(e instanceof CpuFault) || e.vector !== GP) throw e;
      // Longer than 15 bytes: #GP(0) when executed.
      this.invalid(i);
      i.exec = () => { throw new CpuFault(GP, 0); };
    }
    i.len = (this.p - this.start) | 0;
    if (i.len <= 0) i.len += 0x100000000;
    const bytes = new Uint8Array(i.len);
    for (let k = 0; k < i.len; k++) bytes[k] = cpu.readLinear8((lin + k) | 0, this.user);
    i.bytes = bytes;
    if (i.lock && !(i.form?.lockable && i.rm < 0)) i.exec = B.ud;
    i.semantics = i.exec;
    this.attachMonitor(i);
    return i;
  }

  /** Compiles the monitor's intercepts into the instruction (nothing when no monitor wants it). */
  private attachMonitor(i: Insn): void {
    const m = this.cpu.monitor;
    if (!m) return;
    if (m.onInstruction && (i.cls & (m.interceptClasses ?? 0))) {
      const inner = i.exec;
      i.exec = (cpu, insn) => { if (!cpu.monitor?.onInstruction?.(cpu, insn)) inner(cpu, insn); };
    }
    if (m.onCritical && (i.cls & CRIT)) {
      const inner = i.exec;
      i.exec = (cpu, insn) => {
        const eflagsBefore = cpu.getEflags(), cplBefore = cpu.cpl, eip = cpu.eip;
        inner(cpu, insn);
        cpu.monitor?.onCritical?.(cpu, { insn, mnemonic: insn.mnemonic, eip, cplBefore, cplAfter: cpu.cpl, eflagsBefore, eflagsAfter: cpu.getEflags() });
      };
    }
  }

  private invalid(i: Insn): void {
    i.exec = B.ud; i.mnemonic = BAD; i.endsBlock = true;
  }

  /**
   * After the opcode: the form the table defines for what follows (ModRM digit, register or memory
   * operand, mandatory prefix, fixed trailing bytes), its operands as the form lists them, its name
   * and attributes, and its semantics (core/cpu/dispatch.ts). No form: invalid (#UD).
   */
  private decodeOperands(i: Insn, op: number, seg: number): void {
    const entry = dispatchEntry(op);
    if (entry === undefined) return this.invalid(i);
    const opEnd = this.p;
    if (entry.rawModrm) {
      // MOV CRn/DRn: mod is ignored, r/m names a register, nothing follows.
      const m = this.byte(); i.modrm = m; i.reg = (m >> 3) & 7; i.rm = m & 7;
    } else if (entry.readsModrm) this.modrm(i, seg);
    const shape = { opcode: op, modrm: i.modrm, operandSize: i.operandSize, addressSize: (i.addr16 ? 16 : 32) as 16 | 32, rep: i.rep === 1 ? 0xf3 : i.rep === 2 ? 0xf2 : 0, opsizePrefix: this.opsizePrefix };
    // Fixed trailing bytes: the ModRM byte itself (0F 01 C1, x87 register forms), or the byte after
    // an opcode without ModRM (D4 0A), read by the form that has it.
    const m = findAmong(entry.forms, shape, (k) => (k !== 0 ? -1 : entry.readsModrm ? i.modrm : this.cpu.readLinear8(opEnd, this.user)));
    if (!m) return this.invalid(i);
    if (m.tail && !entry.readsModrm) this.p = (this.p + m.tail.length) | 0;
    const form = m.form, d = entry.decoding.get(form)!;
    if (d.byteOp) i.size = 1;
    if (m.reg !== undefined && m.tail === undefined) i.reg = m.reg;
    this.immediates(i, form, d.immOps);
    i.exec = d.bind(i, m);
    i.info = m.info; i.form = form;
    i.mnemonic = m.info.mnemonic;
    i.cls = classOf(m.info, form);
    i.endsBlock = form.endsBlock === true || (i.rep !== 0 && m.info.category === 'string');
  }

  /** The form's immediates in order: the first in `imm`, the second in `imm2`; a moffs is the displacement. */
  private immediates(i: Insn, f: EncodingForm, immOps: readonly OperandPattern[]): void {
    if (f.imm.length === 0) return;
    let n = 0;
    for (const kind of f.imm) {
      let v: number;
      switch (kind) {
        case 'ib': v = immOps[n] === 'simm8' ? this.immV(i.size, true) : this.byte(); break;
        case 'iw': v = this.imm16(); break;
        case 'id': v = this.imm32(); break;
        case 'rel8': v = this.imm8s(); break;
        case 'rel32': v = i.size === 4 ? this.imm32() : (this.imm16() << 16) >> 16; break;
        case 'ptr16:32': i.imm = this.immSize(i.size); i.imm2 = this.imm16(); return;
        case 'moffs':
          i.rm = -1; i.base = -1; i.index = -1;
          i.disp = i.addr16 ? this.imm16() : this.imm32();
          continue;
      }
      if (n === 0) i.imm = v; else i.imm2 = v;
      n++;
    }
  }
}

const BAD = '(bad)';

const CLASS_OF = new Map<EncodingForm, number>();
function classOf(info: InstructionInfo, form: EncodingForm): number {
  let c = CLASS_OF.get(form);
  if (c === undefined) {
    const v = virtFactsFor(info, form).class;
    c = (form.intercept ? C[form.intercept] : 0) | (v === 'critical' ? CRIT : v === 'privileged' || v === 'iopl-sensitive' ? PRIV : 0);
    CLASS_OF.set(form, c);
  }
  return c;
}
export { SREG_NAMES };
