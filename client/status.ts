/*
 * The status-bar item next to guest files: the target technique (click: pick another, which sets
 * `popek.mode` for lint and debug), the file's own `; popek: mode=` override when it has one, and
 * the language server's health.
 */
import * as vscode from 'vscode';
import { Config, MODE_DESCRIPTIONS, MODE_LABELS, MODES, Mode, SECTION, modeOverride } from './config';
import { ServerHealth } from './languageClient';

const GUEST_LANGUAGES = new Set(['popek-nasm', 'popek-gas']);

export class ModeStatus implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private health: ServerHealth = 'stopped';
  private readonly disposables: vscode.Disposable[] = [];

  constructor() {
    this.item = vscode.window.createStatusBarItem('popek.mode', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Popek target technique';
    this.item.command = 'popek.selectMode';
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.update()),
      vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration(SECTION)) this.update(); }),
      vscode.workspace.onDidChangeTextDocument((e) => { if (e.document === vscode.window.activeTextEditor?.document) this.update(); }),
    );
    this.update();
  }

  setHealth(h: ServerHealth): void {
    this.health = h;
    this.update();
  }

  update(): void {
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc || !GUEST_LANGUAGES.has(doc.languageId)) {
      this.item.hide();
      return;
    }
    const setting = new Config(vscode.workspace.getConfiguration(SECTION, doc.uri)).mode;
    const override = modeOverride(doc.getText());
    const mode: Mode = override ?? setting;
    const icon = this.health === 'starting' ? '$(loading~spin)' : this.health === 'failed' ? '$(error)' : '$(vm)';
    this.item.text = `${icon} ${MODE_LABELS[mode]}${override ? ' (file)' : ''}`;
    this.item.backgroundColor = this.health === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    const tip = new vscode.MarkdownString(undefined, true);
    tip.isTrusted = { enabledCommands: ['popek.selectMode', 'popek.showLog', 'popek.restartServer', 'popek.compare'] };
    tip.appendMarkdown(`**Popek target: ${MODE_LABELS[mode]}**\n\n${MODE_DESCRIPTIONS[mode]}\n\n`);
    if (override) tip.appendMarkdown(`This file's \`; popek: mode=${override}\` line overrides the setting (\`${setting}\`).\n\n`);
    tip.appendMarkdown(`Language server: ${HEALTH_TEXT[this.health]}\n\n`);
    tip.appendMarkdown('[$(vm) Change technique](command:popek.selectMode) · [$(graph) Compare](command:popek.compare) · [$(output) Log](command:popek.showLog) · [$(refresh) Restart server](command:popek.restartServer)');
    this.item.tooltip = tip;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

const HEALTH_TEXT: Record<ServerHealth, string> = {
  starting: 'starting…',
  running: 'running',
  stopped: 'stopped',
  failed: 'failed (see the log)',
  missing: 'not built (dist/server.js is missing)',
};

/** Asks for a technique; the current one is marked. */
export async function pickMode(current: Mode, placeHolder: string): Promise<Mode | undefined> {
  const items = MODES.map((m) => ({
    label: `${m === current ? '$(check) ' : ''}${MODE_LABELS[m]}`,
    description: m,
    detail: MODE_DESCRIPTIONS[m],
    mode: m,
  }));
  const picked = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true });
  return picked?.mode;
}
