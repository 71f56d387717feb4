/*
 * Inline values at line ends while a Popek session is stopped: the registers, flags and memory
 * operands each line of the current function uses, up to the stop line (inlineValueTargets.ts), as
 * expressions VS Code asks the adapter to evaluate (the `evaluate` request) and shows as
 * `eax = 0x…` after the line.
 */
import * as vscode from 'vscode';
import { inlineTargets, linesToAnnotate, type AsmSyntax } from './inlineValueTargets';

const SYNTAX: Readonly<Record<string, AsmSyntax>> = { 'popek-nasm': 'nasm', 'popek-gas': 'gas' };

export class AsmInlineValues implements vscode.InlineValuesProvider {
  provideInlineValues(document: vscode.TextDocument, viewPort: vscode.Range, context: vscode.InlineValueContext): vscode.InlineValue[] {
    const syntax = SYNTAX[document.languageId];
    if (!syntax) return [];
    const stop = context.stoppedLocation.start.line;
    const lines = Array.from({ length: document.lineCount }, (_, i) => document.lineAt(i).text);
    const out: vscode.InlineValue[] = [];
    for (const l of linesToAnnotate(lines, stop, { start: viewPort.start.line, end: viewPort.end.line })) {
      for (const t of inlineTargets(lines[l], syntax)) {
        out.push(new vscode.InlineValueEvaluatableExpression(new vscode.Range(l, t.start, l, t.end), t.expression));
      }
    }
    return out;
  }
}

export function registerInlineValues(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.languages.registerInlineValuesProvider(
    Object.keys(SYNTAX).map((language) => ({ language })), new AsmInlineValues()));
}
