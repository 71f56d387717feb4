/*
 * NASM-syntax parser: one line at a time into statements with exact 0-based ranges. Tolerant: a
 * bad line yields a diagnostic and the other lines still parse; no input makes it throw.
 * `parseLine` is shared with the assembler, which feeds it preprocessed lines.
 */
import type {
  BinaryOp, DataDirective, Diagnostic, Expr, Operand, ParsedFile, Position, Range, SizeKeyword, Statement,
} from './ast';
import { instructionInfo, PREFIXES } from '../isa/table';
import { isRegister } from './registers';
import { encodeFloat, floatFunction, floatSpecial, parseFloatText } from './floats';

// ---------------------------------------------------------------- tokens
export const enum T { Ident, Number, String, Op, End, Float }
export interface Token { t: T; text: string; start: number; end: number; value?: number; str?: string; error?: string; lower?: string }

// character classes by code (the tokenizer runs on every line of every keystroke)
const IS_START = new Uint8Array(128);
const IS_CHAR = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_.?@$]/.test(ch)) IS_START[c] = 1;
  if (/[A-Za-z0-9_.?@$#~]/.test(ch)) IS_CHAR[c] = 1;
}
const IDENT_START = { test: (c: string) => { const k = c.charCodeAt(0); return k < 128 && IS_START[k] === 1; } };
const IDENT_CHAR = { test: (c: string) => { const k = c.charCodeAt(0); return k < 128 && IS_CHAR[k] === 1; } };
/** First characters of the two- and three-character operators. */
const OP_START = new Uint8Array(128);
for (const ch of '|&^=!<>/%') OP_START[ch.charCodeAt(0)] = 1;
const TWO_CHAR_OPS = new Set(['||', '&&', '^^', '==', '!=', '<>', '<=', '>=', '<<', '>>', '//', '%%']);

/** Every token has the same shape (one hidden class keeps the parser's property accesses monomorphic). */
function newTok(t: T, text: string, start: number, end: number, value?: number, str?: string, error?: string, lower?: string): Token {
  return { t, text, start, end, value, str, error, lower };
}

/** Lower case without allocating when the text already is. */
function lowerAscii(text: string): string {
  for (let i = 0; i < text.length; i++) { const k = text.charCodeAt(i); if (k >= 65 && k <= 90) return text.toLowerCase(); }
  return text;
}

function isDigit(c: string): boolean { return c >= '0' && c <= '9'; }

/** Parses a NASM number literal; undefined if malformed. */
export function parseNumber(text: string): number | undefined {
  // fast paths (same arithmetic as below): plain decimal, and 0x-prefixed hexadecimal
  const n = text.length;
  let k = 0;
  let v0 = 0;
  while (k < n) { const c = text.charCodeAt(k); if (c < 48 || c > 57) break; v0 = v0 * 10 + (c - 48); k++; }
  if (k === n && n > 0) return v0;
  if (n > 2 && text.charCodeAt(0) === 48 && (text.charCodeAt(1) | 32) === 120) {
    v0 = 0;
    for (k = 2; k < n; k++) {
      const c = text.charCodeAt(k) | 0;
      const d = c >= 48 && c <= 57 ? c - 48 : (c | 32) >= 97 && (c | 32) <= 102 ? (c | 32) - 87 : -1;
      if (d < 0) break;
      v0 = v0 * 16 + d;
    }
    if (k === n) return v0;
  }
  const r = radixAndDigits(text);
  if (r === undefined) return undefined;
  let v = 0;
  for (const ch of r.digits) v = v * r.base + parseInt(ch, 16);
  return v;
}

const RADIX_LETTERS: Record<string, number> = Object.assign(Object.create(null), { x: 16, h: 16, q: 8, o: 8, b: 2, y: 2, d: 10, t: 10 });
const DIGITS: Record<number, RegExp> = { 16: /^[0-9a-f]+$/, 10: /^[0-9]+$/, 8: /^[0-7]+$/, 2: /^[01]+$/ };

/**
 * An integer literal's base and digits, as NASM reads it: `$` or a `0x`-style prefix, or an `h`-style
 * suffix; with both a prefix and a suffix letter the larger base wins (`0DFh` is hexadecimal, `0x1b` too).
 */
function radixAndDigits(text: string): { base: number; digits: string } | undefined {
  const s = text.replace(/_/g, '').toLowerCase();
  if (!s) return undefined;
  let base = 10;
  let digits = s;
  if (s.startsWith('$')) { base = 16; digits = s.slice(1); }
  else {
    const prefix = s.length > 2 && s[0] === '0' ? RADIX_LETTERS[s[1]] ?? 0 : 0;
    const suffix = s.length > 1 ? RADIX_LETTERS[s[s.length - 1]] ?? 0 : 0;
    if (prefix > suffix) { base = prefix; digits = s.slice(2); }
    else if (suffix > 0) { base = suffix; digits = s.slice(0, -1); }
  }
  return DIGITS[base].test(digits) ? { base, digits } : undefined;
}

/** The exact value of a number literal that is too large for a double, or undefined. */
export function parseBigNumber(text: string): bigint | undefined {
  const v = parseNumber(text);
  if (v === undefined || v <= Number.MAX_SAFE_INTEGER) return undefined;
  const r = radixAndDigits(text)!;
  let b = 0n;
  for (const ch of r.digits) b = b * BigInt(r.base) + BigInt(parseInt(ch, 16));
  return b;
}

/** Tokenizes one line (comment already excluded by the caller or stopped at ';'). */
export function tokenize(line: string): Token[] {
  return tokenizeWith(line, [], undefined);
}

/**
 * Token objects and the array reused by `parseLine` from line to line (statements keep no token:
 * only their strings and numbers), so a line costs no token garbage.
 */
const POOL: Token[] = [];
const POOL_TOKS: Token[] = [];

let activePool: Token[] | undefined;
let poolUsed = 0;
function tok(t: T, text: string, start: number, end: number, value?: number, str?: string, error?: string, lower?: string): Token {
  const pool = activePool;
  if (pool === undefined) return newTok(t, text, start, end, value, str, error, lower);
  let k = pool[poolUsed];
  if (k === undefined) { k = newTok(t, text, start, end, value, str, error, lower); pool.push(k); }
  else { k.t = t; k.text = text; k.start = start; k.end = end; k.value = value; k.str = str; k.error = error; k.lower = lower; }
  poolUsed++;
  return k;
}

/** Tokenizes into `out`; with a pool, token objects are taken from (and kept in) it instead of allocated. */
function tokenizeWith(line: string, out: Token[], pool: Token[] | undefined): Token[] {
  activePool = pool;
  poolUsed = 0;
  try {
    return tokenizeInto(line, out);
  } finally {
    activePool = undefined;
  }
}

function tokenizeInto(line: string, out: Token[]): Token[] {
  let i = 0;
  const n = line.length;
  while (i < n) {
    const code = line.charCodeAt(i);
    if (code === 32 || code === 9 || code === 13 || code === 12 || code === 11) { i++; continue; }
    if (code === 59 /* ; */) break;
    const start = i;
    // identifiers first (most tokens are): `$` followed by a digit is a number ($1F)
    if (code < 128 && IS_START[code] === 1 && !(code === 36 && i + 1 < n && isDigit(line[i + 1]))) {
      let j = i + 1;
      for (let k = line.charCodeAt(j); j < n && k < 128 && IS_CHAR[k] === 1; k = line.charCodeAt(++j));
      const text = line.slice(i, j);
      out.push(tok(T.Ident, text, start, j, undefined, undefined, undefined, lowerAscii(text)));
      i = j;
      continue;
    }
    const c = line[i];
    if (c === '\'' || c === '"' || c === '`') {
      let j = i + 1;
      let s = '';
      while (j < n && line[j] !== c) {
        if (c === '`' && line[j] === '\\' && j + 1 < n) {
          const e = line[j + 1];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === '0' ? '\0' : e;
          j += 2;
          continue;
        }
        s += line[j++];
      }
      out.push(tok(T.String, line.slice(start, Math.min(j + 1, n)), start, Math.min(j + 1, n), undefined, s, j >= n ? 'unterminated string' : undefined));
      i = j + 1;
      continue;
    }
    if (isDigit(c) || (c === '$' && i + 1 < n && isDigit(line[i + 1]))) {
      // NASM's number scan: letters, digits, '_' and '.', and a sign after an exponent letter;
      // '.', a 'p' exponent or a decimal 'e' exponent make it a floating-point constant
      let j = i + 1;
      let hex = c === '$';
      let float = false;
      let exp = false;
      for (; j < n; j++) {
        const k = line.charCodeAt(j) | 32;
        if (!hex && k === 101 /* e */) { exp = true; const s = line[j + 1]; if (s === '+' || s === '-') { float = true; j++; } }
        else if (k === 104 /* h */ || k === 120 /* x */) hex = true;
        else if (k === 112 /* p */) { float = true; const s = line[j + 1]; if (s === '+' || s === '-') j++; }
        else if (line.charCodeAt(j) === 46 /* . */) float = true;
        else if (!((k >= 97 && k <= 122) || (k >= 48 && k <= 57) || line.charCodeAt(j) === 95 /* _ */)) break;
      }
      const text = line.slice(i, j);
      if (float || (exp && !hex)) { out.push(tok(T.Float, text, start, j)); i = j; continue; }
      const v = parseNumber(text);
      out.push(tok(T.Number, text, start, j, v, undefined, v === undefined ? `invalid number '${text}'` : undefined));
      i = j;
      continue;
    }
    if (c === '%' && i + 1 < n && (line[i + 1] === '%' || IDENT_START.test(line[i + 1]) || isDigit(line[i + 1]))) {
      // %%local, %1, %define… : keep as one identifier-like token when directly attached
      if (line[i + 1] !== '%' || (i + 2 < n && IDENT_START.test(line[i + 2]))) {
        let j = i + 1;
        if (line[j] === '%') j++;
        while (j < n && IDENT_CHAR.test(line[j])) j++;
        const text = line.slice(i, j);
        out.push(tok(T.Ident, text, start, j, undefined, undefined, undefined, lowerAscii(text)));
        i = j;
        continue;
      }
    }
    let op = c;
    if (i + 1 < n && OP_START[line.charCodeAt(i) & 127] === 1) {
      const two = line.slice(i, i + 2);
      if (TWO_CHAR_OPS.has(two)) {
        op = two;
        if (i + 2 < n) { const three = line.slice(i, i + 3); if (three === '<<<' || three === '>>>' || three === '<=>') op = three; }
      }
    }
    out.push(tok(T.Op, op, start, i + op.length));
    i += op.length;
  }
  out.push(tok(T.End, '', n, n));
  return out;
}

/** Index of the ';' that starts the comment, outside strings (or -1). */
export function commentStart(line: string): number {
  let q = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) { if (c === q) q = ''; else if (q === '`' && c === '\\') i++; }
    else if (c === '\'' || c === '"' || c === '`') q = c;
    else if (c === ';') return i;
  }
  return -1;
}

