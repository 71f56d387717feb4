/*
 * Integer arithmetic and logic with their flags, per the SDM pseudocode of each instruction.
 * `sz` is the size index: 0 byte, 1 word, 2 dword. Results are returned unmasked-safe (callers
 * store them with the operand size). Flags go to the CPU's lazy record where the instruction sets
 * all six arithmetic flags from its operands; the others compute them eagerly.
 */
import { AF, CF, OF, PF, SF, ZF, DE } from '../constants';
import { CC_ADC, CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SBB, CC_SUB, PARITY, SIZE_MASK, SIZE_SIGN, type Cpu } from '../cpu';
import { CpuFault } from '../fault';

const BITS = [8, 16, 32];

function lazy(cpu: Cpu, op: number, sz: number, a: number, b: number, r: number): void {
  cpu.ccOp = op; cpu.ccSize = sz; cpu.ccA = a; cpu.ccB = b; cpu.ccRes = r;
}

/** The eight classic ALU operations (ADD OR ADC SBB AND SUB XOR CMP, by ModRM /digit order). */
export function alu(cpu: Cpu, op: number, sz: number, a: number, b: number): number {
  const m = SIZE_MASK[sz];
  a &= m; b &= m;
  let r: number;
  switch (op) {
    case 0: r = (a + b) & m; lazy(cpu, CC_ADD, sz, a, b, r); return r;
    case 1: r = (a | b) & m; lazy(cpu, CC_LOGIC, sz, a, b, r); return r;
    case 2: { const c = cpu.getCF(); r = (a + b + c) & m; lazy(cpu, CC_ADC, sz, a, b, r); cpu.ccCin = c; return r; }
    case 3: { const c = cpu.getCF(); r = (a - b - c) & m; lazy(cpu, CC_SBB, sz, a, b, r); cpu.ccCin = c; return r; }
    case 4: r = a & b; lazy(cpu, CC_LOGIC, sz, a, b, r); return r;
    case 5: r = (a - b) & m; lazy(cpu, CC_SUB, sz, a, b, r); return r;
    case 6: r = (a ^ b) & m; lazy(cpu, CC_LOGIC, sz, a, b, r); return r;
    default: r = (a - b) & m; lazy(cpu, CC_SUB, sz, a, b, r); return a;
  }
}

export function inc(cpu: Cpu, sz: number, a: number): number {
  const c = cpu.getCF();
  const m = SIZE_MASK[sz];
  const r = (a + 1) & m;
  lazy(cpu, CC_INC, sz, a & m, 1, r); cpu.ccCin = c;
  return r;
}
export function dec(cpu: Cpu, sz: number, a: number): number {
  const c = cpu.getCF();
  const m = SIZE_MASK[sz];
  const r = (a - 1) & m;
  lazy(cpu, CC_DEC, sz, a & m, 1, r); cpu.ccCin = c;
  return r;
}
export function neg(cpu: Cpu, sz: number, a: number): number {
  const m = SIZE_MASK[sz];
  const r = (0 - a) & m;
  lazy(cpu, CC_SUB, sz, 0, a & m, r);
  return r;
}

/** Sets the six flags eagerly: CF and OF given, SF ZF PF from the result, AF given. */
function setFlags(cpu: Cpu, sz: number, r: number, cf: boolean, of: boolean, af = false): void {
  cpu.materializeFlags();
  let f = cpu.flags & ~(CF | PF | AF | ZF | SF | OF);
  if (cf) f |= CF;
  if (of) f |= OF;
  if (af) f |= AF;
  if ((r & SIZE_MASK[sz]) === 0) f |= ZF;
  if (r & SIZE_SIGN[sz]) f |= SF;
  f |= PARITY[r & 0xff];
  cpu.flags = f;
}
function setCfOf(cpu: Cpu, cf: boolean, of: boolean): void {
  cpu.materializeFlags();
  cpu.flags = (cpu.flags & ~(CF | OF)) | (cf ? CF : 0) | (of ? OF : 0);
}

/**
 * Shifts and rotates (group 2, /digit order ROL ROR RCL RCR SHL SHR SAL SAR). Count is masked to
 * 5 bits; a zero count changes nothing (not even flags). OF is computed as the SDM defines it for
 * count 1 and with the same formula otherwise (undefined there).
 */
