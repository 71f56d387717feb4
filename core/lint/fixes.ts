/*
 * Quick fixes as text edits: the rewrite of one instruction (rewrites.ts) placed in the document
 * with the line's indentation and syntax, and "fix all" that applies every one of them (what
 * `popek fix` and `source.fixAll` do).
 */
import type { Range } from '../asm/ast';
import { attOperandToNasm, nasmLineToAtt } from './attRender';
import { reportedClass } from './classify';
import { LintDocument } from './document';
import type { ScannedInstruction } from './lineModel';
import { rewriteOf, type RewriteText } from './rewrites';
import type { Classified } from './classify';
import { includesXenHeader, usesXenConstants, xenHeader, xenIncludeLine, xenIncludeLineNumber, type XenHeader } from './xenInclude';

export interface TextEdit { range: Range; newText: string }

export interface QuickFix {
  title: string;
  edit: TextEdit;
  /** False when the fix only marks the instruction as reviewed (no paravirtual equivalent). */
  replaces: boolean;
  line: number;
  code: 'critical-instruction' | 'privileged-instruction';
}

/** Evaluates a constant expression of the document (numbers, `equ`/`=` constants, + - * << >> | & ~). */
export function evaluateConstant(doc: LintDocument, text: string | undefined, depth = 0): number | undefined {
  if (depth > 16 || !text) return undefined;
  const tokens = text.match(/0x[0-9a-f]+|[0-9][0-9a-f]*h\b|[0-9]+|[A-Za-z_.?$@][\w.?$@]*|<<|>>|[-+*/|&~()^]/gi);
  if (!tokens || tokens.join('').replace(/\s/g, '') !== text.replace(/\s|\$(?=[0-9a-z_])/gi, '')) {
    if (!tokens) return undefined;
  }
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const atom = (): number | undefined => {
    const t = tokens[i++];
    if (t === undefined) return undefined;
    if (t === '(') { const v = or(); i++; return v; }
    if (t === '-') { const v = atom(); return v === undefined ? undefined : -v; }
    if (t === '~') { const v = atom(); return v === undefined ? undefined : ~v; }
    if (t === '+') return atom();
    if (/^0x/i.test(t)) return parseInt(t, 16);
    if (/^[0-9][0-9a-f]*h$/i.test(t)) return parseInt(t.slice(0, -1), 16);
    if (/^[0-9]+$/.test(t)) return parseInt(t, 10);
    const sym = doc.symbols().byName.get(t);
    if (!sym || sym.kind !== 'constant' || !sym.defs.length) return undefined;
    const d = sym.defs[0];
    const line = doc.lines[d.line];
    const m = /\bequ\b\s*(.*?)\s*(;.*)?$/i.exec(line.slice(d.end)) ?? /^\s*=\s*(.*?)\s*(#.*)?$/.exec(line.slice(d.end)) ?? /^\s*,\s*(.*?)\s*(#.*)?$/.exec(line.slice(d.end));
    return m ? evaluateConstant(doc, m[1], depth + 1) : undefined;
  };
  const binary = (next: () => number | undefined, ops: string[], apply: (op: string, a: number, b: number) => number): (() => number | undefined) => () => {
    let v = next();
    while (v !== undefined && ops.includes(peek() ?? '')) {
      const op = tokens[i++];
      const r = next();
      if (r === undefined) return undefined;
      v = apply(op, v, r);
    }
    return v;
  };
  const mul = binary(atom, ['*', '/'], (op, a, b) => (op === '*' ? a * b : b ? Math.trunc(a / b) : NaN));
  const add = binary(mul, ['+', '-'], (op, a, b) => (op === '+' ? a + b : a - b));
  const shift = binary(add, ['<<', '>>'], (op, a, b) => (op === '<<' ? a << b : a >>> b));
  const and = binary(shift, ['&'], (_op, a, b) => a & b);
  const or = binary(and, ['|', '^'], (op, a, b) => (op === '|' ? a | b : a ^ b));
  const v = or();
  return i === tokens.length && v !== undefined && Number.isFinite(v) ? v : undefined;
}

function operandTexts(doc: LintDocument, instr: ScannedInstruction): string[] {
  return instr.operands.map((o) => (doc.syntax === 'att' ? attOperandToNasm(o) : o.text));
}

let uniqueCounter = 0;

/** The NASM memory operand of the document's only `lgdt`/`lidt`, if it names a fixed place. */
function loadedTable(doc: LintDocument, mnemonic: 'lgdt' | 'lidt'): string | undefined {
  const seen = new Set<string>();
  for (const f of doc.facts) {
    for (const i of f.instructions) {
      if (i.mnemonic !== mnemonic || i.operands.length !== 1 || i.operands[0].kind !== 'memory') continue;
      seen.add(doc.syntax === 'att' ? attOperandToNasm(i.operands[0]) : i.operands[0].text);
    }
  }
  if (seen.size !== 1) return undefined;
  const only = [...seen][0];
  // A register in the address means the place is computed at run time.
  return /\b(e?[abcd]x|e?[sd]i|e?[sb]p|[abcd][lh])\b/i.test(only.replace(/^[^[]*\[/, '')) ? undefined : only;
}

/** The instruction after instruction `index` of `line`, skipping blank, comment and label lines. */
function nextInstruction(doc: LintDocument, line: number, index: number): ScannedInstruction | undefined {
  const same = doc.facts[line].instructions[index + 1];
  if (same) return same;
  for (let l = line + 1; l < doc.facts.length; l++) {
    const f = doc.facts[l];
    if (f.instructions.length) return f.instructions[0];
    if (f.directive) return undefined;
  }
  return undefined;
}

/** The quick fix of instruction `index` on `line`, or undefined when it is not critical/privileged. */
export function quickFix(doc: LintDocument, line: number, index = 0, unique?: number): QuickFix | undefined {
  const fix = rawQuickFix(doc, line, index, unique);
  return fix && settles(doc, fix) ? fix : undefined;
}

/**
 * Whether the line a fix produces is left alone by the linter: fix-all must be idempotent, so a
 * fix whose marker or rewrite the scanner would not see (e.g. after an unterminated string, where
 * the added comment is part of the string) is not offered — the diagnostic stays, unfixed.
 */
function settles(doc: LintDocument, fix: QuickFix): boolean {
  const text = doc.lines[fix.line];
  const { start, end } = fix.edit.range;
  const probe = new LintDocument(doc.fileName, doc.syntax, text.slice(0, start.character) + fix.edit.newText + text.slice(end.character));
  // Nor may it change how the lines after it are read (a `/*` the fix's `#` comment would swallow).
  const endsInComment = (f: { endsInBlockComment?: boolean } | undefined) => f?.endsInBlockComment === true;
  if (endsInComment(doc.facts[fix.line]) !== endsInComment(probe.facts[probe.facts.length - 1])) return false;
  // The other statements of the line keep their own fixes; the fixed one must add none.
  let left = -1;
  for (let i = 0; i < doc.facts[fix.line].instructions.length; i++) if (rawQuickFix(doc, fix.line, i, 0)) left++;
  for (let l = 0; l < probe.facts.length; l++) {
    for (let i = 0; i < probe.facts[l].instructions.length; i++) if (rawQuickFix(probe, l, i, 0) && --left < 0) return false;
  }
  return true;
}

/**
 * The hypercall this instance's rewrite makes, or null when it has none (only "keep it, mark it
 * reviewed"): `out` becomes console_io for COM1, sched_op for isa-debug-exit and nothing for other
 * ports, so the diagnostic's short message names the fix the quick fix really offers.
 */
export function rewriteHypercall(doc: LintDocument, line: number, index: number, instr: ScannedInstruction, c: Classified): string | null {
  const r = instanceRewrite(doc, line, index, instr, c, 0);
  if (r.marker !== undefined) return null;
  for (const l of r.lines) { const m = /__HYPERVISOR_(\w+)/.exec(l); if (m) return m[1]; }
  return null;
}

function instanceRewrite(doc: LintDocument, line: number, index: number, instr: ScannedInstruction, c: Classified, unique: number): RewriteText {
  return rewriteOf({
    operands: operandTexts(doc, instr),
    scanned: instr,
    classified: c,
    unique,
    next: nextInstruction(doc, line, index)?.mnemonic,
    loadedTable: (m) => loadedTable(doc, m),
    constant: (t) => evaluateConstant(doc, doc.syntax === 'att' ? t?.replace(/^\$/, '') : t),
  });
}

function rawQuickFix(doc: LintDocument, line: number, index = 0, unique?: number): QuickFix | undefined {
  const facts = doc.facts[line];
  const instr = facts?.instructions[index];
  if (!instr || facts.pvMarker) return undefined;
  const c = doc.classify(instr);
  if (!c) return undefined;
  const cls = reportedClass(c);
  if (!cls) return undefined;
  const rewrite = instanceRewrite(doc, line, index, instr, c, unique ?? ++uniqueCounter);
  const code = cls === 'critical' ? 'critical-instruction' as const : 'privileged-instruction' as const;
  if (rewrite.marker !== undefined) {
    // Kept as written: only a `popek: pv` comment is added after the instruction.
    const several = doc.syntax === 'att' && facts.instructions.length > 1;
    const comment = doc.syntax === 'att' ? (several ? ` /* ${rewrite.marker} */` : ` # ${rewrite.marker}`) : ` ; ${rewrite.marker}`;
    const hasComment = facts.commentStart !== undefined && !several;
    const at = hasComment ? facts.commentStart! : instr.end;
    const newText = hasComment ? `${comment.trim()} — ` : comment;
    return { title: menuTitle(rewrite.title, instr.spelling), replaces: false, line, code, edit: { range: { start: { line, character: at }, end: { line, character: hasComment ? at + 1 : at } }, newText: hasComment ? newText.replace(/^[;#] /, doc.syntax === 'att' ? '# ' : '; ') : newText } };
  }
  const text = doc.lines[line];
  // Continuation lines start under the instruction (under it also when a label precedes it).
  const before = text.slice(0, instr.start);
  const lead = /^\s*/.exec(text)![0];
  const indent = /^\s*$/.test(before) ? before : index > 0 ? (lead || '    ') : ' '.repeat(instr.start);
  const lines = [blockComment(doc, text.slice(instr.start, instr.end), rewrite.title), ...rewrite.lines.map((l) => (doc.syntax === 'att' ? nasmLineToAtt(l) : l))];
  // New lines break as the rewritten line does (CRLF stays CRLF, a lone CR stays CR).
  const eol = doc.eolAt(line);
  let newText = lines.map((l, i) => (i === 0 ? l : indent + l)).join(eol);
  // Only the instruction's own span is replaced: a label before it and a comment after it stay.
  let end = instr.end;
  const next = facts.instructions[index + 1];
  if (doc.syntax === 'att' && next && rewrite.lines.length > 1) {
    // `cli; hlt`: the statement after a multi-line rewrite moves to a line of its own.
    end = next.start;
    newText += eol + indent;
  }
  return {
    title: menuTitle(rewrite.title, instr.spelling),
    replaces: rewrite.replaces,
    line,
    code,
    edit: { range: { start: { line, character: instr.start }, end: { line, character: end } }, newText },
  };
}

/**
 * A rewrite's title as the quick-fix menu shows it: plain text (VS Code shows a code action's title
 * as it is, so Markdown backticks would show literally), naming the instruction as written (`popfd`,
 * `popfl`), not as the table's row names it.
 */
function menuTitle(title: string, spelling: string): string {
  return title.replace(/^Replace `[^`]*`/, `Replace ${spelling}`).replace(/`/g, '');
}

/**
 * The comment a rewrite starts with: what it replaces and by what, so the block reads as code a person
 * wrote. AT&T gets a C comment: a `#` at the start of a `.S` line would be a cpp directive.
 */
function blockComment(doc: LintDocument, original: string, title: string): string {
  const by = title.replace(/^Replace `[^`]*`\s*(\([^)]*\)\s*)?by /, '').replace(/`/g, '').replace(/\*\//g, '* /');
  const was = original.replace(/\s+/g, ' ').trim();
  return doc.syntax === 'att' ? `/* "${was}" replaced by ${by} */` : `; "${was}" replaced by ${by}`;
}

/**
 * The alternative quick fix: keep the instruction and mark it reviewed (`popek: pv`), e.g. a
 * privileged instruction whose trap the author accepts, or a critical one known to be harmless.
 */
export function markReviewed(doc: LintDocument, line: number, index = 0): QuickFix | undefined {
  const facts = doc.facts[line];
  const instr = facts?.instructions[index];
  if (!instr || facts.pvMarker) return undefined;
  const c = doc.classify(instr);
  const cls = c && reportedClass(c);
  if (!cls) return undefined;
  const several = doc.syntax === 'att' && facts.instructions.length > 1;
  const marker = `popek: pv — reviewed: ${cls === 'privileged' ? 'the hypervisor traps and emulates it' : 'kept as written'}`;
  const hasComment = facts.commentStart !== undefined && !several;
  const comment = doc.syntax === 'att' ? (several ? ` /* ${marker} */` : ` # ${marker}`) : ` ; ${marker}`;
  const edit: TextEdit = hasComment
    ? { range: { start: { line, character: facts.commentStart! }, end: { line, character: facts.commentStart! + 1 } }, newText: `${doc.syntax === 'att' ? '#' : ';'} ${marker} —` }
    : { range: { start: { line, character: instr.end }, end: { line, character: instr.end } }, newText: comment };
  const fix: QuickFix = { title: `Keep ${instr.spelling} as written and mark it reviewed`, replaces: false, line, code: cls === 'critical' ? 'critical-instruction' : 'privileged-instruction', edit };
  return settles(doc, fix) ? fix : undefined;
}

export interface FixAllResult {
  text: string;
  rewrites: number;
  /** Instructions only marked as reviewed (no paravirtual equivalent). */
  reviewed: number;
  changedLines: number;
  /** Lines the rewrites (and the header's include line) add to the file. */
  addedLines: number;
  totalLines: number;
  /** For each line of the fixed text, the 0-based line of the original it comes from. */
  originalLine: number[];
  /** The Xen constants header the fixed text includes (to write next to it unless one is there). */
  header?: XenHeader;
}

/** All quick fixes of a document, as non-overlapping edits in document order. */
export function allQuickFixes(doc: LintDocument): QuickFix[] {
  const out: QuickFix[] = [];
  let n = 0;
  for (let line = 0; line < doc.facts.length; line++) {
    const f = doc.facts[line];
    for (let i = 0; i < f.instructions.length; i++) {
      const fix = quickFix(doc, line, i, ++n);
      if (fix) out.push(fix);
    }
  }
  return out;
}

/**
 * Applies edits (non-overlapping, any order, each within one line) to a document's text. Every
 * line break of the document is kept as written: only the edited spans change.
 */
export function applyEdits(doc: LintDocument, edits: TextEdit[]): string {
  const lines = [...doc.lines];
  // Last first; at one position a replacement before an insertion, so the insertion lands before
  // the replaced text rather than inside it.
  const sorted = [...edits].sort((a, b) => b.range.start.line - a.range.start.line || b.range.start.character - a.range.start.character
    || b.range.end.character - a.range.end.character);
  for (const e of sorted) {
    const l = e.range.start.line;
    const s = lines[l];
    if (s === undefined || e.range.end.line !== l) throw new Error(`edit outside one line of the document (line ${l + 1})`);
    lines[l] = s.slice(0, e.range.start.character) + e.newText + s.slice(e.range.end.character);
  }
  let text = '';
  for (let i = 0; i < lines.length; i++) text += lines[i] + doc.eols[i];
  return text;
}

/**
 * The edit that includes the Xen constants header, when `fixes` name a Xen constant and the document
 * does not include it yet (plain nasm / as know none of them).
 */
export function xenIncludeEdit(doc: LintDocument, fixes: QuickFix[]): { edit: TextEdit; header: XenHeader } | undefined {
  if (!fixes.some((f) => f.replaces && usesXenConstants(f.edit.newText)) || includesXenHeader(doc)) return undefined;
  const line = xenIncludeLineNumber(doc);
  const eol = doc.eolAt(line) || '\n';
  return {
    edit: { range: { start: { line, character: 0 }, end: { line, character: 0 } }, newText: xenIncludeLine(doc.syntax) + eol },
    header: xenHeader(doc.syntax, eol),
  };
}

const newlines = (text: string) => text.match(/\r\n|\r|\n/g)?.length ?? 0;

/** Applies every quick fix; counts the rewrites, the lines changed and the lines added. */
export function fixAll(doc: LintDocument): FixAllResult {
  const fixes = allQuickFixes(doc);
  const include = xenIncludeEdit(doc, fixes);
  const edits = [...fixes.map((f) => f.edit), ...(include ? [include.edit] : [])];
  const text = applyEdits(doc, edits);
  const changed = new Set(fixes.map((f) => f.line)).size;
  const grow = new Map<number, number>();
  for (const e of edits) grow.set(e.range.start.line, (grow.get(e.range.start.line) ?? 0) + newlines(e.newText));
  const originalLine: number[] = [];
  doc.lines.forEach((_, i) => { for (let k = 0; k <= (grow.get(i) ?? 0); k++) originalLine.push(i); });
  return {
    text,
    originalLine,
    rewrites: fixes.filter((f) => f.replaces).length,
    reviewed: fixes.filter((f) => !f.replaces).length,
    changedLines: changed,
    addedLines: edits.reduce((n, e) => n + newlines(e.newText), 0),
    totalLines: doc.lines.length,
    header: include?.header,
  };
}
