/*
 * The deprivileged-kernel VMM shared by trap-and-emulate and paravirtual (SPEC §4): the guest
 * kernel runs at CPL 1 with the VMM's GDT, IDT, TSS and page tables; the real EFLAGS has IF = 1 and
 * IOPL = 0, so every privileged and IOPL-sensitive instruction the guest kernel executes raises
 * #GP(0), which the CPU hands to this monitor (`onEvent`) before any IDT delivery. The VMM decodes
 * the instruction, emulates it on the virtual CPU (vcpu.ts) and resumes the guest after it.
 * Exceptions and interrupts that belong to the guest are reflected through the guest's own IDT
 * (its gates copied, ring-compressed, into the real IDT). Critical instructions run unchanged and
 * misbehave as the hardware does at CPL 1; `onCritical` records each one with what native would
 * have done (critical.ts).
 *
 * What the VMM emulates (SDM Vol. 3 §5.9 privileged instructions, §6b IOPL-sensitive ones):
 * CLI, STI, HLT, IN/OUT/INS/OUTS, MOV to/from CR0/2/3/4 and DRn, CLTS, LMSW, INVLPG, INVD, WBINVD,
 * LGDT, LIDT, LLDT, LTR, RDMSR, WRMSR, RDPMC; and two ring-compression repairs: MOV/POP SS of a
 * guest ring-0 selector (RPL 0 ≠ CPL 1 faults; loaded with RPL 1) and IRET/RETF to an RPL-0 CS
 * (the frame's RPL is raised to 1, then the instruction restarts).
 * CPUID is NOT privileged on this CPU (no CPUID faulting, reference §1 "Not in Robin & Irvine's
 * list"): it runs without a trap and shows the host's identification.
 */
import { CS, CR0_PE, CR0_PG, CR0_WP, CR0_ET, CR0_TS, CR0_MP, CR0_EM, CR0_NE, CR4_PSE, CR4_PGE, GP, IF, NP, PF_VEC, SS, TS as TS_VEC, UD } from '../cpu/constants';
import { Cpu, UnsupportedError } from '../cpu/cpu';
import { CpuFault } from '../cpu/fault';
import type { Insn } from '../cpu/insn';
import { InsnClass, type CriticalEvent, type DeliveryEvent, type Monitor } from '../cpu/monitor';
import { ea, readE } from '../cpu/ops/operands';
import { ioPermitted } from '../cpu/ops/system';
import type { LoadedImage, StopReason } from '../machine/machine';
import { describeCritical, type CriticalContext } from './critical';
import { rowFacts } from './rowFacts';
import { instructionInfo } from '../isa/table';
import type { InstructionInfo } from '../isa/types';
import { SREG_NAMES } from '../cpu/decoder';
import {
  R_GDT, R_IDT, R_POOL, R_SHADOW_PD, R_TSS, R_VMM_PT, TSS_LIMIT, VMM_LINEAR, VMM_PD_INDEX, VMM_TSS_INDEX, VMM_TSS_SEL,
  compressAttr, compressDescriptor, compressGate, vmmAreaPde,
} from './ringCompression';
import { ShadowMmu, type ShadowState } from './shadowPaging';
import type { Mode, Technique, TechniqueView, VmHost } from './technique';
import { initialVirtualCpu, type VirtualCpu } from './vcpu';

const EXC_NAMES = ['#DE', '#DB', 'NMI', '#BP', '#OF', '#BR', '#UD', '#NM', '#DF', 'CSO', '#TS', '#NP', '#SS', '#GP', '#PF', '15', '#MF', '#AC', '#MC', '#XM'];
/** The IN and OUT rows of the instruction table (their string forms INS/OUTS are rows of their own). */
const IN_ROW = instructionInfo('in'), OUT_ROW = instructionInfo('out');
export const exceptionName = (v: number) => EXC_NAMES[v] ?? `vector 0x${v.toString(16)}`;
const hex = (v: number) => '0x' + (v >>> 0).toString(16);
/** #GP error-code bits EXT (raised delivering an external event or earlier exception) and IDT. */
const GP_EXT_OR_IDT = 3;

/** A guest IDT gate as seen by the VMM when reflecting. */
export interface GuestGate { lo: number; hi: number }

export interface Ring1State {
  vcpu: VirtualCpu;
  shadow: ShadowState;
  gdtStale: boolean;
  gdtEntries: number;
  extra: unknown;
}

export abstract class Ring1Vmm implements Technique, Monitor {
  abstract readonly mode: Mode;
  vcpu: VirtualCpu = initialVirtualCpu();
  readonly shadow: ShadowMmu;
  /** IRET for its critical-instruction record; IN/OUT for `portAccess`. */
  readonly interceptClasses: number = InsnClass.IRET | InsnClass.IO;
  protected readonly reservedBase: number;
  /** The real GDT no longer matches the guest's (a traced GDT page was written). */
  private gdtStale = false;
  /** Descriptors copied at the last sync (entries above are zero). */
  private gdtEntries = 0;
  private gdtUnwatch: Array<() => void> = [];
  /** Set for exactly one `onEvent` call: the VMM's own delivery of a reflected event. */
  private passThrough = false;
  /** EFLAGS image an IRET about to run will pop (for its critical-instruction record). */
  private iretPopped = -1;
  /** Set by an emulation that repaired state and wants the instruction run again (not retired). */
  protected restartInsn = false;
  /** Set when the instruction's own semantics ran and already set EIP. */
  private eipSet = false;
  /** The fault an emulation raised is being delivered (no second emulation of the same instruction). */
  private emulationFaulted = false;

  /** Modelled cycles of a port access trapped and emulated (the profile is the VM's for its life). */
  private readonly portTrapCost: number;

  constructor(protected readonly host: VmHost) {
    this.portTrapCost = host.cost('trapRoundTrip', 'emulate', 'deviceAccess');
    this.reservedBase = host.machine.mem.reservedBase;
    const rb = this.reservedBase;
    this.shadow = new ShadowMmu(host, {
      pdPhys: rb + R_SHADOW_PD, poolStart: rb + R_POOL, poolEnd: host.machine.mem.size,
      vmmPdIndex: VMM_PD_INDEX, vmmPde: vmmAreaPde(rb),
    }, () => this.vcpu);
  }

  protected get cpu(): Cpu { return this.host.cpu; }

  // ------------------------------------------------------------------------------------------
  // Start: turn the machine's native entry state into the deprivileged one.
  // ------------------------------------------------------------------------------------------

