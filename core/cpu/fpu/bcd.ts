/*
 * FBLD and FBSTP: the x87's 80-bit packed BCD integer (Intel SDM Vol. 1 §4.7, Figure 4-10; Vol. 2
 * pages of FBLD and FBSTP). Bytes 0–8 hold 18 decimal digits, two per byte, the less significant
 * digit in the low nibble; bit 7 of byte 9 is the sign, its other bits are ignored on load and
 * written as zero.
 *
 * FBLD converts exactly on the x87; here the register is a float64 (precision note of x87.ts), so a
 * value beyond 2^53 is rounded by RC — to what FST m64 would give on the x87 — and C1 and PE say
 * nothing about it (the x87 raises neither). Digits A–F make the result undefined (SDM): they are
 * weighted as their nibble values (10–15), as the AMD host this was checked on does.
 * FBSTP rounds ST(0) to an integer by RC (C1 = rounded up, PE when inexact); a NaN, an infinity or a
 * magnitude of 10^18 or more is an invalid operation that stores the packed BCD indefinite
 * (FF FF C0 00 … from the top byte) when IE is masked and, when it is not, stores nothing and does
 * not pop (SDM Vol. 1 §8.5.1: "TOP and the source operands remain unchanged").
 */
import type { X87 } from './x87';

const IE = 1, C1 = 0x200;

/** 10 bytes of packed BCD → the value to push (rounded by RC to float64 beyond 2^53). */
export function fromBcd(f: X87, b: Uint8Array): number {
  let n = 0n;
  for (let k = 8; k >= 0; k--) n = n * 100n + BigInt((b[k] >> 4) * 10 + (b[k] & 15));
  if (b[9] & 0x80) n = -n;
  const nearest = Number(n);
  const v = f.directed(nearest, Number(n - BigInt(nearest)), true);
  return v === 0 && b[9] & 0x80 ? -0 : v;
}

/** The packed BCD indefinite, stored by a masked invalid operation. */
const INDEFINITE_BCD = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0xc0, 0xff, 0xff);

/**
 * ST(0) → 10 bytes of packed BCD, or undefined when an unmasked invalid operation leaves memory
 * and the stack alone. `v` is ST(0) as read (an empty register already raised the stack underflow).
 */
export function toBcd(f: X87, v: number, underflow: boolean): Uint8Array | undefined {
  if (underflow || !(Math.abs(v) < 1e18)) {
    // 1e18 is a float64 and every float64 below it rounds to an integer below it, whatever RC.
    f.sw &= ~C1;
    if (!underflow) f.raise(IE);
    return f.cw & IE ? INDEFINITE_BCD.slice() : undefined;
  }
  const r = f.round(v);
  const out = new Uint8Array(10);
  let n = BigInt(Math.abs(r));
  for (let k = 0; k < 9; k++) { const d = Number(n % 100n); n /= 100n; out[k] = (Math.floor(d / 10) << 4) | (d % 10); }
  if (r < 0 || Object.is(r, -0)) out[9] = 0x80;
  return out;
}
