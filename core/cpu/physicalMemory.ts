/*
 * Guest physical memory: one Uint8Array for guest RAM plus (optionally) memory reserved for a monitor
 * beyond it. Addresses past the end read as zeros and ignore writes, as in QEMU (its unassigned memory
 * reads 0; a bare PC bus would float at all ones). Kernels are written against QEMU: xv6 given 16 MiB
 * instead of its 224 frees pages past the end and, reading zeros, panics "out of memory" there.
 *
 * Every write checks one byte of `pageFlags`; a page with a flag set takes the slow path, which tells
 * the CPU that decoded code there is stale (self-modifying code) and calls write watches (binary
 * translation caches, shadow page-table write protection).
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

/** `pageFlags` bits. */
export const PAGE_HAS_CODE = 1, PAGE_WATCHED = 2;
/** `pageFlags` bit: not written since the current write epoch began (its next write is recorded; see `newWriteEpoch`). */
export const PAGE_UNWRITTEN = 4;
/**
 * `pageFlags` bit: a write watch on some bytes of the page only (a debugger's data breakpoint): their
 * 64-byte chunks are marked CHUNK_WATCHED, and only writes to those need the slow path — the rest of
 * the page (a hot loop's data beside the watched variable) is written as fast as without a watch.
 */
export const PAGE_WATCHED_BYTES = 8;
/** `codeChunks` bits: decoded code covers part of the chunk; a byte watch covers part of it. */
export const CHUNK_CODE = 1, CHUNK_WATCHED = 2;
export const CHUNK_SHIFT = 6;

export type WriteWatch = (physAddr: number, size: number) => void;
/** A write watch; `bytes`: the physical range [from, to) it is for (else the whole page). */
interface Watch { fn: WriteWatch; bytes?: { from: number; to: number } }

/**
 * Memory-mapped devices above all memory (the local APIC at 0xFEE00000, the I/O APIC at 0xFEC00000):
 * accesses past the end of memory go here instead of reading zeros.
 */
export interface MmioHandler {
  /** True when a device claims physical address `p`. */
  claims(p: number): boolean;
  read(p: number, size: 1 | 2 | 4): number;
  write(p: number, size: 1 | 2 | 4, v: number): void;
}

/**
 * Where compiled WebAssembly regions find the CPU's state in the memory they share with it (byte
 * offsets): the TLB (1M int32 entries, Cpu.tlb), a small exchange area (core/cpu/wasm), and the
 * code marks (`pageFlags`, `codeChunks`), so a region stores next to code without leaving.
 */
export interface WasmLayout {
  readonly memory: WebAssembly.Memory;
  /**
   * Where a region records a page's first write of the write epoch (PAGE_UNWRITTEN) without leaving:
   * a word set to 1, then a byte per page (`PhysicalMemory.foldRegionWrites` takes them).
   */
  readonly regionWritesOffset: number;
  /** Takes what regions recorded there (called when a region returns with the word set). */
  readonly foldRegionWrites: () => void;
  readonly tlbOffset: number;
  readonly stateOffset: number;
  readonly pageFlagsOffset: number;
  readonly codeChunksOffset: number;
}
/** Bytes after guest memory for the TLB (one int32 per linear 4 KiB page) and the exchange area. */
const TLB_BYTES = 4 << 20, STATE_BYTES = 256;
/**
 * Bytes after `codeChunks`: a dword store at the last bytes of memory reads the mark of the chunk
 * past the end before its page-fit check refuses it (WebAssembly evaluates both sides of an `and`).
 */
const CHUNK_PAD = 64;

