/*
 * The transcendental functions of the x87 computed well beyond its 64-bit significand, then rounded
 * the way the x87 rounds them (Intel SDM Vol. 1 §8.1.5.2: precision control does not apply to these
 * instructions — their result always has 64 bits, rounded by RC, and C1 says whether it was rounded
 * up in magnitude). The register file holds float64 (precision note of x87.ts), so the 64-bit result
 * is then rounded by RC once more, to exactly what FST m64 stores on the x87.
 *
 * Arithmetic is fixed point on BigInt: a value v is the integer round(v · 2^F) for a scale F chosen
 * per call (120 bits below the result's leading bit: the x87's 64 and 56 more), so that the error
 * of every series is far below the last of the 64 bits and the rounding direction is right except
 * when the true value lies within about 2^-50 of its last bit from a rounding boundary.
 *
 * FSIN, FCOS, FSINCOS and FPTAN reduce their argument as the x87 does: by a multiple of π/2 where π
 * is the 66-bit value 0xC90FDAA22168C234C · 2^-66 (SDM Vol. 1 §8.3.8; it is why the x87's sin(π)
 * is 1.2246063538223773e-16 instead of 1.2246467991473532e-16). Near multiples of π the result
 * therefore follows the x87, not the mathematics; elsewhere the two differ by an amount growing
 * with the multiple of π/2 taken away (under a 64-bit ulp up to |x| ≈ 40; 4·10^8 ulps at 10^10).
 */

/** π as the x87 holds it for argument reduction: 68-bit integer whose value is π · 2^66. */
const PI66 = 0xc90fdaa22168c234cn;

export interface Fixed { n: bigint; scale: number }

/** BigInt significand and exponent of a finite non-zero float64 (|v| = m · 2^e exactly). */
export function decompose(v: number): { m: bigint; e: number } {
  const b = new Float64Array([Math.abs(v)]), w = new BigUint64Array(b.buffer)[0];
  const exp = Number((w >> 52n) & 0x7ffn), frac = w & ((1n << 52n) - 1n);
  return exp === 0 ? { m: frac, e: -1074 } : { m: frac | (1n << 52n), e: exp - 1075 };
}

/** Position of the leading bit of |v| (v = 1.x · 2^result), for a finite non-zero float64. */
export function exponentOf(v: number): number {
  const { m, e } = decompose(v);
  return e + m.toString(2).length - 1;
}

const shift = (a: bigint, k: number): bigint => (k >= 0 ? a << BigInt(k) : a >> BigInt(-k));

/** v (a finite float64) as a fixed-point value of scale F, exact when F ≥ −(its exponent). */
function toFixed(v: number, F: number): bigint {
  if (v === 0) return 0n;
  const { m, e } = decompose(v);
  const n = shift(m, e + F);
  return v < 0 ? -n : n;
}

/** ⌊a / b⌋ for b > 0 (BigInt division truncates toward zero). */
const floorDiv = (a: bigint, b: bigint): bigint => (a >= 0n ? a / b : -((-a + b - 1n) / b));
/** a · b at scale F, truncated toward zero (so that a series of negative terms reaches 0). */
const mulF = (a: bigint, b: bigint, F: number): bigint => (a * b) / (1n << BigInt(F));
const divF = (a: bigint, b: bigint, F: number): bigint => (a << BigInt(F)) / b;
function sqrtF(a: bigint, F: number): bigint {
  const x = a << BigInt(F);
  if (x <= 0n) return 0n;
  let r = 1n << BigInt((x.toString(2).length >> 1) + 1);
  for (;;) { const nr = (r + x / r) >> 1n; if (nr >= r) return r; r = nr; }
}

/** Σ sign^k · x^(2k+1) / (2k+1) for |x| ≤ 1/2: atan (alternating) or atanh. */
function oddSeries(x: bigint, F: number, alternating: boolean): bigint {
  const x2 = mulF(x, x, F);
  let term = x, sum = 0n;
  for (let k = 0; term !== 0n; k++) {
    const t = term / BigInt(2 * k + 1);
    sum += alternating && k & 1 ? -t : t;
    term = mulF(term, x2, F);
  }
  return sum;
}

