/*
 * NASM's context stack (manual §4.7): `%push name` opens a context, `%pop` closes it, `%repl` renames
 * the top one, `%ifctx` tests its name, and `%$name` (`%$$name` one context down, …) is a name local to
 * a context — a label or a `%define`. Macros use it to pair an opening call with its closing one
 * (`if` … `else` … `endif`). Also the `%+1` / `%-1` parameter forms such macros use: the argument as a
 * condition code, or its inverse (`j%-1 %$skip` jumps when the condition does not hold).
 */

export interface PPContext { name: string; id: number }

/** What a context directive did: nothing to report, or nasm's error. */
export type ContextResult = { error?: string };

/** `%push` / `%pop` / `%repl`: updates `stack` (`nextId` numbers each new context). */
export function contextDirective(dir: 'push' | 'pop' | 'repl', rest: string, stack: PPContext[], nextId: () => number): ContextResult {
  const name = rest.split(/\s+/)[0] ?? '';
  switch (dir) {
    case 'push': stack.push({ name, id: nextId() }); return {};
    case 'pop': {
      const top = stack[stack.length - 1];
      if (!top) return { error: '`%pop`: context stack is already empty' };
      if (name && top.name !== name) return { error: `\`%pop ${name}\`: context at top of stack is \`${top.name}\`` };
      stack.pop();
      return {};
    }
    case 'repl': {
      const top = stack[stack.length - 1];
      if (!top) return { error: '`%repl`: no context stack' };
      top.name = name;
      return {};
    }
  }
}

/** `%ifctx a b …`: whether the top context is named one of them (nasm compares case-insensitively). */
export function topContextIs(rest: string, stack: readonly PPContext[]): boolean {
  const top = stack[stack.length - 1];
  if (!top) return false;
  return rest.split(/[\s,]+/).some((n) => n !== '' && n.toLowerCase() === top.name.toLowerCase());
}

const LOCAL = /%(\$+)([A-Za-z_.?@$][\w.?@$#~]*)/y;

/**
 * `%$name` → the context's own name (`..@<id>.name`, as nasm spells it), outside strings and comments.
 * An error when the stack is not that deep (nasm rejects such a line).
 */
export function mangleContextLocals(text: string, stack: readonly PPContext[]): { text: string; error?: string } {
  if (!text.includes('%$')) return { text };
  let out = '';
  let q = '';
  let error: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) { out += c; if (c === q) q = ''; else if (q === '`' && c === '\\' && i + 1 < text.length) out += text[++i]; continue; }
    if (c === '\'' || c === '"' || c === '`') { q = c; out += c; continue; }
    if (c === ';') { out += text.slice(i); break; }
    LOCAL.lastIndex = i;
    const m = c === '%' ? LOCAL.exec(text) : null;
    if (!m) { out += c; continue; }
    const ctx = stack[stack.length - m[1].length];
    if (!ctx) {
      error ??= stack.length === 0 ? `\`${m[0]}\`: context stack is empty` : `\`${m[0]}\`: context stack is only ${stack.length} level${stack.length === 1 ? '' : 's'} deep`;
      out += m[0];
    } else {
      out += `..@${ctx.id}.${m[2]}`;
    }
    i += m[0].length - 1;
  }
  return { text: out, error };
}

/** Condition codes nasm knows for `%+n` / `%-n`, each with its inverse (nasm's inverse_ccs: add or drop `n`, pe ↔ po). */
const CONDITION_CODES = ['a', 'ae', 'b', 'be', 'c', 'e', 'g', 'ge', 'l', 'le', 'o', 'p', 's', 'z'];
const INVERSE = new Map<string, string>([['pe', 'po'], ['po', 'pe']]);
for (const cc of CONDITION_CODES) { INVERSE.set(cc, 'n' + cc); INVERSE.set('n' + cc, cc); }

/** The macro argument `arg` as a condition code (`%+1`) or its inverse (`%-1`); undefined when it is none. */
export function conditionArgument(arg: string, invert: boolean): string | undefined {
  const cc = arg.trim().toLowerCase();
  const inverse = INVERSE.get(cc);
  if (inverse === undefined) return undefined;
  return invert ? inverse : cc;
}
