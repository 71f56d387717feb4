// The examples against the real tools: each examples/*.gasm, assembled by NASM, boots in QEMU now
// and does exactly what examples/expected/<name>.json recorded. These records are the reference
// that the assembler, the simulated PC and every hypervisor mode are compared with, so they are
// checked here against QEMU itself, not only against themselves.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  EXPECTED_DIR,
  assembleNasmSource,
  assembleWithNasm,
  examplePath,
  listExamples,
  readExpected,
  requireNasm,
  requireQemu,
  runExampleInQemu,
  runImageInQemu,
  traceImageInQemu,
} from '../support/qemu';

const examples = listExamples();

describe('examples in QEMU', function () {
  before(function () {
    // Fail, not skip: without the reference tools these tests would prove nothing.
    requireNasm();
    requireQemu();
  });

  it('has the examples the project promises, each with a record and vice versa', function () {
    for (const name of ['hello', 'compute', 'rings', 'timer', 'paging', 'pv-hello', 'critical', 'exits']) {
      assert.ok(examples.includes(name), `examples/${name}.gasm is missing`);
    }
    const records = fs.readdirSync(EXPECTED_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    assert.deepEqual(records, examples, 'examples/expected/*.json must match examples/*.gasm one to one');
  });

  for (const name of examples) {
    it(`${name}: carries a Multiboot 1 header with a.out-kludge addresses that match its image`, function () {
      const image = assembleWithNasm(examplePath(name));
      // The header is a 4-byte-aligned run of magic, flags, checksum within the first 8 KiB.
      let at = -1;
      for (let i = 0; i + 32 <= Math.min(image.length, 8192); i += 4) {
        if (image.readUInt32LE(i) === 0x1badb002) { at = i; break; }
      }
      assert.ok(at >= 0, 'no Multiboot magic in the first 8 KiB');
      const [magic, flags, checksum, headerAddr, loadAddr, loadEnd, bssEnd, entry] =
        Array.from({ length: 8 }, (_, k) => image.readUInt32LE(at + 4 * k));
      assert.equal((magic + flags + checksum) >>> 0, 0, 'checksum');
      assert.equal(flags, 0x00010000, 'flags: only bit 16 (addresses in the header)');
      assert.equal(loadAddr, 0x100000, 'load_addr = org 0x100000');
      assert.equal(headerAddr - loadAddr, at, 'header_addr is where the header lands');
      assert.equal(loadEnd - loadAddr, image.length, 'load_end_addr covers exactly the file');
      assert.ok(bssEnd >= loadEnd && bssEnd < 16 << 20, 'bss_end_addr after the image, inside 16 MiB');
      assert.ok(entry >= loadAddr && entry < loadEnd, 'entry_addr inside the loaded image');
    });

    it(`${name}: boots in QEMU and matches examples/expected/${name}.json`, async function () {
      const expected = readExpected(name);
      // Every example ends by writing 0 to isa-debug-exit when all its checks passed; anything else
      // (a failed check, a triple fault = 0, a hang = -1) must never have been recorded.
      assert.equal(expected.exitStatus, 1, `the record of ${name} is not a successful run`);
      assert.ok(expected.console.length > 0, `the record of ${name} has no console output`);
      const run = await runExampleInQemu(name);
      assert.equal(run.timedOut, false, `${name} did not stop in QEMU; console so far:\n${run.console}\n${run.stderr}`);
      assert.equal(run.console, expected.console, `${name}: console differs from the record`);
      assert.equal(run.exitStatus, expected.exitStatus, `${name}: exit status differs from the record`);
    });
  }

  it('compute: ITERATIONS scales the work and changes only the "rounds" line', async function () {
    const expected = readExpected('compute').console;
    // Both ways the example documents: nasm -D, and a %define put in front of the source.
    const viaD = await runExampleInQemu('compute', { defines: { ITERATIONS: 3 } });
    assert.equal(viaD.exitStatus, 1);
    assert.equal(viaD.console, expected.replace(/^rounds: \d+/, 'rounds: 3'));
    assert.notEqual(viaD.console, expected);
    const source = '%define ITERATIONS 2\n' + fs.readFileSync(examplePath('compute'), 'utf8');
    const viaPrefix = await runImageInQemu(assembleNasmSource(source));
    assert.equal(viaPrefix.exitStatus, 1);
    assert.equal(viaPrefix.console, expected.replace(/^rounds: \d+/, 'rounds: 2'));
  });

  it('exits: the "; expect:" counts are what QEMU really executes', async function () {
    const source = fs.readFileSync(examplePath('exits'), 'utf8');
    const line = /^; expect: cpuid=(\d+) io=(\d+) rdmsr=(\d+)\s*$/m.exec(source);
    assert.ok(line, 'examples/exits.gasm needs a line "; expect: cpuid=K io=M rdmsr=N"');
    const [k, m, n] = line.slice(1).map(Number);
    const trace = await traceImageInQemu(assembleWithNasm(examplePath('exits')));
    assert.equal(trace.exitStatus, 1, trace.stderr);
    const count = (mn: string): number => trace.byMnemonic[mn] ?? 0;
    assert.equal(count('cpuid'), k, 'cpuid executions');
    assert.equal(count('in') + count('out') + count('ins') + count('outs'), m, 'port accesses (in/out)');
    assert.equal(count('rdmsr'), n, 'rdmsr executions');
  });
});
