/*
 * NASM's preprocessor: %define/%xdefine/%idefine, %assign, %macro (defaults, greedy +), %rep, %include,
 * %if/%ifdef/%ifidn… . Runs line by line and hands every resulting line to `st.emit` (the parser), with
 * the source line it came from; expansion is bounded (MAX_EXPANDED_LINES) so a runaway %rep or a
 * recursive macro is a diagnostic, not a hang.
 */
import type { AssembleOptions, Diagnostic, MacroSymbol, Range } from './ast';
import { commentStart, parseExpressionText, splitArgs, splitLines, T, tokenize } from './parser';
import { evalConst } from './expressions';
import { evaluate, type EvalScope } from './operands';
import { joinContinuations, pasteTokens, stringDirective } from './ppStrings';
import { conditionArgument, contextDirective, mangleContextLocals, topContextIs, type PPContext } from './ppContext';

export interface Define { params?: string[]; body: string; caseless?: boolean }
export interface Macro { name: string; min: number; max: number; body: string[]; file: string; range: Range; caseless: boolean; greedy?: boolean; defaults?: string[] }

export interface PPState {
  defines: Map<string, Define>;
  macros: Map<string, Macro>;
  /** Receives every preprocessed line (parsed into statements at once). */
  emit: (text: string, file: string, line: number, expanded: boolean, origLength: number, origIndent: number) => void;
  diags: Diagnostic[];
  files: string[];
  opts: AssembleOptions;
  macroSymbols: MacroSymbol[];
  uniq: number;
  mainFile: string;
  /** Lines produced so far by %rep and macro expansion (bounded by MAX_EXPANDED_LINES). */
  expandedLines: number;
  /** Set when the expansion budget ran out: preprocessing stops (one diagnostic says where). */
  stopped: boolean;
  /** The assembler's first pass as it stands: `$` and the symbols defined so far, for %if / %assign. */
  scope?: EvalScope;
  /** NASM's context stack (%push/%pop), top last: `%$name` is local to the top context. */
  contexts: PPContext[];
  /** Set once an `%include` could not be read: from then on `%ifdef` of an undefined name is a guess. */
  includeMissing?: boolean;
  /** Lines (`file\nline`) emitted inside such a guessed branch (Diagnostic.underMissingInclude). */
  guessedLines?: Set<string>;
  /** Nesting of expansions (macros, %rep, %include) that started inside a guessed branch. */
  guessedDepth?: number;
}

/**
 * Most lines %rep and macros may produce in one assembly. A user's `%rep 1000000000` or a macro
 * calling itself twice is stopped here with a diagnostic instead of running for minutes (the
 * editor assembles on every pause in typing). Far above real guests (an IDT is 256 × a few lines).
 */
export const MAX_EXPANDED_LINES = 100_000;

/** Longest line assembled (characters); a longer one is reported and skipped (its parse would recurse too deep). */
export const MAX_LINE_LENGTH = 20_000;

/** Charges `n` expanded lines; false (with a diagnostic, once) when the budget is spent. */
function chargeExpansion(st: PPState, n: number, range: Range, file: string | undefined, what: string): boolean {
  if (st.stopped) return false;
  st.expandedLines += n;
  if (st.expandedLines <= MAX_EXPANDED_LINES) return true;
  st.stopped = true;
  st.diags.push({ range, severity: 'error', code: 'preprocessor', message: `${what} expands to more than ${MAX_EXPANDED_LINES.toLocaleString('en-US')} lines: assembly stopped here`, file });
  return false;
}

export function lineRange(line: number, a: number, b: number): Range { return { start: { line, character: a }, end: { line, character: b } }; }

function pathDir(p: string): string { const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\')); return i >= 0 ? p.slice(0, i + 1) : ''; }
function joinPath(from: string, p: string): string {
  if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) return p;
  const parts = (pathDir(from) + p).split('/');
  const out: string[] = [];
  for (const s of parts) { if (s === '..' && out.length && out[out.length - 1] !== '..' && out[out.length - 1] !== '') out.pop(); else if (s !== '.') out.push(s); }
  return out.join('/');
}

