/*
 * An ATA channel — the primary (ports 0x1F0–0x1F7, control 0x3F6, IRQ 14) with a master and a slave
 * disk, the secondary (0x170–0x177, 0x376, IRQ 15) with QEMU's default empty CD-ROM (atapi.ts) —
 * in PIO mode, as QEMU's hw/ide/core.c presents a raw image: IDENTIFY DEVICE, READ / WRITE
 * SECTORS (and the MULTIPLE forms, one sector per block), 28-bit LBA and CHS addressing, FLUSH
 * CACHE, SET FEATURES, INITIALIZE DEVICE PARAMETERS, SET MULTIPLE MODE; status and alternate status,
 * nIEN and software reset in the device control register. Commands complete at once (the status
 * never shows BSY): a read raises IRQ 14 when each sector is ready, a write when each sector has
 * been taken. The data port takes 16- and 32-bit accesses (`insw` / `insl`).
 *
 * A disk is a byte array (an image file's contents); writes change the array, and the caller
 * decides whether they go back to the file (`popek run --disk-write`). Each drive keeps its own copy
 * of the task file (features, count, LBA): the host's writes go to both, a command's results to the
 * selected drive only, as in QEMU. The CD-ROM answers IDENTIFY DEVICE with an abort and the ATAPI
 * signature, IDENTIFY PACKET DEVICE, and PACKET commands (a 12-byte CDB through the data port, the
 * byte count in the LBA mid/high registers, the interrupt reason in the count register). An absent drive reads status
 * 0 when the other one exists; a channel with no drive at all reads 0 from every register but data,
 * as QEMU's does (hw/ide/core.c). Real buses float at 0xFF there, but teaching kernels are written
 * against QEMU: `while (inb(0x1F7) & BSY)` ends on 0 and spins for ever on 0xFF.
 */
import type { PortDevice } from './ioBus';
import { executePacket, identifyPacketDevice, type AtapiSense } from './atapi';

export const SECTOR = 512;
const BSY = 0x80, DRDY = 0x40, DSC = 0x10, DRQ = 0x08, ERR = 0x01;
const ABRT = 0x04;
/** Interrupt reason (count register) of an ATAPI transfer: command/data, I/O direction. */
const COD = 0x01, IO = 0x02;
const PACKET_SIZE = 12;

/** Where a channel's registers are: the command block, the control register. */
export interface AtaPorts { base: number; control: number }
export const PRIMARY_ATA: AtaPorts = { base: 0x1f0, control: 0x3f6 };
export const SECONDARY_ATA: AtaPorts = { base: 0x170, control: 0x376 };

/** What sits at a drive position: a disk image, QEMU's empty CD-ROM, or nothing. */
export type AtaDevice = Disk | 'cdrom' | undefined;

export interface Disk {
  /** The image's bytes (a multiple of 512 or not: the last sector is zero-padded). */
  bytes: Uint8Array;
  /** Set when the guest wrote a sector. */
  dirty?: boolean;
}

interface TaskFile { features: number; count: number; lbaLow: number; lbaMid: number; lbaHigh: number }

interface Drive extends TaskFile {
  disk: Disk | undefined;
  cdrom: boolean;
  status: number;
  error: number;
  /** Sectors left in the current command, and the command (0x20 read, 0x30 write, 0xEC identify, 0: none). */
  left: number;
  command: number;
  lba: number;
  multiple: number;
  /** The CD-ROM's sense (REQUEST SENSE), and the bytes left of a packet command's data. */
  sense: AtapiSense;
}

export interface AtaState {
  regs: { select: number; control: number };
  drives: Array<Omit<Drive, 'disk'>>;
  buffer: number[]; pos: number; end?: number; irq: boolean;
}

export class AtaChannel implements PortDevice {
  private select = 0xa0; private control = 0;
  private readonly drives: [Drive, Drive];
  private buffer: Uint8Array = new Uint8Array(SECTOR);
  /** Next byte of `buffer` the data port transfers, and where the transfer ends (pos = end: none). */
  private pos = SECTOR;
  private end = SECTOR;
  private irq = false;
  private readonly base: number;
  private readonly controlPort: number;

