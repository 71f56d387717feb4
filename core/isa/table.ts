/*
 * THE x86 instruction table: the single source of truth for the assembler, the disassembler, the
 * language server and the hypervisor (docs/ARCHITECTURE.md). 32-bit protected-mode integer and
 * system instructions, 8/16/32-bit operands.
 *
 * FORMAT. Each entry is built by `def(mnemonic, category, description, flags, virt, forms, extra)`:
 *  - flags: 'r:CF w:OF,SF,ZF,AF,CF,PF u:AF' (read / written / undefined), or '' for none.
 *  - virt:  one of the fact constructors below (INNOCUOUS, critical(...), privileged(...), ...).
 *  - forms: strings `operands: encoding`, in NASM's order of preference (the assembler takes the
 *    first form the operands match, as NASM's matcher does with insns.dat), e.g.
 *        'rm32,simm8: o32 83 /0 ib'      'eax,imm32: o32 05 id'      'r32: o32 50+r'
 *        'rel8: 70+cc rel8'              'far16:32: ea ptr'           ': 0f 01 c1'
 *    operands: comma-separated OperandPattern names (types.ts), empty for none.
 *    encoding tokens:
 *      o16 / o32   operand size of the form (0x66 prefix when it differs from `bits`)
 *      xx          an opcode byte in hex; `xx+r` adds the register number of the r8/r16/r32 operand,
 *                  `xx+cc` the condition code of the mnemonic (jcc/setcc/cmovcc)
 *      /r          ModRM with reg = the register operand, r/m = the rm/m operand
 *      /rr         ModRM with reg and r/m both the first operand (`imul eax,5` = `imul eax,eax,5`)
 *      /0…/7       ModRM with that digit in reg, r/m = the rm/m operand
 *      ib iw id    immediate of 1, 2, 4 bytes (the imm/simm8/imm8u operand, in order)
 *      rel8 rel32  branch displacement to the rel operand
 *      ptr         far pointer: offset (id) then selector (iw)
 *      moffs       32-bit absolute offset of a base/index-less memory operand (a0–a3)
 *      mp=f3       mandatory prefix byte (pause)
 *      a16 / a32   address size of the form (0x67 when it differs from `bits`; jcxz / jecxz)
 *      anymod      ModRM.mod is ignored, r/m is a register whatever mod says (MOV CRn/DRn; decode-only)
 *    A trailing ' !d' marks a form the disassembler decodes but the assembler never picks.
 *  - extra: { att: [...] AT&T spellings beyond the automatic ones, aliases: [...], virt per form }.
 * A form's `virt` (given as `{ formVirt: { 'operands': facts } }`) overrides the mnemonic's facts,
 * e.g. `mov` is innocuous but `mov sreg,rm16` is critical and `mov cr,r32` privileged.
 *
 * Virtualization facts come from ../../../shared/reference/x86-virtualization.md (§1 Robin & Irvine,
 * §2c Xen PV replacements, §3a VT-x exit reasons, §6 privileged / IOPL-sensitive).
 */
import { defineX87, type DefFn } from './x87';
import { defineSimd } from './simd';
import { forEachOpcodeKey, opcodeOfFormText } from './opcodeKeys';
import type {
  BtTreatment, Category, EncodingForm, Flag, FlagEffects, InstructionInfo, InterceptClass, OperandPattern, ParavirtReplacement, VirtFacts, VmExit,
} from './types';

// ---------------------------------------------------------------- virtualization fact constructors
const IDENT: BtTreatment = { kind: 'ident' };
const NO_EXIT: VmExit = { kind: 'none' };
const INNOCUOUS: VirtFacts = { class: 'innocuous', vmExit: NO_EXIT, bt: IDENT };
const CONTROL_FLOW: VirtFacts = { class: 'innocuous', vmExit: NO_EXIT, bt: { kind: 'ident', note: 'ends a translation block; the target is translated too and the blocks are chained' } };
/** Rows that raise an exception: copied unchanged, the exception reaches the VMM's IDT first and is reflected to the guest's handler. */
const BT_RAISES: BtTreatment = { kind: 'ident', note: 'the exception it raises reaches the VMM first, which reflects it to the guest\'s handler' };
/**
 * Unprivileged rows whose answer the VMM virtualises: an identical copy would read the host's state,
 * so the translator makes them callouts that answer from the virtual CPU (VMware's BT, like VT-x's
 * CPUID and RDTSC exits).
 */
const btVirtual = (note: string): BtTreatment => ({ kind: 'callout', note });

function exitU(reason: string, reasonNumber: number, note?: string): VmExit { return { kind: 'unconditional', reason, reasonNumber, note }; }
function exitC(control: string, reason: string, reasonNumber: number, note?: string): VmExit { return { kind: 'controlled', control, reason, reasonNumber, note }; }
function hc(hypercall: string, text: string): ParavirtReplacement { return { kind: 'hypercall', hypercall, text }; }
function shm(text: string, short?: string): ParavirtReplacement { return short ? { kind: 'shared-memory', text, short } : { kind: 'shared-memory', text }; }
function emu(text: string): ParavirtReplacement { return { kind: 'emulated', text }; }
function nopv(text: string): ParavirtReplacement { return { kind: 'none', text }; }

function critical(group: VirtFacts['group'], why: string, pv: ParavirtReplacement, vmExit: VmExit = { kind: 'none', note: 'in VMX non-root operation the guest kernel runs at CPL 0, so the instruction behaves correctly' }): VirtFacts {
  return { class: 'critical', group, why, vmExit, bt: { kind: 'callout', note: 'translated into a callout that uses the virtual CPU state' }, pv };
}
function privileged(why: string, vmExit: VmExit, pv: ParavirtReplacement): VirtFacts {
  return { class: 'privileged', why, vmExit, bt: { kind: 'callout', note: 'translated into a callout; the VMM emulates it on the virtual CPU' }, pv };
}
function ioplSensitive(why: string, vmExit: VmExit, pv: ParavirtReplacement): VirtFacts {
  return { class: 'iopl-sensitive', why, vmExit, bt: { kind: 'callout', note: 'translated into a callout; the VMM emulates it on the virtual CPU' }, pv };
}

const DT_EXIT = (reason: 'GDTR_IDTR' | 'LDTR_TR', n: number) => exitC('descriptor-table exiting (secondary control bit 2)', reason, n);
const CR_EXIT = exitC('CR0/CR4 guest/host masks and read shadows, CR3-load/-store exiting (primary bits 15/16)', 'CR_ACCESS', 28);
const IO_EXIT = exitC('unconditional I/O exiting (primary bit 24) or the I/O bitmaps (primary bit 25)', 'IO_INSTRUCTION', 30);

// ---------------------------------------------------------------- flags
const ALL6: Flag[] = ['OF', 'SF', 'ZF', 'AF', 'CF', 'PF'];
/** Parsed flag specs: most rows share one of a few dozen (read-only once built). */
const FLAG_SPECS = new Map<string, FlagEffects>();
function flags(spec: string): FlagEffects {
  let f = FLAG_SPECS.get(spec);
  if (f === undefined) FLAG_SPECS.set(spec, f = parseFlags(spec));
  return f;
}
function parseFlags(spec: string): FlagEffects {
  const f: FlagEffects = { read: [], written: [], undefined: [] };
  for (const part of spec.split(/\s+/).filter(Boolean)) {
    const [k, list] = part.split(':');
    const names = (list === '*' ? ALL6 : list.split(',')) as Flag[];
    if (k === 'r') f.read.push(...names); else if (k === 'w') f.written.push(...names); else f.undefined.push(...names);
  }
  return f;
}

// ---------------------------------------------------------------- form compiler
const REG_PATTERNS = new Set<OperandPattern>(['r8', 'r16', 'r32', 'sreg', 'sreg-no-cs', 'cr', 'dr', 'mm', 'xmm']);
const RM_PATTERNS = new Set<OperandPattern>(['rm8', 'rm16', 'rm32', 'm', 'm8', 'm16', 'm32', 'm64', 'm80', 'm128', 'm16:32', 'r16/32/m16', 'mm/m32', 'mm/m64', 'xmm/m32', 'xmm/m64', 'xmm/m128']);
const IMM_PATTERNS = new Set<OperandPattern>(['imm8', 'imm16', 'imm32', 'simm8', 'imm8u']);

/** Two lower-case hex digits of `tok` at `at` (an opcode or prefix byte of the table's text). */
function hexByte(tok: string, at: number, text: string): number {
  const hi = HEX.indexOf(tok[at] ?? '-'), lo = HEX.indexOf(tok[at + 1] ?? '-');
  if (hi < 0 || lo < 0) throw new Error(`isa table: bad encoding token '${tok}' in '${text}'`);
  return (hi << 4) | lo;
}
const HEX = '0123456789abcdef';

/**
 * Every operand pattern, spelled once here: a form's patterns are these very strings (string literals
 * are interned), so the encoder's and decoder's comparisons of patterns compare pointers.
 */
const PATTERN_SPELLINGS = new Map<string, OperandPattern>(([
  'r8', 'r16', 'r32', 'rm8', 'rm16', 'rm32', 'm', 'm8', 'm16', 'm32', 'm64', 'm16:32', 'al', 'ax', 'eax', 'cl', 'dx', 'one', 'imm8', 'imm16', 'imm32',
  'simm8', 'imm8u', 'rel8', 'rel32', 'sreg', 'sreg-no-cs', 'cs', 'ds', 'es', 'fs', 'gs', 'ss', 'cr', 'dr', 'moffs8', 'moffs16', 'moffs32', 'far16:32',
  'r16/32/m16', 'st0', 'sti', 'm80', 'mm', 'xmm', 'm128', 'mm/m32', 'mm/m64', 'xmm/m32', 'xmm/m64', 'xmm/m128',
] satisfies OperandPattern[]).map((p) => [p, p]));

function operandPatterns(text: string): OperandPattern[] {
  const out: OperandPattern[] = [];
  if (!text) return out;
  for (const p of text.split(',')) out.push(PATTERN_SPELLINGS.get(p) ?? (p as OperandPattern));
  return out;
}

/** Index of the first operand pattern that `test` accepts (-1): findIndex without a closure per call. */
function firstOperand(operands: readonly OperandPattern[], test: (p: OperandPattern) => boolean, except = -1): number {
  for (let i = 0; i < operands.length; i++) if (i !== except && test(operands[i])) return i;
  return -1;
}
const isControlReg = (p: OperandPattern) => p === 'cr' || p === 'dr' || p === 'sreg' || p === 'sreg-no-cs';
const isRm = (p: OperandPattern) => RM_PATTERNS.has(p);
const isReg = (p: OperandPattern) => REG_PATTERNS.has(p);
const isDigitRm = (p: OperandPattern) => RM_PATTERNS.has(p) || p === 'r8' || p === 'r16' || p === 'r32' || p === 'mm' || p === 'xmm';
const isPlusReg = (p: OperandPattern) => p === 'r8' || p === 'r16' || p === 'r32' || p === 'sti';
const isSreg = (p: OperandPattern) => p === 'sreg' || p === 'sreg-no-cs';
const any = () => true;

/**
 * A form with every field present (undefined when unused), in one order: every form then has one
 * hidden class, so the encoder's and decoder's reads of a form stay monomorphic.
 */
