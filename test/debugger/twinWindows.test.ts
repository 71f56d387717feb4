/*
 * checkEquivalence while continuing: the guest runs stretches on the fast path, the native twin
 * catches up, the two are compared as a whole, and only a stretch that made a new difference is run
 * again one instruction at a time. The reference is the lock step after every instruction
 * (`oneAtATime`): the divergence stops (instruction count, EIP, description) and the Debug Console
 * lines must be the same, for techniques where the guest diverges (trap-and-emulate and
 * paravirtualization run the kernel at CPL 1: push cs, sgdt, pushfd show it) and where it does not
 * (binary translation, VT-x) — while the fast path re-ran only part of the guest in lock step.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DebugRuntime } from '../../debugger/runtime/runtime';
import type { Mode } from '../../core/vmm';
import { REPO_ROOT } from '../support/repoRoot';
import { fixture } from './support';

const TWINS = fixture('twins.gasm');
const USER_SGDT = fixture('usersgdt.gasm');

interface Run { log: string[]; instructions: number; oneByOne: number; lockStepped: number; fromWorker: number; twinRan: number; adopted: number }

/** `pauseWhileSearching`: the first continue is paused as soon as the twin looks for a stretch's difference. */
async function run(mode: Mode, oneAtATime: boolean, program = TWINS, pauseWhileSearching = false): Promise<Run> {
  const log: string[] = [];
  let rt!: DebugRuntime;
  await new Promise<void>((resolve, reject) => {
    rt = new DebugRuntime({ program, mode, cost: 'modern', memoryMiB: 16, maxInstructions: 0, checkEquivalence: true, trace: false, oneAtATime }, {
      stopped: (s) => {
        const regs = [...rt.cpu.regs].map((r) => (r >>> 0).toString(16)).join(' ');
        log.push(`stop ${rt.instructions} ${rt.pc.toString(16)} ${s.reason}: ${s.description} [${regs}]`);
        setImmediate(() => rt.continue());
      },
      output: (text, category) => {
        if (category === 'stderr') reject(new Error(text));
        else if (category === 'console') log.push(text.trim());
      },
      ended: (message) => { log.push(`end: ${message}`); resolve(); },
    });
    rt.setExceptionFilters([{ id: 'divergence' }]);
    rt.continue();
    const poll = (): void => {
      if (rt.twinSearching) rt.pause();
      else if (!rt.hasEnded && rt.isRunning) setImmediate(poll);
    };
    if (pauseWhileSearching) setImmediate(poll);
  });
  const result = {
    log, instructions: rt.instructions, oneByOne: rt.checkedOneByOne, lockStepped: rt.twinLockStepped, fromWorker: rt.twinStatesFromWorker,
    twinRan: rt.twinInstructionsRun, adopted: rt.twinInstructionsAdopted,
  };
  rt.dispose();
  return result;
}

