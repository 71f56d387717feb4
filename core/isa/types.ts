/*
 * Schema of THE x86 instruction table (core/isa/table.ts). One entry per Intel mnemonic; the
 * assembler, the disassembler, the language server and the hypervisor all read these facts.
 * Nothing here depends on anything else in the project.
 */

/** Execution technique (SPEC §4). */
export type Mode = 'native' | 'trap-and-emulate' | 'binary-translation' | 'paravirtual' | 'hardware-assisted';
export const MODES: readonly Mode[] = ['native', 'trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted'];

/** Virtualization class (SPEC §7). */
export type VirtClass = 'critical' | 'privileged' | 'iopl-sensitive' | 'innocuous';

/** Robin & Irvine (2000) grouping of the critical instructions. */
export type RobinIrvineGroup =
  | 'sensitive-register'   // §1a: read or change sensitive registers (SGDT, SIDT, SLDT, SMSW, PUSHF, POPF)
  | 'protection-system';   // §1b: reference the protection / relocation system (LAR, LSL, VERR, VERW, Sreg, far transfers, STR)

export type Category =
  | 'data' | 'stack' | 'arith' | 'logic' | 'shift' | 'bit' | 'string' | 'control' | 'interrupt'
  | 'flag' | 'convert' | 'io' | 'system' | 'segment' | 'misc'
  /** x87 floating point; MMX and SSE/SSE2 (decoded and assembled; SSE execution raises #UD). */
  | 'x87' | 'simd';

/** EFLAGS bits by name ('IOPL' is the 2-bit field). */
export type Flag = 'CF' | 'PF' | 'AF' | 'ZF' | 'SF' | 'TF' | 'IF' | 'DF' | 'OF' | 'IOPL' | 'NT' | 'RF' | 'VM' | 'AC' | 'VIF' | 'VIP' | 'ID';

export interface FlagEffects {
  read: Flag[];
  written: Flag[];
  /** Left undefined by the instruction (the CPU and tests mask them). */
  undefined: Flag[];
}

/**
 * Operand pattern of one encoding form (NASM insns.dat style):
 *  r8/r16/r32 general register; rm8/rm16/rm32 register or memory; m (any-size memory, e.g. lea/lgdt),
 *  m8/m16/m32/m64 sized memory; al/ax/eax/cl/dx fixed registers; imm8/imm16/imm32 immediate;
 *  simm8 immediate that fits a signed byte (the optimiser's short form); one the constant 1;
 *  rel8/rel32 branch target; sreg segment register (cs only where it is legal); cr/dr control/debug
 *  register; moffs8/16/32 direct memory offset (A0–A3); far16:32 `seg:off` immediate pointer;
 *  imm8u unsigned port/vector byte.
 */
export type OperandPattern =
  | 'r8' | 'r16' | 'r32' | 'rm8' | 'rm16' | 'rm32' | 'm' | 'm8' | 'm16' | 'm32' | 'm64' | 'm16:32'
  | 'al' | 'ax' | 'eax' | 'cl' | 'dx' | 'one' | 'imm8' | 'imm16' | 'imm32' | 'simm8' | 'imm8u'
  | 'rel8' | 'rel32' | 'sreg' | 'sreg-no-cs' | 'cs' | 'ds' | 'es' | 'fs' | 'gs' | 'ss' | 'cr' | 'dr'
  | 'moffs8' | 'moffs16' | 'moffs32' | 'far16:32'
  /** LAR/LSL source: a 16- or 32-bit register, or memory of any (16-bit) size. */
  | 'r16/32/m16'
  /** x87: ST0 itself, any ST(i), an 80-bit memory operand (tword). */
  | 'st0' | 'sti' | 'm80'
  /** MMX and SSE: an MMX / XMM register, or that register or memory of the given size. */
  | 'mm' | 'xmm' | 'm128' | 'mm/m32' | 'mm/m64' | 'xmm/m32' | 'xmm/m64' | 'xmm/m128';

