/*
 * PCI configuration space of QEMU's `-machine pc` (i440FX host bridge, PIIX3, PIIX4 power management,
 * the standard VGA) as SeaBIOS leaves it, through configuration mechanism #1: CONFIG_ADDRESS at 0xCF8
 * (dword accesses only), CONFIG_DATA at 0xCFC–0xCFF (byte, word or dword at register
 * (CONFIG_ADDRESS & 0xFC) + port − 0xCFC). Teaching kernels scan bus 0 this way (MIT's JOS lists the
 * functions and attaches drivers by vendor:device; wyoos and LevOS print them), so without it a
 * kernel saw an empty bus where QEMU shows five functions, and went down another path.
 *
 * The bus is QEMU's without a network card (`-nic none`): Popek models no NIC, and a kernel that finds
 * an e1000 in the configuration space would then drive registers that do nothing. What is modelled of
 * each function is its configuration space, read and written as QEMU's hw/pci/pci.c does it:
 * - reads: a function that does not exist (or bus ≠ 0, or the enable bit 31 clear) reads all ones;
 * - writes: byte by byte through QEMU's default write mask (pci_init_wmask): command bits I/O,
 *   memory, bus master, SERR#, INTx disable; cache line size; interrupt line; every byte from 0x40
 *   (device-specific); a BAR's address bits above its size (write all ones, read back the size mask,
 *   as kernels size BARs); the ROM BAR's enable bit. IDs, class, header type, status and the
 *   interrupt pin are read-only.
 * The device-specific registers SeaBIOS programs (i440FX PAM/SMRAM, PIIX3 PIRQ routing, PIIX4 PM and
 * SMBus bases) hold SeaBIOS's values; writing them changes the value a guest reads back, not the
 * machine (no shadow-RAM remapping, no IRQ rerouting). The devices behind the BARs are modelled where
 * Popek has them at their fixed ISA ports (IDE at 0x1F0, VGA text at 0xB8000); the BAR regions
 * themselves (VGA's linear frame buffer at 0xFD000000, bus-master IDE at 0xC000) are not.
 * Port 0xCF9 is PIIX3's reset control register (a byte): bit 2 set resets the machine.
 */
import type { PortDevice } from './ioBus';

/** A base address register: its size and kind, and the address SeaBIOS assigned. */
export interface PciBar {
  /** 0–5, or 6 for the expansion ROM (register 0x30). */
  index: number;
  size: number;
  kind: 'io' | 'memory' | 'prefetchable' | 'rom';
  address: number;
}

/** One function: the standard header's fields and SeaBIOS's values in the device-specific part. */
export interface PciFunctionSpec {
  name: string;
  device: number;
  fn: number;
  vendorId: number;
  deviceId: number;
  command: number;
  status: number;
  revision: number;
  /** Class, subclass, programming interface. */
  classCode: number;
  headerType: number;
  subsystemVendorId: number;
  subsystemId: number;
  interruptPin: number;
  interruptLine: number;
  bars: PciBar[];
  /** Device-specific registers (offset ≥ 0x40) as [offset, value, width in bytes]. */
  registers: Array<[number, number, 1 | 2 | 4]>;
}

/** QEMU's subsystem IDs on every function (Red Hat / QEMU, 1AF4:1100). */
const QEMU_SUBSYSTEM = { subsystemVendorId: 0x1af4, subsystemId: 0x1100 };