describe('debugger: checkEquivalence compares the native twin after stretches, not after every instruction', function () {
  this.timeout(120_000);

  for (const mode of ['trap-and-emulate', 'paravirtual'] as Mode[]) {
    it(`${mode}: the same divergence stops and lines as the lock step, re-running only the stretch that diverged`, async () => {
      const reference = await run(mode, true);
      const fast = await run(mode, false);
      const stops = reference.log.filter((l) => l.startsWith('stop '));
      assert.equal(stops.length, 1, reference.log.join('\n'));
      assert.match(stops[0], /divergence: Divergence from native after twins\.gasm:\d+ \(push cs\): memory at 0x[0-9a-f]+: 09 00 00 00, native 08 00 00 00/);
      assert.deepEqual(fast.log, reference.log);
      assert.ok(reference.oneByOne >= reference.instructions);
      assert.equal(fast.oneByOne, 0);
      // The stretch that diverged is narrowed down (re-run fast to its middle, compared there) to a
      // window of a few thousand instructions before the lock step re-runs it.
      assert.ok(fast.lockStepped < fast.instructions / 4, `${fast.lockStepped} of ${fast.instructions} instructions re-run in lock step`);
    });
  }

  it('trap-and-emulate: a pause while the twin looks for the divergence stops there; the next continue finds the same divergence', async () => {
    const reference = await run('trap-and-emulate', false);
    const paused = await run('trap-and-emulate', false, TWINS, true);
    const pause = paused.log.findIndex((l) => l.startsWith('stop '));
    assert.match(paused.log[pause], /^stop (\d+) [0-9a-f]+ pause: Paused at .* \(while looking for a divergence from native\)/, paused.log.join('\n'));
    const divergenceAt = Number(/^stop (\d+)/.exec(reference.log.find((l) => l.startsWith('stop '))!)![1]);
    assert.ok(Number(/^stop (\d+)/.exec(paused.log[pause])![1]) <= divergenceAt, paused.log[pause]);
    // Without the pause stop, the same lines: the divergence stop, the Debug Console, the end.
    assert.deepEqual(paused.log.filter((_, i) => i !== pause), reference.log);
  });

  it('trap-and-emulate: a divergence after a long clean run is found in a small window of it', async () => {
    // 60 rounds: ~1 M instructions, the sensitive ones in the last round only. The stretches have
    // grown long by then; the lock step re-runs a few thousand instructions, not the stretch.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-twins-'));
    const program = path.join(dir, 'twins.gasm');
    fs.writeFileSync(program, fs.readFileSync(TWINS, 'utf8').replace(/^ROUNDS\s+equ\s+3\b/m, 'ROUNDS      equ 60'));
    try {
      const short = await run('trap-and-emulate', false);
      const long = await run('trap-and-emulate', false, program);
      assert.ok(long.instructions > 900_000, `${long.instructions} instructions`);
      // The same lines as the 3-round run (whose lines are the lock step's, above), but the counts.
      const counts = (log: string[]) => log.map((l) => l.replace(/\b\d{4,}\b/g, 'N').replace(/\[[^\]]*\]/, ''));
      assert.deepEqual(counts(long.log), counts(short.log));
      assert.equal(long.oneByOne, 0);
      // The clean rounds have no event of the technique: the twin did not run them, it took the
      // guest's state at the ends of their stretches (stateTransfer.ts).
      // (What the twin ran is mostly the search: the last stretch narrowed by re-running halves of it.)
      assert.ok(long.adopted > long.instructions / 2, `${long.adopted} of ${long.instructions} instructions taken from the guest`);
      assert.ok(long.lockStepped < 20_000, `${long.lockStepped} of ${long.instructions} instructions re-run in lock step`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trap-and-emulate: sgdt at CPL 3 inside a long stretch (the monitor acts without an event there) is found where the lock step finds it', async () => {
    // ~240 k instructions at ring 3: sgdt after 80 k, the system call after 240 k — in different
    // stretches, so the one holding sgdt has no event of the technique at all.
    const reference = await run('trap-and-emulate', true, USER_SGDT);
    const fast = await run('trap-and-emulate', false, USER_SGDT);
    const stops = reference.log.filter((l) => l.startsWith('stop '));
    assert.equal(stops.length, 1, reference.log.join('\n'));
    assert.match(stops[0], /divergence: Divergence from native after usersgdt\.gasm:\d+ \(sgdt/);
    assert.deepEqual(fast.log, reference.log);
    // The stretches before it were taken from the guest, not run by the twin.
    assert.ok(fast.adopted > 0, `${fast.adopted} instructions taken from the guest`);
  });

  it('compute.gasm (~67 M instructions, events only at its start and end): the twin runs only the stretches with events, in every technique', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-compute-'));
    const program = path.join(dir, 'compute.gasm');
    fs.writeFileSync(program, '%define ITERATIONS 100\n' + fs.readFileSync(path.join(REPO_ROOT, 'examples', 'compute.gasm'), 'utf8'));
    try {
      for (const mode of ['trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted'] as Mode[]) {
        const r = await run(mode, false, program);
        assert.deepEqual(r.log, [`end: The guest exited with code 1 (isa-debug-exit) after ${r.instructions} instructions. Compared with native: same console and outcome.`], mode);
        assert.ok(r.instructions > 60_000_000, `${mode}: ${r.instructions} instructions`);
        // The stretches the technique did nothing in were taken from the guest; the twin ran the
        // first ones (the guest sets itself up: traps, shadow paging), the one the guest ends in
        // (console output, the exit) and, under trap-and-emulate and paravirtualization, the one
        // where the monitor holds the PIT's first interrupt (virtual IF = 0).
        assert.ok(r.adopted > r.instructions * 2 / 3, `${mode}: ${r.adopted} of ${r.instructions} instructions taken from the guest`);
        assert.ok(r.twinRan < r.instructions / 3, `${mode}: the twin ran ${r.twinRan} of ${r.instructions} instructions`);
        assert.equal(r.lockStepped, 0, mode);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('trap-and-emulate: a stretch after stretches the technique acted in is run ahead by the worker thread', async () => {
    // Sensitive instructions in every one of 1000 rounds (~16 M instructions): after the first
    // divergence the twin differs from the guest for good, so it runs every stretch; the long ones
    // in its worker thread, beside the guest (twinAhead.ts), not on this one.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-twins-'));
    const program = path.join(dir, 'twins.gasm');
    fs.writeFileSync(program, fs.readFileSync(TWINS, 'utf8').replace(/^ROUNDS\s+equ\s+3\b/m, 'ROUNDS      equ 1000')
      .replace(/^ {4}cmp ebp, 1 .*$/m, '    cmp ebp, ebp').replace(/^ {4}cmp dword \[syscalls\], 1$/m, '    cmp dword [syscalls], 1000'));
    try {
      const r = await run('trap-and-emulate', false, program);
      assert.match(r.log.find((l) => l.startsWith('stop ')) ?? '', /^stop \d+ [0-9a-f]+ divergence: Divergence from native after twins\.gasm:\d+ \(push cs\)/, r.log.join('\n'));
      assert.match(r.log[r.log.length - 1], /^end: The guest exited with code 1 .* Compared with native: same console and outcome\.$/);
      assert.ok(r.instructions > 15_000_000, `${r.instructions} instructions`);
      assert.equal(r.adopted, 0);
      assert.ok(r.fromWorker > 0, `${r.fromWorker} twin states from the worker`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('binary-translation: no divergence, as in the lock step, and nothing re-run', async () => {
    const reference = await run('binary-translation', true);
    const fast = await run('binary-translation', false);
    assert.deepEqual(fast.log, reference.log);
    assert.deepEqual(fast.log, [`end: The guest exited with code 1 (isa-debug-exit) after ${fast.instructions} instructions. Compared with native: same console and outcome.`]);
    assert.equal(fast.lockStepped, 0);
  });

  it('hardware-assisted: no divergence and nothing re-run (the lock step takes too long here to be the reference)', async () => {
    const fast = await run('hardware-assisted', false);
    assert.deepEqual(fast.log, [`end: The guest exited with code 1 (isa-debug-exit) after ${fast.instructions} instructions. Compared with native: same console and outcome.`]);
    assert.equal(fast.lockStepped, 0);
  });
});
