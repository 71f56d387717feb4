/* Architectural constants of the 32-bit x86 CPU (Intel SDM Vol. 1 §3.4, Vol. 3 §2.5, §6.3). */

// General registers, in ModRM/opcode encoding order.
export const EAX = 0, ECX = 1, EDX = 2, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;
export const REG32_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;

// Segment registers, in Sreg encoding order.
export const ES = 0, CS = 1, SS = 2, DS = 3, FS = 4, GS = 5;
export const SEG_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

// EFLAGS bits.
export const CF = 1 << 0, PF = 1 << 2, AF = 1 << 4, ZF = 1 << 6, SF = 1 << 7, TF = 1 << 8, IF = 1 << 9,
  DF = 1 << 10, OF = 1 << 11, IOPL = 3 << 12, NT = 1 << 14, RF = 1 << 16, VM = 1 << 17, AC = 1 << 18,
  VIF = 1 << 19, VIP = 1 << 20, ID = 1 << 21;
export const IOPL_SHIFT = 12;
/** The six arithmetic status flags, the ones computed lazily. */
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;
/** Bit 1 always reads 1. */
export const EFLAGS_FIXED1 = 1 << 1;
/** Bits software can ever set on a Pentium-class CPU with CPUID (no VME features modelled). */
export const EFLAGS_SETTABLE = CF | PF | AF | ZF | SF | TF | IF | DF | OF | IOPL | NT | RF | VM | AC | VIF | VIP | ID;

// CR0 bits.
export const CR0_PE = 1 << 0, CR0_MP = 1 << 1, CR0_EM = 1 << 2, CR0_TS = 1 << 3, CR0_ET = 1 << 4, CR0_NE = 1 << 5,
  CR0_WP = 1 << 16, CR0_AM = 1 << 18, CR0_NW = 1 << 29, CR0_CD = 1 << 30, CR0_PG = 1 << 31;
// CR4 bits the CPU accepts (PSE, PGE, TSD, DE, OSFXSR are recorded; 4 MiB pages are honoured when PSE).
export const CR4_VME = 1 << 0, CR4_PVI = 1 << 1, CR4_TSD = 1 << 2, CR4_DE = 1 << 3, CR4_PSE = 1 << 4,
  CR4_PAE = 1 << 5, CR4_PGE = 1 << 7, CR4_PCE = 1 << 8, CR4_OSFXSR = 1 << 9, CR4_OSXMMEXCPT = 1 << 10;
export const CR4_SUPPORTED = CR4_TSD | CR4_DE | CR4_PSE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT;

// Exception vectors (SDM Vol. 3 Table 6-1).
export const DE = 0, DB = 1, NMI = 2, BP = 3, OFV = 4, BR = 5, UD = 6, NM = 7, DF_VEC = 8, TS = 10, NP = 11,
  SS_VEC = 12, GP = 13, PF_VEC = 14, MF = 16, AC_VEC = 17, MC = 18;
export const EXCEPTION_NAMES: Record<number, string> = {
  0: '#DE', 1: '#DB', 2: 'NMI', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 8: '#DF', 10: '#TS',
  11: '#NP', 12: '#SS', 13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC', 18: '#MC',
};
/** Vectors that push an error code (SDM Vol. 3 §6.13). */
export function hasErrorCode(vector: number): boolean {
  return vector === 8 || (vector >= 10 && vector <= 14) || vector === 17;
}

// Page-table entry bits.
export const PTE_P = 1, PTE_W = 2, PTE_U = 4, PTE_A = 0x20, PTE_D = 0x40, PTE_PS = 0x80, PTE_G = 0x100;
// #PF error-code bits.
export const PFEC_P = 1, PFEC_W = 2, PFEC_U = 4, PFEC_RSVD = 8, PFEC_I = 16;

// MSRs the CPU implements (SDM Vol. 4).
export const MSR_TSC = 0x10, MSR_APIC_BASE = 0x1b, MSR_SYSENTER_CS = 0x174, MSR_SYSENTER_ESP = 0x175,
  MSR_SYSENTER_EIP = 0x176, MSR_MISC_ENABLE = 0x1a0, MSR_PAT = 0x277, MSR_MTRRCAP = 0xfe,
  MSR_MTRR_DEF_TYPE = 0x2ff, MSR_PLATFORM_ID = 0x17, MSR_BIOS_SIGN_ID = 0x8b, MSR_FEATURE_CONTROL = 0x3a;
