/*
 * `hardware-assisted` (SPEC §4): VT-x. The guest kernel runs at CPL 0 in VMX non-root operation; a
 * VMCS (vmcs.ts) with KVM's controls (controls.ts) decides which instructions and events leave the
 * guest (VM exits, Intel basic reasons and exit qualifications: exitReasons.ts). For instructions the
 * processor's decision is nonRoot.ts and the host's handlers, one per basic exit reason as KVM's
 * exit-handler table, are exitHandlers.ts: they emulate what exited and resume the guest
 * (GUEST_RIP += the VM-exit instruction length). Events and EPT violations are handled here. Critical instructions need no help: at CPL 0 they behave as on bare metal.
 *
 * What the simulated processor does in non-root operation, built on the CPU's monitor hooks:
 *   - instructions (onInstruction) exit or not as the controls say — CPUID, INVD, VMCALL always;
 *     HLT, INVLPG, RDPMC, RDTSC, MOV DR, I/O (unconditional or per I/O bitmap), RDMSR/WRMSR (MSR
 *     bitmap), MOV to CR0/CR4 per guest/host mask and read shadow, CR3 load/store, descriptor-table
 *     instructions per their controls. Faults with priority over an exit (SDM Vol. 3C §26.1.1: #GP of
 *     a CPL-0 instruction at CPL > 0, the I/O permission checks) are the CPU's. Reads of CR0/CR4 (MOV
 *     from CR, SMSW) return the read shadow in the host-owned bits, without an exit (SDM §26.3).
 *   - events (onEvent): an external interrupt exits (pin-based "external-interrupt exiting"), an
 *     exception exits when its bit is set in the exception bitmap; the host then injects what the
 *     guest must see through VM-entry event injection (delivery through the guest's own IDT).
 *   - memory: with EPT (default), the CPU's second-level translation walks EPT tables the host
 *     builds in reserved memory (ept.ts); a guest-physical page with no entry raises an EPT violation
 *     (first touch: the host maps it; beyond guest RAM: MMIO, the host emulates the access). Without
 *     EPT: shadow paging (core/vmm/shadowPaging.ts) — the real CR3 points at a shadow page directory,
 *     guest CR3 loads, INVLPG and #PF exit (CR3-load/store exiting, INVLPG exiting, #PF in the
 *     exception bitmap), and the host fills the shadow on hidden page faults.
 *
 * VMCALL: this VMM offers no hypercall interface to a fully virtualized guest; the exit handler
 * injects #UD, which is what the guest would get on bare metal (and what QEMU's record of pv-hello
 * shows). KVM does the same for an unknown hypercall from CPL > 0 and for guests without KVM's ABI.
 */
import { CR0_PG, CR0_WP, CS, DS, ES, FS, GS, SS, PF_VEC, GP, IF } from '../../cpu/constants';
import type { Cpu, CpuStop } from '../../cpu/cpu';
import { CpuFault, TripleFault } from '../../cpu/fault';
import type { Insn } from '../../cpu/insn';
import type { DeliveryEvent, EventKind, Monitor } from '../../cpu/monitor';
import { PAGE_SIZE } from '../../cpu/physicalMemory';
import type { LoadedImage, StopReason } from '../../machine/machine';
import { LAPIC_BASE } from '../../machine/firmware';
import type { CostKey } from '../cost';
import { ShadowMmu } from '../shadowPaging';
import { registerTechnique, type Technique, type TechniqueView, type VmHost } from '../technique';
import { NO_VMM_HOLE, UNPOPULATED, prefaultEventDelivery } from '../bt/virtualMmu';
import { INTR_INFO, PIN, SECONDARY, intrInfo, kvmDefaults, type KvmControls, type VmxOptions } from './controls';
import { Ept, EPT_RWX, EPT_WRITE, type EptState } from './ept';
import { EXIT_REASON, apicAccessQualification, decodeCrAccess, eptViolationQualification, exitReasonName } from './exitReasons';
import { INSTRUCTION_EXIT_HANDLERS, type VmxExitHost } from './exitHandlers';
import { INTERCEPTED_CLASSES, instructionExit, memoryInstrInfo, type NonRootView } from './nonRoot';
import { VMCS, Vmcs } from './vmcs';

/**
 * The guest-state fields a VM exit saves (SDM Vol. 3C §28.3), as constants: saveGuestState writes
 * them straight into the VMCS's field array (all of at most 32 bits; a 32-bit processor's natural
 * width is 32 bits), some forty per exit.
 */
