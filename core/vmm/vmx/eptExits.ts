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
import { UNPOPULATED } from '../shadowPaging';
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
  /** The instruction whose exit beyond RAM was last recorded (one exit per instruction and page). */
  private deviceExitIcount = -1;
  private deviceExitEip = -1;
  /** The pages beyond RAM that instruction's exits were for (an access may straddle two). */
  private readonly deviceExitPages = [-1, -1];

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
    if (page >= mem.ramSize) {
      // Beyond guest RAM nothing is ever EPT-mapped: a page being emulated, a device, or nothing.
      // (Pages are emulated only inside violationExit: the set is empty while a device is polled.)
      if (this.mmioPages.size !== 0 && this.mmioPages.has(page)) return mem.isMmio(page) ? page : UNPOPULATED;
      if (final && !this.injecting()) {
        // The access's exit (APIC_ACCESS or EPT_VIOLATION, once per instruction and page, as
        // violationExit records it) and the host's emulation of it, done in place — at the device's
        // registers, or where nothing is (zeros, writes dropped) — instead of unwinding the
        // instruction and running it again: a guest that polls a device, or strays beyond its RAM,
        // costs one exit per access, not a re-decoded instruction.
        const cpu = this.cpu;
        if (page === LAPIC_BASE && this.apicInterposed) {
          // APIC virtualization decides per access, with its offset and size (virtualApic.ts): the
          // access reaches it through the bus's interposer; the linear address is for its exit.
          this.apicLin = lin;
          return page;
        }
        if (cpu.icount !== this.deviceExitIcount || cpu.eip !== this.deviceExitEip) {
          this.deviceExitIcount = cpu.icount; this.deviceExitEip = cpu.eip;
          this.deviceExitPages[0] = page; this.deviceExitPages[1] = -1;
          this.recordMmio((page | (lin & 0xfff)) >>> 0, lin, write, true, 0);
        } else if (page !== this.deviceExitPages[0] && page !== this.deviceExitPages[1]) {
          // An access that straddles into a second page beyond RAM: its exit too (never a third:
          // an x86 data access spans at most two pages).
          this.deviceExitPages[1] = page;
          this.recordMmio((page | (lin & 0xfff)) >>> 0, lin, write, true, 0);
        }
        return mem.isMmio(page) ? page : UNPOPULATED;
      }
      throw new EptViolation(page | (final ? lin & 0xfff : 0), lin, write, final, 0);
    }
    const r = this.ept.translate(page);
    if (r.ok && (!write || (r.perms & EPT_WRITE))) {
      this.host.charge(this.host.cost('nestedPageWalk'), 'nested-paging');
      return r.hpa;
    }
    throw new EptViolation(page | (final ? lin & 0xfff : 0), lin, write, final, r.ok ? r.perms : 0);
  }

  /**
   * RAM pages mapped on first touch (Technique.invisibleActions): the exit and the new EPT entry
   * change nothing the guest can see — the page is where it was, with the rights it had.
   */
  firstTouchMaps = 0;

  /** EPT-violation exit handler (KVM's TDP page fault): map guest RAM on first touch, emulate MMIO. */
  violationExit(e: EptViolation): void {
    const cpu = this.cpu, ram = this.host.machine.mem.ramSize;
    const gpa = e.gpa >>> 0, page = (gpa & ~0xfff) >>> 0;
    const q = eptViolationQualification({ read: !e.write, write: e.write, fetch: false }, e.perms, true, e.final);
    const mmio = page >= ram;
    if (mmio) this.recordMmio(gpa, e.lin, e.write, e.final, e.perms);
    else this.exits.exit(EXIT_REASON.EPT_VIOLATION, q, 0, '', EMULATE_WORK, () => `guest-physical ${hex(gpa)} (${e.write ? 'write' : 'read'}${e.final ? '' : ', paging structure'}), first touch: mapped`, { linear: e.lin, gpa });
    if (!mmio) {
      this.ept.map(page, page, EPT_RWX);
      this.firstTouchMaps++;
      return;
    }
    // No device lives there: the access is emulated as to nothing (zeros, writes
    // dropped) by running the instruction once with that page passed through. An instruction that
    // also touches an unmapped RAM page (or a second MMIO page) exits again on the way.
    const outer = this.mmioPages.size === 0;
    this.mmioPages.add(page);
    // A stop the exit's listeners asked for (a debugger's vmexit filter) waits for the boundary after
    // the emulated instruction: honoured before it, the instruction never ran and exited again, a
    // million times in one slice (seconds of the debugger's time; found by the DAP fuzz).
    let stop = outer && cpu.stopPending ? (cpu.takeStop(), cpu.stopReason) : undefined;
    try {
      if (!outer) throw e; // nested: the outermost emulation retries the instruction with this page too
      for (let tries = 0; ; tries++) {
        try {
          if (cpu.run(1) === 'requested') stop = cpu.stopReason;
          return;
        } catch (nested) {
          if (!(nested instanceof EptViolation) || tries >= 16) throw nested;
          const np = (nested.gpa & ~0xfff) >>> 0;
          if (np >= ram) { this.recordMmio(nested.gpa >>> 0, nested.lin, nested.write, nested.final, nested.perms); this.mmioPages.add(np); } else this.violationExit(nested);
        }
      }
    } finally {
      if (outer) this.mmioPages.clear();
      if (stop !== undefined) cpu.requestStop(stop);
    }
  }

  /** APIC virtualization stands between the bus and the local APIC (virtualApic.ts). */
  apicInterposed = false;
  /** The linear address of the access to the APIC-access page being made. */
  private apicLin = 0;

  /** True while an access beyond RAM is emulated by running its instruction once (violationExit). */
  get emulatingMmio(): boolean { return this.mmioPages.size > 0; }

  /**
   * The APIC-access exit of an access APIC virtualization does not virtualize (once per instruction,
   * as secondLevel records the other accesses beyond RAM); the host then emulates it at the device.
   */
  apicAccessExit(offset: number, write: boolean): void {
    const cpu = this.cpu;
    if (this.emulatingMmio) return; // violationExit recorded it
    if (cpu.icount === this.deviceExitIcount && cpu.eip === this.deviceExitEip && this.deviceExitPages[0] === LAPIC_BASE) return;
    this.deviceExitIcount = cpu.icount; this.deviceExitEip = cpu.eip;
    this.deviceExitPages[0] = LAPIC_BASE; this.deviceExitPages[1] = -1;
    this.recordMmio((LAPIC_BASE | (offset & 0xfff)) >>> 0, ((this.apicLin & ~0xfff) | (offset & 0xfff)) >>> 0, write, true, 0);
  }

  /** The APIC-access page, when "virtualize APIC accesses" is on (its accesses exit with reason 44). */
  private isApicAccess(page: number): boolean {
    return (this.controls.secondary & SECONDARY.VIRTUALIZE_APIC_ACCESSES) !== 0 && page === LAPIC_BASE;
  }

  private deviceName(gpa: number): string {
    const d = this.host.machine.mmio.deviceAt(gpa);
    return d ? ` (${d})` : '';
  }

  /**
   * The exit of an access beyond guest RAM: APIC_ACCESS with Intel's qualification (offset, linear
   * read / write) on the APIC-access page, else an EPT violation; the host emulates the access.
   */
  private recordMmio(gpa: number, lin: number, write: boolean, final: boolean, perms: number): void {
    const info = this.info;
    info.linear = lin; info.gpa = gpa;
    if (final && this.isApicAccess((gpa & ~0xfff) >>> 0)) {
      this.exits.exit(EXIT_REASON.APIC_ACCESS, apicAccessQualification(gpa & 0xfff, write ? 1 : 0), 0, '', EMULATE_WORK, apicAccessText, info);
      return;
    }
    const q = eptViolationQualification({ read: !write, write, fetch: false }, perms, true, final);
    this.exits.exit(EXIT_REASON.EPT_VIOLATION, q, 0, '', EMULATE_WORK, () => `guest-physical ${hex(gpa)} (${write ? 'write' : 'read'}${final ? '' : ', paging structure'}), MMIO: emulated${this.deviceName(gpa)}`, info);
  }
  /** The exit information of the access being recorded (read at once by the exit: one object reused). */
  private readonly info = { linear: 0, gpa: 0 };
}

/** An APIC-access exit in words, from its qualification (offset bits 11:0, access type bits 15:12). */
function apicAccessText(q: number): string {
  return `local APIC register 0x${(q & 0xfff).toString(16)} ${(q >>> 12) & 0xf ? 'write' : 'read'}: emulated`;
}