  constructor(devices: [AtaDevice, AtaDevice], private readonly setIrq: (level: boolean) => void, ports: AtaPorts = PRIMARY_ATA, private readonly serialBase = 1) {
    this.base = ports.base;
    this.controlPort = ports.control;
    const drive = (dev: AtaDevice): Drive => ({
      disk: dev === 'cdrom' ? undefined : dev, cdrom: dev === 'cdrom',
      // As SeaBIOS leaves them: a disk after its IDENTIFY (error 1: no error since the diagnostic),
      // the CD-ROM after its IDENTIFY PACKET DEVICE (error 0), the task file cleared.
      status: dev ? DRDY | DSC : 0, error: dev === 'cdrom' ? 0 : 1, left: 0, command: 0, lba: 0, multiple: 16,
      features: 0, count: 0, lbaLow: 0, lbaMid: 0, lbaHigh: 0, sense: { key: 0, asc: 0 },
    });
    this.drives = [drive(devices[0]), drive(devices[1])];
  }

  private get cur(): Drive { return this.drives[(this.select >> 4) & 1]; }
  private present(d: Drive): boolean { return d.disk !== undefined || d.cdrom; }
  private get empty(): boolean { return !this.present(this.drives[0]) && !this.present(this.drives[1]); }

  /** Sectors of a disk (LBA28 capacity). */
  static sectors(disk: Disk): number { return Math.ceil(disk.bytes.length / SECTOR); }

  private raise(): void {
    this.irq = true;
    if (!(this.control & 2)) this.setIrq(true);
  }
  private lower(): void { this.irq = false; this.setIrq(false); }

  // ---- port accesses ----

  read(port: number): number {
    if (this.empty && port !== this.base) return 0;
    const d = this.cur;
    if (port === this.controlPort) return this.present(d) ? d.status : 0;
    switch (port - this.base) {
      case 0: return this.readData(1);
      case 1: return this.present(d) ? d.error : 0;
      case 2: return d.count;
      case 3: return d.lbaLow;
      case 4: return d.lbaMid;
      case 5: return d.lbaHigh;
      case 6: return this.select;
      case 7:
        if (!this.present(d)) return 0;
        this.lower();
        return d.status;
      default: return 0xff;
    }
  }

  readWide(port: number, size: 1 | 2 | 4): number {
    if (port === this.base) return this.readData(size);
    let v = 0;
    for (let k = 0; k < size; k++) v |= this.read(port + k) << (8 * k);
    return v >>> 0;
  }

  write(port: number, v: number): void {
    v &= 0xff;
    if (port === this.controlPort) {
      if ((v & 4) && !(this.control & 4)) this.softReset();
      this.control = v;
      if (this.irq) this.setIrq(!(v & 2));
      return;
    }
    const both = (field: keyof TaskFile) => { this.drives[0][field] = v; this.drives[1][field] = v; };
    switch (port - this.base) {
      case 0: this.writeData(v, 1); return;
      case 1: both('features'); return;
      case 2: both('count'); return;
      case 3: both('lbaLow'); return;
      case 4: both('lbaMid'); return;
      case 5: both('lbaHigh'); return;
      case 6: this.select = v | 0xa0; return;
      case 7: this.command(v); return;
      default: return;
    }
  }

  writeWide(port: number, size: 1 | 2 | 4, v: number): void {
    if (port === this.base) { this.writeData(v, size); return; }
    for (let k = 0; k < size; k++) this.write(port + k, (v >>> (8 * k)) & 0xff);
  }

  private readData(size: number): number {
    const d = this.cur;
    if (!(d.status & DRQ) || d.command === 0x30 || d.command === 0xa0) return 0;
    let v = 0;
    for (let k = 0; k < size && this.pos < this.end; k++) v |= this.buffer[this.pos++] << (8 * k);
    if (this.pos >= this.end) this.sectorRead(d);
    return v >>> 0;
  }

  private writeData(v: number, size: number): void {
    const d = this.cur;
    if (!(d.status & DRQ) || (d.command !== 0x30 && d.command !== 0xa0)) return;
    for (let k = 0; k < size && this.pos < this.end; k++) this.buffer[this.pos++] = (v >>> (8 * k)) & 0xff;
    if (this.pos < this.end) return;
    if (d.command === 0xa0) this.packetReceived(d); else this.sectorWritten(d);
  }

  // ---- commands ----

  private lba(d: Drive): number {
    if (this.select & 0x40) return ((this.select & 0x0f) << 24) | (d.lbaHigh << 16) | (d.lbaMid << 8) | d.lbaLow;
    // CHS with the geometry IDENTIFY reports (16 heads, 63 sectors per track).
    const cyl = (d.lbaHigh << 8) | d.lbaMid, head = this.select & 0x0f, sector = d.lbaLow;
    return (cyl * 16 + head) * 63 + sector - 1;
  }

  private abort(d: Drive): void {
    d.status = DRDY | DSC | ERR;
    d.error = ABRT;
    d.command = 0;
    this.pos = this.end;
    this.raise();
  }

