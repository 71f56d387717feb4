// core/elf/elf32.ts against binutils: kernels built here by gcc -m32, nasm -f elf32 and ld -m elf_i386
// are parsed and every header field is compared with `readelf -W -h -l -S` and section contents with
// `readelf -x`. Files of the wrong kind (ELF64, relocatable, other machine, big-endian, not ELF) give
// errors naming what was found, and random corruption never gives anything but an ElfError.
import * as assert from 'node:assert/strict';
import {
  ElfError, ET_REL, parseElf32, loadSegments, isElf, PT_LOAD, SHT_NOBITS, type Elf32File,
} from '../../core/elf/elf32';
import { buildElf, compileObject, entryStubStart, readelf, removeBuild, type BuiltElf } from './toolchain';

const KERNEL_C = `
int counter = 5;
static char buffer[4096];
static int square(int x) { return x * x; }
int kmain(void) { counter += square(3); buffer[1] = 2; return counter; }
`;
const ENTRY_ASM = `${entryStubStart()}  call kmain
  hlt
section .bss
  resb 8192
stack_top:
`;
const HIGHER_HALF_LD = `
ENTRY(_start)
SECTIONS {
  . = 0xC0100000;
  .text : AT(ADDR(.text) - 0xC0000000) { *(.multiboot) *(.text*) }
  .rodata : AT(ADDR(.rodata) - 0xC0000000) { *(.rodata*) }
  .data : AT(ADDR(.data) - 0xC0000000) { *(.data) }
  .bss : AT(ADDR(.bss) - 0xC0000000) { *(COMMON) *(.bss) }
}
`;

const hex = (s: string) => parseInt(s, 16);

interface ReadelfSection { index: number; name: string; type: string; addr: number; offset: number; size: number; entsize: number; flags: string; link: number; info: number; align: number }

/** `readelf -W -S` rows, parsed left to right from the 8-hex-digit address column. */
function readelfSections(text: string): ReadelfSection[] {
  const out: ReadelfSection[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s(.*)$/.exec(line);
    if (!m) continue;
    const t = m[2].trim().split(/\s+/);
    const a = t.findIndex((x) => /^[0-9a-f]{8}$/.test(x));
    const rest = t.slice(a + 4);
    const flags = rest.length === 4 ? rest.shift()! : '';
    out.push({
      index: +m[1], name: a >= 2 ? t[a - 2] : '', type: t[a - 1], addr: hex(t[a]), offset: hex(t[a + 1]), size: hex(t[a + 2]),
      entsize: hex(t[a + 3]), flags, link: +rest[0], info: +rest[1], align: +rest[2],
    });
  }
  return out;
}

interface ReadelfSegment { type: string; offset: number; vaddr: number; paddr: number; filesz: number; memsz: number; flags: string; align: number }

function readelfSegments(text: string): ReadelfSegment[] {
  const out: ReadelfSegment[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s+(\w+)\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) ([RWE ]{3}) 0x([0-9a-f]+)/.exec(line);
    if (m) out.push({ type: m[1], offset: hex(m[2]), vaddr: hex(m[3]), paddr: hex(m[4]), filesz: hex(m[5]), memsz: hex(m[6]), flags: m[7], align: hex(m[8]) });
  }
  return out;
}

/** The bytes `readelf -x NAME` dumps. */
function readelfHexDump(file: string, name: string): Uint8Array {
  const bytes: number[] = [];
  for (const line of readelf(['-x', name], file).split('\n')) {
    const m = /^\s+0x[0-9a-f]+ ((?:[0-9a-f]{2,8} ){1,4})/.exec(line);
    if (!m) continue;
    for (const word of m[1].trim().split(' ')) for (let i = 0; i < word.length; i += 2) bytes.push(hex(word.slice(i, i + 2)));
  }
  return new Uint8Array(bytes);
}