// ---------------------------------------------------------------- line parser
// Maps, not objects: looking a token's (not internalised) text up as a property costs a string-table
// search before the property search, on every operand of every line.
const SIZE_KEYWORDS = new Map<string, SizeKeyword>([['byte', 'byte'], ['word', 'word'], ['dword', 'dword'], ['qword', 'qword'], ['tword', 'tword'], ['oword', 'oword']]);
const DATA = new Map<string, DataDirective>((['db', 'dw', 'dd', 'dq', 'dt', 'do', 'resb', 'resw', 'resd', 'resq', 'rest', 'reso', 'incbin'] as const).map((d) => [d, d]));
export const DIRECTIVES = new Set(['bits', 'use16', 'use32', 'use64', 'org', 'section', 'segment', 'align', 'alignb', 'global', 'extern', 'common', 'cpu', 'default', 'absolute', 'static', 'warning', 'struc', 'endstruc', 'istruc', 'at', 'iend']);
const SEGMENT_NAMES = new Set(['es', 'cs', 'ss', 'ds', 'fs', 'gs']);
const PREFIX_NAMES = new Set([...Object.keys(PREFIXES), 'o16', 'o32', 'a16', 'a32', 'es', 'cs', 'ss', 'ds', 'fs', 'gs']);
/** LineParser.operands' gathering list (one line is parsed at a time; operands do not nest). */
const OPERANDS: Operand[] = [];

