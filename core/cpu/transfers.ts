/*
 * Protected-mode control transfers that change CS (Intel SDM Vol. 2 pseudocode of CALL, JMP, RET,
 * IRET, INT n, SYSENTER, SYSEXIT; Vol. 3 §5.8, §6.12): gates, privilege checks, the TSS stack switch
 * and returns to outer rings. Every check happens before any state changes, so a fault leaves the
 * instruction restartable.
 */
import { ATTR_DB, ATTR_DPL_SHIFT, ATTR_P, ATTR_S, ATTR_TYPE, Cpu, UnsupportedError } from './cpu';
import { CS, DS, ES, FS, GP, GS, IF, IOPL, NP, NT, RF, SS, SS_VEC, TF, TS, VM, AC, ID, VIF, VIP, hasErrorCode } from './constants';
import { CpuFault } from './fault';
import type { EventKind } from './monitor';

const DPL = (attr: number) => (attr >> ATTR_DPL_SHIFT) & 3;
const isCode = (attr: number) => (attr & ATTR_S) !== 0 && (attr & 8) !== 0;
const isConforming = (attr: number) => (attr & 0x1c) === 0x1c;

/** A descriptor fetched and decoded. */
interface Desc { lo: number; hi: number; attr: number; base: number; limit: number }
function fetch(cpu: Cpu, sel: number, fault = GP, ext = 0): Desc {
  let lo: number, hi: number;
  try {
    [lo, hi] = cpu.readDescriptor(sel, fault);
  } catch (e) {
    if (e instanceof CpuFault && ext && e.vector === fault) throw new CpuFault(fault, e.errorCode | ext);
    throw e;
  }
  return { lo, hi, attr: Cpu.descAttr(hi), base: Cpu.descBase(lo, hi), limit: Cpu.descLimit(lo, hi) };
}

/** Reads the ring-`dpl` stack (SS:ESP) from the current 32-bit TSS. */
function tssStack(cpu: Cpu, dpl: number, ext: number): [number, number] {
  const type = cpu.trAttr & ATTR_TYPE;
  if ((cpu.trAttr & ATTR_P) === 0) throw new CpuFault(TS, (cpu.trSel & 0xfffc) | ext);
  if (type === 0x9 || type === 0xb) {
    const off = 4 + dpl * 8;
    if (off + 5 > cpu.trLimit) throw new CpuFault(TS, (cpu.trSel & 0xfffc) | ext);
    return [cpu.readSys16((cpu.trBase + off + 4) | 0), cpu.readSys32((cpu.trBase + off) | 0)];
  }
  if (type === 0x1 || type === 0x3) {
    const off = 2 + dpl * 4;
    if (off + 3 > cpu.trLimit) throw new CpuFault(TS, (cpu.trSel & 0xfffc) | ext);
    return [cpu.readSys16((cpu.trBase + off + 2) | 0), cpu.readSys16((cpu.trBase + off) | 0)];
  }
  throw new CpuFault(TS, (cpu.trSel & 0xfffc) | ext);
}

/** Checks a new stack segment for a privilege change to `dpl` (#TS on failure, #SS if not present). */
function checkNewSs(cpu: Cpu, ss: number, dpl: number, ext: number): Desc {
  if ((ss & 0xfffc) === 0) throw new CpuFault(TS, ext);
  const d = fetch(cpu, ss, TS, ext);
  const type = d.attr & ATTR_TYPE;
  if ((ss & 3) !== dpl || DPL(d.attr) !== dpl || !(d.attr & ATTR_S) || (type & 8) || !(type & 2)) throw new CpuFault(TS, (ss & 0xfffc) | ext);
  if (!(d.attr & ATTR_P)) throw new CpuFault(SS_VEC, (ss & 0xfffc) | ext);
  return d;
}

/** Writes a sequence of values (size 2 or 4) below `sp` on the stack described by `base/limit/big`. */
function pushFrame(cpu: Cpu, ssBase: number, sp: number, big: boolean, size: number, values: number[], user: boolean): number {
  for (const v of values) {
    sp = big ? (sp - size) | 0 : (sp - size) & 0xffff;
    const lin = (ssBase + sp) | 0;
    if (size === 4) cpu.writeLinear32(lin, v, user); else cpu.writeLinear16(lin, v, user);
  }
  return sp;
}

