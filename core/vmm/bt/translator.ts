/*
 * The binary translator's engine (Adams & Agesen, ASPLOS 2006 §4, VMware's "BT"): the dispatcher, the
 * translator proper and the run-time support the compiled code fragments call.
 *
 *   dispatcher  EIP → (paging) guest physical address → translation cache; on a miss the translator
 *               decodes one basic block (`cpu.decodeBlock`), generates a JavaScript function for it
 *               (codegen.ts) with `new Function`, and caches it. Then it runs CCFs: each returns its
 *               successor, found through the block's chain links without a cache lookup, until the
 *               budget ends, an interrupt is deliverable, or a callout needs the dispatcher.
 *   callouts    the instructions whose table row says `bt: callout` — privileged, IOPL-sensitive and
 *               critical ones, and the unprivileged ones whose answer the VMM virtualises (CPUID,
 *               RDTSC, SYSENTER, LDS…LSS) — call `callout`, which emulates them on the virtual CPU:
 *               the guest sees exactly what it would see on bare metal at CPL 0 (POPF changes IF,
 *               SGDT stores its own GDTR, PUSH CS shows RPL 0, LAR on a DPL-0 selector succeeds,
 *               CPUID shows the virtual CPU …). Instructions that only raise an exception (INT3,
 *               INTO, VMCALL's #UD) are copied: the exception reaches the VMM first anyway.
 *   user mode   code at CPL 3 runs directly (the interpreter stands for the hardware here); any
 *               event that enters the kernel (exception, INT n, IRQ, SYSENTER, far call through a gate)
 *               hands control back to the dispatcher, which translates the kernel's handler.
 *
 * The virtual CPU. In VMware's VMM the translated code runs on the real processor at %cpl 1 and the
 * guest's privileged state (IF, GDTR, CR0 …) lives in VMM memory, where callouts read and write it.
 * Here the CCFs are host code, not guest code on a simulated processor, so nothing below them needs
 * hiding: the simulated `Cpu` object is the virtual CPU the callouts work on, and the guest's
 * registers are read and written in place, as VMware's IDENT-translated code uses the real registers.
 */
import { CS, GP, PF_VEC } from '../../cpu/constants';
import { ATTR_DB, Cpu, type CpuStop, type RegionEntry } from '../../cpu/cpu';
import { CpuFault } from '../../cpu/fault';
import type { Insn } from '../../cpu/insn';
import { InsnClass, type DeliveryEvent, type Monitor } from '../../cpu/monitor';
import { imul2, shift } from '../../cpu/ops/alu';
import { EXCEPTION_NAMES } from '../../cpu/constants';
import type { BtTreatment } from '../../isa/types';
import { rowFacts } from '../rowFacts';
import type { VmHost } from '../technique';
import { MAX_SIDE_EXITS, REGION_AFTER, generateBlock, isTraceBranch, type LinkSlot } from './codegen';
import { TranslatedBlock, TranslationCache, type BlockFn } from './translationCache';
import type { VirtualMmu } from './virtualMmu';

/**
 * CCFs by source text: the same block translated in another VM (a snapshot restored, the next test,
 * a twin run) reuses the function V8 has already optimised (the CCF takes its instructions from
 * `blk.insns`, so it holds nothing of one VM).
 */
const compiled = new Map<string, BlockFn>();
const COMPILED_LIMIT = 4_000;

function compile(name: string, source: string): BlockFn {
  let fn = compiled.get(source);
  if (fn === undefined) {
    // The translator's output is code by design: `new Function` is how host code is generated.
    // `shift` and `imul2` are the helpers the block compiler's inline code calls.
    fn = new Function('shift', 'imul2', `"use strict"; return function ${name}(cpu, r, bt, blk, end) {\n${source}\n};`)(shift, imul2) as BlockFn;
    if (compiled.size >= COMPILED_LIMIT) compiled.delete(compiled.keys().next().value!);
    compiled.set(source, fn);
  }
  return fn;
}

