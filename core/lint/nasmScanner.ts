/*
 * A tolerant one-line scanner for NASM syntax. It finds what the editor needs — labels,
 * constants, macros, the instruction and its classified operands, symbol references, `%include` —
 * with exact ranges, and never throws. It does not assemble: the assembler (core/asm) is the
 * judge of what is valid; this scanner exists so that an edit re-scans one line, not the file.
 */
import { instructionInfo } from '../isa';
import {
  emptyFacts, registerClass, scanMarker, scannedOperand,
  type LineFacts, type ScannedInstruction, type ScannedOperand, type Span,
} from './lineModel';
import { continuesOnNextLine, withoutContinuation } from '../asm/ppStrings';

const PREFIXES = new Set(['rep', 'repe', 'repz', 'repne', 'repnz', 'lock', 'o16', 'o32', 'a16', 'a32', 'xacquire', 'xrelease']);
const SIZE_WORDS: Record<string, number> = { byte: 8, word: 16, dword: 32, qword: 64, tword: 80, oword: 128 };
const MODIFIERS = new Set(['far', 'near', 'short', 'strict', 'nosplit', 'rel', 'abs', 'ptr']);
/** Directives that take the rest of the line as arguments (no label in front of them is required). */
export const NASM_DIRECTIVES = new Set([
  'bits', 'use16', 'use32', 'org', 'section', 'segment', 'align', 'alignb', 'global', 'extern', 'common',
  'cpu', 'default', 'absolute', 'struc', 'endstruc', 'istruc', 'at', 'iend', 'float', 'warning', 'static', 'required',
]);
export const NASM_DATA = new Set(['db', 'dw', 'dd', 'dq', 'dt', 'do', 'dy', 'resb', 'resw', 'resd', 'resq', 'rest', 'reso', 'resy', 'incbin']);
const OPERATORS_WORDS = new Set(['seg', 'wrt', 'times', 'equ', '$', '$$', '__?', 'strict']);

/**
 * What a line ending in `\` continues on the next one (nasm joins the two before reading them):
 * a statement, a comment (a `\` after `;` makes the next line comment too) or a `%` directive.
 */
export type NasmJoin = 'code' | 'comment' | 'directive';

/** State carried from line to line: inside a `%macro` body; what the previous line continues here. */
export interface NasmScanState { inMacro: boolean; joined?: NasmJoin }

const IDENT_START = /[A-Za-z_.?@$]/;
const IDENT_CHAR = /[A-Za-z0-9_.?@$#~]/;

/** Index of the `;` starting a comment, outside quotes; -1 when none. */
function commentIndex(line: string): number {
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = '';
      else if (c === '\\' && quote === '`') i++;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === ';') return i;
  }
  return -1;
}

/**
 * Splits `text` (a slice of the line starting at `base`) at top-level commas. NASM nests in `[]` and
 * `()` and quotes with ' " `; GNU as nests in `()` only, quotes with " (backslash escapes), and a
 * lone ' is a character constant (`$'a`), not a quote.
 */
export function splitOperands(text: string, base: number, syntax: 'nasm' | 'att' = 'nasm'): Array<{ text: string } & Span> {
  const att = syntax === 'att';
  const out: Array<{ text: string } & Span> = [];
  let depth = 0;
  let quote = '';
  let start = 0;
  const push = (end: number): void => {
    const raw = text.slice(start, end);
    const lead = raw.length - raw.trimStart().length;
    const t = raw.trim();
    out.push({ text: t, start: base + start + lead, end: base + start + lead + t.length });
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (att && c === '\\') i++;
      else if (c === quote) quote = '';
      continue;
    }
    if (c === '"' || (!att && (c === "'" || c === '`'))) quote = c;
    else if (c === '(' || (!att && c === '[')) depth++;
    else if (c === ')' || (!att && c === ']')) depth = Math.max(0, depth - 1);
    else if (c === ',' && depth === 0) { push(i); start = i + 1; }
  }
  if (text.trim().length > 0 || out.length > 0) push(text.length);
  return out;
}

