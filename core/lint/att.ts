/*
 * The AT&T (GNU as, `popek-gas`) parser. GNU as reads a line as statements separated by `;`,
 * each `label: … mnemonic operands` or `.directive args` or `sym = expr`, with `#` and `/* … *\/`
 * comments. Operands come source first (`movl %eax, %ebx` is Intel `mov ebx, eax`), registers carry
 * `%`, immediates `$`, memory is `seg:disp(base,index,scale)`, and the operand size is a mnemonic
 * suffix (`popfl`, `lgdtl`, `movzbl`). This scanner works one line at a time (carrying only the
 * block-comment state), gives every instruction its Intel mnemonic and operands in Intel order with
 * exact ranges, and reports what GNU as would reject at the line level. It never throws.
 */
import type { NasmJoin } from './nasmScanner';
import { attInstructionInfo, instructionInfo } from '../isa';
import { validateAttOperands } from './attValidate';
import { splitOperands } from './nasmScanner';
import {
  emptyFacts, registerClass, scanMarker, scannedOperand,
  type LineFacts, type ScannedInstruction, type ScannedOperand, type Span,
} from './lineModel';

/**
 * State carried from line to line. `blocks` is the stack of open `.macro`/`.irp`/`.irpc`/`.rept`
 * blocks, innermost last, one bit each (1: the body has parameters to substitute, i.e. not `.rept`);
 * `inMacro` is true inside any body with parameters (there the text is a template, not code).
 * `continuation`: the previous line was a C preprocessor line ending with a backslash.
 */
export interface AttScanState {
  inBlockComment: boolean; inMacro: boolean; blockDepth?: number; blockBits?: number; continuation?: boolean; code64?: boolean;
  /** cpp splices a line ending in `\\` with the next, also outside directives: that next line continues a statement or a `#` comment. */
  joined?: NasmJoin;
}

export function initialAttState(): AttScanState { return { inBlockComment: false, inMacro: false, blockDepth: 0, blockBits: 0, continuation: false }; }

/** At most this many nested blocks are tracked (GNU as has no limit; kernels nest two or three). */
const MAX_BLOCK_DEPTH = 8;

function openBlock(state: AttScanState, withParams: boolean): void {
  const depth = state.blockDepth ?? 0;
  if (depth >= MAX_BLOCK_DEPTH) return;
  state.blockBits = ((state.blockBits ?? 0) & ((1 << depth) - 1)) | (withParams ? 1 << depth : 0);
  state.blockDepth = depth + 1;
  state.inMacro = (state.blockBits & ((1 << state.blockDepth) - 1)) !== 0;
}

/** Closes the innermost block; returns whether one was open. */
function closeBlock(state: AttScanState): boolean {
  const depth = state.blockDepth ?? 0;
  if (depth === 0) { state.inMacro = false; return false; }
  state.blockDepth = depth - 1;
  state.blockBits = (state.blockBits ?? 0) & ((1 << state.blockDepth) - 1);
  state.inMacro = state.blockBits !== 0;
  return true;
}

const PREFIXES = new Set(['rep', 'repe', 'repz', 'repne', 'repnz', 'lock', 'data16', 'data32', 'addr16', 'addr32', 'cs', 'ds', 'es', 'fs', 'gs', 'ss', 'notrack']);

/**
 * GNU as spellings whose Intel mnemonic is not "the spelling less a b/w/l/q suffix". Value:
 * [Intel mnemonic, operand size, far].
 */
