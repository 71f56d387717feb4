/*
 * `paravirtual` (Xen style, SPEC §5): the guest kernel runs at CPL 1, as a 32-bit Xen PV kernel
 * does, and asks the hypervisor for what it may not do itself through `vmcall` hypercalls with
 * Xen's numbers and x86-32 register convention (EAX = number, EBX, ECX, EDX, ESI, EDI = arguments,
 * result in EAX, no other register changes; reference §2b). Its virtual IF is the
 * `evtchn_upcall_mask` byte of vcpu_info 0 in the shared-info page (ESI at entry), which the guest
 * writes with plain stores; events (the PIT's IRQ 0, the one-shot timer of set_timer_op) are
 * delivered through the trap table the guest registered (or its IDT, or its event callback) when
 * unmasked, and marked pending in `evtchn_upcall_pending` when masked.
 *
 * Everything not paravirtualized behaves as in trap-and-emulate (ring1Vmm.ts): privileged
 * instructions still trap and are emulated (what Xen's `emulate_privileged_op` does), critical
 * instructions still misbehave — the quick fixes of the language server exist to remove them.
 *
 * Memory: while the guest's paging is off, an identity shadow maps guest RAM (Xen builds the
 * initial tables of a PV domain; this is the equivalent). Once it enables paging, its own page
 * tables are the real ones (direct paging, Xen SOSP'03 §2.1.2): CR3 loads (`mmuext_op NEW_BASEPTR`,
 * or a trapped MOV to CR3) validate the directory and install the hypervisor's PDE for its hole
 * at the top; updates go through `mmu_update` / `update_va_mapping`, which validate each entry.
 */
import { CR0_PG, CR0_TS, CR0_WP, CR4_PSE, PFEC_P, PFEC_RSVD, PFEC_U, PFEC_W, IF, PTE_A, PTE_D, PTE_P, SS, CS } from '../cpu/constants';
import type { Cpu } from '../cpu/cpu';
import { CpuFault } from '../cpu/fault';
import type { Insn } from '../cpu/insn';
import { InsnClass } from '../cpu/monitor';
import { iret as cpuIret } from '../cpu/transfers';
import type { StopReason } from '../machine/machine';
import {
  CONSOLEIO_read, CONSOLEIO_write, EFAULT, EINVAL, ENOSYS, EPERM, EVTCHNOP_bind_virq, EVTCHNOP_close, EVTCHNOP_send, EVTCHNOP_unmask,
  HC, MMUEXT, MMU_MACHPHYS_UPDATE, MMU_NORMAL_PT_UPDATE, MMU_PT_UPDATE_PRESERVE_AD, PHYSDEVOP_set_iobitmap, PHYSDEVOP_set_iopl,
  SCHEDOP_block, SCHEDOP_poll, SCHEDOP_shutdown, SCHEDOP_yield, SHARED_INFO_ADDR, SHUTDOWN_REASONS, UVMF_INVLPG, UVMF_TLB_FLUSH,
  VCPU_ARCH_CR2, VCPU_UPCALL_MASK, VCPU_UPCALL_PENDING, VCPUOP_down, VCPUOP_is_up, VCPUOP_up, XEN_VERSION, hypercallName,
} from './hypercalls';
import { DeviceTrapAccount, reportMmio, runInstructionOnce } from './mmioEmulation';
import { Ring1Vmm, type GuestGate } from './ring1Vmm';
import { RING1_RESERVED_MIB, VMM_PD_INDEX, vmmAreaPde } from './ringCompression';
import { registerTechnique, type TechniqueView, type VmHost } from './technique';

/** Real IDT vector the VMM uses to deliver the event-channel upcall (set_callbacks). */
export const UPCALL_VECTOR = 0xff;
/** Entries one mmu_update / mmuext_op invocation handles before Xen preempts it (see `continueBatch`). */
const PREEMPT_BATCH = 1024;
/** Xen's flag in the count of a continued mmu_update / mmuext_op: `done` so far is in *pdone. */
const MMU_UPDATE_PREEMPTED = 0x80000000;
const hex = (v: number) => '0x' + (v >>> 0).toString(16);

interface TrapInfo { flags: number; cs: number; address: number }

interface PvState {
  trapTable: Array<[number, TrapInfo]>;
  callbacks: { eventCs: number; eventEip: number; failsafeCs: number; failsafeEip: number };
  kernelStack: [number, number] | null;
  /** set_timer_op deadline in simulated cycles (-1: none). */
  timerDeadline: number;
  direct: boolean;
  upcallPending: boolean;
  boundVirqs: Array<[number, number]>;
}

class HypercallError {
  constructor(readonly errno: number) {}
}

