/*
 * The MC146818 CMOS RTC at 0x70 (index; bit 7 = NMI disable) / 0x71 (data), as QEMU's
 * hw/rtc/mc146818rtc.c presents it after SeaBIOS: BCD, 24-hour mode (status B 0x02), divider 0x26
 * in status A, valid RAM in status D. The clock is deterministic: it starts at `start` (UTC) and
 * advances with the machine's simulated time, so every run reads the same dates; update-in-progress
 * (status A bit 7) is set during the last 244 µs of each simulated second, as on the chip.
 * The memory bytes SeaBIOS and kernels read: base memory (0x15/0x16), extended memory (0x17/0x18,
 * 0x30/0x31), memory above 16 MiB (0x34/0x35), the equipment byte and the century (0x32).
 */
import type { PortDevice } from './ioBus';

export const RTC_DEFAULT_START = Date.UTC(2000, 0, 1, 0, 0, 0);
const UIP_SECONDS = 244e-6;

export interface CmosState { index: number; nmiDisabled: boolean; ram: number[] }

export class CmosRtc implements PortDevice {
  private index = 0;
  /** Port 0x70 bit 7 (the NMI mask; no NMI source exists, it is kept for the guest to read back via its own copy). */
  nmiDisabled = false;
  private readonly ram = new Uint8Array(128);

  constructor(
    /** Simulated time in cycles, and the clock rate that turns it into seconds. */
    private readonly now: () => number,
    private readonly hz: number,
    ramBytes: number,
    private readonly start = RTC_DEFAULT_START,
  ) {
    const r = this.ram;
    r[0x0a] = 0x26; r[0x0b] = 0x02; r[0x0d] = 0x80;
    r[0x10] = 0x00;                                       // no floppies
    r[0x14] = 0x06;                                       // equipment: FPU, PS/2 mouse port (QEMU), no floppy
    r[0x15] = 640 & 0xff; r[0x16] = 640 >> 8;             // base memory, KiB
    const ext = Math.min(0xffff, Math.max(0, (ramBytes >> 10) - 1024));
    r[0x17] = r[0x30] = ext & 0xff; r[0x18] = r[0x31] = ext >> 8;
    const above16 = Math.max(0, (ramBytes - (16 << 20)) >> 16);
    r[0x34] = above16 & 0xff; r[0x35] = above16 >> 8;
  }

  /** The clock's current time (ms since the epoch) and the fraction of its second elapsed. */
  private clock(): { ms: number; fraction: number } {
    const ms = this.start + (this.now() / this.hz) * 1000;
    return { ms: Math.floor(ms / 1000) * 1000, fraction: (ms % 1000) / 1000 };
  }

  private field(reg: number): number {
    const d = new Date(this.clock().ms);
    const bin = (this.ram[0x0b] & 0x04) !== 0;
    const enc = (v: number) => (bin ? v : ((Math.floor(v / 10) << 4) | (v % 10)));
    switch (reg) {
      case 0x00: return enc(d.getUTCSeconds());
      case 0x02: return enc(d.getUTCMinutes());
      case 0x04: {
        const h = d.getUTCHours();
        if (this.ram[0x0b] & 0x02) return enc(h);
        return enc(h % 12 === 0 ? 12 : h % 12) | (h >= 12 ? 0x80 : 0);
      }
      case 0x06: return enc(d.getUTCDay() + 1);
      case 0x07: return enc(d.getUTCDate());
      case 0x08: return enc(d.getUTCMonth() + 1);
      case 0x09: return enc(d.getUTCFullYear() % 100);
      case 0x32: return enc(Math.floor(d.getUTCFullYear() / 100));
      default: return -1;
    }
  }

  read(port: number): number {
    if (port === 0x70) return 0xff;                       // the index register is write-only
    const reg = this.index;
    const f = this.field(reg);
    if (f >= 0) return f;
    if (reg === 0x0a) return (this.ram[0x0a] & 0x7f) | (1 - this.clock().fraction <= UIP_SECONDS ? 0x80 : 0);
    if (reg === 0x0c) { const v = this.ram[0x0c]; this.ram[0x0c] = 0; return v; }
    return this.ram[reg];
  }

  write(port: number, v: number): void {
    if (port === 0x70) { this.index = v & 0x7f; this.nmiDisabled = (v & 0x80) !== 0; return; }
    const reg = this.index;
    if (reg === 0x0c || reg === 0x0d || this.field(reg) >= 0) return; // status C/D read-only; the clock keeps simulated time
    if (reg === 0x0a) { this.ram[0x0a] = v & 0x7f; return; }
    this.ram[reg] = v;
  }

  getState(): CmosState { return { index: this.index, nmiDisabled: this.nmiDisabled, ram: [...this.ram] }; }
  setState(s: CmosState): void { this.index = s.index; this.nmiDisabled = s.nmiDisabled; this.ram.set(s.ram); }
}
