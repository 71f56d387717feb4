/*
 * A NASM guest without a Multiboot header (issue 14): the linter says so on the line of its first
 * byte, and the quick fix's header makes the image one that real QEMU boots with -kernel — the same
 * console and exit status as Popek running the headerless image flat — and that Popek's loader
 * accepts as Multiboot (load address = org, entry = start).
 */
import * as assert from 'node:assert/strict';
import { LintDocument } from '../../core/lint/document';
import { applyEdits } from '../../core/lint/fixes';
import { lintDocument } from '../../core/lint/lint';
import { NO_MULTIBOOT_CODE, NO_ORG_MESSAGE, multibootHeaderEdit } from '../../core/lint/multibootHeader';
import { assemble } from '../../core/asm';
import { findMultibootHeader, multibootLoadPlan } from '../../core/machine/multiboot';
import { assembleProgram } from '../../core/machine';
import { runProgram } from '../../core/vmm';
import { codeActions } from '../../server/codeActions';
import type { PopekSettings } from '../../server/settings';
import { assembleNasmSource, runImageInQemu } from '../support/qemu';

const HEADERLESS = [
  '; prints "ok" on COM1 and exits with status (3 << 1) | 1',
  'bits 32',
  'org 0x100000',
  '',
  'COM1 equ 0x3F8',
  '',
  'start:',
  '    mov dx, COM1',
  '    mov al, "o"',
  '    out dx, al',
  '    mov al, "k"',
  '    out dx, al',
  '    mov al, 3',
  '    out 0xF4, al',
  '.halt:',
  '    hlt',
  '    jmp .halt',
  '',
].join('\r\n');

const noHeader = (doc: LintDocument) => lintDocument(doc, { mode: 'native' }).filter((d) => d.code === NO_MULTIBOOT_CODE);

