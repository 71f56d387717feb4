/*
 * What a critical instruction (sensitive, unprivileged — Robin & Irvine 2000; SPEC §7) did
 * differently when the guest kernel ran it at CPL 1 instead of CPL 0. The instruction has already
 * executed on the real CPU; this compares its visible result with what it would have produced on
 * bare metal, computed from the virtual CPU (the state the guest believes it has).
 */
import { CS, IF, SS } from '../cpu/constants';
import { Cpu } from '../cpu/cpu';
import type { CriticalEvent } from '../cpu/monitor';
import { ea, readE } from '../cpu/ops/operands';
import { instructionInfo } from '../isa/table';
import type { InstructionInfo } from '../isa/types';
import type { Divergence } from '../machine/report';
import type { VirtualCpu } from './vcpu';

export interface CriticalContext {
  cpu: Cpu;
  vcpu: VirtualCpu;
  virtualIf: boolean;
  guestDescriptor(sel: number): [number, number] | undefined;
  /** EFLAGS image the IRET popped (captured before it ran), -1 if unknown. */
  iretPopped: number;
}

export interface CriticalVerdict { diverged: boolean; differs: string }

const hex = (v: number, w = 0) => '0x' + (v >>> 0).toString(16).padStart(w, '0');
const flagsText = (f: number) => `IF=${(f >> 9) & 1} IOPL=${(f >> 12) & 3}`;
const same: CriticalVerdict = { diverged: false, differs: '' };

function memOrReg16(cpu: Cpu, ev: CriticalEvent): number {
  const i = ev.insn;
  if (i.rm >= 0) return cpu.regs[i.rm] & 0xffff;
  return cpu.read16(i.seg, ea(cpu, i));
}

/** What one row's instruction showed the guest at CPL 1 against bare metal (its operands from `ev.insn`). */
type Describer = (ctx: CriticalContext, ev: CriticalEvent) => CriticalVerdict;

const nativeFlags = (ctx: CriticalContext, f: number) => (f & ~0x3200) | (ctx.virtualIf ? IF : 0) | (ctx.vcpu.iopl << 12);

/** PUSHF: the image it pushed against the one with the guest's virtual IF and IOPL. */
const pushf: Describer = (ctx, ev) => {
  const cpu = ctx.cpu, size = ev.insn.size === 2 ? 2 : 4;
  const pushed = size === 4 ? cpu.peek(0, 4) >>> 0 : cpu.peek(0, 2);
  const native = nativeFlags(ctx, pushed) & (size === 4 ? 0xffffffff : 0xffff);
  if ((pushed >>> 0) === (native >>> 0)) return same;
  return { diverged: true, differs: `pushed the real flags ${flagsText(pushed)}; at CPL 0 it pushes the guest's ${flagsText(native)}` };
};

/** POPF and IRET: IF and IOPL of the image they popped, silently not loaded. */
const flagsLoad = (popped: (ctx: CriticalContext, ev: CriticalEvent) => number): Describer => (ctx, ev) => {
  const p = popped(ctx, ev);
  if (p < 0) return same;
  const wantIf = (p & IF) !== 0, wantIopl = (p >> 12) & 3, vcpu = ctx.vcpu;
  const lost: string[] = [];
  if (wantIf !== ctx.virtualIf) lost.push(`IF=${wantIf ? 1 : 0}`);
  if (wantIopl !== vcpu.iopl) lost.push(`IOPL=${wantIopl}`);
  if (!lost.length) return same;
  return { diverged: true, differs: `${lost.join(' and ')} silently not loaded (CPL 1 > IOPL 0; no trap): the guest still has ${flagsText((ctx.virtualIf ? IF : 0) | (vcpu.iopl << 12))}` };
};
const popf = flagsLoad((ctx, ev) => readBelowStack(ctx.cpu, ev.insn.size === 2 ? 2 : 4));
const iret = flagsLoad((ctx) => ctx.iretPopped);

