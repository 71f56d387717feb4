/* The NASM-syntax parser and assembler: directives, preprocessor, expressions, diagnostics, layout. */
import * as assert from 'node:assert/strict';
import { assemble } from '../../core/asm/assembler';
import { parseNasm } from '../../core/asm/parser';
import { hex } from './support';

const asm = (src: string, opts = {}) => assemble('t.gasm', src, opts);
const bytesOf = (src: string) => { const r = asm(src); assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []); return hex(r.bytes); };

describe('parser', () => {
  it('yields statements with exact ranges', () => {
    const p = parseNasm('start:  mov eax, [ebx+4] ; c\n  .l: jmp .l\n', 'a.gasm');
    const [label, mov, local, jmp] = p.statements;
    assert.equal(label.kind, 'label');
    assert.deepEqual(label.range, { start: { line: 0, character: 0 }, end: { line: 0, character: 5 } });
    assert.equal(mov.kind === 'instruction' && mov.mnemonic, 'mov');
    if (mov.kind !== 'instruction') throw new Error();
    assert.deepEqual(mov.mnemonicRange, { start: { line: 0, character: 8 }, end: { line: 0, character: 11 } });
    assert.deepEqual(mov.operands[1].range, { start: { line: 0, character: 17 }, end: { line: 0, character: 24 } });
    assert.equal(local.kind === 'label' && local.fullName, 'start.l');
    assert.equal(jmp.kind, 'instruction');
    assert.deepEqual(p.diagnostics, []);
  });

  it('keeps going after an error and records macros', () => {
    const p = parseNasm('mov eax, [ebx\n%macro m 1\n  nop\n%endmacro\nm 5\nret\n', 'a.gasm');
    assert.equal(p.diagnostics.length, 1);
    assert.equal(p.diagnostics[0].range.start.line, 0);
    assert.deepEqual(p.statements.map((s) => s.kind), ['instruction', 'macroDef', 'macroCall', 'instruction']);
  });
});

