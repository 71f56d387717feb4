/*
 * Protocol-level tests: the bundled server (dist/server.js) started over node IPC, driven by a
 * real LSP client (vscode-languageserver-protocol). Every feature of issue 5 is exercised here.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import {
  DocumentDiagnosticRequest, HoverRequest, CompletionRequest, CompletionResolveRequest, SignatureHelpRequest, DefinitionRequest,
  ReferencesRequest, RenameRequest, PrepareRenameRequest, DocumentSymbolRequest, WorkspaceSymbolRequest, SemanticTokensRequest,
  FoldingRangeRequest, CodeLensRequest, CodeActionRequest, DocumentLinkRequest, DiagnosticSeverity, CodeActionKind, ExecuteCommandRequest,
  type Diagnostic, type FullDocumentDiagnosticReport, type MarkupContent, type CompletionItem, type Location, type DocumentSymbol,
  type CodeAction, type TextEdit,
} from 'vscode-languageserver-protocol/node';
import { TestClient } from './lspClient';

const NASM_URI = 'file:///virtual/guest.gasm';
const GAS_URI = 'file:///virtual/guest.S';

const NASM = [
  'bits 32',                          // 0
  'start:',                           // 1
  '    cli',                          // 2
  '    pushfd',                       // 3
  '    popfd',                        // 4
  '    mov eax, cr0',                 // 5
  '    mov ds, ax',                   // 6
  '    add eax, 1',                   // 7
  '.loop:',                           // 8
  '    jmp .loop',                    // 9
  'helper:',                          // 10
  '    lgdt [gdtr]',                  // 11
  '    ret',                          // 12
  'gdtr: dw 0',                       // 13
  '      dd 0',                       // 14
].join('\n');

const GAS = [
  '.code32',                          // 0
  '.globl entry',                     // 1
  'entry:',                           // 2
  '    popfl',                        // 3
  '    ljmp $0x08, $1f',              // 4
  '1:  movl %cr3, %eax',              // 5
  '    lgdtl gdt_desc',               // 6
  '    movl $1, %eax',                // 7
  '    lret',                         // 8
  'gdt_desc: .word 0',                // 9
  '    .long 0',                      // 10
].join('\n');

async function pull(client: TestClient, uri: string): Promise<Diagnostic[]> {
  const r = await client.connection.sendRequest(DocumentDiagnosticRequest.type, { textDocument: { uri } });
  return (r as FullDocumentDiagnosticReport).items;
}

function at(diags: Diagnostic[], line: number): Diagnostic[] {
  return diags.filter((d) => d.range.start.line === line);
}

describe('language server over the protocol (dist/server.js)', function () {
  this.timeout(20000);
  let client: TestClient;

  before(async () => {
    client = new TestClient();
    const init = await client.start();
    assert.equal(init.capabilities.textDocumentSync && typeof init.capabilities.textDocumentSync === 'object' && init.capabilities.textDocumentSync.change, 2, 'incremental sync');
    assert.ok(init.capabilities.diagnosticProvider, 'pull diagnostics offered to a client that supports them');
    await client.open(NASM_URI, NASM);
    await client.open(GAS_URI, GAS, 'popek-gas');
  });
  after(async () => { await client.stop(); });

  it('reports critical instructions as warnings and privileged ones as information (paravirtual)', async () => {
    const d = await pull(client, NASM_URI);
    const code = (line: number) => at(d, line).map((x) => x.code);
    assert.deepEqual(code(2), ['privileged-instruction']);
    assert.deepEqual(code(3), ['critical-instruction']);
    assert.deepEqual(code(4), ['critical-instruction']);
    assert.deepEqual(code(5), ['privileged-instruction']);
    assert.deepEqual(code(6), ['critical-instruction']);
    assert.deepEqual(code(7), [], 'innocuous add gets nothing');
    assert.deepEqual(code(9), [], 'near jmp gets nothing');
    assert.equal(at(d, 3)[0].severity, DiagnosticSeverity.Warning);
    assert.equal(at(d, 2)[0].severity, DiagnosticSeverity.Information);
    assert.deepEqual(at(d, 4)[0].range, { start: { line: 4, character: 4 }, end: { line: 4, character: 9 } });
    // One short sentence in the Problems panel (what goes wrong, the fix in a few words); the rest is in the hover.
    const popf = at(d, 4)[0].message;
    assert.match(popf, /^popfd is critical/);
    assert.match(popf, /IF/);
    assert.match(popf, /no trap/i);
    for (const x of d) assert.ok(x.message.length <= 120 && !x.message.includes('`'), `${x.message.length}: ${x.message}`);
    assert.match(at(d, 2)[0].message, /trap/i);
    assert.equal(d.filter((x) => x.severity === DiagnosticSeverity.Error).length, 0, JSON.stringify(d.filter((x) => x.severity === DiagnosticSeverity.Error)));
  });

  it('understands AT&T syntax (popek-gas): suffixes, ljmp/lret, %cr3, lgdtl', async () => {
    const d = await pull(client, GAS_URI);
    assert.deepEqual(at(d, 3).map((x) => x.code), ['critical-instruction'], 'popfl');
    assert.deepEqual(at(d, 4).map((x) => x.code), ['critical-instruction'], 'ljmp');
    assert.deepEqual(at(d, 5).map((x) => x.code), ['privileged-instruction'], 'movl %cr3');
    assert.deepEqual(at(d, 6).map((x) => x.code), ['privileged-instruction'], 'lgdtl');
    assert.deepEqual(at(d, 7), [], 'movl $1 is innocuous');
    assert.deepEqual(at(d, 8).map((x) => x.code), ['critical-instruction'], 'lret');
    assert.deepEqual(at(d, 5)[0].range.start, { line: 5, character: 4 });
    assert.equal(d.filter((x) => x.severity === DiagnosticSeverity.Error).length, 0);
  });

  it('re-lints after an incremental edit, with the new instruction at its exact range', async () => {
    await client.edit(NASM_URI, 7, 4, 7, 14, 'sgdt [gdtr]');
    const d = await pull(client, NASM_URI);
    assert.deepEqual(at(d, 7).map((x) => x.code), ['critical-instruction']);
    assert.deepEqual(at(d, 7)[0].range, { start: { line: 7, character: 4 }, end: { line: 7, character: 15 } });
    await client.edit(NASM_URI, 7, 4, 7, 15, 'add eax, 1');
    assert.deepEqual(at(await pull(client, NASM_URI), 7), []);
  });

  it('reports assembler errors as errors at their range', async () => {
    await client.edit(NASM_URI, 7, 4, 7, 14, 'bogus eax, 1');
    const errors = (await pull(client, NASM_URI)).filter((x) => x.severity === DiagnosticSeverity.Error);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].range.start.line, 7);
    await client.edit(NASM_URI, 7, 4, 7, 16, 'add eax, 1');
    assert.equal((await pull(client, NASM_URI)).filter((x) => x.severity === DiagnosticSeverity.Error).length, 0);
  });

  it('follows the popek.mode setting through workspace/configuration and asks for a refresh on change', async () => {
    const before = client.refreshRequests;
    await client.changeSettings({ mode: 'binary-translation', maxNumberOfProblems: 1000 });
    for (let i = 0; i < 50 && client.refreshRequests === before; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(client.refreshRequests > before, 'workspace/diagnostic/refresh sent');
    const d = await pull(client, NASM_URI);
    assert.equal(at(d, 4)[0].severity, DiagnosticSeverity.Information, 'critical: information under BT');
    assert.match(at(d, 4)[0].message, /callout/);
    assert.equal(at(d, 2)[0].severity, DiagnosticSeverity.Hint);
    await client.changeSettings({ mode: 'hardware-assisted', maxNumberOfProblems: 2 });
    const hw = await pull(client, NASM_URI);
    assert.equal(hw.length, 2, 'maxNumberOfProblems');
    await client.changeSettings({ mode: 'hardware-assisted', maxNumberOfProblems: 1000 });
    const hw2 = await pull(client, NASM_URI);
    assert.match(at(hw2, 5)[0].message, /CR_ACCESS/);
    assert.match(at(hw2, 4)[0].message, /without a VM exit/);
    await client.changeSettings({ mode: 'paravirtual', maxNumberOfProblems: 1000 });
    assert.ok(client.configurationRequests > 0);
  });

  it('lets a `; popek: mode=` line override the setting', async () => {
    const uri = 'file:///virtual/override.gasm';
    await client.open(uri, '; popek: mode=native\nbits 32\ncli\npopfd\n');
    assert.deepEqual(await pull(client, uri), []);
    await client.edit(uri, 0, 14, 0, 20, 'trap-and-emulate');
    const d = await pull(client, uri);
    assert.deepEqual(d.map((x) => x.code), ['privileged-instruction', 'critical-instruction']);
  });

  it('hovers with the description, flags, class, each technique, exit reason and replacement', async () => {
    const h = await client.connection.sendRequest(HoverRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 4, character: 6 } });
    const text = (h!.contents as MarkupContent).value;
    for (const needle of [/popfd/, /Flags:/, /critical/, /Robin & Irvine/, /\| binary-translation \|/, /\| hardware-assisted \|/, /\| paravirtual \| .*restore_fl|\| paravirtual \| .*mask/]) assert.match(text, needle);
    // Compact: each fact once (the table row says what the old "Replacement:" line repeated).
    assert.doesNotMatch(text, /Replacement:/);
    assert.equal(text.split('\n').filter((l) => /^\| (native|trap-and-emulate|binary-translation|paravirtual|hardware-assisted) \|/.test(l)).length, 5);
    const cr = await client.connection.sendRequest(HoverRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 5, character: 5 } });
    assert.match((cr!.contents as MarkupContent).value, /\| hardware-assisted \|[^|]*CR_ACCESS/);
    const gas = await client.connection.sendRequest(HoverRequest.type, { textDocument: { uri: GAS_URI }, position: { line: 3, character: 6 } });
    assert.match((gas!.contents as MarkupContent).value, /popfl \(popfd\)/);
    const nothing = await client.connection.sendRequest(HoverRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 0, character: 0 } });
    assert.ok(nothing === null || !(nothing.contents as MarkupContent).value.includes('critical'));
  });

  it('completes mnemonics, directives, registers, labels and hypercall names', async () => {
    const start = await client.connection.sendRequest(CompletionRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 7, character: 4 } });
    const items = (r: unknown): CompletionItem[] => (Array.isArray(r) ? r : (r as { items: CompletionItem[] }).items);
    const labels = items(start).map((i) => i.label);
    for (const l of ['cli', 'popfd', 'mov', 'bits', 'db', '%macro']) assert.ok(labels.includes(l), l);
    const operand = await client.connection.sendRequest(CompletionRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 9, character: 8 } });
    const ol = items(operand).map((i) => i.label);
    for (const l of ['eax', 'cr0', 'start', 'helper', 'gdtr', '__HYPERVISOR_sched_op', 'XEN_SHARED_INFO']) assert.ok(ol.includes(l), l);
    const gas = await client.connection.sendRequest(CompletionRequest.type, { textDocument: { uri: GAS_URI }, position: { line: 7, character: 4 } });
    const gl = items(gas).map((i) => i.label);
    for (const l of ['popfl', 'ljmp', '.code32', '.globl']) assert.ok(gl.includes(l), l);
    const item = items(start).find((i) => i.label === 'cli')!;
    // The word being typed narrows the answer: `__HYP` gives the hypercall numbers.
    await client.edit(NASM_URI, 9, 8, 9, 13, '__HYP');
    const typed = items(await client.connection.sendRequest(CompletionRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 9, character: 13 } }));
    assert.ok(typed.length > 20 && typed.every((i) => i.label.startsWith('__HYPERVISOR_')), typed.map((i) => i.label).join(' '));
    await client.edit(NASM_URI, 9, 8, 9, 13, '.loop');
    const resolved = await client.connection.sendRequest(CompletionResolveRequest.type, item);
    assert.match((resolved.documentation as MarkupContent).value, /IOPL-sensitive/);
  });

  it('gives signature help for operands', async () => {
    const s = await client.connection.sendRequest(SignatureHelpRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 5, character: 13 } });
    assert.ok(s && s.signatures.length > 1);
    assert.equal(s.activeParameter, 1);
    assert.ok(s.signatures.some((x) => x.label === 'mov cr, r32' || x.label.includes('cr')), s.signatures.map((x) => x.label).join(' | '));
  });

  it('goes to definitions, finds references and renames (local labels included)', async () => {
    const def = await client.connection.sendRequest(DefinitionRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 9, character: 10 } }) as Location[];
    assert.deepEqual(def.map((l) => l.range.start), [{ line: 8, character: 0 }]);
    const refs = await client.connection.sendRequest(ReferencesRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 13, character: 1 }, context: { includeDeclaration: true } });
    assert.deepEqual(refs!.map((l) => l.range.start.line).sort(), [11, 13]);
    const prep = await client.connection.sendRequest(PrepareRenameRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 8, character: 2 } });
    assert.ok(prep);
    const edit = await client.connection.sendRequest(RenameRequest.type, { textDocument: { uri: NASM_URI }, position: { line: 8, character: 2 }, newName: '.again' });
    const edits = edit!.changes![NASM_URI] as TextEdit[];
    assert.deepEqual(edits.map((e) => [e.range.start.line, e.newText]).sort(), [[8, '.again'], [9, '.again']]);
  });

  it('lists document and workspace symbols', async () => {
    const syms = await client.connection.sendRequest(DocumentSymbolRequest.type, { textDocument: { uri: NASM_URI } }) as DocumentSymbol[];
    assert.deepEqual(syms.map((s) => s.name), ['start', 'helper', 'gdtr']);
    assert.deepEqual(syms[0].children!.map((c) => c.name), ['.loop']);
    const ws = await client.connection.sendRequest(WorkspaceSymbolRequest.type, { query: 'desc' });
    assert.deepEqual((ws as Array<{ name: string }>).map((s) => s.name), ['gdt_desc']);
  });

  it('marks critical and privileged mnemonics in semantic tokens', async () => {
    const legend = client.init.capabilities.semanticTokensProvider!.legend;
    const t = await client.connection.sendRequest(SemanticTokensRequest.type, { textDocument: { uri: NASM_URI } });
    const data = t!.data;
    const decoded: Array<{ line: number; char: number; len: number; type: string; mods: string[] }> = [];
    let line = 0; let char = 0;
    for (let i = 0; i < data.length; i += 5) {
      line += data[i]; char = data[i] === 0 ? char + data[i + 1] : data[i + 1];
      decoded.push({ line, char, len: data[i + 2], type: legend.tokenTypes[data[i + 3]], mods: legend.tokenModifiers.filter((_, b) => (data[i + 4] >> b) & 1) });
    }
    const tok = (l: number, c: number) => decoded.find((d) => d.line === l && d.char === c);
    assert.deepEqual(tok(4, 4)?.mods, ['critical']);
    assert.deepEqual(tok(2, 4)?.mods, ['privileged']);
    assert.deepEqual(tok(7, 4)?.mods, []);
    assert.equal(tok(1, 0)?.type, 'label');
  });

  it('folds routines and shows a code lens with critical / privileged counts per routine', async () => {
    const folds = await client.connection.sendRequest(FoldingRangeRequest.type, { textDocument: { uri: NASM_URI } });
    assert.ok(folds!.some((f) => f.startLine === 1 && f.endLine === 9), JSON.stringify(folds));
    const lenses = await client.connection.sendRequest(CodeLensRequest.type, { textDocument: { uri: NASM_URI } });
    const titles = lenses!.map((l) => [l.range.start.line, l.command?.title]);
    assert.deepEqual(titles, [[1, '3 critical · 2 privileged (paravirtual)'], [10, '0 critical · 1 privileged (paravirtual)']]);
  });

  it('offers a quick fix per diagnostic and a source.fixAll', async () => {
    const d = await pull(client, NASM_URI);
    const cli = at(d, 2)[0];
    const actions = await client.connection.sendRequest(CodeActionRequest.type, {
      textDocument: { uri: NASM_URI }, range: cli.range, context: { diagnostics: [cli], only: [CodeActionKind.QuickFix] },
    }) as CodeAction[];
    const fix = actions.find((a) => a.diagnostics?.length)!;
    assert.ok(fix.isPreferred);
    const keep = actions.find((a) => a.title.startsWith('Keep cli as written'))!;
    assert.deepEqual(keep.edit!.changes![NASM_URI], [{ range: { start: { line: 2, character: 7 }, end: { line: 2, character: 7 } }, newText: ' ; popek: pv — reviewed: the hypervisor traps and emulates it' }]);
    // The include first: at one position an editor applies edits in list order (see withXenHeader).
    const [include, edit] = fix.edit!.changes![NASM_URI];
    assert.match(edit.newText, /^; "cli" replaced by masking events [^\n]*\n {4}pushfd ; popek: pv\n[\s\S]*\n {4}mov byte \[XEN_SHARED_INFO \+ VCPU_INFO_UPCALL_MASK\], 1\n/);
    assert.deepEqual(edit.range, cli.range);
    // The Xen constants for plain nasm: an include line, and the command that writes the header.
    assert.match(include.newText, /^%include "xen\.inc"/);
    assert.deepEqual(fix.command?.arguments, [NASM_URI, 'nasm']);
    const all = await client.connection.sendRequest(CodeActionRequest.type, {
      textDocument: { uri: NASM_URI }, range: cli.range, context: { diagnostics: [], only: [CodeActionKind.SourceFixAll] },
    }) as CodeAction[];
    assert.equal(all.length, 1);
    assert.equal(all[0].kind, 'source.fixAll.popek');
    assert.equal(all[0].edit!.changes![NASM_URI].length, 6 + 1, 'six fixes and the include line');
    const own = await client.connection.sendRequest(CodeActionRequest.type, {
      textDocument: { uri: NASM_URI }, range: cli.range, context: { diagnostics: [], only: ['source.fixAll.popek'] },
    }) as CodeAction[];
    assert.equal(own.length, 1);
    const none = await client.connection.sendRequest(CodeActionRequest.type, {
      textDocument: { uri: NASM_URI }, range: cli.range, context: { diagnostics: [], only: ['source.organizeImports'] },
    }) as CodeAction[];
    assert.equal(none.length, 0);
  });

  it('the quick fix\'s command writes xen.inc beside the file, never over one that is there', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'popek-xeninc-'));
    const uri = pathToFileURL(path.join(dir, 'k.gasm')).toString();
    const run = () => client.connection.sendRequest(ExecuteCommandRequest.type, { command: 'popek.writeXenHeader', arguments: [uri, 'nasm'] });
    assert.equal(await run(), true);
    const header = readFileSync(path.join(dir, 'xen.inc'), 'utf8');
    assert.match(header, /^__HYPERVISOR_sched_op +equ 29$/m);
    assert.match(header, /^XEN_SHARED_INFO +equ 0x8000$/m);
    writeFileSync(path.join(dir, 'xen.inc'), '; mine\n');
    assert.equal(await run(), false);
    assert.equal(readFileSync(path.join(dir, 'xen.inc'), 'utf8'), '; mine\n');
  });

  it('follows %include: definitions, hover and links into the included file', async () => {
    const file = path.resolve(__dirname, '../../../test/fixtures/lint/include/main.gasm');
    const real = existsSync(file) ? file : path.resolve(__dirname, '../fixtures/lint/include/main.gasm');
    const uri = pathToFileURL(real).toString();
    await client.open(uri, readFileSync(real, 'utf8'));
    const def = await client.connection.sendRequest(DefinitionRequest.type, { textDocument: { uri }, position: { line: 5, character: 15 } }) as Location[];
    assert.equal(def.length, 1);
    assert.match(def[0].uri, /defs\.inc$/);
    assert.equal(def[0].range.start.line, 1);
    const links = await client.connection.sendRequest(DocumentLinkRequest.type, { textDocument: { uri } });
    assert.match(links![0].target!, /defs\.inc$/);
    const errors = (await pull(client, uri)).filter((x) => x.severity === DiagnosticSeverity.Error);
    assert.deepEqual(errors, [], 'symbols from the included file are defined');
    // From the included file, references reach the open file that includes it.
    const inc = pathToFileURL(path.join(path.dirname(real), 'defs.inc')).toString();
    await client.open(inc, readFileSync(path.join(path.dirname(real), 'defs.inc'), 'utf8'));
    const refs = await client.connection.sendRequest(ReferencesRequest.type, { textDocument: { uri: inc }, position: { line: 3, character: 2 }, context: { includeDeclaration: false } });
    assert.deepEqual(refs!.map((l) => [path.basename(l.uri), l.range.start.line]), [['main.gasm', 6]]);
    assert.equal(await client.connection.sendRequest(RenameRequest.type, { textDocument: { uri: inc }, position: { line: 3, character: 2 }, newName: 'eax' }), null, 'a register is no label name');
  });

  it('knows macros: completion, definition, folding, and critical instructions flagged where the macro is called', async () => {
    const uri = 'file:///virtual/macros.gasm';
    const text = ['bits 32', '%macro IRQ_OFF 0', '    cli', '%endmacro', 'start:', '    IRQ_OFF', '    ', '    ret'].join('\n');
    await client.open(uri, text);
    const d = await pull(client, uri);
    assert.deepEqual(d.map((x) => [x.range.start.line, x.code]), [[5, 'privileged-instruction']]);
    assert.match(d[0].message, /^via macro IRQ_OFF: cli /);
    // The quick fix rewrites the definition, the one place every call comes from.
    const actions = await client.connection.sendRequest(CodeActionRequest.type, { textDocument: { uri }, range: d[0].range, context: { diagnostics: d } }) as CodeAction[];
    const inDef = actions.find((a) => /definition of macro IRQ_OFF \(line 3\)/.test(a.title));
    assert.ok(inDef, actions.map((a) => a.title).join(' | '));
    assert.equal(Object.values(inDef.edit!.changes!)[0][0].range.start.line, 2);
    const comp = await client.connection.sendRequest(CompletionRequest.type, { textDocument: { uri }, position: { line: 6, character: 4 } });
    const labels = (Array.isArray(comp) ? comp : comp!.items).map((i) => i.label);
    assert.ok(labels.includes('IRQ_OFF'));
    const def = await client.connection.sendRequest(DefinitionRequest.type, { textDocument: { uri }, position: { line: 5, character: 6 } }) as Location[];
    assert.deepEqual(def.map((l) => l.range.start), [{ line: 1, character: 7 }]);
    const folds = await client.connection.sendRequest(FoldingRangeRequest.type, { textDocument: { uri } });
    assert.ok(folds!.some((f) => f.startLine === 1 && f.endLine === 3));
    const h = await client.connection.sendRequest(HoverRequest.type, { textDocument: { uri }, position: { line: 5, character: 6 } });
    assert.match((h!.contents as MarkupContent).value, /macro.*IRQ_OFF.*line 2.*cli\s+; ← privileged/s);
  });

  it('a cpp function-like macro call: the diagnostic links to the body, and the quick fix says where the rewrite goes and opens it', async () => {
    const uri = 'file:///virtual/usys.S';
    const text = [
      '#define T_SYSCALL 64',
      '#define SYSCALL(name) \\',
      '  .globl name; \\',
      '  name: \\',
      '    movl $SYS_ ## name, %eax; \\',
      '    int $T_SYSCALL; \\',
      '    ret',
      '',
      'SYSCALL(fork)',
    ].join('\n');
    await client.open(uri, text, 'popek-gas');
    const d = (await pull(client, uri)).filter((x) => x.code === 'critical-instruction' || x.code === 'privileged-instruction');
    assert.deepEqual(d.map((x) => x.range.start.line), [8]);
    assert.match(d[0].message, /^via macro SYSCALL: int \$64 /, "the expansion as gcc -E gives it ($T_SYSCALL replaced)");
    assert.deepEqual(d[0].relatedInformation?.map((r) => [r.location.uri, r.location.range.start.line]), [[uri, 1]]);
    const actions = await client.connection.sendRequest(CodeActionRequest.type, { textDocument: { uri }, range: d[0].range, context: { diagnostics: d } }) as CodeAction[];
    const open = actions.find((a) => a.command?.command === 'popek.server.showMacroBody');
    assert.ok(open, actions.map((a) => a.title).join(' | '));
    assert.match(open.title, /in the body of macro SYSCALL \(usys\.S:6\)/);
    assert.equal(open.edit, undefined, 'no edit: a continued #define body is not rewritten in place');
    await client.connection.sendRequest(ExecuteCommandRequest.type, { command: open.command!.command, arguments: open.command!.arguments });
    assert.deepEqual(client.shown.map((s) => [s.uri, s.selection?.start]), [[uri, { line: 5, character: 4 }]]);
  });

  it('assembles a big file after the edits pause, then asks the client to pull again', async () => {
    const uri = 'file:///virtual/big.gasm';
    const body = Array.from({ length: 4000 }, (_, i) => `l${i}: add eax, ${i}`);
    await client.open(uri, ['bits 32', ...body, '    cli'].join('\n'));
    const first = await pull(client, uri);
    assert.deepEqual(first.map((d) => d.code), ['privileged-instruction'], 'the per-line diagnostics come at once');
    const refreshes = client.refreshRequests;
    await client.edit(uri, 10, 0, 10, 0, '    mov eax, no_such_symbol\n');
    const fast = await pull(client, uri);
    assert.deepEqual(at(fast, 4002).map((d) => d.code), ['privileged-instruction'], 'the cli moved down one line');
    for (let i = 0; i < 100 && client.refreshRequests === refreshes; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(client.refreshRequests > refreshes, 'refresh after the assembler pass');
    const errors = (await pull(client, uri)).filter((d) => d.severity === DiagnosticSeverity.Error);
    assert.deepEqual(errors.map((d) => [d.range.start.line, d.code]), [[10, 'undefined-symbol']]);
  });

  it('keeps CRLF documents in step through incremental edits', async () => {
    const uri = 'file:///virtual/crlf.gasm';
    await client.open(uri, 'bits 32\r\nstart:\r\n    nop\r\n    ret\r\n');
    await client.edit(uri, 2, 4, 2, 7, 'popfd');
    await client.edit(uri, 3, 0, 3, 0, '    cli\r\n');
    const d = await pull(client, uri);
    assert.deepEqual(d.map((x) => [x.range.start.line, x.code]), [[2, 'critical-instruction'], [3, 'privileged-instruction']]);
  });

  it('survives malformed input and out-of-range requests', async () => {
    const uri = 'file:///virtual/junk.gasm';
    const junk = ['\u0000\u0001[[[', 'mov [eax+*], ,,,', '%macro', '"unterminated', 'times times times', ':::', 'x'.repeat(5000), '\uD800', 'lock', 'jmp far', 'mov ds,'].join('\n');
    await client.open(uri, junk);
    await pull(client, uri);
    const gasUri = 'file:///virtual/junk.S';
    await client.open(gasUri, '/* open comment\n%%% $$$ ((( \n movl (%eax,%ebx,3), \n ljmp *\n .byte %eax\n', 'popek-gas');
    await pull(client, gasUri);
    for (const u of [uri, gasUri]) {
      for (const pos of [{ line: 0, character: 0 }, { line: 2, character: 3 }, { line: 999, character: 999 }]) {
        await client.connection.sendRequest(HoverRequest.type, { textDocument: { uri: u }, position: pos });
        await client.connection.sendRequest(CompletionRequest.type, { textDocument: { uri: u }, position: pos });
        await client.connection.sendRequest(DefinitionRequest.type, { textDocument: { uri: u }, position: pos });
        await client.connection.sendRequest(SignatureHelpRequest.type, { textDocument: { uri: u }, position: pos });
      }
      await client.connection.sendRequest(SemanticTokensRequest.type, { textDocument: { uri: u } });
      await client.connection.sendRequest(FoldingRangeRequest.type, { textDocument: { uri: u } });
    }
    // Unknown document: empty answers, no crash.
    assert.equal(await client.connection.sendRequest(HoverRequest.type, { textDocument: { uri: 'file:///nope.gasm' }, position: { line: 0, character: 0 } }), null);
    assert.equal(client.process.exitCode, null, 'server still running');
    assert.ok((await pull(client, NASM_URI)).length > 0, 'server still answers');
  });
});

describe('language server with push diagnostics (client without pull support)', function () {
  this.timeout(20000);
  it('finds workspace symbols in files of the workspace folders that are not open', async () => {
    const folder = [path.resolve(__dirname, '../fixtures/lint/include'), path.resolve(__dirname, '../../../test/fixtures/lint/include')].find((p) => existsSync(p))!;
    const client = new TestClient({ pull: false, folders: [folder] });
    try {
      await client.start();
      const ws = await client.connection.sendRequest(WorkspaceSymbolRequest.type, { query: 'shared' }) as Array<{ name: string; location: Location }>;
      assert.deepEqual(ws.map((s) => s.name), ['SHARED_VALUE']);
      assert.match(ws[0].location.uri, /defs\.inc$/);
    } finally {
      await client.stop();
    }
  });

  it('publishes diagnostics on open and after each change', async () => {
    const client = new TestClient({ pull: false, configuration: false });
    try {
      const init = await client.start();
      assert.equal(init.capabilities.diagnosticProvider, undefined);
      await client.open(NASM_URI, 'bits 32\ncli\n');
      const p = await client.waitPublished(NASM_URI, (x) => x.diagnostics.length === 1);
      assert.equal(p.diagnostics[0].severity, DiagnosticSeverity.Information);
      // Without workspace/configuration the settings come with the notification.
      await client.changeSettings({ mode: 'binary-translation' });
      await client.waitPublished(NASM_URI, (x) => x.diagnostics[0]?.severity === DiagnosticSeverity.Hint);
      await client.changeSettings({ mode: 'paravirtual' });
      await client.waitPublished(NASM_URI, (x) => x.diagnostics[0]?.severity === DiagnosticSeverity.Information);
      assert.equal(p.diagnostics[0].code, 'privileged-instruction');
      await client.edit(NASM_URI, 1, 0, 1, 3, 'popfd');
      const q = await client.waitPublished(NASM_URI, (x) => x.diagnostics[0]?.code === 'critical-instruction');
      assert.equal(q.diagnostics.length, 1);
    } finally {
      await client.stop();
    }
  });

  it('publishes only when the diagnostics changed: an edit that changes none sends nothing', async () => {
    const client = new TestClient({ pull: false, configuration: false });
    const settled = () => client.connection.sendRequest('popek/diagnosticsSettled', { uri: NASM_URI }) as Promise<{ version?: number; published: boolean }>;
    try {
      await client.start();
      await client.open(NASM_URI, 'bits 32\ncli\n; a comment\n');
      await client.waitPublished(NASM_URI, (x) => x.diagnostics.length === 1);
      const before = client.publishCount;
      await client.edit(NASM_URI, 2, 11, 2, 11, ' and more');
      assert.deepEqual(await settled(), { version: 2, published: false });
      await client.edit(NASM_URI, 1, 0, 1, 3, 'popfd');
      assert.deepEqual(await settled(), { version: 3, published: true });
      assert.equal(client.publishCount, before + 1, 'one notification, for the edit that changed a diagnostic');
      const p = client.published.get(NASM_URI)!;
      assert.equal(p.version, 3);
      assert.equal(p.diagnostics[0].code, 'critical-instruction');
    } finally {
      await client.stop();
    }
  });
});
