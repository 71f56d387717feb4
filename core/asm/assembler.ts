/*
 * NASM-compatible multi-pass assembler producing a flat image (`nasm -f bin`, whose default is -Ox):
 * preprocessor (%define, %assign, %macro, %include, %if…, %rep), then passes over the statements
 * until every size and label settles (short jumps, sign-extended imm8, disp8), then emission.
 * Never throws: every problem is a diagnostic with the range of the statement or operand.
 */
import type {
  AssembleOptions, AssemblyResult, ConstantSymbol, Diagnostic, Expr, LabelSymbol, MacroSymbol, Operand, Range, SectionLayout,
  SourceMapEntry, Statement,
} from './ast';
import { commentStart, parseExpressionText, parseLine, splitArgs, splitLines, withLine, type LineContext } from './parser';
import { encodeInstruction, type ROp, type Value } from './encoder';
import { register } from './registers';
import { instructionInfo } from '../isa/table';
import { PREDEFINED } from './predefined';

// ================================================================= preprocessor

interface Define { params?: string[]; body: string; caseless?: boolean }
interface Macro { name: string; min: number; max: number; body: string[]; file: string; range: Range; caseless: boolean; greedy?: boolean; defaults?: string[] }

interface PPState {
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

function lineRange(line: number, a: number, b: number): Range { return { start: { line, character: a }, end: { line, character: b } }; }

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

/** Evaluates a preprocessor expression (numbers and %define'd numbers only). */
function ppEval(text: string, st: PPState, file: string, line: number, range: Range): number | undefined {
  const expanded = expandDefines(text, st.defines);
  const { expr, diagnostics } = parseExpressionText(expanded, line, file === st.mainFile ? undefined : file);
  if (diagnostics.length) { for (const d of diagnostics) st.diags.push({ ...d, range }); return undefined; }
  const undef: string[] = [];
  const v = evalConst(expr, (name) => {
    if (name.startsWith('__?') || name === '__NASM_MAJOR__') return undefined;
    undef.push(name);
    return undefined;
  });
  if (undef.length || v === undefined) {
    st.diags.push({ range, severity: 'error', code: 'undefined-symbol', message: undef.length ? `symbol '${undef[0]}' is not defined in a preprocessor expression` : 'preprocessor expression is not a constant', file: file === st.mainFile ? undefined : file });
    return undefined;
  }
  return v;
}

function evalConst(e: Expr, lookup: (name: string) => number | undefined): number | undefined {
  switch (e.kind) {
    case 'number': return e.value;
    case 'string': return strValue(e.value);
    case 'symbol': return lookup(e.name);
    case 'unary': { const a = evalConst(e.arg, lookup); return a === undefined ? undefined : unaryOp(e.op, a); }
    case 'binary': {
      const a = evalConst(e.left, lookup); const b = evalConst(e.right, lookup);
      if (a === undefined || b === undefined) return undefined;
      return binaryOp(e.op, a, b) ?? undefined;
    }
    default: return undefined;
  }
}

function strValue(s: string): number {
  let v = 0;
  for (let i = Math.min(s.length, 8) - 1; i >= 0; i--) v = v * 256 + (s.charCodeAt(i) & 0xff);
  return v;
}

function unaryOp(op: string, a: number): number {
  switch (op) { case '-': return -a; case '+': return a; case '~': return ~a; default: return a ? 0 : 1; }
}

/** NASM binary operators on 32-bit-ish integers; null for division by zero. */
function binaryOp(op: string, a: number, b: number): number | null {
  switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) * BigInt(Math.trunc(b))));
    case '/': if (b === 0) return null; return Math.floor(toU(a) / toU(b));
    case '//': if (b === 0) return null; return Math.trunc(a / b);
    case '%': if (b === 0) return null; return toU(a) % toU(b);
    case '%%': if (b === 0) return null; return a % b;
    case '<<': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) << BigInt(b & 63)));
    case '>>': return Number(BigInt.asUintN(64, BigInt(Math.trunc(a))) >> BigInt(b & 63)) ;
    case '<<<': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) << BigInt(b & 63)));
    case '>>>': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a))) >> BigInt(b & 63));
    case '&': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) & BigInt(Math.trunc(b))));
    case '|': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) | BigInt(Math.trunc(b))));
    case '^': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) ^ BigInt(Math.trunc(b))));
    case '==': return a === b ? 1 : 0;
    case '!=': case '<>': return a !== b ? 1 : 0;
    case '<': return a < b ? 1 : 0;
    case '<=': return a <= b ? 1 : 0;
    case '>': return a > b ? 1 : 0;
    case '>=': return a >= b ? 1 : 0;
    case '<=>': return a < b ? -1 : a > b ? 1 : 0;
    case '&&': return a && b ? 1 : 0;
    case '||': return a || b ? 1 : 0;
    case '^^': return (!a) !== (!b) ? 1 : 0;
  }
  return 0;
}
/** Unsigned view for NASM's unsigned / and %: values below 2^32 stay as they are, negatives wrap to 64 bits. */
function toU(a: number): number { return a < 0 ? Number(BigInt.asUintN(64, BigInt(Math.trunc(a)))) : a; }

interface Source { text: string; line: number; expanded: boolean; origLength: number; origIndent: number }

