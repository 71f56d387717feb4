/*
 * A small expression language over guest state, for conditions, log messages, watch and the Debug
 * Console: `eax == 5 && [esp+4] > 3`, `ZF`, `byte [0x9000]`, `word [vendor+2]`, `iopl`, `msg_ok`.
 * Parsed once into a tree and evaluated many times; no host code is ever evaluated.
 *
 * Values are unsigned 32-bit integers; comparisons and logic give 0 or 1. `[x]` reads a dword at
 * linear address x (`byte`/`word`/`dword` choose the size). Identifiers are registers, flags, then
 * the program's labels and constants. `lhs = rhs` assigns (registers, flags, memory).
 */

export class ExpressionError extends Error {}

export type Node =
  | { k: 'num'; v: number }
  | { k: 'id'; name: string }
  /** `&name`: the address of a variable or label (C's address-of). */
  | { k: 'addr'; name: string }
  | { k: 'mem'; size: 1 | 2 | 4; addr: Node }
  | { k: 'un'; op: string; a: Node }
  | { k: 'bin'; op: string; a: Node; b: Node }
  | { k: 'cond'; c: Node; a: Node; b: Node }
  | { k: 'assign'; target: Node; value: Node };

/** What an expression can see and change. */
export interface EvalContext {
  /** A register or flag by lower-case name, or undefined when there is none. */
  readName(name: string): number | undefined;
  /** Sets a register or flag; false when the name cannot be written. */
  writeName?(name: string, value: number): boolean;
  /** A label or constant of the program. */
  symbol(name: string): number | undefined;
  /**
   * A variable of compiled code (a C global): a bare name reads its value as C does, `&name` is
   * its address. Assembly labels stay addresses, as in NASM.
   */
  variable?(name: string): { address: number; size: number } | undefined;
  /** Memory at a linear address; undefined when unmapped. */
  read(address: number, size: 1 | 2 | 4): number | undefined;
  write?(address: number, size: 1 | 2 | 4, value: number): boolean;
}

const SIZES = new Map<string, 1 | 2 | 4>([['byte', 1], ['word', 2], ['dword', 4]]);

// Binary operators by precedence, lowest first (C's order).
const LEVELS: string[][] = [['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '<=', '>', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];
const PUNCT = ['||', '&&', '==', '!=', '<=', '>=', '<<', '>>', '|', '^', '&', '<', '>', '+', '-', '*', '/', '%', '!', '~', '(', ')', '[', ']', '?', ':', '='];

interface Token { t: 'num' | 'id' | 'p' | 'end'; v: string; n?: number; at: number }

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === "'" || c === '"') {
      const end = src.indexOf(c, i + 1);
      if (end < 0 || end - i - 1 < 1 || end - i - 1 > 4) throw new ExpressionError(`bad character constant at column ${i + 1}`);
      let n = 0;
      for (let k = end - 1; k > i; k--) n = n * 256 + (src.charCodeAt(k) & 0xff);
      out.push({ t: 'num', v: src.slice(i, end + 1), n: n >>> 0, at: i });
      i = end + 1;
      continue;
    }
    const word = /^[A-Za-z0-9_.$@]+/.exec(src.slice(i));
    if (word) {
      const w = word[0];
      const n = parseNumber(w);
      if (n !== undefined) out.push({ t: 'num', v: w, n, at: i });
      else if (/^[0-9]/.test(w)) throw new ExpressionError(`bad number '${w}'`);
      else out.push({ t: 'id', v: w, at: i });
      i += w.length;
      continue;
    }
    const p = PUNCT.find((q) => src.startsWith(q, i));
    if (!p) throw new ExpressionError(`unexpected '${c}' at column ${i + 1}`);
    out.push({ t: 'p', v: p, at: i });
    i += p.length;
  }
  out.push({ t: 'end', v: '', at: src.length });
  return out;
}

function parseNumber(w: string): number | undefined {
  let n: number;
  const s = w.toLowerCase().replaceAll('_', '');
  if (/^0x[0-9a-f]+$/.test(s)) n = parseInt(s.slice(2), 16);
  else if (/^0b[01]+$/.test(s)) n = parseInt(s.slice(2), 2);
  else if (/^[0-9][0-9a-f]*h$/.test(s)) n = parseInt(s.slice(0, -1), 16);
  else if (/^[0-9]+$/.test(s)) n = parseInt(s, 10);
  else return undefined;
  if (!Number.isFinite(n) || n > 0xffffffff) throw new ExpressionError(`number '${w}' does not fit in 32 bits`);
  return n >>> 0;
}