function newForm(operands: OperandPattern[], encoding: string): EncodingForm {
  return {
    operands, encoding, opsize: undefined, opcode: [], modrm: undefined, plusReg: undefined, plusCc: undefined, imm: [], mandatoryPrefix: undefined,
    regOperand: undefined, rmOperand: undefined, plusRegOperand: undefined, cc: undefined, defaultMemSize: undefined, handler: '', virt: undefined,
    decodeOnly: undefined, anyMod: undefined, exactPrefixes: undefined, addrsize: undefined, lockable: undefined, endsBlock: undefined, intercept: undefined,
  };
}

function compileForm(text: string, cc?: number): EncodingForm {
  // Every command builds the table at start-up, interpreted: plain index scans, no regular
  // expressions, no closures or arrays beyond the form's own.
  const decodeOnly = text.endsWith(' !d');
  const body = decodeOnly ? text.slice(0, -3) : text;
  // operands, then ': ', then the encoding (`far16:32` and `m16:32` have a colon of their own)
  const colon = body.includes('16:32') ? body.lastIndexOf(': ') : body.indexOf(':');
  const opsText = body.slice(0, colon).trim();
  const enc = body.slice(colon + 1).trim();
  const operands = operandPatterns(opsText);
  const form = newForm(operands, enc);
  if (decodeOnly) form.decodeOnly = true;
  for (let at = 0; at < enc.length;) {
    let end = enc.indexOf(' ', at);
    if (end < 0) end = enc.length;
    const tok = enc.slice(at, end);
    at = end + 1;
    switch (tok) {
      case '': continue;
      case 'o16': form.opsize = 16; continue;
      case 'o32': form.opsize = 32; continue;
      case 'anymod': form.anyMod = true; continue;
      case 'a16': form.addrsize = 16; continue;
      case 'a32': form.addrsize = 32; continue;
      case 'ib': case 'iw': case 'id': case 'rel8': case 'rel32': case 'moffs': form.imm.push(tok); continue;
      case 'ptr': form.imm.push('ptr16:32'); continue;
      case '/rr': form.modrm = 'r'; form.regOperand = 0; form.rmOperand = 0; continue;
      case '/r': {
        form.modrm = 'r';
        const regIdx = firstOperand(operands, isControlReg);
        if (regIdx >= 0) {
          form.regOperand = regIdx;
          form.rmOperand = firstOperand(operands, any, regIdx);
        } else {
          form.rmOperand = firstOperand(operands, isRm);
          form.regOperand = firstOperand(operands, isReg, form.rmOperand);
          if (form.rmOperand < 0) form.rmOperand = firstOperand(operands, isReg, form.regOperand);
        }
        continue;
      }
    }
    if (tok.length === 2 && tok[0] === '/' && tok[1] >= '0' && tok[1] <= '7') {
      form.modrm = tok.charCodeAt(1) - 48;
      form.rmOperand = firstOperand(operands, isDigitRm);
      continue;
    }
    if (tok.startsWith('mp=')) { form.mandatoryPrefix = [hexByte(tok, 3, text)]; continue; }
    const byte = hexByte(tok, 0, text), rest = tok.length === 2 ? '' : tok.slice(2);
    form.opcode.push(byte);
    if (rest === '+r') {
      form.plusReg = true;
      form.plusRegOperand = firstOperand(operands, isPlusReg);
    } else if (rest === '+cc') {
      form.plusCc = true;
      form.cc = cc;
    } else if (rest !== '') throw new Error(`isa table: bad encoding token '${tok}' in '${text}'`);
  }
  void IMM_PATTERNS;
  return form;
}

// ---------------------------------------------------------------- table builder
const TABLE: InstructionInfo[] = [];
const BY_NAME = new Map<string, InstructionInfo>();

interface Extra {
  att?: string[];
  /** The semantics handler key of every form, when rows share one (see EncodingForm.handler); default: the mnemonic. */
  handler?: string;
  aliases?: string[];
  /** Per-form virtualization overrides, keyed by the operand text of the form ('sreg-no-cs,rm16'). */
  formVirt?: Record<string, Partial<VirtFacts>>;
  /** Unsized memory operands are taken as this size (jmp/call/push/pop: 32; sldt/str/lldt…: 16; setcc: 8). */
  defaultMem?: 8 | 16 | 32 | 64;
  /** Condition code for +cc forms. */
  cc?: number;
  /** LOCK is legal on the forms whose destination (first operand; xchg: either) is memory. */
  lock?: boolean;
  /** The CPU ends a basic block after it (see EncodingForm.endsBlock). */
  ends?: boolean;
  /** Monitor class of every form (see EncodingForm.intercept). */
  intercept?: InterceptClass;
  /** Per-form CPU facts, keyed like formVirt. */
  formCpu?: Record<string, { ends?: boolean; intercept?: InterceptClass }>;
  /** AT&T spellings whose suffix is not b/w/l (see InstructionInfo.attSizes). */
  attSize?: Record<string, 16 | 32 | 64 | 80>;
}

/** The AT&T size suffix of an operand pattern that names a size (r32 → l, rm8 → b, imm16 → w). */
const ATT_SUFFIX: Partial<Record<OperandPattern, string>> = {
  r8: 'b', rm8: 'b', m8: 'b', imm8: 'b', r16: 'w', rm16: 'w', m16: 'w', imm16: 'w', r32: 'l', rm32: 'l', m32: 'l', imm32: 'l',
};
function autoAtt(mnemonic: string, forms: EncodingForm[]): string[] {
  const out = [mnemonic];
  let seen = '';
  for (const f of forms) {
    for (const p of f.operands) {
      const suffix = ATT_SUFFIX[p];
      if (suffix !== undefined && !seen.includes(suffix)) { seen += suffix; out.push(mnemonic + suffix); }
    }
  }
  return out;
}

/**
 * The rows defined at load are compiled (forms parsed, AT&T spellings derived) when first looked up:
 * a `popek asm` or `popek lint` of a short file parses the few rows it uses, not all 200. Every way
 * out of this module to a row compiles it first (instructionInfo, definedInstructions, allInstructions,
 * attInstructionInfo); the late rows are compiled as they are defined.
 */
interface RowSource { forms: string[]; extra: Extra }
const UNCOMPILED = new Map<InstructionInfo, RowSource>();
let compileLater = true;
/** What an uncompiled row holds until then (frozen: a write to it would be a bug, and throws). */
const NOT_YET: never[] = Object.freeze([]) as never[];

function compileRow(info: InstructionInfo, { forms, extra }: RowSource): void {
  const { mnemonic, category } = info;
  const compiled: EncodingForm[] = [];
  const handler = extra.handler ?? (category === 'x87' || category === 'simd' ? category : mnemonic);
  const perForm = extra.formVirt !== undefined || extra.formCpu !== undefined;
  for (let k = 0; k < forms.length; k++) {
    const f = compileForm(forms[k], extra.cc);
    compiled.push(f);
    f.handler = handler;
    let cpu: { ends?: boolean; intercept?: InterceptClass } | undefined;
    if (perForm) {
      const key = f.operands.join(',');
      if (extra.formVirt?.[key]) f.virt = extra.formVirt[key];
      cpu = extra.formCpu?.[key];
    }
    const ends = cpu?.ends ?? extra.ends, intercept = cpu?.intercept ?? extra.intercept;
    if (ends) f.endsBlock = true;
    if (intercept) f.intercept = intercept;
    if (category === 'simd') f.exactPrefixes = true;
    if (extra.lock && f.rmOperand !== undefined && RM_PATTERNS.has(f.operands[f.rmOperand]) && (f.rmOperand === 0 || mnemonic === 'xchg')) f.lockable = true;
    if (extra.defaultMem) f.defaultMemSize = extra.defaultMem;
    else if (firstOperand(f.operands, isSreg) >= 0) f.defaultMemSize = 16;
  }
  // x87 and SIMD spell sizes their own way (flds, fildl): only the explicit AT&T spellings
  const att = category === 'x87' || category === 'simd' ? [mnemonic] : autoAtt(mnemonic, compiled);
  info.att = extra.att === undefined ? att : [...new Set([...att, ...extra.att])];
  info.forms = compiled;
}

/** The row, compiled if it was not yet. */
function compiled(info: InstructionInfo): InstructionInfo {
  const source = UNCOMPILED.get(info);
  if (source !== undefined) { UNCOMPILED.delete(info); compileRow(info, source); }
  return info;
}
function compileAll(): void {
  for (const [info, source] of UNCOMPILED) compileRow(info, source);
  UNCOMPILED.clear();
}

function def(mnemonic: string, category: Category, description: string, flagSpec: string, virt: VirtFacts, forms: string[], extra: Extra = {}): InstructionInfo {
  const info: InstructionInfo = { mnemonic, att: NOT_YET, description, category, forms: NOT_YET, flags: flags(flagSpec), virt, aliases: extra.aliases };
  if (extra.attSize && Object.keys(extra.attSize).length) info.attSizes = extra.attSize;
  if (compileLater) UNCOMPILED.set(info, { forms, extra });
  else compileRow(info, { forms, extra });
  TABLE.push(info);
  BY_NAME.set(mnemonic, info);
  for (const a of extra.aliases ?? []) BY_NAME.set(a, info);
  return info;
}

// ================================================================= the instructions
// ---- data movement
// Loading and reading a segment register go wrong differently, and the Problems panel quotes the
// first clause of `why`: each direction says its own.
const SREG_PV = nopv('No hypercall: a Xen guest uses the ring-1 flat selectors (FLAT_RING1_CS 0xe019, FLAT_RING1_DS 0xe021) and never assumes RPL 0.');
const MOV_TO_SREG: Partial<VirtFacts> = critical('protection-system',
  'MOV to a segment register runs the CPL/RPL/DPL checks against the real CPL: at CPL 1 or 3 loading a ring-0 data selector faults or loads something the guest did not intend. No trap to the VMM.',
  SREG_PV);
const MOV_FROM_SREG: Partial<VirtFacts> = critical('protection-system',
  'MOV from CS/SS shows the real CPL (RPL 1), from DS–GS the selector as loaded: a deprivileged kernel that checks its ring in CS sees the VMM. No trap to the VMM.',
  SREG_PV);
const MOV_CR_W: Partial<VirtFacts> = privileged('MOV to CRn is CPL-0 only: #GP at CPL 1/3, so the VMM traps and emulates it on the virtual CR.', CR_EXIT,
  hc('mmuext_op', 'CR3 write → mmuext_op(MMUEXT_NEW_BASEPTR); CR0 write → fpu_taskswitch(TS) (only TS is honoured); CR4 → emulated write.'));
const MOV_CR_R: Partial<VirtFacts> = privileged('MOV from CRn is CPL-0 only: #GP at CPL 1/3; the VMM returns the virtual value.', CR_EXIT,
  shm('CR2 read → vcpu_info.arch.cr2 in the shared-info page; CR0/CR3 reads → the values the guest cached itself.', 'a cached copy (CR2: shared info)'));
const MOV_DR: Partial<VirtFacts> = privileged('MOV to/from DRn is CPL-0 only: #GP at CPL 1/3.', exitC('MOV-DR exiting (primary bit 23)', 'DR_ACCESS', 29),
  hc('set_debugreg', 'set_debugreg (8) for writes, get_debugreg (9) for reads.'));

