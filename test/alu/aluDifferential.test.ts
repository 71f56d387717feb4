// ALU semantics against the real CPU: 20,000 random cases (instruction, operands, initial flags) run
// natively on the host and in Popek as one flat guest built from the same source; every register, the
// memory operand and every defined arithmetic flag must be equal. Undefined flags (per instruction,
// and per shift count as the SDM says) are masked. The guest runs the cases twice, the second time as
// compiled blocks, and keeps the second results.
//
// Hosts differ: every x86-64 host runs the cases as a 64-bit program with the same 8/16/32-bit
// operands (the ALU semantics are the same); a host that can also run 32-bit programs runs them as a
// 32-bit program too, which adds the instructions 64-bit mode lacks (DAA … AAD, SALC). Those are always
// checked against a table recorded on a real CPU (bcdTable.test.ts), never skipped.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ARITH, CASE_REGS, RECORD_DWORDS, generateCases, isLegacyOnly, type AluCase } from './aluCases';
import { hostCpuName, probeHost32, runInPopek, runOnHost, type HostAbility } from './runners';

const CASES = 20_000;
const SEED = 0x5eed1234;

function describeCase(c: AluCase, k: number): string {
  return `case ${k}: ${c.insn} with ${CASE_REGS.map((r, i) => `${r}=0x${c.regs[i].toString(16)}`).join(' ')} mem=0x${c.mem.toString(16)} flags=0x${c.flags.toString(16)}`;
}

/** Every mismatch between a host record set and Popek's (first 20), over the cases `include` selects. */
function mismatches(cases: AluCase[], host: Int32Array, guest: Int32Array, include: (c: AluCase) => boolean): { compared: number; failures: string[] } {
  const failures: string[] = [];
  let compared = 0;
  for (let k = 0; k < cases.length && failures.length < 20; k++) {
    const c = cases[k], o = k * RECORD_DWORDS;
    if (!include(c)) continue;
    compared++;
    const diffs: string[] = [];
    for (let i = 0; i < 8; i++) {
      if (host[o + i] !== guest[o + i]) diffs.push(`${i < 7 ? CASE_REGS[i] : 'mem'} host=0x${(host[o + i] >>> 0).toString(16)} popek=0x${(guest[o + i] >>> 0).toString(16)}`);
    }
    const mask = ARITH & ~c.undefinedFlags;
    if ((host[o + 8] & mask) !== (guest[o + 8] & mask)) {
      diffs.push(`flags host=0x${(host[o + 8] & mask).toString(16)} popek=0x${(guest[o + 8] & mask).toString(16)} (compared 0x${mask.toString(16)})`);
    }
    if (diffs.length) failures.push(`${describeCase(c, k)}\n    ${diffs.join('; ')}`);
  }
  return { compared, failures };
}

describe('ALU semantics against the host CPU', function () {
  this.timeout(240_000);
  let dir: string;
  let cases: AluCase[];
  let guest: Int32Array;
  let ability: HostAbility;

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-alu-'));
    cases = generateCases(CASES, SEED);
    ability = probeHost32(dir);
    console.log(`      host: ${hostCpuName()}; 64-bit differential always, 32-bit differential ${ability.runs32 ? 'too' : 'not possible'} (${ability.why})`);
    const popek = runInPopek(cases, dir);
    assert.ok(popek.blocksCompiled > CASES / 2, `compiled blocks: ${popek.blocksCompiled}`);
    guest = popek.records;
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it(`runs ${CASES} cases covering every ALU family`, function () {
    const families = new Set(cases.map((c) => c.insn.split(' ')[0]));
    for (const m of ['add', 'adc', 'sbb', 'sub', 'cmp', 'and', 'or', 'xor', 'test', 'inc', 'dec', 'neg', 'not', 'mul', 'imul', 'div', 'idiv',
      'rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar', 'shld', 'shrd', 'bt', 'bts', 'btr', 'btc', 'bsf', 'bsr', 'daa', 'das', 'aaa', 'aas', 'aam', 'aad',
      'xadd', 'cmpxchg', 'bswap', 'movzx', 'movsx', 'lea']) {
      assert.ok(families.has(m), `no case for ${m}`);
    }
  });

  it('gives the host CPU\'s registers, memory and defined flags for every case valid in 64-bit mode (64-bit host program)', function () {
    const host = runOnHost(cases, 'host64', dir);
    const { compared, failures } = mismatches(cases, host, guest, (c) => !isLegacyOnly(c));
    console.log(`      64-bit host program: ${compared} cases compared`);
    assert.ok(compared > CASES * 0.9, `only ${compared} cases compared`);
    assert.equal(failures.length, 0, `mismatches (first ${failures.length}):\n${failures.join('\n')}`);
  });

  it('gives the host CPU\'s results for every case, the 32-bit-only instructions included (32-bit host program, where the host runs one)', function () {
    if (!ability.runs32) {
      // Not a silent skip: the 32-bit-only instructions are checked against the recorded table (bcdTable.test.ts).
      console.log(`      32-bit host program: not run (${ability.why}); DAA…AAD and SALC are checked against test/alu/fixtures/bcd-host32.txt`);
      this.skip();
    }
    const host = runOnHost(cases, 'host32', dir);
    const { compared, failures } = mismatches(cases, host, guest, () => true);
    console.log(`      32-bit host program: ${compared} cases compared`);
    assert.equal(failures.length, 0, `mismatches (first ${failures.length}):\n${failures.join('\n')}`);
  });
});
