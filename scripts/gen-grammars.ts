/*
 * Generates the TextMate grammars syntaxes/popek-nasm.tmLanguage.json and popek-gas.tmLanguage.json.
 *
 *   npx tsx scripts/gen-grammars.ts          write the grammars
 *   npx tsx scripts/gen-grammars.ts --check  exit 1 when the committed files are out of date
 *
 * The instruction lists come from the instruction table (core/isa) so that the editor colours exactly
 * what the language server flags; while the table is still empty they come from SPEC §7 (below).
 * test/grammar/generated.test.ts fails when the committed output differs from what this produces.
 *
 * A mnemonic is coloured only in statement position (start of line, after a label, after a prefix;
 * in GNU as also after `;`), so a label called `str` or `int` in an operand is not an instruction.
 * Some instructions are critical or privileged only in some forms (mov to/from Sreg / CRn / DRn,
 * push/pop Sreg, far jmp/call); those forms are recognised by look-ahead on the operands.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { allInstructions } from '../core/isa';

export type GrammarClass = 'critical' | 'privileged' | 'iopl-sensitive';

/** Scope names, also used by the tests and by themes: critical and privileged stand out. */
export const SCOPES = {
  critical: 'keyword.control.critical.popek',
  privileged: 'keyword.other.privileged.popek',
  'iopl-sensitive': 'keyword.other.privileged.iopl.popek',
  hypercall: 'keyword.other.hypercall.popek',
  jump: 'keyword.control.jump.popek',
  instruction: 'keyword.other.instruction.popek',
  prefix: 'storage.modifier.prefix.popek',
} as const;

// SPEC §7, used while core/isa has no entries.
const SPEC_CLASSES: Record<GrammarClass, string[]> = {
  critical: ['sgdt', 'sidt', 'sldt', 'smsw', 'str', 'pushf', 'pushfd', 'popf', 'popfd', 'lar', 'lsl', 'verr', 'verw',
    'retf', 'int', 'iret', 'iretd'],
  privileged: ['lgdt', 'lidt', 'lldt', 'ltr', 'lmsw', 'clts', 'invlpg', 'invd', 'wbinvd', 'hlt', 'rdmsr', 'wrmsr',
    'rdpmc', 'sysexit'],
  'iopl-sensitive': ['cli', 'sti', 'in', 'out', 'ins', 'insb', 'insw', 'insd', 'outs', 'outsb', 'outsw', 'outsd'],
};

/** Control transfers, for their own (conventional) scope. */
const JUMPS = ['jmp', 'call', 'ret', 'loop', 'loope', 'loopz', 'loopne', 'loopnz', 'jcxz', 'jecxz',
  'ja', 'jae', 'jb', 'jbe', 'jc', 'je', 'jg', 'jge', 'jl', 'jle', 'jna', 'jnae', 'jnb', 'jnbe', 'jnc', 'jne',
  'jng', 'jnge', 'jnl', 'jnle', 'jno', 'jnp', 'jns', 'jnz', 'jo', 'jp', 'jpe', 'jpo', 'js', 'jz', 'enter', 'leave'];

