// Unmasked x87 exceptions against the host CPU's x87 (SDM Vol. 1 §8.5.1, §8.5.3): an invalid
// operation (stack overflow and underflow included) or a zero divide whose mask bit is clear leaves
// TOP, the registers and a memory destination as they were, and sets ES and B. The same instruction
// bytes run by a 64-bit host program and by a Popek guest; FNCLEX after the status is read, so that
// neither faults at the next instruction; ST0 is stored afterwards to show what the stack holds.
import * as assert from 'node:assert/strict';
import { PRO, STATUS, type X87Case, type X87Op } from './x87Cases';
import { hostAndGuest } from './x87Run';

const INIT = [0xdb, 0xe3, 0xd9, 0x2e];                  // FNINIT; FLDCW [esi]
const AFTER = [...STATUS, 0xdb, 0xe2, 0xdd, 0x5e, 0x28]; // status, FNCLEX, FSTP qword [esi+40]
const OPS: X87Op[] = [
  { name: 'fsqrt (ST0 = b)', bytes: [...PRO, 0xd9, 0xfa, ...AFTER] },
  { name: 'fdivp st1 (a / b)', bytes: [...PRO, 0xde, 0xf9, ...AFTER] },
  { name: 'fdiv st0, st1 (b / a)', bytes: [...PRO, 0xd8, 0xf1, ...AFTER] },
  { name: 'fistp dword [esi+24] (b)', bytes: [...PRO, 0xdb, 0x5e, 0x18, ...AFTER] },
  { name: 'fcomp st1', bytes: [...PRO, 0xd8, 0xd9, ...AFTER] },
  { name: 'fadd st0, st1 on an empty stack', bytes: [...INIT, 0xd8, 0xc1, ...STATUS] },
  { name: 'fld1 onto a full stack', bytes: [...INIT, ...Array(8).fill([0xd9, 0xee]).flat(), 0xd9, 0xe8, ...AFTER] },
  { name: 'fyl2x (a · log2 b)', bytes: [...PRO, 0xd9, 0xf1, ...AFTER] },
];

const UNMASKED_IE = 0x027e, UNMASKED_ZE = 0x027b, MASKED = 0x027f;

function buildCases(): X87Case[] {
  const cases: X87Case[] = [];
  for (const cw of [UNMASKED_IE, UNMASKED_ZE, MASKED]) {
    for (const [a, b] of [[1, -1], [2, 0], [-0, 3], [1e20, 1e20], [5, NaN], [NaN, 1], [-4, 0.5], [0, 2]]) {
      for (let op = 0; op < OPS.length; op++) cases.push({ cw, op, a, b });
    }
  }
  return cases;
}

describe('x87 FPU: unmasked exceptions against the host CPU', function () {
  this.timeout(60_000);
  it('invalid operation, stack faults and zero divide: stack and memory unchanged, ES and B set, as the host', () => {
    const cases = buildCases();
    const rows = hostAndGuest(cases, OPS);
    const bad: string[] = [];
    let unmaskedSeen = 0;
    for (const { c, h, g } of rows) {
      const name = `${OPS[c.op].name} cw=${c.cw.toString(16)} a=${c.a} b=${c.b}`;
      const mask = 0x8000 | 0x4700 | 0x3800 | 0x80 | 0x41 | 0x4; // B, C3–C0, TOP, ES, SF, IE, ZE
      const hs = h.readUInt16LE(32), gs = g.readUInt16LE(32);
      if (hs & 0x80) unmaskedSeen++;
      if ((hs & mask) !== (gs & mask)) bad.push(`${name}: status ${hs.toString(16)} vs ${gs.toString(16)}`);
      if (!h.subarray(24, 32).equals(g.subarray(24, 32))) bad.push(`${name}: memory ${h.subarray(24, 32).toString('hex')} vs ${g.subarray(24, 32).toString('hex')}`);
      if (!h.subarray(40, 48).equals(g.subarray(40, 48))) bad.push(`${name}: ST0 after ${h.subarray(40, 48).toString('hex')} vs ${g.subarray(40, 48).toString('hex')}`);
    }
    assert.deepEqual(bad.slice(0, 20), [], `${bad.length} of ${cases.length} differ`);
    assert.ok(unmaskedSeen > cases.length / 10, `unmasked exceptions raised: ${unmaskedSeen} of ${cases.length}`);
  });
});
