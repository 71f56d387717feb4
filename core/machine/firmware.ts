/*
 * What the firmware and boot loader leave in memory for the guest (SPEC §3 entry state): a flat GDT
 * the guest can read, the Multiboot information structure with a memory map, and a stack.
 * Addresses are in conventional memory below 640 KiB, away from where kernels load (1 MiB).
 */
import type { PhysicalMemory } from '../cpu/physicalMemory';

export const FIRMWARE_GDT = 0x0800;
/** null, 0x08 flat 4 GiB code (ring 0, 32-bit), 0x10 flat 4 GiB data (ring 0, 32-bit). */
export const FIRMWARE_GDT_ENTRIES: Array<[number, number]> = [[0, 0], [0x0000ffff, 0x00cf9b00], [0x0000ffff, 0x00cf9300]];
export const MULTIBOOT_INFO = 0x9000;
export const BOOT_STACK_TOP = 0x7c00;
const MMAP = MULTIBOOT_INFO + 0x100;
const LOADER_NAME = MULTIBOOT_INFO + 0x200;

export function writeFirmwareGdt(mem: PhysicalMemory): { base: number; limit: number } {
  FIRMWARE_GDT_ENTRIES.forEach(([lo, hi], k) => {
    mem.write32(FIRMWARE_GDT + 8 * k, lo);
    mem.write32(FIRMWARE_GDT + 8 * k + 4, hi);
  });
  return { base: FIRMWARE_GDT, limit: FIRMWARE_GDT_ENTRIES.length * 8 - 1 };
}

/** Writes the Multiboot info structure (flags: mem_*, mmap, boot_loader_name); returns its address. */
export function writeMultibootInfo(mem: PhysicalMemory, ramSize: number): number {
  const name = 'popek';
  for (let k = 0; k < name.length; k++) mem.write8(LOADER_NAME + k, name.charCodeAt(k));
  mem.write8(LOADER_NAME + name.length, 0);
  // Memory map as QEMU's firmware reports it (e820): low RAM, the EBDA and BIOS areas, RAM above
  // 1 MiB up to the last 128 KiB (kept by the firmware), and the BIOS ROM below 4 GiB.
  const regions: Array<[number, number, number]> = [
    [0, 0x9fc00, 1], [0x9fc00, 0x400, 2], [0xf0000, 0x10000, 2], [0x100000, ramSize - 0x100000 - 0x20000, 1],
    [ramSize - 0x20000, 0x20000, 2], [0xfffc0000, 0x40000, 2],
  ];
  regions.forEach(([base, len, type], k) => {
    const e = MMAP + 24 * k;
    mem.write32(e, 20);            // size of the entry, not counting this field
    mem.write32(e + 4, base); mem.write32(e + 8, 0);          // 64-bit base and length, little endian
    mem.write32(e + 12, len); mem.write32(e + 16, 0);
    mem.write32(e + 20, type);
  });
  const mbi = MULTIBOOT_INFO;
  for (let k = 0; k < 0x58; k += 4) mem.write32(mbi + k, 0);
  // Flags as QEMU's loader sets them: memory, boot device, command line, modules (none), memory
  // map, boot loader name.
  mem.write32(mbi, (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9));
  mem.write32(mbi + 4, 639);                                   // mem_lower, KiB
  mem.write32(mbi + 8, Math.floor((ramSize - 0x20000) / 1024) - 1024); // mem_upper, KiB above 1 MiB (to the first hole)
  mem.write32(mbi + 12, 0x8000ffff);                           // boot_device: none (QEMU's value)
  mem.write32(mbi + 16, LOADER_NAME + 0x20);                   // cmdline: empty string
  mem.write8(LOADER_NAME + 0x20, 0);
  mem.write32(mbi + 20, 0);                                    // mods_count
  mem.write32(mbi + 24, MMAP + 0x100);                         // mods_addr (no modules)
  mem.write32(mbi + 44, regions.length * 24);                  // mmap_length
  mem.write32(mbi + 48, MMAP);                                 // mmap_addr
  mem.write32(mbi + 64, LOADER_NAME);                          // boot_loader_name
  return mbi;
}