export class Paravirtual extends Ring1Vmm {
  readonly mode = 'paravirtual' as const;
  override readonly interceptClasses = InsnClass.IRET | InsnClass.IO | InsnClass.VMCALL;
  private pv: PvState = {
    trapTable: [], callbacks: { eventCs: 0, eventEip: 0, failsafeCs: 0, failsafeEip: 0 },
    kernelStack: null, timerDeadline: -1, direct: false, upcallPending: false, boundVirqs: [],
  };
  private trapTable = new Map<number, TrapInfo>();

  constructor(host: VmHost) { super(host); }

  private get mem() { return this.host.machine.mem; }

  protected override onStart(): void {
    const mem = this.mem, cpu = this.cpu;
    // A PV guest gets the shared-info page in ESI (SPEC §5); the Multiboot information stays in EBX,
    // as on every other technique, so the same kernel boots unchanged.
    mem.bytes.fill(0, SHARED_INFO_ADDR, SHARED_INFO_ADDR + 0x1000);
    // Events masked exactly when the entry state has IF = 0 (SPEC §3: it does).
    mem.write8(SHARED_INFO_ADDR + VCPU_UPCALL_MASK, this.vcpu.if ? 0 : 1);
    cpu.regs[6] = SHARED_INFO_ADDR;
  }

  // ---- the virtual IF is the shared-info mask byte ----
  override virtualIf(): boolean { return this.mem.read8(SHARED_INFO_ADDR + VCPU_UPCALL_MASK) === 0; }
  override setVirtualIf(on: boolean): void {
    this.mem.write8(SHARED_INFO_ADDR + VCPU_UPCALL_MASK, on ? 0 : 1);
    this.vcpu.if = on;
    if (on) this.injectPending();
  }
  protected override onPending(): void { this.mem.write8(SHARED_INFO_ADDR + VCPU_UPCALL_PENDING, 1); }
  protected override injectPending(): void {
    if (!this.virtualIf()) return;
    if (this.pv.upcallPending) { this.pv.upcallPending = false; this.cpu.raiseIrq(UPCALL_VECTOR); }
    else super.injectPending();
    if (this.vcpu.pending.length === 0 && !this.pv.upcallPending) this.mem.write8(SHARED_INFO_ADDR + VCPU_UPCALL_PENDING, 0);
  }
  /** Every entry into the hypervisor notices an unmask the guest did with a plain store. */
  protected override beforeEvent(): void {
    if (this.virtualIf() && (this.vcpu.pending.length || this.pv.upcallPending)) this.injectPending();
  }
  protected override afterEmulation(): void { this.beforeEvent(); }

  protected override routeExternal(vector: number): boolean {
    if (vector !== UPCALL_VECTOR) return false;
    if (!this.virtualIf()) { this.pv.upcallPending = true; this.onPending(); return true; }
    return false; // delivered through the event callback (guestGate below)
  }

  /** The trap table registered with set_trap_table wins over the guest's IDT. */
  protected override guestGate(vector: number): GuestGate | undefined {
    if (vector === UPCALL_VECTOR && this.pv.callbacks.eventEip) {
      // Xen masks events on callback entry (an interrupt-gate-like delivery).
      return gateFrom({ flags: 4, cs: this.pv.callbacks.eventCs, address: this.pv.callbacks.eventEip });
    }
    const t = this.trapTable.get(vector);
    if (t) return gateFrom(t);
    return super.guestGate(vector);
  }

  protected override fixFrame(withErrorCode: boolean, ifBefore: boolean): void {
    const cpu = this.cpu;
    const lin = (cpu.segBase[SS] + cpu.regs[4] + (withErrorCode ? 12 : 8)) | 0;
    try {
      const f = cpu.readLinear32(lin);
      cpu.writeLinear32(lin, ifBefore ? f | IF : f & ~IF);
    } catch { /* the frame was just written: it is mapped */ }
  }

  protected override kernelStack(): [number, number] | undefined {
    return this.pv.kernelStack ?? super.kernelStack();
  }

