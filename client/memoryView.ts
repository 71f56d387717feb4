/*
 * "Popek: Open Memory View": guest memory in hex and ASCII inside Popek, following an expression
 * (`esp`, `[ebx]`, `buffer`, `0xb8000`, `esp-0x20`) that is evaluated again at every stop, with the
 * bytes changed since the previous stop marked; a byte is edited by clicking it and typing two hex
 * digits. Everything goes through the DAP session (`evaluate` for the address — its memoryReference,
 * so a C global shows its own bytes —, `readMemory`, `writeMemory`): linear addresses as the guest
 * maps them, in every technique. "Show in Popek Memory View" opens it from a register or variable
 * with a memory reference (Variables and Watch context menus). Rows are built by memoryRows.ts.
 */
import * as vscode from 'vscode';
import { DEBUG_TYPE } from './launchConfig';
import { webviewPage } from './webviewPage';
import { changedAddresses, hex8, memoryRows, memorySummary, snapshotFromResponse, windowFor, type MemorySnapshot } from './memoryRows';

/** Rows shown, and how many of them above the followed address's row. */
const ROWS = 16;
const ROWS_BEFORE = 2;
/** What the view follows when nothing was asked for: the stack. */
const DEFAULT_EXPRESSION = 'esp';

/** Requests after which the guest runs until the next stop. */
const RESUMING = new Set(['continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'goto']);

/** The argument VS Code gives a command run from the Variables / Watch context menu. */
interface VariableContext { sessionId?: string; container?: { name?: string }; variable?: { name?: string; evaluateName?: string; memoryReference?: string } }

type FromView = { type: 'ready' } | { type: 'follow'; expression: string } | { type: 'scroll'; rows: number } | { type: 'write'; address: number; value: number };

export class MemoryView implements vscode.Disposable {
  static readonly viewType = 'popek.memory';
  private panel: vscode.WebviewPanel | undefined;
  private session: vscode.DebugSession | undefined;
  private expression = DEFAULT_EXPRESSION;
  /** Rows scrolled away from the followed address (the Up/Down buttons). */
  private scrolled = 0;
  /** The read made at the previous stop, and the latest read. */
  private previous: MemorySnapshot | undefined;
  private current: MemorySnapshot | undefined;
  private stopped = false;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly extensionUri: vscode.Uri) {
    this.disposables.push(
      vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, {
        createDebugAdapterTracker: (session) => ({
          onDidSendMessage: (m: { type?: string; event?: string }) => {
            if (m?.type === 'event' && m.event === 'stopped') void this.atStop(session);
            else if (m?.type === 'event' && m.event === 'continued') this.running(session);
          },
          // VS Code knows the guest runs from its own request (the adapter sends no `continued` then).
          onWillReceiveMessage: (m: { type?: string; command?: string }) => {
            if (m?.type === 'request' && RESUMING.has(m.command ?? '')) this.running(session);
          },
        }),
      }),
      vscode.debug.onDidTerminateDebugSession((s) => {
        if (s !== this.session) return;
        this.session = undefined;
        this.stopped = false;
        this.post({ type: 'status', text: 'The debug session ended: start one to read guest memory again.' });
      }),
      vscode.commands.registerCommand('popek.openMemoryView', (expression?: unknown) => this.open(typeof expression === 'string' ? expression : undefined)),
      vscode.commands.registerCommand('popek.showInMemoryView', (arg?: VariableContext) => this.showVariable(arg)),
    );
  }

  /** Opens (or reveals) the view, following `expression` when given. */
  async open(expression?: string): Promise<void> {
    if (expression !== undefined && expression.trim()) { this.expression = expression.trim(); this.scrolled = 0; }
    if (!this.panel) {
      const media = vscode.Uri.joinPath(this.extensionUri, 'media');
      this.panel = vscode.window.createWebviewPanel(MemoryView.viewType, 'Popek: Memory', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, {
        enableScripts: true, localResourceRoots: [media], retainContextWhenHidden: true,
      });
      this.panel.iconPath = vscode.Uri.joinPath(media, 'popek.svg');
      this.panel.webview.html = this.html(this.panel.webview);
      this.panel.onDidDispose(() => { this.panel = undefined; this.previous = this.current = undefined; }, null, this.disposables);
      this.panel.webview.onDidReceiveMessage((m: FromView) => this.fromView(m), null, this.disposables);
    } else {
      this.panel.reveal(undefined, false);
      await this.refresh(false);
    }
  }

  /**
   * From the context menu: a register or a watch expression is followed by its expression (esp moves
   * from stop to stop); a global stays at its address (its expression reads its value, not its place).
   */
  private async showVariable(arg: VariableContext | undefined): Promise<void> {
    const v = arg?.variable;
    if (!v?.memoryReference && !v?.evaluateName) { await this.open(); return; }
    const fixed = arg?.container?.name === 'Globals' || !v.evaluateName;
    await this.open(fixed && v.memoryReference ? v.memoryReference : v.evaluateName);
  }

  private fromView(m: FromView): void {
    if (m?.type === 'ready') void this.refresh(false);
    else if (m?.type === 'follow' && typeof m.expression === 'string' && m.expression.trim()) { this.expression = m.expression.trim(); this.scrolled = 0; void this.refresh(false); }
    else if (m?.type === 'scroll' && Number.isInteger(m.rows)) { this.scrolled += m.rows; void this.refresh(false); }
    else if (m?.type === 'write' && Number.isInteger(m.address) && Number.isInteger(m.value)) void this.write(m.address, m.value);
  }

  private popekSession(): vscode.DebugSession | undefined {
    const active = vscode.debug.activeDebugSession;
    return active?.type === DEBUG_TYPE ? active : this.session;
  }

  private async atStop(session: vscode.DebugSession): Promise<void> {
    this.session = session;
    this.stopped = true;
    if (this.panel) await this.refresh(true);
  }

  private running(session: vscode.DebugSession): void {
    if (session !== this.session) return;
    this.stopped = false;
    this.post({ type: 'running' });
  }

  /** Evaluates the expression and reads the rows around it; at a stop the last read becomes "previous". */
  private async refresh(atStop: boolean): Promise<void> {
    const session = this.popekSession();
    if (!session) { this.post({ type: 'status', expression: this.expression, text: 'Start a Popek debug session: memory is shown at each stop.' }); return; }
    this.session = session;
    let target: number;
    try {
      const r = await session.customRequest('evaluate', { expression: this.expression, context: 'watch' }) as { result: string; memoryReference?: string };
      target = Number(r.memoryReference ?? r.result);
      if (!Number.isFinite(target)) throw new Error(`${this.expression} is not an address (${r.result})`);
    } catch (e) {
      this.post({ type: 'status', expression: this.expression, text: `${this.expression}: ${(e as Error).message}` });
      return;
    }
    const window = windowFor(target, ROWS_BEFORE - this.scrolled, ROWS);
    let snapshot: MemorySnapshot;
    try {
      snapshot = snapshotFromResponse(await session.customRequest('readMemory', { memoryReference: hex8(window.address), count: window.count }), window);
    } catch (e) {
      this.post({ type: 'status', expression: this.expression, text: `reading ${hex8(window.address)}: ${(e as Error).message}` });
      return;
    }
    if (atStop) this.previous = this.current;
    this.current = snapshot;
    const changed = changedAddresses(this.previous, snapshot);
    this.post({
      type: 'memory', expression: this.expression, target: hex8(target), rows: memoryRows(snapshot, changed, target),
      summary: memorySummary(snapshot, changed, this.previous !== undefined), stopped: this.stopped,
    });
  }

  private async write(address: number, value: number): Promise<void> {
    const session = this.popekSession();
    if (!session) return;
    try {
      await session.customRequest('writeMemory', { memoryReference: hex8(address), data: Buffer.from([value & 0xff]).toString('base64') });
    } catch (e) {
      this.post({ type: 'status', expression: this.expression, text: `writing ${hex8(address)}: ${(e as Error).message}` });
      return;
    }
    await this.refresh(false);
  }

  private post(message: unknown): void { void this.panel?.webview.postMessage(message); }

  private html(webview: vscode.Webview): string {
    const escaped = this.expression.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
    return webviewPage(webview, this.extensionUri, 'memory', 'Popek: Memory', `<form id="follow" class="follow">
  <label for="expression">Follow</label>
  <input id="expression" type="text" value="${escaped}" spellcheck="false" aria-label="Register, symbol or expression whose address the view follows (esp, [ebx], buffer, 0xb8000)" placeholder="esp, [ebx], buffer, 0xb8000">
  <button type="submit">Go</button>
  <button type="button" id="up" title="16 rows up" aria-label="Up">▲</button>
  <button type="button" id="down" title="16 rows down" aria-label="Down">▼</button>
  <span id="target" class="followed"></span>
</form>
<table id="memory" class="memory" tabindex="0" aria-label="Guest memory: address, 16 bytes in hex, the same bytes as ASCII"></table>
<p id="summary" class="summary">Start a Popek debug session: memory is shown at each stop.</p>
<p class="hint">Bytes changed since the previous stop are marked. Click a byte and type two hex digits to change it.</p>`);
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
