/*
 * The x87 FPU (Intel SDM Vol. 1 ch. 8, Vol. 2 instruction pages): the register stack, control,
 * status and tag words, the last-instruction pointers, and the instructions compilers and tutorial
 * kernels emit (loads and stores in every memory format, integer loads and stores, the arithmetic
 * and their reversed / popping forms, compares into C0–C3 or EFLAGS, exchanges, sign and absolute
 * value, square root, the constants, FNSTSW / FNSTCW / FLDCW, FNINIT / FNCLEX, FSAVE / FRSTOR,
 * FLDENV / FNSTENV, FXSAVE / FXRSTOR).
 *
 * Precision: each register holds a host float64 (53-bit significand, 11-bit exponent), not the x87's
 * 80-bit extended format (64-bit significand, 15-bit exponent). Results are exact where the x87
 * would round to double precision — which is what a program gets when its precision control is 53
 * bits (FLDCW with PC = 10, the default of Windows and of FreeBSD) and what every store to an m64
 * gives — and differ in the last bits otherwise: intermediate results in extended precision (the
 * x87's reset default, PC = 11) keep 11 more bits on hardware; values beyond float64's exponent range
 * (above ~1.8e308, below ~4.9e-324) overflow / underflow here where the x87 still represents them;
 * FLD m80 rounds an extended value to float64 (exact for values that came from float64) and FSTP m80
 * writes a float64 widened exactly. The transcendental, partial-remainder, FSCALE and FXTRACT
 * instructions have their own precision note in transcendental.ts, FBLD / FBSTP theirs in bcd.ts.
 *
 * Exceptions: invalid operation (including stack overflow / underflow, with SF and C1), zero divide,
 * overflow and precision (inexact) are detected (underflow by FSCALE only, denormal-operand not at
 * all); an unmasked one sets ES and B and is reported at the next waiting x87 instruction (or
 * FWAIT): #MF when CR0.NE = 1, else the FERR# line (IRQ 13 on a PC), as the SDM describes for
 * "native" and "MS-DOS compatible" error reporting. An unmasked invalid operation or zero divide
 * leaves TOP, the registers and a memory destination unchanged (SDM Vol. 1 §8.5.1, §8.5.3); an
 * unmasked overflow stores the masked response, not the x87's exponent-adjusted value (§8.5.4).
 */
import { CF, MF, OF, PF, SF, ZF, AF } from '../constants';
import type { Cpu } from '../cpu';
import { CpuFault } from '../fault';

export const FCW_DEFAULT = 0x037f;
/** Status-word exception flags (DE, ZE and UE are raised by execute.ts or not modelled). */
const IE = 1, OE = 8, PE = 0x20, SF_ = 0x40, ES = 0x80;
const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000, B = 0x8000;
const TAG_VALID = 0, TAG_ZERO = 1, TAG_SPECIAL = 2, TAG_EMPTY = 3;

/** The x87's real indefinite: the QNaN with the sign set, what a masked invalid operation returns. */
const indefiniteBits = new Float64Array(1);
new BigUint64Array(indefiniteBits.buffer)[0] = 0xfff8000000000000n;
export const INDEFINITE = indefiniteBits[0];

export interface X87State { st: number[]; top: number; sw: number; cw: number; tags: number; fip: number; fcs: number; fdp: number; fds: number; fop: number }

export class X87 {
  /** Physical registers R0–R7; ST(i) is R((TOP + i) & 7). */
  readonly r = new Float64Array(8);
  top = 0;
  /** Status word without TOP (bits 11–13 are taken from `top`). */
  sw = 0;
  cw = FCW_DEFAULT;
  /** Two bits per physical register: 00 valid, 01 zero, 10 special, 11 empty. */
  tags = 0xffff;
  fip = 0; fcs = 0; fdp = 0; fds = 0; fop = 0;
  /** FERR# (the PC routes it to IRQ 13 when CR0.NE = 0). */
  onFerr: (level: boolean) => void = () => {};

  get statusWord(): number { return (this.sw & ~0x3800) | (this.top << 11); }

  init(): void {
    this.cw = FCW_DEFAULT; this.sw = 0; this.top = 0; this.tags = 0xffff;
    this.fip = this.fcs = this.fdp = this.fds = this.fop = 0;
    this.onFerr(false);
  }

  // ---- the stack ----

  private phys(i: number): number { return (this.top + i) & 7; }
  isEmpty(i: number): boolean { return ((this.tags >> (2 * this.phys(i))) & 3) === TAG_EMPTY; }
  private setTag(p: number, t: number): void { this.tags = (this.tags & ~(3 << (2 * p))) | (t << (2 * p)); }
  private static tagOf(v: number): number { return v === 0 ? TAG_ZERO : Number.isFinite(v) ? TAG_VALID : TAG_SPECIAL; }

