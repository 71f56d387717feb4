/*
 * Engine fuzzing (issue 16): random guest images in all five techniques. Half are random bytes
 * (whatever they decode to: faults, triple faults, junk); half are random programs of innocuous
 * instructions (ALU, moves, memory, stack, loops, setcc/cmov — nothing sensitive) assembled by
 * core/asm, which fold their memory into the registers and end in `jmp $`. Checked: no host
 * exception (outcome 'error'), the same run twice gives the same result, and on the innocuous
 * programs native, binary translation and VT-x end with the same registers and arithmetic flags
 * (trap-and-emulate and paravirtual too: nothing in them is sensitive).
 */
import * as assert from 'node:assert/strict';
import { assemble } from '../../core/asm';
import { availableModes, createVm, type Mode } from '../../core/vmm';
import { imageRng, innocuousProgram, ORIGIN, randomImage } from './support/images';
import { cases, progress, report, SEED } from './support/scale';

const LIMIT = 30_000;

interface Outcome { outcome: string; exitCode: number; console: string; regs: number[]; flags: number; error?: string; unmodelled?: boolean }

function run(bytes: Uint8Array, mode: Mode, limit: number): Outcome {
  const vm = createVm({ mode, maxInstructions: limit, memoryMiB: 4 });
  vm.load({ bytes, origin: ORIGIN, entry: ORIGIN, via: 'binary', diagnostics: [] });
  vm.run(limit);
  const rep = vm.report();
  const cpu = vm.cpu;
  return { outcome: rep.outcome, exitCode: rep.exitCode, console: rep.console, regs: [...cpu.regs].map((x) => x >>> 0), flags: cpu.getEflags() & 0x8d5, error: rep.error, unmodelled: rep.unmodelled };
}

describe('fuzz: engine — random guest images in all five techniques', function () {
  this.timeout(0);
  const images = cases(4, 5000);
  it(`${images} images × ${availableModes().length} modes: no host exception, deterministic, native = BT = VT-x without sensitive instructions`, () => {
    const modes = availableModes();
    const failures: string[] = [];
    const fail = (s: string) => { if (failures.length < 15) failures.push(s); };
    const counts = { images: 0, randomImages: 0, programs: 0, runs: 0, hostErrors: 0, unmodelled: 0 };
    // Runs that ended on a documented limit of the simulated CPU (RunReport.unmodelled), by reason:
    // counted and reported, not failures. Any other 'error' outcome is a bug.
    const unmodelled: Record<string, number> = {};
    for (let n = 0; n < images; n++) {
      const r = imageRng(SEED, n);
      const innocuous = n % 2 === 0;
      let bytes: Uint8Array;
      let source = '';
      if (innocuous) {
        source = innocuousProgram(r);
        const a = assemble('fuzz.gasm', source);
        const errors = a.diagnostics.filter((d) => d.severity === 'error');
        if (errors.length) { fail(`program ${n} does not assemble: ${errors[0].message}\n${source}`); continue; }
        bytes = a.bytes;
        counts.programs++;
      } else {
        bytes = randomImage(r);
        counts.randomImages++;
      }
      counts.images++;
      const results = new Map<Mode, Outcome>();
      for (const mode of modes) {
        const limit = innocuous ? LIMIT : 5_000;
        let a: Outcome, b: Outcome;
        try {
          a = run(bytes, mode, limit);
          // Determinism: every fourth image runs twice (a VM costs tens of ms to build).
          b = n % 4 < 2 ? run(bytes, mode, limit) : a;
        } catch (e) {
          fail(`image ${n} in ${mode}: host exception ${(e as Error).stack}`);
          continue;
        }
        counts.runs += a === b ? 1 : 2;
        if (a.outcome === 'error' && a.unmodelled) {
          counts.unmodelled++;
          const reason = (a.error ?? '').replace(/^[a-z-]+: /, '');
          unmodelled[reason] = (unmodelled[reason] ?? 0) + 1;
        } else if (a.outcome === 'error') { counts.hostErrors++; fail(`image ${n} in ${mode}: ${a.error} (${innocuous ? source : Buffer.from(bytes).toString('hex')})`); }
        try { assert.deepEqual(b, a); } catch { fail(`image ${n} in ${mode}: two runs differ`); }
        results.set(mode, a);
      }
      if (n % 200 === 199) progress('engine', { ...counts, failures: failures.length });
      if (innocuous) {
        const native = results.get('native');
        for (const [mode, res] of results) {
          if (!native || mode === 'native') continue;
          if (res.outcome !== 'limit') fail(`program ${n} in ${mode} ended ${res.outcome} ${res.error ?? ''}`);
          try {
            assert.deepEqual({ regs: res.regs.filter((_, i) => i !== 4), flags: res.flags }, { regs: native.regs.filter((_, i) => i !== 4), flags: native.flags });
          } catch {
            fail(`program ${n}: ${mode} ends with ${JSON.stringify(res.regs)} flags ${res.flags.toString(16)}, native with ${JSON.stringify(native.regs)} flags ${native.flags.toString(16)}\n${source}`);
          }
        }
      }
    }
    report('engine', { ...counts, modes: modes.length, failures: failures.length, ...Object.fromEntries(Object.entries(unmodelled).map(([k, v]) => [`unmodelled: ${k}`, v])) });
    assert.deepEqual(failures, []);
  });
});
