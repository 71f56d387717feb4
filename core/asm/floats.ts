/*
 * NASM floating-point constants: `dd 1.5`, `dq 3.14e2`, `dt 1.0`, `dw 0x1.8p3`, `__float32__(0.1)`,
 * `__?Infinity?__`. The value is converted exactly (a ratio of big integers, rounded to nearest even),
 * so the bytes are the ones nasm emits, not those of a JavaScript double narrowed again.
 * Formats (NASM manual §3.4.6): db = 8-bit (1:4:3), dw = IEEE half, dd = single, dq = double,
 * dt = x87 80-bit extended (explicit integer bit), do = IEEE quad.
 */

/** Bit layout of one format: exponent bits, fraction bits, and whether the integer bit is stored (x87). */
interface FloatFormat { exp: number; frac: number; explicitOne: boolean }

const FORMATS: Record<number, FloatFormat> = Object.assign(Object.create(null), {
  1: { exp: 4, frac: 3, explicitOne: false },
  2: { exp: 5, frac: 10, explicitOne: false },
  4: { exp: 8, frac: 23, explicitOne: false },
  8: { exp: 11, frac: 52, explicitOne: false },
  10: { exp: 15, frac: 63, explicitOne: true },
  16: { exp: 15, frac: 112, explicitOne: false },
});

/** Byte sizes that take floating-point constants (db dw dd dq dt do). */
export function floatUnit(size: number): boolean { return FORMATS[size] !== undefined; }

/** Google's bfloat16: a single's exponent with 7 fraction bits (`__?bfloat16?__`). */
const BFLOAT16: FloatFormat = { exp: 8, frac: 7, explicitOne: false };

/**
 * Whether a number token's text is a float for NASM's scanner: a '.', a 'p' exponent, or an 'e'
 * exponent in a number that is not hexadecimal (`1e5` is a float, `1e5h` an integer).
 */
export function looksFloat(text: string): boolean {
  let hex = text.startsWith('$');
  let e = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '.' || c === 'p' || c === 'P') return true;
    if (c === 'h' || c === 'H' || c === 'x' || c === 'X') hex = true;
    else if (!hex && (c === 'e' || c === 'E')) { e = true; if (text[i + 1] === '+' || text[i + 1] === '-') return true; }
  }
  return e && !hex;
}

/** An exact value: `num / den × 2^exp2` (num ≥ 0). */
interface Exact { num: bigint; den: bigint; exp2: number }

const RADIX_PREFIX: Record<string, number> = Object.assign(Object.create(null), { x: 16, h: 16, b: 2, y: 2, o: 8, q: 8, d: 10, t: 10 });

/** Parses a float constant's text (no sign) exactly; a message when NASM would reject it. */
export function parseFloatText(text: string): Exact | string {
  let s = text.replace(/_/g, '');
  let radix = 10;
  if (s.startsWith('$')) { radix = 16; s = s.slice(1); }
  else if (s.length > 2 && s[0] === '0' && RADIX_PREFIX[s[1].toLowerCase()] !== undefined && /[0-9a-f.]/i.test(s[2])) { radix = RADIX_PREFIX[s[1].toLowerCase()]; s = s.slice(2); }
  const expMark = radix === 10 ? /[eE]/ : /[pP]/;
  const m = expMark.exec(s);
  const mantissa = m ? s.slice(0, m.index) : s;
  const expText = m ? s.slice(m.index + 1) : '';
  if (mantissa.split('.').length > 2) return 'too many periods in floating-point constant';
  const [whole, fraction = ''] = mantissa.split('.');
  const digits = whole + fraction;
  const valid = radix === 16 ? /^[0-9a-fA-F]*$/ : radix === 8 ? /^[0-7]*$/ : radix === 2 ? /^[01]*$/ : /^[0-9]*$/;
  if (!valid.test(digits)) return 'invalid character in floating-point constant significand';
  if (expText !== '' && !/^[+-]?[0-9]*$/.test(expText)) return 'invalid character in floating-point constant exponent';
  const exponent = expText === '' || expText === '+' || expText === '-' ? 0 : Number(expText);
  let num = 0n;
  const r = BigInt(radix);
  for (const ch of digits) num = num * r + BigInt(parseInt(ch, 16));
  if (radix === 10) {
    const e10 = exponent - fraction.length;
    // beyond these the value is 0 or infinite in every format: keep the big integers small
    if (num === 0n || e10 < -6000) return { num: 0n, den: 1n, exp2: 0 };
    if (e10 > 6000) return { num: 1n, den: 1n, exp2: 1 << 20 };
    return e10 >= 0 ? { num: num * 10n ** BigInt(e10), den: 1n, exp2: 0 } : { num, den: 10n ** BigInt(-e10), exp2: 0 };
  }
  const bitsPerDigit = radix === 16 ? 4 : radix === 8 ? 3 : 1;
  return { num, den: 1n, exp2: Math.max(-(1 << 20), Math.min(1 << 20, exponent - fraction.length * bitsPerDigit)) };
}

