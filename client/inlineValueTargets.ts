/*
 * What an inline value at a line's end shows for an assembly line: the registers the instruction
 * names, the flags its condition reads (`jz` → ZF, `adc` → CF), and a NASM memory operand as the
 * debugger's expression reads it (`dword [ebx+4]`). Pure text work (no vscode), so the provider in
 * inlineValues.ts stays a thin adapter and this is unit-tested. The expressions are the Debug
 * Console's language (debugger/runtime/expression.ts), evaluated by the adapter at the stop.
 */
import { register } from '../core/asm/registers';

export type AsmSyntax = 'nasm' | 'gas';

/** One value to show: the expression the adapter evaluates and the columns it stands for. */
export interface InlineTarget { expression: string; start: number; end: number }

/** Flags each condition code reads (SDM Vol. 1 Appendix B, "EFLAGS Condition Codes"). */
const CONDITION_FLAGS: Readonly<Record<string, readonly string[]>> = {
  o: ['OF'], no: ['OF'], b: ['CF'], c: ['CF'], nae: ['CF'], ae: ['CF'], nb: ['CF'], nc: ['CF'],
  e: ['ZF'], z: ['ZF'], ne: ['ZF'], nz: ['ZF'], be: ['CF', 'ZF'], na: ['CF', 'ZF'], a: ['CF', 'ZF'], nbe: ['CF', 'ZF'],
  s: ['SF'], ns: ['SF'], p: ['PF'], pe: ['PF'], np: ['PF'], po: ['PF'],
  l: ['SF', 'OF'], nge: ['SF', 'OF'], ge: ['SF', 'OF'], nl: ['SF', 'OF'],
  le: ['ZF', 'SF', 'OF'], ng: ['ZF', 'SF', 'OF'], g: ['ZF', 'SF', 'OF'], nle: ['ZF', 'SF', 'OF'],
};
/** Instructions that read CF without a condition code in their name. */
const CARRY_READERS = new Set(['adc', 'sbb', 'rcl', 'rcr', 'cmc']);
/** Implicit register reads worth showing: the loop counter, `jecxz`'s ECX. */
const IMPLICIT: Readonly<Record<string, readonly string[]>> = {
  loop: ['ecx'], loope: ['ecx', 'ZF'], loopz: ['ecx', 'ZF'], loopne: ['ecx', 'ZF'], loopnz: ['ecx', 'ZF'],
  jecxz: ['ecx'], jcxz: ['cx'],
};

/** The flags (and implicit registers) the mnemonic reads, in EFLAGS order. */
export function flagsRead(mnemonic: string): string[] {
  const m = mnemonic.toLowerCase();
  if (IMPLICIT[m]) return [...IMPLICIT[m]];
  if (CARRY_READERS.has(m)) return ['CF'];
  const cc = /^(?:j|set|cmov)(.+)$/.exec(m)?.[1];
  if (cc && CONDITION_FLAGS[cc]) return [...CONDITION_FLAGS[cc]];
  return [];
}

/** The code part of a line: without the comment and string literals' contents (blanked, columns kept). */
function codePart(line: string, syntax: AsmSyntax): string {
  let out = '', quote = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) { out += ch === quote ? ch : ' '; if (ch === quote) quote = ''; continue; }
    if (ch === '"' || ch === '\'' || ch === '`') { quote = ch; out += ch; continue; }
    if (syntax === 'nasm' ? ch === ';' : ch === '#' || (ch === '/' && line[i + 1] === '*')) break;
    out += ch;
  }
  return out;
}

const SIZE_OF: Readonly<Record<number, string>> = { 8: 'byte', 16: 'word', 32: 'dword' };

/**
 * The values to show for one source line, left to right, each once: registers named in the operands
 * (general and segment registers; AT&T `%eax` too), the flags the instruction reads, and for NASM the
 * memory operands whose address the expression language can compute (no segment override).
 */
export function inlineTargets(line: string, syntax: AsmSyntax): InlineTarget[] {
  const code = codePart(line, syntax);
  // Labels before the instruction (`loop: dec ecx`) and directives are not instructions.
  const m = /^(\s*(?:[A-Za-z_.$?@][\w.$?@]*:\s*)?)([A-Za-z][\w.]*)\b/.exec(code);
  if (!m) return [];
  const mnemonic = m[2];
  if (/^(?:db|dw|dd|dq|dt|times|equ|org|bits|section|segment|global|extern|align|resb|resw|resd|%.*)$/i.test(mnemonic) || mnemonic.startsWith('.')) return [];
  const opStart = m[0].length;
  const out: InlineTarget[] = [];
  const seen = new Set<string>();
  const add = (expression: string, start: number, end: number) => {
    const key = expression.toLowerCase();
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ expression, start, end });
  };
  const operands = code.slice(opStart);
  let widest = 0;
  const regRe = syntax === 'gas' ? /%([a-z][a-z0-9]*)\b/gi : /(?<![\w.$%])([a-z][a-z0-9]*)\b/gi;
  for (const r of operands.matchAll(regRe)) {
    const name = r[1].toLowerCase();
    const info = register(name);
    if (!info || (info.kind !== 'gpr' && info.kind !== 'sreg')) continue;
    const start = opStart + r.index! + (syntax === 'gas' ? 1 : 0);
    if (info.kind === 'gpr' && !inBrackets(operands, r.index!)) widest = Math.max(widest, info.size);
    add(name, start, start + name.length);
  }
  if (syntax === 'nasm') {
    for (const mem of operands.matchAll(/(?:\b(byte|word|dword)\s+)?\[([^\]:]+)\]/gi)) {
      const inside = mem[2].trim();
      if (!inside) continue;
      const size = mem[1]?.toLowerCase() ?? SIZE_OF[widest] ?? 'dword';
      const start = opStart + mem.index!;
      add(`${size} [${inside.replace(/\s+/g, '')}]`, start, start + mem[0].length);
    }
  }
  // AT&T size suffixes: `adcl` reads CF as `adc` does.
  const flags = flagsRead(mnemonic);
  if (!flags.length && syntax === 'gas' && /[bwl]$/i.test(mnemonic)) flags.push(...flagsRead(mnemonic.slice(0, -1)));
  for (const f of flags) add(f, m[1].length, opStart);
  return out;
}

function inBrackets(text: string, at: number): boolean {
  const open = text.lastIndexOf('[', at), close = text.lastIndexOf(']', at);
  return open > close;
}

/**
 * The lines to annotate at a stop: from the start of the function the stop is in (its nearest
 * non-local label above, at most `maxLines` back) down to the stop line, within the visible range.
 * Lines below the stop have not run yet: their values would mislead.
 */
export function linesToAnnotate(lines: readonly string[], stopLine: number, visible: { start: number; end: number }, maxLines = 60): number[] {
  let first = Math.max(0, stopLine - maxLines);
  for (let l = stopLine; l >= first; l--) {
    if (/^\s*[A-Za-z_?@$][\w$?@]*\s*:/.test(lines[l] ?? '')) { first = l; break; }
  }
  const from = Math.max(first, visible.start), to = Math.min(stopLine, visible.end, lines.length - 1);
  const out: number[] = [];
  for (let l = from; l <= to; l++) out.push(l);
  return out;
}