def('mov', 'data', 'Copies the source operand to the destination.', '', INNOCUOUS, [
  'al,moffs8: a0 moffs', 'ax,moffs16: o16 a1 moffs', 'eax,moffs32: o32 a1 moffs',
  'moffs8,al: a2 moffs', 'moffs16,ax: o16 a3 moffs', 'moffs32,eax: o32 a3 moffs',
  'rm8,r8: 88 /r', 'rm16,r16: o16 89 /r', 'rm32,r32: o32 89 /r',
  'r8,rm8: 8a /r', 'r16,rm16: o16 8b /r', 'r32,rm32: o32 8b /r',
  'r32,sreg: 8c /r', 'r16,sreg: o16 8c /r', 'm16,sreg: 8c /r',
  'sreg-no-cs,r32: 8e /r', 'sreg-no-cs,rm16: 8e /r',
  'r8,imm8: b0+r ib', 'r16,imm16: o16 b8+r iw', 'r32,imm32: o32 b8+r id',
  'rm8,imm8: c6 /0 ib', 'rm16,imm16: o16 c7 /0 iw', 'rm32,imm32: o32 c7 /0 id',
  'r32,cr: 0f 20 /r', 'cr,r32: 0f 22 /r', 'r32,dr: 0f 21 /r', 'dr,r32: 0f 23 /r',
  // real CPUs ignore ModRM.mod of MOV CRn/DRn (no displacement follows): decodable, never emitted
  'r32,cr: 0f 20 /r anymod !d', 'cr,r32: 0f 22 /r anymod !d', 'r32,dr: 0f 21 /r anymod !d', 'dr,r32: 0f 23 /r anymod !d',
], {
  formVirt: {
    'r32,sreg': MOV_FROM_SREG, 'r16,sreg': MOV_FROM_SREG, 'm16,sreg': MOV_FROM_SREG, 'sreg-no-cs,r32': MOV_TO_SREG, 'sreg-no-cs,rm16': MOV_TO_SREG,
    'r32,cr': MOV_CR_R, 'cr,r32': MOV_CR_W, 'r32,dr': MOV_DR, 'dr,r32': MOV_DR,
  },
  formCpu: {
    'r32,sreg': { intercept: 'SEG' }, 'r16,sreg': { intercept: 'SEG' }, 'm16,sreg': { intercept: 'SEG' },
    'sreg-no-cs,r32': { intercept: 'SEG', ends: true }, 'sreg-no-cs,rm16': { intercept: 'SEG', ends: true },
    'r32,cr': { intercept: 'MOV_CR' }, 'cr,r32': { intercept: 'MOV_CR', ends: true }, 'r32,dr': { intercept: 'MOV_DR' }, 'dr,r32': { intercept: 'MOV_DR' },
  },
});
def('movzx', 'data', 'Copies a byte or word to a larger register, zero-extending it.', '', INNOCUOUS, [
  'r16,rm8: o16 0f b6 /r', 'r32,rm8: o32 0f b6 /r', 'r32,rm16: o32 0f b7 /r', 'r16,rm16: o16 0f b7 /r !d',
], { att: ['movzbw', 'movzbl', 'movzwl'] });
def('movsx', 'data', 'Copies a byte or word to a larger register, sign-extending it.', '', INNOCUOUS, [
  'r16,rm8: o16 0f be /r', 'r32,rm8: o32 0f be /r', 'r32,rm16: o32 0f bf /r', 'r16,rm16: o16 0f bf /r !d',
], { att: ['movsbw', 'movsbl', 'movswl'] });
def('lea', 'data', 'Loads the effective address of the memory operand (no memory access).', '', INNOCUOUS, [
  'r16,m: o16 8d /r', 'r32,m: o32 8d /r',
]);
def('xchg', 'data', 'Exchanges two operands (with memory: implicitly locked).', '', INNOCUOUS, [
  'ax,r16: o16 90+r', 'eax,r32: o32 90+r', 'r16,ax: o16 90+r', 'r32,eax: o32 90+r',
  'r8,rm8: 86 /r', 'rm8,r8: 86 /r', 'r16,rm16: o16 87 /r', 'rm16,r16: o16 87 /r', 'r32,rm32: o32 87 /r', 'rm32,r32: o32 87 /r',
], { lock: true });
def('cmpxchg', 'data', 'Compares AL/AX/EAX with the destination; if equal stores the source there, else loads the destination into the accumulator.', 'w:*', INNOCUOUS, [
  'rm8,r8: 0f b0 /r', 'rm16,r16: o16 0f b1 /r', 'rm32,r32: o32 0f b1 /r',
], { lock: true });
def('cmpxchg8b', 'data', 'Compares EDX:EAX with a qword in memory; if equal stores ECX:EBX there, else loads it into EDX:EAX.', 'w:ZF', INNOCUOUS, ['m64: 0f c7 /1'], { lock: true });
def('xadd', 'data', 'Exchanges the operands and stores their sum in the destination.', 'w:*', INNOCUOUS, [
  'rm8,r8: 0f c0 /r', 'rm16,r16: o16 0f c1 /r', 'rm32,r32: o32 0f c1 /r',
], { lock: true });
def('bswap', 'data', 'Reverses the byte order of a 32-bit register (with a 16-bit operand size the result is undefined).', '', INNOCUOUS, ['r32: o32 0f c8+r', 'r16: o16 0f c8+r !d']);
for (const [m, op] of [['lds', 'c5'], ['les', 'c4'], ['lfs', '0f b4'], ['lgs', '0f b5'], ['lss', '0f b2']] as const) {
  def(m, 'segment', `Loads a far pointer from memory into ${m.slice(1, 3).toUpperCase()}:register.`, '', {
    ...INNOCUOUS, why: 'Loads a segment register with privilege checks against the real CPL (conditionally problematic, plex86 list); not in Robin & Irvine\'s list.',
    bt: btVirtual('a segment load, like MOV/POP Sreg: the callout checks the selector against the guest\'s virtual CPL and descriptor tables'),
  }, [`r16,m: o16 ${op} /r`, `r32,m: o32 ${op} /r`], { att: [`l${m.slice(1)}w`, `l${m.slice(1)}l`], intercept: 'SEG', ends: true });
}
def('xlatb', 'data', 'Loads AL from [EBX+AL] (table lookup).', '', INNOCUOUS, [': d7'], { aliases: ['xlat'] });

// ---- stack
const PUSH_SREG: Partial<VirtFacts> = critical('protection-system',
  'PUSH CS/SS exposes the real CPL in the RPL bits of the pushed selector: a deprivileged guest kernel sees 1 or 3 instead of 0. No trap.',
  nopv('No hypercall: a Xen guest kernel knows it runs in ring 1 (FLAT_RING1_CS 0xe019) and must not depend on RPL 0.'));
// Robin & Irvine list every PUSH Sreg, but only CS and SS carry the CPL: a data segment register
// holds what the guest loaded, so xv6's and Linux's trap entries (`pushl %ds`) read as they would at CPL 0.
const PUSH_DATA_SREG: Partial<VirtFacts> = critical('protection-system',
  'PUSH DS/ES/FS/GS pushes the selector as loaded, as at CPL 0 if the guest set it. Only PUSH CS/SS exposes the real CPL (a VMM that loads a data segment register itself shows through too). No trap.',
  nopv('No hypercall: nothing to change while the guest loads its data segment registers itself.'));
const POP_SREG: Partial<VirtFacts> = critical('protection-system',
  'POP Sreg loads a segment register with CPL/RPL/DPL checks against the real CPL: a guest at CPL 1/3 loading a ring-0 selector faults or behaves differently than at CPL 0. No trap to the VMM.',
  nopv('No hypercall: use the ring-1 flat selectors (FLAT_RING1_DS 0xe021) a Xen guest is given.'));
def('push', 'stack', 'Decrements ESP and stores the operand on the stack.', '', INNOCUOUS, [
  'r16: o16 50+r', 'r32: o32 50+r', 'rm16: o16 ff /6', 'rm32: o32 ff /6',
  'cs: 0e', 'ss: 16', 'ds: 1e', 'es: 06', 'fs: 0f a0', 'gs: 0f a8',
  'simm8: 6a ib', 'simm8: o16 6a ib', 'imm16: o16 68 iw', 'imm32: o32 68 id',
], {
  formVirt: { cs: PUSH_SREG, ss: PUSH_SREG, ds: PUSH_DATA_SREG, es: PUSH_DATA_SREG, fs: PUSH_DATA_SREG, gs: PUSH_DATA_SREG },
  formCpu: { cs: { intercept: 'SEG' }, ss: { intercept: 'SEG' }, ds: { intercept: 'SEG' }, es: { intercept: 'SEG' }, fs: { intercept: 'SEG' }, gs: { intercept: 'SEG' } },
});
def('pop', 'stack', 'Loads the operand from the stack and increments ESP.', '', INNOCUOUS, [
  'r16: o16 58+r', 'r32: o32 58+r', 'rm16: o16 8f /0', 'rm32: o32 8f /0',
  'ss: 17', 'ds: 1f', 'es: 07', 'fs: 0f a1', 'gs: 0f a9',
  'cs: 0f', // 8086 only: NASM still emits it, with a warning (on a 386 the byte starts a two-byte opcode)
], {
  formVirt: { cs: POP_SREG, ss: POP_SREG, ds: POP_SREG, es: POP_SREG, fs: POP_SREG, gs: POP_SREG },
  formCpu: { cs: { intercept: 'SEG', ends: true }, ss: { intercept: 'SEG', ends: true }, ds: { intercept: 'SEG', ends: true }, es: { intercept: 'SEG', ends: true }, fs: { intercept: 'SEG', ends: true }, gs: { intercept: 'SEG', ends: true } },
});
def('pushad', 'stack', 'Pushes EAX, ECX, EDX, EBX, the original ESP, EBP, ESI, EDI.', '', INNOCUOUS, [': o32 60'], { aliases: ['pusha'], att: ['pushal', 'pusha'] });
def('pushaw', 'stack', 'Pushes the eight 16-bit general registers.', '', INNOCUOUS, [': o16 60'], { att: ['pushaw'] });
def('popad', 'stack', 'Pops EDI, ESI, EBP, (skips ESP), EBX, EDX, ECX, EAX.', '', INNOCUOUS, [': o32 61'], { aliases: ['popa'], att: ['popal', 'popa'] });
def('popaw', 'stack', 'Pops the eight 16-bit general registers.', '', INNOCUOUS, [': o16 61'], { att: ['popaw'] });
const PUSHF_FACTS = critical('sensitive-register',
  'PUSHF pushes the real EFLAGS: a deprivileged guest kernel sees the real IF and IOPL (interrupts on, IOPL as the VMM set it) instead of its virtual ones. It never traps in protected mode.',
  shm('Read the virtual IF from the shared-info page: IF = !vcpu_info.evtchn_upcall_mask (Linux xen_save_fl).'));
const POPF_FACTS = critical('sensitive-register',
  'POPF silently ignores the privileged bits: at CPL > 0 IOPL is not changed, and at CPL > IOPL IF is not changed either. A guest `popf` meant to disable or re-enable interrupts does nothing, and no exception tells the VMM.',
  shm('Write the virtual IF to the shared-info page: evtchn_upcall_mask = !(flags & IF); if that unmasks and an event is pending, force the callback with xen_version (Linux xen_restore_fl).'));
