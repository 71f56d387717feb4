/*
 * A source document as the linter sees it: its lines and one `LineFacts` per line, kept up to date
 * incrementally. After an edit only the changed lines are scanned again, plus the lines after them
 * until the carried scanner state (block comment, macro body) is the same as before the edit.
 * Document-wide views (symbols, the effective mode) are derived lazily and cached per version.
 */
import { scanAttLine, type AttScanState } from './att';
import type { LineFacts, Syntax } from './lineModel';
import { scanNasmLine, type NasmJoin, type NasmScanState } from './nasmScanner';
import { classify, type Classified } from './classify';
import { computeMacroView, type MacroView } from './macroView';
import { expandCall } from './macroCalls';
import type { IncludeEnv } from './includes';
import { syntaxByContent } from './syntaxDetect';
export { syntaxByContent };

type ScanState = NasmScanState & Partial<AttScanState>;

/** Scanner state as one number: bit 0 inMacro, 1 block comment, 2 cpp continuation, 3 `.code64`, 4–7 block depth, 8–15 block bits, 16–17 NASM `\` join. */
function encodeState(s: ScanState): number {
  return (s.inMacro ? 1 : 0) | (s.inBlockComment ? 2 : 0) | (s.continuation ? 4 : 0) | (s.code64 ? 8 : 0) | ((s.blockDepth ?? 0) << 4) | ((s.blockBits ?? 0) << 8) | (JOINS.indexOf(s.joined) << 16);
}
function decodeState(n: number): ScanState {
  return { inMacro: (n & 1) !== 0, inBlockComment: (n & 2) !== 0, continuation: (n & 4) !== 0, code64: (n & 8) !== 0, blockDepth: (n >> 4) & 15, blockBits: (n >> 8) & 255, joined: JOINS[(n >> 16) & 3] };
}
const JOINS: ReadonlyArray<NasmJoin | undefined> = [undefined, 'code', 'comment', 'directive'];

export interface SymbolLocation { line: number; start: number; end: number }

export interface SymbolInfo {
  /** Qualified name (NASM local labels get their parent's name: `main.loop`). */
  name: string;
  kind: 'label' | 'constant' | 'macro' | 'define';
  defs: SymbolLocation[];
  refs: SymbolLocation[];
}

export interface SymbolTable {
  byName: Map<string, SymbolInfo>;
  /** Per line, the qualified names of the refs/defs on that line, in LineFacts order. */
  lineScopes: Array<string | undefined>;
}

/**
 * The syntax of a file: the editor's language when it says, else the content (a `.s` with
 * `section .text`, `bits 32`, `%define` or `global _start` is NASM; `.globl`, `%eax`, `#include` are
 * GNU as), else the name (`.s`/`.S`/`.sx` GNU as, everything else NASM).
 */
export function syntaxOf(fileName: string, languageId?: string, text?: string): Syntax {
  if (languageId === 'popek-gas') return 'att';
  if (languageId === 'popek-nasm') return 'nasm';
  const byContent = text !== undefined ? syntaxByContent(text) : undefined;
  if (byContent) return byContent;
  return /\.(s|S|sx)$/.test(fileName) ? 'att' : 'nasm';
}

/** Longest line the NASM scanner analyses (the assembler's own limit, core/asm MAX_LINE_LENGTH). */
export const MAX_SCANNED_LINE = 20_000;
/** Longest line the AT&T scanner analyses. */
export const MAX_ATT_SCANNED_LINE = 4_000;

/** Lines and their breaks as LSP counts them (\n, \r\n, lone \r); the last line has break ''. */
export function splitLines(text: string): { lines: string[]; eols: string[] } {
  const lines: string[] = [];
  const eols: string[] = [];
  const re = /\r\n|\r|\n/g;
  let from = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    lines.push(text.slice(from, m.index));
    eols.push(m[0]);
    from = m.index + m[0].length;
  }
  lines.push(text.slice(from));
  eols.push('');
  return { lines, eols };
}

/** One shared empty array for the many empty lists of a big file's facts (never written to after a scan). */
const NONE = Object.freeze([]) as unknown as never[];