  start(_image: LoadedImage): void {
    const cpu = this.cpu, mem = this.host.machine.mem, rb = this.reservedBase;
    const v = this.vcpu;
    v.guestCpl = cpu.cpl;
    v.if = (cpu.flags & IF) !== 0;
    v.iopl = cpu.iopl;
    v.cr0 = cpu.cr0; v.cr2 = cpu.cr2; v.cr3 = cpu.cr3; v.cr4 = cpu.cr4;
    v.gdtrBase = cpu.gdtrBase; v.gdtrLimit = cpu.gdtrLimit;
    v.idtrBase = cpu.idtrBase; v.idtrLimit = cpu.idtrLimit;
    v.ldtrSel = cpu.ldtrSel; v.trSel = cpu.trSel; v.trBase = cpu.trBase;
    // The VMM area: GDT, IDT, TSS pages mapped read-only at VMM_LINEAR.
    for (let k = 0; k < (R_TSS >>> 12) + 1; k++) mem.write32(rb + R_VMM_PT + k * 4, (rb + k * 0x1000) | 1);
    // The VMM's TSS: SS1:ESP1 (filled from the guest's SS0:ESP0 before each entry from ring 3);
    // the I/O map base past the limit, so every port access at CPL 1 raises #GP (SDM Vol. 1 §19.5).
    mem.write16(rb + R_TSS + 102, TSS_LIMIT + 1);
    const tssLin = VMM_LINEAR + R_TSS;
    const lo = ((tssLin & 0xffff) << 16) | TSS_LIMIT, hi = ((tssLin >>> 16) & 0xff) | (0x8b << 8) | (tssLin & 0xff000000);
    mem.write32(rb + R_GDT + VMM_TSS_INDEX * 8, lo);
    mem.write32(rb + R_GDT + VMM_TSS_INDEX * 8 + 4, hi | 0);
    cpu.gdtrBase = VMM_LINEAR + R_GDT; cpu.gdtrLimit = 0xffff;
    cpu.idtrBase = VMM_LINEAR + R_IDT; cpu.idtrLimit = 0x7ff;
    cpu.trSel = VMM_TSS_SEL; cpu.trBase = tssLin; cpu.trLimit = TSS_LIMIT; cpu.trAttr = 0x8b;
    cpu.ldtrSel = 0; cpu.ldtrBase = 0; cpu.ldtrLimit = 0; cpu.ldtrAttr = 0;
    // Paging is always on for real: the shadow maps the guest (identity while its paging is off).
    this.shadow.reset();
    cpu.cr0 = this.realCr0(); cpu.cr4 = 0; cpu.cr3 = rb + R_SHADOW_PD;
    cpu.setEflags((cpu.getEflags() & ~0x3000) | IF);
    // Deprivilege: the guest's ring-0 segments become ring-1 ones.
    for (let s = 0; s < 6; s++) {
      let sel = cpu.segSel[s];
      if (s === CS || s === SS) sel = (sel & ~3) | 1;
      cpu.setSegmentCache(s, sel, cpu.segBase[s], cpu.segLimit[s], compressAttr(cpu.segAttr[s]));
    }
    this.syncGdt();
    cpu.setMonitor(this);
    cpu.flushTlb();
    this.onStart();
  }

  /** Hook at every entry into the VMM (paravirtual: notices an unmasked event). */
  protected beforeEvent(): void {}

  /** Technique-specific entry state (paravirtual: the shared-info page). */
  protected onStart(): void {}

  /** The real CR0: always protected, paged and write-protecting (dirty tracking); TS etc. from the guest. */
  protected realCr0(): number {
    return CR0_PE | CR0_ET | CR0_PG | CR0_WP | (this.vcpu.cr0 & (CR0_MP | CR0_EM | CR0_TS | CR0_NE));
  }

  runSlice(budget: number): StopReason {
    return this.host.machine.runSlice(budget);
  }

  // ------------------------------------------------------------------------------------------
  // Virtual interrupt flag and pending interrupts
  // ------------------------------------------------------------------------------------------

  /** The guest's IF (paravirtual: !evtchn_upcall_mask). */
  virtualIf(): boolean { return this.vcpu.if; }
  setVirtualIf(on: boolean): void {
    this.vcpu.if = on;
    if (on) this.injectPending();
  }

  /** Delivers the oldest pending interrupt once the guest can take it. */
  protected injectPending(): void {
    if (!this.virtualIf() || this.vcpu.pending.length === 0) return;
    const vector = this.pendingVector(this.vcpu.pending.shift()!);
    this.cpu.raiseIrq(vector); // comes back through onEvent as an external interrupt, now deliverable
  }

  // ------------------------------------------------------------------------------------------
  // The monitor: every exception and interrupt comes here first.
  // ------------------------------------------------------------------------------------------

  onEvent(cpu: Cpu, ev: DeliveryEvent): boolean {
    if (this.passThrough) { this.passThrough = false; return false; }
    this.beforeEvent();
    if (ev.kind === 'external') return this.externalInterrupt(ev);
    if (ev.kind === 'exception') {
      if (ev.vector === PF_VEC && ev.address !== undefined) {
        const r = this.handlePageFault(ev.address, ev.errorCode ?? 0);
        if (r === 'fixed') return true;
        if (r === 'stuck') {
          this.host.machine.finish('error', 0, { error: `shadow paging cannot map 0x${(ev.address >>> 0).toString(16)} (error code ${ev.errorCode})` });
          return true;
        }
        this.vcpu.cr2 = ev.address | 0;
        return this.reflect(ev, PF_VEC, r.guestErrorCode, ev.address);
      }
      if (this.gdtStale && (ev.vector === GP || ev.vector === NP || ev.vector === 12 || ev.vector === TS_VEC)) {
        // A descriptor load hit an entry invalidated by a guest GDT write: resynchronise, retry.
        this.syncGdt();
        return true;
      }
      // Only a #GP the instruction at CS:EIP raised is one to emulate. A #GP raised while an event
      // was being delivered (a bad guest gate: EXT = 1, or IDT = 1 for INT n; SDM Vol. 3 §6.13)
      // belongs to the guest — emulating the instruction EIP points at (e.g. the HLT an interrupt
      // woke) would run it again and hide the guest's #DF / triple fault.
      if (ev.vector === GP && !ev.nested && !this.emulationFaulted && ((ev.errorCode ?? 0) & GP_EXT_OR_IDT) === 0 && this.emulateFaulting(cpu)) return true;
      if (ev.vector === UD && !ev.nested && this.onInvalidOpcode(cpu)) return true;
    }
    return this.reflect(ev, ev.vector, ev.errorCode ?? 0, ev.address ?? 0);
  }

