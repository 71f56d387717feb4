/*
 * Guest state by name and as views: registers, EFLAGS decoded, VCPU (real and as the guest
 * believes), VMCS by area, hypervisor counters. Plain data for the session's scopes; reads and
 * writes by name for expressions and setVariable. Imports core/ only.
 */
import { CS, DS, ES, FS, GS, SS } from '../../core/cpu/constants';
import type { Cpu } from '../../core/cpu/cpu';
import type { RunCounters } from '../../core/machine/report';
import type { Vm } from '../../core/vmm/vm';
import { CPU, ENTRY_CTL, EXIT_CTL, PIN, SECONDARY } from '../../core/vmm/vmx/controls';
import { exitReasonName } from '../../core/vmm/vmx/exitReasons';
import { VMCS_FIELDS, type VmcsArea } from '../../core/vmm/vmx/vmcs';
import { ElfSourceIndex } from './elfProgram';
import { peekLinear, pokeLinear } from './guestMemory';
import type { EvalContext } from './expression';
import type { SourceIndex } from './program';

/** One row of a view; `children` makes it expandable, `memory` gives it a memory reference. */
export interface StateItem {
  name: string;
  value: string;
  /** Expression that reads it again (watch, copy as expression). */
  evaluateName?: string;
  editable?: boolean;
  /** Linear address the value points at (registers that hold addresses). */
  memory?: number;
  children?: StateItem[];
  type?: string;
}

const REG32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const REG16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const REG8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const SEGS: Array<[string, number]> = [['cs', CS], ['ds', DS], ['es', ES], ['fs', FS], ['gs', GS], ['ss', SS]];

/** EFLAGS bits the views decode: name, bit, meaning. */
export const FLAG_BITS: ReadonlyArray<readonly [string, number, string]> = [
  ['CF', 0, 'carry'], ['PF', 2, 'parity'], ['AF', 4, 'auxiliary carry'], ['ZF', 6, 'zero'], ['SF', 7, 'sign'],
  ['TF', 8, 'trap'], ['IF', 9, 'interrupt enable'], ['DF', 10, 'direction'], ['OF', 11, 'overflow'],
  ['NT', 14, 'nested task'], ['RF', 16, 'resume'], ['VM', 17, 'virtual-8086 mode'], ['AC', 18, 'alignment check'],
  ['VIF', 19, 'virtual interrupt'], ['VIP', 20, 'virtual interrupt pending'], ['ID', 21, 'CPUID available'],
];
const FLAG_BY_NAME = new Map(FLAG_BITS.map(([n, b]) => [n.toLowerCase(), b]));
/** Flags setVariable refuses (the CPU does not model virtual-8086 mode). */
const FLAGS_READ_ONLY = new Set(['vm']);

export const hex = (v: number, w = 8) => '0x' + (v >>> 0).toString(16).padStart(w, '0');

/** Reads a register, flag, or CPU field by lower-case name. */
export function readName(cpu: Cpu, name: string): number | undefined {
  let i = REG32.indexOf(name);
  if (i >= 0) return cpu.regs[i] >>> 0;
  i = REG16.indexOf(name);
  if (i >= 0) return cpu.regs[i] & 0xffff;
  i = REG8.indexOf(name);
  if (i >= 0) return cpu.getReg8(i);
  const flag = FLAG_BY_NAME.get(name);
  if (flag !== undefined) return (cpu.getEflags() >>> flag) & 1;
  const seg = SEGS.find(([n]) => n === name);
  if (seg) return cpu.segSel[seg[1]];
  switch (name) {
    case 'eip': return cpu.eip >>> 0;
    case 'pc': case '$pc': return (cpu.eip + cpu.segBase[CS]) >>> 0;
    case 'eflags': case 'flags': return cpu.getEflags();
    case 'iopl': return cpu.iopl;
    case 'cpl': return cpu.cpl;
    case 'cr0': return cpu.cr0 >>> 0;
    case 'cr2': return cpu.cr2 >>> 0;
    case 'cr3': return cpu.cr3 >>> 0;
    case 'cr4': return cpu.cr4 >>> 0;
    case 'icount': return cpu.icount >>> 0;
  }
  return undefined;
}

