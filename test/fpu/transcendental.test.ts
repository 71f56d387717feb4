// The x87's transcendental, remainder, scale and extract instructions against the host CPU's x87:
// the same instruction bytes run by a 64-bit host program (nasm -f elf64) and by a Popek guest, with
// double precision control and rounding to nearest. FPREM, FPREM1, FSCALE and FXTRACT must give the
// same bits and the same C0–C3 (the quotient bits); the others must be within 2 ulps of the host
// (the precision note in core/cpu/fpu/transcendental.ts) with the same C2 (out of range) and IE.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RECORD, op, type X87Case, type X87Op } from './x87Cases';
import { guestRecords, hostRecords } from './x87Run';

/** ST0 = b, ST1 = a before the operation (x87Cases' prologue); FSTP ST0 = dd d8. */
const OPS: Array<X87Op & { exact: boolean; a: () => number; b: () => number }> = [];
let seed = 2024;
const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
const uniform = (lo: number, hi: number) => () => lo + (hi - lo) * rnd();
const wide = () => (rnd() < 0.5 ? -1 : 1) * (1 + rnd()) * 2 ** Math.floor(rnd() * 80 - 40);
const add = (exact: boolean, a: () => number, b: () => number, name: string, ...bytes: number[]) => OPS.push({ ...op(name, ...bytes), exact, a, b });

add(false, uniform(0, 1), uniform(-40, 40), 'fsin', 0xd9, 0xfe);
add(false, uniform(0, 1), uniform(-40, 40), 'fcos', 0xd9, 0xff);
add(false, uniform(0, 1), uniform(-1.5, 1.5), 'fptan; fstp st0', 0xd9, 0xf2, 0xdd, 0xd8);
add(false, uniform(0, 1), uniform(-40, 40), 'fsincos (cos)', 0xd9, 0xfb);
add(false, uniform(0, 1), uniform(-40, 40), 'fsincos; fstp st0 (sin)', 0xd9, 0xfb, 0xdd, 0xd8);
add(false, uniform(-100, 100), uniform(-100, 100), 'fpatan', 0xd9, 0xf3);
add(false, uniform(-1, 1), uniform(-1, 1), 'f2xm1', 0xd9, 0xf0); // outside [−1, 1] the SDM leaves the result undefined
add(false, uniform(-50, 50), () => Math.abs(wide()), 'fyl2x', 0xd9, 0xf1);
add(false, uniform(-50, 50), uniform(-0.29, 0.29), 'fyl2xp1', 0xd9, 0xf9);
add(true, wide, wide, 'fprem', 0xd9, 0xf8);
add(true, wide, wide, 'fprem1', 0xd9, 0xf5);
add(true, uniform(-70, 70), wide, 'fscale', 0xd9, 0xfd);
add(true, uniform(0, 1), wide, 'fxtract (significand)', 0xd9, 0xf4);
add(true, uniform(0, 1), wide, 'fxtract; fstp st0 (exponent)', 0xd9, 0xf4, 0xdd, 0xd8);
/** Special operands every operation also gets: signed zeros, infinities, NaN, huge (C2) arguments. */
const SPECIAL = [0, -0, Infinity, -Infinity, NaN, 2 ** 64, -(2 ** 70), 1, -1, 0.5];

/** Operands whose result the SDM leaves undefined (F2XM1 beyond ±1, FYL2XP1 beyond ±(1 − √2/2)). */
function undefinedBySdm(name: string, st0: number): boolean {
  if (name === 'f2xm1') return Number.isFinite(st0) && Math.abs(st0) > 1;
  if (name === 'fyl2xp1') return !(Math.abs(st0) < 1 - Math.SQRT1_2);
  return false;
}

const CW = 0x027f; // double precision, round to nearest, exceptions masked
/** Status bits compared: C3 C2 C0, TOP, IE, ZE (C1 only where exact: FPREM's Q0). */
const MASK = 0x4000 | 0x400 | 0x100 | 0x3800 | 0x5;

function ulps(x: number, y: number): number {
  if (Object.is(x, y) || (x !== x && y !== y)) return 0;
  if (!Number.isFinite(x) || !Number.isFinite(y) || Math.sign(x) !== Math.sign(y)) return Infinity;
  const b = new Float64Array([x, y]), w = new BigInt64Array(b.buffer);
  const d = w[0] - w[1];
  return Number(d < 0n ? -d : d);
}

describe('x87 FPU: transcendental instructions against the host CPU', function () {
  this.timeout(60_000);
  it('FSIN … FXTRACT: exact ones bit for bit, the others within 2 ulps, status as the host', () => {
    const cases: X87Case[] = [];
    OPS.forEach((o, k) => {
      for (let n = 0; n < 24; n++) cases.push({ cw: CW, op: k, a: o.a(), b: o.b() });
      for (const s of SPECIAL) { cases.push({ cw: CW, op: k, a: o.a(), b: s }); cases.push({ cw: CW, op: k, a: s, b: o.b() }); }
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-x87t-'));
    try {
      const host = hostRecords(cases, dir, OPS), guest = guestRecords(cases, OPS);
      const bad: string[] = [];
      cases.forEach((c, k) => {
        const o = OPS[c.op];
        const h = host.subarray(k * RECORD, (k + 1) * RECORD), g = guest.subarray(k * RECORD, (k + 1) * RECORD);
        const name = `${o.name} a=${c.a} b=${c.b}`;
        if (undefinedBySdm(o.name, c.b)) return;
        const mask = o.exact ? MASK | 0x200 : MASK;
        const hs = h.readUInt16LE(32), gs = g.readUInt16LE(32);
        if ((hs & mask) !== (gs & mask)) bad.push(`${name}: status ${hs.toString(16)} vs ${gs.toString(16)}`);
        const hv = h.readDoubleLE(24), gv = g.readDoubleLE(24);
        if (o.exact ? !h.subarray(24, 32).equals(g.subarray(24, 32)) : ulps(hv, gv) > 2) bad.push(`${name}: ${hv} (${h.subarray(24, 32).toString('hex')}) vs ${gv} (${g.subarray(24, 32).toString('hex')})`);
      });
      assert.deepEqual(bad.slice(0, 25), [], `${bad.length} of ${cases.length} differ`);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
});