  /**
   * Xen's forced-emulation prefix: `ud2; .ascii "xen"` before CPUID (XEN_EMULATE_PREFIX, Xen
   * emul-inv-op.c) makes the #UD a request to emulate the CPUID that follows — the way a PV kernel
   * gets the CPUID the hypervisor wants it to see. Anything else raising #UD is the guest's.
   */
  protected override onInvalidOpcode(cpu: Cpu): boolean {
    const lin = this.guestEip();
    const bytes: number[] = [];
    for (let k = 0; k < 7; k++) {
      const p = this.shadow.guestPhys((lin + k) >>> 0);
      if (p < 0 || p >= this.mem.ramSize) return false;
      bytes.push(this.mem.read8(p));
    }
    if (bytes.join(',') !== '15,11,120,101,110,15,162') return false;
    let insn: Insn;
    try { insn = cpu.decodeAt((lin + 5) | 0); } catch { return false; }
    cpu.nextEip = (cpu.eip + 7) >>> 0;
    insn.semantics(cpu, insn);
    cpu.eip = (cpu.eip + 7) >>> 0;
    cpu.icount += 2; // ud2 and cpuid, as the guest wrote them
    this.host.count('traps', 'cpuid');
    this.host.emit({ kind: 'trap', vector: 6, action: 'emulated', eip: lin, mnemonic: 'cpuid', cost: this.host.cost('trapRoundTrip', 'emulate'), text: '#UD → Xen emulate prefix: CPUID emulated by the hypervisor' });
    return true;
  }

  // ---- direct paging ----
  protected override pagingChanged(reason: string): void {
    const v = this.vcpu, cpu = this.cpu;
    if (!(v.cr0 & CR0_PG)) { this.pv.direct = false; cpu.mmioFaults = false; super.pagingChanged(reason); cpu.cr4 = 0; return; }
    this.shadow.detach();
    this.pv.direct = true;
    cpu.mmioFaults = true;
    // The hypervisor's hole: its PDE in every guest directory (Xen reserves the top of each space).
    const pd = (v.cr3 & ~0xfff) >>> 0;
    if (pd + 0x1000 <= this.mem.ramSize) this.mem.write32(pd + VMM_PD_INDEX * 4, vmmAreaPde(this.reservedBase));
    cpu.cr4 = v.cr4 & CR4_PSE;
    cpu.setCr3(pd);
    this.host.emit({ kind: 'shadow-paging', action: 'flush', address: pd, eip: this.guestEip(), mnemonic: '', cost: this.host.cost('tlbFlush'), text: `direct paging: the guest's directory ${hex(pd)} is the real CR3 (${reason})` });
  }

  protected override handlePageFault(lin: number, errorCode: number): 'fixed' | 'stuck' | { guestErrorCode: number } {
    if (!this.pv.direct) return super.handlePageFault(lin, errorCode);
    // The real tables are the guest's: every #PF is the guest's own, except a kernel write to a
    // read-only page while the guest's virtual CR0.WP is clear: the real CR0.WP stays set (the
    // hypervisor's own protection needs it), so the hypervisor performs that one write for the
    // guest, as it would be on hardware with WP = 0.
    if ((errorCode & (PFEC_P | PFEC_W | PFEC_U)) === (PFEC_P | PFEC_W) && !(this.vcpu.cr0 & CR0_WP) && this.writeWithoutWp()) return 'fixed';
    // A device's registers: Xen does not let a PV guest map device frames (no I/O memory
    // permission), so each access faults into the hypervisor, which emulates it on the device model.
    if ((errorCode & PFEC_RSVD) && this.emulateMmio(lin, (errorCode & PFEC_W) !== 0)) return 'fixed';
    // Xen stores CR2 in vcpu_info.
    this.mem.write32(SHARED_INFO_ADDR + VCPU_ARCH_CR2, lin);
    return { guestErrorCode: errorCode };
  }

  private emulateMmio(lin: number, write: boolean): boolean {
    const cpu = this.cpu, at = this.guestEip();
    let phys = -1;
    try { cpu.mmioFaults = false; phys = cpu.translate(lin | 0, false, false); } catch { /* not mapped after all */ } finally { cpu.mmioFaults = true; }
    const mnemonic = runInstructionOnce(cpu, () => { cpu.mmioFaults = false; }, () => { cpu.mmioFaults = true; });
    if (mnemonic === undefined) return false;
    reportMmio(this.host, at, lin, phys, write, mnemonic);
    return true;
  }

  /** Runs the faulting instruction once with the real CR0.WP clear; false if it faults anyway. */
  private writeWithoutWp(): boolean {
    const cpu = this.cpu, cr0 = cpu.cr0, eip = cpu.eip, at = this.guestEip();
    cpu.cr0 = cr0 & ~CR0_WP;
    cpu.flushTlb();
    try {
      cpu.execOne(cpu.decodeAt((cpu.segBase[CS] + eip) | 0));
      this.host.count('traps', 'wp-write');
      this.host.emit({ kind: 'trap', vector: 14, action: 'emulated', eip: at, mnemonic: '', cost: this.host.cost('trapRoundTrip', 'emulate'), text: '#PF: kernel write to a read-only page with the guest\'s CR0.WP clear, done by the hypervisor' });
      return true;
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      cpu.eip = eip;
      return false;
    } finally {
      cpu.cr0 = cr0;
      cpu.flushTlb();
    }
  }

