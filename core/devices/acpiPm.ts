/*
 * The ACPI power-management registers of QEMU's PIIX4 (hw/acpi/piix4.c, hw/acpi/core.c) at I/O 0x600,
 * where SeaBIOS sets PMBA (the PCI function 00:01.3 says so in its register 0x40):
 * - 0x600 PM1 status (word, write 1 to clear): TMR_STS is set when bit 23 of the PM timer toggles.
 * - 0x602 PM1 enable (word).
 * - 0x604 PM1 control (word): SLP_EN (bit 13) with SLP_TYP (bits 10–12) = 0 powers the machine off.
 *   This is the `outw(0x604, 0x2000)` hobby kernels use to leave QEMU; QEMU -no-reboot then exits
 *   with status 0, and Popek's run ends with outcome 'shutdown', reason 0 (poweroff, as Xen's).
 *   Other sleep types (suspend) change nothing here: no wake-up source is modelled.
 * - 0x608 PM timer (dword, read only): a 24-bit counter at 3.579545 MHz of simulated time — the
 *   same clock as the PIT's 1.193182 MHz, exactly three PM ticks per PIT tick, as on a PC.
 * No SCI is raised (IRQ 9): the status bits are for polling.
 */
import type { PortDevice } from './ioBus';

export const ACPI_PM_BASE = 0x600;
export const PM_TIMER_HZ = 3_579_545;
const TMR_STS = 0x0001;
const SLP_EN = 0x2000;

export interface AcpiPmState { status: number; enable: number; control: number; overflowTick: number }

export class AcpiPm {
  private status = 0;
  private enable = 0;
  private control = 0;
  /** PM timer tick at which bit 23 next toggles (TMR_STS is set from then on); QEMU's reset leaves 0, so the bit reads set until a guest clears it. */
  private overflowTick = 0;

  constructor(
    private readonly now: () => number,
    private readonly cpuHz: number,
    private readonly powerOff: () => void,
  ) {}

  /** The PM timer's ticks since power-on (not wrapped). */
  private ticks(): number { return Math.floor(this.now() * PM_TIMER_HZ / this.cpuHz); }

  private readStatus(): number {
    if (this.ticks() >= this.overflowTick) this.status |= TMR_STS;
    return this.status;
  }

  /** A register's value by offset from the base, as the 16-bit or 32-bit register it sits in. */
  private register(offset: number): { at: number; value: number } | undefined {
    if (offset < 2) return { at: 0, value: this.readStatus() };
    if (offset < 4) return { at: 2, value: this.enable };
    if (offset < 6) return { at: 4, value: this.control };
    if (offset >= 8 && offset < 12) return { at: 8, value: this.ticks() % 0x1000000 };
    return undefined;
  }

  readonly device: PortDevice = {
    read: (port) => {
      const r = this.register(port - ACPI_PM_BASE);
      return r ? (r.value >>> (8 * (port - ACPI_PM_BASE - r.at))) & 0xff : 0xff;
    },
    write: (port, v) => this.device.writeWide!(port, 1, v),
    readWide: (port, size) => {
      let v = 0;
      for (let k = 0; k < size; k++) v |= this.device.read(port + k) << (8 * k);
      return v >>> 0;
    },
    writeWide: (port, size, value) => {
      if (size === 4) { // two word accesses, as QEMU splits it
        this.device.writeWide!(port, 2, value & 0xffff);
        this.device.writeWide!(port + 2, 2, value >>> 16);
        return;
      }
      const offset = port - ACPI_PM_BASE;
      // A byte write lands in its half of the word register (QEMU: .impl.min_access_size = 2).
      const shift = 8 * (offset & 1);
      const mask = (size === 1 ? 0xff : 0xffff) << shift;
      const v = (value << shift) & mask;
      if (offset < 2) {
        if (v & TMR_STS) this.overflowTick = (Math.floor(this.ticks() / 0x800000) + 1) * 0x800000;
        this.status = this.readStatus() & ~v;
      } else if (offset < 4) {
        this.enable = (this.enable & ~mask) | v;
      } else if (offset < 6) {
        const written = (this.control & ~mask) | v;
        this.control = written & ~SLP_EN;
        if ((written & SLP_EN) && ((written >> 10) & 7) === 0) this.powerOff();
      }
    },
  };

  getState(): AcpiPmState { return { status: this.status, enable: this.enable, control: this.control, overflowTick: this.overflowTick }; }
  setState(s: AcpiPmState): void { this.status = s.status; this.enable = s.enable; this.control = s.control; this.overflowTick = s.overflowTick; }
}