const SPECIAL: Record<string, [string, (8 | 16 | 32)?, boolean?]> = {
  ljmp: ['jmp', undefined, true], ljmpl: ['jmp', 32, true], ljmpw: ['jmp', 16, true],
  lcall: ['call', undefined, true], lcalll: ['call', 32, true], lcallw: ['call', 16, true],
  lret: ['retf', undefined, true], lretl: ['retf', 32, true], lretw: ['retf', 16, true],
  iret: ['iretd', 32], iretl: ['iretd', 32], iretw: ['iretw', 16], iretd: ['iretd', 32],
  pushf: ['pushfd', 32], pushfl: ['pushfd', 32], pushfw: ['pushfw', 16], pushfd: ['pushfd', 32],
  popf: ['popfd', 32], popfl: ['popfd', 32], popfw: ['popfw', 16], popfd: ['popfd', 32],
  pusha: ['pushad', 32], pushal: ['pushad', 32], pushaw: ['pusha', 16],
  popa: ['popad', 32], popal: ['popad', 32], popaw: ['popa', 16],
  cbtw: ['cbw', 16], cwtl: ['cwde', 32], cwtd: ['cwd', 16], cltd: ['cdq', 32],
  movsbw: ['movsx', 16], movsbl: ['movsx', 32], movswl: ['movsx', 32],
  movzbw: ['movzx', 16], movzbl: ['movzx', 32], movzwl: ['movzx', 32],
  movsb: ['movsb', 8], movsw: ['movsw', 16], movsl: ['movsd', 32],
  cmpsb: ['cmpsb', 8], cmpsw: ['cmpsw', 16], cmpsl: ['cmpsd', 32],
  stosb: ['stosb', 8], stosw: ['stosw', 16], stosl: ['stosd', 32],
  lodsb: ['lodsb', 8], lodsw: ['lodsw', 16], lodsl: ['lodsd', 32],
  scasb: ['scasb', 8], scasw: ['scasw', 16], scasl: ['scasd', 32],
  insb: ['insb', 8], insw: ['insw', 16], insl: ['insd', 32],
  outsb: ['outsb', 8], outsw: ['outsw', 16], outsl: ['outsd', 32],
  sysexitl: ['sysexit', 32], sysenterl: ['sysenter', 32],
  int3: ['int3'], into: ['into'],
  // JCXZ is JECXZ with an address-size prefix: the same (innocuous) branch for the linter.
  jcxz: ['jecxz', 16],
};

/**
 * Instructions outside the table (x87, MMX/SSE/AVX, a few newer integer ones) that GNU as
 * assembles. None of them is sensitive, so the linter has nothing to say about them; they must not
 * be reported as unknown either. Written out family by family, so that a typo still is an error.
 */
const X87 = /^f(ld|st|stp|ild|ist|istp|isttp|add|addp|iadd|sub|subp|subr|subrp|isub|isubr|mul|mulp|imul|div|divp|divr|divrp|idiv|idivr|com|comp|compp|ucom|ucomp|ucompp|comi|comip|ucomi|ucomip|icom|icomp|xch|chs|abs|sqrt|prem|prem1|rndint|scale|xtract|sin|cos|sincos|ptan|patan|2xm1|yl2x|yl2xp1|ld1|ldz|ldpi|ldl2e|ldl2t|ldlg2|ldln2|init|ninit|clex|nclex|stcw|nstcw|ldcw|stsw|nstsw|stenv|nstenv|ldenv|save|nsave|rstor|free|freep|decstp|incstp|nop|wait|tst|xam|cmovn?(b|e|be|u)|bld|bstp|xsave|xrstor)[slqtw]?$/;
const SIMD = /^v?((add|sub|mul|div|min|max|sqrt|rcp|rsqrt|and|andn|or|xor|cmp[a-z]*|mov[a-z]*|comi|ucomi|unpck[hl]|shuf|blendv?|round|dp|hadd|hsub|addsub|cvt[a-z0-9]*)(ss|sd|ps|pd)|p(add|sub|mul|and|andn|or|xor|cmp|sll|srl|sra|shuf|unpck|mov|max|min|avg|sad|abs|sign|pack|insr|extr|test|alignr|blend|madd|hadd|hsub)[a-z0-9]*|movd|movq|movdq[au]|lddqu|movhlps|movlhps|movmskp[sd]|cvt[a-z0-9]+|ldmxcsr|stmxcsr|emms|femms|movnt[a-z]*|maskmov[a-z]*)$/;
const OTHER = /^(v?aes(enc|enclast|dec|declast|imc|keygenassist)|v?pclmul[hl]?[hl]?q?[hl]?qdq|sha(1rnds4|1nexte|1msg1|1msg2|256rnds2|256msg1|256msg2)|v?gf2p8(affineqb|affineinvqb|mulb)|lfence|mfence|sfence|pause|prefetch[a-z0-9]*|clflush[a-z]*|endbr(32|64)|rdtscp|rdrand[wlq]?|rdseed[wlq]?|xgetbv|xsetbv|fxsave|fxrstor|xsave[a-z0-9]*|xrstor[a-z0-9]*|crc32[bwlq]?|popcnt[wlq]?|lzcnt[wlq]?|tzcnt[wlq]?|movbe[wlq]?|ud[012]|nop[wl]|wait|monitor|mwait|cmpxchg8b|cmpxchg16b|bswapl?|xaddl?|cmpxchgl?)$/;

