/*
 * What a macro call assembles to. A statement whose first word is a macro (GNU as `.macro`, cpp
 * `#define`, NASM `%macro`/`%define`) is expanded the way the real tool would (arguments, defaults,
 * `\()`, `\@`, `.altmacro`, `%1`, `%%`, nested calls, `.irp`/`.rept` and simple `.if`s inside),
 * and the expansion is scanned like source: the instructions it holds are what the call line
 * assembles to (`as -g` and `gcc -E` put them on the call line too).
 */
import { scanAttLine, initialAttState, splitStatements } from './att';
import { scanNasmLine } from './nasmScanner';
import { callArguments, expandCpp } from './cpp';
import type { ScannedInstruction, Syntax } from './lineModel';
import { altmacroAt, gasExpression, lookupMacro, parseGasParams, stripAttComment, type GasMacro, type MacroView, type NasmMacro, type Origin } from './macroView';

export interface ExpandedInstruction {
  instr: ScannedInstruction;
  /** The instruction's text in the expansion (`pushl %ds`). */
  text: string;
  /** The outermost macro called on the line. */
  macro: string;
  /** The definition line it comes from, when known (for the quick fix and the hover). */
  origin?: Origin;
}

export interface Expansion {
  macro: string;
  /** The expanded source, one entry per line. */
  lines: string[];
  instructions: ExpandedInstruction[];
  /** The `.altmacro` mode the call was expanded in (the mode at its line). */
  altmacro?: boolean;
  /**
   * No call: the statement's own instruction, with the cpp macros in its operands replaced
   * (`pcmpeqd RNOT, RNOT` after `#define RNOT %xmm7`), as GNU as reads it.
   */
  substituted?: boolean;
}

const MAX_DEPTH = 12;
const MAX_LINES = 5000;

let uniqueCounter = 0;

/** Splits GNU as macro-call arguments: commas, or blanks outside quotes and parentheses. */
export function splitGasArguments(text: string): Array<{ text: string; rest: string }> {
  const out: Array<{ text: string; rest: string }> = [];
  let depth = 0;
  let quote = false;
  let cur = '';
  let start = 0;
  let i = 0;
  const push = (): void => { if (cur.trim() || out.length || text.slice(i).includes(',')) out.push({ text: cur.trim(), rest: text.slice(start).trim() }); cur = ''; };
  for (; i < text.length; i++) {
    const c = text[i];
    if (quote) { cur += c; if (c === '\\') cur += text[++i] ?? ''; else if (c === '"') quote = false; continue; }
    if (c === '"') { quote = true; cur += c; continue; }
    if (c === '(' || c === '<') depth++;
    else if ((c === ')' || c === '>') && depth > 0) depth--;
    if (depth === 0 && (c === ',' || /\s/.test(c))) {
      // Blanks around a comma or `=` do not separate.
      if (/\s/.test(c)) {
        let j = i;
        while (j < text.length && /\s/.test(text[j])) j++;
        if (text[j] === ',' || text[j] === '=' || cur.trimEnd().endsWith('=') || !cur.trim()) { i = j - 1; continue; }
      }
      push();
      start = i + 1;
      while (start < text.length && /[\s,]/.test(text[start]) && text[start] !== ',') start++;
      if (c !== ',') { while (i + 1 < text.length && /\s/.test(text[i + 1])) i++; if (text[i + 1] === ',') i++; start = i + 1; }
      continue;
    }
    cur += c;
  }
  if (cur.trim()) out.push({ text: cur.trim(), rest: text.slice(start).trim() });
  return out;
}

/** The body of a GNU as macro call with its parameters replaced. */
export function expandGasMacro(def: GasMacro, argText: string, altmacro: boolean): string[] {
  const values = new Map<string, string>();
  const args = splitGasArguments(argText);
  let positional = 0;
  for (let k = 0; k < args.length; k++) {
    const a = args[k];
    const kw = /^([A-Za-z_.$][\w.$]*)\s*=\s*(.*)$/s.exec(a.text);
    const named = kw ? def.params.find((p) => p.name === kw[1]) : undefined;
    if (named && kw) { values.set(named.name, kw[2]); continue; }
    while (positional < def.params.length && values.has(def.params[positional].name)) positional++;
    const p = def.params[positional];
    if (!p) break;
    if (p.vararg) { values.set(p.name, a.rest); break; }
    values.set(p.name, a.text.replace(/^<(.*)>$/s, '$1'));
    positional++;
  }
  for (const p of def.params) if (!values.has(p.name)) values.set(p.name, p.default?.replace(/^"(.*)"$/s, '$1') ?? '');
  const unique = String(uniqueCounter++);
  return def.body.map((line) => {
    let out = line.replace(/\\([A-Za-z_.$][\w.$]*|\(\)|@)/g, (m, name: string) => {
      if (name === '()') return '';
      if (name === '@') return unique;
      const v = values.get(name);
      return v ?? m;
    });
    if (altmacro && values.size) out = out.replace(/(?<![\w.$%\\])([A-Za-z_.$][\w.$]*)&?/g, (m, name: string) => values.get(name) ?? m);
    return out;
  });
}

