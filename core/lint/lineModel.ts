/*
 * The per-line source model the linter and the language server work on, common to both syntaxes.
 * One `LineFacts` per physical line, computed from that line alone (plus a tiny carried state for
 * AT&T block comments and NASM macro bodies), so that an edit re-scans only the lines it touched.
 * Offsets are UTF-16 characters within the line (LSP's `character`).
 */

import { markedMode } from './modeMarker';

export type Syntax = 'nasm' | 'att';

/** A span inside one line. */
export interface Span { start: number; end: number }

export type RegisterClass = 'gpr8' | 'gpr16' | 'gpr32' | 'sreg' | 'cr' | 'dr' | 'tr' | 'fpu' | 'mmx' | 'xmm';

export interface ScannedOperand extends Span {
  kind: 'register' | 'memory' | 'immediate' | 'far';
  text: string;
  /** Register name (lower case, no `%`) when kind is 'register'. */
  register?: string;
  registerClass?: RegisterClass;
  /** Explicit size from a NASM size keyword (byte=8 … ). */
  size?: number;
  /** NASM `far` keyword on a memory/immediate operand, or an AT&T `*` indirect far operand of ljmp/lcall. */
  far?: boolean;
  /** AT&T `*` prefix (indirect jump/call). */
  indirect?: boolean;
}

/**
 * A scanned operand, always built with the same fields in the same order: V8 then shares one hidden
 * class between all of them (built by object spread with varying fields, each of a 100,000-line
 * file's operands had its own, ~26 MB of maps).
 */
export function scannedOperand(span: Span, kind: ScannedOperand['kind'], text: string, extra: Partial<Pick<ScannedOperand, 'register' | 'registerClass' | 'size' | 'far' | 'indirect'>> = {}): ScannedOperand {
  return {
    start: span.start, end: span.end, kind, text,
    register: extra.register, registerClass: extra.registerClass, size: extra.size, far: extra.far, indirect: extra.indirect,
  };
}

export interface ScannedInstruction extends Span {
  /** The mnemonic as written, lower case (`popfl`, `mov`, `ljmp`). */
  spelling: string;
  /** The Intel mnemonic it stands for (`popfd`, `mov`, `jmp`), or the spelling when unknown. */
  mnemonic: string;
  mnemonicSpan: Span;
  prefixes: string[];
  /** Operands in Intel order (destination first), whatever the syntax. */
  operands: ScannedOperand[];
  /** Far transfer (`jmp far`, `ljmp`, `lret`, `retf`, `call far`). */
  far?: boolean;
  /** Operand size implied by an AT&T suffix (`popfl` → 32) or a NASM `o16`/`o32` prefix. */
  opsize?: 8 | 16 | 32 | 64 | 80;
  /** True when the mnemonic is known to the instruction table. */
  known: boolean;
}

export interface SymbolDef extends Span {
  /** As written (`.loop`). */
  name: string;
  kind: 'label' | 'constant' | 'macro' | 'define';
}

export interface SymbolRef extends Span { name: string }

export interface ScannedDirective extends Span {
  name: string;
  /** Raw argument text. */
  args: string;
  argsSpan: Span;
}

export interface LineFacts {
  defs: SymbolDef[];
  refs: SymbolRef[];
  instructions: ScannedInstruction[];
  directive?: ScannedDirective;
  /** Macro invocation (NASM) by name. */
  macroCall?: SymbolRef;
  include?: { path: string; /** `#include <…>`: searched in the include paths only. */ angle?: boolean } & Span;
  /** A C preprocessor line of a `.S` file (`#define`, `#if`, …), or a continuation of one. */
  cpp?: { directive: string } & Span;
  /** `%macro` opens / `%endmacro` closes a macro body (NASM); `.macro`/`.endm` (AT&T). */
  macroOpen?: boolean;
  macroClose?: boolean;
  /** `; popek: mode=…` / `# popek: mode=…`. */
  modeOverride?: string;
  /** `popek: pv` marker: this line is part of a paravirtual rewrite, not to be flagged again. */
  pvMarker?: boolean;
  /** Comment start offset, if any. */
  commentStart?: number;
  /** Whether the line ends inside an AT&T block comment. */
  endsInBlockComment?: boolean;
  /**
   * The line changes the document-wide macro view when edited: a directive, a macro definition's
   * body, a cpp continuation (core/lint/macroView.ts).
   */
  structural?: boolean;
  /** Set by the macro view: cpp skips the line (`#if 0`, a false `#ifdef`). */
  inactive?: boolean;
  /** Set by the macro view: the line is part of a macro definition (a template, not code). */
  macroBody?: boolean;
  /** Set by the macro view: the line is the body of an `.irp`/`.irpc` (expanded per value). */
  repeat?: import('./macroView').RepeatBlock;
  /** The linter's diagnostics of this line, by mode key and line number (core/lint/lint.ts). */
  lintCache?: { key: string; line: number; diagnostics: unknown[] };
  /** Problems the scanner itself can see on this line (AT&T only; NASM's come from the assembler). */
  errors: Array<{ message: string; code: string } & Span>;
}

export function emptyFacts(): LineFacts {
  return { defs: [], refs: [], instructions: [], errors: [] };
}

const GPR32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const GPR16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const GPR8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const SREG = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];

const REGISTERS = new Map<string, RegisterClass>();
for (const r of GPR32) REGISTERS.set(r, 'gpr32');
for (const r of GPR16) REGISTERS.set(r, 'gpr16');
for (const r of GPR8) REGISTERS.set(r, 'gpr8');
for (const r of SREG) REGISTERS.set(r, 'sreg');
// GNU as and NASM both accept cr0–cr15 in 32-bit code (the CPU raises #UD for the reserved ones).
for (let n = 0; n < 16; n++) REGISTERS.set(`cr${n}`, 'cr');
for (let n = 0; n < 8; n++) {
  REGISTERS.set(`dr${n}`, 'dr');
  REGISTERS.set(`st${n}`, 'fpu');
  REGISTERS.set(`mm${n}`, 'mmx');
  REGISTERS.set(`xmm${n}`, 'xmm');
  if (n >= 3) REGISTERS.set(`tr${n}`, 'tr');
}
REGISTERS.set('st', 'fpu');

/** Register class of a name (lower case, without `%`), or undefined. */
export function registerClass(name: string): RegisterClass | undefined {
  return REGISTERS.get(name.toLowerCase());
}

/** Every register name, for completion. */
export function allRegisters(): ReadonlyMap<string, RegisterClass> {
  return REGISTERS;
}

export function registerSize(cls: RegisterClass | undefined): number | undefined {
  switch (cls) {
    case 'gpr8': return 8;
    case 'gpr16': case 'sreg': return 16;
    case 'gpr32': case 'cr': case 'dr': case 'tr': return 32;
    default: return undefined;
  }
}

/** Recognises `popek:` comment markers (`mode=…`, `pv`). */
export function scanMarker(comment: string, facts: LineFacts): void {
  const m = /\bpopek:\s*(.*)$/i.exec(comment);
  if (!m) return;
  const body = m[1];
  const mode = markedMode(comment);
  if (mode) facts.modeOverride = mode;
  if (/^pv\b/i.test(body.trim())) facts.pvMarker = true;
}
