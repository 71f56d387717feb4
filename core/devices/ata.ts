/*
 * The primary ATA channel (ports 0x1F0–0x1F7, control 0x3F6, IRQ 14) with a master and a slave
 * disk in PIO mode, as QEMU's hw/ide/core.c presents a raw image: IDENTIFY DEVICE, READ / WRITE
 * SECTORS (and the MULTIPLE forms, one sector per block), 28-bit LBA and CHS addressing, FLUSH
 * CACHE, SET FEATURES, INITIALIZE DEVICE PARAMETERS, SET MULTIPLE MODE; status and alternate status,
 * nIEN and software reset in the device control register. Commands complete at once (the status
 * never shows BSY): a read raises IRQ 14 when each sector is ready, a write when each sector has
 * been taken. The data port takes 16- and 32-bit accesses (`insw` / `insl`).
 *
 * A disk is a byte array (an image file's contents); writes change the array, and the caller
 * decides whether they go back to the file (`popek run --disk-write`). An absent drive reads status
 * 0 when the other one exists; a channel with no drive at all reads 0 from every register but data,
 * as QEMU's does (hw/ide/core.c). Real buses float at 0xFF there, but teaching kernels are written
 * against QEMU: `while (inb(0x1F7) & BSY)` ends on 0 and spins for ever on 0xFF.
 */
import type { PortDevice } from './ioBus';

export const SECTOR = 512;
const BSY = 0x80, DRDY = 0x40, DSC = 0x10, DRQ = 0x08, ERR = 0x01;
const ABRT = 0x04;

export interface Disk {
  /** The image's bytes (a multiple of 512 or not: the last sector is zero-padded). */
  bytes: Uint8Array;
  /** Set when the guest wrote a sector. */
  dirty?: boolean;
}

interface Drive {
  disk: Disk | undefined;
  status: number;
  error: number;
  /** Sectors left in the current command, and the command (0x20 read, 0x30 write, 0xEC identify, 0: none). */
  left: number;
  command: number;
  lba: number;
  multiple: number;
}

export interface AtaState {
  regs: { features: number; count: number; lbaLow: number; lbaMid: number; lbaHigh: number; select: number; control: number };
  drives: Array<Omit<Drive, 'disk'>>;
  buffer: number[]; pos: number; irq: boolean;
}

export class AtaChannel implements PortDevice {
  private features = 0; private count = 0; private lbaLow = 0; private lbaMid = 0; private lbaHigh = 0;
  private select = 0xa0; private control = 0;
  private readonly drives: [Drive, Drive];
  private buffer = new Uint8Array(SECTOR);
  /** Next byte of `buffer` the data port transfers (SECTOR: no transfer). */
  private pos = SECTOR;
  private irq = false;

  constructor(disks: [Disk | undefined, Disk | undefined], private readonly setIrq: (level: boolean) => void) {
    const drive = (disk: Disk | undefined): Drive => ({ disk, status: disk ? DRDY | DSC : 0, error: 1, left: 0, command: 0, lba: 0, multiple: 16 });
    this.drives = [drive(disks[0]), drive(disks[1])];
  }

  private get cur(): Drive { return this.drives[(this.select >> 4) & 1]; }
  private get empty(): boolean { return !this.drives[0].disk && !this.drives[1].disk; }

  /** Sectors of a disk (LBA28 capacity). */
  static sectors(disk: Disk): number { return Math.ceil(disk.bytes.length / SECTOR); }

  private raise(): void {
    this.irq = true;
    if (!(this.control & 2)) this.setIrq(true);
  }
  private lower(): void { this.irq = false; this.setIrq(false); }

  // ---- port accesses ----

  read(port: number): number {
    if (this.empty && port !== 0x1f0) return 0;
    if (port === 0x3f6) return this.cur.disk ? this.cur.status : 0;
    switch (port - 0x1f0) {
      case 0: return this.readData(1);
      case 1: return this.cur.disk ? this.cur.error : 0;
      case 2: return this.count;
      case 3: return this.lbaLow;
      case 4: return this.lbaMid;
      case 5: return this.lbaHigh;
      case 6: return this.select;
      case 7:
        if (!this.cur.disk) return 0;
        this.lower();
        return this.cur.status;
      default: return 0xff;
    }
  }

  readWide(port: number, size: 1 | 2 | 4): number {
    if (port === 0x1f0) return this.readData(size);
    let v = 0;
    for (let k = 0; k < size; k++) v |= this.read(port + k) << (8 * k);
    return v >>> 0;
  }

  write(port: number, v: number): void {
    v &= 0xff;
    if (port === 0x3f6) {
      if ((v & 4) && !(this.control & 4)) this.softReset();
      this.control = v;
      if (this.irq) this.setIrq(!(v & 2));
      return;
    }
    switch (port - 0x1f0) {
      case 0: this.writeData(v, 1); return;
      case 1: this.features = v; return;
      case 2: this.count = v; return;
      case 3: this.lbaLow = v; return;
      case 4: this.lbaMid = v; return;
      case 5: this.lbaHigh = v; return;
      case 6: this.select = v | 0xa0; return;
      case 7: this.command(v); return;
      default: return;
    }
  }