/** Writes a register or flag by lower-case name; false when it is not writable this way. */
export function writeName(cpu: Cpu, name: string, value: number): boolean {
  let i = REG32.indexOf(name);
  if (i >= 0) { cpu.regs[i] = value | 0; return true; }
  i = REG16.indexOf(name);
  if (i >= 0) { cpu.setReg(i, 2, value); return true; }
  i = REG8.indexOf(name);
  if (i >= 0) { cpu.setReg8(i, value); return true; }
  const flag = FLAG_BY_NAME.get(name);
  if (flag !== undefined) {
    if (FLAGS_READ_ONLY.has(name) || value > 1) return false;
    cpu.setEflags((cpu.getEflags() & ~(1 << flag)) | ((value & 1) << flag));
    return true;
  }
  switch (name) {
    case 'eip': cpu.eip = value >>> 0; cpu.breakBlock = true; return true;
    case 'eflags': case 'flags':
      if (value & (1 << 17)) return false;
      cpu.setEflags(value); return true;
    case 'iopl':
      if (value > 3) return false;
      cpu.setEflags((cpu.getEflags() & ~0x3000) | (value << 12)); return true;
  }
  return false;
}

/** The expression context over a CPU and a program's symbols. */
export function evalContext(cpu: Cpu, index: SourceIndex | undefined, onWrite?: () => void): EvalContext {
  return {
    readName: (n) => readName(cpu, n),
    writeName: (n, v) => { const ok = writeName(cpu, n, v); if (ok) onWrite?.(); return ok; },
    symbol: (n) => {
      const label = index?.label(n) ?? (n.startsWith('.') ? localLabel(cpu, index, n) : undefined);
      return label?.address ?? index?.constants.get(n.toLowerCase());
    },
    variable: (n) => (index instanceof ElfSourceIndex ? index.variable(n) : undefined),
    read: (a, size) => peekLinear(cpu, a, size),
    write: (a, size, v) => { const ok = pokeLinear(cpu, a, size, v); if (ok) onWrite?.(); return ok; },
  };
}

/** `.loop` as the guest's code would mean it: the local label of the function EIP is in. */
function localLabel(cpu: Cpu, index: SourceIndex | undefined, name: string) {
  const fn = index?.functionAt((cpu.eip + cpu.segBase[CS]) >>> 0);
  return fn ? index!.label(fn.name + name) : undefined;
}

export function registersView(cpu: Cpu): StateItem[] {
  const items: StateItem[] = REG32.map((r, i) => ({ name: r, value: hex(cpu.regs[i]), evaluateName: r, editable: true, memory: cpu.regs[i] >>> 0 }));
  // EAX, EBX, ECX, EDX order reads better than the encoding order.
  const order = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp'];
  items.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  items.push({ name: 'eip', value: hex(cpu.eip), evaluateName: 'eip', editable: true, memory: (cpu.eip + cpu.segBase[CS]) >>> 0 });
  items.push({ name: 'eflags', value: hex(cpu.getEflags()), evaluateName: 'eflags', editable: true });
  for (const [n, s] of SEGS) {
    items.push({ name: n, value: hex(cpu.segSel[s], 4), evaluateName: n,
      children: [
        { name: 'selector', value: hex(cpu.segSel[s], 4) },
        { name: 'index', value: String(cpu.segSel[s] >> 3) },
        { name: 'TI', value: cpu.segSel[s] & 4 ? '1 (LDT)' : '0 (GDT)' },
        { name: 'RPL', value: String(cpu.segSel[s] & 3) },
        { name: 'base', value: hex(cpu.segBase[s]) },
        { name: 'limit', value: hex(cpu.segLimit[s]) },
        { name: 'attributes', value: hex(cpu.segAttr[s], 4) },
        { name: 'DPL', value: String((cpu.segAttr[s] >> 5) & 3) },
      ] });
  }
  return items;
}

