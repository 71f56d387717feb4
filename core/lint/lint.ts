/*
 * The diagnostics of SPEC §7, headless: shared by the language server and `popek lint`.
 *  - critical instructions: `critical-instruction`, privileged and IOPL-sensitive ones:
 *    `privileged-instruction`, worded and graded for the target mode;
 *  - the assembler's own errors at their ranges (NASM: core/asm's assembler; AT&T: the scanner).
 * The target mode is the caller's setting unless the file says `; popek: mode=…`.
 */
import { MODES, type Mode } from '../isa';
import { assemble, nasmStartBits } from '../asm/assembler';
import type { AssembleOptions, Diagnostic, Range, Severity } from '../asm/ast';
import type { LintDocument } from './document';
import { classify, reportedClass, type Classified } from './classify';
import { binaryReader, findIncluder, resolveInclude, type IncludeEnv } from './includes';
import { missingMultibootHeader } from './multibootHeader';
import * as path from 'node:path';
import { altmacroAt, type MacroView } from './macroView';
import { expandCall, lineStatements, type Expansion } from './macroCalls';
import { scanAttLine, initialAttState } from './att';
import { displayName, fitMessage, shortVirtMessage, type CostFigures } from './messages';
import { rewriteHypercall } from './fixes';
import type { ScannedInstruction } from './lineModel';

export const CRITICAL_CODE = 'critical-instruction';
/** Mnemonics whose class depends on the operands: messages quote the instruction as written. */
const WHOLE_INSTRUCTION = new Set(['mov', 'push', 'pop', 'jmp', 'call', 'int', 'retf', 'in', 'out']);
export const PRIVILEGED_CODE = 'privileged-instruction';

export interface LintOptions {
  /** Target mode from the settings (default `paravirtual`); a `popek: mode=` line wins. */
  mode?: Mode;
  costs?: CostFigures;
  /** Reads an `%include`d file (NASM); absent: includes are not followed. The assembler resolves
   * includes with `includeEnv` when given. */
  readFile?: (path: string, fromFile: string) => string | undefined;
  /** Skip the assembler pass (virtualization diagnostics and scanner errors only). */
  skipAssembler?: boolean;
  /** Where included files are found (cpp `#include`, `.include`, `%include`) for the macro view. */
  includeEnv?: IncludeEnv;
}

export interface LintDiagnostic extends Diagnostic {
  /** Line of the instruction a quick fix rewrites (virtualization diagnostics only). */
  instruction?: { line: number; index: number };
  /** A diagnostic at a macro call: the macro and where the flagged instruction is defined. */
  via?: { macro: string; text: string; file?: string; line?: number };
}

export function isMode(s: string): s is Mode {
  return (MODES as readonly string[]).includes(s);
}

/** The effective mode of a document: its `popek: mode=` line, else the setting, else paravirtual. */
export function effectiveMode(doc: LintDocument, setting?: Mode): Mode {
  const o = doc.modeOverride();
  if (o && isMode(o.mode)) return o.mode;
  return setting ?? 'paravirtual';
}

function range(line: number, start: number, end: number): Range {
  return { start: { line, character: start }, end: { line, character: end } };
}

function severityFor(mode: Mode, cls: 'critical' | 'privileged', exits: boolean): Severity {
  switch (mode) {
    case 'trap-and-emulate': case 'paravirtual': return cls === 'critical' ? 'warning' : 'information';
    case 'binary-translation': return cls === 'critical' ? 'information' : 'hint';
    default: return exits ? 'information' : 'hint';
  }
}

/** The message of a critical/privileged instruction as written. */
function describe(writtenText: string, instr: ScannedInstruction, c: Classified, cls: 'critical' | 'privileged', mode: Mode, costs?: CostFigures, fix?: string | null): string | undefined {
  // Where the operands make the difference (`mov eax, cr0`, `push cs`, `int 0x80`), name the whole instruction.
  const written = writtenText.replace(/\s+/g, ' ').trim();
  const name = WHOLE_INSTRUCTION.has(c.info.mnemonic) && written.length <= 40 ? written : displayName(instr.spelling, instr.mnemonic);
  return shortVirtMessage(name, c, cls, mode, costs, fix);
}