/** Whether GNU as knows a mnemonic the table does not describe (see X87, SIMD, OTHER). */
export function outsideTable(spelling: string): boolean {
  return X87.test(spelling) || SIMD.test(spelling) || OTHER.test(spelling);
}

/** Jumps and calls whose bare operand is a branch target (not a memory operand). */
const BRANCHES = /^(jmp|call|j[a-z]{1,4}|loop[a-z]*|jcxz|jecxz|xbegin)$/;

/** Resolves an AT&T spelling to its Intel mnemonic. */
export function attMnemonic(spelling: string): { mnemonic: string; size?: 8 | 16 | 32 | 64 | 80; far?: boolean; known: boolean } {
  const s = spelling.toLowerCase();
  const special = SPECIAL[s];
  if (special) return { mnemonic: special[0], size: special[1], far: special[2], known: instructionInfo(special[0]) !== undefined };
  const fromTable = attInstructionInfo(s);
  if (fromTable) return { mnemonic: fromTable.info.mnemonic, size: fromTable.size, far: fromTable.far, known: true };
  if (instructionInfo(s)) return { mnemonic: s, known: true };
  const suffix = s[s.length - 1];
  const sizes: Record<string, 8 | 16 | 32 | 64> = { b: 8, w: 16, l: 32, q: 64 };
  if (s.length > 2 && suffix in sizes && instructionInfo(s.slice(0, -1))) {
    return { mnemonic: s.slice(0, -1), size: sizes[suffix], known: true };
  }
  return { mnemonic: s, known: false };
}

const IDENT = /[A-Za-z_.$][A-Za-z0-9_.$]*/g;

/** Symbol references in an AT&T expression (skips `%reg`, numbers and numeric-label refs like `1f`). */
function attIdentifiers(text: string, base: number, out: LineFacts['refs']): void {
  let quote = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) { if (c === '\\') i++; else if (c === '"') quote = false; continue; }
    if (c === '"') { quote = true; continue; }
    if (c === '%') { while (i + 1 < text.length && /[A-Za-z0-9]/.test(text[i + 1])) i++; continue; }
    if (/[0-9]/.test(c)) { while (i + 1 < text.length && /[A-Za-z0-9_]/.test(text[i + 1])) i++; continue; }
    IDENT.lastIndex = i;
    const m = IDENT.exec(text);
    if (m && m.index === i) {
      if (m[0] !== '.' && m[0] !== '$') out.push({ name: m[0], start: base + i, end: base + i + m[0].length });
      i += m[0].length - 1;
    }
  }
}

type OperandProblem = { message: string } & Span;