/**
 * What a translated block runs the first time: its instructions through their semantics and
 * callouts (`stepTail`, what the CCF does, instruction by instruction), and only then its CCF as
 * host code. Turning a CCF into a JavaScript function (`new Function`, then V8's compile on its
 * first call) is ~1.5 ms for 64 instructions — worth it for code that runs again, ruinous for code
 * met once: a guest that runs off into zeroed RAM (`add [eax], al` at every new address) cost 12 µs
 * of CPU an instruction under BT, ten times native (the CLI fuzz's `popek compare` of a two-line file
 * without HLT). As v86 compiles only hot code. The translation itself — the VMM's modelled work,
 * its event, counters and cost — happens as before, when the block is first met.
 */
const runThenCompile: BlockFn = (_cpu, _r, bt, blk) => { (bt as BinaryTranslator).firstRun(blk); return null; };
/** What a block runs the second time: its CCF made host code, then run (and kept as `blk.fn`). */
const compileThenRun: BlockFn = (cpu, r, bt, blk, end) => (bt as BinaryTranslator).compiledCcf(blk)(cpu, r, bt, blk, end);

/**
 * How the translator treats each kind of row (the row's `bt` fact, core/isa/table.ts): `ident` is
 * copied (inline code, or the instruction's own semantics inside the CCF; an exception it raises
 * reaches the VMM's IDT and is reflected), `callout` calls the VMM, which applies it to the virtual
 * CPU (`BinaryTranslator.callout`).
 */
export const BT_KINDS: Readonly<Record<BtTreatment['kind'], 'ident' | 'callout'>> = { ident: 'ident', callout: 'callout' };

/** Instructions translated into callouts: the row says so (an invalid encoding has no row: its #UD is copied). */
export function isCallout(insn: Insn): boolean {
  const kind = rowFacts(insn)?.bt.kind;
  return kind !== undefined && BT_KINDS[kind] === 'callout';
}

/** Instructions a region may hold: those translated identically (no callout). */
const isInnocuous = (insn: Insn): boolean => !isCallout(insn);

/** Classes whose emulation can change the linear→physical mapping (chain links must be re-resolved). */
const MAPPING_CLASSES = InsnClass.MOV_CR | InsnClass.INVLPG | InsnClass.LMSW | InsnClass.CLTS;
/** Classes whose callouts work on the virtual paging registers (virtualMmu.ts). */
const PAGING_CLASSES = MAPPING_CLASSES | InsnClass.SMSW;

const hex = (v: number) => '0x' + (v >>> 0).toString(16).padStart(8, '0');

export interface TranslatorStats {
  /** Dispatcher / chain / indirect lookups answered by the translation cache. */
  cacheHits: number;
  /** Indirect transfers answered by a block's inline cache. */
  inlineCacheHits: number;
  /** Chain links patched. */
  linksPatched: number;
  callouts: number;
  /** Instructions of translated blocks that were translated inline vs. by their semantics. */
  inlined: number;
  /** CCFs made host code: blocks that ran a second time (`runThenCompile`). */
  compiled: number;
}

export class BinaryTranslator {
  readonly cache: TranslationCache;
  /** Link generation: bumped when the linear→physical mapping may have changed. */
  gen = 0;
  readonly stats: TranslatorStats = { cacheHits: 0, inlineCacheHits: 0, linksPatched: 0, callouts: 0, inlined: 0, compiled: 0 };
  private leavingUser = false;
  /** Translated code stopped before a debugger breakpoint (`execute` reports it). */
  private atBreakpoint = false;
  /** While the VMM itself delivers an event to the guest (its nested events are the CPU's). */
  private delivering = false;
  /** The block whose CCF is running (null: the dispatcher, user code, a callout's aftermath). */
  current: TranslatedBlock | null = null;
  /** Shadow paging and the virtual CR0/CR3/CR4 (set by the technique). */
  vmem: VirtualMmu | undefined;
  private readonly cpu: Cpu;
  private readonly regs: Int32Array;
  readonly monitor: Monitor;

