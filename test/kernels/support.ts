// Builds the tutorial-style kernels of test/kernels/fixtures with the Debian toolchain (gcc -m32,
// nasm -f elf32, GNU as through gcc, ld -m elf_i386) and reads back the screen dump they print on
// COM1 at the end (common/serial.c: dump_screen_and_exit), which is how QEMU's screen is known.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/repoRoot';

export const FIXTURES = path.join(REPO_ROOT, 'test', 'kernels', 'fixtures');

/** The compiler flags of the tutorials (freestanding 32-bit, no PIC, no stack protector, debug info). */
export const CFLAGS = ['-m32', '-ffreestanding', '-fno-pic', '-fno-stack-protector', '-nostdlib', '-g', '-O1', '-Wall', '-Wextra', '-Werror'];

export interface KernelRecipe {
  name: string;
  /** Sources relative to fixtures/: .c and .S through gcc, .asm through nasm. */
  sources: string[];
}

export const KERNELS: KernelRecipe[] = [
  { name: 'tutorial', sources: ['tutorial/boot.asm', 'tutorial/interrupts.asm', 'tutorial/kmain.c', 'common/vga.c', 'common/serial.c', 'common/lib.c'] },
  { name: 'barebones', sources: ['barebones/boot.S', 'barebones/kernel.c', 'common/vga.c', 'common/serial.c', 'common/lib.c'] },
];

/** xv6's pushcli/mycpu idiom (divergence.test.ts): equal to QEMU only where PUSHFL reads the guest's IF. */
export const CPULOCAL: KernelRecipe = { name: 'cpulocal', sources: ['barebones/boot.S', 'cpulocal/kernel.c', 'common/vga.c', 'common/serial.c', 'common/lib.c'] };

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${err.stderr?.toString() ?? err.message}`, { cause: e });
  }
}

/** Compiles, assembles and links one kernel into `outDir`; returns the ELF's path. */
export function buildKernel(k: KernelRecipe, outDir: string): string {
  const objects = k.sources.map((src) => {
    const full = path.join(FIXTURES, src);
    const obj = path.join(outDir, `${k.name}-${src.replace(/[/.]/g, '_')}.o`);
    if (src.endsWith('.asm')) run('nasm', ['-f', 'elf32', '-g', '-F', 'dwarf', '-o', obj, full]);
    else run('gcc', [...CFLAGS, '-c', full, '-o', obj]);
    return obj;
  });
  const elf = path.join(outDir, `${k.name}.elf`);
  run('ld', ['-m', 'elf_i386', '-z', 'noexecstack', '-T', path.join(FIXTURES, 'linker.ld'), '-o', elf, ...objects]);
  return elf;
}

export interface ScreenDump {
  cursor: number;
  /** CRTC 0x0A:0x0B. */
  shape: number;
  /** 2000 cells, character | attribute << 8. */
  cells: number[];
}

/** The screen dump at the end of a kernel's console, or undefined if it has none. */
export function parseScreenDump(consoleText: string): ScreenDump | undefined {
  const m = /\n=== screen cursor=([0-9a-f]{4}) shape=([0-9a-f]{4})\n((?:[0-9a-f]{320}\n){25})=== end\n$/.exec(consoleText);
  if (!m) return undefined;
  const cells: number[] = [];
  for (const line of m[3].trim().split('\n')) for (let k = 0; k < 320; k += 4) cells.push(parseInt(line.slice(k, k + 4), 16));
  return { cursor: parseInt(m[1], 16), shape: parseInt(m[2], 16), cells };
}

export function makeTempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