/** `sources` are a file's own lines (strings: line = index) or lines produced by macro/%rep expansion. */
function preprocess(sources: ReadonlyArray<Source | string>, file: string, st: PPState, depth: number): void {
  if (depth > 32) {
    const s = sources[0];
    if (s !== undefined) st.diags.push({ range: typeof s === 'string' ? lineRange(0, 0, s.length) : lineRange(s.line, 0, s.origLength), severity: 'error', code: 'preprocessor', message: 'macro or %include nesting too deep', file: file === st.mainFile ? undefined : file });
    return;
  }
  const diagFile = file === st.mainFile ? undefined : file;
  // %if stack: active = this branch is taken; done = some branch already taken; parentActive
  const ifs: Array<{ active: boolean; done: boolean; parent: boolean }> = [];
  const active = () => ifs.length === 0 || ifs[ifs.length - 1].active;
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
      if (entry.charCodeAt(k) !== 37 /* % */) {
        st.emit(entry, file, idx, false, entry.length, k);
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
    const rest = m ? m[2].trim() : '';
    if (!isDirective && !macroDef && !rep && (ifs.length === 0 || ifs[ifs.length - 1].active) && st.macros.size === 0) {
      // ordinary line with %defines in play
      const e = expandDefines(raw, st.defines);
      st.emit(e, file, src.line, src.expanded || e !== raw, src.origLength, src.origIndent);
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
          preprocess(body, file, st, depth + 1);
        }
        continue;
      }
      rep.body.push(src);
      continue;
    }
    if (isDirective && (dir === 'if' || dir === 'ifdef' || dir === 'ifndef' || dir === 'ifmacro' || dir === 'ifidn' || dir === 'ifidni')) {
      const parent = active();
      let cond = false;
      if (parent) {
        if (dir === 'if') cond = (ppEval(rest, st, file, src.line, range) ?? 0) !== 0;
        else if (dir === 'ifdef') cond = st.defines.has(rest.split(/\s/)[0]);
        else if (dir === 'ifndef') cond = !st.defines.has(rest.split(/\s/)[0]);
        else if (dir === 'ifmacro') cond = st.macros.has(rest.split(/\s/)[0]);
        else {
          const [a, b] = splitArgs(expandDefines(rest, st.defines), 0, expandDefines(rest, st.defines).length, 0).map((x) => x.text.trim());
          cond = dir === 'ifidn' ? a === b : (a ?? '').toLowerCase() === (b ?? '').toLowerCase();
        }
      }
      ifs.push({ active: parent && cond, done: parent && cond, parent });
      continue;
    }
    if (isDirective && (dir === 'elif' || dir === 'elifdef' || dir === 'elifndef' || dir === 'else' || dir === 'endif')) {
      const top = ifs[ifs.length - 1];
      if (!top) { err(`%${dir} without %if`); continue; }
      if (dir === 'endif') { ifs.pop(); continue; }
      if (dir === 'else') { top.active = top.parent && !top.done; top.done = true; continue; }
      let cond = false;
      if (top.parent && !top.done) {
        if (dir === 'elif') cond = (ppEval(rest, st, file, src.line, range) ?? 0) !== 0;
        else if (dir === 'elifdef') cond = st.defines.has(rest);
        else cond = !st.defines.has(rest);
      }
      top.active = top.parent && !top.done && cond;
      if (top.active) top.done = true;
      continue;
    }
    if (!active()) continue;
    if (isDirective) {
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
        case 'assign': case 'iassign': {
          const am = /^([A-Za-z_.?@$][\w.?@$#~]*)\s+(.*)$/.exec(rest);
          if (!am) { err('%assign needs a name and a value'); break; }
          const v = ppEval(am[2], st, file, src.line, range);
          if (v !== undefined) st.defines.set(dir === 'iassign' ? am[1].toLowerCase() : am[1], { body: String(v), caseless: dir === 'iassign' });
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
          if (text === undefined) { err(`cannot open include file '${pm[2]}'`, 'include'); break; }
          if (!st.files.includes(target)) st.files.push(target);
          preprocess(splitLines(text), target, st, depth + 1);
          break;
        }
        case 'error': err(rest.replace(/^["'](.*)["']$/, '$1') || '%error', 'user-error'); break;
        case 'warning': st.diags.push({ range, severity: 'warning', code: 'user-warning', message: rest.replace(/^["'](.*)["']$/, '$1'), file: diagFile }); break;
        case 'line': case 'pragma': case 'use': case 'push': case 'pop': case 'clear': break;
        default: err(`unknown preprocessor directive '%${dir}'`);
      }
      continue;
    }
    // ordinary line: %define substitution, then macro call?
    let text = raw;
    let expanded = src.expanded;
    if (st.defines.size) {
      const e = expandDefines(raw, st.defines);
      if (e !== raw) { text = e; expanded = true; }
    }
    if (st.macros.size) {
      const mc = /^(\s*)(?:([A-Za-z_.?@$][\w.?@$#~]*)\s*:\s*)?([A-Za-z_.?@$][\w.?@$#~]*)(?=\s|$|;)/.exec(text);
      if (mc) {
        const name = mc[3];
        const macro = st.macros.get(name) ?? st.macros.get(name.toLowerCase());
        if (macro && (!macro.caseless || true) && (st.macros.get(name) || macro.caseless)) {
          if (mc[2]) st.emit(mc[1] + mc[2] + ':', file, src.line, expanded, src.origLength, src.origIndent);
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
          preprocess(body.map((t) => ({ text: t, line: src.line, expanded: true, origLength: src.expanded ? src.origLength : Math.max(code.length, indent), origIndent: src.expanded ? src.origIndent : indent })), file, st, depth + 1);
          continue;
        }
      }
    }
    st.emit(text, file, src.line, expanded, src.origLength, src.origIndent);
  }
  if (macroDef) st.diags.push({ range: macroDef.m.range, severity: 'error', code: 'preprocessor', message: `%macro ${macroDef.m.name} has no %endmacro`, file: diagFile });
  if (rep) st.diags.push({ range: lineRange(rep.src.line, rep.src.origIndent, rep.src.origLength), severity: 'error', code: 'preprocessor', message: '%rep has no %endrep', file: diagFile });
  if (ifs.length && depth === 0) {
    const last = sources[sources.length - 1];
    const r = last === undefined ? lineRange(0, 0, 0) : typeof last === 'string' ? lineRange(sources.length - 1, 0, last.length) : lineRange(last.line, 0, last.origLength);
    st.diags.push({ range: r, severity: 'error', code: 'preprocessor', message: '%if has no %endif', file: diagFile });
  }
}

function substituteMacro(line: string, args: string[], id: number): string {
  return line.replace(/%(%[A-Za-z_.?@$][\w.?@$#~]*|0|\d+|\{\d+\})/g, (all, what: string) => {
    if (what.startsWith('%')) return `..@${id}.${what.slice(1)}`;
    if (what === '0') return String(args.length);
    const n = Number(what.replace(/[{}]/g, ''));
    return n >= 1 ? (args[n - 1] ?? '') : all;
  });
}

// ================================================================= assembler
interface Item {
  s: Statement;
  file: string;
  /** Source line; the statement's own ranges are lineless (line 0) unless `expanded`. */
  line: number;
  /** Range to report and map (the statement's own, or the whole source line for expanded text). */
  range: Range;
  expanded: boolean;
  size: number;
  forceNear: boolean;
  /** Operands (and times count) reference no symbol, `$` or `$$`: the bytes never change (undefined: not yet known). */
  pure: boolean | undefined;
  /** The cached bytes of a pure item (shared by the items of identical source lines). */
  cache: ByteCache | undefined;
  /** Prefix names of an instruction (computed once). */
  prefixNames: string[] | undefined;
}

/** `len` bytes at `off` in the assembler's cache pool, for `bits` (0: not filled yet). */
interface ByteCache { bits: number; off: number; len: number }

function newItem(s: Statement, file: string, line: number, range: Range, expanded: boolean, pure: boolean | undefined, cache: ByteCache | undefined): Item {
  return { s, file, line, range, expanded, size: 0, forceNear: false, pure, cache, prefixNames: undefined };
}

/** A section: `bytes[0..len)` holds its content in emitting passes (and for computing cached items). */
interface Section { name: string; index: number; progbits: boolean; align: number; pc: number; start: number; bytes: Uint8Array; len: number }

function reserve(sec: Section, extra: number): void {
  if (sec.len + extra <= sec.bytes.length) return;
  let cap = Math.max(256, sec.bytes.length * 2);
  while (cap < sec.len + extra) cap *= 2;
  const b = new Uint8Array(cap);
  b.set(sec.bytes.subarray(0, sec.len));
  sec.bytes = b;
}
interface Sym { section: number; offset: number; file: string; range: Range; pass: number; isLabel: boolean }

const SIZE_BITS: Record<string, number> = { byte: 8, word: 16, dword: 32, qword: 64, tword: 80, oword: 128 };

interface RegTerm { reg: number; size: number; mult: number; name: string }
interface EvalResult extends Value { regs?: RegTerm[]; undef?: string; error?: string }

class Assembler {
  private sections: Section[] = [];
  private cur!: Section;
  private symbols = new Map<string, Sym>();
  private pass = 0;
  private final = false;
  private bits: 16 | 32 = 32;
  private origin: number;
  private originSet = false;
  private diags: Diagnostic[] = [];
  private changed = false;
  private predefined: Record<string, number>;
  /**
   * Names declared `extern` or `common`: defined by the linker in the `-f elf32` objects kernels are
   * built from. They assemble as 0 here (a flat image has no relocations), and are never undefined.
   */
  private externs = new Set<string>();

  constructor(private readonly items: Item[], private readonly mainFile: string, opts: AssembleOptions) {
    this.origin = opts.origin ?? 0;
    this.predefined = Object.assign(Object.create(null), PREDEFINED, opts.predefined ?? {});
  }

  /** Errors seen so far, counted in every pass (diagnostics are only kept from emitting passes). */
  private errorCount = 0;
  private capture = false;

  private diag(item: Item, message: string, code: string, range?: Range, severity: Diagnostic['severity'] = 'error'): void {
    if (severity === 'error') this.errorCount++;
    if (!this.final) return;
    this.diags.push({ range: this.rangeOf(item, range), severity, code, message, file: item.file === this.mainFile ? undefined : item.file });
  }

  /** The real range of `range` (a lineless range inside `item`), or of the item itself. */
  private rangeOf(item: Item, range?: Range): Range {
    if (item.expanded) return item.range;
    return withLine(range ?? item.range, item.line);
  }

  private section(name: string): Section {
    let s = this.sections.find((x) => x.name === name);
    if (!s) {
      s = { name, index: this.sections.length, progbits: !/^\.?bss$/i.test(name), align: 4, pc: 0, start: 0, bytes: new Uint8Array(0), len: 0 };
      this.sections.push(s);
    }
    return s;
  }

  // ---- expression evaluation
  private evaluate(e: Expr, allowRegs = false): EvalResult {
    switch (e.kind) {
      case 'number': return { n: e.value, seg: -1, known: true };
      case 'string': return { n: strValue(e.value), seg: -1, known: true };
      case 'here': return { n: this.cur.start + this.cur.pc, seg: this.cur.index, known: true };
      case 'sectionStart': return { n: this.cur.start, seg: this.cur.index, known: true };
      case 'symbol': {
        const s = this.symbols.get(e.name);
        if (s) {
          if (s.section < 0) return { n: s.offset, seg: -1, known: true };
          return { n: this.sections[s.section].start + s.offset, seg: s.section, known: true };
        }
        const p = this.predefined[e.name];
        if (p !== undefined) return { n: p, seg: -1, known: true };
        if (this.externs.has(e.name)) return { n: 0, seg: -1, known: true };
        return { n: 0, seg: -1, known: false, undef: e.name };
      }
      case 'register': {
        const r = register(e.name);
        if (!r || r.kind !== 'gpr' || r.size === 8) return { n: 0, seg: -1, known: true, error: `register '${e.name}' cannot be used in an address` };
        if (!allowRegs) return { n: 0, seg: -1, known: true, error: `register '${e.name}' is not allowed here` };
        return { n: 0, seg: -1, known: true, regs: [{ reg: r.num, size: r.size, mult: 1, name: r.name }] };
      }
      case 'unary': {
        const a = this.evaluate(e.arg, allowRegs);
        if (a.error || a.undef) return a;
        if (a.regs) {
          if (e.op === '-') return { ...a, n: -a.n, regs: a.regs.map((r) => ({ ...r, mult: -r.mult })) };
          if (e.op === '+') return a;
          return { ...a, error: 'registers cannot be used with this operator' };
        }
        return { n: unaryOp(e.op, a.n), seg: e.op === '+' ? a.seg : -1, known: a.known };
      }
      case 'binary': {
        const a = this.evaluate(e.left, allowRegs);
        if (a.error) return a;
        const b = this.evaluate(e.right, allowRegs);
        if (b.error) return b;
        const undef = a.undef ?? b.undef;
        const known = a.known && b.known;
        if (a.regs || b.regs) {
          if (e.op === '+' || e.op === '-') {
            const rb = (b.regs ?? []).map((r) => ({ ...r, mult: e.op === '-' ? -r.mult : r.mult }));
            const regs = mergeRegs([...(a.regs ?? []), ...rb]);
            const seg = e.op === '+' ? (a.seg >= 0 ? a.seg : b.seg) : a.seg;
            return { n: e.op === '+' ? a.n + b.n : a.n - b.n, seg, known, regs, undef };
          }
          if (e.op === '*') {
            const [r, k] = a.regs ? [a, b] : [b, a];
            if (k.regs) return { n: 0, seg: -1, known, error: 'two registers cannot be multiplied' };
            return { n: r.n * k.n, seg: -1, known, regs: r.regs!.map((x) => ({ ...x, mult: x.mult * k.n })), undef };
          }
          return { n: 0, seg: -1, known, error: `registers cannot be used with '${e.op}'` };
        }
        const v = binaryOp(e.op, a.n, b.n);
        if (v === null) {
          if (!known) return { n: 0, seg: -1, known: false, undef };
          return { n: 0, seg: -1, known, error: 'division by zero' };
        }
        let seg = -1;
        if (e.op === '+') seg = a.seg >= 0 ? a.seg : b.seg;
        else if (e.op === '-') seg = a.seg >= 0 && b.seg < 0 ? a.seg : -1;
        return { n: v, seg, known, undef };
      }
      default: return { n: 0, seg: -1, known: true, error: 'invalid expression' };
    }
  }

  /** Evaluates a scalar expression, reporting undefined symbols and errors on the final pass. */
  private scalar(item: Item, e: Expr): EvalResult {
    const v = this.evaluate(e);
    if (v.error) this.diag(item, v.error, 'invalid-expression', e.range);
    else if (v.undef && this.final) this.diag(item, `symbol '${v.undef}' is not defined`, 'undefined-symbol', findSymbolRange(e, v.undef) ?? e.range);
    return v;
  }

  private resolveOperand(item: Item, op: Operand): ROp | undefined {
    switch (op.kind) {
      case 'register': {
        const r = register(op.name);
        if (!r) { this.diag(item, `unknown register '${op.name}'`, 'invalid-operands', op.range); return undefined; }
        return { t: 'reg', reg: r };
      }
      case 'immediate': {
        const v = this.scalar(item, op.expr);
        if (v.error) return undefined;
        return { t: 'imm', v, size: op.size ? SIZE_BITS[op.size] : undefined, strict: op.strict, jump: op.jump };
      }
      case 'far': {
        const sel = this.scalar(item, op.segment);
        const off = this.scalar(item, op.offset);
        if (sel.error || off.error) return undefined;
        return { t: 'far', sel, off };
      }
      case 'memory': {
        const v = this.evaluate(op.address, true);
        if (v.error) { this.diag(item, v.error, 'invalid-operands', op.range); return undefined; }
        if (v.undef && this.final) this.diag(item, `symbol '${v.undef}' is not defined`, 'undefined-symbol', findSymbolRange(op.address, v.undef) ?? op.range);
        let base = -1, index = -1, scale = 0;
        let regs16 = false;
        let regs32 = false;
        const regs = (v.regs ?? []).filter((r) => r.mult !== 0);
        for (const r of regs) {
          if (r.size === 16) regs16 = true; else regs32 = true;
          if (base < 0 && index < 0 && r.mult === 1) base = r.reg;
          else if (base < 0 && index < 0) { index = r.reg; scale = r.mult; }
          else if (base >= 0 && index < 0) { index = r.reg; scale = r.mult; }
          else if (base < 0 && r.mult === 1) base = r.reg;
          else { this.diag(item, 'invalid effective address: too many registers', 'invalid-operands', op.range); return undefined; }
        }
        if (regs16 && regs32) { this.diag(item, 'an address cannot mix 16- and 32-bit registers', 'invalid-operands', op.range); return undefined; }
        if (regs.some((r) => r.mult < 0)) { this.diag(item, 'invalid effective address: a register cannot be subtracted', 'invalid-operands', op.range); return undefined; }
        return {
          t: 'mem', size: op.size ? SIZE_BITS[op.size] : undefined, seg: op.segment, base, index, scale, disp: { n: v.n, seg: v.seg, known: v.known },
          hasDisp: true, dispSize: op.dispSize, nosplit: op.nosplit, far: op.jump === 'far', regs16, regs32,
        };
      }
    }
  }

  // ---- passes
  run(): void {
    // Sizing passes (pass 0 with forward references unknown) until no size, label or section start
    // changes; then one emitting pass that reports. If emission still moves something (it should
    // not), size again.
    const MAX_PASSES = 24;
    for (this.pass = 0; this.pass < MAX_PASSES; this.pass++) {
      this.changed = false;
      this.final = false;
      this.onePass();
      this.layout();
      if (this.changed || this.pass === 0) continue;
      this.pass++;
      this.final = true;
      this.diags = [];
      this.onePass();
      this.layout();
      if (!this.changed) return;
    }
    if (!this.final) { this.final = true; this.diags = []; this.pass++; this.onePass(); this.layout(); }
  }

  private resetSections(): void {
    for (const s of this.sections) { s.pc = 0; s.len = 0; }
    this.cur = this.section('.text');
    this.bits = 32;
  }

  private layout(): void {
    let addr = this.origin;
    const order = [...this.sections.filter((s) => s.progbits && s.name === '.text'), ...this.sections.filter((s) => s.progbits && s.name !== '.text'), ...this.sections.filter((s) => !s.progbits)];
    let first = true;
    for (const s of order) {
      if (!first) addr = Math.ceil(addr / s.align) * s.align;
      if (s.start !== addr) { s.start = addr; this.changed = true; }
      addr += s.pc;
      first = false;
    }
  }

  sourceMap: SourceMapEntry[] = [];
  labels: LabelSymbol[] = [];
  constants: ConstantSymbol[] = [];

  private define(item: Item, name: string, section: number, offset: number, isLabel: boolean, range: Range): void {
    const prev = this.symbols.get(name);
    if (prev && prev.pass === this.pass) {
      this.diag(item, `symbol '${name}' is already defined`, 'redefined', range);
      return;
    }
    if (!prev || prev.offset !== offset || prev.section !== section) this.changed = true;
    if (prev) { prev.section = section; prev.offset = offset; prev.file = item.file; prev.range = range; prev.pass = this.pass; prev.isLabel = isLabel; }
    else this.symbols.set(name, { section, offset, file: item.file, range, pass: this.pass, isLabel });
  }

  private onePass(): void {
    this.resetSections();
    const final = this.final;
    if (final) { this.sourceMap = []; this.labels = []; this.constants = []; }
    for (const item of this.items) {
      const s = item.s;
      switch (s.kind) {
        case 'label': {
          this.define(item, s.fullName, this.cur.index, this.cur.pc, true, s.range);
          if (final) this.labels.push({ name: s.fullName, address: this.cur.start + this.cur.pc, file: item.file, range: this.rangeOf(item, s.range), section: this.cur.name });
          break;
        }
        case 'equ': {
          const v = this.scalar(item, s.value);
          if (v.seg >= 0) this.define(item, s.name, v.seg, v.n - this.sections[v.seg].start, false, s.nameRange);
          else this.define(item, s.name, -1, v.n, false, s.nameRange);
          if (final && v.seg < 0) this.constants.push({ name: s.name, value: v.n, file: item.file, range: this.rangeOf(item, s.nameRange) });
          break;
        }
        case 'directive': this.directive(item, s); break;
        case 'instruction': case 'data': case 'times': this.emitItem(item); break;
        default: break;
      }
    }
  }

  private directive(item: Item, s: Extract<Statement, { kind: 'directive' }>): void {
    const arg0 = s.args[0];
    switch (s.name) {
      case 'bits': {
        const v = arg0?.expr ? this.scalar(item, arg0.expr) : undefined;
        if (v?.n === 32 || v?.n === 16) this.bits = v.n;
        else this.diag(item, 'bits must be 16 or 32', 'directive', arg0?.range ?? s.range);
        break;
      }
      case 'use16': this.bits = 16; break;
      case 'use32': this.bits = 32; break;
      case 'org': {
        const v = arg0?.expr ? this.scalar(item, arg0.expr) : undefined;
        if (!v || v.seg >= 0) { this.diag(item, 'org needs a constant address', 'directive', arg0?.range ?? s.range); break; }
        if (this.originSet && this.pass === 0 && v.n !== this.origin) this.diag(item, 'org given twice', 'directive', s.range);
        if (this.origin !== v.n) this.changed = true;
        this.origin = v.n;
        this.originSet = true;
        break;
      }
      case 'section': case 'segment': {
        if (!arg0) { this.diag(item, 'section needs a name', 'directive', s.range); break; }
        const sec = this.section(arg0.text);
        for (const a of s.args.slice(1)) {
          const t = a.text.toLowerCase();
          if (t === 'nobits') sec.progbits = false;
          else if (t === 'progbits') sec.progbits = true;
          else if (t.startsWith('align=')) { const n = Number(t.slice(6)); if (n > 0 && (n & (n - 1)) === 0) sec.align = Math.max(sec.align, n); else this.diag(item, `invalid alignment '${a.text}'`, 'directive', a.range); }
        }
        this.cur = sec;
        break;
      }
      case 'align': case 'alignb': {
        const v = arg0?.expr ? this.scalar(item, arg0.expr) : undefined;
        const n = v?.n ?? 0;
        if (!v || n <= 0 || (n & (n - 1)) !== 0) { this.diag(item, 'alignment must be a power of two', 'directive', arg0?.range ?? s.range); break; }
        this.cur.align = Math.max(this.cur.align, n);
        const pad = (n - (this.cur.pc % n)) % n;
        let fill = s.name === 'align' && this.cur.progbits ? 0x90 : 0;
        if (s.args[1]?.expr) { const f = this.scalar(item, s.args[1].expr); fill = f.n & 0xff; }
        this.put(item, new Array(pad).fill(fill), 'data', pad);
        break;
      }
      case 'extern': case 'common': {
        // `extern a, b:function` declares every name; `common buf 4096:4` only its first word.
        const names = s.name === 'common' ? s.args.slice(0, 1) : s.args;
        for (const a of names) { const name = a.text.split(':')[0].trim(); if (name) this.externs.add(name); }
        break;
      }
      case 'global': case 'cpu': case 'default': case 'static': case 'warning': break;
      case 'absolute': this.diag(item, "'absolute' is not supported by Popek's flat-binary output", 'directive', s.nameRange); break;
      default: this.diag(item, `unknown directive '${s.name}'`, 'directive', s.nameRange);
    }
  }

  /** Appends bytes (or reserves `size` bytes) in the current section and records the source map. */
  private put(item: Item, bytes: ArrayLike<number> | null, kind: 'instruction' | 'data', size: number): void {
    const sec = this.cur;
    if (sec.pc + size > MAX_SECTION) {
      this.diag(item, `section '${sec.name}' would grow beyond ${MAX_SECTION / 1048576} MiB`, 'range');
      return;
    }
    if (this.final) {
      if (size > 0) this.sourceMap.push({ address: sec.start + sec.pc, length: size, file: item.file, range: this.rangeOf(item), kind, section: sec.name });
      if (!sec.progbits && bytes && Array.prototype.some.call(bytes, (b: number) => b !== 0)) this.diag(item, `data in the nobits section '${sec.name}' is ignored`, 'nobits', undefined, 'warning');
    }
    if ((this.final || this.capture) && sec.progbits) {
      reserve(sec, size);
      if (bytes) {
        if (bytes instanceof Uint8Array) sec.bytes.set(bytes, sec.len);
        else for (let i = 0; i < bytes.length; i++) sec.bytes[sec.len + i] = bytes[i];
        sec.len += bytes.length;
      } else { sec.bytes.fill(0, sec.len, sec.len + size); sec.len += size; }
    }
    sec.pc += size;
  }

  /** Bytes of every cached (pure) item, back to back. */
  private cachePool = new Uint8Array(1 << 16);
  private cachePoolLen = 0;

  private emitItem(item: Item): void {
    const s = item.s;
    if (item.pure === undefined) item.pure = isPure(s);
    const c = item.cache;
    if (c !== undefined && c.bits === this.bits && this.cur.progbits) {
      const len = c.len;
      if (!this.final) { this.cur.pc += len; return; }
      this.putCached(item, s.kind === 'data' || (s.kind === 'times' && s.body.kind === 'data') ? 'data' : 'instruction', c.off, len);
      return;
    }
    if (item.pure) {
      // the bytes never change: compute them once (in whatever pass), then reuse
      const errors = this.errorCount;
      const sec = this.cur;
      const start = sec.len;
      const pc = sec.pc;
      this.capture = true;
      this.emitItemUncached(item);
      this.capture = false;
      if (this.errorCount === errors && sec === this.cur && sec.progbits && sec.len - start === sec.pc - pc) {
        const len = sec.len - start;
        if (this.cachePoolLen + len > this.cachePool.length) {
          let cap = this.cachePool.length * 2;
          while (cap < this.cachePoolLen + len) cap *= 2;
          const b = new Uint8Array(cap);
          b.set(this.cachePool.subarray(0, this.cachePoolLen));
          this.cachePool = b;
        }
        this.cachePool.set(sec.bytes.subarray(start, sec.len), this.cachePoolLen);
        const bc = c !== undefined && c.bits === 0 ? c : (item.cache = { bits: 0, off: 0, len: 0 });
        bc.bits = this.bits;
        bc.off = this.cachePoolLen;
        bc.len = len;
        this.cachePoolLen += len;
      }
      return;
    }
    this.emitItemUncached(item);
  }

  /** `put` of a cached item's bytes (from the cache pool). */
  private putCached(item: Item, kind: 'instruction' | 'data', off: number, size: number): void {
    const sec = this.cur;
    if (!sec.progbits || sec.pc + size > MAX_SECTION) { this.put(item, this.cachePool.subarray(off, off + size), kind, size); return; }
    if (size > 0) this.sourceMap.push({ address: sec.start + sec.pc, length: size, file: item.file, range: this.rangeOf(item), kind, section: sec.name });
    reserve(sec, size);
    const pool = this.cachePool;
    const out = sec.bytes;
    const at = sec.len;
    for (let i = 0; i < size; i++) out[at + i] = pool[off + i];
    sec.len += size;
    sec.pc += size;
  }

  private emitItemUncached(item: Item): void {
    const s = item.s;
    let count = 1;
    let body = s;
    if (s.kind === 'times') {
      const v = this.scalar(item, s.count);
      if (v.error) return;
      count = v.n;
      if (!v.known) count = 0;
      if (count < 0) { if (this.final) this.diag(item, `times count is negative (${count})`, 'range', s.count.range); count = 0; }
      if (count > 16 * 1024 * 1024) { this.diag(item, `times count ${count} is too large`, 'range', s.count.range); count = 0; }
      body = s.body;
    }
    if (body.kind === 'data') {
      const all: number[] = [];
      let reserve = 0;
      const fixed = !body.items.some(exprUsesHere);
      for (let k = 0; k < count; k++) {
        const r = this.dataBytes(item, body, k === 0);
        if (r === null) return;
        if (typeof r === 'number') { if (fixed) { reserve = r * count; break; } reserve += r; continue; }
        if (fixed && count > 1) {
          if (r.length * count > MAX_SECTION) { this.diag(item, `times ${count} makes more than ${MAX_SECTION / 1048576} MiB`, 'range'); return; }
          if (!this.final && !this.capture) { reserve = r.length * count; break; }
          for (let j = 0; j < count; j++) for (let b = 0; b < r.length; b++) all.push(r[b]);
          break;
        }
        for (const b of r) all.push(b);
      }
      if (reserve) this.put(item, this.final && !this.cur.progbits ? null : null, 'data', reserve);
      else this.put(item, all, 'data', all.length);
      return;
    }
    if (body.kind !== 'instruction') return;
    const ops: ROp[] = [];
    for (const o of body.operands) {
      const r = this.resolveOperand(item, o);
      if (!r) { this.put(item, [], 'instruction', 0); return; }
      ops.push(r);
    }
    const prefixes = item.prefixNames ??= body.prefixes.map((p) => p.name);
    let total: number[] = [];
    let size = 0;
    for (let k = 0; k < count; k++) {
      const enc = encodeInstruction(body.mnemonic, prefixes, ops, { bits: this.bits, address: this.cur.start + this.cur.pc + size, section: this.cur.index, forceNear: item.forceNear, sizeOnly: !this.final && !this.capture });
      if ('error' in enc) {
        const range = enc.operand !== undefined ? body.operands[enc.operand]?.range : enc.code === 'unknown-instruction' ? body.mnemonicRange : body.range;
        this.diag(item, enc.error, enc.code, range);
        return;
      }
      if (enc.warnings && k === 0) for (const w of enc.warnings) this.diag(item, w, 'range', body.range, 'warning');
      if (k === 0 && enc.length === 1 && enc.bytes[0] === 0x0f) this.diag(item, "'pop cs' only exists on the 8086: the byte 0F it assembles to starts a two-byte opcode on later CPUs", 'obsolete', body.range, 'warning');
      if (k === 0 && count > 1 && !enc.form.imm.some((i) => i === 'rel8' || i === 'rel32') && !usesHere(body)) {
        // position-independent: the same bytes every time
        size = enc.length * count;
        if (this.final || this.capture) { total = new Array(size); for (let j = 0; j < size; j++) total[j] = enc.bytes[j % enc.bytes.length]; }
        break;
      }
      if (this.final || this.capture) { if (count === 1) total = enc.bytes; else total = total.concat(enc.bytes); }
      size += enc.length;
    }
    if (item.size !== size) {
      if (item.size && size > item.size && this.pass > 6) item.forceNear = true;
      item.size = size;
      this.changed = true;
    }
    this.put(item, this.final || this.capture ? total : null, 'instruction', size);
  }

  /** Bytes of one data statement, or the number of bytes reserved; null on error. */
  private dataBytes(item: Item, s: Extract<Statement, { kind: 'data' }>, report: boolean): number[] | number | null {
    const unit = { db: 1, dw: 2, dd: 4, dq: 8, resb: 1, resw: 2, resd: 4, resq: 8, incbin: 1 }[s.directive];
    if (s.directive === 'incbin') { if (report) this.diag(item, 'incbin is not supported', 'directive', s.directiveRange); return null; }
    if (s.directive.startsWith('res')) {
      const v = s.items[0] ? this.scalar(item, s.items[0]) : undefined;
      if (!v || v.error) return null;
      if (s.items.length > 1 && report) this.diag(item, `${s.directive} takes one count`, 'syntax', s.items[1].range);
      if (v.n < 0 && v.known) { if (report) this.diag(item, `${s.directive} count is negative`, 'range', s.items[0].range); return 0; }
      if (v.known && v.seg >= 0 && report) this.diag(item, `${s.directive} count must be a constant`, 'range', s.items[0].range);
      return v.known ? Math.min(v.n, 64 * 1024 * 1024) * unit : 0;
    }
    const out: number[] = [];
    for (const e of s.items) {
      if (e.kind === 'string' && (unit === 1 || e.value.length > unit)) {
        for (let i = 0; i < e.value.length; i++) out.push(e.value.charCodeAt(i) & 0xff);
        const pad = (unit - (e.value.length % unit)) % unit;
        for (let i = 0; i < pad; i++) out.push(0);
        continue;
      }
      const v = this.scalar(item, e);
      if (v.error) return null;
      let n = v.n;
      if (unit === 1 && v.known && (n < -128 || n > 255) && report) this.diag(item, `byte value ${n} exceeds bounds`, 'range', e.range, 'warning');
      if (unit === 2 && v.known && (n < -32768 || n > 65535) && report) this.diag(item, `word value ${n} exceeds bounds`, 'range', e.range, 'warning');
      if (unit === 8) {
        const exact = e.kind === 'number' && e.big !== undefined ? e.big : e.kind === 'unary' && e.op === '-' && e.arg.kind === 'number' && e.arg.big !== undefined ? -e.arg.big : undefined;
        const big = BigInt.asUintN(64, exact ?? BigInt(Math.trunc(n)));
        for (let i = 0n; i < 8n; i++) out.push(Number((big >> (8n * i)) & 0xffn));
        continue;
      }
      for (let i = 0; i < unit; i++) { out.push(n & 0xff); n = Math.floor(n / 256); }
    }
    return out;
  }

  result(files: string[], macros: MacroSymbol[], preDiags: Diagnostic[]): AssemblyResult {
    const progbits = this.sections.filter((s) => s.progbits && s.pc > 0);
    let end = this.origin;
    for (const s of progbits) end = Math.max(end, s.start + s.pc);
    const size = Math.max(0, end - this.origin);
    let bytes: Uint8Array;
    try { bytes = new Uint8Array(size); } catch { bytes = new Uint8Array(0); }
    for (const s of progbits) {
      const off = s.start - this.origin;
      if (off < 0 || off >= bytes.length) continue;
      bytes.set(s.bytes.subarray(0, Math.min(s.len, bytes.length - off)), off);
    }
    const entryLabel = this.labels.find((l) => l.name === '_start') ?? this.labels.find((l) => l.name === 'start');
    const sections: SectionLayout[] = this.sections.map((s) => ({ name: s.name, start: s.start, size: s.pc, nobits: !s.progbits }));
    return {
      bytes, origin: this.origin, entry: entryLabel ? entryLabel.address : this.origin, sourceMap: this.sourceMap, labels: this.labels,
      constants: this.constants, macros, sections, diagnostics: [...preDiags, ...this.diags], files,
    };
  }
}

const MAX_SECTION = 64 * 1024 * 1024;

function exprUsesHere(e: Expr): boolean {
  if (e.kind === 'here' || e.kind === 'sectionStart') return true;
  if (e.kind === 'unary') return exprUsesHere(e.arg);
  if (e.kind === 'binary') return exprUsesHere(e.left) || exprUsesHere(e.right);
  return false;
}
function usesHere(s: Extract<Statement, { kind: 'instruction' }>): boolean {
  return s.operands.some((o) => o.kind === 'immediate' ? exprUsesHere(o.expr) : o.kind === 'memory' ? exprUsesHere(o.address) : o.kind === 'far' ? exprUsesHere(o.segment) || exprUsesHere(o.offset) : false);
}

function isPure(s: Statement): boolean {
  const pureExpr = (e: Expr): boolean => e.kind === 'number' || e.kind === 'string' || e.kind === 'register'
    || (e.kind === 'unary' && pureExpr(e.arg)) || (e.kind === 'binary' && pureExpr(e.left) && pureExpr(e.right));
  const pureOp = (o: Operand): boolean => o.kind === 'register' || (o.kind === 'immediate' ? pureExpr(o.expr) : o.kind === 'memory' ? pureExpr(o.address) : pureExpr(o.segment) && pureExpr(o.offset));
  if (s.kind === 'instruction') {
    // branches encode the distance to their target, which moves with the instruction
    const info = instructionInfo(s.mnemonic);
    if (info && info.forms.some((f) => f.imm[0] === 'rel8' || f.imm[0] === 'rel32')) return false;
    return s.operands.every(pureOp);
  }
  if (s.kind === 'data') return !s.directive.startsWith('res') && s.items.every(pureExpr);
  if (s.kind === 'times') return pureExpr(s.count) && isPure(s.body);
  return false;
}

function mergeRegs(regs: RegTerm[]): RegTerm[] {
  const out: RegTerm[] = [];
  for (const r of regs) {
    const same = out.find((x) => x.reg === r.reg && x.size === r.size);
    if (same) same.mult += r.mult; else out.push({ ...r });
  }
  return out;
}

function findSymbolRange(e: Expr, name: string): Range | undefined {
  if (e.kind === 'symbol') return e.name === name ? e.range : undefined;
  if (e.kind === 'unary') return findSymbolRange(e.arg, name);
  if (e.kind === 'binary') return findSymbolRange(e.left, name) ?? findSymbolRange(e.right, name);
  return undefined;
}

/** Assembles NASM-syntax source to a flat image (nasm -f bin). Never throws. */
export function assemble(fileName: string, text: string, options: AssembleOptions = {}): AssemblyResult {
  try {
    return assembleInner(fileName, typeof text === 'string' ? text : '', options);
  } catch (e) {
    return {
      bytes: new Uint8Array(0), origin: options.origin ?? 0, entry: options.origin ?? 0, sourceMap: [], labels: [], constants: [], macros: [], sections: [],
      diagnostics: [{ range: lineRange(0, 0, 0), severity: 'error', code: 'internal', message: `internal assembler error: ${e instanceof Error ? e.message : String(e)}` }],
      files: [fileName],
    };
  }
}

function indentOf(t: string): number {
  let k = 0;
  while (k < t.length && (t.charCodeAt(k) === 32 || t.charCodeAt(k) === 9)) k++;
  return k;
}

/** Phase timings for the benchmark (preprocess, parse, passes, result), when enabled. */
let PROFILE: number[][] | undefined;
export function profileAssembler(on: boolean): number[][] | undefined { const p = PROFILE; PROFILE = on ? [] : undefined; return p; }

function assembleInner(fileName: string, text: string, options: AssembleOptions): AssemblyResult {
  const items: Item[] = [];
  const ctx: LineContext = { line: 0, lastGlobal: '', diagnostics: [], statements: [], lineless: true };
  const parseDiags: Diagnostic[] = [];
  const lineCache = new Map<string, { s: Statement; cache: ByteCache }>();
  const emit = (text: string, file: string, line: number, expanded: boolean, origLength: number, origIndent: number): void => {
    const known = lineCache.get(text);
    if (known !== undefined) {
      // an identical line already parsed to one pure statement: share it (and its bytes)
      items.push(newItem(known.s, file, line, expanded ? lineRange(line, origIndent, Math.max(origLength, origIndent)) : known.s.range, expanded, true, known.cache));
      return;
    }
    ctx.file = file === fileName ? undefined : file;
    // one collector for every line (the statements are copied into items at once)
    ctx.statements.length = 0;
    if (ctx.diagnostics.length) ctx.diagnostics = [];
    parseLine(text, ctx);
    let pure: boolean | undefined;
    let cache: ByteCache | undefined;
    if (ctx.statements.length === 1 && ctx.diagnostics.length === 0) {
      // a pure statement depends on its text only (no symbol, label, `$`): later identical lines reuse it
      const s = ctx.statements[0];
      if ((s.kind === 'instruction' || s.kind === 'data' || s.kind === 'times') && isPure(s)) {
        pure = true;
        cache = { bits: 0, off: 0, len: 0 };
        lineCache.set(text, { s, cache });
      }
    }
    if (expanded) {
      const whole = lineRange(line, origIndent, Math.max(origLength, origIndent));
      for (const d of ctx.diagnostics) parseDiags.push({ ...d, range: whole });
      for (const s of ctx.statements) items.push(newItem(s, file, line, whole, true, pure, cache));
    } else {
      for (const d of ctx.diagnostics) parseDiags.push({ ...d, range: withLine(d.range, line) });
      for (const s of ctx.statements) items.push(newItem(s, file, line, s.range, false, pure, cache));
    }
  };
  const st: PPState = { defines: new Map(), macros: new Map(), emit, diags: [], files: [fileName], opts: options, macroSymbols: [], uniq: 0, mainFile: fileName, expandedLines: 0, stopped: false };
  const T0 = PROFILE ? performance.now() : 0;
  preprocess(splitLines(text), fileName, st, 0);
  const T1 = PROFILE ? performance.now() : 0;
  const T2 = PROFILE ? performance.now() : 0;
  const asm = new Assembler(items, fileName, options);
  asm.run();
  const T3 = PROFILE ? performance.now() : 0;
  const res = asm.result(st.files, st.macroSymbols, [...st.diags, ...parseDiags]);
  if (PROFILE) PROFILE.push([T1 - T0, T2 - T1, T3 - T2, performance.now() - T3]);
  return res;
}