  /** Modelled cycles of a callout, and of one that accesses a device (the profile is the VM's for its life). */
  private readonly calloutCost: number;
  private readonly calloutIoCost: number;

  constructor(private readonly host: VmHost) {
    this.calloutCost = host.cost('callout');
    this.calloutIoCost = host.cost('callout', 'deviceAccess');
    this.cpu = host.cpu;
    this.regs = host.cpu.regs;
    this.cache = new TranslationCache(host.machine.mem);
    this.cache.onInvalidate = (b, p) => {
      if (!this.host.events.hasListeners) return;
      this.host.emit({ kind: 'translation', eip: (b.csBase + b.eip) | 0, mnemonic: '', cost: 0, physical: b.physStart, instructions: b.insns.length, action: 'invalidate', text: `block at ${hex(b.physStart)} invalidated: guest wrote ${hex(p)}` });
    };
    this.monitor = {
      // Direct execution of user code: leave it when something enters the kernel.
      interceptClasses: InsnClass.SYSENTER | InsnClass.FAR,
      onEvent: (cpu, ev) => this.onEvent(cpu, ev),
      onInstruction: (cpu) => { if (cpu.cpl === 3) this.leaveUser(); return false; },
      // A device's registers: emulated in place, as shadowPaging's hidden-fault path would (one trap per instruction).
      deviceAccess: (_cpu, lin, write, user, device) => (device < 0 && this.vmem ? this.vmem.shadow.deviceAccess(lin, write, user) : -1),
    };
  }

  private leaveUser(): void {
    this.leavingUser = true;
    this.cpu.stopRequested = true;
  }

  /** Every exception and interrupt reaches the VMM first (its IDT) and is reflected to the guest's handler. */
  private onEvent(cpu: Cpu, ev: DeliveryEvent): boolean {
    if (this.delivering) return false;
    const vmem = this.vmem;
    let errorCode = ev.errorCode;
    if (vmem && ev.kind === 'exception' && ev.vector === PF_VEC && ev.address !== undefined) {
      // Hidden page fault (shadow not filled yet): fixed, the instruction restarts; the guest sees nothing.
      const r = vmem.onPageFault(ev.address, ev.errorCode ?? 0);
      if (r === 'fixed') return true;
      errorCode = r.errorCode;
    }
    if (cpu.cpl === 3) this.leaveUser();
    this.reflectEvent(cpu, ev, errorCode);
    if (!vmem) return false;
    // Deliver it ourselves: the guest's error code, and the shadow filled for the delivery first.
    vmem.prefault(ev.vector);
    this.delivering = true;
    try {
      cpu.deliverEvent(ev.vector, ev.kind, errorCode ?? 0, ev.address ?? 0, ev.eip);
    } finally {
      this.delivering = false;
    }
    return true;
  }

  private reflectEvent(cpu: Cpu, ev: DeliveryEvent, errorCode: number | undefined): void {
    const h = this.host;
    if (ev.kind === 'external') {
      h.emit({ kind: 'interrupt-injection', eip: (cpu.eip + cpu.segBase[CS]) | 0, mnemonic: '', cost: h.cost('interruptInjection'), vector: ev.vector, state: 'delivered', text: `IRQ vector ${ev.vector} delivered through the guest IDT` });
    } else {
      const name = ev.kind === 'software' ? `int 0x${ev.vector.toString(16)}` : EXCEPTION_NAMES[ev.vector] ?? `vector ${ev.vector}`;
      const init = { kind: 'guest-exception' as const, eip: (cpu.segBase[CS] + ev.eip) | 0, mnemonic: '', cost: h.cost('trapRoundTrip', 'reflect'), vector: ev.vector, name, text: `${name} reflected to the guest's handler` } as const;
      h.emit(errorCode !== undefined || ev.address !== undefined ? { ...init, ...(errorCode !== undefined ? { errorCode } : {}), ...(ev.address !== undefined ? { address: ev.address } : {}) } : init);
    }
  }

  // =============================================================================================
  // Executor (the contract of Cpu.run)
  // =============================================================================================

