/*
 * EPT in non-root operation (SDM Vol. 3C ch. 29): the CPU's second-level translation on its TLB
 * misses, and the host's handler of the exits it causes — KVM's TDP page fault: guest RAM is mapped
 * on first touch; beyond RAM the access is MMIO, emulated by the host (a device's registers at their
 * own address, else an unpopulated bus). Accesses to the APIC-access page exit with reason 44
 * (APIC_ACCESS) and Intel's qualification instead of an EPT violation.
 */
import type { Cpu } from '../../cpu/cpu';
import { LAPIC_BASE } from '../../machine/firmware';
import type { CostKey } from '../cost';
import type { VmHost } from '../technique';
import { UNPOPULATED } from '../bt/virtualMmu';
import { SECONDARY, type KvmControls } from './controls';
import { EPT_RWX, EPT_WRITE, type Ept } from './ept';
import { EXIT_REASON, apicAccessQualification, eptViolationQualification } from './exitReasons';
import type { VmExitRecorder } from './vmExit';

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

/** The host's work for an emulated access (cost model), shared by the frequent exits. */
const EMULATE_WORK: CostKey[] = ['emulate'];
const hex = (v: number) => '0x' + (v >>> 0).toString(16);

export class EptExits {
  /** While the host itself reads guest memory (no EPT exits; its TLB fills are dropped afterwards). */
  private hostAccess = false;
  private hostTouched = false;
  /** Guest-physical pages whose access the host is emulating as MMIO (unpopulated). */
  private readonly mmioPages = new Set<number>();
  /** The instruction whose device-register exit was last recorded (one exit per instruction). */
  private deviceExitIcount = -1;
  private deviceExitEip = -1;

  constructor(
    private readonly host: VmHost,
    readonly ept: Ept,
    private readonly controls: KvmControls,
    private readonly exits: VmExitRecorder,
    /** True while an event is being delivered by VM-entry injection (its faults are the delivery's). */
    private readonly injecting: () => boolean,
  ) {}

  private get cpu(): Cpu { return this.host.cpu; }

  /** Runs `work` as the host: guest memory through the host's own mapping of guest RAM, not EPT. */
  asHost(work: () => void): void {
    this.hostAccess = true;
    try { work(); } finally { this.hostAccess = false; }
  }

  /** Whether the host's accesses filled the CPU's TLB since the last call (VM entry flushes them). */
  takeHostTouched(): boolean {
    const t = this.hostTouched;
    this.hostTouched = false;
    return t;
  }

  /** The CPU's second-level translation under EPT (called on its TLB misses). */
  secondLevel(gpaPage: number, write: boolean, lin: number, final: boolean): number {
    const page = gpaPage >>> 0, mem = this.host.machine.mem;
    if (this.hostAccess) {
      this.hostTouched = true;
      return page < mem.ramSize ? page : UNPOPULATED;
    }
    const r = this.ept.translate(page);
    if (r.ok && (!write || (r.perms & EPT_WRITE))) {
      this.host.charge(this.host.cost('nestedPageWalk'), 'nested-paging');
      return r.hpa;
    }
    // A page being emulated: a device's registers are reached at their own address, else nothing is there.
    if (this.mmioPages.has(page)) return mem.isMmio(page) ? page : UNPOPULATED;
    const e = new EptViolation(page | (final ? lin & 0xfff : 0), lin, write, final, r.ok ? r.perms : 0);
    if (final && !this.injecting() && page >= mem.ramSize && mem.isMmio(page)) {
      // A device's registers (never EPT-mapped): the exit (APIC_ACCESS or EPT_VIOLATION, once per
      // instruction, as violationExit records it) and the host's emulation of the access, done
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

  /** EPT-violation exit handler (KVM's TDP page fault): map guest RAM on first touch, emulate MMIO. */
  violationExit(e: EptViolation): void {
    const cpu = this.cpu, ram = this.host.machine.mem.ramSize;
    const gpa = e.gpa >>> 0, page = (gpa & ~0xfff) >>> 0;
    const q = eptViolationQualification({ read: !e.write, write: e.write, fetch: false }, e.perms, true, e.final);
    const mmio = page >= ram;
    if (mmio && e.final && this.isApicAccess(page)) this.recordApicAccess(e);
    else this.exits.exit(EXIT_REASON.EPT_VIOLATION, q, 0, '', EMULATE_WORK, () => `guest-physical ${hex(gpa)} (${e.write ? 'write' : 'read'}${e.final ? '' : ', paging structure'}), ${mmio ? `MMIO: emulated${this.deviceName(gpa)}` : 'first touch: mapped'}`, { linear: e.lin, gpa });
    if (!mmio) {
      this.ept.map(page, page, EPT_RWX);
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
          if (np >= ram) { this.recordMmio(nested); this.mmioPages.add(np); } else this.violationExit(nested);
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
    this.exits.exit(EXIT_REASON.APIC_ACCESS, q, 0, '', EMULATE_WORK, () => `local APIC register 0x${offset.toString(16)} ${e.write ? 'write' : 'read'}: emulated`, { linear: e.lin, gpa: e.gpa });
  }

  private recordMmio(e: EptViolation): void {
    if (e.final && this.isApicAccess((e.gpa & ~0xfff) >>> 0)) { this.recordApicAccess(e); return; }
    const q = eptViolationQualification({ read: !e.write, write: e.write, fetch: false }, e.perms, true, e.final);
    this.exits.exit(EXIT_REASON.EPT_VIOLATION, q, 0, '', EMULATE_WORK, () => `guest-physical ${hex(e.gpa)} (${e.write ? 'write' : 'read'}), MMIO: emulated`, { linear: e.lin, gpa: e.gpa });
  }
}