/** The prefix list of an instruction without prefixes (never changed: a prefix makes a list of its own). */
const NO_PREFIXES = Object.freeze([]) as unknown as Array<{ name: string; range: Range }>;

export interface LineContext {
  line: number;
  /** Last non-local label, for qualifying `.x`. Updated by the parser. */
  lastGlobal: string;
  /** Names known to be macros (parsed as macro calls). */
  macros?: Set<string>;
  /** After `bits 64` / `use64`: x86-64 code, not checked (an unknown mnemonic there is not an orphan label). */
  in64?: boolean;
  diagnostics: Diagnostic[];
  statements: Statement[];
  file?: string;
  /**
   * Assembler-internal mode: every range says line 0 and shares position objects across lines;
   * the caller applies the real line (`withLine`) to the few ranges it reports.
   */
  lineless?: boolean;
}

const SHARED_POSITIONS: Position[] = [];
function sharedPos(ch: number): Position {
  let p = SHARED_POSITIONS[ch];
  if (p === undefined) { p = Object.freeze({ line: 0, character: ch }) as Position; if (ch < 4096) SHARED_POSITIONS[ch] = p; }
  return p;
}

const SHARED_RANGES: Array<Array<Range | undefined> | undefined> = [];
/** Lineless ranges are immutable and shared too (one object per start/end pair). */
function sharedRange(start: number, end: number): Range {
  if (start >= 1024 || end >= 1024) return { start: sharedPos(start), end: sharedPos(end) };
  let row = SHARED_RANGES[start];
  if (row === undefined) { row = []; SHARED_RANGES[start] = row; }
  let r = row[end];
  if (r === undefined) { r = Object.freeze({ start: sharedPos(start), end: sharedPos(end) }) as Range; row[end] = r; }
  return r;
}

/** A line-0 range from lineless parsing, moved to `line`. */
export function withLine(r: Range, line: number): Range {
  return { start: { line: r.start.line + line, character: r.start.character }, end: { line: r.end.line + line, character: r.end.character } };
}

class LineParser {
  private p = 0;
  constructor(private readonly toks: Token[], private readonly ctx: LineContext, private readonly text: string) {}

  /** Positions are shared within a line (one object per character offset): fewer objects per statement. */
  private positions: Array<Position | undefined> | undefined;
  private pos(ch: number): Position {
    if (this.ctx.lineless) return sharedPos(ch);
    const ps = this.positions ??= [];
    let p = ps[ch];
    if (p === undefined) { p = { line: this.ctx.line, character: ch }; ps[ch] = p; }
    return p;
  }
  private range(start: number, end: number): Range {
    if (this.ctx.lineless) return sharedRange(start, end);
    return { start: this.pos(start), end: this.pos(end) };
  }
  atEnd(): boolean { return this.peek().t === T.End; }
  private peek(o = 0): Token { return this.toks[Math.min(this.p + o, this.toks.length - 1)]; }
  private next(): Token { const t = this.toks[this.p]; if (this.p < this.toks.length - 1) this.p++; return t; }
  private isOp(text: string, o = 0): boolean { const t = this.peek(o); return t.t === T.Op && t.text === text; }
  private error(start: number, end: number, message: string, code = 'syntax'): void {
    this.ctx.diagnostics.push({ range: this.range(start, Math.max(end, start)), severity: 'error', code, message, file: this.ctx.file });
  }

  // ---- expressions (NASM precedence, lowest first: || ^^ && comparisons | ^ & shifts +- */%)
  private static readonly PREC: Record<string, number> = {
    '||': 1, '^^': 2, '&&': 3, '=': 4, '==': 4, '!=': 4, '<>': 4, '<': 4, '<=': 4, '>': 4, '>=': 4, '<=>': 4,
    '|': 5, '^': 6, '&': 7, '<<': 8, '>>': 8, '<<<': 8, '>>>': 8, '+': 9, '-': 9, '*': 10, '/': 10, '//': 10, '%': 10, '%%': 10,
  };

