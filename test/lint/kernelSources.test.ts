/*
 * What kernel sources do that a single-file NASM program does not, each checked against the real
 * assembler where it has a say: extern/global/common and ELF sections (`nasm -f elf32` accepts
 * them), a fragment `%include`d by another file (assembled in its includer, as the build does), an
 * include that cannot be found (a warning, not a cascade of errors), cpp conditionals (the skipped
 * side is not linted), a header that cannot be found (unknown macros are hints, not errors), and
 * the syntax of `.s`/`.asm` files told by their content.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LintDocument, syntaxOf } from '../../core/lint/document';
import { lintDocument } from '../../core/lint/lint';
import { diskIncludeEnv, resolveInclude } from '../../core/lint/includes';
import { syntaxForFile } from '../../core/lint/syntaxDetect';

const dir = mkdtempSync(path.join(tmpdir(), 'popek-kernel-sources-'));

function write(rel: string, lines: string[]): string {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function lint(file: string, text: string, root = dir): ReturnType<typeof lintDocument> {
  const env = diskIncludeEnv([], [root]);
  const doc = new LintDocument(file, syntaxOf(file, undefined, text), text);
  return lintDocument(doc, { mode: 'paravirtual', includeEnv: env, readFile: (p, from) => { const f = resolveInclude(p, from, env); return f ? env.read(f) : undefined; } });
}

function nasm(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync('nasm', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`nasm is not installed (scripts/setup.sh installs it): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The 0-based source lines `nasm -f elf32` emits bytes for (from its listing: `  7 00000000 FB      sti`). */
function nasmEmittedLines(file: string, args: string[] = []): Set<number> {
  const listing = file.replace(/\.asm$/, '.lst');
  const r = nasm(['-f', 'elf32', ...args, '-l', listing, file, '-o', file.replace(/\.asm$/, '.o')], dir);
  assert.equal(r.status, 0, r.out);
  return new Set(readFileSync(listing, 'utf8').split('\n').map((l) => /^\s*(\d+) [0-9A-F]{8} [0-9A-F]/.exec(l)).filter((m) => m).map((m) => Number(m![1]) - 1));
}

const errors = (ds: ReturnType<typeof lintDocument>): string[] => ds.filter((d) => d.severity === 'error').map((d) => `${d.range.start.line + 1}: ${d.message}`);

