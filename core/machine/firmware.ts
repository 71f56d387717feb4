/*
 * What the firmware and boot loader leave in memory for the guest (SPEC §3 entry state): a flat GDT
 * the guest can read, the Multiboot information structure with a memory map, the command line and
 * the modules (an initrd), and a stack. The GDT and stack are in conventional memory below 640 KiB;
 * the Multiboot parts are where QEMU's loader (hw/i386/multiboot.c) puts them.
 */
import type { PhysicalMemory } from '../cpu/physicalMemory';
import { LoadError } from './multiboot';

export const FIRMWARE_GDT = 0x0800;
/** null, 0x08 flat 4 GiB code (ring 0, 32-bit), 0x10 flat 4 GiB data (ring 0, 32-bit). */
export const FIRMWARE_GDT_ENTRIES: Array<[number, number]> = [[0, 0], [0x0000ffff, 0x00cf9b00], [0x0000ffff, 0x00cf9300]];
/** QEMU's addresses: the memory map at 0x9000, the information structure at 0x9500. */
const MMAP = 0x9000;
export const MULTIBOOT_INFO = 0x9500;
export const BOOT_STACK_TOP = 0x7c00;
const PAGE = 0x1000;
const pageAlign = (v: number) => Math.ceil(v / PAGE) * PAGE;

/** What the boot loader hands over besides the kernel: its command line and the modules. */
export interface MultibootBoot {
  /** The kernel's command line, as QEMU forms it: the kernel's file name, a space, `-append`. */
  cmdline: string;
  /** Modules in order (QEMU's `-initrd "file args,file2"`): the bytes and the module's string. */
  modules: Array<{ bytes: Uint8Array; cmdline: string }>;
}

export function writeFirmwareGdt(mem: PhysicalMemory): { base: number; limit: number } {
  FIRMWARE_GDT_ENTRIES.forEach(([lo, hi], k) => {
    mem.write32(FIRMWARE_GDT + 8 * k, lo);
    mem.write32(FIRMWARE_GDT + 8 * k + 4, hi);
  });
  return { base: FIRMWARE_GDT, limit: FIRMWARE_GDT_ENTRIES.length * 8 - 1 };
}

/**
 * Writes the Multiboot information structure and what it points to, laid out as QEMU's loader does:
 * the memory map at 0x9000 and the structure at 0x9500; right after the kernel (its end rounded up
 * to a page) a buffer with the module list (16 bytes each), the modules' strings, the kernel's
 * command line and the boot loader's name; then each module on a page boundary. A kernel that
 * prints `mods_addr` or where its initrd sits sees QEMU's numbers. Returns the structure's address.
 */
export function writeMultibootInfo(mem: PhysicalMemory, ramSize: number, kernel: { loadAddr: number; bssEnd: number }, boot: MultibootBoot): number {
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

  const buffer = kernel.loadAddr + pageAlign(kernel.bssEnd - kernel.loadAddr);
  let text = buffer + 16 * boot.modules.length;
  const putString = (str: string): number => {
    const at = text;
    const bytes = Buffer.from(str + '\0', 'latin1');
    if (at + bytes.length > ramSize) throw new LoadError('the Multiboot command lines do not fit in guest RAM');
    mem.load(at, bytes);
    text += bytes.length;
    return at;
  };
  const moduleStrings = boot.modules.map((m) => putString(m.cmdline));
  const cmdline = putString(boot.cmdline);
  const loaderName = putString('popek');
  let next = pageAlign(text);
  boot.modules.forEach((m, k) => {
    if (next + m.bytes.length > ramSize - 0x20000) throw new LoadError(`module ${k + 1} (${m.bytes.length} bytes at 0x${next.toString(16)}) does not fit in guest RAM below the firmware's tables`);
    mem.load(next, m.bytes);
    const e = buffer + 16 * k;
    mem.write32(e, next); mem.write32(e + 4, next + m.bytes.length); mem.write32(e + 8, moduleStrings[k]); mem.write32(e + 12, 0);
    next = pageAlign(next + m.bytes.length);
  });

  const mbi = MULTIBOOT_INFO;
  for (let k = 0; k < 0x58; k += 4) mem.write32(mbi + k, 0);
  // Flags as QEMU's loader sets them: memory, boot device, command line, modules, memory map, boot
  // loader name.
  mem.write32(mbi, (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 6) | (1 << 9));
  mem.write32(mbi + 4, 639);                                   // mem_lower, KiB
  mem.write32(mbi + 8, Math.floor((ramSize - 0x20000) / 1024) - 1024); // mem_upper, KiB above 1 MiB (to the first hole)
  mem.write32(mbi + 12, 0x8000ffff);                           // boot_device: none (QEMU's value)
  mem.write32(mbi + 16, cmdline);
  mem.write32(mbi + 20, boot.modules.length);                  // mods_count
  mem.write32(mbi + 24, buffer);                               // mods_addr (QEMU sets it with no modules too)
  mem.write32(mbi + 44, regions.length * 24);                  // mmap_length
  mem.write32(mbi + 48, MMAP);                                 // mmap_addr
  mem.write32(mbi + 64, loaderName);                           // boot_loader_name
  return mbi;
}