  /**
   * Direct paging: a guest access to a device frame (`cpu.mmioFaults` makes the walk report it) is
   * the hypervisor's emulation of it (`emulateMmio`'s trap, accounted once per instruction), done by
   * the CPU at the device's address. Guest paging off: the shadow's rule.
   */
  override deviceAccess(cpu: Cpu, lin: number, write: boolean, user: boolean, device: number): number {
    if (!this.pv.direct) return super.deviceAccess(cpu, lin, write, user, device);
    if (device < 0) return -1;
    this.deviceTraps.account(lin, device, write);
    return device;
  }
  private readonly deviceTraps = new DeviceTrapAccount(this.host);

  protected override invlpg(lin: number): void {
    if (this.pv.direct) this.cpu.invalidatePage(lin);
    else super.invlpg(lin);
  }

  // ---- the set_timer_op timer ----
  override runSlice(budget: number): StopReason {
    const cpu = this.cpu;
    if (this.pv.timerDeadline >= 0) {
      const left = this.pv.timerDeadline - cpu.time;
      if (left <= 0) this.fireTimer();
      else budget = Math.min(budget, Math.max(1, left));
    }
    return super.runSlice(budget);
  }

  private fireTimer(): void {
    this.pv.timerDeadline = -1;
    this.host.emit({ kind: 'interrupt-injection', vector: UPCALL_VECTOR, state: this.virtualIf() ? 'delivered' : 'pending', eip: this.guestEip(), mnemonic: '', cost: this.host.cost('interruptInjection'), text: 'set_timer_op timer expired: VIRQ_TIMER event' });
    if (this.pv.callbacks.eventEip) this.cpu.raiseIrq(UPCALL_VECTOR);
  }

  // ---- hypercalls ----
  override onInstruction(cpu: Cpu, insn: Insn): boolean {
    // The hypercall instruction, by its row's intercept class (VMCALL)
    if (!(insn.cls & InsnClass.VMCALL)) return super.onInstruction(cpu, insn);
    if (cpu.cpl !== 1) return false; // from guest user mode: #UD, as on hardware without a hypervisor interface
    const r = cpu.regs, nr = r[0] >>> 0;
    const args = [r[3], r[1], r[2], r[6], r[7]];
    const name = hypercallName(nr);
    cpu.nextEip = (cpu.eip + insn.len) >>> 0;
    let result: number | undefined;
    let text: string;
    try {
      const out = this.hypercall(nr, args);
      result = out.result; text = out.text;
    } catch (e) {
      if (e instanceof HypercallError) { result = e.errno; text = `error ${e.errno}`; }
      else if (e instanceof CpuFault) { result = EFAULT; text = `bad guest address (${e.toString()})`; }
      else throw e;
    }
    if (result !== undefined) r[0] = result;
    this.host.count('hypercalls', name);
    this.host.emit({ kind: 'hypercall', number: nr, name, args: args.map((a) => a >>> 0), ...(result !== undefined ? { result } : {}), eip: insn.linear >>> 0, mnemonic: 'vmcall', cost: this.host.cost('hypercall'), text: `${name}(${args.slice(0, 3).map(hex).join(', ')})${result !== undefined ? ` = ${result}` : ''}${text ? `: ${text}` : ''}` });
    this.beforeEvent();
    return true;
  }

