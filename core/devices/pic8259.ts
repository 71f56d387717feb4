/*
 * The 8259A PIC pair of the PC (master 0x20/0x21, slave 0xA0/0xA1 cascaded on master IR2), as the
 * 8259A data sheet and QEMU's hw/intc/i8259.c describe it: ICW1–ICW4 initialisation, IMR, OCW2 EOI
 * commands (non-specific, specific, rotations, set priority), OCW3 IRR/ISR read select and poll,
 * auto-EOI, edge-triggered requests, fully nested priorities, spurious IRQ 7 / 15.
 */
import type { InterruptController } from '../cpu/cpu';
import type { PortDevice } from './ioBus';

export interface PicChipState {
  irr: number; imr: number; isr: number; lastLevel: number; vectorBase: number; lowestPriority: number;
  initStep: number; needIcw4: boolean; single: boolean; autoEoi: boolean; readIsr: boolean; poll: boolean;
  rotateOnAutoEoi: boolean; specialMask: boolean; icw3: number; elcr: number;
}

class PicChip {
  irr = 0; imr = 0; isr = 0; lastLevel = 0;
  vectorBase = 0; lowestPriority = 7;
  /** 0: operational; 2..4: expecting ICW2..ICW4. */
  initStep = 0;
  needIcw4 = false; single = false; autoEoi = false; readIsr = false; poll = false;
  rotateOnAutoEoi = false; specialMask = false; icw3 = 0; elcr = 0;

  constructor(readonly isMaster: boolean) {}

  setLine(irq: number, level: boolean): void {
    const mask = 1 << irq;
    if (level) {
      if (!(this.lastLevel & mask)) this.irr |= mask;
      this.lastLevel |= mask;
    } else this.lastLevel &= ~mask;
  }

  /** Priority of `irq` (0 highest) given the rotation. */
  private priority(irq: number): number { return (irq - this.lowestPriority - 1) & 7; }

  /** The highest-priority bit set in `mask`, or -1. */
  private highest(mask: number): number {
    if (!mask) return -1;
    let best = -1;
    for (let irq = 0; irq < 8; irq++) if ((mask & (1 << irq)) && (best < 0 || this.priority(irq) < this.priority(best))) best = irq;
    return best;
  }

  /** The IRQ that would be delivered now (respecting masks and in-service priorities), or -1. */
  pending(slaveRequest: boolean): number {
    const irr = (this.irr | (slaveRequest && this.isMaster ? 4 : 0)) & ~this.imr;
    const irq = this.highest(irr);
    if (irq < 0) return -1;
    // Fully nested mode: an in-service IRQ of higher or equal priority blocks (special mask mode ignores masked ISR bits).
    let isr = this.isr;
    if (this.specialMask) isr &= ~this.imr;
    // The master in special fully nested mode would let the cascade through; not modelled.
    const inService = this.highest(isr);
    if (inService >= 0 && this.priority(inService) <= this.priority(irq)) return -1;
    return irq;
  }

