/*
 * Open documents and their linter models. The client sends incremental changes; each change is
 * applied to the `LintDocument`, which holds the text as lines and rebuilds and re-scans only the
 * lines it touches (no second copy of the text: a \`TextDocument\` would rebuild a 100,000-line
 * file's whole string on every keystroke, megabytes of garbage each time). Files reached through `%include` / `.include` are read from
 * the open documents first, then from disk, and kept as models too (for definitions and symbols).
 */
import { statSync, readdirSync } from 'node:fs';
import { isRegularFile, readIncludeText } from '../core/machine/safeRead';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Connection } from 'vscode-languageserver/node';
import { LintDocument, syntaxOf } from '../core/lint/document';
import { compileFlags, parseNasmDefines, resolveInclude as resolveAsTools, type IncludeEnv } from '../core/lint/includes';

export function uriToPath(uri: string): string {
  try { return uri.startsWith('file:') ? fileURLToPath(uri) : uri; } catch { return uri; }
}

export function pathToUri(p: string): string {
  return pathToFileURL(p).toString();
}

const isPosition = (p: unknown): boolean => {
  const q = p as { line?: unknown; character?: unknown } | null;
  return typeof q === 'object' && q !== null && Number.isSafeInteger(q.line) && Number.isSafeInteger(q.character) && (q.line as number) >= 0 && (q.character as number) >= 0;
};

/** An LSP `TextDocumentContentChangeEvent`: text, with a range of whole non-negative positions or none. */
function wellFormedChange(c: unknown): boolean {
  const x = c as { text?: unknown; range?: { start?: unknown; end?: unknown } } | null;
  if (typeof x !== 'object' || x === null || typeof x.text !== 'string') return false;
  return x.range === undefined || (typeof x.range === 'object' && x.range !== null && isPosition(x.range.start) && isPosition(x.range.end));
}

/** An open document as the client names it. */
export interface OpenDocument { uri: string; languageId: string; version: number }

interface Entry { doc: OpenDocument; model: LintDocument }

export class DocumentStore {
  private open = new Map<string, Entry>();
  private diskModels = new Map<string, { mtime: number; model: LintDocument }>();
  private changeListeners: Array<(uri: string) => void> = [];
  /** Bumped when an open document's structure (directives, macros) changes, or one opens or closes. */
  private epoch = 0;
  private envs = new Map<string, { key: string; env: IncludeEnv }>();
  /** Workspace folders (set by the server on initialize). */
  roots: string[] = [];
  private closeListeners: Array<(uri: string) => void> = [];

  /** The open documents (as `TextDocuments` offers them). */
  readonly documents = {
    get: (uri: string): OpenDocument | undefined => this.open.get(uri)?.doc,
    all: (): OpenDocument[] => [...this.open.values()].map((e) => e.doc),
  };

  listen(connection: Connection): void {
    connection.onDidOpenTextDocument(({ textDocument: t }) => {
      if (typeof t?.uri !== 'string' || typeof t.text !== 'string') return;
      this.open.set(t.uri, { doc: { uri: t.uri, languageId: t.languageId, version: t.version }, model: new LintDocument(uriToPath(t.uri), syntaxOf(t.uri, t.languageId, t.text), t.text) });
      this.epoch++;
      this.changeListeners.forEach((f) => f(t.uri));
    });
    connection.onDidChangeTextDocument(({ textDocument, contentChanges }) => {
      const e = this.open.get(textDocument?.uri);
      // A malformed change (not LSP) is dropped whole: the editor text and the model stay as they were.
      if (!e || !Array.isArray(contentChanges) || !contentChanges.every(wellFormedChange)) return;
      const structure = e.model.structureVersion;
      // Positions past a line's end or the document's are taken as LSP says (the end): applyChange clamps them.
      try {
        for (const c of contentChanges) e.model.applyChange(c);
      } catch {
        // Never expected (the model is written not to throw): its text is kept, its facts rebuilt.
        e.model = new LintDocument(e.model.fileName, e.model.syntax, e.model.text);
      }
      e.doc = { ...e.doc, version: textDocument.version };
      // Another document may include this one: its macro view must be recomputed.
      if (e.model.structureVersion !== structure && this.open.size > 1) this.epoch++;
      this.changeListeners.forEach((f) => f(textDocument.uri));
    });
    connection.onDidCloseTextDocument(({ textDocument }) => {
      if (!this.open.has(textDocument?.uri)) return;
      this.open.delete(textDocument.uri);
      this.epoch++;
      this.closeListeners.forEach((f) => f(textDocument.uri));
    });
  }

