/*
 * NASM-compatible multi-pass assembler producing a flat image (`nasm -f bin`, whose default is -Ox):
 * preprocessor (%define, %assign, %macro, %include, %if…, %rep), then passes over the statements
 * until every size and label settles (short jumps, sign-extended imm8, disp8), then emission.
 * Never throws: every problem is a diagnostic with the range of the statement or operand.
 * This module joins the parts: preprocessor.ts → parser.ts (one statement list, identical pure lines
 * parsed once) → passes.ts (sizing and emission; operands.ts, expressions.ts, encoder.ts).
 */
import type { AssembleOptions, AssemblyResult, Diagnostic } from './ast';
import { emptyKeepingStore, parseLine, splitLines, withLine, type LineContext } from './parser';
import { isPure } from './expressions';
import { lineRange, preprocess, type PPState } from './preprocessor';
import { joinContinuations } from './ppStrings';
import { Assembler, newItem, statementOf, type Item } from './passes';

export { MAX_EXPANDED_LINES, MAX_LINE_LENGTH } from './preprocessor';

/**
 * The mode nasm starts a public source in: `org` exists only in `-f bin`, whose default is 16-bit (boot
 * sectors, .COM programs), and a boot sector padded to its signature (`times 510-($-$$)`, `dw 0xaa55`)
 * is one too; any other source is built as an object (`-f elf32`: 32-bit). Popek's own `.gasm` guests
 * start in 32-bit mode (SPEC §2).
 */
export function nasmStartBits(fileName: string, text: string): 16 | 32 {
  if (/\.gasm$/i.test(fileName)) return 32;
  const flat = /^[ \t]*(?:[A-Za-z_.?@$][\w.?@$#~]*:?[ \t]+)?\[?[ \t]*org[ \t]/im.test(text)
    || /^[ \t]*times[ \t]+\(?[ \t]*510[ \t]*-/im.test(text) || /\b(?:0xaa55|0aa55h)\b/i.test(text);
  return flat ? 16 : 32;
}

/** Assembles NASM-syntax source to a flat image (nasm -f bin). Never throws. */
export function assemble(fileName: string, text: string, options: AssembleOptions = {}): AssemblyResult {
  try {
    return assembleInner(fileName, typeof text === 'string' ? text : '', options);
  } catch (e) {
    return {
      bytes: new Uint8Array(0), origin: options.origin ?? 0, entry: options.origin ?? 0, sourceMap: [], labels: [], constants: [], macros: [], sections: [],
      diagnostics: [{ range: lineRange(0, 0, 0), severity: 'error', code: 'internal', message: `internal assembler error: ${e instanceof Error ? e.message : String(e)}` }],
      files: [fileName],
    };
  }
}

/**
 * Whether looking lines up in the line cache still pays: a source whose lines hardly repeat (generated
 * code, tables) spends more on hashing and growing the map than the shared parses save, so after
 * SAMPLE lookups with fewer than MIN_HITS hits the cache is left for the rest of the file.
 */
class LineCacheUse {
  static readonly SAMPLE = 4096;
  static readonly MIN_HITS = 256;
  on = true;
  private lookups = 0;
  private hits = 0;
  count(hit: boolean): void {
    if (hit) this.hits++;
    if (++this.lookups === LineCacheUse.SAMPLE) this.on = this.hits >= LineCacheUse.MIN_HITS;
  }
}

/** Phase timings for the benchmark (preprocess with parse and pass 0, the other passes, result), when enabled. */
let PROFILE: number[][] | undefined;
export function profileAssembler(on: boolean): number[][] | undefined { const p = PROFILE; PROFILE = on ? [] : undefined; return p; }

function assembleInner(fileName: string, text: string, options: AssembleOptions): AssemblyResult {
  const asm = new Assembler(fileName, options);
  const ctx: LineContext = { line: 0, lastGlobal: '', diagnostics: [], statements: [], lineless: true };
  const parseDiags: Diagnostic[] = [];
  /** Pure one-statement lines seen so far → their first item (its statement, or its cached bytes). */
  const lineCache = new Map<string, Item>();
  const cacheUse = new LineCacheUse();
  const emit = (text: string, file: string, line: number, expanded: boolean, origLength: number, origIndent: number): void => {
    const known = cacheUse.on ? lineCache.get(text) : undefined;
    if (cacheUse.on) cacheUse.count(known !== undefined);
    if (known !== undefined) {
      // an identical line already parsed to one pure statement: share it (and its bytes)
      const range = expanded ? lineRange(line, origIndent, Math.max(origLength, origIndent)) : known.expanded ? statementOf(known).range : known.range;
      asm.add(newItem(known.s, text, file, line, range, expanded, true, known));
      return;
    }
    ctx.file = file === fileName ? undefined : file;
    // one collector for every line (the statements are copied into items at once)
    emptyKeepingStore(ctx.statements);
    if (ctx.diagnostics.length) ctx.diagnostics = [];
    parseLine(text, ctx);
    if (ctx.statements.length === 1 && ctx.diagnostics.length === 0) {
      // a pure statement depends on its text only (no symbol, label, `$`): later identical lines reuse it
      const s = ctx.statements[0];
      if ((s.kind === 'instruction' || s.kind === 'data' || s.kind === 'times') && isPure(s)) {
        const range = expanded ? lineRange(line, origIndent, Math.max(origLength, origIndent)) : s.range;
        const item = newItem(s, text, file, line, range, expanded, true);
        if (cacheUse.on) lineCache.set(text, item);
        asm.add(item);
        return;
      }
    }
    if (expanded) {
      const whole = lineRange(line, origIndent, Math.max(origLength, origIndent));
      for (const d of ctx.diagnostics) parseDiags.push({ ...d, range: whole });
      for (const s of ctx.statements) asm.add(newItem(s, undefined, file, line, whole, true, undefined));
    } else {
      for (const d of ctx.diagnostics) parseDiags.push({ ...d, range: withLine(d.range, line) });
      for (const s of ctx.statements) asm.add(newItem(s, undefined, file, line, s.range, false, undefined));
    }
  };
  const st: PPState = { defines: new Map(Object.entries(options.defines ?? {}).map(([name, body]) => [name, { body }])), macros: new Map(), emit, diags: [], files: [fileName], opts: options, macroSymbols: [], uniq: 0, mainFile: fileName, expandedLines: 0, stopped: false, scope: asm, contexts: [] };
  const T0 = PROFILE ? performance.now() : 0;
  preprocess(joinContinuations(splitLines(text)), fileName, st, 0);
  lineCache.clear();
  const T1 = PROFILE ? performance.now() : 0;
  asm.run();
  const T2 = PROFILE ? performance.now() : 0;
  const res = asm.result(st.files, st.macroSymbols, [...st.diags, ...parseDiags]);
  const guessed = st.guessedLines;
  if (guessed) {
    res.diagnostics = res.diagnostics.map((d) => (d.code !== 'include' && guessed.has(`${d.file ?? fileName}\n${d.range.start.line}`) ? { ...d, underMissingInclude: true } : d));
  }
  if (PROFILE) PROFILE.push([T1 - T0, T2 - T1, performance.now() - T2]);
  return res;
}