// The 32-bit integer instruction set the assembler targets, used while core/isa has no entries.
const SPEC_OTHERS = ['aaa', 'aad', 'aam', 'aas', 'adc', 'add', 'and', 'arpl', 'bound', 'bsf', 'bsr', 'bswap', 'bt',
  'btc', 'btr', 'bts', 'cbw', 'cdq', 'clc', 'cld', 'cmc', 'cmova', 'cmovae', 'cmovb', 'cmovbe', 'cmove', 'cmovg',
  'cmovge', 'cmovl', 'cmovle', 'cmovne', 'cmovno', 'cmovns', 'cmovo', 'cmovs', 'cmovz', 'cmovnz', 'cmp', 'cmps',
  'cmpsb', 'cmpsw', 'cmpsd', 'cmpxchg', 'cmpxchg8b', 'cpuid', 'cwd', 'cwde', 'daa', 'das', 'dec', 'div', 'idiv',
  'imul', 'inc', 'int3', 'into', 'lahf', 'lds', 'lea', 'les', 'lfs', 'lgs', 'lss', 'lods', 'lodsb', 'lodsw', 'lodsd',
  'mov', 'movs', 'movsb', 'movsw', 'movsd', 'movsx', 'movzx', 'mul', 'neg', 'nop', 'not', 'or', 'pause', 'pop',
  'popa', 'popad', 'push', 'pusha', 'pushad', 'rcl', 'rcr', 'rdtsc', 'rol', 'ror', 'sahf', 'sal', 'sar', 'sbb',
  'scas', 'scasb', 'scasw', 'scasd', 'seta', 'setae', 'setb', 'setbe', 'setc', 'sete', 'setg', 'setge', 'setl',
  'setle', 'setna', 'setnae', 'setnb', 'setnc', 'setne', 'setng', 'setnl', 'setno', 'setnp', 'setns', 'setnz',
  'seto', 'setp', 'sets', 'setz', 'shl', 'shld', 'shr', 'shrd', 'stc', 'std', 'stos', 'stosb', 'stosw', 'stosd',
  'sub', 'sysenter', 'test', 'ud2', 'xadd', 'xchg', 'xlat', 'xlatb', 'xor', 'fninit', 'fwait', 'wait'];

/** Mnemonics whose class depends on the operands; the grammar handles each by look-ahead. */
const FORM_LEVEL = ['mov', 'push', 'pop', 'jmp', 'call'];

const PREFIXES = ['rep', 'repe', 'repz', 'repne', 'repnz', 'lock', 'o16', 'o32', 'a16', 'a32'];
const SREGS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss'];

export interface InstructionLists {
  source: 'core/isa' | 'SPEC §7';
  critical: string[];
  privileged: string[];
  'iopl-sensitive': string[];
  /** Everything else the assembler knows, without the jumps and vmcall. */
  other: string[];
  jumps: string[];
  /** AT&T-only spellings by class (ljmp, lcall, lret, popfl ...), for the GNU as grammar. */
  att: Record<GrammarClass | 'other', string[]>;
}

const uniqSorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

/** The lists from core/isa, or from SPEC §7 while the table is empty. */
export function instructionLists(): InstructionLists {
  const table = allInstructions();
  if (table.length === 0) {
    const classified = new Set(Object.values(SPEC_CLASSES).flat());
    return {
      source: 'SPEC §7',
      ...SPEC_CLASSES,
      other: uniqSorted(SPEC_OTHERS.filter((m) => !classified.has(m) && !JUMPS.includes(m))),
      jumps: uniqSorted(JUMPS),
      att: { critical: ['lcall', 'ljmp', 'lret', 'popfl', 'popfw', 'pushfl', 'pushfw', 'iretl', 'iretw'],
        privileged: ['lgdtl', 'lidtl'], 'iopl-sensitive': [], other: ['cltd', 'cwtl', 'cbtw', 'cwtd'] },
    };
  }
  const lists: Record<GrammarClass | 'other', Set<string>> = {
    critical: new Set(), privileged: new Set(), 'iopl-sensitive': new Set(), other: new Set() };
  const att: Record<GrammarClass | 'other', Set<string>> = {
    critical: new Set(), privileged: new Set(), 'iopl-sensitive': new Set(), other: new Set() };
  for (const info of table) {
    const formLevel = info.forms.filter((f) => f.virt?.class && f.virt.class !== info.virt.class);
    if (formLevel.length && !FORM_LEVEL.includes(info.mnemonic)) {
      // The grammar recognises form-level classes by operand look-ahead, written by hand below.
      throw new Error(`${info.mnemonic}: some forms are ${formLevel[0].virt?.class}; teach gen-grammars.ts its operand look-ahead`);
    }
    // Mnemonic-level class; forms that differ (mov CRn, push Sreg, far jmp) are matched by operand look-ahead.
    const cls = info.virt.class === 'innocuous' ? 'other' : info.virt.class;
    const names = [info.mnemonic, ...(info.aliases ?? [])].map((n) => n.toLowerCase());
    for (const n of names) if (n !== 'vmcall' && !(cls === 'other' && JUMPS.includes(n))) lists[cls].add(n);
    // ljmp / lcall are always far in AT&T syntax, so always critical.
    for (const a of info.att) att[/^l(jmp|call)/.test(a) ? 'critical' : cls].add(a.toLowerCase());
  }
  const out = (c: GrammarClass | 'other') => uniqSorted(lists[c]);
  return {
    source: 'core/isa',
    critical: out('critical'), privileged: out('privileged'), 'iopl-sensitive': out('iopl-sensitive'),
    other: out('other'), jumps: uniqSorted(JUMPS),
    att: { critical: uniqSorted(att.critical), privileged: uniqSorted(att.privileged),
      'iopl-sensitive': uniqSorted(att['iopl-sensitive']), other: uniqSorted(att.other) },
  };
}