/** Loads CS from a descriptor (hidden part), with RPL forced to the new CPL. */
function setCs(cpu: Cpu, sel: number, d: Desc, cpl: number): void {
  cpu.setDescriptorAccessed(sel, d.hi);
  cpu.setSegmentCache(CS, (sel & 0xfffc) | cpl, d.base, d.limit, d.attr | 1);
}
function setSs(cpu: Cpu, sel: number, d: Desc): void {
  cpu.setDescriptorAccessed(sel, d.hi);
  cpu.setSegmentCache(SS, sel, d.base, d.limit, d.attr | 1);
}
function setEsp(cpu: Cpu, sp: number): void {
  if (cpu.stack32) cpu.regs[4] = sp; else cpu.regs[4] = (cpu.regs[4] & ~0xffff) | (sp & 0xffff);
}

/** After a return to an outer ring: data segments the new CPL may not use become null (SDM RET/IRET). */
function nullInaccessibleSegments(cpu: Cpu): void {
  for (const s of [ES, DS, FS, GS]) {
    const a = cpu.segAttr[s];
    if (!(a & ATTR_P)) continue;
    const dataOrNonconforming = !(a & 8) || !(a & 4);
    if (dataOrNonconforming && DPL(a) < cpu.cpl) cpu.setSegmentCache(s, 0, 0, 0, 0);
  }
}

/**
 * Delivers an interrupt or exception through an interrupt or trap gate of the IDT (SDM Vol. 3 §6.12).
 * Software interrupts (INT n, INT3, INTO) check the gate's DPL against CPL.
 */
export function deliverThroughIdt(cpu: Cpu, vector: number, kind: EventKind, errorCode: number, returnEip: number): void {
  const ext = kind === 'software' ? 0 : 1;
  const idtErr = vector * 8 + 2 + ext;
  if (vector * 8 + 7 > cpu.idtrLimit) throw new CpuFault(GP, idtErr);
  const lin = (cpu.idtrBase + vector * 8) | 0;
  const lo = cpu.readSys32(lin), hi = cpu.readSys32((lin + 4) | 0);
  const type = (hi >> 8) & 0x1f, gateDpl = (hi >> 13) & 3;
  if (type === 0x05) throw new UnsupportedError(`task gate in IDT vector ${vector}: task switching is not modelled`);
  if (type !== 0x0e && type !== 0x0f && type !== 0x06 && type !== 0x07) throw new CpuFault(GP, idtErr);
  if (kind === 'software' && gateDpl < cpu.cpl) throw new CpuFault(GP, idtErr);
  if (!(hi & 0x8000)) throw new CpuFault(NP, idtErr);
  const gate32 = (type & 8) !== 0, trapGate = (type & 1) !== 0;
  const sel = lo >>> 16, offset = gate32 ? ((hi & 0xffff0000) | (lo & 0xffff)) >>> 0 : lo & 0xffff;
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, ext);
  const cd = fetch(cpu, sel, GP, ext);
  const dpl = DPL(cd.attr);
  if (!isCode(cd.attr) || dpl > cpu.cpl) throw new CpuFault(GP, (sel & 0xfffc) | ext);
  if (!(cd.attr & ATTR_P)) throw new CpuFault(NP, (sel & 0xfffc) | ext);
  if (offset > cd.limit) throw new CpuFault(GP, ext);
  const size = gate32 ? 4 : 2;
  const eflags = cpu.getEflags();
  const withError = kind === 'exception' && hasErrorCode(vector);
  if (!isConforming(cd.attr) && dpl < cpu.cpl) {
    // Inter-privilege: new stack from the TSS, old SS:ESP pushed first.
    const [newSs, newEsp] = tssStack(cpu, dpl, ext);
    const sd = checkNewSs(cpu, newSs, dpl, ext);
    const frame = [cpu.segSel[SS], cpu.regs[4], eflags, cpu.segSel[CS], returnEip];
    if (withError) frame.push(errorCode);
    const big = (sd.attr & ATTR_DB) !== 0;
    let sp: number;
    try {
      sp = pushFrame(cpu, sd.base, newEsp, big, size, frame, false);
    } catch (e) {
      if (e instanceof CpuFault && e.vector === GP) throw new CpuFault(SS_VEC, (newSs & 0xfffc) | ext);
      throw e;
    }
    setSs(cpu, newSs, sd);
    cpu.regs[4] = big ? sp : (cpu.regs[4] & ~0xffff) | sp;
    setCs(cpu, sel, cd, dpl);
  } else {
    const frame = [eflags, cpu.segSel[CS], returnEip];
    if (withError) frame.push(errorCode);
    const sp = pushFrame(cpu, cpu.segBase[SS], cpu.regs[4], cpu.stack32, size, frame, cpu.cpl === 3);
    setEsp(cpu, sp);
    setCs(cpu, sel, cd, cpu.cpl);
  }
  cpu.eip = offset;
  cpu.nextEip = offset;
  let f = cpu.getEflags() & ~(TF | NT | RF | VM);
  if (!trapGate) f &= ~IF;
  cpu.setEflags(f);
  cpu.breakBlock = true;
}

