/*
 * Stepping goals: what "step in / over / out" by instruction or by source line means, as checks
 * before and after each instruction. Imports core/ only (through the runtime's views).
 */
import { disassembleOne } from '../../core/asm';
import type { Cpu } from '../../core/cpu/cpu';
import { readLinearBytes } from './guestMemory';
import type { SourceIndex } from './program';

export type Granularity = 'instruction' | 'line';

export interface Goal {
  kind: 'continue' | 'step';
  /** Called before each instruction; may note state (a call to step over, a ret to step out of). */
  before?(lin: number): void;
  /** Called after each instruction: true when the step is complete. */
  done?(lin: number): boolean;
}

/** What a step needs to see of the guest. */
export interface SteppingView {
  index: SourceIndex;
  /** Linear address of the next instruction when the step starts. */
  pc: number;
  esp(): number;
  opcodeAt(lin: number): number;
  instructionAt(lin: number): { mnemonic: string; length: number; text: string } | undefined;
  /**
   * Compiled code (an ELF with a line table): true at the first instruction of a statement, the
   * only places a step by line stops (not in the middle of a line, e.g. after a call returns).
   */
  statementStart?(lin: number): boolean;
  /** The current frame when its function keeps a frame pointer (see frames.ts). */
  frame?(): { cfa: number; ret: number } | undefined;
}

/** The checks of a step: in (the next instruction or line), over (calls and INT n run to their return), out (to the RET/IRET of this frame). */
export function stepGoal(view: SteppingView, kind: 'in' | 'over' | 'out', granularity: Granularity): Goal {
  const index = view.index;
  const startLoc = index.locate(view.pc);
  const startFrame = view.frame?.();
  const lineDone = (lin: number): boolean => {
    if (granularity === 'instruction' || !startLoc) return true;
    if (view.statementStart) {
      if (!index.containing(lin)) return true; // left the code the line table describes: stop there
      if (!view.statementStart(lin)) return false;
      const loc = index.locate(lin)!;
      if (loc.line === startLoc.line && loc.file === startLoc.file) return false;
      // Over: a line of this frame or of a caller, not of a callee or an interrupt handler.
      if (kind === 'over' && startFrame) {
        const f = view.frame?.();
        if (f && f.cfa < startFrame.cfa) return false;
      }
      return true;
    }
    const e = index.at(lin);
    if (!e) return !index.containing(lin); // left the program's code: stop there
    return e.range.start.line !== startLoc.line || e.file !== startLoc.file;
  };
  if (kind === 'out' && startFrame) {
    // Out of a frame-pointer function: to its return address, with its frame popped.
    return { kind: 'step', done: (lin) => lin === startFrame.ret && view.esp() >= startFrame.cfa };
  }
  if (kind === 'out') {
    const esp0 = view.esp();
    let returning = false;
    return {
      kind: 'step',
      before: (lin) => {
        const op = view.opcodeAt(lin);
        returning = (op === 0xc3 || op === 0xc2 || op === 0xcf || op === 0xcb || op === 0xca) && view.esp() >= esp0;
      },
      done: () => returning,
    };
  }
  let over: { target: number; esp: number } | undefined;
  return {
    kind: 'step',
    before: (lin) => {
      if (kind !== 'over' || over) return;
      const t = view.instructionAt(lin);
      if (t && (t.mnemonic === 'call' || t.mnemonic === 'int' || t.mnemonic === 'into' || t.mnemonic === 'int3')) over = { target: (lin + t.length) >>> 0, esp: view.esp() };
    },
    done: (lin) => {
      if (over) {
        if (lin !== over.target || view.esp() < over.esp) return false;
        over = undefined;
      }
      return lineDone(lin);
    },
  };
}

/** First opcode byte at `lin` after prefixes, or -1. */
export function opcodeAt(cpu: Cpu, lin: number): number {
  const { bytes } = readLinearBytes(cpu, lin, 8);
  for (const b of bytes) {
    if (b === 0x66 || b === 0x67 || b === 0xf2 || b === 0xf3 || b === 0xf0 || b === 0x2e || b === 0x36 || b === 0x3e || b === 0x26 || b === 0x64 || b === 0x65) continue;
    return b;
  }
  return -1;
}

export function instructionAt(cpu: Cpu, lin: number): { mnemonic: string; length: number; text: string } | undefined {
  const { bytes } = readLinearBytes(cpu, lin, 16);
  if (!bytes.length) return undefined;
  const d = disassembleOne(bytes, 0, lin);
  return { mnemonic: d.mnemonic, length: d.bytes.length, text: d.text };
}