// ---- The tables SeaBIOS leaves for one CPU (QEMU `-machine pc -nic none`), as a kernel finds them --
// Measured on QEMU 7.2 / SeaBIOS 1.16.2 with test/devices/guests/firmware.gasm, at the same addresses:
// the BIOS data area points at a 1 KiB EBDA at 0x9FC00 and says 639 KiB of base memory; the MP
// floating pointer and the MP configuration table sit in the F segment (no NIC: no entry for PCI
// device 3); the RSDP too; the ACPI tables in the reserved last 128 KiB of RAM, laid out as QEMU's
// (FACS, DSDT, FACP, APIC, …, RSDT). Contents are SeaBIOS's and QEMU's (OEM "BOCHSCPU"/"BOCHS ", the
// PIIX interrupt routing, the PIIX4 power-management ports) except where Popek has less: the DSDT
// is Popek's own and holds only the \_S5 sleep package (the one kernels search for to power off),
// and there is no HPET table (no HPET is modelled).

/** Where the tables go (F segment: reserved in the e820 map; the ACPI tables at the top of RAM). */
export const EBDA = 0x9fc00;
export const MP_FLOATING = 0xf5ba0;
const MP_CONFIG = MP_FLOATING + 0x10;
export const ACPI_RSDP = 0xf59d0;
/** Offsets of the ACPI tables from the start of the last 128 KiB of RAM, as QEMU 7.2 places them. */
const ACPI_LAYOUT = { facs: 0x0, dsdt: 0x40, facp: 0x198c, madt: 0x1a00, rsdt: 0x1ad8 };
export const LAPIC_BASE = 0xfee00000;
export const IOAPIC_BASE = 0xfec00000;

