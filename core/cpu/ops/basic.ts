/*
 * Semantics of the general-purpose instructions: ALU forms, data movement, stack, control flow,
 * flag instructions. Each function has the ExecFn signature; the decoder picks the one that fits the
 * operand form and size so the hot forms do no run-time dispatch.
 */
import { AF, CF, CS, DF, ESP, GP, IF, IOPL, NT, OF, PF, SF, SS, ZF, AC, ID, RF, TF, VIF, VIP, VM, BR, OFV, BP, UD } from '../constants';
import { CC_ADD, CC_LOGIC, CC_SUB, type Cpu } from '../cpu';
import { CpuFault } from '../fault';
import type { ExecFn, Insn } from '../insn';
import { alu, bitScan, bitTest, cmpFlags, dec, div, idiv, imul1, imul2, inc, logicFlags, mul, neg, shift, shiftDouble } from './alu';
import { ea, readE, rmwE, sext, SZ, writeE } from './operands';
import { farReturn, farTransfer, iret } from '../transfers';

// ---------------------------------------------------------------------------------------------
// ALU forms (cached per op and size so every decoded instruction shares them)
// ---------------------------------------------------------------------------------------------
const aluCache = new Map<string, ExecFn>();
function cached(key: string, make: () => ExecFn): ExecFn {
  let f = aluCache.get(key);
  if (!f) aluCache.set(key, f = make());
  return f;
}

/**
 * 32-bit register forms of the hot operations, without the generic switch: the lazy-flag record
 * is written directly (ccOp, size 2 = dword).
 */
function fast32(op: number): ((cpu: Cpu, a: number, b: number) => number) | undefined {
  switch (op) {
    case 0: return (cpu, a, b) => { const r = (a + b) | 0; cpu.ccOp = CC_ADD; cpu.ccSize = 2; cpu.ccA = a; cpu.ccB = b; cpu.ccRes = r; return r; };
    case 5: return (cpu, a, b) => { const r = (a - b) | 0; cpu.ccOp = CC_SUB; cpu.ccSize = 2; cpu.ccA = a; cpu.ccB = b; cpu.ccRes = r; return r; };
    case 7: return (cpu, a, b) => { cpu.ccOp = CC_SUB; cpu.ccSize = 2; cpu.ccA = a; cpu.ccB = b; cpu.ccRes = (a - b) | 0; return a; };
    case 4: return (cpu, a, b) => { const r = a & b; cpu.ccOp = CC_LOGIC; cpu.ccSize = 2; cpu.ccRes = r; return r; };
    case 1: return (cpu, a, b) => { const r = a | b; cpu.ccOp = CC_LOGIC; cpu.ccSize = 2; cpu.ccRes = r; return r; };
    case 6: return (cpu, a, b) => { const r = a ^ b; cpu.ccOp = CC_LOGIC; cpu.ccSize = 2; cpu.ccRes = r; return r; };
    default: return undefined;
  }
}
function fastRR(op: number, dstIsRm: boolean): ExecFn | undefined {
  const f = fast32(op);
  if (!f) return undefined;
  if (op === 7) return dstIsRm ? (cpu, i) => { f(cpu, cpu.regs[i.rm], cpu.regs[i.reg]); } : (cpu, i) => { f(cpu, cpu.regs[i.reg], cpu.regs[i.rm]); };
  return dstIsRm ? (cpu, i) => { const r = cpu.regs; r[i.rm] = f(cpu, r[i.rm], r[i.reg]); } : (cpu, i) => { const r = cpu.regs; r[i.reg] = f(cpu, r[i.reg], r[i.rm]); };
}
function fastRI(op: number): ExecFn | undefined {
  const f = fast32(op);
  if (!f) return undefined;
  if (op === 7) return (cpu, i) => { f(cpu, cpu.regs[i.rm], i.imm); };
  return (cpu, i) => { const r = cpu.regs; r[i.rm] = f(cpu, r[i.rm], i.imm); };
}