  expr(allowRegs: boolean, minPrec = 1): Expr {
    let left = this.unary(allowRegs);
    for (;;) {
      const t = this.peek();
      if (t.t !== T.Op) break;
      const prec = LineParser.PREC[t.text];
      if (prec === undefined || prec < minPrec) break;
      this.next();
      const right = this.expr(allowRegs, prec + 1);
      const op = (t.text === '=' ? '==' : t.text) as BinaryOp;
      left = { kind: 'binary', op, left, right, range: { start: left.range.start, end: right.range.end } };
    }
    return left;
  }

  private unary(allowRegs: boolean): Expr {
    const t = this.peek();
    if (t.t === T.Op && (t.text === '-' || t.text === '+' || t.text === '~' || t.text === '!')) {
      this.next();
      const arg = this.unary(allowRegs);
      return { kind: 'unary', op: t.text as '-', arg, range: { start: this.pos(t.start), end: arg.range.end } };
    }
    return this.primary(allowRegs);
  }

  private primary(allowRegs: boolean): Expr {
    const t = this.next();
    const r = this.range(t.start, t.end);
    switch (t.t) {
      case T.Number: {
        if (t.error) this.error(t.start, t.end, t.error);
        const n: Expr = { kind: 'number', value: t.value ?? 0, range: r };
        if ((t.value ?? 0) > Number.MAX_SAFE_INTEGER) n.big = parseBigNumber(t.text);
        return n;
      }
      case T.String:
        if (t.error) this.error(t.start, t.end, t.error);
        return { kind: 'string', value: t.str ?? '', range: r };
      case T.Float: return { kind: 'float', text: t.text, range: r };
      case T.Ident: {
        const lower = t.lower ?? t.text.toLowerCase();
        if (floatSpecial(lower) !== undefined) return { kind: 'float', text: lower, range: r };
        if (this.isOp('(')) { const f = floatFunction(lower); if (f !== undefined) return this.floatFunctionCall(t, f); }
        if (t.text === '$') return { kind: 'here', range: r };
        if (t.text === '$$') return { kind: 'sectionStart', range: r };
        if (isRegister(lower)) {
          if (!allowRegs) this.error(t.start, t.end, `register '${t.text}' is not allowed in this expression`, 'invalid-operands');
          return { kind: 'register', name: lower, range: r };
        }
        let name = t.text.startsWith('$') ? t.text.slice(1) : t.text;
        if (name.startsWith('.') && !name.startsWith('..')) name = this.ctx.lastGlobal + name;
        return { kind: 'symbol', name, range: r };
      }
      case T.Op:
        if (t.text === '(') {
          const e = this.expr(allowRegs);
          if (this.isOp(')')) this.next(); else this.error(this.peek().start, this.peek().end, "expected ')'");
          return e;
        }
        this.error(t.start, t.end, t.t === T.Op && t.text ? `unexpected '${t.text}' in expression` : 'expression expected');
        return { kind: 'error', range: r };
      default:
        this.error(t.start, Math.max(t.end, t.start), 'expression expected');
        return { kind: 'error', range: r };
    }
  }

  /** `__float32__(-1.5)`: the integer made of the constant's bits (NASM accepts a signed float constant only). */
  private floatFunctionCall(name: Token, f: NonNullable<ReturnType<typeof floatFunction>>): Expr {
    this.next();
    let negative = false;
    const sign = this.peek();
    if (sign.t === T.Op && (sign.text === '-' || sign.text === '+')) { negative = sign.text === '-'; this.next(); }
    const c = this.next();
    const special = c.t === T.Ident ? floatSpecial(c.lower!) : undefined;
    const value = special ?? (c.t === T.Float ? parseFloatText(c.text) : 'expecting floating-point number');
    const close = this.peek();
    if (close.t === T.Op && close.text === ')') this.next(); else this.error(close.start, close.end, "expected ')'");
    const range = this.range(name.start, this.toks[this.p - 1].end);
    if (typeof value === 'string' && special === undefined) { this.error(c.start, c.end, value); return { kind: 'error', range }; }
    const bits = encodeFloat(value as Exclude<typeof value, string>, negative, f.size, f.bfloat).bits;
    const big = (bits >> BigInt(f.shift)) & ((1n << BigInt(f.width)) - 1n);
    const n: Expr = { kind: 'number', value: Number(big), range };
    if (big > BigInt(Number.MAX_SAFE_INTEGER)) n.big = big;
    return n;
  }

