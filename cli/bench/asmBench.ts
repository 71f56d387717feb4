/*
 * Assembler benchmark: throughput of `assemble` on a generated 20,000-line kernel-like file
 * (target ≥ 200,000 lines/s), the editor's parse of the same file, and the reparse after one edit;
 * then 100,000 unique lines against nasm (lines per CPU-second, peak RSS; target ≥ nasm, ≤ 150 MiB).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { BenchSuite } from './benchSupport';
import { timeIt } from './benchSupport';
import { bestCost, gnuTimeAvailable, shortRunCost } from './childCost';
import { assemble } from '../../core/asm/assembler';
import { parseNasm } from '../../core/asm/parser';

const R = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi'];
/** Line templates; `r`/`q` are registers, `n` a number and `d` a displacement that vary per line. */
const BODY: Array<(r: string, q: string, n: number, d: number) => string> = [
  (r, q, n, d) => `mov ${r}, [${q}+ecx*4+${d}]`, (r, _q, n) => `add ${r}, ${n}`, (r, _q, n) => `sub ${r}, ${n * 37}`, (r, q) => `cmp ${r}, ${q}`,
  () => 'jne .loop', () => 'push ebp', () => 'mov ebp, esp', (r, _q, _n, d) => `lea ${r}, [ebp-${d}]`, (r) => `xor ${r}, ${r}`, (r) => `div ${r}`,
  (r, _q, n) => `shl ${r}, ${n % 31}`, (r, _q, n) => `and ${r}, 0x${(n * 4099).toString(16)}`, (_r, q, _n, d) => `mov [${q}+${d}], al`, (r) => `inc ${r}`,
  (r, q) => `test ${r}, ${q}`, () => 'jz .done', () => 'call helper', (r, q) => `movzx ${r}, byte [${q}]`, () => 'out dx, al', (_r, _q, n) => `in al, 0x${(n & 0xff).toString(16)}`,
  () => 'pop ebp', (_r, _q, n, d) => `mov dword [fs:${d}], ${n}`, (r, q, n) => `imul ${r}, ${q}, ${n}`, () => 'rep movsd', (r, q) => `lock xadd [${q}], ${r}`,
  (r, q) => `cmovg ${r}, ${q}`, () => 'setz cl', (r, _q, n) => `bt ${r}, ${n % 32}`, (r) => `sar ${r}, cl`, () => 'loop .loop',
];

/** A deterministic NASM source of about `lines` lines: functions with local labels, jumps, data. */
export function generateKernel(lines: number): string {
  const out: string[] = ['bits 32', 'org 0x100000', '%define COUNT 16', 'section .text', 'start:', '  jmp main', 'helper:', '  ret'];
  let f = 0;
  let k = 0;
  while (out.length < lines - 40) {
    out.push(`func${f}:`, '.loop:');
    for (let i = 0; i < 24; i++, k++) {
      const t = BODY[(f * 7 + i) % BODY.length];
      out.push('  ' + t(R[k % R.length], R[(k * 5 + 1) % R.length], (k * 13) % 1000, 4 + ((k * 29) % 500)) + (k % 4 === 0 ? ` ; step ${k}` : ''));
    }
    out.push('.done:', `  jmp func${(f + 1) % 50}`, '  ret');
    f++;
  }
  out.push('main:', '  hlt', 'section .data', 'msg: db "Hello from Popek", 13, 10, 0', 'len equ $ - msg', 'table: dd func0, func1, func2, len');
  out.push('times COUNT db 0', 'section .bss', 'stack: resb 4096');
  while (out.length < lines) out.push('  ; padding comment');
  return out.join('\n') + '\n';
}

/**
 * `lines` lines of which no two are alike (every line has its own number, register mix or label),
 * so nothing the assembler caches per line text helps: kernel-like instructions, 12-line functions
 * that jump and call back to their own label, data at the end.
 */
export function generateUniqueLines(lines: number): string {
  const out: string[] = ['bits 32', 'org 0x100000', 'section .text', 'start:'];
  let k = 0;
  for (let f = 0; out.length < lines - 3; f++) {
    out.push(`fn${f}:`);
    for (let i = 0; i < 12 && out.length < lines - 3; i++, k++) {
      const r = R[k % 6];
      const q = R[(k * 5 + 1) % 6];
      const line = [
        `mov ${r}, [${q}+ecx*4+${k}]`, `add ${r}, ${k}`, `cmp ${r}, ${k * 3}`, `jne fn${f}`, `lea ${r}, [ebp-${k}]`, `mov dword [${q}+${k}], ${k & 0xffff}`,
        `and ${r}, 0x${((k * 4099) >>> 0).toString(16)} ; step ${k}`, `call fn${f}`, `imul ${r}, ${q}, ${k}`, `sub ${r}, ${k}`, `mov [${q}+${k * 2}], al`, `push ${k}`,
      ][k % 12];
      out.push('  ' + line);
    }
  }
  out.push('msg: db "x", 0', 'section .bss', 'stack: resb 4096');
  return out.join('\n') + '\n';
}

