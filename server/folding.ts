/*
 * Folding: each routine (a non-local label to the line before the next one), macro bodies,
 * `%if`…`%endif` blocks, and runs of comment lines.
 */
import { FoldingRangeKind, type FoldingRange } from 'vscode-languageserver/node';
import type { LintDocument } from '../core/lint/document';

export function foldingRanges(model: LintDocument): FoldingRange[] {
  const out: FoldingRange[] = [];
  const n = model.facts.length;
  let routine: number | undefined;
  let lastCode = -1;
  const macroStack: number[] = [];
  const ifStack: number[] = [];
  let commentRun: number | undefined;
  const close = (start: number | undefined, end: number, kind?: FoldingRangeKind): void => {
    if (start !== undefined && end > start) out.push({ startLine: start, endLine: end, kind });
  };
  for (let line = 0; line < n; line++) {
    const f = model.facts[line];
    const text = model.lines[line];
    const onlyComment = f.commentStart !== undefined && text.slice(0, f.commentStart).trim() === '';
    if (onlyComment) { commentRun ??= line; } else { if (commentRun !== undefined) close(commentRun, line - 1, FoldingRangeKind.Comment); commentRun = undefined; }
    const global = f.defs.find((d) => d.kind === 'label' && !d.name.startsWith('.'));
    if (global) { close(routine, lastCode); routine = line; }
    if (f.macroOpen) macroStack.push(line);
    if (f.macroClose) close(macroStack.pop(), line, FoldingRangeKind.Region);
    const pre = /^\s*[%.](if\w*|endif|else|elif\w*)\b/i.exec(text);
    if (pre) {
      const d = pre[1].toLowerCase();
      if (d.startsWith('if')) ifStack.push(line);
      else if (d === 'endif') close(ifStack.pop(), line, FoldingRangeKind.Region);
    }
    if (text.trim() && !onlyComment) lastCode = line;
  }
  close(routine, lastCode);
  if (commentRun !== undefined) close(commentRun, n - 1, FoldingRangeKind.Comment);
  return out;
}
