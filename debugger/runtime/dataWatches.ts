/*
 * Data breakpoints on guest memory: the linear bytes are translated once to physical pages (as the
 * guest maps them when the breakpoint is set), and each page gets a write watch on those bytes in
 * physical memory, which every executor honours (the interpreter, compiled blocks and regions, the
 * binary translator's stores, VT-x) because writes to their 64-byte chunks leave the fast path —
 * and only those: a hot loop's stores next to the watched variable stay in compiled code.
 */
import type { Cpu } from '../../core/cpu/cpu';
import { peekTranslate } from './guestMemory';

/**
 * The physical pages holding `size` bytes at linear `address`, each with the lowest watched
 * physical address in it; undefined when a byte is not mapped to RAM.
 */
export function physicalPages(cpu: Cpu, address: number, size: number): Map<number, number> | undefined {
  const pages = new Map<number, number>();
  for (let i = 0; i < size; i++) {
    const p = peekTranslate(cpu, (address + i) | 0);
    if (p === undefined || p >= cpu.mem.size) return undefined;
    pages.set(p >>> 12, pages.has(p >>> 12) ? Math.min(pages.get(p >>> 12)!, p) : p);
  }
  return pages;
}

/** Calls `onWrite(phys)` for every guest write that overlaps the watched bytes; returns the disposer. */
export function watchWrites(cpu: Cpu, pages: Map<number, number>, size: number, onWrite: (phys: number) => void): () => void {
  const disposers: Array<() => void> = [];
  for (const [page, lo] of pages) {
    // Physical overlap with the watched bytes (contiguous on one page; from the page start on the next).
    const hi = lo + size;
    const end = Math.min(hi, (page + 1) * 4096);
    disposers.push(cpu.mem.addWriteWatch(page, (phys, n) => { if (phys < hi && phys + n > lo) onWrite(phys); }, { from: lo, to: end }));
  }
  return () => disposers.forEach((d) => d());
}
