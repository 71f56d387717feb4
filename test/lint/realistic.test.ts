/*
 * Acceptance corpus in the idioms of real kernels (test/fixtures/lint/realistic): xv6-style `.S`
 * with cpp headers and SYSCALL(name), Linux-style 32-bit entry code (SAVE_ALL `.macro`s, ENTRY/END,
 * `.pushsection`, `#ifdef`, `.irp`, `.altmacro`, headers and `-include`d CONFIG_* through compile_commands.json,
 * cpp names in operands, one-line `.macro` definitions from cpp, `.code64` stubs), and a
 * multi-file NASM tutorial kernel (extern/global/common, ELF sections, `%include` from the folder
 * above, `%macro` stubs).
 *
 * The expected classes come from the real tools: each file is built as its Makefile would
 * (`gcc -m32 -c -g` for `.S`, `nasm -f elf32 -g -F dwarf` for NASM), every emitted instruction is
 * mapped to the source line it comes from (`objdump -d -l` for GNU as, which puts a macro's
 * expansion on the call line; NASM's listing for NASM, whose `<1>` lines are the call's expansion),
 * and classified from objdump's disassembly. The linter must flag exactly those lines with exactly
 * those codes (100 % recall and precision, macro call sites included) and report nothing else.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LintDocument, syntaxOf } from '../../core/lint/document';
import { lintDocument, CRITICAL_CODE, PRIVILEGED_CODE } from '../../core/lint/lint';
import { scanAttLine, initialAttState } from '../../core/lint/att';
import { classify, reportedClass } from '../../core/lint/classify';
import { compileFlags, diskIncludeEnv, resolveInclude } from '../../core/lint/includes';
import { REPO_ROOT } from '../support/repoRoot';

const CORPUS = path.join(REPO_ROOT, 'test/fixtures/lint/realistic');
const scratch = mkdtempSync(path.join(tmpdir(), 'popek-realistic-'));

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${cmd} is not installed (scripts/setup.sh installs it): ${r.error.message}`);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The code the linter should give an instruction as objdump prints it (AT&T). */
function codeOf(objdumpText: string): string | undefined {
  const f = scanAttLine(objdumpText.replace(/\s+#.*$/, '').replace(/<[^>]*>/g, ''), initialAttState());
  for (const i of f.instructions) {
    const c = classify(i);
    const cls = c ? reportedClass(c) : undefined;
    if (cls) return cls === 'critical' ? CRITICAL_CODE : PRIVILEGED_CODE;
  }
  return undefined;
}

function add(map: Map<number, Set<string>>, line: number, code: string | undefined): void {
  if (!code) return;
  const s = map.get(line) ?? new Set<string>();
  s.add(code);
  map.set(line, s);
}

/** Expected codes per 1-based line of a `.S` file: gcc -m32 -c -g, then objdump -d -l. */
function expectedGas(file: string): Map<number, Set<string>> {
  const dir = path.dirname(file);
  const flags = compileFlags(file, [dir]);
  const obj = path.join(scratch, `${path.basename(file)}.o`);
  run('gcc', ['-m32', '-c', '-g', ...flags.includePaths.map((p) => `-I${p}`), ...Object.entries(flags.defines).map(([k, v]) => `-D${k}=${v}`), ...flags.forcedIncludes.flatMap((f) => ['-include', f]), file, '-o', obj], dir);
  // Lines after `.code16` are decoded as 16-bit code (objdump -M i8086), after `.code64` as 64-bit, the others as 32-bit.
  const modeOf = new Map<number, 'i8086' | 'x86-64'>();
  let mode: 'i8086' | 'x86-64' | undefined;
  readFileSync(file, 'utf8').split('\n').forEach((l, i) => {
    const m = /^\s*\.code(16|32|64)\b/.exec(l);
    if (m) mode = m[1] === '16' ? 'i8086' : m[1] === '64' ? 'x86-64' : undefined;
    if (mode) modeOf.set(i + 1, mode);
  });
  // Where the line table starts a row: code. Bytes after a label with no row of its own (`gdt:`
  // before `.word`s) are data, though objdump -l still shows the last line for them.
  const rows = new Set<number>();
  for (const l of run('objdump', ['--dwarf=decodedline', obj], dir).split('\n')) {
    const r = /^\S+\s+\d+\s+(0x[0-9a-f]+|\d+)\s/.exec(l);
    if (r) rows.add(Number(r[1]));
  }
  const map = new Map<number, Set<string>>();
  for (const decode of [undefined, ...new Set(modeOf.values())]) {
    let line = -1;
    let code = false;
    for (const l of run('objdump', ['-d', '-l', ...(decode ? ['-M', decode] : []), obj], dir).split('\n')) {
      const loc = /^(\/.*):(\d+)(?: \(discriminator \d+\))?$/.exec(l);
      if (loc) { line = path.resolve(loc[1]) === path.resolve(file) ? Number(loc[2]) : -1; continue; }
      if (/^[0-9a-f]+ <[^>]+>:$/.test(l)) { code = false; continue; }
      const ins = /^\s+([0-9a-f]+):\t[0-9a-f ]+\t(.+)$/.exec(l);
      if (!ins) continue;
      if (rows.has(parseInt(ins[1], 16))) code = true;
      if (code && line > 0 && modeOf.get(line) === decode) add(map, line, codeOf(ins[2]));
    }
  }
  return map;
}

/**
 * Expected codes per line of a NASM file: its listing gives each emitted instruction's section
 * offset and line (a macro's expansion belongs to the call line, a `%rep` body to its own lines),
 * objdump -d the instruction at each offset.
 */
function expectedNasm(file: string, cwd: string): Map<number, Set<string>> {
  const obj = path.join(scratch, `${path.basename(file)}.o`);
  const lst = path.join(scratch, `${path.basename(file)}.lst`);
  run('nasm', ['-f', 'elf32', '-g', '-F', 'dwarf', '-l', lst, '-o', obj, path.relative(cwd, file)], cwd);
  const lineAt = new Map<string, Array<{ offset: number; line: number }>>();
  let section = '.text';
  let level0 = { line: 0, source: '' };
  for (const l of readFileSync(lst, 'utf8').split('\n')) {
    const m = /^\s*(\d+)(?: ([0-9A-F]{8}) (\S+))?\s*(<\d+>)?(.*)$/.exec(l);
    if (!m) continue;
    const [, num, addr, , level, source] = m;
    if (!level) {
      level0 = { line: Number(num), source: source.trim() };
      const sec = /^\[?\s*(?:section|segment)\s+([^\s\]]+)/i.exec(source.trim());
      if (sec) section = sec[1];
    }
    if (!addr) continue;
    let line = Number(num);
    if (level) {
      if (/^%include\b/i.test(level0.source)) continue; // a line of an included file
      if (!level0.source.startsWith('%')) line = level0.line; // a macro call's expansion
    }
    const list = lineAt.get(section) ?? [];
    list.push({ offset: parseInt(addr, 16), line });
    lineAt.set(section, list);
  }
  const map = new Map<number, Set<string>>();
  let current = '';
  for (const l of run('objdump', ['-d', obj], cwd).split('\n')) {
    const sec = /^Disassembly of section (\S+):$/.exec(l);
    if (sec) { current = sec[1]; continue; }
    const ins = /^\s+([0-9a-f]+):\t[0-9a-f ]+\t(.+)$/.exec(l);
    if (!ins) continue;
    const offset = parseInt(ins[1], 16);
    const entries = (lineAt.get(current) ?? []).filter((e) => e.offset <= offset);
    const at = entries[entries.length - 1];
    if (at) add(map, at.line, codeOf(ins[2]));
  }
  return map;
}

function lint(file: string, root: string): ReturnType<typeof lintDocument> {
  const text = readFileSync(file, 'utf8');
  const flags = compileFlags(file, [root]);
  const env = diskIncludeEnv(flags.includePaths, [root]);
  env.defines = flags.defines;
  env.forcedIncludes = flags.forcedIncludes;
  const doc = new LintDocument(file, syntaxOf(file, undefined, text), text);
  return lintDocument(doc, { mode: 'paravirtual', includeEnv: env, readFile: (p, from) => { const f = resolveInclude(p, from, env); return f ? env.read(f) : undefined; } });
}

function sources(dir: string, ext: RegExp): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p, ext));
    else if (ext.test(e.name)) out.push(p);
  }
  return out.sort();
}