describe('kernel sources: linkable NASM, fragments, includes, cpp, syntax by content', () => {
  it('extern/global/common in every form and ELF section attributes: nasm -f elf32 accepts, no error', () => {
    const file = write('link/entry.asm', [
      'bits 32',
      '[extern kmain]',
      'extern a, b ; two at once',
      'extern c:function',
      'global _start:function (_start.end - _start)',
      'common buf 4096:4',
      'section .multiboot progbits alloc noexec nowrite align=4',
      '    dd 0x1BADB002',
      'section .text exec',
      '_start:',
      '    call kmain',
      '    mov eax, [a]',
      '    push b',
      '    call c',
      '    mov [buf], eax',
      '    cli',
      '.end:',
      'section .bss nobits alloc noexec write align=16',
      '    resb 4096',
    ]);
    const real = nasm(['-f', 'elf32', '-o', path.join(dir, 'entry.o'), file], dir);
    assert.equal(real.status, 0, real.out);
    const ds = lint(file, readFileSync(file, 'utf8'));
    assert.deepEqual(errors(ds), []);
    assert.deepEqual(ds.map((d) => [d.range.start.line + 1, d.code]), [[16, 'privileged-instruction']]);
  });

  it('a fragment %included from the folder above is assembled in its includer: its labels are defined, a real typo is still an error', () => {
    const main = write('tut/boot/bootsect.asm', ['[org 0x7c00]', 'bits 16', 'start:', '    call print', '    jmp $', '%include "boot/print.asm"', 'msg: db "hi", 0', 'times 510-($-$$) db 0', 'dw 0xaa55']);
    const frag = write('tut/boot/print.asm', ['print:', '    mov si, msg', '    call done', '    ret', 'done:', '    ret']);
    const real = nasm(['-f', 'bin', '-o', path.join(dir, 'boot.bin'), path.relative(path.join(dir, 'tut'), main)], path.join(dir, 'tut'));
    assert.equal(real.status, 0, real.out);
    const root = path.join(dir, 'tut');
    assert.deepEqual(errors(lint(frag, readFileSync(frag, 'utf8'), root)), []);
    assert.deepEqual(errors(lint(main, readFileSync(main, 'utf8'), root)), []);
    const typo = ['print:', '    mov si, msgg', '    ret'].join('\n');
    assert.deepEqual(errors(lint(frag, typo, root)), ["2: symbol 'msgg' is not defined"]);
  });

  it('an %include that cannot be found is a warning, and the names it would define are not errors', () => {
    const file = write('missing/main.asm', ['bits 32', '%include "nowhere/defs.inc"', 'start:', '    mov eax, SOME_CONSTANT', '    call some_routine']);
    const ds = lint(file, readFileSync(file, 'utf8'));
    assert.deepEqual(errors(ds), []);
    assert.deepEqual(ds.map((d) => [d.range.start.line + 1, d.severity, d.code]), [[2, 'warning', 'include']]);
  });

  it('cpp: the skipped side of #if/#ifdef is not linted, a multi-line #define body is no code, an unknown header degrades to hints', () => {
    const text = [
      '#include "nothere.h"',
      '#define IRQ_OFF \\',
      '    cli; \\',
      '    nop',
      '#if 0',
      '    this is not assembly at all %%',
      '    cli',
      '#elif defined(__ASSEMBLER__)',
      '    sti',
      '#endif',
      '#ifdef CONFIG_NOT_SET',
      '    hlt',
      '#else',
      '    IRQ_OFF',
      '#endif',
      '    save_state %eax',
    ].join('\n');
    const ds = lint(path.join(dir, 'cpp.S'), text);
    assert.deepEqual(ds.map((d) => [d.range.start.line + 1, d.severity, d.code]), [[9, 'information', 'privileged-instruction'], [14, 'information', 'privileged-instruction'], [16, 'hint', 'unknown-macro']]);
    assert.match(ds[1].message, /^via macro IRQ_OFF: cli /);
  });

  it('NASM %if/%elif/%ifdef/%ifndef: the side nasm skips is greyed (inactive) and not linted; a condition it cannot evaluate greys nothing', () => {
    const file = write('cond/cond.asm', [
      'bits 32',
      '%define DEBUG 0',
      '%define LEVEL 10h',
      '%if DEBUG',
      '    cli',
      '%elif LEVEL = 16 && (DEBUG <> 1)',
      '    sti',
      '%else',
      '    hlt',
      '%endif',
      '%ifdef NOPE',
      '    cli',
      '%elifndef DEBUG',
      '    sti',
      '%else',
      '    nop',
      '  %ifn LEVEL >> 4',
      '    pushfd',
      '  %endif',
      '%endif',
      '%ifidn __OUTPUT_FORMAT__, elf32',
      '    pushfd',
      '%else',
      '    popfd',
      '%endif',
      '%undef DEBUG',
      '%ifndef DEBUG',
      '    int 3',
      '%endif',
    ]);
    const emitted = nasmEmittedLines(file);
    const text = readFileSync(file, 'utf8');
    const doc = new LintDocument(file, 'nasm', text);
    const ds = lintDocument(doc, { mode: 'paravirtual', includeEnv: diskIncludeEnv([], [dir]) });
    const unknownBlock = [21, 23]; // the %ifidn's two sides (0-based lines)
    doc.facts.forEach((f, line) => {
      if (f.instructions.length === 0) return;
      if (unknownBlock.includes(line)) assert.ok(!f.inactive, `line ${line + 1} is in a block the view cannot evaluate: not greyed`);
      else assert.equal(f.inactive === true, !emitted.has(line), `line ${line + 1}: greyed exactly when nasm emits nothing`);
    });
    assert.ok(doc.facts.filter((f) => f.inactive).length >= 5);
    // Only active lines are flagged (the %ifidn's sides both, as the view cannot tell).
    const flagged = ds.filter((d) => d.code === 'critical-instruction' || d.code === 'privileged-instruction').map((d) => d.range.start.line);
    assert.deepEqual(flagged.filter((l) => !unknownBlock.includes(l)), [...emitted].filter((l) => !unknownBlock.includes(l) && doc.facts[l].instructions.some((i) => i.mnemonic !== 'nop')).sort((a, b) => a - b));
    assert.deepEqual(flagged.filter((l) => unknownBlock.includes(l)), unknownBlock);
  });

  it('NASM `\\` continuations in the per-line view: flagged exactly where nasm -l emits, a `; …\\` comment swallows the next line, also after an edit', () => {
    const file = write('cont/cont.asm', [
      'bits 32',
      '; the next line is comment too \\',
      '    cli',
      'hlt ; and so is this one \\',
      '    sti',
      'nop ; a blank after the backslash ends the line, as in nasm \\ ',
      '    cli',
      'out \\',
      '    dx, al',
      'lgdt \\',
      '   [gdtr]',
      '%define DEBUG \\',
      '   0',
      '%if DEBUG',
      '    in al, dx',
      '%else',
      '    pushfd',
      '%endif',
      'mov eax, \\',
      '    ebx',
      'gdtr: dw 0',
    ]);
    const emitted = nasmEmittedLines(file);
    for (const plain of [5, 18, 20]) emitted.delete(plain); // nop, mov eax, ebx and gdtr's data are no privileged code
    const text = readFileSync(file, 'utf8');
    const doc = new LintDocument(file, 'nasm', text);
    const flagged = (ds: ReturnType<typeof lintDocument>) => [...new Set(ds.filter((d) => d.code === 'critical-instruction' || d.code === 'privileged-instruction').map((d) => d.range.start.line))].sort((a, b) => a - b);
    const ds = lintDocument(doc, { mode: 'paravirtual', includeEnv: diskIncludeEnv([], [dir]) });
    assert.deepEqual(errors(ds), []);
    assert.deepEqual(flagged(ds), [...emitted].sort((a, b) => a - b), 'the lines nasm emits privileged code for, and only those');
    // Removing the comment's backslash brings `cli` back as code (the next line is scanned again).
    doc.applyChange({ range: { start: { line: 1, character: 30 }, end: { line: 1, character: 32 } }, text: '' });
    assert.ok(flagged(lintDocument(doc, { mode: 'paravirtual', includeEnv: diskIncludeEnv([], [dir]) })).includes(2), 'cli flagged once no longer continued');
  });

  it('NASM command-line defines (popek.nasmDefines, as nasm -d gives them) and %ifidn/%ifidni of literal text: greyed exactly where nasm emits nothing', () => {
    const file = write('cond/defs.asm', [
      'bits 32',
      '%ifdef DEBUG', '    cli', '%else', '    sti', '%endif',
      '%if LEVEL > 2', '    hlt', '%else', '    nop', '%endif',
      '%define MODE fast',
      '%ifidn MODE, fast', '    pushfd', '%else', '    popfd', '%endif',
      '%ifidni MODE , FAST', '    lgdt [eax]', '%else', '    int 3', '%endif',
      '%ifnidn MODE, slow', '    cli', '%endif',
      '%ifidn MODE, FAST', '    sti', '%endif',
    ]);
    const emitted = nasmEmittedLines(file, ['-d', 'DEBUG', '-d', 'LEVEL=3']);
    const doc = new LintDocument(file, 'nasm', readFileSync(file, 'utf8'));
    const env = diskIncludeEnv([], [dir]);
    env.nasmDefines = { DEBUG: '', LEVEL: '3' };
    const ds = lintDocument(doc, { mode: 'paravirtual', includeEnv: env });
    let checked = 0;
    doc.facts.forEach((f, line) => {
      if (f.instructions.length === 0) return;
      checked++;
      assert.equal(f.inactive === true, !emitted.has(line), `line ${line + 1}: greyed exactly when nasm -d DEBUG -d LEVEL=3 emits nothing`);
    });
    assert.equal(checked, 10);
    assert.deepEqual(ds.filter((d) => d.severity === 'error'), [], 'the assembler knows the defines too');
    // Without the defines, the DEBUG side is greyed, as a build without -d DEBUG skips it.
    const plain = new LintDocument(file, 'nasm', readFileSync(file, 'utf8'));
    lintDocument(plain, { mode: 'paravirtual', includeEnv: diskIncludeEnv([], [dir]) });
    assert.equal(plain.facts[2].inactive, true);
    assert.ok(!plain.facts[4].inactive);
  });

  it('GNU as .altmacro is per position: a call expands in the mode of its line, as `as --32` + objdump show', () => {
    const file = write('alt/alt.s', [
      '.code32',
      '.altmacro',
      '.macro SETSEG seg',
      '  movw %ax, seg',
      '.endm',
      'SETSEG <%ds>',
      '.noaltmacro',
      'SETSEG %ds',
      '.altmacro',
      'SETSEG <%es>',
      'seg: .long 0',
    ]);
    const obj = path.join(dir, 'alt/alt.o');
    const as = spawnSync('as', ['--32', '-g', file, '-o', obj], { encoding: 'utf8' });
    if (as.error) throw new Error(`as is not installed (scripts/setup.sh installs binutils): ${as.error.message}`);
    assert.equal(as.status, 0, as.stderr);
    // objdump -d -l: the source line of each instruction, and whether it writes a segment register.
    const dump = spawnSync('objdump', ['-d', '-l', obj], { encoding: 'utf8' }).stdout;
    const segmentWrites: number[] = [];
    let line = -1;
    for (const l of dump.split('\n')) {
      const at = /alt\.s:(\d+)/.exec(l);
      if (at) line = Number(at[1]) - 1;
      else if (/\tmov\s+%\w+,%[c-gs]s\b/.test(l)) segmentWrites.push(line);
    }
    assert.deepEqual(segmentWrites, [5, 9], dump);
    const ds = lint(file, readFileSync(file, 'utf8'));
    assert.deepEqual(errors(ds), []);
    assert.deepEqual(ds.filter((d) => d.code === 'critical-instruction').map((d) => d.range.start.line), segmentWrites);
  });

  it('the syntax of .s/.S/.asm/.nasm files comes from their content, unless popek.syntax forces it', () => {
    const nasmText = 'section .text\nbits 32\nglobal _start\n_start:\n    mov eax, [ebx]\n';
    const gasText = '.globl _start\n.text\n_start:\n    movl (%ebx), %eax\n';
    assert.equal(syntaxOf('k.s', undefined, nasmText), 'nasm');
    assert.equal(syntaxOf('k.asm', undefined, gasText), 'att');
    assert.equal(syntaxOf('k.S', undefined, '#include "x.h"\n    movl %cr0, %eax\n'), 'att');
    // What the extension sets as the editor's language (client/syntaxDetection.ts).
    assert.equal(syntaxForFile('/w/k.s', nasmText, 'auto'), 'nasm');
    assert.equal(syntaxForFile('/w/k.asm', gasText, 'auto'), 'att');
    assert.equal(syntaxForFile('/w/k.asm', gasText, 'nasm'), 'nasm');
    assert.equal(syntaxForFile('/w/k.s', nasmText, 'gas'), 'att');
    assert.equal(syntaxForFile('/w/k.gasm', gasText, 'auto'), undefined);
    // A NASM file read as NASM has no error where nasm has none.
    const file = write('k.s', nasmText.split('\n'));
    assert.equal(nasm(['-f', 'elf32', '-o', path.join(dir, 'k.o'), file], dir).status, 0);
    assert.deepEqual(errors(lint(file, nasmText)), []);
  });
});