/** In-process CPU time (ms) of one call. */
function cpuOf(fn: () => void): number {
  const c = process.cpuUsage();
  fn();
  const u = process.cpuUsage(c);
  return (u.user + u.system) / 1000;
}

/** 100,000 unique lines: popek (in this process, and as `popek asm` in a fresh one) against nasm. */
function againstNasm(print: (line: string) => void): void {
  const n = 100_000;
  const dir = mkdtempSync(path.join(tmpdir(), 'popek-asm-bench-'));
  const file = path.join(dir, 'unique.asm');
  const text = generateUniqueLines(n);
  writeFileSync(file, text);
  const rate = (ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en-US');
  // best of 5: a burst of the machine's other load inflates one or two of them (up to 1.8× seen)
  let inProcess = Infinity;
  for (let i = 0; i < 5; i++) inProcess = Math.min(inProcess, cpuOf(() => assemble(file, text)));
  if (!gnuTimeAvailable() || spawnSync('nasm', ['-v']).status !== 0) {
    print(`100,000 unique lines: in-process ${inProcess.toFixed(0)} ms CPU → ${rate(inProcess)} lines/CPU-s (nasm or GNU time missing: no comparison)`);
    return;
  }
  const nasm = bestCost('nasm', ['-f', 'bin', '-o', path.join(dir, 'nasm.bin'), file], 5)!;
  const cli = process.argv[1];
  const popek = bestCost(process.execPath, [cli, 'asm', file, '-o', path.join(dir, 'popek.bin')], 3)!;
  const startup = shortRunCost(process.execPath, [cli, '--version'], 10).cpuMs;
  const same = Buffer.compare(readFileSync(path.join(dir, 'nasm.bin')), readFileSync(path.join(dir, 'popek.bin'))) === 0;
  const net = popek.cpuMs - startup;
  print(`100,000 unique lines, nasm -f bin (best of 5): ${nasm.cpuMs.toFixed(0)} ms CPU → ${rate(nasm.cpuMs)} lines/CPU-s, peak RSS ${nasm.maxRssMiB.toFixed(0)} MiB`);
  print(`  popek in-process (warm, best of 5): ${inProcess.toFixed(0)} ms CPU → ${rate(inProcess)} lines/CPU-s = ${(nasm.cpuMs / inProcess).toFixed(2)}× nasm (target ≥ 1)`);
  print(`  popek asm (fresh process, best of 3): ${popek.cpuMs.toFixed(0)} ms CPU, ${net.toFixed(0)} ms net of start-up → ${rate(net)} lines/CPU-s = ${(nasm.cpuMs / net).toFixed(2)}× nasm; peak RSS ${popek.maxRssMiB.toFixed(0)} MiB (target ≤ 150); output ${same ? '=' : '≠'} nasm's`);
}

/** The fastest of `n` runs (after one warm-up): on a shared machine the mean mostly measures the other load. */
function bestOf(fn: () => void, n: number): number {
  fn();
  let best = Infinity;
  for (let i = 0; i < n; i++) { const t = performance.now(); fn(); best = Math.min(best, performance.now() - t); }
  return best;
}

export const suite: BenchSuite = {
  name: 'asm',
  async run(print) {
    const text = generateKernel(20000);
    const nLines = text.split('\n').length - 1;
    const first = assemble('bench.gasm', text);
    const errors = first.diagnostics.filter((d) => d.severity === 'error').length;
    const ms = timeIt(() => { assemble('bench.gasm', text); }, 1500);
    const best = bestOf(() => { assemble('bench.gasm', text); }, 10);
    const rate = (t: number) => Math.round(nLines / (t / 1000)).toLocaleString('en-US');
    print(`assemble ${nLines} lines: mean ${ms.toFixed(1)} ms → ${rate(ms)} lines/s; best ${best.toFixed(1)} ms → ${rate(best)} lines/s (target ≥ 200,000); ${first.bytes.length} bytes, ${errors} errors`);
    const parseMs = timeIt(() => { parseNasm(text, 'bench.gasm'); }, 800);
    print(`parse (editor model) ${nLines} lines: ${parseMs.toFixed(1)} ms → ${Math.round(nLines / (parseMs / 1000)).toLocaleString('en-US')} lines/s`);
    // one edit in the middle, then reparse (what the language server does on a keystroke)
    const lines = text.split('\n');
    const mid = Math.floor(lines.length / 2);
    let k = 0;
    const editMs = timeIt(() => {
      lines[mid] = `  add eax, ${k++}`;
      parseNasm(lines.join('\n'), 'bench.gasm');
    }, 800);
    print(`reparse after one edit (line ${mid + 1}): ${editMs.toFixed(1)} ms`);
    const editAsmMs = timeIt(() => {
      lines[mid] = `  add eax, ${k++}`;
      assemble('bench.gasm', lines.join('\n'));
    }, 800);
    print(`reassemble after one edit: ${editAsmMs.toFixed(1)} ms`);
    againstNasm(print);
  },
};
