/*
 * Execution of the x87 escape opcodes D8–DF (one decoded "fpu" instruction with its ModRM) and of
 * FWAIT, on the CPU's X87 (x87.ts). Device-not-available and floating-point-error rules (SDM Vol. 3
 * §2.5, Table 2-2; Vol. 1 §8.7): CR0.EM = 1 or TS = 1 → #NM before anything; a pending unmasked
 * exception → #MF (CR0.NE = 1) or FERR# (NE = 0, IRQ 13 on the PC: the instruction then proceeds)
 * before every waiting instruction, i.e. all but FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE.
 */
import { CR0_EM, CR0_NE, CR0_TS, CS, NM, UD } from '../constants';
import type { Cpu } from '../cpu';
import { CpuFault } from '../fault';
import type { Insn } from '../insn';
import { ea } from '../ops/operands';
import { X87, fromExtended, mathFault, productError, sumError, toExtended } from './x87';
import { transcendental } from './transcendental';
import { fromBcd, toBcd } from './bcd';
export type { X87State } from './x87';

const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;
const IE = 1, ZE = 4;
void C0; void C2; void C3;

const units = new WeakMap<Cpu, X87>();
/** The x87 of `cpu` (created on first use). */
export function x87(cpu: Cpu): X87 {
  let f = units.get(cpu);
  if (!f) units.set(cpu, f = new X87());
  return f;
}

const f32 = new Float32Array(1), f32u = new Uint32Array(f32.buffer);
const f64 = new Float64Array(1), f64u = new Uint32Array(f64.buffer);

function readF32(cpu: Cpu, seg: number, a: number): number { f32u[0] = cpu.read32(seg, a); return f32[0]; }
function readF64(cpu: Cpu, seg: number, a: number): number { f64u[0] = cpu.read32(seg, a); f64u[1] = cpu.read32(seg, (a + 4) | 0); return f64[0]; }
function writeF32(cpu: Cpu, f: X87, seg: number, a: number, v: number): void {
  f32[0] = v;
  if (Number.isFinite(v) && !Number.isFinite(f32[0])) f.raise(8 | 0x20);
  else if (f32[0] !== v && !Number.isNaN(v)) f.raise(0x20);
  cpu.write32(seg, a, f32u[0]);
}
function writeF64(cpu: Cpu, seg: number, a: number, v: number): void {
  f64[0] = v;
  cpu.probeWrite(seg, a, 8);
  cpu.write32(seg, a, f64u[0]); cpu.write32(seg, (a + 4) | 0, f64u[1]);
}
function readBytes(cpu: Cpu, seg: number, a: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let k = 0; k < n; k++) b[k] = cpu.read8(seg, (a + k) | 0);
  return b;
}
function writeBytes(cpu: Cpu, seg: number, a: number, b: Uint8Array): void {
  cpu.probeWrite(seg, a, b.length);
  for (let k = 0; k < b.length; k++) cpu.write8(seg, (a + k) | 0, b[k]);
}
function readInt(cpu: Cpu, seg: number, a: number, size: 2 | 4 | 8): number {
  if (size === 2) return (cpu.read16(seg, a) << 16) >> 16;
  if (size === 4) return cpu.read32(seg, a) | 0;
  return Number((BigInt(cpu.read32(seg, (a + 4) | 0) | 0) << 32n) | BigInt(cpu.read32(seg, a) >>> 0));
}
/** FIST / FISTP: rounded by RC; out of range or NaN → the integer indefinite (IE). */
function writeInt(cpu: Cpu, f: X87, seg: number, a: number, size: 2 | 4 | 8, v: number): void {
  let r = f.round(v);
  const lim = size === 2 ? 0x8000 : size === 4 ? 0x80000000 : 2 ** 63;
  if (Number.isNaN(r) || r >= lim || r < -lim) {
    f.raise(IE); f.sw &= ~C1; r = -lim;
    if (!(f.cw & IE)) return; // unmasked: nothing stored
  }
  if (size === 2) cpu.write16(seg, a, r & 0xffff);
  else if (size === 4) cpu.write32(seg, a, r | 0);
  else {
    const big = BigInt.asUintN(64, BigInt(r));
    cpu.probeWrite(seg, a, 8);
    cpu.write32(seg, a, Number(big & 0xffffffffn) | 0); cpu.write32(seg, (a + 4) | 0, Number(big >> 32n) | 0);
  }
}

