/*
 * The document-wide view the per-line facts cannot give: which macros exist (GNU as `.macro`,
 * NASM `%macro`/`%define`, cpp `#define`, also those of included files), which lines cpp skips
 * (`#if` evaluated), which lines are macro definitions (templates, not code) and which are the body
 * of an `.irp`/`.irpc`. It is recomputed only when a "structural" line changes (a directive, a
 * macro body; see LintDocument.structureVersion), and marks the line facts it concerns
 * (`inactive`, `macroBody`, `repeat`), which move with their lines on later edits.
 */
import type { LineFacts, Syntax } from './lineModel';
import { evaluateCondition, evaluateExpression, parseDefine, stripCComments, type CppMacros } from './cpp';
import { resolveInclude, type IncludeEnv } from './includes';
import { continuesOnNextLine, withoutContinuation } from '../asm/ppStrings';

/** Where a macro body line is: a file and line, and the line's facts when it is the document's own. */
export interface Origin { file: string; line: number; facts?: LineFacts }

export interface MacroParam { name: string; default?: string; required?: boolean; vararg?: boolean }

export interface GasMacro { kind: 'gas'; name: string; params: MacroParam[]; body: string[]; origins: Origin[]; at: Origin }
export interface NasmMacro {
  kind: 'nasm'; name: string; min: number; max: number; greedy: boolean; defaults?: string[]; params?: string[]; body: string[]; origins: Origin[]; at: Origin; caseless: boolean;
  /** A `%define` (what `%ifdef` asks about), not a `%macro` (what `%ifmacro` asks about). */
  singleLine?: boolean;
}

export interface RepeatBlock { kind: 'irp' | 'irpc'; param: string; values: string[] }

export interface MacroView {
  /** Changes whenever the view does (part of the line diagnostics' cache key). */
  key: string;
  syntax: Syntax;
  /** GNU as macros by lower-case name (GNU as matches macro names without case). */
  gas: Map<string, GasMacro>;
  /** NASM multi-line macros and single-line `%define`s (by name; `%imacro`/`%idefine` also lower-case). */
  nasm: Map<string, NasmMacro>;
  cpp: CppMacros;
  /** Where each cpp macro is defined. */
  cppAt: Map<string, Origin>;
  /** `.altmacro` in effect at the end of the walk (while walking: at the line being walked). */
  altmacro: boolean;
  /** GNU as absolute symbols (`.set`/`.equ`/`.equiv`/`sym = expr`) with a value known at that point, for `.if` in expansions. */
  gasSymbols: Map<string, number>;
  /** The document lines where `.altmacro`/`.noaltmacro` switch the mode, in order (altmacroAt). */
  altmacroSwitches: Array<{ line: number; on: boolean }>;
  /** Includes that could not be found (`#include`, `.include`, `%include`), by line of the document. */
  unresolved: Array<{ path: string; line: number }>;
}

/** What cpp predefines for `gcc -m32` on an assembler file. */
const PREDEFINED_CPP: Record<string, string> = { __ASSEMBLER__: '1', __i386__: '1', __i386: '1', i386: '1', __ELF__: '1', __GNUC__: '12', __STDC__: '1', __linux__: '1' };

let viewCounter = 0;

interface WalkContext {
  view: MacroView;
  /** Expands a call (macroCalls.ts, passed in to keep the modules acyclic). */
  defineFromCall?: (view: MacroView, statement: string) => void;
  env?: IncludeEnv;
  seen: Set<string>;
  /** While walking an included file: the document line of the outermost include. */
  includedAt?: number;
}

/** Parses GNU as macro parameters: `a, b=1, c:req, d:vararg` (commas or blanks between). */
export function parseGasParams(text: string): MacroParam[] {
  const out: MacroParam[] = [];
  const re = /([A-Za-z_.$][\w.$]*)(\s*:\s*(req|vararg))?(\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    if (!m[0]) { re.lastIndex++; continue; }
    out.push({ name: m[1], required: m[3] === 'req' || undefined, vararg: m[3] === 'vararg' || undefined, default: m[5] });
  }
  return out;
}