def('pushfd', 'flag', 'Pushes EFLAGS (VM and RF cleared in the image).', 'r:CF,PF,AF,ZF,SF,TF,IF,DF,OF,IOPL,NT,AC', PUSHF_FACTS, [': o32 9c'], { aliases: ['pushf'], att: ['pushfl', 'pushf'], intercept: 'PUSHF_POPF' });
def('pushfw', 'flag', 'Pushes FLAGS (16 bits).', 'r:CF,PF,AF,ZF,SF,TF,IF,DF,OF,IOPL,NT', PUSHF_FACTS, [': o16 9c'], { att: ['pushfw'], intercept: 'PUSHF_POPF' });
def('popfd', 'flag', 'Pops EFLAGS; IOPL changes only at CPL 0 and IF only at CPL ≤ IOPL, silently.', 'w:CF,PF,AF,ZF,SF,TF,IF,DF,OF,IOPL,NT,AC', POPF_FACTS, [': o32 9d'], { aliases: ['popf'], att: ['popfl', 'popf'], intercept: 'PUSHF_POPF', ends: true });
def('popfw', 'flag', 'Pops FLAGS (16 bits), with the same silent IF/IOPL rule.', 'w:CF,PF,AF,ZF,SF,TF,IF,DF,OF,IOPL,NT', POPF_FACTS, [': o16 9d'], { att: ['popfw'], intercept: 'PUSHF_POPF', ends: true });
def('enter', 'stack', 'Makes a stack frame: push EBP, EBP = ESP, reserve imm16 bytes (nesting level imm8).', '', INNOCUOUS, ['imm16,imm8: c8 iw ib']);
def('leave', 'stack', 'Releases the stack frame: ESP = EBP, pop EBP.', '', INNOCUOUS, [': c9']);

// ---- ALU
const ALU: Array<[string, number, string, string]> = [
  ['add', 0, 'Adds the source to the destination.', 'w:*'],
  ['or', 1, 'Bitwise OR; clears OF and CF.', 'w:OF,SF,ZF,CF,PF u:AF'],
  ['adc', 2, 'Adds the source and CF to the destination.', 'r:CF w:*'],
  ['sbb', 3, 'Subtracts the source and CF from the destination.', 'r:CF w:*'],
  ['and', 4, 'Bitwise AND; clears OF and CF.', 'w:OF,SF,ZF,CF,PF u:AF'],
  ['sub', 5, 'Subtracts the source from the destination.', 'w:*'],
  ['xor', 6, 'Bitwise exclusive OR; clears OF and CF.', 'w:OF,SF,ZF,CF,PF u:AF'],
  ['cmp', 7, 'Compares by subtracting the source from the destination, setting flags only.', 'w:*'],
];
for (const [m, d, desc, fl] of ALU) {
  const b = (x: number) => (d * 8 + x).toString(16).padStart(2, '0');
  def(m, m === 'and' || m === 'or' || m === 'xor' ? 'logic' : 'arith', desc, fl, INNOCUOUS, [
    `rm8,r8: ${b(0)} /r`, `rm16,r16: o16 ${b(1)} /r`, `rm32,r32: o32 ${b(1)} /r`,
    `r8,rm8: ${b(2)} /r`, `r16,rm16: o16 ${b(3)} /r`, `r32,rm32: o32 ${b(3)} /r`,
    `rm16,simm8: o16 83 /${d} ib`, `rm32,simm8: o32 83 /${d} ib`,
    `al,imm8: ${b(4)} ib`, `ax,imm16: o16 ${b(5)} iw`, `eax,imm32: o32 ${b(5)} id`,
    `rm8,imm8: 80 /${d} ib`, `rm16,imm16: o16 81 /${d} iw`, `rm32,imm32: o32 81 /${d} id`,
    // 82 is 80's undocumented twin (invalid in 64-bit mode): CPUs execute it, assemblers never emit it
    `rm8,imm8: 82 /${d} ib !d`,
  ], { lock: m !== 'cmp' });
}
def('test', 'logic', 'Bitwise AND setting flags only; clears OF and CF.', 'w:OF,SF,ZF,CF,PF u:AF', INNOCUOUS, [
  'rm8,r8: 84 /r', 'rm16,r16: o16 85 /r', 'rm32,r32: o32 85 /r',
  'r8,m8: 84 /r', 'r16,m16: o16 85 /r', 'r32,m32: o32 85 /r',
  'al,imm8: a8 ib', 'ax,imm16: o16 a9 iw', 'eax,imm32: o32 a9 id',
  'rm8,imm8: f6 /0 ib', 'rm16,imm16: o16 f7 /0 iw', 'rm32,imm32: o32 f7 /0 id',
  // F6/F7 /1 is an undocumented alias of /0 that real CPUs execute
  'rm8,imm8: f6 /1 ib !d', 'rm16,imm16: o16 f7 /1 iw !d', 'rm32,imm32: o32 f7 /1 id !d',
]);
const UNARY: Array<[string, number, string, string, Category]> = [
  ['not', 2, 'Bitwise complement.', '', 'logic'],
  ['neg', 3, 'Two\'s complement negation (CF = operand ≠ 0).', 'w:*', 'arith'],
  ['mul', 4, 'Unsigned multiply of AL/AX/EAX by the operand into AX, DX:AX or EDX:EAX.', 'w:OF,CF u:SF,ZF,AF,PF', 'arith'],
  ['div', 6, 'Unsigned divide of AX, DX:AX or EDX:EAX by the operand (#DE on overflow or zero).', 'u:*', 'arith'],
  ['idiv', 7, 'Signed divide of AX, DX:AX or EDX:EAX by the operand (#DE on overflow or zero).', 'u:*', 'arith'],
];
for (const [m, d, desc, fl, cat] of UNARY) {
  def(m, cat, desc, fl, INNOCUOUS, [`rm8: f6 /${d}`, `rm16: o16 f7 /${d}`, `rm32: o32 f7 /${d}`], { lock: m === 'not' || m === 'neg' });
}
def('imul', 'arith', 'Signed multiply: one operand (into EDX:EAX), two (dest *= src) or three (dest = src * imm).', 'w:OF,CF u:SF,ZF,AF,PF', INNOCUOUS, [
  'rm8: f6 /5', 'rm16: o16 f7 /5', 'rm32: o32 f7 /5',
  'r16,rm16: o16 0f af /r', 'r32,rm32: o32 0f af /r',
  'r16,rm16,simm8: o16 6b /r ib', 'r32,rm32,simm8: o32 6b /r ib',
  'r16,rm16,imm16: o16 69 /r iw', 'r32,rm32,imm32: o32 69 /r id',
  'r16,simm8: o16 6b /rr ib', 'r32,simm8: o32 6b /rr ib',
  'r16,imm16: o16 69 /rr iw', 'r32,imm32: o32 69 /rr id',
]);
def('inc', 'arith', 'Adds 1 (CF unchanged).', 'w:OF,SF,ZF,AF,PF', INNOCUOUS, ['r16: o16 40+r', 'r32: o32 40+r', 'rm8: fe /0', 'rm16: o16 ff /0', 'rm32: o32 ff /0'], { lock: true });
def('dec', 'arith', 'Subtracts 1 (CF unchanged).', 'w:OF,SF,ZF,AF,PF', INNOCUOUS, ['r16: o16 48+r', 'r32: o32 48+r', 'rm8: fe /1', 'rm16: o16 ff /1', 'rm32: o32 ff /1'], { lock: true });

// ---- BCD (decimal) adjustments
def('daa', 'arith', 'Decimal-adjusts AL after adding two packed-BCD bytes.', 'r:AF,CF w:SF,ZF,AF,CF,PF u:OF', INNOCUOUS, [': 27']);
def('das', 'arith', 'Decimal-adjusts AL after subtracting two packed-BCD bytes.', 'r:AF,CF w:SF,ZF,AF,CF,PF u:OF', INNOCUOUS, [': 2f']);
def('aaa', 'arith', 'ASCII-adjusts AL after adding two unpacked-BCD digits (AH gets the carry).', 'r:AF w:AF,CF u:OF,SF,ZF,PF', INNOCUOUS, [': 37']);
def('aas', 'arith', 'ASCII-adjusts AL after subtracting two unpacked-BCD digits (AH gets the borrow).', 'r:AF w:AF,CF u:OF,SF,ZF,PF', INNOCUOUS, [': 3f']);
// `aam`/`aad` without an operand are base 10 (d4 0a / d5 0a); the imm8 form names another base
def('aam', 'arith', 'Divides AL by the base (10 unless given): AH = quotient, AL = remainder (#DE when the base is 0).', 'w:SF,ZF,PF u:OF,AF,CF', INNOCUOUS, [': d4 0a', 'imm8: d4 ib']);
def('aad', 'arith', 'AL = AH * base + AL (base 10 unless given), AH = 0.', 'w:SF,ZF,PF u:OF,AF,CF', INNOCUOUS, [': d5 0a', 'imm8: d5 ib']);
def('salc', 'flag', 'Sets AL to 0xFF when CF = 1, else to 0 (undocumented, one byte).', 'r:CF', INNOCUOUS, [': d6']);

// ---- shifts and rotates
const SHIFTS: Array<[string, number, string, string]> = [
  ['rol', 0, 'Rotates left.', 'w:CF,OF u:OF'],
  ['ror', 1, 'Rotates right.', 'w:CF,OF u:OF'],
  ['rcl', 2, 'Rotates left through CF.', 'r:CF w:CF,OF u:OF'],
  ['rcr', 3, 'Rotates right through CF.', 'r:CF w:CF,OF u:OF'],
  ['shl', 4, 'Shifts left (CF = last bit out).', 'w:CF,OF,SF,ZF,PF u:AF,OF'],
  ['sal', 4, 'Arithmetic shift left (same as SHL).', 'w:CF,OF,SF,ZF,PF u:AF,OF'],
  ['shr', 5, 'Shifts right, filling with zeros.', 'w:CF,OF,SF,ZF,PF u:AF,OF'],
  ['sar', 7, 'Shifts right, filling with the sign bit.', 'w:CF,OF,SF,ZF,PF u:AF,OF'],
];
const shiftForms = (d: number, only = '') => [
  `rm8,one: d0 /${d}`, `rm8,cl: d2 /${d}`, `rm8,imm8: c0 /${d} ib`,
  `rm16,one: o16 d1 /${d}`, `rm16,cl: o16 d3 /${d}`, `rm16,imm8: o16 c1 /${d} ib`,
  `rm32,one: o32 d1 /${d}`, `rm32,cl: o32 d3 /${d}`, `rm32,imm8: o32 c1 /${d} ib`,
].map((f) => f + only);
for (const [m, d, desc, fl] of SHIFTS) {
  // /6 is an undocumented alias of SHL that real CPUs execute: the CPU and the disassembler call it sal
  def(m, 'shift', desc + ' The count is masked to 5 bits.', fl, INNOCUOUS, m === 'sal' ? [...shiftForms(d), ...shiftForms(6, ' !d')] : shiftForms(d), { handler: 'shift' });
}
def('shld', 'shift', 'Shifts the destination left, filling from the source register.', 'w:CF,SF,ZF,PF u:OF,AF', INNOCUOUS, [
  'rm16,r16,imm8: o16 0f a4 /r ib', 'rm32,r32,imm8: o32 0f a4 /r ib', 'rm16,r16,cl: o16 0f a5 /r', 'rm32,r32,cl: o32 0f a5 /r',
]);
def('shrd', 'shift', 'Shifts the destination right, filling from the source register.', 'w:CF,SF,ZF,PF u:OF,AF', INNOCUOUS, [
  'rm16,r16,imm8: o16 0f ac /r ib', 'rm32,r32,imm8: o32 0f ac /r ib', 'rm16,r16,cl: o16 0f ad /r', 'rm32,r32,cl: o32 0f ad /r',
]);