function bitLength(n: bigint): number { return n === 0n ? 0 : n.toString(2).length; }

/** The special values NASM names (`__?Infinity?__`, `__QNaN__`…), by lower-case name. */
const SPECIALS = new Map<string, 'inf' | 'qnan' | 'snan'>([
  ['__?infinity?__', 'inf'], ['__infinity__', 'inf'], ['__?qnan?__', 'qnan'], ['__qnan__', 'qnan'], ['__?snan?__', 'snan'], ['__snan__', 'snan'],
]);
export function floatSpecial(name: string): 'inf' | 'qnan' | 'snan' | undefined { return SPECIALS.get(name.toLowerCase()); }

export interface FloatBits { bits: bigint; overflow: boolean }

/** The IEEE-style encoding of a value (or special) in `size` bytes, little-endian order not applied. */
export function encodeFloat(value: Exact | 'inf' | 'qnan' | 'snan', negative: boolean, size: number, bfloat = false): FloatBits {
  const f = bfloat ? BFLOAT16 : FORMATS[size];
  const expAll = (1n << BigInt(f.exp)) - 1n;
  const one = f.explicitOne ? 1n << BigInt(f.frac) : 0n;
  const sign = negative ? 1n << BigInt(f.exp + f.frac + (f.explicitOne ? 1 : 0)) : 0n;
  const pack = (biased: bigint, fraction: bigint): bigint => sign | (biased << BigInt(f.frac + (f.explicitOne ? 1 : 0))) | fraction;
  if (value === 'inf') return { bits: pack(expAll, one), overflow: false };
  if (value === 'qnan') return { bits: pack(expAll, one | (1n << BigInt(f.frac - 1))), overflow: false };
  if (value === 'snan') return { bits: pack(expAll, one | 1n), overflow: false };
  const { num, den, exp2 } = value;
  if (num === 0n) return { bits: pack(0n, 0n), overflow: false };
  const bias = (1 << (f.exp - 1)) - 1;
  const p = f.frac;
  // scale so that the quotient has p+1 significant bits: q = num / den × 2^-shift
  let shift = bitLength(num) - bitLength(den) - (p + 1);
  const divide = (sh: number, round: boolean): bigint => {
    // num / den × 2^-sh, truncated or rounded half to even
    const n = sh >= 0 ? num : num << BigInt(-sh);
    const d = sh >= 0 ? den << BigInt(sh) : den;
    let q = n / d;
    if (!round) return q;
    const rem2 = (n - q * d) * 2n;
    if (rem2 > d || (rem2 === d && (q & 1n) === 1n)) q += 1n;
    return q;
  };
  if (divide(shift, false) >= 1n << BigInt(p + 1)) shift += 1;
  let q = divide(shift, true);
  let unbiased = shift + exp2 + p;
  if (q === 1n << BigInt(p + 1)) { q >>= 1n; unbiased += 1; }
  let biased = unbiased + bias;
  if (biased <= 0) {
    // subnormal: the exponent is pinned at its minimum, the fraction loses bits
    q = divide(1 - bias - p - exp2, true);
    if (q >= 1n << BigInt(p)) return { bits: pack(1n, f.explicitOne ? q : q - (1n << BigInt(p))), overflow: false };
    return { bits: pack(0n, q), overflow: false };
  }
  // nasm keeps an all-ones exponent with a non-zero fraction, and calls only the rest overflow
  const fraction = f.explicitOne ? q : q - (1n << BigInt(p));
  if (biased > Number(expAll) || (biased === Number(expAll) && fraction === 0n)) return { bits: pack(expAll, one), overflow: true };
  biased = Math.max(biased, 1);
  return { bits: pack(BigInt(biased), fraction), overflow: false };
}

/** The little-endian bytes of an encoding. */
export function floatBytes(bits: bigint, size: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < size; i++) out.push(Number((bits >> BigInt(8 * i)) & 0xffn));
  return out;
}

/**
 * `__float32__(x)` and its kin (`__?float32?__`, `__float80m__`, `__float128h__`, `__?bfloat16?__`):
 * which format, and which bits of it the integer is.
 */
export function floatFunction(name: string): { size: number; shift: number; width: number; bfloat?: boolean } | undefined {
  const m = /^__\??(b?)float(8|16|32|64|80m|80e|128l|128h)\??__$/.exec(name.toLowerCase());
  if (!m) return undefined;
  if (m[1]) return m[2] === '16' ? { size: 2, shift: 0, width: 16, bfloat: true } : undefined;
  switch (m[2]) {
    case '8': return { size: 1, shift: 0, width: 8 };
    case '16': return { size: 2, shift: 0, width: 16 };
    case '32': return { size: 4, shift: 0, width: 32 };
    case '64': return { size: 8, shift: 0, width: 64 };
    case '80m': return { size: 10, shift: 0, width: 64 };
    case '80e': return { size: 10, shift: 64, width: 16 };
    case '128l': return { size: 16, shift: 0, width: 64 };
    default: return { size: 16, shift: 64, width: 64 };
  }
}
