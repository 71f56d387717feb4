/*
 * Xen's x86-32 paravirtual interface as SPEC §5 fixes it: hypercall numbers and names
 * (xen/include/public/xen.h, 3.x and later), sub-operation numbers, errno values. Reference §2a–2c.
 */

import { PREDEFINED } from '../asm/predefined';
export const HYPERCALL_NAMES: Readonly<Record<number, string>> = {
  0: 'set_trap_table', 1: 'mmu_update', 2: 'set_gdt', 3: 'stack_switch', 4: 'set_callbacks',
  5: 'fpu_taskswitch', 6: 'sched_op_compat', 7: 'platform_op', 8: 'set_debugreg', 9: 'get_debugreg',
  10: 'update_descriptor', 12: 'memory_op', 13: 'multicall', 14: 'update_va_mapping',
  15: 'set_timer_op', 16: 'event_channel_op_compat', 17: 'xen_version', 18: 'console_io',
  19: 'physdev_op_compat', 20: 'grant_table_op', 21: 'vm_assist', 22: 'update_va_mapping_otherdomain',
  23: 'iret', 24: 'vcpu_op', 25: 'set_segment_base', 26: 'mmuext_op', 27: 'xsm_op', 28: 'nmi_op',
  29: 'sched_op', 30: 'callback_op', 31: 'xenoprof_op', 32: 'event_channel_op', 33: 'physdev_op',
};

export const HC = {
  set_trap_table: 0, mmu_update: 1, set_gdt: 2, stack_switch: 3, set_callbacks: 4, fpu_taskswitch: 5,
  update_descriptor: 10, update_va_mapping: 14, set_timer_op: 15, xen_version: 17, console_io: 18,
  iret: 23, vcpu_op: 24, mmuext_op: 26, sched_op: 29, event_channel_op: 32, physdev_op: 33,
} as const;

/** Negative errno results (Xen uses Linux's errno values). */
export const ENOSYS = -38, EINVAL = -22, EFAULT = -14, EPERM = -1;

export const CONSOLEIO_write = 0, CONSOLEIO_read = 1;
export const SCHEDOP_yield = 0, SCHEDOP_block = 1, SCHEDOP_shutdown = 2, SCHEDOP_poll = 3;
export const VCPUOP_up = 1, VCPUOP_down = 2, VCPUOP_is_up = 3;
export const UVMF_NONE = 0, UVMF_TLB_FLUSH = 1, UVMF_INVLPG = 2;
export const MMU_NORMAL_PT_UPDATE = 0, MMU_MACHPHYS_UPDATE = 1, MMU_PT_UPDATE_PRESERVE_AD = 2;
export const MMUEXT = {
  PIN_L1_TABLE: 0, PIN_L2_TABLE: 1, PIN_L3_TABLE: 2, PIN_L4_TABLE: 3, UNPIN_TABLE: 4, NEW_BASEPTR: 5,
  TLB_FLUSH_LOCAL: 6, INVLPG_LOCAL: 7, TLB_FLUSH_MULTI: 8, INVLPG_MULTI: 9, TLB_FLUSH_ALL: 10,
  INVLPG_ALL: 11, FLUSH_CACHE: 12, SET_LDT: 13, NEW_USER_BASEPTR: 15,
} as const;
/** xen/include/public/event_channel.h */
export const EVTCHNOP_bind_virq = 1, EVTCHNOP_close = 3, EVTCHNOP_send = 4, EVTCHNOP_unmask = 9;
/** xen/include/public/physdev.h */
export const PHYSDEVOP_set_iopl = 6, PHYSDEVOP_set_iobitmap = 7;
export const SHUTDOWN_REASONS = ['poweroff', 'reboot', 'suspend', 'crash'];

/** What `xen_version(XENVER_version)` answers: major << 16 | minor (this interface is Xen 3.4's). */
export const XEN_VERSION = (3 << 16) | 4;

/**
 * Guest-physical address of the shared-info page: the assembler's predefined XEN_SHARED_INFO, which
 * the paravirtual rewrites store to, so the two cannot drift apart.
 */
export const SHARED_INFO_ADDR = PREDEFINED.XEN_SHARED_INFO;
/** vcpu_info 0 at the start of shared_info: pending byte, mask byte, pending_sel, arch.cr2 (xen.h). */
export const VCPU_UPCALL_PENDING = 0, VCPU_UPCALL_MASK = 1, VCPU_PENDING_SEL = 4, VCPU_ARCH_CR2 = 8;

export function hypercallName(n: number): string { return HYPERCALL_NAMES[n] ?? 'unknown'; }