/** x + y, x · y, x / y rounded by the control word (the host's result is rounded to nearest). */
function add(f: X87, x: number, y: number): number {
  let r = x + y;
  const e = sumError(x, y, r);
  // An exact zero sum is −0 when rounding down (IEEE 754 §6.3), unless both operands are +0.
  if (r === 0 && ((f.cw >> 10) & 3) === 1 && !(Object.is(x, 0) && Object.is(y, 0))) r = -0;
  const d = f.directed(r, e, Number.isFinite(x) && Number.isFinite(y));
  roundingC1(f, r, e, d);
  return f.result(d, e === 0, x, y);
}
function mul(f: X87, x: number, y: number): number {
  const r = x * y, e = productError(x, y, r);
  const d = f.directed(r, e, Number.isFinite(x) && Number.isFinite(y));
  roundingC1(f, r, e, d);
  return f.result(d, e === 0, x, y);
}
function div(f: X87, x: number, y: number): number {
  if (y === 0 && x !== 0 && Number.isFinite(x)) { f.raise(ZE); return x / y; }
  const q = x / y;
  // sign(exact − q) = sign(x − q·y) · sign(y), with x − q·y computed exactly.
  const p = q * y, residual = (x - p) - productError(q, y, p);
  const e = Math.sign(residual) * Math.sign(y);
  const d = f.directed(q, e, Number.isFinite(x) && Number.isFinite(y));
  // Only the direction matters for C1: the error's size is below half an ulp of q.
  roundingC1(f, q, e * Math.abs(q) * 2 ** -60, d);
  return f.result(d, residual === 0, x, y);
}
export function sqrt(f: X87, x: number): number {
  const r = Math.sqrt(x);
  if (!(r > 0) || !Number.isFinite(r)) return f.result(r, true, x);
  const p = r * r, residual = (x - p) - productError(r, r, p);
  const d = f.directed(r, Math.sign(residual), true);
  roundingC1(f, r, Math.sign(residual) * r * 2 ** -60, d);
  return f.result(d, residual === 0, x);
}

const nanBits = new Float64Array(2), nanWords = new Uint32Array(nanBits.buffer);
/** A NaN operand propagates as it is (both: the larger significand), the x87's rule for QNaNs. */
function propagateNaN(a: number, b: number): number {
  if (a === a) return b;
  if (b === b) return a;
  nanBits[0] = a; nanBits[1] = b;
  const sa = ((nanWords[1] & 0xfffff) * 2 ** 32) + nanWords[0], sb = ((nanWords[3] & 0xfffff) * 2 ** 32) + nanWords[2];
  return sb > sa ? b : a;
}

/** C1 after a rounded result: set when the magnitude was rounded up (SDM Vol. 1 §8.1.3.1). */
function roundingC1(f: X87, exact: number, err: number, r: number): void {
  const diff = (r - exact) - err; // (r − nearest) − (exact − nearest) = r − exact
  f.sw = Number.isFinite(r) && diff !== 0 && Math.sign(diff) === Math.sign(r) ? f.sw | C1 : f.sw & ~C1;
}

/** The arithmetic of /0–/7 (ADD, MUL, COM, COMP, SUB, SUBR, DIV, DIVR) on a, b. */
function arith(f: X87, op: number, a: number, b: number): number {
  if (a !== a || b !== b) { f.sw &= ~C1; return propagateNaN(a, b); }
  switch (op) {
    case 0: return add(f, a, b);
    case 1: return mul(f, a, b);
    case 4: return add(f, a, -b);
    case 5: return add(f, b, -a);
    case 6: return div(f, a, b);
    default: return div(f, b, a);
  }
}

const CONSTANTS = [1, Math.log2(10), Math.LOG2E, Math.PI, Math.log10(2), Math.LN2, 0];