/** op E, G (ModRM.rm is the destination). */
export function aluEG(op: number, size: number, mem: boolean): ExecFn {
  return cached(`EG${op}.${size}.${mem}`, () => {
    const sz = SZ(size), writes = op !== 7;
    if (!mem && size === 4) return fastRR(op, true) ?? ((cpu, i) => { const r = alu(cpu, op, 2, cpu.regs[i.rm], cpu.regs[i.reg]); if (writes) cpu.regs[i.rm] = r; });
    if (!mem) return (cpu, i) => { const r = alu(cpu, op, sz, cpu.getReg(i.rm, size), cpu.getReg(i.reg, size)); if (writes) cpu.setReg(i.rm, size, r); };
    return (cpu, i) => {
      const a = ea(cpu, i);
      if (writes) cpu.probeWrite(i.seg, a, size);
      const r = alu(cpu, op, sz, cpu.read(i.seg, a, size), cpu.getReg(i.reg, size));
      if (writes) cpu.write(i.seg, a, size, r);
    };
  });
}
/** op G, E (ModRM.reg is the destination). */
export function aluGE(op: number, size: number, mem: boolean): ExecFn {
  return cached(`GE${op}.${size}.${mem}`, () => {
    const sz = SZ(size), writes = op !== 7;
    if (!mem && size === 4) return fastRR(op, false) ?? ((cpu, i) => { const r = alu(cpu, op, 2, cpu.regs[i.reg], cpu.regs[i.rm]); if (writes) cpu.regs[i.reg] = r; });
    if (size === 4) return (cpu, i) => { const r = alu(cpu, op, 2, cpu.regs[i.reg], cpu.read32(i.seg, ea(cpu, i))); if (writes) cpu.regs[i.reg] = r; };
    return (cpu, i) => { const r = alu(cpu, op, sz, cpu.getReg(i.reg, size), readE(cpu, i, size)); if (writes) cpu.setReg(i.reg, size, r); };
  });
}
/** op E, imm (groups 80/81/83 and the AL/eAX short forms, which decode with rm = 0). */
export function aluEI(op: number, size: number, mem: boolean): ExecFn {
  return cached(`EI${op}.${size}.${mem}`, () => {
    const sz = SZ(size), writes = op !== 7;
    if (!mem && size === 4) return fastRI(op) ?? ((cpu, i) => { const r = alu(cpu, op, 2, cpu.regs[i.rm], i.imm); if (writes) cpu.regs[i.rm] = r; });
    if (!mem) return (cpu, i) => { const r = alu(cpu, op, sz, cpu.getReg(i.rm, size), i.imm); if (writes) cpu.setReg(i.rm, size, r); };
    return (cpu, i) => {
      const a = ea(cpu, i);
      if (writes) cpu.probeWrite(i.seg, a, size);
      const r = alu(cpu, op, sz, cpu.read(i.seg, a, size), i.imm);
      if (writes) cpu.write(i.seg, a, size, r);
    };
  });
}

export const testEG: ExecFn = (cpu, i) => logicFlags(cpu, SZ(i.size), readE(cpu, i, i.size) & cpu.getReg(i.reg, i.size));
export const testEI: ExecFn = (cpu, i) => logicFlags(cpu, SZ(i.size), readE(cpu, i, i.size) & i.imm);

export const incR32: ExecFn = (cpu, i) => { cpu.regs[i.reg] = inc(cpu, 2, cpu.regs[i.reg]); };
export const decR32: ExecFn = (cpu, i) => { cpu.regs[i.reg] = dec(cpu, 2, cpu.regs[i.reg]); };
export const incR: ExecFn = (cpu, i) => cpu.setReg(i.reg, i.size, inc(cpu, SZ(i.size), cpu.getReg(i.reg, i.size)));
export const decR: ExecFn = (cpu, i) => cpu.setReg(i.reg, i.size, dec(cpu, SZ(i.size), cpu.getReg(i.reg, i.size)));