export class PhysicalMemory {
  readonly bytes: Uint8Array;
  /**
   * Guest memory, the TLB and the exchange area as one WebAssembly.Memory, so compiled regions access
   * guest RAM with plain loads and stores (undefined when the host would not give one).
   */
  readonly wasm: WasmLayout | undefined;
  /** Aligned 32-bit view of `bytes`. */
  readonly dwords: Int32Array;
  readonly pageFlags: Uint8Array;
  private readonly watches = new Map<number, Watch[]>();
  /**
   * One byte per 64-byte chunk: CHUNK_CODE when decoded code covers part of the chunk, CHUNK_WATCHED
   * when a byte watch does. A write to a code page that touches no code chunk (data next to code)
   * costs a lookup, not a re-decode — one to a byte-watched page that touches no watched chunk, no
   * call; compiled WebAssembly regions make that lookup themselves (with `pageFlags`, in the shared
   * memory).
   */
  readonly codeChunks: Uint8Array;
  /** Devices past the end of memory (set by the machine). */
  mmio: MmioHandler | undefined;
  /** Called when a page gets its first flag (code or a watch): cached fast write permissions to it must go. */
  onPageFlagged: (page: number) => void = () => {};
  /** Called when bytes holding decoded code are written (physical address and size). */
  onCodeWrite: (physAddr: number, size: number) => void = () => {};
  /** Called when every RAM page got a flag at once (`newWriteEpoch`): no cached entry may write fast. */
  onAllPagesFlagged: () => void = () => {};
  /** Called when a page lost its last flag: cached entries may write it fast again. */
  onPageUnflagged: (page: number) => void = () => {};
  /**
   * The write epoch in which each page was first written since that epoch began (undefined until a
   * first epoch: no write is recorded before anyone asks).
   */
  private writtenIn: Uint32Array | undefined;
  private epoch = 0;
  /** The pages first written in the current epoch, in order (what `writtenSince` gives for it without a scan). */
  private writtenNow: number[] = [];

  constructor(
    /** Guest RAM size in bytes (what the guest is told it has). */
    readonly ramSize: number,
    /** Extra bytes after guest RAM reserved for a monitor (shadow tables, real GDT/IDT/TSS). */
    readonly reservedSize = 0,
  ) {
    const total = ramSize + reservedSize;
    if (total % PAGE_SIZE !== 0) throw new Error('memory size must be a multiple of 4 KiB');
    const pages = total >>> PAGE_SHIFT, chunks = total >>> CHUNK_SHIFT;
    const pageFlagsOffset = total + TLB_BYTES + STATE_BYTES, codeChunksOffset = pageFlagsOffset + pages, regionWritesOffset = codeChunksOffset + chunks + CHUNK_PAD;
    let memory: WebAssembly.Memory | undefined;
    try {
      memory = new WebAssembly.Memory({ initial: Math.ceil((regionWritesOffset + 4 + pages) / 65536) });
    } catch {
      memory = undefined; // no address space for it: plain arrays, regions in JS only
    }
    this.wasm = memory && { memory, tlbOffset: total, stateOffset: total + TLB_BYTES, pageFlagsOffset, codeChunksOffset, regionWritesOffset, foldRegionWrites: () => this.foldRegionWrites() };
    this.regionWrites = memory ? { any: new Int32Array(memory.buffer, regionWritesOffset, 1), pages: new Uint8Array(memory.buffer, regionWritesOffset + 4, pages) } : undefined;
    this.bytes = memory ? new Uint8Array(memory.buffer, 0, total) : new Uint8Array(total);
    this.dwords = new Int32Array(this.bytes.buffer, 0, total >>> 2);
    this.pageFlags = memory ? new Uint8Array(memory.buffer, pageFlagsOffset, pages) : new Uint8Array(pages);
    this.codeChunks = memory ? new Uint8Array(memory.buffer, codeChunksOffset, chunks) : new Uint8Array(chunks);
  }

  get size(): number { return this.bytes.length; }
  /** First physical address of the monitor's reserved memory. */
  get reservedBase(): number { return this.ramSize; }