const PH_TYPES: Record<number, string> = { 1: 'LOAD', 4: 'NOTE', 0x6474e551: 'GNU_STACK', 0x6474e552: 'GNU_RELRO', 6: 'PHDR' };
const SH_TYPES: Record<number, string> = { 0: 'NULL', 1: 'PROGBITS', 2: 'SYMTAB', 3: 'STRTAB', 8: 'NOBITS', 7: 'NOTE', 4: 'RELA', 9: 'REL' };
const phFlags = (f: number) => `${f & 4 ? 'R' : ' '}${f & 2 ? 'W' : ' '}${f & 1 ? 'E' : ' '}`;
const shFlags = (f: number) => `${f & 1 ? 'W' : ''}${f & 2 ? 'A' : ''}${f & 4 ? 'X' : ''}${f & 0x10 ? 'M' : ''}${f & 0x20 ? 'S' : ''}`;

function compareWithReadelf(b: BuiltElf, elf: Elf32File): void {
  const h = readelf(['-h'], b.file);
  assert.equal(elf.header.entry, hex(/Entry point address:\s+0x([0-9a-f]+)/.exec(h)![1]), 'entry');
  assert.match(h, /Type:\s+EXEC/);
  assert.match(h, /Machine:\s+Intel 80386/);
  assert.equal(elf.header.phnum, +/Number of program headers:\s+(\d+)/.exec(h)![1]);
  assert.equal(elf.header.shnum, +/Number of section headers:\s+(\d+)/.exec(h)![1]);

  const segs = readelfSegments(readelf(['-l'], b.file));
  assert.equal(elf.programHeaders.length, segs.length);
  assert.ok(segs.length > 0);
  elf.programHeaders.forEach((p, i) => {
    const r = segs[i];
    assert.deepEqual(
      { type: PH_TYPES[p.type] ?? p.type, offset: p.offset, vaddr: p.vaddr, paddr: p.paddr, filesz: p.filesz, memsz: p.memsz, flags: phFlags(p.flags), align: p.align },
      r, `program header ${i}`);
  });

  const secs = readelfSections(readelf(['-S'], b.file));
  assert.equal(elf.sections.length, secs.length);
  elf.sections.forEach((s, i) => {
    const r = secs[i];
    assert.deepEqual(
      { index: s.index, name: s.name, type: SH_TYPES[s.type] ?? String(s.type), addr: s.addr, offset: s.offset, size: s.size, entsize: s.entsize, flags: shFlags(s.flags), link: s.link, info: s.info, align: s.addralign },
      r, `section ${i}`);
  });

  for (const name of ['.text', '.data']) {
    assert.deepEqual(elf.sectionBytes(name), readelfHexDump(b.file, name), `${name} bytes`);
  }
  assert.equal(elf.sectionBytes('.bss')?.length, 0, '.bss has no file bytes');
  assert.equal(elf.section('.bss')?.type, SHT_NOBITS);
  assert.equal(elf.sectionBytes('.no-such-section'), undefined);
}

describe('ELF32 parser against readelf', function () {
  this.timeout(60_000);
  const builds: BuiltElf[] = [];
  after(() => builds.forEach(removeBuild));

  it('C + NASM kernel linked at 0x100000: headers, program headers, sections and bytes equal readelf', function () {
    const b = buildElf({ sources: { 'entry.asm': ENTRY_ASM, 'kernel.c': KERNEL_C } });
    builds.push(b);
    assert.ok(isElf(b.bytes));
    const elf = parseElf32(b.bytes);
    compareWithReadelf(b, elf);
    // BSS is the memory past the file bytes of the last writable LOAD segment.
    const rw = loadSegments(elf).find((s) => s.flags & 2)!;
    assert.ok(rw.memsz >= rw.bytes.length + 8192 + 4096, `bss in memsz ${rw.memsz}`);
  });

  it('higher-half kernel (linker script with AT): physical and virtual addresses differ as readelf says', function () {
    const b = buildElf({ sources: { 'entry.asm': ENTRY_ASM, 'kernel.c': KERNEL_C }, linkerScript: HIGHER_HALF_LD });
    builds.push(b);
    const elf = parseElf32(b.bytes);
    compareWithReadelf(b, elf);
    const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
    assert.ok(loads.length > 0 && loads.every((p) => p.vaddr - p.paddr === 0xc0000000), 'vaddr = paddr + 0xC0000000');
    assert.ok(loadSegments(elf).every((s) => s.paddr < 0x200000));
  });

  it('GAS entry stub (.S through gcc -m32 -c)', function () {
    const gas = '.globl _start\n.text\n_start:\n  call kmain\n  hlt\n';
    const b = buildElf({ sources: { 'entry.S': gas, 'kernel.c': KERNEL_C } });
    builds.push(b);
    compareWithReadelf(b, parseElf32(b.bytes));
  });
});

