/*
 * The cost model (SPEC §4): named profiles that turn every hypervisor event into modelled cycles.
 * Wall-clock speed of the simulator is a separate, measured matter (`npm run bench`).
 *
 * Every figure carries its source, or says it is illustrative. Sources and their confidence are in
 * ../shared/reference/x86-virtualization.md §4 ([V] verified, [S] secondary, [U] unverified). The
 * Adams & Agesen (ASPLOS 2006) per-benchmark cycle counts are NOT verified there, so the 2006
 * profile's figures are illustrative magnitudes chosen to respect the relations the paper reports
 * (a first-generation VT-x exit is far dearer than a BT callout; a traced page-table write is
 * handled by an adaptive-BT callout without a fault; a system call under BT pays translated-code
 * and callout overhead where VT-x runs it natively) — never quoted as measurements.
 *
 * Modelled cycles of a run = guest instructions × `instruction` + idle cycles + Σ event costs.
 */

export type CostKey =
  /** One guest instruction executed directly (native, or innocuous code under any technique). */
  | 'instruction'
  /** Hardware exception into the VMM and return to the guest (trap-and-emulate #GP, PV trap). */
  | 'trapRoundTrip'
  /** Decoding and emulating a trapped instruction in the VMM (software, after the trap). */
  | 'emulate'
  /** Reflecting a guest exception or interrupt to the guest's own handler (building its frame). */
  | 'reflect'
  /** Injecting a virtual interrupt (event upcall, VT-x event injection on entry). */
  | 'interruptInjection'
  /** Emulating one device register access (UART, PIC, PIT) in the VMM's device model. */
  | 'deviceAccess'
  /** VM exit plus VM entry, hardware transition only (VT-x). */
  | 'vmExitEntry'
  /** Paravirtual hypercall round trip (guest → hypervisor → guest), excluding the work it does. */
  | 'hypercall'
  /** Binary translation: translating one guest instruction (decode, emit, chain). */
  | 'translatePerInstruction'
  /** Binary translation: a callout from translated code into the VMM (no world switch). */
  | 'callout'
  /** Binary translation: extra cost of an indirect control transfer (translation-cache lookup). */
  | 'indirectBranch'
  /** A hidden (shadow) page fault: VMM walks the guest tables and fills the shadow entry. */
  | 'shadowPageFault'
  /** A guest write to a write-protected (traced) page-table page: trap, emulate, update shadow. */
  | 'tracedWrite'
  /** Dropping the shadow page tables / flushing the TLB (guest CR3 write without caching). */
  | 'tlbFlush'
  /** Hardware-assisted with EPT: extra cost of a two-dimensional page walk on a TLB miss. */
  | 'nestedPageWalk';

export interface CostFigure {
  cycles: number;
  /** Where the figure comes from; 'illustrative: …' says why this magnitude. */
  source: string;
  illustrative: boolean;
}

export interface CostProfile {
  name: string;
  description: string;
  /** Clock used to turn cycles into time in reports (Hz). */
  clockHz: number;
  figures: Record<CostKey, CostFigure>;
}

const ref = (s: string): CostFigure['source'] => s;
const fig = (cycles: number, source: string, illustrative = source.startsWith('illustrative')): CostFigure => ({ cycles, source: ref(source), illustrative });

/** A recent x86 server core (Nehalem and later, EPT + VPID). */
export const MODERN: CostProfile = {
  name: 'modern',
  description: 'a recent x86 core with EPT and VPID (exit figures from KVM measurements)',
  clockHz: 3_000_000_000,
  figures: {
    instruction: fig(1, 'illustrative: one cycle per instruction, the simulated PC\'s own timing model (SPEC §3)'),
    trapRoundTrip: fig(250, 'illustrative: a protected-mode exception delivery plus IRET costs a few hundred cycles on recent cores'),
    emulate: fig(150, 'illustrative: decode and emulate one instruction in the VMM (a few hundred instructions of C)'),
    reflect: fig(200, 'illustrative: building the guest\'s exception frame and switching to its handler'),
    interruptInjection: fig(100, 'illustrative: VM-entry event injection / PV upcall set-up'),
    deviceAccess: fig(300, 'illustrative: one emulated device register access in the VMM\'s device model'),
    vmExitEntry: fig(1300, 'LKML 2020-12 (KVM/SVM): ≈1,344–1,376 cycles pre-VMRUN to post-exit for a trivial exit [S]; SplitX (HotOS 2011) gives ≈2,000 on Nehalem [V]'),
    hypercall: fig(1300, 'Dall et al. ISCA 2016 Table 2 as summarised in the reference: x86 KVM/Xen hypercall ≈1.2–1.4k cycles [U]'),
    translatePerInstruction: fig(300, 'illustrative: dynamic translators spend hundreds of cycles per translated guest instruction'),
    callout: fig(60, 'illustrative: a call from the translation cache into the VMM, no privilege change'),
    indirectBranch: fig(10, 'illustrative: a translation-cache hash lookup for an indirect branch target'),
    shadowPageFault: fig(1500, 'illustrative: exception into the VMM, two-level guest walk, shadow fill, resume'),
    tracedWrite: fig(1200, 'illustrative: write-protect fault, emulate the store, update the shadow entry'),
    tlbFlush: fig(500, 'illustrative: dropping the shadow tables and refilling the hot entries'),
    nestedPageWalk: fig(30, 'VMware "Performance Evaluation of Intel EPT Hardware Assist" (2009): 2-D walks cost more per TLB miss but remove MMU exits [S]; per-miss figure illustrative'),
  },
};

