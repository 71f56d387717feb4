// Which syntax a `.s`/`.asm` file is written in, by content (core/lint/syntaxDetect.ts): each line that
// only NASM accepts votes NASM, each that only GNU as accepts votes GNU as — in any letter case NASM
// allows, with a bracket or a label where the syntax allows one. (The detector tries each pattern only
// where the line's first character allows it: these lines start every way a pattern can.)
import * as assert from 'node:assert/strict';
import { syntaxByContent } from '../../core/lint/syntaxDetect';

const NASM_ONLY = [
  'section .text', 'SECTION .data', 'Segment .bss', 'bits 32', 'BITS 16', '[bits 32]', '[ BITS 16 ]', 'use32', 'USE16',
  'extern kmain', 'EXTERN kmain', '[extern kmain]', 'global _start', 'GLOBAL _start', '[global start]',
  '%define X 1', '%MACRO m 0', '%include "a.inc"', '%rep 4', 'msg db "hi", 0', 'MSG DB 1', '_x: dd 1', '.local resb 4',
  'buf: times 16 db 0', 'SIZE equ 4', 'mov eax, dword [ebx]', 'add BYTE [esi], 1', 'inc word[eax]',
];
const ATT_ONLY = [
  '.globl _start', '.global _start', '.text', '.code32', '.section .multiboot', '.p2align 4', '.set X, 1',
  'movl %eax, %ebx', 'mov %cr0, %eax', 'pushl %ds', '#include "multiboot.h"', '# define X 1', '#ifdef X',
  'magic: .long 0x1badb002', '_v: .byte 1', 'msg:.ascii "hi"',
];

describe('lint: NASM or GNU as by content', () => {
  for (const line of NASM_ONLY) it(`'${line}' reads as NASM`, () => assert.equal(syntaxByContent(`  ${line}\n  cli\n`), 'nasm'));
  for (const line of ATT_ONLY) it(`'${line}' reads as GNU as`, () => assert.equal(syntaxByContent(`\t${line}\r\n\tcli\r\n`), 'att'));
  it('lines both accept, or neither, do not tell; more votes win', () => {
    assert.equal(syntaxByContent('cli\nhlt\n_start:\n'), undefined);
    assert.equal(syntaxByContent('globl x\n'), undefined);
    assert.equal(syntaxByContent('section .text\nbits 32\n.globl x\n'), 'nasm');
    assert.equal(syntaxByContent('.text\nmovl %eax, %ebx\nbits 32\n'), 'att');
  });
});
