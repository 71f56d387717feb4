/*
 * The translation cache (Adams & Agesen §4: CCFs placed in the TC and chained): translated blocks keyed
 * by the guest PHYSICAL address of their first byte (plus the CPL and code-segment size they were
 * translated for), so two linear aliases of the same code share one translation and a write to the
 * physical page — through any alias, by DMA-like monitor writes, or by the loader — finds it.
 *
 * Coherence: the bytes of every translated block are marked as code in physical memory
 * (`PhysicalMemory.markCode`, 64-byte chunks), the mechanism the CPU's own decode cache uses; a write
 * into a marked chunk calls `onCodeWrite`, which this cache chains after the CPU's. A write that
 * overlaps a block's bytes invalidates that block (its `valid` flag drops, so chained links to it stop
 * being followed and its own code, if running, leaves after the store); writes to data next to code
 * (other chunks of the page) cost nothing.
 */
import type { Insn } from '../../cpu/insn';
import type { PhysicalMemory } from '../../cpu/physicalMemory';
import { CODE_CACHE_INSNS, type RegionEntry } from '../../cpu/cpu';

export type BlockFn = (cpu: unknown, r: Int32Array, bt: unknown, blk: TranslatedBlock, end: number) => TranslatedBlock | null;

export class TranslatedBlock {
  /** Still a faithful translation of guest memory. */
  valid = true;
  /** In the translation cache (false: a block whose last instruction crosses a page, run once). */
  cached = true;
  /** Chained successors (link slots 0: fall-through / jump, 1: taken branch) and the link generation. */
  l0: TranslatedBlock | null = null;
  l1: TranslatedBlock | null = null;
  l2: TranslatedBlock | null = null;
  l3: TranslatedBlock | null = null;
  l4: TranslatedBlock | null = null;
  gen = 0;
  /** Inline cache of the last indirect-branch target. */
  ic: TranslatedBlock | null = null;
  icGen = -1;
  /** Writes to traced guest page-table pages made while this block ran (adaptive BT). */
  ptWrites = 0;
  /** Retranslated so its page-table stores are callouts, not write-protection faults. */
  adapted = false;
  /** Times dispatched or looped (a hot block's code is tried as a CPU region, see translator.ts). */
  runs = 0;
  /** The CPU region that runs this block's code (translator.ts), once found; `regionless`: none. */
  region: RegionEntry | undefined = undefined;
  regionless = false;
  fn: BlockFn = () => null;

  constructor(
    /** Cache key: physical address + CPL/code-size bits. */
    readonly key: number,
    /** Physical address of the first byte and one past the last. */
    readonly physStart: number,
    readonly physEnd: number,
    /** EIP (offset in CS) and CS base it was translated for. */
    readonly eip: number,
    readonly csBase: number,
    readonly insns: Insn[],
    /** EIP of each instruction (for precise faults). */
    readonly eips: Int32Array,
    /** JavaScript source of the CCF (debugger, tests). */
    readonly source: string,
  ) {}

  get page(): number { return this.physStart >>> 12; }
}

export interface CacheStats {
  blocks: number;
  instructions: number;
  invalidations: number;
  flushes: number;
}

export class TranslationCache {
  private readonly byKey = new Map<number, TranslatedBlock>();
  /** Blocks per physical page, and the watch that guards the page. */
  private readonly byPage = new Map<number, TranslatedBlock[]>();
  readonly stats: CacheStats = { blocks: 0, instructions: 0, invalidations: 0, flushes: 0 };
  /** Instructions inserted since the last flush (the capacity check). */
  private held = 0;
  /** Called for each block a guest write invalidates (events, counters). */
  onInvalidate: (blk: TranslatedBlock, physAddr: number) => void = () => {};

  constructor(private readonly mem: PhysicalMemory) {
    const cpuHook = mem.onCodeWrite;
    mem.onCodeWrite = (addr, size) => { cpuHook(addr, size); this.written(addr, size); };
  }

  get size(): number { return this.byKey.size; }

  get(key: number): TranslatedBlock | undefined { return this.byKey.get(key); }

  insert(blk: TranslatedBlock): void {
    // Full: start afresh, as QEMU's tb_flush when its code buffer fills (a runaway guest through
    // never-repeated code would otherwise hold every translation it ever made).
    if (this.held + blk.insns.length > CODE_CACHE_INSNS) this.flush();
    this.held += blk.insns.length;
    const old = this.byKey.get(blk.key);
    if (old) this.drop(old);
    this.byKey.set(blk.key, blk);
    const page = blk.page;
    let list = this.byPage.get(page);
    if (!list) this.byPage.set(page, list = []);
    list.push(blk);
    this.mem.markCode(blk.physStart, blk.physEnd);
  }

  /** A guest (or loader) write into code chunks of a page (after the CPU's own invalidation). */
  private written(p: number, size: number): void {
    const page = p >>> 12;
    const list = this.byPage.get(page);
    if (!list) return;
    const end = p + size;
    let kept = 0;
    for (let i = 0; i < list.length; i++) {
      const b = list[i];
      if (p < b.physEnd && end > b.physStart) {
        b.valid = false;
        if (this.byKey.get(b.key) === b) this.byKey.delete(b.key);
        this.stats.invalidations++;
        this.onInvalidate(b, p);
      } else list[kept++] = b;
    }
    list.length = kept;
    if (kept === 0) { this.byPage.delete(page); return; }
    // The CPU clears a page's code marks when none of ITS blocks remain there: mark ours again.
    for (const b of list) this.mem.markCode(b.physStart, b.physEnd);
  }

  private drop(b: TranslatedBlock): void {
    b.valid = false;
    this.byKey.delete(b.key);
    const list = this.byPage.get(b.page);
    if (!list) return;
    const i = list.indexOf(b);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPage.delete(b.page);
  }

  /** Drops every translation (snapshot restore, technique reset). */
  flush(): void {
    this.held = 0;
    for (const b of this.byKey.values()) b.valid = false;
    for (const list of this.byPage.values()) for (const b of list) b.valid = false;
    this.byKey.clear();
    this.byPage.clear();
    this.stats.flushes++;
  }

  blocks(): IterableIterator<TranslatedBlock> { return this.byKey.values(); }
}