  /** A #PF from the real paging unit: hidden (shadow) or the guest's (paravirtual: direct paging). */
  protected handlePageFault(lin: number, errorCode: number): 'fixed' | 'stuck' | { guestErrorCode: number } {
    return this.shadow.handleFault(lin, errorCode);
  }

  /** #UD hook (paravirtual: nothing by default). Returns true when handled. */
  protected onInvalidOpcode(_cpu: Cpu): boolean { return false; }

  private externalInterrupt(ev: DeliveryEvent): boolean {
    if (this.routeExternal(ev.vector)) return true;
    if (!this.virtualIf()) {
      this.vcpu.pending.push(this.pendingEntry(ev.vector));
      this.onPending();
      this.host.emit({ kind: 'interrupt-injection', vector: ev.vector, state: 'pending', eip: this.guestEip(), mnemonic: '', cost: this.host.cost('trapRoundTrip'), text: `interrupt 0x${ev.vector.toString(16)} held: virtual IF = 0` });
      return true;
    }
    return this.reflect(ev, ev.vector, 0, 0);
  }

  /**
   * A held interrupt is remembered by its PIC line, not its vector: natively it would stay in the
   * PIC's request register until IF = 1 and get the vector of THAT moment (a guest that remaps
   * the PIC with interrupts off gets the new vector). Entries: 0x100 | line, or a plain vector.
   */
  private pendingEntry(vector: number): number {
    const pic = this.host.machine.pic;
    if (vector >= pic.master.vectorBase && vector < pic.master.vectorBase + 8) return 0x100 | (vector - pic.master.vectorBase);
    if (vector >= pic.slave.vectorBase && vector < pic.slave.vectorBase + 8) return 0x108 + (vector - pic.slave.vectorBase);
    return vector;
  }
  private pendingVector(entry: number): number {
    if (entry < 0x100) return entry;
    const pic = this.host.machine.pic, line = entry & 0xff;
    return line < 8 ? pic.master.vectorBase + line : pic.slave.vectorBase + line - 8;
  }

  /** Hook for interrupts the VMM itself consumes (paravirtual timer upcall). */
  protected routeExternal(_vector: number): boolean { return false; }
  /** Hook: an interrupt became pending (paravirtual sets evtchn_upcall_pending). */
  protected onPending(): void {}

  /** The gate the guest wants `vector` delivered through (guest IDT; paravirtual: its trap table). */
  protected guestGate(vector: number): GuestGate | undefined {
    const v = this.vcpu;
    if (vector * 8 + 7 > v.idtrLimit) return undefined;
    const lo = this.readGuest32(v.idtrBase + vector * 8), hi = this.readGuest32(v.idtrBase + vector * 8 + 4);
    if (lo === undefined || hi === undefined) return undefined;
    return { lo, hi };
  }

  /**
   * Reflects an event to the guest: its gate (compressed) goes into the real IDT and the CPU
   * delivers it. The guest's stack and handler are shadow-mapped first so that the delivery itself
   * takes no hidden page fault.
   */
  protected reflect(ev: DeliveryEvent, vector: number, errorCode: number, address: number): boolean {
    const cpu = this.cpu, rb = this.reservedBase, mem = this.host.machine.mem;
    // Nothing the VMM could fix may fault during the delivery (the CPU would abandon the event):
    // a current GDT, the guest's stack and handler shadow-mapped.
    this.refreshGdt();
    const gate = this.guestGate(vector);
    let interruptGate = false;
    if (gate) {
      const g = compressGate(gate.lo, gate.hi);
      interruptGate = g.interruptGate;
      mem.write32(rb + R_IDT + vector * 8, g.lo);
      mem.write32(rb + R_IDT + vector * 8 + 4, g.hi);
      this.prefault(gate);
    } else {
      mem.write32(rb + R_IDT + vector * 8, 0);
      mem.write32(rb + R_IDT + vector * 8 + 4, 0);
    }
    if (cpu.cpl === 3) this.syncRingStack();
    else this.prefaultStack(cpu.segBase[SS] + cpu.regs[4]);
    const eip = (cpu.segBase[CS] + ev.eip) >>> 0;
    const name = ev.kind === 'software' ? `int 0x${vector.toString(16)}` : ev.kind === 'external' ? `irq vector 0x${vector.toString(16)}` : exceptionName(vector);
    if (ev.kind === 'external') {
      this.host.emit({ kind: 'interrupt-injection', vector, state: 'delivered', eip, mnemonic: '', cost: this.host.cost('trapRoundTrip', 'reflect', 'interruptInjection'), text: `interrupt 0x${vector.toString(16)} delivered through the guest's gate` });
    } else {
      const e = { kind: 'guest-exception' as const, vector, name, eip, mnemonic: '', cost: this.host.cost('trapRoundTrip', 'reflect'), text: `${name}${ev.kind === 'exception' && ev.errorCode !== undefined ? `(${hex(errorCode)})` : ''} reflected to the guest's handler${vector === PF_VEC ? ` (CR2 = ${hex(address)})` : ''}` };
      this.host.emit(ev.kind === 'exception' && ev.errorCode !== undefined ? { ...e, errorCode, ...(vector === PF_VEC ? { address } : {}) } : e);
    }
    const ifBefore = this.virtualIf();
    // A guest interrupt gate clears IF: the virtual one (the real gate is a trap gate).
    if (interruptGate) this.setVirtualIf(false);
    // The VMM delivers it itself (the CPU builds the frame through the real IDT), so that it can
    // give the guest its own error code and fix up the frame afterwards.
    this.passThrough = true;
    try { cpu.deliverEvent(vector, ev.kind, errorCode, address, ev.eip); } finally { this.passThrough = false; }
    this.fixFrame(ev.kind === 'exception' && ev.errorCode !== undefined, ifBefore);
    return true;
  }

  /**
   * The frame the CPU just pushed holds the REAL EFLAGS (IF = 1, IOPL = 0). Trap-and-emulate leaves
   * it so — that is what the hardware does at CPL 1; paravirtual stores the virtual IF in it, as
   * Xen's bounce frame carries "eflags.IF == !saved_upcall_mask".
   */
  protected fixFrame(_withErrorCode: boolean, _ifBefore: boolean): void {}

