/*
 * Instruction decoder: bytes at a linear address → an `Insn` with its operands resolved and the
 * semantics function chosen for its exact form (so execution does no operand-form dispatch).
 * Invalid encodings decode to an instruction that raises #UD when executed, so the fault is raised
 * at the right EIP. Instruction fetch goes through paging (a #PF on fetch is raised from decode).
 */
import { CR0_EM, CR0_TS, CS, DS, EBP, ESP, GP, NM, SS, UD } from './constants';
import { ATTR_DB, type Cpu } from './cpu';
import { CpuFault } from './fault';
import { Insn, type ExecFn } from './insn';
import { InsnClass as C } from './monitor';
import * as B from './ops/basic';
import * as S from './ops/string';
import * as Y from './ops/system';
import { aaa, aad, aam, daa } from './ops/alu';
import { fpuExec, fwaitExec, fxrstor, fxsave } from './fpu/execute';
import { ea } from './ops/operands';
import { findForm } from '../isa/formIndex';
import { virtFactsFor } from '../isa/table';
import type { EncodingForm, InstructionInfo } from '../isa/types';

const STRING_OPS: Record<number, ExecFn> = { 0xa4: S.movs, 0xa6: S.cmps, 0xaa: S.stos, 0xac: S.lods, 0xae: S.scas, 0x6c: S.ins, 0x6e: S.outs };
const SREG_OF: Record<number, number> = { 0x06: 0, 0x07: 0, 0x0e: 1, 0x16: 2, 0x17: 2, 0x1e: 3, 0x1f: 3, 0x1a0: 4, 0x1a1: 4, 0x1a8: 5, 0x1a9: 5 };
const SREG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

const PRIV = C.PRIVILEGED;
const CRIT = C.CRITICAL;