export function eflagsView(cpu: Cpu): StateItem[] {
  const v = cpu.getEflags();
  const items: StateItem[] = FLAG_BITS.map(([n, bit, meaning]) => ({
    name: n, value: String((v >>> bit) & 1), evaluateName: n, editable: !FLAGS_READ_ONLY.has(n.toLowerCase()), type: meaning,
  }));
  items.splice(9, 0, { name: 'IOPL', value: String((v >>> 12) & 3), evaluateName: 'iopl', editable: true, type: 'I/O privilege level (bits 12-13)' });
  return items;
}

function table(base: number, limit: number): string { return `base ${hex(base)} limit ${hex(limit, 4)}`; }

const formatFact = (v: string | number | boolean): string => typeof v === 'number' ? (Number.isInteger(v) && (v > 9 || v < 0) ? `${hex(v)} (${v})` : String(v)) : String(v);

/**
 * VCPU: what the technique says (CPL as the guest believes, virtual IF, virtual tables …), then the
 * real CPU's state.
 */
export function vcpuView(cpu: Cpu, vm: Vm): StateItem[] {
  const out: StateItem[] = [];
  const seen = new Set<string>();
  for (const [k, v] of Object.entries(vm.inspect().vcpu ?? {})) { out.push({ name: k, value: formatFact(v) }); seen.add(k); }
  const add = (name: string, value: string) => { if (!seen.has(name)) out.push({ name, value }); };
  add('CPL (real)', String(cpu.cpl));
  add('IF (real)', String((cpu.getEflags() >>> 9) & 1));
  add('IOPL (real)', String(cpu.iopl));
  add('GDTR (real)', table(cpu.gdtrBase, cpu.gdtrLimit));
  add('IDTR (real)', table(cpu.idtrBase, cpu.idtrLimit));
  add('LDTR (real)', `${hex(cpu.ldtrSel, 4)} ${table(cpu.ldtrBase, cpu.ldtrLimit)}`);
  add('TR (real)', `${hex(cpu.trSel, 4)} ${table(cpu.trBase, cpu.trLimit)}`);
  add('CR0 (real)', `${hex(cpu.cr0)}${describeCr0(cpu.cr0)}`);
  add('CR2 (real)', hex(cpu.cr2));
  add('CR3 (real)', hex(cpu.cr3));
  add('CR4 (real)', hex(cpu.cr4));
  add('halted', String(cpu.halted));
  add('instructions', String(cpu.icount));
  return out;
}

function describeCr0(v: number): string {
  const bits = [['PE', 0], ['MP', 1], ['EM', 2], ['TS', 3], ['ET', 4], ['NE', 5], ['WP', 16], ['AM', 18], ['NW', 29], ['CD', 30], ['PG', 31]] as const;
  const on = bits.filter(([, b]) => (v >>> b) & 1).map(([n]) => n);
  return on.length ? ` (${on.join(' ')})` : '';
}

const AREA_TITLES: Record<VmcsArea, string> = { control: 'Control fields', 'exit-info': 'VM-exit information', guest: 'Guest-state area', host: 'Host-state area' };

/**
 * VMCS (hardware-assisted): the technique's fields grouped by area, each named as Intel names it,
 * with its encoding. Undefined when the technique has no VMCS.
 */
export function vmcsView(fields: Record<string, string | number | boolean> | undefined): StateItem[] | undefined {
  if (!fields) return undefined;
  const byName = new Map(VMCS_FIELDS.map((f) => [f.name, f]));
  const groups = new Map<string, StateItem[]>();
  for (const [key, raw] of Object.entries(fields)) {
    // Keys are Intel's field names, optionally prefixed by their area (`exit-info.VM_EXIT_REASON`).
    const name = key.includes('.') ? key.slice(key.indexOf('.') + 1) : key;
    const info = byName.get(name);
    const value = vmcsValue(name, raw);
    const area = info ? AREA_TITLES[info.area] : 'Other';
    let list = groups.get(area);
    if (!list) groups.set(area, list = []);
    list.push({ name: info ? `${name} [${hex(info.encoding, 4)}]` : name, value, children: controlBits(name, raw), type: info ? `encoding ${hex(info.encoding, 4)}, ${info.width === 'natural' ? 'natural' : info.width + '-bit'}` : undefined });
  }
  const order = [...Object.values(AREA_TITLES), 'Other'];
  return [...groups.entries()].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]))
    .map(([area, children]) => ({ name: area, value: `${children.length} fields`, children }));
}

