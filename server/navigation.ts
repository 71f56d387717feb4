/*
 * Go to definition, references, rename, document and workspace symbols. Symbols come from the
 * document models (core/lint/document.ts); included files are searched too.
 */
import {
  SymbolKind, type DefinitionParams, type DocumentSymbol, type Location, type PrepareRenameParams,
  type Range, type ReferenceParams, type RenameParams, type SymbolInformation, type WorkspaceEdit, type TextEdit,
} from 'vscode-languageserver/node';
import type { LintDocument, SymbolInfo } from '../core/lint/document';
import { registerClass } from '../core/lint/lineModel';
import { instructionInfo } from '../core/isa';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { pathToUri, type DocumentStore } from './documents';



function rangeOf(line: number, start: number, end: number): Range {
  return { start: { line, character: start }, end: { line, character: end } };
}

function uriOf(store: DocumentStore, model: LintDocument): string {
  for (const d of store.documents.all()) if (store.get(d.uri) === model) return d.uri;
  return pathToUri(model.fileName);
}

/** The documents a symbol may live in: the model, what it includes, and the open files that include it. */
function scope(store: DocumentStore, model: LintDocument): LintDocument[] {
  const out = [model, ...store.included(model)];
  for (const d of store.documents.all()) {
    const other = store.get(d.uri);
    if (!other || out.includes(other)) continue;
    const inc = store.included(other);
    if (inc.some((m) => m.fileName === model.fileName)) out.push(other, ...inc.filter((m) => !out.includes(m) && m.fileName !== model.fileName));
  }
  return out;
}

function find(store: DocumentStore, model: LintDocument, name: string): Array<{ doc: LintDocument; sym: SymbolInfo }> {
  const out: Array<{ doc: LintDocument; sym: SymbolInfo }> = [];
  for (const doc of scope(store, model)) {
    const sym = doc.symbols().byName.get(name);
    if (sym) out.push({ doc, sym });
  }
  return out;
}

export function definition(store: DocumentStore, model: LintDocument, p: DefinitionParams): Location[] {
  const at = model.symbolAt(p.position.line, p.position.character);
  if (!at) return [];
  return find(store, model, at.name).flatMap(({ doc, sym }) => sym.defs.map((d) => ({ uri: uriOf(store, doc), range: rangeOf(d.line, d.start, d.end) })));
}

export function references(store: DocumentStore, model: LintDocument, p: ReferenceParams): Location[] {
  const at = model.symbolAt(p.position.line, p.position.character);
  if (!at) return [];
  return find(store, model, at.name).flatMap(({ doc, sym }) => [
    ...(p.context.includeDeclaration ? sym.defs : []),
    ...sym.refs,
  ].map((d) => ({ uri: uriOf(store, doc), range: rangeOf(d.line, d.start, d.end) })));
}

export function prepareRename(model: LintDocument, p: PrepareRenameParams): { range: Range; placeholder: string } | null {
  const at = model.symbolAt(p.position.line, p.position.character);
  if (!at) return null;
  const sym = model.symbols().byName.get(at.name);
  if (!sym || sym.defs.length === 0) return null;
  return { range: rangeOf(p.position.line, at.start, at.end), placeholder: model.lines[p.position.line].slice(at.start, at.end) };
}

