/*
 * The PC's I/O port space. Devices claim port ranges; byte-wide devices see a 16/32-bit access as
 * consecutive byte accesses (as QEMU splits them for 1-byte ISA regions). Ports nobody claims read
 * as all ones, ignore writes, and are counted so the run report can show them (SPEC §3).
 */
import type { IoBus as CpuIoBus } from '../cpu/cpu';

export interface PortDevice {
  /** Byte read at `port`. */
  read(port: number): number;
  write(port: number, value: number): void;
  /** Optional whole-access handlers (devices that take 16/32-bit accesses as one, e.g. isa-debug-exit). */
  readWide?(port: number, size: 1 | 2 | 4): number;
  writeWide?(port: number, size: 1 | 2 | 4, value: number): void;
}

export interface UnknownPortUse { reads: number; writes: number }

export class IoBus implements CpuIoBus {
  /**
   * The device of each port, as a number into `claimed` (0: none). A typed array is zeroed memory the
   * system hands over as it is touched; a 64 Ki-entry array of objects cost ≈ 0.4 ms of every start.
   */
  private readonly owner = new Uint8Array(0x10000);
  /** The devices by number; [0] is no device. */
  private readonly claimed: Array<PortDevice | undefined> = [undefined];
  /** Accesses to ports no device claims, by port. */
  readonly unknown = new Map<number, UnknownPortUse>();

  register(first: number, count: number, device: PortDevice): void {
    let n = this.claimed.indexOf(device);
    if (n < 0) {
      n = this.claimed.length;
      if (n > 0xff) throw new RangeError('io bus: more than 255 port devices');
      this.claimed.push(device);
    }
    for (let p = first; p < first + count; p++) this.owner[p & 0xffff] = n;
  }

  in(port: number, size: 1 | 2 | 4): number {
    port &= 0xffff;
    const d = this.claimed[this.owner[port]];
    if (d?.readWide) return d.readWide(port, size) >>> 0;
    let v = 0;
    for (let k = 0; k < size; k++) v |= this.readByte((port + k) & 0xffff) << (8 * k);
    return v >>> 0;
  }

  out(port: number, size: 1 | 2 | 4, value: number): void {
    port &= 0xffff;
    const d = this.claimed[this.owner[port]];
    if (d?.writeWide) { d.writeWide(port, size, value >>> 0); return; }
    for (let k = 0; k < size; k++) this.writeByte((port + k) & 0xffff, (value >>> (8 * k)) & 0xff);
  }

  private readByte(port: number): number {
    const d = this.claimed[this.owner[port]];
    if (d) return d.read(port) & 0xff;
    this.note(port).reads++;
    return 0xff;
  }
  private writeByte(port: number, v: number): void {
    const d = this.claimed[this.owner[port]];
    if (d) { d.write(port, v); return; }
    this.note(port).writes++;
  }
  private note(port: number): UnknownPortUse {
    let u = this.unknown.get(port);
    if (!u) this.unknown.set(port, u = { reads: 0, writes: 0 });
    return u;
  }
}

/** Port 0x80 (POST code / I/O delay): accepted and ignored, reads 0xFF, not reported. */
export const ignoredPort: PortDevice = { read: () => 0xff, write: () => {} };
