/*
 * VM-execution, VM-exit and VM-entry control bits (SDM Vol. 3C §25.6–25.8; names of Linux
 * asm/vmx.h) and the defaults KVM programs (arch/x86/kvm/vmx/vmx.h KVM_REQUIRED_/OPTIONAL_ controls,
 * vmx.c vmx_exec_control(), vmx_secondary_exec_control(), update_exception_bitmap()).
 */

/** Pin-based VM-execution controls (SDM Table 25-5). */
export const PIN = {
  EXT_INTR_MASK: 1 << 0,
  NMI_EXITING: 1 << 3,
  VIRTUAL_NMIS: 1 << 5,
  VMX_PREEMPTION_TIMER: 1 << 6,
  POSTED_INTR: 1 << 7,
} as const;

/** Primary processor-based VM-execution controls (SDM Table 25-6). */
export const CPU = {
  INTR_WINDOW_EXITING: 1 << 2,
  USE_TSC_OFFSETTING: 1 << 3,
  HLT_EXITING: 1 << 7,
  INVLPG_EXITING: 1 << 9,
  MWAIT_EXITING: 1 << 10,
  RDPMC_EXITING: 1 << 11,
  RDTSC_EXITING: 1 << 12,
  CR3_LOAD_EXITING: 1 << 15,
  CR3_STORE_EXITING: 1 << 16,
  CR8_LOAD_EXITING: 1 << 19,
  CR8_STORE_EXITING: 1 << 20,
  TPR_SHADOW: 1 << 21,
  NMI_WINDOW_EXITING: 1 << 22,
  MOV_DR_EXITING: 1 << 23,
  UNCOND_IO_EXITING: 1 << 24,
  USE_IO_BITMAPS: 1 << 25,
  MONITOR_TRAP_FLAG: 1 << 27,
  USE_MSR_BITMAPS: 1 << 28,
  MONITOR_EXITING: 1 << 29,
  PAUSE_EXITING: 1 << 30,
  ACTIVATE_SECONDARY_CONTROLS: 1 << 31,
} as const;

/** Secondary processor-based VM-execution controls (SDM Table 25-7). */
export const SECONDARY = {
  VIRTUALIZE_APIC_ACCESSES: 1 << 0,
  ENABLE_EPT: 1 << 1,
  DESC: 1 << 2,
  ENABLE_RDTSCP: 1 << 3,
  VIRTUALIZE_X2APIC_MODE: 1 << 4,
  ENABLE_VPID: 1 << 5,
  WBINVD_EXITING: 1 << 6,
  UNRESTRICTED_GUEST: 1 << 7,
  APIC_REGISTER_VIRT: 1 << 8,
  VIRTUAL_INTR_DELIVERY: 1 << 9,
  PAUSE_LOOP_EXITING: 1 << 10,
  RDRAND_EXITING: 1 << 11,
  ENABLE_INVPCID: 1 << 12,
  ENABLE_VMFUNC: 1 << 13,
  SHADOW_VMCS: 1 << 14,
  RDSEED_EXITING: 1 << 16,
  ENABLE_PML: 1 << 17,
  XSAVES: 1 << 20,
  TSC_SCALING: 1 << 25,
} as const;

/** VM-exit controls (SDM Table 25-13). */
export const EXIT_CTL = {
  SAVE_DEBUG_CONTROLS: 1 << 2,
  HOST_ADDR_SPACE_SIZE: 1 << 9,
  ACK_INTR_ON_EXIT: 1 << 15,
  SAVE_IA32_PAT: 1 << 18,
  LOAD_IA32_PAT: 1 << 19,
  SAVE_IA32_EFER: 1 << 20,
  LOAD_IA32_EFER: 1 << 21,
} as const;

/** VM-entry controls (SDM Table 25-15). */
export const ENTRY_CTL = {
  LOAD_DEBUG_CONTROLS: 1 << 2,
  IA32E_MODE: 1 << 9,
  SMM: 1 << 10,
  LOAD_IA32_PAT: 1 << 14,
  LOAD_IA32_EFER: 1 << 15,
} as const;

