/*
 * The diagnostics of SPEC §7, headless: shared by the language server and `popek lint`.
 *  - critical instructions: `critical-instruction`, privileged and IOPL-sensitive ones:
 *    `privileged-instruction`, worded and graded for the target mode;
 *  - the assembler's own errors at their ranges (NASM: core/asm's assembler; AT&T: the scanner).
 * The target mode is the caller's setting unless the file says `; popek: mode=…`.
 */
import { MODES, type Mode } from '../isa';
import { assemble } from '../asm/assembler';
import type { Diagnostic, Range, Severity } from '../asm/ast';
import type { LintDocument } from './document';
import { reportedClass } from './classify';
import { displayName, virtMessage, type CostFigures } from './messages';
import type { ScannedInstruction } from './lineModel';

export const CRITICAL_CODE = 'critical-instruction';
/** Mnemonics whose class depends on the operands: messages quote the instruction as written. */
const WHOLE_INSTRUCTION = new Set(['mov', 'push', 'pop', 'jmp', 'call', 'int', 'retf', 'in', 'out']);
export const PRIVILEGED_CODE = 'privileged-instruction';

export interface LintOptions {
  /** Target mode from the settings (default `paravirtual`); a `popek: mode=` line wins. */
  mode?: Mode;
  costs?: CostFigures;
  /** Reads an `%include`d file (NASM); absent: includes are not followed. */
  readFile?: (path: string, fromFile: string) => string | undefined;
  /** Skip the assembler pass (virtualization diagnostics and scanner errors only). */
  skipAssembler?: boolean;
}

export interface LintDiagnostic extends Diagnostic {
  /** Line of the instruction a quick fix rewrites (virtualization diagnostics only). */
  instruction?: { line: number; index: number };
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

/** The virtualization diagnostic of one instruction, or undefined. */
export function instructionDiagnostic(doc: LintDocument, line: number, index: number, instr: ScannedInstruction, mode: Mode, costs?: CostFigures): LintDiagnostic | undefined {
  if (mode === 'native') return undefined;
  const c = doc.classify(instr);
  if (!c) return undefined;
  const cls = reportedClass(c);
  if (!cls) return undefined;
  // Where the operands make the difference (`mov eax, cr0`, `push cs`, `int 0x80`), name the whole instruction.
  const written = doc.lines[line].slice(instr.start, instr.end).replace(/\s+/g, ' ').trim();
  const name = WHOLE_INSTRUCTION.has(c.info.mnemonic) && written.length <= 48 ? `\`${written}\`` : displayName(instr.spelling, instr.mnemonic);
  const message = virtMessage(name, c, cls, mode, costs);
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
export function lineDiagnostics(doc: LintDocument, line: number, mode: Mode, costs?: CostFigures, key = cacheKey(mode, costs)): LintDiagnostic[] {
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
  const diagnostics = computeLineDiagnostics(doc, line, mode, costs);
  f.lintCache = { key, line, diagnostics };
  return diagnostics;
}

function computeLineDiagnostics(doc: LintDocument, line: number, mode: Mode, costs?: CostFigures): LintDiagnostic[] {
  const f = doc.facts[line];
  const out: LintDiagnostic[] = [];
  for (const e of f.errors) out.push({ range: range(line, e.start, e.end), severity: 'error', code: e.code, message: e.message });
  if (f.pvMarker) return out;
  f.instructions.forEach((instr, index) => {
    const d = instructionDiagnostic(doc, line, index, instr, mode, costs);
    if (d) out.push(d);
  });
  return out;
}

const assemblerCache = new WeakMap<LintDocument, { version: number; diagnostics: LintDiagnostic[] }>();

/** The assembler's diagnostics (NASM), cached per document version. */
export function assemblerDiagnostics(doc: LintDocument, options: LintOptions = {}): LintDiagnostic[] {
  if (doc.syntax !== 'nasm') return attDocumentDiagnostics(doc);
  const cached = assemblerCache.get(doc);
  if (cached && cached.version === doc.version) return cached.diagnostics;
  let diagnostics: LintDiagnostic[];
  try {
    const result = assemble(doc.fileName, doc.text, { readFile: options.readFile });
    diagnostics = result.diagnostics.map((d) => mapIncluded(doc, d));
  } catch (err) {
    diagnostics = [{ range: range(0, 0, 0), severity: 'error', code: 'internal', message: `assembler failed: ${(err as Error).message}` }];
  }
  assemblerCache.set(doc, { version: doc.version, diagnostics });
  return diagnostics;
}

/** A diagnostic inside an included file is shown on the `%include` line that brought it in. */
function mapIncluded(doc: LintDocument, d: Diagnostic): LintDiagnostic {
  if (!d.file || d.file === doc.fileName) return { ...d, file: undefined };
  const base = d.file.split(/[\\/]/).pop() ?? d.file;
  const line = doc.facts.findIndex((f) => f.include && (f.include.path === base || f.include.path.endsWith(base)));
  const at = line >= 0 ? range(line, doc.facts[line].include!.start, doc.facts[line].include!.end) : range(0, 0, 0);
  return { range: at, severity: d.severity, code: d.code, message: `${d.file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}` };
}

/** Document-level AT&T checks GNU as makes: a symbol defined twice. */
function attDocumentDiagnostics(doc: LintDocument): LintDiagnostic[] {
  const out: LintDiagnostic[] = [];
  for (const s of doc.symbols().byName.values()) {
    if (s.kind !== 'label' && s.kind !== 'constant') continue;
    const labelDefs = s.defs.filter((d) => doc.facts[d.line].defs.some((x) => x.start === d.start && x.kind === 'label'));
    // `sym = expr` may be redefined; a label may not, nor be assigned after.
    if (labelDefs.length === 0 || s.defs.length < 2) continue;
    for (const d of s.defs.slice(1)) {
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
function lineLevel(doc: LintDocument, mode: Mode, costs?: CostFigures): LintDiagnostic[] {
  const key = cacheKey(mode, costs);
  const cached = documentCache.get(doc);
  if (cached && cached.key === key && cached.version === doc.version) return cached.diagnostics;
  const edit = cached && cached.key === key ? doc.lastEditSince(cached.version) : undefined;
  const out: LintDiagnostic[] = [];
  const addLine = (line: number): void => {
    const f = doc.facts[line];
    if (f.errors.length === 0 && f.instructions.length === 0) return;
    const ds = lineDiagnostics(doc, line, mode, costs, key);
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
  const lines = lineLevel(doc, mode, options.costs);
  for (let i = 0; i < lines.length; i++) out.push(lines[i]);
  if (!options.skipAssembler) out.push(...assemblerDiagnostics(doc, options));
  out.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
  return out;
}
