/*
 * Basic exit reasons (SDM Vol. 3D App. C) with KVM's names (Linux uapi/asm/vmx.h
 * EXIT_REASON_*, without the prefix, as SPEC §6 reports them), and the exit-qualification formats
 * (SDM Vol. 3C §28.2.1, Tables 28-3 CR access, 28-4 MOV DR, 28-5 I/O, 28-7 EPT violation).
 */

export const EXIT_REASON = {
  EXCEPTION_NMI: 0,
  EXTERNAL_INTERRUPT: 1,
  TRIPLE_FAULT: 2,
  INIT_SIGNAL: 3,
  SIPI_SIGNAL: 4,
  INTERRUPT_WINDOW: 7,
  NMI_WINDOW: 8,
  TASK_SWITCH: 9,
  CPUID: 10,
  GETSEC: 11,
  HLT: 12,
  INVD: 13,
  INVLPG: 14,
  RDPMC: 15,
  RDTSC: 16,
  VMCALL: 18,
  VMCLEAR: 19,
  VMLAUNCH: 20,
  VMPTRLD: 21,
  VMPTRST: 22,
  VMREAD: 23,
  VMRESUME: 24,
  VMWRITE: 25,
  VMOFF: 26,
  VMON: 27,
  CR_ACCESS: 28,
  DR_ACCESS: 29,
  IO_INSTRUCTION: 30,
  MSR_READ: 31,
  MSR_WRITE: 32,
  INVALID_STATE: 33,
  MSR_LOAD_FAIL: 34,
  MWAIT_INSTRUCTION: 36,
  MONITOR_TRAP_FLAG: 37,
  MONITOR_INSTRUCTION: 39,
  PAUSE_INSTRUCTION: 40,
  MCE_DURING_VMENTRY: 41,
  TPR_BELOW_THRESHOLD: 43,
  APIC_ACCESS: 44,
  EOI_INDUCED: 45,
  GDTR_IDTR: 46,
  LDTR_TR: 47,
  EPT_VIOLATION: 48,
  EPT_MISCONFIG: 49,
  INVEPT: 50,
  RDTSCP: 51,
  PREEMPTION_TIMER: 52,
  INVVPID: 53,
  WBINVD: 54,
  XSETBV: 55,
  APIC_WRITE: 56,
  RDRAND: 57,
  INVPCID: 58,
} as const;

export type ExitReasonName = keyof typeof EXIT_REASON;
/** Names by basic reason number (an array: every VM exit looks its name up). */
const NAMES: Array<ExitReasonName | undefined> = [];
for (const [n, v] of Object.entries(EXIT_REASON)) NAMES[v] = n as ExitReasonName;

/** KVM's name of a basic exit reason (bits 15:0 of VM_EXIT_REASON); `REASON_n` for an unnamed one. */
export function exitReasonName(reason: number): string {
  return NAMES[reason & 0xffff] ?? `REASON_${reason & 0xffff}`;
}

// ---- exit qualifications ----

/** Control-register access (Table 28-3). accessType: 0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW. */
export function crAccessQualification(cr: number, accessType: number, gpr: number, lmswMemory = false, lmswData = 0): number {
  return ((cr & 0xf) | ((accessType & 3) << 4) | (lmswMemory ? 1 << 6 : 0) | ((gpr & 0xf) << 8) | ((lmswData & 0xffff) << 16)) >>> 0;
}
export function decodeCrAccess(q: number): { cr: number; accessType: number; gpr: number; lmswMemory: boolean; lmswData: number } {
  return { cr: q & 0xf, accessType: (q >> 4) & 3, gpr: (q >> 8) & 0xf, lmswMemory: (q & 0x40) !== 0, lmswData: q >>> 16 };
}

/** MOV DR (Table 28-4): DR number, direction (0 to DR, 1 from DR), GPR. */
export function drAccessQualification(dr: number, fromDr: boolean, gpr: number): number {
  return ((dr & 7) | (fromDr ? 1 << 4 : 0) | ((gpr & 0xf) << 8)) >>> 0;
}
export function decodeDrAccess(q: number): { dr: number; fromDr: boolean; gpr: number } {
  return { dr: q & 7, fromDr: (q & 0x10) !== 0, gpr: (q >> 8) & 0xf };
}

/** I/O instruction (Table 28-5); KVM: size = (q & 7) + 1, in = q & 8, string = q & 16, rep = q & 32, port = q >> 16. */
export function ioQualification(port: number, size: number, isIn: boolean, string: boolean, rep: boolean, immediate: boolean): number {
  return (((size - 1) & 7) | (isIn ? 8 : 0) | (string ? 16 : 0) | (rep ? 32 : 0) | (immediate ? 64 : 0) | ((port & 0xffff) << 16)) >>> 0;
}
export function decodeIo(q: number): { port: number; size: number; isIn: boolean; string: boolean; rep: boolean; immediate: boolean } {
  return { size: (q & 7) + 1, isIn: (q & 8) !== 0, string: (q & 16) !== 0, rep: (q & 32) !== 0, immediate: (q & 64) !== 0, port: q >>> 16 };
}

/**
 * EPT violation (Table 28-7): bit 0 data read, 1 data write, 2 instruction fetch, bits 5:3 the
 * R/W/X permissions of the guest-physical address, bit 7 guest linear address valid, bit 8 the access
 * was to the translated address (1) rather than a paging-structure entry (0).
 */
export function eptViolationQualification(access: { read: boolean; write: boolean; fetch: boolean }, perms: number, linearValid: boolean, translation: boolean): number {
  return ((access.read ? 1 : 0) | (access.write ? 2 : 0) | (access.fetch ? 4 : 0) | ((perms & 7) << 3) |
    (linearValid ? 0x80 : 0) | (linearValid && translation ? 0x100 : 0)) >>> 0;
}
/**
 * APIC-access exit qualification (SDM Vol. 3C Table 28-6): bits 11:0 the offset in the APIC page,
 * bits 15:12 the access type — 0 linear read, 1 linear write, 2 instruction fetch, 3 event delivery.
 */
export function apicAccessQualification(offset: number, type: 0 | 1 | 2 | 3): number {
  return ((offset & 0xfff) | (type << 12)) >>> 0;
}
export function decodeEptViolation(q: number): { read: boolean; write: boolean; fetch: boolean; perms: number; linearValid: boolean; translation: boolean } {
  return { read: (q & 1) !== 0, write: (q & 2) !== 0, fetch: (q & 4) !== 0, perms: (q >> 3) & 7, linearValid: (q & 0x80) !== 0, translation: (q & 0x100) !== 0 };
}
