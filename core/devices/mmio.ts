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

/** A window's device as an interposer reaches it: accesses by offset and size, narrow ones merged. */
export interface MmioWindowAccess {
  read(offset: number, size: 1 | 2 | 4): number;
  write(offset: number, size: 1 | 2 | 4, value: number): void;
}

/**
 * Stands between the bus and a window's device (VT-x's APIC virtualization: an access to the
 * APIC-access page is virtualized, or exits to the host that emulates it at the device).
 */
export interface MmioInterposer {
  read(offset: number, size: 1 | 2 | 4, device: MmioWindowAccess): number;
  write(offset: number, size: 1 | 2 | 4, value: number, device: MmioWindowAccess): void;
}

interface Window extends MmioWindowAccess { base: number; size: number; device: MmioDevice; name: string; interposer: MmioInterposer | undefined }

export class MmioBus implements MmioHandler {
  private readonly windows: Window[] = [];
  /** Called after every access (monitors count and trace them). */
  onAccess: ((a: MmioAccess) => void) | undefined;

  register(base: number, size: number, name: string, device: MmioDevice): void {
    const w: Window = {
      base: base >>> 0, size, device, name, interposer: undefined,
      read: (off, sz) => readDevice(device, off, sz),
      write: (off, sz, v) => writeDevice(device, off, sz, v),
    };
    this.windows.push(w);
  }

  /** Puts `interposer` between the bus and the window at `base` (undefined: removes it). */
  interpose(base: number, interposer: MmioInterposer | undefined): void {
    const w = this.find(base);
    if (!w) throw new Error(`no MMIO window at 0x${(base >>> 0).toString(16)}`);
    w.interposer = interposer;
  }

  /** The device name at `p` (undefined: none). */
  deviceAt(p: number): string | undefined { return this.find(p)?.name; }

  claims(p: number): boolean { return this.find(p) !== undefined; }

  read(p: number, size: 1 | 2 | 4): number {
    const w = this.find(p);
    if (!w) return size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
    const off = p - w.base;
    const v = w.interposer ? w.interposer.read(off, size, w) : readDevice(w.device, off, size);
    this.onAccess?.({ address: p, size, write: false, value: v >>> 0, device: w.name });
    return v >>> 0;
  }

  write(p: number, size: 1 | 2 | 4, v: number): void {
    const w = this.find(p);
    if (!w) return;
    const off = p - w.base;
    if (w.interposer) w.interposer.write(off, size, v, w); else writeDevice(w.device, off, size, v);
    this.onAccess?.({ address: p, size, write: true, value: v >>> 0, device: w.name });
  }

  private find(p: number): Window | undefined {
    p >>>= 0;
    for (const w of this.windows) if (p >= w.base && p - w.base < w.size) return w;
    return undefined;
  }
}

/** A read of `size` bytes at `off`: the containing dword's bytes. */
function readDevice(device: MmioDevice, off: number, size: 1 | 2 | 4): number {
  const shift = 8 * (off & 3);
  const dword = device.read(off & ~3) >>> 0;
  return (size === 4 && shift === 0 ? dword : (dword >>> shift) & (size === 4 ? 0xffffffff : (1 << (8 * size)) - 1)) >>> 0;
}

/** A write of `size` bytes at `off`, merged into the dword the device last returned. */
function writeDevice(device: MmioDevice, off: number, size: 1 | 2 | 4, v: number): void {
  const shift = 8 * (off & 3);
  let value = v >>> 0;
  if (size !== 4 || shift !== 0) {
    const mask = ((size === 4 ? 0xffffffff : (1 << (8 * size)) - 1) << shift) >>> 0;
    value = ((device.read(off & ~3) & ~mask) | ((v << shift) & mask)) >>> 0;
  }
  device.write(off & ~3, value);
}
