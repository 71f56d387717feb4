/*
 * Frames of code compiled with frame pointers (gcc -fno-omit-frame-pointer, the teaching kernels'
 * default): from a function's prologue (`push ebp; mov ebp, esp`, after an optional endbr32) and
 * where EIP is in it, the canonical frame address (ESP before the call pushed the return address),
 * the return address and the caller's EBP. The call stack follows this EBP chain; step out and
 * step over by line use the CFA to tell this frame from callees, interrupt handlers and callers.
 */
import type { Cpu } from '../../core/cpu/cpu';
import { readLinearBytes } from './guestMemory';
import type { ElfSourceIndex } from './elfProgram';

export interface FrameRegs { pc: number; esp: number; ebp: number }

export interface FrameInfo {
  /** ESP just before the call instruction that made this frame (its return address is at cfa-4). */
  cfa: number;
  ret: number;
  callerEbp: number;
}

function read32(cpu: Cpu, linear: number): number | undefined {
  const { bytes } = readLinearBytes(cpu, linear | 0, 4);
  return bytes.length === 4 ? (bytes[0] | bytes[1] << 8 | bytes[2] << 16 | bytes[3] << 24) >>> 0 : undefined;
}

/** Address of the first instruction after `push ebp; mov ebp, esp` at a function's start, or undefined. */
export function prologueEnd(cpu: Cpu, start: number): { afterPush: number; afterMov: number } | undefined {
  const { bytes } = readLinearBytes(cpu, start, 8);
  let i = 0;
  if (bytes[0] === 0xf3 && bytes[1] === 0x0f && bytes[2] === 0x1e && bytes[3] === 0xfb) i = 4; // endbr32
  if (bytes[i] !== 0x55) return undefined;
  const m1 = bytes[i + 1], m2 = bytes[i + 2];
  if (!((m1 === 0x89 && m2 === 0xe5) || (m1 === 0x8b && m2 === 0xec))) return undefined;
  return { afterPush: start + i + 1, afterMov: start + i + 3 };
}

/** The frame of the function `r.pc` is in, when that function keeps a frame pointer. */
export function frameOf(cpu: Cpu, index: ElfSourceIndex, r: FrameRegs): FrameInfo | undefined {
  const fn = index.debug.functionAt(r.pc);
  if (!fn) return undefined;
  const p = prologueEnd(cpu, fn.low);
  if (!p) return undefined;
  const ss = cpu.segBase[2];
  const at = (sp: number) => read32(cpu, ss + sp);
  const pc = r.pc >>> 0;
  let cfa: number, ret: number | undefined, callerEbp: number | undefined;
  const op = readLinearBytes(cpu, pc, 1).bytes[0];
  if (pc < p.afterPush || op === 0xc3 || op === 0xc2) {
    // Before `push ebp`, or at the `ret` after `leave`/`pop ebp`: the return address is on top.
    cfa = r.esp + 4; ret = at(r.esp); callerEbp = r.ebp;
  } else if (pc < p.afterMov) {
    cfa = r.esp + 8; ret = at(r.esp + 4); callerEbp = at(r.esp);
  } else {
    cfa = r.ebp + 8; ret = at(r.ebp + 4); callerEbp = at(r.ebp);
  }
  if (ret === undefined || callerEbp === undefined) return undefined;
  return { cfa: cfa >>> 0, ret, callerEbp };
}