const constants = new Map<string, bigint>();
function cached(name: string, F: number, make: (G: number) => bigint): bigint {
  const key = `${name}${F}`;
  let v = constants.get(key);
  if (v === undefined) { v = make(F + 32) >> 32n; constants.set(key, v); }
  return v;
}
/** π (Machin: 16 atan(1/5) − 4 atan(1/239)) and ln 2 (2 atanh(1/3)). */
const pi = (F: number) => cached('pi', F, (G) => 16n * oddSeries((1n << BigInt(G)) / 5n, G, true) - 4n * oddSeries((1n << BigInt(G)) / 239n, G, true));
const ln2 = (F: number) => cached('ln2', F, (G) => 2n * oddSeries((1n << BigInt(G)) / 3n, G, false));

/** sin and cos of a fixed-point r with |r| ≤ 1 (Taylor). */
function sinCos(r: bigint, F: number): { sin: bigint; cos: bigint } {
  const one = 1n << BigInt(F), r2 = mulF(r, r, F);
  let s = 0n, c = 0n, ts = r, tc = one;
  for (let k = 1; ts !== 0n || tc !== 0n; k += 2) {
    s += ts; c += tc;
    ts = -mulF(ts, r2, F) / BigInt((k + 1) * (k + 2));
    tc = -mulF(tc, r2, F) / BigInt(k * (k + 1));
  }
  return { sin: s, cos: c };
}

/** atan of a fixed-point t with 0 ≤ t ≤ 1: two angle halvings t / (1 + √(1 + t²)), then the series. */
function atanUnit(t: bigint, F: number): bigint {
  const one = 1n << BigInt(F);
  for (let k = 0; k < 2; k++) t = divF(t, one + sqrtF(one + mulF(t, t, F), F), F);
  return 4n * oddSeries(t, F, true);
}

/** Scale for a result near 2^magnitude: 120 (+ extra) bits below its leading bit, at least 64. */
const scaleFor = (magnitude: number, extra: number): number => Math.max(64, 120 + extra - magnitude);

/**
 * Ziv's strategy: `make(extra)` with more and more bits until the bits beyond the 64th are clearly
 * off a rounding boundary (an exact-looking sin x = x for a tiny x is x − x³/6 a long way down).
 */
export function precise(make: (extra: number) => Fixed): Fixed {
  let v = make(0);
  for (let extra = 64; extra <= 8192; extra *= 2) {
    const mag = v.n < 0n ? -v.n : v.n, s = mag.toString(2).length - 64;
    if (mag === 0n) return v;
    if (s > 24) {
      const low = mag & ((1n << BigInt(s)) - 1n), margin = 1n << 12n, half = 1n << BigInt(s - 1);
      const near = (b: bigint) => (low > b ? low - b : b - low) < margin;
      if (!near(0n) && !near(half) && !near(half * 2n)) return v;
    }
    v = make(extra);
  }
  return v;
}

/**
 * FSIN / FCOS / FPTAN / FSINCOS of a finite x with |x| < 2^63, reduced by the x87's π/2.
 * `which`: 0 sin, 1 cos, 2 tan.
 */
export function trigFixed(x: number, which: 0 | 1 | 2, extra = 0): Fixed {
  // The reduced argument r = x − k·π66/2, exact at a scale where x (last bit 2^(ex − 52)) and
  // π66/2 (2^-67) are; then the series at a scale for r's own magnitude (r ≠ 0: not a multiple of 2^-67 · odd).
  const F0 = Math.max(67, 52 - exponentOf(x));
  const X = toFixed(x, F0), half = shift(PI66, F0 - 67);
  const k = floorDiv(2n * X + half, 2n * half); // the nearest multiple of π66/2
  const r0 = X - k * half;
  const F = scaleFor(Math.min((r0 < 0n ? -r0 : r0).toString(2).length - F0, 0), extra);
  const r = shift(r0, F - F0);
  const { sin, cos } = sinCos(r, F);
  const q = Number(((k % 4n) + 4n) % 4n);
  if (which === 2) return { n: q & 1 ? -divF(cos, sin, F) : divF(sin, cos, F), scale: F };
  const s = which === 0 ? q : (q + 1) & 3; // cos(r + kπ/2) = sin(r + (k + 1)π/2)
  const v = s & 1 ? cos : sin;
  return { n: s & 2 ? -v : v, scale: F };
}