const salc: ExecFn = (cpu) => cpu.setReg8(0, cpu.getCF() ? 0xff : 0);
// The x87 escapes D8–DF decode as one instruction that core/cpu/fpu executes from its ModRM.
const fpu: ExecFn = fpuExec;
const fwait: ExecFn = fwaitExec;
const fxsaveOp: ExecFn = (cpu, i) => { if (cpu.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(NM); fxsave(cpu, i.seg, ea(cpu, i)); };
const fxrstorOp: ExecFn = (cpu, i) => { if (cpu.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(NM); fxrstor(cpu, i.seg, ea(cpu, i)); };
const int1: ExecFn = (cpu) => cpu.deliverEvent(1, 'exception', 0, 0, cpu.nextEip);
const vmcall: ExecFn = () => { throw new CpuFault(UD); }; // outside VMX non-root operation
/** MMX and SSE are not modelled (CPUID says so): #UD, as on a CPU without them. */
const simd: ExecFn = () => { throw new CpuFault(UD); };
const daaOp: ExecFn = (cpu, i) => daa(cpu, i.opcode === 0x2f);
const aaaOp: ExecFn = (cpu, i) => aaa(cpu, i.opcode === 0x3f);
const aamOp: ExecFn = (cpu, i) => aam(cpu, i.imm);
const aadOp: ExecFn = (cpu, i) => aad(cpu, i.imm);

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
    i.addr16 = !codeDefault32;
    for (;;) {
      b = this.byte();
      if (b === 0x66) opsize = codeDefault32 ? 2 : 4;
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
      this.decodeOpcode(i, b, opsize, seg);
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
    // FXSAVE / FXRSTOR are table rows now (core/isa/simd.ts); core/cpu/fpu executes them
    if (i.mnemonic !== BAD) nameFromTable(i);
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

  /** The semantics of a valid encoding; its name and attributes come from its table form (`nameFromTable`). */
  private set(i: Insn, exec: ExecFn): void {
    i.exec = exec;
  }

  private decodeOpcode(i: Insn, op: number, size: number, seg: number): void {
    const w = size === 4 ? 'd' : 'w';
    // ---- ALU block 00–3F ----
    if (op < 0x40 && (op & 7) < 6) {
      const aop = op >> 3, form = op & 7;
      const sz = form & 1 ? size : 1;
      i.size = sz;
      if (form < 4) {
        this.modrm(i, seg);
        i.exec = form < 2 ? B.aluEG(aop, sz, i.rm < 0) : B.aluGE(aop, sz, i.rm < 0);
      } else {
        i.rm = 0; i.imm = this.immSize(sz);
        i.exec = B.aluEI(aop, sz, false);
      }
      return;
    }
    switch (op) {
      case 0x06: case 0x0e: case 0x16: case 0x1e: case 0x1a0: case 0x1a8:
        i.reg = SREG_OF[op]; return this.set(i, B.pushSreg);
      case 0x07: case 0x17: case 0x1f: case 0x1a1: case 0x1a9:
        i.reg = SREG_OF[op]; return this.set(i, B.popSreg);
      case 0x27: case 0x2f: return this.set(i, daaOp);
      case 0x37: case 0x3f: return this.set(i, aaaOp);
      case 0x0f: return this.invalid(i);
    }
    if (op >= 0x40 && op < 0x60) {
      i.reg = op & 7;
      const k = (op >> 3) & 3;
      const exec = size === 4 ? [B.incR32, B.decR32, B.pushR32, B.popR32][k] : [B.incR, B.decR, B.pushR, B.popR][k];
      return this.set(i, exec);
    }
    if (op >= 0x70 && op < 0x80) { i.imm = this.imm8s(); return this.set(i, B.jcc); }
    if (op >= 0x180 && op < 0x190) { i.imm = size === 4 ? this.imm32() : (this.imm16() << 16) >> 16; return this.set(i, B.jcc); }
    if (op >= 0x190 && op < 0x1a0) { this.modrm(i, seg); i.size = 1; return this.set(i, B.setcc); }
    if (op >= 0x140 && op < 0x150) { this.modrm(i, seg); return this.set(i, B.cmovcc); }
    if (op >= 0x91 && op < 0x98) { i.reg = op & 7; return this.set(i, B.xchgAcc); }
    if (op >= 0xb0 && op < 0xb8) { i.reg = op & 7; i.size = 1; i.imm = this.byte(); return this.set(i, B.movRI); }
    if (op >= 0xb8 && op < 0xc0) { i.reg = op & 7; i.imm = this.immSize(size); return this.set(i, size === 4 ? B.movRI32 : B.movRI); }
    if (op >= 0x1c8 && op < 0x1d0) { i.reg = op & 7; return this.set(i, B.bswap); }
    if (op >= 0xd8 && op <= 0xdf) { this.modrm(i, seg); return this.set(i, fpu); }

    switch (op) {
      // ---- stack, misc 60–6F ----
      case 0x60: return this.set(i, B.pusha);
      case 0x61: return this.set(i, B.popa);
      case 0x62: this.modrm(i, seg); return this.set(i, B.bound);
      case 0x63: this.modrm(i, seg); i.size = 2; return this.set(i, Y.arpl);
      case 0x68: i.imm = this.immSize(size); return this.set(i, B.pushI);
      case 0x6a: i.imm = this.immV(size, true); return this.set(i, B.pushI);
      case 0x69: this.modrm(i, seg); i.imm = this.immSize(size); return this.set(i, B.imulGEI);
      case 0x6b: this.modrm(i, seg); i.imm = this.immV(size, true); return this.set(i, B.imulGEI);
      case 0x6c: case 0x6d: case 0x6e: case 0x6f: case 0xa4: case 0xa5: case 0xa6: case 0xa7:
      case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf: {
        if (!(op & 1)) i.size = 1;
        return this.set(i, STRING_OPS[op & ~1]);
      }
      // ---- groups 80–8F ----
      case 0x80: case 0x81: case 0x82: case 0x83: {
        this.modrm(i, seg);
        const sz = op === 0x81 || op === 0x83 ? size : 1;
        i.size = sz;
        i.imm = op === 0x81 ? this.immSize(sz) : op === 0x83 ? this.immV(sz, true) : this.byte();
        return this.set(i, B.aluEI(i.reg, sz, i.rm < 0));
      }
      case 0x84: case 0x85: this.modrm(i, seg); if (op === 0x84) i.size = 1; return this.set(i, B.testEG);
      case 0x86: case 0x87: this.modrm(i, seg); if (op === 0x86) i.size = 1; return this.set(i, B.xchgEG);
      case 0x88: case 0x89: {
        this.modrm(i, seg); if (op === 0x88) i.size = 1;
        const exec = i.size === 4 ? (i.rm >= 0 ? B.movRR32 : B.movMG32) : B.movEG;
        return this.set(i, exec);
      }
      case 0x8a: case 0x8b: {
        this.modrm(i, seg); if (op === 0x8a) i.size = 1;
        const exec = i.size === 4 ? (i.rm >= 0 ? B.movGR32 : B.movGM32) : B.movGE;
        return this.set(i, exec);
      }
      case 0x8c: this.modrm(i, seg); if (i.reg > 5) return this.invalid(i); return this.set(i, B.movESreg);
      case 0x8d: this.modrm(i, seg); return this.set(i, B.lea);
      case 0x8e: this.modrm(i, seg); if (i.reg > 5 || i.reg === CS) return this.invalid(i); return this.set(i, B.movSregE);
      case 0x8f: this.modrm(i, seg); if (i.reg !== 0) return this.invalid(i); return this.set(i, B.popE);
      case 0x90: return this.set(i, B.nop);
      case 0x98: return this.set(i, B.cbw);
      case 0x99: return this.set(i, B.cwd);
      case 0x9a: i.imm = this.immSize(size); i.imm2 = this.imm16(); return this.set(i, B.callFar);
      case 0x9b: return this.set(i, fwait);
      case 0x9c: return this.set(i, B.pushf);
      case 0x9d: return this.set(i, B.popf);
      case 0x9e: return this.set(i, B.sahf);
      case 0x9f: return this.set(i, B.lahf);
      case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
        if (!(op & 1)) i.size = 1;
        i.rm = -1; i.base = -1; i.index = -1;
        i.disp = i.addr16 ? this.imm16() : this.imm32();
        return this.set(i, op < 0xa2 ? B.movAccMoffs : B.movMoffsAcc);
      }
      case 0xa8: case 0xa9: if (op === 0xa8) i.size = 1; i.rm = 0; i.imm = this.immSize(i.size); return this.set(i, B.testEI);
      // ---- C0–CF ----
      case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        this.modrm(i, seg);
        if (!(op & 1)) i.size = 1;
        i.imm = op <= 0xc1 ? this.byte() : op <= 0xd1 ? 1 : -1;
        return this.set(i, B.shiftE);
      }
      case 0xc2: i.imm = this.imm16(); return this.set(i, B.ret);
      case 0xc3: return this.set(i, B.ret);
      case 0xc4: case 0xc5: this.modrm(i, seg); i.imm = op === 0xc4 ? 0 : 3; return this.set(i, B.loadFarPointer);
      case 0xc6: case 0xc7:
        this.modrm(i, seg); if (i.reg !== 0) return this.invalid(i);
        if (op === 0xc6) i.size = 1;
        i.imm = this.immSize(i.size);
        return this.set(i, B.movEI);
      case 0xc8: i.imm = this.imm16(); i.imm2 = this.byte(); return this.set(i, B.enter);
      case 0xc9: return this.set(i, B.leave);
      case 0xca: i.imm = this.imm16(); return this.set(i, B.retFar);
      case 0xcb: return this.set(i, B.retFar);
      case 0xcc: return this.set(i, B.int3);
      case 0xcd: i.imm = this.byte(); return this.set(i, B.intN);
      case 0xce: return this.set(i, B.into);
      case 0xcf: return this.set(i, B.iretOp);
      case 0xd4: i.imm = this.byte(); return this.set(i, aamOp);
      case 0xd5: i.imm = this.byte(); return this.set(i, aadOp);
      case 0xd6: return this.set(i, salc);
      case 0xd7: return this.set(i, B.xlat);
      // ---- E0–EF ----
      case 0xe0: case 0xe1: case 0xe2: case 0xe3:
        i.imm = this.imm8s();
        return this.set(i, B.loop);
      case 0xe4: case 0xe5: if (op === 0xe4) i.size = 1; i.imm = this.byte(); return this.set(i, Y.inOp);
      case 0xe6: case 0xe7: if (op === 0xe6) i.size = 1; i.imm = this.byte(); return this.set(i, Y.outOp);
      case 0xec: case 0xed: if (op === 0xec) i.size = 1; i.imm = -1; return this.set(i, Y.inOp);
      case 0xee: case 0xef: if (op === 0xee) i.size = 1; i.imm = -1; return this.set(i, Y.outOp);
      case 0xe8: i.imm = size === 4 ? this.imm32() : (this.imm16() << 16) >> 16; return this.set(i, B.callRel);
      case 0xe9: i.imm = size === 4 ? this.imm32() : (this.imm16() << 16) >> 16; return this.set(i, B.jmpRel);
      case 0xea: i.imm = this.immSize(size); i.imm2 = this.imm16(); return this.set(i, B.jmpFar);
      case 0xeb: i.imm = this.imm8s(); return this.set(i, B.jmpRel);
      // ---- F0–FF ----
      case 0xf1: return this.set(i, int1);
      case 0xf4: return this.set(i, Y.hlt);
      case 0xf5: return this.set(i, B.cmc);
      case 0xf6: case 0xf7: {
        this.modrm(i, seg);
        if (op === 0xf6) i.size = 1;
        const g = i.reg;
        if (g <= 1) { i.imm = this.immSize(i.size); return this.set(i, B.testEI); }
        const execs = [B.notE, B.negE, B.mulE, B.imul1E, B.divE, B.idivE];
        return this.set(i, execs[g - 2]);
      }
      case 0xf8: return this.set(i, B.clc);
      case 0xf9: return this.set(i, B.stc);
      case 0xfa: return this.set(i, B.cli);
      case 0xfb: return this.set(i, B.sti);
      case 0xfc: return this.set(i, B.cld);
      case 0xfd: return this.set(i, B.std);
      case 0xfe: this.modrm(i, seg); i.size = 1;
        if (i.reg > 1) return this.invalid(i);
        return this.set(i, i.reg ? B.decE : B.incE);
      case 0xff: {
        this.modrm(i, seg);
        switch (i.reg) {
          case 0: return this.set(i, B.incE);
          case 1: return this.set(i, B.decE);
          case 2: return this.set(i, B.callE);
          case 3: return this.set(i, B.farIndirect);
          case 4: return this.set(i, B.jmpE);
          case 5: return this.set(i, B.farIndirect);
          case 6: return this.set(i, B.pushE);
          default: return this.invalid(i);
        }
      }
    }
    if (op >= 0x100) return this.decodeTwoByte(i, op, size, seg, w);
    return this.invalid(i);
  }

  private decodeTwoByte(i: Insn, op: number, size: number, seg: number, w: string): void {
    void w;
    switch (op) {
      case 0x100: {
        this.modrm(i, seg);
        switch (i.reg) {
          case 0: return this.set(i, Y.sldt);
          case 1: return this.set(i, Y.str);
          case 2: i.size = 2; return this.set(i, Y.lldt);
          case 3: i.size = 2; return this.set(i, Y.ltr);
          case 4: i.size = 2; return this.set(i, Y.verrVerw);
          case 5: i.size = 2; return this.set(i, Y.verrVerw);
          default: return this.invalid(i);
        }
      }
      case 0x101: {
        this.modrm(i, seg);
        if (i.rm >= 0) {
          if (i.modrm === 0xc1) return this.set(i, vmcall);
          if (i.reg === 4) return this.set(i, Y.smsw);
          if (i.reg === 6) return this.set(i, Y.lmsw);
          return this.invalid(i);
        }
        switch (i.reg) {
          case 0: return this.set(i, Y.sgdtSidt);
          case 1: return this.set(i, Y.sgdtSidt);
          case 2: return this.set(i, Y.lgdtLidt);
          case 3: return this.set(i, Y.lgdtLidt);
          case 4: return this.set(i, Y.smsw);
          case 6: return this.set(i, Y.lmsw);
          case 7: return this.set(i, Y.invlpg);
          default: return this.invalid(i);
        }
      }
      case 0x102: this.modrm(i, seg); return this.set(i, Y.lar);
      case 0x103: this.modrm(i, seg); return this.set(i, Y.lsl);
      case 0x106: return this.set(i, Y.clts);
      case 0x108: return this.set(i, Y.cacheOp);
      case 0x109: return this.set(i, Y.cacheOp);
      case 0x10b: return this.set(i, B.ud);
      case 0x10d: case 0x118: case 0x119: case 0x11a: case 0x11b: case 0x11c: case 0x11d: case 0x11e: case 0x11f:
        this.modrm(i, seg); return this.set(i, B.nop);
      case 0x120: case 0x122: {
        // MOV to/from CRn: always register operands (mod is ignored).
        const m = this.byte(); i.modrm = m; i.reg = (m >> 3) & 7; i.rm = m & 7;
        if (i.reg === 1 || i.reg > 4) return this.invalid(i);
        return this.set(i, op === 0x120 ? Y.movFromCr : Y.movToCr);
      }
      case 0x121: case 0x123: {
        const m = this.byte(); i.modrm = m; i.reg = (m >> 3) & 7; i.rm = m & 7;
        return this.set(i, op === 0x121 ? Y.movFromDr : Y.movToDr);
      }
      case 0x130: return this.set(i, Y.wrmsr);
      case 0x131: return this.set(i, Y.rdtsc);
      case 0x132: return this.set(i, Y.rdmsr);
      case 0x133: return this.set(i, Y.rdpmc);
      case 0x134: return this.set(i, Y.sysenterOp);
      case 0x135: return this.set(i, Y.sysexitOp);
      case 0x1a2: return this.set(i, Y.cpuid);
      case 0x1a3: case 0x1ab: case 0x1b3: case 0x1bb:
        this.modrm(i, seg); return this.set(i, B.btEG);
      case 0x1a4: case 0x1ac: this.modrm(i, seg); i.imm = this.byte(); return this.set(i, B.shiftDoubleE);
      case 0x1a5: case 0x1ad: this.modrm(i, seg); i.imm = -1; return this.set(i, B.shiftDoubleE);
      case 0x1af: this.modrm(i, seg); return this.set(i, B.imulGE);
      case 0x1ae:
        // FXSAVE / FXRSTOR m512 (0F AE /0, /1); the other forms (LDMXCSR, STMXCSR, CLFLUSH, the
        // fences: SSE/SSE2) are decoded for the table to name and raise #UD (not modelled)
        this.modrm(i, seg);
        if (i.rm < 0 && i.reg <= 1) return this.set(i, i.reg === 0 ? fxsaveOp : fxrstorOp);
        return this.set(i, simd);
      case 0x1b0: case 0x1b1: this.modrm(i, seg); if (op === 0x1b0) i.size = 1; return this.set(i, B.cmpxchgE);
      case 0x1b2: case 0x1b4: case 0x1b5:
        this.modrm(i, seg); i.imm = op === 0x1b2 ? SS : op - 0x1b0;
        return this.set(i, B.loadFarPointer);
      case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf:
        this.modrm(i, seg); i.imm = op & 1 ? 2 : 1;
        return this.set(i, B.movx);
      case 0x1ba: {
        this.modrm(i, seg); i.imm = this.byte();
        if (i.reg < 4) return this.invalid(i);
        return this.set(i, B.btEI);
      }
      case 0x1bc: this.modrm(i, seg); return this.set(i, B.bsfG);
      case 0x1bd: this.modrm(i, seg); return this.set(i, B.bsrG);
      case 0x1c0: case 0x1c1: this.modrm(i, seg); if (op === 0x1c0) i.size = 1; return this.set(i, B.xaddE);
      case 0x1c7: this.modrm(i, seg); if (i.reg !== 1) return this.invalid(i); return this.set(i, B.cmpxchg8b);
      case 0x177: return this.set(i, simd); // emms
    }
    // MMX / SSE / SSE2: decoded (ModRM, imm8) so that the table names them; executing raises #UD
    const b = op & 0xff;
    if ((b >= 0x10 && b <= 0x17) || (b >= 0x28 && b <= 0x2f) || (b >= 0x50 && b <= 0x7f) || b === 0xae || (b >= 0xc2 && b <= 0xc6) || b >= 0xd0) {
      this.modrm(i, seg);
      if ((b >= 0x70 && b <= 0x73) || b === 0xc2 || b === 0xc4 || b === 0xc5 || b === 0xc6) i.imm = this.byte();
      return this.set(i, simd);
    }
    void size;
    return this.invalid(i);
  }
}

