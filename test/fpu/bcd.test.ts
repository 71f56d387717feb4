// FBLD and FBSTP (packed BCD) against the host CPU's x87: the same instruction bytes run by a 64-bit
// host program and by a Popek guest, under every rounding mode with double precision. Compared bit
// for bit: the 10 bytes FBSTP stores (or leaves alone), the value FBLD pushes as FSTP m64 stores it
// (the x87 loads 18 digits exactly and the store rounds by RC; Popek rounds at the load — the same
// bits), the status word's C0–C3, TOP, IE, SF and PE. Digits A–F are left out (the SDM: undefined).
import * as assert from 'node:assert/strict';
import { CONTROL_WORDS, PRO, STATUS, FSTP_RESULT, type X87Case, type X87Op } from './x87Cases';
import { hostAndGuest } from './x87Run';

const INIT = [0xdb, 0xe3, 0xd9, 0x2e];            // FNINIT; FLDCW [esi]
const FBLD = [0xdf, 0x66, 0x08];                  // FBLD [esi+8] (the case's 10 raw bytes)
const FBSTP = [0xdf, 0x76, 0x28];                 // FBSTP [esi+40]
const FNCLEX = [0xdb, 0xe2];
const OPS: X87Op[] = [
  { name: 'fbld', bytes: [...INIT, ...FBLD, ...STATUS, ...FSTP_RESULT] },
  { name: 'fbstp (ST0 = b), then ST0 = a stored', bytes: [...PRO, ...FBSTP, ...STATUS, ...FSTP_RESULT] },
  { name: 'fbstp of an empty register (stack underflow)', bytes: [...INIT, ...FBSTP, ...STATUS] },
  { name: 'fbld onto a full stack (stack overflow)', bytes: [...INIT, ...Array(8).fill([0xd9, 0xee]).flat(), ...FBLD, ...STATUS, ...FSTP_RESULT] },
  // IE unmasked: nothing stored, nothing popped (FNCLEX so that the host's next FSTP does not fault).
  { name: 'fbstp, IE unmasked: ST0 = b stays', bytes: [...PRO, ...FBSTP, ...STATUS, ...FNCLEX, ...FSTP_RESULT] },
];

let seed = 1874;
const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rnd() * 10));

/** 10 packed-BCD bytes of up to 18 digits (least significant first), sign and the ignored bits of byte 9; 6 bytes of padding. */
function bcd(ds: number[], negative: boolean, ignored = 0): number[] {
  const b = Array(16).fill(0);
  ds.forEach((d, k) => { b[k >> 1] |= d << (4 * (k & 1)); });
  b[9] = (negative ? 0x80 : 0) | ignored;
  return b;
}

/** FBSTP operands: integers up to 18 digits, halves and other fractions, the range limits, zeros, NaN, infinities. */
function storeOperands(): number[] {
  const out = [0, -0, 0.3, -0.3, 0.5, -0.5, 1.5, 2.5, -2.5, 5e-324, -5e-324, 1e18, -1e18, 999999999999999872, -999999999999999872,
    1e19, 2 ** 53 + 2, 2 ** 60, NaN, Infinity, -Infinity, 123456789.75, -987654321.25];
  for (let k = 0; k < 24; k++) {
    const mag = Number(digits(1 + Math.floor(rnd() * 18)).join('')) * (rnd() < 0.5 ? 1 : 1 / (1 + Math.floor(rnd() * 8)));
    out.push(rnd() < 0.5 ? -mag : mag);
  }
  return out;
}

function buildCases(): X87Case[] {
  const cases: X87Case[] = [];
  const loads = [bcd([], false), bcd([], true), bcd(Array(18).fill(9), false), bcd(Array(18).fill(9), true), bcd([1], false, 0x7f), bcd([7, 2], true, 0x55)];
  for (let k = 0; k < 20; k++) loads.push(bcd(digits(1 + Math.floor(rnd() * 18)), rnd() < 0.5));
  const stores = storeOperands();
  for (const cw of CONTROL_WORDS) {
    for (const raw of loads) cases.push({ cw, op: 0, a: 0, b: 0, raw });
    for (const b of stores) cases.push({ cw, op: 1, a: 42.5, b });
    cases.push({ cw, op: 2, a: 0, b: 0 }, { cw, op: 3, a: 0, b: 0, raw: loads[2 + (cw >> 10)] });
    for (const b of [NaN, Infinity, 1e18, -1e19, 7.5]) cases.push({ cw: cw & ~1, op: 4, a: 1, b });
  }
  return cases;
}

describe('x87 FPU: FBLD / FBSTP against the host CPU', function () {
  this.timeout(60_000);
  it('packed BCD loads and stores, every rounding mode, the invalid and stack cases, as the host', () => {
    const cases = buildCases();
    const rows = hostAndGuest(cases, OPS);
    const bad: string[] = [];
    for (const { c, h, g } of rows) {
      const name = `${OPS[c.op].name} cw=${c.cw.toString(16)} ${c.raw ? Buffer.from(c.raw.slice(0, 10)).toString('hex') : `b=${c.b}`}`;
      const mask = 0x4700 | 0x3800 | 0x41 | 0x20; // C3 C2 C1 C0, TOP, SF, IE, PE
      const hs = h.readUInt16LE(32), gs = g.readUInt16LE(32);
      if ((hs & mask) !== (gs & mask)) bad.push(`${name}: status ${hs.toString(16)} vs ${gs.toString(16)}`);
      if (!h.subarray(24, 32).equals(g.subarray(24, 32))) bad.push(`${name}: m64 ${h.subarray(24, 32).toString('hex')} vs ${g.subarray(24, 32).toString('hex')}`);
      if (!h.subarray(40, 50).equals(g.subarray(40, 50))) bad.push(`${name}: bcd ${h.subarray(40, 50).toString('hex')} vs ${g.subarray(40, 50).toString('hex')}`);
    }
    assert.deepEqual(bad.slice(0, 20), [], `${bad.length} of ${cases.length} differ`);
  });
});