/** QEMU 7.2 `-machine pc -nic none` after SeaBIOS 1.16, as its configuration space reads (test/devices/guests/pci.gasm dumps it). */
export const QEMU_PC_FUNCTIONS: readonly PciFunctionSpec[] = [
  {
    name: 'i440FX host bridge', device: 0, fn: 0, vendorId: 0x8086, deviceId: 0x1237, command: 0x0103, status: 0x0000,
    revision: 0x02, classCode: 0x060000, headerType: 0x00, ...QEMU_SUBSYSTEM, interruptPin: 0, interruptLine: 0, bars: [],
    registers: [
      [0x57, 0x02, 1],       // DRAMC: DRAM control
      [0x59, 0x10, 1],       // PAM0: BIOS area 0xF0000 read from DRAM
      [0x5a, 0x11111111, 4], // PAM1–PAM4: 0xC0000–0xDFFFF (option ROM areas)
      [0x5e, 0x3311, 2],     // PAM5–PAM6: 0xE0000–0xEFFFF
      [0x72, 0x0a, 1],       // SMRAM: SMM space at 0xA0000, closed
    ],
  },
  {
    name: 'PIIX3 ISA bridge', device: 1, fn: 0, vendorId: 0x8086, deviceId: 0x7000, command: 0x0103, status: 0x0200,
    revision: 0x00, classCode: 0x060100, headerType: 0x80, ...QEMU_SUBSYSTEM, interruptPin: 0, interruptLine: 0, bars: [],
    registers: [
      [0x4c, 0x4d, 1],       // IORT: ISA I/O recovery timer
      [0x4e, 0x03, 1],       // XBCS: X-bus chip select
      [0x60, 0x0b0b0a0a, 4], // PIRQRC[A–D]: PCI interrupts A–D routed to IRQ 10, 10, 11, 11
      [0x69, 0x02, 1],       // TOM: top of memory
      [0x70, 0x80, 1],       // MBIRQ0: motherboard IRQ routing disabled
      [0x76, 0x0c0c, 2],     // MBDMA0–1: disabled
      [0x78, 0x0002, 2],     // PCSC: programmable chip select
      [0xa0, 0x08, 1],       // SMICNTL
      [0xa8, 0x0f, 1],       // SEE: system event enable
    ],
  },
  {
    name: 'PIIX3 IDE', device: 1, fn: 1, vendorId: 0x8086, deviceId: 0x7010, command: 0x0103, status: 0x0280,
    revision: 0x00, classCode: 0x010180, headerType: 0x00, ...QEMU_SUBSYSTEM, interruptPin: 0, interruptLine: 0,
    bars: [{ index: 4, size: 16, kind: 'io', address: 0xc000 }], // bus-master IDE registers
    registers: [[0x40, 0x80008000, 4]], // IDETIM primary / secondary: decode enabled
  },
  {
    name: 'PIIX4 power management', device: 1, fn: 3, vendorId: 0x8086, deviceId: 0x7113, command: 0x0103, status: 0x0280,
    revision: 0x03, classCode: 0x068000, headerType: 0x00, ...QEMU_SUBSYSTEM, interruptPin: 1, interruptLine: 9,
    bars: [],
    registers: [
      [0x40, 0x0601, 4],     // PMBA: ACPI power-management I/O at 0x600
      [0x5b, 0x02, 1],       // DEVACTB (0x58–0x5B): device activity
      [0x5f, 0x90, 1],       // DEVRESA (0x5C–0x5F): device resource decode
      [0x63, 0x60, 1],       // DEVRESB (0x60–0x63)
      [0x67, 0x08, 1],       // DEVRESC (0x64–0x67)
      [0x80, 0x01, 1],       // PMREGMISC: PM I/O space enabled
      [0x90, 0x0701, 4],     // SMBBA: SMBus I/O at 0x700
      [0xd2, 0x09, 1],       // SMBHSTCFG: SMBus host enabled, SCI
    ],
  },
  {
    name: 'standard VGA', device: 2, fn: 0, vendorId: 0x1234, deviceId: 0x1111, command: 0x0103, status: 0x0000,
    revision: 0x02, classCode: 0x030000, headerType: 0x00, ...QEMU_SUBSYSTEM, interruptPin: 0, interruptLine: 0,
    bars: [
      { index: 0, size: 16 << 20, kind: 'prefetchable', address: 0xfd000000 }, // linear frame buffer
      { index: 2, size: 4096, kind: 'memory', address: 0xfebf0000 },           // Bochs VBE / QEMU extended registers
      { index: 6, size: 64 << 10, kind: 'rom', address: 0xfebe0000 },          // VGA BIOS, not enabled
    ],
    registers: [],
  },
];

const CONFIG_SIZE = 256;
/** Register offsets of the standard header (type 0). */
const COMMAND = 0x04, CACHE_LINE = 0x0c, BAR0 = 0x10, ROM_BAR = 0x30, INTERRUPT_LINE = 0x3c, DEVICE_SPECIFIC = 0x40;

/** One function's 256 bytes and QEMU's write mask for each of them. */
class PciFunction {
  readonly config = new Uint8Array(CONFIG_SIZE);
  readonly wmask = new Uint8Array(CONFIG_SIZE);