/** Parses an expression; throws ExpressionError with a readable message. */
export function parseExpression(src: string): Node {
  if (typeof src !== 'string') throw new ExpressionError('not an expression');
  if (src.length > 1000) throw new ExpressionError('expression too long');
  const toks = tokenize(src);
  let pos = 0;
  const peek = () => toks[pos];
  const eat = (v: string): boolean => { if (toks[pos].t === 'p' && toks[pos].v === v) { pos++; return true; } return false; };
  const expect = (v: string) => { if (!eat(v)) throw new ExpressionError(`expected '${v}' at column ${peek().at + 1}`); };
  let depth = 0;

  function assignment(): Node {
    const lhs = conditional();
    if (eat('=')) {
      if (lhs.k !== 'id' && lhs.k !== 'mem') throw new ExpressionError('only a register, a flag or memory can be assigned');
      return { k: 'assign', target: lhs, value: assignment() };
    }
    return lhs;
  }
  function conditional(): Node {
    const c = binary(0);
    if (eat('?')) {
      const a = assignment();
      expect(':');
      return { k: 'cond', c, a, b: conditional() };
    }
    return c;
  }
  function binary(level: number): Node {
    if (level === LEVELS.length) return unary();
    let left = binary(level + 1);
    for (;;) {
      const t = peek();
      if (t.t === 'p' && LEVELS[level].includes(t.v)) {
        pos++;
        left = { k: 'bin', op: t.v, a: left, b: binary(level + 1) };
      } else return left;
    }
  }
  function unary(): Node {
    const t = peek();
    if (t.t === 'p' && (t.v === '-' || t.v === '+' || t.v === '~' || t.v === '!')) {
      pos++;
      return { k: 'un', op: t.v, a: unary() };
    }
    if (t.t === 'p' && t.v === '&') {
      pos++;
      const id = peek();
      if (id.t !== 'id') throw new ExpressionError(`'&' takes a name (a variable or label) at column ${id.at + 1}`);
      pos++;
      return { k: 'addr', name: id.v };
    }
    return primary();
  }
  function primary(): Node {
    if (++depth > 100) throw new ExpressionError('expression nested too deeply');
    try {
      const t = peek();
      if (t.t === 'num') { pos++; return { k: 'num', v: t.n! }; }
      if (t.t === 'id') {
        pos++;
        const size = SIZES.get(t.v.toLowerCase());
        if (size) {
          if (peek().t === 'id' && peek().v.toLowerCase() === 'ptr') pos++;
          expect('[');
          const addr = assignmentInBrackets();
          return { k: 'mem', size, addr };
        }
        return { k: 'id', name: t.v };
      }
      if (eat('(')) { const e = assignment(); expect(')'); return e; }
      if (eat('[')) { const addr = assignmentInBrackets(); return { k: 'mem', size: 4, addr }; }
      throw new ExpressionError(t.t === 'end' ? 'unexpected end of expression' : `unexpected '${t.v}' at column ${t.at + 1}`);
    } finally { depth--; }
  }
  function assignmentInBrackets(): Node {
    const e = conditional();
    expect(']');
    return e;
  }
  if (peek().t === 'end') throw new ExpressionError('empty expression');
  const tree = assignment();
  if (peek().t !== 'end') throw new ExpressionError(`unexpected '${peek().v}' at column ${peek().at + 1}`);
  return tree;
}