/** Removes a GNU as comment (`#`, `/* … *\/` on the line) outside strings. */
export function stripAttComment(line: string): string {
  let quote = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) { if (c === '\\') i++; else if (c === '"') quote = false; continue; }
    if (c === '"') quote = true;
    else if (c === '#' || (c === '/' && line[i + 1] === '/')) return line.slice(0, i);
    else if (c === '/' && line[i + 1] === '*') {
      const close = line.indexOf('*/', i + 2);
      return stripAttComment(line.slice(0, i) + ' ' + (close < 0 ? '' : line.slice(close + 2)));
    }
  }
  return line;
}

function stripNasmComment(line: string): string {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) { if (c === quote) quote = ''; continue; }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === ';') return line.slice(0, i);
  }
  return line;
}

const GAS_DIRECTIVE = /^\s*(?:[A-Za-z_.$][\w.$]*:\s*)*\.([a-z]+)\b\s*(.*)$/is;

/**
 * Walks `lines` of `file` (the document when `facts` is given, else an included file) and records
 * what the view needs. cpp conditionals are evaluated in order, so an included header's `#define`s
 * count from the `#include` on, as with cpp.
 */
function walk(ctx: WalkContext, lines: readonly string[], file: string, facts: LineFacts[] | undefined, depth: number): void {
  const { view } = ctx;
  const att = view.syntax === 'att';
  // `unknown`: a NASM condition the view cannot evaluate; every branch of it stays active (never greyed wrongly).
  const cond: Array<{ active: boolean; taken: boolean; unknown?: boolean }> = [];
  // A GNU as `.macro` whose body is being read: cpp runs first, so its `#if`s inside the body decide which lines the body has.
  let gasBody: { def: GasMacro; end: number } | undefined;
  const active = (): boolean => cond.length === 0 || cond[cond.length - 1].active;
  const mark = (from: number, to: number, what: 'inactive' | 'macroBody'): void => {
    if (!facts) return;
    for (let k = from; k <= to && k < facts.length; k++) facts[k][what] = true;
  };
  const include = (p: string, line: number, angle: boolean): void => {
    if (depth > 8 || !ctx.env) return;
    const full = resolveInclude(p, file, ctx.env, angle);
    if (!full) { if (facts) view.unresolved.push({ path: p, line }); return; }
    if (ctx.seen.has(full)) return;
    ctx.seen.add(full);
    const text = ctx.env.read(full);
    if (text === undefined) { if (facts) view.unresolved.push({ path: p, line }); return; }
    const outer = ctx.includedAt;
    ctx.includedAt = outer ?? line;
    walk(ctx, text.split(/\r?\n/), full, undefined, depth + 1);
    ctx.includedAt = outer;
  };
  for (let i = 0; i < lines.length; i++) {
    let text = lines[i];
    if (att && /^\s*#/.test(text)) {
      const first = i;
      while (/\\\s*$/.test(text) && i + 1 < lines.length) text = text.replace(/\\\s*$/, ' ') + lines[++i];
      const m = /^\s*#\s*([a-z_]+)\b\s*(.*)$/s.exec(text);
      if (!m) { if (!active()) mark(first, i, 'inactive'); continue; }
      const [, dir, rest] = m;
      const wasActive = active();
      switch (dir) {
        case 'if': case 'ifdef': case 'ifndef': {
          const name = /^\s*([A-Za-z_]\w*)/.exec(rest)?.[1] ?? '';
          const v = !wasActive ? false : dir === 'if' ? evaluateCondition(rest, view.cpp) : dir === 'ifdef' ? view.cpp.has(name) : !view.cpp.has(name);
          cond.push({ active: wasActive && v, taken: v || !wasActive });
          if (!wasActive) mark(first, i, 'inactive');
          continue;
        }
        case 'elif': case 'else': {
          const top = cond[cond.length - 1];
          if (!top) continue;
          const parentActive = cond.length < 2 || cond[cond.length - 2].active;
          if (!parentActive) { mark(first, i, 'inactive'); continue; }
          const v = !top.taken && (dir === 'else' || evaluateCondition(rest, view.cpp));
          top.active = v;
          top.taken ||= v;
          continue;
        }
        case 'endif':
          cond.pop();
          if (!active()) mark(first, i, 'inactive');
          continue;
        default:
          break;
      }
      if (!wasActive) { mark(first, i, 'inactive'); continue; }
      if (dir === 'define') {
        const d = parseDefine(rest);
        if (d) { view.cpp.set(d.name, d); view.cppAt.set(d.name, { file, line: first, facts: facts?.[first] }); }
      } else if (dir === 'undef') {
        const name = /^\s*([A-Za-z_]\w*)/.exec(rest)?.[1];
        if (name) { view.cpp.delete(name); view.cppAt.delete(name); }
      } else if (dir === 'include' || dir === 'include_next') {
        const q = /^\s*(["<])(.*?)[">]/.exec(stripCComments(rest));
        if (q) include(q[2], first, q[1] === '<');
      }
      continue;
    }
    // nasm reads a line ending in `\` together with the next one(s): the marks cover them all
    const head = i;
    if (!att) while (continuesOnNextLine(text) && i + 1 < lines.length) text = withoutContinuation(text) + lines[++i];
    if (!att) {
      const c = NASM_CONDITIONAL.exec(stripNasmComment(text));
      if (c) {
        const dir = c[1].toLowerCase();
        const wasActive = active();
        if (dir.startsWith('if')) {
          const v = wasActive ? nasmCondition(view, dir.slice('if'.length), c[2]) : false;
          cond.push({ active: wasActive && v !== false, taken: v === true || !wasActive, unknown: v === undefined });
          if (!wasActive) mark(head, i, 'inactive');
        } else if (dir === 'endif') {
          cond.pop();
          if (!active()) mark(head, i, 'inactive');
        } else {
          const top = cond[cond.length - 1];
          if (!top) continue;
          const parentActive = cond.length < 2 || cond[cond.length - 2].active;
          if (!parentActive) { mark(head, i, 'inactive'); continue; }
          const v = top.unknown ? undefined : top.taken ? false : dir === 'else' ? true : nasmCondition(view, dir.slice('elif'.length), c[2]);
          top.active = v !== false;
          top.taken ||= v === true;
          top.unknown ||= v === undefined;
        }
        continue;
      }
    }
    if (!active()) { mark(head, i, 'inactive'); continue; }
    if (gasBody) {
      const { def, end } = gasBody;
      if (i < end) { def.body.push(text); def.origins.push({ file, line: i, facts: facts?.[i] }); continue; }
      gasBody = undefined;
      if (i === end) continue; // its `.endm`
    }
    if (att) {
      const d = GAS_DIRECTIVE.exec(stripAttComment(text));
      const assigned = d ? undefined : /^\s*([A-Za-z_.$][\w.$]*)\s*=(?!=)\s*(.+)$/s.exec(stripAttComment(text));
      if (assigned) { setGasSymbol(view, assigned[1], assigned[2]); continue; }
      if (!d) {
        // A call of a macro that defines macros (`DEFINE_IRQ_OFF irq_off`) defines them here.
        const head = /^\s*(?:[A-Za-z_.$][\w.$]*:\s*)*([A-Za-z_.$][\w.$]*)/.exec(text);
        const m = head ? view.gas.get(head[1].toLowerCase()) : undefined;
        if (m && m.body.some((l) => /^\s*\.macro\b/i.test(l)) && ctx.defineFromCall) ctx.defineFromCall(view, stripAttComment(text).trim());
        continue;
      }
      const name = d[1].toLowerCase();
      const args = d[2].trim();
      if (name === 'macro') {
        const m = /^([A-Za-z_.$][\w.$]*)\s*,?\s*(.*)$/s.exec(args);
        let nest = 0;
        let end = i + 1;
        for (; end < lines.length; end++) {
          const e = GAS_DIRECTIVE.exec(stripAttComment(lines[end]))?.[1].toLowerCase();
          if (e === 'macro') nest++;
          else if (e === 'endm') { if (nest === 0) break; nest--; }
        }
        mark(i, Math.min(end, lines.length - 1), 'macroBody');
        if (m) {
          // the body's lines are read on (cpp may leave some out); the lines they hold go into def.body
          const def: GasMacro = { kind: 'gas', name: m[1], params: parseGasParams(m[2]), body: [], origins: [], at: { file, line: i, facts: facts?.[i] } };
          view.gas.set(m[1].toLowerCase(), def);
          gasBody = { def, end };
        } else {
          i = end;
        }
      } else if ((name === 'irp' || name === 'irpc') && facts) {
        const m = /^([A-Za-z_.$][\w.$]*)\s*,?\s*(.*)$/s.exec(args);
        let nest = 0;
        let end = i + 1;
        for (; end < lines.length; end++) {
          const e = GAS_DIRECTIVE.exec(stripAttComment(lines[end]))?.[1].toLowerCase();
          if (e === 'irp' || e === 'irpc' || e === 'rept') nest++;
          else if (e === 'endr') { if (nest === 0) break; nest--; }
        }
        if (m) {
          const values = name === 'irpc' ? [...m[2].trim()] : m[2].split(/\s*,\s*|\s+/).filter((v) => v.length > 0);
          const block: RepeatBlock = { kind: name, param: m[1], values: values.length ? values : [''] };
          for (let k = i + 1; k < end && k < facts.length; k++) facts[k].repeat = block;
        }
        i = end;
      } else if (name === 'include') {
        const q = /^"(.*)"/.exec(args);
        if (q) include(q[1], i, false);
      } else if (name === 'set' || name === 'equ' || name === 'equiv') {
        const m = /^([A-Za-z_.$][\w.$]*)\s*,\s*(.+)$/s.exec(args);
        if (m) setGasSymbol(view, m[1], m[2]);
      } else if (name === 'altmacro' || name === 'noaltmacro') {
        view.altmacro = name === 'altmacro';
        // A switch in an included file counts from the document's `.include` line on.
        view.altmacroSwitches.push({ line: facts ? i : ctx.includedAt ?? 0, on: view.altmacro });
      }
      else if (name === 'purgem') view.gas.delete(args.toLowerCase());
      continue;
    }
    // NASM
    const code = stripNasmComment(text).trim();
    if (!code.startsWith('%')) continue;
    const macro = /^%(i?)macro\s+([A-Za-z_.?@$][\w.?@$#~]*)\s*(\d+)?(?:\s*-\s*(\d+|\*))?(\+)?\s*(.*)$/i.exec(code);
    if (macro) {
      let nest = 0;
      let end = i + 1;
      for (; end < lines.length; end++) {
        const e = /^\s*%(i?macro|endmacro|endm)\b/i.exec(stripNasmComment(lines[end]))?.[1].toLowerCase();
        if (e === 'macro' || e === 'imacro') nest++;
        else if (e === 'endmacro' || e === 'endm') { if (nest === 0) break; nest--; }
      }
      const body = lines.slice(i + 1, end);
      const min = Number(macro[3] ?? 0);
      const def: NasmMacro = {
        kind: 'nasm', name: macro[2], min, max: macro[4] === '*' ? Infinity : macro[4] !== undefined ? Number(macro[4]) : min, greedy: macro[5] === '+',
        defaults: macro[6]?.trim() ? macro[6].split(',').map((d) => d.trim()) : undefined,
        body, origins: body.map((_, k) => ({ file, line: i + 1 + k, facts: facts?.[i + 1 + k] })), at: { file, line: head, facts: facts?.[head] }, caseless: macro[1] !== '',
      };
      view.nasm.set(def.caseless ? def.name.toLowerCase() : def.name, def);
      mark(head, Math.min(end, lines.length - 1), 'macroBody');
      i = end;
      continue;
    }
    const define = /^%(i?)(?:x)?define\s+([A-Za-z_.?@$][\w.?@$#~]*)(\(([^)]*)\))?\s*(.*)$/i.exec(code);
    if (define) {
      const params = define[3] !== undefined ? define[4].split(',').map((p) => p.trim()).filter(Boolean) : undefined;
      const def: NasmMacro = {
        kind: 'nasm', name: define[2], min: params?.length ?? 0, max: params?.length ?? 0, greedy: false, params, body: [define[5]],
        origins: [{ file, line: head, facts: facts?.[head] }], at: { file, line: head, facts: facts?.[head] }, caseless: define[1] !== '', singleLine: true,
      };
      view.nasm.set(def.caseless ? def.name.toLowerCase() : def.name, def);
      continue;
    }
    const undef = /^%undef\s+([A-Za-z_.?@$][\w.?@$#~]*)/i.exec(code);
    if (undef) { view.nasm.delete(undef[1]); continue; }
    const inc = /^%include\s+(["'<`])(.*?)["'>`]/i.exec(code);
    if (inc) include(inc[2], head, false);
  }
}

const NASM_CONDITIONAL = /^\s*%(if[a-z]*|elif[a-z]*|else|endif)\b\s*(.*)$/is;

/** A NASM `%define`d name, as `%ifdef` sees it (case-sensitive unless `%idefine`d). */
function nasmDefine(view: MacroView, name: string): NasmMacro | undefined {
  const exact = view.nasm.get(name);
  if (exact?.singleLine) return exact;
  const caseless = view.nasm.get(name.toLowerCase());
  return caseless?.singleLine && caseless.caseless ? caseless : undefined;
}

/**
 * A NASM conditional (`kind` is what follows `%if`/`%elif`: '', 'def', 'ndef', 'macro', 'nmacro',
 * 'idn' …): true/false when the view can tell as NASM would, undefined when it cannot (`%ifidn`,
 * `%ifctx`, a name the preprocessor does not know, an operator NASM has and C does not).
 */
export function nasmCondition(view: MacroView, kind: string, rest: string): boolean | undefined {
  const name = /^\s*([A-Za-z_.?@$][\w.?@$#~]*)\s*$/.exec(rest)?.[1];
  switch (kind) {
    case 'def': case 'ndef': return name === undefined ? undefined : (nasmDefine(view, name) !== undefined) === (kind === 'def');
    case 'macro': case 'nmacro': {
      if (name === undefined) return undefined;
      const m = view.nasm.get(name) ?? view.nasm.get(name.toLowerCase());
      return (m !== undefined && !m.singleLine) === (kind === 'macro');
    }
    case '': return nasmExpression(view, rest);
    case 'n': { const v = nasmExpression(view, rest); return v === undefined ? undefined : !v; }
    case 'idn': case 'idni': case 'nidn': case 'nidni': {
      const v = nasmIdentical(view, rest, kind.endsWith('i'));
      return v === undefined ? undefined : v === !kind.startsWith('n');
    }
    default: return undefined;
  }
}

/**
 * `%ifidn a, b`: whether the two texts are the same tokens once `%define`d names are expanded
 * (whitespace aside; `%ifidni` ignores case) — undefined when either still holds a macro parameter
 * or context name (`%1`, `%$x`), which only an expansion knows.
 */
function nasmIdentical(view: MacroView, rest: string, caseless: boolean): boolean | undefined {
  const args = splitTopLevel(rest);
  if (args.length !== 2) return undefined;
  const norm = (t: string): string | undefined => {
    let text = t.trim().replace(/^\{(.*)\}$/s, '$1');
    for (let round = 0; round < 16; round++) {
      let changed = false;
      text = text.replace(/(?<![\w.?@$#~%])[A-Za-z_.?@$][\w.?@$#~]*/g, (w) => {
        const d = nasmDefine(view, w);
        if (!d || d.params) return w;
        changed = true;
        return d.body[0];
      });
      if (!changed) break;
    }
    const outside = text.replace(/(["'`]).*?\1/g, '');
    // a macro parameter, or a name nasm itself defines (`__OUTPUT_FORMAT__`, `__?BITS?__`), or one an
    // include the view could not read may define: only nasm can tell
    const names = outside.match(/[A-Za-z_.?@$][\w.?@$#~]*/g) ?? [];
    if (outside.includes('%') || names.some((n) => n.startsWith('__')) || (names.length > 0 && view.unresolved.length > 0)) return undefined;
    const squeezed = text.replace(/\s+/g, '');
    return caseless ? squeezed.toLowerCase() : squeezed;
  };
  const a = norm(args[0]);
  const b = norm(args[1]);
  if (a === undefined || b === undefined) return undefined;
  // nasm's quirk: a blank before the comma is a token left over on the first side (`%ifidn a , a` is false)
  return a === b && !/\s$/.test(args[0]);
}

/** `a, b` split at the top-level commas, as written (braces and parentheses group, quotes hide commas). */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0; let quote = ''; let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) { if (c === quote) quote = ''; continue; }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '{' || c === '(') depth++;
    else if (c === '}' || c === ')') depth--;
    else if (c === ',' && depth === 0) { out.push(text.slice(start, i)); start = i + 1; }
  }
  out.push(text.slice(start));
  return out;
}

/** A `%if` expression with `%define`d names expanded, evaluated when it is plain arithmetic. */
function nasmExpression(view: MacroView, expr: string): boolean | undefined {
  let text = expr;
  for (let round = 0; round < 16; round++) {
    let changed = false;
    text = text.replace(/[A-Za-z_.?@$][\w.?@$#~]*/g, (w) => {
      const d = nasmDefine(view, w);
      if (!d || d.params) return w;
      changed = true;
      return ` (${d.body[0]}) `;
    });
    if (!changed) break;
  }
  // NASM numbers (`10h`, `0b101`, `17q`) as C numbers; anything else named is unknown to the preprocessor.
  let unknown = false;
  text = text.replace(/\$?[0-9][\w]*|[A-Za-z_.?@$][\w.?@$#~]*/g, (t) => {
    const n = nasmNumber(t);
    if (n === undefined) unknown = true;
    return ` ${n ?? 0} `;
  });
  if (unknown || /\^\^|[^-+*/%<>=!&|^~()\s\d]/.test(text)) return undefined;
  // NASM's `=` and `<>` are C's `==` and `!=`.
  text = text.replace(/<>/g, '!=').replace(/(^|[^=!<>])=(?!=)/g, '$1==');
  const v = evaluateExpression(text, new Map());
  return v === undefined ? undefined : v !== 0;
}

function nasmNumber(t: string): number | undefined {
  const s = t.toLowerCase().replace(/_/g, '');
  let m: RegExpExecArray | null;
  if ((m = /^(?:0x|0h|\$0?)([0-9a-f]+)$/.exec(s)) || (m = /^([0-9][0-9a-f]*)h$/.exec(s))) return parseInt(m[1], 16);
  if ((m = /^0[by]([01]+)$/.exec(s)) || (m = /^([01]+)[by]$/.exec(s))) return parseInt(m[1], 2);
  if ((m = /^0[oq]([0-7]+)$/.exec(s)) || (m = /^([0-7]+)[oq]$/.exec(s))) return parseInt(m[1], 8);
  if ((m = /^(?:0d)?([0-9]+)d?$/.exec(s))) return parseInt(m[1], 10);
  return undefined;
}

/** Computes the view of a document's lines (and marks its facts). */
export function computeMacroView(file: string, syntax: Syntax, lines: readonly string[], facts: LineFacts[], env?: IncludeEnv, version = 0, defineFromCall?: WalkContext['defineFromCall']): MacroView {
  const view: MacroView = {
    key: `${version}:${env?.epoch ?? 0}:${++viewCounter}`, syntax, gas: new Map(), nasm: new Map(), cpp: new Map(), cppAt: new Map(), altmacro: false, altmacroSwitches: [], gasSymbols: new Map(), unresolved: [],
  };
  if (syntax === 'att') {
    for (const [name, body] of Object.entries({ ...PREDEFINED_CPP, ...(env?.defines ?? {}) })) view.cpp.set(name, { name, body });
  } else {
    // `nasm -d DEBUG`: defined before the first line, as on the build's command line
    for (const [name, body] of Object.entries(env?.nasmDefines ?? {})) {
      const at = { file, line: 0 };
      view.nasm.set(name, { kind: 'nasm', name, min: 0, max: 0, greedy: false, body: [body], origins: [at], at, caseless: false, singleLine: true });
    }
  }
  for (const f of facts) { f.inactive = undefined; f.macroBody = undefined; f.repeat = undefined; }
  const ctx: WalkContext = { view, env, seen: new Set([file]), defineFromCall };
  if (syntax === 'att') {
    // `cpp -include kconfig.h`: read before line 1 (its #defines count from there; it cannot be "unresolved")
    for (const forced of env?.forcedIncludes ?? []) {
      const text = ctx.seen.has(forced) ? undefined : env?.read(forced);
      if (text === undefined) continue;
      ctx.seen.add(forced);
      ctx.includedAt = 0;
      walk(ctx, text.split(/\r?\n/), forced, undefined, 1);
      ctx.includedAt = undefined;
    }
  }
  walk(ctx, lines, file, facts, 0);
  return view;
}

function setGasSymbol(view: MacroView, name: string, expr: string): void {
  const v = gasExpression(expr, view.gasSymbols);
  if (v === undefined) view.gasSymbols.delete(name);
  else view.gasSymbols.set(name, v);
}

/**
 * The value of a GNU as absolute expression whose names are all in `symbols` (C operators, `<>`
 * for `!=`, `0b`/`0x`/octal/character numbers), or undefined when it names anything else.
 */
export function gasExpression(expr: string, symbols: ReadonlyMap<string, number>): number | undefined {
  let unknown = false;
  const text = expr.replace(/'(\\.|[^\\])'?|0b[01]+|[0-9][\w]*|[A-Za-z_.$][\w.$]*/gi, (t) => {
    if (t.startsWith("'")) return ` ${t.charCodeAt(1)} `;
    if (/^0b[01]+$/i.test(t)) return ` ${parseInt(t.slice(2), 2)} `;
    if (/^(0x[0-9a-f]+|[0-9]+)$/i.test(t)) return ` ${t} `;
    const v = symbols.get(t);
    if (v === undefined) unknown = true;
    return ` ${v ?? 0} `;
  }).replace(/<>/g, '!=');
  if (unknown || /[^-+*/%<>=!&|^~()\s\dxa-f]/i.test(text)) return undefined;
  return evaluateExpression(text, new Map());
}

/** Whether `.altmacro` is in effect at a line of the document (GNU as expands a call in the mode of its line). */
export function altmacroAt(view: MacroView, line: number): boolean {
  let on = false;
  for (const sw of view.altmacroSwitches) {
    if (sw.line >= line) break;
    on = sw.on;
  }
  return on;
}

/** The macro a statement's first word calls, if any. */
export function lookupMacro(view: MacroView, name: string): GasMacro | NasmMacro | { kind: 'cpp'; name: string } | undefined {
  if (view.syntax === 'att') {
    if (view.cpp.has(name) && !(name in PREDEFINED_CPP)) return { kind: 'cpp', name };
    return view.gas.get(name.toLowerCase());
  }
  const exact = view.nasm.get(name);
  if (exact && !exact.caseless) return exact;
  const caseless = view.nasm.get(name.toLowerCase());
  return caseless?.caseless ? caseless : exact;
}
