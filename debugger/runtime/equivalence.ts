/*
 * `checkEquivalence`: the guest runs under its technique and, in lock step, on a native twin. After
 * every instruction the two are compared on what the guest can observe — EIP, the general
 * registers, the status flags, IF as the guest believes it, the memory the instruction wrote (its
 * memory operand, the stack it pushed, the string it stored) — and the first difference is reported
 * in words.
 */
import { disassembleOne } from '../../core/asm';
import { CS, REG32_NAMES } from '../../core/cpu/constants';
import type { Cpu } from '../../core/cpu/cpu';
import type { Vm } from '../../core/vmm/vm';
import { hex } from './guestState';
import { readLinearBytes } from './guestMemory';

/** Status flags and DF, TF: what the guest's own code can test directly. */
const COMPARED_FLAGS = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800;
const FLAG_NAMES: Array<[number, string]> = [[0, 'CF'], [2, 'PF'], [4, 'AF'], [6, 'ZF'], [7, 'SF'], [8, 'TF'], [10, 'DF'], [11, 'OF']];

/** Where the instruction about to run may write (computed on the twin before it runs). */
export interface WriteSet { ranges: Array<[number, number]>; espBefore: number; ediBefore: number; text: string; address: number }

export function linearEip(cpu: Cpu): number { return (cpu.eip + cpu.segBase[CS]) >>> 0; }

/** Decodes the twin's next instruction and the memory it may write. */
export function plannedWrites(twin: Cpu): WriteSet {
  const address = linearEip(twin);
  const { bytes } = readLinearBytes(twin, address, 16);
  const d = bytes.length ? disassembleOne(bytes, 0, address) : undefined;
  const ranges: Array<[number, number]> = [];
  try {
    const insn = twin.decodeAt(address);
    if (insn.modrm >= 0 && insn.rm < 0) {
      let ea = insn.disp;
      if (insn.base >= 0) ea += twin.regs[insn.base];
      if (insn.index >= 0) ea += twin.regs[insn.index] << insn.scale;
      if (insn.addr16) ea &= 0xffff;
      // 6 bytes covers SGDT/SIDT; 4 the widest ordinary store.
      ranges.push([(twin.segBase[insn.seg] + ea) >>> 0, 6]);
    }
  } catch { /* an instruction that cannot be decoded faults on both sides alike */ }
  return { ranges, espBefore: twin.regs[4] >>> 0, ediBefore: twin.regs[7] >>> 0, text: d?.text ?? '?', address };
}

function guestIf(vm: Vm): number | undefined {
  const v = vm.inspect().vcpu ?? {};
  for (const key of ['IF (virtual)', 'IF (guest)', 'virtual IF']) {
    const x = v[key];
    if (x !== undefined) return x === true || x === 1 || x === '1' ? 1 : 0;
  }
  return undefined;
}

/**
 * Compares the VM and its native twin after one instruction; returns what differs, in words, or
 * undefined when the guest cannot tell them apart.
 */
export function compareWithTwin(vm: Vm, twin: Vm, writes: WriteSet): string | undefined {
  const a = vm.cpu, b = twin.cpu;
  const diffs: string[] = [];
  if (linearEip(a) !== linearEip(b)) diffs.push(`EIP ${hex(linearEip(a))}, native ${hex(linearEip(b))}`);
  for (let r = 0; r < 8; r++) {
    if (a.regs[r] !== b.regs[r]) diffs.push(`${REG32_NAMES[r].toUpperCase()} ${hex(a.regs[r])}, native ${hex(b.regs[r])}`);
  }
  const fa = a.getEflags() & COMPARED_FLAGS, fb = b.getEflags() & COMPARED_FLAGS;
  if (fa !== fb) {
    const names = FLAG_NAMES.filter(([bit]) => ((fa ^ fb) >>> bit) & 1).map(([bit, n]) => `${n}=${(fa >>> bit) & 1} (native ${(fb >>> bit) & 1})`);
    diffs.push(`flags ${names.join(', ')}`);
  }
  const vif = guestIf(vm) ?? ((a.getEflags() >>> 9) & 1);
  const nif = (b.getEflags() >>> 9) & 1;
  if (vif !== nif) diffs.push(`IF as the guest believes it is ${vif}, native ${nif}`);
  const ranges = [...writes.ranges];
  const espAfter = b.regs[4] >>> 0;
  if (espAfter < writes.espBefore && writes.espBefore - espAfter <= 64) ranges.push([espAfter, writes.espBefore - espAfter]);
  const ediAfter = b.regs[7] >>> 0;
  if (ediAfter !== writes.ediBefore) {
    const lo = Math.min(ediAfter, writes.ediBefore), len = Math.min(Math.abs(ediAfter - writes.ediBefore), 4096);
    ranges.push([(b.segBase[0] + lo) >>> 0, len]);
  }
  for (const [addr, len] of ranges) {
    const ma = readLinearBytes(a, addr, len).bytes, mb = readLinearBytes(b, addr, len).bytes;
    const n = Math.min(ma.length, mb.length);
    for (let i = 0; i < n; i++) {
      if (ma[i] !== mb[i]) {
        diffs.push(`memory at ${hex(addr + i)}: ${bytesHex(ma.subarray(i, Math.min(n, i + 8)))}, native ${bytesHex(mb.subarray(i, Math.min(n, i + 8)))}`);
        break;
      }
    }
  }
  if (!diffs.length) return undefined;
  return diffs.join('; ');
}

function bytesHex(b: Uint8Array): string { return [...b].map((x) => x.toString(16).padStart(2, '0')).join(' '); }
