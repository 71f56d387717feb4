/*
 * The virtual CPU: the privileged state the guest kernel believes it owns while the VMM owns the
 * real one (trap-and-emulate, paravirtual, binary translation). Plain data, so it snapshots with
 * structuredClone. The real CPU runs with the VMM's GDT, IDT, TSS, page tables, IF = 1, IOPL = 0.
 */

export interface VirtualCpu {
  /** CPL the guest believes it runs at (0 for its kernel, 3 for its user code). */
  guestCpl: number;
  /** Virtual EFLAGS.IF (paravirtual: the inverse of the shared-info upcall mask) and IOPL. */
  if: boolean;
  iopl: number;
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  gdtrBase: number; gdtrLimit: number;
  idtrBase: number; idtrLimit: number;
  ldtrSel: number;
  trSel: number;
  /** Guest TSS (from its LTR): linear base, to read SS0:ESP0 for ring 3 → kernel transitions. */
  trBase: number;
  /** External interrupt vectors waiting for the virtual IF (oldest first). */
  pending: number[];
  /** MSRs the VMM keeps virtual (SYSENTER_CS/ESP/EIP: the real ones would enter ring 0). */
  msrs: Record<string, string>;
}

export function initialVirtualCpu(): VirtualCpu {
  return {
    guestCpl: 0, if: false, iopl: 0,
    cr0: 0x11, cr2: 0, cr3: 0, cr4: 0,
    gdtrBase: 0, gdtrLimit: 0xffff, idtrBase: 0, idtrLimit: 0x3ff,
    ldtrSel: 0, trSel: 0, trBase: 0,
    pending: [], msrs: {},
  };
}
