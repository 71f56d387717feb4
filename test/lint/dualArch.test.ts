// Real kernel sources that are not only 32-bit code: a config include that chooses the x86-32 or
// x86-64 branch with %ifdef (RWTH's eduOS: `%include "config.inc"` defines CONFIG_X86_32), and a
// 32-bit kernel's long-mode trampoline after `bits 64`. Popek assembles 32-bit code; in the editor
// neither is a column of false errors, and `popek asm` still refuses what it cannot build.
import * as assert from 'node:assert/strict';
import { assemble } from '../../core/asm';
import { LintDocument, syntaxOf } from '../../core/lint/document';
import { lintDocument } from '../../core/lint/lint';

const doc = (name: string, text: string) => new LintDocument(name, syntaxOf(name), text);
const problems = (d: LintDocument, readFile?: (p: string) => string | undefined) =>
  lintDocument(d, { mode: 'native', readFile: readFile && ((p) => readFile(p)) }).map((x) => `${x.range.start.line + 1} ${x.severity} ${x.code}: ${x.message}`);

const DUAL = `%include "config.inc"
%ifdef CONFIG_X86_32
[BITS 32]
global isr
isr:
    push dword 0
    pusha
    mov eax, [esp + 36]
    popa
    iret
%else
[BITS 64]
global isr
isr:
    push qword 0
    push rax
    mov rax, [rsp + 16]
    pop rax
    iretq
%endif
`;

describe('lint: dual-arch sources and 64-bit code', () => {
  it('a missing config include: the %ifdef branch it would choose is not reported (the include is)', () => {
    const found = problems(doc('entry.asm', DUAL));
    assert.equal(found.length, 1, found.join('\n'));
    assert.match(found[0], /^1 warning include: cannot open include file 'config\.inc'.*branches they choose, are not checked/);
  });

  it('with the include found, the 32-bit branch is checked: an error there is reported', () => {
    const bad = DUAL.replace('    pusha\n', '    pusha\n    mov eax, ebx, ecx\n');
    const found = problems(doc('entry.asm', bad), (p) => (p === 'config.inc' ? '%define CONFIG_X86_32\n' : undefined));
    assert.deepEqual(found.map((f) => f.split(':')[0]), ['8 error invalid-operands'], found.join('\n'));
  });

  it('popek asm (the assembler) still reports the guessed branch: it cannot build it', () => {
    const r = assemble('entry.asm', DUAL, { readFile: () => undefined });
    const guessed = r.diagnostics.filter((d) => d.underMissingInclude);
    assert.ok(r.diagnostics.some((d) => d.code === 'include' && d.severity === 'error'), 'the missing include is an error');
    assert.ok(guessed.some((d) => d.severity === 'error' && d.code === 'bits64' && d.range.start.line === 11), JSON.stringify(r.diagnostics));
  });

  it('bits 64: one information at the directive, the 64-bit instructions skipped, checking resumes at bits 32', () => {
    const text = 'bits 32\nstart:\n    jmp 0x08:long\nbits 64\nlong:\n    mov rax, 0x1234\n    pop r8\n    iretq\n    swapgs\n    cdqe\nbits 32\n    pop rax\n';
    const found = problems(doc('boot.asm', text));
    assert.match(found.find((f) => f.startsWith('4 '))!, /^4 information bits64: 64-bit code \(bits 64\) is not assembled or checked/);
    assert.deepEqual(found.filter((f) => / (error|warning) /.test(f)).map((f) => f.split(' ')[0]), ['12', '12'], found.join('\n'));
    const r = assemble('boot.asm', text, {});
    assert.ok(r.diagnostics.some((d) => d.code === 'bits64' && d.severity === 'error'), 'popek asm refuses 64-bit code');
  });
});
