/*
 * Open documents and their linter models. The client sends incremental changes; `TextDocuments`
 * applies them, and the `LintDocument` of a URI is brought up to date lazily (it re-scans only
 * the lines that changed). Files reached through `%include` / `.include` are read from the open
 * documents first, then from disk, and kept as models too (for definitions and symbols).
 */
import { readFileSync, existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TextDocuments } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LintDocument, syntaxOf } from '../core/lint/document';

export function uriToPath(uri: string): string {
  try { return uri.startsWith('file:') ? fileURLToPath(uri) : uri; } catch { return uri; }
}

export function pathToUri(p: string): string {
  return pathToFileURL(p).toString();
}

export class DocumentStore {
  readonly documents = new TextDocuments(TextDocument);
  private models = new Map<string, { version: number; model: LintDocument }>();
  private diskModels = new Map<string, { mtime: number; model: LintDocument }>();

  /** The up-to-date model of an open document. */
  get(uri: string): LintDocument | undefined {
    const td = this.documents.get(uri);
    if (!td) return undefined;
    let entry = this.models.get(uri);
    if (!entry) {
      entry = { version: -1, model: new LintDocument(uriToPath(uri), syntaxOf(uri, td.languageId)) };
      this.models.set(uri, entry);
    }
    if (entry.version !== td.version) {
      entry.model.setText(td.getText());
      entry.version = td.version;
    }
    return entry.model;
  }

  textDocument(uri: string): TextDocument | undefined { return this.documents.get(uri); }

  close(uri: string): void { this.models.delete(uri); }

  /** Resolves an include path as written in `fromFile`. */
  resolveInclude(p: string, fromFile: string): string | undefined {
    const candidates = path.isAbsolute(p) ? [p] : [path.resolve(path.dirname(fromFile), p), path.resolve(p)];
    for (const c of candidates) {
      if (this.documents.get(pathToUri(c)) || existsSync(c)) return c;
    }
    return undefined;
  }

  /** Reads a file: the open editor's text when it is open, else the disk. */
  readFile = (p: string, fromFile: string): string | undefined => {
    const full = this.resolveInclude(p, fromFile);
    if (!full) return undefined;
    const open = this.documents.get(pathToUri(full));
    if (open) return open.getText();
    try { return readFileSync(full, 'utf8'); } catch { return undefined; }
  };

  /** The model of a file (open or on disk), for following includes. */
  modelOfPath(full: string): LintDocument | undefined {
    const uri = pathToUri(full);
    if (this.documents.get(uri)) return this.get(uri);
    try {
      const mtime = statSync(full).mtimeMs;
      const cached = this.diskModels.get(full);
      if (cached && cached.mtime === mtime) return cached.model;
      const model = new LintDocument(full, syntaxOf(full), readFileSync(full, 'utf8'));
      this.diskModels.set(full, { mtime, model });
      return model;
    } catch {
      return undefined;
    }
  }

  /** The models of the files a document includes, transitively (without cycles). */
  included(model: LintDocument, seen = new Set<string>()): LintDocument[] {
    const out: LintDocument[] = [];
    seen.add(model.fileName);
    for (const f of model.facts) {
      if (!f.include) continue;
      const full = this.resolveInclude(f.include.path, model.fileName);
      if (!full || seen.has(full)) continue;
      const m = this.modelOfPath(full);
      if (!m) continue;
      out.push(m, ...this.included(m, seen));
    }
    return out;
  }
}