// ---- bit tests and scans
for (const [m, r, d, desc] of [['bt', 'a3', 4, 'Copies the selected bit to CF.'], ['bts', 'ab', 5, 'Copies the selected bit to CF and sets it.'],
  ['btr', 'b3', 6, 'Copies the selected bit to CF and clears it.'], ['btc', 'bb', 7, 'Copies the selected bit to CF and complements it.']] as const) {
  def(m, 'bit', desc, 'w:CF u:OF,SF,AF,PF', INNOCUOUS, [
    `rm16,r16: o16 0f ${r} /r`, `rm32,r32: o32 0f ${r} /r`, `rm16,imm8: o16 0f ba /${d} ib`, `rm32,imm8: o32 0f ba /${d} ib`,
  ], { lock: m !== 'bt', handler: 'bit-test' });
}
def('bsf', 'bit', 'Index of the lowest set bit (ZF = 1 and destination undefined if the source is 0).', 'w:ZF u:OF,SF,AF,CF,PF', INNOCUOUS, ['r16,rm16: o16 0f bc /r', 'r32,rm32: o32 0f bc /r']);
def('bsr', 'bit', 'Index of the highest set bit (ZF = 1 and destination undefined if the source is 0).', 'w:ZF u:OF,SF,AF,CF,PF', INNOCUOUS, ['r16,rm16: o16 0f bd /r', 'r32,rm32: o32 0f bd /r']);

// ---- condition codes: jcc, setcc, cmovcc
/** Canonical condition names by code, with their aliases; `flagsRead` for the hover. */
export const CONDITIONS: Array<{ cc: number; name: string; aliases: string[]; reads: Flag[]; meaning: string }> = [
  { cc: 0, name: 'o', aliases: [], reads: ['OF'], meaning: 'overflow (OF = 1)' },
  { cc: 1, name: 'no', aliases: [], reads: ['OF'], meaning: 'no overflow (OF = 0)' },
  { cc: 2, name: 'b', aliases: ['c', 'nae'], reads: ['CF'], meaning: 'below, unsigned (CF = 1)' },
  { cc: 3, name: 'ae', aliases: ['nb', 'nc'], reads: ['CF'], meaning: 'above or equal, unsigned (CF = 0)' },
  { cc: 4, name: 'e', aliases: ['z'], reads: ['ZF'], meaning: 'equal / zero (ZF = 1)' },
  { cc: 5, name: 'ne', aliases: ['nz'], reads: ['ZF'], meaning: 'not equal / not zero (ZF = 0)' },
  { cc: 6, name: 'be', aliases: ['na'], reads: ['CF', 'ZF'], meaning: 'below or equal, unsigned (CF = 1 or ZF = 1)' },
  { cc: 7, name: 'a', aliases: ['nbe'], reads: ['CF', 'ZF'], meaning: 'above, unsigned (CF = 0 and ZF = 0)' },
  { cc: 8, name: 's', aliases: [], reads: ['SF'], meaning: 'sign (SF = 1)' },
  { cc: 9, name: 'ns', aliases: [], reads: ['SF'], meaning: 'no sign (SF = 0)' },
  { cc: 10, name: 'p', aliases: ['pe'], reads: ['PF'], meaning: 'parity even (PF = 1)' },
  { cc: 11, name: 'np', aliases: ['po'], reads: ['PF'], meaning: 'parity odd (PF = 0)' },
  { cc: 12, name: 'l', aliases: ['nge'], reads: ['SF', 'OF'], meaning: 'less, signed (SF ≠ OF)' },
  { cc: 13, name: 'ge', aliases: ['nl'], reads: ['SF', 'OF'], meaning: 'greater or equal, signed (SF = OF)' },
  { cc: 14, name: 'le', aliases: ['ng'], reads: ['ZF', 'SF', 'OF'], meaning: 'less or equal, signed (ZF = 1 or SF ≠ OF)' },
  { cc: 15, name: 'g', aliases: ['nle'], reads: ['ZF', 'SF', 'OF'], meaning: 'greater, signed (ZF = 0 and SF = OF)' },
];
for (const c of CONDITIONS) {
  const r = 'r:' + c.reads.join(',');
  def('j' + c.name, 'control', `Jumps if ${c.meaning}.`, r, CONTROL_FLOW, ['rel8: 70+cc rel8', 'rel32: 0f 80+cc rel32'], { handler: 'jcc', cc: c.cc, aliases: c.aliases.map((a) => 'j' + a), ends: true });
  // ModRM.reg is ignored by real CPUs: /1–/7 are undocumented aliases of /0
  def('set' + c.name, 'bit', `Sets the byte to 1 if ${c.meaning}, else 0.`, r, INNOCUOUS, ['rm8: 0f 90+cc /0', ...[1, 2, 3, 4, 5, 6, 7].map((d) => `rm8: 0f 90+cc /${d} !d`)], { handler: 'setcc', cc: c.cc, defaultMem: 8, aliases: c.aliases.map((a) => 'set' + a) });
  def('cmov' + c.name, 'data', `Moves the source to the destination if ${c.meaning}.`, r, INNOCUOUS, ['r16,rm16: o16 0f 40+cc /r', 'r32,rm32: o32 0f 40+cc /r'], { handler: 'cmovcc', cc: c.cc, aliases: c.aliases.map((a) => 'cmov' + a) });
}

// ---- control transfer
const FAR_TRANSFER = (what: string): Partial<VirtFacts> => critical('protection-system',
  `${what} compares CPL, DPL and RPL of the selectors and gates against the real CPL: from a guest kernel deprivileged to CPL 1 or 3 it faults, takes a different privilege path, or loads selectors with a different RPL than at CPL 0. No trap tells the VMM.`,
  nopv('No hypercall: a Xen guest uses its ring-1 flat selectors and avoids far transfers to ring 0 (a task switch exits TASK_SWITCH (9) under VT-x).'),
  { kind: 'none', note: 'no exit at CPL 0 in VMX non-root operation, except TASK_SWITCH (9) when the transfer switches tasks' });
def('jmp', 'control', 'Jumps to the target (short, near, indirect, or far through a selector).', '', CONTROL_FLOW, [
  'rel8: eb rel8', 'rel32: e9 rel32', 'rm32: o32 ff /4', 'rm16: o16 ff /4', 'far16:32: ea ptr', 'm16:32: ff /5',
], { att: ['ljmp', 'ljmpl'], defaultMem: 32, formVirt: { 'far16:32': FAR_TRANSFER('A far JMP'), 'm16:32': FAR_TRANSFER('A far JMP') }, ends: true, formCpu: { 'far16:32': { intercept: 'FAR' }, 'm16:32': { intercept: 'FAR' } } });
def('call', 'control', 'Pushes the return address and jumps to the target (near, indirect or far).', '', CONTROL_FLOW, [
  'rel32: e8 rel32', 'rm32: o32 ff /2', 'rm16: o16 ff /2', 'far16:32: 9a ptr', 'm16:32: ff /3',
], { att: ['lcall', 'lcalll', 'calll'], defaultMem: 32, formVirt: { 'far16:32': FAR_TRANSFER('A far CALL'), 'm16:32': FAR_TRANSFER('A far CALL') }, ends: true, formCpu: { 'far16:32': { intercept: 'FAR' }, 'm16:32': { intercept: 'FAR' } } });
def('ret', 'control', 'Returns to the address on the stack (and releases imm16 more bytes).', '', CONTROL_FLOW, [': c3', 'imm16: c2 iw'], { aliases: ['retn'], att: ['retl'], ends: true });
def('retf', 'control', 'Far return: pops EIP and CS (and releases imm16 more bytes).', '', FAR_TRANSFER('A far RET') as VirtFacts, [': cb', 'imm16: ca iw'], { att: ['lret', 'lretl'], intercept: 'FAR', ends: true });
def('loop', 'control', 'Decrements ECX and jumps if ECX ≠ 0.', '', CONTROL_FLOW, ['rel8: e2 rel8'], { ends: true });
def('loope', 'control', 'Decrements ECX and jumps if ECX ≠ 0 and ZF = 1.', 'r:ZF', CONTROL_FLOW, ['rel8: e1 rel8'], { aliases: ['loopz'], ends: true });
def('loopne', 'control', 'Decrements ECX and jumps if ECX ≠ 0 and ZF = 0.', 'r:ZF', CONTROL_FLOW, ['rel8: e0 rel8'], { aliases: ['loopnz'], ends: true });
def('jecxz', 'control', 'Jumps if ECX = 0.', '', CONTROL_FLOW, ['rel8: a32 e3 rel8'], { ends: true });
def('jcxz', 'control', 'Jumps if CX = 0 (16-bit address size).', '', CONTROL_FLOW, ['rel8: a16 e3 rel8'], { ends: true });

// ---- interrupts
const INT_FACTS = critical('protection-system',
  'INT n checks the gate DPL against the real CPL: a guest kernel at CPL 1/3 calling a gate with DPL 0 gets #GP instead of the handler, and the stack switch goes to the VMM\'s ring-0 stack. The VMM sees a fault, not the software interrupt it was.',
  nopv('Register the handler with set_trap_table (0); Xen installs vector 0x80 as a direct trap, so system calls need no rewrite.'),
  { kind: 'none', note: 'delivered through the guest IDT; a VM exit (EXCEPTION_NMI, 0) only if the exception bitmap asks for it' });
def('int', 'interrupt', 'Software interrupt through the IDT gate imm8.', 'w:IF,TF,NT,RF,VM', INT_FACTS, ['imm8u: cd ib'], { intercept: 'INT', ends: true });
def('int3', 'interrupt', 'Breakpoint trap (#BP, vector 3), one byte.', 'w:IF,TF,NT,RF,VM', { ...INNOCUOUS, bt: BT_RAISES, vmExit: exitC('exception bitmap bit 3', 'EXCEPTION_NMI', 0) }, [': cc'], { intercept: 'INT', ends: true });
def('int1', 'interrupt', 'Debug trap (#DB, vector 1) without the DPL check of INT n, one byte (ICEBP).', 'w:IF,TF,NT,RF,VM', { ...INNOCUOUS, bt: BT_RAISES, vmExit: exitC('exception bitmap bit 1', 'EXCEPTION_NMI', 0) }, [': f1'], { aliases: ['icebp'], intercept: 'INT', ends: true });
def('bound', 'interrupt', 'Raises #BR (vector 5) when the signed index is outside the lower/upper bound pair in memory.', '', { ...INNOCUOUS, bt: BT_RAISES, vmExit: exitC('exception bitmap bit 5', 'EXCEPTION_NMI', 0) }, ['r16,m: o16 62 /r', 'r32,m: o32 62 /r']);
def('into', 'interrupt', 'Raises #OF (vector 4) if OF = 1.', 'r:OF', { ...INNOCUOUS, bt: BT_RAISES, vmExit: exitC('exception bitmap bit 4', 'EXCEPTION_NMI', 0) }, [': ce'], { intercept: 'INT', ends: true });
const IRET_FACTS = critical(undefined,
  'IRET restores EFLAGS with the same silent rule as POPF: IF only if CPL ≤ IOPL, IOPL only at CPL 0. A deprivileged guest\'s IRET does not restore its virtual IF, and returning to "ring 0" selectors from CPL 1 faults. Not in Robin & Irvine\'s list (Lawton\'s plex86 list includes it).',
  hc('iret', 'HYPERVISOR_iret (23): push EAX, the guest iret frame stays on the stack, Xen restores the virtual IF from it.'));