/** FPATAN: the angle of the point (x, y), both finite (signed zeros as IEEE 754's atan2). */
export function atanFixed(y: number, x: number, extra = 0): Fixed {
  const F0 = y === 0 || x === 0 ? 0 : exponentOf(y) - exponentOf(x);
  const F = scaleFor(Math.max(Math.min(F0, 0), -2200), extra);
  const half = pi(F) >> 1n;
  let a: bigint;
  if (y === 0) a = 0n;
  else if (x === 0) a = half;
  else {
    const dy = decompose(y), dx = decompose(x);
    // |y| / |x| = (my / mx) · 2^(ey − ex), computed at scale F.
    const ratio = (mx: bigint, ex: number, my: bigint, ey: number) => shift(my << BigInt(F), ey - ex) / mx;
    a = Math.abs(y) <= Math.abs(x) ? atanUnit(ratio(dx.m, dx.e, dy.m, dy.e), F) : half - atanUnit(ratio(dy.m, dy.e, dx.m, dx.e), F);
  }
  if (x < 0 || Object.is(x, -0)) a = 2n * half - a;
  return { n: y < 0 || Object.is(y, -0) ? -a : a, scale: F };
}

/** F2XM1: 2^x − 1 for a finite x with |x| ≤ 1 (Taylor of e^t − 1, t = x · ln 2). */
export function exp2m1Fixed(x: number, extra = 0): Fixed {
  const F = scaleFor(Math.min(exponentOf(x), 0), extra);
  const t = mulF(toFixed(x, F), ln2(F), F);
  let sum = 0n, term = t;
  for (let k = 2; term !== 0n; k++) { sum += term; term = mulF(term, t, F) / BigInt(k); }
  return { n: sum, scale: F };
}

/** ln of a fixed-point m in [1/√2, √2]: 2 atanh((m − 1) / (m + 1)). */
function lnNearOne(m: bigint, F: number): bigint {
  const one = 1n << BigInt(F);
  return 2n * oddSeries(divF(m - one, m + one, F), F, false);
}

/**
 * FYL2X (y · log2 x, x > 0) and FYL2XP1 (y · log2(1 + x), |x| < 1 − √2/2) for finite y ≠ 0 and
 * x ≠ 1 / x ≠ 0 respectively. The exact flag is set when log2 x is an integer (x a power of two).
 */
export function ylog2Fixed(y: number, x: number, plusOne: boolean, extra = 0): Fixed & { exact: boolean } {
  let L: bigint, F: number, exact = false;
  if (plusOne) {
    F = scaleFor(Math.min(exponentOf(x), 0), extra);
    const X = toFixed(x, F), two = 2n << BigInt(F);
    L = divF(2n * oddSeries(divF(X, two + X, F), F, false), ln2(F), F);
  } else {
    F = scaleFor(-60, extra); // log2 x of a float64 x ≠ 1 is at least ~2^-53 in magnitude
    const { m, e } = decompose(x);
    const bits = m.toString(2).length;
    let k = e + bits - 1, M = shift(m, F - bits + 1);   // x = M · 2^k, M in [1, 2)
    const one = 1n << BigInt(F);
    if (M * M > 2n * one * one) { M >>= 1n; k++; }      // M in [1/√2, √2)
    exact = M === one;
    L = (BigInt(k) << BigInt(F)) + (exact ? 0n : divF(lnNearOne(M, F), ln2(F), F));
  }
  const { m: my, e: ey } = decompose(y);
  const n = L * my;
  return { n: y < 0 ? -n : n, scale: F - ey, exact };
}

// ---- rounding ----

export interface Rounded {
  /** The value the register holds: the 64-bit result rounded by RC to float64. */
  value: number;
  /** The 64-bit result rounded in magnitude (C1). */
  up: boolean;
  /** Whether the 64-bit result differs from the exact value (PE). */
  inexact: boolean;
  /** The 64-bit result: ± significand (bit 63 set, or 0) · 2^exponent. */
  significand: bigint; exponent: number; negative: boolean;
}

