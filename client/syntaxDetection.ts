/*
 * `.s`, `.S`, `.asm` and `.nasm` files are NASM or GNU as: the language of such a document is set
 * by its content (core/lint/syntaxDetect.ts) unless `popek.syntax` forces one. A `.s` with
 * `section .text` and `bits 32` is NASM; a GNU as file is never read as NASM.
 */
import * as vscode from 'vscode';
import { syntaxForFile } from '../core/lint/syntaxDetect';
import { Config, SECTION } from './config';

const LANGUAGES = new Set(['popek-nasm', 'popek-gas']);

/** The language a document should have, or undefined to leave it. */
export function wantedLanguage(fileName: string, text: string, forced: 'auto' | 'nasm' | 'gas'): string | undefined {
  const s = syntaxForFile(fileName, text, forced);
  return s === 'nasm' ? 'popek-nasm' : s === 'att' ? 'popek-gas' : undefined;
}

export function registerSyntaxDetection(context: vscode.ExtensionContext): void {
  const check = (doc: vscode.TextDocument): void => {
    if (!LANGUAGES.has(doc.languageId)) return;
    const forced = new Config(vscode.workspace.getConfiguration(SECTION, doc.uri)).syntax;
    const want = wantedLanguage(doc.fileName, doc.getText(), forced);
    if (want && want !== doc.languageId) void vscode.languages.setTextDocumentLanguage(doc, want);
  };
  vscode.workspace.textDocuments.forEach(check);
  context.subscriptions.push(
    vscode.workspace.onDidOpenTextDocument(check),
    vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration(`${SECTION}.syntax`)) vscode.workspace.textDocuments.forEach(check); }),
  );
}