def('iretd', 'interrupt', 'Returns from an interrupt: pops EIP, CS, EFLAGS (and ESP, SS on a privilege change).', 'w:CF,PF,AF,ZF,SF,TF,IF,DF,OF,IOPL,NT,RF,AC', IRET_FACTS, [': o32 cf'], { aliases: ['iret'], att: ['iretl', 'iret'], intercept: 'IRET', ends: true });
def('iretw', 'interrupt', 'Returns from an interrupt with a 16-bit frame.', 'w:CF,PF,AF,ZF,SF,TF,IF,DF,OF,IOPL,NT', IRET_FACTS, [': o16 cf'], { att: ['iretw'], intercept: 'IRET', ends: true });
def('ud2', 'interrupt', 'Raises #UD (invalid opcode) on purpose.', '', { ...INNOCUOUS, bt: BT_RAISES, vmExit: exitC('exception bitmap bit 6', 'EXCEPTION_NMI', 0) }, [': 0f 0b'], { ends: true });

// ---- flags
def('cli', 'flag', 'Clears IF: maskable interrupts off.', 'w:IF', ioplSensitive('CLI is IOPL-sensitive: at CPL > IOPL it raises #GP, so the deprivileged guest traps and the VMM clears the virtual IF.', NO_EXIT,
  shm('mov byte [shared_info + 1], 1: evtchn_upcall_mask = 1 in vcpu_info (Linux xen_irq_disable), no hypercall.')), [': fa'], { intercept: 'CLI_STI', ends: true });
def('sti', 'flag', 'Sets IF: maskable interrupts on (after the next instruction).', 'w:IF', ioplSensitive('STI is IOPL-sensitive: at CPL > IOPL it raises #GP, so the deprivileged guest traps and the VMM sets the virtual IF.', { kind: 'none', note: 'interrupt-window exiting (primary bit 2) may exit right after it' },
  shm('mov byte [shared_info + 1], 0: evtchn_upcall_mask = 0, then if evtchn_upcall_pending force the callback with xen_version (Linux xen_irq_enable).')), [': fb'], { intercept: 'CLI_STI', ends: true });
def('clc', 'flag', 'Clears CF.', 'w:CF', INNOCUOUS, [': f8']);
def('stc', 'flag', 'Sets CF.', 'w:CF', INNOCUOUS, [': f9']);
def('cmc', 'flag', 'Complements CF.', 'r:CF w:CF', INNOCUOUS, [': f5']);
def('cld', 'flag', 'Clears DF: string instructions count up.', 'w:DF', INNOCUOUS, [': fc']);
def('std', 'flag', 'Sets DF: string instructions count down.', 'w:DF', INNOCUOUS, [': fd']);
def('lahf', 'flag', 'Loads SF, ZF, AF, PF, CF into AH.', 'r:SF,ZF,AF,PF,CF', INNOCUOUS, [': 9f']);
def('sahf', 'flag', 'Stores AH into SF, ZF, AF, PF, CF.', 'w:SF,ZF,AF,PF,CF', INNOCUOUS, [': 9e']);

// ---- conversions
def('cbw', 'convert', 'Sign-extends AL into AX.', '', INNOCUOUS, [': o16 98'], { att: ['cbtw'] });
def('cwde', 'convert', 'Sign-extends AX into EAX.', '', INNOCUOUS, [': o32 98'], { att: ['cwtl'] });
def('cwd', 'convert', 'Sign-extends AX into DX:AX.', '', INNOCUOUS, [': o16 99'], { att: ['cwtd'] });
def('cdq', 'convert', 'Sign-extends EAX into EDX:EAX.', '', INNOCUOUS, [': o32 99'], { att: ['cltd'] });

// ---- strings
const STR: Array<[string, number, string, string]> = [
  ['movs', 0xa4, 'Copies [ESI] to [EDI] and advances both', 'r:DF'],
  ['cmps', 0xa6, 'Compares [ESI] with [EDI] and advances both', 'r:DF w:*'],
  ['stos', 0xaa, 'Stores AL/AX/EAX to [EDI] and advances EDI', 'r:DF'],
  ['lods', 0xac, 'Loads [ESI] into AL/AX/EAX and advances ESI', 'r:DF'],
  ['scas', 0xae, 'Compares AL/AX/EAX with [EDI] and advances EDI', 'r:DF w:*'],
];
for (const [m, op, desc, fl] of STR) {
  const h = (x: number) => x.toString(16);
  def(m + 'b', 'string', desc + ' (bytes).', fl, INNOCUOUS, [`: ${h(op)}`], { att: [m + 'b'] });
  def(m + 'w', 'string', desc + ' (words).', fl, INNOCUOUS, [`: o16 ${h(op + 1)}`], { att: [m + 'w'] });
  def(m + 'd', 'string', desc + ' (dwords).', fl, INNOCUOUS, [`: o32 ${h(op + 1)}`], { att: [m + 'l'] });
}
const INS_FACTS = ioplSensitive('INS/OUTS are I/O instructions: at CPL > IOPL the TSS I/O permission bitmap decides, and a denied port raises #GP, so the VMM traps and emulates the device access.', IO_EXIT,
  emu('Native instruction → #GP → Xen emulates it within the domain\'s I/O permissions; for the console use console_io (CONSOLEIO_write).'));
def('insb', 'io', 'Reads a byte from port DX into [EDI] and advances EDI.', 'r:DF', INS_FACTS, [': 6c'], { intercept: 'IO', ends: true });
def('insw', 'io', 'Reads a word from port DX into [EDI] and advances EDI.', 'r:DF', INS_FACTS, [': o16 6d'], { intercept: 'IO', ends: true });
def('insd', 'io', 'Reads a dword from port DX into [EDI] and advances EDI.', 'r:DF', INS_FACTS, [': o32 6d'], { att: ['insl'], intercept: 'IO', ends: true });
def('outsb', 'io', 'Writes the byte at [ESI] to port DX and advances ESI.', 'r:DF', INS_FACTS, [': 6e'], { intercept: 'IO', ends: true });
def('outsw', 'io', 'Writes the word at [ESI] to port DX and advances ESI.', 'r:DF', INS_FACTS, [': o16 6f'], { intercept: 'IO', ends: true });
def('outsd', 'io', 'Writes the dword at [ESI] to port DX and advances ESI.', 'r:DF', INS_FACTS, [': o32 6f'], { att: ['outsl'], intercept: 'IO', ends: true });

// ---- I/O
def('in', 'io', 'Reads a byte, word or dword from an I/O port into AL/AX/EAX.', '', ioplSensitive(
  'IN is IOPL-sensitive: at CPL > IOPL the TSS I/O permission bitmap decides, and a denied port raises #GP, so the VMM traps and emulates the device.', IO_EXIT,
  emu('Native instruction → #GP → Xen emulates it within the domain\'s I/O permissions (there is no console input hypercall for a polled UART).')), [
  'al,imm8u: e4 ib', 'ax,imm8u: o16 e5 ib', 'eax,imm8u: o32 e5 ib', 'al,dx: ec', 'ax,dx: o16 ed', 'eax,dx: o32 ed',
], { intercept: 'IO' });
def('out', 'io', 'Writes AL/AX/EAX to an I/O port.', '', ioplSensitive(
  'OUT is IOPL-sensitive: at CPL > IOPL the TSS I/O permission bitmap decides, and a denied port raises #GP, so the VMM traps and emulates the device.', IO_EXIT,
  hc('console_io', 'A byte to COM1 (0x3F8) → console_io(CONSOLEIO_write, 1, &byte); a write to isa-debug-exit (0xF4) → sched_op(SCHEDOP_shutdown, &reason); other ports are emulated by Xen after the #GP.')), [
  'imm8u,al: e6 ib', 'imm8u,ax: o16 e7 ib', 'imm8u,eax: o32 e7 ib', 'dx,al: ee', 'dx,ax: o16 ef', 'dx,eax: o32 ef',
], { intercept: 'IO', ends: true });

// ---- system: descriptor tables
const SDT_WHY = (reg: string, extra: string) => `${reg} stores the real ${extra} even at CPL 3: there is only one, so the VMM relocates the guest's table and the guest sees the host's value instead of its own. No trap (unless CR4.UMIP).`;
def('sgdt', 'system', 'Stores GDTR (limit and base) to memory.', '', critical('sensitive-register', SDT_WHY('SGDT', 'GDTR (base and limit)'),
  emu('No Xen hypercall reads it back: the guest keeps the value it passed to set_gdt and uses that.'), DT_EXIT('GDTR_IDTR', 46)), ['m: 0f 01 /0'], { intercept: 'DESC_TABLE' });
def('sidt', 'system', 'Stores IDTR (limit and base) to memory.', '', critical('sensitive-register', SDT_WHY('SIDT', 'IDTR (base and limit)') + ' (the "Red Pill" VM-detection trick.)',
  emu('Linux leaves it native under Xen (it leaks); the guest should keep the table it passed to set_trap_table.'), DT_EXIT('GDTR_IDTR', 46)), ['m: 0f 01 /1'], { intercept: 'DESC_TABLE' });
def('sldt', 'system', 'Stores the LDTR selector.', '', critical('sensitive-register', SDT_WHY('SLDT', 'LDTR selector'),
  emu('The guest keeps the LDT it set with mmuext_op(MMUEXT_SET_LDT) and uses that value.'), DT_EXIT('LDTR_TR', 47)), ['m16: 0f 00 /0', 'r16: o16 0f 00 /0', 'r32: o32 0f 00 /0'], { defaultMem: 16, intercept: 'DESC_TABLE' });
def('str', 'system', 'Stores the task register selector.', '', critical('protection-system', 'STR stores the real TR selector even at CPL 3, which reveals the VMM\'s task state and RPL/CPL. No trap (unless CR4.UMIP).',
  emu('Linux xen_store_tr returns 0: replace with `xor reg, reg` (or the guest\'s own cached selector).'), DT_EXIT('LDTR_TR', 47)), ['m16: 0f 00 /1', 'r16: o16 0f 00 /1', 'r32: o32 0f 00 /1'], { defaultMem: 16, intercept: 'DESC_TABLE' });
def('smsw', 'system', 'Stores the machine status word (CR0 bits 15:0).', '', critical('sensitive-register', 'SMSW stores the real CR0[15:0] (PE, MP, EM, TS, ET, NE) at any CPL: a guest sees the host\'s PE and TS instead of its virtual CR0. No trap (unless CR4.UMIP).',
  emu('Use the CR0 value the guest cached (Linux xen_read_cr0).'), { kind: 'none', note: 'reads the CR0 read shadow bits for host-owned bits' }), ['m16: 0f 01 /4', 'r16: o16 0f 01 /4', 'r32: o32 0f 01 /4'], { defaultMem: 16, intercept: 'SMSW' });
def('lgdt', 'system', 'Loads GDTR from a 6-byte limit/base in memory.', '', privileged('LGDT is CPL-0 only: #GP at CPL 1/3; the VMM traps and installs a shadow GDT.', DT_EXIT('GDTR_IDTR', 46),
  hc('set_gdt', 'set_gdt (2): the list of machine frames of the (read-only) GDT and the entry count.')), ['m: 0f 01 /2'], { att: ['lgdtl'], intercept: 'DESC_TABLE', ends: true });