  /** Before an entry from ring 3: the real TSS's ring-1 stack is the guest TSS's ring-0 stack. */
  private syncRingStack(): void {
    const mem = this.host.machine.mem, rb = this.reservedBase;
    const stack = this.kernelStack();
    if (!stack) return;
    const [ss0, esp0] = stack;
    mem.write32(rb + R_TSS + 12, esp0);                   // ESP1
    mem.write32(rb + R_TSS + 16, ((ss0 & 0xfffc) | 1));   // SS1 (RPL 1: the compressed ring)
    // Shadow-map the guest's kernel stack now (its SS base is flat in every example; a non-flat
    // SS is only mapped lazily, through a hidden fault during delivery).
    this.prefaultStack(esp0 >>> 0);
  }

  /** The guest kernel's stack for entries from ring 3: SS0:ESP0 of its TSS (paravirtual: stack_switch). */
  protected kernelStack(): [number, number] | undefined {
    const v = this.vcpu;
    const esp0 = this.readGuest32(v.trBase + 4), ss0 = this.readGuest32(v.trBase + 8);
    return esp0 === undefined || ss0 === undefined ? undefined : [ss0 & 0xffff, esp0];
  }

  private prefaultStack(top: number): void {
    for (const lin of [top - 4, top - 24]) this.prefaultPage(lin >>> 0, true);
  }

  private prefault(gate: GuestGate): void {
    const offset = ((gate.hi & 0xffff0000) | (gate.lo & 0xffff)) >>> 0;
    this.prefaultPage(offset, false);
  }

