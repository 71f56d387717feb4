/*
 * Paravirtual quick fixes: every rewrite of the corpus assembles with the real assemblers (with the
 * Xen constants header the fix includes and generates), a fixed program has nothing left to flag,
 * fixing is idempotent, and the rewrites keep labels, comments and the line's indentation.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LintDocument, syntaxOf } from '../../core/lint/document';
import { fixAll, markReviewed, quickFix } from '../../core/lint/fixes';
import { lintDocument } from '../../core/lint/lint';
import { assembleProgram } from '../../core/machine';
import { REPO_ROOT } from '../support/repoRoot';

const ROOT = REPO_ROOT;
const scratch = mkdtempSync(path.join(tmpdir(), 'popek-fix-'));

function doc(name: string, text: string): LintDocument { return new LintDocument(name, syntaxOf(name), text); }

function fixture(name: string): LintDocument {
  const file = path.join(ROOT, 'test/fixtures/lint', name);
  return doc(file, readFileSync(file, 'utf8'));
}

describe('paravirtual quick fixes', () => {
  it('menu titles are plain text naming the instruction as written (VS Code shows a title as it is: no backticks)', () => {
    const d = doc('t.gasm', 'bits 32\n  popfd\n  pushf\n  cli\n');
    for (const [line, spelling] of [[1, 'popfd'], [2, 'pushf'], [3, 'cli']] as const) {
      const titles = [quickFix(d, line)?.title, markReviewed(d, line)?.title];
      for (const t of titles) {
        assert.ok(t, `a fix for ${spelling}`);
        assert.ok(!t.includes('`'), t);
        assert.match(t, new RegExp(`^(Replace|Keep) ${spelling} `), t);
      }
    }
  });

  it('the fixed NASM corpus assembles with plain nasm (its %include "xen.inc" beside it) and nothing is left to flag', () => {
    const fixed = fixAll(fixture('sensitive.gasm'));
    assert.ok(fixed.rewrites >= 15, `${fixed.rewrites} rewrites`);
    assert.equal(fixed.header?.name, 'xen.inc');
    assert.match(fixed.text, /^%include "xen\.inc"/m);
    const file = path.join(scratch, 'fixed.gasm');
    writeFileSync(file, fixed.text);
    writeFileSync(path.join(scratch, fixed.header!.name), fixed.header!.text);
    const r = spawnSync('nasm', ['-f', 'bin', '-o', path.join(scratch, 'fixed.bin'), 'fixed.gasm'], { encoding: 'utf8', cwd: scratch });
    assert.equal(r.status, 0, r.stderr);
    // Popek's assembler reads the same header (its definitions win over the predefined ones): same bytes.
    const popek = assembleProgram(file, fixed.text);
    assert.ok(Buffer.from(popek.bytes).equals(readFileSync(path.join(scratch, 'fixed.bin'))), 'Popek and nasm agree on the fixed file');
    const again = doc(file, fixed.text);
    const left = lintDocument(again, { mode: 'paravirtual', readFile: (p, from) => readFileSync(path.resolve(path.dirname(from), p), 'utf8') });
    // (The corpus is no kernel: it has no Multiboot header, which is not the fixes' business.)
    assert.deepEqual(left.filter((d) => d.code !== 'no-multiboot-header').map((d) => `${d.range.start.line + 1}: [${d.code}] ${again.lines[d.range.start.line]}`), []);
  });

  it('the fixed AT&T corpus assembles with as --32 (its .include "xen-gas.inc" beside it), and nothing is left to flag', () => {
    const fixed = fixAll(fixture('sensitive.S'));
    assert.ok(fixed.rewrites >= 15);
    assert.equal(fixed.header?.name, 'xen-gas.inc');
    const file = path.join(scratch, 'fixed.S');
    writeFileSync(file, fixed.text);
    writeFileSync(path.join(scratch, fixed.header!.name), fixed.header!.text);
    const r = spawnSync('as', ['--32', '-o', path.join(scratch, 'fixed.o'), 'fixed.S'], { encoding: 'utf8', cwd: scratch });
    assert.equal(r.status, 0, r.stderr);
    const again = doc(file, fixed.text);
    assert.deepEqual(lintDocument(again, { mode: 'paravirtual' }).map((d) => `${d.range.start.line + 1}: ${d.message}`), []);
  });

  it('is idempotent and counts rewrites and changed lines', () => {
    const once = fixAll(fixture('sensitive.gasm'));
    const twice = fixAll(doc('x.gasm', once.text));
    assert.equal(twice.text, once.text);
    assert.equal(twice.rewrites + twice.reviewed, 0);
    assert.ok(once.changedLines > 0 && once.changedLines < once.totalLines);
  });

  it('keeps the label, the comment and the indentation', () => {
    const d = doc('x.gasm', 'bits 32\nhere:   cli            ; interrupts off\n        sti\n');
    const cli = quickFix(d, 1)!;
    assert.deepEqual(cli.edit.range, { start: { line: 1, character: 8 }, end: { line: 1, character: 11 } });
    const text = fixAll(d).text.split('\n');
    assert.equal(text[0], '%include "xen.inc"    ; Xen constants of the paravirtual rewrites', 'the Xen constants are included before the first line of code');
    assert.equal(text[1], 'bits 32');
    assert.equal(text[2], 'here:   ; "cli" replaced by masking events in the shared-info page (Xen irq_disable); user-mode code keeps its #GP',
      'the label stays; the rewrite starts where cli was, with a comment saying what it replaces');
    assert.equal(text[3], '        pushfd ; popek: pv');
    assert.ok(text.includes('        mov byte [XEN_SHARED_INFO + VCPU_INFO_UPCALL_MASK], 1'));
    assert.ok(text.includes('        mov byte [XEN_SHARED_INFO + VCPU_INFO_UPCALL_MASK], 0'));
    assert.ok(text.some((l) => /^ {8}\.\.@popek_cpl\d+_done:\s+; interrupts off$/.test(l)), 'the comment ends the rewrite');
    assert.ok(text.slice(3).every((l) => l === '' || l.startsWith('        ')), 'continuation lines indented');
    assert.ok(text.includes('        vmcall'), 'sti delivers pending events with a hypercall');
  });

  it('keeps user-mode code faulting: the kernel rewrite runs only when CS.RPL is not 3', () => {
    const text = quickFix(doc('x.gasm', 'cli\n'), 0)!.edit.newText;
    assert.match(text, /mov eax, cs ; popek: pv[\s\S]*cmp eax, 3[\s\S]*je (\S+)_user[\s\S]*mov byte \[XEN_SHARED_INFO \+ VCPU_INFO_UPCALL_MASK\], 1[\s\S]*\1_user:[\s\S]*cli ; popek: pv/);
  });

  it('turns the isa-debug-exit write into sched_op shutdown and a COM1 byte into console_io', () => {
    const d = doc('x.gasm', 'bits 32\nDEBUG_EXIT equ 0xF4\nCOM1 equ 0x3F8\nout DEBUG_EXIT, al\nout COM1, al\nout 0x80, al\n');
    assert.match(quickFix(d, 3)!.edit.newText, /SCHEDOP_shutdown[\s\S]*__HYPERVISOR_sched_op[\s\S]*vmcall/);
    assert.match(quickFix(d, 3)!.edit.newText, /lea ecx, \[ecx\*2 \+ 1\]/);
    assert.match(quickFix(d, 4)!.edit.newText, /__HYPERVISOR_console_io/);
    const other = quickFix(d, 5)!;
    assert.equal(other.replaces, false);
    assert.match(other.edit.newText, /popek: pv/);
    // The Problems panel names the fix each quick fix really makes (JOS's boot.S `outb %al,$0x64`
    // said "fix: hypercall console_io", and its quick fix only marks it reviewed).
    const messages = lintDocument(d, { mode: 'paravirtual' }).map((x) => x.message);
    assert.match(messages.find((m) => m.startsWith('out DEBUG_EXIT'))!, /fix: hypercall sched_op/);
    assert.match(messages.find((m) => m.startsWith('out COM1'))!, /fix: hypercall console_io/);
    assert.doesNotMatch(messages.find((m) => m.startsWith('out 0x80'))!, /fix:|hypercall/);
  });

  it('rewrites AT&T in AT&T, keeping `cli; hlt` apart', () => {
    const d = doc('x.S', '        cli; hlt\n        popfl\n');
    const text = fixAll(d).text;
    assert.match(text, /^\.include "xen-gas\.inc" .*\n {8}\/\* "cli" replaced by [^\n]* \*\/\n {8}pushfl # popek: pv\n/);
    assert.match(text, /movb \$1, XEN_SHARED_INFO\+VCPU_INFO_UPCALL_MASK\n/);
    assert.match(text, /movl %cs, %eax # popek: pv/);
    assert.match(text, /\n {8}pushfl # popek: pv\n[\s\S]*SCHEDOP_block/, 'hlt rewritten on lines of its own');
    assert.match(text, /movzbl XEN_SHARED_INFO\+VCPU_INFO_UPCALL_MASK, %ebx/);
    assert.match(text, /movb %al, XEN_SHARED_INFO\+VCPU_INFO_UPCALL_MASK/);
    assert.doesNotMatch(text, /\[|\]/, 'no NASM brackets left');
  });

  it('treats `sti; hlt` as Xen safe_halt: no forced callback between unmasking and the block', () => {
    const d = doc('x.gasm', 'bits 32\nwait:\n    sti\n    ; wait for the tick\n    hlt\n    sti\n    ret\n');
    const beforeHlt = quickFix(d, 2)!.edit.newText;
    assert.match(beforeHlt, /mov byte \[XEN_SHARED_INFO \+ VCPU_INFO_UPCALL_MASK\], 0/);
    assert.doesNotMatch(beforeHlt, /xen_version/);
    assert.match(quickFix(d, 5)!.edit.newText, /__HYPERVISOR_xen_version/);
  });

  it('offers no rewrite for operands that fit no form (the assembler reports those)', () => {
    const d = doc('x.gasm', 'lgdt eax\n');
    const f = quickFix(d, 0)!;
    assert.equal(f.replaces, false);
  });
});