def('lidt', 'system', 'Loads IDTR from a 6-byte limit/base in memory.', '', privileged('LIDT is CPL-0 only: #GP at CPL 1/3; the VMM traps and installs its own IDT for the guest.', DT_EXIT('GDTR_IDTR', 46),
  hc('set_trap_table', 'set_trap_table (0): an array of trap_info {vector, flags, cs, address} ending with address 0.')), ['m: 0f 01 /3'], { att: ['lidtl'], intercept: 'DESC_TABLE', ends: true });
def('lldt', 'system', 'Loads LDTR from a selector.', '', privileged('LLDT is CPL-0 only: #GP at CPL 1/3.', DT_EXIT('LDTR_TR', 47),
  hc('mmuext_op', 'mmuext_op (26) with MMUEXT_SET_LDT (13): linear address and entry count.')), ['rm16: 0f 00 /2', 'r32: 0f 00 /2 !d'], { defaultMem: 16, intercept: 'DESC_TABLE', ends: true });
def('ltr', 'system', 'Loads the task register from a selector (marks the TSS busy).', '', privileged('LTR is CPL-0 only: #GP at CPL 1/3.', DT_EXIT('LDTR_TR', 47),
  nopv('No-op under Xen (Linux load_tr_desc is paravirt_nop); the ring-0 stack is set with stack_switch (3).')), ['rm16: 0f 00 /3', 'r32: 0f 00 /3 !d'], { defaultMem: 16, intercept: 'DESC_TABLE', ends: true });
def('lmsw', 'system', 'Loads CR0 bits 3:0 from the operand (cannot clear PE).', '', privileged('LMSW is CPL-0 only: #GP at CPL 1/3.', CR_EXIT,
  hc('fpu_taskswitch', 'Only TS matters to a PV guest: fpu_taskswitch(TS).')), ['rm16: 0f 01 /6'], { defaultMem: 16, intercept: 'LMSW', ends: true });
def('clts', 'system', 'Clears CR0.TS.', '', privileged('CLTS is CPL-0 only: #GP at CPL 1/3.', exitC('CR0 guest/host mask bit TS', 'CR_ACCESS', 28),
  hc('fpu_taskswitch', 'fpu_taskswitch(0) (5).')), [': 0f 06'], { intercept: 'CLTS' });
def('invlpg', 'system', 'Invalidates the TLB entry of the page that holds the operand.', '', privileged('INVLPG is CPL-0 only: #GP at CPL 1/3; with shadow paging the VMM drops its shadow entry.', exitC('INVLPG exiting (primary bit 9)', 'INVLPG', 14),
  hc('mmuext_op', 'mmuext_op (26) with MMUEXT_INVLPG_LOCAL (7) and the linear address; or update_va_mapping (14) with UVMF_INVLPG.')), ['m: 0f 01 /7'], { intercept: 'INVLPG', ends: true });
def('invd', 'system', 'Invalidates the caches without writing them back.', '', privileged('INVD is CPL-0 only: #GP at CPL 1/3.', exitU('INVD', 13),
  emu('Emulated by Xen after the #GP; mmuext_op(MMUEXT_FLUSH_CACHE) is the explicit form.')), [': 0f 08'], { intercept: 'CACHE' });
def('wbinvd', 'system', 'Writes back and invalidates the caches.', '', privileged('WBINVD is CPL-0 only: #GP at CPL 1/3.', exitC('WBINVD exiting (secondary bit 6)', 'WBINVD', 54),
  hc('mmuext_op', 'mmuext_op (26) with MMUEXT_FLUSH_CACHE (12).')), [': 0f 09'], { intercept: 'CACHE' });
def('hlt', 'system', 'Halts until the next interrupt.', '', privileged('HLT is CPL-0 only: #GP at CPL 1/3; the VMM traps it and deschedules the virtual CPU.', exitC('HLT exiting (primary bit 7)', 'HLT', 12),
  hc('sched_op', 'sched_op (29) with SCHEDOP_block (1) — it atomically re-enables event delivery, like `sti; hlt`; with events masked, vcpu_op(VCPUOP_down).')), [': f4'], { intercept: 'HLT', ends: true });
def('rdmsr', 'system', 'Reads the MSR selected by ECX into EDX:EAX.', '', privileged('RDMSR is CPL-0 only: #GP at CPL 1/3.', exitC('use MSR bitmaps (primary bit 28) and the read bitmap', 'MSR_READ', 31),
  emu('Native → #GP → Xen pv_emulate_privileged_op returns the virtual MSR.')), [': 0f 32'], { intercept: 'RDMSR' });
def('wrmsr', 'system', 'Writes EDX:EAX to the MSR selected by ECX.', '', privileged('WRMSR is CPL-0 only: #GP at CPL 1/3.', exitC('use MSR bitmaps (primary bit 28) and the write bitmap', 'MSR_WRITE', 32),
  emu('Native → #GP → Xen emulates it (SYSENTER MSRs are set through callbacks instead).')), [': 0f 30'], { intercept: 'WRMSR', ends: true });
def('rdpmc', 'system', 'Reads the performance counter selected by ECX into EDX:EAX.', '', privileged('RDPMC raises #GP at CPL > 0 unless CR4.PCE = 1.', exitC('RDPMC exiting (primary bit 11)', 'RDPMC', 15),
  emu('Native → #GP → emulated by Xen.')), [': 0f 33'], { intercept: 'RDPMC' });
def('rdtsc', 'system', 'Reads the time-stamp counter into EDX:EAX.', '', { ...INNOCUOUS, why: 'Unprivileged unless CR4.TSD = 1; reveals real time to a guest.',
  bt: btVirtual('the callout returns the virtual time-stamp counter (the VM\'s time, as the VMM keeps it), not the host\'s'), vmExit: exitC('RDTSC exiting (primary bit 12)', 'RDTSC', 16) }, [': 0f 31'], { intercept: 'RDTSC' });
def('cpuid', 'system', 'Returns processor identification for leaf EAX (sub-leaf ECX) in EAX, EBX, ECX, EDX.', '', {
  ...INNOCUOUS, why: 'Unprivileged; reveals the host CPU (Xen PV guests use the XEN_EMULATE_PREFIX form 0f 0b 78 65 6e to have it emulated).',
  bt: btVirtual('the callout returns the virtual CPU\'s identification and feature bits (what the VMM lets the guest see), not the host\'s'),
  vmExit: exitU('CPUID', 10), pv: emu('XEN_EMULATE_PREFIX cpuid (ud2; "xen"; cpuid): Xen\'s #UD handler emulates it with masked features.'),
}, [': 0f a2'], { intercept: 'CPUID' });
def('sysenter', 'control', 'Fast system call to the ring-0 entry in the SYSENTER MSRs.', '', { ...INNOCUOUS, why: 'Unprivileged entry path; hard-wires the ring-0 target from the MSRs.', bt: btVirtual('in translated kernel code the callout enters the guest\'s entry point from its virtual SYSENTER MSRs (the real ones hold the VMM\'s); user code runs direct and its SYSENTER hands the kernel entry to the translator') }, [': 0f 34'], { intercept: 'SYSENTER', ends: true });
def('sysexit', 'control', 'Fast return to ring 3 (EIP = EDX, ESP = ECX).', '', privileged('SYSEXIT is CPL-0 only: #GP at CPL 1/3.', NO_EXIT,
  hc('iret', 'Linux xen_sysexit returns to user space through HYPERVISOR_iret (23).')), [': 0f 35'], { intercept: 'SYSENTER', ends: true });
def('vmcall', 'system', 'Calls the hypervisor (VM exit); Popek\'s paravirtual ABI: EAX = hypercall number, arguments in EBX, ECX, EDX, ESI, EDI.', '', {
  ...INNOCUOUS, why: 'Outside VMX non-root operation it raises #UD; in Popek\'s paravirtual mode it is the hypercall instruction.',
  bt: { kind: 'ident', note: 'outside VMX operation it raises #UD, which reaches the VMM first and is reflected to the guest\'s handler' }, vmExit: exitU('VMCALL', 18),
}, [': 0f 01 c1'], { intercept: 'VMCALL', ends: true });
def('lar', 'system', 'Loads the access rights of the descriptor a selector names (ZF = 1 if visible).', 'w:ZF', critical('protection-system',
  'LAR checks the descriptor against the real CPL and RPL: a guest kernel at CPL 1/3 probing its ring-0 descriptors gets ZF = 0 (failure) silently, and it sees the real descriptor contents.',
  nopv('No hypercall: the guest should read its own (read-only) descriptor table instead.')), [
  'r16,rm16: o16 0f 02 /r', 'r32,r16/32/m16: o32 0f 02 /r',
], { intercept: 'SEG_INFO' });
def('lsl', 'system', 'Loads the segment limit of the descriptor a selector names (ZF = 1 if visible).', 'w:ZF', critical('protection-system',
  'LSL checks the descriptor against the real CPL and RPL: from CPL 1/3 ring-0 descriptors silently give ZF = 0, and the limit revealed is the real one.',
  nopv('No hypercall: the guest should read its own (read-only) descriptor table instead.')), [
  'r16,rm16: o16 0f 03 /r', 'r32,r16/32/m16: o32 0f 03 /r',
], { intercept: 'SEG_INFO' });
def('verr', 'system', 'Sets ZF if the segment is readable from the current privilege level.', 'w:ZF', critical('protection-system',
  'VERR answers "readable at the current privilege level?" for the real CPL: a deprivileged guest kernel gets a different answer than at CPL 0, silently.', nopv('No hypercall: decide from the guest\'s own descriptor table.')), ['rm16: 0f 00 /4'], { defaultMem: 16, intercept: 'SEG_INFO' });
def('verw', 'system', 'Sets ZF if the segment is writable from the current privilege level.', 'w:ZF', critical('protection-system',
  'VERW answers "writable at the current privilege level?" for the real CPL: a deprivileged guest kernel gets a different answer than at CPL 0, silently.', nopv('No hypercall: decide from the guest\'s own descriptor table.')), ['rm16: 0f 00 /5'], { defaultMem: 16, intercept: 'SEG_INFO' });
def('arpl', 'system', 'Raises the RPL of a selector to at least that of the source (ZF = 1 if changed).', 'w:ZF', {
  ...INNOCUOUS, bt: { kind: 'ident', note: 'it compares two RPL fields: nothing in it depends on the CPL or on privileged state' },
}, ['rm16,r16: 63 /r'], { intercept: 'SEG_INFO' });

