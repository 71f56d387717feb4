/*
 * VMLAUNCH's preparation (what KVM's vmx_vcpu_setup / init_vmcs does): the execution, exit and entry
 * controls, the exception bitmap, the CR0/CR4 guest/host masks and read shadows, the I/O and MSR
 * bitmaps, and the host-state area a VM exit loads — all in the VMCS, the bitmaps in the host's
 * reserved memory, invisible to the guest.
 */
import type { Cpu } from '../../cpu/cpu';
import { PAGE_SIZE, type PhysicalMemory } from '../../cpu/physicalMemory';
import { LAPIC_BASE } from '../../machine/firmware';
import { CPU, SECONDARY, type KvmControls, type VmxOptions } from './controls';
import { VMCS, type Vmcs } from './vmcs';

/** Host memory layout (offsets in the machine's reserved memory). */
export const RESERVED_MIB = 4;
export const HOST_LAYOUT = {
  vmcs: 0x0000, ioBitmapA: 0x1000, ioBitmapB: 0x2000, msrBitmap: 0x3000, virtualApic: 0x4000,
  ept: 0x10000, eptPool: 0x100000,
  shadowPd: 0x200000, shadowPool: 0x202000,
} as const;

/** Writes the VMCS fields the host sets before VMLAUNCH (base: the reserved memory's address). */
export function prepareVmcs(v: Vmcs, c: KvmControls, options: Required<VmxOptions>, cpu: Cpu, mem: PhysicalMemory, base: number): void {
  v.write(VMCS.PIN_BASED_VM_EXEC_CONTROL, c.pin);
  v.write(VMCS.CPU_BASED_VM_EXEC_CONTROL, c.primary);
  v.write(VMCS.SECONDARY_VM_EXEC_CONTROL, c.secondary);
  if (c.secondary & SECONDARY.VIRTUALIZE_APIC_ACCESSES) v.write(VMCS.APIC_ACCESS_ADDR, LAPIC_BASE);
  if (c.primary & CPU.TPR_SHADOW) {
    // The virtual-APIC page: the host's local APIC register page (its contents live in the device
    // model, see virtualApic.ts); the TPR threshold holds nothing back yet.
    v.write(VMCS.VIRTUAL_APIC_PAGE_ADDR, base + HOST_LAYOUT.virtualApic);
    v.write(VMCS.TPR_THRESHOLD, 0);
  }
  v.write(VMCS.VM_EXIT_CONTROLS, c.exitControls);
  v.write(VMCS.VM_ENTRY_CONTROLS, c.entryControls);
  v.write(VMCS.EXCEPTION_BITMAP, c.exceptionBitmap);
  v.write(VMCS.CR0_GUEST_HOST_MASK, c.cr0GuestHostMask);
  v.write(VMCS.CR4_GUEST_HOST_MASK, c.cr4GuestHostMask);
  v.write(VMCS.CR0_READ_SHADOW, cpu.cr0);
  v.write(VMCS.CR4_READ_SHADOW, cpu.cr4);
  v.write(VMCS.CR3_TARGET_COUNT, 0);
  v.write(VMCS.VIRTUAL_PROCESSOR_ID, 1);
  // I/O bitmaps (all ports intercepted; used only when "use I/O bitmaps" is set) and the MSR bitmap.
  mem.bytes.fill(0xff, base + HOST_LAYOUT.ioBitmapA, base + HOST_LAYOUT.ioBitmapB + PAGE_SIZE);
  v.write(VMCS.IO_BITMAP_A, base + HOST_LAYOUT.ioBitmapA);
  v.write(VMCS.IO_BITMAP_B, base + HOST_LAYOUT.ioBitmapB);
  buildMsrBitmap(mem, base + HOST_LAYOUT.msrBitmap, options.interceptAllMsrs);
  v.write(VMCS.MSR_BITMAP, base + HOST_LAYOUT.msrBitmap);
  // Host state: what a VM exit loads (illustrative host values of a 32-bit KVM host).
  v.write(VMCS.HOST_CR0, 0x80050033); v.write(VMCS.HOST_CR3, base + HOST_LAYOUT.vmcs); v.write(VMCS.HOST_CR4, 0x2620);
  v.write(VMCS.HOST_CS_SELECTOR, 0x60); v.write(VMCS.HOST_SS_SELECTOR, 0x68); v.write(VMCS.HOST_DS_SELECTOR, 0x7b);
  v.write(VMCS.HOST_ES_SELECTOR, 0x7b); v.write(VMCS.HOST_TR_SELECTOR, 0x80);
  v.write(VMCS.HOST_RIP, 0xc1000000); v.write(VMCS.HOST_RSP, 0xc2000000);
}

function buildMsrBitmap(mem: PhysicalMemory, at: number, interceptAll: boolean): void {
  mem.bytes.fill(0xff, at, at + PAGE_SIZE);
  if (interceptAll) return;
  // KVM's passthrough list for a 32-bit guest (vmx.c: SYSENTER_CS/ESP/EIP live in the guest-state area).
  for (const msr of [0x174, 0x175, 0x176]) {
    for (const off of [0, 0x800]) mem.bytes[at + off + (msr >>> 3)] &= ~(1 << (msr & 7));
  }
}