  /** INTA: moves `irq` from IRR to ISR (or EOIs it at once in auto-EOI mode). */
  acknowledge(irq: number): void {
    const mask = 1 << irq;
    if (!(this.elcr & mask)) this.irr &= ~mask;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.lowestPriority = irq;
    } else this.isr |= mask;
  }

  writeCommand(v: number): void {
    if (v & 0x10) { // ICW1
      this.needIcw4 = (v & 1) !== 0;
      this.single = (v & 2) !== 0;
      this.imr = 0; this.isr = 0; this.irr = 0; this.lastLevel = 0;
      this.lowestPriority = 7; this.readIsr = false; this.poll = false; this.specialMask = false;
      this.autoEoi = false; this.rotateOnAutoEoi = false;
      this.initStep = 2;
      return;
    }
    if (v & 0x08) { // OCW3
      if (v & 0x04) this.poll = true;
      if (v & 0x02) this.readIsr = (v & 1) !== 0;
      if (v & 0x40) this.specialMask = (v & 0x20) !== 0;
      return;
    }
    // OCW2
    const cmd = v >> 5;
    switch (cmd) {
      case 0: this.rotateOnAutoEoi = false; break;
      case 4: this.rotateOnAutoEoi = true; break;
      case 1: case 5: { // non-specific EOI (5: and rotate)
        const irq = this.highest(this.isr);
        if (irq >= 0) { this.isr &= ~(1 << irq); if (cmd === 5) this.lowestPriority = irq; }
        break;
      }
      case 3: case 7: { // specific EOI (7: and rotate)
        const irq = v & 7;
        this.isr &= ~(1 << irq);
        if (cmd === 7) this.lowestPriority = irq;
        break;
      }
      case 6: this.lowestPriority = v & 7; break; // set priority
      default: break; // 2: no operation
    }
  }

  writeData(v: number): void {
    switch (this.initStep) {
      case 2:
        this.vectorBase = v & 0xf8;
        this.initStep = this.single ? (this.needIcw4 ? 4 : 0) : 3;
        return;
      case 3:
        this.icw3 = v;
        this.initStep = this.needIcw4 ? 4 : 0;
        return;
      case 4:
        this.autoEoi = (v & 2) !== 0;
        this.initStep = 0;
        return;
      default:
        this.imr = v;
    }
  }

  getState(): PicChipState {
    const { irr, imr, isr, lastLevel, vectorBase, lowestPriority, initStep, needIcw4, single, autoEoi, readIsr, poll, rotateOnAutoEoi, specialMask, icw3, elcr } = this;
    return { irr, imr, isr, lastLevel, vectorBase, lowestPriority, initStep, needIcw4, single, autoEoi, readIsr, poll, rotateOnAutoEoi, specialMask, icw3, elcr };
  }
  setState(s: PicChipState): void { Object.assign(this, s); }
}

export class Pic8259Pair implements InterruptController {
  readonly master = new PicChip(true);
  readonly slave = new PicChip(false);
  /** Called when a request may have become deliverable (the CPU then checks at its next boundary). */
  onChange: () => void = () => {};
  /** Vectors delivered, by IRQ line (for reports). */
  readonly delivered = new Array<number>(16).fill(0);

  constructor() {
    // The firmware (SeaBIOS under QEMU) leaves the PICs initialised with the real-mode vector bases.
    this.master.vectorBase = 0x08;
    this.slave.vectorBase = 0x70;
  }

  /** Sets the level of IRQ line 0..15 (edge-triggered: a rising edge requests). */
  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setLine(irq, level);
    else this.slave.setLine(irq - 8, level);
    if (level) this.onChange();
  }
  /** A rising and falling edge on `irq` (the PIT's periodic pulse). */
  pulse(irq: number): void { this.setIrq(irq, true); this.setIrq(irq, false); }

  hasInterrupt(): boolean {
    if ((this.master.irr & ~this.master.imr) === 0 && (this.slave.irr & ~this.slave.imr) === 0) return false;
    return this.master.pending(this.slave.pending(false) >= 0) >= 0;
  }

  acknowledge(): number {
    const slaveIrq = this.slave.pending(false);
    const irq = this.master.pending(slaveIrq >= 0);
    if (irq < 0) return this.master.vectorBase | 7; // spurious IRQ 7
    this.master.acknowledge(irq);
    if (irq === 2 && slaveIrq >= 0) {
      this.slave.acknowledge(slaveIrq);
      this.delivered[8 + slaveIrq]++;
      return this.slave.vectorBase | slaveIrq;
    }
    if (irq === 2) return this.slave.vectorBase | 7; // spurious IRQ 15
    this.delivered[irq]++;
    return this.master.vectorBase | irq;
  }

  private chip(port: number): PicChip { return port >= 0xa0 ? this.slave : this.master; }

  readonly device: PortDevice = {
    read: (port) => {
      const c = this.chip(port);
      if (c.poll) {
        c.poll = false;
        const slaveIrq = c.isMaster ? this.slave.pending(false) : -1;
        const irq = c.pending(slaveIrq >= 0);
        if (irq < 0) return 0;
        c.acknowledge(irq);
        return 0x80 | irq;
      }
      if (port & 1) return c.imr;
      return c.readIsr ? c.isr : c.irr;
    },
    write: (port, v) => {
      const c = this.chip(port);
      if (port & 1) c.writeData(v); else c.writeCommand(v);
      this.onChange(); // an unmask or EOI can make a request deliverable
    },
  };

  getState(): { master: PicChipState; slave: PicChipState } { return { master: this.master.getState(), slave: this.slave.getState() }; }
  setState(s: { master: PicChipState; slave: PicChipState }): void { this.master.setState(s.master); this.slave.setState(s.slave); }
}
