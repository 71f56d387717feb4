/*
 * A VM exit as the processor performs it (SDM Vol. 3C ch. 28): the guest-state area saved into the
 * VMCS (§28.3), the exit-information fields written (§28.2), and, for the host's books, the exit
 * counted by its basic reason and published as a `vmexit` event (built only when someone listens).
 * What the host then does about the exit is exitHandlers.ts (instructions), vmxEvents.ts
 * (interrupts, exceptions) and eptExits.ts (EPT violations, APIC accesses).
 */
import { CS, DS, ES, FS, GS, SS } from '../../cpu/constants';
import type { Cpu } from '../../cpu/cpu';
import type { CostKey } from '../cost';
import type { VmHost } from '../technique';
import { EXIT_REASON, exitReasonName } from './exitReasons';
import type { InstructionExit } from './nonRoot';
import { VMCS, type Vmcs } from './vmcs';

/** Exit information beyond reason, qualification and instruction length (0 when absent). */
export interface ExitInfo {
  intr?: number;
  errorCode?: number;
  instrInfo?: number;
  linear?: number;
  gpa?: number;
  /** GUEST_RIP when it is not the current instruction's (a trap-like exit: the next one's). */
  rip?: number;
}

const NO_INFO: ExitInfo = Object.freeze({});

/** The words for the trace, or a function that builds them from the qualification, only for a listener. */
export type ExitText = string | ((qualification: number) => string);

/**
 * The guest-state fields a VM exit saves (SDM Vol. 3C §28.3), as constants: the save writes them
 * straight into the VMCS's field array (all of at most 32 bits; a 32-bit processor's natural width
 * is 32 bits), some forty per exit.
 */
const G_SEL = VMCS.GUEST_ES_SELECTOR, G_BASE = VMCS.GUEST_ES_BASE, G_LIMIT = VMCS.GUEST_ES_LIMIT, G_AR = VMCS.GUEST_ES_AR_BYTES;
const G_LDTR_SEL = VMCS.GUEST_LDTR_SELECTOR, G_LDTR_BASE = VMCS.GUEST_LDTR_BASE, G_LDTR_LIMIT = VMCS.GUEST_LDTR_LIMIT, G_LDTR_AR = VMCS.GUEST_LDTR_AR_BYTES;
const G_TR_SEL = VMCS.GUEST_TR_SELECTOR, G_TR_BASE = VMCS.GUEST_TR_BASE, G_TR_LIMIT = VMCS.GUEST_TR_LIMIT, G_TR_AR = VMCS.GUEST_TR_AR_BYTES;
const G_GDTR_BASE = VMCS.GUEST_GDTR_BASE, G_GDTR_LIMIT = VMCS.GUEST_GDTR_LIMIT, G_IDTR_BASE = VMCS.GUEST_IDTR_BASE, G_IDTR_LIMIT = VMCS.GUEST_IDTR_LIMIT;
const G_CR0 = VMCS.GUEST_CR0, G_CR3 = VMCS.GUEST_CR3, G_CR4 = VMCS.GUEST_CR4, G_DR7 = VMCS.GUEST_DR7;
const G_RSP = VMCS.GUEST_RSP, G_RIP = VMCS.GUEST_RIP, G_RFLAGS = VMCS.GUEST_RFLAGS;
const G_SYSENTER_CS = VMCS.GUEST_SYSENTER_CS, G_SYSENTER_ESP = VMCS.GUEST_SYSENTER_ESP, G_SYSENTER_EIP = VMCS.GUEST_SYSENTER_EIP;
const G_INTERRUPTIBILITY = VMCS.GUEST_INTERRUPTIBILITY_INFO, G_ACTIVITY = VMCS.GUEST_ACTIVITY_STATE;
const SEG_ORDER = [ES, CS, SS, DS, FS, GS];
const X_REASON = VMCS.VM_EXIT_REASON, X_QUALIFICATION = VMCS.EXIT_QUALIFICATION, X_LENGTH = VMCS.VM_EXIT_INSTRUCTION_LEN;
const X_INTR_INFO = VMCS.VM_EXIT_INTR_INFO, X_INTR_ERROR = VMCS.VM_EXIT_INTR_ERROR_CODE, X_INSTRUCTION_INFO = VMCS.VMX_INSTRUCTION_INFO;
const X_LINEAR = VMCS.GUEST_LINEAR_ADDRESS, X_GPA = VMCS.GUEST_PHYSICAL_ADDRESS;

/**
 * The guest-state area as a VM exit saves it (SDM Vol. 3C §28.3); `withRip` false leaves GUEST_RIP
 * (an exit writes it at once, and its handler may have advanced it since).
 */
export function saveGuestState(cpu: Cpu, vmcs: Vmcs, withRip = true): void {
  const f = vmcs.narrowFields();
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
  if (withRip) f[G_RIP] = cpu.eip >>> 0;
  f[G_RFLAGS] = cpu.getEflags() >>> 0;
  f[G_SYSENTER_CS] = cpu.msr.sysenterCs >>> 0; f[G_SYSENTER_ESP] = cpu.msr.sysenterEsp >>> 0; f[G_SYSENTER_EIP] = cpu.msr.sysenterEip >>> 0;
  f[G_INTERRUPTIBILITY] = cpu.icount < cpu.irqShadowUntil ? 1 : 0;
  f[G_ACTIVITY] = cpu.halted ? 1 : 0;
}

