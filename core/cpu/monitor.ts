/*
 * Hook points for a monitor (the VMM, a tracer, the debugger). All of them cost nothing when unused:
 *
 *  (a) `onEvent` — every exception, software interrupt and external interrupt, BEFORE it is delivered
 *      through the guest IDT. Returning true means "handled": the CPU delivers nothing and goes on at
 *      the current EIP/state (which the monitor may have changed). Trap-and-emulate catches #GP here
 *      and emulates; shadow paging catches #PF (event.address is the would-be CR2, CR2 is not yet
 *      written); VT-x's exception bitmap and external-interrupt exiting are filters on this call.
 *      It is called only when a monitor is attached (one property test on the slow delivery path).
 *
 *  (b) `onInstruction` — instructions of the classes in `interceptClasses` (bit mask of
 *      `InsnClass`), BEFORE they execute, with the decoded instruction (operands, length, mnemonic).
 *      Returning true means "emulated": the CPU does not execute it and continues at `cpu.nextEip`,
 *      which already points past the instruction (set it for another target). Throwing a `CpuFault`
 *      raises that exception at the instruction. Returning false executes it natively. The check
 *      is compiled into the decoded
 *      instruction at decode time (the decode cache is flushed when the mask changes), so instructions
 *      of other classes run exactly as without a monitor.
 *      An invalid encoding never reaches the monitor (it decodes to #UD). Privilege checks (#GP at
 *      CPL > 0, IOPL) happen inside the instruction, i.e. AFTER the intercept; in VMX non-root
 *      operation those faults have priority over the VM exit (SDM Vol. 3 §26.1.1), so a monitor
 *      modelling VT-x checks `cpu.cpl` / `cpu.iopl` first.
 *
 *  (c) `onCritical` — AFTER a critical instruction (SPEC §7: SGDT, SIDT, SLDT, SMSW, STR, PUSHF,
 *      POPF, LAR, LSL, VERR, VERW, PUSH/POP Sreg, MOV Sreg, far CALL/JMP/RET, INT n, IRET) completes,
 *      with the CPL it ran at and EFLAGS before and after, so a monitor can show what it did
 *      differently (e.g. POPF at CPL 1 that silently kept IF). Compiled in at decode time like (b).
 *
 *  (d) injection: `cpu.raiseIrq(vector)` queues an external interrupt (delivered when IF = 1 and no
 *      interrupt shadow); `cpu.injectException(vector, errorCode)` delivers an exception at the next
 *      instruction boundary; `cpu.deliverEvent(...)` delivers one now.
 *
 *  (e) emulator helpers on `Cpu`: `readLinear{8,16,32}` / `writeLinear{8,16,32}` (through paging, with
 *      A/D bits and #PF), `translate(lin, write, user)`, `loadSegment(seg, selector)` with all the
 *      checks of MOV Sreg, `deliverEvent(vector, kind, errorCode)` through the IDT, and every register:
 *      `regs`, `eip`, `getEflags()/setEflags()`, `segSel/segBase/segLimit/segAttr`, `gdtr*`, `idtr*`,
 *      `ldtr*`, `tr*`, `cr0/cr2/cr3/cr4`, `dr`, `readMsr/writeMsr`, `cpl`.
 *
 *  (f) binary translation: `cpu.decodeAt(linear)` returns a decoded `Insn` whose `exec(cpu, insn)`
 *      runs its semantics alone (the caller sets `cpu.nextEip = cpu.eip + insn.len` before and copies
 *      `cpu.nextEip` into `cpu.eip` after, or calls `cpu.execOne(insn)` which does both);
 *      `insn.endsBlock` marks basic-block boundaries; `cpu.decodeBlock(linear)` returns a whole block.
 *      Physical write watches: `cpu.mem.addWriteWatch(page, fn)` (translation-cache invalidation,
 *      shadow page-table write protection).
 *
 *  (g) code breakpoints (debugger): `cpu.breakpoints` (linear addresses; anything with `size` and
 *      `has`), read again at each `run`, checked per block so that blocks without one still run
 *      compiled and chained; `run` returns 'breakpoint' before the instruction, and the next run
 *      executes it (resume point, EFLAGS.RF for debuggers; `cpu.resume()` sets it at EIP).
 *
 *  Memory of the monitor's own: `new Machine({ reservedMiB })` puts it after guest RAM
 *  (`machine.mem.reservedBase`); the guest is told only about guest RAM.
 */
