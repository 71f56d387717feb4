/*
 * Step back and reverse continue: the simulated PC is deterministic (time is the instruction count,
 * devices follow it), so any earlier instruction boundary is reached again by restoring an earlier
 * checkpoint and re-executing. Checkpoints are VM snapshots whose guest memory is split into 4 KiB
 * pages shared with the previous checkpoint when unchanged (and all-zero pages shared by all), so a
 * checkpoint costs the pages the guest wrote since, not its whole RAM.
 */
import type { VmSnapshot } from '../../core/vmm/vm';

const PAGE = 4096;
/** Every all-zero page of every checkpoint is this one (most of a guest's RAM is never written). */
const ZERO_PAGE = new Uint8Array(PAGE);
/**
 * Memory is first looked at in spans of this size: an all-zero span (most of RAM) is one compare,
 * not sixteen — a checkpoint of compute.gasm under trap-and-emulate 1.9–2.1 ms instead of 2.7–6.
 * (The first checkpoint of a session stays at ~50 ms on a virtual machine: it is the first read of
 * memory the guest never touched, each page a fault of the host's; it is taken off the critical
 * path, after the entry stop.)
 */
const SPAN = 64 * 1024;
const ZERO_SPAN = new Uint8Array(SPAN);

/** A snapshot with its memory as shared pages. */
interface Stored {
  icount: number;
  snap: Omit<VmSnapshot, 'machine'> & { machine: Partial<VmSnapshot['machine']> };
  pages: Uint8Array[];
  memoryLength: number;
  /** Extra state stored with it (the equivalence twin's snapshot). */
  extra?: Stored;
}

export interface Checkpoint { icount: number }

export class CheckpointStore {
  private list: Stored[] = [];
  /** Bytes of distinct pages held (the step-back memory figure). */
  private uniquePages = new Set<Uint8Array>();

  constructor(private readonly maxCheckpoints = 48) {}

  get count(): number { return this.list.length; }
  get lastIcount(): number { return this.list.length ? this.list[this.list.length - 1].icount : -1; }

  /** Memory the checkpoints use, bytes (pages counted once however many checkpoints share them). */
  get bytes(): number {
    let n = 0;
    for (const p of this.uniquePages) n += p.length;
    return n + this.list.length * 4096;
  }

  /**
   * Stores a snapshot taken at `icount`; replaces any checkpoint at or after it (the future changed).
   * The snapshots' memory may be the live RAM: what is kept is copied now.
   */
  add(icount: number, snap: VmSnapshot, extra?: VmSnapshot): void {
    this.truncateFrom(icount);
    const prev = this.list[this.list.length - 1];
    const stored = this.pack(icount, snap, prev);
    if (extra) stored.extra = this.pack(icount, extra, prev?.extra);
    this.list.push(stored);
    if (this.list.length > this.maxCheckpoints) this.thin();
    this.recount();
  }

  /**
   * Gives every checkpoint without extra state one (a twin added after the guest ran): `at` returns
   * the state at a checkpoint's instruction count, asked oldest first.
   */
  fillExtras(at: (icount: number) => VmSnapshot): void {
    let prev: Stored | undefined;
    for (const c of this.list) {
      c.extra ??= this.pack(c.icount, at(c.icount), prev?.extra);
      prev = c;
    }
    this.unpacked = undefined;
    this.recount();
  }

  /** Forgets the extra state of every checkpoint (the twin is gone). */
  dropExtras(): void {
    for (const c of this.list) delete c.extra;
    this.unpacked = undefined;
    this.recount();
  }

  /** Drops checkpoints at or after `icount` (guest state was edited at that point). */
  truncateFrom(icount: number): void {
    const before = this.list.length;
    this.list = this.list.filter((c) => c.icount < icount);
    if (this.list.length !== before) { this.recount(); this.unpacked = undefined; }
  }

