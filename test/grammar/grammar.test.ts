/* Scopes of sample lines under the committed grammars (tokenized as VS Code does). */
import * as assert from 'node:assert/strict';
import { tokenize, scopesOf, Token } from './tokenize';
import { SCOPES } from '../../scripts/gen-grammars';

const NASM = 'source.popek.nasm';
const GAS = 'source.popek.gas';

async function line(scope: string, text: string): Promise<Token[]> {
  return (await tokenize(scope, [text]))[0];
}

/** Asserts that `word` in `text` carries `scope` (as its innermost scope). */
async function expectScope(grammar: string, text: string, word: string, scope: string): Promise<void> {
  const tokens = await line(grammar, text);
  const scopes = scopesOf(tokens, word);
  assert.ok(scopes, `no token "${word}" in ${JSON.stringify(tokens.map((t) => t.text))}`);
  assert.equal(scopes.at(-1), scope, `"${word}" in "${text}": ${scopes.join(' ')}`);
}

describe('grammar: NASM (popek-nasm)', () => {
  const cases: Array<[string, string, string]> = [
    // critical (SPEC §7): sensitive but unprivileged
    ['    popfd', 'popfd', SCOPES.critical],
    ['    pushf', 'pushf', SCOPES.critical],
    ['    PUSHFD', 'PUSHFD', SCOPES.critical],
    ['    sgdt [gdtr_copy]', 'sgdt', SCOPES.critical],
    ['    smsw ax', 'smsw', SCOPES.critical],
    ['    str ax', 'str', SCOPES.critical],
    ['    lar eax, ebx', 'lar', SCOPES.critical],
    ['    verw ax', 'verw', SCOPES.critical],
    ['    int 0x80', 'int', SCOPES.critical],
    ['    iretd', 'iretd', SCOPES.critical],
    ['    retf', 'retf', SCOPES.critical],
    // form-level: mov/push/pop with a segment register, far jmp/call
    ['    mov ds, ax', 'mov', SCOPES.critical],
    ['    mov ax, ss', 'mov', SCOPES.critical],
    ['    push cs', 'push', SCOPES.critical],
    ['    pop es', 'pop', SCOPES.critical],
    ['    jmp 0x08:.flush', 'jmp', SCOPES.critical],
    ['    call far [ptr]', 'call', SCOPES.critical],
    // privileged and IOPL-sensitive
    ['    lgdt [gdtr]', 'lgdt', SCOPES.privileged],
    ['    mov cr0, eax', 'mov', SCOPES.privileged],
    ['    mov eax, cr3', 'mov', SCOPES.privileged],
    ['    mov dr7, eax', 'mov', SCOPES.privileged],
    ['    hlt', 'hlt', SCOPES.privileged],
    ['    wrmsr', 'wrmsr', SCOPES.privileged],
    ['    cli', 'cli', SCOPES['iopl-sensitive']],
    ['    out dx, al', 'out', SCOPES['iopl-sensitive']],
    ['    rep outsb', 'outsb', SCOPES['iopl-sensitive']],
    ['    vmcall', 'vmcall', SCOPES.hypercall],
    // innocuous: not flagged
    ['    mov eax, ebx', 'mov', SCOPES.instruction],
    ['    mov eax, [ds:ebx]', 'mov', SCOPES.instruction],
    ['    push eax', 'push', SCOPES.instruction],
    ['    jmp .halt', 'jmp', SCOPES.jump],
    ['    jmp short next', 'jmp', SCOPES.jump],
    ['    cpuid', 'cpuid', SCOPES.instruction],
    ['    rep movsb', 'rep', SCOPES.prefix],
    // labels, with and without an instruction after them
    ['start:', 'start', 'entity.name.function.label.popek'],
    ['.halt:', '.halt', 'entity.name.function.label.local.popek'],
    ['.wait: in al, dx', '.wait', 'entity.name.function.label.local.popek'],
    ['.wait: in al, dx', 'in', SCOPES['iopl-sensitive']],
    ['loop1: popf', 'popf', SCOPES.critical],
    // a label called like an instruction is a label, and an operand called like one is not an instruction
    ['str: db "x"', 'str', 'entity.name.function.label.popek'],
    ['    mov esi, str', 'str', 'source.popek.nasm'],
    ['    jmp .halt', '.halt', 'variable.other.label.local.popek'],
    // registers
    ['    mov eax, ebx', 'eax', 'variable.language.register.popek'],
    ['    mov ds, ax', 'ds', 'variable.language.register.segment.popek'],
    ['    mov cr0, eax', 'cr0', 'variable.language.register.system.popek'],
    // directives, data, macros, constants
    ['bits 32', 'bits', 'keyword.other.directive.popek'],
    ['org 0x100000', 'org', 'keyword.other.directive.popek'],
    ['section .bss', 'section', 'keyword.other.directive.popek'],
    ['    dd MB_MAGIC', 'dd', 'storage.type.data.popek'],
    ['    resb 4096', 'resb', 'storage.type.data.popek'],
    ['times 510-($-$$) db 0', 'times', 'storage.type.data.popek'],
    ['times 510-($-$$) db 0', '$$', 'variable.language.location.popek'],
    ['COM1 equ 0x3F8', 'COM1', 'entity.name.constant.popek'],
    ['COM1 equ 0x3F8', 'equ', 'keyword.other.directive.popek'],
    ['%define PORT 0xF4', '%define', 'keyword.control.directive.define.popek'],
    ['%define PORT 0xF4', 'PORT', 'entity.name.constant.macro.popek'],
    ['%macro hypercall 1', '%macro', 'keyword.control.directive.macro.popek'],
    ['%macro hypercall 1', 'hypercall', 'entity.name.function.macro.popek'],
    ['%endmacro', '%endmacro', 'keyword.control.directive.popek'],
    ['%include "lib.inc"', '%include', 'keyword.control.directive.include.popek'],
    ['    mov eax, %1', '%1', 'variable.parameter.macro.popek'],
    ['    mov eax, __HYPERVISOR_console_io', '__HYPERVISOR_console_io', 'support.constant.hypercall.popek'],
    ['    mov eax, dword [esp+4]', 'dword', 'storage.modifier.size.popek'],
    // numbers
    ['    mov eax, 0x2BADB002', '0x2BADB002', 'constant.numeric.hex.popek'],
    ['    mov al, 0F4h', '0F4h', 'constant.numeric.hex.popek'],
    ['    mov al, 1010b', '1010b', 'constant.numeric.binary.popek'],
    ['    mov al, 0b1010', '0b1010', 'constant.numeric.binary.popek'],
    ['    mov al, 17q', '17q', 'constant.numeric.octal.popek'],
    ['    mov al, 42', '42', 'constant.numeric.decimal.popek'],
    // strings and comments
    ['    db "Hello", 10, 0', 'Hello', 'string.quoted.double.popek'],
    ["    db 'x'", 'x', 'string.quoted.single.popek'],
    ['    cli ; mask interrupts', 'mask interrupts', 'comment.line.semicolon.popek'],
    ['; popek: mode=trap-and-emulate', 'popek:', 'keyword.other.directive.popek'],
  ];
  for (const [text, word, scope] of cases) {
    it(`${JSON.stringify(text)}: ${word} → ${scope}`, () => expectScope(NASM, text, word, scope));
  }

  it('a comment swallows instructions written in it', async () => {
    const tokens = await line(NASM, '    nop ; popf would be critical');
    assert.ok(!tokens.some((t) => t.scopes.includes(SCOPES.critical)), JSON.stringify(tokens));
  });

  it('backquoted strings take C escapes', async () => {
    const tokens = await line(NASM, '    db `a\\n`, 0');
    assert.equal(scopesOf(tokens, '\\n')?.at(-1), 'constant.character.escape.popek');
  });
});

