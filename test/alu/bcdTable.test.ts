// The instructions 64-bit mode lacks (DAA, DAS, AAA, AAS, AAM, AAD, SALC) against a real CPU's results:
// the table recorded on a host that runs 32-bit code (see bcdTable.ts), on every host; and, where this
// host runs 32-bit code too, the table against this host's CPU live.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ARITH, RECORD_DWORDS } from './aluCases';
import { BCD_UNDEFINED, TABLE_FILE, bcdInputs, parseTable, recordOnHost, toCase, untouchedDiffs, type BcdEntry } from './bcdTable';
import { hostCpuName, probeHost32, runInPopek } from './runners';

describe('BCD adjustments and SALC against a recorded real CPU', function () {
  this.timeout(120_000);
  let dir: string;
  let table: { cpu: string; entries: BcdEntry[] };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-bcd-'));
    table = parseTable(fs.readFileSync(TABLE_FILE, 'latin1'));
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('holds every input the generator makes (the table belongs to this generator)', () => {
    const inputs = bcdInputs();
    assert.equal(table.entries.length, inputs.length);
    inputs.forEach((e, k) => assert.deepEqual([table.entries[k].insn, table.entries[k].ax, table.entries[k].flags], [e.insn, e.ax, e.flags], `entry ${k}`));
    for (const m of ['daa', 'das', 'aaa', 'aas', 'aam', 'aad', 'salc']) assert.ok(table.entries.some((e) => e.insn.startsWith(m)), m);
  });

  it('Popek gives the recorded AX and defined flags, and leaves everything else alone', () => {
    const { records } = runInPopek(table.entries.map(toCase), dir);
    const failures: string[] = [];
    table.entries.forEach((e, k) => {
      const o = k * RECORD_DWORDS, mask = ARITH & ~BCD_UNDEFINED[e.insn.split(' ')[0]];
      const ax = records[o] & 0xffff, flags = records[o + 8] & mask;
      const diffs = untouchedDiffs(records, k);
      if (ax !== e.axOut) diffs.push(`AX popek=0x${ax.toString(16)} cpu=0x${e.axOut.toString(16)}`);
      if (flags !== (e.flagsOut & mask)) diffs.push(`flags popek=0x${flags.toString(16)} cpu=0x${(e.flagsOut & mask).toString(16)} (compared 0x${mask.toString(16)})`);
      if (diffs.length && failures.length < 20) failures.push(`${e.insn} AX=0x${e.ax.toString(16)} flags=0x${e.flags.toString(16)}: ${diffs.join('; ')}`);
    });
    console.log(`      ${table.entries.length} entries recorded on ${table.cpu}`);
    assert.equal(failures.length, 0, failures.join('\n'));
  });

  it('the table equals this host CPU, where this host runs 32-bit code', function () {
    const ability = probeHost32(dir);
    if (!ability.runs32) {
      console.log(`      this host (${hostCpuName()}) cannot run 32-bit code (${ability.why}): the table is the reference`);
      this.skip();
    }
    const live = recordOnHost(dir);
    const failures: string[] = [];
    live.forEach((e, k) => {
      const t = table.entries[k], mask = ARITH & ~BCD_UNDEFINED[e.insn.split(' ')[0]];
      if (e.axOut !== t.axOut || (e.flagsOut & mask) !== (t.flagsOut & mask)) {
        if (failures.length < 20) failures.push(`${e.insn} AX=0x${e.ax.toString(16)}: host AX=0x${e.axOut.toString(16)} flags=0x${(e.flagsOut & mask).toString(16)}; table AX=0x${t.axOut.toString(16)} flags=0x${(t.flagsOut & mask).toString(16)}`);
      }
    });
    console.log(`      ${live.length} entries re-run on ${hostCpuName()}`);
    assert.equal(failures.length, 0, failures.join('\n'));
  });
});