/** The virtualization diagnostic of one instruction, or undefined. */
export function instructionDiagnostic(doc: LintDocument, line: number, index: number, instr: ScannedInstruction, mode: Mode, costs?: CostFigures): LintDiagnostic | undefined {
  if (mode === 'native') return undefined;
  const c = doc.classify(instr);
  if (!c) return undefined;
  const cls = reportedClass(c);
  if (!cls) return undefined;
  // A hypercall fix is named as this instance's rewrite makes it (an `out` to the keyboard
  // controller has none: Xen emulates it; one to isa-debug-exit becomes sched_op, not console_io).
  const hypercall = mode === 'paravirtual' && c.facts.pv?.kind === 'hypercall' ? rewriteHypercall(doc, line, index, instr, c) : undefined;
  const fix = hypercall === undefined ? undefined : hypercall === null ? null : `hypercall ${hypercall}`;
  const message = describe(doc.lines[line].slice(instr.start, instr.end), instr, c, cls, mode, costs, fix);
  if (!message) return undefined;
  return {
    range: range(line, instr.start, instr.end),
    severity: severityFor(mode, cls, c.facts.vmExit.kind !== 'none'),
    code: cls === 'critical' ? CRITICAL_CODE : PRIVILEGED_CODE,
    message,
    instruction: { line, index },
  };
}

/** The cache key of a mode and cost profile (line diagnostics depend on nothing else). */
function cacheKey(mode: Mode, costs?: CostFigures): string { return costs ? `${mode}/${costs.profile}` : mode; }

/**
 * Virtualization diagnostics and scanner errors of one line. They are cached on the line's facts
 * object, which survives edits elsewhere in the file, so a re-lint after an edit recomputes only
 * the edited lines.
 */
export function lineDiagnostics(doc: LintDocument, line: number, mode: Mode, costs?: CostFigures, key = cacheKey(mode, costs), view?: MacroView): LintDiagnostic[] {
  const f = doc.facts[line];
  const cached = f.lintCache as { key: string; line: number; diagnostics: LintDiagnostic[] } | undefined;
  if (cached && cached.key === key) {
    if (cached.line === line || cached.diagnostics.length === 0) return cached.diagnostics;
    // The line moved (lines inserted or deleted above it): same diagnostics, new line number.
    const moved = cached.diagnostics.map((d) => {
      const m: LintDiagnostic = { ...d, range: { start: { ...d.range.start, line }, end: { ...d.range.end, line } } };
      if (d.instruction) m.instruction = { ...d.instruction, line };
      return m;
    });
    f.lintCache = { key, line, diagnostics: moved };
    return moved;
  }
  const computed = computeLineDiagnostics(doc, line, mode, costs, view);
  // Most lines have none: one shared entry (the line number does not matter for an empty list).
  if (computed.length === 0) { f.lintCache = emptyEntry(key); return NO_DIAGNOSTICS; }
  f.lintCache = { key, line, diagnostics: computed };
  return computed;
}

const NO_DIAGNOSTICS = Object.freeze([]) as unknown as LintDiagnostic[];
const emptyEntries = new Map<string, { key: string; line: number; diagnostics: LintDiagnostic[] }>();

function emptyEntry(key: string): { key: string; line: number; diagnostics: LintDiagnostic[] } {
  let e = emptyEntries.get(key);
  if (!e) {
    // Keys carry the macro view's key: old ones are dropped now and then.
    if (emptyEntries.size > 64) emptyEntries.clear();
    e = Object.freeze({ key, line: -1, diagnostics: NO_DIAGNOSTICS });
    emptyEntries.set(key, e);
  }
  return e;
}