  /** Performs hypercall `nr`; throws HypercallError for a negative errno. */
  private hypercall(nr: number, a: number[]): { result?: number; text: string } {
    const cpu = this.cpu, v = this.vcpu, machine = this.host.machine;
    switch (nr) {
      case HC.set_trap_table: return { result: this.setTrapTable(a[0] >>> 0), text: `${this.trapTable.size} trap entries` };
      case HC.mmu_update: return this.mmuUpdate(a[0] >>> 0, a[1] >>> 0, a[2] >>> 0);
      case HC.set_gdt: {
        const frames = a[0] >>> 0, entries = a[1] >>> 0;
        if (entries === 0 || entries > 8192) throw new HypercallError(EINVAL);
        const frame = this.guestRead32(frames);
        v.gdtrBase = (frame << 12) >>> 0; v.gdtrLimit = entries * 8 - 1;
        this.syncGdt();
        return { result: 0, text: `GDT at frame ${hex(frame)}, ${entries} entries` };
      }
      case HC.stack_switch: this.pv.kernelStack = [a[0] & 0xffff, a[1]]; return { result: 0, text: `kernel stack ${hex(a[0] & 0xffff)}:${hex(a[1])}` };
      case HC.set_callbacks:
        this.pv.callbacks = { eventCs: a[0] & 0xffff, eventEip: a[1] >>> 0, failsafeCs: a[2] & 0xffff, failsafeEip: a[3] >>> 0 };
        return { result: 0, text: `event callback ${hex(a[0] & 0xffff)}:${hex(a[1])}` };
      case HC.fpu_taskswitch:
        if (a[0]) v.cr0 |= CR0_TS; else v.cr0 &= ~CR0_TS;
        cpu.cr0 = this.realCr0();
        return { result: 0, text: a[0] ? 'CR0.TS set' : 'CR0.TS cleared' };
      case HC.update_descriptor: {
        const ma = a[0] >>> 0;
        if (a[1] !== 0 || (ma & 7) || ma + 8 > machine.mem.ramSize) throw new HypercallError(EINVAL);
        machine.mem.write32(ma, a[2]); machine.mem.write32(ma + 4, a[3]);
        return { result: 0, text: `descriptor at ${hex(ma)} = ${hex(a[3])}:${hex(a[2])}` };
      }
      case HC.update_va_mapping: return this.updateVaMapping(a[0] >>> 0, a[1], a[2], a[3]);
      case HC.set_timer_op: {
        const ns = a[0] >>> 0, hi = a[1] >>> 0;
        if (ns === 0 && hi === 0) { this.pv.timerDeadline = -1; return { result: 0, text: 'timer cancelled' }; }
        const cycles = Math.round((hi * 2 ** 32 + ns) * this.host.machine.options.cpuHz / 1e9);
        this.pv.timerDeadline = cycles;
        return { result: 0, text: `timer at ${hi * 2 ** 32 + ns} ns of system time` };
      }
      case HC.xen_version: return a[0] === 0 ? { result: XEN_VERSION, text: 'Xen 3.4 interface' } : { result: ENOSYS, text: 'only XENVER_version' };
      case HC.console_io: {
        const cmd = a[0], count = a[1] >>> 0, buf = a[2] >>> 0;
        if (cmd === CONSOLEIO_read) return { result: 0, text: 'no console input' };
        if (cmd !== CONSOLEIO_write) return { result: ENOSYS, text: `console_io command ${cmd}` };
        if (count > 0x10000) throw new HypercallError(EINVAL);
        const bytes: number[] = [];
        for (let k = 0; k < count; k++) bytes.push(this.guestRead8(buf + k));
        const uart = machine.uart;
        for (const b of bytes) { uart.output.push(b); machine.onConsoleByte(b); }
        return { result: 0, text: JSON.stringify(Buffer.from(bytes).toString('latin1')) };
      }
      case HC.iret: return this.hypercallIret();
      case HC.vcpu_op: {
        const cmd = a[0], id = a[1];
        if (id !== 0) throw new HypercallError(EINVAL);
        if (cmd === VCPUOP_is_up || cmd === VCPUOP_up) return { result: cmd === VCPUOP_is_up ? 1 : 0, text: 'vcpu 0 is up' };
        if (cmd === VCPUOP_down) { machine.finish('halt'); return { result: 0, text: 'vcpu 0 down: the domain has no running vcpu' }; }
        return { result: ENOSYS, text: `vcpu_op command ${cmd}` };
      }
      case HC.mmuext_op: return this.mmuextOp(a[0] >>> 0, a[1] >>> 0, a[2] >>> 0);
      case HC.sched_op: {
        const cmd = a[0];
        if (cmd === SCHEDOP_yield) return { result: 0, text: 'yield' };
        if (cmd === SCHEDOP_block || cmd === SCHEDOP_poll) return this.block();
        if (cmd === SCHEDOP_shutdown) {
          const reason = this.guestRead32(a[1] >>> 0);
          machine.finish('shutdown', reason);
          return { result: 0, text: `shutdown (${SHUTDOWN_REASONS[reason] ?? `reason ${reason}`})` };
        }
        return { result: ENOSYS, text: `sched_op command ${cmd}` };
      }
      case HC.event_channel_op: {
        const cmd = a[0], arg = a[1] >>> 0;
        if (cmd === EVTCHNOP_bind_virq) {
          const virq = this.guestRead32(arg), port = this.pv.boundVirqs.length + 1;
          this.pv.boundVirqs.push([virq, port]);
          this.guestWrite32(arg + 8, port);
          return { result: 0, text: `VIRQ ${virq} bound to port ${port}` };
        }
        if (cmd === EVTCHNOP_unmask) { this.injectPending(); return { result: 0, text: 'unmask' }; }
        if (cmd === EVTCHNOP_send || cmd === EVTCHNOP_close) return { result: 0, text: cmd === EVTCHNOP_send ? 'send' : 'close' };
        return { result: ENOSYS, text: `event_channel_op command ${cmd}` };
      }
      case HC.physdev_op: {
        const cmd = a[0], arg = a[1] >>> 0;
        if (cmd === PHYSDEVOP_set_iopl) {
          const iopl = this.guestRead32(arg);
          if (iopl > 3) throw new HypercallError(EINVAL);
          v.iopl = iopl;
          return { result: 0, text: `virtual IOPL = ${iopl}` };
        }
        if (cmd === PHYSDEVOP_set_iobitmap) return { result: 0, text: 'I/O bitmap (all ports go through the VMM)' };
        return { result: ENOSYS, text: `physdev_op command ${cmd}` };
      }
      default: return { result: ENOSYS, text: 'no such hypercall' };
    }
  }