  read8(p: number): number {
    return p < this.bytes.length ? this.bytes[p] : this.readPast(p, 1);
  }
  read16(p: number): number {
    if (p + 1 < this.bytes.length) return this.bytes[p] | (this.bytes[p + 1] << 8);
    if (p >= this.bytes.length) return this.readPast(p, 2);
    return this.read8(p) | (this.read8(p + 1) << 8);
  }
  /** Signed 32-bit result (use >>> 0 for unsigned). */
  read32(p: number): number {
    if ((p & 3) === 0 && p < this.bytes.length) return this.dwords[p >>> 2];
    if (p + 3 < this.bytes.length) {
      const b = this.bytes;
      return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
    }
    if (p >= this.bytes.length) return this.readPast(p, 4) | 0;
    return this.read8(p) | (this.read8(p + 1) << 8) | (this.read8(p + 2) << 16) | (this.read8(p + 3) << 24);
  }

  /** Past the end of memory: a device's register, or nothing there (zeros, writes dropped, as QEMU). */
  private readPast(p: number, size: 1 | 2 | 4): number {
    const m = this.mmio;
    if (m !== undefined && m.claims(p >>> 0)) return m.read(p >>> 0, size);
    return 0;
  }
  private writePast(p: number, size: 1 | 2 | 4, v: number): void {
    const m = this.mmio;
    if (m !== undefined && m.claims(p >>> 0)) m.write(p >>> 0, size, v);
  }
  /** True when `p` is a device register (not RAM, not an unpopulated address). */
  isMmio(p: number): boolean { return p >= this.bytes.length && this.mmio !== undefined && this.mmio.claims(p >>> 0); }

  write8(p: number, v: number): void {
    if (p >= this.bytes.length) { this.writePast(p, 1, v & 0xff); return; }
    if (this.pageFlags[p >>> PAGE_SHIFT] !== 0) this.noteWrite(p, 1);
    this.bytes[p] = v;
  }
  write16(p: number, v: number): void {
    if (p >= this.bytes.length) { this.writePast(p, 2, v & 0xffff); return; }
    if (p + 1 >= this.bytes.length) { this.write8(p, v); this.write8(p + 1, v >> 8); return; }
    if ((this.pageFlags[p >>> PAGE_SHIFT] | this.pageFlags[(p + 1) >>> PAGE_SHIFT]) !== 0) this.noteWrite(p, 2);
    this.bytes[p] = v;
    this.bytes[p + 1] = v >> 8;
  }
  write32(p: number, v: number): void {
    if (p >= this.bytes.length) { this.writePast(p, 4, v); return; }
    if (p + 3 >= this.bytes.length) {
      for (let i = 0; i < 4; i++) this.write8(p + i, v >> (8 * i));
      return;
    }
    if ((this.pageFlags[p >>> PAGE_SHIFT] | this.pageFlags[(p + 3) >>> PAGE_SHIFT]) !== 0) this.noteWrite(p, 4);
    if ((p & 3) === 0) { this.dwords[p >>> 2] = v; return; }
    const b = this.bytes;
    b[p] = v; b[p + 1] = v >> 8; b[p + 2] = v >> 16; b[p + 3] = v >> 24;
  }

  /** Copies `data` to physical address `p` (loader, monitor); goes through the write checks. */
  load(p: number, data: Uint8Array): void {
    if (p < 0 || p + data.length > this.bytes.length) throw new RangeError(`load of ${data.length} bytes at 0x${p.toString(16)} is outside memory`);
    for (let page = p >>> PAGE_SHIFT; page <= (p + data.length - 1) >>> PAGE_SHIFT; page++) {
      const f = this.pageFlags[page];
      if (f === 0) continue;
      const lo = Math.max(p, page << PAGE_SHIFT), hi = Math.min(p + data.length, (page + 1) << PAGE_SHIFT);
      // Recorded (write epoch) and seen by the page's watches as one write, at its first byte.
      this.noteWrite(lo, 1);
      // Decoded code the load changes is dropped wherever it lies, not only at the first byte (a
      // restore, the debugger's twin taking the guest's pages, once ran stale code from the rest of
      // the page); code whose bytes stay is kept (data beside code changes in most restores).
      if (f & PAGE_HAS_CODE) this.dropChangedCode(lo, hi, data.subarray(lo - p, hi - p));
    }
    this.bytes.set(data, p);
  }

