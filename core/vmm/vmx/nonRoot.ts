/*
 * What the processor decides in VMX non-root operation when the guest executes an instruction the
 * controls may intercept (SDM Vol. 3C ch. 26 "Instructions That Cause VM Exits"): exit (with the basic
 * reason, the exit qualification and what the VMCS records), complete it without an exit (CR0/CR4
 * writes that touch only guest-owned bits, reads that return the read shadow), or leave it to the
 * ordinary CPU. No host work happens here: the host's side is exitHandlers.ts.
 */
import type { Cpu } from '../../cpu/cpu';
import type { Insn } from '../../cpu/insn';
import { InsnClass } from '../../cpu/monitor';
import { ea } from '../../cpu/ops/operands';
import { checkIoPermission } from '../../cpu/ops/system';
import type { PhysicalMemory } from '../../cpu/physicalMemory';
import type { CostKey } from '../cost';
import { CPU, SECONDARY, type KvmControls } from './controls';
import { EXIT_REASON, crAccessQualification, decodeIo, drAccessQualification, ioQualification } from './exitReasons';
import { VMCS, type Vmcs } from './vmcs';
import type { ExitText } from './vmExit';
import { rowExitReason, rowFacts } from '../rowFacts';

/** An instruction VM exit as the processor reports it in the VMCS exit-information fields (may be shared: read only). */
export interface InstructionExit {
  readonly reason: number;
  readonly qualification: number;
  /** What the trace says about it (the qualification in words; a function of it, called only for a listener). */
  text: ExitText;
  /** The host's work, for the cost model. */
  work: CostKey[];
  instrInfo?: number;
  linear?: number;
}

/** 'exit': an InstructionExit; 'done': completed in non-root operation without an exit; 'cpu': not ours. */
export type NonRootOutcome = InstructionExit | 'done' | 'cpu';

/** What the decisions read: the guest CPU, the VMCS (read shadows, bitmaps) and the controls. */
export interface NonRootView {
  readonly cpu: Cpu;
  readonly vmcs: Vmcs;
  readonly controls: KvmControls;
  readonly mem: PhysicalMemory;
  /** Shadow paging (VT-x without EPT): a CR3 load also flushes the shadow. */
  readonly shadowPaging: boolean;
}

/** Instruction classes the CPU must show the monitor: every one some control can make exit, and CR reads. */
export const INTERCEPTED_CLASSES = InsnClass.CPUID | InsnClass.VMCALL | InsnClass.HLT | InsnClass.CACHE | InsnClass.INVLPG |
  InsnClass.RDTSC | InsnClass.RDPMC | InsnClass.RDMSR | InsnClass.WRMSR | InsnClass.IO | InsnClass.MOV_CR | InsnClass.CLTS |
  InsnClass.LMSW | InsnClass.SMSW | InsnClass.MOV_DR | InsnClass.DESC_TABLE;

const hex = (v: number) => '0x' + (v >>> 0).toString(16);
/** One object shape for every decision (no spread: port polling makes the I/O exit the most frequent). */
const exit = (reason: number, qualification: number, work: CostKey[], text: ExitText, extra?: { instrInfo?: number; linear?: number }): InstructionExit =>
  ({ reason, qualification: qualification >>> 0, work, text, instrInfo: extra?.instrInfo, linear: extra?.linear });

/** The processor's decision for one basic exit reason (`reason`: its number, from the row). */
type Decide = (v: NonRootView, insn: Insn, reason: number) => NonRootOutcome;

/**
 * The processor side of each basic exit reason the instruction table's rows name (SDM Vol. 3C
 * §26.1): whether the controls make it exit, and what the exit records. Keyed like KVM's exit-handler
 * table; the row of the decoded instruction says which entry applies.
 */