export function shift(cpu: Cpu, op: number, sz: number, v: number, count: number): number {
  const bits = BITS[sz], m = SIZE_MASK[sz], sign = SIZE_SIGN[sz];
  count &= 31;
  if (count === 0) return v;
  v &= m;
  let r: number, cf: boolean;
  switch (op) {
    case 0: { // ROL
      const c = count % bits;
      r = c ? ((v << c) | (v >>> (bits - c))) & m : v;
      cf = (r & 1) !== 0;
      setCfOf(cpu, cf, (((r & sign) !== 0) !== cf));
      return r;
    }
    case 1: { // ROR
      const c = count % bits;
      r = c ? ((v >>> c) | (v << (bits - c))) & m : v;
      cf = (r & sign) !== 0;
      setCfOf(cpu, cf, ((r & sign) !== 0) !== ((r & (sign >>> 1)) !== 0));
      return r;
    }
    case 2: { // RCL: rotate through CF, a (bits+1)-bit rotation
      const c = sz === 2 ? count : count % (bits + 1);
      if (c === 0) { setCfOf(cpu, cpu.getCF() !== 0, (((v & sign) !== 0) !== (cpu.getCF() !== 0))); return v; }
      let carry = cpu.getCF();
      r = v;
      for (let k = 0; k < c; k++) {
        const out = (r & sign) !== 0 ? 1 : 0;
        r = ((r << 1) | carry) & m;
        carry = out;
      }
      setCfOf(cpu, carry !== 0, ((r & sign) !== 0) !== (carry !== 0));
      return r;
    }
    case 3: { // RCR
      const c = sz === 2 ? count : count % (bits + 1);
      const of = ((v & sign) !== 0) !== (cpu.getCF() !== 0);
      if (c === 0) { setCfOf(cpu, cpu.getCF() !== 0, of); return v; }
      let carry = cpu.getCF();
      r = v;
      for (let k = 0; k < c; k++) {
        const out = r & 1;
        r = ((r >>> 1) | (carry ? sign : 0)) & m;
        carry = out;
      }
      setCfOf(cpu, carry !== 0, of);
      return r;
    }
    case 4: case 6: { // SHL/SAL
      if (count > bits) { r = 0; cf = false; }
      else {
        cf = count === bits ? (v & 1) !== 0 : ((v >>> (bits - count)) & 1) !== 0;
        r = count === 32 ? 0 : (v << count) & m;
      }
      setFlags(cpu, sz, r, cf, ((r & sign) !== 0) !== cf);
      return r;
    }
    case 5: { // SHR
      cf = count > bits ? false : ((v >>> (count - 1)) & 1) !== 0;
      r = count >= bits ? 0 : v >>> count;
      setFlags(cpu, sz, r, cf, (v & sign) !== 0);
      return r;
    }
    default: { // SAR
      const s = sz === 2 ? v | 0 : sz === 1 ? (v << 16) >> 16 : (v << 24) >> 24;
      const c = count >= bits ? bits - 1 : count;
      cf = ((s >> (c - 1)) & 1) !== 0;
      if (count >= bits) cf = s < 0;
      r = (s >> c) & m;
      setFlags(cpu, sz, r, cf, false);
      return r;
    }
  }
}

/** SHLD/SHRD (sz 1 or 2): shift `dst` by `count`, filling from `src`. */
export function shiftDouble(cpu: Cpu, left: boolean, sz: number, dst: number, src: number, count: number): number {
  count &= 31;
  if (count === 0) return dst;
  const m = SIZE_MASK[sz], sign = SIZE_SIGN[sz];
  dst &= m; src &= m;
  let r: number, cf: boolean;
  if (sz === 2) {
    if (left) { r = ((dst << count) | (src >>> (32 - count))) | 0; cf = ((dst >>> (32 - count)) & 1) !== 0; }
    else { r = ((dst >>> count) | (src << (32 - count))) | 0; cf = ((dst >>> (count - 1)) & 1) !== 0; }
  } else {
    // 16-bit: counts above 16 leave the result undefined; shift the 32-bit pair dst:src then.
    const pair = left ? ((dst << 16) | src) >>> 0 : ((src << 16) | dst) >>> 0;
    if (left) { r = count >= 32 ? 0 : ((pair << count) >>> 16) & 0xffff; cf = ((pair >>> (32 - count)) & 1) !== 0; }
    else { r = (pair >>> count) & 0xffff; cf = ((pair >>> (count - 1)) & 1) !== 0; }
  }
  setFlags(cpu, sz, r, cf, ((r & sign) !== 0) !== ((dst & sign) !== 0));
  return r & m;
}