/**
 * First-generation VT-x (Pentium 4 662/672, 2005–2006), as Adams & Agesen measured it against
 * VMware's binary translator. No EPT, no TPR shadow, slow transitions.
 */
export const VTX_2006: CostProfile = {
  name: 'vtx-2006',
  description: 'first-generation VT-x on a Pentium 4 (Adams & Agesen, ASPLOS 2006): slow exits, no EPT',
  clockHz: 3_800_000_000,
  figures: {
    instruction: fig(1, 'illustrative: one cycle per instruction, the simulated PC\'s own timing model (SPEC §3)'),
    trapRoundTrip: fig(1200, 'illustrative: NetBurst exception delivery plus IRET was notoriously slow (long pipeline flush)'),
    emulate: fig(300, 'illustrative: decode and emulate one instruction in the VMM'),
    reflect: fig(600, 'illustrative: building the guest\'s exception frame and switching to its handler'),
    interruptInjection: fig(300, 'illustrative: event injection on VM entry / upcall set-up'),
    deviceAccess: fig(600, 'illustrative: one emulated device register access in the VMM\'s device model'),
    vmExitEntry: fig(4000, 'illustrative: first-generation VT-x exit+entry took thousands of cycles; Penryn cut transition times 25–75 % (Intel 2007 [S]) and Nehalem was ≈2,000 (SplitX [V]), so NetBurst was well above that. Adams & Agesen\'s own figure is not verified (reference §8 item 2)'),
    hypercall: fig(1500, 'illustrative: a software trap into the hypervisor and back on NetBurst (no PV figure found, reference §4)'),
    translatePerInstruction: fig(400, 'illustrative: VMware\'s translator cost per guest instruction, amortised by the translation cache'),
    callout: fig(100, 'illustrative: a call from translated code into the VMM; no world switch (Adams & Agesen: BT "in" and "cr8wr" are cheap callouts)'),
    indirectBranch: fig(20, 'illustrative: translation-cache lookup for indirect branches (Adams & Agesen: call/ret slower under BT)'),
    shadowPageFault: fig(3000, 'illustrative: a hidden page fault on NetBurst (exception or exit, guest walk, shadow fill)'),
    tracedWrite: fig(3000, 'illustrative: write-protect fault on a traced page-table page plus emulation (BT avoids it by adaptive retranslation)'),
    tlbFlush: fig(1500, 'illustrative: no VPID and no tagged TLB: every world switch / CR3 write refills the TLB'),
    nestedPageWalk: fig(0, 'illustrative: first-generation VT-x had no EPT (the profile forces shadow paging)'),
  },
};

export const COST_PROFILES: Readonly<Record<string, CostProfile>> = { modern: MODERN, 'vtx-2006': VTX_2006 };
export const DEFAULT_COST_PROFILE = 'modern';

/** The profile called `name` (default `modern`); throws a RangeError naming the known ones. */
export function costProfile(name: string | CostProfile | undefined): CostProfile {
  if (name === undefined) return MODERN;
  if (typeof name !== 'string') return name;
  const p = COST_PROFILES[name];
  if (!p) throw new RangeError(`unknown cost profile '${name}' (expected one of: ${Object.keys(COST_PROFILES).join(', ')})`);
  return p;
}

/** Sum of the named figures of a profile (e.g. `cost(p, 'trapRoundTrip', 'emulate')`). */
export function cost(profile: CostProfile, ...keys: CostKey[]): number {
  let n = 0;
  for (const k of keys) n += profile.figures[k].cycles;
  return n;
}
