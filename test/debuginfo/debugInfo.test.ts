// core/debuginfo against binutils, on kernels built here from C (gcc -m32 -g, DWARF 2, 3, 4 and 5,
// -O0 and -O2), NASM (-F dwarf, line table version 2) and GAS (.S): the decoded line table equals
// `readelf --debug-dump=decodedline` row for row, address → file:line equals `addr2line` for every
// byte of .text, the symbols equal `readelf -s`, function ranges equal the sized FUNC symbols,
// `<sym+off>` equals objdump's annotations, global variables' sizes equal the symbols'. Corrupt
// debug sections give warnings, never an exception.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseElf32 } from '../../core/elf/elf32';
import { loadDebugInfo, type DebugInfo } from '../../core/debuginfo';
import { buildElf, entryStubStart, READ_CR0_S as HELPER_S, objdump, readelf, removeBuild, type BuiltElf } from '../elf/toolchain';

const KERNEL_C = `
struct point { int x, y; short tag; };
int counter = 5;
static char buffer[64];
struct point origin = { 1, 2, 3 };
volatile unsigned short *const vga = (unsigned short *)0xB8000;
const char *greeting = "hi";

static int square(int x) {
  return x * x;
}

int sum_to(int n) {
  int s = 0;
  for (int i = 1; i <= n; i++)
    s += square(i);
  return s;
}

void kmain(void) {
  counter += sum_to(4);
  buffer[1] = (char)counter;
  vga[0] = 0x0f00 | 'A';
  while (counter > 100) counter--;
}
`;
const ENTRY_ASM = `${entryStubStart()}  call kmain
.halt:
  cli
  hlt
  jmp .halt
global out_byte:function (out_byte.end - out_byte)
out_byte:
  mov dx, [esp+4]
  mov al, [esp+8]
  out dx, al
  ret
.end:
section .bss
  resb 4096
stack_top:
`;

interface ReadelfRow { file: string; line: number | undefined; address: number; stmt: boolean }

/** Rows of `readelf -W --debug-dump=decodedline` (end of sequence: line undefined). */
function readelfDecodedLines(file: string): ReadelfRow[] {
  const out: ReadelfRow[] = [];
  for (const line of readelf(['--debug-dump=decodedline'], file).split('\n')) {
    const m = /^(\S+)\s+(\d+|-)\s+(0x[0-9a-f]+)(?:\s+\d+)?(\s+x)?\s*$/.exec(line);
    if (m) out.push({ file: path.basename(m[1]), line: m[2] === '-' ? undefined : +m[2], address: parseInt(m[3], 16), stmt: m[4] !== undefined });
  }
  return out;
}