/** Longest first, so that `popfd` wins over `popf` inside one alternation. */
const alt = (xs: string[]): string => [...xs].sort((a, b) => b.length - a.length || a.localeCompare(b)).join('|');

type Grammar = Record<string, unknown>;

const QUOTE = { 0: { name: 'punctuation.definition.string.popek' } };

const GP32 = 'eax|ebx|ecx|edx|esi|edi|esp|ebp|eip';
const GP16 = 'ax|bx|cx|dx|si|di|sp|bp|ip';
const GP8 = 'al|ah|bl|bh|cl|ch|dl|dh';
const CR = 'cr[0-8]';
const DR = 'dr[0-7]';

/** What differs between the two syntaxes; `grammar` builds either from it. */
interface Syntax {
  name: string;
  scopeName: string;
  /** Top-level patterns, in order (repository keys). */
  top: string[];
  comment: Grammar[];
  preprocessor: Grammar[];
  /** Where a statement (and a label definition) may start: line start, or also after `;` (GNU as). */
  start: string;
  /** A label: group 1 local, group 2 global. */
  label: string;
  prefixes: string;
  /** Between the prefix and the mnemonic. */
  afterPrefix: string;
  /** The mnemonic alternatives of each class, in capture order: critical, privileged, IOPL-sensitive, jumps, others. */
  critical: string;
  privileged: string;
  iopl: string;
  jumps: string;
  other: string;
  /** After the mnemonic: not more of a name, not a label's colon. */
  end: string;
  /** NASM's `NAME equ value`. */
  constantDefinition?: Grammar;
  directive: Grammar[];
  /** Operand patterns after the shared ones (comment, string, register, number, hypercall constants). */
  operand: Grammar[];
  /** Register spelling: the `%` of AT&T, captured, or nothing. */
  registerPrefix: string;
  registerCaptures?: Grammar;
  /** The debug registers' other AT&T spelling (%db0–%db7). */
  extraSystemRegisters: string;
  /** The case-insensitive flag of register patterns (NASM) or none (GNU as, after `%`). */
  registerCase: string;
  number: Grammar[];
  string: Grammar[];
}

const LABEL_CAPTURES = {
  1: { name: 'entity.name.function.label.local.popek' },
  2: { name: 'entity.name.function.label.popek' },
  3: { name: 'punctuation.separator.label.popek' },
};
const HYPERCALL_CONSTANTS = { match: '\\b(__HYPERVISOR_\\w+|CONSOLEIO_\\w+|SCHEDOP_\\w+|SHUTDOWN_\\w+|VCPUOP_\\w+|MMUEXT_\\w+|MMU_\\w+|UVMF_\\w+|PHYSDEVOP_\\w+|FPU_TASKSWITCH_\\w+|VCPU_INFO_\\w+|XEN_\\w+)\\b', name: 'support.constant.hypercall.popek' };