  writeWide(port: number, size: 1 | 2 | 4, v: number): void {
    if (port === 0x1f0) { this.writeData(v, size); return; }
    for (let k = 0; k < size; k++) this.write(port + k, (v >>> (8 * k)) & 0xff);
  }

  private readData(size: number): number {
    const d = this.cur;
    if (!(d.status & DRQ) || d.command === 0x30) return 0;
    let v = 0;
    for (let k = 0; k < size && this.pos < SECTOR; k++) v |= this.buffer[this.pos++] << (8 * k);
    if (this.pos >= SECTOR) this.sectorRead(d);
    return v >>> 0;
  }

  private writeData(v: number, size: number): void {
    const d = this.cur;
    if (!(d.status & DRQ) || d.command !== 0x30) return;
    for (let k = 0; k < size && this.pos < SECTOR; k++) this.buffer[this.pos++] = (v >>> (8 * k)) & 0xff;
    if (this.pos >= SECTOR) this.sectorWritten(d);
  }

  // ---- commands ----

  private lba(d: Drive): number {
    if (this.select & 0x40) return ((this.select & 0x0f) << 24) | (this.lbaHigh << 16) | (this.lbaMid << 8) | this.lbaLow;
    // CHS with the geometry IDENTIFY reports (16 heads, 63 sectors per track).
    const cyl = (this.lbaHigh << 8) | this.lbaMid, head = this.select & 0x0f, sector = this.lbaLow;
    void d;
    return (cyl * 16 + head) * 63 + sector - 1;
  }

  private abort(d: Drive): void {
    d.status = DRDY | DSC | ERR;
    d.error = ABRT;
    d.command = 0;
    this.pos = SECTOR;
    this.raise();
  }

  private command(c: number): void {
    const d = this.cur;
    if (!d.disk) return;                                    // nobody answers
    this.lower();
    d.error = 0;
    switch (c) {
      case 0xec: this.identify(d); return;
      case 0x20: case 0x21: case 0xc4: case 0x30: case 0x31: case 0xc5: {
        const write = c === 0x30 || c === 0x31 || c === 0xc5;
        d.left = this.count === 0 ? 256 : this.count;
        d.lba = this.lba(d);
        if (d.lba < 0 || d.lba + d.left > AtaChannel.sectors(d.disk)) { this.abort(d); return; }
        d.command = write ? 0x30 : 0x20;
        if (write) { this.pos = 0; d.status = DRDY | DSC | DRQ; } else this.loadSector(d);
        return;
      }
      case 0xe7: case 0xea: case 0x91: case 0xef: case 0x10: case 0x70:
        d.status = DRDY | DSC; this.raise(); return;
      case 0xc6:
        if (this.count === 0 || this.count > 16 || (this.count & (this.count - 1))) { this.abort(d); return; }
        d.multiple = this.count; d.status = DRDY | DSC; this.raise(); return;
      default: this.abort(d); return;
    }
  }

  private loadSector(d: Drive): void {
    const bytes = d.disk!.bytes, at = d.lba * SECTOR;
    this.buffer.fill(0);
    this.buffer.set(bytes.subarray(at, Math.min(at + SECTOR, bytes.length)));
    this.pos = 0;
    d.status = DRDY | DSC | DRQ;
    this.raise();
  }

  private sectorRead(d: Drive): void {
    if (d.command === 0xec) { d.command = 0; d.status = DRDY | DSC; return; }
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
    if (d.left > 0) { this.pos = 0; d.status = DRDY | DSC | DRQ; } else { d.command = 0; d.status = DRDY | DSC; }
    this.raise();
  }

  /** The task file shows where the transfer got to (LBA registers advance, the count goes down). */
  private setPosition(d: Drive): void {
    if (this.select & 0x40) {
      this.lbaLow = d.lba & 0xff; this.lbaMid = (d.lba >>> 8) & 0xff; this.lbaHigh = (d.lba >>> 16) & 0xff;
      this.select = (this.select & 0xf0) | ((d.lba >>> 24) & 0x0f);
    }
    this.count = d.left & 0xff;
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
    this.pos = 0;
    d.command = 0xec;
    d.status = DRDY | DSC | DRQ;
    this.raise();
  }

  private softReset(): void {
    for (const d of this.drives) { d.status = d.disk ? DRDY | DSC : 0; d.error = 1; d.command = 0; d.left = 0; }
    this.count = 1; this.lbaLow = 1; this.lbaMid = 0; this.lbaHigh = 0; this.select = 0xa0;
    this.pos = SECTOR;
    void BSY;
  }

  getState(): AtaState {
    return {
      regs: { features: this.features, count: this.count, lbaLow: this.lbaLow, lbaMid: this.lbaMid, lbaHigh: this.lbaHigh, select: this.select, control: this.control },
      drives: this.drives.map(({ disk: _disk, ...rest }) => ({ ...rest })),
      buffer: [...this.buffer], pos: this.pos, irq: this.irq,
    };
  }
  setState(s: AtaState): void {
    ({ features: this.features, count: this.count, lbaLow: this.lbaLow, lbaMid: this.lbaMid, lbaHigh: this.lbaHigh, select: this.select, control: this.control } = s.regs);
    s.drives.forEach((d, k) => Object.assign(this.drives[k], d));
    this.buffer = Uint8Array.from(s.buffer); this.pos = s.pos; this.irq = s.irq;
  }
}
