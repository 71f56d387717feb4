/* Operand access shared by the instruction semantics: effective address, ModRM.rm and ModRM.reg. */
import type { Cpu } from '../cpu';
import type { Insn } from '../insn';

/** Effective address (offset in the segment) of the memory operand. */
export function ea(cpu: Cpu, i: Insn): number {
  let a = i.disp;
  if (i.base >= 0) a = (a + cpu.regs[i.base]) | 0;
  if (i.index >= 0) a = (a + (cpu.regs[i.index] << i.scale)) | 0;
  return i.addr16 ? a & 0xffff : a;
}

/** Reads the ModRM.rm operand of `size` bytes (register or memory). */
export function readE(cpu: Cpu, i: Insn, size: number): number {
  if (i.rm >= 0) return cpu.getReg(i.rm, size);
  return cpu.read(i.seg, ea(cpu, i), size);
}
export function writeE(cpu: Cpu, i: Insn, size: number, v: number): void {
  if (i.rm >= 0) cpu.setReg(i.rm, size, v);
  else cpu.write(i.seg, ea(cpu, i), size, v);
}

/**
 * Read-modify-write of the rm operand: checks write access first (so a fault changes nothing),
 * then reads, computes with `fn`, and writes back unless `fn` returns undefined.
 */
export function rmwE(cpu: Cpu, i: Insn, size: number, fn: (v: number) => number | undefined): void {
  if (i.rm >= 0) {
    const r = fn(cpu.getReg(i.rm, size));
    if (r !== undefined) cpu.setReg(i.rm, size, r);
    return;
  }
  const a = ea(cpu, i);
  cpu.probeWrite(i.seg, a, size);
  const r = fn(cpu.read(i.seg, a, size));
  if (r !== undefined) cpu.write(i.seg, a, size, r);
}

/** Sign-extends the low `size` bytes of v. */
export function sext(v: number, size: number): number {
  return size === 4 ? v | 0 : size === 2 ? (v << 16) >> 16 : (v << 24) >> 24;
}
export const SZ = (size: number): number => (size === 4 ? 2 : size === 2 ? 1 : 0);