/** One builder for both syntaxes: the statement (label, prefix, mnemonic by class), labels, registers, operands. */
function grammar(l: InstructionLists, x: Syntax): Grammar {
  const sreg = alt(SREGS);
  const register = (names: string, name: string): Grammar => ({
    match: `${x.registerCase}${x.registerPrefix}(?:${names})\\b`, name, ...(x.registerCaptures ? { captures: x.registerCaptures } : {}),
  });
  const repository: Grammar = {
    comment: { patterns: x.comment },
    preprocessor: { patterns: x.preprocessor },
    statement: {
      match: `${x.start}\\s*(?:${x.label}\\s*(:)\\s*)?(?:${x.prefixes}${x.afterPrefix})?(?i:(${x.critical})|(${x.privileged})|(${x.iopl})|(vmcall)|(${x.jumps})|(${x.other}))${x.end}`,
      captures: {
        ...LABEL_CAPTURES,
        4: { name: SCOPES.prefix },
        5: { name: SCOPES.critical },
        6: { name: SCOPES.privileged },
        7: { name: SCOPES['iopl-sensitive'] },
        8: { name: SCOPES.hypercall },
        9: { name: SCOPES.jump },
        10: { name: SCOPES.instruction },
      },
    },
    'label-definition': { match: `${x.start}\\s*${x.label}\\s*(:)`, captures: LABEL_CAPTURES },
    ...(x.constantDefinition ? { 'constant-definition': x.constantDefinition } : {}),
    directive: { patterns: x.directive },
    operand: {
      patterns: [{ include: '#comment' }, { include: '#string' }, { include: '#register' }, { include: '#number' }, ...x.operand],
    },
    register: {
      patterns: [
        register(sreg, 'variable.language.register.segment.popek'),
        register(`${CR}${x.extraSystemRegisters}|${DR}`, 'variable.language.register.system.popek'),
        register(`${GP32}|${GP16}|${GP8}`, 'variable.language.register.popek'),
      ],
    },
    number: { patterns: x.number },
    string: { patterns: x.string },
  };
  return {
    $schema: 'https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json',
    name: x.name,
    scopeName: x.scopeName,
    comment: `Generated by scripts/gen-grammars.ts from ${l.source}; do not edit by hand.`,
    patterns: x.top.map((k) => ({ include: `#${k}` })),
    repository,
  };
}

