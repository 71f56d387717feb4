/*
 * Code actions: a quick fix per critical / privileged diagnostic (the paravirtual rewrite), and
 * `source.fixAll` (also offered as a quick fix) applying all of them.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { CodeActionKind, type CodeAction, type CodeActionParams, type Command, type Diagnostic, type TextEdit } from 'vscode-languageserver/node';
import type { LintDocument } from '../core/lint/document';
import { allQuickFixes, markReviewed, quickFix, xenIncludeEdit, type QuickFix } from '../core/lint/fixes';
import { xenHeader } from '../core/lint/xenInclude';
import { NO_MULTIBOOT_CODE, multibootHeaderEdit } from '../core/lint/multibootHeader';
import { CRITICAL_CODE, PRIVILEGED_CODE } from '../core/lint/lint';
import type { PopekSettings } from './settings';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const FIX_ALL = `${CodeActionKind.SourceFixAll}.popek`;
/** Writes the Xen constants header next to a fixed file (arguments: its URI, its syntax) unless one is there. */
export const WRITE_XEN_HEADER = 'popek.writeXenHeader';

/**
 * The edits of `fixes` plus, when they name Xen constants the file does not include yet, the
 * `%include "xen.inc"` line and the command that writes that header after the edit is applied.
 */
function withXenHeader(model: LintDocument, uri: string, fixes: QuickFix[]): { edits: TextEdit[]; command?: Command } {
  const include = xenIncludeEdit(model, fixes);
  // The include first: it is an insertion at the start of a line whose fix may replace from column
  // 0 (`iret` on the first code line), and an editor applies edits at one position in list order —
  // after the replacement, the insertion overlaps it (VS Code and vscode-languageserver-textdocument
  // refuse the whole fix-all: "Overlapping edit"; found by the fix-all fuzz, seed 17).
  const edits = [...(include ? [include.edit] : []), ...fixes.map((f) => f.edit)];
  if (!include) return { edits };
  return { edits, command: { title: `Write ${include.header.name}`, command: WRITE_XEN_HEADER, arguments: [uri, model.syntax] } };
}

/** The WRITE_XEN_HEADER command: true when it wrote the header, false when one was there (or no file URI). */
export function writeXenHeader(args: unknown[] | undefined): boolean {
  const [uri, syntax] = args ?? [];
  if (typeof uri !== 'string' || !uri.startsWith('file:') || (syntax !== 'nasm' && syntax !== 'att')) return false;
  const header = xenHeader(syntax);
  const target = path.join(path.dirname(fileURLToPath(uri)), header.name);
  if (existsSync(target) || !existsSync(path.dirname(target))) return false;
  // 'wx': never over a file that appeared since (a user's header is never overwritten).
  try { writeFileSync(target, header.text, { flag: 'wx' }); return true; } catch { return false; }
}

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
  if (!fix) return showBody(target, d, via, word);
  return {
    title: `${fix.title} — in the definition of macro ${via.macro} (${where}), which every call expands`,
    kind: CodeActionKind.QuickFix,
    diagnostics: [d],
    edit: { changes: { [pathToFileURL(via.file).toString()]: [fix.edit] } },
  };
}

/** The command of the action that opens a macro's body where no edit can be offered (server/server.ts runs it). */
export const SHOW_MACRO_BODY = 'popek.server.showMacroBody';

/**
 * A call of a macro whose body the quick fix cannot rewrite in place (a cpp `#define`, whose body
 * is `\`-continued lines joined by `;`): an action that says where the rewrite must go and opens
 * it there, at the instruction in the body.
 */
function showBody(target: LintDocument, d: Diagnostic, via: { macro: string; text: string; file?: string; line?: number }, word: string | undefined): CodeAction | undefined {
  if (via.file === undefined || via.line === undefined) return undefined;
  const at = bodyLocation(target, via.line, word);
  const title = `Rewrite \`${via.text}\` in the body of macro ${via.macro} (${path.basename(via.file)}:${at.line + 1}): every call expands it — open it`;
  const range = { start: at, end: { line: at.line, character: at.character + (word?.length ?? 0) } };
  return { title, kind: CodeActionKind.QuickFix, diagnostics: [d], command: { title, command: SHOW_MACRO_BODY, arguments: [pathToFileURL(via.file).toString(), range] } };
}

/** Where `word` is in the definition that starts at `line` (its `\`-continued lines included). */
function bodyLocation(doc: LintDocument, line: number, word: string | undefined): { line: number; character: number } {
  for (let k = line; k < doc.lines.length; k++) {
    const text = doc.lines[k];
    const m = word ? new RegExp(`(^|[^\\w.$%])(${word.replace(/[.$]/g, '\\$&')})\\b`, 'i').exec(text) : null;
    if (m && k > line) return { line: k, character: m.index + m[1].length };
    if (m && k === line && !/#\s*define\s+\S*$/.test(text.slice(0, m.index + m[1].length))) return { line: k, character: m.index + m[1].length };
    if (!/\\\s*$/.test(text)) break;
  }
  return { line, character: 0 };
}

export function codeActions(model: LintDocument, p: CodeActionParams, _settings: PopekSettings, modelOf?: (file: string) => LintDocument | undefined): CodeAction[] {
  const uri = p.textDocument.uri;
  const only = p.context.only;
  const out: CodeAction[] = [];
  if (wanted(only, CodeActionKind.QuickFix)) {
    for (const d of p.context.diagnostics) {
      if (d.code === NO_MULTIBOOT_CODE && model.syntax === 'nasm') {
        const edit = multibootHeaderEdit(model, d.range.start.line);
        out.push({ title: 'Insert a Multiboot header (GRUB and QEMU -kernel then load this image)', kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: true, edit: { changes: { [uri]: [edit] } } });
        continue;
      }
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
      const { edits, command } = withXenHeader(model, uri, [fix]);
      out.push({ title: fix.title, kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: fix.replaces, edit: { changes: { [uri]: edits } }, command });
      const keep = fix.replaces ? markReviewed(model, fix.line, at?.index ?? indexAt(model, d)) : undefined;
      if (keep) out.push({ title: keep.title, kind: CodeActionKind.QuickFix, diagnostics: [d], edit: { changes: { [uri]: [keep.edit] } } });
    }
  }
  const all = allQuickFixes(model);
  // `source.fixAll.popek` (as ESLint's `source.fixAll.eslint`): run by `source.fixAll` on save too.
  const asSource = !only || only.some((o) => FIX_ALL.startsWith(o) && (o === FIX_ALL || FIX_ALL.startsWith(o + '.')));
  const asQuickFix = wanted(only, CodeActionKind.QuickFix) && p.context.diagnostics.length > 0;
  if (all.length && (asSource || asQuickFix)) {
    const { edits, command } = withXenHeader(model, uri, all);
    out.push({
      title: `Rewrite all ${all.length} critical and privileged instructions for paravirtual mode`,
      kind: asSource ? FIX_ALL : CodeActionKind.QuickFix,
      edit: { changes: { [uri]: edits } },
      command,
    });
  }
  return out;
}

function indexAt(model: LintDocument, d: Diagnostic): number {
  const f = model.facts[d.range.start.line];
  const i = f?.instructions.findIndex((x) => x.start === d.range.start.character) ?? -1;
  return Math.max(0, i);
}