/** Rounds |n| (sticky: bits beyond n are non-zero) to `bits` bits by RC; the result is m · 2^shift. */
export function roundBits(n: bigint, bits: number, negative: boolean, rc: number, sticky: boolean, minShift = -Infinity): { m: bigint; shift: number; up: boolean; inexact: boolean } {
  const len = n.toString(2).length;
  const s = Math.max(len - bits, minShift);
  if (s <= 0) {
    const m = shift(n, -s);
    return directed(m, s, negative, rc, false, sticky, sticky);
  }
  const m = n >> BigInt(s), rem = n & ((1n << BigInt(s)) - 1n), half = 1n << BigInt(s - 1);
  const above = rem > half || (rem === half && sticky), tie = rem === half && !sticky;
  return directed(m, s, negative, rc, above || (tie && (m & 1n) === 1n), rem !== 0n || sticky, rem !== 0n || sticky);
}
function directed(m: bigint, s: number, negative: boolean, rc: number, nearestUp: boolean, inexact: boolean, belowOrAbove: boolean) {
  // rc: 0 nearest, 1 down (−∞), 2 up (+∞), 3 toward zero; "up" is in magnitude.
  const up = !belowOrAbove ? false : rc === 0 ? nearestUp : rc === 1 ? negative : rc === 2 ? !negative : false;
  return { m: up ? m + 1n : m, shift: s, up, inexact };
}

/**
 * Rounds n · 2^-scale (exact if `exact`, else known to be irrational-like: never on a boundary) to
 * the x87's 64 bits by RC, then to float64 by RC (what FST m64 gives, float64's subnormals
 * included; beyond its range, ±∞ or ±MAX as RC says).
 */
export function roundX87(v: Fixed, rc: number, exact = false): Rounded {
  const negative = v.n < 0n, mag = negative ? -v.n : v.n;
  if (mag === 0n) return { value: negative ? -0 : 0, up: false, inexact: !exact, significand: 0n, exponent: 0, negative };
  const r64 = roundBits(mag, 64, negative, rc, !exact);
  const e64 = r64.shift - v.scale;
  // float64: 53 bits, and no bit below 2^-1074.
  const r53 = roundBits(r64.m, 53, negative, rc, false, -1074 - e64);
  const e53 = r53.shift + e64;
  let value = Number(r53.m);
  let k = e53;
  while (k > 0 && Number.isFinite(value)) { const s = Math.min(k, 1000); value *= 2 ** s; k -= s; }
  while (k < 0) { const s = Math.max(k, -1000); value *= 2 ** s; k -= s; }
  if (!Number.isFinite(value) && (rc === 3 || (rc === 1 && !negative) || (rc === 2 && negative))) value = Number.MAX_VALUE;
  let m = r64.m, e = e64;
  if (m >> 64n) { m >>= 1n; e++; }
  return { value: negative ? -value : value, up: r64.up, inexact: r64.inexact, significand: m, exponent: e, negative };
}

/** The x87's extended-real exponent range: normal results from 2^-16382 up to below 2^16384, subnormal ones down to 2^-16445. */
const EXT_MIN_NORMAL = -16382, EXT_MAX = 16383, EXT_TINY = -16445;

export interface Scaled { value: number; up: boolean; overflow: boolean; underflow: boolean }

/**
 * FSCALE of a finite non-zero x by an integer n, as the x87 does it in its own exponent range: a
 * result inside that range is exact (then held as the float64 FST m64 would store, no flag, as on
 * the x87); beyond it the masked overflow response (±∞, or ±the largest value when RC rounds
 * toward zero on that side) or a subnormal result rounded by RC (underflow when bits are lost).
 */
export function scaleX87(x: number, n: number, rc: number): Scaled {
  const negative = x < 0, top = exponentOf(x) + n;
  if (top > EXT_MAX) {
    const infinite = rc === 0 || (rc === 1 && negative) || (rc === 2 && !negative);
    const v = infinite ? Infinity : Number.MAX_VALUE;
    return { value: negative ? -v : v, up: infinite, overflow: true, underflow: false };
  }
  const { m, e } = decompose(x);
  if (top >= EXT_MIN_NORMAL || e + n >= EXT_TINY) return { value: roundX87({ n: negative ? -m : m, scale: -(e + n) }, rc, true).value, up: false, overflow: false, underflow: false };
  // Below every 2^-16472 the rounding is the same (far under half the subnormal step): clamp the shift.
  const at = Math.max(e + n, EXT_TINY - 80);
  const r = roundBits(m, 64, negative, rc, false, EXT_TINY - at);
  const value = r.m === 0n ? (negative ? -0 : 0) : roundX87({ n: negative ? -r.m : r.m, scale: -EXT_TINY }, rc, true).value;
  return { value, up: r.up, overflow: false, underflow: r.inexact };
}
