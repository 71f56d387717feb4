/*
 * `binary-translation` (SPEC §4): VMware-style binary translation (Adams & Agesen, ASPLOS 2006).
 * Guest kernel code is translated block by block on first execution into JavaScript functions,
 * cached by guest physical address, chained; privileged and critical instructions become callouts;
 * user-mode code runs directly. See translator.ts for the mechanism, codegen.ts for the code.
 */
import type { StopReason } from '../../machine/machine';
import { registerTechnique, type Technique, type TechniqueView, type VmHost } from '../technique';
import { BinaryTranslator } from './translator';
import { VirtualMmu, type VirtualMmuState } from './virtualMmu';

/** Reserved memory for the shadow page directory and its page-table pool. */
const RESERVED_MIB = 4;

export interface BtState {
  /** The translation cache is not saved (it is a cache): a restore starts with an empty one. */
  version: 1;
  mmu: VirtualMmuState;
}

export class BinaryTranslationTechnique implements Technique {
  readonly mode = 'binary-translation' as const;
  readonly bt: BinaryTranslator;

  readonly mmu: VirtualMmu;

  constructor(private readonly host: VmHost) {
    this.bt = new BinaryTranslator(host);
    this.mmu = new VirtualMmu(host, host.machine.mem.reservedBase, RESERVED_MIB << 20);
    this.bt.vmem = this.mmu;
    host.events.subscribe((ev) => { if (ev.kind === 'shadow-paging' && ev.action === 'pt-write') this.bt.onTracedWrite(); }, ['shadow-paging']);
  }

  /** See Technique.invisibleActions: shadow fills while the guest's paging is off. */
  get invisibleActions(): number { return this.mmu.shadow.identityFills; }

  start(): void {
    this.mmu.cr0 = this.host.cpu.cr0; this.mmu.cr3 = this.host.cpu.cr3; this.mmu.cr4 = this.host.cpu.cr4;
    this.mmu.start();
    this.host.cpu.setMonitor(this.bt.monitor);
  }

  runSlice(budget: number): StopReason {
    return this.host.machine.runSlice(budget, (b) => this.bt.execute(b));
  }

  getState(): BtState { return { version: 1, mmu: this.mmu.getState() }; }

  setState(state: unknown): void {
    this.mmu.setState((state as BtState).mmu);
    // Memory was restored under the write watches, but a restore may rewrite whole pages at once:
    // drop every translation rather than trust per-range invalidation.
    this.bt.flush();
  }

  inspect(): TechniqueView {
    const cpu = this.host.cpu, s = this.bt.stats, c = this.bt.cache.stats;
    return {
      vcpu: {
        'CPL (guest)': cpu.cpl, 'runs as': cpu.cpl === 3 ? 'direct execution' : 'translated code',
        'CR0 (virtual)': '0x' + (this.mmu.cr0 >>> 0).toString(16), 'CR3 (virtual)': '0x' + (this.mmu.cr3 >>> 0).toString(16),
        'CR3 (real: shadow)': '0x' + (cpu.cr3 >>> 0).toString(16),
      },
      hypervisor: {
        'cached blocks': this.bt.cache.size,
        'blocks translated': c.blocks,
        'instructions translated': c.instructions,
        'instructions inlined': s.inlined,
        'cache hits': s.cacheHits,
        'inline-cache hits (indirect)': s.inlineCacheHits,
        'chain links patched': s.linksPatched,
        callouts: s.callouts,
        invalidations: c.invalidations,
        'shadow fills': this.mmu.shadow.stats.fills,
        'traced page-table writes': this.mmu.shadow.stats.tracedWrites,
      },
    };
  }
}

registerTechnique({
  mode: 'binary-translation',
  title: 'VMware-style binary translation: kernel code translated and cached, callouts for sensitive instructions',
  reservedMiB: RESERVED_MIB,
  create: (host) => new BinaryTranslationTechnique(host),
});