const G_SEL = VMCS.GUEST_ES_SELECTOR, G_BASE = VMCS.GUEST_ES_BASE, G_LIMIT = VMCS.GUEST_ES_LIMIT, G_AR = VMCS.GUEST_ES_AR_BYTES;
const G_LDTR_SEL = VMCS.GUEST_LDTR_SELECTOR, G_LDTR_BASE = VMCS.GUEST_LDTR_BASE, G_LDTR_LIMIT = VMCS.GUEST_LDTR_LIMIT, G_LDTR_AR = VMCS.GUEST_LDTR_AR_BYTES;
const G_TR_SEL = VMCS.GUEST_TR_SELECTOR, G_TR_BASE = VMCS.GUEST_TR_BASE, G_TR_LIMIT = VMCS.GUEST_TR_LIMIT, G_TR_AR = VMCS.GUEST_TR_AR_BYTES;
const G_GDTR_BASE = VMCS.GUEST_GDTR_BASE, G_GDTR_LIMIT = VMCS.GUEST_GDTR_LIMIT, G_IDTR_BASE = VMCS.GUEST_IDTR_BASE, G_IDTR_LIMIT = VMCS.GUEST_IDTR_LIMIT;
const G_CR0 = VMCS.GUEST_CR0, G_CR3 = VMCS.GUEST_CR3, G_CR4 = VMCS.GUEST_CR4, G_DR7 = VMCS.GUEST_DR7;
const G_RSP = VMCS.GUEST_RSP, G_RIP = VMCS.GUEST_RIP, G_RFLAGS = VMCS.GUEST_RFLAGS;
const G_SYSENTER_CS = VMCS.GUEST_SYSENTER_CS, G_SYSENTER_ESP = VMCS.GUEST_SYSENTER_ESP, G_SYSENTER_EIP = VMCS.GUEST_SYSENTER_EIP;
const G_INTERRUPTIBILITY = VMCS.GUEST_INTERRUPTIBILITY_INFO, G_ACTIVITY = VMCS.GUEST_ACTIVITY_STATE;

/** The host's work for an emulated access (cost model), shared by the frequent exits. */
const EMULATE_WORK: CostKey[] = ['emulate'];

/** Host memory layout (in the machine's reserved memory, invisible to the guest). */
const RESERVED_MIB = 4;
const OFF_VMCS = 0x0000, OFF_IO_A = 0x1000, OFF_IO_B = 0x2000, OFF_MSR = 0x3000;
const OFF_EPT = 0x10000, EPT_POOL = 0x100000;
const OFF_SHADOW_PD = 0x200000, OFF_SHADOW_POOL = 0x202000;

/**
 * An EPT violation, raised by the second-level translation; unwinds out of the guest instruction.
 * Not an Error (like CpuFault): capturing a stack trace per violation was a third of an MMIO-heavy
 * guest's wall time, and the handler needs none.
 */
export class EptViolation {
  constructor(readonly gpa: number, readonly lin: number, readonly write: boolean, readonly final: boolean, readonly perms: number) {}
  get message(): string { return `EPT violation at guest-physical 0x${(this.gpa >>> 0).toString(16)}`; }
  toString(): string { return this.message; }
}
/** A hidden (shadow) page fault fixed while an injected event was being delivered: deliver it again. */
class RetryInjection extends Error {}

export interface VmxState {
  vmcs: Record<string, string>;
  ept: EptState | null;
  shadow: ReturnType<ShadowMmu['getState']> | null;
  guestCr3: number;
}

const SEG_ORDER = [ES, CS, SS, DS, FS, GS];
const hex = (v: number) => '0x' + (v >>> 0).toString(16);

export class HardwareAssistedTechnique implements Technique, VmxExitHost {
  readonly mode = 'hardware-assisted' as const;
  readonly vmcs = new Vmcs();
  readonly controls: KvmControls;
  readonly ept: Ept | undefined;
  readonly shadow: ShadowMmu | undefined;
  readonly options: Required<VmxOptions>;
  /** The guest's CR3 as it loaded it (shadow paging: the real CR3 is the shadow's). */
  guestCr3 = 0;
  private readonly base: number;
  private injecting = 0;
  /** The next event with this vector is an injection the exit handler asked for (no exit, no bitmap check). */
  private pendingInjection = -1;
  /** While the host itself reads guest memory (no EPT exits; its TLB fills are dropped afterwards). */
  private hostAccess = false;
  private hostTouched = false;
  /** Guest-physical pages whose access the host is emulating as MMIO (unpopulated). */
  private readonly mmioPages = new Set<number>();
  readonly monitor: Monitor;