function computeLineDiagnostics(doc: LintDocument, line: number, mode: Mode, costs?: CostFigures, view?: MacroView): LintDiagnostic[] {
  const f = doc.facts[line];
  const out: LintDiagnostic[] = [];
  // Lines cpp skips, cpp directives and macro definitions assemble to nothing: their instructions
  // are reported where a call expands them.
  if (f.inactive || f.cpp || (view && f.macroBody)) return out;
  const calls = view && (f.macroCall || f.instructions.length) ? macroCallsOf(doc, line, view) : [];
  const inCall = (start: number): boolean => calls.some((c) => start >= c.start && start < c.end);
  for (const e of f.errors) {
    if (inCall(e.start)) continue;
    if (e.code === 'unknown-instruction' && view && view.unresolved.length) {
      // A macro from a header that cannot be found: unknown, not wrong.
      out.push({ range: range(line, e.start, e.end), severity: 'hint', code: 'unknown-macro', message: `${e.message.replace(/^no such instruction: /, '')} is no instruction and no known macro (not found: ${view.unresolved.map((u) => u.path).join(', ')})` });
      continue;
    }
    out.push({ range: range(line, e.start, e.end), severity: 'error', code: e.code, message: e.message });
  }
  if (f.pvMarker) return out;
  if (f.repeat && view) return [...out, ...repeatDiagnostics(doc, line, mode, costs)];
  f.instructions.forEach((instr, index) => {
    if (inCall(instr.start)) return;
    const d = instructionDiagnostic(doc, line, index, instr, mode, costs);
    if (d) out.push(d);
  });
  for (const call of calls) out.push(...callDiagnostics(line, call, mode, costs));
  return out;
}

const expansionCache = new WeakMap<MacroView, Map<string, Expansion | null>>();

/** The statements of a line that call a macro, with their expansions. */
export function macroCallsOf(doc: LintDocument, line: number, view: MacroView): Array<{ start: number; end: number; expansion: Expansion }> {
  const f = doc.facts[line];
  const code = doc.lines[line].slice(0, f.commentStart ?? undefined);
  let cache = expansionCache.get(view);
  if (!cache) { cache = new Map(); expansionCache.set(view, cache); }
  const out: Array<{ start: number; end: number; expansion: Expansion }> = [];
  // The same call expands alike wherever it is, except across `.altmacro` switches.
  const mode = view.altmacroSwitches.length && altmacroAt(view, line) ? 'alt:' : '';
  for (const st of lineStatements(code, doc.syntax)) {
    const text = st.text.trim();
    if (!text) continue;
    let e = cache.get(mode + text);
    if (e === undefined) {
      try { e = expandCall(view, text, line) ?? null; } catch { e = null; }
      if (cache.size > 20000) cache.clear();
      cache.set(mode + text, e);
    }
    if (!e) continue;
    const lead = st.text.length - st.text.trimStart().length;
    out.push({ start: st.start + lead, end: st.start + lead + text.length, expansion: e });
  }
  return out;
}

/** "via macro X": one diagnostic per class at the call, naming the first instruction and counting the others. */
function callDiagnostics(line: number, call: { start: number; end: number; expansion: Expansion }, mode: Mode, costs?: CostFigures): LintDiagnostic[] {
  if (mode === 'native') return [];
  const byClass = new Map<'critical' | 'privileged', Array<{ text: string; c: Classified; e: Expansion['instructions'][number] }>>();
  for (const e of call.expansion.instructions) {
    const c = classify(e.instr);
    const cls = c ? reportedClass(c) : undefined;
    if (!c || !cls) continue;
    const list = byClass.get(cls) ?? [];
    list.push({ text: e.text, c, e });
    byClass.set(cls, list);
  }
  const out: LintDiagnostic[] = [];
  for (const cls of ['critical', 'privileged'] as const) {
    const list = byClass.get(cls);
    if (!list) continue;
    const first = list[0];
    const message = describe(first.text, first.e.instr, first.c, cls, mode, costs);
    if (!message) continue;
    const others = [...new Set(list.slice(1).map((x) => x.text.replace(/\s+/g, ' ')))];
    const also = others.length ? ` (also ${cls} in this expansion: ${others.slice(0, 4).join(', ')}${others.length > 4 ? ', …' : ''})` : '';
    const origin = first.e.origin;
    const d: LintDiagnostic = {
      range: range(line, call.start, call.end),
      severity: severityFor(mode, cls, first.c.facts.vmExit.kind !== 'none'),
      code: cls === 'critical' ? CRITICAL_CODE : PRIVILEGED_CODE,
      // an instruction written on the line, only its operands named by cpp macros: no "via macro"
      message: fitMessage(call.expansion.substituted ? `${message}${also}` : `via macro ${call.expansion.macro}: ${message}${also}`),
    };
    if (!call.expansion.substituted) d.via = { macro: call.expansion.macro, text: first.text, file: origin?.file, line: origin?.line };
    out.push(d);
  }
  return out;
}