/** SGDT / SIDT: the pseudo-descriptor stored against the guest's virtual table register. */
const storedTable = (virtual: (v: VirtualCpu) => [number, number]): Describer => (ctx, ev) => {
  const { cpu, vcpu } = ctx, i = ev.insn;
  const off = ea(cpu, i);
  const limit = cpu.read16(i.seg, off), base = cpu.read32(i.seg, (off + 2) | 0) >>> 0;
  const [vb, vl] = virtual(vcpu);
  if (base === (vb >>> 0) && limit === vl) return same;
  return { diverged: true, differs: `stored the VMM's table ${hex(base)}/${hex(limit)}, not the guest's ${hex(vb)}/${hex(vl)}` };
};

/** SLDT / STR / SMSW: the 16-bit value stored against the guest's virtual one. */
const stored16 = (what: string, virtual: (v: VirtualCpu) => number): Describer => (ctx, ev) => {
  const got = memOrReg16(ctx.cpu, ev), want = virtual(ctx.vcpu);
  if (got === want) return same;
  return { diverged: true, differs: `stored the real ${what} ${hex(got, 4)}, not the guest's ${hex(want, 4)}` };
};

/** MOV from Sreg (the register in ModRM.reg) and PUSH CS/SS (the form names the register): the RPL shown. */
const selectorShown: Describer = (ctx, ev) => {
  const cpu = ctx.cpu, i = ev.insn;
  const [dst, src] = i.form?.operands ?? [];
  const movFromSreg = src === 'sreg', pushed = dst === 'cs' || dst === 'ss';
  if (!movFromSreg && !pushed) return same;
  const sreg = movFromSreg ? i.reg : dst === 'cs' ? CS : SS;
  if (sreg !== CS && sreg !== SS) return same;
  const got = movFromSreg ? (i.rm >= 0 ? cpu.regs[i.rm] & 0xffff : cpu.read16(i.seg, ea(cpu, i))) : cpu.peek(0, 2);
  if ((got & 3) === 0) return same;
  return { diverged: true, differs: `${sreg === CS ? 'CS' : 'SS'} = ${hex(got, 4)} shows RPL ${got & 3}: the guest can see it is not at CPL 0` };
};

/** What LAR, LSL, VERR and VERW check of a descriptor besides its privilege (SDM Vol. 2). */
interface ProbeCheck {
  /** VERR: readable segments; VERW: writable data segments; LAR/LSL: any present descriptor. */
  access?: 'read' | 'write';
  /** LAR reports the access rights: a DPL the VMM compressed differs from the guest's. */
  reportsDpl?: boolean;
}

/** LAR / LSL / VERR / VERW: ZF (and LAR's DPL) against the answer at CPL 0 from the guest's own GDT. */
const probe = (check: ProbeCheck): Describer => (ctx, ev) => {
  const cpu = ctx.cpu, i = ev.insn;
  const sel = readE(cpu, i, 2);
  const d = (sel & 0xfffc) ? ctx.guestDescriptor(sel) : undefined;
  const zf = cpu.getZF();
  const nativeOk = d !== undefined && ((d[1] >> 15) & 1) === 1 && nativeVisible(d[1], sel, check);
  if (check.reportsDpl && zf && nativeOk) {
    const got = cpu.regs[i.reg] & 0x00ffff00, want = d![1] & 0x00ffff00;
    // The accessed bit may differ in memory; compare what the instruction reports about privilege.
    if (((got >> 13) & 3) !== ((want >> 13) & 3)) return { diverged: true, differs: `reported DPL ${(got >> 13) & 3} for ${hex(sel, 4)}: the VMM compressed the guest's DPL-${(want >> 13) & 3} descriptor` };
    return same;
  }
  if (zf === nativeOk) return same;
  return { diverged: true, differs: `ZF=${zf ? 1 : 0} for ${hex(sel, 4)} (checked against CPL 1 and the VMM's GDT); at CPL 0 ZF=${nativeOk ? 1 : 0}` };
};