  constructor(private readonly host: VmHost) {
    const opt = (host.options.techniqueOptions ?? {}) as VmxOptions;
    // First-generation VT-x had no EPT: the 2006 profile forces shadow paging.
    const ept = opt.ept ?? host.profile.name !== 'vtx-2006';
    this.options = { ept, interceptAllMsrs: opt.interceptAllMsrs ?? true, descriptorTableExiting: opt.descriptorTableExiting ?? false, rdtscExiting: opt.rdtscExiting ?? false };
    this.controls = kvmDefaults(this.options);
    const mem = host.machine.mem;
    this.base = mem.reservedBase;
    if (ept) this.ept = new Ept(mem, this.base + OFF_EPT, this.base + OFF_EPT + EPT_POOL);
    else {
      this.shadow = new ShadowMmu(host, {
        pdPhys: this.base + OFF_SHADOW_PD, poolStart: this.base + OFF_SHADOW_POOL, poolEnd: this.base + (RESERVED_MIB << 20),
        // The host runs in root mode with its own address space: no VMM hole in the guest's.
        vmmPdIndex: NO_VMM_HOLE, vmmPde: 0, unpopulatedPhys: UNPOPULATED,
      }, () => ({ cr0: this.cr0Shadow, cr3: this.guestCr3, cr4: this.cr4Shadow }));
    }
    if (this.shadow) {
      // Shadow paging write-protects the guest's page tables: every guest write to one is a #PF
      // exit (EXCEPTION_NMI) that the host emulates before updating the shadow (KVM's
      // kvm_mmu_pte_write); the shadow module reports it as a traced write.
      host.events.subscribe((ev) => {
        if (ev.kind !== 'shadow-paging' || ev.action !== 'pt-write') return;
        this.recordExit(EXIT_REASON.EXCEPTION_NMI, ev.address, 0, ev.mnemonic, ['emulate'], `#PF: write to the write-protected guest page table at physical ${hex(ev.address)}`,
          { intr: intrInfo(PF_VEC, INTR_INFO.TYPE_HARD_EXCEPTION, true), errorCode: 3 });
      }, ['shadow-paging']);
    }
    this.nonRoot = { cpu: host.cpu, vmcs: this.vmcs, controls: this.controls, mem, shadowPaging: !ept };
    this.monitor = {
      interceptClasses: INTERCEPTED_CLASSES,
      onInstruction: (cpu, insn) => this.onInstruction(insn),
      onEvent: (cpu, ev) => this.onEvent(ev),
    };
  }

  get cpu(): Cpu { return this.host.cpu; }
  /** What the processor's exit decisions read (nonRoot.ts). */
  private readonly nonRoot: NonRootView;
  private get cr0Shadow(): number { return this.vmcs.get(VMCS.CR0_READ_SHADOW); }
  private get cr4Shadow(): number { return this.vmcs.get(VMCS.CR4_READ_SHADOW); }

  // =============================================================================================
  // VMLAUNCH: the host sets up the VMCS and enters the guest
  // =============================================================================================

  start(image: LoadedImage): void {
    void image;
    const v = this.vmcs, c = this.controls, cpu = this.cpu, mem = this.host.machine.mem;
    v.write(VMCS.PIN_BASED_VM_EXEC_CONTROL, c.pin);
    v.write(VMCS.CPU_BASED_VM_EXEC_CONTROL, c.primary);
    v.write(VMCS.SECONDARY_VM_EXEC_CONTROL, c.secondary);
    if (c.secondary & SECONDARY.VIRTUALIZE_APIC_ACCESSES) v.write(VMCS.APIC_ACCESS_ADDR, LAPIC_BASE);
    v.write(VMCS.VM_EXIT_CONTROLS, c.exitControls);
    v.write(VMCS.VM_ENTRY_CONTROLS, c.entryControls);
    v.write(VMCS.EXCEPTION_BITMAP, c.exceptionBitmap);
    v.write(VMCS.CR0_GUEST_HOST_MASK, c.cr0GuestHostMask);
    v.write(VMCS.CR4_GUEST_HOST_MASK, c.cr4GuestHostMask);
    v.write(VMCS.CR0_READ_SHADOW, cpu.cr0);
    v.write(VMCS.CR4_READ_SHADOW, cpu.cr4);
    v.write(VMCS.CR3_TARGET_COUNT, 0);
    v.write(VMCS.VIRTUAL_PROCESSOR_ID, 1);
    // I/O bitmaps (all ports intercepted; used only when "use I/O bitmaps" is set) and the MSR bitmap.
    mem.bytes.fill(0xff, this.base + OFF_IO_A, this.base + OFF_IO_B + PAGE_SIZE);
    v.write(VMCS.IO_BITMAP_A, this.base + OFF_IO_A);
    v.write(VMCS.IO_BITMAP_B, this.base + OFF_IO_B);
    this.buildMsrBitmap();
    v.write(VMCS.MSR_BITMAP, this.base + OFF_MSR);
    // Host state: what a VM exit loads (illustrative host values of a 32-bit KVM host).
    v.write(VMCS.HOST_CR0, 0x80050033); v.write(VMCS.HOST_CR3, this.base + OFF_VMCS); v.write(VMCS.HOST_CR4, 0x2620);
    v.write(VMCS.HOST_CS_SELECTOR, 0x60); v.write(VMCS.HOST_SS_SELECTOR, 0x68); v.write(VMCS.HOST_DS_SELECTOR, 0x7b);
    v.write(VMCS.HOST_ES_SELECTOR, 0x7b); v.write(VMCS.HOST_TR_SELECTOR, 0x80);
    v.write(VMCS.HOST_RIP, 0xc1000000); v.write(VMCS.HOST_RSP, 0xc2000000);
    if (this.ept) {
      v.write(VMCS.EPT_POINTER, this.ept.eptp);
      cpu.secondLevel = (gpa, write, lin, final) => this.secondLevel(gpa, write, lin, final);
    } else {
      // Shadow paging: the processor always pages, through the shadow; the guest sees its own CR0/CR3.
      this.guestCr3 = cpu.cr3;
      cpu.cr0 = cpu.cr0 | CR0_PG | CR0_WP;
      cpu.cr3 = this.shadow!.layout.pdPhys;
      this.shadow!.reset();
    }
    this.saveGuestState();
    cpu.setMonitor(this.monitor);
    cpu.flushTlb();
  }

