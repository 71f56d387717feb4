/*
 * Code actions: a quick fix per critical / privileged diagnostic (the paravirtual rewrite), and
 * `source.fixAll` (also offered as a quick fix) applying all of them.
 */
import { CodeActionKind, type CodeAction, type CodeActionParams, type Diagnostic } from 'vscode-languageserver/node';
import type { LintDocument } from '../core/lint/document';
import { allQuickFixes, markReviewed, quickFix } from '../core/lint/fixes';
import { CRITICAL_CODE, PRIVILEGED_CODE } from '../core/lint/lint';
import type { PopekSettings } from './settings';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

export const FIX_ALL = `${CodeActionKind.SourceFixAll}.popek`;

function wanted(only: string[] | undefined, kind: string): boolean {
  return !only || only.some((o) => kind === o || kind.startsWith(o + '.'));
}

/**
 * A diagnostic at a macro call: the rewrite belongs in the macro's definition, in this file or in
 * the one that defines it (the edit goes there, and the title says where).
 */
function macroFix(model: LintDocument, d: Diagnostic, via: { macro: string; text: string; file?: string; line?: number }, modelOf?: (file: string) => LintDocument | undefined): CodeAction | undefined {
  if (via.file === undefined || via.line === undefined) return undefined;
  const target = via.file === model.fileName ? model : modelOf?.(via.file);
  const facts = target?.facts[via.line];
  if (!target || !facts) return undefined;
  const word = /^\s*([A-Za-z0-9_.]+)/.exec(via.text)?.[1]?.toLowerCase();
  const index = facts.instructions.findIndex((i) => i.spelling === word);
  const fix = index >= 0 ? quickFix(target, via.line, index) : undefined;
  const where = `${via.file === model.fileName ? 'line' : `${path.basename(via.file)}:`}${via.file === model.fileName ? ' ' : ''}${via.line + 1}`;
  if (!fix) return undefined;
  return {
    title: `${fix.title} — in the definition of macro ${via.macro} (${where}), which every call expands`,
    kind: CodeActionKind.QuickFix,
    diagnostics: [d],
    edit: { changes: { [pathToFileURL(via.file).toString()]: [fix.edit] } },
  };
}

export function codeActions(model: LintDocument, p: CodeActionParams, _settings: PopekSettings, modelOf?: (file: string) => LintDocument | undefined): CodeAction[] {
  const uri = p.textDocument.uri;
  const only = p.context.only;
  const out: CodeAction[] = [];
  if (wanted(only, CodeActionKind.QuickFix)) {
    for (const d of p.context.diagnostics) {
      if (d.code !== CRITICAL_CODE && d.code !== PRIVILEGED_CODE) continue;
      const via = (d.data as { via?: { macro: string; text: string; file?: string; line?: number } } | undefined)?.via;
      if (via) {
        const a = macroFix(model, d, via, modelOf);
        if (a) out.push(a);
        continue;
      }
      const at = d.data as { line: number; index: number } | undefined;
      const fix = quickFix(model, at?.line ?? d.range.start.line, at?.index ?? indexAt(model, d));
      if (!fix) continue;
      out.push({ title: fix.title, kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: fix.replaces, edit: { changes: { [uri]: [fix.edit] } } });
      const keep = fix.replaces ? markReviewed(model, fix.line, at?.index ?? indexAt(model, d)) : undefined;
      if (keep) out.push({ title: keep.title, kind: CodeActionKind.QuickFix, diagnostics: [d], edit: { changes: { [uri]: [keep.edit] } } });
    }
  }
  const all = allQuickFixes(model);
  // `source.fixAll.popek` (as ESLint's `source.fixAll.eslint`): run by `source.fixAll` on save too.
  const asSource = !only || only.some((o) => FIX_ALL.startsWith(o) && (o === FIX_ALL || FIX_ALL.startsWith(o + '.')));
  const asQuickFix = wanted(only, CodeActionKind.QuickFix) && p.context.diagnostics.length > 0;
  if (all.length && (asSource || asQuickFix)) {
    out.push({
      title: `Rewrite all ${all.length} critical and privileged instructions for paravirtual mode`,
      kind: asSource ? FIX_ALL : CodeActionKind.QuickFix,
      edit: { changes: { [uri]: all.map((f) => f.edit) } },
    });
  }
  return out;
}

function indexAt(model: LintDocument, d: Diagnostic): number {
  const f = model.facts[d.range.start.line];
  const i = f?.instructions.findIndex((x) => x.start === d.range.start.character) ?? -1;
  return Math.max(0, i);
}