/** The body of a NASM macro call (`%1`…, `%0`, `%%label`, `%{1}`, `%+`), or of a `%define`. */
export function expandNasmMacro(def: NasmMacro, argText: string): string[] {
  const args: string[] = [];
  let depth = 0;
  let cur = '';
  let quote = '';
  for (let i = 0; i < argText.length; i++) {
    const c = argText[i];
    if (quote) { cur += c; if (c === quote) quote = ''; continue; }
    if (c === '"' || c === "'" || c === '`') { quote = c; cur += c; continue; }
    if (c === '{' || c === '(' || c === '[') depth++;
    if (c === '}' || c === ')' || c === ']') depth--;
    if (c === ',' && depth === 0 && !(def.greedy && args.length === def.min - 1)) { args.push(cur.trim()); cur = ''; continue; }
    cur += c;
  }
  if (cur.trim() || args.length) args.push(cur.trim());
  for (let k = args.length; k < def.max && def.defaults && k >= def.min && k - def.min < def.defaults.length; k++) args.push(def.defaults[k - def.min]);
  const unbrace = (a: string): string => a.replace(/^\{(.*)\}$/s, '$1');
  if (def.params) {
    // `%define F(x) …`: parameters by name.
    return def.body.map((line) => line.replace(/[A-Za-z_.?@$][\w.?@$#~]*/g, (m) => { const k = def.params!.indexOf(m); return k >= 0 ? unbrace(args[k] ?? '') : m; }));
  }
  const unique = `..@${uniqueCounter++}.`;
  return def.body.map((line) => line
    .replace(/%%/g, unique)
    .replace(/%\{(\d+)\}|%(\d+)/g, (_m, a: string | undefined, b: string | undefined) => unbrace(args[Number(a ?? b) - 1] ?? ''))
    .replace(/%0\b/g, String(args.length))
    .replace(/\s*%\+\s*/g, ''));
}

/** Splits a GNU as line (comment removed) into statements at `;` outside strings. */
function statements(code: string): string[] {
  return splitStatements(code).map((sp) => code.slice(sp.start, sp.end));
}

/** The first word of a statement after its labels, and the rest. */
export function statementHead(statement: string, syntax: Syntax): { word: string; rest: string; offset: number } | undefined {
  const re = syntax === 'att' ? /^(\s*(?:(?:[A-Za-z_.$][\w.$]*|[0-9]+)\s*:(?!=)\s*)*)([A-Za-z_.$][\w.$]*)/ : /^(\s*(?:[A-Za-z_.?@$][\w.?@$#~]*\s*:\s*)?)([A-Za-z_.?@$][\w.?@$#~]*)/;
  const m = re.exec(statement);
  if (!m) return undefined;
  return { word: m[2], rest: statement.slice(m[0].length), offset: m[1].length };
}

/** Evaluates a GNU as `.if…` line inside an expansion; undefined when it cannot be judged. */
function gasCondition(name: string, args: string, symbols: ReadonlyMap<string, number>): boolean | undefined {
  const two = (): [string, string] => { const k = args.indexOf(','); return k < 0 ? [args.trim(), ''] : [args.slice(0, k).trim(), args.slice(k + 1).trim()]; };
  const unq = (s: string): string => s.replace(/^"(.*)"$/s, '$1').replace(/^'(.*)'$/s, '$1');
  const value = (): number | undefined => gasExpression(args, symbols);
  const known = (): boolean | undefined => (symbols.has(args.trim()) ? true : undefined);
  switch (name) {
    case 'ifb': return args.trim() === '';
    case 'ifnb': return args.trim() !== '';
    case 'ifc': case 'ifeqs': { const [a, b] = two(); return unq(a) === unq(b); }
    case 'ifnc': case 'ifnes': { const [a, b] = two(); return unq(a) !== unq(b); }
    case 'if': case 'ifne': case 'elseif': { const v = value(); return v === undefined ? undefined : v !== 0; }
    case 'ifeq': { const v = value(); return v === undefined ? undefined : v === 0; }
    case 'ifgt': case 'ifge': case 'iflt': case 'ifle': {
      const v = value();
      if (v === undefined) return undefined;
      return name === 'ifgt' ? v > 0 : name === 'ifge' ? v >= 0 : name === 'iflt' ? v < 0 : v <= 0;
    }
    // Defined as an absolute symbol: known; otherwise it may be a label the view does not track.
    case 'ifdef': return known();
    case 'ifndef': case 'ifnotdef': { const k = known(); return k === undefined ? undefined : !k; }
    default: return undefined;
  }
}

/**
 * Expands and scans `lines` (source text from a macro body or a call), following nested calls.
 * `origins[k]` is where line k comes from (inherited by what it expands to).
 */
function collect(view: MacroView, lines: string[], origins: Array<Origin | undefined>, macro: string, depth: number, out: Expansion): void {
  if (view.syntax === 'att') { collectGas(view, lines, origins, macro, depth, out); return; }
  for (let k = 0; k < lines.length; k++) {
    if (out.lines.length > MAX_LINES) return;
    const origin = origins[k];
    const raw = lines[k];
    const code = raw.replace(/;.*$/, '');
    const head = statementHead(code, 'nasm');
    const m = head ? lookupMacro(view, head.word) : undefined;
    if (head && m && m.kind === 'nasm' && depth < MAX_DEPTH) {
      collect(view, expandNasmMacro(m, head.rest.trim()), m.body.map((_, j) => origin ?? m.origins[j]), macro, depth + 1, out);
      continue;
    }
    out.lines.push(raw);
    const f = scanNasmLine(raw, { inMacro: false });
    for (const instr of f.instructions) if (instr.known) out.instructions.push({ instr, text: raw.slice(instr.start, instr.end).trim(), macro, origin });
  }
}

/**
 * GNU as: the lines (after cpp) as statements, in order — a cpp macro may expand to a whole
 * `.macro …; .endm; call` sequence on one line (Linux's BEGIN_IRQ_SAVE(op)).
 */
function collectGas(view: MacroView, lines: string[], origins: Array<Origin | undefined>, macro: string, depth: number, out: Expansion): void {
  const altmacro = out.altmacro ?? view.altmacro;
  const state = initialAttState();
  const cond: Array<{ active: boolean; taken: boolean }> = [];
  const activeNow = (): boolean => cond.every((c) => c.active);
  const sts: string[] = [];
  const stOrigins: Array<Origin | undefined> = [];
  lines.forEach((raw, k) => { for (const st of statements(expandCpp(stripAttComment(raw), view.cpp))) { sts.push(st); stOrigins.push(origins[k]); } });
  for (let k = 0; k < sts.length; k++) {
    if (out.lines.length > MAX_LINES) return;
    const origin = stOrigins[k];
    const st = sts[k];
    const head = statementHead(st, 'att');
    const word = head?.word.toLowerCase();
    // Conditionals and repetitions of GNU as inside the expansion.
    // A condition the view cannot judge takes its branch (the `.if` one, or the first `.elseif`).
    if (word && /^\.if/.test(word)) {
      const parent = activeNow();
      const v = parent ? gasCondition(word.slice(1), head!.rest, view.gasSymbols) ?? true : false;
      cond.push({ active: v, taken: v || !parent });
      continue;
    }
    const top = cond[cond.length - 1];
    if (word === '.elseif' && top) { const v = !top.taken && (gasCondition('elseif', head!.rest, view.gasSymbols) ?? true); top.active = v; top.taken ||= v; continue; }
    if (word === '.else' && top) { top.active = !top.taken; top.taken = true; continue; }
    if (word === '.endif') { cond.pop(); continue; }
    if (!activeNow()) continue;
    if (word === '.macro') {
      // A macro defining a macro: the inner one exists from this expansion on, and emits nothing here.
      let nest = 0;
      let end = k + 1;
      for (; end < sts.length; end++) {
        const e = statementHead(sts[end], 'att')?.word.toLowerCase();
        if (e === '.macro') nest++;
        else if (e === '.endm') { if (nest === 0) break; nest--; }
      }
      const m = /^\s*([A-Za-z_.$][\w.$]*)\s*,?\s*(.*)$/s.exec(head!.rest);
      if (m && !view.gas.has(m[1].toLowerCase())) {
        const body = sts.slice(k + 1, end);
        view.gas.set(m[1].toLowerCase(), { kind: 'gas', name: m[1], params: parseGasParams(m[2]), body, origins: stOrigins.slice(k + 1, end).map((o) => o ?? { file: '', line: 0 }), at: origin ?? { file: '', line: 0 } });
      }
      k = end;
      continue;
    }
    if ((word === '.irp' || word === '.irpc' || word === '.rept') && depth < MAX_DEPTH) {
      let nest = 0;
      let end = k + 1;
      for (; end < sts.length; end++) {
        const e = statementHead(sts[end], 'att')?.word.toLowerCase();
        if (e === '.irp' || e === '.irpc' || e === '.rept') nest++;
        else if (e === '.endr') { if (nest === 0) break; nest--; }
      }
      const body = sts.slice(k + 1, end);
      const bodyOrigins = stOrigins.slice(k + 1, end);
      if (word === '.rept') collect(view, body, bodyOrigins, macro, depth + 1, out);
      else {
        const m = /^\s*([A-Za-z_.$][\w.$]*)\s*,?\s*(.*)$/s.exec(head!.rest);
        const values = m ? (word === '.irpc' ? [...m[2].trim()] : m[2].split(/\s*,\s*|\s+/).filter(Boolean)) : [];
        for (const v of values.length ? values : ['']) {
          collect(view, body.map((l) => l.replace(new RegExp(`\\\\${m?.[1] ?? '\\0'}\\b|\\\\\\(\\)`, 'g'), (x) => (x === '\\()' ? '' : v))), bodyOrigins, macro, depth + 1, out);
        }
      }
      k = end;
      continue;
    }
    const m = head ? lookupMacro(view, head.word) : undefined;
    if (head && m && m.kind === 'gas' && depth < MAX_DEPTH) {
      collect(view, expandGasMacro(m, head.rest, altmacro), m.body.map((_, j) => origin ?? m.origins[j]), macro, depth + 1, out);
      continue;
    }
    out.lines.push(st.trim());
    const f = scanAttLine(st, state);
    for (const instr of f.instructions) if (instr.known) out.instructions.push({ instr, text: st.slice(instr.start, instr.end).trim(), macro, origin });
  }
}

/**
 * The expansion of one statement that calls a macro (`SAVE_ALL`, `save %ebx`, `SYSCALL(fork)`,
 * `PUSHALL 1, 2`), or undefined when its first word is no macro.
 */
export function expandCall(view: MacroView, statement: string, line?: number): Expansion | undefined {
  const att = view.syntax === 'att';
  const head = statementHead(statement, view.syntax);
  if (!head) return undefined;
  const m = lookupMacro(view, head.word);
  if (!m) return att ? cppSubstituted(view, statement, head.word) : undefined;
  const out: Expansion = { macro: head.word, lines: [], instructions: [], altmacro: line === undefined ? view.altmacro : altmacroAt(view, line) };
  if (m.kind === 'cpp') {
    // cpp replaces the macro (and any other in the line) before GNU as reads it.
    const def = view.cpp.get(head.word)!;
    if (def.params && !/^\s*\(/.test(head.rest)) return undefined;
    if (def.params) {
      const open = statement.indexOf('(', head.offset + head.word.length);
      if (!callArguments(statement, open)) return undefined;
    }
    const at = view.cppAt.get(head.word);
    collect(view, [statement], [at], head.word, 0, out);
    return out;
  }
  if (att && m.kind === 'gas') collect(view, expandGasMacro(m, head.rest, out.altmacro!), m.origins, m.name, 1, out);
  else if (!att && m.kind === 'nasm') collect(view, expandNasmMacro(m, head.rest.trim()), m.origins, m.name, 1, out);
  else return undefined;
  return out;
}

/** A statement whose operands name cpp macros, as GNU as gets it from cpp; undefined when it names none. */
function cppSubstituted(view: MacroView, statement: string, word: string): Expansion | undefined {
  if (view.cpp.size === 0 || expandCpp(statement, view.cpp) === statement) return undefined;
  const out: Expansion = { macro: word, lines: [], instructions: [], substituted: true };
  collect(view, [statement], [undefined], word, 0, out);
  return out;
}

/** The statements of a line of code (comments removed) with their offsets. */
export function lineStatements(code: string, syntax: Syntax): Array<{ text: string; start: number; end: number }> {
  if (syntax === 'nasm') return [{ text: code, start: 0, end: code.length }];
  const out: Array<{ text: string; start: number; end: number }> = [];
  let start = 0;
  for (const st of statements(code)) {
    out.push({ text: st, start, end: start + st.length });
    start += st.length + 1;
  }
  return out;
}