/** Unary read-modify-write forms without a closure per execution (group 3/4/5 hot paths). */
const UNARY_INC = 0, UNARY_DEC = 1, UNARY_NOT = 2, UNARY_NEG = 3;
function unary(cpu: Cpu, kind: number, sz: number, v: number): number {
  switch (kind) {
    case UNARY_INC: return inc(cpu, sz, v);
    case UNARY_DEC: return dec(cpu, sz, v);
    case UNARY_NOT: return ~v;
    default: return neg(cpu, sz, v);
  }
}
function unaryE(kind: number): ExecFn {
  return (cpu, i) => {
    const size = i.size;
    if (i.rm >= 0) { cpu.setReg(i.rm, size, unary(cpu, kind, SZ(size), cpu.getReg(i.rm, size))); return; }
    const a = ea(cpu, i);
    cpu.probeWrite(i.seg, a, size);
    cpu.write(i.seg, a, size, unary(cpu, kind, SZ(size), cpu.read(i.seg, a, size)));
  };
}
export const incE: ExecFn = unaryE(UNARY_INC);
export const decE: ExecFn = unaryE(UNARY_DEC);
export const notE: ExecFn = unaryE(UNARY_NOT);
export const negE: ExecFn = unaryE(UNARY_NEG);
export const mulE: ExecFn = (cpu, i) => mul(cpu, SZ(i.size), readE(cpu, i, i.size));
export const imul1E: ExecFn = (cpu, i) => imul1(cpu, SZ(i.size), readE(cpu, i, i.size));
export const divE: ExecFn = (cpu, i) => div(cpu, SZ(i.size), readE(cpu, i, i.size));
export const idivE: ExecFn = (cpu, i) => idiv(cpu, SZ(i.size), readE(cpu, i, i.size));
export const imulGE: ExecFn = (cpu, i) => cpu.setReg(i.reg, i.size, imul2(cpu, SZ(i.size), cpu.getReg(i.reg, i.size), readE(cpu, i, i.size)));
export const imulGEI: ExecFn = (cpu, i) => cpu.setReg(i.reg, i.size, imul2(cpu, SZ(i.size), readE(cpu, i, i.size), i.imm));

/** Group 2: shift E by imm (i.imm), by 1 (imm = 1) or by CL (imm = -1). A zero count writes nothing. */
export const shiftE: ExecFn = (cpu, i) => {
  const count = i.imm < 0 ? cpu.regs[1] & 0xff : i.imm;
  const size = i.size;
  if (i.rm >= 0) {
    if (count & 31) cpu.setReg(i.rm, size, shift(cpu, i.reg, SZ(size), cpu.getReg(i.rm, size), count));
    return;
  }
  const a = ea(cpu, i);
  cpu.probeWrite(i.seg, a, size);
  const v = cpu.read(i.seg, a, size);
  if (count & 31) cpu.write(i.seg, a, size, shift(cpu, i.reg, SZ(size), v, count));
};
/** SHLD/SHRD: opcode bit 3 says right; imm < 0 means CL. */
export const shiftDoubleE: ExecFn = (cpu, i) => {
  const count = i.imm < 0 ? cpu.regs[1] & 0xff : i.imm;
  const left = (i.opcode & 8) === 0;
  rmwE(cpu, i, i.size, (v) => ((count & 31) === 0 ? undefined : shiftDouble(cpu, left, SZ(i.size), v, cpu.getReg(i.reg, i.size), count)));
};

