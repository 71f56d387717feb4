/*
 * `popek bench startup`: what a popek command costs from process start to exit on a tiny input (what a
 * Makefile or an editor hook pays per call), as CPU time per run (the figure that stays meaningful on a
 * loaded machine) and median wall time, next to a bare `node -e 0`; with the V8 code cache warm (the
 * usual case after the first run) and turned off (POPEK_NO_COMPILE_CACHE=1, as a first run).
 * The machine's load changes from one second to the next: each command's batches of runs alternate
 * with batches of `node -e 0`, and popek's own CPU is the median over the batches of the command's
 * less node's beside it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { median, type BenchSuite } from './benchSupport';
import { cpuPerRun, medianWall } from './childCost';

/** Batches of runs per command and variant, each beside a batch of `node -e 0`. */
const BATCHES = 5;
const RUNS = 6;


/** Median CPU per run of the command, and median of (command − node) over batches that alternate the two. */
function besideNode(args: string[], env?: NodeJS.ProcessEnv): { cpuMs: number; ownMs: number; nodeMs: number } {
  const cmd: number[] = [], node: number[] = [], own: number[] = [];
  for (let b = 0; b < BATCHES; b++) {
    const n = cpuPerRun(process.execPath, ['-e', '0'], RUNS);
    const c = cpuPerRun(process.execPath, args, RUNS, env);
    node.push(n); cmd.push(c); own.push(c - n);
  }
  return { cpuMs: median(cmd), ownMs: median(own), nodeMs: median(node) };
}

export const startupBench: BenchSuite = {
  name: 'startup',
  async run(print) {
    const cli = process.argv[1];
    const dir = mkdtempSync(path.join(tmpdir(), 'popek-startup-'));
    const small = path.join(dir, 'small.gasm');
    writeFileSync(small, ['bits 32', 'extern kmain', 'section .text', 'global _start', '_start:', '    cli', '    mov eax, cr0', '    call kmain', '    hlt', ''].join('\n'));
    const hello = path.join(dir, 'hello.gasm');
    writeFileSync(hello, ['bits 32', 'org 0x100000', 'start:', '  mov dx, 0x3f8', '  mov al, "A"', '  out dx, al', '  cli', '  hlt', ''].join('\n'));
    const nodeWall = medianWall(process.execPath, ['-e', '0'], 7);
    print(`each line: CPU per run (median of ${BATCHES} batches of ${RUNS} runs), popek's own CPU (median over the batches of the command's less node -e 0's, run in batches between them), median wall; node -e 0's median wall ${nodeWall.toFixed(0)} ms`);
    const commands: Array<[string, string[]]> = [
      ['popek --version', ['--version']],
      ['popek lint (10 lines)', ['lint', small]],
      ['popek asm (8 lines)', ['asm', hello, '-o', path.join(dir, 'hello.bin')]],
      ['popek run (8 lines)', ['run', hello, '--max-instructions', '1000']],
    ];
    for (const [name, args] of commands) {
      cpuPerRun(process.execPath, [cli, ...args], 1); // fills the code cache
      const warm = besideNode([cli, ...args]);
      const cold = besideNode([cli, ...args], { ...process.env, POPEK_NO_COMPILE_CACHE: '1' });
      const wall = medianWall(process.execPath, [cli, ...args], 7);
      print(`${name.padEnd(24)} ${warm.cpuMs.toFixed(0)} ms CPU (own ${warm.ownMs.toFixed(0)}; node -e 0 beside it ${warm.nodeMs.toFixed(0)}), ${wall.toFixed(0)} ms wall; without the code cache ${cold.cpuMs.toFixed(0)} ms CPU (own ${cold.ownMs.toFixed(0)}) — target ≤ 100 ms`);
    }
  },
};