/** Classifies one AT&T operand; pushes a problem when GNU as would reject it. */
function classifyAttOperand(op: { text: string } & Span, branch: boolean, problems: OperandProblem[]): ScannedOperand {
  let text = op.text;
  const span = { start: op.start, end: op.end };
  let indirect = false;
  if (text.startsWith('*')) { indirect = true; text = text.slice(1).trim(); }
  if (!text) {
    problems.push({ message: 'missing operand', ...span });
    return scannedOperand(span, 'immediate', op.text);
  }
  if (text.startsWith('%')) {
    const seg = /^%([a-z]s)\s*:(.*)$/i.exec(text);
    if (seg) {
      if (registerClass(seg[1]) !== 'sreg') problems.push({ message: `bad segment register %${seg[1]}`, ...span });
      return scannedOperand(span, 'memory', op.text, { indirect: indirect || undefined });
    }
    const reg = /^%([a-z0-9]+)(\(\s*[0-7]\s*\))?$/i.exec(text);
    const name = reg ? (reg[2] ? `st${reg[2].replace(/[()\s]/g, '')}` : reg[1].toLowerCase()) : '';
    const cls = name ? registerClass(name) : undefined;
    if (!cls) {
      problems.push({ message: `bad register name \`${text}'`, ...span });
      return scannedOperand(span, 'register', op.text, { register: name || text.slice(1) });
    }
    return scannedOperand(span, 'register', op.text, { register: name, registerClass: cls, indirect: indirect || undefined });
  }
  if (text.startsWith('$')) {
    if (indirect) problems.push({ message: 'immediate operand illegal with absolute jump', ...span });
    if (text.length === 1) problems.push({ message: 'missing immediate expression', ...span });
    return scannedOperand(span, 'immediate', op.text);
  }
  // Memory: `disp(base,index,scale)` or a bare expression (absolute memory; a target for branches).
  if (text.includes('(') || text.includes(')')) {
    let depth = 0;
    for (let k = 0; k < text.length && depth >= 0; k++) {
      const c = text.charCodeAt(k);
      if (c === 40) depth++;
      else if (c === 41) depth--;
    }
    if (depth !== 0) problems.push({ message: 'unbalanced parenthesis in operand', ...span });
    const paren = /\(([^()]*)\)\s*$/.exec(text);
    if (paren) {
      const parts = paren[1].split(',').map((p) => p.trim());
      const isReg = (p: string, allowEsp: boolean): boolean => {
        if (!p.startsWith('%')) return false;
        const c = registerClass(p.slice(1));
        return (c === 'gpr32' || c === 'gpr16') && (allowEsp || p.toLowerCase() !== '%esp');
      };
      const baseOk = parts[0] === '' || isReg(parts[0], true);
      const indexOk = parts.length < 2 || parts[1] === '' || isReg(parts[1], false);
      const scaleOk = parts.length < 3 || /^(1|2|4|8)$/.test(parts[2]);
      // A parenthesised expression without registers is just an expression, e.g. `(4+4)`.
      const looksLikeAddress = parts.length > 1 || parts[0].startsWith('%');
      if (looksLikeAddress && (!baseOk || !indexOk || !scaleOk || parts.length > 3)) {
        problems.push({ message: `\`${text}' is not a valid base/index expression`, ...span });
      }
    }
  }
  if (branch && !indirect) return scannedOperand(span, 'immediate', op.text);
  return scannedOperand(span, 'memory', op.text, { indirect: indirect || undefined });
}

/** Index of the comment start (`#`, or `/*`), outside strings; and whether `/*` opens a block. */
function findComment(line: string, from: number): { index: number; block: boolean } | undefined {
  let quote = false;
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (quote) { if (c === '\\') i++; else if (c === '"') quote = false; continue; }
    if (c === '"') quote = true;
    else if (c === '#') return { index: i, block: false };
    else if (c === '/' && line[i + 1] === '*') return { index: i, block: true };
    else if (c === '/' && line[i + 1] === '/') return { index: i, block: false };
  }
  return undefined;
}

/**
 * Removes comments from `line` (replacing them by spaces so that offsets stay exact), following
 * the block-comment state across lines. Returns the code text and the first comment offset.
 */
function stripComments(line: string, state: AttScanState, facts: LineFacts): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    if (state.inBlockComment) {
      const close = line.indexOf('*/', i);
      facts.commentStart ??= i;
      if (close < 0) { scanMarker(line.slice(i), facts); out += ' '.repeat(line.length - i); break; }
      scanMarker(line.slice(i, close), facts);
      out += ' '.repeat(close + 2 - i);
      i = close + 2;
      state.inBlockComment = false;
      continue;
    }
    const c = findComment(line, i);
    if (!c) { out += line.slice(i); break; }
    out += line.slice(i, c.index);
    facts.commentStart ??= c.index;
    if (c.block) {
      state.inBlockComment = true;
      out += '  ';
      i = c.index + 2;
    } else {
      scanMarker(line.slice(c.index + 1), facts);
      out += ' '.repeat(line.length - c.index);
      i = line.length;
    }
  }
  facts.endsInBlockComment = state.inBlockComment;
  return out;
}

/** Splits code at `;` statement separators outside strings. */
export function splitStatements(code: string): Span[] {
  const out: Span[] = [];
  let quote = false;
  let start = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    if (quote) { if (c === '\\') i++; else if (c === '"') quote = false; continue; }
    if (c === '"') quote = true;
    else if (c === ';') { out.push({ start, end: i }); start = i + 1; }
  }
  out.push({ start, end: code.length });
  return out;
}