describe('grammar: GNU as (popek-gas)', () => {
  const cases: Array<[string, string, string]> = [
    ['    popfl', 'popfl', SCOPES.critical],
    ['    pushfl', 'pushfl', SCOPES.critical],
    ['    sgdtl gdt_copy', 'sgdtl', SCOPES.critical],
    ['    ljmp $0x08, $1f', 'ljmp', SCOPES.critical],
    ['    jmp $0x08, $start32', 'jmp', SCOPES.critical],
    ['    lret', 'lret', SCOPES.critical],
    ['    movw %ax, %ds', 'movw', SCOPES.critical],
    ['    movl %ss, %eax', 'movl', SCOPES.critical],
    ['    pushl %fs', 'pushl', SCOPES.critical],
    ['    iret', 'iret', SCOPES.critical],
    ['    lgdtl gdtdesc', 'lgdtl', SCOPES.privileged],
    ['    movl %eax, %cr0', 'movl', SCOPES.privileged],
    ['    movl %cr3, %eax', 'movl', SCOPES.privileged],
    ['    hlt', 'hlt', SCOPES.privileged],
    ['    outb %al, %dx', 'outb', SCOPES['iopl-sensitive']],
    ['    inb $0x64, %al', 'inb', SCOPES['iopl-sensitive']],
    ['    cli; hlt', 'hlt', SCOPES.privileged],
    ['    cli; hlt', 'cli', SCOPES['iopl-sensitive']],
    ['    vmcall', 'vmcall', SCOPES.hypercall],
    ['    movl $1, %eax', 'movl', SCOPES.instruction],
    ['    movzbl (%esi), %eax', 'movzbl', SCOPES.instruction],
    ['    jmp 1b', 'jmp', SCOPES.jump],
    ['    jmp 1b', '1b', 'variable.other.label.local.popek'],
    ['    call puts', 'call', SCOPES.jump],
    ['start:', 'start', 'entity.name.function.label.popek'],
    ['1:  inb $0x64, %al', '1', 'entity.name.function.label.local.popek'],
    ['.Lloop:', '.Lloop', 'entity.name.function.label.local.popek'],
    ['.code32', '.code32', 'keyword.other.directive.popek'],
    ['.globl start', '.globl', 'keyword.other.directive.popek'],
    ['    .long 0x1BADB002', '.long', 'storage.type.data.popek'],
    ['    .asciz "hi"', 'hi', 'string.quoted.double.popek'],
    ['.set PROT_MODE_CSEG, 0x8', 'PROT_MODE_CSEG', 'entity.name.constant.popek'],
    ['.macro HYPERCALL nr', 'HYPERCALL', 'entity.name.function.macro.popek'],
    ['#define SEG_KCODE 1', '#define', 'keyword.control.directive.define.popek'],
    ['#include "mmu.h"', '#include', 'keyword.control.directive.include.popek'],
    ['    movl %eax, %ebx', 'eax', 'variable.language.register.popek'],
    ['    movw %ax, %ds', 'ds', 'variable.language.register.segment.popek'],
    ['    movl %eax, %cr0', 'cr0', 'variable.language.register.system.popek'],
    ['    movl $0x2BADB002, %eax', '0x2BADB002', 'constant.numeric.hex.popek'],
    ['    cli  # no interrupts', 'no interrupts', 'comment.line.number-sign.popek'],
    ['# popek: mode=paravirtual', 'popek:', 'keyword.other.directive.popek'],
  ];
  for (const [text, word, scope] of cases) {
    it(`${JSON.stringify(text)}: ${word} → ${scope}`, () => expectScope(GAS, text, word, scope));
  }

  it('a block comment spans lines', async () => {
    const lines = await tokenize(GAS, ['/* popfl', '   still comment */ popfl']);
    assert.ok(lines[0].every((t) => t.scopes.includes('comment.block.popek')));
    assert.ok(lines[1].find((t) => t.text.includes('still comment'))?.scopes.includes('comment.block.popek'), JSON.stringify(lines[1]));
    assert.ok(!scopesOf(lines[1], 'popfl')?.includes('comment.block.popek'), 'the comment ends at */');
  });
});