/** Instructions that do not wait for pending exceptions (the FN… forms). */
function nonWaiting(op: number, modrm: number): boolean {
  const reg = (modrm >> 3) & 7, mem = modrm < 0xc0;
  if (op === 0xdb && (modrm === 0xe2 || modrm === 0xe3)) return true;   // FNCLEX, FNINIT
  if (op === 0xdf && modrm === 0xe0) return true;                       // FNSTSW AX
  if (op === 0xd9 && mem && (reg === 6 || reg === 7)) return true;      // FNSTENV, FNSTCW
  if (op === 0xdd && mem && (reg === 6 || reg === 7)) return true;      // FNSAVE, FNSTSW m16
  return false;
}

/** Reports a pending unmasked exception before a waiting instruction (#MF or FERR#). */
function checkPending(cpu: Cpu, f: X87): void {
  if (!f.pending) return;
  if (cpu.cr0 & CR0_NE) throw mathFault();
  f.onFerr(true); // MS-DOS compatible mode: IRQ 13 through the interrupt controller; the instruction goes on
}

export function fwaitExec(cpu: Cpu): void {
  if ((cpu.cr0 & (CR0_TS | 2)) === (CR0_TS | 2)) throw new CpuFault(NM);
  checkPending(cpu, x87(cpu));
}