function nasmGrammar(l: InstructionLists): Grammar {
  const sreg = alt(SREGS);
  // Form-level classes: look at the operands (up to the comment).
  const movSreg = `mov(?=\\s+(?:${sreg})\\s*,|[^;\\n]*,\\s*(?:${sreg})\\b(?!\\s*:))`;
  const movCrDr = `mov(?=\\s+(?:${CR}|${DR})\\b|[^;\\n]*,\\s*(?:${CR}|${DR})\\b)`;
  const pushPopSreg = `(?:push|pop)(?=\\s+(?:${sreg})\\b(?!\\s*:))`;
  const far = `(?:jmp|call)(?=\\s+(?:far\\b|(?:dword\\s+)?(?:0[xX][0-9a-fA-F_]+|[0-9][0-9a-fA-F_]*[hH]?|[A-Za-z_][\\w]*)\\s*:(?!:)))`;
  return grammar(l, {
    name: 'x86 Guest Assembly (NASM)',
    scopeName: 'source.popek.nasm',
    top: ['comment', 'preprocessor', 'statement', 'label-definition', 'constant-definition', 'directive', 'operand'],
    comment: [
      {
        // `; popek: mode=trap-and-emulate` overrides the target mode for the file.
        match: '(;)\\s*(popek:)\\s*(.*)$',
        name: 'comment.line.semicolon.directive.popek',
        captures: { 1: { name: 'punctuation.definition.comment.popek' }, 2: { name: 'keyword.other.directive.popek' },
          3: { name: 'string.unquoted.directive.popek' } },
      },
      { match: '(;).*$', name: 'comment.line.semicolon.popek', captures: { 1: { name: 'punctuation.definition.comment.popek' } } },
    ],
    preprocessor: [
      {
        match: '(?i)^\\s*(%i?macro)\\s+([\\w.$?@]+)',
        captures: { 1: { name: 'keyword.control.directive.macro.popek' }, 2: { name: 'entity.name.function.macro.popek' } },
      },
      {
        match: '(?i)^\\s*(%(?:x|i|xi)?define|%(?:i)?assign|%undef|%(?:i)?deftok|%strlen|%substr)\\s+([\\w.$?@]+)',
        captures: { 1: { name: 'keyword.control.directive.define.popek' }, 2: { name: 'entity.name.constant.macro.popek' } },
      },
      {
        match: '(?i)^\\s*(%include|%pathsearch|%depend|%use)\\b',
        captures: { 1: { name: 'keyword.control.directive.include.popek' } },
      },
      {
        match: '(?i)^\\s*(%(?:endmacro|endm|if\\w*|elif\\w*|else|endif|rep|endrep|exitrep|exitmacro|rotate|local|push|pop|repl|error|warning|fatal|line|stacksize|arg|pragma|clear))\\b',
        captures: { 1: { name: 'keyword.control.directive.popek' } },
      },
    ],
    // label? prefix? mnemonic — the mnemonic's class picks the scope.
    start: '^',
    label: '(?:(\\.\\.@[\\w.$?@#~]*|\\.[\\w.$?@#~]+)|([A-Za-z_?@$][\\w.$?@#~]*))',
    prefixes: `(?i:(${alt(PREFIXES)}))`,
    afterPrefix: '\\s+',
    critical: `${movSreg}|${pushPopSreg}|${far}|${alt(l.critical)}`,
    privileged: `${movCrDr}|${alt(l.privileged)}`,
    iopl: alt(l['iopl-sensitive']),
    jumps: alt(l.jumps),
    other: alt(l.other),
    end: '(?![\\w.$?@#~]|\\s*:(?!:))',
    constantDefinition: {
      match: '^\\s*([A-Za-z_?.@$][\\w.$?@#~]*)\\s+(?i:(equ))\\b',
      captures: { 1: { name: 'entity.name.constant.popek' }, 2: { name: 'keyword.other.directive.popek' } },
    },
    directive: [
      { match: '(?i)\\b(d[bwdqto]|res[bwdqto]|times|incbin)\\b', name: 'storage.type.data.popek' },
      {
        match: '(?i)^\\s*(\\[?)\\s*(bits|use16|use32|org|section|segment|global|extern|common|static|align|alignb|absolute|cpu|default|struc|endstruc|istruc|at|iend|equ|warning|map|list)\\b',
        captures: { 2: { name: 'keyword.other.directive.popek' } },
      },
    ],
    operand: [
      { match: '(?i)\\b(byte|word|dword|qword|tword|oword|far|near|short|strict|nosplit|rel|abs|seg|wrt)\\b', name: 'storage.modifier.size.popek' },
      HYPERCALL_CONSTANTS,
      { match: '%%[\\w.$?@]+', name: 'variable.parameter.macro.local.popek' },
      { match: '%[+-]?\\d+|%\\{[^}]*\\}', name: 'variable.parameter.macro.popek' },
      { match: '\\$\\$|\\$(?![\\w.$?@])', name: 'variable.language.location.popek' },
      { match: '(?i)\\b(section|segment)\\b', name: 'keyword.other.directive.popek' },
      { match: '\\.\\.@[\\w.$?@#~]*|(?<![\\w$?@#~])\\.[A-Za-z_][\\w.$?@#~]*', name: 'variable.other.label.local.popek' },
      { match: '<<|>>|//|%%|[-+*/%|&^~!<>]', name: 'keyword.operator.popek' },
      { match: '[\\[\\]]', name: 'punctuation.definition.memory.popek' },
      { match: ',', name: 'punctuation.separator.operand.popek' },
    ],
    registerPrefix: '\\b',
    extraSystemRegisters: '',
    registerCase: '(?i)',
    number: [
      { match: '(?i)\\b0[xh][0-9a-f_]+\\b|\\$0[0-9a-f_]*\\b|\\b[0-9][0-9a-f_]*h\\b', name: 'constant.numeric.hex.popek' },
      { match: '(?i)\\b0[by][01_]+\\b|\\b[01][01_]*[by]\\b', name: 'constant.numeric.binary.popek' },
      { match: '(?i)\\b0[oq][0-7_]+\\b|\\b[0-7][0-7_]*[oq]\\b', name: 'constant.numeric.octal.popek' },
      { match: '(?i)\\b(?:0d)?[0-9][0-9_]*d?\\b', name: 'constant.numeric.decimal.popek' },
    ],
    string: [
      { begin: '"', end: '"|$', name: 'string.quoted.double.popek', beginCaptures: QUOTE, endCaptures: QUOTE },
      { begin: "'", end: "'|$", name: 'string.quoted.single.popek', beginCaptures: QUOTE, endCaptures: QUOTE },
      {
        // Backquoted strings take C escapes.
        begin: '`', end: '`|$', name: 'string.quoted.other.backtick.popek', beginCaptures: QUOTE, endCaptures: QUOTE,
        patterns: [{ match: '\\\\(?:[\'"`\\\\?abefnrtv]|[0-7]{1,3}|x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8})', name: 'constant.character.escape.popek' }],
      },
    ],
  });
}

