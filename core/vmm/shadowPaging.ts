/*
 * Shadow page tables (memory virtualization for trap-and-emulate, binary translation, and
 * hardware assistance without EPT). The guest keeps its own page tables, pointed at by its VIRTUAL
 * CR3; the real CR3 points at a shadow page directory in the VMM's reserved memory, whose entries
 * map guest-linear pages straight to guest-physical frames. The real paging unit therefore
 * translates with the guest's mappings, but through tables the guest cannot touch.
 *
 * The classic mechanism (VMware's "traces", Xen's shadow mode, KVM's shadow MMU):
 *   - lazily filled: the shadow starts empty; an access to an unshadowed page raises #PF into the
 *     VMM ("hidden" page fault), which walks the guest's tables, sets the guest's accessed (and, on
 *     a write, dirty) bits as hardware would, and builds the shadow entry. Faults the guest's own
 *     tables would raise are handed back for reflection with the guest's error code.
 *   - dirty tracking: a page whose guest PTE is clean is shadowed read-only (real CR0.WP = 1), so
 *     the first write faults and the VMM sets D in the guest PTE before making the shadow writable.
 *   - coherence: every guest page-table page that backs a shadow entry is write-traced (a physical
 *     write watch, standing for the write protection real VMMs use); a write drops the shadow
 *     entries derived from it, and the next access refills them from the new guest entry.
 *   - CR3 writes, CR0.PG/WP and CR4.PSE/PGE changes drop the whole shadow (no caching of shadows
 *     across address spaces — first-generation VMM behaviour, and a `tlbFlush` in the cost model).
 *
 * The VMM's own area (the top 4 MiB of the linear address space, like Xen's reserved hole) is
 * mapped by a PDE the shadow always keeps; guest mappings there are not honoured.
 */
import type { Cpu } from '../cpu/cpu';
import { CR0_PG, CR0_WP, CR4_PSE, PFEC_P, PFEC_U, PFEC_W, PTE_A, PTE_D, PTE_P, PTE_PS, PTE_U, PTE_W } from '../cpu/constants';
import { PAGE_SIZE, type PhysicalMemory } from '../cpu/physicalMemory';
import { DeviceTrapAccount, reportMmio, runInstructionOnce } from './mmioEmulation';
import type { VmHost } from './technique';

/**
 * The host frame that stands for guest-physical addresses beyond guest RAM in every technique's
 * shadow or EPT: above all memory, so it reads zeros and drops writes, as past RAM natively (a frame of
 * the VMM's own memory would keep what the guest stored there).
 */
export const UNPOPULATED = 0xfffff000;

/** The guest's paging registers (virtual). */
export interface GuestPagingRegs { cr0: number; cr3: number; cr4: number }

export interface ShadowLayout {
  /** Physical address of the shadow page directory (reserved memory). */
  pdPhys: number;
  /** Physical pages [poolStart, poolEnd) for shadow page tables. */
  poolStart: number;
  poolEnd: number;
  /** Page-directory index kept for the VMM (its PDE value is written on every reset). */
  vmmPdIndex: number;
  vmmPde: number;
}

/** Result of a guest page walk. */
export type GuestWalk =
  | { ok: true; phys: number; user: boolean; writable: boolean; dirty: boolean; large: boolean; ptPage: number; wpOverride: boolean }
  | { ok: false; errorCode: number };

export interface ShadowState {
  poolNext: number;
  pdPage: number;
  /** [guest page-table page, shadow PT physical address, PD index] */
  mirrors: Array<[number, number, number]>;
  stats: ShadowStats;
}

export interface ShadowStats { fills: number; dirtyFaults: number; tracedWrites: number; flushes: number; guestFaults: number }