  private guestRead32(lin: number): number {
    const p = this.shadow.guestPhys(lin);
    if (p < 0 || p + 4 > this.mem.ramSize) throw new HypercallError(EFAULT);
    return this.mem.read32(p) >>> 0;
  }
  private guestRead8(lin: number): number {
    const p = this.shadow.guestPhys(lin >>> 0);
    if (p < 0 || p >= this.mem.ramSize) throw new HypercallError(EFAULT);
    return this.mem.read8(p);
  }
  private guestWrite32(lin: number, val: number): void {
    const p = this.shadow.guestPhys(lin);
    if (p < 0 || p + 4 > this.mem.ramSize) throw new HypercallError(EFAULT);
    this.mem.write32(p, val);
  }

  private setTrapTable(ptr: number): number {
    this.trapTable.clear();
    if (ptr === 0) return 0;
    for (let k = 0; k < 256; k++) {
      const w0 = this.guestRead32(ptr + k * 8), address = this.guestRead32(ptr + k * 8 + 4);
      if (address === 0) break;
      const vector = w0 & 0xff, flags = (w0 >>> 8) & 0xff, cs = (w0 >>> 16) & 0xffff;
      if ((cs & 0xfffc) === 0) throw new HypercallError(EPERM);
      this.trapTable.set(vector, { flags, cs, address });
    }
    return 0;
  }

  /** Checks a page-table entry value a guest wants installed (Xen's get_page_from_l1e, reduced). */
  private validEntry(val: number): boolean {
    if (!(val & PTE_P)) return true;
    return ((val & ~0xfff) >>> 0) < this.mem.ramSize;
  }

  private mmuUpdate(reqs: number, count: number, donePtr: number): { result: number; text: string } {
    const { left, before } = this.resumeBatch(count, donePtr);
    let done = 0, result = 0;
    for (; done < Math.min(left, PREEMPT_BATCH); done++) {
      const ptrLo = this.guestRead32(reqs + done * 16), ptrHi = this.guestRead32(reqs + done * 16 + 4);
      const val = this.guestRead32(reqs + done * 16 + 8);
      const cmd = ptrLo & 3, ma = (ptrLo & ~3) >>> 0;
      if (cmd === MMU_MACHPHYS_UPDATE) continue; // machine = physical here: the M2P table is the identity
      if ((cmd !== MMU_NORMAL_PT_UPDATE && cmd !== MMU_PT_UPDATE_PRESERVE_AD) || ptrHi !== 0 || ma + 4 > this.mem.ramSize || !this.validEntry(val)) { result = EINVAL; break; }
      if (this.isHoleEntry(ma)) { result = EPERM; break; }
      const old = this.mem.read32(ma);
      this.mem.write32(ma, cmd === MMU_PT_UPDATE_PRESERVE_AD ? (val & ~(PTE_A | PTE_D)) | (old & (PTE_A | PTE_D)) : val);
    }
    if (!result && done < left) return this.continueBatch(HC.mmu_update, reqs + done * 16, left - done, donePtr, before + done);
    if (donePtr) this.guestWrite32(donePtr, before + done);
    if (result) throw new HypercallError(result);
    return { result: 0, text: `${before + done} update${before + done === 1 ? '' : 's'} validated` };
  }

  /** A batched MMU hypercall's count and what its earlier invocations did (Xen: `if (count & MMU_UPDATE_PREEMPTED) copy_from_guest(&done, pdone)`). */
  private resumeBatch(count: number, donePtr: number): { left: number; before: number } {
    if (!(count & MMU_UPDATE_PREEMPTED)) return { left: count >>> 0, before: 0 };
    return { left: (count & ~MMU_UPDATE_PREEMPTED) >>> 0, before: donePtr ? this.guestRead32(donePtr) : 0 };
  }