/** MUL: EDX:EAX ← EAX × src (by size); CF = OF = high half non-zero. */
export function mul(cpu: Cpu, sz: number, src: number): void {
  const r = cpu.regs;
  if (sz === 0) {
    const p = (r[0] & 0xff) * (src & 0xff);
    r[0] = (r[0] & ~0xffff) | p;
    setFlags(cpu, 0, p, p > 0xff, p > 0xff);
  } else if (sz === 1) {
    const p = (r[0] & 0xffff) * (src & 0xffff);
    r[0] = (r[0] & ~0xffff) | (p & 0xffff);
    r[2] = (r[2] & ~0xffff) | (p >>> 16);
    setFlags(cpu, 1, p, p > 0xffff, p > 0xffff);
  } else {
    const p = BigInt(r[0] >>> 0) * BigInt(src >>> 0);
    const lo = Number(p & 0xffffffffn) | 0, hi = Number(p >> 32n) | 0;
    r[0] = lo; r[2] = hi;
    setFlags(cpu, 2, lo, hi !== 0, hi !== 0);
  }
}

/** IMUL with one operand (EDX:EAX ← EAX × src, signed). */
export function imul1(cpu: Cpu, sz: number, src: number): void {
  const r = cpu.regs;
  if (sz === 0) {
    const p = ((r[0] << 24) >> 24) * ((src << 24) >> 24);
    r[0] = (r[0] & ~0xffff) | (p & 0xffff);
    const fits = p === ((p << 24) >> 24);
    setFlags(cpu, 0, p, !fits, !fits);
  } else if (sz === 1) {
    const p = ((r[0] << 16) >> 16) * ((src << 16) >> 16);
    r[0] = (r[0] & ~0xffff) | (p & 0xffff);
    r[2] = (r[2] & ~0xffff) | ((p >> 16) & 0xffff);
    const fits = p === ((p << 16) >> 16);
    setFlags(cpu, 1, p, !fits, !fits);
  } else {
    const p = BigInt(r[0] | 0) * BigInt(src | 0);
    const lo = Number(BigInt.asIntN(32, p)), hi = Number(BigInt.asIntN(32, p >> 32n));
    r[0] = lo; r[2] = hi;
    const fits = BigInt(lo) === p;
    setFlags(cpu, 2, lo, !fits, !fits);
  }
}

/** IMUL with two or three operands: returns the truncated product. */
export function imul2(cpu: Cpu, sz: number, a: number, b: number): number {
  if (sz === 2) {
    const p = BigInt(a | 0) * BigInt(b | 0);
    const lo = Number(BigInt.asIntN(32, p));
    const fits = BigInt(lo) === p;
    setFlags(cpu, 2, lo, !fits, !fits);
    return lo;
  }
  const p = ((a << 16) >> 16) * ((b << 16) >> 16);
  const lo = (p << 16) >> 16;
  const fits = lo === p;
  setFlags(cpu, 1, p, !fits, !fits);
  return p & 0xffff;
}

/** DIV: #DE on a zero divisor or a quotient that does not fit. Flags are undefined (left as they are). */
export function div(cpu: Cpu, sz: number, src: number): void {
  const r = cpu.regs;
  if (sz === 0) {
    const d = src & 0xff, n = r[0] & 0xffff;
    if (d === 0) throw new CpuFault(DE);
    const q = Math.floor(n / d);
    if (q > 0xff) throw new CpuFault(DE);
    r[0] = (r[0] & ~0xffff) | ((n % d) << 8) | q;
  } else if (sz === 1) {
    const d = src & 0xffff, n = ((r[2] & 0xffff) * 0x10000) + (r[0] & 0xffff);
    if (d === 0) throw new CpuFault(DE);
    const q = Math.floor(n / d);
    if (q > 0xffff) throw new CpuFault(DE);
    r[0] = (r[0] & ~0xffff) | q;
    r[2] = (r[2] & ~0xffff) | (n % d);
  } else {
    const d = src >>> 0;
    if (d === 0) throw new CpuFault(DE);
    const hi = r[2] >>> 0, lo = r[0] >>> 0;
    if (hi === 0) { r[0] = Math.floor(lo / d); r[2] = lo % d; return; }
    const n = (BigInt(hi) << 32n) | BigInt(lo), bd = BigInt(d);
    const q = n / bd;
    if (q > 0xffffffffn) throw new CpuFault(DE);
    r[0] = Number(q) | 0; r[2] = Number(n % bd) | 0;
  }
}

