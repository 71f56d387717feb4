/*
 * The physical address ranges devices decode above memory (the APIC windows). Registers are 32-bit:
 * a narrower access reads the containing dword and takes its bytes, and a narrower write merges
 * into the dword the device last returned, as QEMU's APIC models treat byte accesses.
 */
import type { MmioHandler } from '../cpu/physicalMemory';

export interface MmioDevice {
  /** Dword register at `offset` (a multiple of 4) from the window's base. */
  read(offset: number): number;
  write(offset: number, value: number): void;
}

/** One MMIO access, as monitors report it (the trace, VM-exit qualifications). */
export interface MmioAccess { address: number; size: number; write: boolean; value: number; device: string }

export class MmioBus implements MmioHandler {
  private readonly windows: Array<{ base: number; size: number; device: MmioDevice; name: string }> = [];
  /** Called after every access (monitors count and trace them). */
  onAccess: ((a: MmioAccess) => void) | undefined;

  register(base: number, size: number, name: string, device: MmioDevice): void {
    this.windows.push({ base: base >>> 0, size, device, name });
  }

  /** The device name at `p` (undefined: none). */
  deviceAt(p: number): string | undefined { return this.find(p)?.name; }

  claims(p: number): boolean { return this.find(p) !== undefined; }

  read(p: number, size: 1 | 2 | 4): number {
    const w = this.find(p);
    if (!w) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    const off = p - w.base, shift = 8 * (off & 3);
    const dword = w.device.read(off & ~3) >>> 0;
    const v = size === 4 && shift === 0 ? dword : (dword >>> shift) & (size === 4 ? 0xffffffff : (1 << (8 * size)) - 1);
    this.onAccess?.({ address: p, size, write: false, value: v >>> 0, device: w.name });
    return v >>> 0;
  }

  write(p: number, size: 1 | 2 | 4, v: number): void {
    const w = this.find(p);
    if (!w) return;
    const off = p - w.base, shift = 8 * (off & 3);
    let value = v >>> 0;
    if (size !== 4 || shift !== 0) {
      const mask = ((size === 4 ? 0xffffffff : (1 << (8 * size)) - 1) << shift) >>> 0;
      value = ((w.device.read(off & ~3) & ~mask) | ((v << shift) & mask)) >>> 0;
    }
    w.device.write(off & ~3, value);
    this.onAccess?.({ address: p, size, write: true, value: v >>> 0, device: w.name });
  }

  private find(p: number): { base: number; size: number; device: MmioDevice; name: string } | undefined {
    p >>>= 0;
    for (const w of this.windows) if (p >= w.base && p - w.base < w.size) return w;
    return undefined;
  }
}