/** Evaluates a parsed expression; throws ExpressionError (unknown name, unmapped memory …). */
export function evaluate(node: Node, ctx: EvalContext): number {
  switch (node.k) {
    case 'num': return node.v;
    case 'id': {
      const lower = node.name.toLowerCase();
      const r = ctx.readName(lower);
      if (r !== undefined) return r >>> 0;
      const cvar = ctx.variable?.(node.name);
      if (cvar) {
        const size = varSize(cvar.size);
        const v = ctx.read(cvar.address, size);
        if (v === undefined) throw new ExpressionError(`${node.name}: memory at 0x${cvar.address.toString(16)} is not mapped`);
        return v >>> 0;
      }
      const s = ctx.symbol(node.name);
      if (s !== undefined) return s >>> 0;
      throw new ExpressionError(`unknown name '${node.name}' (not a register, flag, label or constant)`);
    }
    case 'addr': {
      const a = ctx.variable?.(node.name)?.address ?? ctx.symbol(node.name);
      if (a === undefined) throw new ExpressionError(`unknown name '${node.name}' (not a variable or label)`);
      return a >>> 0;
    }
    case 'mem': {
      const a = evaluate(node.addr, ctx);
      const v = ctx.read(a, node.size);
      if (v === undefined) throw new ExpressionError(`memory at 0x${a.toString(16)} is not mapped`);
      return v >>> 0;
    }
    case 'un': {
      const a = evaluate(node.a, ctx);
      switch (node.op) {
        case '-': return (-a) >>> 0;
        case '~': return (~a) >>> 0;
        case '!': return a === 0 ? 1 : 0;
        default: return a;
      }
    }
    case 'bin': {
      if (node.op === '&&') return evaluate(node.a, ctx) !== 0 && evaluate(node.b, ctx) !== 0 ? 1 : 0;
      if (node.op === '||') return evaluate(node.a, ctx) !== 0 || evaluate(node.b, ctx) !== 0 ? 1 : 0;
      const a = evaluate(node.a, ctx), b = evaluate(node.b, ctx);
      switch (node.op) {
        case '|': return (a | b) >>> 0;
        case '^': return (a ^ b) >>> 0;
        case '&': return (a & b) >>> 0;
        case '==': return a === b ? 1 : 0;
        case '!=': return a !== b ? 1 : 0;
        case '<': return a < b ? 1 : 0;
        case '<=': return a <= b ? 1 : 0;
        case '>': return a > b ? 1 : 0;
        case '>=': return a >= b ? 1 : 0;
        case '<<': return b >= 32 ? 0 : (a << b) >>> 0;
        case '>>': return b >= 32 ? 0 : a >>> b;
        case '+': return (a + b) >>> 0;
        case '-': return (a - b) >>> 0;
        case '*': return Number((BigInt(a) * BigInt(b)) & 0xffffffffn);
        case '/': if (b === 0) throw new ExpressionError('division by zero'); return Math.floor(a / b) >>> 0;
        case '%': if (b === 0) throw new ExpressionError('division by zero'); return (a % b) >>> 0;
      }
      throw new ExpressionError(`unknown operator ${node.op}`);
    }
    case 'cond': return evaluate(node.c, ctx) !== 0 ? evaluate(node.a, ctx) : evaluate(node.b, ctx);
    case 'assign': {
      const v = evaluate(node.value, ctx);
      const t = node.target;
      if (t.k === 'id') {
        const cvar = ctx.readName(t.name.toLowerCase()) === undefined ? ctx.variable?.(t.name) : undefined;
        if (cvar) {
          if (!ctx.write?.(cvar.address, varSize(cvar.size), v)) throw new ExpressionError(`${t.name}: memory at 0x${cvar.address.toString(16)} cannot be written`);
        } else if (!ctx.writeName?.(t.name.toLowerCase(), v)) throw new ExpressionError(`'${t.name}' cannot be assigned`);
      } else if (t.k === 'mem') {
        const a = evaluate(t.addr, ctx);
        if (!ctx.write?.(a, t.size, v)) throw new ExpressionError(`memory at 0x${a.toString(16)} cannot be written`);
      }
      return v;
    }
  }
}

/** A variable is read as a byte or word when that is its size, else as a dword. */
function varSize(size: number): 1 | 2 | 4 {
  return size === 1 || size === 2 ? size : 4;
}

/** True when the tree assigns anything (conditions and hovers must not). */
export function hasSideEffects(node: Node): boolean {
  switch (node.k) {
    case 'assign': return true;
    case 'mem': return hasSideEffects(node.addr);
    case 'un': return hasSideEffects(node.a);
    case 'bin': return hasSideEffects(node.a) || hasSideEffects(node.b);
    case 'cond': return hasSideEffects(node.c) || hasSideEffects(node.a) || hasSideEffects(node.b);
    default: return false;
  }
}

/** One-shot parse and evaluate. */
export function evaluateExpression(src: string, ctx: EvalContext): number {
  return evaluate(parseExpression(src), ctx);
}

/**
 * A log-point message: text with `{expr}` holes (`{expr,d}` decimal, `{expr,x}` hex — the
 * default — `{expr,c}` a character); `{{` and `}}` are literal braces. Errors show in place.
 */
export function interpolate(template: string, ctx: EvalContext): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '{' && template[i + 1] === '{') { out += '{'; i++; continue; }
    if (c === '}' && template[i + 1] === '}') { out += '}'; i++; continue; }
    if (c !== '{') { out += c; continue; }
    const end = template.indexOf('}', i + 1);
    if (end < 0) { out += template.slice(i); break; }
    let src = template.slice(i + 1, end), fmt = 'x';
    const m = /,\s*([dxc])\s*$/.exec(src);
    if (m) { fmt = m[1]; src = src.slice(0, m.index); }
    try {
      const v = evaluateExpression(src, ctx);
      out += fmt === 'd' ? String(v) : fmt === 'c' ? String.fromCharCode(v & 0xff) : '0x' + v.toString(16);
    } catch (e) {
      out += `<${(e as Error).message}>`;
    }
    i = end;
  }
  return out;
}
