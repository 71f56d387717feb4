/*
 * CPU benchmark: guest instructions per second of the simulated PC (native mode) on the compute
 * example and on a tight ALU loop, beside the same loop run natively on this host as a 32-bit Linux
 * program (nasm -f elf32, ld -m elf_i386), with the ratio. Target: ≥ 100 M guest instructions/s on
 * the compute loop.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchSuite } from './benchSupport';
import { Machine } from '../../core/machine/machine';
import { assembleProgram, loadProgramFile } from '../../core/machine/program';

/** The ALU loop body: 8 instructions per iteration (7 ALU + the loop branch). */
const LOOP_BODY = ['add eax, ebx', 'xor ebx, eax', 'sub edx, eax', 'shl esi, 1', 'or esi, edx', 'and edi, esi', 'dec ecx', 'jnz .l'];
const PER_ITERATION = LOOP_BODY.length;

function guestLoop(iterations: number): string {
  return ['bits 32', 'org 0x100000', 'start:', `  mov ecx, ${iterations}`, '  mov ebx, 1', '.l:', ...LOOP_BODY.map((l) => '  ' + l), '  mov al, 0', '  out 0xf4, al', '  hlt', ''].join('\n');
}
function hostLoop(iterations: number): string {
  return ['bits 32', 'global _start', 'section .text', '_start:', `  mov ecx, ${iterations}`, '  mov ebx, 1', '.l:', ...LOOP_BODY.map((l) => '  ' + l),
    '  mov eax, 1', '  xor ebx, ebx', '  int 0x80', ''].join('\n');
}

/**
 * Runs a guest to its end. `ms` is wall time; `cpuMs` the process's CPU time, which a busy shared
 * machine disturbs less (both are printed).
 */
function runGuest(bytes: Uint8Array, origin: number, breakpoint?: number): { instructions: number; ms: number; cpuMs: number; outcome: string } {
  const m = new Machine({ maxInstructions: 2_000_000_000 });
  m.loadImage(bytes, { origin });
  if (breakpoint !== undefined) m.cpu.breakpoints.add(breakpoint);
  const start = performance.now(), cpu0 = process.cpuUsage();
  const outcome = m.run(50_000_000);
  const cpu = process.cpuUsage(cpu0);
  return { instructions: m.instructions, ms: performance.now() - start, cpuMs: (cpu.user + cpu.system) / 1000, outcome };
}
function best(runs: Array<ReturnType<typeof runGuest>>): ReturnType<typeof runGuest> {
  return runs.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
}
const figures = (r: ReturnType<typeof runGuest>) =>
  `${(r.instructions / 1e6).toFixed(1)} M instructions: ${mips(r.instructions, r.cpuMs).toFixed(1)} M guest instructions/s of CPU time (${r.cpuMs.toFixed(0)} ms), ${mips(r.instructions, r.ms).toFixed(1)} M/s of wall time (${r.ms.toFixed(0)} ms)`;

function findExample(name: string): string | undefined {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const f = path.join(dir, 'examples', name);
    if (fs.existsSync(f)) return f;
    if (path.dirname(dir) === dir) return undefined;
  }
}

const mips = (instructions: number, ms: number) => instructions / ms / 1000;

export const cpuBench: BenchSuite = {
  name: 'cpu',
  async run(print) {
    // Compute example (sieve + CRC-32), best of three runs after a warm-up.
    const compute = findExample('compute.gasm');
    if (compute) {
      const p = loadProgramFile(compute);
      const first = runGuest(p.bytes, p.origin);
      print(`compute example, first run (includes decoding and JS compilation): ${figures(first)}`);
      // Rounds alternate without and with one breakpoint on an address the guest never executes (the
      // CPU checks breakpoints per block, so blocks still run compiled and chained: a debugger's
      // continue with a breakpoint set); best of each.
      const unreached = 0x10;
      const plain: Array<ReturnType<typeof runGuest>> = [], withBp: Array<ReturnType<typeof runGuest>> = [];
      for (let round = 0; round < 4; round++) {
        plain.push(runGuest(p.bytes, p.origin));
        withBp.push(runGuest(p.bytes, p.origin, unreached));
      }
      const r = best(plain), b = best(withBp);
      print(`compute example, best of 4 further runs: ${figures(r)} (outcome ${r.outcome}; target ≥ 100)`);
      print(`compute example with a breakpoint set (never reached), best of 4: ${figures(b)} (outcome ${b.outcome}; ${(100 * mips(b.instructions, b.cpuMs) / mips(r.instructions, r.cpuMs)).toFixed(0)} % of the speed without)`);
    } else print('compute example: examples/compute.gasm not found');

    // Tight ALU loop in the guest.
    const iterations = 20_000_000;
    const g = assembleProgram('loop.gasm', guestLoop(iterations));
    runGuest(g.bytes, g.origin);
    const guest = best([runGuest(g.bytes, g.origin), runGuest(g.bytes, g.origin)]);
    const guestMips = mips(guest.instructions, guest.cpuMs);
    print(`ALU loop in Popek: ${figures(guest)}`);

    // The same loop on the host CPU.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-bench-'));
    try {
      const hostIterations = 500_000_000;
      fs.writeFileSync(path.join(dir, 'loop.asm'), hostLoop(hostIterations));
      execFileSync('nasm', ['-f', 'elf32', '-o', 'loop.o', 'loop.asm'], { cwd: dir, stdio: 'ignore' });
      execFileSync('ld', ['-m', 'elf_i386', '-o', 'loop', 'loop.o'], { cwd: dir, stdio: 'ignore' });
      execFileSync(path.join(dir, 'loop'), { stdio: 'ignore' });
      let fastest = Infinity;
      for (let k = 0; k < 3; k++) {
        const t = performance.now();
        execFileSync(path.join(dir, 'loop'), { stdio: 'ignore' });
        fastest = Math.min(fastest, performance.now() - t);
      }
      const hostMips = mips(hostIterations * PER_ITERATION, fastest);
      print(`ALU loop on the host: ${(hostIterations * PER_ITERATION / 1e6).toFixed(0)} M instructions in ${fastest.toFixed(0)} ms (wall, includes process start) = ${hostMips.toFixed(0)} M instructions/s`);
      print(`ratio host / Popek (CPU time): ${(hostMips / guestMips).toFixed(1)}× (Popek runs at ${(100 * guestMips / hostMips).toFixed(2)} % of native)`);
    } catch (e) {
      print(`ALU loop on the host: not measured (${(e as Error).message.split('\n')[0]}; needs nasm, ld and 32-bit Linux binaries)`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};