  onDidChangeContent(f: (uri: string) => void): void { this.changeListeners.push(f); }
  onDidClose(f: (uri: string) => void): void { this.closeListeners.push(f); }

  /** The up-to-date model of an open document. */
  get(uri: string): LintDocument | undefined { return this.open.get(uri)?.model; }

  textDocument(uri: string): OpenDocument | undefined { return this.open.get(uri)?.doc; }

  /**
   * The include environment of a document: open documents before the disk, `popek.includePaths`
   * (relative to the workspace folders), compile_commands.json's flags.
   */
  includeEnv(fileName: string, includePaths: string[] = []): IncludeEnv {
    const key = includePaths.join('\0') + '\n' + this.lastNasmDefines.join('\0');
    const cached = this.envs.get(fileName);
    if (cached && cached.key === key) return cached.env;
    const flags = compileFlags(fileName, this.roots);
    const searchPaths = includePaths.flatMap((p) => (path.isAbsolute(p) ? [p] : (this.roots.length ? this.roots : [path.dirname(fileName)]).map((r) => path.resolve(r, p))));
    const epoch = (): number => this.epoch;
    const env: IncludeEnv = {
      read: (f) => { const open = this.open.get(pathToUri(f)); return open ? open.model.text : readIncludeText(f); },
      exists: (f) => this.open.has(pathToUri(f)) || isRegularFile(f),
      listDir: (d) => { try { return readdirSync(d); } catch { return []; } },
      searchPaths: [...searchPaths, ...flags.includePaths],
      roots: this.roots,
      defines: flags.defines,
      forcedIncludes: flags.forcedIncludes,
      nasmDefines: { ...flags.defines, ...parseNasmDefines(this.lastNasmDefines) },
      get epoch() { return epoch(); },
    };
    this.envs.set(fileName, { key, env });
    return env;
  }

  /** Resolves an include path as written in `fromFile`. */
  resolveInclude(p: string, fromFile: string): string | undefined {
    return resolveAsTools(p, fromFile, this.includeEnv(fromFile, this.includePathsOf(fromFile)));
  }

  /** The `popek.includePaths` last given for a file (the diagnostics engine records them). */
  includePathsOf = (_file: string): string[] => this.lastIncludePaths;
  lastIncludePaths: string[] = [];
  /** `popek.nasmDefines` as last read (every document's environment has them). */
  lastNasmDefines: string[] = [];

  /** Reads a file: the open editor's text when it is open, else the disk. */
  readFile = (p: string, fromFile: string): string | undefined => {
    const full = this.resolveInclude(p, fromFile);
    if (!full) return undefined;
    const open = this.open.get(pathToUri(full));
    if (open) return open.model.text;
    return readIncludeText(full);
  };

  /** The model of a file (open or on disk), for following includes. */
  modelOfPath(full: string): LintDocument | undefined {
    const open = this.open.get(pathToUri(full));
    if (open) return open.model;
    try {
      const mtime = statSync(full).mtimeMs;
      const cached = this.diskModels.get(full);
      if (cached && cached.mtime === mtime) return cached.model;
      const text = readIncludeText(full);
      if (text === undefined) return undefined;
      const model = new LintDocument(full, syntaxOf(full, undefined, text), text);
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