/** An `.irp`/`.irpc` body line: flagged for what any of its expansions is. */
function repeatDiagnostics(doc: LintDocument, line: number, mode: Mode, costs?: CostFigures): LintDiagnostic[] {
  const f = doc.facts[line];
  const block = f.repeat!;
  const out: LintDiagnostic[] = [];
  const seen = new Set<string>();
  const param = new RegExp(`\\\\${block.param.replace(/[.$]/g, '\\$&')}\\b|\\\\\\(\\)`, 'g');
  for (const value of block.values) {
    const text = doc.lines[line].replace(param, (m) => (m === '\\()' ? '' : value));
    const expanded = scanAttLine(text, initialAttState());
    expanded.instructions.forEach((instr, index) => {
      const at = f.instructions[index] ?? instr;
      const c = classify(instr);
      const cls = c ? reportedClass(c) : undefined;
      if (!c || !cls || seen.has(`${index}/${cls}`) || mode === 'native') return;
      const message = describe(text.slice(instr.start, instr.end), instr, c, cls, mode, costs);
      if (!message) return;
      seen.add(`${index}/${cls}`);
      out.push({ range: range(line, at.start, at.end), severity: severityFor(mode, cls, c.facts.vmExit.kind !== 'none'), code: cls === 'critical' ? CRITICAL_CODE : PRIVILEGED_CODE, message: `with ${block.param}=${value}: ${message}` });
    });
  }
  return out;
}

const assemblerCache = new WeakMap<LintDocument, { version: number; key: string; diagnostics: LintDiagnostic[] }>();

/** The assembler's diagnostics (NASM), cached per document version. */
export function assemblerDiagnostics(doc: LintDocument, options: LintOptions = {}): LintDiagnostic[] {
  if (doc.syntax !== 'nasm') return attDocumentDiagnostics(doc);
  const defines = options.includeEnv?.nasmDefines;
  const key = JSON.stringify(defines ?? {});
  const cached = assemblerCache.get(doc);
  if (cached && cached.version === doc.version && cached.key === key) return cached.diagnostics;
  const includes: IncludeLine[] = [];
  doc.facts.forEach((f, line) => { if (f.include) includes.push({ line, ...f.include }); });
  let diagnostics = assembleSource(doc.fileName, doc.text, options.readFile, includes, defines, binaryReader(options.includeEnv));
  if (diagnostics.some((d) => d.code === 'undefined-symbol' || d.code === 'include')) diagnostics = inIncluder(doc, options) ?? diagnostics;
  assemblerCache.set(doc, { version: doc.version, key, diagnostics });
  return diagnostics;
}

/**
 * A fragment (`switch_pm.asm`, `%include`d by `bootsect.asm`) is assembled as the build assembles
 * it: inside the file that includes it, whose labels it uses. Its own diagnostics from that
 * assembly are the ones shown; undefined when no file includes it.
 */
function inIncluder(doc: LintDocument, options: LintOptions): LintDiagnostic[] | undefined {
  const env = options.includeEnv;
  if (!env) return undefined;
  const includer = findIncluder(doc.fileName, env);
  const text = includer ? env.read(includer) : undefined;
  if (!includer || text === undefined) return undefined;
  const readFile = (p: string, from: string): string | undefined => {
    const full = resolveInclude(p, from, env);
    if (full && path.resolve(full) === path.resolve(doc.fileName)) return doc.text;
    return full ? env.read(full) : undefined;
  };
  const result = assemble(includer, text, { readFile, readBinary: binaryReader(env), resolveInclude: (p, from) => resolveInclude(p, from, env), bits: nasmStartBits(includer, text), defines: env.nasmDefines });
  const mine = result.diagnostics.filter((d) => d.file && path.resolve(d.file) === path.resolve(doc.fileName)).map((d) => ({ ...d, file: undefined }));
  return editorView(mine);
}