/**
 * A list as kept in the facts: the shared empty one, or a copy of exactly its length (a list grown
 * by `push` keeps room for 16 more: ~15 MB on a 100,000-line file).
 */
function tight<T>(list: T[]): T[] {
  return list.length === 0 ? NONE : list.slice();
}

/** Replaces a line's lists by tight ones: a 100,000-line file has 400,000 of them, mostly empty. */
function compact(f: LineFacts): LineFacts {
  f.defs = tight(f.defs);
  f.refs = tight(f.refs);
  f.errors = tight(f.errors);
  f.instructions = tight(f.instructions);
  for (const i of f.instructions) { i.prefixes = tight(i.prefixes); i.operands = tight(i.operands); }
  return f;
}

/** `array.splice(start, deleteCount, ...items)` without spreading (safe for huge pastes). */
function spliceInPlace<T>(array: T[], start: number, deleteCount: number, items: T[]): void {
  const delta = items.length - deleteCount;
  const oldLength = array.length;
  if (delta > 0) {
    array.length = oldLength + delta;
    for (let k = oldLength - 1; k >= start + deleteCount; k--) array[k + delta] = array[k];
  } else if (delta < 0) {
    for (let k = start + deleteCount; k < oldLength; k++) array[k + delta] = array[k];
    array.length = oldLength + delta;
  }
  for (let k = 0; k < items.length; k++) array[start + k] = items[k];
}

export class LintDocument {
  lines: string[] = [];
  facts: LineFacts[] = [];
  /** Scanner state at the start of each line (encoded), and one more entry for the end. */
  private states: number[] = [0];
  private classified = new WeakMap<object, Classified | null>();
  private symbolCache?: SymbolTable;
  version = 0;
  /** Bumped only when an edit touches a line that defines something (names are what completion needs). */
  private defsVersion = 0;
  /** Lines carrying a `popek: mode=` marker (so that "none" is known without a scan). */
  private overrideLines = 0;
  /** The last edits: at `version`, old lines [from, oldEnd) became new lines [from, newEnd). */
  private history: Array<{ version: number; from: number; oldEnd: number; newEnd: number }> = [];

  constructor(readonly fileName: string, readonly syntax: Syntax, text = '') {
    this.setText(text);
  }

  /**
   * The line terminator of each line as written ('\n', '\r\n', '\r'; '' for the last line), so
   * that the text, and every edit derived from it, keeps the document's line endings byte for byte.
   * Lines are split as LSP does: at \n, \r\n and a lone \r.
   */
  eols: string[] = [];

  get text(): string {
    let s = '';
    for (let i = 0; i < this.lines.length; i++) s += this.lines[i] + (this.eols[i] ?? '');
    return s;
  }

  /** The line break to write inside line `line` (a rewrite spanning lines): its own, else the document's first. */
  eolAt(line: number): string {
    const own = this.eols[line];
    if (own) return own;
    for (let i = line - 1; i >= 0; i--) if (this.eols[i]) return this.eols[i];
    return '\n';
  }

  /** Replaces the text; returns the range of lines that were re-scanned [from, to). */
  setText(text: string): { from: number; to: number } {
    const { lines: newLines, eols: newEols } = splitLines(text);
    const old = this.lines, oldEols = this.eols;
    const same = (a: number, b: number) => old[a] === newLines[b] && oldEols[a] === newEols[b];
    let prefix = 0;
    const maxPrefix = Math.min(old.length, newLines.length);
    while (prefix < maxPrefix && same(prefix, prefix)) prefix++;
    let suffix = 0;
    while (suffix < old.length - prefix && suffix < newLines.length - prefix && same(old.length - 1 - suffix, newLines.length - 1 - suffix)) suffix++;
    return this.replaceLines(prefix, old.length - suffix, newLines.slice(prefix, newLines.length - suffix), newEols.slice(prefix, newEols.length - suffix));
  }