describe('ELF32 parser: files it does not take', function () {
  this.timeout(60_000);
  let i386: Uint8Array;
  before(function () {
    const b = buildElf({ sources: { 'entry.asm': ENTRY_ASM, 'kernel.c': KERNEL_C } });
    i386 = b.bytes.slice();
    removeBuild(b);
  });
  const expectError = (bytes: Uint8Array, re: RegExp) => assert.throws(() => parseElf32(bytes), (e: unknown) => e instanceof ElfError && re.test(e.message));

  it('an x86-64 object (gcc -m64) is named as ELF64 x86-64', function () {
    const obj = compileObject('k.c', KERNEL_C, ['-m64', '-ffreestanding']);
    expectError(obj, /^ELF64 x86-64 file: Popek runs 32-bit kernels/);
  });

  it('an i386 object file (not linked) says to link it first', function () {
    const obj = compileObject('k.c', KERNEL_C, ['-m32', '-ffreestanding']);
    expectError(obj, /relocatable object \(ET_REL\).*link it first/);
    // …and parses when relocatable files are asked for.
    const elf = parseElf32(obj, { types: [ET_REL] });
    assert.ok(elf.section('.text') && elf.section('.symtab'));
  });

  it('another machine and the other byte order are named', function () {
    const arm = i386.slice();
    arm[18] = 40; arm[19] = 0;
    expectError(arm, /^ELF32 ARM file: Popek runs i386/);
    const be = i386.slice();
    be[5] = 2;
    expectError(be, /^big-endian ELF32/);
  });

  it('not ELF at all, and an ELF cut short', function () {
    expectError(new TextEncoder().encode('section .text\nhlt\n'), /not an ELF file/);
    expectError(i386.subarray(0, 40), /truncated ELF file: 40 bytes/);
    expectError(i386.subarray(0, 200), /truncated ELF file/);
  });

  it('random corruption (byte mutations and truncation) gives ElfError or a consistent parse, nothing else', function () {
    // A fixed-seed xorshift so a failure reproduces; the mutations aim at the headers, where the offsets are.
    let seed = 0x2545f491;
    const rnd = (n: number) => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; };
    const elf = parseElf32(i386);
    const hot = [[0, 52], [elf.header.phoff, elf.header.phoff + 32 * elf.header.phnum], [elf.header.shoff, elf.header.shoff + 40 * elf.header.shnum]];
    let parsed = 0, rejected = 0;
    for (let iter = 0; iter < 3000; iter++) {
      let bytes = i386.slice();
      const n = 1 + rnd(6);
      for (let k = 0; k < n; k++) {
        const [lo, hi] = hot[rnd(hot.length)];
        const at = lo + rnd(hi - lo);
        bytes[Math.min(at, bytes.length - 1)] = rnd(4) === 0 ? 0xff : rnd(256);
      }
      if (rnd(4) === 0) bytes = bytes.subarray(0, rnd(bytes.length));
      try {
        const e = parseElf32(bytes);
        for (const s of e.sections) {
          try { e.bytesOf(s); } catch (err) { if (!(err instanceof ElfError)) throw err; }
        }
        for (const seg of loadSegments(e)) assert.ok(seg.bytes.length <= seg.memsz);
        parsed++;
      } catch (err) {
        if (!(err instanceof ElfError)) throw new Error(`iteration ${iter}: ${(err as Error).stack}`, { cause: err });
        assert.ok(err.message.length > 10);
        rejected++;
      }
    }
    assert.ok(parsed > 100 && rejected > 100, `both outcomes exercised: ${parsed} parsed, ${rejected} rejected`);
  });
});