const DECIDE: Record<string, Decide> = {
  CPUID: (v, _i, r) => exit(r, 0, ['emulate'], `leaf ${hex(v.cpu.regs[0])}`),
  VMCALL: (v, _i, r) => exit(r, 0, ['emulate'], `EAX ${hex(v.cpu.regs[0])}: no hypercall interface, #UD injected`),
  HLT: (v, _i, r) => (v.controls.primary & CPU.HLT_EXITING ? exit(r, 0, [], 'guest halts until an interrupt') : 'cpu'),
  IO_INSTRUCTION: ioExit,
  MSR_READ: (v, _i, r) => msrExit(v, r, false),
  MSR_WRITE: (v, _i, r) => msrExit(v, r, true),
  // MOV to/from CRn, CLTS (no operand) and LMSW
  CR_ACCESS: (v, i, r) => (i.form!.operands.includes('cr') ? movCrExit(v, i, r) : i.form!.operands.length === 0 ? cltsExit(v, r) : lmswExit(v, i, r)),
  INVLPG: (v, i, r) => {
    if (!(v.controls.primary & CPU.INVLPG_EXITING) || i.rm >= 0) return 'cpu';
    const lin = (v.cpu.segBase[i.seg] + ea(v.cpu, i)) >>> 0;
    return exit(r, lin, ['emulate'], `linear ${hex(lin)}`, { instrInfo: memoryInstrInfo(i) });
  },
  INVD: (_v, _i, r) => exit(r, 0, [], ''),
  WBINVD: (v, _i, r) => (v.controls.secondary & SECONDARY.WBINVD_EXITING ? exit(r, 0, [], '') : 'cpu'),
  RDTSC: (v, _i, r) => (v.controls.primary & CPU.RDTSC_EXITING ? exit(r, 0, ['emulate'], '') : 'cpu'),
  RDPMC: (v, _i, r) => (v.controls.primary & CPU.RDPMC_EXITING ? exit(r, 0, ['emulate'], '') : 'cpu'),
  DR_ACCESS: (v, i, r) => {
    if (!(v.controls.primary & CPU.MOV_DR_EXITING)) return 'cpu';
    const fromDr = i.form!.operands[1] === 'dr';
    return exit(r, drAccessQualification(i.reg, fromDr, i.rm), ['emulate'], `${fromDr ? 'mov from' : 'mov to'} DR${i.reg}, GPR ${i.rm}`);
  },
  GDTR_IDTR: descriptorTableExit,
  LDTR_TR: descriptorTableExit,
};

/** The exit reasons the decisions cover (a test checks every row's reason is one of them, with the same number). */
export const DECIDED_REASONS: ReadonlySet<string> = new Set(Object.keys(DECIDE));

/** The processor's decision for `insn` (called before it executes; faults with priority come first). */
export function instructionExit(v: NonRootView, insn: Insn): NonRootOutcome {
  const facts = rowFacts(insn);
  if (!facts) return 'cpu';
  // Privilege faults come before VM exits (SDM Vol. 3C §26.1.1); IOPL-sensitive I/O is checked in ioExit.
  if (facts.class === 'privileged' && v.cpu.cpl > 0) return 'cpu';
  const e = rowExitReason(insn);
  // SMSW never exits, but reads host-owned CR0 bits from the read shadow.
  if (!e) return insn.cls & InsnClass.SMSW ? smswFromShadow(v, insn) : 'cpu';
  return DECIDE[e.reason]?.(v, insn, e.reasonNumber) ?? 'cpu';
}

function msrExit(v: NonRootView, reason: number, write: boolean): NonRootOutcome {
  const msr = v.cpu.regs[1] >>> 0;
  return msrExits(v, msr, write) ? exit(reason, 0, ['emulate'], `MSR ${hex(msr)}`) : 'cpu';
}

function descriptorTableExit(v: NonRootView, insn: Insn, reason: number): NonRootOutcome {
  if (!(v.controls.secondary & SECONDARY.DESC)) return 'cpu';
  return exit(reason, 0, ['emulate'], insn.mnemonic, { instrInfo: memoryInstrInfo(insn) });
}

/**
 * The decision for an instruction of the I/O class (IN, OUT, INS, OUTS: their rows all name the I/O
 * exit, none is privileged): `instructionExit` without the row look-ups, for the most frequent exit.
 */
export function portInstructionExit(v: NonRootView, insn: Insn): NonRootOutcome {
  return ioExit(v, insn, EXIT_REASON.IO_INSTRUCTION);
}

/** IN/OUT/INS/OUTS: unconditional I/O exiting or the I/O bitmaps, after the I/O permission checks. */
const IO_WORK: CostKey[] = ['deviceAccess'];