function gasGrammar(l: InstructionLists): Grammar {
  const sreg = alt(SREGS);
  const suffixed = (xs: string[]) => `(?:${alt(xs)})[bwlq]?`;
  const movSreg = `mov[wl]?(?=\\s+%(?:${sreg})\\s*,|[^;#\\n]*,\\s*%(?:${sreg})\\b)`;
  const movCrDr = `movl?(?=\\s+%(?:${CR}|db[0-7]|${DR})\\b|[^;#\\n]*,\\s*%(?:${CR}|db[0-7]|${DR})\\b)`;
  const pushPopSreg = `(?:push|pop)[wl]?(?=\\s+%(?:${sreg})\\b)`;
  // `jmp $0x08, $label` is a far jump in AT&T syntax.
  const far = `(?:jmp|call)[wl]?(?=\\s+\\$[^,;#\\n]+,)`;
  const start = '(?:^|(?<=;))';
  return grammar(l, {
    name: 'x86 Guest Assembly (GNU as, AT&T)',
    scopeName: 'source.popek.gas',
    top: ['preprocessor', 'comment', 'statement', 'label-definition', 'directive', 'operand'],
    comment: [
      {
        match: '(#|//)\\s*(popek:)\\s*(.*)$',
        name: 'comment.line.number-sign.directive.popek',
        captures: { 1: { name: 'punctuation.definition.comment.popek' }, 2: { name: 'keyword.other.directive.popek' },
          3: { name: 'string.unquoted.directive.popek' } },
      },
      { match: '(#|//).*$', name: 'comment.line.number-sign.popek', captures: { 1: { name: 'punctuation.definition.comment.popek' } } },
      { begin: '/\\*', end: '\\*/', name: 'comment.block.popek' },
    ],
    // .S files go through cpp first: `#define`, `#include`, `#if` are directives, not comments.
    preprocessor: [
      {
        match: '^\\s*(#\\s*define)\\s+([A-Za-z_]\\w*)',
        captures: { 1: { name: 'keyword.control.directive.define.popek' }, 2: { name: 'entity.name.constant.macro.popek' } },
      },
      {
        match: '^\\s*(#\\s*include)\\s*(<[^>]*>|"[^"]*")',
        captures: { 1: { name: 'keyword.control.directive.include.popek' }, 2: { name: 'string.quoted.include.popek' } },
      },
      {
        match: '^\\s*(#\\s*(?:undef|ifdef|ifndef|if|elif|else|endif|error|warning|pragma|line))\\b',
        captures: { 1: { name: 'keyword.control.directive.popek' } },
      },
    ],
    start,
    label: '(?:(\\.L[\\w.$]*|[0-9]+)|([A-Za-z_.$][\\w.$]*))',
    prefixes: `(${alt(PREFIXES.filter((p) => !/\d/.test(p)))})`,
    afterPrefix: '\\s*;?\\s+',
    critical: `${movSreg}|${pushPopSreg}|${far}|${alt(l.att.critical)}|${suffixed(l.critical)}`,
    privileged: `${movCrDr}|${alt(l.att.privileged)}|${suffixed(l.privileged)}`,
    iopl: `${alt(l.att['iopl-sensitive'])}|${suffixed(l['iopl-sensitive'])}`,
    jumps: `(?:${alt(l.jumps)})[wl]?`,
    other: `${alt(l.att.other)}|${suffixed(l.other)}`,
    end: '(?![\\w.$]|\\s*:)',
    directive: [
      {
        match: '^\\s*(\\.i?macro)\\s+([\\w.$]+)',
        captures: { 1: { name: 'keyword.control.directive.macro.popek' }, 2: { name: 'entity.name.function.macro.popek' } },
      },
      {
        match: `${start}\\s*(\\.(?:set|equ|equiv|eqv))\\s+([\\w.$]+)`,
        captures: { 1: { name: 'keyword.other.directive.popek' }, 2: { name: 'entity.name.constant.popek' } },
      },
      { match: `${start}\\s*(\\.(?:byte|short|word|hword|int|long|quad|octa|ascii|asciz|string|fill|space|skip|zero|incbin|single|float|double))\\b`, captures: { 1: { name: 'storage.type.data.popek' } } },
      { match: `${start}\\s*(\\.[A-Za-z_][\\w.]*)`, captures: { 1: { name: 'keyword.other.directive.popek' } } },
    ],
    operand: [
      HYPERCALL_CONSTANTS,
      { match: '\\\\[A-Za-z_]\\w*', name: 'variable.parameter.macro.popek' },
      { match: '\\b[0-9]+[fb]\\b', name: 'variable.other.label.local.popek' },
      { match: '\\$', name: 'punctuation.definition.immediate.popek' },
      { match: '\\*', name: 'keyword.operator.indirect.popek' },
      { match: '<<|>>|[-+/%|&^~!<>]', name: 'keyword.operator.popek' },
      { match: '[()]', name: 'punctuation.definition.memory.popek' },
      { match: ',', name: 'punctuation.separator.operand.popek' },
    ],
    registerPrefix: '(%)',
    registerCaptures: { 1: { name: 'punctuation.definition.register.popek' } },
    extraSystemRegisters: '|db[0-7]',
    registerCase: '',
    number: [
      { match: '(?i)\\b0x[0-9a-f]+\\b', name: 'constant.numeric.hex.popek' },
      { match: '(?i)\\b0b[01]+\\b', name: 'constant.numeric.binary.popek' },
      { match: '\\b0[0-7]+\\b', name: 'constant.numeric.octal.popek' },
      { match: '\\b[0-9]+\\b', name: 'constant.numeric.decimal.popek' },
      { match: "'(?:\\\\.|[^\\\\])", name: 'constant.character.popek' },
    ],
    string: [
      {
        begin: '"', end: '"|$', name: 'string.quoted.double.popek', beginCaptures: QUOTE, endCaptures: QUOTE,
        patterns: [{ match: '\\\\(?:[\\\\"bfnrt]|[0-7]{1,3}|x[0-9A-Fa-f]+)', name: 'constant.character.escape.popek' }],
      },
    ],
  });
}