  /** Marks [start, end) as holding decoded code (writes there will call onCodeWrite). */
  markCode(start: number, end: number): void {
    for (let c = start >>> CHUNK_SHIFT; c <= (end - 1) >>> CHUNK_SHIFT; c++) this.codeChunks[c] |= CHUNK_CODE;
    for (let page = start >>> PAGE_SHIFT; page <= (end - 1) >>> PAGE_SHIFT; page++) {
      if (this.pageFlags[page] === 0) this.onPageFlagged(page);
      this.pageFlags[page] |= PAGE_HAS_CODE;
    }
  }
  /** Forgets the code marks of a page (no decoded code left there). */
  clearCode(page: number): void {
    this.pageFlags[page] &= ~PAGE_HAS_CODE;
    for (let c = (page << PAGE_SHIFT) >>> CHUNK_SHIFT; c < ((page + 1) << PAGE_SHIFT) >>> CHUNK_SHIFT; c++) this.codeChunks[c] &= ~CHUNK_CODE;
  }

  /**
   * Registers `fn` to be called (before the write lands) whenever physical page `page` is written —
   * or, with `bytes` (a physical range on the page), at least whenever a write touches their 64-byte
   * chunks (`fn` tells the bytes apart). Returns a function that removes it.
   */
  addWriteWatch(page: number, fn: WriteWatch, bytes?: { from: number; to: number }): () => void {
    let list = this.watches.get(page);
    if (!list) this.watches.set(page, list = []);
    const watch: Watch = { fn, bytes };
    list.push(watch);
    this.markWatches(page);
    return () => {
      const l = this.watches.get(page);
      if (!l) return;
      const i = l.indexOf(watch);
      if (i >= 0) l.splice(i, 1);
      if (l.length === 0) this.watches.delete(page);
      this.markWatches(page);
    };
  }

  /** The page's watch flags and watched chunks, from its watches. */
  private markWatches(page: number): void {
    const list = this.watches.get(page) ?? [];
    const first = (page << PAGE_SHIFT) >>> CHUNK_SHIFT, end = ((page + 1) << PAGE_SHIFT) >>> CHUNK_SHIFT;
    for (let c = first; c < end; c++) this.codeChunks[c] &= ~CHUNK_WATCHED;
    for (const { bytes } of list) {
      if (bytes) for (let c = bytes.from >>> CHUNK_SHIFT; c <= (bytes.to - 1) >>> CHUNK_SHIFT; c++) this.codeChunks[c] |= CHUNK_WATCHED;
    }
    const flags = (list.some((w) => !w.bytes) ? PAGE_WATCHED : 0) | (list.some((w) => w.bytes) ? PAGE_WATCHED_BYTES : 0);
    if (this.pageFlags[page] === 0 && flags !== 0) this.onPageFlagged(page);
    this.pageFlags[page] = (this.pageFlags[page] & ~(PAGE_WATCHED | PAGE_WATCHED_BYTES)) | flags;
  }

  /**
   * Starts a write epoch and returns its number: from now on `writtenSince` tells which RAM pages
   * were written. The debugger's native twin takes the guest's state at the end of a stretch where
   * the technique did nothing by copying only those pages, not comparing 16 MiB (each epoch is a
   * stretch; debugger/runtime/stateTransfer.ts). Each page's first write after this takes the slow
   * path once (the flag below, as for code and watches); the writes after it are fast again.
   * Every write to RAM but a machine's initial load goes through the flag checks of this class.
   */
  newWriteEpoch(): number {
    this.foldRegionWrites();
    this.writtenIn ??= new Uint32Array(this.ramSize >>> PAGE_SHIFT);
    const flags = this.pageFlags, pages = this.ramSize >>> PAGE_SHIFT;
    for (let page = 0; page < pages; page++) flags[page] |= PAGE_UNWRITTEN;
    this.onAllPagesFlagged();
    this.writtenNow = [];
    return ++this.epoch;
  }

