/*
 * The local APIC in xAPIC mode (Intel SDM Vol. 3A ch. 11; QEMU hw/intc/apic.c), one CPU, at
 * 0xFEE00000: ID, version, TPR/PPR, EOI, LDR/DFR, SVR, ISR/TMR/IRR, ESR, ICR (fixed IPIs to self,
 * INIT and SIPI), the six LVT entries and the timer in one-shot and periodic modes on simulated time.
 *
 * The timer counts the machine's cycles divided by TDCR: it fires (initial count + 1) × divisor
 * cycles after it is loaded, and a periodic timer again every such period (QEMU's apic_next_timer).
 * The register values after reset are those SeaBIOS leaves (measured on QEMU with
 * test/devices/guests/apic.gasm): SVR 0x1FF (enabled, spurious vector 0xFF), LINT0 ExtINT and
 * LINT1 NMI unmasked, the other LVTs masked, DFR flat.
 *
 * As the CPU sees it, `hasInterrupt` / `acknowledge` pick the highest requested vector whose
 * priority class is above the processor priority; the 8259s reach the CPU through LINT0 (ExtINT)
 * when it is unmasked or the APIC is off (`acceptsPic`, QEMU's apic_accept_pic_intr).
 */
import type { MmioDevice } from './mmio';

export const LAPIC_VERSION = 0x00050014;
const LVT_MASKED = 1 << 16, LVT_PERIODIC = 1 << 17;
const LVT_TIMER = 0, LVT_LINT0 = 3;
const SVR_ENABLE = 0x100;

export interface LapicState {
  id: number; tpr: number; ldr: number; dfr: number; svr: number; esr: number; icrLo: number; icrHi: number;
  lvt: number[]; irr: number[]; isr: number[]; tmr: number[];
  tdcr: number; initial: number; loadTime: number; deadline: number;
}