  constructor(spec: PciFunctionSpec) {
    const c = new DataView(this.config.buffer);
    c.setUint16(0x00, spec.vendorId, true);
    c.setUint16(0x02, spec.deviceId, true);
    c.setUint16(0x04, spec.command, true);
    c.setUint16(0x06, spec.status, true);
    c.setUint32(0x08, (spec.classCode << 8) | spec.revision, true);
    c.setUint8(0x0e, spec.headerType);
    c.setUint16(0x2c, spec.subsystemVendorId, true);
    c.setUint16(0x2e, spec.subsystemId, true);
    c.setUint8(0x3c, spec.interruptLine);
    c.setUint8(0x3d, spec.interruptPin);
    for (const [offset, value, width] of spec.registers) {
      for (let k = 0; k < width; k++) this.config[offset + k] = (value >>> (8 * k)) & 0xff;
    }
    // pci_init_wmask: command I/O | memory | master (0x07), SERR# | INTx disable (0x0500).
    this.wmask[COMMAND] = 0x07;
    this.wmask[COMMAND + 1] = 0x05;
    this.wmask[CACHE_LINE] = 0xff;
    this.wmask[INTERRUPT_LINE] = 0xff;
    this.wmask.fill(0xff, DEVICE_SPECIFIC);
    for (const bar of spec.bars) {
      const at = bar.kind === 'rom' ? ROM_BAR : BAR0 + 4 * bar.index;
      const type = bar.kind === 'io' ? 0x1 : bar.kind === 'prefetchable' ? 0x8 : 0;
      // pci_register_bar: the address bits above the size are writable; the type bits are not.
      const mask = (~(bar.size - 1) | (bar.kind === 'rom' ? 1 : 0)) >>> 0;
      c.setUint32(at, (bar.address | type) >>> 0, true);
      new DataView(this.wmask.buffer).setUint32(at, mask, true);
    }
  }

  read(offset: number, size: number): number {
    let v = 0;
    for (let k = 0; k < size; k++) v |= this.config[offset + k] << (8 * k);
    return v >>> 0;
  }

  write(offset: number, size: number, value: number): void {
    for (let k = 0; k < size; k++) {
      const m = this.wmask[offset + k];
      this.config[offset + k] = (this.config[offset + k] & ~m) | ((value >>> (8 * k)) & m);
    }
  }
}

export interface PciState { address: number; resetControl: number; configs: Uint8Array[] }

export class PciBus {
  /** The functions by device << 3 | function (bus 0 only). */
  private readonly functions = new Map<number, PciFunction>();
  /** CONFIG_ADDRESS as last written (QEMU keeps every bit, the two low ones included). */
  private address = 0;
  /** PIIX3's reset control register (0xCF9): only the reset type (bit 1) is kept. */
  private resetControl = 0;

  constructor(specs: readonly PciFunctionSpec[], private readonly reset: () => void) {
    for (const s of specs) this.functions.set((s.device << 3) | s.fn, new PciFunction(s));
  }

  /** The function CONFIG_ADDRESS selects, or undefined (enable bit clear, another bus, nothing there). */
  private selected(): PciFunction | undefined {
    if (!(this.address & 0x80000000)) return undefined;
    if ((this.address >>> 16) & 0xff) return undefined;
    return this.functions.get((this.address >>> 8) & 0xff);
  }

  /** A configuration access through CONFIG_DATA: its register, cut to the end of the space as QEMU does. */
  private dataAccess(port: number, size: number): { fn: PciFunction; offset: number; size: number } | undefined {
    const fn = this.selected();
    if (!fn) return undefined;
    const offset = (this.address | (port & 3)) & 0xff;
    return { fn, offset, size: Math.min(size, CONFIG_SIZE - offset) };
  }

  readonly device: PortDevice = {
    read: (port) => this.device.readWide!(port, 1),
    write: (port, v) => this.device.writeWide!(port, 1, v),
    readWide: (port, size) => {
      const ones = size === 4 ? 0xffffffff : (1 << (8 * size)) - 1;
      if (port === 0xcf9 && size === 1) return this.resetControl;
      if (port < 0xcfc) return port === 0xcf8 && size === 4 ? this.address : ones;
      const a = this.dataAccess(port, size);
      return a ? a.fn.read(a.offset, a.size) : ones;
    },
    writeWide: (port, size, value) => {
      if (port === 0xcf9 && size === 1) {
        if (value & 4) { this.reset(); return; }
        this.resetControl = value & 2;
        return;
      }
      if (port < 0xcfc) {
        if (port === 0xcf8 && size === 4) this.address = value >>> 0;
        return;
      }
      const a = this.dataAccess(port, size);
      a?.fn.write(a.offset, a.size, value);
    },
  };

  getState(): PciState {
    return { address: this.address, resetControl: this.resetControl, configs: [...this.functions.values()].map((f) => f.config.slice()) };
  }

  setState(s: PciState): void {
    this.address = s.address;
    this.resetControl = s.resetControl;
    [...this.functions.values()].forEach((f, i) => f.config.set(s.configs[i]));
  }
}