/** BT/BTS/BTR/BTC with a register bit offset (memory: the offset selects beyond the operand). */
export const btEG: ExecFn = (cpu, i) => {
  const op = (i.opcode >> 3) & 3; // A3 → 0 (BT), AB → 1 (BTS), B3 → 2 (BTR), BB → 3 (BTC)
  const bits = i.size * 8;
  const off = i.size === 4 ? cpu.regs[i.reg] : sext(cpu.regs[i.reg], 2);
  if (i.rm >= 0) {
    const v = bitTest(cpu, op, cpu.getReg(i.rm, i.size), off & (bits - 1));
    if (op) cpu.setReg(i.rm, i.size, v);
    return;
  }
  const a = (ea(cpu, i) + i.size * Math.floor(off / bits)) | 0;
  const bit = ((off % bits) + bits) % bits;
  if (op) cpu.probeWrite(i.seg, a, i.size);
  const v = bitTest(cpu, op, cpu.read(i.seg, a, i.size), bit);
  if (op) cpu.write(i.seg, a, i.size, v);
};
/** Group 8 (0F BA /4../7): bit offset = imm8 modulo the operand size. */
export const btEI: ExecFn = (cpu, i) => {
  const op = i.reg - 4;
  const bit = i.imm & (i.size * 8 - 1);
  rmwE(cpu, i, i.size, (v) => { const r = bitTest(cpu, op, v, bit); return op ? r : undefined; });
};
export const bsfG: ExecFn = (cpu, i) => { const r = bitScan(cpu, false, SZ(i.size), readE(cpu, i, i.size)); if (r !== undefined) cpu.setReg(i.reg, i.size, r); };
export const bsrG: ExecFn = (cpu, i) => { const r = bitScan(cpu, true, SZ(i.size), readE(cpu, i, i.size)); if (r !== undefined) cpu.setReg(i.reg, i.size, r); };

export const xaddE: ExecFn = (cpu, i) => {
  const src = cpu.getReg(i.reg, i.size);
  rmwE(cpu, i, i.size, (v) => { const sum = alu(cpu, 0, SZ(i.size), v, src); cpu.setReg(i.reg, i.size, v); return sum; });
};
export const cmpxchgE: ExecFn = (cpu, i) => {
  const size = i.size;
  rmwE(cpu, i, size, (v) => {
    const acc = cpu.getReg(0, size);
    cmpFlags(cpu, SZ(size), acc, v);
    if (cpu.getZF()) return cpu.getReg(i.reg, size);
    cpu.setReg(0, size, v);
    return v; // the processor always writes the destination (SDM)
  });
};
export const cmpxchg8b: ExecFn = (cpu, i) => {
  if (i.rm >= 0) throw new CpuFault(UD);
  const a = ea(cpu, i);
  cpu.probeWrite(i.seg, a, 8);
  const lo = cpu.read32(i.seg, a), hi = cpu.read32(i.seg, (a + 4) | 0);
  cpu.materializeFlags();
  if (lo === cpu.regs[0] && hi === cpu.regs[2]) {
    cpu.write32(i.seg, a, cpu.regs[3]); cpu.write32(i.seg, (a + 4) | 0, cpu.regs[1]);
    cpu.flags |= ZF;
  } else {
    cpu.write32(i.seg, a, lo); cpu.write32(i.seg, (a + 4) | 0, hi);
    cpu.regs[0] = lo; cpu.regs[2] = hi;
    cpu.flags &= ~ZF;
  }
};

