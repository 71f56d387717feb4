/*
 * NASM's context stack (%push / %pop / %repl / %ifctx, `%$local` names, `%+1` / `%-1` condition
 * codes) and `incbin` (issue 13's NASM gaps), each checked against nasm: the same bytes, or the same
 * verdict where nasm rejects the source.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readIncludeBytes } from '../../core/machine/safeRead';
import { haveNasm, nasmAssemble, popekPerLine } from './nasmDiff';
import { hex, prng } from './support';

/** The structured-control macros of NASM manual §4.7.6, as kernels write them: one context per `if`. */
const IF_MACROS = [
  '%macro if 1', '  %push if', '  j%-1 %$ifnot', '%endmacro',
  '%macro else 0', '  %ifctx if', '    %repl else', '    jmp %$ifend', '    %$ifnot:', '  %else', '    %error "else without if"', '  %endif', '%endmacro',
  '%macro endif 0', '  %ifctx if', '    %$ifnot:', '    %pop', '  %elifctx else', '    %$ifend:', '    %pop', '  %else', '    %error "endif without if"', '  %endif', '%endmacro',
];

function sameBytes(src: string, options = {}): void {
  const n = nasmAssemble(src);
  assert.equal(n.errors, '', 'nasm accepts the source');
  const p = popekPerLine(src, 'in.asm', options);
  assert.deepEqual(p.errors, [], 'Popek accepts it too');
  assert.equal(hex(p.bytes), hex(n.bytes), 'same image as nasm -f bin');
}

describe('NASM context stack and incbin: the same as nasm (issue 13)', function () {
  this.timeout(60000);
  before(function () { assert.ok(haveNasm(), 'nasm is needed (bash scripts/setup.sh installs it)'); });

  it('if/else/endif macros built on %push/%repl/%pop/%ifctx and %$ labels, nested, with every condition code inverted', () => {
    const ccs = ['a', 'ae', 'b', 'be', 'c', 'e', 'g', 'ge', 'l', 'le', 'o', 'p', 's', 'z', 'na', 'nae', 'nb', 'nbe', 'nc', 'ne', 'ng', 'nge', 'nl', 'nle', 'no', 'np', 'ns', 'nz', 'pe', 'po'];
    const body = ['bits 32', ...IF_MACROS];
    for (const cc of ccs) body.push('cmp eax, ebx', `if ${cc}`, '  inc eax', '  cmp ecx, 0', '  if e', '    nop', '  else', '    dec ecx', '  endif', 'else', '  cli', 'endif');
    sameBytes(body.join('\n') + '\n');
  });

  it('context-local %define and labels, %$$ for the outer context, %+1, and a label or name in a string left alone', () => {
    sameBytes([
      'bits 16',
      '%macro jif 2', '  j%+1 %2', '%endmacro',
      '%push outer', '%define %$size 12', '%$top:',
      '  %push inner', '  %define %$size 3', '  mov ax, %$size', '  mov bx, %$$size', '  jif nz, %$$top', '  loop %$next', '%$next:', '  db "%$size"', '  %pop inner',
      '  mov cx, %$size', '  jmp %$top',
      '%pop',
      '%push again', '%$top: jmp short %$top', '%pop',
    ].join('\n') + '\n');
  });

  it('rejects what nasm rejects: %pop on an empty stack, %$name with no context, %pop of another name, %$$ too deep', () => {
    for (const bad of ['%pop', 'jmp %$x', '%push a\n%pop b', '%push a\nmov eax, %$$x\n%pop']) {
      assert.notEqual(nasmAssemble(bad + '\n').errors, '', `nasm rejects ${JSON.stringify(bad)}`);
      assert.ok(popekPerLine(bad + '\n').errors.length > 0, `Popek rejects ${JSON.stringify(bad)} too`);
    }
  });

  it('incbin with a skip and a length, inside times, before a boot signature: nasm\'s bytes', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'popek-incbin-'));
    const rand = prng(7);
    const file = path.join(dir, 'blob.bin');
    writeFileSync(file, Buffer.from(Array.from({ length: 300 }, () => Math.floor(rand() * 256))));
    const options = { readBinary: (p: string) => readIncludeBytes(path.isAbsolute(p) ? p : path.join(dir, p)) };
    sameBytes([
      'bits 16', 'org 0x7c00', 'start: jmp code',
      `font: incbin "${file}", 10, 16`,
      `tail: incbin "${file}", 290`,
      `past: incbin "${file}", 400`,
      `times 2 incbin "${file}", 0, 3`,
      `all: incbin "${file}"`,
      'code: mov si, font', '  mov cx, all - font',
      'times 510 - ($ - $$) db 0', 'dw 0xaa55',
    ].join('\n') + '\n', options);
  });

  it('rejects what nasm rejects: incbin of a missing file, without a name, with a non-string name', () => {
    for (const bad of ['incbin "/nonexistent/popek-blob.bin"', 'incbin', 'incbin 5']) {
      assert.notEqual(nasmAssemble(bad + '\n').errors, '', `nasm rejects ${JSON.stringify(bad)}`);
      assert.ok(popekPerLine(bad + '\n', 'in.asm', { readBinary: (p: string) => readIncludeBytes(p) }).errors.length > 0, `Popek rejects ${JSON.stringify(bad)} too`);
    }
  });
});
