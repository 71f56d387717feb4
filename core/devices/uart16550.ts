/*
 * 16550A UART (COM1 at 0x3F8, IRQ 4), the registers a driver touches, as QEMU's hw/char/serial.c
 * models them: THR writes are console output and complete at once (LSR always reports THRE and
 * TEMT), DLAB selects the divisor latch, IER/IIR give the THR-empty and received-data interrupts.
 * Input (`receive`: `popek run --stdin`, the debugger's console) waits in a host-side queue and enters
 * the receive buffer one byte at a time, as a line at 115200 baud would deliver it to a guest that
 * reads RBR: LSR.DR while a byte is there, IIR 0x04 (above THR empty) and IRQ 4 when IER bit 0 is set.
 */
import type { PortDevice } from './ioBus';

const LSR_THRE = 0x20, LSR_TEMT = 0x40, LSR_DR = 0x01;
const IER_RDI = 0x01, IER_THRI = 0x02;
const IIR_NO_INT = 0x01, IIR_THRI = 0x02, IIR_RDI = 0x04, IIR_FIFO = 0xc0;
const LCR_DLAB = 0x80;
const MCR_LOOP = 0x10;

export interface UartState {
  ier: number; lcr: number; mcr: number; scr: number; dll: number; dlm: number; fcr: number;
  thrIpending: boolean; rx: number[]; output: number[];
}

export class Uart16550 implements PortDevice {
  private ier = 0; private lcr = 0; private mcr = 0; private scr = 0; private dll = 0x0c; private dlm = 0; private fcr = 0;
  /** THR-empty interrupt pending (cleared by reading IIR or writing THR). */
  private thrIpending = false;
  /** Received bytes (the receive buffer / FIFO: loopback writes and `receive`). */
  private rx: number[] = [];
  /** Every byte written to THR (the console). */
  readonly output: number[] = [];
  /** Called with each console byte as it is written. */
  onByte: (b: number) => void = () => {};

  constructor(private readonly base: number, private readonly setIrq: (level: boolean) => void) {}

  read(port: number): number {
    switch (port - this.base) {
      case 0:
        if (this.lcr & LCR_DLAB) return this.dll;
        {
          const b = this.rx.shift() ?? 0;
          this.updateIrq();
          return b;
        }
      case 1: return this.lcr & LCR_DLAB ? this.dlm : this.ier;
      case 2: {
        const iir = this.iir();
        if ((iir & 0x0f) === IIR_THRI) { this.thrIpending = false; this.updateIrq(); }
        return iir;
      }
      case 3: return this.lcr;
      case 4: return this.mcr;
      case 5: return LSR_THRE | LSR_TEMT | (this.rx.length ? LSR_DR : 0);
      case 6:
        if (this.mcr & MCR_LOOP) return ((this.mcr & 0x0c) << 4) | ((this.mcr & 0x03) << 4);
        return 0xb0; // DCD, DSR, CTS asserted (QEMU's default)
      default: return this.scr;
    }
  }

  write(port: number, v: number): void {
    v &= 0xff;
    switch (port - this.base) {
      case 0:
        if (this.lcr & LCR_DLAB) { this.dll = v; return; }
        if (this.mcr & MCR_LOOP) { this.rx.push(v); }
        else { this.output.push(v); this.onByte(v); }
        // The byte leaves at once, so THR is empty again: a new THRE interrupt if enabled.
        this.thrIpending = true;
        this.updateIrq();
        return;
      case 1:
        if (this.lcr & LCR_DLAB) { this.dlm = v; return; }
        {
          const enablingThri = (v & IER_THRI) && !(this.ier & IER_THRI);
          this.ier = v & 0x0f;
          if (enablingThri) this.thrIpending = true; // THR is empty: the interrupt is raised at once
          this.updateIrq();
        }
        return;
      case 2: this.fcr = v & 0xc9; if (v & 2) this.rx = []; return;
      case 3: this.lcr = v; return;
      case 4: this.mcr = v & 0x1f; return;
      case 7: this.scr = v; return;
      default: return; // LSR and MSR are read-only
    }
  }

  /** Bytes arriving on the line (host input); IRQ 4 if the guest enabled the received-data interrupt. */
  receive(bytes: Iterable<number>): void {
    for (const b of bytes) this.rx.push(b & 0xff);
    this.updateIrq();
  }

  /** Bytes received and not yet read by the guest. */
  get pendingInput(): number { return this.rx.length; }

  private iir(): number {
    const fifo = this.fcr & 1 ? IIR_FIFO : 0;
    if (this.rx.length && (this.ier & IER_RDI)) return fifo | IIR_RDI;
    if (this.thrIpending && (this.ier & IER_THRI)) return fifo | IIR_THRI;
    return fifo | IIR_NO_INT;
  }
  private updateIrq(): void {
    this.setIrq((this.iir() & IIR_NO_INT) === 0);
  }

  getState(): UartState {
    return { ier: this.ier, lcr: this.lcr, mcr: this.mcr, scr: this.scr, dll: this.dll, dlm: this.dlm, fcr: this.fcr, thrIpending: this.thrIpending, rx: [...this.rx], output: [...this.output] };
  }
  setState(s: UartState): void {
    ({ ier: this.ier, lcr: this.lcr, mcr: this.mcr, scr: this.scr, dll: this.dll, dlm: this.dlm, fcr: this.fcr, thrIpending: this.thrIpending } = s);
    this.rx = [...s.rx];
    this.output.length = 0;
    this.output.push(...s.output);
  }
}
