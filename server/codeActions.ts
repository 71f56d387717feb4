/*
 * Code actions: a quick fix per critical / privileged diagnostic (the paravirtual rewrite), and
 * `source.fixAll` (also offered as a quick fix) applying all of them.
 */
import { CodeActionKind, type CodeAction, type CodeActionParams, type Diagnostic } from 'vscode-languageserver/node';
import type { LintDocument } from '../core/lint/document';
import { allQuickFixes, markReviewed, quickFix } from '../core/lint/fixes';
import { CRITICAL_CODE, PRIVILEGED_CODE } from '../core/lint/lint';
import type { PopekSettings } from './settings';

export const FIX_ALL = `${CodeActionKind.SourceFixAll}.popek`;

function wanted(only: string[] | undefined, kind: string): boolean {
  return !only || only.some((o) => kind === o || kind.startsWith(o + '.'));
}

export function codeActions(model: LintDocument, p: CodeActionParams, _settings: PopekSettings): CodeAction[] {
  const uri = p.textDocument.uri;
  const only = p.context.only;
  const out: CodeAction[] = [];
  if (wanted(only, CodeActionKind.QuickFix)) {
    for (const d of p.context.diagnostics) {
      if (d.code !== CRITICAL_CODE && d.code !== PRIVILEGED_CODE) continue;
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