describe('assembler', () => {
  it('encodes like nasm -Ox (short jumps, imm8, moffs)', () => {
    assert.equal(bytesOf('bits 32\nl: jmp l\nadd eax, 1\nadd eax, 1000\nmov eax, [0x10]\npush 5'), 'ebfe83c00105e8030000a1100000006a05');
  });

  it('grows jumps that do not fit and keeps forward ones short', () => {
    const r = asm('bits 32\njmp fwd\ntimes 200 nop\nfwd: jmp back\nback: jz fwd');
    assert.equal(hex(r.bytes.subarray(0, 5)), 'e9c8000000');
    assert.equal(hex(r.bytes.subarray(205)), 'eb0074fc');
  });

  it('handles org, $, $$, times, equ and data directives', () => {
    const r = asm('org 0x7c00\nbits 16\nstart: jmp start\nmsg db "hi", 0\nlen equ $ - msg\ndw len, start\ntimes 16-($-$$) db 0xcc\ndd 0x12345678');
    assert.equal(r.origin, 0x7c00);
    assert.equal(hex(r.bytes), 'ebfe6869000300007c' + 'cc'.repeat(7) + '78563412');
    assert.equal(r.labels.find((l) => l.name === 'msg')!.address, 0x7c02);
    assert.deepEqual(r.constants.map((c) => [c.name, c.value]), [['len', 3]]);
  });

  it('evaluates NASM operators with NASM precedence', () => {
    assert.equal(bytesOf('dd 1 + 2 * 3, (1 << 4) | 1, 7 / 2, -7 // 2, 7 % 3, ~0, 1 == 1, 3 & 6 ^ 1, 0x10 >> 1, 5 > 3 && 2 < 1'),
      '07000000110000000300000' + '0fdffffff01000000ffffffff010000000300000008000000' + '00000000');
  });

  it('accepts number and character literal forms', () => {
    assert.equal(bytesOf("db 0x1f, 1fh, 0b101, 101b, 17q, 0o17, $1f, 'A', `\\n`, 1_000 & 0xff"), '1f1f05050f0f1f410ae8');
  });

  it('lays out sections as nasm -f bin does', () => {
    const r = asm('org 0x1000\nsection .data\nd1: db 1\nsection .text\nt1: db 0x90\nsection .bss\nb1: resb 3\nsection .text\ndd d1, b1');
    assert.equal(hex(r.bytes), '90' + '0c100000' + '10100000' + '000000' + '01');
    assert.deepEqual(r.sections.map((s) => [s.name, s.start, s.size, s.nobits]), [['.text', 0x1000, 9, false], ['.data', 0x100c, 1, false], ['.bss', 0x1010, 3, true]]);
  });

  it('expands %define, %assign, %macro with %0 and %%locals, %rep and %if', () => {
    const src = [
      '%define PORT 0x3f8', '%define ADD(a,b) ((a)+(b))', '%assign N 3',
      '%macro outb 2', '  mov dx, %1', '  mov al, %2', '  out dx, al', '%endmacro',
      '%macro spin 0', '%%l: jmp %%l', '%endmacro',
      'bits 32', 'outb PORT, ADD(1,2)', 'spin', 'spin',
      '%rep N', 'nop', '%endrep',
      '%if N > 2', 'db 1', '%elif N', 'db 2', '%else', 'db 3', '%endif',
      '%ifdef PORT', 'db 4', '%endif', '%ifndef NOPE', 'db 5', '%endif',
    ].join('\n');
    assert.equal(bytesOf(src), '66baf803b003ee' + 'ebfe' + 'ebfe' + '909090' + '01' + '04' + '05');
  });

  it('includes files through readFile, relative to the including file', () => {
    const files: Record<string, string> = { 'lib/defs.inc': 'VAL equ 7\n%include "more.inc"', 'lib/more.inc': 'db VAL' };
    const r = assemble('main.gasm', '%include "lib/defs.inc"\ndb VAL+1', { readFile: (p, from) => files[(from.includes('/') ? from.slice(0, from.lastIndexOf('/') + 1) : '') + p] });
    assert.deepEqual(r.diagnostics, []);
    assert.equal(hex(r.bytes), '0708');
    assert.deepEqual(r.files, ['main.gasm', 'lib/defs.inc', 'lib/more.inc']);
    const missing = asm('%include "nope.inc"');
    assert.equal(missing.diagnostics[0].code, 'include');
  });

  it('predefines the Xen hypercall numbers and constants, and lets the user redefine them', () => {
    assert.equal(bytesOf('bits 32\nmov eax, __HYPERVISOR_sched_op\nmov ebx, SCHEDOP_shutdown\ndb __HYPERVISOR_console_io, CONSOLEIO_write, SHUTDOWN_crash, __HYPERVISOR_iret, MMUEXT_INVLPG_LOCAL'),
      'b81d000000bb02000000' + '1200031707');
    assert.equal(bytesOf('SCHEDOP_yield equ 9\ndb SCHEDOP_yield'), '09');
  });

  it('qualifies local labels with the last global label', () => {
    const r = asm('bits 32\na:\n.x: jmp .x\nb:\n.x: jmp .x\njmp a.x');
    assert.deepEqual(r.labels.map((l) => l.name), ['a', 'a.x', 'b', 'b.x']);
    assert.equal(hex(r.bytes), 'ebfeebfeebfa');
  });

  it('maps every instruction and data line to its address and range', () => {
    const r = asm('bits 32\norg 0x100000\nstart: mov eax, 1\n  db 1, 2\n  ret');
    assert.deepEqual(r.sourceMap.map((e) => [e.address, e.length, e.range.start.line, e.range.start.character, e.kind]),
      [[0x100000, 5, 2, 7, 'instruction'], [0x100005, 2, 3, 2, 'data'], [0x100007, 1, 4, 2, 'instruction']]);
    assert.equal(r.entry, 0x100000);
  });

  it('reports errors with exact ranges and still assembles the rest', () => {
    const r = asm('bits 32\nmov eax, undefined_sym\nfoo eax\nmov al, ebx\nadd [eax], 1\nnop\n%error custom\njmp short far_away\ntimes 200 nop\nfar_away:');
    const d = r.diagnostics.map((x) => [x.range.start.line, x.range.start.character, x.range.end.character, x.code]);
    assert.deepEqual(d, [
      [6, 0, 13, 'user-error'],
      [1, 9, 22, 'undefined-symbol'],
      [2, 0, 3, 'unknown-instruction'],
      [3, 0, 11, 'invalid-operands'],
      [4, 0, 12, 'invalid-operands'],
      [7, 4, 18, 'range'],
    ]);
    assert.match(r.diagnostics[4].message, /operation size not specified/);
    assert.ok(r.bytes.includes(0x90));
  });

  it('reports errors inside macro expansions on the invocation line', () => {
    const r = asm('%macro bad 0\n  mov eax, nowhere\n%endmacro\n  bad\n');
    assert.equal(r.diagnostics.length, 1);
    assert.deepEqual(r.diagnostics[0].range, { start: { line: 3, character: 2 }, end: { line: 3, character: 5 } });
  });

  it('never throws on odd input', () => {
    for (const src of ['', '\n\n', '[', ']', ':', '%', '%macro', '%if', 'times', 'times -1 db 0', 'db', 'db "', "mov eax, '", 'org', 'section', 'align 3', 'x equ x', 'a equ b\nb equ a', '\u0000\u0001', 'jmp $$$$', 'dd 1/0', '%rep 1000000000', 'mov [eax+ebx+ecx], eax', 'mov eax, [eax*esp]', 'push dword [esp*2]']) {
      const r = asm(src);
      assert.ok(Array.isArray(r.diagnostics));
    }
  });

  it('assembles identical lines alike wherever they are (shared parse and bytes)', () => {
    // the same text under bits 32 and bits 16, in .text and in .bss, and after a label
    const r = asm('mov eax, 1\nmov eax, 1\nbits 16\nmov eax, 1\nbits 32\nmov eax, 1\nx: mov eax, 1\nsection .bss\ndb 1\nsection .text\ndb 1\n');
    assert.equal(hex(r.bytes), 'b801000000b80100000066b801000000b801000000b80100000001');
    assert.deepEqual(r.sourceMap.map((m) => [m.address, m.length, m.range.start.line]), [[0, 5, 0], [5, 5, 1], [10, 6, 3], [16, 5, 5], [21, 5, 6], [28, 1, 8], [26, 1, 10]]);
    assert.deepEqual(r.diagnostics.map((d) => [d.code, d.range.start.line]), [['nobits', 8]]);
    // a line with an error is reported every time it occurs
    const e = asm('foo eax\nfoo eax\n');
    assert.deepEqual(e.diagnostics.map((d) => d.range.start.line), [0, 1]);
  });
});