/** Directives GNU as (i386, ELF) knows; anything else starting with `.` is "unknown pseudo-op". */
export const ATT_DIRECTIVES = new Set([
  'abort', 'align', 'altmacro', 'ascii', 'asciz', 'string', 'balign', 'balignw', 'balignl', 'bss', 'byte', 'code16', 'code16gcc', 'code32', 'code64',
  'comm', 'data', 'def', 'desc', 'dim', 'double', 'eject', 'else', 'elseif', 'end', 'endef', 'endfunc', 'endif', 'endm', 'endr', 'equ',
  'equiv', 'eqv', 'err', 'error', 'exitm', 'extern', 'fail', 'file', 'fill', 'float', 'func', 'global', 'globl', 'hidden', 'hword', 'ident', 'if',
  'ifb', 'ifc', 'ifdef', 'ifeq', 'ifeqs', 'ifge', 'ifgt', 'ifle', 'iflt', 'ifnb', 'ifnc', 'ifndef', 'ifne', 'ifnes', 'ifnotdef', 'incbin',
  'include', 'int', 'internal', 'irp', 'irpc', 'lcomm', 'line', 'list', 'ln', 'loc', 'local', 'long', 'macro', 'mri', 'nolist', 'noaltmacro',
  'octa', 'org', 'p2align', 'p2alignw', 'p2alignl', 'popsection', 'previous', 'print', 'protected', 'psize', 'purgem', 'pushsection', 'quad',
  'rept', 'sbttl', 'scl', 'section', 'set', 'short', 'single', 'size', 'skip', 'sleb128', 'space', 'stabd', 'stabn', 'stabs', 'struct',
  'subsection', 'symver', 'tag', 'text', 'title', 'type', 'uleb128', 'val', 'version', 'vtable_entry', 'vtable_inherit', 'warning', 'weak',
  'weakref', 'word', 'zero', 'value', 'dc', 'ds', 'arch', 'intel_syntax', 'att_syntax', 'cfi_startproc', 'cfi_endproc', 'cfi_def_cfa',
  'cfi_def_cfa_offset', 'cfi_offset', 'cfi_adjust_cfa_offset', 'cfi_rel_offset', 'cfi_restore', 'cfi_sections', 'cfi_def_cfa_register',
  'cfi_remember_state', 'cfi_restore_state', 'cfi_signal_frame', 'cfi_undefined', 'cfi_same_value', 'nops', 'reloc', 'sect',
  'dc.b', 'dc.w', 'dc.l', 'ds.b', 'ds.w', 'ds.l', 'secrel32', 'largecomm', 'tfloat', 'ifnotdef', 'linkonce', 'attach_to_group',
]);

/** The C preprocessor's directives (a `#` line naming another word is a GNU as comment). */
const CPP_DIRECTIVES = new Set(['include', 'include_next', 'define', 'undef', 'if', 'ifdef', 'ifndef', 'elif', 'elifdef', 'elifndef', 'else', 'endif', 'error', 'warning', 'pragma', 'line']);

/** Directives whose arguments are not expressions over symbols (names, strings, flags). */
const NON_EXPR_DIRECTIVES = new Set(['section', 'pushsection', 'type', 'file', 'ident', 'ascii', 'asciz', 'string', 'include', 'incbin', 'arch', 'code16', 'code32', 'code16gcc', 'intel_syntax', 'att_syntax', 'cfi_sections', 'macro', 'size', 'symver', 'loc', 'text', 'data', 'bss', 'previous', 'popsection']);

/** Scans one line of AT&T source. */
export function scanAttLine(line: string, state: AttScanState): LineFacts {
  const inBlock = (state.blockDepth ?? 0) > 0 || state.continuation === true;
  const wasCode64 = state.code64 === true;
  const facts = scanAttLineInner(line, state);
  const mode = facts.directive?.name;
  if (mode === '.code64') state.code64 = true;
  else if (mode === '.code32' || mode === '.code16' || mode === '.code16gcc') state.code64 = false;
  // 64-bit code (`.code64` in a 32-bit file, as EFI mixed-mode stubs have): Popek's CPU is 32-bit, so
  // its registers and forms are not judged here — GNU as accepts them
  if (wasCode64 && state.code64) facts.errors = [];
  if (inBlock || facts.cpp || facts.macroOpen || facts.macroClose || facts.include || (facts.directive && STRUCTURAL_DIRECTIVES.has(facts.directive.name))) facts.structural = true;
  return facts;
}

