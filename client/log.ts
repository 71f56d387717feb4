/*
 * The extension's log: one "Popek" log output channel (levels, timestamps, the user picks the level).
 * Errors are also brought to the user's attention, since a failure that only reaches a hidden
 * channel looks like the extension doing nothing.
 */
import * as vscode from 'vscode';

export class Log implements vscode.Disposable {
  readonly channel: vscode.LogOutputChannel;

  constructor(name = 'Popek') {
    this.channel = vscode.window.createOutputChannel(name, { log: true });
  }

  trace(msg: string, ...args: unknown[]): void { this.channel.trace(msg, ...args); }
  debug(msg: string, ...args: unknown[]): void { this.channel.debug(msg, ...args); }
  info(msg: string, ...args: unknown[]): void { this.channel.info(msg, ...args); }
  warn(msg: string, ...args: unknown[]): void { this.channel.warn(msg, ...args); }

  error(msg: string, err?: unknown): void {
    if (err instanceof Error) this.channel.error(`${msg}: ${err.stack ?? err.message}`);
    else if (err !== undefined) this.channel.error(`${msg}: ${String(err)}`);
    else this.channel.error(msg);
  }

  /**
   * Logs and shows an error notification with a button that opens this log. Does not wait for the
   * notification: a caller must not hang until the user dismisses it.
   */
  showError(msg: string, err?: unknown): void {
    this.error(msg, err);
    const detail = err instanceof Error ? `: ${err.message}` : err !== undefined ? `: ${String(err)}` : '';
    void vscode.window.showErrorMessage(`Popek: ${msg}${detail}`, 'Open Log').then((choice) => {
      if (choice === 'Open Log') this.channel.show(true);
    });
  }

  show(): void { this.channel.show(true); }
  dispose(): void { this.channel.dispose(); }
}

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