  /** ST(i); an empty register is a stack underflow (the masked response: the real indefinite). */
  get(i: number): number {
    if (this.isEmpty(i)) { this.raise(IE | SF_); this.sw &= ~C1; return INDEFINITE; }
    return this.r[this.phys(i)];
  }
  set(i: number, v: number): void {
    const p = this.phys(i);
    this.r[p] = v;
    this.setTag(p, X87.tagOf(v));
  }
  push(v: number): void {
    const p = (this.top - 1) & 7;
    // C1: 1 for a stack overflow, else 0 (FLD's flags; FPTAN and FSINCOS put their rounding bit back).
    if (((this.tags >> (2 * p)) & 3) !== TAG_EMPTY) { this.raise(IE | SF_); this.sw |= C1; v = INDEFINITE; } else this.sw &= ~C1;
    this.top = p;
    this.set(0, v);
  }
  pop(): void {
    this.setTag(this.top, TAG_EMPTY);
    this.top = (this.top + 1) & 7;
  }
  free(i: number): void { this.setTag(this.phys(i), TAG_EMPTY); }

  private readonly savedR = new Float64Array(8);
  private savedTop = 0; private savedTags = 0;
  /** Remembers the registers, TOP and tags (an instruction's unmasked exception puts them back). */
  saveStack(): void { this.savedR.set(this.r); this.savedTop = this.top; this.savedTags = this.tags; }
  restoreStack(): void { this.r.set(this.savedR); this.top = this.savedTop; this.tags = this.savedTags; }

  // ---- exceptions ----

  /** Records exception flags; an unmasked one sets ES and B (reported at the next waiting instruction). */
  raise(flags: number): void {
    this.sw |= flags;
    if (flags & ~this.cw & 0x3f) { this.sw |= ES | B; this.onFerr(true); }
  }
  /** An unmasked exception is pending. */
  get pending(): boolean { return (this.sw & ES) !== 0; }

  /** Checks a result: NaN from non-NaN operands is invalid, ±∞ from finite ones overflow, inexact sets PE. */
  result(v: number, exact: boolean, ...operands: number[]): number {
    if (Number.isNaN(v) && !operands.some(Number.isNaN)) this.raise(IE);
    else if (!Number.isFinite(v) && operands.every(Number.isFinite)) this.raise(OE | PE);
    else if (!exact) this.raise(PE);
    return v;
  }

  // ---- directed rounding (RC) of arithmetic results ----

  /**
   * The host rounds to nearest; the x87 rounds by RC. `r` is the nearest-rounded result and `err`
   * the sign of (exact − r); an overflow to ±∞ becomes ±max under the directed modes that round
   * toward zero on that side.
   */
  directed(r: number, err: number, finiteOperands: boolean): number {
    const rc = (this.cw >> 10) & 3;
    if (rc === 0) return r;
    if (!Number.isFinite(r)) {
      if (!finiteOperands || Number.isNaN(r)) return r;
      if (rc === 3 || (rc === 1 && r > 0) || (rc === 2 && r < 0)) return r > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE;
      return r;
    }
    if (err === 0 || Number.isNaN(err)) return r;
    if (rc === 1) return err < 0 ? nextDown(r) : r;
    if (rc === 2) return err > 0 ? nextUp(r) : r;
    return r > 0 && err < 0 ? nextDown(r) : r < 0 && err > 0 ? nextUp(r) : r;
  }

  // ---- rounding to integers (FIST, FRNDINT) by the control word's RC ----

  /** Rounds to an integer by RC; C1 tells whether the magnitude went up, PE whether it was inexact. */
  round(v: number): number {
    const r = this.roundRc(v);
    if (r !== v && Number.isFinite(v)) { this.sw = Math.abs(r) > Math.abs(v) ? this.sw | C1 : this.sw & ~C1; this.raise(PE); } else this.sw &= ~C1;
    return r;
  }
  private roundRc(v: number): number {
    let r: number;
    switch ((this.cw >> 10) & 3) {
      case 0: { const f = Math.floor(v), d = v - f; r = d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f; break; }
      case 1: r = Math.floor(v); break;
      case 2: r = Math.ceil(v); break;
      default: r = Math.trunc(v);
    }
    // A negative operand that rounds to zero gives −0 (−0.3 → −0), as IEEE 754 roundToIntegral does.
    return r === 0 && v < 0 ? -0 : r;
  }

  // ---- comparisons ----

  /** C3 C2 C0 after FCOM / FUCOM / FTST: >, <, =, unordered. */
  compareCodes(a: number, b: number, quiet: boolean): void {
    this.sw &= ~(C0 | C1 | C2 | C3);
    if (Number.isNaN(a) || Number.isNaN(b)) { if (!quiet) this.raise(IE); this.sw |= C0 | C2 | C3; }
    else if (a < b) this.sw |= C0;
    else if (a === b) this.sw |= C3;
  }
  /** EFLAGS after FCOMI / FUCOMI: ZF PF CF as C3 C2 C0; OF, SF, AF cleared. */
  compareFlags(cpu: Cpu, a: number, b: number, quiet: boolean): void {
    cpu.materializeFlags();
    let f = cpu.flags & ~(ZF | PF | CF | OF | SF | AF);
    this.sw &= ~C1;
    if (Number.isNaN(a) || Number.isNaN(b)) { if (!quiet) this.raise(IE); f |= ZF | PF | CF; }
    else if (a < b) f |= CF;
    else if (a === b) f |= ZF;
    cpu.flags = f;
  }

