// Builds small ELF32 kernels with the Debian toolchain the way teaching kernels are built: C with
// gcc -m32 -ffreestanding (no multilib needed: nothing is linked from libc or libgcc), assembly with
// nasm -f elf32 -F dwarf or gcc -m32 -c (GAS .S), linked by ld -m elf_i386. Also runs binutils'
// readelf/objdump, the references the ELF and DWARF readers are compared with.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hasTool } from '../support/qemu';

export const GCC_FLAGS = ['-m32', '-ffreestanding', '-g', '-O0', '-fno-pic', '-fno-omit-frame-pointer', '-nostdlib', '-fno-stack-protector'];

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} could not be started (${r.error.message}): scripts/setup.sh installs it`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (status ${r.status}):\n${r.stderr}`);
  return r.stdout;
}

export interface BuiltElf {
  dir: string;
  /** The linked executable. */
  file: string;
  bytes: Uint8Array;
  /** Absolute path of each source, by the name given. */
  sources: Record<string, string>;
}

export interface BuildOptions {
  /** Source files by name; compiled in this order and linked in this order (.c, .S, .asm). */
  sources: Record<string, string>;
  /** Arguments to ld after `-m elf_i386` (default: -Ttext 0x100000 -e _start). */
  ldArgs?: string[];
  /** A linker script written as link.ld and passed with -T (replaces the default -Ttext). */
  linkerScript?: string;
  /** Extra gcc flags (e.g. -gdwarf-4, -O1). */
  cflags?: string[];
  /** Extra nasm flags. */
  nasmFlags?: string[];
}

/** Compiles, assembles and links in a fresh temporary directory. */
export function buildElf(o: BuildOptions): BuiltElf {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-elf-'));
  const objects: string[] = [], sources: Record<string, string> = {};
  for (const [name, text] of Object.entries(o.sources)) {
    const src = path.join(dir, name);
    fs.writeFileSync(src, text);
    sources[name] = src;
    const obj = name.replace(/\.[^.]+$/, '') + '.o';
    if (name.endsWith('.asm')) run('nasm', ['-f', 'elf32', '-F', 'dwarf', '-g', ...(o.nasmFlags ?? []), name, '-o', obj], dir);
    else run('gcc', [...GCC_FLAGS, ...(o.cflags ?? []), '-c', name, '-o', obj], dir);
    objects.push(obj);
  }
  let link = o.ldArgs ?? ['-Ttext', '0x100000', '-e', '_start'];
  if (o.linkerScript !== undefined) {
    fs.writeFileSync(path.join(dir, 'link.ld'), o.linkerScript);
    link = ['-T', 'link.ld'];
  }
  run('ld', ['-m', 'elf_i386', ...link, ...objects, '-o', 'kernel.elf'], dir);
  const file = path.join(dir, 'kernel.elf');
  return { dir, file, bytes: new Uint8Array(fs.readFileSync(file)), sources };
}

/** Compiles one source to an object file only (no link), e.g. for the ET_REL and ELF64 errors. */
export function compileObject(name: string, text: string, flags: string[]): Uint8Array {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-elf-'));
  fs.writeFileSync(path.join(dir, name), text);
  run('gcc', [...flags, '-c', name, '-o', 'x.o'], dir);
  const bytes = new Uint8Array(fs.readFileSync(path.join(dir, 'x.o')));
  fs.rmSync(dir, { recursive: true, force: true });
  return bytes;
}

export function readelf(args: string[], file: string): string {
  return run('readelf', ['-W', ...args, file], path.dirname(file));
}

export function objdump(args: string[], file: string): string {
  return run('objdump', [...args, file], path.dirname(file));
}

export function removeBuild(b: BuiltElf | undefined): void {
  if (b?.dir) fs.rmSync(b.dir, { recursive: true, force: true });
}

/**
 * Mocha hooks for a suite around one kernel: built before the suite (skipped when a tool is missing),
 * removed after. The object returned is filled in by the `before` hook, so tests read `k.file` as usual.
 */
export function useElfKernel(o: BuildOptions, tools: string[] = []): BuiltElf {
  const k = {} as BuiltElf;
  before(function () {
    if (!tools.every(hasTool)) this.skip();
    Object.assign(k, buildElf(o));
  });
  after(() => removeBuild(k));
  return k;
}

/** The Multiboot header as OSDev's Bare Bones writes it: its own section, the checksum making the sum 0. */
export function multibootHeader(flags = 0): string {
  return `section .multiboot\nalign 4\n  dd 0x1BADB002, ${flags}, -(0x1BADB002 + ${flags})\n`;
}

/** The start of a tutorial's NASM entry stub: the header, then `_start` setting the stack for kmain. */
export function entryStubStart(flags = 0, globals = '_start'): string {
  return `global ${globals}\nextern kmain\n${multibootHeader(flags)}section .text\n_start:\n  mov esp, stack_top\n`;
}

/** What the stub does when kmain returns: the test machine's exit port (QEMU isa-debug-exit / Popek), then halt. */
export const EXIT_AND_HALT = '  mov al, 0\n  out 0xf4, al\n.hang:\n  hlt\n  jmp .hang\n';


/** A GAS helper of the kind kernels keep in a .S file (xv6's x86.h idiom, out of line): a typed, sized function. */
export const READ_CR0_S = `
  .globl read_cr0
  .type read_cr0, @function
  .text
read_cr0:
  movl %cr0, %eax
  ret
  .size read_cr0, . - read_cr0
`;
