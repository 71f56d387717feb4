// ALU semantics against the real CPU: 20,000 random cases (instruction, operands, initial flags) run
// natively on the host as one 32-bit Linux program (nasm -f elf32, ld -m elf_i386) and in Popek as
// one flat guest built from the same source; every register, the memory operand and every defined
// arithmetic flag must be equal. Undefined flags (per instruction, and per shift count as the SDM
// says) are masked. The guest runs the cases twice, the second time as compiled blocks, and keeps
// the second results.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Machine } from '../../core/machine/machine';
import { ARITH, CASE_REGS, RECORD_DWORDS, caseSource, generateCases, type AluCase } from './aluCases';

const CASES = 20_000;
const SEED = 0x5eed1234;

function run(cmd: string, args: string[], opts: { cwd: string }): Buffer {
  return execFileSync(cmd, args, { cwd: opts.cwd, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

function describeCase(c: AluCase, k: number): string {
  return `case ${k}: ${c.insn} with ${CASE_REGS.map((r, i) => `${r}=0x${c.regs[i].toString(16)}`).join(' ')} mem=0x${c.mem.toString(16)} flags=0x${c.flags.toString(16)}`;
}

describe('ALU semantics against the host CPU', function () {
  this.timeout(240_000);
  let dir: string;
  let cases: AluCase[];
  let host: Int32Array;
  let guest: Int32Array;

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-alu-'));
    cases = generateCases(CASES, SEED);
    fs.writeFileSync(path.join(dir, 'alu.asm'), caseSource(cases));
    // Host: one ELF32 program that runs every case and writes the result records to stdout.
    run('nasm', ['-w-number-overflow', '-f', 'elf32', '-DHOST', '-o', 'alu.o', 'alu.asm'], { cwd: dir });
    run('ld', ['-m', 'elf_i386', '-o', 'alu', 'alu.o'], { cwd: dir });
    const out = run(path.join(dir, 'alu'), [], { cwd: dir });
    assert.equal(out.length, CASES * RECORD_DWORDS * 4, 'the host program wrote every record');
    host = new Int32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.length));
    // Guest: the same cases as a flat image at 1 MiB.
    run('nasm', ['-w-number-overflow', '-f', 'bin', '-o', 'alu.bin', 'alu.asm'], { cwd: dir });
    const m = new Machine({ memoryMiB: 16, maxInstructions: 10_000_000 });
    m.cpu.jitThreshold = 1; // the second pass over the cases runs the compiled blocks
    m.loadImage(new Uint8Array(fs.readFileSync(path.join(dir, 'alu.bin'))), { origin: 0x100000 });
    const outcome = m.run();
    assert.equal(outcome, 'exit', `the guest ran to its end (${m.error ?? ''})`);
    assert.ok(m.cpu.stats.blocksCompiled > CASES / 2, `compiled blocks: ${m.cpu.stats.blocksCompiled}`);
    const bytes = m.mem.bytes.slice(0x400000, 0x400000 + CASES * RECORD_DWORDS * 4);
    guest = new Int32Array(bytes.buffer);
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

  it('gives the host CPU\'s registers, memory and defined flags for every case', function () {
    const failures: string[] = [];
    for (let k = 0; k < cases.length && failures.length < 20; k++) {
      const c = cases[k], o = k * RECORD_DWORDS;
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
    assert.equal(failures.length, 0, `mismatches (first ${failures.length}):\n${failures.join('\n')}`);
  });
});