  execute(budget: number): CpuStop {
    const cpu = this.cpu;
    const end = cpu.icount + budget;
    cpu.breakBlock = false;
    if (cpu.breakpoints.size > 0) cpu.breakpointsChanged();
    while (cpu.icount < end) {
      if (cpu.stopRequested) return 'stop';
      try {
        cpu.deliverPendingEvent();
        if (cpu.halted) return 'halt';
        if (cpu.stopPending) return cpu.takeStop();
        if (cpu.cpl === 3) {
          // User code runs direct (on the CPU, which honours debugger breakpoints itself).
          const r = cpu.run(end - cpu.icount);
          if (r === 'stop' && this.leavingUser && !this.host.machine.outcome) {
            this.leavingUser = false;
            cpu.stopRequested = false;
            continue;
          }
          this.leavingUser = false;
          if (r !== 'budget') return r;
          continue;
        }
        this.runTranslated(end);
        if (this.atBreakpoint) {
          this.atBreakpoint = false;
          cpu.resume();
          return 'breakpoint';
        }
      } catch (e) {
        if (!(e instanceof CpuFault)) throw e;
        cpu.breakBlock = false;
        cpu.deliverEvent(e.vector, 'exception', e.errorCode, e.address, cpu.eip);
      }
    }
    if (cpu.stopPending) return cpu.takeStop();
    return cpu.stopRequested ? 'stop' : 'budget';
  }

  /** The trampoline: runs CCFs, following the successors they return. */
  private runTranslated(end: number): void {
    const cpu = this.cpu, r = this.regs;
    let blk = this.lookup();
    // Translating emits an event: a handler may have asked for a stop before this block runs.
    if (cpu.stopPending) return;
    // An interrupt held back only by the STI / MOV SS shadow is taken right after the instruction
    // the shadow covers: step that one, and let the dispatcher deliver it.
    if (cpu.icount < cpu.irqShadowUntil && cpu.interruptPending()) { this.stepTail(blk, Math.min(cpu.irqShadowUntil - cpu.icount, end - cpu.icount)); return; }
    // The first block may start anywhere in a loop (where the previous slice's budget ended): unless
    // it already holds a region, it neither counts towards nor compiles one, so a loop gets one
    // region, at a block a jump reaches (its head), not one per place a slice happened to end.
    let chained = false;
    for (;;) {
      // The budget ends inside this block: step its first instructions one by one (exact counts,
      // so interrupts and the instruction limit land where they land natively).
      // Debugger breakpoints in translated (kernel) code: a block holding one runs up to it by steps
      // through its semantics and callouts, so the guest stays virtualized while it is debugged.
      if (cpu.breakpoints.size > 0) {
        const at = this.breakpointIn(blk);
        if (at >= 0 && cpu.icount + at <= end) { this.stepTail(blk, at); this.checkBreakpoint(); return; }
      }
      if (cpu.icount + blk.insns.length > end) { this.stepTail(blk, end - cpu.icount); return; }
      // Innocuous code only (no callout anywhere in it) is translated identically: once hot, the CPU's
      // region compiler runs it, several blocks and their loops in one function. Not for a block that
      // writes traced page tables (adaptive BT retranslates those stores as callouts).
      // With debugger breakpoints, only a region none of them lies in (a region runs its loops whole).
      if ((chained || blk.region !== undefined) && ++blk.runs >= REGION_AFTER && blk.ptWrites === 0 && !blk.regionless) {
        const entry = this.regionOf(blk);
        if (entry !== undefined && cpu.regionFreeOfBreakpoints(entry)) {
          const before = cpu.icount;
          this.current = blk;
          cpu.eip = blk.eip; // chained CCFs do not store EIP
          const ran = entry.region!(cpu, blk.insns, r, end);
          this.current = null;
          // Not run (compiled for other segments): the CCF from now on.
          if (!ran) blk.regionless = true;
          else if (cpu.icount !== before) { cpu.breakBlock = false; return; }
        }
      }
      // A CCF returns its successor (chained) or null after it set EIP itself (dispatcher needed:
      // a callout changed the machine state, control left through an unknown path, a fault …).
      this.current = blk;
      const next = blk.fn(cpu, r, this, blk, end);
      if (next === null) { this.current = null; return; }
      blk = next;
      chained = true;
      if (cpu.icount >= end || cpu.stopPending || ((cpu.flags & 0x200) !== 0 && cpu.interruptPending())) {
        cpu.eip = blk.eip;
        this.current = null;
        return;
      }
    }
  }

