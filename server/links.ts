/* `%include "file"` / `.include "file"` / `#include` become links to the included file. */
import type { DocumentLink } from 'vscode-languageserver/node';
import type { LintDocument } from '../core/lint/document';
import { pathToUri, type DocumentStore } from './documents';

export function documentLinks(store: DocumentStore, model: LintDocument): DocumentLink[] {
  const out: DocumentLink[] = [];
  model.facts.forEach((f, line) => {
    if (!f.include) return;
    const full = store.resolveInclude(f.include.path, model.fileName);
    if (!full) return;
    out.push({ range: { start: { line, character: f.include.start }, end: { line, character: f.include.end } }, target: pathToUri(full) });
  });
  return out;
}
