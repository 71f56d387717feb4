/*
 * `checkEquivalence`: the guest runs under its technique and, in lock step, on a native twin. After
 * every instruction the two are compared on what the guest can observe — EIP, the general
 * registers, the status flags, IF as the guest believes it, the memory the instruction wrote (its
 * memory operand, the stack it pushed, the string it stored) — and the first difference is reported
 * in words.
 */
import { CS, REG32_NAMES } from '../../core/cpu/constants';
import type { Cpu } from '../../core/cpu/cpu';
import { SHARED_INFO_ADDR } from '../../core/vmm/hypercalls';
import type { Vm } from '../../core/vmm/vm';
import { hex } from './guestState';
import { readLinearBytes } from './guestMemory';

/** Status flags and DF, TF: what the guest's own code can test directly. */
const COMPARED_FLAGS = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800;
const FLAG_NAMES: Array<[number, string]> = [[0, 'CF'], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [10, 'DF'], [11, 'OF']];

/**
 * The state before an instruction on both sides: only what the instruction changes counts (a
 * difference that was there before and that it leaves alone — the technique's entry state, a frame
 * the VMM pushed — is not this instruction's effect).
 */
export interface Before {
  address: number;
  vmRegs: Int32Array; twinRegs: Int32Array;
  vmFlags: number; twinFlags: number;
  vmIf: number; twinIf: number;
  /** Memory the instruction may write, with the bytes before on each side. */
  ranges: Array<{ address: number; vm: Uint8Array; twin: Uint8Array }>;
  espBefore: number;
  ediBefore: number;
}

export function linearEip(cpu: Cpu): number { return (cpu.eip + cpu.segBase[CS]) >>> 0; }

/**
 * Captures what the comparison after the next instruction needs (decoded on the native twin; its
 * text is worked out only for a difference reported, not for every instruction of the lock step).
 */
export function captureBefore(vm: Vm, twin: Vm): Before {
  const t = twin.cpu;
  const address = linearEip(t);
  const spots: Array<[number, number]> = [];
  try {
    const insn = t.decodeAt(address);
    if (insn.modrm >= 0 && insn.rm < 0) {
      let ea = insn.disp;
      if (insn.base >= 0) ea += t.regs[insn.base];
      if (insn.index >= 0) ea += t.regs[insn.index] << insn.scale;
      if (insn.addr16) ea &= 0xffff;
      // 6 bytes covers SGDT/SIDT; 4 the widest ordinary store.
      spots.push([(t.segBase[insn.seg] + ea) >>> 0, 6]);
    }
  } catch { /* an instruction that cannot be decoded faults on both sides alike */ }
  // The stack just below ESP (pushes, calls, interrupt frames on the same stack).
  spots.push([(t.segBase[2] + t.regs[4] - 32) >>> 0, 32]);
  return {
    address,
    vmRegs: Int32Array.from(vm.cpu.regs), twinRegs: Int32Array.from(t.regs),
    vmFlags: vm.cpu.getEflags() & COMPARED_FLAGS, twinFlags: t.getEflags() & COMPARED_FLAGS,
    vmIf: guestIf(vm) ?? ((vm.cpu.getEflags() >>> 9) & 1), twinIf: (t.getEflags() >>> 9) & 1,
    ranges: spots.map(([a, n]) => ({ address: a, vm: readLinearBytes(vm.cpu, a, n).bytes, twin: readLinearBytes(t, a, n).bytes })),
    espBefore: t.regs[4] >>> 0, ediBefore: t.regs[7] >>> 0,
  };
}

/** IF as the guest believes it (a technique's virtual IF), undefined where the real IF is the guest's. */
export function guestIf(vm: Vm): number | undefined {
  // The ring-1 VMMs (trap-and-emulate, paravirtual) answer it directly: inspect() builds their whole
  // view, far too costly once per instruction of the lock step.
  const t = vm.technique as { virtualIf?: () => boolean } | undefined;
  if (typeof t?.virtualIf === 'function') return t.virtualIf() ? 1 : 0;
  const v = vm.inspect().vcpu ?? {};
  for (const key of ['IF (virtual)', 'IF (guest)', 'virtual IF']) {
    const x = v[key];
    if (x !== undefined) return x === true || x === 1 || x === '1' ? 1 : 0;
  }
  return undefined;
}

