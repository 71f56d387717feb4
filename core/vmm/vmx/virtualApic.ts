/*
 * APIC virtualization (SDM Vol. 3C ch. 30, "APIC Virtualization and Virtual Interrupts"): with "use
 * TPR shadow" and "APIC-register virtualization", an access to the APIC-access page either is
 * virtualized — it completes in the guest against the virtual-APIC page, no VM exit — or causes an
 * APIC-access exit (reason 44) that the host emulates, as without these controls.
 *
 * The virtual-APIC page is the device model's registers: KVM with APICv makes the virtual-APIC page
 * its in-kernel local APIC's register page (VIRTUAL_APIC_PAGE_ADDR = apic->regs), so the guest's
 * virtualized reads and the host's emulation see the same registers; here the LocalApic model's
 * registers are that page. A virtualized write stores into it; the APIC-write emulation that follows
 * (§30.4.3.2) completes in the processor for the TPR (TPR virtualization, §30.1.2: a TPR-below-
 * threshold exit, reason 43, when the new priority class is below TPR_THRESHOLD) and for ICR high,
 * and is otherwise a trap-like APIC-write exit (reason 56) whose handler (KVM's
 * kvm_apic_write_nodecode) performs the register's side effect. The model performs store and side
 * effect at once: nothing can tell the difference, the exit comes before the next instruction.
 *
 * Not modelled: virtual-interrupt delivery (secondary bit 9: virtualized EOI, self-IPIs, RVI/SVI) and
 * posted interrupts; without it an EOI write ends in an APIC-write exit.
 */
import type { LocalApic } from '../../devices/lapic';
import type { MmioInterposer, MmioWindowAccess } from '../../devices/mmio';
import type { CostKey } from '../cost';
import { CPU, SECONDARY, type KvmControls } from './controls';
import type { EptExits } from './eptExits';
import { EXIT_REASON } from './exitReasons';
import { VMCS, type Vmcs } from './vmcs';
import type { VmExitRecorder } from './vmExit';

/** Register offsets (bits 11:4 of the page offset) whose reads APIC-register virtualization virtualizes (SDM §30.4.2.1). */
const READ_VIRTUALIZED = registerSet([0x020, 0x030, 0x080, 0x0b0, 0x0d0, 0x0e0, 0x0f0, ...range(0x100, 0x270), 0x280, 0x300, 0x310, ...range(0x320, 0x370), 0x380, 0x3e0]);
/** Register offsets whose writes it virtualizes (SDM §30.4.3.1). */
const WRITE_VIRTUALIZED = registerSet([0x020, 0x080, 0x0b0, 0x0d0, 0x0e0, 0x0f0, 0x280, 0x300, 0x310, ...range(0x320, 0x370), 0x380, 0x3e0]);
const TPR = 0x080, ICR_HIGH = 0x310;

function range(from: number, to: number): number[] {
  const r: number[] = [];
  for (let o = from; o <= to; o += 0x10) r.push(o);
  return r;
}
function registerSet(offsets: number[]): Uint8Array {
  const s = new Uint8Array(256);
  for (const o of offsets) s[o >>> 4] = 1;
  return s;
}

/** The host's work for the exits of this file (cost model). */
const APIC_WRITE_WORK: CostKey[] = ['emulate'];
const NO_WORK: CostKey[] = [];

export class VirtualApic implements MmioInterposer {
  /** Accesses to the APIC-access page that completed without a VM exit (the hypervisor view's figure). */
  virtualized = 0;

  constructor(
    private readonly vmcs: Vmcs,
    private readonly controls: KvmControls,
    private readonly exits: VmExitRecorder,
    private readonly eptExits: EptExits,
    private readonly lapic: LocalApic,
  ) {}

  /** Whether a read of `size` bytes at page offset `offset` is virtualized (SDM §30.4.2.1). */
  private readVirtualized(offset: number, size: number): boolean {
    if (!(this.controls.primary & CPU.TPR_SHADOW) || (offset & 0xf) + size > 4) return false;
    if (this.controls.secondary & SECONDARY.APIC_REGISTER_VIRT) return READ_VIRTUALIZED[offset >>> 4] === 1;
    return (offset & ~0xf) === TPR;
  }

  /** Whether a write is virtualized (SDM §30.4.3.1; virtual-interrupt delivery is never on here). */
  private writeVirtualized(offset: number, size: number): boolean {
    if (!(this.controls.primary & CPU.TPR_SHADOW) || (offset & 0xf) + size > 4) return false;
    if (this.controls.secondary & SECONDARY.APIC_REGISTER_VIRT) return WRITE_VIRTUALIZED[offset >>> 4] === 1;
    return (offset & ~0xf) === TPR;
  }

  read(offset: number, size: 1 | 2 | 4, device: MmioWindowAccess): number {
    if (this.eptExits.emulatingMmio || !this.readVirtualized(offset, size)) {
      this.eptExits.apicAccessExit(offset, false);
      return device.read(offset, size);
    }
    this.virtualized++;
    return device.read(offset, size);
  }

  write(offset: number, size: 1 | 2 | 4, value: number, device: MmioWindowAccess): void {
    if (this.eptExits.emulatingMmio || !this.writeVirtualized(offset, size)) {
      this.eptExits.apicAccessExit(offset, true);
      device.write(offset, size, value);
      return;
    }
    this.virtualized++;
    const reg = offset & ~0xf;
    if (reg === TPR) { this.tprWrite(offset, size, value, device); return; }
    device.write(offset, size, value);
    // ICR high: the processor clears bytes 2:0 (the model keeps only the destination byte); no exit.
    if (reg === ICR_HIGH) return;
    this.exits.trapLike(EXIT_REASON.APIC_WRITE, offset & 0xfff, APIC_WRITE_WORK, apicWriteText);
  }

  /**
   * TPR virtualization without virtual-interrupt delivery (SDM §30.1.2): VTPR written (bytes 3:1
   * cleared), then a trap-like TPR-below-threshold exit if its priority class fell below TPR_THRESHOLD.
   * The threshold is what KVM's update_cr8_intercept wrote at the last VM entry — the class of the
   * highest requested vector when the TPR holds it back, else 0 — computed here from the APIC before
   * the write (an interrupt reaching the APIC kicks KVM's VCPU out, so an entry follows every change).
   */
  private tprWrite(offset: number, size: 1 | 2 | 4, value: number, device: MmioWindowAccess): void {
    const irr = this.lapic.highestRequested();
    const irrClass = irr < 0 ? -1 : irr >>> 4, tprClass = (this.lapic.tpr >>> 4) & 0xf;
    const threshold = irrClass < 0 || tprClass < irrClass ? 0 : irrClass;
    this.vmcs.setNarrow(VMCS.TPR_THRESHOLD, threshold);
    device.write(offset, size, value);
    if (((this.lapic.tpr >>> 4) & 0xf) < threshold) {
      this.exits.trapLike(EXIT_REASON.TPR_BELOW_THRESHOLD, 0, NO_WORK, `TPR 0x${this.lapic.tpr.toString(16)} below the threshold ${threshold}: the held-back interrupt is injected`);
    }
  }
}

function apicWriteText(q: number): string {
  return `local APIC register 0x${(q & 0xfff).toString(16)} written in the virtual-APIC page: the host completes the write`;
}
