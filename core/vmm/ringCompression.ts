/*
 * Ring compression: the real descriptor tables of a VMM whose guest kernel runs at CPL 1
 * (trap-and-emulate, paravirtual). The VMM owns the real GDT, IDT and TSS, kept in its reserved
 * memory and mapped read-only at the top of the linear address space (the "hole", as Xen reserves
 * the top 64 MiB). The real GDT is a shadow copy of the guest's in which every DPL-0 code or data
 * descriptor is compressed to DPL 1 — so the guest kernel can load its own selectors at CPL 1 — and
 * the real IDT holds the guest's gates with the same compression, copied when an event is
 * reflected. Nothing here changes what the guest can read: SGDT still shows the VMM's table, LAR
 * shows DPL 1, CS shows RPL 1. Those are the critical instructions' tell-tales.
 */
import { PTE_P } from '../cpu/constants';

/** Linear base of the VMM area (top 4 MiB: page-directory entry 1023). */
export const VMM_LINEAR = 0xffc00000;
export const VMM_PD_INDEX = 1023;

/** Offsets in the reserved memory (after guest RAM). */
export const R_GDT = 0x00000;   // 64 KiB: 8192 descriptors
export const R_IDT = 0x10000;   // 256 gates
export const R_TSS = 0x11000;   // the VMM's TSS (ring-1 stack for entries from ring 3)
export const R_SHADOW_PD = 0x12000;
export const R_VMM_PT = 0x13000; // page table mapping the VMM area
export const R_POOL = 0x15000;
/** Reserved memory a ring-1 VMM needs (MiB): tables above plus the shadow page-table pool. */
export const RING1_RESERVED_MIB = 2;

/** The VMM's own TSS descriptor: the last GDT slot, beyond what guests use. */
export const VMM_TSS_INDEX = 8191;
export const VMM_TSS_SEL = VMM_TSS_INDEX << 3;
export const TSS_LIMIT = 103;

const S_BIT = 1 << 12;          // descriptor high dword: code/data (not system)
const DPL_MASK = 3 << 13;

/** A guest descriptor as the real GDT holds it: DPL-0 code/data → DPL 1, accessed bit preset. */
export function compressDescriptor(lo: number, hi: number): [number, number] {
  if (!(hi & S_BIT)) return [lo, hi];           // system descriptors (TSS, LDT, gates) as they are
  if ((hi & DPL_MASK) === 0) hi |= 1 << 13;
  // The real GDT is read-only to everyone; the CPU skips the accessed-bit write when it is set.
  return [lo, (hi | 0x100) | 0];
}

/** Segment-cache attribute (descAttr layout: DPL at bits 5–6) with DPL 0 → 1 for code/data. */
export function compressAttr(attr: number): number {
  return (attr & 0x10) && ((attr >> 5) & 3) === 0 ? attr | (1 << 5) : attr;
}

/**
 * A guest IDT gate as the real IDT holds it: DPL 0 → 1 (so the guest kernel's own INT n works at
 * CPL 1), and interrupt gates become trap gates — the real IF stays 1 so the VMM keeps receiving
 * interrupts; the VMM clears the VIRTUAL IF instead when it delivers through a guest interrupt gate.
 */
export function compressGate(lo: number, hi: number): { lo: number; hi: number; interruptGate: boolean } {
  const type = (hi >> 8) & 0x1f;
  const interruptGate = type === 0x0e || type === 0x06;
  if (interruptGate) hi |= 1 << 8;
  if (((hi >> 13) & 3) === 0) hi |= 1 << 13;
  return { lo, hi: hi | 0, interruptGate };
}

/** The PDE and page table that map the VMM area read-only, supervisor only. */
export function vmmAreaPde(reservedBase: number): number {
  return (reservedBase + R_VMM_PT) | PTE_P;
}
