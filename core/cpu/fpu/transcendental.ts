/*
 * The x87's transcendental, partial-remainder, scaling and extraction instructions (Intel SDM
 * Vol. 2 pages of F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS, FPREM, FPREM1, FSCALE,
 * FXTRACT; Vol. 1 §8.3.10), on the float64 registers of x87.ts.
 *
 * Precision note. FPREM, FPREM1, FSCALE and FXTRACT are exact: their results are representable, and
 * the quotient bits FPREM/FPREM1 leave in C0, C3, C1 come from exact integer arithmetic.
 * F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS and FSINCOS are computed far beyond 64 bits
 * (extendedMath.ts), rounded by RC to the x87's 64-bit significand — which sets C1 (rounded up)
 * and PE as the x87 does — and then by RC to the float64 register, i.e. to exactly what FST m64
 * would store on an x87 whose result is the correctly rounded one. The x87 itself is within 1 ulp
 * of 64 bits on the reduced argument (SDM Vol. 1 §8.3.10), so the two agree on the float64 except
 * within 2^-11 ulp of a rounding boundary, and on C1 unless the value is that close to a 64-bit one.
 * FSIN, FCOS, FSINCOS and FPTAN reduce the argument with the x87's 66-bit π (extendedMath.ts), so
 * near multiples of π they give the x87's value, not sin's. Arguments beyond ±2^63 set C2 and leave
 * ST(0) alone, as on the x87.
 * FPREM's partial reduction (exponents D ≥ 64 apart) takes N = 32 + (D mod 32), AMD's documented
 * choice (the SDM leaves N between 32 and 63 to the implementation; the test host's x87 agrees), so
 * a program looping until C2 = 0 reaches the same remainder either way.
 * F2XM1 outside [−1, +1] and FYL2XP1 outside ±(1 − √2/2), where the SDM calls the result
 * undefined, return the host libm's value (rounded to nearest, C1 clear).
 */
import { INDEFINITE, X87 } from './x87';
import { atanFixed, decompose, exp2m1Fixed, exponentOf, precise, roundX87, scaleX87, trigFixed, ylog2Fixed, type Fixed } from './extendedMath';

const IE = 1, ZE = 4, OE = 8, UE = 0x10, PE = 0x20;
const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;


/** A libm result where the SDM leaves the value undefined: rounded to nearest, C1 clear, PE. */
function inexact(f: X87, v: number): number {
  f.sw &= ~C1;
  f.raise(PE);
  return v;
}

/** A high-precision value rounded as the x87 rounds it: C1 = rounded up, PE when inexact, OE beyond float64. */
function rounded(f: X87, v: Fixed, exact = false): number {
  const r = roundX87(v, (f.cw >> 10) & 3, exact);
  f.sw = r.up ? f.sw | C1 : f.sw & ~C1;
  if (!Number.isFinite(r.value) || Math.abs(r.value) === Number.MAX_VALUE) f.raise(OE);
  if (r.inexact) f.raise(PE);
  return r.value;
}

/** Unary operand checks: NaN propagates, ±∞ is invalid. Returns the result to store, or undefined to compute. */
function special(f: X87, x: number): number | undefined {
  if (x !== x) { f.sw &= ~C1; return x; }
  if (!Number.isFinite(x)) { f.sw &= ~C1; f.raise(IE); return INDEFINITE; }
  return undefined;
}

/** FSIN, FCOS, FPTAN, FSINCOS refuse arguments beyond ±2^63 (C2 = 1, nothing changes). */
function outOfRange(f: X87, x: number): boolean {
  if (Math.abs(x) < 2 ** 63) { f.sw &= ~C2; return false; }
  f.sw |= C2;
  return true;
}

/** D9 F0–FF (except FSQRT, FRNDINT, FINCSTP, FDECSTP): false when `modrm` is not one of these. */
export function transcendental(f: X87, modrm: number): boolean {
  switch (modrm) {
    case 0xf0: f2xm1(f); return true;                                               // F2XM1: 2^x − 1
    case 0xf1: binaryPop(f, (x, y) => ylog2(f, x, y, false)); return true;          // FYL2X: ST1 · log2(ST0)
    case 0xf9: binaryPop(f, (x, y) => ylog2(f, x, y, true)); return true;           // FYL2XP1: ST1 · log2(ST0 + 1)
    case 0xf3: binaryPop(f, (x, y) => atan(f, y, x)); return true;                  // FPATAN: arctan(ST1 / ST0)
    case 0xf2: fptan(f); return true;
    case 0xfe: trig(f, 0); return true;                                             // FSIN
    case 0xff: trig(f, 1); return true;                                             // FCOS
    case 0xfb: fsincos(f); return true;
    case 0xf8: fprem(f, false); return true;                                        // FPREM (truncating)
    case 0xf5: fprem(f, true); return true;                                         // FPREM1 (IEEE remainder)
    case 0xfd: fscale(f); return true;
    case 0xf4: fxtract(f); return true;
    default: return false;
  }
}

