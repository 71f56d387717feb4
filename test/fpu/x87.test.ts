// The x87 against the host CPU: a few hundred operations (arithmetic, compares into C0–C3 and
// EFLAGS, sign, rounding by RC, integer and m80 stores) on a deterministic mix of operands, run by a
// 64-bit host program and by a 32-bit guest in Popek from the same instruction bytes, with double
// precision control. Compared: the stored result's bits, C0–C3, TOP, the IE / ZE flags, ZF PF CF.
// Not compared (the precision note of core/cpu/fpu/x87.ts): results outside float64's exponent range
// (the x87 keeps them in its 15-bit exponent until the store), and the PE / OE / UE / DE flags.
import * as assert from 'node:assert/strict';
import { CONTROL_WORDS, OPS, operands, type X87Case } from './x87Cases';
import { hostAndGuest } from './x87Run';

function buildCases(): X87Case[] {
  const vals = operands(12345, OPS.length * CONTROL_WORDS.length * 6 * 2);
  const cases: X87Case[] = [];
  let k = 0;
  for (let op = 0; op < OPS.length; op++) for (const cw of CONTROL_WORDS) for (let n = 0; n < 6; n++) cases.push({ cw, op, a: vals[k++], b: vals[k++] });
  return cases;
}

describe('x87 FPU: against the host CPU', function () {
  this.timeout(60_000);
  it('every operation, rounding mode and operand as the host computes it (double precision)', () => {
    const cases = buildCases();
    const rows = hostAndGuest(cases, OPS);
    const mismatches: string[] = [];
    let compared = 0;
    for (const { c, h, g } of rows) {
      const name = `${OPS[c.op].name} cw=${c.cw.toString(16)} a=${c.a} b=${c.b}`;
      const gv = g.readDoubleLE(24);
      // Results outside float64's normal range: the x87 still holds them exactly (precision note).
      const isFloat = !OPS[c.op].name.startsWith('fist');
      const outOfRange = isFloat && Number.isFinite(c.a) && Number.isFinite(c.b) && (gv === 0 || !Number.isFinite(gv) || Math.abs(gv) < 2.3e-308 || Math.abs(gv) > 1.7e308) && !(c.a === 0 || c.b === 0);
      const hs = h.readUInt16LE(32), gs = g.readUInt16LE(32);
      const mask = 0x4700 | 0x3800 | 0x5; // C3 C2 C1 C0, TOP, ZE, IE
      if ((hs & mask) !== (gs & mask)) mismatches.push(`${name}: status ${hs.toString(16)} vs ${gs.toString(16)}`);
      if (c.op === OPS.findIndex((o) => o.name === 'fcomi st1') || c.op === OPS.findIndex((o) => o.name === 'fucomip st1')) {
        const fm = 0x45; // ZF PF CF
        if ((h.readUInt32LE(36) & fm) !== (g.readUInt32LE(36) & fm)) mismatches.push(`${name}: eflags ${h.readUInt32LE(36).toString(16)} vs ${g.readUInt32LE(36).toString(16)}`);
      }
      if (!outOfRange && !h.subarray(24, 32).equals(g.subarray(24, 32))) mismatches.push(`${name}: result ${h.subarray(24, 32).toString('hex')} vs ${g.subarray(24, 32).toString('hex')}`);
      if (!outOfRange) compared++;
    }
    assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} of ${cases.length} differ`);
    assert.ok(compared > cases.length * 0.8, `results compared: ${compared} of ${cases.length}`);
  });
});