  private buildMsrBitmap(): void {
    const mem = this.host.machine.mem, at = this.base + OFF_MSR;
    mem.bytes.fill(0xff, at, at + PAGE_SIZE);
    if (!this.options.interceptAllMsrs) {
      // KVM's passthrough list for a 32-bit guest (vmx.c: SYSENTER_CS/ESP/EIP live in the guest-state area).
      for (const msr of [0x174, 0x175, 0x176]) {
        for (const off of [0, 0x800]) mem.bytes[at + off + (msr >>> 3)] &= ~(1 << (msr & 7));
      }
    }
  }

  runSlice(budget: number): StopReason {
    return this.host.machine.runSlice(budget, (b) => this.execute(b));
  }

  /** Guest execution in non-root operation until the budget ends; EPT violations unwind to here. */
  private execute(budget: number): CpuStop {
    const cpu = this.cpu;
    const end = cpu.icount + budget;
    for (let guard = 0; ; guard++) {
      const left = end - cpu.icount;
      if (left <= 0) return 'budget';
      try {
        return cpu.run(left);
      } catch (e) {
        if (e instanceof EptViolation && guard < 1_000_000) { this.eptViolationExit(e); continue; }
        if (e instanceof TripleFault) this.recordExit(EXIT_REASON.TRIPLE_FAULT, 0, 0, '', [], 'triple fault: the guest is shut down');
        throw e;
      }
    }
  }

  // =============================================================================================
  // VM exits and entries
  // =============================================================================================

  /** VM exit: guest state saved into the VMCS, exit information written, counted, published. */
  private recordExit(reason: number, qualification: number, length: number, mnemonic: string, work: CostKey[], text: string | (() => string), info: { intr?: number; errorCode?: number; instrInfo?: number; linear?: number; gpa?: number } = {}): void {
    const v = this.vmcs, h = this.host;
    this.saveGuestState();
    v.setNarrow(VMCS.VM_EXIT_REASON, reason);
    v.setNarrow(VMCS.EXIT_QUALIFICATION, qualification);
    v.setNarrow(VMCS.VM_EXIT_INSTRUCTION_LEN, length);
    v.setNarrow(VMCS.VM_EXIT_INTR_INFO, info.intr ?? 0);
    v.setNarrow(VMCS.VM_EXIT_INTR_ERROR_CODE, info.errorCode ?? 0);
    v.setNarrow(VMCS.VMX_INSTRUCTION_INFO, info.instrInfo ?? 0);
    v.setNarrow(VMCS.GUEST_LINEAR_ADDRESS, info.linear ?? 0);
    v.set(VMCS.GUEST_PHYSICAL_ADDRESS, (info.gpa ?? 0) >>> 0);
    const name = exitReasonName(reason);
    h.count('vmExits', name);
    let cost = this.exitCosts.get(work);
    if (cost === undefined) this.exitCosts.set(work, cost = h.cost('vmExitEntry', ...work));
    if (!h.events.wants('vmexit')) { h.tally('vmexit', cost); return; }
    if (typeof text !== 'string') text = text();
    h.emit({
      kind: 'vmexit', eip: (this.cpu.segBase[CS] + this.cpu.eip) | 0, mnemonic, cost,
      reason: name, reasonNumber: reason, qualification: qualification >>> 0, qualificationText: text, instructionLength: length,
      text: `VM exit ${name} (${reason})${text ? ': ' + text : ''}`,
    });
  }