  /**
   * Applies one editor change (LSP `TextDocumentContentChangeEvent`): a range and its new text, or
   * the whole text when there is no range. Only the lines of the range are rebuilt.
   */
  applyChange(change: { range?: { start: { line: number; character: number }; end: { line: number; character: number } }; text: string }): { from: number; to: number } {
    if (!change.range) return this.setText(change.text);
    // As vscode-languageserver-textdocument: a reversed range is swapped, lines past the end mean
    // the end of the text, characters past a line's end mean its end (before the line break).
    let { start, end } = change.range;
    if (start.line > end.line || (start.line === end.line && start.character > end.character)) [start, end] = [end, start];
    const last = this.lines.length - 1;
    const at = (p: { line: number; character: number }): { line: number; character: number } => {
      if (!(p.line >= 0)) return { line: 0, character: 0 };
      if (p.line > last) return { line: last, character: this.lines[last].length };
      return { line: p.line, character: Math.min(Math.max(0, p.character || 0), this.lines[p.line].length) };
    };
    let s = at(start);
    const e = at(end);
    let head = this.lines[s.line].slice(0, s.character);
    // The changed span, from the start of its first line to the end of its last line's break.
    let segment = head + change.text + this.lines[e.line].slice(e.character) + this.eols[e.line];
    // A \r ending the line before and a \n starting the span are one line break (CRLF).
    if (s.line > 0 && segment.startsWith('\n') && this.eols[s.line - 1] === '\r') {
      s = { line: s.line - 1, character: 0 };
      head = this.lines[s.line];
      segment = head + '\r' + segment;
    }
    const { lines, eols } = splitLines(segment);
    // The segment ends with the last line's break (or the end of the text): no empty line after it.
    if (this.eols[e.line] !== '' && lines.length > 1) { lines.pop(); eols.pop(); }
    return this.replaceLines(s.line, e.line + 1, lines, eols);
  }

  /**
   * Replaces lines [from, oldTo) by `replacement` and re-scans what is needed: the new lines, then
   * the following ones until the scanner state at a line's start is the one it had before the
   * edit (from there on the old facts still hold). The arrays are spliced in place, so a keystroke
   * in a big file leaves little garbage behind.
   */
  private replaceLines(from: number, oldTo: number, replacement: string[], replacementEols: string[]): { from: number; to: number } {
    this.version++;
    this.symbolCache = undefined;
    const oldFacts = this.facts;
    const oldStates = this.states;
    const newTo = from + replacement.length;
    spliceInPlace(this.lines, from, oldTo - from, replacement);
    spliceInPlace(this.eols, from, oldTo - from, replacementEols);
    const scanned: LineFacts[] = [];
    const startStates: number[] = [];
    const state = decodeState(oldStates[from] ?? 0);
    let i = from;
    for (; i < this.lines.length; i++) {
      // Past the new lines, the old facts hold again once a line starts in the state they were
      // computed with.
      const oldIndex = i - newTo + oldTo;
      if (i >= newTo && oldIndex < oldFacts.length && oldStates[oldIndex] === encodeState(state)) break;
      const f = this.scanLine(this.lines[i], state);
      scanned.push(f);
      startStates.push(encodeState(state));
    }
    const resumeOld = i - newTo + oldTo;
    this.trackStructure(oldFacts, from, resumeOld, scanned);
    for (let k = from; k < resumeOld && k < oldFacts.length; k++) {
      if (oldFacts[k].defs.length) this.defsVersion++;
      if (oldFacts[k].modeOverride) this.overrideLines--;
    }
    for (const f of scanned) {
      if (f.defs.length) this.defsVersion++;
      if (f.modeOverride) this.overrideLines++;
    }
    // states[k] is the state at the start of line k (one more entry for the end of the text).
    spliceInPlace(oldFacts, from, Math.min(resumeOld, oldFacts.length) - from, scanned);
    if (oldStates.length === 0) oldStates.push(0);
    spliceInPlace(oldStates, from + 1, Math.min(resumeOld, oldStates.length - 1) - from, startStates);
    this.history.push({ version: this.version, from, oldEnd: resumeOld, newEnd: i });
    if (this.history.length > 16) this.history.shift();
    return { from, to: i };
  }

