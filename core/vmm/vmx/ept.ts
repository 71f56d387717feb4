/*
 * Extended page tables (SDM Vol. 3C §29.3 "The Extended Page Table Mechanism"): guest-physical →
 * host-physical through a 4-level structure the host builds in its own memory (here: the machine's
 * reserved memory, which the guest cannot address). Entries are 64-bit: bit 0 read, 1 write,
 * 2 execute, bits 5:3 the memory type of a leaf (6 = write-back), bit 7 a large page, bits 51:12 the
 * address. EPTP (VMCS 0x201A): bits 2:0 memory type of the structures (6 = WB), bits 5:3 the walk
 * length minus one (3), bits 51:12 the PML4 table.
 *
 * The host fills the tables lazily, as KVM's TDP MMU does: the first access to a guest-physical page
 * finds no entry and causes an EPT violation (exit reason 48); the host maps the page and resumes.
 */
import { PAGE_SIZE, type PhysicalMemory } from '../../cpu/physicalMemory';

export const EPT_READ = 1, EPT_WRITE = 2, EPT_EXEC = 4, EPT_RWX = 7;
const MEMTYPE_WB = 6;

export type EptResult = { ok: true; hpa: number; perms: number } | { ok: false; perms: number };

export interface EptState { poolNext: number; mapped: number; tables: number }

export class Ept {
  private poolNext: number;
  readonly pml4: number;
  /** Leaf pages mapped and tables allocated (statistics, debugger). */
  mapped = 0;
  tables = 0;

  constructor(private readonly mem: PhysicalMemory, private readonly poolStart: number, private readonly poolEnd: number) {
    this.poolNext = poolStart;
    this.pml4 = this.alloc();
  }

  /** EPT pointer: WB structures, 4-level walk. */
  get eptp(): bigint { return BigInt(this.pml4) | (3n << 3n) | BigInt(MEMTYPE_WB); }

  private alloc(): number {
    if (this.poolNext + PAGE_SIZE > this.poolEnd) throw new Error('EPT table pool exhausted');
    const p = this.poolNext;
    this.poolNext += PAGE_SIZE;
    this.mem.bytes.fill(0, p, p + PAGE_SIZE);
    this.tables++;
    return p;
  }

  private static indexes(gpa: number): number[] {
    // A 32-bit guest-physical address: PML4 index 0, PDPT index bits 31:30.
    return [0, (gpa >>> 30) & 0x1ff, (gpa >>> 21) & 0x1ff, (gpa >>> 12) & 0x1ff];
  }

  /** Walks the tables: the host-physical page of `gpa`, or the violation with the permissions found. */
  translate(gpa: number): EptResult {
    const mem = this.mem;
    let table = this.pml4, perms = EPT_RWX;
    const idx = Ept.indexes(gpa >>> 0);
    for (let level = 0; level < 4; level++) {
      const lo = mem.read32(table + idx[level] * 8);
      const p = lo & EPT_RWX;
      if (p === 0) return { ok: false, perms: 0 };
      perms &= p;
      const addr = (lo & ~0xfff) >>> 0; // bits 31:12 (the high dword is 0: host memory is below 4 GiB)
      if (level === 3) return { ok: true, hpa: addr, perms };
      table = addr;
    }
    return { ok: false, perms: 0 };
  }

  /** Maps the guest-physical page of `gpa` to host-physical `hpa` with `perms`. */
  map(gpa: number, hpa: number, perms = EPT_RWX): void {
    const mem = this.mem;
    const idx = Ept.indexes(gpa >>> 0);
    let table = this.pml4;
    for (let level = 0; level < 3; level++) {
      const at = table + idx[level] * 8;
      let lo = mem.read32(at);
      if ((lo & EPT_RWX) === 0) {
        const next = this.alloc();
        lo = next | EPT_RWX;
        mem.write32(at, lo); mem.write32(at + 4, 0);
      }
      table = (lo & ~0xfff) >>> 0;
    }
    const leaf = table + idx[3] * 8;
    if ((mem.read32(leaf) & EPT_RWX) === 0) this.mapped++;
    mem.write32(leaf, ((hpa & ~0xfff) | (MEMTYPE_WB << 3) | (perms & EPT_RWX)) | 0);
    mem.write32(leaf + 4, 0);
  }

  getState(): EptState { return { poolNext: this.poolNext, mapped: this.mapped, tables: this.tables }; }
  /** The tables themselves are in machine memory (restored with it). */
  setState(s: EptState): void { this.poolNext = s.poolNext; this.mapped = s.mapped; this.tables = s.tables; }
  get poolUsed(): number { return this.poolNext - this.poolStart; }
}