/** Identifiers in an expression slice (symbol references: not registers, keywords or numbers). */
export function identifiersIn(text: string, base: number, out: LineFacts['refs']): void {
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) { if (c === quote) quote = ''; continue; }
    if (c === '"' || c === "'" || c === '`') { quote = c; continue; }
    if (/[0-9]/.test(c)) { while (i + 1 < text.length && IDENT_CHAR.test(text[i + 1])) i++; continue; }
    if (!IDENT_START.test(c)) continue;
    let j = i + 1;
    while (j < text.length && IDENT_CHAR.test(text[j])) j++;
    let name = text.slice(i, j);
    let start = i;
    if (name.startsWith('$') && name.length > 1) {
      // `$0x10`-style numbers are not names; `$name` escapes a reserved word.
      if (/^\$[0-9]/.test(name)) { i = j - 1; continue; }
      name = name.slice(1);
      start++;
    }
    const lower = name.toLowerCase();
    if (name && name !== '$' && name !== '$$' && !registerClass(lower) && !(lower in SIZE_WORDS) && !MODIFIERS.has(lower) && !OPERATORS_WORDS.has(lower) && !/^__\?/.test(name)) {
      out.push({ name, start: base + start, end: base + j });
    }
    i = j - 1;
  }
}

/** Classifies one NASM operand. */
export function classifyNasmOperand(op: { text: string } & Span): ScannedOperand {
  let text = op.text;
  let size: number | undefined;
  let far = false;
  // Leading keywords: size, far/near/short/strict.
  for (;;) {
    let n = 0;
    while (n < text.length && isLetter(text.charCodeAt(n))) n++;
    if (n === 0 || n === text.length) break;
    const w = text.slice(0, n).toLowerCase();
    if (w in SIZE_WORDS) size = SIZE_WORDS[w];
    else if (w === 'far') far = true;
    else if (!MODIFIERS.has(w)) break;
    text = text.slice(n).trimStart();
  }
  const span = op;
  const lower = text.toLowerCase();
  const cls = registerClass(lower);
  if (cls) return scannedOperand(span, 'register', op.text, { register: lower, registerClass: cls, size });
  if (text.startsWith('[') || /^[a-z]s\s*:\s*\[/i.test(text)) return scannedOperand(span, 'memory', op.text, { size, far: far || undefined });
  // `seg:offset` at the top level (outside brackets and quotes) is a far pointer.
  const colon = text.indexOf(':');
  if (colon > 0 && colon < text.length - 1 && text[colon + 1] !== ':' && text.indexOf(':', colon + 1) < 0 && !/[[\]'"`]/.test(text)) {
    return scannedOperand(span, 'far', op.text, { size, far: true });
  }
  return scannedOperand(span, 'immediate', op.text, { size, far: far || undefined });
}

function isLetter(c: number): boolean { return (c >= 65 && c <= 90) || (c >= 97 && c <= 122); }

/** Scans one line of NASM source. */
export function scanNasmLine(line: string, state: NasmScanState): LineFacts {
  const joined = state.joined;
  state.joined = undefined;
  if (joined) return scanJoinedLine(line, joined, state);
  const facts = emptyFacts();
  const ci = commentIndex(line);
  if (ci >= 0) {
    facts.commentStart = ci;
    scanMarker(line.slice(ci + 1), facts);
  }
  let code = ci >= 0 ? line.slice(0, ci) : line;
  if (continuesOnNextLine(line)) {
    // the next line is read as part of this one: a structural change when this line gains or loses its `\`
    facts.structural = true;
    state.joined = ci >= 0 ? 'comment' : code.trimStart().startsWith('%') ? 'directive' : 'code';
    if (ci < 0) code = withoutContinuation(code);
  }
  const trimmed = code.trim();
  if (!trimmed) return facts;
  const lead = code.length - code.trimStart().length;

  // Preprocessor lines.
  if (trimmed.startsWith('%')) {
    facts.structural = true;
    scanPreprocessor(code, lead, facts, state);
    return facts;
  }
  if (state.inMacro) {
    facts.structural = true;
    // Macro bodies are scanned like code (so `cli` in a macro is still seen) but define nothing.
    scanStatement(code, lead, facts, true);
    facts.defs = [];
    return facts;
  }
  scanStatement(code, lead, facts, false);
  return facts;
}

/**
 * A line that nasm appends to the one before (which ended in `\`): what the per-line view can say of it
 * is where it points (its names) — its instruction, if any, is the first line's, which is scanned with it.
 */
function scanJoinedLine(line: string, joined: NasmJoin, state: NasmScanState): LineFacts {
  const facts = emptyFacts();
  if (joined === 'comment') {
    facts.commentStart = 0;
    if (continuesOnNextLine(line)) state.joined = 'comment';
    return facts;
  }
  // the rest of a directive or a macro body line is structure, as its first line is
  if (joined === 'directive' || state.inMacro) facts.structural = true;
  const ci = commentIndex(line);
  if (ci >= 0) facts.commentStart = ci;
  const code = ci >= 0 ? line.slice(0, ci) : line;
  identifiersIn(code, 0, facts.refs);
  if (continuesOnNextLine(line)) { state.joined = ci >= 0 ? 'comment' : joined; facts.structural = true; }
  return facts;
}

function scanPreprocessor(code: string, lead: number, facts: LineFacts, state: NasmScanState): void {
  const m = /^%([A-Za-z]+)\b\s*/.exec(code.slice(lead));
  if (!m) return;
  const dir = m[1].toLowerCase();
  const restStart = lead + m[0].length;
  const rest = code.slice(restStart);
  const nameMatch = /^([A-Za-z_.?@$][A-Za-z0-9_.?@$#~]*)/.exec(rest);
  const name = nameMatch?.[1];
  const nameSpan = name ? { start: restStart, end: restStart + name.length } : undefined;
  switch (dir) {
    case 'macro': case 'imacro':
      if (name && nameSpan) facts.defs.push({ name, kind: 'macro', ...nameSpan });
      facts.macroOpen = true;
      state.inMacro = true;
      return;
    case 'endmacro': case 'endm':
      facts.macroClose = true;
      state.inMacro = false;
      return;
    case 'define': case 'idefine': case 'xdefine': case 'assign': case 'iassign': {
      if (name && nameSpan) facts.defs.push({ name, kind: 'define', ...nameSpan });
      let bodyStart = nameSpan ? nameSpan.end : restStart;
      // Skip a parameter list `(a,b)`.
      if (code[bodyStart] === '(') { const close = code.indexOf(')', bodyStart); if (close > 0) bodyStart = close + 1; }
      identifiersIn(code.slice(bodyStart), bodyStart, facts.refs);
      return;
    }
    case 'include': {
      const q = /^(["'<`])(.*?)(["'>`])/.exec(rest);
      if (q) facts.include = { path: q[2], start: restStart, end: restStart + q[0].length };
      return;
    }
    case 'if': case 'elif': case 'ifdef': case 'ifndef': case 'elifdef': case 'elifndef': case 'undef': case 'rep': case 'error': case 'warning':
      if (dir !== 'error' && dir !== 'warning') identifiersIn(rest, restStart, facts.refs);
      return;
    default:
      return;
  }
}

function isKnownMnemonic(word: string): boolean {
  return instructionInfo(word) !== undefined;
}

/** Scans label / directive / instruction text (comment removed). */
function scanStatement(code: string, lead: number, facts: LineFacts, inMacro: boolean): void {
  let pos = lead;
  const word = (): { text: string; start: number; end: number } | undefined => {
    while (pos < code.length && /\s/.test(code[pos])) pos++;
    const m = /^[A-Za-z_.?@$][A-Za-z0-9_.?@$#~]*/.exec(code.slice(pos));
    if (!m) return undefined;
    return { text: m[0], start: pos, end: pos + m[0].length };
  };

  // `[bits 32]`-style primitive directives.
  if (code[pos] === '[') {
    const close = code.lastIndexOf(']');
    const inner = code.slice(pos + 1, close > pos ? close : code.length);
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(inner);
    if (m) {
      const start = pos + 1 + inner.indexOf(m[1]);
      const argsStart = start + m[1].length + (inner.slice(inner.indexOf(m[1]) + m[1].length).length - m[2].length);
      facts.directive = { name: m[1].toLowerCase(), start, end: start + m[1].length, args: m[2].trim(), argsSpan: { start: argsStart, end: argsStart + m[2].trim().length } };
    }
    return;
  }

  let first = word();
  if (!first) return;
  pos = first.end;
  // Label with a colon.
  const afterFirst = code.slice(first.end);
  if (/^\s*:/.test(afterFirst) && !/^\s*::/.test(afterFirst)) {
    if (!inMacro) facts.defs.push({ name: first.text, kind: 'label', start: first.start, end: first.end });
    pos = first.end + afterFirst.indexOf(':') + 1;
    first = word();
    if (!first) return;
    pos = first.end;
  } else {
    const lower = first.text.toLowerCase();
    const second = /^\s*([A-Za-z_.?@$][A-Za-z0-9_.?@$#~]*)/.exec(afterFirst);
    const secondLower = second?.[1].toLowerCase();
    if (secondLower === 'equ') {
      facts.defs.push({ name: first.text, kind: 'constant', start: first.start, end: first.end });
      const exprStart = first.end + afterFirst.indexOf(second![1]) + 3;
      identifiersIn(code.slice(exprStart), exprStart, facts.refs);
      return;
    }
    // A label without a colon: `name db 1`, `name times 4 db 0`, `name mov eax, 1`.
    if (second && !isKnownMnemonic(lower) && !NASM_DIRECTIVES.has(lower) && !NASM_DATA.has(lower) && !PREFIXES.has(lower) && lower !== 'times'
        && (NASM_DATA.has(secondLower!) || secondLower === 'times' || isKnownMnemonic(secondLower!))) {
      if (!inMacro) facts.defs.push({ name: first.text, kind: 'label', start: first.start, end: first.end });
      first = word();
      if (!first) return;
      pos = first.end;
    }
  }

  let lower = first.text.toLowerCase();
  if (lower === 'times') {
    // `times COUNT body`: the count is an expression; the body starts at the first mnemonic/data word.
    const rest = code.slice(first.end);
    const re = /[A-Za-z_.?@$][A-Za-z0-9_.?@$#~]*/g;
    let m: RegExpExecArray | null;
    let bodyAt = -1;
    while ((m = re.exec(rest))) {
      const w = m[0].toLowerCase();
      if (NASM_DATA.has(w) || isKnownMnemonic(w) || PREFIXES.has(w)) { bodyAt = first.end + m.index; break; }
    }
    const countEnd = bodyAt >= 0 ? bodyAt : code.length;
    identifiersIn(code.slice(first.end, countEnd), first.end, facts.refs);
    if (bodyAt < 0) return;
    pos = bodyAt;
    first = word();
    if (!first) return;
    pos = first.end;
    lower = first.text.toLowerCase();
  }

  if (NASM_DIRECTIVES.has(lower) || NASM_DATA.has(lower)) {
    const argsRaw = code.slice(first.end);
    const argsLead = argsRaw.length - argsRaw.trimStart().length;
    const args = argsRaw.trim();
    const argsStart = first.end + argsLead;
    facts.directive = { name: lower, start: first.start, end: first.end, args, argsSpan: { start: argsStart, end: argsStart + args.length } };
    if (lower !== 'section' && lower !== 'segment' && lower !== 'bits' && lower !== 'cpu' && lower !== 'default' && lower !== 'incbin') {
      identifiersIn(args, argsStart, facts.refs);
    }
    return;
  }

  // Prefixes, then the mnemonic.
  const statementStart = first.start;
  const prefixes: string[] = [];
  while (PREFIXES.has(lower)) {
    prefixes.push(lower);
    const next = word();
    if (!next) {
      // A lone prefix is an instruction of its own (e.g. `lock` alone is rejected by the assembler).
      facts.instructions.push(makeInstruction(first, [], prefixes.slice(0, -1), code, lower, statementStart));
      return;
    }
    first = next;
    pos = first.end;
    lower = first.text.toLowerCase();
  }
  const operandsText = code.slice(first.end);
  const ops = splitOperands(operandsText, first.end).filter((o) => o.text.length > 0 || operandsText.includes(','));
  const known = isKnownMnemonic(lower);
  if (!known && !prefixes.length) {
    // Possibly a macro invocation; the document pass decides (it knows the macros).
    facts.macroCall = { name: first.text, start: first.start, end: first.end };
  }
  const instr = makeInstruction(first, ops.map(classifyNasmOperand), prefixes, code, lower, statementStart);
  instr.known = known;
  facts.instructions.push(instr);
  for (const o of ops) identifiersIn(o.text, o.start, facts.refs);
}

function makeInstruction(first: { start: number; end: number }, operands: ScannedOperand[], prefixes: string[], code: string, lower: string, statementStart: number): ScannedInstruction {
  const end = code.trimEnd().length;
  const far = lower === 'retf' || operands.some((o) => o.far === true) || undefined;
  const opsize = prefixes.includes('o16') ? 16 : prefixes.includes('o32') ? 32 : undefined;
  return {
    spelling: lower, mnemonic: lower, mnemonicSpan: { start: first.start, end: first.end },
    prefixes, operands, far, opsize, known: isKnownMnemonic(lower),
    start: statementStart, end: Math.max(end, first.end),
  };
}