  /**
   * The CPU region for a hot block's code (kept on the block while it stays the same compiled
   * region: no look-up per dispatch); undefined, and the block marked regionless, when there is none.
   */
  private regionOf(blk: TranslatedBlock): RegionEntry | undefined {
    const kept = blk.region;
    if (kept !== undefined && Cpu.regionStill(kept, isInnocuous, blk.eip)) return kept;
    const cpu = this.cpu;
    cpu.eip = blk.eip;
    const entry = cpu.regionFor(isInnocuous);
    blk.region = entry;
    if (entry === undefined) blk.regionless = true;
    return entry;
  }

  /** Index of the first instruction of `blk` the debugger stops before, -1 when none. */
  private breakpointIn(blk: TranslatedBlock): number {
    for (let k = 0; k < blk.insns.length; k++) if (this.cpu.breakpointAt((blk.csBase + blk.eips[k]) | 0)) return k;
    return -1;
  }

  /** Latches a breakpoint stop when translated code ended before one (reported by `execute`). */
  private checkBreakpoint(): void {
    const cpu = this.cpu;
    if (cpu.breakpoints.size > 0 && cpu.breakpointAt((cpu.eip + cpu.segBase[CS]) | 0)) this.atBreakpoint = true;
  }

  /**
   * A block's first run (`runThenCompile`): by steps; its CCF becomes host code when it runs again.
   * A fault part way (a hidden shadow-page fill, then the restart) leaves it a first run still.
   */
  firstRun(blk: TranslatedBlock): void {
    this.stepTail(blk, blk.insns.length);
    blk.fn = compileThenRun;
  }

  /** A block's CCF as host code (`compileThenRun`), kept on the block. */
  compiledCcf(blk: TranslatedBlock): BlockFn {
    this.stats.compiled++;
    return blk.fn = compile(`ccf_${(blk.physStart >>> 0).toString(16)}`, blk.source);
  }

  /** Runs the first `n` instructions of a block by their semantics and callouts (EIP and count exact). */
  private stepTail(blk: TranslatedBlock, n: number): void {
    const cpu = this.cpu;
    cpu.eip = blk.eip;
    for (let k = 0; k < n; k++) {
      const insn = blk.insns[k];
      const next = (cpu.eip + insn.len) >>> 0;
      cpu.nextEip = next;
      if (isCallout(insn)) this.callout(insn); else insn.semantics(cpu, insn);
      cpu.eip = cpu.nextEip;
      cpu.icount++;
      if (cpu.breakBlock || cpu.eip !== next || !blk.valid) { cpu.breakBlock = false; return; }
    }
  }

  // =============================================================================================
  // Dispatcher and translator
  // =============================================================================================

  /** The block for the current CS:EIP, translated if needed. Throws CpuFault (#GP limit, #PF on fetch). */
  lookup(): TranslatedBlock {
    const cpu = this.cpu;
    const eip = cpu.eip >>> 0;
    if (eip > cpu.segLimit[CS]) throw new CpuFault(GP, 0);
    const csBase = cpu.segBase[CS];
    const lin = (eip + csBase) | 0;
    const phys = cpu.translate(lin, false, false);
    const key = phys + cpu.cpl * 0x100000000 + ((cpu.segAttr[CS] & ATTR_DB) ? 0 : 0x400000000);
    const b = this.cache.get(key);
    if (b !== undefined && b.eip === eip && b.csBase === csBase) {
      this.stats.cacheHits++;
      this.host.counters.translation.cacheHits++;
      return b;
    }
    return this.translate(lin, phys, key);
  }

