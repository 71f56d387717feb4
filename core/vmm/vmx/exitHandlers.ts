/*
 * The host's side of an instruction VM exit: one handler per basic exit reason, as KVM's
 * `kvm_vmx_exit_handlers[]` (arch/x86/kvm/vmx/vmx.c). A handler reads what it needs from the VMCS's
 * exit-information fields (the exit qualification above all), emulates the instruction on the
 * guest's state and resumes the guest at GUEST_RIP (+ VM_EXIT_INSTRUCTION_LEN when it completed the
 * instruction), or injects a fault through VM-entry event injection. The decision to exit is the
 * processor's (nonRoot.ts); exceptions, interrupts and EPT violations are handled by the technique.
 */
import type { Cpu } from '../../cpu/cpu';
import { CpuFault } from '../../cpu/fault';
import type { Insn } from '../../cpu/insn';
import { GP, UD } from '../../cpu/constants';
import type { ShadowMmu } from '../shadowPaging';
import { EXIT_REASON, decodeCrAccess } from './exitReasons';
import { VMCS, type Vmcs } from './vmcs';

/** What a handler may do to the guest: the technique's host operations. */
export interface VmxExitHost {
  readonly cpu: Cpu;
  readonly vmcs: Vmcs;
  readonly shadow: ShadowMmu | undefined;
  /** The guest's CR3 as it loaded it (under shadow paging the real CR3 is the shadow's). */
  guestCr3: number;
  /** Runs `work`, then VM entry: the guest resumes at GUEST_RIP. */
  handled(work: () => void): boolean;
  /** Emulates with the instruction's own semantics (KVM's x86 emulator), then resumes after it. */
  emulateBySemantics(insn: Insn): boolean;
  /** Injects a fault on VM entry: the instruction does not complete and RIP stays. */
  injectFault(vector: number, errorCode: number): boolean;
  /** `GUEST_RIP += VM_EXIT_INSTRUCTION_LEN` (KVM skip_emulated_instruction). */
  skipInstruction(): void;
  /** The host's MOV to CR0/CR3/CR4 (KVM handle_set_cr0/3/4); throws CpuFault(#GP) for a bad value. */
  writeCr(cr: number, value: number): void;
}

/** Handles an instruction exit; returns true (the instruction is done or a fault was injected). */
export type ExitHandler = (host: VmxExitHost, insn: Insn) => boolean;

const qualification = (h: VmxExitHost) => h.vmcs.get(VMCS.EXIT_QUALIFICATION) >>> 0;

const skip: ExitHandler = (h) => h.handled(() => h.skipInstruction());
const emulate: ExitHandler = (h, insn) => h.emulateBySemantics(insn);

/** CPUID: KVM answers from the guest's CPUID model; here, the CPU's own leaves. */
const handleCpuid: ExitHandler = (h, insn) => h.handled(() => { insn.semantics(h.cpu, insn); h.skipInstruction(); });

/** VMCALL: no hypercall interface for a fully virtualized guest — #UD, as on bare metal. */
const handleVmcall: ExitHandler = (h) => h.injectFault(UD, 0);

/** HLT: the VCPU blocks until an interrupt (KVM kvm_emulate_halt). */
const handleHlt: ExitHandler = (h) => h.handled(() => { h.skipInstruction(); h.cpu.halted = true; h.cpu.breakBlock = true; });

/** INVLPG: the linear address is the exit qualification. */
const handleInvlpg: ExitHandler = (h) => h.handled(() => {
  const lin = qualification(h);
  if (h.shadow) h.shadow.invlpg(lin); else h.cpu.invalidatePage(lin);
  h.skipInstruction();
});

/**
 * IN/OUT from the exit qualification alone (KVM handle_io); string forms go through the emulator.
 * The qualification's bits are read in place (decodeIo's layout), and from the field array (every
 * exit-information field is current): this is the most frequent exit, and the technique calls this
 * handler directly for it.
 */
export const handleIo: ExitHandler = (h, insn) => {
  const q = h.vmcs.narrowFields()[VMCS.EXIT_QUALIFICATION] >>> 0;
  if (q & IO_STRING) return h.emulateBySemantics(insn);
  const size = ((q & 7) + 1) as 1 | 2 | 4, port = q >>> 16, cpu = h.cpu;
  if (q & IO_IN) cpu.setReg(0, size, cpu.io.in(port, size));
  else cpu.io.out(port, size, cpu.getReg(0, size) >>> 0);
  h.skipInstruction();
  return h.handled(NOTHING);
};
const IO_IN = 8, IO_STRING = 16;
const NOTHING = (): void => {};

/** RDMSR/WRMSR with the MSR number in ECX; an MSR the CPU does not know gets #GP (kvm_inject_gp). */
function msrHandler(write: boolean): ExitHandler {
  return (h, insn) => {
    const cpu = h.cpu, msr = cpu.regs[1] >>> 0;
    try {
      if (write) cpu.writeMsr(msr, (BigInt(cpu.regs[2] >>> 0) << 32n) | BigInt(cpu.regs[0] >>> 0));
      else {
        const v = cpu.readMsr(msr);
        cpu.regs[0] = Number(v & 0xffffffffn) | 0;
        cpu.regs[2] = Number((v >> 32n) & 0xffffffffn) | 0;
      }
    } catch (e) {
      if (e instanceof CpuFault) return h.injectFault(GP, 0);
      throw e;
    }
    return skip(h, insn);
  };
}

/** Control-register accesses by access type from the qualification (KVM handle_cr). */
const handleCr: ExitHandler = (h, insn) => {
  const q = decodeCrAccess(qualification(h)), cpu = h.cpu;
  const shadow = h.vmcs.get(VMCS.CR0_READ_SHADOW);
  let value: number;
  switch (q.accessType) {
    case 0: value = cpu.regs[q.gpr]; break; // MOV to CR
    case 1: return h.handled(() => { cpu.regs[q.gpr] = h.guestCr3; h.skipInstruction(); }); // MOV from CR3
    case 2: q.cr = 0; value = shadow & ~8; break; // CLTS
    default: q.cr = 0; value = (shadow & ~0xe) | (q.lmswData & 0xf) | (shadow & 1); // LMSW (PE can only be set)
  }
  try {
    h.writeCr(q.cr, value);
  } catch (e) {
    if (e instanceof CpuFault) return h.injectFault(GP, 0);
    throw e;
  }
  return skip(h, insn);
};

/** Handlers of the instruction exits, by basic exit reason. */
export const INSTRUCTION_EXIT_HANDLERS: Readonly<Partial<Record<number, ExitHandler>>> = {
  [EXIT_REASON.CPUID]: handleCpuid,
  [EXIT_REASON.VMCALL]: handleVmcall,
  [EXIT_REASON.HLT]: handleHlt,
  [EXIT_REASON.INVLPG]: handleInvlpg,
  [EXIT_REASON.INVD]: skip,
  [EXIT_REASON.WBINVD]: skip,
  [EXIT_REASON.RDTSC]: emulate,
  [EXIT_REASON.RDPMC]: emulate,
  [EXIT_REASON.DR_ACCESS]: emulate,
  [EXIT_REASON.GDTR_IDTR]: emulate,
  [EXIT_REASON.LDTR_TR]: emulate,
  [EXIT_REASON.IO_INSTRUCTION]: handleIo,
  [EXIT_REASON.MSR_READ]: msrHandler(false),
  [EXIT_REASON.MSR_WRITE]: msrHandler(true),
  [EXIT_REASON.CR_ACCESS]: handleCr,
};
