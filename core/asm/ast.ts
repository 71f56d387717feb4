/*
 * The source model of the NASM parser (and, later, the AT&T parser): statements with exact
 * 0-based ranges, operands, diagnostics, and the assembler's result (image, source map, symbols).
 */

/** 0-based line and UTF-16 character, as in LSP. */
export interface Position { line: number; character: number }
export interface Range { start: Position; end: Position }

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface Diagnostic {
  range: Range;
  severity: Severity;
  /** Stable code, e.g. 'syntax', 'unknown-instruction', 'invalid-operands', 'undefined-symbol', 'range'. */
  code: string;
  message: string;
  /** File the range refers to (set when it is not the main file, e.g. inside an %include). */
  file?: string;
  /**
   * On a line assembled only because an `%include` was not found: it sits under an `%ifdef`/`%ifndef`
   * of a name that file may define (a config include's CONFIG_X86_32), so the branch may be the
   * wrong one. The editor does not report what is found there; `popek asm` still does.
   */
  underMissingInclude?: boolean;
}

// ---- expressions ----
export type Expr =
  | { kind: 'number'; value: number; range: Range; /** Exact value when it exceeds 2^53 (64-bit dq constants). */ big?: bigint }
  | { kind: 'string'; value: string; range: Range }        // 'abc' "abc" `abc` (also char constants)
  | { kind: 'float'; text: string; range: Range }          // 1.5, 3.14e2, 0x1.8p3, __?Infinity?__ (data items only)
  | { kind: 'symbol'; name: string; range: Range }         // full name (local labels already qualified)
  | { kind: 'register'; name: string; range: Range }       // inside memory expressions
  | { kind: 'here'; range: Range }                         // $
  | { kind: 'sectionStart'; range: Range }                 // $$
  | { kind: 'unary'; op: '-' | '+' | '~' | '!'; arg: Expr; range: Range }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr; range: Range }
  | { kind: 'error'; range: Range };

export type BinaryOp =
  | '||' | '^^' | '&&' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | '<=>'
  | '|' | '^' | '&' | '<<' | '>>' | '<<<' | '>>>' | '+' | '-' | '*' | '/' | '//' | '%' | '%%';

// ---- operands ----
/** Explicit size keyword on an operand. */
export type SizeKeyword = 'byte' | 'word' | 'dword' | 'qword' | 'tword' | 'oword';

export type Operand =
  | { kind: 'register'; name: string; range: Range }
  | { kind: 'immediate'; expr: Expr; size?: SizeKeyword; strict?: boolean; jump?: 'short' | 'near' | 'far'; range: Range }
  | { kind: 'memory'; size?: SizeKeyword; segment?: string; address: Expr; nosplit?: boolean; jump?: 'far'; dispSize?: 8 | 16 | 32; range: Range }
  | { kind: 'far'; segment: Expr; offset: Expr; size?: SizeKeyword; range: Range };

// ---- statements ----
export interface Prefix { name: string; range: Range }

export interface InstructionStatement {
  kind: 'instruction';
  prefixes: Prefix[];
  mnemonic: string;              // lower case
  mnemonicRange: Range;
  operands: Operand[];
  range: Range;
}

export interface LabelStatement {
  kind: 'label';
  /** Name as written ('.loop'); `fullName` has local labels qualified ('main.loop'). */
  name: string;
  fullName: string;
  range: Range;
}

export type DataDirective = 'db' | 'dw' | 'dd' | 'dq' | 'dt' | 'do' | 'resb' | 'resw' | 'resd' | 'resq' | 'rest' | 'reso' | 'incbin';

export interface DataStatement {
  kind: 'data';
  directive: DataDirective;
  directiveRange: Range;
  items: Expr[];                 // strings expand to bytes in db/dw/dd
  range: Range;
}

export interface TimesStatement {
  kind: 'times';
  count: Expr;
  body: InstructionStatement | DataStatement;
  range: Range;
}

export interface EquStatement { kind: 'equ'; name: string; nameRange: Range; value: Expr; range: Range }

/** bits, org, section/segment, align/alignb, global/extern (ignored in bin), cpu, default… */
export interface DirectiveStatement {
  kind: 'directive';
  name: string;
  nameRange: Range;
  /** Arguments as raw text with ranges, and parsed as expressions where that makes sense. */
  args: Array<{ text: string; range: Range; expr?: Expr }>;
  range: Range;
}

