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
 * Also PIIX4's APM ports: 0xB2 (APM control) raises an SMI, and SeaBIOS's SMI handler answers ACPI
 * enable (0xF1, the FADT's ACPI_ENABLE) by setting SCI_EN in PM1 control and ACPI disable (0xF0) by
 * clearing it — the handshake a kernel does before it trusts PM1 control; 0xB3 (APM status) is a
 * scratch byte. And the GPE0 block at 0xAFE0 (2 bytes of status, write 1 to clear; 2 of enable).
 * No SCI is raised (IRQ 9): the status bits are for polling.
 */
import type { PortDevice } from './ioBus';

export const ACPI_PM_BASE = 0x600;
export const APM_CONTROL = 0xb2;
export const GPE0_BASE = 0xafe0;
const ACPI_ENABLE = 0xf1, ACPI_DISABLE = 0xf0;
const SCI_EN = 0x0001;
export const PM_TIMER_HZ = 3_579_545;
const TMR_STS = 0x0001;
const SLP_EN = 0x2000;

export interface AcpiPmState { status: number; enable: number; control: number; overflowTick: number; apm: number[]; gpe: number[] }

export class AcpiPm {
  private status = 0;
  private enable = 0;
  private control = 0;
  /** PM timer tick at which bit 23 next toggles (TMR_STS is set from then on); QEMU's reset leaves 0, so the bit reads set until a guest clears it. */
  private overflowTick = 0;
  /** APM control (0xB2) and status (0xB3) as last written. */
  private readonly apm = [0, 0];
  /** GPE0 status (2 bytes) and enable (2 bytes). */
  private readonly gpe = [0, 0, 0, 0];

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
    // Wider writes arrive as bytes (the I/O bus splits them), low byte first: a byte lands in its half
    // of the word register, so `outw(0x604, 0x2000)` sets SLP_EN with the second byte, SLP_TYP
    // already in place — what QEMU's read-modify-write of the word (.impl.min_access_size = 2) does.
    write: (port, value) => {
      const offset = port - ACPI_PM_BASE;
      const shift = 8 * (offset & 1);
      const mask = 0xff << shift;
      const v = (value & 0xff) << shift;
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

  /** 0xB2/0xB3. A write to 0xB2 is an SMI, answered as SeaBIOS's handler does (src/fw/smm.c). */
  readonly apmDevice: PortDevice = {
    read: (port) => this.apm[port - APM_CONTROL],
    write: (port, v) => {
      this.apm[port - APM_CONTROL] = v;
      if (port !== APM_CONTROL) return;
      if (v === ACPI_ENABLE) this.control |= SCI_EN;
      else if (v === ACPI_DISABLE) this.control &= ~SCI_EN;
    },
  };

  /** GPE0 at 0xAFE0: status bytes (write 1 to clear; no event sets them here), then enable bytes. */
  readonly gpeDevice: PortDevice = {
    read: (port) => this.gpe[port - GPE0_BASE],
    write: (port, v) => {
      const k = port - GPE0_BASE;
      this.gpe[k] = k < 2 ? this.gpe[k] & ~v : v;
    },
  };

  getState(): AcpiPmState {
    return { status: this.status, enable: this.enable, control: this.control, overflowTick: this.overflowTick, apm: [...this.apm], gpe: [...this.gpe] };
  }
  setState(s: AcpiPmState): void {
    this.status = s.status; this.enable = s.enable; this.control = s.control; this.overflowTick = s.overflowTick;
    this.apm.splice(0, 2, ...(s.apm ?? [0, 0]));
    this.gpe.splice(0, 4, ...(s.gpe ?? [0, 0, 0, 0]));
  }
}
