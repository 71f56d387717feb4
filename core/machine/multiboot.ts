/*
 * Multiboot 1 (GNU Multiboot Specification 0.6.96): finds the header in the first 8 KiB of an image,
 * honours the a.out-kludge address fields (flag bit 16), and builds the boot information structure
 * and memory map a loader passes in EBX.
 */

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** Flags a loader must understand (bits 0–15); we know 0 (page-align modules), 1 (memory info), 2 (video mode). */
const KNOWN_REQUIRED_FLAGS = 0x7;

export interface MultibootHeader {
  /** Offset of the header in the file. */
  offset: number;
  flags: number;
  /** a.out kludge fields, present when flag bit 16 is set. */
  aout?: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number };
}

export class LoadError extends Error {}

export function findMultibootHeader(image: Uint8Array): MultibootHeader | undefined {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const limit = Math.min(image.length, 8192) - 12;
  for (let off = 0; off <= limit; off += 4) {
    if (dv.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = dv.getUint32(off + 4, true), checksum = dv.getUint32(off + 8, true);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) continue;
    const h: MultibootHeader = { offset: off, flags };
    if (flags & 0x10000) {
      if (off + 32 > image.length) throw new LoadError('Multiboot header: the a.out address fields are cut off by the end of the file');
      const u = (k: number) => dv.getUint32(off + 12 + 4 * k, true);
      h.aout = { headerAddr: u(0), loadAddr: u(1), loadEndAddr: u(2), bssEndAddr: u(3), entryAddr: u(4) };
    }
    return h;
  }
  return undefined;
}

export interface LoadPlan {
  /** File bytes to copy and where. */
  fileOffset: number;
  length: number;
  loadAddr: number;
  /** Zero memory [bssStart, bssEnd). */
  bssStart: number;
  bssEnd: number;
  entry: number;
}

/** A header whose required flags (bits 0–15) this loader does not know cannot be booted (spec §3.1.2). */
export function checkRequiredFlags(h: MultibootHeader): void {
  if (h.flags & 0xffff & ~KNOWN_REQUIRED_FLAGS) {
    throw new LoadError(`Multiboot header requires flags 0x${(h.flags & 0xffff & ~KNOWN_REQUIRED_FLAGS).toString(16)} this loader does not support`);
  }
}

/** Where a Multiboot kernel goes, as GRUB and QEMU compute it from the a.out-kludge fields. */
export function multibootLoadPlan(image: Uint8Array, h: MultibootHeader): LoadPlan {
  checkRequiredFlags(h);
  const a = h.aout;
  if (!a) throw new LoadError('Multiboot header without the a.out kludge (flag bit 16): only ELF kernels can omit it, and this file is not ELF');
  if (a.headerAddr < a.loadAddr) throw new LoadError('Multiboot header: header_addr is below load_addr');
  const fileOffset = h.offset - (a.headerAddr - a.loadAddr);
  if (fileOffset < 0) throw new LoadError('Multiboot header: load_addr lies before the start of the file');
  const length = a.loadEndAddr ? a.loadEndAddr - a.loadAddr : image.length - fileOffset;
  if (length < 0 || fileOffset + length > image.length) throw new LoadError('Multiboot header: load_end_addr lies beyond the end of the file');
  const bssEnd = a.bssEndAddr ? a.bssEndAddr : a.loadAddr + length;
  if (bssEnd < a.loadAddr + length) throw new LoadError('Multiboot header: bss_end_addr is below load_end_addr');
  return { fileOffset, length, loadAddr: a.loadAddr, bssStart: a.loadAddr + length, bssEnd, entry: a.entryAddr };
}
