/*
 * Binary translation and hardware assistance: wall-clock speed of the binary translator against the
 * interpreter on the compute example (target ≥ 2×), translation-cache statistics, and the modelled
 * overhead of BT and VT-x against native on compute-bound code (target ≤ 5 %). Wall-clock figures
 * are CPU time of this process (less sensitive to other load on the machine than elapsed time), best
 * of several runs after a warm-up.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assembleProgram, type Program } from '../../core/machine/program';
import { createVm, type Mode, type Vm } from '../../core/vmm';
import type { BinaryTranslationTechnique } from '../../core/vmm/bt/binaryTranslation';
import type { BenchSuite } from './benchSupport';

function computeProgram(iterations?: number): Program {
  const file = path.resolve(__dirname, '..', 'examples', 'compute.gasm');
  const alt = path.resolve(__dirname, '..', '..', 'examples', 'compute.gasm');
  const src = fs.readFileSync(fs.existsSync(file) ? file : alt, 'utf8');
  return assembleProgram('compute.gasm', (iterations ? `%define ITERATIONS ${iterations}\n` : '') + src);
}

function run(program: Program, mode: Mode, cost?: string, jit = true): { vm: Vm; cpuMs: number } {
  const vm = createVm({ mode, cost });
  vm.cpu.jit = jit;
  vm.load(program);
  const t = process.cpuUsage();
  vm.run(2_000_000);
  const u = process.cpuUsage(t);
  if (vm.outcome !== 'exit') throw new Error(`${mode}: compute ended with ${vm.outcome}`);
  return { vm, cpuMs: (u.user + u.system) / 1000 };
}

function best(program: Program, mode: Mode, reps: number, jit = true): number {
  run(program, mode, undefined, jit); // warm-up (V8's own JIT)
  let b = Infinity;
  for (let i = 0; i < reps; i++) b = Math.min(b, run(program, mode, undefined, jit).cpuMs);
  return b;
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

export const btBench: BenchSuite = {
  name: 'bt',
  async run(print) {
    const big = computeProgram(32);
    // The interpreter proper (instruction by instruction; the CPU's own hot-block compiler off), and
    // native mode as shipped (that compiler on), against the binary translator.
    const interp = best(big, 'native', 3, false), jit = best(big, 'native', 3, true), bt = best(big, 'binary-translation', 3);
    print(`compute (ITERATIONS 32), CPU time, best of 3: interpreter ${interp.toFixed(0)} ms, binary translation ${bt.toFixed(0)} ms — ${(interp / bt).toFixed(2)}× (target ≥ 2×)`);
    print(`  native with the CPU's block compiler: ${jit.toFixed(0)} ms (binary translation ${(jit / bt).toFixed(2)}× that)`);

    const { vm } = run(big, 'binary-translation');
    const t = vm.report().translation;
    const engine = (vm.technique as BinaryTranslationTechnique).bt;
    const s = engine.stats;
    print(`translation cache: ${t.blocks} blocks, ${t.instructions} instructions translated (${s.inlined} inline), ${t.cacheHits} cache hits, ` +
      `${s.linksPatched} chain links, ${s.inlineCacheHits} inline-cache hits on indirect branches, ${s.callouts} callouts, ${engine.cache.stats.invalidations} invalidations; ` +
      `${vm.cpu.icount} instructions executed, ${(vm.cpu.icount / t.instructions).toFixed(0)} per instruction translated`);

    for (const iterations of [8, 32]) {
      const p = computeProgram(iterations);
      for (const cost of ['modern', 'vtx-2006']) {
        const native = run(p, 'native', cost).vm.report().cycles;
        const line: string[] = [];
        for (const mode of ['binary-translation', 'hardware-assisted'] as const) {
          const r = run(p, mode, cost).vm.report();
          line.push(`${mode} ${pct(r.cycles / native - 1)}`);
        }
        print(`modelled overhead vs native, compute ITERATIONS ${iterations}, profile ${cost}: ${line.join(', ')} (target ≤ 5 %)`);
      }
    }
  },
};