  /**
   * RAM pages (numbers, ascending) written since epoch `epoch` began — every one a write reached,
   * perhaps with its old value —, or undefined when `epoch` was not begun by `newWriteEpoch`.
   */
  writtenSince(epoch: number): number[] | undefined {
    this.foldRegionWrites();
    const written = this.writtenIn;
    if (!written || epoch < 1 || epoch > this.epoch) return undefined;
    if (epoch === this.epoch) return [...this.writtenNow].sort((a, b) => a - b);
    const out: number[] = [];
    for (let page = 0; page < written.length; page++) if (written[page] >= epoch) out.push(page);
    return out;
  }

  /**
   * First writes of the write epoch that compiled regions recorded themselves (a byte per page,
   * their PAGE_UNWRITTEN flag cleared) and went on, where leaving the region for each — at each
   * page's first store after every epoch, and the debugger's twin begins one per stretch —
   * re-entered the loop mid-block often enough to compile regions for those entries (3 more for
   * compute.gasm). A call out to the host from the region cost 3–5 % of a native run instead.
   */
  private readonly regionWrites: { any: Int32Array; pages: Uint8Array } | undefined;

  /** Takes the first writes regions recorded (before any look at the record, and when a region returns). */
  foldRegionWrites(): void {
    const rw = this.regionWrites;
    if (!rw || rw.any[0] === 0) return;
    rw.any[0] = 0;
    const marks = rw.pages;
    for (let page = 0; page < marks.length; page++) {
      if (marks[page] === 0) continue;
      marks[page] = 0;
      if (this.writtenIn) {
        this.writtenIn[page] = this.epoch;
        this.writtenNow.push(page);
      }
      // Its last flag gone: cached entries write it fast again.
      if (this.pageFlags[page] === 0) this.onPageUnflagged(page);
    }
  }

  private noteWrite(p: number, size: number): void {
    const first = p >>> PAGE_SHIFT, last = (p + size - 1) >>> PAGE_SHIFT;
    for (let page = first; page <= last; page++) {
      const f = this.pageFlags[page];
      if (f & PAGE_UNWRITTEN) {
        this.writtenIn![page] = this.epoch;
        this.writtenNow.push(page);
        this.pageFlags[page] = f & ~PAGE_UNWRITTEN;
        if (f === PAGE_UNWRITTEN) this.onPageUnflagged(page);
      }
      const lo = Math.max(p, page << PAGE_SHIFT), hi = Math.min(p + size, (page + 1) << PAGE_SHIFT);
      if (f & PAGE_HAS_CODE && this.touches(lo, hi, CHUNK_CODE)) this.onCodeWrite(lo, hi - lo);
      if ((f & PAGE_WATCHED) || (f & PAGE_WATCHED_BYTES && this.touches(lo, hi, CHUNK_WATCHED))) {
        for (const w of this.watches.get(page) ?? []) w.fn(p, size);
      }
    }
  }

  /** Drops decoded code in the chunks of [lo, hi) (one page) where `data` differs from memory. */
  private dropChangedCode(lo: number, hi: number, data: Uint8Array): void {
    const bytes = this.bytes;
    for (let c = lo >>> CHUNK_SHIFT; c <= (hi - 1) >>> CHUNK_SHIFT; c++) {
      if (!(this.codeChunks[c] & CHUNK_CODE)) continue;
      const from = Math.max(lo, c << CHUNK_SHIFT), to = Math.min(hi, (c + 1) << CHUNK_SHIFT);
      for (let a = from; a < to; a++) {
        if (bytes[a] !== data[a - lo]) { this.onCodeWrite(from, to - from); break; }
      }
    }
  }

  /** Whether a chunk of [lo, hi) has the `codeChunks` bit `mark`. */
  private touches(lo: number, hi: number, mark: number): boolean {
    for (let c = lo >>> CHUNK_SHIFT; c <= (hi - 1) >>> CHUNK_SHIFT; c++) if (this.codeChunks[c] & mark) return true;
    return false;
  }
}
