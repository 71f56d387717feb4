/*
 * `popek bench startup`: what a popek command costs from process start to exit on a tiny input (what a
 * Makefile or an editor hook pays per call), as CPU time per run (the figure that stays meaningful on a
 * loaded machine) and median wall time, next to a bare `node -e 0`; with the V8 code cache warm (the
 * usual case after the first run) and turned off (POPEK_NO_COMPILE_CACHE=1, as a first run).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { BenchSuite } from './benchSupport';
import { shortRunCost } from './childCost';

const RUNS = 20;

export const startupBench: BenchSuite = {
  name: 'startup',
  async run(print) {
    const cli = process.argv[1];
    const dir = mkdtempSync(path.join(tmpdir(), 'popek-startup-'));
    const small = path.join(dir, 'small.gasm');
    writeFileSync(small, ['bits 32', 'extern kmain', 'section .text', 'global _start', '_start:', '    cli', '    mov eax, cr0', '    call kmain', '    hlt', ''].join('\n'));
    const hello = path.join(dir, 'hello.gasm');
    writeFileSync(hello, ['bits 32', 'org 0x100000', 'start:', '  mov dx, 0x3f8', '  mov al, "A"', '  out dx, al', '  cli', '  hlt', ''].join('\n'));
    const node = shortRunCost(process.execPath, ['-e', '0'], RUNS);
    print(`node -e 0: ${node.cpuMs.toFixed(0)} ms CPU, ${node.wallMs.toFixed(0)} ms wall (median); each line below: CPU per run (${RUNS} runs), median wall, popek's own CPU = CPU − node's`);
    const commands: Array<[string, string[]]> = [
      ['popek --version', ['--version']],
      ['popek lint (10 lines)', ['lint', small]],
      ['popek asm (8 lines)', ['asm', hello, '-o', path.join(dir, 'hello.bin')]],
      ['popek run (8 lines)', ['run', hello, '--max-instructions', '1000']],
    ];
    for (const [name, args] of commands) {
      shortRunCost(process.execPath, [cli, ...args], 1); // fills the code cache
      const warm = shortRunCost(process.execPath, [cli, ...args], RUNS);
      const cold = shortRunCost(process.execPath, [cli, ...args], RUNS, { ...process.env, POPEK_NO_COMPILE_CACHE: '1' });
      print(`${name.padEnd(24)} ${warm.cpuMs.toFixed(0)} ms CPU (own ${(warm.cpuMs - node.cpuMs).toFixed(0)}), ${warm.wallMs.toFixed(0)} ms wall; without the code cache ${cold.cpuMs.toFixed(0)} ms CPU (own ${(cold.cpuMs - node.cpuMs).toFixed(0)}) — target ≤ 100 ms`);
    }
  },
};