/** One encoding form of a mnemonic, compiled from the compact text in the table. */
export interface EncodingForm {
  /** Operand patterns in Intel order. */
  operands: OperandPattern[];
  /**
   * The encoding text as typed in the table, e.g. `o32 83 /0 ib,s`, `0f 01 /2`, `o16 b8+r iw`,
   * `70+cc rel8` (see the comment at the top of table.ts).
   */
  encoding: string;
  /** Operand-size prefix needed in 32-bit code: 16 → 0x66; 32/undefined → none. */
  opsize?: 16 | 32;
  /** Opcode bytes (without prefixes); the last one gets +r / +cc added when `plusReg`/`plusCc`. */
  opcode: number[];
  /** ModRM: 'r' (reg field = register operand) or a fixed /digit, or undefined when none. */
  modrm?: 'r' | number;
  plusReg?: boolean;
  plusCc?: boolean;
  /** Immediate sizes in order (bytes): ib=1, iw=2, id=4; rel8=1, rel32=4; far pointer=6. */
  imm: Array<'ib' | 'iw' | 'id' | 'rel8' | 'rel32' | 'ptr16:32' | 'moffs'>;
  /** Bytes that must precede the opcode (e.g. f3 of pause); not a prefix the user writes. */
  mandatoryPrefix?: number[];
  /** Index (into operands) of the operand in ModRM.reg and ModRM.rm, when there is a ModRM (`/rr`: both the same). */
  regOperand?: number;
  rmOperand?: number;
  /** Index of the operand encoded by `+r` in the opcode. */
  plusRegOperand?: number;
  /** Condition code added to the last opcode byte (`+cc` forms), 0..15. */
  cc?: number;
  /** Unsized memory is taken as this size (jmp/call: 32; sldt/str/lldt…: 16; setcc: 8). NASM requires a size for push/pop. */
  defaultMemSize?: 8 | 16 | 32 | 64 | 80 | 128;
  /**
   * Key of the semantics handler that executes the form (core/cpu/semantics.ts registers one per key):
   * the row's mnemonic unless rows share one (`jcc`, `setcc`, `cmovcc`, `shift`, `bit-test`), `x87`
   * for the FPU escapes, `simd` for MMX/SSE forms (#UD: not executed, CPUID says so).
   */
  handler: string;
  /** Virtualization facts that differ for this form (e.g. `mov` to Sreg is critical, `mov` to CRn privileged). */
  virt?: Partial<VirtFacts>;
  /** Not a form NASM's optimiser picks on its own (kept for the disassembler only). */
  decodeOnly?: boolean;
  /**
   * ModRM.mod is ignored: the r/m field names a register whatever mod says (MOV CRn/DRn: real CPUs
   * treat mod 0–2 as 3). Decode-only forms; the assembler always emits mod = 3.
   */
  anyMod?: boolean;
  /**
   * MMX/SSE: the form matches only with exactly its mandatory prefix (66, F2 or F3, or none of them):
   * 0F 58 is ADDPS, 66 0F 58 ADDPD, F3 0F 58 ADDSS, F2 0F 58 ADDSD (the last F2/F3 wins over a 66).
   */
  exactPrefixes?: boolean;
  /** Address size the form needs (jcxz: 16, jecxz: 32; `a16`/`a32` in the table): 0x67 when it differs from `bits`. */
  addrsize?: 16 | 32;
  /** LOCK is legal on this form when its r/m operand is memory (read-modify-write destinations); else #UD. */
  lockable?: boolean;
  /** The CPU ends a basic block after it (control transfer, or state the run loop or a compiled block must see). */
  endsBlock?: boolean;
  /** The monitor class (core/cpu/monitor.ts `InsnClass` key) a VMM intercepts it by, when any. */
  intercept?: InterceptClass;
}

/**
 * Classes a monitor intercepts instructions by (the keys of `InsnClass` in core/cpu/monitor.ts, which
 * turns them into bits): VT-x exit sources and the SPEC §7 groups.
 */
export type InterceptClass =
  | 'CPUID' | 'HLT' | 'IO' | 'RDMSR' | 'WRMSR' | 'MOV_CR' | 'CLTS' | 'LMSW' | 'INVLPG' | 'RDTSC' | 'RDPMC' | 'VMCALL'
  | 'DESC_TABLE' | 'CACHE' | 'MOV_DR' | 'CLI_STI' | 'PUSHF_POPF' | 'IRET' | 'INT' | 'SEG' | 'FAR' | 'SMSW' | 'SEG_INFO' | 'SYSENTER';

/** What a VT-x guest in VMX non-root operation does with the instruction. */
export type VmExit =
  | { kind: 'none'; note?: string }
  | { kind: 'unconditional'; reason: string; reasonNumber: number; note?: string }
  | { kind: 'controlled'; control: string; reason: string; reasonNumber: number; note?: string };

/** Binary translation (VMware-style): identical copy, or a callout into the VMM. */
export interface BtTreatment {
  kind: 'ident' | 'callout';
  note?: string;
}

/** The paravirtual (Xen) replacement of a sensitive instruction. */
export interface ParavirtReplacement {
  kind: 'hypercall' | 'shared-memory' | 'emulated' | 'none';
  /** Hypercall name without the `__HYPERVISOR_` prefix (e.g. 'set_trap_table'), when kind is 'hypercall'. */
  hypercall?: string;
  /** Human explanation (what the rewrite does). */
  text: string;
  /** The fix in a few words for the one-line diagnostic, when the kind alone does not say it. */
  short?: string;
}

export interface VirtFacts {
  class: VirtClass;
  /** Robin & Irvine group, critical instructions only. */
  group?: RobinIrvineGroup;
  /** What the instruction does differently at CPL 1/3 and why there is no trap (critical), or what traps (privileged). */
  why?: string;
  vmExit: VmExit;
  bt: BtTreatment;
  pv?: ParavirtReplacement;
}

export interface InstructionInfo {
  /** Intel mnemonic, lower case (e.g. 'popfd', 'jmp', 'movzx'). */
  mnemonic: string;
  /** AT&T spellings accepted by GNU as (e.g. ['popfl'] for popfd; ['ljmp'] for far jmp; suffixed forms). */
  att: string[];
  description: string;
  category: Category;
  forms: EncodingForm[];
  flags: FlagEffects;
  /** Facts for the mnemonic as a whole; a form's `virt` overrides them for that form. */
  virt: VirtFacts;
  /** Other Intel spellings that mean the same (e.g. 'jz' for 'je', 'pushfd' for 'pushf' in 32-bit code). */
  aliases?: string[];
  /** Operand size of AT&T spellings whose suffix does not follow b/w/l (x87: flds 32, fldl 64, fildl 32, fldt 80). */
  attSizes?: Record<string, 16 | 32 | 64 | 80>;
}
