/*
 * The I/O APIC (82093AA; QEMU hw/intc/ioapic.c, version 0x20, 24 pins) at 0xFEC00000: IOREGSEL at
 * +0x00, IOWIN at +0x10; registers 0 (ID), 1 (version), 2 (arbitration), 0x10 + 2n / 0x11 + 2n
 * (redirection entry n, low / high dword). Every entry starts masked. An unmasked edge-triggered
 * pin sends its vector to the local APIC on a rising edge; a level-triggered one while asserted,
 * once until the local APIC's EOI clears its remote IRR. Only one CPU exists: fixed and
 * lowest-priority deliveries all go to it, whatever the destination.
 */
import type { MmioDevice } from './mmio';

export const IOAPIC_PINS = 24;
export const IOAPIC_VERSION = 0x00170020;
const MASKED = 1 << 16, LEVEL = 1 << 15, REMOTE_IRR = 1 << 14;

export interface IoApicState { id: number; sel: number; redir: number[]; lines: number }

export class IoApic implements MmioDevice {
  id = 0;
  private sel = 0;
  /** Low and high dword of each entry. */
  private readonly redir = new Uint32Array(IOAPIC_PINS * 2);
  /** Pin levels (bit n: pin n asserted). */
  private lines = 0;

  constructor(private readonly deliver: (vector: number, level: boolean) => void) {
    for (let n = 0; n < IOAPIC_PINS; n++) this.redir[2 * n] = MASKED;
  }

  /** True when pin `n` is unmasked (the machine's idle loop: can this pin wake a halted CPU?). */
  unmasked(n: number): boolean { return (this.redir[2 * n] & MASKED) === 0; }
  /** Redirection entry `n`'s low dword (vector, delivery and trigger mode, mask): what a VMM scans. */
  redirectionLow(n: number): number { return this.redir[2 * n]; }

  setIrq(pin: number, level: boolean): void {
    const bit = 1 << pin, was = (this.lines & bit) !== 0;
    if (level) this.lines |= bit; else this.lines &= ~bit;
    const lo = this.redir[2 * pin];
    if (lo & LEVEL) { if (level) this.service(pin); }
    else if (level && !was) this.service(pin);
  }

  /** An edge (the PIT's output pulse). */
  pulse(pin: number): void { this.setIrq(pin, true); this.setIrq(pin, false); }

  private service(pin: number): void {
    const lo = this.redir[2 * pin];
    if (lo & MASKED) return;
    const mode = (lo >> 8) & 7;
    if (mode !== 0 && mode !== 1) return;                   // fixed / lowest priority only (no SMI, NMI, INIT, ExtINT routing)
    if (lo & LEVEL) {
      if (lo & REMOTE_IRR) return;
      this.redir[2 * pin] = lo | REMOTE_IRR;
    }
    this.deliver(lo & 0xff, (lo & LEVEL) !== 0);
  }

  /** The local APIC's EOI for a level-triggered vector: remote IRR cleared, still-asserted pins resent. */
  eoi(vector: number): void {
    for (let n = 0; n < IOAPIC_PINS; n++) {
      const lo = this.redir[2 * n];
      if ((lo & LEVEL) && (lo & 0xff) === vector && (lo & REMOTE_IRR)) {
        this.redir[2 * n] = lo & ~REMOTE_IRR;
        if (this.lines & (1 << n)) this.service(n);
      }
    }
  }

  read(offset: number): number {
    if (offset === 0) return this.sel;
    if (offset !== 0x10) return 0;
    const r = this.sel;
    if (r === 0) return this.id << 24;
    if (r === 1) return IOAPIC_VERSION;
    if (r === 2) return this.id << 24;
    if (r >= 0x10 && r < 0x10 + IOAPIC_PINS * 2) return this.redir[r - 0x10];
    return 0;
  }

  write(offset: number, v: number): void {
    if (offset === 0) { this.sel = v & 0xff; return; }
    if (offset !== 0x10) return;
    const r = this.sel;
    if (r === 0) { this.id = (v >>> 24) & 0xf; return; }
    if (r >= 0x10 && r < 0x10 + IOAPIC_PINS * 2) {
      const k = r - 0x10;
      if (k & 1) { this.redir[k] = v & 0xff000000; return; }
      // Delivery status and remote IRR are read-only.
      this.redir[k] = (v & ~(REMOTE_IRR | (1 << 12))) | (this.redir[k] & REMOTE_IRR);
      const pin = k >> 1;
      if ((this.lines & (1 << pin)) && (v & LEVEL)) this.service(pin);
    }
  }

  getState(): IoApicState { return { id: this.id, sel: this.sel, redir: [...this.redir], lines: this.lines }; }
  setState(s: IoApicState): void { this.id = s.id; this.sel = s.sel; this.redir.set(s.redir); this.lines = s.lines; }
}