/** The describer of each critical row, keyed by the row (as ring1Vmm's emulation table); built on first use. */
let DESCRIBERS: Map<InstructionInfo | undefined, Describer> | undefined;

function describers(): Map<InstructionInfo | undefined, Describer> {
  const rows: Record<string, Describer> = {
    pushfd: pushf, pushfw: pushf, popfd: popf, popfw: popf, iretd: iret, iretw: iret,
    sgdt: storedTable((v) => [v.gdtrBase, v.gdtrLimit]), sidt: storedTable((v) => [v.idtrBase, v.idtrLimit]),
    sldt: stored16('LDTR', (v) => v.ldtrSel), str: stored16('TR', (v) => v.trSel), smsw: stored16('CR0 low word', (v) => v.cr0 & 0xffff),
    mov: selectorShown, push: selectorShown,
    lar: probe({ reportsDpl: true }), lsl: probe({}), verr: probe({ access: 'read' }), verw: probe({ access: 'write' }),
  };
  return new Map(Object.entries(rows).map(([mnemonic, f]) => [instructionInfo(mnemonic), f]));
}

/** The rows that have a describer (the others' difference is a fault or a transfer the monitor sees). */
export function describedRows(): InstructionInfo[] {
  DESCRIBERS ??= describers();
  return [...DESCRIBERS.keys()].filter((i): i is InstructionInfo => i !== undefined);
}

export function describeCritical(ctx: CriticalContext, ev: CriticalEvent): CriticalVerdict {
  DESCRIBERS ??= describers();
  const describe = DESCRIBERS.get(ev.insn.info);
  if (!describe) return same;
  try {
    return describe(ctx, ev);
  } catch {
    // Reading the operand back faulted (it cannot, the instruction just used it); report nothing.
    return same;
  }
}

/** Would the descriptor pass LAR/LSL/VERR/VERW's privilege check at CPL 0 with this RPL? */
function nativeVisible(hi: number, sel: number, check: ProbeCheck): boolean {
  const attr = Cpu.descAttr(hi), dpl = (attr >> 5) & 3, rpl = sel & 3;
  const s = (attr & 0x10) !== 0, type = attr & 0xf;
  if (s && (type & 0xc) === 0xc && check.access !== 'write') { /* conforming code: no privilege check */ }
  else if (dpl < rpl) return false;
  if (check.access === 'read') return s && (!(type & 8) || (type & 2) !== 0);
  if (check.access === 'write') return s && !(type & 8) && (type & 2) !== 0;
  return true;
}

/** The value POPF just popped (it is still in memory just below the new stack pointer). */
function readBelowStack(cpu: Cpu, size: number): number {
  const sp = cpu.stack32 ? cpu.regs[4] : cpu.regs[4] & 0xffff;
  return size === 4 ? cpu.read32(SS, (sp - 4) | 0) >>> 0 : cpu.read16(SS, (sp - 2) | 0);
}

/**
 * One paragraph for the end of a run: where the guest first saw the difference (source line when
 * known) and why no trap-and-emulate monitor can hide it.
 */
export function explainDivergence(mode: string, d: Divergence): string {
  const at = `0x${(d.eip >>> 0).toString(16).padStart(8, '0')}`;
  const src = d.source ? ` (${d.source.file}:${d.source.line}${d.source.function ? `, in ${d.source.function}` : ''})` : '';
  return `${mode}: the first critical instruction that behaved differently from native was ${d.mnemonic} at ${at}${src}, `
    + `after ${d.icount.toLocaleString('en-US')} instructions: ${d.differs}. ${d.mnemonic.toUpperCase()} is sensitive but not privileged `
    + `(Robin & Irvine 2000): at CPL 1 it runs without a trap, so the monitor never sees it and the guest goes on with a wrong value. `
    + (mode === 'paravirtual'
      ? 'A paravirtual kernel does not run it there (Xen guests read and write the event mask in shared info instead); this part of the kernel is unmodified.'
      : 'An unmodified kernel needs binary translation or hardware assistance (VT-x); paravirtualization replaces the instruction in the kernel\'s source.');
}