export class ShadowMmu {
  private poolNext: number;
  /** Guest PD page watched (-1 none). */
  private pdPage = -1;
  /** guest PT page → list of [shadow PT phys, PD index]. */
  private mirrors = new Map<number, Array<[number, number]>>();
  private readonly unwatch = new Map<number, () => void>();
  /** While the VMM itself writes guest page tables (A/D bits), its writes are not traced. */
  private selfWrite = false;
  /** Consecutive faults at one address that found the shadow already right. */
  private noop = { lin: -1, count: 0 };
  private readonly deviceTraps: DeviceTrapAccount;
  stats: ShadowStats = { fills: 0, dirtyFaults: 0, tracedWrites: 0, flushes: 0, guestFaults: 0 };
  /**
   * Fills made while the guest runs without paging (Technique.invisibleActions): the entry maps a
   * page to itself and no guest page table is read or marked — nothing the guest can see changed.
   */
  identityFills = 0;

  constructor(
    private readonly host: VmHost,
    readonly layout: ShadowLayout,
    /** The guest's virtual paging registers, read at every walk. */
    private readonly guest: () => GuestPagingRegs,
  ) {
    this.deviceTraps = new DeviceTrapAccount(host);
    this.poolNext = layout.poolStart;
  }

  private get mem(): PhysicalMemory { return this.host.machine.mem; }
  private get cpu(): Cpu { return this.host.cpu; }

  /** Starts (or restarts) with an empty shadow; the caller points the real CR3 at `layout.pdPhys`. */
  reset(reason?: string): void {
    const mem = this.mem, l = this.layout;
    mem.bytes.fill(0, l.pdPhys, l.pdPhys + PAGE_SIZE);
    mem.write32(l.pdPhys + l.vmmPdIndex * 4, l.vmmPde);
    for (const off of this.unwatch.values()) off();
    this.unwatch.clear();
    this.mirrors.clear();
    this.pdPage = -1;
    this.poolNext = l.poolStart;
    this.cpu.flushTlb();
    if (reason) {
      this.stats.flushes++;
      this.host.emit({ kind: 'shadow-paging', action: 'flush', address: this.guest().cr3 >>> 0, eip: this.guestEip(), mnemonic: '', cost: this.host.cost('tlbFlush'), text: `shadow page tables dropped (${reason})` });
    }
  }

  private guestEip(): number { return (this.cpu.segBase[1] + this.cpu.eip) >>> 0; }