export interface IncludeLine { line: number; path: string; start: number; end: number }

/** The `%include` lines of a NASM text, without a LintDocument (the assembler thread's view). */
export function nasmIncludeLines(text: string): IncludeLine[] {
  const out: IncludeLine[] = [];
  const re = /^([ \t]*%include[ \t]+)(["'<`])(.*?)["'>`]/gim;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const line = text.slice(0, m.index).split('\n').length - 1;
    out.push({ line, path: m[3], start: m[1].length, end: m[0].length });
  }
  return out;
}

/** The assembler's diagnostics of a NASM text (what assemblerDiagnostics runs, also in the assembler thread). */
export function assembleSource(fileName: string, text: string, readFile: LintOptions['readFile'], includes: IncludeLine[], defines?: Record<string, string>, readBinary?: AssembleOptions['readBinary']): LintDiagnostic[] {
  try {
    const result = assemble(fileName, text, { readFile, readBinary, bits: nasmStartBits(fileName, text), defines });
    const noHeader = missingMultibootHeader(fileName, text, result);
    return editorView([...result.diagnostics.map((d) => mapIncluded(fileName, includes, d)), ...(noHeader ? [noHeader] : [])]);
  } catch (err) {
    return [{ range: range(0, 0, 0), severity: 'error', code: 'internal', message: `assembler failed: ${(err as Error).message}` }];
  }
}

/**
 * The assembler's diagnostics as the editor shows them: `bits 64` (64-bit code Popek skips; an error
 * for `popek asm`) is information, and missing includes are degraded (below).
 */
function editorView(ds: LintDiagnostic[]): LintDiagnostic[] {
  return degradeMissingIncludes(ds.map((d) => (d.code === 'bits64' ? { ...d, severity: 'information' as const } : d)));
}

/**
 * The editor does not know NASM's working directory or `-i` paths: an `%include` it cannot find is
 * a warning (set `popek.includePaths`), and the names that file would define are not reported as
 * undefined.
 */
function degradeMissingIncludes(ds: LintDiagnostic[]): LintDiagnostic[] {
  if (!ds.some((d) => d.code === 'include')) return ds;
  // A line that names such a symbol is not checked at all, nor is a branch the assembler took only
  // because the include was missing (`%ifdef CONFIG_X86_32` … `%else` x86-64 code: eduOS's entry.asm
  // without its generated config.inc): `pop rax` there is not "invalid operands".
  const unchecked = new Set(ds.filter((d) => d.code === 'undefined-symbol').map((d) => `${d.file ?? ''}:${d.range.start.line}`));
  return ds.filter((d) => d.code !== 'undefined-symbol' && !d.underMissingInclude && !(d.severity === 'error' && unchecked.has(`${d.file ?? ''}:${d.range.start.line}`))).map((d) => (d.code === 'include'
    ? { ...d, severity: 'warning' as const, message: `${d.message} (searched the file's folder, its parents and popek.includePaths; its symbols, and the %ifdef branches they choose, are not checked)` }
    : d));
}

/** A diagnostic inside an included file is shown on the `%include` line that brought it in. */
function mapIncluded(fileName: string, includes: IncludeLine[], d: Diagnostic): LintDiagnostic {
  if (!d.file || d.file === fileName) return { ...d, file: undefined };
  const base = d.file.split(/[\\/]/).pop() ?? d.file;
  const inc = includes.find((f) => f.path === base || f.path.endsWith(base));
  const at = inc ? range(inc.line, inc.start, inc.end) : range(0, 0, 0);
  return { range: at, severity: d.severity, code: d.code, message: `${d.file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}` };
}

/** Document-level AT&T checks GNU as makes: a symbol defined twice. */
function attDocumentDiagnostics(doc: LintDocument): LintDiagnostic[] {
  const out: LintDiagnostic[] = [];
  for (const s of doc.symbols().byName.values()) {
    if (s.kind !== 'label' && s.kind !== 'constant') continue;
    // the side of an `#if` cpp leaves out defines nothing (math-emu's labels there are #defines on the other side)
    const defs = s.defs.filter((d) => !doc.facts[d.line].inactive);
    const labelDefs = defs.filter((d) => doc.facts[d.line].defs.some((x) => x.start === d.start && x.kind === 'label'));
    // `sym = expr` may be redefined; a label may not, nor be assigned after.
    if (labelDefs.length === 0 || defs.length < 2) continue;
    for (const d of defs.slice(1)) {
      out.push({ range: range(d.line, d.start, d.end), severity: 'error', code: 'duplicate-symbol', message: `symbol \`${s.name}' is already defined` });
    }
  }
  return out;
}

/** Per document, the line-level diagnostics of its last linted version (in line order). */
const documentCache = new WeakMap<LintDocument, { version: number; key: string; diagnostics: LintDiagnostic[] }>();

/**
 * The per-line diagnostics of the whole document, in line order. After a single edit only the
 * edited lines are linted again and those after it renumbered, so the cost follows the number
 * of diagnostics, not of lines (a 20,000-line file is not walked on every keystroke).
 */
function lineLevel(doc: LintDocument, mode: Mode, costs?: CostFigures, env?: IncludeEnv): LintDiagnostic[] {
  const view = doc.macroView(env);
  // A changed macro view (a definition, a conditional) may change any line: it is part of the key.
  const key = `${cacheKey(mode, costs)}#${view.key}`;
  const cached = documentCache.get(doc);
  if (cached && cached.key === key && cached.version === doc.version) return cached.diagnostics;
  const edit = cached && cached.key === key ? doc.lastEditSince(cached.version) : undefined;
  const out: LintDiagnostic[] = [];
  const addLine = (line: number): void => {
    const f = doc.facts[line];
    if (f.errors.length === 0 && f.instructions.length === 0 && !f.macroCall) return;
    const ds = lineDiagnostics(doc, line, mode, costs, key, view);
    for (let i = 0; i < ds.length; i++) out.push(ds[i]);
  };
  if (edit && cached) {
    const old = cached.diagnostics;
    let k = 0;
    while (k < old.length && old[k].range.start.line < edit.from) out.push(old[k++]);
    for (let line = edit.from; line < edit.newEnd; line++) addLine(line);
    while (k < old.length && old[k].range.start.line < edit.oldEnd) k++;
    const delta = edit.newEnd - edit.oldEnd;
    let lastLine = -1;
    for (; k < old.length; k++) {
      const line = old[k].range.start.line + delta;
      if (line !== lastLine) addLine(line);
      lastLine = line;
    }
  } else {
    for (let line = 0; line < doc.facts.length; line++) addLine(line);
  }
  documentCache.set(doc, { version: doc.version, key, diagnostics: out });
  return out;
}

/** Every diagnostic of a document, sorted by position. */
export function lintDocument(doc: LintDocument, options: LintOptions = {}): LintDiagnostic[] {
  const mode = effectiveMode(doc, options.mode);
  const out: LintDiagnostic[] = [];
  const override = doc.modeOverride();
  if (override && !isMode(override.mode)) {
    const f = doc.facts[override.line];
    out.push({ range: range(override.line, f.commentStart ?? 0, doc.lines[override.line].length), severity: 'warning', code: 'unknown-mode', message: `unknown mode '${override.mode}': expected one of ${MODES.join(', ')}` });
  }
  const lines = lineLevel(doc, mode, options.costs, options.includeEnv);
  for (let i = 0; i < lines.length; i++) out.push(lines[i]);
  if (!options.skipAssembler) out.push(...assemblerDiagnostics(doc, options));
  out.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
  return out;
}