  // ---- operands
  private operand(): Operand | undefined {
    const start = this.peek().start;
    let size: SizeKeyword | undefined;
    let jump: 'short' | 'near' | 'far' | undefined;
    let strict = false;
    for (;;) {
      const t = this.peek();
      if (t.t !== T.Ident) break;
      const l = t.lower!;
      const sized = SIZE_KEYWORDS.get(l);
      if (sized !== undefined) { size = sized; this.next(); }
      else if (l === 'short' || l === 'near' || l === 'far') { jump = l; this.next(); }
      else if (l === 'strict') { strict = true; this.next(); }
      else break;
    }
    const t = this.peek();
    if (t.t === T.Op && t.text === '[') {
      this.next();
      let segment: string | undefined;
      let nosplit = false;
      let dispSize: 8 | 16 | 32 | undefined;
      for (;;) {
        const a = this.peek();
        const l = a.t === T.Ident ? a.lower! : '';
        if (SIZE_KEYWORDS.has(l) || l === 'nosplit' || l === 'rel' || l === 'abs') {
          if (l === 'nosplit') nosplit = true;
          else if (l === 'byte') dispSize = 8; else if (l === 'word') dispSize = 16; else if (l === 'dword') dispSize = 32;
          this.next();
          continue;
        }
        if (SEGMENT_NAMES.has(l) && this.isOp(':', 1)) { segment = l; this.next(); this.next(); continue; }
        break;
      }
      const address = this.expr(true);
      let end = this.peek().end;
      if (this.isOp(']')) this.next();
      else { this.error(this.peek().start, this.peek().end, "expected ']'"); end = this.peek().start; }
      const op: Operand = { kind: 'memory', size, segment, address, nosplit: nosplit || undefined, range: this.range(start, end) };
      if (dispSize) op.dispSize = dispSize;
      if (jump === 'far') (op as { jump?: string }).jump = 'far';
      return op;
    }
    if (t.t === T.Ident && isRegister(t.lower!) && !this.isExprContinuation(1)) {
      this.next();
      const l = t.lower!;
      // segment-prefixed memory written outside the brackets: es:[edi]
      if (SEGMENT_NAMES.has(l) && this.isOp(':') && this.isOp('[', 1)) {
        this.next();
        const inner = this.operand();
        if (inner && inner.kind === 'memory') { inner.segment = l; inner.range = this.range(start, inner.range.end.character); if (size) inner.size = size; return inner; }
        return inner;
      }
      return { kind: 'register', name: l, range: this.range(t.start, t.end) };
    }
    if (t.t === T.End || (t.t === T.Op && t.text === ',')) {
      this.error(t.start, t.end, 'operand expected');
      return undefined;
    }
    const e = this.expr(false);
    if (this.isOp(':')) {
      this.next();
      const off = this.expr(false);
      return { kind: 'far', segment: e, offset: off, size, range: this.range(start, this.toks[this.p - 1].end) };
    }
    const end = this.toks[this.p - 1].end;
    // a bare expression operand has the same extent as its expression: share the range object
    const range = e.range.start.character === start && e.range.end.character === end ? e.range : this.range(start, end);
    return { kind: 'immediate', expr: e, size, strict: strict || undefined, jump, range };
  }

  /** True when the token after a register continues an expression (`eax+4` outside brackets is an error, but parse it as one). */
  private isExprContinuation(o: number): boolean {
    const t = this.peek(o);
    return t.t === T.Op && (t.text === '+' || t.text === '-' || t.text === '*' || t.text === '/');
  }

  private operands(): Operand[] {
    if (this.peek().t === T.End) return [];
    // gathered in one array reused from line to line; the statement keeps an exact-size copy
    const ops = OPERANDS;
    emptyKeepingStore(ops);
    for (;;) {
      const before = this.p;
      const op = this.operand();
      if (op) ops.push(op);
      if (this.isOp(',')) { this.next(); continue; }
      if (this.peek().t !== T.End) {
        const t = this.peek();
        this.error(t.start, this.text.length, `unexpected '${t.text}' after operand`);
        break;
      }
      if (this.p === before) break;
      break;
    }
    // (an array grown by push keeps room for 17 elements; a statement lives as long as the assembly)
    const list = ops.slice();
    emptyKeepingStore(ops);
    return list;
  }

  private items(): Expr[] {
    const items: Expr[] = [];
    if (this.peek().t === T.End) { this.error(this.peek().start, this.peek().end, 'data expected'); return items; }
    for (;;) {
      const t = this.peek();
      if (t.t === T.Op && t.text === '?') { this.next(); items.push({ kind: 'number', value: 0, range: this.range(t.start, t.end) }); }
      else items.push(this.expr(false));
      // nasm takes a trailing comma (`db 1, 2,`)
      if (this.isOp(',')) { this.next(); if (this.peek().t === T.End) break; continue; }
      if (this.peek().t !== T.End) this.error(this.peek().start, this.text.length, `unexpected '${this.peek().text}'`);
      break;
    }
    return items;
  }

  // ---- statement
  parse(): void {
    const ctx = this.ctx;
    let t = this.peek();
    if (t.t === T.End) return;
    const lineStart = t.start;
    const lineEnd = this.toks[this.toks.length - 1].start;
    // [bits 32] style primitive directive
    if (t.t === T.Op && t.text === '[') {
      const d = this.peek(1);
      if (d.t === T.Ident && DIRECTIVES.has(d.lower!)) {
        this.next();
        let close = this.toks.findIndex((x, i) => i > this.p && x.t === T.Op && x.text === ']');
        if (close < 0) { this.error(t.start, lineEnd, "expected ']'"); close = this.toks.length - 1; }
        const inner = this.toks.slice(this.p, close).concat([newTok(T.End, '', this.toks[close].start, this.toks[close].start)]);
        new LineParser(inner, ctx, this.text).directive(lineStart, this.toks[close].end);
        return;
      }
    }
    // label
    if (t.t === T.Ident) {
      const lower = t.lower!;
      const next = this.peek(1);
      const colon = next.t === T.Op && next.text === ':';
      // `name equ 5`, and `name: equ 5` (a colon after the name, as many sources write it)
      const after = this.peek(2);
      const colonEqu = colon && after.t === T.Ident && after.lower === 'equ';
      const equ = colonEqu || (next.t === T.Ident && next.lower === 'equ');
      if (equ) {
        this.next(); this.next();
        if (colonEqu) this.next();
        const name = this.qualify(t.text);
        const value = this.expr(false);
        if (this.peek().t !== T.End) this.error(this.peek().start, lineEnd, `unexpected '${this.peek().text}' after expression`);
        ctx.statements.push({ kind: 'equ', name, nameRange: this.range(t.start, t.end), value, range: this.range(lineStart, lineEnd) });
        return;
      }
      // (the first word's own test first: an instruction line is decided by one table look-up)
      if (colon || (!this.isKeyword(lower) && (next.t === T.End || (next.t === T.Ident && this.isKeyword(next.lower!))))) {
        this.next();
        if (colon) this.next();
        if (/^[0-9]/.test(t.text) || t.text.startsWith('%')) this.error(t.start, t.end, `invalid label name '${t.text}'`);
        else if (!colon && next.t === T.End && !ctx.in64) ctx.diagnostics.push({ range: this.range(t.start, t.end), severity: 'warning', code: 'orphan-label', message: `label '${t.text}' alone on a line without a colon might be in error (a misspelt instruction?)`, file: ctx.file });
        const fullName = this.qualify(t.text);
        if (!t.text.startsWith('.') && !t.text.startsWith('..@')) ctx.lastGlobal = fullName;
        ctx.statements.push({ kind: 'label', name: t.text, fullName, range: this.range(t.start, t.end) });
        t = this.peek();
        if (t.t === T.End) return;
      }
    }
    if (t.t !== T.Ident) {
      this.error(t.start, lineEnd, `expected an instruction or directive, found '${t.text}'`);
      return;
    }
    const stmtStart = t.start;
    const lower = t.lower!;
    if (lower === 'times') {
      this.next();
      const count = this.expr(false);
      const inner: Statement[] = [];
      const saved = ctx.statements;
      ctx.statements = inner;
      this.body(this.peek().start, lineEnd);
      ctx.statements = saved;
      const body = inner[0];
      if (body && (body.kind === 'instruction' || body.kind === 'data')) ctx.statements.push({ kind: 'times', count, body, range: this.range(stmtStart, lineEnd) });
      else if (inner.length) this.error(stmtStart, lineEnd, 'times needs an instruction or data directive');
      else if (this.peek().t === T.End && !ctx.diagnostics.length) this.error(stmtStart, lineEnd, 'times needs an instruction or data directive');
      return;
    }
    this.body(stmtStart, lineEnd);
  }