/** A value differs because of this instruction: it differs now, and it did not, or one side changed it. */
function effectDiffers(a0: number, b0: number, a1: number, b1: number): boolean {
  return a1 !== b1 && (a0 === b0 || a1 !== a0 || b1 !== b0);
}

/**
 * Compares the VM and its native twin after one instruction; returns what differs, in words, or
 * undefined when the guest cannot tell the instruction's effects apart.
 */
export function compareWithTwin(vm: Vm, twin: Vm, before: Before): string | undefined {
  const a = vm.cpu, b = twin.cpu;
  const diffs: string[] = [];
  if (linearEip(a) !== linearEip(b)) diffs.push(`EIP ${hex(linearEip(a))}, native ${hex(linearEip(b))}`);
  for (let r = 0; r < 8; r++) {
    if (effectDiffers(before.vmRegs[r], before.twinRegs[r], a.regs[r], b.regs[r])) diffs.push(`${REG32_NAMES[r].toUpperCase()} ${hex(a.regs[r])}, native ${hex(b.regs[r])}`);
  }
  const fa = a.getEflags() & COMPARED_FLAGS, fb = b.getEflags() & COMPARED_FLAGS;
  const flagDiffs = FLAG_NAMES.filter(([bit]) => effectDiffers((before.vmFlags >>> bit) & 1, (before.twinFlags >>> bit) & 1, (fa >>> bit) & 1, (fb >>> bit) & 1));
  if (flagDiffs.length) diffs.push(`flags ${flagDiffs.map(([bit, n]) => `${n}=${(fa >>> bit) & 1} (native ${(fb >>> bit) & 1})`).join(', ')}`);
  const vif = guestIf(vm) ?? ((a.getEflags() >>> 9) & 1);
  const nif = (b.getEflags() >>> 9) & 1;
  if (effectDiffers(before.vmIf, before.twinIf, vif, nif)) diffs.push(`IF as the guest believes it is ${vif}, native ${nif}`);
  const ranges = [...before.ranges];
  const espAfter = b.regs[4] >>> 0;
  if (Math.abs(espAfter - before.espBefore) > 64) {
    // A stack switch (privilege change): the frame on the new stack, not captured before.
    ranges.push({ address: (b.segBase[2] + espAfter) >>> 0, vm: new Uint8Array(0), twin: new Uint8Array(0) });
  }
  const ediAfter = b.regs[7] >>> 0;
  if (ediAfter !== before.ediBefore) {
    const lo = Math.min(ediAfter, before.ediBefore);
    ranges.push({ address: (b.segBase[0] + lo) >>> 0, vm: new Uint8Array(0), twin: new Uint8Array(0) });
  }
  for (const range of ranges) {
    const len = range.vm.length || 32;
    const ma = readLinearBytes(a, range.address, len).bytes, mb = readLinearBytes(b, range.address, len).bytes;
    const n = Math.min(ma.length, mb.length);
    for (let i = 0; i < n; i++) {
      const a0 = range.vm.length > i ? range.vm[i] : -1, b0 = range.twin.length > i ? range.twin[i] : -1;
      if (effectDiffers(a0, b0, ma[i], mb[i])) {
        diffs.push(`memory at ${hex(range.address + i)}: ${bytesHex(ma.subarray(i, Math.min(n, i + 8)))}, native ${bytesHex(mb.subarray(i, Math.min(n, i + 8)))}`);
        break;
      }
    }
  }
  if (!diffs.length) return undefined;
  return diffs.join('; ');
}

/**
 * What both sides look like at the end of a stretch run fast (see twinWindows.ts): the state the
 * guest can observe — EIP, the general registers, the compared flags, IF as the guest believes it —
 * and the guest RAM chunks that differ, with their bytes on each side.
 */
export interface TwinDifferences {
  icount: number;
  vm: Int32Array; twin: Int32Array;
  chunks: Map<number, { vm: Uint8Array; twin: Uint8Array }>;
}

/** Bytes per compared chunk of guest RAM where the two sides differ. */
export const CHUNK = 256;
/** Guest RAM is compared in spans of this size first (one memcmp each); only differing spans closer. */
export const SPAN = 65536;
export const PAGE = 4096;

