/*
 * The end-to-end suite, written against the `vscode` API: the installed extension in a real VS Code
 * (desktop through @vscode/test-electron, or code-server's extension host). Tests that need the
 * language server, the debug adapter or the CLI bundle skip, saying so, while that bundle is missing.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import {
  DapRecorder, built, cliJson, extension, lineOf, open, requireThat, scopesOfTopFrame, startSession, stopAll, topFrame, waitFor, workspaceFile,
} from './helpers';

interface PopekApi { serverReady: Promise<string>; serverHealth(): string; activationMs: number }

const codeOf = (d: vscode.Diagnostic) => (typeof d.code === 'object' ? String(d.code.value) : String(d.code));
const NO_SERVER = 'dist/server.js is not built yet (language server, issue 5)';
const NO_ADAPTER = 'dist/debugAdapter.js is not built yet (debug adapter, issue 6)';
const NO_CLI = 'dist/cli.js lacks the command';

function diagnosticsWith(uri: vscode.Uri, code: string): vscode.Diagnostic[] {
  return vscode.languages.getDiagnostics(uri).filter((d) => codeOf(d) === code);
}

describe('Popek in a real VS Code', function () {
  let api: PopekApi;
  let dap: DapRecorder;
  const original = new Map<string, string>();

  before(async () => {
    api = (await extension().activate()) as PopekApi;
    dap = new DapRecorder();
    for (const f of ['critical.gasm', 'hello.gasm']) original.set(f, fs.readFileSync(workspaceFile(f).fsPath, 'utf8'));
  });

  after(async () => {
    await stopAll();
    dap?.dispose();
    // Leave the compare view open with the CLI's real figures: the Playwright run checks it on screen.
    if (built('cli')) await vscode.commands.executeCommand('popek.compare', workspaceFile('critical.gasm'));
  });

  afterEach(async () => {
    await stopAll();
    vscode.debug.removeBreakpoints(vscode.debug.breakpoints);
  });

  describe('extension', () => {
    it('activates and contributes its languages, commands and debugger', async () => {
      assert.ok(extension().isActive);
      assert.ok(api.activationMs > 0, 'activate() reports its duration');
      const languages = await vscode.languages.getLanguages();
      assert.ok(languages.includes('popek-nasm') && languages.includes('popek-gas'));
      const commands = await vscode.commands.getCommands(true);
      for (const c of ['popek.selectMode', 'popek.runInMode', 'popek.debugFile', 'popek.compare', 'popek.paravirtualize', 'popek.showVmExitTrace', 'popek.openExample']) {
        assert.ok(commands.includes(c), `command ${c}`);
      }
      const debuggers = extension().packageJSON.contributes.debuggers as Array<{ type: string }>;
      assert.deepEqual(debuggers.map((d) => d.type), ['popek']);
    });

    it('.gasm opens as popek-nasm and .S as popek-gas', async () => {
      assert.equal((await open('hello.gasm')).document.languageId, 'popek-nasm');
      assert.equal((await open('boot.S')).document.languageId, 'popek-gas');
    });

    it('completion offers the snippets (Multiboot skeleton, GDT, IDT gate, hypercall)', async () => {
      const doc = await vscode.workspace.openTextDocument({ language: 'popek-nasm', content: '' });
      const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(0, 0));
      const labels = list.items.filter((i) => i.kind === vscode.CompletionItemKind.Snippet)
        .map((i) => (typeof i.label === 'string' ? i.label : i.label.label));
      for (const s of ['multiboot', 'gdt', 'idtgate', 'hypercall-console', 'hypercall-shutdown']) assert.ok(labels.includes(s), `snippet ${s} in ${labels}`);
    });

    it('the technique picker sets popek.mode', async () => {
      await open('hello.gasm');
      try {
        assert.equal(await vscode.commands.executeCommand('popek.selectMode', 'hardware-assisted'), 'hardware-assisted');
        assert.equal(vscode.workspace.getConfiguration('popek').get('mode'), 'hardware-assisted');
      } finally {
        await vscode.workspace.getConfiguration('popek').update('mode', undefined, vscode.ConfigurationTarget.Workspace);
      }
      assert.equal(vscode.workspace.getConfiguration('popek').get('mode'), 'paravirtual');
    });

    it('the compare view shows a saved `popek compare --json` (the CLI\'s own output) in a webview', async function () {
      const data = await cliJson(['compare', workspaceFile('hello.gasm').fsPath, '--json']);
      requireThat(this, data !== undefined, `${NO_CLI} compare`);
      const model = await vscode.commands.executeCommand<{ rows: Array<{ mode: string; ratio: number }> }>('popek.compare', workspaceFile('hello.gasm'), data);
      assert.deepEqual(model.rows.map((r) => r.mode), ['native', 'trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted']);
      assert.equal(model.rows[0].ratio, 1, 'native is ×1.00');
      const tab = await waitFor('the compare tab', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs)
        .find((t) => t.input instanceof vscode.TabInputWebview && t.label === 'Compare: hello.gasm'));
      assert.ok(tab);
    });

    it('a bad launch configuration is refused at once', async () => {
      const ok = await vscode.debug.startDebugging(undefined, { type: 'popek', request: 'launch', name: 'bad mode', program: workspaceFile('hello.gasm').fsPath, mode: 'warp-drive' });
      assert.equal(ok, false);
      const missing = await vscode.debug.startDebugging(undefined, { type: 'popek', request: 'launch', name: 'missing file', program: workspaceFile('nope.gasm').fsPath });
      assert.equal(missing, false);
      assert.equal(vscode.debug.activeDebugSession, undefined);
    });
  });

  describe('language server', () => {
    beforeEach(function () { requireThat(this, built('server'), NO_SERVER); });

    it('starts', async () => {
      assert.equal(await api.serverReady, 'running');
    });

    it('diagnostics: critical instructions are warnings, privileged ones information (trap-and-emulate)', async () => {
      const { document: doc } = await open('critical.gasm');
      const critical = await waitFor('critical-instruction diagnostics', () => diagnosticsWith(doc.uri, 'critical-instruction').length >= 2 && diagnosticsWith(doc.uri, 'critical-instruction'));
      const popfd = critical.find((d) => d.range.start.line === lineOf(doc, /^\s*popfd/));
      assert.ok(popfd, `a diagnostic on popfd among ${critical.map((d) => d.range.start.line)}`);
      assert.equal(popfd.severity, vscode.DiagnosticSeverity.Warning);
      assert.equal(doc.getText(popfd.range).toLowerCase(), 'popfd');
      const privileged = diagnosticsWith(doc.uri, 'privileged-instruction');
      const cli = privileged.find((d) => d.range.start.line === lineOf(doc, /^\s*cli/));
      assert.ok(cli, 'cli is flagged');
      assert.equal(cli.severity, vscode.DiagnosticSeverity.Information);
      assert.equal(diagnosticsWith(doc.uri, 'critical-instruction').filter((d) => d.range.start.line === lineOf(doc, /^\s*mov esp/)).length, 0, 'innocuous instructions get nothing');
    });

    it('GNU as files are linted too', async () => {
      const { document: doc } = await open('boot.S');
      const critical = await waitFor('critical diagnostics in boot.S', () => diagnosticsWith(doc.uri, 'critical-instruction').length > 0 && diagnosticsWith(doc.uri, 'critical-instruction'));
      assert.ok(critical.some((d) => d.range.start.line === lineOf(doc, /popfl/)));
    });

    it('hover explains a critical instruction', async () => {
      const { document: doc } = await open('critical.gasm');
      const line = lineOf(doc, /^\s*popfd/);
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, new vscode.Position(line, doc.lineAt(line).text.indexOf('popfd') + 1));
      const text = hovers.flatMap((h) => h.contents).map((c) => (typeof c === 'string' ? c : c.value)).join('\n');
      assert.match(text, /popfd/i);
      assert.match(text, /critical/i);
    });

    it('a quick fix rewrites popfd into the paravirtual interface', async () => {
      const { document: doc } = await open('critical.gasm');
      const before = await waitFor('diagnostics', () => diagnosticsWith(doc.uri, 'critical-instruction').length > 0 && diagnosticsWith(doc.uri, 'critical-instruction'));
      const diag = before.find((d) => doc.getText(d.range).toLowerCase() === 'popfd');
      assert.ok(diag);
      const line = diag.range.start.line;
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, diag.range, vscode.CodeActionKind.QuickFix.value, 10);
      const quickFixes = actions.filter((a) => a.edit && a.kind && vscode.CodeActionKind.QuickFix.contains(a.kind));
      // The fix attached to this diagnostic, else the one that names the instruction.
      const fix = quickFixes.find((a) => (a.diagnostics ?? []).some((d) => d.range.isEqual(diag.range)))
        ?? quickFixes.find((a) => /popf/i.test(a.title));
      assert.ok(fix, `a quick fix for popfd among ${actions.map((a) => `${a.kind?.value}: ${a.title}`)}`);
      assert.ok(await vscode.workspace.applyEdit(fix.edit!));
      assert.notEqual(doc.lineAt(line).text.trim(), 'popfd', 'the line changed');
      await waitFor('one critical diagnostic fewer', () => diagnosticsWith(doc.uri, 'critical-instruction').length === before.length - 1);
    });

    it('fix all (source.fixAll) leaves no critical instruction', async () => {
      const { document: doc } = await open('critical.gasm');
      await waitFor('diagnostics', () => diagnosticsWith(doc.uri, 'critical-instruction').length > 0);
      const all = new vscode.Range(0, 0, doc.lineCount, 0);
      const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', doc.uri, all, vscode.CodeActionKind.SourceFixAll.value, 10);
      // source.fixAll or a sub-kind of it (source.fixAll.popek); the edit may come from codeAction/resolve (resolve count 10).
      const fixAll = actions.find((a) => a.edit && a.kind && vscode.CodeActionKind.SourceFixAll.contains(a.kind));
      assert.ok(fixAll, `source.fixAll among ${actions.map((a) => `${a.kind?.value}: ${a.title} (${a.edit ? 'edit' : 'no edit'})`)}`);
      assert.ok(await vscode.workspace.applyEdit(fixAll.edit!));
      await waitFor('no critical diagnostics', () => diagnosticsWith(doc.uri, 'critical-instruction').length === 0);
      await doc.save();
    });
  });

  describe('commands that run the CLI', () => {
    beforeEach(function () { requireThat(this, built('cli'), 'dist/cli.js is not built'); });

    it('Paravirtualize This File rewrites the file (fix all, previewed, applied)', async function () {
      const uri = workspaceFile('critical.gasm');
      const { document: doc } = await open('critical.gasm');
      // Back to the original text through the editor, not behind its back on disk: an external write
      // to an open file races VS Code's own save (seen as a save that never finishes in code-server).
      const restore = new vscode.WorkspaceEdit();
      restore.replace(uri, new vscode.Range(0, 0, doc.lineCount, 0), original.get('critical.gasm')!);
      assert.ok(await vscode.workspace.applyEdit(restore));
      assert.ok(await doc.save());
      const result = await vscode.commands.executeCommand<{ changed: boolean; applied: boolean } | undefined>('popek.paravirtualize', uri, { confirm: false });
      requireThat(this, result !== undefined, `${NO_CLI} fix (see the Popek log)`);
      assert.deepEqual(result, { ...result, changed: true, applied: true });
      assert.notEqual(doc.getText(), original.get('critical.gasm'));
      assert.match(doc.getText(), /VCPU_INFO_UPCALL_MASK|vmcall/, 'rewritten into the paravirtual interface');
      assert.ok(await doc.save(), 'the rewritten file saves');
      assert.equal(fs.readFileSync(uri.fsPath, 'utf8'), doc.getText(), 'the rewritten text is on disk');
      if (built('server')) await waitFor('no critical diagnostics after paravirtualizing', () => diagnosticsWith(doc.uri, 'critical-instruction').length === 0);
    });

    it('Run in Technique runs the guest and returns its console', async function () {
      const json = await vscode.commands.executeCommand<{ console: string; outcome: string } | undefined>('popek.runInMode', workspaceFile('hello.gasm'), 'native');
      requireThat(this, json !== undefined, `${NO_CLI} run`);
      assert.match(json.console, /Hello from a guest kernel!/);
    });

    it('Compare Techniques runs every technique', async function () {
      const model = await vscode.commands.executeCommand<{ rows: Array<{ mode: string; consoleEqual: boolean | null }> } | undefined>('popek.compare', workspaceFile('hello.gasm'));
      requireThat(this, model !== undefined, `${NO_CLI} compare`);
      assert.equal(model.rows.length, 5);
    });

    it('Show VM-Exit Trace lists the CPUID exit', async function () {
      const doc = await vscode.commands.executeCommand<vscode.TextDocument | undefined>('popek.showVmExitTrace', workspaceFile('hello.gasm'), 'hardware-assisted');
      requireThat(this, doc !== undefined, `${NO_CLI} run --trace`);
      assert.match(doc.getText(), /CPUID/);
    });
  });

  describe('debugger', () => {
    beforeEach(function () { requireThat(this, built('debugAdapter'), NO_ADAPTER); });

    it('F5 with no launch.json debugs the active guest file in the popek.mode technique, stopping on entry', async () => {
      // native: the one technique that needs no hypervisor, so this checks the F5 wiring alone.
      await vscode.workspace.getConfiguration('popek').update('mode', 'native', vscode.ConfigurationTarget.Workspace);
      const { document: doc } = await open('hello.gasm');
      let session: vscode.DebugSession | undefined;
      const sub = vscode.debug.onDidStartDebugSession((s) => { session = s; });
      try {
        // Not awaited: the command settles only when the launch does, and a failed launch waits on a dialog.
        void vscode.commands.executeCommand('workbench.action.debug.start');
        const s = await waitFor('a debug session', () => session);
        assert.equal(s.type, 'popek');
        assert.equal(s.configuration.program, doc.uri.fsPath);
        assert.equal(s.configuration.mode, 'native', 'the popek.mode setting');
        const stop = await dap.stopped(s);
        assert.equal(stop.body?.reason, 'entry');
      } finally {
        sub.dispose();
        await vscode.workspace.getConfiguration('popek').update('mode', undefined, vscode.ConfigurationTarget.Workspace);
      }
    });

    it('stops at a line breakpoint; the Variables scopes hold the registers and flags', async () => {
      const { document: doc } = await open('hello.gasm');
      const line = lineOf(doc, /^\s*mov esi, message/);
      vscode.debug.addBreakpoints([new vscode.SourceBreakpoint(new vscode.Location(doc.uri, new vscode.Position(line, 0)))]);
      const s = await startSession({ type: 'popek', request: 'launch', name: 'breakpoint', program: doc.uri.fsPath, mode: 'native', stopOnEntry: false });
      const stop = await dap.stopped(s);
      assert.equal(stop.body?.reason, 'breakpoint');
      const threadId = stop.body?.threadId as number;
      const frame = await topFrame(s, threadId);
      assert.equal(frame.line, line + 1);
      const scopes = await scopesOfTopFrame(s, threadId);
      const names = [...scopes.keys()];
      const regs = scopes.get(names.find((n) => /^registers$/i.test(n)) ?? '');
      assert.ok(regs, `a Registers scope in ${names}`);
      const esp = regs.find((v) => /^esp$/i.test(v.name));
      assert.ok(esp, `ESP in ${regs.map((v) => v.name)}`);
      const eip = regs.find((v) => /^eip$/i.test(v.name));
      assert.ok(eip && regs.some((v) => /^eax$/i.test(v.name)));
      // The registers are those of this stop: EIP is the frame's address, ESP the stack set up before it.
      if (frame.instructionPointerReference) assert.equal(parseInt(eip.value, 16), parseInt(frame.instructionPointerReference, 16));
      const stackTop = (await Promise.resolve(s.customRequest('evaluate', { expression: 'stack_top', context: 'watch' })).catch(() => undefined)) as { result?: string } | undefined;
      if (stackTop?.result && /^(0x)?[0-9a-f]+$/i.test(stackTop.result.trim())) assert.equal(parseInt(esp.value, 16), parseInt(stackTop.result, 16));
      const flags = scopes.get(names.find((n) => /^eflags$/i.test(n)) ?? '');
      assert.ok(flags, `an EFLAGS scope in ${names}`);
      for (const f of ['CF', 'ZF', 'SF', 'OF', 'IF', 'IOPL']) assert.ok(flags.some((v) => v.name.toUpperCase().startsWith(f)), `${f} in ${flags.map((v) => v.name)}`);
    });

    it('stops on a VM exit (hardware-assisted: CPUID), with the VMCS in scope', async function () {
      const { document: doc } = await open('hello.gasm');
      const probe = await cliJson(['run', doc.uri.fsPath, '--mode', 'hardware-assisted', '--json']);
      requireThat(this, probe !== undefined && probe.outcome !== 'error', 'this build cannot run hardware-assisted yet (popek run --mode hardware-assisted fails)');
      const s = await startSession({ type: 'popek', request: 'launch', name: 'vmexit', program: doc.uri.fsPath, mode: 'hardware-assisted', stopOnEntry: true });
      const entry = await dap.stopped(s, 1);
      const threadId = entry.body?.threadId as number;
      await s.customRequest('setExceptionBreakpoints', { filters: [], filterOptions: [{ filterId: 'vmexit', condition: 'CPUID' }] });
      await s.customRequest('continue', { threadId });
      const stop = await dap.stopped(s, 2);
      assert.equal(stop.body?.reason, 'exception');
      assert.match(`${stop.body?.description ?? ''} ${stop.body?.text ?? ''}`, /CPUID/);
      const frame = await topFrame(s, threadId);
      assert.equal(frame.line, lineOf(doc, /^\s*cpuid/) + 1, `the top frame is the cpuid; DAP traffic:\n${dap.tail(s, 30)}`);
      const scopes = await scopesOfTopFrame(s, threadId);
      assert.ok([...scopes.keys()].some((n) => /vmcs/i.test(n)), `a VMCS scope in ${[...scopes.keys()]}`);
    });
  });
});