/** Directives whose edit changes the macro view (core/lint/macroView.ts). */
const STRUCTURAL_DIRECTIVES = new Set(['.macro', '.endm', '.irp', '.irpc', '.rept', '.endr', '.include', '.altmacro', '.noaltmacro', '.purgem']);

function scanAttLineInner(line: string, state: AttScanState): LineFacts {
  const facts = emptyFacts();
  const joined = state.joined;
  state.joined = undefined;
  if (joined) {
    // the rest of the line above (cpp joined them): its statement was scanned there
    if (joined === 'comment') facts.commentStart = 0;
    else stripComments(line, state, facts);
    if (/\\\s*$/.test(line) && !state.inBlockComment) state.joined = joined === 'comment' || facts.commentStart !== undefined ? 'comment' : 'code';
    return facts;
  }
  if (state.continuation) {
    facts.cpp = { directive: 'continuation', start: 0, end: line.length };
    facts.commentStart = undefined;
    facts.errors = [];
    state.continuation = /\\\s*$/.test(line);
    return facts;
  }
  const code = stripComments(line, state, facts);
  // C preprocessor lines in .S files (GNU as alone reads them as comments). A backslash at the
  // end continues the directive on the next line: a multi-line `#define` body is a definition, not code.
  const cpp = /^\s*#\s*([a-z_]+)\b\s*(.*)$/.exec(line);
  if (cpp && CPP_DIRECTIVES.has(cpp[1]) && facts.commentStart === line.indexOf('#')) {
    const at = line.indexOf(cpp[1], line.indexOf('#'));
    facts.cpp = { directive: cpp[1], start: line.indexOf('#'), end: at + cpp[1].length };
    state.continuation = /\\\s*$/.test(line);
    // A `/*` inside a directive (`#define X 1 /* … */`) is cpp's own business.
    state.inBlockComment = false;
    if (cpp[1] === 'include') {
      const q = /(["<])(.*?)([">])/.exec(cpp[2]);
      if (q) { const qa = line.indexOf(q[0]); facts.include = { path: q[2], start: qa, end: qa + q[0].length, angle: q[1] === '<' || undefined }; }
    } else if (cpp[1] === 'define') {
      const d = /^([A-Za-z_]\w*)/.exec(cpp[2]);
      if (d) { const da = line.indexOf(d[1], at + cpp[1].length); facts.defs.push({ name: d[1], kind: 'define', start: da, end: da + d[1].length }); }
    }
    return facts;
  }
  let statementCode = code;
  if (/\\\s*$/.test(line) && !state.inBlockComment) {
    // `.word A | \` + `B`: cpp makes one line of them (in a `#` comment, the next line is comment too)
    const spliced = /\\\s*$/.exec(code);
    state.joined = spliced ? 'code' : 'comment';
    if (spliced) statementCode = code.slice(0, spliced.index) + ' '.repeat(code.length - spliced.index);
  }
  for (const st of splitStatements(statementCode)) scanStatement(statementCode, st, facts, state);
  return facts;
}