  private body(stmtStart: number, lineEnd: number): void {
    const ctx = this.ctx;
    const t = this.peek();
    if (t.t !== T.Ident) { this.error(t.start, lineEnd, t.t === T.End ? 'instruction expected' : `expected an instruction, found '${t.text}'`); return; }
    const lower = t.lower!;
    const directive = DATA.get(lower);
    if (directive !== undefined) {
      this.next();
      const items = this.items();
      ctx.statements.push({ kind: 'data', directive, directiveRange: this.range(t.start, t.end), items, range: this.range(stmtStart, lineEnd) });
      return;
    }
    if (DIRECTIVES.has(lower)) { this.directive(stmtStart, lineEnd); return; }
    if (ctx.macros !== undefined && ctx.macros.size > 0 && (ctx.macros.has(t.text) || ctx.macros.has(lower))) {
      this.next();
      ctx.statements.push({ kind: 'macroCall', name: t.text, nameRange: this.range(t.start, t.end), args: splitArgs(this.text, this.peek().start, lineEnd, ctx.line), range: this.range(stmtStart, lineEnd) });
      return;
    }
    // prefixes (most instructions have none: they share one empty list)
    let prefixes: Array<{ name: string; range: Range }> = NO_PREFIXES;
    let m = this.peek();
    while (m.t === T.Ident && PREFIX_NAMES.has(m.lower!) && !(this.peek(1).t === T.Op && this.peek(1).text === ':')) {
      const pl = m.lower!;
      if (PREFIXES[pl] === undefined && this.peek(1).t === T.End) break; // bare `cs` etc. is not an instruction either: fall through to error
      if (prefixes === NO_PREFIXES) prefixes = [];
      prefixes.push({ name: pl, range: this.range(m.start, m.end) });
      this.next();
      m = this.peek();
    }
    if (prefixes.length && m.t === T.Ident && DATA.has(m.lower!)) {
      // `es db 0`: nasm drops a prefix written before data
      this.body(m.start, lineEnd);
      return;
    }
    if (m.t !== T.Ident) {
      if (prefixes.length && m.t === T.End) {
        // a lone prefix (`rep`, `lock`) is emitted as a byte by NASM: keep as instruction with no mnemonic
        const last = prefixes.pop()!;
        ctx.statements.push({ kind: 'instruction', prefixes, mnemonic: last.name, mnemonicRange: last.range, operands: [], range: this.range(stmtStart, lineEnd) });
        return;
      }
      this.error(m.start, lineEnd, 'instruction expected after prefix');
      return;
    }
    this.next();
    const operands = this.operands();
    ctx.statements.push({ kind: 'instruction', prefixes, mnemonic: m.lower!, mnemonicRange: this.range(m.start, m.end), operands, range: this.range(stmtStart, lineEnd) });
  }

