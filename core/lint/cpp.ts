/*
 * The part of the C preprocessor a `.S` file needs to be read as `gcc -E` reads it: macro expansion
 * (object-like and function-like, `#` stringizing, `##` pasting, `__VA_ARGS__`, no re-expansion of
 * a macro inside its own expansion) and `#if` expressions (`defined`, integer arithmetic; an unknown
 * name is 0, as in cpp). Text in, text out: the line model scans the result like any other line.
 */

export interface CppMacro {
  name: string;
  /** Parameter names of a function-like macro (`...` as `__VA_ARGS__`); undefined: object-like. */
  params?: string[];
  body: string;
}

export type CppMacros = Map<string, CppMacro>;

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Splits the arguments of a call whose `(` is at `open`; returns them and the index after `)`. */
export function callArguments(text: string, open: number): { args: string[]; end: number } | undefined {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  let quote = '';
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (quote) { if (c === '\\') i++; else if (c === quote) quote = ''; continue; }
    if (c === '"' || (c === "'" && !/[0-9A-Za-z_$]/.test(text[i - 1] ?? ''))) quote = c;
    else if (c === '(') depth++;
    else if (c === ')') {
      if (depth === 0) { args.push(text.slice(start, i).trim()); return { args, end: i + 1 }; }
      depth--;
    } else if (c === ',' && depth === 0) { args.push(text.slice(start, i).trim()); start = i + 1; }
  }
  return undefined;
}