export interface MacroDefinition {
  kind: 'macroDef';
  name: string;
  nameRange: Range;
  minParams: number;
  maxParams: number;             // Infinity for `name 1-*`
  /** Body lines (0-based line numbers in the same file), exclusive of %macro/%endmacro. */
  bodyStartLine: number;
  bodyEndLine: number;
  range: Range;                  // from %macro to the end of %endmacro
}

export interface MacroCall { kind: 'macroCall'; name: string; nameRange: Range; args: Array<{ text: string; range: Range }>; range: Range }

export interface IncludeStatement { kind: 'include'; path: string; pathRange: Range; range: Range }

/** %define/%undef/%assign/%if…/%else/%endif/%error and friends, as written. */
export interface PreprocStatement {
  kind: 'preproc';
  directive: string;             // '%define', '%ifdef', …
  name?: string;
  nameRange?: Range;
  params?: string[];
  body?: string;
  range: Range;
}

export type Statement =
  | InstructionStatement | LabelStatement | DataStatement | TimesStatement | EquStatement
  | DirectiveStatement | MacroDefinition | MacroCall | IncludeStatement | PreprocStatement;

export interface ParsedFile {
  fileName: string;
  /** In source order; a line can yield a label and an instruction. Lines inside %macro bodies are not parsed as statements. */
  statements: Statement[];
  diagnostics: Diagnostic[];
  /** Number of lines in the text. */
  lineCount: number;
}

// ---- assembly result ----
export interface SourceMapEntry {
  address: number;
  length: number;
  file: string;
  range: Range;                  // the instruction/data statement (or, for macro expansions, the invocation line)
  kind: 'instruction' | 'data';
  /** Section name the bytes belong to. */
  section: string;
}

export interface LabelSymbol {
  name: string;                  // full name ('main.loop')
  address: number;
  file: string;
  range: Range;                  // definition
  section: string;
}

export interface ConstantSymbol { name: string; value: number; file: string; range: Range }
export interface MacroSymbol { name: string; file: string; range: Range; minParams: number; maxParams: number }

export interface SectionLayout { name: string; start: number; size: number; nobits: boolean }

export interface AssemblyResult {
  /** Flat image (progbits sections laid out as `nasm -f bin` does; trailing .bss not included). */
  bytes: Uint8Array;
  origin: number;
  /** Address of the first instruction byte (`_start`/`start` label if defined, else the origin). */
  entry: number;
  sourceMap: SourceMapEntry[];
  labels: LabelSymbol[];
  constants: ConstantSymbol[];
  macros: MacroSymbol[];
  sections: SectionLayout[];
  diagnostics: Diagnostic[];
  /** Every file read (main file first), for the editor's watch list. */
  files: string[];
}

export interface AssembleOptions {
  /** Reads an %include'd file; relative paths are resolved against the including file by the caller. */
  readFile?: (path: string, fromFile: string) => string | undefined;
  /** Where an `%include`d file is (an absolute path); default: next to the including file. */
  resolveInclude?: (path: string, fromFile: string) => string | undefined;
  /** The bytes of an `incbin` file (undefined: cannot be read — nasm's "unable to open" error). */
  readBinary?: (path: string, fromFile: string) => Uint8Array | undefined;
  /** Extra predefined constants (on top of core/asm/predefined.ts); user definitions win. */
  predefined?: Record<string, number>;
  /** Single-line macros defined before the first line, as `nasm -d NAME=VALUE` defines them. */
  defines?: Record<string, string>;
  /** The mode before any `bits` directive (default 32, Popek's guests; nasmStartBits says what nasm would use). */
  bits?: 16 | 32;
  /** Default origin when the source has no `org` (default 0, as nasm). */
  origin?: number;
  /** Leave the source map empty (`popek asm` writes the image only): an entry per statement is most of a big file's result. */
  noSourceMap?: boolean;
}

export interface DisasmLine {
  address: number;
  bytes: Uint8Array;
  /** NASM-syntax text, e.g. 'mov eax,[ebx+0x4]', 'jmp short 0x100010', or 'db 0xff' for undecodable bytes. */
  text: string;
  mnemonic: string;
}