  directive(stmtStart: number, lineEnd: number): void {
    const t = this.next();
    const name = t.lower ?? t.text.toLowerCase();
    const args: Array<{ text: string; range: Range; expr?: import('./ast').Expr }> = [];
    if (name === 'at' || name === 'absolute') {
      // `at mytype.field, dd 5`: the field's offset, then the data as a statement of its own
      const s0 = this.peek().start;
      const e = this.expr(false);
      const end = this.toks[this.p - 1].end;
      args.push({ text: this.text.slice(s0, end), range: this.range(s0, end), expr: e });
      this.ctx.statements.push({ kind: 'directive', name, nameRange: this.range(t.start, t.end), args, range: this.range(stmtStart, lineEnd) });
      if (this.isOp(',')) { this.next(); if (this.peek().t !== T.End) this.body(this.peek().start, lineEnd); }
      else if (this.peek().t !== T.End) this.error(this.peek().start, lineEnd, `unexpected '${this.peek().text}'`);
      return;
    }
    if (name === 'bits' || name === 'org' || name === 'align' || name === 'alignb') {
      while (this.peek().t !== T.End) {
        // `align 16, db 0` / `align 4, nop` / `alignb 4, resb 1`: NASM's fill is an instruction
        if (args.length === 1 && this.peek().t === T.Ident && ['db', 'nop', 'resb'].includes(this.peek().lower!)) {
          const k = this.next();
          const s0 = k.start;
          const fill: Expr = k.lower === 'nop' ? { kind: 'number', value: 0x90, range: this.range(k.start, k.end) } : this.peek().t === T.End ? { kind: 'number', value: 0, range: this.range(k.start, k.end) } : this.expr(false);
          const end = this.toks[this.p - 1].end;
          args.push({ text: this.text.slice(s0, end), range: this.range(s0, end), expr: fill });
          if (this.peek().t !== T.End) this.error(this.peek().start, lineEnd, `unexpected '${this.peek().text}'`);
          break;
        }
        const s = this.peek().start;
        const e = this.expr(false);
        const end = this.toks[this.p - 1].end;
        args.push({ text: this.text.slice(s, end), range: this.range(s, end), expr: e });
        if (this.isOp(',')) { this.next(); continue; }
        if (this.peek().t !== T.End) { this.error(this.peek().start, lineEnd, `unexpected '${this.peek().text}'`); break; }
      }
    } else {
      // raw words: section .text align=16, global foo, cpu 386 …
      while (this.peek().t !== T.End) {
        const s = this.peek();
        let e = s.end;
        this.next();
        while (this.peek().t !== T.End && !(this.peek().t === T.Op && this.peek().text === ',') && this.peek().start === e) { e = this.peek().end; this.next(); }
        args.push({ text: this.text.slice(s.start, e), range: this.range(s.start, e) });
        if (this.isOp(',')) this.next();
      }
    }
    // a structure's fields (`.x resd 1`) are local labels of its name
    if (name === 'struc' && args[0]) this.ctx.lastGlobal = this.qualify(args[0].text);
    if (name === 'use64' || (name === 'bits' && args[0]?.text.trim() === '64')) this.ctx.in64 = true;
    else if (name === 'use16' || name === 'use32' || name === 'bits') this.ctx.in64 = false;
    this.ctx.statements.push({ kind: 'directive', name, nameRange: this.range(t.start, t.end), args, range: this.range(stmtStart, lineEnd) });
  }

  private isKeyword(lower: string): boolean {
    return instructionInfo(lower) !== undefined || PREFIX_NAMES.has(lower) || DATA.has(lower) || DIRECTIVES.has(lower) || lower === 'times' || lower === 'equ'
      || (this.ctx.macros !== undefined && this.ctx.macros.has(lower));
  }

  private qualify(name: string): string {
    return name.startsWith('.') && !name.startsWith('..') ? this.ctx.lastGlobal + name : name;
  }
}

/** Splits macro-call arguments on top-level commas (braces group). */
export function splitArgs(text: string, start: number, end: number, line: number): Array<{ text: string; range: Range }> {
  const out: Array<{ text: string; range: Range }> = [];
  const stop = Math.min(end, text.length);
  if (start >= stop) return out;
  let depth = 0;
  let q = '';
  let s = start;
  const push = (a: number, b: number) => {
    let x = a; let y = b;
    while (x < y && /\s/.test(text[x])) x++;
    while (y > x && /\s/.test(text[y - 1])) y--;
    let v = text.slice(x, y);
    if (v.startsWith('{') && v.endsWith('}')) v = v.slice(1, -1);
    out.push({ text: v, range: { start: { line, character: x }, end: { line, character: y } } });
  };
  for (let i = start; i < stop; i++) {
    const c = text[i];
    if (q) { if (c === q) q = ''; continue; }
    if (c === '\'' || c === '"' || c === '`') q = c;
    else if (c === '{' || c === '(') depth++;
    else if (c === '}' || c === ')') depth--;
    else if (c === ',' && depth <= 0) { push(s, i); s = i + 1; }
  }
  push(s, stop);
  return out;
}

/**
 * Empties an array reused from line to line while keeping its storage: `length = 0` makes V8 free a
 * store of 16 or more slots, and the next push allocates a new one (one per line of a 100,000-line file).
 */
export function emptyKeepingStore(list: unknown[]): void {
  while (list.length > 0) list.pop();
}

/** Parses one source line (no preprocessing) and appends its statements and diagnostics to ctx. */
export function parseLine(text: string, ctx: LineContext): void {
  try {
    emptyKeepingStore(POOL_TOKS);
    const toks = tokenizeWith(text, POOL_TOKS, POOL);
    for (const tk of toks) {
      if (tk.t === T.Op && (tk.text.charCodeAt(0) < 0x20 || tk.text.charCodeAt(0) > 0x7e)) {
        ctx.diagnostics.push({ range: { start: { line: ctx.line, character: tk.start }, end: { line: ctx.line, character: tk.end } }, severity: 'error', code: 'syntax', message: `unexpected character '${tk.text}'`, file: ctx.file });
        return;
      }
    }
    new LineParser(toks, ctx, text).parse();
  } catch (e) {
    const len = text.length;
    ctx.diagnostics.push({ range: { start: { line: ctx.line, character: 0 }, end: { line: ctx.line, character: len } }, severity: 'error', code: 'syntax', message: `cannot parse this line (${e instanceof Error ? e.message : String(e)})`, file: ctx.file });
  }
}