  /** The guest-state area as a VM exit saves it (SDM Vol. 3C §28.3). */
  private saveGuestState(): void {
    const cpu = this.cpu, f = this.vmcs.narrowFields();
    for (let k = 0; k < 6; k++) {
      const s = SEG_ORDER[k];
      f[G_SEL + 2 * k] = cpu.segSel[s] & 0xffff;
      f[G_BASE + 2 * k] = cpu.segBase[s] >>> 0;
      f[G_LIMIT + 2 * k] = cpu.segLimit[s] >>> 0;
      // Access rights: the descriptor's bits 40..55 (same layout), bit 16 "unusable" for a null selector.
      f[G_AR + 2 * k] = cpu.segAttr[s] === 0 ? 0x10000 : cpu.segAttr[s] >>> 0;
    }
    f[G_LDTR_SEL] = cpu.ldtrSel & 0xffff; f[G_LDTR_BASE] = cpu.ldtrBase >>> 0; f[G_LDTR_LIMIT] = cpu.ldtrLimit >>> 0; f[G_LDTR_AR] = cpu.ldtrAttr || 0x10000;
    f[G_TR_SEL] = cpu.trSel & 0xffff; f[G_TR_BASE] = cpu.trBase >>> 0; f[G_TR_LIMIT] = cpu.trLimit >>> 0; f[G_TR_AR] = cpu.trAttr || 0x10000;
    f[G_GDTR_BASE] = cpu.gdtrBase >>> 0; f[G_GDTR_LIMIT] = cpu.gdtrLimit >>> 0;
    f[G_IDTR_BASE] = cpu.idtrBase >>> 0; f[G_IDTR_LIMIT] = cpu.idtrLimit >>> 0;
    f[G_CR0] = cpu.cr0 >>> 0; f[G_CR3] = cpu.cr3 >>> 0; f[G_CR4] = cpu.cr4 >>> 0;
    f[G_DR7] = cpu.dr[7] >>> 0;
    f[G_RSP] = cpu.regs[4] >>> 0;
    f[G_RIP] = cpu.eip >>> 0;
    f[G_RFLAGS] = cpu.getEflags() >>> 0;
    f[G_SYSENTER_CS] = cpu.msr.sysenterCs >>> 0; f[G_SYSENTER_ESP] = cpu.msr.sysenterEsp >>> 0; f[G_SYSENTER_EIP] = cpu.msr.sysenterEip >>> 0;
    f[G_INTERRUPTIBILITY] = cpu.icount < cpu.irqShadowUntil ? 1 : 0;
    f[G_ACTIVITY] = cpu.halted ? 1 : 0;
  }

  /** VM entry after an instruction exit: RIP from the VMCS (the handler advanced it or not). */
  private resume(): void {
    this.cpu.nextEip = this.vmcs.get(VMCS.GUEST_RIP) >>> 0;
    if (this.hostTouched) { this.hostTouched = false; this.cpu.flushTlb(); }
  }

  /** `GUEST_RIP += VM_EXIT_INSTRUCTION_LEN` (KVM skip_emulated_instruction). */
  skipInstruction(): void {
    const v = this.vmcs;
    v.set(VMCS.GUEST_RIP, (v.get(VMCS.GUEST_RIP) + v.get(VMCS.VM_EXIT_INSTRUCTION_LEN)) >>> 0);
  }

  /**
   * VM-entry event injection (VM_ENTRY_INTR_INFO_FIELD): delivers the event through the guest's IDT
   * now. Hidden page faults and EPT violations met during delivery are fixed and delivery restarts
   * (as the IDT-vectoring information makes KVM re-inject the event).
   */
  private inject(vector: number, kind: EventKind, errorCode: number, address: number, returnEip: number): void {
    const type = kind === 'external' ? INTR_INFO.TYPE_EXT_INTR : kind === 'software' ? INTR_INFO.TYPE_SOFT_INTR : kind === 'nmi' ? INTR_INFO.TYPE_NMI : INTR_INFO.TYPE_HARD_EXCEPTION;
    this.vmcs.set(VMCS.VM_ENTRY_INTR_INFO_FIELD, intrInfo(vector, type, kind === 'exception' && [8, 10, 11, 12, 13, 14, 17].includes(vector)));
    this.vmcs.set(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, errorCode >>> 0);
    if (this.shadow) prefaultEventDelivery(this.cpu, this.shadow, this.host.machine.mem, vector);
    for (let tries = 0; ; tries++) {
      this.injecting++;
      try {
        this.cpu.deliverEvent(vector, kind, errorCode, address, returnEip);
        break;
      } catch (e) {
        if (tries < 64 && e instanceof RetryInjection) continue;
        if (tries < 64 && e instanceof EptViolation) { this.eptViolationExit(e); continue; }
        throw e;
      } finally {
        this.injecting--;
      }
    }
    this.vmcs.set(VMCS.VM_ENTRY_INTR_INFO_FIELD, 0);
  }

  // =============================================================================================
  // Non-root operation: instructions
  // =============================================================================================