  getState(): X87State {
    return { st: [...this.r], top: this.top, sw: this.sw, cw: this.cw, tags: this.tags, fip: this.fip, fcs: this.fcs, fdp: this.fdp, fds: this.fds, fop: this.fop };
  }
  setState(s: X87State): void {
    this.r.set(s.st); this.top = s.top; this.sw = s.sw; this.cw = s.cw; this.tags = s.tags;
    this.fip = s.fip; this.fcs = s.fcs; this.fdp = s.fdp; this.fds = s.fds; this.fop = s.fop;
  }
}

// ---- exact error terms (Knuth's TwoSum, Dekker's product) and neighbours ----

const SPLIT = 134217729; // 2^27 + 1
/** exact(a · b) − fl(a · b), for operands well inside the exponent range (else 0: unknown). */
export function productError(a: number, b: number, p: number): number {
  if (!Number.isFinite(p) || p === 0) return 0;
  // Far from 1, scale by a power of two first (exact), so that the splits cannot overflow.
  if (Math.abs(a) > 1e150) return productError(a * 2 ** -600, b, p * 2 ** -600) * 2 ** 600;
  if (Math.abs(b) > 1e150) return productError(a, b * 2 ** -600, p * 2 ** -600) * 2 ** 600;
  const ta = SPLIT * a, ah = ta - (ta - a), al = a - ah;
  const tb = SPLIT * b, bh = tb - (tb - b), bl = b - bh;
  return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}
/** exact(a + b) − fl(a + b). */
export function sumError(a: number, b: number, s: number): number {
  if (!Number.isFinite(s)) return 0;
  const bb = s - a;
  return (a - (s - bb)) + (b - bb);
}

const nb = new Float64Array(1), nu = new BigUint64Array(nb.buffer);
export function nextUp(v: number): number {
  if (v === Infinity || Number.isNaN(v)) return v;
  if (v === 0) return Number.MIN_VALUE;
  nb[0] = v; nu[0] += v > 0 ? 1n : -1n; return nb[0];
}
export function nextDown(v: number): number { return -nextUp(-v); }

// ---- 80-bit extended real <-> float64 ----

const f64 = new Float64Array(1), u32 = new Uint32Array(f64.buffer);

/** float64 → the 10 bytes of an extended real (exact). */
export function toExtended(v: number): Uint8Array {
  const out = new Uint8Array(10);
  f64[0] = v;
  const lo = u32[0], hi = u32[1];
  const sign = hi >>> 31, exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (exp === 0 && mant === 0n) { e = 0; }
  else if (exp === 0x7ff) { e = 0x7fff; mant = (mant << 11n) | (1n << 63n); }
  else if (exp === 0) {
    // Denormal float64: normalise (extended has the exponent range for it).
    let m = mant, ee = 1 - 1023;
    while (!(m & (1n << 52n))) { m <<= 1n; ee--; }
    e = ee + 16383; mant = m << 11n;
  } else { e = exp - 1023 + 16383; mant = ((1n << 52n) | mant) << 11n; }
  if (exp === 0 && (hi & 0xfffff) === 0 && lo === 0) mant = 0n;
  for (let k = 0; k < 8; k++) out[k] = Number((mant >> BigInt(8 * k)) & 0xffn);
  out[8] = e & 0xff; out[9] = ((e >> 8) & 0x7f) | (sign << 7);
  return out;
}

const nanValue = new Float64Array(1), nanWord = new BigUint64Array(nanValue.buffer);
/** The 10 bytes of an extended real → float64 (rounded to nearest; see the precision note). */
export function fromExtended(b: Uint8Array): number {
  let mant = 0n;
  for (let k = 7; k >= 0; k--) mant = (mant << 8n) | BigInt(b[k]);
  const se = b[8] | (b[9] << 8), sign = se & 0x8000 ? -1 : 1, e = se & 0x7fff;
  if (e === 0x7fff) {
    if (!((mant << 1n) & ((1n << 64n) - 1n))) return sign * Infinity;
    // A NaN keeps its sign and the top of its significand (the real indefinite stays the indefinite), made quiet.
    const bits = (BigInt(b[9] >> 7) << 63n) | (0x7ffn << 52n) | (1n << 51n) | ((mant >> 11n) & ((1n << 52n) - 1n));
    nanWord[0] = bits;
    return nanValue[0];
  }
  if (mant === 0n) return sign * 0;
  // value = mant × 2^(e − 16383 − 63); Number(BigInt) rounds to nearest, then exact scaling by powers of two.
  let exp = (e === 0 ? 1 : e) - 16383 - 63;
  let m = Number(mant);
  while (exp > 0) { const s = Math.min(exp, 1000); m *= 2 ** s; exp -= s; }
  while (exp < 0) { const s = Math.max(exp, -1000); m *= 2 ** s; exp -= s; }
  return sign * m;
}

/** #MF raised for a pending unmasked exception (CR0.NE = 1) before a waiting instruction. */
export function mathFault(): CpuFault { return new CpuFault(MF); }