/** IDIV: signed, quotient truncated toward zero; #DE when it does not fit. */
export function idiv(cpu: Cpu, sz: number, src: number): void {
  const r = cpu.regs;
  if (sz === 0) {
    const d = (src << 24) >> 24, n = (r[0] << 16) >> 16;
    if (d === 0) throw new CpuFault(DE);
    const q = Math.trunc(n / d);
    if (q > 127 || q < -128) throw new CpuFault(DE);
    r[0] = (r[0] & ~0xffff) | (((n % d) & 0xff) << 8) | (q & 0xff);
  } else if (sz === 1) {
    const d = (src << 16) >> 16, n = ((r[2] << 16) | (r[0] & 0xffff)) | 0;
    if (d === 0) throw new CpuFault(DE);
    const q = Math.trunc(n / d);
    if (q > 32767 || q < -32768) throw new CpuFault(DE);
    r[0] = (r[0] & ~0xffff) | (q & 0xffff);
    r[2] = (r[2] & ~0xffff) | ((n % d) & 0xffff);
  } else {
    const d = BigInt(src | 0);
    if (d === 0n) throw new CpuFault(DE);
    const n = (BigInt(r[2] | 0) << 32n) | BigInt(r[0] >>> 0);
    const q = n / d; // BigInt division truncates toward zero, as IDIV
    if (q > 0x7fffffffn || q < -0x80000000n) throw new CpuFault(DE);
    r[0] = Number(q) | 0; r[2] = Number(n % d) | 0;
  }
}

/** BT/BTS/BTR/BTC core: returns the new value; CF = the selected bit. op: 0 BT, 1 BTS, 2 BTR, 3 BTC. */
export function bitTest(cpu: Cpu, op: number, v: number, bit: number): number {
  const mask = 1 << bit;
  cpu.materializeFlags();
  cpu.flags = (v & mask) ? cpu.flags | CF : cpu.flags & ~CF;
  switch (op) {
    case 1: return v | mask;
    case 2: return v & ~mask;
    case 3: return v ^ mask;
    default: return v;
  }
}

/** BSF/BSR: returns the index, or undefined (destination unchanged) for a zero source; ZF set then. */
export function bitScan(cpu: Cpu, reverse: boolean, sz: number, v: number): number | undefined {
  v &= SIZE_MASK[sz];
  cpu.materializeFlags();
  if (v === 0) { cpu.flags |= ZF; return undefined; }
  cpu.flags &= ~ZF;
  return reverse ? 31 - Math.clz32(v) : 31 - Math.clz32(v & -v);
}

/** Flags of a logical result (TEST and friends). */
export function logicFlags(cpu: Cpu, sz: number, r: number): void {
  lazy(cpu, CC_LOGIC, sz, 0, 0, r & SIZE_MASK[sz]);
}
/** Flags of a comparison a − b (CMP, CMPS, SCAS, CMPXCHG). */
export function cmpFlags(cpu: Cpu, sz: number, a: number, b: number): void {
  const m = SIZE_MASK[sz];
  lazy(cpu, CC_SUB, sz, a & m, b & m, (a - b) & m);
}

// ---- BCD adjustments (SDM DAA, DAS, AAA, AAS, AAM, AAD) ----
export function daa(cpu: Cpu, sub: boolean): void {
  const oldAl = cpu.regs[0] & 0xff, oldCf = cpu.getCF() !== 0;
  let al = oldAl, cf = false, af = false;
  if ((al & 0xf) > 9 || cpu.getAF()) {
    af = true;
    if (sub) { cf = oldCf || al < 6; al = (al - 6) & 0xff; }
    else { cf = oldCf || al + 6 > 0xff; al = (al + 6) & 0xff; }
  }
  if (oldAl > 0x99 || oldCf) { al = sub ? (al - 0x60) & 0xff : (al + 0x60) & 0xff; cf = true; }
  cpu.setReg8(0, al);
  setFlags(cpu, 0, al, cf, false, af);
}
export function aaa(cpu: Cpu, sub: boolean): void {
  const r = cpu.regs;
  let ax = r[0] & 0xffff, adj = false;
  if ((ax & 0xf) > 9 || cpu.getAF()) {
    ax = sub ? (ax - 6 - 0x100) & 0xffff : (ax + 0x106) & 0xffff; // SDM: AX ← AX − 6, AH ← AH − 1 (AAS)
    adj = true;
  }
  ax &= 0xff0f;
  r[0] = (r[0] & ~0xffff) | ax;
  setFlags(cpu, 0, ax, adj, false, adj);
}
export function aam(cpu: Cpu, base: number): void {
  if (base === 0) throw new CpuFault(DE);
  const al = cpu.regs[0] & 0xff;
  const ah = Math.floor(al / base), nal = al % base;
  cpu.regs[0] = (cpu.regs[0] & ~0xffff) | (ah << 8) | nal;
  setFlags(cpu, 0, nal, false, false);
}
export function aad(cpu: Cpu, base: number): void {
  const al = cpu.regs[0] & 0xff, ah = (cpu.regs[0] >> 8) & 0xff;
  const nal = (al + ah * base) & 0xff;
  cpu.regs[0] = (cpu.regs[0] & ~0xffff) | nal;
  setFlags(cpu, 0, nal, false, false);
}