  /**
   * The latest checkpoint at or before `icount`, unpacked (the last one unpacked is kept: restoring
   * copies out of it, so stepping back again from the same checkpoint costs no unpacking).
   */
  latestAtOrBefore(icount: number): { icount: number; snap: VmSnapshot; extra?: VmSnapshot } | undefined {
    for (let i = this.list.length - 1; i >= 0; i--) {
      const c = this.list[i];
      if (c.icount > icount) continue;
      if (this.unpacked?.stored !== c) this.unpacked = { stored: c, value: { icount: c.icount, snap: unpack(c), extra: c.extra ? unpack(c.extra) : undefined } };
      return this.unpacked.value;
    }
    return undefined;
  }
  private unpacked: { stored: Stored; value: { icount: number; snap: VmSnapshot; extra?: VmSnapshot } } | undefined;

  /** The instruction count of the latest checkpoint at or before `icount` (-1: none), without unpacking it. */
  positionAtOrBefore(icount: number): number {
    for (let i = this.list.length - 1; i >= 0; i--) if (this.list[i].icount <= icount) return this.list[i].icount;
    return -1;
  }

  /** Checkpoint positions, oldest first. */
  positions(): number[] { return this.list.map((c) => c.icount); }

  clear(): void { this.list = []; this.uniquePages.clear(); this.unpacked = undefined; }

  private pack(icount: number, snap: VmSnapshot, prev: Stored | undefined): Stored {
    const memory = (snap.machine as { memory?: unknown }).memory;
    // A snapshot format without one flat memory array is kept as it is.
    if (!(memory instanceof Uint8Array)) return { icount, snap: snap as Stored['snap'], pages: [], memoryLength: -1 };
    const { memory: _memory, ...machineRest } = snap.machine as VmSnapshot['machine'] & { memory: Uint8Array };
    const reuse = prev && prev.memoryLength === memory.length ? prev.pages : undefined;
    const pages: Uint8Array[] = [];
    // The snapshot's memory may be the guest's live RAM (Vm.snapshot(true)): only the pages that
    // changed since the previous checkpoint are copied — not all of RAM per checkpoint, which also
    // kept the garbage collector busy with 16 MiB copies.
    for (let off = 0, k = 0; off < memory.length; off += PAGE, k++) {
      if (off % SPAN === 0 && off + SPAN <= memory.length && equalPage(ZERO_SPAN, memory.subarray(off, off + SPAN))) {
        for (let n = 0; n < SPAN / PAGE; n++) pages.push(ZERO_PAGE);
        off += SPAN - PAGE;
        k += SPAN / PAGE - 1;
        continue;
      }
      const page = memory.subarray(off, off + PAGE);
      const old = reuse?.[k];
      if (old && equalPage(old, page)) pages.push(old);
      else if (equalPage(ZERO_PAGE, page)) pages.push(ZERO_PAGE);
      else pages.push(page.slice());
    }
    return { icount, snap: { ...snap, machine: machineRest }, pages, memoryLength: memory.length };
  }

  /** Keeps the first checkpoint and the newest half; drops every other one of the rest. */
  private thin(): void {
    const keepNewest = Math.floor(this.maxCheckpoints / 2);
    const old = this.list.slice(1, this.list.length - keepNewest).filter((_, i) => i % 2 === 1);
    this.list = [this.list[0], ...old, ...this.list.slice(this.list.length - keepNewest)];
  }

  private recount(): void {
    this.uniquePages.clear();
    for (const c of this.list) {
      for (const p of c.pages) this.uniquePages.add(p);
      if (c.extra) for (const p of c.extra.pages) this.uniquePages.add(p);
    }
  }
}

function unpack(c: Stored): VmSnapshot {
  if (c.memoryLength < 0) return c.snap as VmSnapshot;
  const memory = new Uint8Array(c.memoryLength);
  c.pages.forEach((p, k) => memory.set(p, k * PAGE));
  return { ...c.snap, machine: { ...c.snap.machine, memory } } as VmSnapshot;
}

/** memcmp (pages, or a span and ZERO_SPAN). */
function equalPage(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