const IDENT_RE = /[A-Za-z_.?@$][\w.?@$#~]*/y;

/** Replaces %define'd identifiers (outside strings and comments). */
function expandDefines(text: string, defines: Map<string, Define>, depth = 0): string {
  if (defines.size === 0 || depth > 16) return text;
  if (defines.size < 64) {
    let any = false;
    let lower: string | undefined;
    for (const [name, d] of defines) {
      if (d.caseless) { lower ??= text.toLowerCase(); if (lower.includes(name)) { any = true; break; } }
      else if (text.includes(name)) { any = true; break; }
    }
    if (!any) return text;
  }
  let out = '';
  let i = 0;
  let changed = false;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === ';') { out += text.slice(i); break; }
    if (c === '\'' || c === '"' || c === '`') {
      const j = text.indexOf(c, i + 1);
      const e = j < 0 ? n : j + 1;
      out += text.slice(i, e);
      i = e;
      continue;
    }
    if (/[A-Za-z_.?@$]/.test(c) && (i === 0 || !/[\w.?@$#~%]/.test(text[i - 1]))) {
      IDENT_RE.lastIndex = i;
      const m = IDENT_RE.exec(text);
      const id = m ? m[0] : c;
      let d = defines.get(id);
      if (!d) { const l = defines.get(id.toLowerCase()); if (l?.caseless) d = l; }
      if (d) {
        const j = i + id.length;
        if (d.params) {
          let k = j;
          while (k < n && text[k] === ' ') k++;
          if (text[k] === '(') {
            let depthP = 0; let e = k;
            for (; e < n; e++) { if (text[e] === '(') depthP++; else if (text[e] === ')') { depthP--; if (depthP === 0) break; } }
            const args = splitArgs(text, k + 1, e, 0).map((a) => a.text);
            let body = d.body;
            d.params.forEach((p, pi) => { body = body.replace(new RegExp(`(?<![\\w.?@$#~])${p.replace(/[.?$]/g, '\\$&')}(?![\\w.?@$#~])`, 'g'), args[pi] ?? ''); });
            out += body;
            i = e + 1;
            changed = true;
            continue;
          }
          out += id; i = j; continue;
        }
        out += d.body;
        i = j;
        changed = true;
        continue;
      }
      out += id;
      i += id.length;
      continue;
    }
    out += c;
    i++;
  }
  return changed ? expandDefines(out, defines, depth + 1) : out;
}

/**
 * Evaluates a preprocessor expression: numbers and %define'd numbers, and — as nasm, whose preprocessor
 * runs in step with the assembler — `$`, `$$` and the labels and `equ`s defined above it (their values
 * as the first pass has them). `dynamic`: it needed those.
 */
function ppValue(text: string, st: PPState, file: string, line: number, range: Range): { v: number | undefined; dynamic: boolean; expanded: string } {
  const expanded = expandLine(text, st.defines);
  const { expr, diagnostics } = parseExpressionText(expanded, line, file === st.mainFile ? undefined : file);
  if (diagnostics.length) { for (const d of diagnostics) st.diags.push({ ...d, range }); return { v: undefined, dynamic: false, expanded }; }
  const undef: string[] = [];
  const v = evalConst(expr, (name) => {
    if (name.startsWith('__?') || name === '__NASM_MAJOR__') return undefined;
    undef.push(name);
    return undefined;
  });
  if (v !== undefined && !undef.length) return { v, dynamic: false, expanded };
  if (st.scope) {
    const r = evaluate(expr, st.scope);
    if (!r.error && r.known && !r.undef) return { v: r.n, dynamic: true, expanded };
  }
  st.diags.push({ range, severity: 'error', code: 'undefined-symbol', message: undef.length ? `symbol '${undef[0]}' is not defined in a preprocessor expression` : 'preprocessor expression is not a constant', file: file === st.mainFile ? undefined : file });
  return { v: undefined, dynamic: false, expanded };
}

function ppEval(text: string, st: PPState, file: string, line: number, range: Range): number | undefined {
  return ppValue(text, st, file, line, range).v;
}

/** %define expansion, then `%+` pasting (and expansion again of what the pasting made). */
function expandLine(text: string, defines: Map<string, Define>): string {
  const e = expandDefines(text, defines);
  const pasted = pasteTokens(e);
  return pasted === e ? e : expandDefines(pasted, defines);
}

export interface Source { text: string; line: number; expanded: boolean; origLength: number; origIndent: number }

/** `sources` are a file's own lines (strings: line = index) or lines produced by macro/%rep expansion. */
export function preprocess(sources: ReadonlyArray<Source | string>, file: string, st: PPState, depth: number): void {
  if (depth > 32) {
    const s = sources[0];
    if (s !== undefined) st.diags.push({ range: typeof s === 'string' ? lineRange(0, 0, s.length) : lineRange(s.line, 0, s.origLength), severity: 'error', code: 'preprocessor', message: 'macro or %include nesting too deep', file: file === st.mainFile ? undefined : file });
    return;
  }
  const diagFile = file === st.mainFile ? undefined : file;
  // %if stack: active = this branch is taken; done = some branch already taken; parentActive
  const ifs: Array<{ active: boolean; done: boolean; parent: boolean; guessed: boolean }> = [];
  const active = () => ifs.length === 0 || ifs[ifs.length - 1].active;
  const guessed = () => (st.guessedDepth ?? 0) > 0 || (ifs.length > 0 && ifs[ifs.length - 1].guessed);
  /** st.emit, remembering a line of a guessed branch. */
  const emit = (text: string, f: string, line: number, expanded: boolean, origLength: number, origIndent: number) => {
    if (guessed()) (st.guessedLines ??= new Set()).add(`${f}\n${line}`);
    st.emit(text, f, line, expanded, origLength, origIndent);
  };
  /** A nested preprocess (macro body, %rep, %include) of a guessed branch: its lines are guessed too. */
  const nested = (run: () => void) => {
    const g = guessed();
    if (g) st.guessedDepth = (st.guessedDepth ?? 0) + 1;
    try { run(); } finally { if (g) st.guessedDepth = (st.guessedDepth ?? 1) - 1; }
  };
  let macroDef: { m: Macro; nesting: number } | undefined;
  let rep: { count: number; body: Source[]; nesting: number; src: Source } | undefined;
  for (let idx = 0; idx < sources.length; idx++) {
    if (st.stopped) return;
    const entry = sources[idx];
    const length = typeof entry === 'string' ? entry.length : entry.text.length;
    if (length > MAX_LINE_LENGTH) {
      const line = typeof entry === 'string' ? idx : entry.line;
      st.diags.push({ range: lineRange(line, 0, typeof entry === 'string' ? length : entry.origLength), severity: 'error', code: 'preprocessor', message: `line of ${length.toLocaleString('en-US')} characters: longer than ${MAX_LINE_LENGTH.toLocaleString('en-US')}, not assembled`, file: file === st.mainFile ? undefined : file });
      continue;
    }
    // fast path: an ordinary line of the file outside %macro/%rep bodies, no %define or macro in play
    if (typeof entry === 'string' && !macroDef && !rep && st.defines.size === 0 && st.macros.size === 0 && (ifs.length === 0 || ifs[ifs.length - 1].active)) {
      const k = indentOf(entry);
      const percent = entry.indexOf('%', k);
      if (percent < 0 || (percent !== k && !entry.includes('%+', percent) && !entry.includes('%$', percent))) {
        emit(entry, file, idx, false, entry.length, k);
        continue;
      }
    }
    const src: Source = typeof entry === 'string' ? { text: entry, line: idx, expanded: false, origLength: entry.length, origIndent: indentOf(entry) } : entry;
    const raw = src.text;
    const trimmed = raw.trimStart();
    const indent = raw.length - trimmed.length;
    const isDirective = trimmed.startsWith('%') && /^%[A-Za-z]/.test(trimmed);
    let code = raw;
    let m: RegExpExecArray | null = null;
    if (isDirective) {
      const cs = commentStart(raw);
      code = (cs >= 0 ? raw.slice(0, cs) : raw).trimEnd();
      m = /^%(\w+)\s*(.*)$/.exec(code.trimStart());
    }
    const dir = m ? m[1].toLowerCase() : '';
    let rest = m ? m[2].trim() : '';
    if (!isDirective && !macroDef && !rep && (ifs.length === 0 || ifs[ifs.length - 1].active) && st.macros.size === 0) {
      // ordinary line with %defines in play
      const e = expandLine(contextLocal(raw, st, src, file), st.defines);
      emit(e, file, src.line, src.expanded || e !== raw, src.origLength, src.origIndent);
      continue;
    }
    if (!isDirective) {
      const cs = commentStart(raw);
      code = (cs >= 0 ? raw.slice(0, cs) : raw).trimEnd();
    }
    const range = src.expanded ? lineRange(src.line, src.origIndent, src.origLength) : lineRange(src.line, indent, Math.max(code.length, indent));
    const err = (message: string, code2 = 'preprocessor') => st.diags.push({ range, severity: 'error', code: code2, message, file: diagFile });

    if (macroDef) {
      if (dir === 'macro' || dir === 'imacro') macroDef.nesting++;
      if ((dir === 'endmacro' || dir === 'endm') && macroDef.nesting-- === 0) {
        const mm = macroDef.m;
        mm.range = { start: mm.range.start, end: range.end };
        st.macros.set(mm.caseless ? mm.name.toLowerCase() : mm.name, mm);
        st.macroSymbols.push({ name: mm.name, file, range: mm.range, minParams: mm.min, maxParams: mm.max });
        macroDef = undefined;
        continue;
      }
      macroDef.m.body.push(raw);
      continue;
    }
    if (rep) {
      if (dir === 'rep') rep.nesting++;
      if (dir === 'endrep' && rep.nesting-- === 0) {
        const r = rep;
        rep = undefined;
        const body = r.body.map((s) => ({ ...s, expanded: true, line: r.src.line, origLength: r.src.origLength, origIndent: r.src.origIndent }));
        const repRange = lineRange(r.src.line, r.src.origIndent, Math.max(r.src.origLength, r.src.origIndent));
        for (let k = 0; k < r.count; k++) {
          if (!chargeExpansion(st, Math.max(1, body.length), repRange, diagFile, `%rep ${r.count}`)) break;
          nested(() => preprocess(body, file, st, depth + 1));
        }
        continue;
      }
      rep.body.push(src);
      continue;
    }
    const condition = isDirective ? CONDITIONAL.exec(dir) : null;
    if (condition && condition[1] !== undefined) {
      const opening = condition[1] === 'if';
      const top = ifs[ifs.length - 1];
      if (!opening && !top) { err(`%${dir} without %if`); continue; }
      const evaluate = opening ? active() : top.parent && !top.done;
      const kind = condition[3] ?? '';
      const cond = evaluate && conditionHolds(kind, condition[2] === 'n', kind === 'ctx' ? rest : contextLocal(rest, st, src, file), st, file, src.line, range);
      // `%ifdef NAME` with NAME undefined after a missing %include: NAME may be that file's.
      const name = rest.split(/\s/)[0];
      const guess = st.includeMissing === true && kind === 'def' && !st.defines.has(name) && !st.defines.has(name.toLowerCase());
      if (opening) ifs.push({ active: evaluate && cond, done: evaluate && cond, parent: evaluate, guessed: guessed() || guess });
      else if (guess) top.guessed = true;
      else { top.active = evaluate && cond; if (top.active) top.done = true; }
      continue;
    }
    if (isDirective && (dir === 'else' || dir === 'endif')) {
      const top = ifs[ifs.length - 1];
      if (!top) { err(`%${dir} without %if`); continue; }
      if (dir === 'endif') { ifs.pop(); continue; }
      top.active = top.parent && !top.done; top.done = true;
      continue;
    }
    if (!active()) continue;
    if (isDirective) {
      if (dir !== 'macro' && dir !== 'imacro') rest = contextLocal(rest, st, src, file);
      switch (dir) {
        case 'define': case 'xdefine': case 'idefine': case 'xidefine': {
          const dm = /^([A-Za-z_.?@$][\w.?@$#~]*)(\(([^)]*)\))?\s*(.*)$/.exec(rest);
          if (!dm) { err(`%${dir} needs a name`); break; }
          const caseless = dir === 'idefine' || dir === 'xidefine';
          let body = dm[4];
          if (dir.startsWith('x')) body = expandDefines(body, st.defines);
          st.defines.set(caseless ? dm[1].toLowerCase() : dm[1], { params: dm[3] !== undefined ? dm[3].split(',').map((s) => s.trim()).filter(Boolean) : undefined, body, caseless });
          break;
        }
        case 'undef': st.defines.delete(rest.split(/\s/)[0]); break;
        case 'defstr': case 'idefstr': case 'deftok': case 'ideftok': case 'strlen': case 'substr': case 'strcat': {
          const r = stringDirective(dir, rest, (t) => expandLine(t, st.defines), (t) => ppEval(t, st, file, src.line, range));
          if ('error' in r) err(r.error);
          else st.defines.set(r.caseless ? r.name.toLowerCase() : r.name, { body: r.body, caseless: r.caseless });
          break;
        }
        case 'assign': case 'iassign': {
          const am = /^([A-Za-z_.?@$][\w.?@$#~]*)\s+(.*)$/.exec(rest);
          if (!am) { err('%assign needs a name and a value'); break; }
          const { v, dynamic, expanded } = ppValue(am[2], st, file, src.line, range);
          if (v === undefined) break;
          let body = String(v);
          if (dynamic) {
            // `%assign size $ - start`: the code gets the value of the last pass through a hidden equ
            // (the first pass's `$` can still move); %if sees the first pass's value, as it must
            body = `..@assign.${++st.uniq}`;
            emit(`${body} equ (${expanded})`, file, src.line, true, src.origLength, src.origIndent);
          }
          st.defines.set(dir === 'iassign' ? am[1].toLowerCase() : am[1], { body, caseless: dir === 'iassign' });
          break;
        }
        case 'macro': case 'imacro': {
          // `%macro name min-max+ defaults…`: `+` joins extra arguments into the last; defaults fill the optional ones.
          const mm = /^([^\s]+)\s*(\d+)?\s*(?:-\s*(\d+|\*))?(\+)?\s*(.*)$/.exec(rest);
          if (!mm) { err('%macro needs a name and a parameter count'); break; }
          const min = mm[2] ? Number(mm[2]) : 0;
          const max = mm[3] === '*' ? Infinity : mm[3] ? Number(mm[3]) : min;
          const defaults = mm[5]?.trim() ? splitArgs(mm[5], 0, mm[5].length, 0).map((a) => a.text) : undefined;
          macroDef = { m: { name: mm[1], min, max, body: [], file, range, caseless: dir === 'imacro', greedy: mm[4] === '+', defaults }, nesting: 0 };
          break;
        }
        case 'endmacro': case 'endm': err('%endmacro without %macro'); break;
        case 'rep': {
          const v = ppEval(rest, st, file, src.line, range);
          if (v !== undefined && v > MAX_EXPANDED_LINES) err(`%rep ${v} repeats more than ${MAX_EXPANDED_LINES.toLocaleString('en-US')} times`);
          rep = { count: Math.max(0, Math.min(v ?? 0, MAX_EXPANDED_LINES)), body: [], nesting: 0, src };
          break;
        }
        case 'endrep': err('%endrep without %rep'); break;
        case 'include': {
          const pm = /^(["'<])(.*)["'>]$/.exec(rest);
          if (!pm) { err('%include expects a quoted file name', 'syntax'); break; }
          const target = st.opts.resolveInclude?.(pm[2], file) ?? joinPath(file, pm[2]);
          let text: string | undefined;
          try { text = st.opts.readFile?.(pm[2], file); } catch { text = undefined; }
          if (text === undefined) { err(`cannot open include file '${pm[2]}'`, 'include'); st.includeMissing = true; break; }
          if (!st.files.includes(target)) st.files.push(target);
          nested(() => preprocess(joinContinuations(splitLines(text)), target, st, depth + 1));
          break;
        }
        case 'error': err(rest.replace(/^["'](.*)["']$/, '$1') || '%error', 'user-error'); break;
        case 'warning': st.diags.push({ range, severity: 'warning', code: 'user-warning', message: rest.replace(/^["'](.*)["']$/, '$1'), file: diagFile }); break;
        case 'push': case 'pop': case 'repl': {
          const r = contextDirective(dir, rest, st.contexts, () => ++st.uniq);
          if (r.error) err(r.error);
          break;
        }
        case 'line': case 'pragma': case 'use': case 'clear': break;
        default: err(`unknown preprocessor directive '%${dir}'`);
      }
      continue;
    }
    // ordinary line: context-local names, %define substitution, then macro call?
    const local = contextLocal(raw, st, src, file);
    let text = local;
    let expanded = src.expanded;
    if (st.defines.size || local.includes('%+')) {
      const e = expandLine(local, st.defines);
      if (e !== local) { text = e; expanded = true; }
    }
    if (st.macros.size) {
      const mc = /^(\s*)(?:([A-Za-z_.?@$][\w.?@$#~]*)\s*:\s*)?([A-Za-z_.?@$][\w.?@$#~]*)(?=\s|$|;)/.exec(text);
      if (mc) {
        const name = mc[3];
        const macro = st.macros.get(name) ?? st.macros.get(name.toLowerCase());
        if (macro && (!macro.caseless || true) && (st.macros.get(name) || macro.caseless)) {
          if (mc[2]) emit(mc[1] + mc[2] + ':', file, src.line, expanded, src.origLength, src.origIndent);
          const c2 = commentStart(text);
          const argText = (c2 >= 0 ? text.slice(0, c2) : text).slice(mc[0].length);
          const args = argText.trim() ? splitArgs(argText, 0, argText.length, 0).map((a) => a.text) : [];
          if (macro.greedy && args.length > macro.max && macro.max > 0) args.splice(macro.max - 1, args.length, args.slice(macro.max - 1).join(', '));
          for (let k = args.length; k < macro.max && macro.defaults && k - macro.min < macro.defaults.length; k++) if (k >= macro.min) args.push(macro.defaults[k - macro.min]);
          if (args.length < macro.min || args.length > macro.max) {
            // NASM joins extra arguments into the last one for greedy macros; otherwise it is an error
            st.diags.push({ range: src.expanded ? range : lineRange(src.line, indent, Math.max(code.length, indent)), severity: 'error', code: 'macro', message: `macro '${macro.name}' takes ${macro.min === macro.max ? macro.min : `${macro.min}–${macro.max === Infinity ? 'any' : macro.max}`} parameter(s), got ${args.length}`, file: diagFile });
            continue;
          }
          if (!chargeExpansion(st, Math.max(1, macro.body.length), range, diagFile, `macro '${macro.name}'`)) return;
          const id = ++st.uniq;
          const body = macro.body.map((l) => substituteMacro(l, args, id));
          nested(() => preprocess(body.map((t) => ({ text: t, line: src.line, expanded: true, origLength: src.expanded ? src.origLength : Math.max(code.length, indent), origIndent: src.expanded ? src.origIndent : indent })), file, st, depth + 1));
          continue;
        }
      }
    }
    emit(text, file, src.line, expanded, src.origLength, src.origIndent);
  }
  if (macroDef) st.diags.push({ range: macroDef.m.range, severity: 'error', code: 'preprocessor', message: `%macro ${macroDef.m.name} has no %endmacro`, file: diagFile });
  if (rep) st.diags.push({ range: lineRange(rep.src.line, rep.src.origIndent, rep.src.origLength), severity: 'error', code: 'preprocessor', message: '%rep has no %endrep', file: diagFile });
  if (ifs.length && depth === 0) {
    const last = sources[sources.length - 1];
    const r = last === undefined ? lineRange(0, 0, 0) : typeof last === 'string' ? lineRange(sources.length - 1, 0, last.length) : lineRange(last.line, 0, last.origLength);
    st.diags.push({ range: r, severity: 'error', code: 'preprocessor', message: '%if has no %endif', file: diagFile });
  }
}

/** `%if…`/`%elif…` with an optional `n` and a kind (`%ifdef`, `%elifnidni`, `%ifmacro` …). */
const CONDITIONAL = /^(if|elif)(n?)(def|macro|idn|idni|num|id|str|empty|ctx|token|env)?$|^(else|endif)$/;

/** Whether a conditional holds (NASM manual §4.4). `%ifenv` is false: no environment here. */
function conditionHolds(kind: string, negate: boolean, rest: string, st: PPState, file: string, line: number, range: Range): boolean {
  const name = rest.split(/\s/)[0];
  let v: boolean;
  switch (kind) {
    case '': v = (ppEval(rest, st, file, line, range) ?? 0) !== 0; break;
    case 'def': v = st.defines.has(name) || st.defines.get(name.toLowerCase())?.caseless === true; break;
    case 'macro': v = st.macros.has(name) || st.macros.get(name.toLowerCase())?.caseless === true; break;
    case 'idn': case 'idni': {
      // the same tokens once expanded, whitespace aside (%ifidni: case aside too)
      const expanded = expandLine(rest, st.defines);
      const [a = '', b = ''] = splitArgs(expanded, 0, expanded.length, 0).map((x) => x.text.replace(/\s+/g, ''));
      // nasm's quirk: a blank before the comma is a token left over on the first side (`%ifidn a , a` is false)
      const blankBeforeComma = /\s,/.test(expanded) && /^[^,]*\s,/.test(expanded);
      v = !blankBeforeComma && (kind === 'idn' ? a === b : a.toLowerCase() === b.toLowerCase());
      break;
    }
    case 'num': case 'id': case 'str': case 'token': {
      const toks = tokenize(expandLine(rest, st.defines).trim());
      const one = toks.length === 2 ? toks[0] : undefined;
      v = one !== undefined && (kind === 'token' || (kind === 'num' ? one.t === T.Number : kind === 'id' ? one.t === T.Ident : one.t === T.String));
      break;
    }
    case 'empty': v = expandLine(rest, st.defines).trim() === ''; break;
    case 'ctx': v = topContextIs(rest, st.contexts); break;
    default: v = false;
  }
  return v !== negate;
}

function substituteMacro(line: string, args: string[], id: number): string {
  return line.replace(/%(%[A-Za-z_.?@$][\w.?@$#~]*|0|\d+|\{\d+\}|[+-]\d+)/g, (all, what: string) => {
    if (what.startsWith('%')) return `..@${id}.${what.slice(1)}`;
    if (what === '0') return String(args.length);
    if (what[0] === '+' || what[0] === '-') return conditionArgument(args[Number(what.slice(1)) - 1] ?? '', what[0] === '-') ?? all;
    const n = Number(what.replace(/[{}]/g, ''));
    return n >= 1 ? (args[n - 1] ?? '') : all;
  });
}

/** `text` with its `%$name`s spelled as the context stack has them now (an error if it is too shallow). */
function contextLocal(text: string, st: PPState, src: Source, file: string): string {
  const r = mangleContextLocals(text, st.contexts);
  if (r.error) st.diags.push({ range: lineRange(src.line, src.origIndent, Math.max(src.origLength, src.origIndent)), severity: 'error', code: 'preprocessor', message: r.error, file: file === st.mainFile ? undefined : file });
  return r.text;
}

export function indentOf(t: string): number {
  let k = 0;
  while (k < t.length && (t.charCodeAt(k) === 32 || t.charCodeAt(k) === 9)) k++;
  return k;
}