function ioExit(v: NonRootView, insn: Insn, reason: number): NonRootOutcome {
  const cpu = v.cpu, c = v.controls, op = insn.opcode;
  // The opcode says which form (SDM Vol. 2): 6C/6D INS, 6E/6F OUTS (no operands), E4/E5 IN and
  // E6/E7 OUT with an imm8 port, EC/ED IN and EE/EF OUT with the port in DX.
  const string = op < 0xe0;
  const immediate = op >= 0xe4 && op <= 0xe7;
  const isIn = string ? op <= 0x6d : (op & 2) === 0;
  const port = immediate ? insn.imm & 0xff : cpu.regs[2] & 0xffff;
  // The I/O permission checks (CPL > IOPL: TSS bitmap) come before the exit.
  checkIoPermission(cpu, port, insn.size);
  const exits = c.primary & CPU.USE_IO_BITMAPS ? ioBitmapSays(v, port, insn.size) : (c.primary & CPU.UNCOND_IO_EXITING) !== 0;
  if (!exits) return 'cpu';
  const q = ioQualification(port, insn.size, isIn, string, insn.rep !== 0, immediate);
  // Pre-built per qualification (port, then size, direction, form): everything the exit records.
  const byPort = IO_DECISIONS ??= new Array<Array<InstructionExit | undefined> | undefined>(0x10000).fill(undefined);
  const forms = byPort[port] ??= new Array<InstructionExit | undefined>(0x80).fill(undefined);
  let d = forms[q & 0x7f];
  if (d === undefined || d.reason !== reason) forms[q & 0x7f] = d = exit(reason, q, IO_WORK, ioText);
  return d;
}
/**
 * The I/O exits' decisions by port, then by the qualification's low 7 bits (size, direction, string,
 * REP, immediate); immutable. Two array loads per exit, not a hash of the qualification.
 */
let IO_DECISIONS: Array<Array<InstructionExit | undefined> | undefined> | undefined;
// (made on the first I/O exit: a 64 Ki-entry array made at load cost ≈ 0.6 ms of every `popek` start)

/** The I/O exit's qualification in words (only when someone reads them: no closure per exit). */
function ioText(q: number): string {
  const d = decodeIo(q);
  return `${d.isIn ? 'in' : 'out'} port ${hex(d.port)}, size ${d.size}${d.string ? ', string' : ''}${d.rep ? ', rep' : ''}, ${d.immediate ? 'immediate' : 'DX'}`;
}

/** I/O bitmap A (ports 0–7FFF) / B (8000–FFFF): an exit if the bit of any byte accessed is set. */
function ioBitmapSays(v: NonRootView, port: number, size: number): boolean {
  for (let p = port; p < port + size; p++) {
    const q = p & 0xffff;
    const page = q < 0x8000 ? v.vmcs.get(VMCS.IO_BITMAP_A) : v.vmcs.get(VMCS.IO_BITMAP_B);
    if (v.mem.read8(page + ((q & 0x7fff) >>> 3)) & (1 << (q & 7))) return true;
  }
  return false;
}

/** MSR bitmap (SDM §25.6.9): read low/high at 0/0x400, write low/high at 0x800/0xC00. */
function msrExits(v: NonRootView, msr: number, write: boolean): boolean {
  if (!(v.controls.primary & CPU.USE_MSR_BITMAPS)) return true;
  let off: number;
  if (msr <= 0x1fff) off = 0;
  else if (msr >= 0xc0000000 && msr <= 0xc0001fff) off = 0x400;
  else return true;
  const bit = msr & 0x1fff;
  const at = v.vmcs.get(VMCS.MSR_BITMAP) + off + (write ? 0x800 : 0) + (bit >>> 3);
  return (v.mem.read8(at) & (1 << (bit & 7))) !== 0;
}

