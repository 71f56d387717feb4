/*
 * Events in non-root operation and VM-entry event injection (SDM Vol. 3C §26.2, §27.6): an external
 * interrupt exits (pin-based "external-interrupt exiting"), an exception exits when its bit is set in
 * the exception bitmap, and the host then injects what the guest must see through VM-entry event
 * injection (delivery through the guest's own IDT). Under shadow paging (no EPT) the #PF exit is
 * where the host fills the shadow (KVM handle_exception_nmi → the MMU's page fault).
 */
import { CS, PF_VEC } from '../../cpu/constants';
import type { Cpu } from '../../cpu/cpu';
import { CpuFault } from '../../cpu/fault';
import type { DeliveryEvent, EventKind } from '../../cpu/monitor';
import type { ShadowMmu } from '../shadowPaging';
import type { VmHost } from '../technique';
import { prefaultEventDelivery } from '../bt/virtualMmu';
import { INTR_INFO, PIN, intrInfo, type KvmControls } from './controls';
import { EptViolation } from './eptExits';
import { EXIT_REASON } from './exitReasons';
import { VMCS, type Vmcs } from './vmcs';
import type { VmExitRecorder } from './vmExit';

/** A hidden (shadow) page fault fixed while an injected event was being delivered: deliver it again. */
class RetryInjection extends Error {}

/** Exceptions that push an error code (SDM Vol. 3A Table 6-1): the injection's "deliver error code" bit. */
const WITH_ERROR_CODE = new Set([8, 10, 11, 12, 13, 14, 17]);
const hex = (v: number) => '0x' + (v >>> 0).toString(16);

export class VmxEvents {
  /** Nesting depth of VM-entry event injections in progress (their faults belong to the delivery). */
  injecting = 0;
  /** The next event with this vector is an injection the exit handler asked for (no exit, no bitmap check). */
  private pendingInjection = -1;
  /**
   * Virtual-interrupt delivery (set when it is on): true when the external interrupt being delivered
   * is a virtual interrupt — the local APIC's, which the processor delivers itself (SDM §30.2.2).
   */
  deliversVirtually: (() => boolean) | undefined;

  constructor(
    private readonly host: VmHost,
    private readonly vmcs: Vmcs,
    private readonly controls: KvmControls,
    private readonly shadow: ShadowMmu | undefined,
    private readonly exits: VmExitRecorder,
    /** The EPT-violation exit handler (an injected event's delivery may touch an unmapped page). */
    private readonly eptViolationExit: (e: EptViolation) => void,
  ) {}

  private get cpu(): Cpu { return this.host.cpu; }

  /** After a restore: no injection in progress, none pending. */
  reset(): void {
    this.injecting = 0;
    this.pendingInjection = -1;
  }

  /** An exit handler injects a fault: the instruction does not complete (nor retire) and RIP stays. */
  injectFault(vector: number, errorCode: number): never {
    this.pendingInjection = vector;
    throw new CpuFault(vector, errorCode);
  }

  /** The monitor's event hook: exit, inject, or let the processor deliver it to the guest. */
  onEvent(ev: DeliveryEvent): boolean {
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
    if (ev.kind === 'external' && this.deliversVirtually?.()) {
      // Virtual-interrupt delivery: VISR[RVI] ← 1, SVI ← RVI, VIRR[RVI] ← 0 (the acknowledge that
      // picked it), then delivery through the guest's IDT — no VM exit, no VM-entry injection.
      if (this.host.events.wants('interrupt-injection')) {
        this.host.emit({ kind: 'interrupt-injection', eip: (cpu.segBase[CS] + cpu.eip) | 0, mnemonic: '', cost: 0, vector: ev.vector, state: 'delivered', text: `vector ${ev.vector} delivered by the processor (virtual-interrupt delivery): no VM exit` });
      } else this.host.tally('interrupt-injection', 0);
      this.deliverGuarded(ev.vector, 'external', 0, 0, ev.eip);
      return true;
    }
    if (ev.kind === 'external' && (c.pin & PIN.EXT_INTR_MASK)) {
      this.exits.exit(EXIT_REASON.EXTERNAL_INTERRUPT, 0, 0, '', [], `vector ${ev.vector}`, { intr: intrInfo(ev.vector, INTR_INFO.TYPE_EXT_INTR, false) });
      this.host.emit({ kind: 'interrupt-injection', eip: (cpu.segBase[CS] + cpu.eip) | 0, mnemonic: '', cost: this.host.cost('interruptInjection'), vector: ev.vector, state: 'delivered', text: `vector ${ev.vector} injected on VM entry` });
      this.inject(ev.vector, 'external', 0, 0, ev.eip);
      return true;
    }
    const exceptionLike = ev.kind === 'exception' || (ev.kind === 'software' && (ev.vector === 3 || ev.vector === 4));
    if (exceptionLike && (c.exceptionBitmap & (1 << ev.vector))) {
      const hasCode = ev.errorCode !== undefined;
      const type = ev.kind === 'software' ? INTR_INFO.TYPE_SOFT_EXCEPTION : INTR_INFO.TYPE_HARD_EXCEPTION;
      const q = ev.vector === PF_VEC ? (ev.address ?? 0) >>> 0 : 0;
      this.exits.exit(EXIT_REASON.EXCEPTION_NMI, q, 0, '', [], `vector ${ev.vector}${hasCode ? `, error code ${hex(ev.errorCode!)}` : ''}${ev.vector === PF_VEC ? `, address ${hex(q)}` : ''}`,
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

  /**
   * VM-entry event injection (VM_ENTRY_INTR_INFO_FIELD): delivers the event through the guest's IDT
   * now. Hidden page faults and EPT violations met during delivery are fixed and delivery restarts
   * (as the IDT-vectoring information makes KVM re-inject the event).
   */
  private inject(vector: number, kind: EventKind, errorCode: number, address: number, returnEip: number): void {
    const type = kind === 'external' ? INTR_INFO.TYPE_EXT_INTR : kind === 'software' ? INTR_INFO.TYPE_SOFT_INTR : kind === 'nmi' ? INTR_INFO.TYPE_NMI : INTR_INFO.TYPE_HARD_EXCEPTION;
    this.vmcs.set(VMCS.VM_ENTRY_INTR_INFO_FIELD, intrInfo(vector, type, kind === 'exception' && WITH_ERROR_CODE.has(vector)));
    this.vmcs.set(VMCS.VM_ENTRY_EXCEPTION_ERROR_CODE, errorCode >>> 0);
    this.deliverGuarded(vector, kind, errorCode, address, returnEip);
    this.vmcs.set(VMCS.VM_ENTRY_INTR_INFO_FIELD, 0);
  }

  /** Delivery through the guest's IDT, again after a hidden page fault or EPT violation met on the way. */
  private deliverGuarded(vector: number, kind: EventKind, errorCode: number, address: number, returnEip: number): void {
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
  }
}
