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
 * With virtual-interrupt delivery (secondary bit 9, SDM §30.1.3–§30.2) the processor also keeps the
 * guest interrupt status (RVI: the highest requested vector, SVI: the highest in service) and:
 *   - delivers the local APIC's interrupts itself (vmxEvents.ts): no external-interrupt exit and no
 *     VM-entry injection for them;
 *   - virtualizes EOI: the in-service vector retires without an exit, unless its bit is set in the
 *     EOI-exit bitmap — then an EOI-induced exit (reason 45, trap-like, qualification = the vector)
 *     lets the host do what only it can: tell the I/O APIC of a level-triggered vector's EOI. The
 *     bitmap is KVM's (kvm_ioapic_scan_entry): the vectors of the I/O APIC's level-triggered entries,
 *     written by the host whenever the guest programs the I/O APIC (`ioApicWritten`);
 *   - virtualizes self-IPIs (ICR low: fixed, edge, shorthand "self"): the vector is requested without
 *     an exit;
 *   - TPR writes never exit (no TPR threshold): the pending virtual interrupts are evaluated again.
 * Not modelled: posted interrupts (the host's interrupts for a running guest still exit, see
 * hardwareAssisted.ts).
 */
import { IOAPIC_PINS, type IoApic } from '../../devices/ioapic';
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
const TPR = 0x080, EOI = 0x0b0, ICR_LOW = 0x300, ICR_HIGH = 0x310;

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
/** A redirection entry's trigger-mode bit (low dword bit 15: level). */
const REDIR_LEVEL = 1 << 15;
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

  /** Virtual-interrupt delivery is on (secondary bit 9). */
  get virtualInterruptDelivery(): boolean { return (this.controls.secondary & SECONDARY.VIRTUAL_INTR_DELIVERY) !== 0; }

  /** Whether a write is virtualized (SDM §30.4.3.1). */
  private writeVirtualized(offset: number, size: number): boolean {
    if (!(this.controls.primary & CPU.TPR_SHADOW) || (offset & 0xf) + size > 4) return false;
    if (this.controls.secondary & SECONDARY.APIC_REGISTER_VIRT) return WRITE_VIRTUALIZED[offset >>> 4] === 1;
    const reg = offset & ~0xf;
    return reg === TPR || (this.virtualInterruptDelivery && (reg === EOI || reg === ICR_LOW));
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
    if (reg === EOI && this.virtualInterruptDelivery) { this.eoiVirtualization(); return; }
    device.write(offset, size, value);
    // ICR high: the processor clears bytes 2:0 (the model keeps only the destination byte); no exit.
    if (reg === ICR_HIGH) return;
    // Self-IPI virtualization (SDM §30.4.3.2): the device model's IPI to self is VIRR[vector] ← 1,
    // RVI ← max(RVI, vector), and the evaluation of pending virtual interrupts; no exit.
    if (reg === ICR_LOW && this.virtualInterruptDelivery && selfIpiVirtualizable(value)) return;
    this.exits.trapLike(EXIT_REASON.APIC_WRITE, offset & 0xfff, APIC_WRITE_WORK, apicWriteText);
  }

  /**
   * EOI virtualization (SDM §30.1.4): VISR[SVI] ← 0, SVI ← the next highest in service, PPR
   * virtualization; an EOI-induced exit if the EOI-exit bitmap names the vector, else the evaluation
   * of pending virtual interrupts. The exit's handler is KVM's handle_apic_eoi_induced: the I/O APIC
   * learns of a level-triggered vector's EOI (its remote IRR is cleared).
   */
  private eoiVirtualization(): void {
    const vector = this.lapic.endOfInterrupt(false);
    this.statusChanged();
    if (vector < 0 || !this.eoiExits(vector)) return;
    this.exits.trapLike(EXIT_REASON.EOI_INDUCED, vector, APIC_WRITE_WORK, eoiExitText);
    if (this.lapic.levelTriggered(vector)) this.lapic.onLevelEoi(vector);
  }

  /** The EOI-exit bitmap's bit for `vector` (four 64-bit fields, each stored as two 32-bit halves). */
  private eoiExits(vector: number): boolean {
    return ((this.vmcs.narrowFields()[VMCS.EOI_EXIT_BITMAP0 + (vector >>> 5)] >>> (vector & 31)) & 1) !== 0;
  }

  /**
   * RVI and SVI in the guest interrupt status (low byte RVI, high byte SVI): kept by the processor at
   * virtual-interrupt delivery, EOI and self-IPI virtualization, and by the host at VM entry (KVM's
   * vmx_hwapic_irr_update) — here after every change of the local APIC's IRR and ISR.
   */
  statusChanged(): void {
    const rvi = Math.max(0, this.lapic.highestRequested()), svi = Math.max(0, this.lapic.highestInService());
    this.vmcs.set(VMCS.GUEST_INTR_STATUS, (svi << 8) | rvi);
  }

  /**
   * The host programs the EOI-exit bitmap from the I/O APIC's redirection table, as KVM's
   * vcpu_load_eoi_exitmap after kvm_ioapic_scan_entry: the vector of every level-triggered entry.
   */
  ioApicWritten(redirectionLow: (pin: number) => number): void {
    const words = new Uint32Array(8);
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const lo = redirectionLow(pin), vector = lo & 0xff;
      if ((lo & REDIR_LEVEL) && vector >= 16) words[vector >>> 5] |= 1 << (vector & 31);
    }
    const f = this.vmcs.narrowFields();
    for (let k = 0; k < 8; k++) f[VMCS.EOI_EXIT_BITMAP0 + k] = words[k];
  }

  /**
   * TPR virtualization (SDM §30.1.2); without virtual-interrupt delivery: VTPR written (bytes 3:1
   * cleared), then a trap-like TPR-below-threshold exit if its priority class fell below TPR_THRESHOLD.
   * The threshold is what KVM's update_cr8_intercept wrote at the last VM entry — the class of the
   * highest requested vector when the TPR holds it back, else 0 — computed here from the APIC before
   * the write (an interrupt reaching the APIC kicks KVM's VCPU out, so an entry follows every change).
   */
  private tprWrite(offset: number, size: 1 | 2 | 4, value: number, device: MmioWindowAccess): void {
    // With virtual-interrupt delivery: PPR virtualization and the evaluation of pending virtual
    // interrupts (the model's new priority and its interrupt check), never an exit.
    if (this.virtualInterruptDelivery) { device.write(offset, size, value); return; }
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

/**
 * The host's emulation of the I/O APIC (its accesses exit: EPT violations), which re-programs the
 * EOI-exit bitmap after every write (KVM: ioapic_write_indirect → kvm_make_scan_ioapic_request).
 */
export function ioApicScanner(virtualApic: VirtualApic, ioapic: IoApic): MmioInterposer {
  return {
    read: (offset, size, device) => device.read(offset, size),
    write: (offset, size, value, device) => {
      device.write(offset, size, value);
      virtualApic.ioApicWritten((pin) => ioapic.redirectionLow(pin));
    },
  };
}

/** ICR low as self-IPI virtualization takes it: fixed, edge, shorthand self, vector ≥ 16, no reserved bit or delivery status. */
function selfIpiVirtualizable(icrLow: number): boolean {
  return (icrLow & 0xffffb700) === 0x00040000 && (icrLow & 0xf0) !== 0;
}

function eoiExitText(q: number): string {
  return `EOI of vector 0x${(q & 0xff).toString(16)}, set in the EOI-exit bitmap: the host tells the I/O APIC`;
}

function apicWriteText(q: number): string {
  return `local APIC register 0x${(q & 0xfff).toString(16)} written in the virtual-APIC page: the host completes the write`;
}