export function generateGrammars(): { nasm: string; gas: string } {
  const l = instructionLists();
  const text = (g: Grammar) => JSON.stringify(g, null, 2) + '\n';
  return { nasm: text(nasmGrammar(l)), gas: text(gasGrammar(l)) };
}

export const GRAMMAR_FILES = {
  nasm: 'syntaxes/popek-nasm.tmLanguage.json',
  gas: 'syntaxes/popek-gas.tmLanguage.json',
} as const;

/** The folder holding Popek's package.json, searched upward (works from scripts/ and from out/scripts/). */
export function repoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      if (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'popek') return dir;
    } catch { /* not here */ }
    if (path.dirname(dir) === dir) throw new Error(`no Popek package.json above ${from}`);
  }
}

function main(): void {
  const root = repoRoot(__dirname);
  const generated = generateGrammars();
  const check = process.argv.includes('--check');
  let stale = false;
  for (const key of ['nasm', 'gas'] as const) {
    const file = path.join(root, GRAMMAR_FILES[key]);
    if (check) {
      let old = '';
      try { old = readFileSync(file, 'utf8'); } catch { /* missing counts as stale */ }
      if (old !== generated[key]) { stale = true; console.error(`${GRAMMAR_FILES[key]} is out of date`); }
    } else {
      writeFileSync(file, generated[key]);
      console.log(`wrote ${GRAMMAR_FILES[key]} (from ${instructionLists().source})`);
    }
  }
  if (stale) process.exit(1);
}

if (require.main === module) main();