// ---------------------------------------------------------------------------------------------
// Data movement
// ---------------------------------------------------------------------------------------------
export const movRR32: ExecFn = (cpu, i) => { cpu.regs[i.rm] = cpu.regs[i.reg]; };
export const movGR32: ExecFn = (cpu, i) => { cpu.regs[i.reg] = cpu.regs[i.rm]; };
export const movEG: ExecFn = (cpu, i) => writeE(cpu, i, i.size, cpu.getReg(i.reg, i.size));
export const movGE: ExecFn = (cpu, i) => cpu.setReg(i.reg, i.size, readE(cpu, i, i.size));
export const movGM32: ExecFn = (cpu, i) => { cpu.regs[i.reg] = cpu.read32(i.seg, ea(cpu, i)); };
export const movMG32: ExecFn = (cpu, i) => { cpu.write32(i.seg, ea(cpu, i), cpu.regs[i.reg]); };
export const movEI: ExecFn = (cpu, i) => writeE(cpu, i, i.size, i.imm);
export const movRI32: ExecFn = (cpu, i) => { cpu.regs[i.reg] = i.imm; };
export const movRI: ExecFn = (cpu, i) => cpu.setReg(i.reg, i.size, i.imm);
/** MOV AL/AX/EAX, moffs and back (the moffs is in `disp`, decoded as a memory operand). */
export const movAccMoffs: ExecFn = (cpu, i) => cpu.setReg(0, i.size, cpu.read(i.seg, ea(cpu, i), i.size));
export const movMoffsAcc: ExecFn = (cpu, i) => cpu.write(i.seg, ea(cpu, i), i.size, cpu.getReg(0, i.size));
export const lea: ExecFn = (cpu, i) => {
  if (i.rm >= 0) throw new CpuFault(UD);
  cpu.setReg(i.reg, i.size, ea(cpu, i));
};
/** MOVZX/MOVSX: imm holds the source size (1 or 2); opcode bit 3 set = sign-extend. */
export const movx: ExecFn = (cpu, i) => {
  const v = readE(cpu, i, i.imm);
  cpu.setReg(i.reg, i.size, (i.opcode & 8) ? sext(v, i.imm) : v);
};
export const xchgEG: ExecFn = (cpu, i) => {
  const g = cpu.getReg(i.reg, i.size);
  rmwE(cpu, i, i.size, (v) => { cpu.setReg(i.reg, i.size, v); return g; });
};
export const xchgAcc: ExecFn = (cpu, i) => {
  const a = cpu.getReg(0, i.size);
  cpu.setReg(0, i.size, cpu.getReg(i.reg, i.size));
  cpu.setReg(i.reg, i.size, a);
};
export const bswap: ExecFn = (cpu, i) => {
  const v = cpu.regs[i.reg];
  cpu.regs[i.reg] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
};
export const cbw: ExecFn = (cpu, i) => {
  if (i.size === 4) cpu.regs[0] = (cpu.regs[0] << 16) >> 16;
  else cpu.setReg(0, 2, ((cpu.regs[0] << 24) >> 24) & 0xffff);
};
export const cwd: ExecFn = (cpu, i) => {
  if (i.size === 4) cpu.regs[2] = cpu.regs[0] >> 31;
  else cpu.setReg(2, 2, (cpu.regs[0] << 16) >> 31);
};
export const setcc: ExecFn = (cpu, i) => writeE(cpu, i, 1, cpu.cond(i.opcode & 15) ? 1 : 0);
export const cmovcc: ExecFn = (cpu, i) => {
  const v = readE(cpu, i, i.size); // the source is read (and may fault) whatever the condition
  if (cpu.cond(i.opcode & 15)) cpu.setReg(i.reg, i.size, v);
};
export const xlat: ExecFn = (cpu, i) => {
  const off = i.addr16 ? (cpu.regs[3] + (cpu.regs[0] & 0xff)) & 0xffff : (cpu.regs[3] + (cpu.regs[0] & 0xff)) | 0;
  cpu.setReg8(0, cpu.read8(i.seg, off));
};
export const nop: ExecFn = () => {};