/** Performs VM exits for the technique: one per call of `exit`. */
export class VmExitRecorder {
  /** Modelled cycles of an exit by its work list's keys (callers pass fresh or shared lists alike). */
  private readonly costs = new Map<string, number>();
  /** Per basic reason, the last work list and its cost: the frequent exits pass one shared list. */
  private readonly lastWork: Array<CostKey[] | undefined> = new Array(128).fill(undefined);
  private readonly lastCost = new Float64Array(128);

  /** The rest of the guest-state area, saved when first read (Vmcs.oweGuestState). */
  private readonly saveRest: () => void;

  constructor(private readonly host: VmHost, private readonly vmcs: Vmcs) {
    this.saveRest = () => saveGuestState(host.cpu, vmcs, false);
  }

  /**
   * VM exit: guest state saved into the VMCS (GUEST_RIP now, the rest when first read: nothing
   * between an exit and its VM entry reads it but a debugger or a test), exit information written,
   * counted, published.
   */
  exit(reason: number, qualification: number, length: number, mnemonic: string, work: CostKey[], text: ExitText, info: ExitInfo = NO_INFO): void {
    this.record(reason, qualification, length, info.intr ?? 0, info.errorCode ?? 0, info.instrInfo ?? 0, info.linear ?? 0, info.gpa ?? 0, info.rip ?? this.host.cpu.eip);
    this.account(reason, qualification, length, mnemonic, work, text);
  }

  /** The exit of an instruction, as the processor decided it (nonRoot.ts): the most frequent kind. */
  instruction(d: InstructionExit, length: number, mnemonic: string): void {
    this.record(d.reason, d.qualification, length, 0, 0, d.instrInfo ?? 0, d.linear ?? 0, 0, this.host.cpu.eip);
    this.account(d.reason, d.qualification, length, mnemonic, d.work, d.text);
  }

  /** Guest-state area (GUEST_RIP now, the rest owed) and exit-information fields. */
  private record(reason: number, qualification: number, length: number, intr: number, errorCode: number, instrInfo: number, linear: number, gpa: number, rip: number): void {
    const v = this.vmcs;
    // Straight into the field array: every field here is 32 bits wide (natural width on a 32-bit
    // processor) but GUEST_PHYSICAL_ADDRESS, whose high half stays 0 (the machine has 4 GiB).
    const f = v.narrowFields();
    f[G_RIP] = rip >>> 0;
    v.oweGuestState(this.saveRest);
    f[X_REASON] = reason >>> 0;
    f[X_QUALIFICATION] = qualification >>> 0;
    f[X_LENGTH] = length >>> 0;
    f[X_INTR_INFO] = intr >>> 0;
    f[X_INTR_ERROR] = errorCode >>> 0;
    f[X_INSTRUCTION_INFO] = instrInfo >>> 0;
    f[X_LINEAR] = linear >>> 0;
    f[X_GPA] = gpa >>> 0;
    f[X_GPA | 1] = 0;
  }

  /** Counted, charged, published. */
  private account(reason: number, qualification: number, length: number, mnemonic: string, work: CostKey[], text: ExitText): void {
    const h = this.host;
    const name = exitReasonName(reason);
    // The counter table by reference (a keyed store, not a look-up of the table by its name first);
    // the I/O exit, a port-polling guest's every other instruction, by a named store (5 % of its time).
    const counts = h.counters.vmExits;
    if (reason === EXIT_REASON.IO_INSTRUCTION) counts.IO_INSTRUCTION = (counts.IO_INSTRUCTION ?? 0) + 1;
    else counts[name] = (counts[name] ?? 0) + 1;
    let cost: number;
    if (this.lastWork[reason & 0x7f] === work) cost = this.lastCost[reason & 0x7f];
    else {
      const key = work.length === 1 ? work[0] : work.join('+');
      const known = this.costs.get(key);
      if (known === undefined) this.costs.set(key, cost = h.cost('vmExitEntry', ...work));
      else cost = known;
      this.lastWork[reason & 0x7f] = work; this.lastCost[reason & 0x7f] = cost;
    }
    if (!h.events.wants('vmexit')) { h.tally('vmexit', cost); return; }
    this.publish(reason, name, qualification, length, mnemonic, cost, text);
  }

  /**
   * A trap-like VM exit, during the instruction whose operation caused it (an APIC-write or TPR-
   * below-threshold exit, SDM §30.4.3.3, §30.1.2): it happens after that instruction completes, so
   * GUEST_RIP is the next instruction's; the instruction itself goes on to its end.
   */
  trapLike(reason: number, qualification: number, work: CostKey[], text: ExitText): void {
    const cpu = this.host.cpu;
    const insn = cpu.decodeAt((cpu.segBase[CS] + cpu.eip) | 0);
    this.exit(reason, qualification, 0, insn.mnemonic, work, text, { rip: (cpu.eip + insn.len) >>> 0 });
  }

  private publish(reason: number, name: string, qualification: number, length: number, mnemonic: string, cost: number, text: ExitText): void {
    const cpu = this.host.cpu;
    if (typeof text !== 'string') text = text(qualification >>> 0);
    this.host.emit({
      kind: 'vmexit', eip: (cpu.segBase[CS] + cpu.eip) | 0, mnemonic, cost,
      reason: name, reasonNumber: reason, qualification: qualification >>> 0, qualificationText: text, instructionLength: length,
      text: `VM exit ${name} (${reason})${text ? ': ' + text : ''}`,
    });
  }
}