  /** The processor decides (nonRoot.ts); on an exit, the host's handler for its reason runs (exitHandlers.ts). */
  private onInstruction(insn: Insn): boolean {
    if (this.injecting) return false;
    const decision = instructionExit(this.nonRoot, insn);
    if (decision === 'cpu') return false;
    if (decision === 'done') return true;
    this.recordExit(decision.reason, decision.qualification, insn.len, insn.mnemonic, decision.work, decision.text, { instrInfo: decision.instrInfo, linear: decision.linear });
    const handler = INSTRUCTION_EXIT_HANDLERS[decision.reason];
    if (!handler) throw new Error(`no exit handler for ${exitReasonName(decision.reason)}`);
    return handler(this, insn);
  }

  /** Runs the exit handler's work, then VM entry (RIP from the VMCS). */
  handled(work: () => void): boolean {
    work();
    this.resume();
    return true;
  }

  /** The handler emulates with the instruction's own semantics (KVM's x86 emulator), then skips it. */
  emulateBySemantics(insn: Insn): boolean {
    const cpu = this.cpu;
    cpu.nextEip = (cpu.eip + insn.len) >>> 0;
    this.hostAccess = true;
    try { insn.semantics(cpu, insn); } finally { this.hostAccess = false; }
    this.vmcs.set(VMCS.GUEST_RIP, cpu.nextEip >>> 0);
    this.resume();
    return true;
  }

  /** The handler injects a fault: the instruction does not complete (nor retire) and RIP stays. */
  injectFault(vector: number, errorCode: number): boolean {
    this.pendingInjection = vector;
    throw new CpuFault(vector, errorCode);
  }

  /** The host's emulation of MOV to CR0/CR3/CR4 (KVM handle_set_cr0/3/4). */
  writeCr(cr: number, value: number): void {
    const cpu = this.cpu, v = this.vmcs;
    if (cr === 0) {
      const old = this.cr0Shadow;
      // Validate as the hardware would (PG without PE, real mode) before accepting it.
      if ((value & CR0_PG) && !(value & 1)) throw new CpuFault(GP, 0);
      v.write(VMCS.CR0_READ_SHADOW, value | 0x10);
      if (this.shadow) {
        cpu.setCr0((value | 0x10 | CR0_PG | CR0_WP) >>> 0);
        if ((old ^ value) & (CR0_PG | CR0_WP | 1)) this.shadow.reset('guest CR0.PG/WP change');
      } else cpu.setCr0(value);
    } else if (cr === 3) {
      if (this.shadow) {
        this.guestCr3 = value;
        this.shadow.reset('guest CR3 load');
      } else cpu.setCr3(value);
    } else if (cr === 4) {
      const old = this.cr4Shadow;
      cpu.setCr4(value);
      v.write(VMCS.CR4_READ_SHADOW, value);
      if (this.shadow && ((old ^ value) & 0x90)) this.shadow.reset('guest CR4.PSE/PGE change');
    }
  }

  // =============================================================================================
  // Non-root operation: events
  // =============================================================================================

  private onEvent(ev: DeliveryEvent): boolean {
    const cpu = this.cpu;
    if (this.injecting) {
      // A fault while delivering an injected event (its IDT entry, its stack frame).
      if (this.shadow && ev.kind === 'exception' && ev.vector === PF_VEC && ev.address !== undefined) {
        const r = this.shadow.handleFault(ev.address, ev.errorCode ?? 0);
        if (r === 'fixed') throw new RetryInjection();
      }
      return false;
    }
    if (this.pendingInjection === ev.vector && ev.kind === 'exception') {
      // The exit handler asked for this fault (VMCALL → #UD, unknown MSR → #GP): inject it.
      this.pendingInjection = -1;
      this.inject(ev.vector, 'exception', ev.errorCode ?? 0, ev.address ?? 0, ev.eip);
      return true;
    }
    this.pendingInjection = -1;
    const c = this.controls;
    if (ev.kind === 'external' && (c.pin & PIN.EXT_INTR_MASK)) {
      this.recordExit(EXIT_REASON.EXTERNAL_INTERRUPT, 0, 0, '', [], `vector ${ev.vector}`, { intr: intrInfo(ev.vector, INTR_INFO.TYPE_EXT_INTR, false) });
      this.host.emit({ kind: 'interrupt-injection', eip: (cpu.segBase[CS] + cpu.eip) | 0, mnemonic: '', cost: this.host.cost('interruptInjection'), vector: ev.vector, state: 'delivered', text: `vector ${ev.vector} injected on VM entry` });
      this.inject(ev.vector, 'external', 0, 0, ev.eip);
      return true;
    }
    const exceptionLike = ev.kind === 'exception' || (ev.kind === 'software' && (ev.vector === 3 || ev.vector === 4));
    if (exceptionLike && (c.exceptionBitmap & (1 << ev.vector))) {
      const hasCode = ev.errorCode !== undefined;
      const type = ev.kind === 'software' ? INTR_INFO.TYPE_SOFT_EXCEPTION : INTR_INFO.TYPE_HARD_EXCEPTION;
      const q = ev.vector === PF_VEC ? (ev.address ?? 0) >>> 0 : 0;
      this.recordExit(EXIT_REASON.EXCEPTION_NMI, q, 0, '', [], `vector ${ev.vector}${hasCode ? `, error code ${hex(ev.errorCode!)}` : ''}${ev.vector === PF_VEC ? `, address ${hex(q)}` : ''}`,
        { intr: intrInfo(ev.vector, type, hasCode), errorCode: ev.errorCode ?? 0 });
      this.handleException(ev);
      return true;
    }
    // Not intercepted: the processor delivers it to the guest (guarded like an injection).
    this.inject(ev.vector, ev.kind, ev.errorCode ?? 0, ev.address ?? 0, ev.eip);
    return true;
  }