/** Interruption-information format (SDM Table 25-17 / 27-... exit interruption info). */
export const INTR_INFO = {
  VECTOR_MASK: 0xff,
  TYPE_SHIFT: 8,
  TYPE_EXT_INTR: 0,
  TYPE_NMI: 2,
  TYPE_HARD_EXCEPTION: 3,
  TYPE_SOFT_INTR: 4,
  TYPE_PRIV_SW_EXCEPTION: 5,
  TYPE_SOFT_EXCEPTION: 6,
  DELIVER_CODE: 1 << 11,
  NMI_UNBLOCK_IRET: 1 << 12,
  VALID: 1 << 31,
} as const;

/** Builds an interruption-information word. */
export function intrInfo(vector: number, type: number, errorCodeValid: boolean): number {
  return ((vector & 0xff) | (type << INTR_INFO.TYPE_SHIFT) | (errorCodeValid ? INTR_INFO.DELIVER_CODE : 0) | INTR_INFO.VALID) >>> 0;
}

/** Vectors of the KVM exception bitmap (update_exception_bitmap): #DB, #UD, #AC, #MC, and #PF without EPT. */
export const VEC_DB = 1, VEC_UD = 6, VEC_PF = 14, VEC_AC = 17, VEC_MC = 18;

export interface VmxOptions {
  /** Nested paging through EPT (default true, as KVM's `ept=1`); false: shadow paging. */
  ept?: boolean;
  /**
   * Intercept every MSR through the MSR bitmap (default true). KVM passes SYSENTER_CS/ESP/EIP
   * through (their values live in the VMCS guest-state area); the acceptance wants each
   * `rdmsr` of the exits example to exit, so the default bitmap intercepts all of them. With false,
   * KVM's passthrough list is used.
   */
  interceptAllMsrs?: boolean;
  /** Descriptor-table exiting (secondary bit 2; KVM sets it only to emulate UMIP). Default false. */
  descriptorTableExiting?: boolean;
  /** RDTSC exiting (KVM: off, TSC offsetting instead). Default false. */
  rdtscExiting?: boolean;
  /**
   * APIC virtualization (SDM Vol. 3C ch. 30 "APIC Virtualization and Virtual Interrupts"): "use TPR
   * shadow" with a virtual-APIC page, and "APIC-register virtualization" — reads of most local APIC
   * registers and TPR writes complete in the guest without an exit, other register writes end in a
   * trap-like APIC-write exit (reason 56), lowering the TPR below the threshold in a TPR-below-
   * threshold exit (43). Default: on with EPT, as KVM with APICv (`enable_apicv`) on a CPU that has
   * it; off (every APIC access exits, reason 44) on a CPU without it — the vtx-2006 profile, or this
   * option false.
   */
  apicVirtualization?: boolean;
  /**
   * Virtual-interrupt delivery (secondary bit 9, SDM Vol. 3C §30.2): the processor delivers the
   * local APIC's interrupts itself from RVI/SVI (guest interrupt status), virtualizes EOI (an
   * EOI-induced exit, reason 45, only for vectors in the EOI-exit bitmap) and self-IPIs, and TPR
   * writes no longer exit. Needs APIC virtualization; default: with it, as KVM with APICv.
   */
  virtualInterruptDelivery?: boolean;
}

export interface KvmControls {
  pin: number;
  primary: number;
  secondary: number;
  exitControls: number;
  entryControls: number;
  exceptionBitmap: number;
  cr0GuestHostMask: number;
  cr4GuestHostMask: number;
}