/** F2XM1: 2^x − 1 (−∞ gives −1 and +∞ stays, per the SDM's table; ±0 stays). */
function f2xm1(f: X87): void {
  const x = f.get(0);
  f.sw &= ~C1;
  if (x !== x || x === 0 || x === Infinity) return;
  // 2^±1 − 1 are exact (1 and −0.5); the x87 raises PE for them all the same (measured: AMD's value
  // for +1 under RC down is even 1 − ulp). Here: exact values, PE, C1 clear.
  if (Math.abs(x) === 1) { f.raise(PE); f.set(0, x > 0 ? 1 : -0.5); return; }
  f.set(0, x === -Infinity ? -1 : Math.abs(x) <= 1 ? rounded(f, precise((e) => exp2m1Fixed(x, e))) : inexact(f, Math.expm1(x * Math.LN2)));
}

function trig(f: X87, which: 0 | 1): void {
  const x = f.get(0);
  const s = special(f, x);
  if (s !== undefined) { f.sw &= ~C2; f.set(0, s); return; }
  if (outOfRange(f, x)) return;
  // sin(±0) = ±0 and cos(±0) = 1, exactly.
  if (x === 0) { f.sw &= ~C1; f.set(0, which ? 1 : x); return; }
  f.set(0, rounded(f, precise((e) => trigFixed(x, which, e))));
}

/** FPTAN: ST(0) = tan(ST(0)), then 1.0 pushed (so that FDIVR gives the cotangent). */
function fptan(f: X87): void {
  const x = f.get(0);
  const s = special(f, x);
  if (s !== undefined) { f.sw &= ~C2; f.set(0, s); f.push(1); return; }
  if (outOfRange(f, x)) return;
  if (x === 0) f.sw &= ~C1;
  f.set(0, x === 0 ? x : rounded(f, precise((e) => trigFixed(x, 2, e))));
  const tanC1 = f.sw & C1, overflow = !f.isEmpty(7);
  f.push(1);
  if (!overflow) f.sw |= tanC1; // C1 tells how tan was rounded, unless the push overflowed
}

/** FSINCOS: ST(0) = sin, then cos pushed. */
function fsincos(f: X87): void {
  const x = f.get(0);
  const s = special(f, x);
  if (s !== undefined) { f.sw &= ~C2; f.set(0, s); f.push(s); return; }
  if (outOfRange(f, x)) return;
  if (x === 0) { f.sw &= ~C1; f.set(0, x); f.push(1); return; }
  const sin = rounded(f, precise((e) => trigFixed(x, 0, e))), sinC1 = f.sw & C1, overflow = !f.isEmpty(7);
  f.push(rounded(f, precise((e) => trigFixed(x, 1, e))));
  f.set(1, sin);
  if (!overflow) f.sw = (f.sw & ~C1) | sinC1; // C1 tells how sin was rounded (the host's x87 agrees; not cos's)
}

/** ST(1) = op(ST(0), ST(1)), then pop (FYL2X, FYL2XP1, FPATAN). A NaN operand propagates. */
function binaryPop(f: X87, op: (x: number, y: number) => number): void {
  const x = f.get(0), y = f.get(1);
  f.sw &= ~C1;
  f.set(1, x !== x ? x : y !== y ? y : op(x, y));
  f.pop();
}

/**
 * FPATAN, with the SDM's table of signed zeros and infinities (IEEE 754 atan2): an infinite
 * operand is replaced by a finite point in the same direction (±∞ → ±1 against the other's ±0 or
 * ±1), so that ±π/2, ±π/4, ±3π/4 and ±π are rounded by RC like any other result.
 */
function atan(f: X87, y: number, x: number): number {
  const yInf = !Number.isFinite(y), xInf = !Number.isFinite(x);
  const Y = yInf ? Math.sign(y) : xInf ? (y < 0 || Object.is(y, -0) ? -0 : 0) : y;
  const X = xInf ? Math.sign(x) : yInf ? 0 : x;
  if (Y === 0 && (X > 0 || Object.is(X, 0))) { f.sw &= ~C1; return Y; } // ±0, exactly
  return rounded(f, precise((e) => atanFixed(Y, X, e)));
}

/**
 * y · log2(x) (FYL2X) or y · log2(x + 1) (FYL2XP1), with the SDM's special cases: a negative
 * argument, 0 · ∞ and ∞ · 0 are invalid; a zero argument with a finite non-zero y divides by zero.
 */
