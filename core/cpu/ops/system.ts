/*
 * System instructions: I/O, HLT, control/debug registers, descriptor tables, MSRs, CPUID, RDTSC,
 * segment-information instructions (LAR, LSL, VERR, VERW, ARPL), SYSENTER/SYSEXIT.
 */
import {
  CR0_TS, CR4_DE, CR4_PCE, CR4_TSD, GP, NP, UD, ZF,
} from '../constants';
import { ATTR_P, ATTR_S, ATTR_TYPE, Cpu } from '../cpu';
import { CpuFault } from '../fault';
import type { ExecFn } from '../insn';
import { DPL, isConforming, probeDescriptor, sysenter as doSysenter, sysexit as doSysexit } from '../transfers';
import { ea, readE, writeE } from './operands';

function requireCpl0(cpu: Cpu): void {
  if (cpu.cpl !== 0) throw new CpuFault(GP, 0);
}

/** IOPL, then the TSS I/O permission bitmap (SDM Vol. 1 §19.5). */
export function checkIoPermission(cpu: Cpu, port: number, size: number): void {
  if (!ioPermitted(cpu, port, size)) throw new CpuFault(GP, 0);
}

/** `checkIoPermission` as a verdict (a monitor asks before the access instead of catching the #GP). */
export function ioPermitted(cpu: Cpu, port: number, size: number): boolean {
  if (cpu.cpl <= cpu.iopl) return true;
  const type = cpu.trAttr & ATTR_TYPE;
  if (!(cpu.trAttr & ATTR_P) || (type !== 9 && type !== 0xb) || cpu.trLimit < 103) return false;
  const mapBase = cpu.readSys16((cpu.trBase + 102) | 0);
  const byte = mapBase + (port >>> 3);
  if (byte + 1 > cpu.trLimit) return false;
  const bits = cpu.readSys16((cpu.trBase + byte) | 0);
  return ((bits >>> (port & 7)) & ((1 << size) - 1)) === 0;
}

// ---- I/O: imm = port for the immediate forms, -1 for DX ----
export const inOp: ExecFn = (cpu, i) => {
  const port = i.imm >= 0 ? i.imm : cpu.regs[2] & 0xffff;
  checkIoPermission(cpu, port, i.size);
  cpu.setReg(0, i.size, cpu.io.in(port, i.size as 1 | 2 | 4));
};
export const outOp: ExecFn = (cpu, i) => {
  const port = i.imm >= 0 ? i.imm : cpu.regs[2] & 0xffff;
  checkIoPermission(cpu, port, i.size);
  cpu.io.out(port, i.size as 1 | 2 | 4, cpu.getReg(0, i.size) >>> 0);
};

export const hlt: ExecFn = (cpu) => {
  requireCpl0(cpu);
  cpu.halted = true;
  cpu.breakBlock = true;
};

// ---- control and debug registers ----
export const movFromCr: ExecFn = (cpu, i) => {
  requireCpl0(cpu);
  const v = [cpu.cr0, -1, cpu.cr2, cpu.cr3, cpu.cr4][i.reg];
  if (v === undefined || i.reg === 1) throw new CpuFault(UD);
  cpu.regs[i.rm] = v;
};
export const movToCr: ExecFn = (cpu, i) => {
  requireCpl0(cpu);
  const v = cpu.regs[i.rm];
  switch (i.reg) {
    case 0: cpu.setCr0(v); break;
    case 2: cpu.cr2 = v; break;
    case 3: cpu.setCr3(v); break;
    case 4: cpu.setCr4(v); break;
    default: throw new CpuFault(UD);
  }
};
function drIndex(cpu: Cpu, n: number): number {
  if (n === 4 || n === 5) {
    if (cpu.cr4 & CR4_DE) throw new CpuFault(UD);
    return n + 2;
  }
  return n;
}
export const movFromDr: ExecFn = (cpu, i) => {
  requireCpl0(cpu);
  const n = drIndex(cpu, i.reg);
  cpu.regs[i.rm] = n === 6 ? cpu.dr[6] | 0xffff0ff0 : n === 7 ? cpu.dr[7] | 0x400 : cpu.dr[n];
};
export const movToDr: ExecFn = (cpu, i) => {
  requireCpl0(cpu);
  cpu.dr[drIndex(cpu, i.reg)] = cpu.regs[i.rm];
};
export const clts: ExecFn = (cpu) => { requireCpl0(cpu); cpu.cr0 &= ~CR0_TS; };
export const lmsw: ExecFn = (cpu, i) => {
  requireCpl0(cpu);
  const v = readE(cpu, i, 2);
  // LMSW loads PE, MP, EM, TS; it can set PE but never clear it.
  cpu.setCr0((cpu.cr0 & ~0xe) | (v & 0xf) | (cpu.cr0 & 1));
};
export const smsw: ExecFn = (cpu, i) => {
  if (i.rm >= 0) cpu.setReg(i.rm, i.size, cpu.cr0);
  else cpu.write16(i.seg, ea(cpu, i), cpu.cr0);
};
export const invlpg: ExecFn = (cpu, i) => {
  if (i.rm >= 0) throw new CpuFault(UD);
  requireCpl0(cpu);
  cpu.invalidatePage((cpu.segBase[i.seg] + ea(cpu, i)) | 0);
};
export const cacheOp: ExecFn = (cpu) => requireCpl0(cpu);

