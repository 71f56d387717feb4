/*
 * `hardware-assisted` (SPEC §4): VT-x. The guest kernel runs at CPL 0 in VMX non-root operation; a
 * VMCS (vmcs.ts) with KVM's controls (controls.ts, written before VMLAUNCH by vmLaunch.ts) decides
 * which instructions and events leave the guest. Critical instructions need no help: at CPL 0 they
 * behave as on bare metal. This file is the VCPU's run loop and the glue; the parts are:
 *   - nonRoot.ts: the processor's decision for an instruction the controls may intercept (exit, or
 *     complete it in non-root operation: CR reads from the read shadow, guest-owned CR bits);
 *   - vmExit.ts: the exit itself (guest-state area saved, exit information, counted and published);
 *   - exitHandlers.ts: the host's handler per basic exit reason (KVM's exit-handler table);
 *   - vmxEvents.ts: interrupts and exceptions (exit per the pin controls and exception bitmap) and
 *     VM-entry event injection;
 *   - eptExits.ts: EPT (default; ept.ts builds the tables): guest RAM mapped on first touch, MMIO
 *     emulated, APIC-access exits. Without EPT, shadow paging (core/vmm/shadowPaging.ts): the real CR3
 *     points at a shadow page directory; guest CR3 loads, INVLPG and #PF exit.
 *
 * VMCALL: this VMM offers no hypercall interface to a fully virtualized guest; the exit handler
 * injects #UD, which is what the guest would get on bare metal (and what QEMU's record of pv-hello
 * shows). KVM does the same for an unknown hypercall from CPL > 0 and for guests without KVM's ABI.
 */
import { CR0_PG, CR0_WP, GP, IF, PF_VEC } from '../../cpu/constants';
import type { Cpu, CpuStop } from '../../cpu/cpu';
import { CpuFault, TripleFault } from '../../cpu/fault';
import type { Insn } from '../../cpu/insn';
import type { LoadedImage, StopReason } from '../../machine/machine';
import { ShadowMmu } from '../shadowPaging';
import { registerTechnique, type Technique, type TechniqueView, type VmHost } from '../technique';
import { NO_VMM_HOLE } from '../bt/virtualMmu';
import { INTR_INFO, intrInfo, kvmDefaults, type KvmControls, type VmxOptions } from './controls';
import { Ept, type EptState } from './ept';
import { EptExits, EptViolation } from './eptExits';
import { EXIT_REASON, exitReasonName } from './exitReasons';
import { INSTRUCTION_EXIT_HANDLERS, handleIo, type VmxExitHost } from './exitHandlers';
import { INTERCEPTED_CLASSES, instructionExit, portInstructionExit, type NonRootView } from './nonRoot';
import { InsnClass, type Monitor } from '../../cpu/monitor';
import { VMCS, Vmcs } from './vmcs';
import { HOST_LAYOUT, RESERVED_MIB, prepareVmcs } from './vmLaunch';
import { VmExitRecorder, saveGuestState } from './vmExit';
import { VmxEvents } from './vmxEvents';
import { VirtualApic, ioApicScanner } from './virtualApic';
import { IOAPIC_BASE, LAPIC_BASE } from '../../machine/firmware';