  /**
   * Bumped when an edit touches a structural line (a directive, a macro body): the macro view
   * (macroView.ts) is then recomputed. Other edited lines keep the marks the view gave the line
   * they replace (or the line above, for inserted lines): they cannot change what the marks say.
   */
  structureVersion = 0;
  private viewCache?: { version: number; epoch: number; view: MacroView };

  private trackStructure(oldFacts: LineFacts[], from: number, oldEnd: number, scanned: LineFacts[]): void {
    let structural = scanned.some((f) => f.structural);
    for (let k = from; k < oldEnd && k < oldFacts.length && !structural; k++) structural = oldFacts[k].structural === true;
    if (!structural) {
      for (let j = 0; j < scanned.length; j++) {
        const source = from + j < oldEnd ? oldFacts[from + j] : oldFacts[from - 1];
        if (!source) continue;
        if (source.structural && (source.inactive || source.macroBody || source.repeat || from + j >= oldEnd)) { structural = true; break; }
        if (source.inactive) scanned[j].inactive = true;
        if (source.macroBody) scanned[j].macroBody = true;
        if (source.repeat) scanned[j].repeat = source.repeat;
      }
    }
    if (structural) this.structureVersion++;
  }

  /** The document's macro view (macros, cpp conditionals, includes), recomputed when its structure changed. */
  macroView(env?: IncludeEnv): MacroView {
    const epoch = env?.epoch ?? 0;
    const c = this.viewCache;
    if (c && c.version === this.structureVersion && c.epoch === epoch) return c.view;
    const view = computeMacroView(this.fileName, this.syntax, this.lines, this.facts, env, this.structureVersion, (v, st) => { expandCall(v, st); });
    this.viewCache = { version: this.structureVersion, epoch, view };
    return view;
  }

  /** The macro view last computed (with the environment the diagnostics used), for hover and fixes. */
  currentMacroView(): MacroView {
    const c = this.viewCache;
    return c && c.version === this.structureVersion ? c.view : this.macroView();
  }

  private scanLine(line: string, state: ScanState): LineFacts {
    // A pasted megabyte on one line must not stall the editor (the AT&T operand scanner is not
    // linear in the operand's length): it is reported, not analysed; the scanner state carries over.
    const limit = this.syntax === 'att' ? MAX_ATT_SCANNED_LINE : MAX_SCANNED_LINE;
    if (line.length > limit) {
      return { defs: [], refs: [], instructions: [], errors: [{ message: `line of ${line.length.toLocaleString('en-US')} characters: longer than ${limit.toLocaleString('en-US')}, not analysed`, code: 'line-too-long', start: 0, end: line.length }] };
    }
    return compact(this.scanLineRaw(line, state));
  }

  private scanLineRaw(line: string, state: ScanState): LineFacts {
    try {
      if (this.syntax === 'att') {
        const s: AttScanState = { inBlockComment: state.inBlockComment ?? false, inMacro: state.inMacro, continuation: state.continuation, blockDepth: state.blockDepth, blockBits: state.blockBits, code64: state.code64, joined: state.joined };
        const f = scanAttLine(line, s);
        Object.assign(state, s);
        return f;
      }
      return scanNasmLine(line, state);
    } catch (err) {
      // The scanners are written not to throw; if one does, the line is simply not understood.
      return { defs: [], refs: [], instructions: [], errors: [{ message: `internal scanner error: ${(err as Error).message}`, code: 'internal', start: 0, end: line.length }] };
    }
  }

  /**
   * The edit that turned version `since` into the current one, when exactly one did: old lines
   * [from, oldEnd) became lines [from, newEnd), and the lines after moved by newEnd − oldEnd.
   */
  lastEditSince(since: number): { from: number; oldEnd: number; newEnd: number } | undefined {
    if (since !== this.version - 1) return undefined;
    const h = this.history[this.history.length - 1];
    return h && h.version === this.version ? h : undefined;
  }

  /** Table facts of an instruction (cached per scanned instruction object). */
  classify(instr: LineFacts['instructions'][number]): Classified | undefined {
    let c = this.classified.get(instr);
    if (c === undefined) {
      c = classify(instr) ?? null;
      this.classified.set(instr, c);
    }
    return c ?? undefined;
  }