const BAD = '(bad)';

/**
 * Names a decoded instruction from its table form: mnemonic, monitor class (`InsnClass` bits from the
 * form's intercept class and its SPEC §7 virtualization class), block end, and the form itself (LOCK
 * legality, the disassembler's operand layout). An encoding the table has no form for is invalid
 * (#UD): the table says what exists (x87 register forms the FPU reserves, LEA/LES/far JMP with a
 * register operand…).
 */
function nameFromTable(i: Insn): void {
  const bytes = i.bytes, after = i.prefixLen + (i.opcode >= 0x100 ? 2 : 1);
  let opsizePrefix = false;
  for (let k = 0; k < i.prefixLen; k++) if (bytes[k] === 0x66) opsizePrefix = true;
  const m = findForm({ opcode: i.opcode, modrm: i.modrm, operandSize: i.operandSize, addressSize: i.addr16 ? 16 : 32, rep: i.rep === 1 ? 0xf3 : i.rep === 2 ? 0xf2 : 0, opsizePrefix },
    (k) => bytes[after + k] ?? -1);
  if (!m) { i.exec = B.ud; i.mnemonic = BAD; i.cls = 0; i.endsBlock = true; return; }
  i.info = m.info; i.form = m.form;
  i.mnemonic = m.info.mnemonic;
  i.cls = classOf(m.info, m.form);
  i.endsBlock = m.form.endsBlock === true || (i.rep !== 0 && m.info.category === 'string');
}

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
