/*
 * The "Compare Techniques" webview: `popek compare --json` as a table and a chart of modelled cycles
 * by technique, stacked by cause (linear or log scale), and the events by name. Strict CSP: only the extension's
 * own script (with a nonce) and stylesheet, no remote content; the page builds its DOM with
 * textContent, so nothing in the data is ever parsed as HTML.
 */
import * as vscode from 'vscode';
import { webviewPage } from './webviewPage';
import { CompareModel } from './compareData';

/**
 * Where a side view opens: beside the editor when there is one group, else in the last other group,
 * so a split editor does not squeeze it into a third, narrow column.
 */
export function besideColumn(): vscode.ViewColumn {
  const active = vscode.window.tabGroups.activeTabGroup.viewColumn;
  const others = vscode.window.tabGroups.all.map((g) => g.viewColumn).filter((c) => c !== active);
  return others.length ? Math.max(...others) : vscode.ViewColumn.Beside;
}

export class CompareView implements vscode.Disposable {
  static readonly viewType = 'popek.compare';
  private panel: vscode.WebviewPanel | undefined;
  private model: CompareModel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  /** Called when the page asks for fresh figures. */
  onRefresh: (() => void) | undefined;

  constructor(private readonly extensionUri: vscode.Uri) {}

  get visible(): boolean { return this.panel !== undefined; }

  show(model: CompareModel): vscode.WebviewPanel {
    this.model = model;
    const title = `Compare: ${model.file.split(/[\\/]/).pop() || 'guest'}`;
    if (!this.panel) {
      const media = vscode.Uri.joinPath(this.extensionUri, 'media');
      this.panel = vscode.window.createWebviewPanel(CompareView.viewType, title, besideColumn(), {
        enableScripts: true,
        localResourceRoots: [media],
        enableFindWidget: true,
      });
      this.panel.iconPath = vscode.Uri.joinPath(media, 'popek.svg');
      this.panel.webview.html = this.html(this.panel.webview);
      this.panel.onDidDispose(() => { this.panel = undefined; }, null, this.disposables);
      this.panel.webview.onDidReceiveMessage((m: { type?: string }) => {
        if (m?.type === 'ready' && this.model) void this.panel?.webview.postMessage({ type: 'data', model: this.model });
        if (m?.type === 'refresh') this.onRefresh?.();
      }, null, this.disposables);
    } else {
      this.panel.title = title;
      this.panel.reveal(undefined, true);
      void this.panel.webview.postMessage({ type: 'data', model });
    }
    return this.panel;
  }

  private html(webview: vscode.Webview): string {
    return webviewPage(webview, this.extensionUri, 'compare', 'Compare techniques', `<header><h1 id="title">Compare techniques</h1><button id="refresh" type="button">Refresh</button>
<label class="toggle"><input type="checkbox" id="log"> Log scale</label></header>
<p id="subtitle" class="muted">Running every technique…</p>
<section><h2>Modelled cycles by technique and cause</h2><div id="chart" role="img" aria-label="Modelled cycles by technique, stacked by cause"></div><div id="legend"></div><p id="scale-note" class="muted"></p></section>
<section><h2>Side by side</h2><div class="scroll"><table id="table"></table></div></section>
<section><h2>Events by technique</h2><div class="scroll"><table id="events"></table></div></section>`);
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