// ---------------------------------------------------------------------------------------------
// Stack
// ---------------------------------------------------------------------------------------------
export const pushR32: ExecFn = (cpu, i) => cpu.push32(cpu.regs[i.reg]);
export const popR32: ExecFn = (cpu, i) => { const v = cpu.pop32(); cpu.regs[i.reg] = v; };
export const pushR: ExecFn = (cpu, i) => cpu.push(cpu.getReg(i.reg, i.size), i.size);
export const popR: ExecFn = (cpu, i) => { const v = cpu.pop(i.size); cpu.setReg(i.reg, i.size, v); };
export const pushI: ExecFn = (cpu, i) => cpu.push(i.imm, i.size);
export const pushE: ExecFn = (cpu, i) => cpu.push(readE(cpu, i, i.size), i.size);
/** ESP after releasing `n` bytes: SP wraps in 16 bits on a 16-bit stack segment (SS.B = 0), the upper half kept. */
function releaseStack(cpu: Cpu, n: number, stack32 = cpu.stack32): number {
  const esp = cpu.regs[ESP];
  return stack32 ? (esp + n) | 0 : (esp & ~0xffff) | ((esp + n) & 0xffff);
}
/** POP r/m: ESP is incremented before the destination address is computed (SDM). */
export const popE: ExecFn = (cpu, i) => {
  const v = cpu.peek(0, i.size);
  const esp = cpu.regs[ESP];
  cpu.regs[ESP] = releaseStack(cpu, i.size);
  try { writeE(cpu, i, i.size, v); } catch (e) { cpu.regs[ESP] = esp; throw e; }
};
export const pusha: ExecFn = (cpu, i) => {
  const r = cpu.regs, s = i.size;
  cpu.probeWrite(SS, (r[ESP] - 8 * s) | 0, 8 * s);
  const esp = r[ESP];
  for (let k = 0; k < 8; k++) cpu.push(k === ESP ? esp : r[k], s);
};
export const popa: ExecFn = (cpu, i) => {
  const s = i.size, vals: number[] = [];
  for (let k = 0; k < 8; k++) vals.push(cpu.peek(k * s, s));
  for (let k = 0; k < 8; k++) if (7 - k !== ESP) cpu.setReg(7 - k, s, vals[k]);
  cpu.regs[ESP] = releaseStack(cpu, 8 * s);
};
/**
 * ENTER imm16, imm8. Every stack address is an offset in SS of the stack's size (SP and BP on a
 * 16-bit stack: the frame pointers of the outer levels are read through BP - size·k). A write at the
 * final stack pointer is checked first (SDM: #PF "if a write using the final value of the stack
 * pointer would cause a page fault"), and the registers change only once every access has
 * succeeded. FrameTemp is ESP - size; EBP/BP takes it at the operand size, ESP/SP the final value at
 * the stack size (as QEMU's gen_enter).
 */
export const enter: ExecFn = (cpu, i) => {
  const size = i.size, alloc = i.imm & 0xffff, level = i.imm2 & 31;
  const r = cpu.regs, stack32 = cpu.stack32;
  const off = (v: number) => (stack32 ? v | 0 : v & 0xffff);
  const frame = (r[ESP] - size) | 0;
  const final = (frame - size * level - alloc) | 0;
  cpu.probeWrite(SS, off(final), size);
  cpu.write(SS, off(frame), size, r[5]);
  for (let k = 1; k < level; k++) cpu.write(SS, off(frame - size * k), size, cpu.read(SS, off(r[5] - size * k), size));
  if (level > 0) cpu.write(SS, off(frame - size * level), size, frame);
  r[5] = size === 4 ? frame : (r[5] & ~0xffff) | (frame & 0xffff);
  r[ESP] = stack32 ? final : (r[ESP] & ~0xffff) | (final & 0xffff);
};
export const leave: ExecFn = (cpu, i) => {
  const r = cpu.regs;
  const bp = cpu.stack32 ? r[5] : r[5] & 0xffff;
  const v = cpu.read(SS, bp, i.size);
  r[ESP] = cpu.stack32 ? (bp + i.size) | 0 : (r[ESP] & ~0xffff) | ((bp + i.size) & 0xffff);
  cpu.setReg(5, i.size, v);
};