const NAME = /^[A-Za-z_.?@$][A-Za-z0-9_.?@$#~]*$/;

export function rename(store: DocumentStore, model: LintDocument, p: RenameParams): WorkspaceEdit | null {
  const at = model.symbolAt(p.position.line, p.position.character);
  // A register or a mnemonic is not a usable label name.
  if (!at || !NAME.test(p.newName) || registerClass(p.newName) || instructionInfo(p.newName)) return null;
  const changes: Record<string, TextEdit[]> = {};
  for (const { doc, sym } of find(store, model, at.name)) {
    const uri = uriOf(store, doc);
    const edits = (changes[uri] ??= []);
    for (const loc of [...sym.defs, ...sym.refs]) {
      // A local label written `.x` keeps its short spelling; a qualified reference is replaced whole.
      const written = doc.lines[loc.line].slice(loc.start, loc.end);
      const oldShort = model.lines[p.position.line].slice(at.start, at.end);
      const newText = written === oldShort ? p.newName : written.startsWith('.') ? p.newName : written.replace(oldShort, p.newName);
      edits.push({ range: rangeOf(loc.line, loc.start, loc.end), newText });
    }
  }
  return { changes };
}

const KIND: Record<SymbolInfo['kind'], SymbolKind> = { label: SymbolKind.Function, constant: SymbolKind.Constant, macro: SymbolKind.Method, define: SymbolKind.Constant };

/** Outline: non-local labels as routines, their local labels as children; constants and macros. */
export function documentSymbols(model: LintDocument): DocumentSymbol[] {
  const out: DocumentSymbol[] = [];
  let parent: DocumentSymbol | undefined;
  for (let line = 0; line < model.facts.length; line++) {
    for (const d of model.facts[line].defs) {
      const sym: DocumentSymbol = {
        name: d.name,
        kind: d.kind === 'label' ? (d.name.startsWith('.') ? SymbolKind.Key : SymbolKind.Function) : KIND[d.kind],
        range: rangeOf(line, d.start, model.lines[line].length),
        selectionRange: rangeOf(line, d.start, d.end),
        children: [],
      };
      if (d.kind === 'label' && d.name.startsWith('.') && parent && model.syntax === 'nasm') {
        parent.children!.push(sym);
        parent.range = { start: parent.range.start, end: sym.range.end };
      } else {
        out.push(sym);
        if (d.kind === 'label') parent = sym;
      }
    }
    // A routine's range runs to the last line before the next routine.
    if (parent && model.facts[line].instructions.length) parent.range = { start: parent.range.start, end: rangeOf(line, 0, model.lines[line].length).end };
  }
  return out;
}

const SOURCE = /\.(gasm|asm|nasm|inc|s|S)$/;
const SKIP = new Set(['node_modules', '.git', 'out', 'dist', '.vscode-test']);
const MAX_FILES = 2000;

/** Assembly sources under the workspace folders (bounded walk; models are cached by mtime). */
function workspaceFiles(folders: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 8 || out.length >= MAX_FILES) return;
    let entries: import('node:fs').Dirent[];
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    for (const e of entries) {
      if (out.length >= MAX_FILES) return;
      if (e.isDirectory()) { if (!SKIP.has(e.name) && !e.name.startsWith('.')) walk(path.join(dir, e.name), depth + 1); }
      else if (e.isFile() && SOURCE.test(e.name)) out.push(path.join(dir, e.name));
    }
  };
  for (const f of folders) walk(f, 0);
  return out;
}

export function workspaceSymbols(store: DocumentStore, query: string, folders: string[] = []): SymbolInformation[] {
  const q = query.toLowerCase();
  const out: SymbolInformation[] = [];
  const seen = new Set<string>();
  const docs: Array<{ uri: string; model: LintDocument }> = [];
  for (const d of store.documents.all()) {
    const m = store.get(d.uri);
    if (!m) continue;
    docs.push({ uri: d.uri, model: m });
    for (const inc of store.included(m)) docs.push({ uri: pathToUri(inc.fileName), model: inc });
  }
  for (const file of workspaceFiles(folders)) {
    const m = store.modelOfPath(file);
    if (m) docs.push({ uri: pathToUri(file), model: m });
  }
  for (const { uri, model } of docs) {
    if (seen.has(uri)) continue;
    seen.add(uri);
    for (const sym of model.symbols().byName.values()) {
      if (!sym.defs.length || (q && !sym.name.toLowerCase().includes(q))) continue;
      const d = sym.defs[0];
      out.push({ name: sym.name, kind: KIND[sym.kind], location: { uri, range: rangeOf(d.line, d.start, d.end) } });
    }
  }
  return out;
}

/** Hover text of a symbol: where it is defined and, for constants, the defining line. */
export function symbolMarkdown(store: DocumentStore, model: LintDocument, name: string): string | undefined {
  const hits = find(store, model, name).filter((h) => h.sym.defs.length);
  if (!hits.length) return undefined;
  const { doc, sym } = hits[0];
  const d = sym.defs[0];
  const where = doc === model ? `line ${d.line + 1}` : `${doc.fileName.split(/[\\/]/).pop()}:${d.line + 1}`;
  return `**${sym.kind}** \`${name}\` — defined at ${where}\n\n\`\`\`\n${doc.lines[d.line].trim()}\n\`\`\`\n\n${sym.refs.length} reference(s)`;
}