/** Parses a whole text as one expression (for %if, %assign, times counts given as text). */
export function parseExpressionText(text: string, line: number, file?: string): { expr: Expr; diagnostics: Diagnostic[] } {
  const ctx: LineContext = { line, lastGlobal: '', diagnostics: [], statements: [], file };
  const toks = tokenize(text);
  const p = new LineParser(toks, ctx, text);
  let expr: Expr;
  try {
    expr = p.expr(false);
    if (!p.atEnd()) ctx.diagnostics.push({ range: { start: { line, character: 0 }, end: { line, character: text.length } }, severity: 'error', code: 'syntax', message: `unexpected text after expression in '${text.trim()}'`, file });
  } catch {
    expr = { kind: 'error', range: { start: { line, character: 0 }, end: { line, character: text.length } } };
  }
  return { expr, diagnostics: ctx.diagnostics };
}

/** Splits text into lines (\n, \r\n, \r). */
export function splitLines(text: string): string[] {
  return text.split(/\r\n|\n|\r/);
}

/**
 * Parses NASM-syntax source for the editor: statements with ranges, `%macro` definitions (their
 * bodies are not parsed), calls of the macros defined in the file, and syntax diagnostics. The
 * preprocessor does not run here (assemble() does), so `%define`d names appear as written.
 */
export function parseNasm(text: string, fileName: string): ParsedFile {
  const lines = splitLines(typeof text === 'string' ? text : '');
  const ctx: LineContext = { line: 0, lastGlobal: '', macros: new Set(), diagnostics: [], statements: [] };
  let macro: { name: string; nameRange: Range; min: number; max: number; startLine: number; startChar: number } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    ctx.line = i;
    const trimmed = line.trimStart();
    if (trimmed.startsWith('%')) {
      const indent = line.length - trimmed.length;
      const cs = commentStart(line);
      const code = (cs >= 0 ? line.slice(0, cs) : line).trimEnd();
      const m = /^%(\w+)\s*(.*)$/.exec(code.trimStart());
      const dir = m ? m[1].toLowerCase() : '';
      const rest = m ? m[2] : '';
      const restStart = m ? code.length - rest.length : code.length;
      const r = (a: number, b: number): Range => ({ start: { line: i, character: a }, end: { line: i, character: b } });
      if (macro) {
        if (dir === 'endmacro' || dir === 'endm') {
          ctx.statements.push({ kind: 'macroDef', name: macro.name, nameRange: macro.nameRange, minParams: macro.min, maxParams: macro.max, bodyStartLine: macro.startLine + 1, bodyEndLine: i, range: { start: { line: macro.startLine, character: macro.startChar }, end: { line: i, character: code.length } } });
          ctx.macros!.add(macro.name);
          ctx.macros!.add(macro.name.toLowerCase());
          macro = undefined;
        }
        continue;
      }
      if (dir === 'macro' || dir === 'imacro') {
        const mm = /^([^\s]+)\s*(\d+)?\s*(?:-\s*(\d+|\*))?/.exec(rest);
        if (!mm) { ctx.diagnostics.push({ range: r(indent, code.length), severity: 'error', code: 'syntax', message: '%macro needs a name and a parameter count' }); continue; }
        const min = mm[2] ? Number(mm[2]) : 0;
        const max = mm[3] === '*' ? Infinity : mm[3] ? Number(mm[3]) : min;
        macro = { name: mm[1], nameRange: r(restStart, restStart + mm[1].length), min, max, startLine: i, startChar: indent };
        continue;
      }
      if (dir === 'endmacro' || dir === 'endm') { ctx.diagnostics.push({ range: r(indent, code.length), severity: 'error', code: 'syntax', message: '%endmacro without %macro' }); continue; }
      if (dir === 'include') {
        const pm = /^(["'<])(.*)(["'>])\s*$/.exec(rest);
        if (!pm) { ctx.diagnostics.push({ range: r(indent, code.length), severity: 'error', code: 'syntax', message: '%include expects a quoted file name' }); continue; }
        ctx.statements.push({ kind: 'include', path: pm[2], pathRange: r(restStart, restStart + pm[0].trimEnd().length), range: r(indent, code.length) });
        continue;
      }
      const stmt: Statement = { kind: 'preproc', directive: '%' + dir, range: r(indent, code.length) };
      const nm = /^([A-Za-z_.?@$][\w.?@$#~]*)(\(([^)]*)\))?\s*(.*)$/.exec(rest);
      if (nm && ['define', 'xdefine', 'idefine', 'undef', 'assign', 'ifdef', 'ifndef', 'elifdef', 'elifndef', 'ifmacro'].includes(dir)) {
        stmt.name = nm[1];
        stmt.nameRange = r(restStart, restStart + nm[1].length);
        if (nm[3] !== undefined) stmt.params = nm[3].split(',').map((s) => s.trim()).filter(Boolean);
        stmt.body = nm[4];
      } else if (rest) stmt.body = rest;
      if (!dir) ctx.diagnostics.push({ range: r(indent, code.length), severity: 'error', code: 'syntax', message: 'preprocessor directive expected after %' });
      ctx.statements.push(stmt);
      continue;
    }
    if (macro) continue;
    parseLine(line, ctx);
  }
  if (macro) {
    ctx.diagnostics.push({ range: { start: { line: macro.startLine, character: macro.startChar }, end: { line: macro.startLine, character: lines[macro.startLine].length } }, severity: 'error', code: 'syntax', message: `%macro ${macro.name} has no %endmacro` });
  }
  return { fileName, statements: ctx.statements, diagnostics: ctx.diagnostics, lineCount: lines.length };
}
