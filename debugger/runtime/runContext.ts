/*
 * What the parts of the debugger's engine share: the guest VM and its program, where results go
 * (`RuntimeHost`), and the flags that say what the engine is doing now — running, re-executing for
 * step back, writing guest memory itself — which every part reads.
 *
 * Headless: no protocol types.
 */
import { disassembleOne } from '../../core/asm';
import { CS } from '../../core/cpu/constants';
import type { Cpu } from '../../core/cpu/cpu';
import type { Mode, Vm } from '../../core/vmm';
import type { ExceptionFilterId } from './breakpoints';
import type { EventRewind } from './eventStops';
import { shortName } from './eventText';
import { GuestOutput } from './guestOutput';
import { readLinearBytes } from './guestMemory';
import { hex } from './guestState';
import type { GuestProgram, SourceLocation } from './program';

export interface RuntimeOptions {
  program: string;
  mode: Mode;
  cost: string;
  memoryMiB: number;
  maxInstructions: number;
  checkEquivalence: boolean;
  trace: boolean;
  /** Where a flat image without a Multiboot header goes (default 0x100000). */
  loadAddress?: number;
  /** ATA disk images, [primary master, slave] (read at launch; the guest's writes stay in memory). */
  disks?: string[];
  /** The kernel's command line after its file name (QEMU's `-append`). */
  append?: string;
  /** Multiboot modules as QEMU's `-initrd` takes them: "FILE [ARGS],FILE2" (relative to the program's folder). */
  initrd?: string;
  /** Check after every instruction even where the CPU could (the reference the fast path is tested against). */
  oneAtATime?: boolean;
  /** Record which lines execute (coverage.ts) from the start. */
  coverage?: boolean;
}

export type StopReason = 'entry' | 'step' | 'breakpoint' | 'exception' | 'pause' | 'data breakpoint' | 'instruction breakpoint' | 'function breakpoint' | 'divergence' | 'goto';

export interface StopInfo {
  reason: StopReason;
  /** One line shown in the editor (call stack header, stop notification). */
  description: string;
  /** Longer text (the exception widget). */
  text?: string;
  hitBreakpointIds?: number[];
  /** For exception-filter stops: which filter and what happened. */
  exception?: { filter: ExceptionFilterId; description: string; details: string };
  /** Show the guest as it was before the event's instruction ran (see `EventRewind`). */
  rewind?: EventRewind;
}

export interface RuntimeHost {
  stopped(stop: StopInfo): void;
  output(text: string, category: 'stdout' | 'console' | 'stderr' | 'important', where?: SourceLocation): void;
  ended(message: string, exitCode: number): void;
  /** Called between turns while the guest runs (the screen view refreshes from here, throttled). */
  turn?(): void;
}

/** Host time per turn before yielding (ms). */
export const TURN_MS = 12;
/** Instructions per check of the clock in the per-instruction loop. */
export const FINE_BATCH = 2048;

/** Lets the host's event loop run (requests such as pause are answered between turns). */
export function yieldToHost(): Promise<void> { return new Promise<void>((resolve) => setImmediate(resolve)); }

export class RunContext {
  running = false;
  pauseRequested = false;
  disposed = false;
  ended = false;
  /** Re-executing for step back or to place a stop: no output, no hit counts, no stops. */
  replaying = false;
  /** The debugger itself writes guest memory (checkpoints, edits, replays): no data breakpoint fires. */
  suppressWatches = false;
  /** Instruction count before the instruction running now, one at a time (-1: not known). */
  insnIcount = -1;
  /** Instructions run one at a time with every check so far. */
  oneByOne = 0;
  readonly output = new GuestOutput();
  private nextBreakpointId = 1000;
  private pauseWaiters: Array<() => void> = [];

  constructor(readonly vm: Vm, readonly program: GuestProgram, readonly host: RuntimeHost, readonly options: RuntimeOptions) {}

  get cpu(): Cpu { return this.vm.cpu; }

  /** Linear address of the next instruction. */
  get pc(): number { return (this.cpu.eip + this.cpu.segBase[CS]) >>> 0; }

  /**
   * The pause asked for is the debugger's own, not the user's (`requestPause(true)`): the run stops
   * at its next turn as for a pause, and goes on from there without a stop (see `onOwnPause`).
   */
  ownPause = false;
  /** Called instead of reporting a stop when the run stopped for the debugger's own pause. */
  onOwnPause: () => void = () => {};

  /**
   * Asks the run to stop at its next turn; wakes whatever waits for that (`whenPauseRequested`).
   * `own`: the debugger's own pause (a user's pause asked for too is reported as one).
   */
  requestPause(own = false): void {
    this.ownPause = own && (!this.pauseRequested || this.ownPause);
    this.pauseRequested = true;
    const waiters = this.pauseWaiters;
    this.pauseWaiters = [];
    for (const w of waiters) w();
  }

  /** A run starts: no pause asked for; the waits of earlier runs (settled races) are forgotten. */
  clearPause(): void {
    this.pauseRequested = false;
    this.ownPause = false;
    this.pauseWaiters = [];
  }

  /** Resolves when a pause is requested (at once if it was): a wait that a pause should cut short. */
  whenPauseRequested(): Promise<void> {
    return this.pauseRequested ? Promise.resolve() : new Promise((resolve) => this.pauseWaiters.push(resolve));
  }

  /** Breakpoint ids are unique across code and data breakpoints. */
  newBreakpointId(): number { return this.nextBreakpointId++; }

  /** `file:line mnemonic` of a linear address, for descriptions. */
  where(lin: number): string {
    const loc = this.program.index.locate(lin);
    const text = this.instructionText(lin);
    const at = loc ? `${shortName(loc.file)}:${loc.line + 1}` : hex(lin);
    return text ? `${at} (${text})` : at;
  }

  instructionText(lin: number): string | undefined {
    const { bytes } = readLinearBytes(this.cpu, lin, 16);
    if (!bytes.length) return undefined;
    return disassembleOne(bytes, 0, lin).text;
  }

  /** Sends what the guest printed and the trace lines since the last flush, in order, batched. */
  flushConsole(): void { this.output.flush((text, category) => this.host.output(text, category)); }

  /** Runs `fn` with data breakpoints muted. */
  quietly<T>(fn: () => T): T {
    const was = this.suppressWatches;
    this.suppressWatches = true;
    try { return fn(); } finally { this.suppressWatches = was; }
  }
}