  private translate(lin: number, phys: number, key: number): TranslatedBlock {
    const cpu = this.cpu;
    const insns = this.decodeTrace(lin);
    const eip = cpu.eip >>> 0;
    const eips = new Int32Array(insns.length);
    let len = 0;
    for (let k = 0; k < insns.length; k++) { eips[k] = (eip + len) | 0; len += insns[k].len; }
    const gen = generateBlock(insns, eip, isCallout);
    const blk = new TranslatedBlock(key, phys, phys + len, eip, cpu.segBase[CS], insns, eips, gen.source);
    blk.fn = runThenCompile;
    blk.gen = this.gen;
    // A block whose last instruction crosses into the next page is run but not cached (that page's
    // mapping may change under it), as the CPU's own decode cache does.
    const last = insns[insns.length - 1];
    const crosses = ((last.linear & 0xfff) + last.len) > 0x1000;
    if (!crosses) this.cache.insert(blk);
    else blk.cached = false;
    this.stats.inlined += gen.inlined;
    const t = this.host.counters.translation;
    t.blocks++;
    t.instructions += insns.length;
    this.cache.stats.blocks++;
    this.cache.stats.instructions += insns.length;
    const h = this.host;
    h.emit({
      kind: 'translation', eip: lin, mnemonic: insns[0].mnemonic, cost: h.cost('translatePerInstruction') * insns.length,
      physical: phys, instructions: insns.length, action: 'translate',
      text: `translated ${insns.length} instruction${insns.length === 1 ? '' : 's'} at ${hex(phys)} (${gen.inlined} inline, ${gen.callouts} callout${gen.callouts === 1 ? '' : 's'})`,
    });
    return blk;
  }

  /**
   * The translation unit: a basic block, extended through conditional branches into their
   * fall-through path (a trace of up to MAX_SIDE_EXITS side exits, 64 instructions, one page), so
   * that loops whose body spans several basic blocks run inside one CCF.
   */
  private decodeTrace(lin: number): Insn[] {
    const cpu = this.cpu;
    const out: Insn[] = [];
    let at = lin | 0, branches = 0;
    for (;;) {
      let insn: Insn;
      try {
        insn = cpu.decodeAt(at);
      } catch (e) {
        // A fetch fault past the first instruction belongs to that later instruction: end the unit.
        if (out.length > 0 && e instanceof CpuFault) break;
        throw e;
      }
      out.push(insn);
      at = (at + insn.len) | 0;
      if (out.length >= 64 || (at & 0xfff) === 0 || ((at ^ lin) & ~0xfff) !== 0) break;
      if (insn.endsBlock && (!isTraceBranch(insn) || ++branches >= MAX_SIDE_EXITS)) break;
    }
    return out;
  }

  // =============================================================================================
  // Run-time support called by the CCFs
  // =============================================================================================

  /** Direct exit whose link slot is empty or stale: look the successor up and patch the link. */
  chain(blk: TranslatedBlock, slot: LinkSlot): TranslatedBlock | null {
    let s: TranslatedBlock;
    try { s = this.lookup(); } catch (e) { if (e instanceof CpuFault) return null; throw e; }
    if (s.cached && blk.cached) {
      switch (slot) { case 0: blk.l0 = s; break; case 1: blk.l1 = s; break; case 2: blk.l2 = s; break; case 3: blk.l3 = s; break; default: blk.l4 = s; }
      this.stats.linksPatched++;
    }
    return s;
  }

  /** Indirect exit (RET, JMP/CALL r/m): the block's inline cache, else the translation cache. */
  indirect(blk: TranslatedBlock, icount: number, target: number): TranslatedBlock | null {
    const cpu = this.cpu;
    cpu.icount = icount;
    cpu.eip = target;
    const c = blk.ic;
    if (c !== null && blk.icGen === this.gen && c.valid && c.eip === target) {
      this.stats.inlineCacheHits++;
      return c;
    }
    this.host.charge(this.host.cost('indirectBranch'));
    let s: TranslatedBlock;
    try { s = this.lookup(); } catch (e) { if (e instanceof CpuFault) return null; throw e; }
    if (s.cached && blk.cached) { blk.ic = s; blk.icGen = this.gen; }
    return s;
  }