  /**
   * Walks the guest's own page tables for `lin` as the hardware would (SDM Vol. 3 §4.3), with the
   * guest's CR0.WP/CR4.PSE. `setAccessed` sets A (and D on a write) in the guest entries.
   */
  walkGuest(lin: number, write: boolean, user: boolean, setAccessed: boolean): GuestWalk {
    const g = this.guest(), mem = this.mem;
    lin >>>= 0;
    if (!(g.cr0 & CR0_PG)) return { ok: true, phys: lin, user: true, writable: true, dirty: true, large: false, ptPage: -1, wpOverride: false };
    const errBase = (write ? PFEC_W : 0) | (user ? PFEC_U : 0);
    const pdeAddr = ((g.cr3 & ~0xfff) + ((lin >>> 22) << 2)) >>> 0;
    if (pdeAddr >= mem.ramSize) return { ok: false, errorCode: errBase };
    const pde = mem.read32(pdeAddr);
    if (!(pde & PTE_P)) return { ok: false, errorCode: errBase };
    let phys: number, rw: boolean, us: boolean, entryAddr: number, entry: number, large = false, ptPage = -1;
    if ((pde & PTE_PS) && (g.cr4 & CR4_PSE)) {
      large = true;
      phys = ((pde & 0xffc00000) + (lin & 0x3ff000)) >>> 0;
      rw = (pde & PTE_W) !== 0; us = (pde & PTE_U) !== 0;
      entryAddr = pdeAddr; entry = pde;
    } else {
      ptPage = (pde >>> 12);
      const pteAddr = ((pde & ~0xfff) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
      if (pteAddr >= mem.ramSize) return { ok: false, errorCode: errBase };
      const pte = mem.read32(pteAddr);
      if (!(pte & PTE_P)) return { ok: false, errorCode: errBase };
      phys = (pte & ~0xfff) >>> 0;
      rw = (pde & PTE_W) !== 0 && (pte & PTE_W) !== 0;
      us = (pde & PTE_U) !== 0 && (pte & PTE_U) !== 0;
      entryAddr = pteAddr; entry = pte;
    }
    const wp = (g.cr0 & CR0_WP) !== 0;
    if (user ? (!us || (write && !rw)) : (write && !rw && wp)) return { ok: false, errorCode: errBase | PFEC_P };
    if (setAccessed) {
      this.selfWrite = true;
      try {
        if (!(pde & PTE_A)) mem.write32(pdeAddr, pde | PTE_A);
        const want = (entryAddr === pdeAddr ? (pde | PTE_A) : entry | PTE_A) | (write ? PTE_D : 0);
        if (want !== mem.read32(entryAddr)) mem.write32(entryAddr, want);
        entry = want;
      } finally { this.selfWrite = false; }
    }
    // Supervisor writes to read-only pages (user pages included) are allowed when the guest's CR0.WP
    // is clear (SDM Vol. 3 §4.6.1). The shadow cannot express "writable for the kernel only" on a
    // user page, so such a write gets a supervisor-only writable shadow entry (`wpOverride`, what
    // KVM does); a later user access faults and gets the user's read-only view back.
    const wpOverride = !rw && !wp && !user && (write || !us);
    const writable = rw || wpOverride;
    return { ok: true, phys: (phys + (lin & 0xfff)) >>> 0, user: us && !wpOverride, writable, dirty: (entry & PTE_D) !== 0, large, ptPage, wpOverride };
  }

  /** Guest linear → guest physical without side effects (-1 when not mapped). For the VMM's own reads. */
  guestPhys(lin: number): number {
    const w = this.walkGuest(lin, false, false, false);
    return w.ok ? w.phys : -1;
  }

  /**
   * A #PF the real CPU raised while the guest ran. Returns 'fixed' when it was a hidden fault (the
   * shadow now maps the page: retry the instruction), or the error code of the fault the GUEST's
   * tables give (reflect it to the guest with CR2 = lin). 'stuck' when no progress is possible.
   */
  handleFault(lin: number, errorCode: number): 'fixed' | 'stuck' | { guestErrorCode: number } {
    lin >>>= 0;
    const l = this.layout;
    const write = (errorCode & PFEC_W) !== 0, user = (errorCode & PFEC_U) !== 0;
    const pdi = lin >>> 22;
    if (pdi === l.vmmPdIndex) { this.stats.guestFaults++; return { guestErrorCode: errorCode | PFEC_P }; }
    const w = this.walkGuest(lin, write, user, true);
    if (!w.ok) { this.stats.guestFaults++; return { guestErrorCode: w.errorCode }; }
    const mem = this.mem;
    const spdeAddr = l.pdPhys + pdi * 4;
    let spde = mem.read32(spdeAddr);
    if (!(spde & PTE_P)) {
      const spt = this.allocTable();
      if (spt < 0) return this.handleFault(lin, errorCode); // the pool was recycled: start over
      spde = spt | PTE_P | PTE_W | PTE_U;
      mem.write32(spdeAddr, spde);
      this.traceDirectory();
    }
    const sptPhys = spde & ~0xfff;
    if (!w.large && w.ptPage >= 0) this.addMirror(w.ptPage, sptPhys, pdi);
    const old = mem.read32(sptPhys + ((lin >>> 12) & 0x3ff) * 4);
    const wasPresent = (old & PTE_P) !== 0;
    let frame = (w.phys & ~0xfff) >>> 0;
    if (frame >= mem.ramSize && mem.isMmio(w.phys)) return this.emulateMmio(lin, w.phys, write, sptPhys + ((lin >>> 12) & 0x3ff) * 4, frame, w.user);
    if (frame >= mem.ramSize) frame = UNPOPULATED;
    // Writable in the shadow only once the guest entry is dirty, so the first write is seen (D bit).
    const spte = frame | PTE_P | (w.user ? PTE_U : 0) | (w.writable && w.dirty ? PTE_W : 0);
    // Already mapped as the guest allows (a caller prefaulting, or a stale TLB entry): nothing to
    // build and nothing to charge. The same no-op over and over means the fault is not the
    // shadow's to fix (the CPU keeps faulting on a mapping that allows the access).
    if ((old & PTE_P) && ((old & ~(PTE_A | PTE_D)) >>> 0) === (spte >>> 0)) {
      this.cpu.invalidatePage(lin);
      if (lin === this.noop.lin && ++this.noop.count > 3) return 'stuck';
      if (lin !== this.noop.lin) this.noop = { lin, count: 1 };
      return 'fixed';
    }
    this.noop = { lin: -1, count: 0 };
    mem.write32(sptPhys + ((lin >>> 12) & 0x3ff) * 4, spte);
    this.cpu.invalidatePage(lin);
    const dirtyFault = wasPresent && write;
    if (dirtyFault) this.stats.dirtyFaults++; else this.stats.fills++;
    if (!(this.guest().cr0 & CR0_PG)) this.identityFills++;
    this.host.emit({
      kind: 'shadow-paging', action: dirtyFault ? 'dirty' : 'fill', address: lin, eip: this.guestEip(), mnemonic: '',
      cost: this.host.cost('shadowPageFault'),
      text: dirtyFault
        ? `first write to 0x${lin.toString(16)}: dirty bit set in the guest PTE, shadow entry made writable`
        : `hidden page fault at 0x${lin.toString(16)}: shadow entry → frame 0x${frame.toString(16)}${spte & PTE_W ? ' rw' : ' ro'}${spte & PTE_U ? ' user' : ''}`,
    });
    return 'fixed';
  }

  /**
   * A guest access to a device's registers: the shadow never maps the device frame, so every access
   * is a hidden page fault; the instruction runs once with the frame mapped, then it is unmapped.
   */
  private emulateMmio(lin: number, phys: number, write: boolean, spteAddr: number, frame: number, user: boolean): 'fixed' | 'stuck' {
    const mem = this.mem, cpu = this.cpu, eip = this.guestEip();
    const mnemonic = runInstructionOnce(cpu,
      () => { mem.write32(spteAddr, frame | PTE_P | PTE_W | (user ? PTE_U : 0)); cpu.invalidatePage(lin); },
      () => { mem.write32(spteAddr, 0); cpu.invalidatePage(lin); });
    if (mnemonic === undefined) return 'stuck';
    reportMmio(this.host, eip, lin, phys, write, mnemonic);
    return 'fixed';
  }

  /**
   * The CPU's walk found no shadow entry for `lin` (`Monitor.deviceAccess`): when the guest's own
   * tables map it to a device's registers, the access is the trap `emulateMmio` handles — accounted
   * here once per instruction, then done by the CPU at the device's address — instead of a #PF built,
   * unwound and the instruction run again. −1 for everything else (the hidden or guest #PF as before).
   */
  deviceAccess(lin: number, write: boolean, user: boolean): number {
    lin >>>= 0;
    if ((lin >>> 22) === this.layout.vmmPdIndex) return -1;
    const probe = this.walkGuest(lin, write, user, false);
    if (!probe.ok || probe.phys < this.mem.ramSize || !this.mem.isMmio(probe.phys)) return -1;
    const w = this.walkGuest(lin, write, user, true); // sets A (and D), as the #PF path's walk does
    if (!w.ok) return -1;
    this.deviceTraps.account(lin, w.phys, write);
    return w.phys;
  }

  /** Guest INVLPG: drop the shadow entry for `lin` and the TLB entry. */
  invlpg(lin: number): void {
    lin >>>= 0;
    const pdi = lin >>> 22;
    if (pdi === this.layout.vmmPdIndex) return;
    const spde = this.mem.read32(this.layout.pdPhys + pdi * 4);
    if (spde & PTE_P) this.mem.write32((spde & ~0xfff) + ((lin >>> 12) & 0x3ff) * 4, 0);
    this.cpu.invalidatePage(lin);
  }

  private allocTable(): number {
    if (this.poolNext + PAGE_SIZE > this.layout.poolEnd) {
      this.reset('shadow table pool exhausted');
      return -1;
    }
    const p = this.poolNext;
    this.poolNext += PAGE_SIZE;
    this.mem.bytes.fill(0, p, p + PAGE_SIZE);
    return p;
  }

  private traceDirectory(): void {
    const g = this.guest();
    if (!(g.cr0 & CR0_PG)) return;
    const page = (g.cr3 >>> 12);
    if (this.pdPage === page) return;
    this.pdPage = page;
    this.watch(page);
  }

  private addMirror(ptPage: number, spt: number, pdi: number): void {
    let list = this.mirrors.get(ptPage);
    if (!list) this.mirrors.set(ptPage, list = []);
    if (!list.some(([s, i]) => s === spt && i === pdi)) list.push([spt, pdi]);
    this.watch(ptPage);
  }

  private watch(page: number): void {
    if (this.unwatch.has(page) || (page << 12) >>> 0 >= this.mem.ramSize) return;
    this.unwatch.set(page, this.mem.addWriteWatch(page, (phys, size) => this.onTracedWrite(phys, size)));
  }

  /** A write to a traced guest page-table page (called before the write lands). */
  private onTracedWrite(phys: number, size: number): void {
    if (this.selfWrite) return;
    const mem = this.mem, l = this.layout;
    const first = (phys & ~3) >>> 0, last = (phys + size - 1) & ~3;
    let dropped = 0;
    for (let a = first; a <= last; a += 4) {
      const page = a >>> 12, index = (a & 0xfff) >>> 2;
      if (page === this.pdPage && index !== l.vmmPdIndex) {
        const spdeAddr = l.pdPhys + index * 4;
        const spde = mem.read32(spdeAddr);
        if (spde & PTE_P) {
          mem.write32(spdeAddr, 0);
          for (const [gpage, list] of this.mirrors) {
            const kept = list.filter(([, i]) => i !== index);
            if (kept.length) this.mirrors.set(gpage, kept); else this.mirrors.delete(gpage);
          }
          this.cpu.flushTlb();
          dropped++;
        }
      }
      for (const [spt, pdi] of this.mirrors.get(page) ?? []) {
        const sa = spt + index * 4;
        if (mem.read32(sa) & PTE_P) {
          mem.write32(sa, 0);
          this.cpu.invalidatePage(((pdi << 22) | (index << 12)) >>> 0);
          dropped++;
        }
      }
    }
    this.stats.tracedWrites++;
    const cpu = this.cpu;
    let mnemonic = '';
    try { mnemonic = cpu.decodeAt((cpu.segBase[1] + cpu.eip) | 0).mnemonic; } catch { /* not decodable: leave it out */ }
    this.host.emit({
      kind: 'shadow-paging', action: 'pt-write', address: phys >>> 0, eip: this.guestEip(), mnemonic,
      cost: this.host.cost('tracedWrite'),
      text: `write to traced guest page table at physical 0x${(phys >>> 0).toString(16)}: ${dropped} shadow entr${dropped === 1 ? 'y' : 'ies'} dropped`,
    });
  }

  /** Before the machine's memory is restored (its writes must not be traced). */
  detach(): void {
    for (const off of this.unwatch.values()) off();
    this.unwatch.clear();
  }

  getState(): ShadowState {
    const mirrors: Array<[number, number, number]> = [];
    for (const [page, list] of this.mirrors) for (const [spt, pdi] of list) mirrors.push([page, spt, pdi]);
    return { poolNext: this.poolNext, pdPage: this.pdPage, mirrors, stats: { ...this.stats } };
  }

  setState(s: ShadowState): void {
    this.detach();
    this.mirrors.clear();
    this.poolNext = s.poolNext;
    this.pdPage = s.pdPage;
    if (s.pdPage >= 0) this.watch(s.pdPage);
    for (const [page, spt, pdi] of s.mirrors) this.addMirror(page, spt, pdi);
    this.stats = { ...s.stats };
  }
}
