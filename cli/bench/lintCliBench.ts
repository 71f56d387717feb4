/*
 * `popek bench lint-cli`: how long `popek lint FILE` takes from process start to exit on a small
 * file (what a Makefile or an editor hook pays per file), next to a bare `node -e 0`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { BenchSuite } from './benchSupport';
import { percentile } from './benchSupport';

const RUNS = 15;

function wall(args: string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    spawnSync(process.execPath, args, { stdio: 'ignore' });
    out.push(performance.now() - t);
  }
  return out;
}

export const lintCliBench: BenchSuite = {
  name: 'lint-cli',
  async run(print) {
    const cli = process.argv[1];
    const dir = mkdtempSync(path.join(tmpdir(), 'popek-lint-cli-'));
    const file = path.join(dir, 'small.gasm');
    writeFileSync(file, ['bits 32', 'extern kmain', 'section .text', 'global _start', '_start:', '    cli', '    mov eax, cr0', '    call kmain', '    hlt', ''].join('\n'));
    const node = wall(['-e', '0']);
    const lint = wall([cli, 'lint', file]);
    const med = (a: number[]): string => percentile(a, 50).toFixed(0);
    print(`popek lint on a 10-line file: median ${med(lint)} ms wall (p95 ${percentile(lint, 95).toFixed(0)} ms); node -e 0: median ${med(node)} ms; popek's own start-up ≈ ${(percentile(lint, 50) - percentile(node, 50)).toFixed(0)} ms`);
  },
};
