/*
 * The guest's call stack, recovered from its own frames: the stack is scanned upward from ESP for
 * return addresses (a value just after a `call` in the program) and for interrupt frames (EIP, CS,
 * EFLAGS as the CPU pushes them), which works with and without EBP frames.
 */
import { disassembleOne } from '../../core/asm';
import type { Cpu } from '../../core/cpu/cpu';
import { ElfSourceIndex } from './elfProgram';
import { frameOf, type FrameRegs } from './frames';
import { readLinearBytes } from './guestMemory';
import type { SourceIndex } from './program';

export interface Frame {
  /** Linear address the frame is at (the current EIP, or the call instruction for callers). */
  address: number;
  /** Function label (nearest non-local label). */
  name: string;
  /** 'call' for a caller, 'interrupt' for an interrupted context, 'current' for the top frame. */
  kind: 'current' | 'call' | 'interrupt';
}

const SCAN_DWORDS = 1024;
const MAX_FRAMES = 32;

export function callStack(cpu: Cpu, index: SourceIndex, eipLinear: number): Frame[] {
  if (index instanceof ElfSourceIndex) {
    const chain = framePointerChain(cpu, index, { pc: eipLinear, esp: cpu.regs[4] >>> 0, ebp: cpu.regs[5] >>> 0 });
    if (chain) return chain;
  }
  return scanStack(cpu, index, eipLinear, cpu.regs[4] >>> 0);
}

/**
 * Compiled code's call stack through the EBP chain (the top function keeps a frame pointer). Where
 * the chain reaches a function without one (an assembly entry stub, an interrupt stub), the rest
 * is found by scanning the stack above that frame.
 */
function framePointerChain(cpu: Cpu, index: ElfSourceIndex, top: FrameRegs): Frame[] | undefined {
  let f = frameOf(cpu, index, top);
  if (!f) return undefined;
  const frames: Frame[] = [{ address: top.pc, name: functionName(index, top.pc), kind: 'current' }];
  let regs = top;
  while (f && frames.length < MAX_FRAMES) {
    const call = callBefore(cpu, index, f.ret);
    // The stack grows down: a caller's frame lies above. Anything else is not a frame.
    if (call === undefined || f.cfa <= regs.esp) break;
    frames.push({ address: call, name: functionName(index, call), kind: 'call' });
    regs = { pc: f.ret, esp: f.cfa, ebp: f.callerEbp };
    f = frameOf(cpu, index, regs);
  }
  if (!f && frames.length < MAX_FRAMES) {
    // A caller without a frame pointer: what lies above its return address, by scanning.
    frames.push(...scanStack(cpu, index, regs.pc, regs.esp).slice(1, MAX_FRAMES - frames.length + 1));
  }
  return frames;
}

function scanStack(cpu: Cpu, index: SourceIndex, eipLinear: number, sp0: number): Frame[] {
  const frames: Frame[] = [{ address: eipLinear, name: functionName(index, eipLinear), kind: 'current' }];
  const ssBase = cpu.segBase[2];
  // One read of the stack above ESP (up to SCAN_DWORDS), then the scan works on the copy.
  const { bytes } = readLinearBytes(cpu, (ssBase + sp0) | 0, SCAN_DWORDS * 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const words = bytes.length >> 2;
  const at = (k: number) => (k < words ? view.getUint32(k * 4, true) : undefined);
  for (let k = 0; k < words && frames.length < MAX_FRAMES; k++) {
    const v = at(k)!;
    const call = callBefore(cpu, index, v);
    if (call !== undefined) {
      frames.push({ address: call, name: functionName(index, call), kind: 'call' });
      continue;
    }
    // An interrupt frame: EIP, then a code selector, then EFLAGS with bit 1 set.
    if (index.containing(v)) {
      const cs = at(k + 1), fl = at(k + 2);
      if (cs !== undefined && fl !== undefined && cs > 0 && cs <= 0xffff && (cs & 4) === 0 && (fl & 2) && (fl >>> 22) === 0) {
        frames.push({ address: v, name: `${functionName(index, v)} (interrupted)`, kind: 'interrupt' });
        k += 2;
      }
    }
  }
  return frames;
}

function functionName(index: SourceIndex, address: number): string {
  const f = index.functionAt(address);
  if (!f) return `0x${(address >>> 0).toString(16).padStart(8, '0')}`;
  return f.name;
}

/** If `ret` is a return address (an instruction of the program ending at it is a call), that call's address. */
function callBefore(cpu: Cpu, index: SourceIndex, ret: number): number | undefined {
  const e = index.containing((ret - 1) >>> 0);
  if (!e || e.address + e.length !== ret) return undefined;
  const { bytes } = readLinearBytes(cpu, e.address, e.length);
  if (bytes.length !== e.length) return undefined;
  const d = disassembleOne(bytes, 0, e.address);
  return d.mnemonic === 'call' ? e.address : undefined;
}