/** The control fields' bits by their Intel/Linux names (SDM Vol. 3C §25.6–25.8). */
const CONTROL_BITS: Record<string, Record<string, number>> = {
  PIN_BASED_VM_EXEC_CONTROL: PIN, CPU_BASED_VM_EXEC_CONTROL: CPU, SECONDARY_VM_EXEC_CONTROL: SECONDARY,
  VM_EXIT_CONTROLS: EXIT_CTL, VM_ENTRY_CONTROLS: ENTRY_CTL,
};

/** The set bits of a control field, each named (undefined for other fields). */
function controlBits(name: string, raw: string | number | boolean): StateItem[] | undefined {
  const bits = CONTROL_BITS[name];
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(raw) ? Number(raw) : NaN;
  if (!bits || !Number.isFinite(n)) return undefined;
  const set = Object.entries(bits).filter(([, bit]) => (n & bit) !== 0);
  const named = set.reduce((m, [, bit]) => m | bit, 0);
  const rest = (n & ~named) >>> 0;
  const items: StateItem[] = set.map(([bitName, bit]) => ({ name: bitName, value: `1 (bit ${31 - Math.clz32(bit >>> 0)})` }));
  if (rest) items.push({ name: 'other bits (reserved, fixed to 1)', value: hex(rest) });
  return items;
}

/** A VMCS value: hex with decimal; the exit reason also by name (SDM Vol. 3 App. C). */
function vmcsValue(name: string, raw: string | number | boolean): string {
  const words = typeof raw === 'string' ? / — (.*)$/.exec(raw) : null;
  if (words) return `${vmcsValue(name, (raw as string).slice(0, words.index))} — ${words[1]}`;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^(0x[0-9a-f]+|[0-9]+)$/i.test(raw) ? Number(raw) : undefined;
  if (n === undefined || !Number.isSafeInteger(n)) return String(raw);
  const text = n > 0xffffffff ? '0x' + n.toString(16) : `${hex(n)} (${n})`;
  if (name === 'VM_EXIT_REASON') return `${text} ${exitReasonName(n & 0xffff)}`;
  return text;
}

/** Hypervisor: counters by reason (SPEC §6 report tables) and the technique's own figures. */
export function hypervisorView(vm: Vm, at?: { counters: RunCounters; cycles: number }, recent: Array<{ icount: number; line: string }> = []): StateItem[] {
  const c = at?.counters ?? vm.counters;
  const tableItem = (name: string, t: Record<string, number>): StateItem => {
    const entries = Object.entries(t).sort((a, b) => b[1] - a[1]);
    const total = entries.reduce((s, [, n]) => s + n, 0);
    return { name, value: String(total), children: entries.map(([k, n]) => ({ name: k, value: String(n) })) };
  };
  const out: StateItem[] = [
    { name: 'mode', value: vm.mode },
    { name: 'cost profile', value: vm.profile.name },
    { name: 'instructions', value: String(vm.cpu.icount) },
    { name: 'modelled cycles', value: String(Math.round(at?.cycles ?? vm.cycles)) },
    tableItem('traps', c.traps),
    tableItem('critical', c.critical),
    tableItem('VM exits', c.vmExits),
    tableItem('hypercalls', c.hypercalls),
    { name: 'translation', value: `${c.translation.blocks} blocks`, children: [
      { name: 'blocks', value: String(c.translation.blocks) },
      { name: 'instructions', value: String(c.translation.instructions) },
      { name: 'cache hits', value: String(c.translation.cacheHits) },
    ] },
  ];
  for (const [k, v] of Object.entries(vm.inspect().hypervisor ?? {})) out.push({ name: k, value: formatFact(v) });
  if (recent.length) {
    out.push({ name: 'recent events', value: `${recent.length}, latest last`,
      children: recent.map((e, i) => ({ name: String(i + 1).padStart(2, '0'), value: e.line.replace(/^\[\d+\] /, `[${e.icount}] `) })) });
  }
  return out;
}