import type { Cpu } from './cpu';
import type { Insn } from './insn';

/** Instruction classes a monitor can intercept (VT-x exit sources and the SPEC §7 classes). */
export const InsnClass = {
  CPUID: 1 << 0,
  HLT: 1 << 1,
  /** IN, OUT, INS, OUTS (with REP). */
  IO: 1 << 2,
  RDMSR: 1 << 3,
  WRMSR: 1 << 4,
  MOV_CR: 1 << 5,
  CLTS: 1 << 6,
  LMSW: 1 << 7,
  INVLPG: 1 << 8,
  RDTSC: 1 << 9,
  RDPMC: 1 << 10,
  VMCALL: 1 << 11,
  /** LGDT, LIDT, LLDT, LTR, SGDT, SIDT, SLDT, STR (VT-x "descriptor-table exiting"). */
  DESC_TABLE: 1 << 12,
  /** WBINVD, INVD. */
  CACHE: 1 << 13,
  MOV_DR: 1 << 14,
  /** CLI, STI. */
  CLI_STI: 1 << 15,
  /** PUSHF, POPF. */
  PUSHF_POPF: 1 << 16,
  /** IRET. */
  IRET: 1 << 17,
  /** INT n, INT3, INTO. */
  INT: 1 << 18,
  /** MOV to/from Sreg, PUSH/POP Sreg, LDS/LES/LFS/LGS/LSS. */
  SEG: 1 << 19,
  /** Far CALL, far JMP, far RET. */
  FAR: 1 << 20,
  /** SMSW. */
  SMSW: 1 << 21,
  /** LAR, LSL, VERR, VERW, ARPL. */
  SEG_INFO: 1 << 22,
  /** SYSENTER, SYSEXIT. */
  SYSENTER: 1 << 23,
  /** Privileged instructions as SPEC §7 lists them (any of the above that #GP at CPL > 0). */
  PRIVILEGED: 1 << 24,
  /** Critical instructions as SPEC §7 lists them. */
  CRITICAL: 1 << 25,
} as const;

export type EventKind = 'exception' | 'external' | 'software' | 'nmi';

/** An event about to be delivered through the IDT. */
export interface DeliveryEvent {
  vector: number;
  kind: EventKind;
  /** Error code, when the vector pushes one. */
  errorCode?: number;
  /** #PF: the faulting linear address (CR2 is written only if the CPU delivers the event). */
  address?: number;
  /** EIP of the instruction that faulted (exception) or the next one (trap, interrupt, INT n). */
  eip: number;
  /** Set when the event happened while delivering another (the monitor sees the second one). */
  nested: boolean;
}

/** A critical instruction that just executed. */
export interface CriticalEvent {
  insn: Insn;
  mnemonic: string;
  /** EIP of the instruction (EIP after it is `cpu.eip`). */
  eip: number;
  cplBefore: number;
  cplAfter: number;
  eflagsBefore: number;
  eflagsAfter: number;
}

export interface Monitor {
  /** Bit mask of `InsnClass` values whose instructions go to `onInstruction`. */
  interceptClasses?: number;
  onEvent?(cpu: Cpu, event: DeliveryEvent): boolean;
  onInstruction?(cpu: Cpu, insn: Insn): boolean;
  onCritical?(cpu: Cpu, event: CriticalEvent): void;
  /**
   * (h) A page walk for a data access found no usable translation (`device` −1), or found a device
   * frame while `cpu.mmioFaults` is set (`device` its physical address). A monitor that keeps device
   * frames unmapped so that every access traps returns the device's physical address when that is
   * the case — the access then reaches the device model as the monitor's emulation of it, without the
   * #PF being built and unwound (it has accounted for the trap itself) — or −1 for the #PF.
   */
  deviceAccess?(cpu: Cpu, lin: number, write: boolean, user: boolean, device: number): number;
}
