/*
 * The walkthrough's state: the example it opened (kept in the extension's storage) and the context
 * keys its steps complete on. A step ticks only when its action happened on that example — the
 * same command on another file (or a debug session of it) does not tick it, and a key that stayed
 * true from such a use could not tick the step later (setting a context key to its value is no change).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';

/** Context keys the walkthrough's steps complete on (package.json `completionEvents`). */
export const WALKTHROUGH = {
  opened: 'popek.walkthrough.opened',
  /** A technique picked from the walkthrough's step (the same one as before too: no setting changes then). */
  techniqueChosen: 'popek.walkthrough.techniqueChosen',
  paravirtualized: 'popek.walkthrough.paravirtualized',
  debugged: 'popek.walkthrough.debugged',
  stoppedOnVmExit: 'popek.walkthrough.stoppedOnVmExit',
  compared: 'popek.walkthrough.compared',
} as const;

/** What a walkthrough step's command link passes (`command:popek.paravirtualize?["walkthrough"]`). */
export const WALKTHROUGH_ARG = 'walkthrough';

let example: string | undefined;

/** The example the walkthrough opened (its later steps act on it, whatever editor is active). */
export function walkthroughExample(): vscode.Uri | undefined {
  return example === undefined ? undefined : vscode.Uri.file(example);
}

export function setWalkthroughExample(uri: vscode.Uri): void {
  example = path.resolve(uri.fsPath);
  void vscode.commands.executeCommand('setContext', WALKTHROUGH.opened, true);
}

/** Ticks a step when `file` (a path or URI) is the walkthrough's example. */
export function completeStep(key: Exclude<(typeof WALKTHROUGH)[keyof typeof WALKTHROUGH], typeof WALKTHROUGH.opened>, file: string | vscode.Uri | undefined): void {
  const p = file instanceof vscode.Uri ? file.fsPath : file;
  if (example !== undefined && typeof p === 'string' && path.resolve(p) === example) void vscode.commands.executeCommand('setContext', key, true);
}