  /**
   * Xen preempts a long mmu_update / mmuext_op (hypercall_preempt_check) and continues it with
   * hypercall_create_continuation: the guest's registers are rewritten to the rest of the batch —
   * EBX the next entry, ECX the count left | MMU_UPDATE_PREEMPTED, EAX the hypercall number — and
   * the hypercall instruction runs again. Each invocation is one guest instruction, so a count of
   * 2^31 spends the guest's instruction budget instead of holding the host for minutes.
   */
  private continueBatch(nr: number, next: number, left: number, donePtr: number, doneSoFar: number): { result: number; text: string } {
    const cpu = this.cpu;
    if (donePtr) this.guestWrite32(donePtr, doneSoFar);
    cpu.regs[3] = next | 0;
    cpu.regs[1] = (left | MMU_UPDATE_PREEMPTED) | 0;
    cpu.nextEip = cpu.eip; // the VMCALL again
    cpu.breakBlock = true;
    return { result: nr, text: `preempted after ${doneSoFar} entries, ${left} left: continued (the hypercall runs again)` };
  }

  /** The hypervisor's own PDE in the current directory may not be changed. */
  private isHoleEntry(ma: number): boolean {
    return this.pv.direct && ma === (((this.vcpu.cr3 & ~0xfff) + VMM_PD_INDEX * 4) >>> 0);
  }

  private updateVaMapping(va: number, lo: number, hi: number, flags: number): { result: number; text: string } {
    const v = this.vcpu;
    if (!(v.cr0 & CR0_PG) || hi !== 0 || !this.validEntry(lo) || (va >>> 22) === VMM_PD_INDEX) throw new HypercallError(EINVAL);
    const pde = this.mem.read32(((v.cr3 & ~0xfff) + ((va >>> 22) << 2)) >>> 0);
    if (!(pde & PTE_P) || (pde & 0x80)) throw new HypercallError(EINVAL);
    const pteAddr = ((pde & ~0xfff) + (((va >>> 12) & 0x3ff) << 2)) >>> 0;
    if (pteAddr + 4 > this.mem.ramSize) throw new HypercallError(EINVAL);
    this.mem.write32(pteAddr, lo);
    if ((flags & 3) === UVMF_INVLPG) this.invlpg(va);
    else if ((flags & 3) === UVMF_TLB_FLUSH) this.flushGuestTlb();
    return { result: 0, text: `PTE for ${hex(va)} = ${hex(lo)}` };
  }

  private flushGuestTlb(): void {
    if (this.pv.direct) this.cpu.flushTlb();
    else this.shadow.reset('guest TLB flush');
  }

  private mmuextOp(ops: number, count: number, donePtr: number): { result: number; text: string } {
    const v = this.vcpu;
    const { left, before } = this.resumeBatch(count, donePtr);
    let done = 0;
    const what: string[] = [];
    try {
      for (; done < Math.min(left, PREEMPT_BATCH); done++) {
        const cmd = this.guestRead32(ops + done * 12), arg1 = this.guestRead32(ops + done * 12 + 4), arg2 = this.guestRead32(ops + done * 12 + 8);
        switch (cmd) {
          case MMUEXT.PIN_L1_TABLE: case MMUEXT.PIN_L2_TABLE: case MMUEXT.UNPIN_TABLE: {
            const base = (arg1 << 12) >>> 0;
            if (base + 0x1000 > this.mem.ramSize) throw new HypercallError(EINVAL);
            if (cmd !== MMUEXT.UNPIN_TABLE) for (let k = 0; k < 1024; k++) if (!this.validEntry(this.mem.read32(base + k * 4))) throw new HypercallError(EINVAL);
            what.push(cmd === MMUEXT.UNPIN_TABLE ? 'unpin' : 'pin'); break;
          }
          case MMUEXT.NEW_BASEPTR: {
            const base = (arg1 << 12) >>> 0;
            if (base + 0x1000 > this.mem.ramSize) throw new HypercallError(EINVAL);
            v.cr3 = base;
            this.pagingChanged('mmuext_op NEW_BASEPTR');
            what.push(`new base ${hex(base)}`); break;
          }
          case MMUEXT.TLB_FLUSH_LOCAL: case MMUEXT.TLB_FLUSH_MULTI: case MMUEXT.TLB_FLUSH_ALL: this.flushGuestTlb(); what.push('TLB flush'); break;
          case MMUEXT.INVLPG_LOCAL: case MMUEXT.INVLPG_MULTI: case MMUEXT.INVLPG_ALL: this.invlpg(arg1); what.push(`invlpg ${hex(arg1)}`); break;
          case MMUEXT.FLUSH_CACHE: what.push('cache flush'); break;
          case MMUEXT.SET_LDT: {
            const cpu = this.cpu;
            cpu.ldtrBase = arg1 | 0; cpu.ldtrLimit = arg2 ? arg2 * 8 - 1 : 0; cpu.ldtrAttr = arg2 ? 0x82 : 0; cpu.ldtrSel = 0;
            what.push(`LDT ${hex(arg1)}/${arg2}`); break;
          }
          default: throw new HypercallError(EINVAL);
        }
      }
    } catch (e) {
      if (donePtr) this.guestWrite32(donePtr, before + done);
      throw e;
    }
    if (done < left) return this.continueBatch(HC.mmuext_op, ops + done * 12, left - done, donePtr, before + done);
    if (donePtr) this.guestWrite32(donePtr, before + done);
    return { result: 0, text: what.length > 8 ? `${what.slice(0, 8).join(', ')} … (${before + done} in all)` : what.join(', ') };
  }

