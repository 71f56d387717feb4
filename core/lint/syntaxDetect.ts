/*
 * NASM or GNU as, by content: `.s`, `.S`, `.asm` and `.nasm` files are written in either. Kept free
 * of imports, so that the VS Code extension can use it without loading the linter.
 */

export type DetectedSyntax = 'nasm' | 'att';

/** Votes of the first 200 lines for NASM or GNU as; undefined when they do not tell. */
export function syntaxByContent(text: string): DetectedSyntax | undefined {
  let nasm = 0;
  let att = 0;
  const lines = text.slice(0, 20000).split(/\r?\n/, 200);
  for (const raw of lines) {
    const l = raw.trim();
    if (!l) continue;
    if (nasmLine(l)) nasm++;
    if (attLine(l)) att++;
  }
  if (nasm === att) return undefined;
  return nasm > att ? 'nasm' : 'att';
}

// Each pattern is tried only where the line's first character (or a character it must contain)
// allows it: a regular expression's first use compiles it (up to 0.2 ms each), and `popek lint` of a
// short file paid ≈ 1 ms for the thirteen here. `l` is trimmed: it starts with no white space.

/** A NASM-only line: section/segment, bits/use, extern/global, a %-directive, a data definition, `dword [`. */
function nasmLine(l: string): boolean {
  const c = l[0].toLowerCase();
  return (c === 's' && /^(section|segment)\s+\.?[A-Za-z]/i.test(l))
    || ((c === '[' || c === 'b' || c === 'u') && /^\[?\s*(bits|use)\s*(16|32)\b/i.test(l))
    || ((c === '[' || c === 'e' || c === 'g') && /^\[?\s*(extern|global)\s+[A-Za-z_]/i.test(l) && !/^\.?globl/.test(l))
    || (c === '%' && /^%(define|macro|include|ifdef|ifndef|assign|rep)\b/i.test(l))
    || (((c >= 'a' && c <= 'z') || c === '_' || c === '.') && /^[A-Za-z_.]\w*:?\s+(db|dw|dd|dq|resb|resw|resd|times|equ)\b/i.test(l))
    || (l.includes('[') && /\b(dword|byte|word)\s*\[/i.test(l));
}

/** A GNU as-only line: a .directive, a %register, a #-preprocessor line, a label then a data directive. */
function attLine(l: string): boolean {
  const c = l[0];
  return (c === '.' && /^\.(globl|global|text|data|section|code16|code32|macro|long|word|byte|align|p2align|type|size|set)\b/.test(l))
    || (l.includes('%') && /%(e?[abcd]x|e?[sd]i|e?[sb]p|cr[0-4]|[cdefgs]s)\b/.test(l))
    || (c === '#' && /^#\s*(include|define|if|ifdef|ifndef)\b/.test(l))
    || (l.includes(':') && /^[A-Za-z_.]\w*:\s*\.(long|word|byte|quad|ascii)/.test(l));
}

/**
 * The syntax an ambiguous file (`.s`, `.S`, `.sx`, `.asm`, `.nasm`) should be read in: the
 * `popek.syntax` setting when it forces one, else the content; undefined for other files or when the
 * content does not tell (the extension's default language stays).
 */
export function syntaxForFile(fileName: string, text: string, forced: 'auto' | 'nasm' | 'gas'): DetectedSyntax | undefined {
  if (!/\.(s|S|sx|asm|nasm)$/.test(fileName)) return undefined;
  if (forced === 'nasm') return 'nasm';
  if (forced === 'gas') return 'att';
  return syntaxByContent(text);
}