  /** The first `popek: mode=…` marker, with its line. */
  modeOverride(): { mode: string; line: number } | undefined {
    if (this.overrideLines <= 0) return undefined;
    for (let i = 0; i < this.facts.length; i++) {
      const m = this.facts[i].modeOverride;
      if (m) return { mode: m, line: i };
    }
    return undefined;
  }

  /** Symbols defined and referenced in this document (NASM local labels qualified). */
  symbols(): SymbolTable {
    if (this.symbolCache) return this.symbolCache;
    const byName = new Map<string, SymbolInfo>();
    const lineScopes: Array<string | undefined> = [];
    let scope: string | undefined;
    const get = (name: string, kind: SymbolInfo['kind']): SymbolInfo => {
      let s = byName.get(name);
      if (!s) { s = { name, kind, defs: [], refs: [] }; byName.set(name, s); }
      return s;
    };
    for (let line = 0; line < this.facts.length; line++) {
      const f = this.facts[line];
      for (const d of f.defs) {
        const full = this.qualify(d.name, scope);
        const s = get(full, d.kind);
        s.kind = d.kind;
        s.defs.push({ line, start: d.start, end: d.end });
        if (d.kind === 'label' && this.syntax === 'nasm' && !d.name.startsWith('.') && !d.name.startsWith('..@')) scope = d.name;
      }
      lineScopes.push(scope);
      for (const r of f.refs) get(this.qualify(r.name, scope), 'label').refs.push({ line, start: r.start, end: r.end });
      if (f.macroCall && !f.instructions[0]?.known) get(f.macroCall.name, 'macro').refs.push({ line, start: f.macroCall.start, end: f.macroCall.end });
    }
    this.symbolCache = { byName, lineScopes };
    return this.symbolCache;
  }

  /**
   * Names defined in the document (qualified), without the references: a cheap pass for
   * completion, which runs on every keystroke (the full table is rebuilt only on demand).
   */
  definitions(): Array<{ name: string; kind: SymbolInfo['kind'] }> {
    if (this.definitionCache?.version === this.defsVersion) return this.definitionCache.names;
    const names: Array<{ name: string; kind: SymbolInfo['kind'] }> = [];
    const seen = new Set<string>();
    let scope: string | undefined;
    for (const f of this.facts) {
      if (f.defs.length === 0) continue;
      for (const d of f.defs) {
        const full = this.qualify(d.name, scope);
        if (d.kind === 'label' && this.syntax === 'nasm' && !d.name.startsWith('.') && !d.name.startsWith('..@')) scope = d.name;
        if (seen.has(full)) continue;
        seen.add(full);
        names.push({ name: full, kind: d.kind });
      }
    }
    this.definitionCache = { version: this.defsVersion, names };
    return names;
  }

  private definitionCache?: { version: number; names: Array<{ name: string; kind: SymbolInfo['kind'] }> };

  /** Qualified name of `name` as written on a line whose enclosing non-local label is `scope`. */
  qualify(name: string, scope: string | undefined): string {
    if (this.syntax === 'nasm' && name.startsWith('.') && !name.startsWith('..') && scope) return scope + name;
    return name;
  }

  /** The symbol (qualified name) whose def or ref covers (line, character). */
  symbolAt(line: number, character: number): { name: string; start: number; end: number } | undefined {
    const f = this.facts[line];
    if (!f) return undefined;
    const table = this.symbols();
    const scope = table.lineScopes[line];
    for (const d of f.defs) {
      // A local label's scope is the non-local label in effect on its line.
      if (character >= d.start && character <= d.end) return { name: this.qualify(d.name, scope), start: d.start, end: d.end };
    }
    for (const r of f.refs) if (character >= r.start && character <= r.end) return { name: this.qualify(r.name, scope), start: r.start, end: r.end };
    if (f.macroCall && character >= f.macroCall.start && character <= f.macroCall.end) return { ...f.macroCall };
    return undefined;
  }
}