  private command(c: number): void {
    const d = this.cur;
    if (!this.present(d)) return;                           // nobody answers
    this.lower();
    d.error = 0;
    if (d.cdrom) { this.cdromCommand(d, c); return; }
    switch (c) {
      case 0xec: this.identify(d); return;
      case 0x20: case 0x21: case 0xc4: case 0x30: case 0x31: case 0xc5: {
        const write = c === 0x30 || c === 0x31 || c === 0xc5;
        d.left = d.count === 0 ? 256 : d.count;
        d.lba = this.lba(d);
        if (d.lba < 0 || d.lba + d.left > AtaChannel.sectors(d.disk!)) { this.abort(d); return; }
        d.command = write ? 0x30 : 0x20;
        if (write) { this.transfer(SECTOR); d.status = DRDY | DSC | DRQ; } else this.loadSector(d);
        return;
      }
      case 0xe7: case 0xea: case 0x91: case 0xef: case 0x10: case 0x70:
        d.status = DRDY | DSC; this.raise(); return;
      case 0xc6:
        if (d.count === 0 || d.count > 16 || (d.count & (d.count - 1))) { this.abort(d); return; }
        d.multiple = d.count; d.status = DRDY | DSC; this.raise(); return;
      default: this.abort(d); return;
    }
  }

  /** The next data transfer: `length` bytes of `buffer` from its start. */
  private transfer(length: number): void {
    this.pos = 0;
    this.end = length;
  }

  // ---- the CD-ROM (ATAPI) ----

  /** The ATAPI signature in the drive's task file (after IDENTIFY DEVICE, a reset). */
  private atapiSignature(d: Drive): void {
    d.count = 1; d.lbaLow = 1; d.lbaMid = 0x14; d.lbaHigh = 0xeb;
  }

  private cdromCommand(d: Drive, c: number): void {
    switch (c) {
      case 0xec:                                            // IDENTIFY DEVICE: not an ATA disk
        this.atapiSignature(d);
        this.abort(d);
        d.status = DRDY | ERR;
        return;
      case 0xa1:                                            // IDENTIFY PACKET DEVICE
        this.buffer = identifyPacketDevice(`QM0000${this.serialBase + this.drives.indexOf(d)}`);
        this.transfer(SECTOR);
        d.command = 0xec;
        d.status = DRDY | DSC | DRQ;
        this.raise();
        return;
      case 0xa0:                                            // PACKET: the CDB comes through the data port
        d.command = 0xa0;
        d.count = (d.count & ~7) | COD;
        this.buffer = new Uint8Array(SECTOR);
        this.transfer(PACKET_SIZE);
        d.status = DRDY | DSC | DRQ;
        return;
      case 0x08:                                            // DEVICE RESET
        this.atapiSignature(d);
        d.status = 0; d.error = 1; d.command = 0;
        return;
      default: this.abort(d); return;
    }
  }

  private packetReceived(d: Drive): void {
    const r = executePacket(this.buffer.slice(0, PACKET_SIZE), d.sense);
    if ('data' in r && r.data.length > 0) {
      // One transfer of at most the host's byte-count limit (LBA mid/high) — these answers fit.
      const limit = ((d.lbaHigh << 8) | d.lbaMid) || 0xfffe;
      const n = Math.min(r.data.length, limit & ~1 || r.data.length);
      this.buffer = new Uint8Array(SECTOR);
      this.buffer.set(r.data.subarray(0, n));
      this.transfer(n);
      d.lbaMid = n & 0xff; d.lbaHigh = n >> 8;
      d.count = (d.count & ~7) | IO;
      d.command = 0xa1;                                     // data phase of a packet command
      d.status = DRDY | DSC | DRQ;
    } else if ('sense' in r) {
      d.error = r.sense.key << 4;
      d.status = DRDY | ERR;
      d.count = (d.count & ~7) | IO | COD;
      d.command = 0;
      this.pos = this.end;
    } else {
      d.sense.key = 0; d.sense.asc = 0;
      this.packetDone(d);
    }
    this.raise();
  }

  private packetDone(d: Drive): void {
    d.status = DRDY | DSC;
    d.count = (d.count & ~7) | IO | COD;
    d.command = 0;
    this.pos = this.end;
  }

  private loadSector(d: Drive): void {
    const bytes = d.disk!.bytes, at = d.lba * SECTOR;
    this.buffer = new Uint8Array(SECTOR);
    this.buffer.set(bytes.subarray(at, Math.min(at + SECTOR, bytes.length)));
    this.transfer(SECTOR);
    d.status = DRDY | DSC | DRQ;
    this.raise();
  }