/** Far JMP or CALL to sel:offset (direct code segment or call gate). */
export function farTransfer(cpu: Cpu, sel: number, offset: number, size: number, isCall: boolean): void {
  sel &= 0xffff;
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const d = fetch(cpu, sel);
  const rpl = sel & 3, cpl = cpu.cpl;
  if (d.attr & ATTR_S) {
    if (!(d.attr & 8)) throw new CpuFault(GP, sel & 0xfffc);
    if (isConforming(d.attr)) { if (DPL(d.attr) > cpl) throw new CpuFault(GP, sel & 0xfffc); }
    else if (rpl > cpl || DPL(d.attr) !== cpl) throw new CpuFault(GP, sel & 0xfffc);
    if (!(d.attr & ATTR_P)) throw new CpuFault(NP, sel & 0xfffc);
    if (size === 2) offset &= 0xffff;
    if ((offset >>> 0) > d.limit) throw new CpuFault(GP, 0);
    if (isCall) {
      // Check both pushes before changing anything.
      cpu.probeWrite(SS, (cpu.regs[4] - 2 * size) | 0, 2 * size);
      cpu.push(cpu.segSel[CS], size);
      cpu.push(cpu.nextEip, size);
    }
    setCs(cpu, sel, d, cpl);
    cpu.nextEip = offset >>> 0;
    cpu.breakBlock = true;
    return;
  }
  const type = d.attr & ATTR_TYPE;
  if (type === 0x1 || type === 0x9 || type === 0x5) throw new UnsupportedError('far transfer to a TSS or task gate: task switching is not modelled');
  if (type !== 0xc && type !== 0x4) throw new CpuFault(GP, sel & 0xfffc);
  // Call gate.
  if (DPL(d.attr) < cpl || DPL(d.attr) < rpl) throw new CpuFault(GP, sel & 0xfffc);
  if (!(d.attr & ATTR_P)) throw new CpuFault(NP, sel & 0xfffc);
  const gate32 = type === 0xc, gsize = gate32 ? 4 : 2;
  const tsel = d.lo >>> 16, toff = gate32 ? ((d.hi & 0xffff0000) | (d.lo & 0xffff)) >>> 0 : d.lo & 0xffff;
  const params = d.hi & 0x1f;
  if ((tsel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const cd = fetch(cpu, tsel);
  const dpl = DPL(cd.attr);
  if (!isCode(cd.attr) || dpl > cpl) throw new CpuFault(GP, tsel & 0xfffc);
  if (!isCall && !isConforming(cd.attr) && dpl !== cpl) throw new CpuFault(GP, tsel & 0xfffc);
  if (!(cd.attr & ATTR_P)) throw new CpuFault(NP, tsel & 0xfffc);
  if (toff > cd.limit) throw new CpuFault(GP, 0);
  if (isCall && !isConforming(cd.attr) && dpl < cpl) {
    const [newSs, newEsp] = tssStack(cpu, dpl, 0);
    const sd = checkNewSs(cpu, newSs, dpl, 0);
    const oldSsBase = cpu.segBase[SS], oldEsp = cpu.regs[4];
    const args: number[] = [];
    for (let i = params - 1; i >= 0; i--) {
      const lin = (oldSsBase + (cpu.stack32 ? oldEsp : oldEsp & 0xffff) + i * gsize) | 0;
      args.push(gsize === 4 ? cpu.readLinear32(lin, cpl === 3) : cpu.readLinear16(lin, cpl === 3));
    }
    const frame = [cpu.segSel[SS], oldEsp, ...args, cpu.segSel[CS], cpu.nextEip];
    const big = (sd.attr & ATTR_DB) !== 0;
    const sp = pushFrame(cpu, sd.base, newEsp, big, gsize, frame, false);
    setSs(cpu, newSs, sd);
    cpu.regs[4] = big ? sp : (cpu.regs[4] & ~0xffff) | sp;
    setCs(cpu, tsel, cd, dpl);
  } else {
    if (isCall) {
      cpu.probeWrite(SS, (cpu.regs[4] - 2 * gsize) | 0, 2 * gsize);
      cpu.push(cpu.segSel[CS], gsize);
      cpu.push(cpu.nextEip, gsize);
    }
    setCs(cpu, tsel, cd, cpl);
  }
  cpu.nextEip = toff;
  cpu.breakBlock = true;
}

/** Far RET [imm16] (SDM RET pseudocode, protected mode). */
export function farReturn(cpu: Cpu, size: number, imm: number): void {
  const newEip = cpu.peek(0, size) >>> 0, sel = cpu.peek(size, size) & 0xffff;
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const d = fetch(cpu, sel);
  const rpl = sel & 3, cpl = cpu.cpl;
  if (rpl < cpl || !isCode(d.attr)) throw new CpuFault(GP, sel & 0xfffc);
  if (isConforming(d.attr) ? DPL(d.attr) > rpl : DPL(d.attr) !== rpl) throw new CpuFault(GP, sel & 0xfffc);
  if (!(d.attr & ATTR_P)) throw new CpuFault(NP, sel & 0xfffc);
  const eip = size === 2 ? newEip & 0xffff : newEip;
  if (eip > d.limit) throw new CpuFault(GP, 0);
  if (rpl === cpl) {
    setEsp(cpu, cpu.regs[4] + 2 * size + imm);
    setCs(cpu, sel, d, cpl);
  } else {
    const newEsp = cpu.peek(2 * size + imm, size), newSs = cpu.peek(3 * size + imm, size) & 0xffff;
    const sd = checkOuterSs(cpu, newSs, rpl);
    setCs(cpu, sel, d, rpl);
    setSs(cpu, newSs, sd);
    cpu.regs[4] = (sd.attr & ATTR_DB) ? (newEsp + imm) | 0 : (cpu.regs[4] & ~0xffff) | ((newEsp + imm) & 0xffff);
    nullInaccessibleSegments(cpu);
  }
  cpu.nextEip = eip;
  cpu.breakBlock = true;
}

/** The SS popped by a return to an outer ring (#GP(selector) checks of RET/IRET). */
function checkOuterSs(cpu: Cpu, ss: number, rpl: number): Desc {
  if ((ss & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const d = fetch(cpu, ss);
  const type = d.attr & ATTR_TYPE;
  if ((ss & 3) !== rpl || DPL(d.attr) !== rpl || !(d.attr & ATTR_S) || (type & 8) || !(type & 2)) throw new CpuFault(GP, ss & 0xfffc);
  if (!(d.attr & ATTR_P)) throw new CpuFault(SS_VEC, ss & 0xfffc);
  return d;
}

/** IRET/IRETD in protected mode (SDM IRET pseudocode; nested tasks and V86 are not modelled). */
export function iret(cpu: Cpu, size: number): void {
  if (cpu.getEflags() & NT) throw new UnsupportedError('IRET with NT = 1 (task return) is not modelled');
  const newEip = cpu.peek(0, size) >>> 0, sel = cpu.peek(size, size) & 0xffff, tempFlags = cpu.peek(2 * size, size);
  const cpl = cpu.cpl;
  if (size === 4 && (tempFlags & VM) && cpl === 0) throw new UnsupportedError('IRET to virtual-8086 mode is not modelled');
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  const d = fetch(cpu, sel);
  const rpl = sel & 3;
  if (rpl < cpl || !isCode(d.attr)) throw new CpuFault(GP, sel & 0xfffc);
  if (isConforming(d.attr) ? DPL(d.attr) > rpl : DPL(d.attr) !== rpl) throw new CpuFault(GP, sel & 0xfffc);
  if (!(d.attr & ATTR_P)) throw new CpuFault(NP, sel & 0xfffc);
  const eip = size === 2 ? newEip & 0xffff : newEip;
  if (eip > d.limit) throw new CpuFault(GP, 0);
  let newSs = 0, newEsp = 0, sd: Desc | undefined;
  if (rpl > cpl) {
    newEsp = cpu.peek(3 * size, size);
    newSs = cpu.peek(4 * size, size) & 0xffff;
    sd = checkOuterSs(cpu, newSs, rpl);
  }
  // EFLAGS, with the CPL before the return deciding IF and IOPL (SDM: "IF CPL ≤ IOPL …", "IF CPL = 0 …").
  const old = cpu.getEflags();
  let mask = 0x0cd5 | 0x100 | NT; // CF PF AF ZF SF TF DF OF NT (0x0cd5 = CF|PF|AF|ZF|SF|DF|OF)
  if (size === 4) mask |= RF | AC | ID;
  if (cpl <= ((old & IOPL) >> 12)) mask |= IF;
  if (cpl === 0) { mask |= IOPL; if (size === 4) mask |= VIF | VIP; }
  if (size === 2) mask &= 0xffff;
  const flags = (old & ~mask) | (tempFlags & mask);
  if (sd) {
    setCs(cpu, sel, d, rpl);
    setSs(cpu, newSs, sd);
    cpu.regs[4] = (sd.attr & ATTR_DB) ? newEsp : (cpu.regs[4] & ~0xffff) | (newEsp & 0xffff);
    nullInaccessibleSegments(cpu);
  } else {
    setEsp(cpu, cpu.regs[4] + 3 * size);
    setCs(cpu, sel, d, cpl);
  }
  cpu.setEflags(flags);
  cpu.nextEip = eip;
  cpu.breakBlock = true;
}

/** SYSENTER (SDM: flat CS/SS from IA32_SYSENTER_CS, ring 0, IF and VM cleared). */
export function sysenter(cpu: Cpu): void {
  const cs = cpu.msr.sysenterCs & 0xfffc;
  if (cs === 0) throw new CpuFault(GP, 0);
  cpu.setEflags(cpu.getEflags() & ~(VM | IF | RF));
  cpu.setSegmentCache(CS, cs, 0, 0xffffffff, 0xcf9b);
  cpu.setSegmentCache(SS, (cs + 8) & 0xfffc, 0, 0xffffffff, 0xcf93);
  cpu.regs[4] = cpu.msr.sysenterEsp;
  cpu.nextEip = cpu.msr.sysenterEip >>> 0;
  cpu.breakBlock = true;
}

/** SYSEXIT: back to ring 3 at EDX with ESP = ECX; #GP(0) at CPL > 0 or with SYSENTER_CS = 0. */
export function sysexit(cpu: Cpu): void {
  const cs = cpu.msr.sysenterCs & 0xfffc;
  if (cpu.cpl !== 0 || cs === 0) throw new CpuFault(GP, 0);
  cpu.setSegmentCache(CS, (cs + 16) | 3, 0, 0xffffffff, 0xcffb);
  cpu.setSegmentCache(SS, (cs + 24) | 3, 0, 0xffffffff, 0xcff3);
  cpu.regs[4] = cpu.regs[1];
  cpu.nextEip = cpu.regs[2] >>> 0;
  cpu.breakBlock = true;
}

/** Segment-info instructions need the descriptor without raising faults: LAR/LSL/VERR/VERW. */
export function probeDescriptor(cpu: Cpu, sel: number): Desc | undefined {
  if ((sel & 0xfffc) === 0) return undefined;
  try { return fetch(cpu, sel); } catch (e) { if (e instanceof CpuFault && e.vector === GP) return undefined; throw e; }
}
export { DPL, isConforming, isCode };