function ylog2(f: X87, x: number, y: number, plusOne: boolean): number {
  const arg = plusOne ? x + 1 : x;
  const l = plusOne ? Math.log1p(x) / Math.LN2 : Math.log2(x);
  if (arg < 0 || (l === 0 && !Number.isFinite(y)) || (!Number.isFinite(l) && y === 0)) { f.raise(IE); return INDEFINITE; }
  if (!plusOne && x === 0) { f.raise(ZE); return y * l; }
  const r = y * l;
  if (y === 0 || l === 0 || !Number.isFinite(y) || !Number.isFinite(l)) return r;
  if (!plusOne) {
    // PE even when log2 x is an integer and the product exact: the x87 does (measured on the host).
    const v = ylog2Fixed(y, x, false), r = v.exact ? rounded(f, v, true) : rounded(f, precise((e) => ylog2Fixed(y, x, false, e)));
    f.raise(PE);
    return r;
  }
  return Math.abs(x) < 1 - Math.SQRT1_2 ? rounded(f, precise((e) => ylog2Fixed(y, x, true, e))) : inexact(f, r);
}

/** m · 2^e for a BigInt m whose value is representable (the remainder always is). */
function compose(m: bigint, e: number): number {
  let v = Number(m);
  while (e > 0) { const s = Math.min(e, 1000); v *= 2 ** s; e -= s; }
  while (e < 0) { const s = Math.max(e, -1000); v *= 2 ** s; e -= s; }
  return v;
}

/**
 * FPREM / FPREM1: ST(0) = ST(0) − Q · ST(1), Q the quotient truncated (FPREM) or rounded to nearest
 * even (FPREM1); its three low bits go to C0, C3, C1 (Q2, Q1, Q0) and C2 = 0. When the exponents
 * are 64 or more apart the reduction is partial (C2 = 1): by Q · ST(1) · 2^(D − 63).
 */
function fprem(f: X87, ieee: boolean): void {
  const a = f.get(0), b = f.get(1);
  f.sw &= ~(C0 | C1 | C2 | C3);
  if (a !== a || b !== b) { f.set(0, a !== a ? a : b); return; }
  if (!Number.isFinite(a) || b === 0) { f.raise(IE); f.set(0, INDEFINITE); return; }
  if (a === 0 || !Number.isFinite(b)) return; // ±0 stays; x rem ±∞ = x, Q = 0
  const da = decompose(a), db = decompose(b);
  const d = exponentOf(a) - exponentOf(b);
  if (d >= 64) {
    // Partial: subtract the multiple of b · 2^(d − N) that truncation gives; the guest's loop goes on.
    const shift = d - (32 + (d % 32));
    const e = Math.min(da.e, db.e + shift);
    const A = da.m << BigInt(da.e - e), B = db.m << BigInt(db.e + shift - e);
    const r = A - (A / B) * B;
    f.set(0, Math.sign(a) * compose(r, e));
    f.sw |= C2;
    return;
  }
  const e = Math.min(da.e, db.e);
  const A = da.m << BigInt(da.e - e), B = db.m << BigInt(db.e - e);
  let q = A / B, r = A - q * B;
  if (ieee && (2n * r > B || (2n * r === B && (q & 1n) === 1n))) { q += 1n; r -= B; }
  const sign = Math.sign(a) * (r < 0n ? -1 : 1);
  const mag = compose(r < 0n ? -r : r, e);
  f.set(0, mag === 0 ? Math.sign(a) * 0 : sign * mag);
  if (q & 4n) f.sw |= C0;
  if (q & 2n) f.sw |= C3;
  if (q & 1n) f.sw |= C1;
}

/** FSCALE: ST(0) · 2^trunc(ST(1)), in the x87's exponent range (extendedMath.ts). */
function fscale(f: X87): void {
  const x = f.get(0), s = f.get(1);
  f.sw &= ~C1;
  if (x !== x || s !== s) { f.set(0, x !== x ? x : s); return; }
  if ((x === 0 && s === Infinity) || (!Number.isFinite(x) && s === -Infinity)) { f.raise(IE); f.set(0, INDEFINITE); return; }
  if (x === 0 || !Number.isFinite(x)) return;
  if (!Number.isFinite(s)) { f.set(0, s > 0 ? x * Infinity : x * 0); return; }
  const r = scaleX87(x, Math.trunc(s), (f.cw >> 10) & 3);
  if (r.up) f.sw |= C1;
  if (r.overflow) f.raise(OE | PE);
  if (r.underflow) f.raise(UE | PE);
  f.set(0, r.value);
}

/** x · 2^n in steps that cannot overflow or underflow early. */
function scaleBy(x: number, n: number): number {
  let v = x, k = Math.max(-4000, Math.min(4000, n));
  while (k > 0) { const s = Math.min(k, 1000); v *= 2 ** s; k -= s; }
  while (k < 0) { const s = Math.max(k, -1000); v *= 2 ** s; k -= s; }
  return v;
}

/** FXTRACT: ST(0) = exponent, then the significand pushed (sign kept, 1 ≤ |s| < 2). */
function fxtract(f: X87): void {
  const x = f.get(0);
  f.sw &= ~C1;
  if (x !== x) { f.push(x); return; }
  if (x === 0) { f.raise(ZE); f.set(0, -Infinity); f.push(x); return; }
  if (!Number.isFinite(x)) { f.set(0, Infinity); f.push(x); return; }
  const e = exponentOf(x);
  f.set(0, e);
  f.push(scaleBy(x, -e));
}