/**
 * Chunks of guest RAM a technique keeps its own state in — the paravirtual shared-info page, which
 * the hypervisor writes (pending events, the faulting address) where a native machine has plain
 * RAM: not a guest instruction's effect, so not a reason to look for one. Left in, the first write
 * of the hypervisor's there cost a search (the stretch narrowed and re-run in lock step, ~0.4 s on
 * compute.gasm) that found nothing and ignored those chunks from then on anyway. Steps, and the
 * lock step of a search, still compare a guest instruction's own writes there.
 */
export function techniqueChunks(vm: Vm): number[] {
  if (vm.mode !== 'paravirtual') return [];
  const out: number[] = [];
  for (let at = SHARED_INFO_ADDR; at < SHARED_INFO_ADDR + 0x1000; at += CHUNK) out.push(at);
  return out;
}

/** What the comparison at a stretch's end reads of the twin: its observable state and its RAM. */
export interface TwinSide { observed: Int32Array; ram: Uint8Array }

export function observable(vm: Vm): Int32Array {
  const cpu = vm.cpu, out = new Int32Array(11);
  out[0] = linearEip(cpu);
  out.set(cpu.regs.subarray(0, 8), 1);
  out[9] = cpu.getEflags() & COMPARED_FLAGS;
  out[10] = guestIf(vm) ?? ((cpu.getEflags() >>> 9) & 1);
  return out;
}

/**
 * The differences between the VM and its twin now (both at the same instruction count), but in the
 * `ignored` chunks. The twin: a VM, or its state as the worker thread reported it (twinAhead.ts).
 * `pages`: the only guest RAM pages (first addresses) that can differ, when the caller knows them
 * (stateTransfer.ts `pagesSince`), else every page is compared.
 */
export function twinDifferences(vm: Vm, twin: Vm | TwinSide, ignored: ReadonlySet<number> = new Set(), pages?: readonly number[]): TwinDifferences {
  const side = 'cpu' in twin ? { observed: observable(twin), ram: twin.cpu.mem.bytes.subarray(0, twin.cpu.mem.ramSize) } : twin;
  const a = vm.cpu.mem.bytes, b = side.ram;
  const n = Math.min(vm.cpu.mem.ramSize, b.length);
  const chunks = new Map<number, { vm: Uint8Array; twin: Uint8Array }>();
  const compare = (from: number, len: number): void => {
    if (view(a, from, len).equals(view(b, from, len))) return;
    for (let c = from; c < from + len; c += CHUNK) {
      if (ignored.has(c)) continue;
      const va = view(a, c, Math.min(CHUNK, n - c)), vb = view(b, c, Math.min(CHUNK, n - c));
      if (!va.equals(vb)) chunks.set(c, { vm: Uint8Array.from(va), twin: Uint8Array.from(vb) });
    }
  };
  if (pages) {
    for (const page of pages) if (page < n) compare(page, Math.min(PAGE, n - page));
  } else {
    for (let span = 0; span < n; span += SPAN) compare(span, Math.min(SPAN, n - span));
  }
  return { icount: vm.cpu.icount, vm: observable(vm), twin: side.observed, chunks };
}

/** `len` bytes of `m` at `at`, as a Buffer (its `equals` is one memcmp). */
export const view = (m: Uint8Array, at: number, len: number) => Buffer.from(m.buffer, m.byteOffset + at, len);

/**
 * What the stretch from `before` to `after` made differ anew: -1 for the registers, else the RAM
 * chunks; empty when what differs now differed before with the same values on both sides (a
 * difference that went away is no new one: the guest set both sides alike, e.g. its own stack
 * pointer over the technique's entry state). Chunks in `ignored` do not count.
 */
export function newDifferences(before: TwinDifferences, after: TwinDifferences, ignored: ReadonlySet<number>): number[] {
  const found: number[] = [];
  for (let i = 0; i < after.vm.length; i++) {
    if (after.vm[i] !== after.twin[i] && (after.vm[i] !== before.vm[i] || after.twin[i] !== before.twin[i])) { found.push(-1); break; }
  }
  for (const [at, now] of after.chunks) {
    if (ignored.has(at)) continue;
    const then = before.chunks.get(at);
    if (!then) { found.push(at); continue; }
    for (let k = 0; k < now.vm.length; k++) {
      if (now.vm[k] !== now.twin[k] && (now.vm[k] !== then.vm[k] || now.twin[k] !== then.twin[k])) { found.push(at); break; }
    }
  }
  return found;
}

function bytesHex(b: Uint8Array): string { return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' '); }