// ---------------------------------------------------------------------------------------------
// Flags
// ---------------------------------------------------------------------------------------------
export const clc: ExecFn = (cpu) => cpu.setFlag(CF, false);
export const stc: ExecFn = (cpu) => cpu.setFlag(CF, true);
export const cmc: ExecFn = (cpu) => cpu.setFlag(CF, cpu.getCF() === 0);
export const cld: ExecFn = (cpu) => cpu.setFlag(DF, false);
export const std: ExecFn = (cpu) => cpu.setFlag(DF, true);
/** CLI/STI: IOPL-sensitive (#GP(0) when CPL > IOPL; no VME/PVI modelled). */
export const cli: ExecFn = (cpu) => {
  if (cpu.cpl > cpu.iopl) throw new CpuFault(GP, 0);
  cpu.setFlag(IF, false);
};
export const sti: ExecFn = (cpu) => {
  if (cpu.cpl > cpu.iopl) throw new CpuFault(GP, 0);
  if (!(cpu.flags & IF)) cpu.irqShadowUntil = cpu.icount + 2; // STI's shadow covers the next instruction
  cpu.setFlag(IF, true);
  cpu.breakBlock = true;
};
export const lahf: ExecFn = (cpu) => cpu.setReg8(4, cpu.getEflags() & 0xff);
export const sahf: ExecFn = (cpu) => {
  cpu.materializeFlags();
  const ah = (cpu.regs[0] >> 8) & (CF | PF | AF | ZF | SF);
  cpu.flags = (cpu.flags & ~(CF | PF | AF | ZF | SF)) | ah;
};
export const pushf: ExecFn = (cpu, i) => {
  // VM and RF are cleared in the image (SDM PUSHF).
  cpu.push(cpu.getEflags() & ~(VM | RF), i.size);
};
/** POPF/POPFD with the SDM's rules for IF, IOPL at every CPL (no VME). */
export const popf: ExecFn = (cpu, i) => {
  const v = cpu.peek(0, i.size);
  const old = cpu.getEflags();
  let mask = CF | PF | AF | ZF | SF | TF | DF | OF | NT;
  if (i.size === 4) mask |= AC | ID;
  if (cpu.cpl === 0) mask |= IF | IOPL;
  else if (cpu.cpl <= cpu.iopl) mask |= IF;
  if (i.size === 2) mask &= 0xffff;
  let f = (old & ~mask) | (v & mask);
  if (i.size === 4) f &= ~RF;
  cpu.regs[ESP] = cpu.stack32 ? (cpu.regs[ESP] + i.size) | 0 : (cpu.regs[ESP] & ~0xffff) | ((cpu.regs[ESP] + i.size) & 0xffff);
  cpu.setEflags(f & ~(VIF | VIP | VM) | (old & (VIF | VIP | VM)));
  cpu.breakBlock = true;
};

// ---------------------------------------------------------------------------------------------
// Control flow (targets were resolved at decode time into `imm`)
// ---------------------------------------------------------------------------------------------
export const jmpRel: ExecFn = (cpu, i) => { cpu.nextEip = (cpu.nextEip + i.imm) >>> 0; if (i.size === 2) cpu.nextEip &= 0xffff; };
export const jcc: ExecFn = (cpu, i) => { if (cpu.cond(i.opcode & 15)) { cpu.nextEip = (cpu.nextEip + i.imm) >>> 0; if (i.size === 2) cpu.nextEip &= 0xffff; } };
export const callRel: ExecFn = (cpu, i) => {
  cpu.push(cpu.nextEip, i.size);
  cpu.nextEip = (cpu.nextEip + i.imm) >>> 0;
  if (i.size === 2) cpu.nextEip &= 0xffff;
};
export const jmpE: ExecFn = (cpu, i) => { cpu.nextEip = readE(cpu, i, i.size) >>> 0; };
export const callE: ExecFn = (cpu, i) => {
  const target = readE(cpu, i, i.size) >>> 0;
  cpu.push(cpu.nextEip, i.size);
  cpu.nextEip = target;
};
export const ret: ExecFn = (cpu, i) => {
  const target = cpu.peek(0, i.size) >>> 0;
  const sp = cpu.regs[ESP] + i.size + (i.imm & 0xffff);
  cpu.regs[ESP] = cpu.stack32 ? sp | 0 : (cpu.regs[ESP] & ~0xffff) | (sp & 0xffff);
  cpu.nextEip = target;
};
/** LOOP/LOOPE/LOOPNE/JECXZ (E0–E3); ECX or CX by address size. */
export const loop: ExecFn = (cpu, i) => {
  const r = cpu.regs;
  let take: boolean;
  if (i.opcode === 0xe3) take = (i.addr16 ? r[1] & 0xffff : r[1]) === 0;
  else {
    let c: number;
    if (i.addr16) { c = (r[1] - 1) & 0xffff; r[1] = (r[1] & ~0xffff) | c; } else { c = r[1] = (r[1] - 1) | 0; }
    take = c !== 0 && (i.opcode === 0xe2 || (i.opcode === 0xe1 ? cpu.getZF() : !cpu.getZF()));
  }
  if (take) { cpu.nextEip = (cpu.nextEip + i.imm) >>> 0; if (i.size === 2) cpu.nextEip &= 0xffff; }
};
export const jmpFar: ExecFn = (cpu, i) => farTransfer(cpu, i.imm2, i.imm, i.size, false);
export const callFar: ExecFn = (cpu, i) => farTransfer(cpu, i.imm2, i.imm, i.size, true);
/** JMP/CALL m16:32 (FF /5, /3). */
export const farIndirect: ExecFn = (cpu, i) => {
  if (i.rm >= 0) throw new CpuFault(UD);
  const a = ea(cpu, i);
  const off = cpu.read(i.seg, a, i.size), sel = cpu.read16(i.seg, (a + i.size) | 0);
  farTransfer(cpu, sel, off >>> 0, i.size, i.reg === 3);
};
export const retFar: ExecFn = (cpu, i) => farReturn(cpu, i.size, i.imm & 0xffff);
export const iretOp: ExecFn = (cpu, i) => iret(cpu, i.size);

