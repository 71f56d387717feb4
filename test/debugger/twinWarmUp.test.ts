/*
 * The native twin warms its code at a stop (nativeTwin.ts `warmUp`): it runs ahead of the guest in
 * the host's idle time and is put back exactly where it was, keeping what it decoded and compiled
 * (a restore keeps code: Cpu.setState). Checked here: the twin put back is, byte for byte, a native
 * VM that never ran; it holds compiled regions; the run after it finds what a cold twin finds; and a
 * twin with a disk is not run ahead (a snapshot does not hold a disk's bytes).
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { multibootBoot } from '../../core/machine/multibootBoot';
import { loadProgramFile } from '../../core/machine/program';
import { createVm, type Vm } from '../../core/vmm';
import { DebugRuntime } from '../../debugger/runtime/runtime';
import { REPO_ROOT } from '../support/repoRoot';

const COMPUTE = path.join(REPO_ROOT, 'examples', 'compute.gasm');

/** A runtime stopped on entry with the twin (checkEquivalence), after the host's idle turn. */
async function stoppedAtEntry(program: string, disks?: string[]): Promise<{ rt: DebugRuntime; lines: string[]; ended: Promise<string>; before: string }> {
  const lines: string[] = [];
  let end!: (m: string) => void;
  const ended = new Promise<string>((r) => { end = r; });
  const rt: DebugRuntime = new DebugRuntime({ program, mode: 'trap-and-emulate', cost: 'modern', memoryMiB: 16, maxInstructions: 0, checkEquivalence: true, trace: false, disks }, {
    stopped: (s) => { lines.push(`stop ${s.reason}: ${s.description}`); },
    output: (text) => { lines.push(text.trim()); },
    ended: (m) => end(m),
  });
  // The twin as the runtime built it (the run ahead waits for the host's idle turn).
  const before = stateOf(rt.twin!);
  rt.start(true);
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  return { rt, lines, ended, before };
}

/** Everything a snapshot holds but the statistics, and the memory's digest. */
function stateOf(vm: Vm): string {
  const s = vm.snapshot();
  const { memory, counters: _counters, ...machine } = s.machine;
  return JSON.stringify({ ...s, machine, memory: createHash('sha1').update(memory).digest('hex') });
}

describe('debugger: the native twin warms its code at a stop, and is put back where it was', function () {
  this.timeout(60_000);

  it('compute.gasm under trap-and-emulate: the twin at the entry stop is a native VM that never ran, with compiled regions; the run finds no divergence', async function () {
    const { rt, lines, ended, before } = await stoppedAtEntry(COMPUTE);
    try {
      const twin = rt.twin!;
      assert.ok(twin, 'a twin');
      assert.ok(twin.cpu.stats.regionsCompiled > 0, `the twin compiled regions (${JSON.stringify(twin.cpu.stats)})`);
      assert.equal(twin.cpu.icount, 0);
      assert.equal(stateOf(twin), before);
      // And that is a native VM loaded as the guest was, which never ran (the same Multiboot data).
      const fresh = createVm({ mode: 'native', boot: multibootBoot(COMPUTE, undefined, undefined, () => new Uint8Array()) });
      fresh.load(loadProgramFile(COMPUTE));
      assert.equal(stateOf(fresh), before);
      rt.setExceptionFilters([{ id: 'divergence' }]);
      rt.continue();
      const message = await ended;
      assert.doesNotMatch(lines.join('\n'), /Divergence/);
      assert.match(message, /exit/i);
      assert.equal(String.fromCharCode(...twin.machine.uart.output), String.fromCharCode(...rt.vm.machine.uart.output));
    } finally { rt.dispose(); }
  });

  it('a twin with a disk is not run ahead', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-warm-'));
    try {
      const disk = path.join(dir, 'disk.img');
      fs.writeFileSync(disk, Buffer.alloc(512 * 64));
      const { rt } = await stoppedAtEntry(COMPUTE, [disk]);
      try {
        assert.equal(rt.twin!.cpu.stats.blocksDecoded, 0);
      } finally { rt.dispose(); }
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
});