function compare(file: string, expected: Map<number, Set<string>>, got: ReturnType<typeof lintDocument>): void {
  const others = got.filter((d) => d.code !== CRITICAL_CODE && d.code !== PRIVILEGED_CODE);
  assert.deepEqual(others.map((d) => `${d.range.start.line + 1}: ${d.severity} ${d.code}: ${d.message}`), [], `${path.basename(file)}: nothing but virtualization diagnostics where the assembler accepts`);
  const gotMap = new Map<number, Set<string>>();
  for (const d of got) add(gotMap, d.range.start.line + 1, d.code);
  const lines = [...new Set([...expected.keys(), ...gotMap.keys()])].sort((a, b) => a - b);
  const text = readFileSync(file, 'utf8').split('\n');
  const mismatches = lines.map((l) => {
    const e = [...(expected.get(l) ?? [])].sort().join(' ');
    const g = [...(gotMap.get(l) ?? [])].sort().join(' ');
    return e === g ? '' : `${l}: linter [${g}] assembler [${e}] — ${text[l - 1]?.trim()}`;
  }).filter(Boolean);
  assert.deepEqual(mismatches, [], `${path.basename(file)}: flagged lines equal the lines whose emitted instructions are critical/privileged`);
  assert.ok(expected.size > 0, 'the file emits sensitive instructions');
}

describe('realistic kernel sources: flags equal what the real assemblers emit, line by line', function () {
  this.timeout(120000);
  let viaMacro = 0;

  for (const file of sources(path.join(CORPUS, 'xv6'), /\.S$/).concat(sources(path.join(CORPUS, 'linux'), /\.S$/))) {
    it(`${path.relative(CORPUS, file)} (gcc -m32 -c -g, objdump -d -l)`, () => {
      const got = lint(file, path.dirname(file));
      viaMacro += got.filter((d) => d.message.startsWith('via macro')).length;
      compare(file, expectedGas(file), got);
    });
  }

  const nasmRoot = path.join(CORPUS, 'nasm');
  for (const file of existsSync(nasmRoot) ? sources(nasmRoot, /\.asm$/) : []) {
    it(`${path.relative(CORPUS, file)} (nasm -f elf32 -g from the kernel's folder, listing + objdump -d)`, () => {
      const got = lint(file, nasmRoot);
      viaMacro += got.filter((d) => d.message.startsWith('via macro')).length;
      compare(file, expectedNasm(file, nasmRoot), got);
    });
  }

  it('macro call sites are among the flagged lines (SYSCALL(name), SAVE_ALL, %macro stubs)', () => {
    assert.ok(viaMacro >= 20, `only ${viaMacro} diagnostics via a macro`);
  });
});