function scanStatement(code: string, st: Span, facts: LineFacts, state: AttScanState): void {
  let pos = st.start;
  const skipWs = (): void => { while (pos < st.end && /\s/.test(code[pos])) pos++; };
  const ident = (): { text: string } & Span | undefined => {
    skipWs();
    const m = /^(?:[A-Za-z_.$][A-Za-z0-9_.$]*|[0-9]+(?=\s*:))/.exec(code.slice(pos, st.end));
    return m ? { text: m[0], start: pos, end: pos + m[0].length } : undefined;
  };
  // Labels: `name:` repeated; `name = expr` assignments.
  let word = ident();
  while (word) {
    const after = code.slice(word.end, st.end);
    if (/^\s*:/.test(after)) {
      if (!/^[0-9]/.test(word.text) && !state.inMacro) facts.defs.push({ name: word.text, kind: 'label', start: word.start, end: word.end });
      pos = word.end + after.indexOf(':') + 1;
      word = ident();
      continue;
    }
    if (/^\s*=(?!=)/.test(after)) {
      facts.defs.push({ name: word.text, kind: 'constant', start: word.start, end: word.end });
      const exprStart = word.end + after.indexOf('=') + 1;
      attIdentifiers(code.slice(exprStart, st.end), exprStart, facts.refs);
      return;
    }
    break;
  }
  skipWs();
  if (pos >= st.end) return;
  if (!word) {
    facts.errors.push({ message: `junk \`${code.slice(pos, st.end).trim()}'`, code: 'syntax', start: pos, end: st.end });
    return;
  }
  pos = word.end;

  if (word.text.startsWith('.')) {
    scanDirective(code, word, st, facts, state);
    return;
  }
  if (state.inMacro) {
    // Inside `.macro … .endm` names may be macro parameters (`\arg`): scan the instruction only.
  }

  // Prefixes, then the mnemonic.
  const statementStart = word.start;
  const prefixes: string[] = [];
  while (PREFIXES.has(word.text.toLowerCase())) {
    const next = ident();
    if (!next) {
      // A prefix as a statement of its own (`rep ; stosl`, `lock` alone on a line): GNU as emits
      // the prefix byte, which applies to the next instruction.
      if (code.slice(word.end, st.end).trim()) break;
      const p = word.text.toLowerCase();
      facts.instructions.push({ spelling: p, mnemonic: p, mnemonicSpan: { start: word.start, end: word.end }, prefixes, operands: [], known: true, start: statementStart, end: word.end });
      return;
    }
    prefixes.push(word.text.toLowerCase());
    word = next;
    pos = word.end;
  }
  const spelling = word.text.toLowerCase();
  const resolved = attMnemonic(spelling);
  // In `.S` files the C preprocessor expands macros first (`SEG_ASM(...)`, `ENTRY(name)`,
  // `SAVE_ALL`): an unknown upper-case name or a call-like use is such a macro, not a typo.
  if (!resolved.known && prefixes.length === 0 && (/^[A-Z_][A-Z0-9_]*$/.test(word.text) || code[word.end] === '(')) {
    facts.macroCall = { name: word.text, start: word.start, end: word.end };
    attIdentifiers(code.slice(word.end, st.end), word.end, facts.refs);
    return;
  }
  const opsStart = word.end;
  const opsText = code.slice(opsStart, st.end);
  const raw = splitOperands(opsText, opsStart, 'att');
  const problems: OperandProblem[] = [];
  const branch = BRANCHES.test(resolved.mnemonic) || resolved.far === true;
  let operands = raw.map((o) => (/^\(\s*%dx\s*\)$/i.test(o.text) ? scannedOperand(o, 'register', o.text, { register: 'dx', registerClass: 'gpr16' }) : classifyAttOperand(o, branch, problems)));
  let far = resolved.far;
  // `ljmp $sel, $off` / `jmp $sel, $off`: one far pointer operand.
  if ((resolved.mnemonic === 'jmp' || resolved.mnemonic === 'call') && operands.length === 2 && operands.every((o) => o.kind === 'immediate' && o.text.startsWith('$'))) {
    operands = [scannedOperand({ start: operands[0].start, end: operands[1].end }, 'far', `${operands[0].text}, ${operands[1].text}`, { far: true })];
    far = true;
  } else if (far && operands.length === 1) {
    operands[0].far = true;
  }
  operands.reverse();
  addImplicitAccumulator(resolved.mnemonic, resolved.size, operands, word);
  for (const o of raw) attIdentifiers(o.text, o.start, facts.refs);
  const end = code.slice(0, st.end).trimEnd().length;
  const instr: ScannedInstruction = {
    spelling, mnemonic: resolved.mnemonic, mnemonicSpan: { start: word.start, end: word.end },
    prefixes, operands, far, opsize: resolved.size, known: resolved.known,
    start: statementStart, end: Math.max(end, word.end),
  };
  facts.instructions.push(instr);
  if (!resolved.known && !state.inMacro && outsideTable(spelling)) return;
  if (!resolved.known && !state.inMacro) {
    facts.macroCall = { name: word.text, start: word.start, end: word.end };
    facts.errors.push({ message: `no such instruction: \`${code.slice(word.start, end).trim()}'`, code: 'unknown-instruction', start: word.start, end: word.end });
  }
  if (state.inMacro) return;
  for (const p of problems) facts.errors.push({ ...p, code: 'invalid-operands' });
  const info = resolved.known ? instructionInfo(resolved.mnemonic) : undefined;
  if (info && problems.length === 0) {
    const problem = validateAttOperands(info, instr);
    if (problem) facts.errors.push({ message: problem, code: 'invalid-operands', start: instr.start, end: instr.end });
  }
}

