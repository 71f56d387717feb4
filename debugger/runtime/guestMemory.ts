/*
 * The debugger's view of guest memory: linear addresses translated through the guest's page tables
 * WITHOUT side effects (no accessed/dirty bits, no TLB fill, no #PF), so that looking at memory never
 * changes what the guest does. Writes go to the physical bytes they map to.
 */
import type { Cpu } from '../../core/cpu/cpu';

const CR0_PG = 0x80000000 | 0, CR4_PSE = 1 << 4, PTE_P = 1, PTE_PS = 0x80;

/** Guest linear → guest physical through the GUEST's page tables (-1: not mapped). */
export type GuestWalker = (lin: number) => number;
const guestWalkers = new WeakMap<Cpu, ShadowWalker>();

/**
 * Under shadow paging (trap-and-emulate, paravirtual, binary translation, VT-x without EPT) the real
 * CR3 points at a shadow directory the VMM fills on demand, so a page the guest maps may not be in it
 * yet: the debugger must read memory as the GUEST maps it. The techniques that shadow expose their
 * `ShadowMmu` (`technique.shadow`, or `technique.mmu.shadow` for binary translation), whose
 * `guestPhys` walks the guest's tables without side effects; this finds it.
 */
export function shadowWalker(technique: unknown): ShadowWalker | undefined {
  type Shadow = { guestPhys?: GuestWalker; layout?: { pdPhys?: number } };
  const t = technique as { shadow?: Shadow; mmu?: { shadow?: Shadow } } | undefined;
  const shadow = t?.shadow ?? t?.mmu?.shadow;
  return typeof shadow?.guestPhys === 'function' ? { walk: (lin) => shadow.guestPhys!(lin), directory: shadow.layout?.pdPhys } : undefined;
}

/**
 * The guest's tables walked by the VMM, and the shadow directory: the walk is the guest's view only
 * while the real CR3 points at that directory. When it does not (the CPU runs on the guest's own
 * tables: paravirtual direct paging, or a guest's MOV CR3 that reached the processor), the real
 * tables are what the guest's accesses go through, and the debugger reads through them too.
 */
export interface ShadowWalker { walk: GuestWalker; directory?: number }

/** Makes every read and write of this module go through the guest's own page tables for `cpu`. */
export function useGuestWalker(cpu: Cpu, walker: ShadowWalker | undefined): void {
  if (walker) guestWalkers.set(cpu, walker); else guestWalkers.delete(cpu);
}

/** Physical address of linear `lin`, or undefined when it is not mapped. */
export function peekTranslate(cpu: Cpu, lin: number): number | undefined {
  const l = lin >>> 0;
  const walker = guestWalkers.get(cpu);
  if (walker && (walker.directory === undefined || ((cpu.cr3 & ~0xfff) >>> 0) === walker.directory)) { const p = walker.walk(l); return p < 0 ? undefined : p >>> 0; }
  if (!(cpu.cr0 & CR0_PG)) return l;
  const mem = cpu.mem;
  const pde = mem.read32(((cpu.cr3 & ~0xfff) + ((l >>> 22) << 2)) >>> 0);
  if (!(pde & PTE_P)) return undefined;
  if ((pde & PTE_PS) && (cpu.cr4 & CR4_PSE)) return ((pde & 0xffc00000) + (l & 0x3fffff)) >>> 0;
  const pte = mem.read32(((pde & ~0xfff) + (((l >>> 12) & 0x3ff) << 2)) >>> 0);
  if (!(pte & PTE_P)) return undefined;
  return ((pte & ~0xfff) + (l & 0xfff)) >>> 0;
}

/** Reads `count` bytes at linear `lin`; stops at the first unmapped byte or the end of memory. */
export function readLinearBytes(cpu: Cpu, lin: number, count: number): { bytes: Uint8Array; unreadable: number } {
  const out = new Uint8Array(count);
  const size = cpu.mem.size;
  let i = 0;
  while (i < count) {
    const p = peekTranslate(cpu, (lin + i) | 0);
    if (p === undefined || p >= size) break;
    const run = Math.min(count - i, 0x1000 - ((lin + i) & 0xfff), size - p);
    out.set(cpu.mem.bytes.subarray(p, p + run), i);
    i += run;
  }
  return { bytes: out.subarray(0, i), unreadable: count - i };
}

/** Reads a little-endian value of 1, 2 or 4 bytes; undefined when any byte is unmapped. */
export function peekLinear(cpu: Cpu, lin: number, size: number): number | undefined {
  const { bytes, unreadable } = readLinearBytes(cpu, lin, size);
  if (unreadable) return undefined;
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = (v * 256) + bytes[i];
  return v >>> 0;
}

/**
 * Writes bytes at linear `lin` through the guest's mapping (through PhysicalMemory, so decoded code
 * and write watches see the change). Returns the number of bytes written (stops at an unmapped page).
 */
export function writeLinearBytes(cpu: Cpu, lin: number, data: Uint8Array): number {
  let i = 0;
  const size = cpu.mem.ramSize + cpu.mem.reservedSize;
  while (i < data.length) {
    const p = peekTranslate(cpu, (lin + i) | 0);
    if (p === undefined || p >= size) break;
    const run = Math.min(data.length - i, 0x1000 - ((lin + i) & 0xfff), size - p);
    cpu.mem.load(p, data.subarray(i, i + run));
    i += run;
  }
  return i;
}

export function pokeLinear(cpu: Cpu, lin: number, size: number, value: number): boolean {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (value >>> (8 * i)) & 0xff;
  return writeLinearBytes(cpu, lin, b) === size;
}