  private sectorRead(d: Drive): void {
    if (d.command === 0xec) { d.command = 0; d.status = DRDY | DSC; return; }
    if (d.command === 0xa1) { this.packetDone(d); this.raise(); return; }
    d.lba++; d.left--;
    this.setPosition(d);
    if (d.left > 0) this.loadSector(d); else { d.command = 0; d.status = DRDY | DSC; }
  }

  private sectorWritten(d: Drive): void {
    const disk = d.disk!, at = d.lba * SECTOR;
    const n = Math.max(0, Math.min(SECTOR, disk.bytes.length - at));
    disk.bytes.set(this.buffer.subarray(0, n), at);
    disk.dirty = true;
    d.lba++; d.left--;
    this.setPosition(d);
    if (d.left > 0) { this.transfer(SECTOR); d.status = DRDY | DSC | DRQ; } else { d.command = 0; d.status = DRDY | DSC; }
    this.raise();
  }

  /** The task file shows where the transfer got to (LBA registers advance, the count goes down). */
  private setPosition(d: Drive): void {
    if (this.select & 0x40) {
      d.lbaLow = d.lba & 0xff; d.lbaMid = (d.lba >>> 8) & 0xff; d.lbaHigh = (d.lba >>> 16) & 0xff;
      this.select = (this.select & 0xf0) | ((d.lba >>> 24) & 0x0f);
    }
    d.count = d.left & 0xff;
  }

  private identify(d: Drive): void {
    const w = new Uint16Array(256);
    const total = AtaChannel.sectors(d.disk!);
    const cyls = Math.max(2, Math.min(16383, Math.floor(total / (16 * 63))));
    const str = (first: number, words: number, s: string) => {
      const t = s.padEnd(words * 2, ' ');
      for (let k = 0; k < words; k++) w[first + k] = (t.charCodeAt(2 * k) << 8) | t.charCodeAt(2 * k + 1);
    };
    w[0] = 0x0040;                                          // fixed disk
    w[1] = cyls; w[3] = 16; w[6] = 63;
    w[4] = 512 * 63; w[5] = 512;                            // retired, as QEMU fills them
    str(10, 10, `QM0000${this.drives.indexOf(d) + 1}`);
    w[20] = 3; w[21] = 512; w[22] = 4;
    str(23, 4, '2.5+');
    str(27, 20, 'QEMU HARDDISK');
    w[47] = 0x8000 | 16;                                    // READ/WRITE MULTIPLE up to 16 sectors
    w[48] = 1;
    w[49] = (1 << 11) | (1 << 9) | (1 << 8);                // IORDY, LBA, DMA
    w[51] = 0x200; w[52] = 0x200;
    w[53] = 1 | 2 | 4;
    w[54] = cyls; w[55] = 16; w[56] = 63;
    const cur = cyls * 16 * 63;
    w[57] = cur & 0xffff; w[58] = cur >>> 16;
    w[59] = 0x100 | d.multiple;
    w[60] = total & 0xffff; w[61] = (total >>> 16) & 0x0fff;
    w[80] = 0xf0; w[81] = 0x16;
    this.buffer = new Uint8Array(w.buffer.slice(0));
    this.transfer(SECTOR);
    d.command = 0xec;
    d.status = DRDY | DSC | DRQ;
    this.raise();
  }

  /** SRST: every drive shows its signature (ATA disk 0/0, ATAPI 0x14/0xEB, none 0xFF/0xFF), as QEMU's ide_reset. */
  private softReset(): void {
    for (const d of this.drives) {
      d.status = this.present(d) ? DRDY | DSC : 0; d.error = 1; d.command = 0; d.left = 0;
      d.count = 1; d.lbaLow = 1;
      if (d.cdrom) this.atapiSignature(d);
      else d.lbaMid = d.lbaHigh = d.disk ? 0 : 0xff;
    }
    this.select = 0xa0;
    this.pos = this.end;
    void BSY;
  }

  getState(): AtaState {
    return {
      regs: { select: this.select, control: this.control },
      drives: this.drives.map(({ disk: _disk, ...rest }) => ({ ...rest, sense: { ...rest.sense } })),
      buffer: [...this.buffer], pos: this.pos, end: this.end, irq: this.irq,
    };
  }
  setState(s: AtaState): void {
    ({ select: this.select, control: this.control } = s.regs);
    s.drives.forEach((d, k) => Object.assign(this.drives[k], d, { sense: { ...d.sense } }));
    this.buffer = Uint8Array.from(s.buffer); this.pos = s.pos; this.end = s.end ?? s.buffer.length; this.irq = s.irq;
  }
}
