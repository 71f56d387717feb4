/*
 * NASM's string-handling preprocessor directives and line-level text rules, which public sources use
 * and Popek once rejected: %defstr / %idefstr, %deftok / %ideftok, %strlen, %substr, %strcat (NASM
 * manual §4.1.9–4.2), the `%+` token-pasting operator, and `\` at the end of a line, which joins it
 * with the next before anything else reads it (even inside a comment, as nasm does).
 */
import { T, tokenize, splitArgs } from './parser';
import type { Source } from './preprocessor';

/** A string as NASM quotes it (nasm_quote): '…' unless it holds a ', then "…", else `…` with escapes. */
export function nasmQuote(s: string): string {
  if (!s.includes('\'')) return `'${s}'`;
  if (!s.includes('"')) return `"${s}"`;
  return '`' + s.replace(/[\\`]/g, (c) => '\\' + c).replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r').replace(/\0/g, '\\0') + '`';
}

/** The content of a quoted string written alone (after macro expansion), or undefined. */
export function stringContent(text: string): string | undefined {
  const toks = tokenize(text.trim());
  return toks.length === 2 && toks[0].t === T.String && !toks[0].error ? toks[0].str : undefined;
}

export type StringDirectiveResult = { name: string; body: string; caseless: boolean } | { error: string };

/**
 * The single-line macro a string directive defines (`rest` is the text after the directive, its
 * %defines already expanded where NASM expands them); `evalNumber` evaluates %substr's positions.
 */
export function stringDirective(dir: string, rest: string, expand: (s: string) => string, evalNumber: (s: string) => number | undefined): StringDirectiveResult {
  const m = /^([A-Za-z_.?@$][\w.?@$#~]*)\s*(.*)$/.exec(rest);
  if (!m) return { error: `%${dir} needs a name` };
  const name = m[1];
  const arg = m[2];
  const caseless = dir.startsWith('i');
  switch (dir) {
    case 'defstr': case 'idefstr': return { name, body: nasmQuote(arg.trim()), caseless };
    case 'deftok': case 'ideftok': {
      const s = stringContent(expand(arg));
      return s === undefined ? { error: `%${dir} needs a quoted string` } : { name, body: s, caseless };
    }
    case 'strlen': {
      const s = stringContent(expand(arg));
      return s === undefined ? { error: '%strlen needs a quoted string' } : { name, body: String(s.length), caseless: false };
    }
    case 'strcat': {
      const parts = splitArgs(expand(arg), 0, expand(arg).length, 0).map((a) => stringContent(a.text));
      if (parts.some((p) => p === undefined)) return { error: '%strcat needs quoted strings' };
      return { name, body: nasmQuote(parts.join('')), caseless: false };
    }
    case 'substr': {
      // %substr name 'string' start[, length]: 1-based; a negative length counts from the end
      const expanded = expand(arg).trim();
      const toks = tokenize(expanded);
      if (toks[0]?.t !== T.String || toks[0].error) return { error: '%substr needs a quoted string' };
      const s = toks[0].str ?? '';
      const [startText, lengthText] = splitArgs(expanded, toks[0].end, expanded.length, 0).map((a) => a.text);
      const start = startText !== undefined ? evalNumber(startText) : undefined;
      if (start === undefined) return { error: '%substr needs a start position' };
      let length = lengthText !== undefined ? evalNumber(lengthText) : 1;
      if (length === undefined) return { error: '%substr length is not a constant' };
      if (length < 0) length = s.length - (start - 1) + length + 1;
      return { name, body: nasmQuote(s.substr(start - 1, Math.max(0, length))), caseless: false };
    }
  }
  return { error: `unknown preprocessor directive '%${dir}'` };
}


/** `a %+ b` → `ab` (outside strings); the text unchanged when it pastes nothing. */
export function pasteTokens(text: string): string {
  if (!text.includes('%+')) return text;
  let out = '';
  let q = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) { out += c; if (c === q) q = ''; continue; }
    if (c === '\'' || c === '"' || c === '`') { q = c; out += c; continue; }
    if (c === ';') { out += text.slice(i); break; }
    if (c === '%' && text[i + 1] === '+') {
      out = out.replace(/\s+$/, '');
      i += 2;
      while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
      i--;
      continue;
    }
    out += c;
  }
  return out;
}

/** Whether nasm joins `line` with the next: its very last character is `\` (a blank after it ends the line, as in nasm). */
export function continuesOnNextLine(line: string): boolean {
  let k = line.length - 1;
  if (k >= 0 && line.charCodeAt(k) === 13) k--;
  return k >= 0 && line.charCodeAt(k) === 92;
}

/** `line` without its continuation backslash (what nasm keeps before the next line). */
export function withoutContinuation(line: string): string {
  return line.slice(0, line.lastIndexOf('\\'));
}

/**
 * A file's lines with `\`-continued ones joined onto the first, which then reports on the whole first
 * line (its text is longer than the line); the lines it took are left empty, so every line keeps its
 * number. The same array when no line ends with a backslash.
 */
export function joinContinuations(lines: string[]): Array<string | Source> {
  let out: Array<string | Source> | undefined;
  for (let i = 0; i < lines.length; i++) {
    if (!continuesOnNextLine(lines[i]) || i + 1 >= lines.length) continue;
    out ??= lines.slice();
    let joined = lines[i];
    let j = i;
    while (continuesOnNextLine(joined) && j + 1 < lines.length) { joined = withoutContinuation(joined) + lines[++j]; out[j] = ''; }
    const indent = lines[i].length - lines[i].trimStart().length;
    out[i] = { text: joined, line: i, expanded: true, origLength: lines[i].length, origIndent: indent };
    i = j;
  }
  return out ?? lines;
}
