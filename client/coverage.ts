/*
 * Code coverage in the editor: the lines a Popek debug session executed, per technique, as a
 * decoration — a green bar in the gutter and a mark in the overview ruler — with a hover naming the
 * techniques that ran the line. "Popek: Toggle Code Coverage" switches it on and off: on, every launch
 * records (launch argument `coverage`, added here after the other providers resolved the
 * configuration) and a running session starts recording at once (the `popekCoverage` request); off,
 * the decoration goes and launches record nothing (recording costs nothing when off). The lines come
 * from the adapter's `popekCoverage` event at each stop and at the end (debugger/coverageEvents.ts).
 */
import * as vscode from 'vscode';
import { COVERAGE_EVENT, COVERAGE_REQUEST, type CoverageBody } from '../debugger/coverageEvents';
import type { Mode } from '../core/vmm';
import { DEBUG_TYPE } from './launchConfig';

const STATE_KEY = 'popek.coverage';
const TECHNIQUE: Readonly<Record<Mode, string>> = {
  'native': 'native', 'trap-and-emulate': 'trap and emulate', 'binary-translation': 'binary translation',
  'paravirtual': 'paravirtual', 'hardware-assisted': 'hardware assisted (VT-x)',
};

export class CoverageDecorations implements vscode.Disposable {
  private readonly decoration: vscode.TextEditorDecorationType;
  /** technique → file path → executed lines (1-based): the latest session of each technique. */
  private readonly byMode = new Map<Mode, Map<string, Set<number>>>();
  private readonly disposables: vscode.Disposable[] = [];
  /** The last event's figures (the end-to-end suite reads them). */
  last: CoverageBody | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.decoration = vscode.window.createTextEditorDecorationType({
      gutterIconPath: vscode.Uri.joinPath(context.extensionUri, 'media', 'coverage.svg'),
      gutterIconSize: 'contain',
      overviewRulerColor: '#3fb950',
      overviewRulerLane: vscode.OverviewRulerLane.Left,
      isWholeLine: true,
    });
    this.disposables.push(
      this.decoration,
      vscode.commands.registerCommand('popek.toggleCoverage', () => this.toggle()),
      vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, {
        resolveDebugConfigurationWithSubstitutedVariables: (_folder, cfg) => (this.enabled && cfg.coverage === undefined ? { ...cfg, coverage: true } : cfg),
      }),
      vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
        if (e.session.type === DEBUG_TYPE && e.event === COVERAGE_EVENT && this.enabled) this.update(e.body as CoverageBody);
      }),
      vscode.window.onDidChangeVisibleTextEditors(() => this.render()),
    );
  }

  get enabled(): boolean { return this.context.workspaceState.get<boolean>(STATE_KEY, false); }

  private async toggle(): Promise<void> {
    const on = !this.enabled;
    await this.context.workspaceState.update(STATE_KEY, on);
    if (!on) {
      this.byMode.clear();
      this.render();
      vscode.window.setStatusBarMessage('Popek: code coverage off', 3000);
      return;
    }
    vscode.window.setStatusBarMessage('Popek: code coverage on — executed lines are marked after each stop and at the end of a run', 5000);
    const session = vscode.debug.activeDebugSession;
    if (session?.type === DEBUG_TYPE) {
      try { this.update(await session.customRequest(COVERAGE_REQUEST) as CoverageBody); } catch { /* the session ended meanwhile */ }
    }
  }

  private update(body: CoverageBody): void {
    this.last = body;
    const files = new Map<string, Set<number>>();
    for (const f of body.files) files.set(vscode.Uri.file(f.path).fsPath, new Set(f.lines));
    this.byMode.set(body.mode, files);
    this.render();
  }

  /** Decorates each visible editor's executed lines; the hover names the techniques that ran each one. */
  private render(): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const path = editor.document.uri.fsPath;
      const modes = new Map<number, Mode[]>();
      for (const [mode, files] of this.byMode) {
        for (const line of files.get(path) ?? []) {
          const list = modes.get(line);
          if (list) list.push(mode); else modes.set(line, [mode]);
        }
      }
      const options: vscode.DecorationOptions[] = [];
      for (const [line, list] of modes) {
        if (line < 1 || line > editor.document.lineCount) continue;
        const hover = new vscode.MarkdownString(`**Executed** under ${list.map((m) => TECHNIQUE[m]).join(', ')} (Popek code coverage)`);
        // The whole line's text: hovering anywhere on it shows which techniques ran it.
        options.push({ range: new vscode.Range(line - 1, 0, line - 1, editor.document.lineAt(line - 1).text.length), hoverMessage: hover });
      }
      editor.setDecorations(this.decoration, options);
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