/** Replaces the parameters of a function-like body by the arguments (`#p` stringizes, `##` pastes). */
function substitute(m: CppMacro, args: string[], expandArg: (a: string) => string): string {
  const params = m.params ?? [];
  const values = new Map<string, string>();
  params.forEach((p, i) => {
    if (p === '__VA_ARGS__') values.set(p, args.slice(i).join(', '));
    else values.set(p, args[i] ?? '');
  });
  const body = m.body;
  let out = '';
  for (let i = 0; i < body.length;) {
    const c = body[i];
    // `#p` stringizes; the second `#` of `e##p` does not
    if (c === '#' && body[i + 1] !== '#' && body[i - 1] !== '#') {
      const from = i + 1 + (/^\s*/.exec(body.slice(i + 1))?.[0].length ?? 0);
      IDENT.lastIndex = from;
      const id = IDENT.exec(body);
      if (id && values.has(id[0])) { out += JSON.stringify(values.get(id[0])); i = from + id[0].length; continue; }
    }
    IDENT.lastIndex = i;
    const id = /[A-Za-z_]/.test(c) ? IDENT.exec(body) : null;
    if (id) {
      const end = i + id[0].length;
      const v = values.get(id[0]);
      if (v !== undefined) {
        // An operand of ## is pasted as written; any other use is fully expanded first.
        const before = out.trimEnd().endsWith('##');
        const after = /^\s*##/.test(body.slice(end));
        out += before || after ? v : expandArg(v);
      } else out += id[0];
      i = end;
      continue;
    }
    out += c;
    i++;
  }
  return out.replace(/\s*##\s*/g, '');
}

/**
 * Expands every macro in `text`. `hide` holds the macros being expanded (cpp's "painted blue"
 * rule, approximated per expansion); `depth` bounds pathological recursion.
 */
export function expandCpp(text: string, macros: CppMacros, hide: ReadonlySet<string> = new Set(), depth = 0): string {
  if (depth > 32 || macros.size === 0) return text;
  let out = '';
  let quote = '';
  for (let i = 0; i < text.length;) {
    const c = text[i];
    if (quote) { out += c; if (c === '\\') { out += text[i + 1] ?? ''; i += 2; continue; } if (c === quote) quote = ''; i++; continue; }
    if (c === '"') { quote = c; out += c; i++; continue; }
    if (/[0-9]/.test(c)) {
      // A number (`0x10`, `1f`) is not a name.
      const m = /[0-9][A-Za-z0-9_.]*/y;
      m.lastIndex = i;
      const n = m.exec(text)![0];
      out += n;
      i += n.length;
      continue;
    }
    // `%_ASM_AX` and `$__KERNEL_DS` expand: `%` and `$` are punctuation to cpp (a `.name` or a macro parameter `\name` is left alone)
    if (!/[A-Za-z_]/.test(c) || (i > 0 && /[A-Za-z0-9_.\\]/.test(text[i - 1]))) { out += c; i++; continue; }
    IDENT.lastIndex = i;
    const name = IDENT.exec(text)![0];
    const end = i + name.length;
    const m = macros.get(name);
    if (!m || hide.has(name)) { out += name; i = end; continue; }
    const inner = new Set(hide).add(name);
    if (!m.params) {
      out += expandCpp(m.body, macros, inner, depth + 1);
      i = end;
      continue;
    }
    const open = /^\s*\(/.exec(text.slice(end));
    if (!open) { out += name; i = end; continue; }
    const call = callArguments(text, end + open[0].length - 1);
    if (!call) { out += name; i = end; continue; }
    const replaced = substitute(m, call.args, (a) => expandCpp(a, macros, hide, depth + 1));
    out += expandCpp(replaced, macros, inner, depth + 1);
    i = call.end;
  }
  return out;
}

/** Parses the text after `#define`: name, parameters, body. */
export function parseDefine(rest: string): CppMacro | undefined {
  const m = /^\s*([A-Za-z_]\w*)(\(([^)]*)\))?\s*(.*)$/s.exec(rest);
  if (!m) return undefined;
  const params = m[2] !== undefined ? m[3].split(',').map((p) => p.trim()).filter(Boolean).map((p) => (p === '...' ? '__VA_ARGS__' : p.replace(/\.\.\.$/, ''))) : undefined;
  return { name: m[1], params, body: stripCComments(m[4]).trim() };
}

/** Removes C comments (a `#define` body may end with one). */
export function stripCComments(text: string): string {
  return text.replace(/\/\*.*?(\*\/|$)/gs, ' ').replace(/\/\/.*$/, '');
}

/** Evaluates a `#if`/`#elif` expression; an unparsable one is false (the region is skipped). */
export function evaluateCondition(expr: string, macros: CppMacros): boolean {
  return (evaluateExpression(expr, macros) ?? 0) !== 0;
}

/** The value of a cpp `#if` expression, or undefined when it does not parse. */
export function evaluateExpression(expr: string, macros: CppMacros): number | undefined {
  // `defined X` / `defined(X)` first, so that the names are not expanded.
  const withDefined = stripCComments(expr).replace(/\bdefined\s*(\(\s*([A-Za-z_]\w*)\s*\)|([A-Za-z_]\w*))/g, (_m, _a, p: string | undefined, q: string | undefined) => (macros.has((p ?? q)!) ? ' 1 ' : ' 0 '));
  const expanded = expandCpp(withDefined, macros);
  const tokens = expanded.match(/0x[0-9a-f]+[ul]*|[0-9]+[ul]*|'(?:\\.|[^'])'|[A-Za-z_]\w*|&&|\|\||<<|>>|<=|>=|==|!=|[-+*/%<>&|^!~?:()]/gi) ?? [];
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const num = (t: string): number => {
    if (t.startsWith("'")) return t.length === 3 ? t.charCodeAt(1) : 0;
    const n = t.replace(/[ul]+$/i, '');
    if (/^0x/i.test(n)) return parseInt(n, 16);
    if (/^0[0-7]+$/.test(n)) return parseInt(n, 8);
    return /^[0-9]+$/.test(n) ? parseInt(n, 10) : 0; // an identifier left after expansion is 0
  };
  const PREC: Record<string, number> = { '||': 1, '&&': 2, '|': 3, '^': 4, '&': 5, '==': 6, '!=': 6, '<': 7, '>': 7, '<=': 7, '>=': 7, '<<': 8, '>>': 8, '+': 9, '-': 9, '*': 10, '/': 10, '%': 10 };
  const unary = (): number => {
    const t = tokens[i++];
    if (t === undefined) throw new Error('end');
    if (t === '(') { const v = ternary(); if (tokens[i++] !== ')') throw new Error(')'); return v; }
    if (t === '!') return unary() ? 0 : 1;
    if (t === '~') return ~unary();
    if (t === '-') return -unary();
    if (t === '+') return unary();
    return num(t);
  };
  const binary = (minPrec: number): number => {
    let left = unary();
    for (;;) {
      const op = peek();
      const p = op !== undefined ? PREC[op] : undefined;
      if (p === undefined || p < minPrec) return left;
      i++;
      const right = binary(p + 1);
      switch (op) {
        case '||': left = left || right ? 1 : 0; break;
        case '&&': left = left && right ? 1 : 0; break;
        case '|': left |= right; break;
        case '^': left ^= right; break;
        case '&': left &= right; break;
        case '==': left = left === right ? 1 : 0; break;
        case '!=': left = left !== right ? 1 : 0; break;
        case '<': left = left < right ? 1 : 0; break;
        case '>': left = left > right ? 1 : 0; break;
        case '<=': left = left <= right ? 1 : 0; break;
        case '>=': left = left >= right ? 1 : 0; break;
        case '<<': left <<= right; break;
        case '>>': left >>= right; break;
        case '+': left += right; break;
        case '-': left -= right; break;
        case '*': left *= right; break;
        case '/': left = right ? Math.trunc(left / right) : 0; break;
        case '%': left = right ? left % right : 0; break;
      }
    }
  };
  const ternary = (): number => {
    const c = binary(1);
    if (peek() !== '?') return c;
    i++;
    const a = ternary();
    if (tokens[i++] !== ':') throw new Error(':');
    const b = ternary();
    return c ? a : b;
  };
  try {
    const v = ternary();
    return i === tokens.length ? v : undefined;
  } catch {
    return undefined;
  }
}