function putBytes(mem: PhysicalMemory, at: number, bytes: number[]): void {
  mem.load(at, Uint8Array.from(bytes));
}
const le16 = (v: number) => [v & 0xff, (v >>> 8) & 0xff];
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
/** Sets byte `at` so that `bytes` sums to zero (every table's checksum). */
function withChecksum(bytes: number[], at: number): number[] {
  bytes[at] = 0;
  bytes[at] = (0x100 - (bytes.reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
  return bytes;
}

/** MP configuration table entries (MP spec 1.4 §4.3) for one CPU, PIIX routing as SeaBIOS's. */
function mpEntries(cpuSignature: number, cpuFeatures: number): number[][] {
  const ioIrq = (type: number, flags: number, bus: number, busIrq: number, pin: number) => [3, type, ...le16(flags), bus, busIrq, 0, pin];
  const e: number[][] = [
    [0, 0, 0x14, 3, ...le32(cpuSignature), ...le32(cpuFeatures), 0, 0, 0, 0, 0, 0, 0, 0], // processor: APIC 0, enabled BSP
    [1, 0, ...ascii('PCI   ')],
    [1, 1, ...ascii('ISA   ')],
    [2, 0, 0x11, 1, ...le32(IOAPIC_BASE)],                  // I/O APIC id 0, version 0x11, enabled
    ioIrq(0, 1, 0, 1 << 2, 9),                              // PCI device 1 INTA# (PIIX PM) → pin 9
  ];
  // ISA IRQs 0..15 except 2 (cascade) and the PCI-routed 5, 9, 10, 11; IRQ 0 goes to pin 2.
  for (const irq of [0, 1, 3, 4, 6, 7, 8, 12, 13, 14, 15]) e.push(ioIrq(0, 0, 1, irq, irq === 0 ? 2 : irq));
  e.push([4, 3, 0, 0, 1, 0, 0, 0]);                         // ExtINT from the 8259 → LINT0 of APIC 0
  e.push([4, 1, 0, 0, 1, 0, 0xff, 1]);                      // NMI → LINT1 of every APIC
  return e;
}

function acpiHeader(signature: string, length: number, revision: number): number[] {
  return [...ascii(signature), ...le32(length), revision, 0, ...ascii('BOCHS '), ...ascii('BXPC    '), ...le32(1), ...ascii('BXPC'), ...le32(1)];
}

/** A table: header and body, its checksum set. */
function acpiTable(signature: string, revision: number, body: number[]): number[] {
  return withChecksum([...acpiHeader(signature, 36 + body.length, revision), ...body], 9);
}

/**
 * The FADT (revision 1) with QEMU's values for the PIIX4: SCI on IRQ 9, SMI command port 0xB2 with
 * ACPI enable 0xF1 / disable 0xF0, PM1a event block 0x600, control 0x604, PM timer 0x608, GPE0 at
 * 0xAFE0, the CMOS century at 0x32, flags 0x80A5 (WBINVD, PROC_C1, SLP_BUTTON, RTC_S4, and the
 * PM timer's 24-bit width noted in TMR_VAL_EXT = 0).
 */
function fadtBody(facs: number, dsdt: number): number[] {
  return [
    ...le32(facs), ...le32(dsdt), 1, 0, ...le16(9), ...le32(0xb2), 0xf1, 0xf0, 0, 0,
    ...le32(0x600), ...le32(0), ...le32(0x604), ...le32(0), ...le32(0), ...le32(0x608), ...le32(0xafe0), ...le32(0),
    4, 2, 0, 4, 4, 0, 0, 0, ...le16(0x0fff), ...le16(0x0fff), ...le16(0), ...le16(0), 0, 0, 0, 0, 0x32, ...le16(0), 0,
    ...le32(0x80a5),
  ];
}

/** The DSDT's AML: Name (_S5_, Package (4) { Zero, Zero, Zero, Zero }) — SLP_TYP 0 is power off. */
const DSDT_S5 = [0x08, ...ascii('_S5_'), 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00];

/**
 * Writes the BIOS data area fields, the MP tables and the ACPI tables (RSDP, RSDT, FADT, FACS, DSDT, MADT). `cpuSignature` and
 * `cpuFeatures` are CPUID.1 EAX and EDX (the MP processor entry copies them, as SeaBIOS does).
 */
export function writeFirmwareTables(mem: PhysicalMemory, cpuSignature: number, cpuFeatures: number): void {
  // BIOS data area: EBDA segment at 0x40E, base memory in KiB at 0x413; the EBDA's first byte is its size in KiB.
  mem.write16(0x40e, EBDA >>> 4);
  mem.write16(0x413, EBDA >>> 10);
  mem.write8(EBDA, 1);
  mem.write16(0x400, 0x3f8);                                // COM1's base port (BDA serial table)

  const entries = mpEntries(cpuSignature, cpuFeatures);
  const body = entries.flat();
  const config = [...ascii('PCMP'), ...le16(44 + body.length), 4, 0, ...ascii('BOCHSCPU'), ...ascii('0.1         '),
    ...le32(0), ...le16(0), ...le16(entries.length), ...le32(LAPIC_BASE), ...le16(0), 0, 0, ...body];
  putBytes(mem, MP_CONFIG, withChecksum(config, 7));
  putBytes(mem, MP_FLOATING, withChecksum([...ascii('_MP_'), ...le32(MP_CONFIG), 1, 4, 0, 0, 0, 0, 0, 0], 10));

  // ACPI: FACS, DSDT, FADT and MADT (local APIC, I/O APIC, the ISA overrides SeaBIOS lists, LINT1
  // NMI) behind an RSDT, at QEMU's addresses.
  const madtBody = [
    ...le32(LAPIC_BASE), ...le32(1),                        // local APIC address, PCAT_COMPAT
    0, 8, 0, 0, ...le32(1),                                 // processor 0, APIC id 0, enabled
    1, 12, 0, 0, ...le32(IOAPIC_BASE), ...le32(0),           // I/O APIC 0, GSI base 0
    2, 10, 0, 0, ...le32(2), ...le16(0),                     // ISA IRQ 0 → GSI 2
    ...[5, 9, 10, 11].flatMap((irq) => [2, 10, 0, irq, ...le32(irq), ...le16(0x0d)]), // PCI IRQs: level, active high
    4, 6, 0xff, 0, 0, 1,                                    // NMI on LINT1 of every processor
  ];
  const base = mem.ramSize - 0x20000;                       // reserved in the e820 map
  const at = (table: keyof typeof ACPI_LAYOUT) => base + ACPI_LAYOUT[table];
  putBytes(mem, at('facs'), [...ascii('FACS'), ...le32(64), ...new Array<number>(56).fill(0)]);
  putBytes(mem, at('dsdt'), acpiTable('DSDT', 1, DSDT_S5));
  putBytes(mem, at('facp'), acpiTable('FACP', 1, fadtBody(at('facs'), at('dsdt'))));
  putBytes(mem, at('madt'), acpiTable('APIC', 1, madtBody));
  putBytes(mem, at('rsdt'), acpiTable('RSDT', 1, [...le32(at('facp')), ...le32(at('madt'))]));
  putBytes(mem, ACPI_RSDP, withChecksum([...ascii('RSD PTR '), 0, ...ascii('BOCHS '), 0, ...le32(at('rsdt'))], 8));
}

/**
 * The BIOS data area (0x400–0x4FF) as SeaBIOS leaves it when QEMU starts a Multiboot kernel
 * (measured in QEMU 7.2, SeaBIOS 1.16.2): COM1 at 0x3F8, 639 KiB of base memory, the EBDA at
 * 0x9FC00, video mode 3 with 80 columns, the cursor at row 2, CRTC at 0x3D4 (the timer tick count
 * at 0x46C is the one of that run). Kernels read the COM port table and video fields from here.
 */
const BDA_AS_SEABIOS_LEAVES_IT =
  'F803000000000000780300000000C09F2742007F0200000000001E001E000000' +
  '0000000000000000000000000000000000000000000000000000000000000000' +
  '0000000000000000000350000010000000020000000000000000000000000000' +
  '070600D40300000000000000C6F70C00000000000000C000140000000A000000' +
  '1E003E0018100060F95108000000000700000000000010000000000000000000' +
  '0000000000000000206800C000000000000000000000000000400300C6680000';

export function writeBiosDataArea(mem: PhysicalMemory): void {
  const hex = BDA_AS_SEABIOS_LEAVES_IT; // 0x4C0–0x4FF are zero
  const bda = new Uint8Array(256);
  for (let k = 0; k < hex.length / 2; k++) bda[k] = parseInt(hex.slice(2 * k, 2 * k + 2), 16);
  mem.load(0x400, bda);
}

/**
 * What is on the VGA text screen when the kernel starts, as SeaBIOS leaves it on QEMU 7.2's pc without
 * a NIC (`-nic none`, so no iPXE option ROM line; SeaBIOS 1.16.2): the firmware banner and "Booting from
 * ROM...", grey on black; the cursor (CRTC and BDA) is on row 2, column 0.
 */
export function firmwareScreenLines(): string[] {
  const lines = new Array<string>(25).fill('');
  lines[0] = 'SeaBIOS (version 1.16.2-debian-1.16.2-1)';
  lines[1] = 'Booting from ROM...';
  return lines;
}

export function writeFirmwareScreen(mem: PhysicalMemory, textBase: number): void {
  // character, attribute (grey on black) for each of the 25 × 80 cells, written at once
  const cells = new Uint8Array(25 * 80 * 2);
  firmwareScreenLines().forEach((line, row) => {
    for (let col = 0; col < 80; col++) {
      const at = 2 * (row * 80 + col);
      cells[at] = col < line.length ? line.charCodeAt(col) : 0x20;
      cells[at + 1] = 0x07;
    }
  });
  mem.load(textBase, cells);
}
