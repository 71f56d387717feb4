// Every example guest in Popek (native) against QEMU: assembled by NASM, booted on the simulated PC,
// it must print exactly QEMU's console and end with QEMU's exit status — compared with QEMU live and
// with the record in examples/expected/. The examples are globbed at test time.
import * as assert from 'node:assert/strict';
import { Machine } from '../../core/machine/machine';
import {
  assembleWithNasm, examplePath, listExamples, readExpected, requireNasm, requireQemu, runImageInQemu, type QemuResult,
} from '../support/qemu';

interface PopekResult { console: string; exitStatus: number; outcome: string; instructions: number }

function runInPopek(image: Uint8Array, jit = true): PopekResult {
  const m = new Machine({ memoryMiB: 16, maxInstructions: 500_000_000 });
  m.cpu.jit = jit;
  m.loadImage(image);
  const outcome = m.run();
  // QEMU's -no-reboot turns a triple fault into exit status 0, as Popek's report does.
  return { console: Buffer.from(m.uart.output).toString('latin1'), exitStatus: m.exitCode & 0xff, outcome, instructions: m.instructions };
}

describe('examples in Popek (native) against QEMU', function () {
  this.timeout(120_000);
  const names = listExamples();
  const images = new Map<string, Buffer>();
  before(function () {
    requireNasm();
    requireQemu();
    for (const n of names) images.set(n, assembleWithNasm(examplePath(n)));
  });

  it('finds the examples', function () {
    assert.ok(names.length >= 1 && names.includes('hello'), `examples: ${names.join(', ')}`);
  });

  for (const name of names) {
    it(`${name}: the recorded console and exit status`, function () {
      const expected = readExpected(name);
      const got = runInPopek(images.get(name)!);
      assert.equal(got.console, expected.console);
      assert.equal(got.exitStatus, expected.exitStatus, `exit status (outcome ${got.outcome})`);
    });

    it(`${name}: the interpreter alone gives the same run as with compiled blocks`, function () {
      assert.deepEqual(runInPopek(images.get(name)!, false), runInPopek(images.get(name)!, true));
    });

    it(`${name}: the same as QEMU now`, async function () {
      const [qemu, popek]: [QemuResult, PopekResult] = await Promise.all([runImageInQemu(images.get(name)!), Promise.resolve(runInPopek(images.get(name)!))]);
      assert.ok(!qemu.timedOut, `QEMU did not stop: ${qemu.stderr}`);
      assert.equal(popek.console, qemu.console);
      assert.equal(popek.exitStatus, qemu.exitStatus);
    });
  }
});