// ---- descriptor tables ----
export const lgdtLidt: ExecFn = (cpu, i) => {
  if (i.rm >= 0) throw new CpuFault(UD);
  requireCpl0(cpu);
  const a = ea(cpu, i);
  const limit = cpu.read16(i.seg, a);
  let base = cpu.read32(i.seg, (a + 2) | 0);
  if (i.size === 2) base &= 0xffffff;
  if (i.reg === 2) { cpu.gdtrBase = base; cpu.gdtrLimit = limit; } else { cpu.idtrBase = base; cpu.idtrLimit = limit; }
};
export const sgdtSidt: ExecFn = (cpu, i) => {
  if (i.rm >= 0) throw new CpuFault(UD);
  const a = ea(cpu, i);
  cpu.probeWrite(i.seg, a, 6);
  const [base, limit] = i.reg === 0 ? [cpu.gdtrBase, cpu.gdtrLimit] : [cpu.idtrBase, cpu.idtrLimit];
  cpu.write16(i.seg, a, limit);
  cpu.write32(i.seg, (a + 2) | 0, base);
};
export const sldt: ExecFn = (cpu, i) => writeSel(cpu, i, cpu.ldtrSel);
export const str: ExecFn = (cpu, i) => writeSel(cpu, i, cpu.trSel);
function writeSel(cpu: Cpu, i: Parameters<ExecFn>[1], sel: number): void {
  if (i.rm >= 0) cpu.setReg(i.rm, i.size, sel);
  else cpu.write16(i.seg, ea(cpu, i), sel);
}
export const lldt: ExecFn = (cpu, i) => {
  requireCpl0(cpu);
  const sel = readE(cpu, i, 2);
  if ((sel & 0xfffc) === 0) { cpu.ldtrSel = sel; cpu.ldtrBase = 0; cpu.ldtrLimit = 0; cpu.ldtrAttr = 0; return; }
  if (sel & 4) throw new CpuFault(GP, sel & 0xfffc);
  const [lo, hi] = cpu.readDescriptor(sel);
  const attr = Cpu.descAttr(hi);
  if ((attr & ATTR_S) || (attr & ATTR_TYPE) !== 2) throw new CpuFault(GP, sel & 0xfffc);
  if (!(attr & ATTR_P)) throw new CpuFault(NP, sel & 0xfffc);
  cpu.ldtrSel = sel; cpu.ldtrBase = Cpu.descBase(lo, hi); cpu.ldtrLimit = Cpu.descLimit(lo, hi); cpu.ldtrAttr = attr;
};
export const ltr: ExecFn = (cpu, i) => {
  requireCpl0(cpu);
  const sel = readE(cpu, i, 2);
  if ((sel & 0xfffc) === 0) throw new CpuFault(GP, 0);
  if (sel & 4) throw new CpuFault(GP, sel & 0xfffc);
  const [lo, hi] = cpu.readDescriptor(sel);
  const attr = Cpu.descAttr(hi), type = attr & ATTR_TYPE;
  if ((attr & ATTR_S) || (type !== 9 && type !== 1)) throw new CpuFault(GP, sel & 0xfffc);
  if (!(attr & ATTR_P)) throw new CpuFault(NP, sel & 0xfffc);
  // Mark the TSS busy in the GDT.
  cpu.writeSys32((cpu.gdtrBase + (sel & 0xfff8) + 4) | 0, hi | 0x200);
  cpu.trSel = sel; cpu.trBase = Cpu.descBase(lo, hi); cpu.trLimit = Cpu.descLimit(lo, hi); cpu.trAttr = attr | 2;
};