  /** Exception exit handler (KVM handle_exception_nmi). */
  private handleException(ev: DeliveryEvent): void {
    if (ev.vector === PF_VEC && this.shadow && ev.address !== undefined) {
      const r = this.shadow.handleFault(ev.address, ev.errorCode ?? 0);
      if (r === 'fixed') return; // hidden fault: the shadow now maps it, the instruction restarts
      const code = r === 'stuck' ? ev.errorCode ?? 0 : r.guestErrorCode;
      this.inject(PF_VEC, 'exception', code, ev.address, ev.eip);
      return;
    }
    // #UD, #DB, #AC, #MC: reflect to the guest through event injection.
    this.inject(ev.vector, ev.kind, ev.errorCode ?? 0, ev.address ?? 0, ev.eip);
  }

  // =============================================================================================
  // EPT
  // =============================================================================================

  /** The CPU's second-level translation under EPT (called on its TLB misses). */
  private secondLevel(gpaPage: number, write: boolean, lin: number, final: boolean): number {
    const page = gpaPage >>> 0;
    if (this.hostAccess) {
      // The host reads guest memory through its own mapping of guest RAM, not through EPT.
      this.hostTouched = true;
      return page < this.host.machine.mem.ramSize ? page : UNPOPULATED;
    }
    const r = this.ept!.translate(page);
    if (r.ok && (!write || (r.perms & EPT_WRITE))) {
      this.host.charge(this.host.cost('nestedPageWalk'), 'nested-paging');
      return r.hpa;
    }
    // A page being emulated: a device's registers are reached at their own address, else nothing is there.
    if (this.mmioPages.has(page)) return this.host.machine.mem.isMmio(page) ? page : UNPOPULATED;
    const e = new EptViolation(page | (final ? lin & 0xfff : 0), lin, write, final, r.ok ? r.perms : 0);
    if (final && !this.injecting && page >= this.host.machine.mem.ramSize && this.host.machine.mem.isMmio(page)) {
      // A device's registers (never EPT-mapped): the exit (APIC_ACCESS or EPT_VIOLATION, once per
      // instruction, as eptViolationExit records it) and the host's emulation of the access, done
      // in place at the device's address instead of unwinding the instruction and running it again.
      const cpu = this.cpu;
      if (cpu.icount !== this.deviceExitIcount || cpu.eip !== this.deviceExitEip) {
        this.deviceExitIcount = cpu.icount; this.deviceExitEip = cpu.eip;
        this.recordMmio(e);
      }
      return page;
    }
    throw e;
  }
  /** Modelled cycles of an exit by its work list (the lists are shared constants or per decision). */
  private readonly exitCosts = new Map<CostKey[], number>();
  /** The instruction whose device-register exit was last recorded (one exit per instruction). */
  private deviceExitIcount = -1;
  private deviceExitEip = -1;