/** MOV to/from CR0/CR3/CR4 (SDM §26.1.3, §26.3): guest/host masks, read shadows, CR3 load/store exiting. */
function movCrExit(v: NonRootView, insn: Insn, reason: number): NonRootOutcome {
  const cpu = v.cpu, c = v.controls;
  const toCr = insn.form!.operands[0] === 'cr', cr = insn.reg, gpr = insn.rm;
  const cr0Shadow = v.vmcs.get(VMCS.CR0_READ_SHADOW), cr4Shadow = v.vmcs.get(VMCS.CR4_READ_SHADOW);
  if (toCr) {
    const value = cpu.regs[gpr];
    let exits = false;
    if (cr === 0) exits = ((value ^ cr0Shadow) & c.cr0GuestHostMask) !== 0;
    else if (cr === 4) exits = ((value ^ cr4Shadow) & c.cr4GuestHostMask) !== 0;
    else if (cr === 3) exits = (c.primary & CPU.CR3_LOAD_EXITING) !== 0;
    if (exits) {
      return exit(reason, crAccessQualification(cr, 0, gpr), cr === 3 && v.shadowPaging ? ['emulate', 'tlbFlush'] : ['emulate'],
        `mov to CR${cr} from GPR ${gpr} (${hex(value)})`);
    }
    if (cr !== 0 && cr !== 4) return 'cpu';
    // Guest-owned bits only changed: the processor writes them without an exit.
    const mask = cr === 0 ? c.cr0GuestHostMask : c.cr4GuestHostMask;
    const nv = ((cr === 0 ? cpu.cr0 : cpu.cr4) & mask) | (value & ~mask);
    if (cr === 0) cpu.setCr0(nv); else cpu.setCr4(nv);
    cpu.nextEip = (cpu.eip + insn.len) >>> 0;
    return 'done';
  }
  if (cr === 3 && (c.primary & CPU.CR3_STORE_EXITING)) return exit(reason, crAccessQualification(3, 1, gpr), ['emulate'], `mov from CR3 to GPR ${gpr}`);
  if (cr !== 0 && cr !== 4) return 'cpu';
  // No exit: host-owned bits read from the read shadow (SDM Vol. 3C §26.3 "MOV from CR0/CR4").
  const mask = cr === 0 ? c.cr0GuestHostMask : c.cr4GuestHostMask;
  cpu.regs[gpr] = ((cr === 0 ? cpu.cr0 : cpu.cr4) & ~mask) | ((cr === 0 ? cr0Shadow : cr4Shadow) & mask);
  cpu.nextEip = (cpu.eip + insn.len) >>> 0;
  return 'done';
}

/** SMSW: no exit; host-owned CR0 bits come from the read shadow. */
function smswFromShadow(v: NonRootView, insn: Insn): NonRootOutcome {
  const cpu = v.cpu, mask = v.controls.cr0GuestHostMask, shadow = v.vmcs.get(VMCS.CR0_READ_SHADOW);
  const val = ((cpu.cr0 & ~mask) | (shadow & mask)) & 0xffff;
  cpu.nextEip = (cpu.eip + insn.len) >>> 0;
  if (insn.rm >= 0) cpu.setReg(insn.rm, insn.size, val);
  else cpu.write16(insn.seg, ea(cpu, insn), val);
  return 'done';
}

/** CLTS exits only if TS is host-owned and set in the read shadow (SDM §26.1.3). */
function cltsExit(v: NonRootView, reason: number): NonRootOutcome {
  const mask = v.controls.cr0GuestHostMask, shadow = v.vmcs.get(VMCS.CR0_READ_SHADOW);
  return (mask & 8) && (shadow & 8) ? exit(reason, crAccessQualification(0, 2, 0), ['emulate'], 'clts') : 'cpu';
}

/** LMSW: the source's PE/MP/EM/TS against the read shadow in host-owned bits (PE can only be set). */
function lmswExit(v: NonRootView, insn: Insn, reason: number): NonRootOutcome {
  const cpu = v.cpu, mask = v.controls.cr0GuestHostMask, shadow = v.vmcs.get(VMCS.CR0_READ_SHADOW);
  const src = insn.rm >= 0 ? cpu.getReg(insn.rm, 2) : cpu.read16(insn.seg, ea(cpu, insn));
  const differs = ((src ^ shadow) & mask & 0xe) !== 0 || ((mask & 1) && (src & 1) && !(shadow & 1));
  if (!differs) return 'cpu';
  return exit(reason, crAccessQualification(0, 3, 0, insn.rm < 0, src), ['emulate'], `lmsw ${hex(src & 0xffff)}`,
    { linear: insn.rm < 0 ? (cpu.segBase[insn.seg] + ea(cpu, insn)) >>> 0 : 0 });
}

/** VM-exit instruction information for a memory operand (SDM Vol. 3C Table 28-9/28-13 layout). */
export function memoryInstrInfo(i: Insn): number {
  if (i.rm >= 0) return (1 << 10) | ((i.rm & 0xf) << 3);
  return ((i.scale & 3) | ((i.addr16 ? 0 : 1) << 7) | ((i.seg & 7) << 15) |
    (i.index >= 0 ? (i.index & 0xf) << 18 : 1 << 22) | (i.base >= 0 ? (i.base & 0xf) << 23 : 1 << 27)) >>> 0;
}
