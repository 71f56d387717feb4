/*
 * Differential test against `nasm -f bin` (the reference): ≥1,500 instruction forms generated from
 * the table, in ONE nasm run whose listing gives the bytes of every line, compared line by line with
 * Popek's source map; every examples/*.gasm assembled identically; and disassemble → reassemble
 * round trips of both.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { assemble } from '../../core/asm/assembler';
import { disassemble } from '../../core/asm/disassembler';
import { generateForms } from './formGen';
import { haveNasm, nasmAssemble, popekPerLine } from './nasmDiff';
import { hex, repoRoot } from './support';

const HEADER = 'bits 32\norg 0x100000\n';

const BOOT16 = `bits 16
org 0x7c00
start:
    mov ax, [0x10]
    mov [bx+si], al
    mov ax, [bx+di+4]
    mov ax, [bp]
    mov ax, [bp+si-2]
    mov ax, [si+bx]
    mov ax, [di+0x1234]
    mov ax, [bx]
    mov ax, [eax+4]
    mov eax, [ebx*4+msg]
    mov word [si], 5
    lea si, [msg]
    mov si, msg
    jmp start
    jmp near start
    call start
    mov al, [es:di]
    lgdt [gdtr]
    mov eax, cr0
    jmp 0x08:start
    push es
    times 510-($-$$) db 0
msg: db 'hi'
gdtr: dw 0
    dw 0xaa55
bits 32
    mov ax, [bx+si]
    mov eax, [0x10]
`;

const IDIOMS = `bits 32
org 0x100000
%define X(a) ((a)*2)
start:
    mov eax, 'abcd'
    mov byte [ebx], 'a'
    cmp al, '0'
    lea eax, [eax*8+eax]
    mov eax, X(3)
    mov eax, (1<<4)|2
    mov [ebx+4], word 5
    mov dword [ebx], start
    sub esp, byte 4
    shr eax, 1
    rol byte [eax], cl
    test byte [eax], 1
    xchg bx, bx
    in eax, dx
    out 0xe9, al
    lgdt [gdt_ptr]
    jmp 0x08:.flush
.flush:
    mov cr0, eax
    call far [eax]
    push dword start
    mov ax, 0x10
    mov ds, ax
    times 4 dd 1, 2
    align 16, db 0
    db 'abc', 10
    dw 'ab'
    align 8
gdt_ptr:
    dw gdt_end - gdt - 1
    dd gdt
gdt:
    dq 0
    dq 0x00cf9a000000ffff
gdt_end:
    mov eax, [esp + 4*2]
    mov eax, [ebp - 0x10 + ecx*2]
    jmp short $+2
    ret

%macro PUTC 1
    mov dx, 0x3f8
    mov al, %1
    out dx, al
%endmacro
%macro SPIN 0
%%again: pause
    jmp %%again
%endmacro
%ifndef GUARD
%define GUARD
    PUTC 'h'
    PUTC \`\\n\`
%endif
%assign i 0
%rep 3
    db i
%assign i i+1
%endrep
    SPIN
    times 64-($-$$) % 64 db 0x90
    dw 0xaa55
`;


function readInclude(p: string, from: string): string | undefined {
  const full = path.resolve(path.dirname(from), p);
  return existsSync(full) ? readFileSync(full, 'utf8') : undefined;
}

describe('differential: Popek vs nasm -f bin', function () {
  this.timeout(120000);
  before(function () { assert.ok(haveNasm(), 'nasm is needed (bash scripts/setup.sh installs it)'); });

  const forms = generateForms();
  const src = HEADER + forms.map((f) => f.text).join('\n') + '\n';

  it(`generates at least 1,500 instruction forms from the table (${forms.length})`, () => {
    assert.ok(forms.length >= 1500);
    assert.ok(new Set(forms.map((f) => f.mnemonic)).size >= 150);
  });

  it('assembles every generated form to the same bytes as nasm', () => {
    const n = nasmAssemble(src);
    assert.equal(n.errors, '');
    const p = popekPerLine(src, 'forms.gasm');
    assert.deepEqual([...p.errors, ...p.warnings], []);
    const lines = src.split('\n');
    const mismatches: string[] = [];
    for (let i = 2; i < lines.length - 1; i++) {
      const a = n.perLine.get(i) ?? '<none>';
      const b = p.perLine.get(i) ?? '<none>';
      if (a !== b) mismatches.push(`${lines[i]}: nasm ${a}, popek ${b}`);
    }
    assert.deepEqual(mismatches.slice(0, 20), []);
    assert.equal(n.perLine.size, forms.length);
    assert.ok(hex(p.bytes) === hex(n.bytes), 'same image');
  });

  it('disassembles the generated forms back to text that reassembles to the same bytes', () => {
    const r = assemble('forms.gasm', src);
    const lines = disassemble(r.bytes, r.origin);
    assert.equal(lines.filter((l) => l.mnemonic === 'db').length, 0, 'every generated instruction decodes');
    const re = assemble('re.gasm', HEADER + lines.map((l) => l.text).join('\n'));
    assert.deepEqual(re.diagnostics, []);
    assert.ok(hex(re.bytes) === hex(r.bytes), 'Popek reassembles its disassembly to the same bytes');
    // and nasm reads Popek's disassembly the same way
    const n = nasmAssemble(HEADER + lines.map((l) => l.text).join('\n') + '\n');
    assert.equal(n.errors, '');
    assert.ok(hex(n.bytes) === hex(r.bytes), 'nasm assembles Popek\'s disassembly to the same bytes');
  });

  it('assembles common kernel idioms (GDT dq constants, align with fill, far jumps, macros, %rep) like nasm', () => {
    const text = IDIOMS;
    const n = nasmAssemble(text);
    assert.equal(n.errors, '');
    const r = assemble('idioms.gasm', text);
    assert.deepEqual(r.diagnostics, []);
    assert.ok(hex(r.bytes) === hex(n.bytes), 'same bytes as nasm');
  });

  it('assembles 16-bit code (boot sector: 16-bit addressing, rel16, ptr16:16, 67/66 prefixes) like nasm', () => {
    const n = nasmAssemble(BOOT16);
    assert.equal(n.errors, '');
    const r = assemble('boot.gasm', BOOT16);
    assert.deepEqual(r.diagnostics, []);
    assert.ok(hex(r.bytes) === hex(n.bytes), 'same bytes as nasm');
  });

  it('assembles the same lines in 16- and 32-bit code alike, through macros too, like nasm (bytes cached per line and mode)', () => {
    // identical lines share one parse and one byte cache; the statement is dropped once its bytes are
    // cached and parsed again when the same line meets another mode (and from a macro's expansion)
    const body = ['  push ax', '  mov eax, [ebx+4]', '  add word [bx+si+2], 7', '  times 3 db 0x90', '  lea edx, [eax*2+1]', '  twice'];
    const text = ['%macro twice 0', '  push ax', '  mov eax, [ebx+4]', '%endmacro', 'org 0x7c00', 'bits 16', ...body, 'bits 32', ...body, 'bits 16', ...body, 'bits 32', ...body, ''].join('\n');
    const n = nasmAssemble(text);
    assert.equal(n.errors, '');
    const r = assemble('modes.gasm', text);
    assert.deepEqual(r.diagnostics, []);
    assert.equal(hex(r.bytes), hex(n.bytes));
    const bare = assemble('modes.gasm', text, { noSourceMap: true });
    assert.equal(hex(bare.bytes), hex(n.bytes));
    assert.deepEqual(bare.sourceMap, []);
    assert.ok(r.sourceMap.length >= 4 * body.length, 'the source map has every statement without noSourceMap');
  });

  const exampleDir = path.join(repoRoot(), 'examples');
  const examples = existsSync(exampleDir) ? readdirSync(exampleDir).filter((f) => f.endsWith('.gasm')).sort() : [];
  for (const ex of examples) {
    it(`examples/${ex}: same bytes as nasm, and round-trips through the disassembler`, () => {
      const file = path.join(exampleDir, ex);
      const text = readFileSync(file, 'utf8');
      const n = nasmAssemble(text, exampleDir);
      assert.equal(n.errors, '');
      const r = assemble(file, text, { readFile: readInclude });
      assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
      assert.ok(hex(r.bytes) === hex(n.bytes), 'same bytes as nasm');
      const d = disassemble(r.bytes, r.origin, { roundTrip: true });
      const re = assemble('re.gasm', `bits 32\norg ${r.origin}\n` + d.map((l) => l.text).join('\n'));
      assert.ok(hex(re.bytes) === hex(r.bytes), 'round trip');
    });
  }
});