export function fpuExec(cpu: Cpu, i: Insn): void {
  if (cpu.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(NM);
  const f = x87(cpu), op = i.opcode, modrm = i.modrm, reg = (modrm >> 3) & 7;
  if (!nonWaiting(op, modrm)) checkPending(cpu, f);
  // An unmasked invalid operation or zero divide leaves TOP and the registers as they were (SDM
  // Vol. 1 §8.5.1, §8.5.3): the handler sees the operands. Stores to memory check it themselves.
  const flagsBefore = f.sw;
  f.saveStack();
  if (modrm < 0xc0) execMemory(cpu, f, i, op, reg);
  else execRegister(cpu, f, op, modrm, reg, modrm & 7);
  if (f.sw & ~flagsBefore & ~f.cw & (IE | ZE)) f.restoreStack();
  // Last instruction pointer and opcode (FSTENV / FSAVE), except for the control instructions.
  if (!nonWaiting(op, modrm) && !(op === 0xd9 && modrm < 0xc0 && (reg === 4 || reg === 5))) {
    f.fip = cpu.eip; f.fcs = cpu.segSel[CS]; f.fop = ((op & 7) << 8) | modrm;
    if (modrm < 0xc0) { f.fdp = ea(cpu, i); f.fds = cpu.segSel[i.seg]; }
  }
}

function execMemory(cpu: Cpu, f: X87, i: Insn, op: number, reg: number): void {
  const seg = i.seg, a = ea(cpu, i);
  switch (op) {
    case 0xd8: case 0xdc: case 0xda: case 0xde: {
      const v = op === 0xd8 ? readF32(cpu, seg, a) : op === 0xdc ? readF64(cpu, seg, a) : readInt(cpu, seg, a, op === 0xda ? 4 : 2);
      const st0 = f.get(0);
      if (reg === 2 || reg === 3) { f.compareCodes(st0, v, false); if (reg === 3) f.pop(); return; }
      f.set(0, arith(f, reg, st0, v));
      return;
    }
    case 0xd9:
      switch (reg) {
        case 0: { const v = readF32(cpu, seg, a); f.push(v); return; }
        case 2: writeF32(cpu, f, seg, a, f.get(0)); return;
        case 3: writeF32(cpu, f, seg, a, f.get(0)); f.pop(); return;
        case 4: loadEnv(cpu, f, seg, a); return;
        case 5: f.cw = cpu.read16(seg, a) | 0x40; return;
        case 6: storeEnv(cpu, f, seg, a); f.cw |= 0x3f; return;
        case 7: cpu.write16(seg, a, f.cw); return;
        default: throw new CpuFault(UD);
      }
    case 0xdb:
      switch (reg) {
        case 0: f.push(readInt(cpu, seg, a, 4)); return;
        case 2: writeInt(cpu, f, seg, a, 4, f.get(0)); return;
        case 3: writeInt(cpu, f, seg, a, 4, f.get(0)); f.pop(); return;
        case 5: f.push(fromExtended(readBytes(cpu, seg, a, 10))); return;
        case 7: writeBytes(cpu, seg, a, toExtended(f.get(0))); f.pop(); return;
        default: throw new CpuFault(UD);
      }
    case 0xdd:
      switch (reg) {
        case 0: f.push(readF64(cpu, seg, a)); return;
        case 2: writeF64(cpu, seg, a, f.get(0)); return;
        case 3: writeF64(cpu, seg, a, f.get(0)); f.pop(); return;
        case 4: frstor(cpu, f, seg, a); return;
        case 6: fsave(cpu, f, seg, a); f.init(); return;
        case 7: cpu.write16(seg, a, f.statusWord); return;
        default: throw new CpuFault(UD);
      }
    default: // 0xdf
      switch (reg) {
        case 0: f.push(readInt(cpu, seg, a, 2)); return;
        case 2: writeInt(cpu, f, seg, a, 2, f.get(0)); return;
        case 3: writeInt(cpu, f, seg, a, 2, f.get(0)); f.pop(); return;
        case 4: f.push(fromBcd(f, readBytes(cpu, seg, a, 10))); return;           // FBLD
        case 5: f.push(readInt(cpu, seg, a, 8)); return;
        case 6: {                                                                   // FBSTP
          const underflow = f.isEmpty(0), b = toBcd(f, f.get(0), underflow);
          if (b) { writeBytes(cpu, seg, a, b); f.pop(); }
          return;
        }
        case 7: writeInt(cpu, f, seg, a, 8, f.get(0)); f.pop(); return;
        default: throw new CpuFault(UD);
      }
  }
}

function execRegister(cpu: Cpu, f: X87, op: number, modrm: number, reg: number, n: number): void {
  switch (op) {
    case 0xd8:
      if (reg === 2 || reg === 3) { f.compareCodes(f.get(0), f.get(n), false); if (reg === 3) f.pop(); return; }
      f.set(0, arith(f, reg, f.get(0), f.get(n)));
      return;
    case 0xdc: case 0xde: {
      if (op === 0xde && modrm === 0xd9) { f.compareCodes(f.get(0), f.get(1), false); f.pop(); f.pop(); return; } // FCOMPP
      if (reg === 2 || reg === 3) throw new CpuFault(UD);
      // ST(i) = ST(i) op ST(0); the SUB/SUBR and DIV/DIVR encodings are swapped relative to D8.
      const swapped = reg >= 4 ? reg ^ 1 : reg;
      f.set(n, arith(f, swapped, f.get(n), f.get(0)));
      if (op === 0xde) f.pop();
      return;
    }
    case 0xd9:
      if (reg === 0) { const v = f.get(n); f.push(v); return; }                        // FLD ST(i)
      if (reg === 1) { const a = f.get(0), b = f.get(n); f.set(0, b); f.set(n, a); f.sw &= ~C1; return; } // FXCH
      switch (modrm) {
        case 0xd0: return;                                                              // FNOP
        case 0xe0: f.set(0, -f.get(0)); f.sw &= ~C1; return;                            // FCHS
        case 0xe1: f.set(0, Math.abs(f.get(0))); f.sw &= ~C1; return;                   // FABS
        case 0xe4: f.compareCodes(f.get(0), 0, false); return;                          // FTST
        case 0xe5: fxam(f); return;
        case 0xe8: case 0xe9: case 0xea: case 0xeb: case 0xec: case 0xed: case 0xee:
          f.push(CONSTANTS[modrm - 0xe8]); return;                                       // FLD1 … FLDZ
        case 0xf6: f.top = (f.top - 1) & 7; return;                                     // FDECSTP
        case 0xf7: f.top = (f.top + 1) & 7; return;                                     // FINCSTP
        case 0xfa: f.set(0, sqrt(f, f.get(0))); return;                                 // FSQRT
        case 0xfc: f.set(0, f.round(f.get(0))); return;                                 // FRNDINT
        default: if (!transcendental(f, modrm)) throw new CpuFault(UD); return;          // F2XM1 … FCOS (transcendental.ts)
      }
    case 0xda:
      if (modrm === 0xe9) { f.compareCodes(f.get(0), f.get(1), true); f.pop(); f.pop(); return; } // FUCOMPP
      if (reg < 4) { if (fcmovCondition(cpu, reg)) f.set(0, f.get(n)); return; }         // FCMOVB/E/BE/U
      throw new CpuFault(UD);
    case 0xdb:
      if (modrm === 0xe2) { f.sw &= ~0x80ff; f.onFerr(false); return; }                 // FNCLEX
      if (modrm === 0xe3) { f.init(); return; }                                         // FNINIT
      if (reg < 4) { if (!fcmovCondition(cpu, reg)) f.set(0, f.get(n)); return; }        // FCMOVNB/NE/NBE/NU
      if (reg === 5) { f.compareFlags(cpu, f.get(0), f.get(n), true); return; }         // FUCOMI
      if (reg === 6) { f.compareFlags(cpu, f.get(0), f.get(n), false); return; }        // FCOMI
      throw new CpuFault(UD);
    case 0xdd:
      if (reg === 0) { f.free(n); return; }                                             // FFREE
      if (reg === 2) { f.set(n, f.get(0)); return; }                                    // FST ST(i)
      if (reg === 3) { f.set(n, f.get(0)); f.pop(); return; }                           // FSTP ST(i)
      if (reg === 4 || reg === 5) { f.compareCodes(f.get(0), f.get(n), true); if (reg === 5) f.pop(); return; } // FUCOM(P)
      throw new CpuFault(UD);
    default: // 0xdf
      if (modrm === 0xe0) { cpu.setReg(0, 2, f.statusWord); return; }                   // FNSTSW AX
      if (reg === 5) { f.compareFlags(cpu, f.get(0), f.get(n), true); f.pop(); return; } // FUCOMIP
      if (reg === 6) { f.compareFlags(cpu, f.get(0), f.get(n), false); f.pop(); return; } // FCOMIP
      throw new CpuFault(UD);
  }
}

function fcmovCondition(cpu: Cpu, reg: number): boolean {
  switch (reg) { case 0: return cpu.getCF() !== 0; case 1: return cpu.getZF(); case 2: return cpu.getCF() !== 0 || cpu.getZF(); default: return cpu.getPF(); }
}

function fxam(f: X87): void {
  f.sw &= ~(C0 | C1 | C2 | C3);
  if (f.isEmpty(0)) { f.sw |= C3 | C0; return; }
  const v = f.get(0);
  if (v < 0 || Object.is(v, -0)) f.sw |= C1;
  if (Number.isNaN(v)) f.sw |= C0;
  else if (!Number.isFinite(v)) f.sw |= C2 | C0;
  else if (v === 0) f.sw |= C3;
  else if (Math.abs(v) < 2.2250738585072014e-308) f.sw |= C3 | C2; // denormal (in float64 terms)
  else f.sw |= C2;
}

// ---- environment and state images (32-bit protected-mode formats, SDM Vol. 1 Figures 8-9, 8-10) ----

function storeEnv(cpu: Cpu, f: X87, seg: number, a: number): void {
  const w = [f.cw | 0xffff0000, f.statusWord | 0xffff0000, fullTags(f) | 0xffff0000, f.fip, f.fcs | (f.fop << 16), f.fdp, f.fds | 0xffff0000];
  cpu.probeWrite(seg, a, 28);
  w.forEach((v, k) => cpu.write32(seg, (a + 4 * k) | 0, v | 0));
}
function loadEnv(cpu: Cpu, f: X87, seg: number, a: number): void {
  f.cw = cpu.read16(seg, a);
  const sw = cpu.read16(seg, (a + 4) | 0);
  f.sw = sw & ~0x3800; f.top = (sw >> 11) & 7;
  const tw = cpu.read16(seg, (a + 8) | 0);
  // Only "empty" matters: the other tags are recomputed from the register contents.
  for (let p = 0; p < 8; p++) f.tags = (f.tags & ~(3 << (2 * p))) | ((((tw >> (2 * p)) & 3) === 3 ? 3 : tagOfValue(f.r[p])) << (2 * p));
  f.fip = cpu.read32(seg, (a + 12) | 0); const csop = cpu.read32(seg, (a + 16) | 0); f.fcs = csop & 0xffff; f.fop = (csop >>> 16) & 0x7ff;
  f.fdp = cpu.read32(seg, (a + 20) | 0); f.fds = cpu.read16(seg, (a + 24) | 0);
  if (f.sw & ~f.cw & 0x3f) f.sw |= 0x8080; else f.sw &= ~0x8080;
}
function tagOfValue(v: number): number { return v === 0 ? 1 : Number.isFinite(v) ? 0 : 2; }
function fullTags(f: X87): number { return f.tags; }

function fsave(cpu: Cpu, f: X87, seg: number, a: number): void {
  storeEnv(cpu, f, seg, a);
  for (let i = 0; i < 8; i++) writeBytes(cpu, seg, (a + 28 + 10 * i) | 0, toExtended(f.r[(f.top + i) & 7]));
}
function frstor(cpu: Cpu, f: X87, seg: number, a: number): void {
  const regs = Array.from({ length: 8 }, (_, i) => fromExtended(readBytes(cpu, seg, (a + 28 + 10 * i) | 0, 10)));
  loadEnv(cpu, f, seg, a);
  for (let i = 0; i < 8; i++) f.r[(f.top + i) & 7] = regs[i];
  for (let p = 0; p < 8; p++) if (((f.tags >> (2 * p)) & 3) !== 3) f.tags = (f.tags & ~(3 << (2 * p))) | (tagOfValue(f.r[p]) << (2 * p));
}

/** FXSAVE (0F AE /0): the 512-byte image (FCW, FSW, abridged FTW, FOP, FIP, FCS, FDP, FDS, MXCSR, ST0–7). */
export function fxsave(cpu: Cpu, seg: number, a: number): void {
  const f = x87(cpu);
  if (a & 15) throw new CpuFault(13, 0);
  let abridged = 0;
  for (let p = 0; p < 8; p++) if (((f.tags >> (2 * p)) & 3) !== 3) abridged |= 1 << p;
  cpu.probeWrite(seg, a, 512);
  cpu.write16(seg, a, f.cw); cpu.write16(seg, (a + 2) | 0, f.statusWord);
  cpu.write8(seg, (a + 4) | 0, abridged); cpu.write8(seg, (a + 5) | 0, 0); cpu.write16(seg, (a + 6) | 0, f.fop);
  cpu.write32(seg, (a + 8) | 0, f.fip); cpu.write32(seg, (a + 12) | 0, f.fcs);
  cpu.write32(seg, (a + 16) | 0, f.fdp); cpu.write32(seg, (a + 20) | 0, f.fds);
  cpu.write32(seg, (a + 24) | 0, 0x1f80); cpu.write32(seg, (a + 28) | 0, 0xffff);
  for (let i = 0; i < 8; i++) {
    const b = toExtended(f.r[(f.top + i) & 7]);
    for (let k = 0; k < 16; k++) cpu.write8(seg, (a + 32 + 16 * i + k) | 0, k < 10 ? b[k] : 0);
  }
}
/** FXRSTOR (0F AE /1). */
export function fxrstor(cpu: Cpu, seg: number, a: number): void {
  const f = x87(cpu);
  if (a & 15) throw new CpuFault(13, 0);
  const regs = Array.from({ length: 8 }, (_, i) => fromExtended(readBytes(cpu, seg, (a + 32 + 16 * i) | 0, 10)));
  f.cw = cpu.read16(seg, a);
  const sw = cpu.read16(seg, (a + 2) | 0); f.sw = sw & ~0x3800; f.top = (sw >> 11) & 7;
  const abridged = cpu.read8(seg, (a + 4) | 0);
  f.fop = cpu.read16(seg, (a + 6) | 0) & 0x7ff; f.fip = cpu.read32(seg, (a + 8) | 0); f.fcs = cpu.read16(seg, (a + 12) | 0);
  f.fdp = cpu.read32(seg, (a + 16) | 0); f.fds = cpu.read16(seg, (a + 20) | 0);
  for (let i = 0; i < 8; i++) f.r[(f.top + i) & 7] = regs[i];
  f.tags = 0;
  for (let p = 0; p < 8; p++) f.tags |= ((abridged >> p) & 1 ? tagOfValue(f.r[p]) : 3) << (2 * p);
}
export { C0, C1, C2, C3 };