  /** Fills the shadow for a page the guest maps (no guest fault if it does not). */
  protected prefaultPage(lin: number, write: boolean): void {
    const cpu = this.cpu;
    try { cpu.translate(lin | 0, write, false); } catch (e) {
      if (!(e instanceof CpuFault) || e.vector !== PF_VEC) return;
      const w = this.shadow.walkGuest(lin, write, false, false);
      if (w.ok) this.handlePageFault(lin, e.errorCode);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Emulation of the instruction that raised #GP
  // ------------------------------------------------------------------------------------------

  protected guestEip(): number { return (this.cpu.segBase[CS] + this.cpu.eip) >>> 0; }

  /** Tries to emulate the instruction at CS:EIP that raised #GP. False: reflect the #GP. */
  private emulateFaulting(cpu: Cpu): boolean {
    let insn: Insn;
    try { insn = cpu.decodeAt(this.guestEip()); } catch { return false; }
    const guestKernel = cpu.cpl === 1;
    // Guest user code: only IOPL-sensitive instructions the guest's virtual IOPL allows.
    // Guest user code: SYSENTER (it enters the kernel), and IOPL-sensitive instructions the virtual IOPL allows.
    const sysenter = (insn.cls & InsnClass.SYSENTER) !== 0 && rowFacts(insn)?.class !== 'privileged';
    if (!guestKernel && !sysenter && !(cpu.cpl === 3 && this.vcpu.iopl === 3 && isIoplSensitive(insn))) return false;
    let detail: string | false;
    try {
      detail = this.emulate(cpu, insn);
    } catch (e) {
      if (e instanceof CpuFault) {
        // The emulation touched guest memory that faulted (a hidden #PF is fixed and the
        // instruction restarts; a real guest fault is reflected), or the operation itself faults.
        // While it is delivered, a #GP is the guest's, not one more instruction to emulate.
        this.emulationFaulted = true;
        try { cpu.deliverEvent(e.vector, 'exception', e.errorCode, e.address, cpu.eip); } finally { this.emulationFaulted = false; }
        return true;
      }
      if (e instanceof UnsupportedError) { this.host.machine.finish('error', 0, { error: e.message, unmodelled: true }); return true; }
      throw e;
    }
    if (detail === false) return false;
    this.retire(insn);
    const name = trapName(insn);
    this.host.count('traps', name);
    const io = insn.cls & InsnClass.IO ? this.host.cost('deviceAccess') : 0;
    this.host.emit({ kind: 'trap', vector: GP, errorCode: 0, action: 'emulated', eip: insn.linear >>> 0, mnemonic: name, cost: this.host.cost('trapRoundTrip', 'emulate') + io, text: `#GP → VMM emulated ${name}${detail ? `: ${detail}` : ''}` });
    this.afterEmulation();
    return true;
  }

  /**
   * IN/OUT by the guest, seen before they execute. At CPL 1 (and at CPL 3 with the guest's IOPL 3)
   * the real IOPL 0 and the TSS without an I/O bitmap make the CPU's permission check fail, and the
   * #GP(0) it raises brings the VMM to `emulateFaulting`. The same check decides here
   * (`ioPermitted`), and the VMM's work is the same — the access on the device model, the trap
   * counted, charged and published as that #GP — without building the fault, decoding the
   * instruction again and leaving the compiled block: port polling makes a trap of every other
   * instruction, and that detour was nine tenths of its wall time. String forms (INS/OUTS, which a
   * REP may stop part way) and everything the guest's own IOPL does not allow take the #GP path.
   */
  private portAccess(cpu: Cpu, insn: Insn): boolean {
    if (insn.info !== IN_ROW && insn.info !== OUT_ROW) return false; // INS/OUTS: the #GP path
    const port = insn.imm >= 0 ? insn.imm : cpu.regs[2] & 0xffff;
    // Above the real IOPL with the VMM's own TSS loaded (always, but while a snapshot is restored),
    // `ioPermitted` would read that TSS's I/O map base to find it past the limit: every port refused.
    if (cpu.cpl <= cpu.iopl || (cpu.trSel !== VMM_TSS_SEL && ioPermitted(cpu, port, insn.size))) return false;
    if (cpu.cpl !== 1 && !(cpu.cpl === 3 && this.vcpu.iopl === 3)) return false;
    this.beforeEvent();
    const saved = cpu.cpl;
    cpu.cpl = 0;
    try { insn.semantics(cpu, insn); } finally { cpu.cpl = saved; }
    // The counter table by reference, and a named store per row ('in' or 'out': its two keys) — a
    // keyed store by the mnemonic was 7 % of a port-polling guest's time.
    const traps = this.host.counters.traps;
    if (insn.info === IN_ROW) traps.in = (traps.in ?? 0) + 1;
    else traps.out = (traps.out ?? 0) + 1;
    const cost = this.portTrapCost;
    if (this.host.events.wants('trap')) {
      this.host.emit({ kind: 'trap', vector: GP, errorCode: 0, action: 'emulated', eip: insn.linear >>> 0, mnemonic: insn.mnemonic, cost, text: `#GP → VMM emulated ${insn.mnemonic}: port ${hex(port)} (device model)` });
    } else this.host.tally('trap', cost);
    this.afterEmulation();
    return true;
  }

  /** Hook after each emulated instruction (paravirtual: deliver pending events if unmasked). */
  protected afterEmulation(): void {}

  /** The guest instruction completed: next EIP, and it counts as retired as on bare metal. */
  protected retire(insn: Insn): void {
    const cpu = this.cpu;
    if (this.restartInsn) { this.restartInsn = false; cpu.eip = (insn.linear - cpu.segBase[CS]) >>> 0; return; }
    if (this.eipSet) this.eipSet = false; // semantics ran: EIP is theirs (a long REP stops part way)
    else cpu.eip = (insn.linear - cpu.segBase[CS] + insn.len) >>> 0;
    cpu.icount++;
  }

  /** Runs an instruction's own semantics as if at CPL 0 (I/O, debug registers, MSRs, RDPMC). */
  private asRing0(insn: Insn): void {
    const cpu = this.cpu, saved = cpu.cpl;
    cpu.nextEip = (cpu.eip + insn.len) >>> 0;
    cpu.cpl = 0;
    try { insn.semantics(cpu, insn); } finally { cpu.cpl = saved; }
    cpu.eip = cpu.nextEip;
    this.eipSet = true;
  }

  /**
   * Emulates `insn` on the virtual CPU. Returns a short description of what it did, '' when there
   * is nothing to add, or false when this #GP is not the VMM's to handle (it goes to the guest).
   * Sets EIP itself only for instructions that transfer control; otherwise `retire` advances it.
   */
  protected emulate(cpu: Cpu, insn: Insn): string | false {
    return this.emulations.get(insn.info)?.(cpu, insn) ?? false;
  }

  /** The handler of each instruction-table row the VMM emulates after its #GP (keyed by the row, as KVM keys its exit handlers). */
  private readonly emulations = this.emulationTable();

  private emulationTable(): Map<InstructionInfo | undefined, (cpu: Cpu, insn: Insn) => string | false> {
    const io = (cpu: Cpu, insn: Insn): string => {
      const port = insn.form!.imm.length > 0 ? insn.imm : cpu.regs[2] & 0xffff;
      this.asRing0(insn);
      return `port ${hex(port)} (device model)`;
    };
    const ring0 = (_cpu: Cpu, insn: Insn): string => { this.asRing0(insn); return ''; };
    const msr = (cpu: Cpu, insn: Insn): string => {
      const n = cpu.regs[1] >>> 0, write = insn.cls & InsnClass.WRMSR;
      if (n >= 0x174 && n <= 0x176) return this.sysenterMsr(write !== 0, n);
      this.asRing0(insn);
      return `MSR ${hex(n)}`;
    };
    const descriptorTable = (idt: boolean) => (cpu: Cpu, insn: Insn): string => {
      const v = this.vcpu, off = ea(cpu, insn);
      const limit = cpu.read16(insn.seg, off);
      let base = cpu.read32(insn.seg, (off + 2) | 0);
      if (insn.size === 2) base &= 0xffffff;
      if (!idt) { v.gdtrBase = base; v.gdtrLimit = limit; this.syncGdt(); return `virtual GDTR = ${hex(base)}/${hex(limit)} (shadow GDT rebuilt)`; }
      v.idtrBase = base; v.idtrLimit = limit;
      return `virtual IDTR = ${hex(base)}/${hex(limit)}`;
    };
    const returnFrame = (cpu: Cpu, insn: Insn) => this.repairReturnFrame(cpu, insn);
    const rows: Record<string, (cpu: Cpu, insn: Insn) => string | false> = {
      cli: () => { this.setVirtualIf(false); return 'virtual IF = 0'; },
      sti: (cpu) => {
        cpu.irqShadowUntil = cpu.icount + 2; // STI's one-instruction interrupt shadow (after retire)
        this.setVirtualIf(true);
        return 'virtual IF = 1';
      },
      hlt: () => this.emulateHlt(),
      in: io, out: io, insb: io, insw: io, insd: io, outsb: io, outsw: io, outsd: io,
      mov: (cpu, insn) => this.emulateMov(cpu, insn),
      rdmsr: msr, wrmsr: msr, rdpmc: ring0, rdtsc: ring0,
      clts: (cpu) => { this.vcpu.cr0 &= ~CR0_TS; cpu.cr0 = this.realCr0(); return 'CR0.TS cleared'; },
      invd: () => 'cache operation (nothing to do)', wbinvd: () => 'cache operation (nothing to do)',
      lgdt: descriptorTable(false), lidt: descriptorTable(true),
      // LMSW: PE, MP, EM, TS; can set PE, never clear it
      lmsw: (cpu, insn) => { const w = readE(cpu, insn, 2), v = this.vcpu; return this.writeCr(0, (v.cr0 & ~0xe) | (w & 0xf) | (v.cr0 & 1)); },
      invlpg: (cpu, insn) => {
        const lin = (cpu.segBase[insn.seg] + ea(cpu, insn)) >>> 0;
        this.invlpg(lin);
        return `shadow entry for ${hex(lin)} dropped`;
      },
      lldt: (cpu, insn) => this.emulateLldt(readE(cpu, insn, 2)),
      ltr: (cpu, insn) => this.emulateLtr(readE(cpu, insn, 2)),
      sysenter: (cpu) => this.emulateSysenterSysexit(cpu, true),
      sysexit: (cpu) => this.emulateSysenterSysexit(cpu, false),
      pop: (cpu, insn) => (insn.form!.operands[0] === 'ss' ? this.repairSsLoad(cpu, insn, cpu.peek(0, 4) & 0xffff) : false),
      iretd: returnFrame, iretw: returnFrame, retf: returnFrame,
    };
    return new Map(Object.entries(rows).map(([mnemonic, f]) => [instructionInfo(mnemonic), f]));
  }

  /** MOV to/from CRn (the virtual ones), MOV to/from DRn (as at CPL 0), MOV SS of a ring-0 selector. */
  private emulateMov(cpu: Cpu, insn: Insn): string | false {
    const [dst, src] = insn.form!.operands, v = this.vcpu;
    if (src === 'cr') {
      const val = [v.cr0, -1, v.cr2, v.cr3, v.cr4][insn.reg];
      if (val === undefined || insn.reg === 1) throw new CpuFault(UD);
      cpu.regs[insn.rm] = val;
      return `virtual CR${insn.reg} = ${hex(val)}`;
    }
    if (dst === 'cr') return this.writeCr(insn.reg, cpu.regs[insn.rm]);
    if (dst === 'dr' || src === 'dr') { this.asRing0(insn); return ''; }
    if (dst === 'sreg-no-cs' && insn.reg === SS) return this.repairSsLoad(cpu, insn, readE(cpu, insn, 2));
    return false;
  }

  protected emulateHlt(): string {
    const cpu = this.cpu;
    if (!this.virtualIf()) {
      // Native: HLT with IF = 0 sleeps for good (no NMI source on this PC).
      this.host.machine.finish('halt');
      return 'virtual IF = 0: the guest halts for good';
    }
    if (this.vcpu.pending.length) { this.injectPending(); return 'pending interrupt delivered instead of halting'; }
    cpu.halted = true;
    cpu.breakBlock = true;
    return 'virtual CPU idles until the next interrupt';
  }

  protected invlpg(lin: number): void { this.shadow.invlpg(lin); }

  protected writeCr(n: number, value: number): string {
    const v = this.vcpu, cpu = this.cpu;
    value |= 0;
    switch (n) {
      case 0: {
        value |= CR0_ET;
        if ((value & CR0_PG) && !(value & CR0_PE)) throw new CpuFault(GP, 0);
        if (!(value & CR0_PE)) throw new UnsupportedError('real mode is not modelled (CR0.PE cleared)');
        const changed = v.cr0 ^ value;
        v.cr0 = value;
        cpu.cr0 = this.realCr0();
        if (changed & (CR0_PG | CR0_WP)) this.pagingChanged(`guest CR0.${changed & CR0_PG ? 'PG' : 'WP'} changed`);
        return `virtual CR0 = ${hex(value)}`;
      }
      case 2: v.cr2 = value; return `virtual CR2 = ${hex(value)}`;
      case 3: v.cr3 = value; this.pagingChanged('guest CR3 write'); return `virtual CR3 = ${hex(value)}`;
      case 4: {
        if (value & ~0x7ff) throw new CpuFault(GP, 0);
        if (value & 0x20) throw new CpuFault(GP, 0); // PAE is not modelled (no CPUID.PAE)
        const changed = v.cr4 ^ value;
        v.cr4 = value;
        if (changed & (CR4_PSE | CR4_PGE)) this.pagingChanged('guest CR4 paging bits changed');
        return `virtual CR4 = ${hex(value)}`;
      }
      default: throw new CpuFault(UD);
    }
  }

  /** The guest's paging registers changed (paravirtual overrides: direct paging). */
  protected pagingChanged(reason: string): void {
    this.shadow.reset(reason);
    this.cpu.cr3 = this.reservedBase + R_SHADOW_PD;
  }

  private sysenterMsr(write: boolean, msr: number): string {
    const cpu = this.cpu, key = String(msr);
    if (write) { this.vcpu.msrs[key] = ((BigInt(cpu.regs[2] >>> 0) << 32n) | BigInt(cpu.regs[0] >>> 0)).toString(); return `virtual MSR ${hex(msr)} (SYSENTER MSRs stay virtual)`; }
    const val = BigInt(this.vcpu.msrs[key] ?? (msr === 0x174 ? cpu.msr.sysenterCs : msr === 0x175 ? cpu.msr.sysenterEsp : cpu.msr.sysenterEip) >>> 0);
    cpu.regs[0] = Number(val & 0xffffffffn) | 0;
    cpu.regs[2] = Number((val >> 32n) & 0xffffffffn) | 0;
    return `virtual MSR ${hex(msr)}`;
  }

  /**
   * SYSENTER / SYSEXIT with the guest's (virtual) SYSENTER MSRs. The real SYSENTER_CS is 0, so both
   * raise #GP(0) (SDM SYSENTER/SYSEXIT: "IF IA32_SYSENTER_CS[15:2] = 0 THEN #GP(0)") — and
   * SYSENTER would enter ring 0 with no way to compress it. The VMM performs them with flat
   * segments as the instructions do, the guest kernel's in ring 1.
   */
  private emulateSysenterSysexit(cpu: Cpu, enter: boolean): string | false {
    const v = this.vcpu;
    const cs = Number(BigInt(v.msrs['372'] ?? '0') & 0xfffcn);
    if (cs === 0) throw new CpuFault(GP, 0);
    if (enter) {
      if (cpu.cpl !== 3) return false;
      this.setVirtualIf(false);
      cpu.setSegmentCache(CS, cs | 1, 0, 0xffffffff, 0xcfbb);
      cpu.setSegmentCache(SS, (cs + 8) | 1, 0, 0xffffffff, 0xcfb3);
      cpu.regs[4] = Number(BigInt(v.msrs['373'] ?? '0') & 0xffffffffn) | 0;
      cpu.eip = Number(BigInt(v.msrs['374'] ?? '0') & 0xffffffffn) >>> 0;
    } else {
      if (cpu.cpl !== 1) return false;
      cpu.setSegmentCache(CS, (cs + 16) | 3, 0, 0xffffffff, 0xcffb);
      cpu.setSegmentCache(SS, (cs + 24) | 3, 0, 0xffffffff, 0xcff3);
      cpu.regs[4] = cpu.regs[1];
      cpu.eip = cpu.regs[2] >>> 0;
    }
    cpu.breakBlock = true;
    this.eipSet = true;
    return enter ? `entered the guest kernel at ${hex(cpu.eip)} (ring 1)` : `returned to ring 3 at ${hex(cpu.eip)}`;
  }

  private emulateLldt(sel: number): string {
    const cpu = this.cpu, v = this.vcpu;
    sel &= 0xffff;
    if ((sel & 0xfffc) === 0) { v.ldtrSel = sel; cpu.ldtrSel = 0; cpu.ldtrBase = 0; cpu.ldtrLimit = 0; cpu.ldtrAttr = 0; return 'virtual LDTR = null'; }
    if (sel & 4) throw new CpuFault(GP, sel & 0xfffc);
    const d = this.guestDescriptor(sel);
    if (!d) throw new CpuFault(GP, sel & 0xfffc);
    const attr = Cpu.descAttr(d[1]);
    if ((attr & 0x10) || (attr & 0xf) !== 2) throw new CpuFault(GP, sel & 0xfffc);
    if (!(attr & 0x80)) throw new CpuFault(NP, sel & 0xfffc);
    v.ldtrSel = sel;
    cpu.ldtrSel = sel; cpu.ldtrBase = Cpu.descBase(d[0], d[1]); cpu.ldtrLimit = Cpu.descLimit(d[0], d[1]); cpu.ldtrAttr = attr;
    return `virtual LDTR = ${hex(sel)}`;
  }

  private emulateLtr(sel: number): string {
    const v = this.vcpu;
    sel &= 0xffff;
    if ((sel & 0xfffc) === 0) throw new CpuFault(GP, 0);
    if (sel & 4) throw new CpuFault(GP, sel & 0xfffc);
    const d = this.guestDescriptor(sel);
    if (!d) throw new CpuFault(GP, sel & 0xfffc);
    const attr = Cpu.descAttr(d[1]), type = attr & 0xf;
    if ((attr & 0x10) || (type !== 9 && type !== 1)) throw new CpuFault(GP, sel & 0xfffc);
    if (!(attr & 0x80)) throw new CpuFault(NP, sel & 0xfffc);
    // Mark the guest's TSS descriptor busy in ITS GDT, as LTR does.
    const phys = this.shadow.guestPhys(v.gdtrBase + (sel & 0xfff8) + 4);
    if (phys >= 0) this.host.machine.mem.write32(phys, d[1] | 0x200);
    v.trSel = sel;
    v.trBase = Cpu.descBase(d[0], d[1]);
    return `virtual TR = ${hex(sel)} (the real TR stays the VMM's ${hex(VMM_TSS_SEL)})`;
  }

  /** MOV SS / POP SS (`popped`: from the stack) of a guest ring-0 selector: RPL 0 ≠ CPL 1 faults; load it with RPL 1. */
  private repairSsLoad(cpu: Cpu, insn: Insn, sel: number): string | false {
    if ((sel & 3) !== 0 || (sel & 0xfffc) === 0) return false;
    const d = this.guestDescriptor(sel);
    if (!d || ((d[1] >> 13) & 3) !== 0) return false;
    cpu.loadSegment(SS, sel | 1);
    if (insn.form!.operands[0] === 'ss') cpu.regs[4] = (cpu.regs[4] + 4) | 0; // POP SS
    return `SS loaded with ${hex(sel | 1)}: ring-0 selector compressed to ring 1`;
  }

  /** IRET / RETF to an RPL-0 code selector: raise the frame's RPLs to 1 and restart the instruction. */
  private repairReturnFrame(cpu: Cpu, insn: Insn): string | false {
    const size = insn.size === 2 ? 2 : 4;
    const csOff = size;
    const cs = cpu.peek(csOff, size) & 0xffff;
    if ((cs & 3) !== 0 || (cs & 0xfffc) === 0) return false;
    const lin = (cpu.segBase[SS] + cpu.regs[4] + csOff) | 0;
    if (size === 4) cpu.writeLinear32(lin, cs | 1); else cpu.writeLinear16(lin, cs | 1);
    this.restartInsn = true; // the instruction runs again, now with a CS it may return to
    return `return frame's CS ${hex(cs)} raised to RPL 1`;
  }

  // ------------------------------------------------------------------------------------------
  // Descriptor tables
  // ------------------------------------------------------------------------------------------

  protected readGuest32(lin: number): number | undefined {
    const p = this.shadow.guestPhys(lin >>> 0);
    if (p < 0 || p + 3 >= this.host.machine.mem.ramSize) return undefined;
    return this.host.machine.mem.read32(p);
  }

  protected guestDescriptor(sel: number): [number, number] | undefined {
    const v = this.vcpu, idx = sel & 0xfff8;
    if (idx + 7 > v.gdtrLimit) return undefined;
    const lo = this.readGuest32(v.gdtrBase + idx), hi = this.readGuest32(v.gdtrBase + idx + 4);
    return lo === undefined || hi === undefined ? undefined : [lo, hi];
  }

  /** The real GDT made current again if a guest write staled it (before the VMM loads a selector itself). */
  protected refreshGdt(): void { if (this.gdtStale) this.syncGdt(); }

  /** Rebuilds the real GDT from the guest's (compressed), and traces the guest GDT's pages. */
  protected syncGdt(): void {
    const v = this.vcpu, mem = this.host.machine.mem, base = this.reservedBase + R_GDT;
    const n = Math.min((v.gdtrLimit + 1) >>> 3, VMM_TSS_INDEX);
    for (let i = 1; i < Math.max(n, this.gdtEntries); i++) {
      let lo = 0, hi = 0;
      if (i < n) {
        const d = this.guestDescriptor(i << 3);
        if (d) [lo, hi] = compressDescriptor(d[0], d[1]);
      }
      mem.write32(base + i * 8, lo);
      mem.write32(base + i * 8 + 4, hi);
    }
    this.gdtEntries = n;
    this.gdtStale = false;
    for (const off of this.gdtUnwatch) off();
    this.gdtUnwatch = [];
    const seen = new Set<number>();
    for (let off = 0; off < n * 8; off += 0x1000) {
      for (const lin of [v.gdtrBase + off, v.gdtrBase + Math.min(off + 0xfff, n * 8 - 1)]) {
        const p = this.shadow.guestPhys(lin >>> 0);
        if (p < 0 || seen.has(p >>> 12)) continue;
        seen.add(p >>> 12);
        this.gdtUnwatch.push(mem.addWriteWatch(p >>> 12, () => this.gdtWritten()));
      }
    }
  }

  /**
   * A write to a page holding the guest's GDT: every real descriptor is marked not present, so the
   * next segment load faults (#NP/#GP) into the VMM, which resynchronises and restarts it. Segment
   * registers already loaded keep their cached descriptors, as on hardware.
   */
  private gdtWritten(): void {
    if (this.gdtStale) return;
    this.gdtStale = true;
    const mem = this.host.machine.mem, base = this.reservedBase + R_GDT;
    for (let i = 1; i < this.gdtEntries; i++) {
      const a = base + i * 8 + 4;
      mem.write32(a, mem.read32(a) & ~0x8000);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Critical instructions
  // ------------------------------------------------------------------------------------------

  onInstruction(cpu: Cpu, insn: Insn): boolean {
    if (insn.cls & InsnClass.IO) return this.portAccess(cpu, insn);
    if ((insn.cls & InsnClass.IRET) && cpu.cpl === 1) {
      try { this.iretPopped = cpu.peek(insn.size === 2 ? 4 : 8, insn.size === 2 ? 2 : 4); } catch { this.iretPopped = -1; }
    }
    return false;
  }

  /** A data access to an unmapped page: a device's registers are emulated in place (ShadowMmu.deviceAccess). */
  deviceAccess(_cpu: Cpu, lin: number, write: boolean, user: boolean, device: number): number {
    return device >= 0 ? -1 : this.shadow.deviceAccess(lin, write, user);
  }

  /** See Technique.unreportedActions: critical instructions guest user code ran (no event for them). */
  unreportedActions = 0;
  /** See Technique.invisibleActions: shadow fills while the guest's paging is off. */
  get invisibleActions(): number { return this.shadow.identityFills; }

  onCritical(cpu: Cpu, ev: CriticalEvent): void {
    // Guest user code runs at CPL 3 as it would natively — but SGDT, SIDT, SMSW, STR, LAR … there
    // still read the monitor's tables and registers: counted, not reported.
    if (ev.cplBefore !== 1) { this.unreportedActions++; return; }
    const ctx: CriticalContext = { cpu, vcpu: this.vcpu, virtualIf: this.virtualIf(), guestDescriptor: (s) => this.guestDescriptor(s), iretPopped: this.iretPopped };
    const d = describeCritical(ctx, ev);
    this.iretPopped = -1;
    this.host.count('critical', ev.mnemonic);
    if (d.diverged && !this.host.counters.firstDivergence) {
      this.host.counters.firstDivergence = { mnemonic: ev.mnemonic, eip: ev.insn.linear >>> 0, icount: cpu.icount, differs: d.differs };
    }
    this.host.emit({ kind: 'critical', cpl: ev.cplBefore, guestCpl: 0, differs: d.differs, diverged: d.diverged, eip: ev.insn.linear >>> 0, mnemonic: ev.mnemonic, cost: 0, text: d.diverged ? `ran at CPL 1: ${d.differs}` : `ran unchanged at CPL 1${d.differs ? `: ${d.differs}` : ''}` });
  }

  // ------------------------------------------------------------------------------------------
  // State
  // ------------------------------------------------------------------------------------------

  protected getExtraState(): unknown { return null; }
  protected setExtraState(_s: unknown): void {}

  getState(): Ring1State {
    return { vcpu: structuredClone(this.vcpu), shadow: this.shadow.getState(), gdtStale: this.gdtStale, gdtEntries: this.gdtEntries, extra: this.getExtraState() };
  }

  setState(raw: unknown): void {
    const s = raw as Ring1State;
    this.vcpu = structuredClone(s.vcpu);
    this.shadow.setState(s.shadow);
    this.gdtEntries = s.gdtEntries;
    const stale = s.gdtStale;
    // Re-trace the guest GDT pages without touching the (restored) real table.
    for (const off of this.gdtUnwatch) off();
    this.gdtUnwatch = [];
    if (!stale) {
      const saved = this.host.machine.mem.bytes.slice(this.reservedBase + R_GDT, this.reservedBase + R_GDT + 0x10000);
      this.syncGdt();
      this.host.machine.mem.bytes.set(saved, this.reservedBase + R_GDT);
    }
    this.gdtStale = stale;
    this.setExtraState(s.extra);
    this.cpu.setMonitor(this);
  }

  /** Before the machine's memory is restored: stop tracing (the restore's writes are not the guest's). */
  beforeRestore(): void {
    this.shadow.detach();
    for (const off of this.gdtUnwatch) off();
    this.gdtUnwatch = [];
  }

  inspect(): TechniqueView {
    const cpu = this.cpu, v = this.vcpu;
    return {
      vcpu: {
        'CPL (real)': cpu.cpl, 'CPL (guest believes)': cpu.cpl === 1 ? 0 : cpu.cpl,
        'IF (virtual)': this.virtualIf(), 'IF (real)': (cpu.flags & IF) !== 0, 'IOPL (virtual)': v.iopl, 'IOPL (real)': cpu.iopl,
        'GDTR (virtual)': `${hex(v.gdtrBase)}/${hex(v.gdtrLimit)}`, 'GDTR (real)': `${hex(cpu.gdtrBase)}/${hex(cpu.gdtrLimit)}`,
        'IDTR (virtual)': `${hex(v.idtrBase)}/${hex(v.idtrLimit)}`, 'IDTR (real)': `${hex(cpu.idtrBase)}/${hex(cpu.idtrLimit)}`,
        'LDTR (virtual)': hex(v.ldtrSel), 'LDTR (real)': hex(cpu.ldtrSel), 'TR (virtual)': hex(v.trSel), 'TR (real)': hex(cpu.trSel),
        'CR0 (virtual)': hex(v.cr0), 'CR0 (real)': hex(cpu.cr0), 'CR2 (virtual)': hex(v.cr2), 'CR3 (virtual)': hex(v.cr3), 'CR3 (real)': hex(cpu.cr3), 'CR4 (virtual)': hex(v.cr4),
        'pending interrupts': v.pending.map((x) => (x >= 0x100 ? `IRQ ${x & 0xff}` : hex(x))).join(' ') || 'none',
      },
      hypervisor: { 'shadow fills': this.shadow.stats.fills, 'dirty faults': this.shadow.stats.dirtyFaults, 'traced page-table writes': this.shadow.stats.tracedWrites, 'shadow flushes': this.shadow.stats.flushes, 'guest page faults': this.shadow.stats.guestFaults },
    };
  }
}

function isIoplSensitive(insn: Insn): boolean {
  return (insn.cls & (InsnClass.IO | InsnClass.CLI_STI)) !== 0;
}

/** The trap counter key: the mnemonic, with the control/debug register for MOV CRn/DRn, the segment register for MOV/POP Sreg. */
export function trapName(insn: Insn): string {
  const [dst, src] = insn.form?.operands ?? [];
  if (dst === 'cr' || dst === 'dr') return `mov to ${dst}${insn.reg}`;
  if (src === 'cr' || src === 'dr') return `mov from ${src}${insn.reg}`;
  if (dst === 'sreg-no-cs') return `mov ${SREG_NAMES[insn.reg]}`;
  if (dst === 'ss') return `${insn.mnemonic} ss`;
  return insn.mnemonic;
}