  /** EPT-violation exit handler (KVM's TDP page fault): map guest RAM on first touch, emulate MMIO. */
  private eptViolationExit(e: EptViolation): void {
    const cpu = this.cpu, ram = this.host.machine.mem.ramSize;
    const gpa = e.gpa >>> 0, page = (gpa & ~0xfff) >>> 0;
    const q = eptViolationQualification({ read: !e.write, write: e.write, fetch: false }, e.perms, true, e.final);
    const mmio = page >= ram;
    if (mmio && e.final && this.isApicAccess(page)) this.recordApicAccess(e);
    else this.recordExit(EXIT_REASON.EPT_VIOLATION, q, 0, '', ['emulate'], `guest-physical ${hex(gpa)} (${e.write ? 'write' : 'read'}${e.final ? '' : ', paging structure'}), ${mmio ? `MMIO: emulated${this.deviceName(gpa)}` : 'first touch: mapped'}`, { linear: e.lin, gpa });
    if (!mmio) {
      this.ept!.map(page, page, EPT_RWX);
      return;
    }
    // No device lives there: the access is emulated as to an unpopulated bus (all ones, writes
    // dropped) by running the instruction once with that page passed through. An instruction that
    // also touches an unmapped RAM page (or a second MMIO page) exits again on the way.
    const outer = this.mmioPages.size === 0;
    this.mmioPages.add(page);
    try {
      if (!outer) throw e; // nested: the outermost emulation retries the instruction with this page too
      for (let tries = 0; ; tries++) {
        try {
          cpu.run(1);
          return;
        } catch (nested) {
          if (!(nested instanceof EptViolation) || tries >= 16) throw nested;
          const np = (nested.gpa & ~0xfff) >>> 0;
          if (np >= ram) { this.recordMmio(nested); this.mmioPages.add(np); } else this.eptViolationExit(nested);
        }
      }
    } finally {
      if (outer) this.mmioPages.clear();
    }
  }

  /** The APIC-access page, when "virtualize APIC accesses" is on (its accesses exit with reason 44). */
  private isApicAccess(page: number): boolean {
    return (this.controls.secondary & SECONDARY.VIRTUALIZE_APIC_ACCESSES) !== 0 && page === LAPIC_BASE;
  }

  private deviceName(gpa: number): string {
    const d = this.host.machine.mmio.deviceAt(gpa);
    return d ? ` (${d})` : '';
  }

  /** APIC-access VM exit: Intel's qualification (offset, linear read / write), emulated by the host's APIC model. */
  private recordApicAccess(e: EptViolation): void {
    const offset = e.gpa & 0xfff;
    const q = apicAccessQualification(offset, e.write ? 1 : 0);
    this.recordExit(EXIT_REASON.APIC_ACCESS, q, 0, '', EMULATE_WORK, () => `local APIC register 0x${offset.toString(16)} ${e.write ? 'write' : 'read'}: emulated`, { linear: e.lin, gpa: e.gpa });
  }

  private recordMmio(e: EptViolation): void {
    if (e.final && this.isApicAccess((e.gpa & ~0xfff) >>> 0)) { this.recordApicAccess(e); return; }
    const q = eptViolationQualification({ read: !e.write, write: e.write, fetch: false }, e.perms, true, e.final);
    this.recordExit(EXIT_REASON.EPT_VIOLATION, q, 0, '', EMULATE_WORK, () => `guest-physical ${hex(e.gpa)} (${e.write ? 'write' : 'read'}), MMIO: emulated`, { linear: e.lin, gpa: e.gpa });
  }

  // =============================================================================================
  // State, views
  // =============================================================================================

  getState(): VmxState {
    return { vmcs: this.vmcs.getState(), ept: this.ept?.getState() ?? null, shadow: this.shadow?.getState() ?? null, guestCr3: this.guestCr3 };
  }

  setState(state: unknown): void {
    const s = state as VmxState;
    this.vmcs.setState(s.vmcs);
    if (this.ept && s.ept) this.ept.setState(s.ept);
    if (this.shadow && s.shadow) this.shadow.setState(s.shadow);
    this.guestCr3 = s.guestCr3;
    this.injecting = 0;
    this.pendingInjection = -1;
    this.cpu.flushTlb();
  }

  inspect(): TechniqueView {
    const vmcs: Record<string, string> = {};
    for (const area of ['control', 'exit-info', 'guest', 'host'] as const) {
      for (const f of this.vmcs.area(area)) vmcs[`${area}.${f.name}`] = '0x' + f.value.toString(16);
    }
    const cpu = this.cpu;
    return {
      vcpu: { 'CPL (guest)': cpu.cpl, 'VMX operation': 'non-root', 'IF': (cpu.flags & IF) !== 0, 'CR0 (guest view)': hex((cpu.cr0 & ~this.controls.cr0GuestHostMask) | (this.cr0Shadow & this.controls.cr0GuestHostMask)) },
      vmcs,
      hypervisor: {
        paging: this.ept ? 'EPT (nested paging)' : 'shadow page tables',
        ...(this.ept ? { 'EPT pages mapped': this.ept.mapped, 'EPT tables': this.ept.tables } : {}),
        ...(this.shadow ? { 'shadow fills': this.shadow.stats.fills, 'shadow flushes': this.shadow.stats.flushes } : {}),
      },
    };
  }
}

export { decodeCrAccess, memoryInstrInfo };

registerTechnique({
  mode: 'hardware-assisted',
  title: 'VT-x: guest at CPL 0 in VMX non-root operation, VMCS with KVM\'s controls, EPT or shadow paging',
  reservedMiB: RESERVED_MIB,
  create: (host) => new HardwareAssistedTechnique(host),
});
