/*
 * The status-bar item of a running Popek debug session: guest instructions per second and the
 * modelled cycles while the guest runs, the totals at a stop (the adapter's `popekRunning` event,
 * debugger/runSpeed.ts). Hidden when no Popek session is active.
 */
import * as vscode from 'vscode';
import { RUN_SPEED_EVENT, runSpeedText, type RunSpeedBody } from '../debugger/runSpeed';
import { DEBUG_TYPE } from './launchConfig';

export class RunStatus implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  /** The last body received (the end-to-end suite reads it). */
  last: RunSpeedBody | undefined;

  constructor() {
    this.item = vscode.window.createStatusBarItem('popek.runSpeed', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'Popek guest speed';
    this.disposables.push(
      vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
        if (e.session.type !== DEBUG_TYPE || e.event !== RUN_SPEED_EVENT) return;
        this.show(e.body as RunSpeedBody);
      }),
      vscode.debug.onDidTerminateDebugSession((s) => { if (s.type === DEBUG_TYPE) this.item.hide(); }),
    );
  }

  private show(b: RunSpeedBody): void {
    this.last = b;
    this.item.text = `${b.running ? '$(debug-start)' : '$(debug-pause)'} ${runSpeedText(b)}`;
    this.item.tooltip = b.running
      ? 'Guest instructions per second of host time (last half second) and modelled cycles so far'
      : 'Guest instructions and modelled cycles so far';
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