// ---- segment information (never fault on a bad selector: they report through ZF) ----
function visible(cpu: Cpu, sel: number, attr: number): boolean {
  if ((attr & ATTR_S) && isConforming(attr)) return true;
  return DPL(attr) >= cpu.cpl && DPL(attr) >= (sel & 3);
}
function setZf(cpu: Cpu, on: boolean): void { cpu.setFlag(ZF, on); }
const LAR_SYSTEM_TYPES = new Set([1, 2, 3, 4, 5, 9, 0xb, 0xc]);
const LSL_SYSTEM_TYPES = new Set([1, 2, 3, 9, 0xb]);
export const lar: ExecFn = (cpu, i) => {
  const sel = readE(cpu, i, 2);
  const d = probeDescriptor(cpu, sel);
  const ok = d !== undefined && ((d.attr & ATTR_S) || LAR_SYSTEM_TYPES.has(d.attr & ATTR_TYPE)) && visible(cpu, sel, d.attr);
  setZf(cpu, !!ok);
  if (ok) cpu.setReg(i.reg, i.size, i.size === 4 ? d!.hi & 0x00ffff00 : d!.hi & 0xff00);
};
export const lsl: ExecFn = (cpu, i) => {
  const sel = readE(cpu, i, 2);
  const d = probeDescriptor(cpu, sel);
  const ok = d !== undefined && ((d.attr & ATTR_S) || LSL_SYSTEM_TYPES.has(d.attr & ATTR_TYPE)) && visible(cpu, sel, d.attr);
  setZf(cpu, !!ok);
  if (ok) cpu.setReg(i.reg, i.size, d!.limit | 0);
};
export const verrVerw: ExecFn = (cpu, i) => {
  const sel = readE(cpu, i, 2);
  const d = probeDescriptor(cpu, sel);
  let ok = false;
  if (d && (d.attr & ATTR_S) && visible(cpu, sel, d.attr)) {
    const type = d.attr & ATTR_TYPE;
    ok = i.reg === 4 ? (!(type & 8) || (type & 2) !== 0) : (!(type & 8) && (type & 2) !== 0);
  }
  setZf(cpu, ok);
};
export const arpl: ExecFn = (cpu, i) => {
  const src = cpu.getReg(i.reg, 2);
  let done = false;
  const dst = readE(cpu, i, 2);
  if ((dst & 3) < (src & 3)) { writeE(cpu, i, 2, (dst & ~3) | (src & 3)); done = true; }
  setZf(cpu, done);
};

// ---- MSRs, time, identification ----
export const rdmsr: ExecFn = (cpu) => {
  requireCpl0(cpu);
  const v = cpu.readMsr(cpu.regs[1]);
  cpu.regs[0] = Number(v & 0xffffffffn) | 0;
  cpu.regs[2] = Number((v >> 32n) & 0xffffffffn) | 0;
};
export const wrmsr: ExecFn = (cpu) => {
  requireCpl0(cpu);
  cpu.writeMsr(cpu.regs[1], (BigInt(cpu.regs[2] >>> 0) << 32n) | BigInt(cpu.regs[0] >>> 0));
};
export const rdtsc: ExecFn = (cpu) => {
  if ((cpu.cr4 & CR4_TSD) && cpu.cpl !== 0) throw new CpuFault(GP, 0);
  const t = BigInt(Math.floor(cpu.time + cpu.msr.tscOffset));
  cpu.regs[0] = Number(t & 0xffffffffn) | 0;
  cpu.regs[2] = Number((t >> 32n) & 0xffffffffn) | 0;
};
export const rdpmc: ExecFn = (cpu) => {
  if (!(cpu.cr4 & CR4_PCE) && cpu.cpl !== 0) throw new CpuFault(GP, 0);
  if ((cpu.regs[1] >>> 0) > 1) throw new CpuFault(GP, 0);
  cpu.regs[0] = 0; cpu.regs[2] = 0;
};

/**
 * CPUID: identifies as QEMU's default 32-bit CPU model (qemu32: GenuineIntel, family 6 model 6
 * stepping 3), with the feature bits this CPU really implements (x87 in core/cpu/fpu, FXSAVE; no PAE; the machine's local
 * APIC at 0xFEE00000).
 */
export const CPUID_FEATURES_EDX = (1 << 0) /* FPU */ | (1 << 3) /* PSE */ | (1 << 4) /* TSC */ | (1 << 5) /* MSR */ | (1 << 8) /* CX8 */ | (1 << 9) /* APIC */ |
  (1 << 11) /* SEP */ | (1 << 13) /* PGE */ | (1 << 15) /* CMOV */ | (1 << 24) /* FXSR */;
/** CPUID.1:EAX: family 6, model 6, stepping 3 (the firmware's MP tables copy it). */
export const CPUID_SIGNATURE = 0x663;
export const cpuid: ExecFn = (cpu) => {
  const r = cpu.regs, leaf = r[0] >>> 0;
  const str = (s: string, k: number) => s.charCodeAt(k) | (s.charCodeAt(k + 1) << 8) | (s.charCodeAt(k + 2) << 16) | (s.charCodeAt(k + 3) << 24);
  const vendor = 'GenuineIntel';
  const brand = 'QEMU Virtual CPU version 2.5+'.padEnd(48, '\0');
  if (leaf === 0) { r[0] = 4; r[3] = str(vendor, 0); r[2] = str(vendor, 4); r[1] = str(vendor, 8); }
  else if (leaf === 1) { r[0] = CPUID_SIGNATURE; r[3] = 0x00000800; r[1] = 0; r[2] = CPUID_FEATURES_EDX; }
  else if (leaf === 0x80000000) { r[0] = 0x80000004; r[3] = 0; r[1] = 0; r[2] = 0; }
  else if (leaf >= 0x80000002 && leaf <= 0x80000004) {
    const o = (leaf - 0x80000002) * 16;
    r[0] = str(brand, o); r[3] = str(brand, o + 4); r[1] = str(brand, o + 8); r[2] = str(brand, o + 12);
  } else { r[0] = 0; r[3] = 0; r[1] = 0; r[2] = 0; }
};
export const sysenterOp: ExecFn = (cpu) => doSysenter(cpu);
export const sysexitOp: ExecFn = (cpu) => doSysexit(cpu);