/** INT n / INT3 / INTO: software interrupts; the handler returns to the next instruction. */
export const intN: ExecFn = (cpu, i) => cpu.deliverEvent(i.imm, 'software', 0, 0, cpu.nextEip);
export const int3: ExecFn = (cpu) => cpu.deliverEvent(BP, 'software', 0, 0, cpu.nextEip);
export const into: ExecFn = (cpu) => { if (cpu.getOF()) cpu.deliverEvent(OFV, 'software', 0, 0, cpu.nextEip); };
export const bound: ExecFn = (cpu, i) => {
  if (i.rm >= 0) throw new CpuFault(UD);
  const a = ea(cpu, i);
  const idx = sext(cpu.getReg(i.reg, i.size), i.size);
  const lo = sext(cpu.read(i.seg, a, i.size), i.size), hi = sext(cpu.read(i.seg, (a + i.size) | 0, i.size), i.size);
  if (idx < lo || idx > hi) throw new CpuFault(BR);
};

/** Sreg loads: MOV Sreg, r/m16; POP Sreg; LDS/LES/LFS/LGS/LSS. */
export const movSregE: ExecFn = (cpu, i) => cpu.loadSegment(i.reg, readE(cpu, i, 2));
export const movESreg: ExecFn = (cpu, i) => {
  // To a register with 32-bit operand size the upper half is zeroed (modern processors).
  if (i.rm >= 0) cpu.setReg(i.rm, i.size, cpu.segSel[i.reg]);
  else cpu.write16(i.seg, ea(cpu, i), cpu.segSel[i.reg]);
};
export const pushSreg: ExecFn = (cpu, i) => {
  // A 32-bit push of a segment register writes only the low word on current processors.
  if (i.size === 4) {
    const sp = cpu.stack32 ? (cpu.regs[ESP] - 4) | 0 : (cpu.regs[ESP] - 4) & 0xffff;
    cpu.probeWrite(SS, sp, 4);
    cpu.write16(SS, sp, cpu.segSel[i.reg]);
    cpu.regs[ESP] = cpu.stack32 ? sp : (cpu.regs[ESP] & ~0xffff) | sp;
  } else cpu.push16(cpu.segSel[i.reg]);
};
export const popSreg: ExecFn = (cpu, i) => {
  const v = cpu.peek(0, i.size) & 0xffff;
  // POP SS: ESP moves by the size of the stack it was popped from (the old SS), not the new one
  const stack32 = cpu.stack32;
  cpu.loadSegment(i.reg, v);
  cpu.regs[ESP] = releaseStack(cpu, i.size, stack32);
};
/** LDS/LES/LFS/LGS/LSS: `imm` holds the segment register. */
export const loadFarPointer: ExecFn = (cpu, i) => {
  if (i.rm >= 0) throw new CpuFault(UD);
  const a = ea(cpu, i);
  const off = cpu.read(i.seg, a, i.size), sel = cpu.read16(i.seg, (a + i.size) | 0);
  cpu.loadSegment(i.imm, sel);
  cpu.setReg(i.reg, i.size, off);
};

export const ud: ExecFn = () => { throw new CpuFault(UD); };
export { CS, CC_LOGIC, type Insn };
