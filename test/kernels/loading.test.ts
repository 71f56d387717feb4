// Loading by content: what a file is decides how it boots (ELF kernel, flat image with or without
// a Multiboot header, NASM source), whatever its name; what cannot boot is named in the error.
// The ELF and flat files are made by the real tools (nasm, ld).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCommand } from '../../cli/runCommand';
import { compareCommand } from '../../cli/compareCommand';
import { Machine, LoadError } from '../../core/machine';
import { ProgramError, loadProgramFile } from '../../core/machine/program';
import { createVm } from '../../core/vmm';
import { requireNasm, requireQemu, runImageInQemu } from '../support/qemu';
import { makeTempDir } from './support';

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout), ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => { out.push(typeof s === 'string' ? s : Buffer.from(s).toString('latin1')); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => { err.push(typeof s === 'string' ? s : Buffer.from(s).toString('latin1')); return true; }) as typeof process.stderr.write;
  try {
    return { code: await fn(), out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

/** Prints "flat\n" on COM1 from a message at its absolute address, then exits with 5. */
const FLAT_AT_2MIB = `bits 32
org 0x200000
    mov esi, msg
.next:
    lodsb
    test al, al
    jz .done
    mov dx, 0x3f8
    out dx, al
    jmp .next
.done:
    mov al, 5
    out 0xf4, al
msg: db "flat", 10, 0
`;

describe('loading kernels by content', function () {
  this.timeout(60_000);
  let dir: string;
  const file = (name: string) => path.join(dir, name);
  const nasm = (src: string, format: string, out: string) => {
    fs.writeFileSync(out + '.asm', src);
    execFileSync('nasm', ['-f', format, '-o', out, out + '.asm']);
    return out;
  };
  const ld = (emulation: string, obj: string, out: string) => { execFileSync('ld', ['-m', emulation, '-z', 'noexecstack', '-Ttext=0x100000', '-e', '_start', '-o', out, obj]); return out; };
  const loadError = (f: string, options = {}): string => {
    try {
      const p = loadProgramFile(f, options);
      new Machine().loadImage(p.bytes, { origin: p.origin, entry: p.entry });
    } catch (e) {
      assert.ok(e instanceof ProgramError || e instanceof LoadError, String(e));
      return e.message;
    }
    return assert.fail(`${f} loaded`);
  };

  before(() => { requireNasm(); dir = makeTempDir('popek-loading-'); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a flat image without a Multiboot header runs at the load address given, whatever its name', async function () {
    const flat = nasm(FLAT_AT_2MIB, 'bin', file('kernel'));   // no extension
    const p = loadProgramFile(flat, { loadAddress: 0x200000 });
    assert.equal(p.via, 'binary');
    const vm = createVm({ maxInstructions: 100_000 });
    vm.load(p);
    vm.run();
    assert.equal(vm.report().console, 'flat\n');
    assert.equal(vm.report().exitCode, 11);
    const r = await capture(() => runCommand([flat, '--load-address', '0x200000']));
    assert.equal(r.out, 'flat\n');
    assert.equal(r.code, 11);
    // At the default 1 MiB the message's absolute address is wrong: the console differs.
    const elsewhere = await capture(() => runCommand([flat, '--max-instructions', '100000']));
    assert.notEqual(elsewhere.out, 'flat\n');
  });

  it('a higher-half ELF (linked at 0xC0100000, loaded at 1 MiB) starts at the physical twin of e_entry, as in QEMU', async function () {
    requireQemu();
    const obj = nasm(`section .multiboot
align 4
dd 0x1BADB002, 3, -(0x1BADB002 + 3)
section .text
global _start
_start:
    mov dx, 0x3f8
    mov al, 'H'
    out dx, al
    mov al, 7
    out 0xf4, al
`, 'elf32', file('hh.o'));
    fs.writeFileSync(file('hh.ld'), 'ENTRY(_start)\nSECTIONS {\n  . = 0xC0100000;\n  .text : AT(0x100000) { *(.multiboot) *(.text) }\n}\n');
    const elf = file('hh.elf');
    execFileSync('ld', ['-m', 'elf_i386', '-z', 'noexecstack', '-T', file('hh.ld'), '-o', elf, obj]);
    const q = await runImageInQemu(fs.readFileSync(elf));
    const vm = createVm({ maxInstructions: 100_000 });
    vm.load(loadProgramFile(elf));
    vm.run();
    assert.equal(vm.report().console, q.console);
    assert.equal(vm.report().exitCode, q.exitStatus);
    assert.equal(q.exitStatus, 15);
  });

  it('an ELF whose Multiboot header has the a.out kludge loads by the header\'s fields, as in QEMU', async function () {
    requireQemu();
    // e_entry (elf_entry) and the header's entry_addr (_start) differ: QEMU follows the header.
    const obj = nasm(`extern load_start, load_end, bss_end
section .multiboot
align 4
header:
    dd 0x1BADB002, 0x10003, -(0x1BADB002 + 0x10003)
    dd header, load_start, load_end, bss_end, _start
section .text
global _start, elf_entry
_start:
    mov esi, msg
.next:
    lodsb
    test al, al
    jz .done
    mov dx, 0x3f8
    out dx, al
    jmp .next
.done:
    mov eax, [zeroed]
    add al, 9
    out 0xf4, al
elf_entry:
    mov al, 0x33
    out 0xf4, al
section .data
msg: db "kludge", 10, 0
section .bss
zeroed: resd 1
`, 'elf32', file('ak.o'));
    fs.writeFileSync(file('ak.ld'), 'ENTRY(elf_entry)\nSECTIONS {\n  . = 0x200000;\n  load_start = .;\n  .text : { *(.multiboot) *(.text) }\n' +
      '  .data : { *(.data) }\n  load_end = .;\n  .bss : { *(.bss) }\n  bss_end = .;\n}\n');
    const elf = file('ak.elf');
    execFileSync('ld', ['-m', 'elf_i386', '-z', 'noexecstack', '-T', file('ak.ld'), '-o', elf, obj]);
    const q = await runImageInQemu(fs.readFileSync(elf));
    assert.equal(q.console, 'kludge\n');
    const vm = createVm({ maxInstructions: 100_000 });
    vm.load(loadProgramFile(elf));
    vm.run();
    assert.equal(vm.report().console, q.console);
    assert.equal(vm.report().exitCode, q.exitStatus);
  });

  it('an ELF32 executable without a Multiboot header is refused, naming what is missing', function () {
    const obj = nasm('global _start\nsection .text\n_start: hlt\n', 'elf32', file('nomb.o'));
    const msg = loadError(ld('elf_i386', obj, file('nomb.bin')));
    assert.match(msg, /^an ELF32 i386 executable with no Multiboot header in the first 8 KiB/);
  });

  it('an ELF64 kernel is refused as ELF64', function () {
    const obj = nasm('global _start\nsection .text\n_start: hlt\n', 'elf64', file('k64.o'));
    assert.match(loadError(ld('elf_x86_64', obj, file('k64.elf'))), /^ELF64 x86-64 file: Popek runs 32-bit kernels/);
  });

  it('a real-mode boot sector and a PE file are named, not run as flat images', function () {
    const boot = nasm('bits 16\norg 0x7c00\ncli\nhlt\ntimes 510-($-$$) db 0\ndw 0xaa55\n', 'bin', file('boot.img'));
    assert.match(loadError(boot), /a real-mode boot sector \(0x55AA at 510\): real-mode boot sectors are not modelled yet/);
    const pe = Buffer.alloc(0x200);
    pe.write('MZ', 0, 'latin1');
    pe.writeUInt32LE(0x80, 0x3c);
    pe.write('PE\0\0', 0x80, 'latin1');
    fs.writeFileSync(file('kernel.efi'), pe);
    assert.match(loadError(file('kernel.efi')), /^.*kernel\.efi: a PE file \(Windows or UEFI executable\) with no Multiboot header in the first 8 KiB/);
  });

  it('NASM source is assembled whatever its extension; GAS source is named as such', function () {
    fs.writeFileSync(file('hello.txt'), 'bits 32\norg 0x100000\nmov al, 0\nout 0xf4, al\n');
    assert.equal(loadProgramFile(file('hello.txt')).via, 'assembler');
    fs.writeFileSync(file('boot.S'), '.section .text\n.globl _start\n_start:\n    movl $0x1badb002, %eax\n    hlt\n');
    assert.match(loadError(file('boot.S')), /looks like GNU as \(AT&T syntax\) source, which Popek does not assemble/);
  });

  it('popek run --screen prints the final screen, the JSON report has it as 25 lines, compare shows it', async function () {
    const src = file('screen.asm');
    fs.writeFileSync(src, `bits 32
org 0x100000
MB equ 0x10000
hdr: dd 0x1BADB002, MB, -(0x1BADB002 + MB), hdr, hdr, 0, 0, start
start:
    mov dword [0xb8000 + 160 * 2], 0x1f691f48     ; "Hi" white on blue, row 2
    mov al, 0
    out 0xf4, al
`);
    const r = await capture(() => runCommand([src, '--screen']));
    assert.equal(r.code, 1);
    const lines = r.out.replace(/\n$/, '').split('\n');
    assert.equal(lines.length, 25);
    assert.equal(lines[2], 'Hi');
    const j = await capture(() => runCommand([src, '--json']));
    const report = JSON.parse(j.out) as { screen: string[] };
    assert.deepEqual(report.screen, lines);
    const c = await capture(() => compareCommand([src, '--json']));
    const rows = JSON.parse(c.out) as Array<{ mode: string; screenMatchesNative: boolean }>;
    assert.ok(rows.length === 5 && rows.every((row) => row.screenMatchesNative), c.out);
  });
});