/**
 * `inb %dx`, `outl $0x80`: GNU as lets the accumulator of IN/OUT go unwritten (the suffix gives
 * its size). The operand is added, spanning the mnemonic, so that the table's forms match.
 */
function addImplicitAccumulator(mnemonic: string, size: number | undefined, operands: ScannedOperand[], at: Span): void {
  if ((mnemonic !== 'in' && mnemonic !== 'out') || operands.length !== 1) return;
  const register = size === 32 ? 'eax' : size === 16 ? 'ax' : 'al';
  const acc = scannedOperand(at, 'register', `%${register}`, { register, registerClass: size === 32 ? 'gpr32' : size === 16 ? 'gpr16' : 'gpr8' });
  if (mnemonic === 'in') operands.unshift(acc); else operands.push(acc);
}

function scanDirective(code: string, word: { text: string } & Span, st: Span, facts: LineFacts, state: AttScanState): void {
  const name = word.text.slice(1).toLowerCase();
  const argsRaw = code.slice(word.end, st.end);
  const lead = argsRaw.length - argsRaw.trimStart().length;
  const args = argsRaw.trim();
  const argsStart = word.end + lead;
  facts.directive = { name: word.text.toLowerCase(), start: word.start, end: word.end, args, argsSpan: { start: argsStart, end: argsStart + args.length } };
  if (!ATT_DIRECTIVES.has(name) && !name.startsWith('cfi_')) {
    if (!state.inMacro) facts.errors.push({ message: `unknown pseudo-op: \`${word.text.toLowerCase()}'`, code: 'unknown-directive', start: word.start, end: word.end });
    return;
  }
  switch (name) {
    case 'macro': {
      const m = /^([A-Za-z_.$][A-Za-z0-9_.$]*)/.exec(args);
      // A macro defined by a macro's expansion is defined only when that one runs.
      if (m && !state.inMacro) facts.defs.push({ name: m[1], kind: 'macro', start: argsStart, end: argsStart + m[1].length });
      facts.macroOpen = true;
      openBlock(state, true);
      return;
    }
    case 'irp': case 'irpc': case 'rept':
      facts.macroOpen = true;
      openBlock(state, name !== 'rept');
      return;
    case 'endm': case 'endr':
      if (closeBlock(state)) facts.macroClose = true;
      return;
    case 'set': case 'equ': case 'equiv': case 'eqv': {
      const m = /^([A-Za-z_.$][A-Za-z0-9_.$]*)\s*,/.exec(args);
      if (m) {
        facts.defs.push({ name: m[1], kind: 'constant', start: argsStart, end: argsStart + m[1].length });
        const rest = argsStart + m[0].length;
        attIdentifiers(code.slice(rest, st.end), rest, facts.refs);
      } else facts.errors.push({ message: `expected symbol name`, code: 'syntax', start: word.start, end: st.end });
      return;
    }
    case 'include': {
      const q = /^"(.*)"$/.exec(args);
      if (q) facts.include = { path: q[1], start: argsStart, end: argsStart + args.length };
      return;
    }
    case 'ascii': case 'asciz': case 'string': {
      if (!/^"(?:[^"\\]|\\.)*"(\s*,\s*"(?:[^"\\]|\\.)*")*$/.test(args)) {
        facts.errors.push({ message: `expected string literal`, code: 'syntax', ...(args.length ? { start: argsStart, end: argsStart + args.length } : { start: word.start, end: word.end }) });
      }
      return;
    }
    case 'byte': case 'short': case 'word': case 'hword': case 'long': case 'int': case 'quad': case 'value': {
      const items = splitOperands(args, argsStart, 'att');
      if (args && items.some((i) => !i.text)) facts.errors.push({ message: 'missing expression', code: 'syntax', start: argsStart, end: argsStart + args.length });
      break;
    }
    default:
      break;
  }
  if (!NON_EXPR_DIRECTIVES.has(name)) attIdentifiers(args, argsStart, facts.refs);
}

/** Scans a whole AT&T file into per-line facts. */
export function scanAtt(text: string): LineFacts[] {
  const state = initialAttState();
  return text.split(/\r?\n/).map((l) => scanAttLine(l, state));
}