export class LocalApic implements MmioDevice {
  id = 0;
  tpr = 0;
  ldr = 0;
  dfr = 0xffffffff;
  svr = 0x1ff;
  esr = 0;
  icrLo = 0;
  icrHi = 0;
  /** Timer, thermal, performance counter, LINT0, LINT1, error. */
  lvt = [LVT_MASKED, LVT_MASKED, LVT_MASKED, 0x8700, 0x8400, LVT_MASKED];
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);
  tdcr = 0;
  initial = 0;
  private loadTime = 0;
  /** Cycle at which the timer next fires (Infinity: not armed). */
  private deadline = Infinity;
  /** INIT and SIPI sent (to CPUs this machine does not have), for the record. */
  startupIpis = 0;

  constructor(
    /** Simulated time in cycles. */
    private readonly now: () => number,
    /** Called when an interrupt may have become deliverable. */
    private readonly onChange: () => void,
    /** IA32_APIC_BASE bit 11 (global enable), read on each use. */
    private readonly globallyEnabled: () => boolean = () => true,
  ) {}

  /** EOI of a level-triggered vector (the I/O APIC clears its remote IRR). */
  onLevelEoi: (vector: number) => void = () => {};
  /** A vector was set in the IRR (a VMM that must tell its processor: VT-x's RVI). */
  onRequest: ((vector: number) => void) | undefined;

  private get softwareEnabled(): boolean { return (this.svr & SVR_ENABLE) !== 0 && this.globallyEnabled(); }

  // ---- the CPU's side ----

  /** A fixed interrupt arrives (I/O APIC, IPI, LVT): IRR bit set. */
  request(vector: number, level = false): void {
    if (vector < 16) { this.esr |= 1 << 6; return; } // received illegal vector
    this.irr[vector >>> 5] |= 1 << (vector & 31);
    if (level) this.tmr[vector >>> 5] |= 1 << (vector & 31); else this.tmr[vector >>> 5] &= ~(1 << (vector & 31));
    this.onRequest?.(vector);
    this.onChange();
  }

  private static highest(bits: Uint32Array): number {
    for (let w = 7; w >= 0; w--) if (bits[w]) return w * 32 + 31 - Math.clz32(bits[w]);
    return -1;
  }

  /** The highest vector in the IRR (-1: none): what a VMM's TPR threshold is computed from. */
  highestRequested(): number { return LocalApic.highest(this.irr); }
  /** The highest vector in the ISR (-1: none): VT-x's SVI. */
  highestInService(): number { return LocalApic.highest(this.isr); }
  /** Whether `vector` was requested level-triggered (its TMR bit). */
  levelTriggered(vector: number): boolean { return (this.tmr[vector >>> 5] & (1 << (vector & 31))) !== 0; }

  /** Processor priority: the higher of TPR and the class of the highest in-service vector. */
  get ppr(): number {
    const isr = LocalApic.highest(this.isr);
    const isrClass = isr < 0 ? 0 : isr & 0xf0;
    return (this.tpr & 0xf0) >= isrClass ? this.tpr & 0xff : isrClass;
  }

  hasInterrupt(): boolean {
    if (!this.softwareEnabled) return false;
    const v = LocalApic.highest(this.irr);
    return v >= 0 && (v & 0xf0) > (this.ppr & 0xf0);
  }

  /** INTA: the highest deliverable vector moves from IRR to ISR. */
  acknowledge(): number {
    const v = LocalApic.highest(this.irr);
    if (v < 0 || (v & 0xf0) <= (this.ppr & 0xf0)) return this.svr & 0xff; // spurious
    this.irr[v >>> 5] &= ~(1 << (v & 31));
    this.isr[v >>> 5] |= 1 << (v & 31);
    return v;
  }

  /** The 8259s' INTR reaches the CPU (LINT0 unmasked, or the APIC globally off). */
  acceptsPic(): boolean {
    return !this.globallyEnabled() || (this.lvt[LVT_LINT0] & LVT_MASKED) === 0;
  }

  /**
   * EOI: the highest in-service vector leaves the ISR (returned; -1: none). A level-triggered one's
   * EOI reaches the I/O APIC — unless `broadcast` is false: VT-x's virtualized EOI, where only an
   * EOI-induced exit lets the host tell the I/O APIC (SDM Vol. 3C §30.1.4).
   */
  endOfInterrupt(broadcast = true): number {
    const v = LocalApic.highest(this.isr);
    if (v < 0) return -1;
    this.isr[v >>> 5] &= ~(1 << (v & 31));
    if (broadcast && this.levelTriggered(v)) this.onLevelEoi(v);
    this.onChange();
    return v;
  }

  // ---- the timer ----

  private get divisor(): number {
    const v = (this.tdcr & 3) | ((this.tdcr >> 1) & 4);
    return v === 7 ? 1 : 2 << v;
  }

  private get period(): number { return (this.initial + 1) * this.divisor; }

  /** Current count register (QEMU's apic_get_current_count). */
  currentCount(): number {
    if (this.initial === 0) return 0;
    const d = Math.floor((this.now() - this.loadTime) / this.divisor);
    if (this.lvt[LVT_TIMER] & LVT_PERIODIC) return (this.initial - (d % (this.initial + 1))) >>> 0;
    return d >= this.initial ? 0 : (this.initial - d) >>> 0;
  }

  private arm(): void {
    if (this.initial === 0) { this.deadline = Infinity; return; }
    const elapsed = this.now() - this.loadTime, p = this.period;
    if (this.lvt[LVT_TIMER] & LVT_PERIODIC) this.deadline = this.loadTime + (Math.floor(elapsed / p) + 1) * p;
    else this.deadline = elapsed < p ? this.loadTime + p : Infinity;
  }

  /** The cycle at which the timer next interrupts (Infinity: never, or masked). */
  nextEventCycle(): number {
    return (this.lvt[LVT_TIMER] & LVT_MASKED) || !this.softwareEnabled ? Infinity : this.deadline;
  }

  /** Fires the timer if its time has come (called by the machine's run loop). */
  update(): void {
    if (this.now() < this.deadline) return;
    const periodic = (this.lvt[LVT_TIMER] & LVT_PERIODIC) !== 0;
    if (!(this.lvt[LVT_TIMER] & LVT_MASKED) && this.softwareEnabled) this.request(this.lvt[LVT_TIMER] & 0xff);
    if (periodic) this.arm(); else this.deadline = Infinity;
  }

  // ---- the registers ----

  read(offset: number): number {
    const reg = offset >>> 4;
    switch (reg) {
      case 0x02: return this.id << 24;
      case 0x03: return LAPIC_VERSION;
      case 0x08: return this.tpr;
      case 0x09: return 0;                                  // arbitration priority
      case 0x0a: return this.ppr;
      case 0x0b: return 0;                                  // EOI is write-only
      case 0x0d: return this.ldr;
      case 0x0e: return this.dfr;
      case 0x0f: return this.svr;
      case 0x28: return this.esr;
      case 0x30: return this.icrLo & ~(1 << 12);            // delivery is immediate: status idle
      case 0x31: return this.icrHi;
      case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37: return this.lvt[reg - 0x32];
      case 0x38: return this.initial;
      case 0x39: return this.currentCount();
      case 0x3e: return this.tdcr;
      default:
        if (reg >= 0x10 && reg < 0x18) return this.isr[reg - 0x10];
        if (reg >= 0x18 && reg < 0x20) return this.tmr[reg - 0x18];
        if (reg >= 0x20 && reg < 0x28) return this.irr[reg - 0x20];
        return 0;
    }
  }

  write(offset: number, v: number): void {
    const reg = offset >>> 4;
    v >>>= 0;
    switch (reg) {
      case 0x02: this.id = v >>> 24; break;
      case 0x08: this.tpr = v & 0xff; this.onChange(); break;
      case 0x0b: this.endOfInterrupt(); break;
      case 0x0d: this.ldr = v & 0xff000000; break;
      case 0x0e: this.dfr = (v & 0xf0000000) | 0x0fffffff; break;
      case 0x0f:
        this.svr = v & 0x1ff;
        // Software disable masks every LVT entry (SDM §11.4.7.2).
        if (!(v & SVR_ENABLE)) for (let k = 0; k < 6; k++) this.lvt[k] |= LVT_MASKED;
        this.onChange();
        break;
      case 0x28: this.esr = 0; break;                       // a write latches (and here clears) the errors
      case 0x30: this.icrLo = v & ~(1 << 12); this.sendIpi(); break;
      case 0x31: this.icrHi = v & 0xff000000; break;
      case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37: {
        const k = reg - 0x32;
        this.lvt[k] = this.softwareEnabled ? v & 0x3f7ff : (v & 0x3f7ff) | LVT_MASKED;
        if (k === LVT_TIMER) this.arm();
        this.onChange();
        break;
      }
      case 0x38: this.initial = v; this.loadTime = this.now(); this.arm(); this.onChange(); break;
      case 0x3e: this.tdcr = v & 0xb; this.loadTime = this.now(); this.arm(); break;
      default: break;
    }
  }

  /** ICR low written: a fixed IPI to this CPU is delivered; INIT / SIPI go to CPUs that do not exist. */
  private sendIpi(): void {
    const lo = this.icrLo, mode = (lo >> 8) & 7, shorthand = (lo >> 18) & 3, vector = lo & 0xff;
    let toSelf: boolean;
    if (shorthand === 1 || shorthand === 2) toSelf = true;
    else if (shorthand === 3) toSelf = false;
    else if (lo & (1 << 11)) {                               // logical destination
      const dest = this.icrHi >>> 24;
      toSelf = (this.dfr >>> 28) === 0xf ? (dest & (this.ldr >>> 24)) !== 0 : dest === 0xff;
    } else toSelf = (this.icrHi >>> 24) === this.id || (this.icrHi >>> 24) === 0xff;
    if (mode === 5 || mode === 6) { if (shorthand !== 1) this.startupIpis++; return; }
    if (toSelf && (mode === 0 || mode === 1)) this.request(vector);
  }

  getState(): LapicState {
    return {
      id: this.id, tpr: this.tpr, ldr: this.ldr, dfr: this.dfr, svr: this.svr, esr: this.esr, icrLo: this.icrLo, icrHi: this.icrHi,
      lvt: [...this.lvt], irr: [...this.irr], isr: [...this.isr], tmr: [...this.tmr],
      tdcr: this.tdcr, initial: this.initial, loadTime: this.loadTime, deadline: this.deadline,
    };
  }
  setState(s: LapicState): void {
    Object.assign(this, { id: s.id, tpr: s.tpr, ldr: s.ldr, dfr: s.dfr, svr: s.svr, esr: s.esr, icrLo: s.icrLo, icrHi: s.icrHi, tdcr: s.tdcr, initial: s.initial });
    this.lvt = [...s.lvt];
    this.irr.set(s.irr); this.isr.set(s.isr); this.tmr.set(s.tmr);
    this.loadTime = s.loadTime; this.deadline = s.deadline;
  }
}