// ---- misc
// 0F 1F /0 is the documented multi-byte NOP; the rest of 0F 18–1F are hint NOPs (reserved, executed
// as NOP), except 0F 18 /0–/3 with a memory operand, which are the prefetch hints below.
const HINT_NOPS: string[] = [];
for (let op = 0x18; op <= 0x1f; op++) {
  for (let d = 0; d < 8; d++) {
    if (op === 0x1f && d === 0) continue;
    HINT_NOPS.push(`rm16: o16 0f ${op.toString(16)} /${d} !d`, `rm32: o32 0f ${op.toString(16)} /${d} !d`);
  }
}
def('nop', 'misc', 'No operation (with an operand: the multi-byte NOP, nothing is accessed).', '', INNOCUOUS, [': 90', 'rm16: o16 0f 1f /0', 'rm32: o32 0f 1f /0', ...HINT_NOPS]);
for (const [m, d, what] of [['prefetchnta', 0, 'non-temporal (minimising cache pollution)'], ['prefetcht0', 1, 'into all cache levels'], ['prefetcht1', 2, 'into level 2 and up'], ['prefetcht2', 3, 'into level 3 and up']] as const) {
  def(m, 'misc', `Hints that the line holding the operand be fetched ${what}; no fault, no architectural effect.`, '', INNOCUOUS, [`m: 0f 18 /${d}`]);
}
// 0F 0D: the AMD/PRFCHW prefetch hints (memory operand only)
def('prefetch', 'misc', 'Hints that the line holding the operand be fetched (3DNow!/PRFCHW); no fault, no architectural effect.', '', INNOCUOUS, ['m: 0f 0d /0', ...[3, 4, 5, 6, 7].map((d) => `m: 0f 0d /${d} !d`)]);
def('prefetchw', 'misc', 'Hints that the line holding the operand be fetched for writing; no fault, no architectural effect.', '', INNOCUOUS, ['m: 0f 0d /1']);
def('prefetchwt1', 'misc', 'Hints that the line be fetched for writing into level 2 and up; no fault, no architectural effect.', '', INNOCUOUS, ['m: 0f 0d /2']);
def('wait', 'misc', 'Waits for pending unmasked x87 exceptions (#NM when CR0.MP and CR0.TS are both set).', '', INNOCUOUS, [': 9b'], { aliases: ['fwait'] });
def('pause', 'misc', 'Spin-loop hint (F3 90).', '', { ...INNOCUOUS, vmExit: exitC('PAUSE exiting (primary bit 30) or PAUSE-loop exiting', 'PAUSE_INSTRUCTION', 40) }, [': mp=f3 90']);

// ---- x87 FPU (core/isa/x87.ts); MMX, SSE, SSE2 (core/isa/simd.ts): defined on first need
/** More forms for a row that exists (SSE2 MOVSD/CMPSD share their names with the string instructions). */
function more(mnemonic: string, forms: string[]): void {
  const info = compiled(BY_NAME.get(mnemonic)!);
  for (const f of forms.map((t) => compileForm(t))) { f.exactPrefixes = true; f.handler = 'simd'; info.forms.push(f); }
}
/**
 * Names the x87 and SIMD rows define or extend (a pass that only records them: no form is parsed),
 * so that a look-up knows when it needs them.
 */
/** LATE_NAMES as the build computed it from this table (scripts/isaTableDefines.mjs); undefined from sources. */
declare const POPEK_LATE_ROW_NAMES: readonly string[] | undefined;
const LATE_NAMES = new Set<string>(typeof POPEK_LATE_ROW_NAMES !== 'undefined' ? POPEK_LATE_ROW_NAMES : undefined);
if (typeof POPEK_LATE_ROW_NAMES === 'undefined') {
  const name: DefFn = (mnemonic, _c, _d, _f, _v, _forms, extra) => {
    LATE_NAMES.add(mnemonic);
    for (const a of extra?.aliases ?? []) LATE_NAMES.add(a);
    return { mnemonic, att: [], description: '', category: 'misc', forms: [], flags: flags(''), virt: INNOCUOUS };
  };
  defineX87(name, INNOCUOUS);
  defineSimd(name, (mnemonic) => { LATE_NAMES.add(mnemonic); }, INNOCUOUS);
}
/** The names that define the late rows when looked up (tests check the list against the rows). */
export function lateRowNames(): ReadonlySet<string> { return LATE_NAMES; }
/** Whether the late rows are defined; `tableGeneration` counts their definition (the form index rebuilds then). */
let lateDefined = false;
export let tableGeneration = 0;
/** instructionInfo's last question and answer (forgotten when the late rows come). */
let lastAsked: string | undefined;
let lastAnswer: InstructionInfo | undefined;
/**
 * Defines the x87 and SIMD rows (a quarter of the table's construction): a `popek run` of a guest
 * that uses neither never builds them. Appended in the same order as when they were defined at load.
 */
export function defineLateRows(): void {
  if (lateDefined) return;
  lateDefined = true;
  compileLater = false;
  defineX87(def, INNOCUOUS);
  defineSimd(def, more, INNOCUOUS);
  tableGeneration++;
  lastAsked = undefined;
}
/**
 * Opcode keys (formIndex: 0x100 | b for 0f b) under which the late rows have forms: WAIT-prefixed
 * x87 spellings (9b), d8–df, and the two-byte MMX/SSE ranges. test/isa/table.test.ts checks that
 * every late form's key is one of these.
 */
export function isLateOpcode(key: number): boolean {
  if (key < 0x100) return key === 0x9b || (key >= 0xd8 && key <= 0xdf);
  const b = key & 0xff;
  return (b >= 0x10 && b <= 0x17) || (b >= 0x28 && b <= 0x2f) || (b >= 0x50 && b <= 0x7f) || b === 0xae || (b >= 0xc2 && b <= 0xc6) || b >= 0xd0;
}

// ================================================================= lookups
/** Instruction prefixes the assembler accepts before a mnemonic, with their bytes. */
export const PREFIXES: Readonly<Record<string, number>> = Object.assign(Object.create(null), {
  lock: 0xf0, rep: 0xf3, repe: 0xf3, repz: 0xf3, repne: 0xf2, repnz: 0xf2,
});

/** The entry for an Intel mnemonic or alias (case-insensitive), or undefined. */
export function instructionInfo(mnemonic: string): InstructionInfo | undefined {
  // the assembler asks for one line's mnemonic three times in a row (parser, purity, encoder)
  if (mnemonic === lastAsked) return lastAnswer;
  const m = mnemonic.toLowerCase();
  if (!lateDefined && LATE_NAMES.has(m)) defineLateRows();
  const info = BY_NAME.get(m);
  lastAnswer = info === undefined || UNCOMPILED.size === 0 ? info : compiled(info);
  lastAsked = mnemonic;
  return lastAnswer;
}
/**
 * The rows defined at load per form-index key, as row numbers, computed at build time from this very
 * table by `rowNumbersByOpcodeKey` (esbuild.mjs, scripts/isaTableDefines.mjs): a bundle starts without the
 * scan of every form's text. Undefined when running from sources (tsc's out/, tsx) or in a watch build.
 */
declare const POPEK_ROWS_BY_OPCODE: ReadonlyArray<readonly number[] | null> | undefined;

/** Rows per form-index key (opcodeKeys.ts), in table order, for the table generation they were listed at. */
let rowsByKey: InstructionInfo[][] | undefined;
let rowsByKeyGeneration = -1;
const NO_ROWS: readonly InstructionInfo[] = Object.freeze([]);

/**
 * The rows with a form under an opcode key (0x00–0xff, 0x100 | b for 0F b), compiled, in table order:
 * the form index asks for the opcodes the CPU decodes, and only their rows are compiled (a row not
 * compiled yet is placed by the opcode bytes of its form texts). Late rows are listed once defined.
 */
export function rowsWithOpcode(key: number): readonly InstructionInfo[] {
  if (rowsByKey === undefined || rowsByKeyGeneration !== tableGeneration) {
    rowsByKey = tableGeneration === 0 && typeof POPEK_ROWS_BY_OPCODE !== 'undefined' ? rowsOfNumbers(POPEK_ROWS_BY_OPCODE) : scanRowsByKey();
    rowsByKeyGeneration = tableGeneration;
  }
  const rows = rowsByKey[key];
  if (rows === undefined) return NO_ROWS;
  if (UNCOMPILED.size !== 0) for (const info of rows) compiled(info);
  return rows;
}

function rowsOfNumbers(numbers: ReadonlyArray<readonly number[] | null>): InstructionInfo[][] {
  const byKey: InstructionInfo[][] = [];
  for (let key = 0; key < numbers.length; key++) {
    const list = numbers[key];
    if (list) byKey[key] = list.map((n) => TABLE[n]);
  }
  return byKey;
}

/** Rows per key from the forms: compiled ones by their opcode, the others by their texts' opcode bytes. */
function scanRowsByKey(): InstructionInfo[][] {
  const byKey: InstructionInfo[][] = [];
  let info: InstructionInfo;
  const add = (key: number) => {
    const rows = byKey[key] ??= [];
    if (rows[rows.length - 1] !== info) rows.push(info);
  };
  for (info of TABLE) {
    const source = UNCOMPILED.get(info);
    if (source === undefined) {
      for (const f of info.forms) forEachOpcodeKey(f.opcode, f.plusReg === true, f.plusCc ? f.cc ?? 0 : 0, add);
    } else {
      for (const text of source.forms) {
        const { op, plusReg, plusCc } = opcodeOfFormText(text);
        forEachOpcodeKey(op, plusReg, plusCc ? source.extra.cc ?? 0 : 0, add);
      }
    }
  }
  return byKey;
}

/**
 * The rows defined at load per form-index key, as row numbers (null: no row): what the bundler
 * computes once (esbuild.mjs) so that a bundle's `rowsWithOpcode` reads it instead of scanning.
 * Asked of a freshly loaded table (the late rows not defined).
 */
export function rowNumbersByOpcodeKey(): Array<number[] | null> {
  if (lateDefined) throw new Error('isa table: rowNumbersByOpcodeKey needs a freshly loaded table');
  const number = new Map(TABLE.map((info, n) => [info, n]));
  return Array.from(scanRowsByKey(), (rows) => (rows ? rows.map((info) => number.get(info)!) : null));
}

/** Every entry, in table order. */
export function allInstructions(): readonly InstructionInfo[] { defineLateRows(); compileAll(); return TABLE; }
/** The entries defined so far (the late rows once something needed them): for the form index, which adds them when they come. */
export function definedInstructions(): readonly InstructionInfo[] { compileAll(); return TABLE; }

let attIndex: Map<string, { info: InstructionInfo; size?: 8 | 16 | 32 | 64 | 80; far?: boolean }> | undefined;
/** The entry for an AT&T spelling ('popfl', 'ljmp', 'movzbl', 'fildl' …) with the operand size its suffix implies. */
export function attInstructionInfo(spelling: string): { info: InstructionInfo; size?: 8 | 16 | 32 | 64 | 80; far?: boolean } | undefined {
  if (!attIndex) {
    defineLateRows();
    compileAll();
    attIndex = new Map();
    for (const info of TABLE) {
      for (const a of info.att) {
        if (attIndex.has(a) && a !== info.mnemonic) continue;
        const far = /^l(jmp|call|ret)/.test(a) || undefined;
        let size: 8 | 16 | 32 | 64 | 80 | undefined = info.attSizes?.[a];
        if (size === undefined && a !== info.mnemonic && !far && info.category !== 'x87' && info.category !== 'simd') {
          const s = a[a.length - 1];
          size = s === 'b' ? 8 : s === 'w' ? 16 : s === 'l' ? 32 : undefined;
        }
        attIndex.set(a, { info, size, far });
      }
      for (const al of info.aliases ?? []) if (!attIndex.has(al)) attIndex.set(al, { info });
    }
  }
  return attIndex.get(spelling.toLowerCase());
}

/** Virtualization facts of a mnemonic, or of one of its forms (a form's overrides win). */
export function virtFactsFor(info: InstructionInfo, form?: EncodingForm): VirtFacts {
  return form?.virt ? { ...info.virt, ...form.virt } : info.virt;
}