export interface VmxState {
  vmcs: Record<string, string>;
  ept: EptState | null;
  shadow: ReturnType<ShadowMmu['getState']> | null;
  guestCr3: number;
}

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
  readonly monitor: Monitor;
  private readonly base: number;
  private readonly exits: VmExitRecorder;
  private readonly events: VmxEvents;
  private readonly eptExits: EptExits | undefined;
  /** APIC virtualization (TPR shadow, APIC-register virtualization), when on. */
  private readonly virtualApic: VirtualApic | undefined;
  /** What the processor's exit decisions read (nonRoot.ts). */
  private readonly nonRoot: NonRootView;

  /** See Technique.invisibleActions: RAM mapped in EPT on first touch; shadow fills while the guest's paging is off. */
  get invisibleActions(): number { return (this.eptExits?.firstTouchMaps ?? 0) + (this.shadow?.identityFills ?? 0); }

  constructor(private readonly host: VmHost) {
    const opt = (host.options.techniqueOptions ?? {}) as VmxOptions;
    // First-generation VT-x had no EPT: the 2006 profile forces shadow paging.
    const ept = opt.ept ?? host.profile.name !== 'vtx-2006';
    // APIC virtualization came with EPT's generation (Nehalem's TPR shadow + APIC-access page, then APICv).
    const apicVirtualization = ept && (opt.apicVirtualization ?? host.profile.name !== 'vtx-2006');
    // Virtual-interrupt delivery came with APIC-register virtualization (APICv): on with it by default.
    const virtualInterruptDelivery = apicVirtualization && (opt.virtualInterruptDelivery ?? true);
    this.options = { ept, interceptAllMsrs: opt.interceptAllMsrs ?? true, descriptorTableExiting: opt.descriptorTableExiting ?? false, rdtscExiting: opt.rdtscExiting ?? false, apicVirtualization, virtualInterruptDelivery };
    this.controls = kvmDefaults(this.options);
    const mem = host.machine.mem;
    this.base = mem.reservedBase;
    this.exits = new VmExitRecorder(host, this.vmcs);
    if (ept) {
      this.ept = new Ept(mem, this.base + HOST_LAYOUT.ept, this.base + HOST_LAYOUT.ept + HOST_LAYOUT.eptPool);
      this.eptExits = new EptExits(host, this.ept, this.controls, this.exits, () => this.events.injecting > 0);
      if (apicVirtualization) this.virtualApic = new VirtualApic(this.vmcs, this.controls, this.exits, this.eptExits, host.machine.lapic);
    } else {
      this.shadow = new ShadowMmu(host, {
        pdPhys: this.base + HOST_LAYOUT.shadowPd, poolStart: this.base + HOST_LAYOUT.shadowPool, poolEnd: this.base + (RESERVED_MIB << 20),
        // The host runs in root mode with its own address space: no VMM hole in the guest's.
        vmmPdIndex: NO_VMM_HOLE, vmmPde: 0,
      }, () => ({ cr0: this.cr0Shadow, cr3: this.guestCr3, cr4: this.cr4Shadow }));
      // Shadow paging write-protects the guest's page tables: every guest write to one is a #PF
      // exit (EXCEPTION_NMI) that the host emulates before updating the shadow (KVM's
      // kvm_mmu_pte_write); the shadow module reports it as a traced write.
      host.events.subscribe((ev) => {
        if (ev.kind !== 'shadow-paging' || ev.action !== 'pt-write') return;
        this.exits.exit(EXIT_REASON.EXCEPTION_NMI, ev.address, 0, ev.mnemonic, ['emulate'], `#PF: write to the write-protected guest page table at physical ${hex(ev.address)}`,
          { intr: intrInfo(PF_VEC, INTR_INFO.TYPE_HARD_EXCEPTION, true), errorCode: 3 });
      }, ['shadow-paging']);
    }
    this.events = new VmxEvents(host, this.vmcs, this.controls, this.shadow, this.exits, (e) => this.eptExits!.violationExit(e));
    this.nonRoot = { cpu: host.cpu, vmcs: this.vmcs, controls: this.controls, mem, shadowPaging: !ept };
    this.monitor = {
      interceptClasses: INTERCEPTED_CLASSES,
      onInstruction: (cpu, insn) => this.onInstruction(insn),
      onEvent: (cpu, ev) => this.events.onEvent(ev),
    };
  }

  get cpu(): Cpu { return this.host.cpu; }
  private get cr0Shadow(): number { return this.vmcs.get(VMCS.CR0_READ_SHADOW); }
  private get cr4Shadow(): number { return this.vmcs.get(VMCS.CR4_READ_SHADOW); }

  /** VMLAUNCH: the host sets up the VMCS and enters the guest. */
  start(image: LoadedImage): void {
    void image;
    const cpu = this.cpu;
    prepareVmcs(this.vmcs, this.controls, this.options, cpu, this.host.machine.mem, this.base);
    if (this.eptExits) {
      this.vmcs.write(VMCS.EPT_POINTER, this.ept!.eptp);
      const eptExits = this.eptExits;
      cpu.secondLevel = (gpa, write, lin, final) => eptExits.secondLevel(gpa, write, lin, final);
      if (this.virtualApic) {
        this.host.machine.mmio.interpose(LAPIC_BASE, this.virtualApic);
        eptExits.apicInterposed = true;
        if (this.virtualApic.virtualInterruptDelivery) this.startVirtualInterruptDelivery(this.virtualApic);
      }
    } else {
      // Shadow paging: the processor always pages, through the shadow; the guest sees its own CR0/CR3.
      this.guestCr3 = cpu.cr3;
      cpu.cr0 = cpu.cr0 | CR0_PG | CR0_WP;
      cpu.cr3 = this.shadow!.layout.pdPhys;
      this.shadow!.reset();
    }
    saveGuestState(cpu, this.vmcs);
    cpu.setMonitor(this.monitor);
    cpu.flushTlb();
  }

  /**
   * Virtual-interrupt delivery: the guest interrupt status follows the local APIC, the host scans the
   * I/O APIC for the EOI-exit bitmap, and the local APIC's interrupts are delivered by the processor.
   * An interrupt requested while the guest runs — not by an exit's handling nor by the processor's
   * self-IPI virtualization, and not while the VCPU is blocked in HLT — is the host's: it kicks the
   * VCPU out (an external-interrupt exit) so that VM entry loads RVI (no posted interrupts here).
   */
  private startVirtualInterruptDelivery(virtualApic: VirtualApic): void {
    const machine = this.host.machine, cpu = this.cpu;
    machine.mmio.interpose(IOAPIC_BASE, ioApicScanner(virtualApic, machine.ioapic));
    virtualApic.ioApicWritten((pin) => machine.ioapic.redirectionLow(pin));
    machine.lapic.onRequest = (vector) => {
      virtualApic.statusChanged();
      if (this.executing || cpu.halted) return;
      this.exits.exit(EXIT_REASON.EXTERNAL_INTERRUPT, 0, 0, '', [], `vector ${vector} requested by a device: the host kicks the VCPU, VM entry loads RVI`,
        { intr: intrInfo(vector, INTR_INFO.TYPE_EXT_INTR, false) });
    };
    this.events.deliversVirtually = () => {
      if (!machine.interruptFromApic) return false;
      virtualApic.statusChanged();
      return true;
    };
    virtualApic.statusChanged();
  }

  /** Inside `execute`: the guest runs or an exit is handled (a device's request is no host interrupt). */
  private executing = false;

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
      this.executing = true;
      try {
        return cpu.run(left);
      } catch (e) {
        if (e instanceof EptViolation && guard < 1_000_000) { this.eptExits!.violationExit(e); continue; }
        if (e instanceof TripleFault) this.exits.exit(EXIT_REASON.TRIPLE_FAULT, 0, 0, '', [], 'triple fault: the guest is shut down');
        throw e;
      } finally {
        this.executing = false;
      }
    }
  }

  // =============================================================================================
  // Instruction exits: the processor decides (nonRoot.ts), the host's handler runs (exitHandlers.ts)
  // =============================================================================================

  private onInstruction(insn: Insn): boolean {
    if (this.events.injecting) return false;
    if (insn.cls & InsnClass.IO) {
      // The most frequent exit (a guest polling a device): its decision and handler directly.
      const io = portInstructionExit(this.nonRoot, insn);
      if (io === 'cpu' || io === 'done') return false;
      this.exits.instruction(io, insn.len, insn.mnemonic);
      return handleIo(this, insn);
    }
    const decision = instructionExit(this.nonRoot, insn);
    if (decision === 'cpu') return false;
    if (decision === 'done') return true;
    this.exits.instruction(decision, insn.len, insn.mnemonic);
    const handler = INSTRUCTION_EXIT_HANDLERS[decision.reason];
    if (!handler) throw new Error(`no exit handler for ${exitReasonName(decision.reason)}`);
    return handler(this, insn);
  }

  /** VM entry after an instruction exit: RIP from the VMCS (the handler advanced it or not). */
  private resume(): void {
    // GUEST_RIP is never an owed guest-state field: read in place.
    this.cpu.nextEip = this.vmcs.narrowFields()[VMCS.GUEST_RIP] >>> 0;
    if (this.eptExits?.takeHostTouched()) this.cpu.flushTlb();
  }

  /** `GUEST_RIP += VM_EXIT_INSTRUCTION_LEN` (KVM skip_emulated_instruction). */
  skipInstruction(): void {
    const f = this.vmcs.narrowFields();
    f[VMCS.GUEST_RIP] = (f[VMCS.GUEST_RIP] + f[VMCS.VM_EXIT_INSTRUCTION_LEN]) >>> 0;
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
    if (this.eptExits) this.eptExits.asHost(() => insn.semantics(cpu, insn));
    else insn.semantics(cpu, insn);
    this.vmcs.set(VMCS.GUEST_RIP, cpu.nextEip >>> 0);
    this.resume();
    return true;
  }

  /** The handler injects a fault: the instruction does not complete (nor retire) and RIP stays. */
  injectFault(vector: number, errorCode: number): boolean {
    return this.events.injectFault(vector, errorCode);
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
    this.events.reset();
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
        ...(this.virtualApic ? { 'APIC accesses virtualized': this.virtualApic.virtualized } : {}),
        ...(this.shadow ? { 'shadow fills': this.shadow.stats.fills, 'shadow flushes': this.shadow.stats.flushes } : {}),
      },
    };
  }
}

registerTechnique({
  mode: 'hardware-assisted',
  title: 'VT-x: guest at CPL 0 in VMX non-root operation, VMCS with KVM\'s controls, EPT or shadow paging',
  reservedMiB: RESERVED_MIB,
  create: (host) => new HardwareAssistedTechnique(host),
});