/** `addr2line` for each address: `file:line` (basename), or '??' when it knows none. */
function addr2line(file: string, addresses: number[]): string[] {
  const r = spawnSync('addr2line', ['-e', file, ...addresses.map((a) => '0x' + a.toString(16))], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`addr2line failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => {
    const m = /^(.*):(\d+|\?)(?: \(discriminator \d+\))?$/.exec(l);
    return !m || m[1] === '??' || m[2] === '?' || m[2] === '0' ? '??' : `${path.basename(m[1])}:${m[2]}`;
  });
}

interface ReadelfSymbol { value: number; size: number; type: string; bind: string; ndx: string; name: string }

function readelfSymbols(file: string): ReadelfSymbol[] {
  const out: ReadelfSymbol[] = [];
  for (const line of readelf(['-s'], file).split('\n')) {
    const m = /^\s*\d+:\s+([0-9a-f]{8})\s+(\d+)\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s*(\S*)$/.exec(line);
    if (m) out.push({ value: parseInt(m[1], 16), size: +m[2], type: m[3], bind: m[4], ndx: m[5], name: m[6] });
  }
  return out.slice(1); // the null symbol
}

function check(b: BuiltElf, d: DebugInfo, label: string): void {
  assert.deepEqual(d.warnings, [], `${label}: warnings`);

  // 1. The decoded line table, row for row.
  const ours = d.programs.flatMap((p) => p.rows.map((r) => ({ file: path.basename(r.file), line: r.endSequence ? undefined : r.line, address: r.address, stmt: r.endSequence ? false : r.isStmt })));
  const ref = readelfDecodedLines(b.file);
  assert.ok(ref.length > 10, `${label}: readelf printed ${ref.length} rows`);
  assert.deepEqual(ours, ref.map((r) => ({ ...r, stmt: r.line === undefined ? false : r.stmt })), `${label}: decoded line table`);

  // 2. address → file:line for every byte of .text, as addr2line.
  const text = parseElf32(b.bytes).section('.text')!;
  const addrs = Array.from({ length: text.size }, (_, i) => text.addr + i);
  const want = addr2line(b.file, addrs);
  const got = addrs.map((a) => { const p = d.lineAt(a); return p ? `${path.basename(p.file)}:${p.line}` : '??'; });
  const diffs = addrs.flatMap((a, i) => (want[i] === got[i] ? [] : [`0x${a.toString(16)}: addr2line ${want[i]}, ours ${got[i]}`]));
  assert.deepEqual(diffs.slice(0, 10), [], `${label}: ${diffs.length} addresses differ from addr2line`);

  // 3. Symbols as readelf -s.
  const syms = readelfSymbols(b.file);
  assert.deepEqual(
    d.symbols.map((s) => ({ value: s.address, size: s.size, type: s.type.toUpperCase(), bind: s.bind.toUpperCase(), name: s.name })),
    syms.map((s) => ({ value: s.value, size: s.size, type: s.type, bind: s.bind, name: s.name })), `${label}: symbols`);

  // 4. Functions: every sized FUNC symbol is a function range with the same bounds.
  for (const s of syms.filter((x) => x.type === 'FUNC')) {
    const f = d.functions.find((x) => x.name === s.name);
    assert.ok(f, `${label}: function ${s.name}`);
    assert.deepEqual([f.low, f.high], [s.value, s.value + s.size], `${label}: range of ${s.name}`);
  }
  // …and the names are those of the FUNC symbols (at -O2 `square` is inlined and has none).
  assert.deepEqual(new Set(d.functions.map((f) => f.name)), new Set(syms.filter((x) => x.type === 'FUNC').map((x) => x.name)));
  for (const n of ['sum_to', 'kmain', 'out_byte', 'read_cr0']) assert.ok(d.functions.some((f) => f.name === n), n);

  // 5. Globals: DWARF types, sizes equal to the symbols'.
  const types: Record<string, string> = { counter: 'int', buffer: 'char[64]', origin: 'struct point', vga: 'const volatile short unsigned int*', greeting: 'const char*' };
  const present = syms.filter((x) => x.type === 'OBJECT' && types[x.name]);
  assert.ok(present.length >= 4, `${label}: globals kept by the compiler`);
  for (const s of present) {
    const g = d.global(s.name);
    assert.deepEqual([g?.typeName, g?.address, g?.size], [types[s.name], s.value, s.size], `${label}: ${s.name} type, address and size`);
  }
}

/** `<sym+0xoff>` annotations of call/jump targets in `objdump -d`, against symbolize. */
function checkObjdumpSymbols(b: BuiltElf, d: DebugInfo): number {
  let n = 0;
  for (const line of objdump(['-d', '--no-show-raw-insn'], b.file).split('\n')) {
    const m = /\s(?:call|jmp|j[a-z]+)\s+([0-9a-f]+) <([^>]+)>/.exec(line);
    if (!m) continue;
    assert.equal(d.symbolize(parseInt(m[1], 16)), m[2], line);
    n++;
  }
  return n;
}

describe('debug information against readelf, addr2line and objdump', function () {
  this.timeout(60_000);
  const builds: BuiltElf[] = [];
  after(() => builds.forEach(removeBuild));
  const sources = { 'entry.asm': ENTRY_ASM, 'kernel.c': KERNEL_C, 'helper.S': HELPER_S };

  for (const [label, cflags] of [
    ['gcc default (DWARF 5), -O0', []],
    ['DWARF 4', ['-gdwarf-4']],
    ['DWARF 3', ['-gdwarf-3']],
    ['DWARF 2', ['-gdwarf-2']],
    ['DWARF 5, -O2', ['-O2']],
  ] as Array<[string, string[]]>) {
    it(`${label}: line table, addresses, symbols, functions and globals`, function () {
      const b = buildElf({ sources, cflags });
      builds.push(b);
      const d = loadDebugInfo(parseElf32(b.bytes));
      const versions = new Set(d.programs.map((p) => p.version));
      assert.ok(versions.has(2), 'nasm line table is version 2');
      check(b, d, label);
      assert.ok(checkObjdumpSymbols(b, d) >= 4, 'objdump annotated calls and jumps');
    });
  }

  it('file:line → addresses: each breakpoint address is where that line starts (addr2line agrees), lines without code move on', function () {
    const b = buildElf({ sources });
    builds.push(b);
    const d = loadDebugInfo(parseElf32(b.bytes));
    const kc = b.sources['kernel.c'];
    assert.ok(d.files.includes(kc), `files: ${d.files.join(', ')}`);
    const lines = KERNEL_C.split('\n');
    const lineOf = (text: string) => lines.findIndex((l) => l.includes(text)) + 1;
    for (const text of ['return x * x;', 's += square(i);', 'counter += sum_to(4);', 'vga[0] =']) {
      const line = lineOf(text);
      const addrs = d.addressesOfLine(kc, line);
      assert.ok(addrs.length >= 1, `line ${line} has code`);
      assert.deepEqual(addr2line(b.file, addrs), addrs.map(() => `kernel.c:${line}`));
    }
    // A blank line before a function moves to the function's first line.
    const blank = lineOf('int sum_to(int n) {') - 1;
    assert.equal(d.nextLineWithCode(kc, blank)?.line, blank + 1);
    // The NASM file by a path from elsewhere (same tail): the kernel was built in another directory.
    const asmLine = ENTRY_ASM.split('\n').findIndex((l) => l.includes('call kmain')) + 1;
    const moved = d.addressesOfLine('/elsewhere/entry.asm', asmLine);
    assert.deepEqual(addr2line(b.file, moved), [`entry.asm:${asmLine}`]);
  });

  it('corrupt .debug_line / .debug_info / .debug_abbrev: warnings, never an exception', function () {
    const b = buildElf({ sources });
    builds.push(b);
    const elf = parseElf32(b.bytes);
    let seed = 0x9e3779b9, warned = 0;
    const rnd = (n: number) => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; };
    for (const name of ['.debug_line', '.debug_info', '.debug_abbrev', '.debug_line_str', '.symtab']) {
      const s = elf.section(name)!;
      for (let iter = 0; iter < 120; iter++) {
        const bytes = b.bytes.slice();
        for (let k = 1 + rnd(4); k > 0; k--) bytes[s.offset + rnd(s.size)] = rnd(3) === 0 ? 0xff : rnd(256);
        const d = loadDebugInfo(parseElf32(bytes));
        if (d.warnings.length) warned++;
        for (let a = 0x100000; a < 0x100100; a += 7) { d.lineAt(a); d.symbolize(a); d.functionAt(a); }
      }
    }
    assert.ok(warned > 50, `corruption was noticed ${warned} times`);
  });
});