/**
 * The controls KVM sets for a 32-bit guest. Primary: the required set (HLT, CR3 load/store, unconditional
 * I/O, MOV DR, TSC offsetting, MWAIT/MONITOR, INVLPG, RDPMC exiting) plus MSR bitmaps and secondary
 * controls; with EPT, vmx_exec_control() drops CR3-load/store and INVLPG exiting (KVM needs them only
 * for shadow paging). KVM does not use I/O bitmaps for its own guests: every port access exits.
 * CR0 guest/host mask = ~cr0_guest_owned_bits, KVM_POSSIBLE_CR0_GUEST_BITS = TS (and WP with EPT);
 * CR4: every modelled bit host-owned.
 */
export function kvmDefaults(opt: VmxOptions = {}): KvmControls {
  const ept = opt.ept ?? true;
  let primary = CPU.HLT_EXITING | CPU.UNCOND_IO_EXITING | CPU.MOV_DR_EXITING | CPU.USE_TSC_OFFSETTING |
    CPU.MWAIT_EXITING | CPU.MONITOR_EXITING | CPU.RDPMC_EXITING | CPU.USE_MSR_BITMAPS | CPU.ACTIVATE_SECONDARY_CONTROLS;
  if (!ept) primary |= CPU.CR3_LOAD_EXITING | CPU.CR3_STORE_EXITING | CPU.INVLPG_EXITING;
  if (opt.rdtscExiting) primary |= CPU.RDTSC_EXITING;
  let secondary = SECONDARY.ENABLE_VPID | SECONDARY.ENABLE_RDTSCP | SECONDARY.ENABLE_INVPCID | SECONDARY.PAUSE_LOOP_EXITING;
  if (ept) secondary |= SECONDARY.ENABLE_EPT | SECONDARY.UNRESTRICTED_GUEST;
  // The local APIC's page: accesses exit with reason 44 (APIC access), as with KVM's in-kernel APIC
  // (vmx_secondary_exec_control keeps VIRTUALIZE_APIC_ACCESSES when flexpriority is on).
  if (ept) secondary |= SECONDARY.VIRTUALIZE_APIC_ACCESSES;
  // APICv (vmx_exec_control keeps TPR_SHADOW with the in-kernel APIC; vmx_secondary_exec_control
  // keeps APIC_REGISTER_VIRT when the APIC is virtualized): needs the APIC-access page.
  if (ept && opt.apicVirtualization) {
    primary |= CPU.TPR_SHADOW;
    secondary |= SECONDARY.APIC_REGISTER_VIRT;
    // Virtual-interrupt delivery needs "external-interrupt exiting" (a VM-entry check, SDM §27.2.1.1),
    // which KVM always sets.
    if (opt.virtualInterruptDelivery) secondary |= SECONDARY.VIRTUAL_INTR_DELIVERY;
  }
  if (opt.descriptorTableExiting) secondary |= SECONDARY.DESC;
  const exceptionBitmap = (1 << VEC_DB) | (1 << VEC_UD) | (1 << VEC_AC) | (1 << VEC_MC) | (ept ? 0 : 1 << VEC_PF);
  const CR0_TS = 1 << 3, CR0_WP = 1 << 16;
  const cr0Mask = ~(ept ? CR0_TS | CR0_WP : CR0_TS);
  const cr4Mask = 0xffffffff;
  return {
    pin: PIN.EXT_INTR_MASK | PIN.NMI_EXITING | PIN.VIRTUAL_NMIS,
    primary: primary >>> 0,
    secondary,
    exitControls: EXIT_CTL.SAVE_DEBUG_CONTROLS | EXIT_CTL.ACK_INTR_ON_EXIT | EXIT_CTL.SAVE_IA32_PAT | EXIT_CTL.LOAD_IA32_PAT | EXIT_CTL.SAVE_IA32_EFER | EXIT_CTL.LOAD_IA32_EFER,
    entryControls: ENTRY_CTL.LOAD_DEBUG_CONTROLS | ENTRY_CTL.LOAD_IA32_PAT | ENTRY_CTL.LOAD_IA32_EFER,
    exceptionBitmap,
    cr0GuestHostMask: cr0Mask >>> 0,
    cr4GuestHostMask: cr4Mask >>> 0,
  };
}