describe('a guest without a Multiboot header: diagnosed while typing, fixed by a header QEMU boots', function () {
  this.timeout(60000);

  it('is flagged where the header belongs (above the first byte and its label), in one short sentence', () => {
    const [d, ...more] = noHeader(new LintDocument('/virtual/k.gasm', 'nasm', HEADERLESS));
    assert.equal(more.length, 0);
    assert.equal(d.range.start.line, 6, "above start: and the first instruction, where the header belongs");
    assert.equal(d.severity, 'warning');
    assert.ok(d.message.length <= 120, d.message);
  });

  it('the language server offers the header as the preferred quick fix of that diagnostic', () => {
    const doc = new LintDocument('/virtual/k.gasm', 'nasm', HEADERLESS);
    const d = noHeader(doc)[0];
    const uri = 'file:///virtual/k.gasm';
    const actions = codeActions(doc, { textDocument: { uri }, range: d.range, context: { diagnostics: [{ ...d, severity: 2 }], only: ['quickfix'] } }, {} as PopekSettings);
    const fix = actions.find((a) => /Multiboot header/.test(a.title));
    assert.ok(fix?.isPreferred, JSON.stringify(actions.map((a) => a.title)));
    assert.deepEqual(fix.edit?.changes?.[uri], [multibootHeaderEdit(doc, d.range.start.line)]);
  });

  it('the quick fix inserts a header: Popek\'s loader and QEMU -kernel boot it as the flat run did', async () => {
    const doc = new LintDocument('/virtual/k.gasm', 'nasm', HEADERLESS);
    const fixed = applyEdits(doc, [multibootHeaderEdit(doc, noHeader(doc)[0].range.start.line)]);
    assert.ok(!/[^\r]\n/.test(fixed), 'the inserted lines break as the file does (CRLF)');
    assert.deepEqual(noHeader(new LintDocument('/virtual/k.gasm', 'nasm', fixed)), [], 'nothing left to flag');
    // Real nasm assembles it, to the bytes Popek's assembler makes.
    const image = assembleNasmSource(fixed);
    assert.ok(Buffer.from(assemble('k.gasm', fixed).bytes).equals(image), 'nasm and Popek agree');
    const header = findMultibootHeader(image);
    assert.ok(header, 'a Multiboot header in the image');
    const start = assemble('k.gasm', fixed).labels.find((l) => l.name === 'start')!.address;
    assert.deepEqual([multibootLoadPlan(image, header).loadAddr, multibootLoadPlan(image, header).entry], [0x100000, start], 'loaded at its org, entered at start');
    // QEMU refuses the headerless image and boots the fixed one; its console and status are what
    // Popek prints for the headerless image run flat.
    const flat = runProgram(assembleProgram('k.gasm', HEADERLESS), { mode: 'native' }).report;
    const before = await runImageInQemu(assembleNasmSource(HEADERLESS));
    assert.notEqual(before.console, flat.console, `QEMU -kernel does not run the headerless image (${before.stderr.trim()})`);
    const after = await runImageInQemu(image);
    assert.equal(after.console, flat.console);
    assert.equal(after.exitStatus, flat.exitCode);
    assert.equal(after.exitStatus, 7);
  });

  it('a kernel without org (nasm assembles it for 0): flagged, and the fix adds org 1 MiB with the header; QEMU boots it as Popek runs it', async () => {
    // Absolute addresses matter: the message is read through a pointer, wrong when assembled for 0.
    const NO_ORG = [
      'bits 32',
      'start:',
      '    mov esi, message',
      '.next:',
      '    lodsb',
      '    test al, al',
      '    jz .done',
      '    mov dx, 0x3F8',
      '    out dx, al',
      '    jmp .next',
      '.done:',
      '    mov al, 2',
      '    out 0xF4, al',
      '    hlt',
      'message: db "at 1 MiB", 0',
      '',
    ].join('\n');
    const doc = new LintDocument('/virtual/noorg.gasm', 'nasm', NO_ORG);
    const [d, ...more] = noHeader(doc);
    assert.equal(more.length, 0);
    assert.equal(d.message, NO_ORG_MESSAGE);
    assert.ok(d.message.length <= 120, d.message);
    assert.equal(d.range.start.line, 1, 'above start:, where the header belongs');
    const fixed = applyEdits(doc, [multibootHeaderEdit(doc, d.range.start.line)]);
    assert.match(fixed, /^org 0x100000$/m);
    assert.deepEqual(noHeader(new LintDocument('/virtual/noorg.gasm', 'nasm', fixed)), [], 'nothing left to flag');
    const image = assembleNasmSource(fixed);
    assert.ok(Buffer.from(assemble('noorg.gasm', fixed).bytes).equals(image), 'nasm and Popek agree');
    assert.equal(multibootLoadPlan(image, findMultibootHeader(image)!).loadAddr, 0x100000);
    // Popek (which loads a file without org at 1 MiB) and QEMU on the fixed image print the same.
    const popek = runProgram(assembleProgram('noorg.gasm', NO_ORG), { mode: 'native' }).report;
    assert.equal(popek.console, 'at 1 MiB');
    const qemu = await runImageInQemu(image);
    assert.equal(qemu.console, popek.console);
    assert.equal(qemu.exitStatus, popek.exitCode);
  });

  it('leaves alone what is not a flat 32-bit image with an org: linked objects, 16-bit code, snippets', () => {
    assert.deepEqual(noHeader(new LintDocument('/virtual/a.gasm', 'nasm', 'bits 32\norg 0x100000\nglobal start\nstart:\n    ret\n')), []);
    assert.deepEqual(noHeader(new LintDocument('/virtual/c.gasm', 'nasm', 'bits 32\nstart:\n    cli\n    ret\n')), []);
    assert.deepEqual(noHeader(new LintDocument('/virtual/b.gasm', 'nasm', 'bits 16\norg 0x7c00\n    cli\n    hlt\n')), []);
  });
});