  /** After an instruction run by its semantics or a callout that left the block: back to the dispatcher. */
  after(icount: number): null {
    this.cpu.icount = icount;
    this.cpu.eip = this.cpu.nextEip;
    return null;
  }

  /** Leaves the block at a known EIP (self-modifying code). */
  leave(icount: number, eip: number): null {
    this.cpu.icount = icount;
    this.cpu.eip = eip >>> 0;
    return null;
  }

  /** A fault inside a CCF: EIP and the instruction count at the faulting instruction (precise). */
  fault(blk: TranslatedBlock, ic0: number, k: number): void {
    this.cpu.icount = ic0 + k;
    this.cpu.eip = blk.eips[k] >>> 0;
  }

  /**
   * A callout: the VMM emulates an instruction whose row says `bt: callout` on the virtual CPU.
   * EIP, next EIP and the instruction count are exact when it is called.
   */
  callout(insn: Insn): void {
    const cpu = this.cpu, h = this.host;
    this.stats.callouts++;
    const eip = (cpu.eip + cpu.segBase[CS]) | 0;
    if (insn.cls & InsnClass.CRITICAL) {
      h.count('critical', insn.mnemonic);
      h.emit({ kind: 'critical', eip, mnemonic: insn.mnemonic, cost: this.calloutCost, cpl: cpu.cpl, guestCpl: cpu.cpl, differs: '', diverged: false, text: `${insn.mnemonic}: translated into a callout, behaves as at CPL ${cpu.cpl} on bare metal` });
    } else {
      // Port polling makes a callout of every other instruction: the event only for a listener.
      const cost = insn.cls & InsnClass.IO ? this.calloutIoCost : this.calloutCost;
      if (!h.events.wants('callout')) h.tally('callout', cost);
      else h.emit({ kind: 'callout', eip, mnemonic: insn.mnemonic, cost, text: `${insn.mnemonic}: callout, emulated on the virtual CPU` });
    }
    if (!(this.vmem && (insn.cls & PAGING_CLASSES) && this.vmem.emulate(insn))) insn.semantics(cpu, insn);
    if (insn.cls & MAPPING_CLASSES) this.unlinkAll();
  }

  /**
   * The linear→physical mapping may have changed (CR0, CR3, CR4, INVLPG): chain links and inline
   * caches were resolved through the old one, so every block goes back through the dispatcher once.
   */
  private unlinkAll(): void {
    this.gen++;
    for (const b of this.cache.blocks()) { b.l0 = null; b.l1 = null; b.l2 = null; b.l3 = null; b.l4 = null; b.ic = null; }
  }

  /**
   * Adaptive binary translation (Adams & Agesen §4: "innocent until proven guilty"): a store in
   * translated code to a traced guest page-table page takes a write-protection fault into the VMM
   * (the shadow module charges `tracedWrite`). A block caught doing it twice is retranslated so that
   * its page-table stores call the VMM directly: from then on such a store costs a callout, not a
   * fault (the difference is credited back).
   */
  onTracedWrite(): void {
    const b = this.current, h = this.host;
    if (b === null) return;
    b.ptWrites++;
    if (b.adapted) { h.charge(h.cost('callout') - h.cost('tracedWrite'), 'callout'); return; }
    if (b.ptWrites < 2) return;
    b.adapted = true;
    h.emit({
      kind: 'translation', eip: (b.csBase + b.eip) | 0, mnemonic: b.insns[0].mnemonic, cost: h.cost('translatePerInstruction') * b.insns.length,
      physical: b.physStart, instructions: b.insns.length, action: 'retranslate',
      text: `adaptive BT: block at ${hex(b.physStart)} writes guest page tables; retranslated with callouts for those stores`,
    });
  }

  /** Drops every translation (restore, reset). */
  flush(): void {
    this.cache.flush();
    this.unlinkAll();
  }
}
