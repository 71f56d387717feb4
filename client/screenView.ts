/*
 * "Popek: Guest Screen": the guest's VGA text screen in colour, live while a Popek debug session
 * runs. The debug adapter sends it as the custom event `popekScreen` on every stop and, throttled,
 * while running (debugger/screenEvents.ts); opening the view asks for it with the `popekScreen`
 * request, and the view opens by itself the first time a session's guest changes the screen. Keys
 * typed in the view go to the guest through the `popekKeys` request.
 */
import * as vscode from 'vscode';
import { webviewPage } from './webviewPage';
import { DEBUG_TYPE } from './launchConfig';
import { isFirmwareScreen, type ScreenModel } from './screenModel';

export class ScreenView implements vscode.Disposable {
  static readonly viewType = 'popek.screen';
  private panel: vscode.WebviewPanel | undefined;
  private model: ScreenModel | undefined;
  private session: vscode.DebugSession | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private keyWarningShown = false;
  /** Per session: the first screen seen, and whether the view already opened itself. */
  private readonly sessions = new WeakMap<vscode.DebugSession, { first: string; opened: boolean }>();

  constructor(private readonly extensionUri: vscode.Uri) {
    this.disposables.push(
      vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
        if (e.session.type !== DEBUG_TYPE || e.event !== 'popekScreen') return;
        this.session = e.session;
        const model = e.body as ScreenModel;
        this.update(model);
        // The view opens by itself (beside, without taking focus) once the guest changes the
        // screen the firmware left: a kernel that draws on it; plain COM1 guests never open it.
        const text = model.lines.join('\n');
        let seen = this.sessions.get(e.session);
        if (!seen) this.sessions.set(e.session, seen = { first: isFirmwareScreen(model.lines) ? text : '', opened: false });
        if (!seen.opened && text !== seen.first && !this.panel) { seen.opened = true; void this.show(); }
      }),
      vscode.debug.onDidTerminateDebugSession((s) => { if (s === this.session) this.session = undefined; }),
    );
  }

  /** The last screen received (the end-to-end suite reads it). */
  get current(): ScreenModel | undefined { return this.model; }

  /** Opens (or reveals) the view and fetches the screen of the active Popek session. */
  async show(): Promise<ScreenModel | undefined> {
    if (!this.panel) {
      const media = vscode.Uri.joinPath(this.extensionUri, 'media');
      this.panel = vscode.window.createWebviewPanel(ScreenView.viewType, 'Popek: Guest Screen', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
        enableScripts: true, localResourceRoots: [media], retainContextWhenHidden: true,
      });
      this.panel.iconPath = vscode.Uri.joinPath(media, 'popek.svg');
      this.panel.webview.html = this.html(this.panel.webview);
      this.panel.onDidDispose(() => { this.panel = undefined; }, null, this.disposables);
      this.panel.webview.onDidReceiveMessage((m: { type?: string; key?: string; ctrl?: boolean }) => {
        if (m?.type === 'ready' && this.model) void this.panel?.webview.postMessage({ type: 'screen', model: this.model });
        if (m?.type === 'key' && typeof m.key === 'string') void this.typeKey(m.key, m.ctrl === true);
      }, null, this.disposables);
    } else {
      this.panel.reveal(undefined, true);
    }
    const s = vscode.debug.activeDebugSession?.type === DEBUG_TYPE ? vscode.debug.activeDebugSession : this.session;
    if (s) {
      try {
        this.session = s;
        this.update(await s.customRequest('popekScreen') as ScreenModel);
      } catch { /* no guest yet: the first stop sends it */ }
    }
    return this.model;
  }

  private update(model: ScreenModel): void {
    this.model = model;
    void this.panel?.webview.postMessage({ type: 'screen', model });
  }

  private async typeKey(key: string, ctrl: boolean): Promise<void> {
    const s = this.session;
    if (!s) return;
    try {
      await s.customRequest('popekKeys', { key, ctrl });
    } catch (e) {
      if (!this.keyWarningShown) {
        this.keyWarningShown = true;
        void vscode.window.showWarningMessage(`Popek: ${(e as Error).message}`);
      }
    }
  }

  private html(webview: vscode.Webview): string {
    return webviewPage(webview, this.extensionUri, 'screen', 'Popek: Guest Screen', `<div id="screen" class="screen" tabindex="0" role="img" aria-label="The guest's VGA text screen; type here to send keys to the guest"></div>
<p id="status" class="status">Start a Popek debug session: the screen appears at the first stop.</p>`);
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