  /** HYPERVISOR_iret: [ESP] = EAX, then EIP, CS, EFLAGS (and ESP, SS to ring 3); restores IF. */
  private hypercallIret(): { result?: number; text: string } {
    const cpu = this.cpu;
    const eax = cpu.peek(0, 4);
    const flags = cpu.peek(12, 4);
    const csLin = (cpu.segBase[SS] + cpu.regs[4] + 8) | 0;
    const cs = cpu.peek(8, 4) & 0xffff;
    if ((cs & 3) === 0 && (cs & 0xfffc) !== 0) cpu.writeLinear32(csLin, cs | 1); // ring-0 selector → ring 1
    // A guest write near its GDT marks the real descriptors not present until the next resync;
    // the IRET below loads CS (and SS) from them.
    this.refreshGdt();
    cpu.regs[4] = (cpu.regs[4] + 4) | 0;
    cpuIret(cpu, 4);
    cpu.regs[0] = eax;
    this.setVirtualIf((flags & IF) !== 0);
    return { text: `to ${hex(cpu.segSel[CS])}:${hex(cpu.nextEip)} with IF=${(flags >> 9) & 1}` };
  }

  /** SCHEDOP_block: `sti; hlt` — unmask events, then sleep until one arrives. */
  private block(): { result: number; text: string } {
    const cpu = this.cpu, machine = this.host.machine;
    this.setVirtualIf(true);
    if (this.vcpu.pending.length || this.pv.upcallPending || cpu.injectedIrqs.length) return { result: 0, text: 'an event is pending' };
    const pit = machine.pit.nextEventCycle();
    const timer = this.pv.timerDeadline >= 0 ? this.pv.timerDeadline : Infinity;
    if (timer < pit && timer !== Infinity) {
      cpu.idleCycles += Math.max(0, timer - cpu.time);
      this.fireTimer();
      return { result: 0, text: 'blocked until the timer' };
    }
    cpu.halted = true;
    cpu.breakBlock = true;
    return { result: 0, text: 'blocked until the next event' };
  }

  protected override getExtraState(): unknown {
    return { ...structuredClone(this.pv), trapTable: [...this.trapTable] };
  }
  protected override setExtraState(s: unknown): void {
    const st = structuredClone(s) as PvState;
    this.pv = st;
    this.trapTable = new Map(st.trapTable);
    this.cpu.mmioFaults = st.direct;
  }

  override inspect(): TechniqueView {
    const base = super.inspect();
    const mem = this.mem;
    return {
      ...base,
      vcpu: {
        ...base.vcpu,
        'evtchn_upcall_mask': mem.read8(SHARED_INFO_ADDR + VCPU_UPCALL_MASK),
        'evtchn_upcall_pending': mem.read8(SHARED_INFO_ADDR + VCPU_UPCALL_PENDING),
        'paging': this.pv.direct ? 'direct (guest tables are the real ones)' : 'identity shadow (guest paging off)',
        'trap table entries': this.trapTable.size,
        'timer deadline (cycles)': this.pv.timerDeadline,
      },
    };
  }
}

function gateFrom(t: TrapInfo): GuestGate {
  // trap_info.flags: bits 0–1 DPL, bit 2 "interrupt gate" (clear IF / mask events on entry).
  const type = (t.flags & 4) ? 0x0e : 0x0f;
  const lo = ((t.cs & 0xffff) << 16) | (t.address & 0xffff);
  const hi = (t.address & 0xffff0000) | 0x8000 | ((t.flags & 3) << 13) | (type << 8);
  return { lo: lo | 0, hi: hi | 0 };
}

registerTechnique({
  mode: 'paravirtual',
  title: 'Xen-style: kernel at CPL 1, vmcall hypercalls, event mask in shared memory, direct paging',
  reservedMiB: RING1_RESERVED_MIB,
  create: (host) => new Paravirtual(host),
});
