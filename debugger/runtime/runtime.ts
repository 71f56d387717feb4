/*
 * The debugger's engine: one guest VM (core/vmm `createVm`, every mode through the same path), run
 * in slices that yield to the host, with the per-instruction checks a debugger needs — code and
 * data breakpoints, the hypervisor's events against the exception filters, stepping goals, the
 * native twin of `checkEquivalence` — and step back through checkpoints and re-execution.
 *
 * Headless: no protocol types. Results go out through `RuntimeHost` callbacks.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { disassembleOne } from '../../core/asm';
import { CS } from '../../core/cpu/constants';
import type { Cpu } from '../../core/cpu/cpu';
import type { DeliveryEvent } from '../../core/cpu/monitor';
import { EXCEPTION_NAMES } from '../../core/cpu/constants';
import { createVm, formatEvent, type Mode, type Vm, type VmEvent } from '../../core/vmm';
import type { RunCounters } from '../../core/machine/report';
import { isOutcome } from '../../core/machine/machine';
import {
  FilterCondition, hitMatches, parseCondition, parseHitCondition, type BreakpointOptions, type CodeBreakpoint,
  type DataBreakpoint, type ExceptionFilterId,
} from './breakpoints';
import { callStack, type Frame } from './callStack';
import { captureBefore, compareWithTwin, type Before } from './equivalence';
import { evaluate, ExpressionError, interpolate, type Node } from './expression';
import { readLinearBytes, shadowWalker, useGuestWalker, writeLinearBytes } from './guestMemory';
import { evalContext, hex, readName } from './guestState';
import { CheckpointStore } from './history';
import { ElfSourceIndex, loadProgram } from './elfProgram';
import { DeliveryWatch } from './deliveryWatch';
import { endMessage, twinVerdict } from './endOfRun';
import { GuestOutput } from './guestOutput';
import { physicalPages, watchWrites } from './dataWatches';
import { eventStopInfo, pendingFromDelivery, pendingFromVmEvent, STOP_BEFORE, type EventRewind, type PendingEvent } from './eventStops';
import { frameOf } from './frames';
import type { GlobalVariable } from '../../core/debuginfo';
import type { GuestProgram, SourceLocation } from './program';
import { describeEvent, eventKeys, shortName } from './eventText';
import { instructionAt, opcodeAt, stepGoal, type Goal, type Granularity, type SteppingView } from './stepping';

export type { Granularity } from './stepping';
export type { EventRewind } from './eventStops';

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
  /** Check after every instruction even where the CPU could (the reference the fast path is tested against). */
  oneAtATime?: boolean;
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


/** Fewest instructions between checkpoints while running. */
const CHECKPOINT_MIN_DISTANCE = 1_000_000;
/** Running time between checkpoints, as a multiple of what the last checkpoint cost (≈ 5 % overhead). */
const CHECKPOINT_COST_FACTOR = 20;
/** At a stop, a checkpoint is added when the last one is further back than this. */
const CHECKPOINT_AT_STOP = 100_000;
/** Hypervisor events kept for the Hypervisor scope. */
const RECENT_EVENTS = 32;
/** Later divergences listed in the Debug Console (checkEquivalence). */
const DIVERGENCE_LINES = 20;
/** Host time per turn before yielding (ms). */
const TURN_MS = 12;
/** Instructions per check of the clock in the per-instruction loop. */
const FINE_BATCH = 2048;

/** A watched write: the bytes before it, and the instruction count and EIP the CPU had then (per block in compiled code). */
interface WatchedWrite { bp: DataBreakpoint; old: Uint8Array; address: number; icount: number; writer: number }


export class DebugRuntime {
  readonly program: GuestProgram;
  readonly vm: Vm;
  readonly twin: Vm | undefined;
  private readonly history = new CheckpointStore();

  private readonly codeBps = new Map<number, CodeBreakpoint[]>();
  private lineBps = new Map<string, CodeBreakpoint[]>();
  private instructionBps: CodeBreakpoint[] = [];
  private functionBps: CodeBreakpoint[] = [];
  private dataBps: DataBreakpoint[] = [];
  private readonly filters = new Map<ExceptionFilterId, FilterCondition>();

  private running = false;
  private pauseRequested = false;
  private disposed = false;
  private ended = false;
  /** Re-executing for step back: no output, no hit counts, no stops. */
  private replaying = false;
  private pendingEvents: PendingEvent[] = [];
  private dataHit: WatchedWrite | undefined;
  private suppressWatches = false;
  private readonly output = new GuestOutput();
  private readonly deliveryWatch: DeliveryWatch;
  private traceHigh = 0;
  private divergence: string | undefined;
  private lastBefore: Before | undefined;
  private twinDelivery: DeliveryEvent | undefined;
  /** The latest hypervisor events (the Hypervisor scope lists them). */
  private recent: VmEvent[] = [];
  /** At a stop rewound to before its event: the events listed go up to that one. */
  private recentSeqLimit: number | undefined;
  /** Instruction count just after the first divergence (it stops again there after a step back). */
  private firstDivergenceAt: number | undefined;
  private divergenceLines = 0;
  private nextBreakpointId = 1000;
  private oneByOne = 0;
  /** Host time spent running since the last checkpoint, and what the last checkpoint cost (ms). */
  private runMs = 0;
  private checkpointMs = 10;
  /** What the VMM showed when the event this stop is about happened (VMCS, counters). */
  private eventView: { vmcs: Record<string, string | number | boolean> | undefined; counters: RunCounters; cycles: number } | undefined;
  /** A stop was rewound to before its event's instruction: that event does not stop again. */
  private resumeSkip: { icount: number; eip: number } | undefined;
  /** Instruction count before the instruction running now, one at a time (-1: not known). */
  private insnIcount = -1;

  constructor(private readonly options: RuntimeOptions, private readonly host: RuntimeHost) {
    this.program = loadProgram(options.program, options.loadAddress);
    // Relative disk paths are relative to the program's folder (where a kernel and its fs.img sit).
    const disks = () => (options.disks ?? []).map((f) => ({ bytes: new Uint8Array(fs.readFileSync(path.resolve(path.dirname(options.program), f))) }));
    this.vm = createVm({ mode: options.mode, cost: options.cost, memoryMiB: options.memoryMiB, maxInstructions: options.maxInstructions, disks: disks() });
    this.vm.events.locate = (lin) => {
      const loc = this.program.index.locate(lin);
      return loc ? { file: loc.file, line: loc.line + 1 } : undefined;
    };
    this.vm.load({ bytes: this.program.bytes, origin: this.program.origin, entry: this.program.entry, via: 'assembler', diagnostics: [] });
    // Memory views, disassembly and data breakpoints see memory as the guest maps it (not the shadow).
    useGuestWalker(this.vm.cpu, shadowWalker(this.vm.technique));
    if (options.checkEquivalence && options.mode !== 'native') {
      this.twin = createVm({ mode: 'native', memoryMiB: options.memoryMiB, maxInstructions: options.maxInstructions, disks: disks() });
      this.twin.load({ bytes: this.program.bytes, origin: this.program.origin, entry: this.program.entry, via: 'assembler', diagnostics: [] });
      // Notes what the native twin delivers during a step (an interrupt or exception frame that differs).
      this.twin.cpu.setMonitor({ onEvent: (_cpu, ev) => { this.twinDelivery ??= ev; return false; } });
    }
    this.vm.machine.onConsoleByte = (b) => {
      const len = this.vm.machine.uart.output.length;
      this.output.consoleByte(b, len);
    };
    this.vm.events.subscribe((ev) => this.onVmEvent(ev));
    this.deliveryWatch = new DeliveryWatch(this.vm.cpu, (ev) => this.onNativeDelivery(ev));
    for (const w of this.program.warnings) host.output(`warning: ${w}\n`, 'console');
  }

  get cpu(): Cpu { return this.vm.cpu; }
  get mode(): Mode { return this.vm.mode; }
  get isRunning(): boolean { return this.running; }
  get hasEnded(): boolean { return this.ended; }
  get instructions(): number { return this.vm.cpu.icount; }
  /** Instructions run one at a time with every check so far (steps, the twin, placing a stop exactly). */
  get checkedOneByOne(): number { return this.oneByOne; }
  /** Memory the step-back checkpoints hold, bytes. */
  get historyBytes(): number { return this.history.bytes; }
  get historyCount(): number { return this.history.count; }

  /** Linear address of the next instruction. */
  get pc(): number { return (this.cpu.eip + this.cpu.segBase[CS]) >>> 0; }

  dispose(): void {
    this.disposed = true;
    this.pauseRequested = true;
    for (const d of this.dataBps) d.dispose();
    this.dataBps = [];
    this.deliveryWatch.remove();
  }

  // =============================================================================================
  // Breakpoints
  // =============================================================================================

  /**
   * Replaces the line breakpoints of `file`. Each is moved to the next line with an instruction;
   * returns, per request, the line it ended on (0-based) or a reason it is not verified.
   */
  setLineBreakpoints(file: string, requests: Array<{ line: number } & BreakpointOptions>): Array<{ id: number; verified: boolean; line?: number; address?: number; message?: string }> {
    const key = file;
    const out: Array<{ id: number; verified: boolean; line?: number; address?: number; message?: string }> = [];
    const bps: CodeBreakpoint[] = [];
    for (const r of requests) {
      const id = this.nextBreakpointId++;
      const target = this.program.index.nextInstructionLine(file, r.line);
      if (!target) { out.push({ id, verified: false, message: 'no instruction on or after this line' }); continue; }
      let bp: CodeBreakpoint;
      try {
        bp = { id, address: target.addresses[0], kind: 'line', condition: parseCondition(r.condition), hit: r.hitCondition ? parseHitCondition(r.hitCondition) : undefined, logMessage: r.logMessage, hits: 0 };
      } catch (e) {
        out.push({ id, verified: false, line: target.line, message: (e as Error).message });
        continue;
      }
      bps.push(bp);
      // Compiled code: the line's start in every function that has it, and the physical twin of
      // code that runs before paging maps it where it is linked (higher-half kernels).
      if (this.program.index instanceof ElfSourceIndex) for (const a of target.addresses.slice(1)) bps.push({ ...bp, address: a });
      out.push({ id, verified: true, line: target.line, address: bp.address });
    }
    this.lineBps.set(key, bps);
    this.rebuildCodeBreakpoints();
    return out;
  }

  setInstructionBreakpoints(requests: Array<{ address: number } & BreakpointOptions>): Array<{ id: number; verified: boolean; address: number; message?: string }> {
    const out: Array<{ id: number; verified: boolean; address: number; message?: string }> = [];
    this.instructionBps = [];
    for (const r of requests) {
      const id = this.nextBreakpointId++;
      try {
        const bp: CodeBreakpoint = { id, address: r.address >>> 0, kind: 'instruction', condition: parseCondition(r.condition), hit: r.hitCondition ? parseHitCondition(r.hitCondition) : undefined, logMessage: r.logMessage, hits: 0 };
        this.instructionBps.push(bp);
        out.push({ id, verified: true, address: bp.address });
      } catch (e) {
        out.push({ id, verified: false, address: r.address, message: (e as Error).message });
      }
    }
    this.rebuildCodeBreakpoints();
    return out;
  }

  /** Replaces the function breakpoints: a label's name (`puts`, `main.loop`) or an expression. */
  setFunctionBreakpoints(requests: Array<{ name: string } & BreakpointOptions>): Array<{ id: number; verified: boolean; address?: number; message?: string }> {
    const out: Array<{ id: number; verified: boolean; address?: number; message?: string }> = [];
    this.functionBps = [];
    for (const r of requests) {
      const id = this.nextBreakpointId++;
      try {
        const label = this.program.index.label(r.name.trim());
        const node = label ? undefined : parseCondition(r.name);
        if (!label && !node) throw new ExpressionError('empty name');
        const address = label ? label.address : evaluate(node!, evalContext(this.cpu, this.program.index));
        const bp: CodeBreakpoint = { id, address: address >>> 0, kind: 'function', condition: parseCondition(r.condition), hit: r.hitCondition ? parseHitCondition(r.hitCondition) : undefined, hits: 0 };
        this.functionBps.push(bp);
        out.push({ id, verified: true, address: bp.address });
      } catch (e) {
        out.push({ id, verified: false, message: e instanceof ExpressionError ? `no label ${r.name} (${e.message})` : (e as Error).message });
      }
    }
    this.rebuildCodeBreakpoints();
    return out;
  }

  /** Lines of `file` from `line` to `endLine` (0-based, inclusive) where a breakpoint can stop. */
  breakpointLines(file: string, line: number, endLine: number): number[] {
    const out: number[] = [];
    for (let l = line; l <= endLine; l++) if (this.program.index.addressesOf(file, l).length) out.push(l);
    return out;
  }

  /** Moves EIP to `address` (Jump to Cursor). */
  jumpTo(address: number): void {
    this.cpu.eip = (address - this.cpu.segBase[CS]) >>> 0;
    this.cpu.halted = false;
    this.noteStateEdited();
    this.host.stopped({ reason: 'goto', description: `Jumped to ${this.where(this.pc)}` });
  }

  /** Gives the CPU the code breakpoint addresses to check itself (`on`), or none. */
  private cpuChecksBreakpoints(on: boolean): void {
    const set = this.cpu.breakpoints;
    set.clear();
    // The CPU passes linear addresses as signed 32-bit numbers; the breakpoints are keyed unsigned
    // (without `| 0` no breakpoint at or above 0x80000000 — a higher-half kernel — would ever hit).
    if (on) for (const address of this.codeBps.keys()) set.add(address | 0);
  }

  private rebuildCodeBreakpoints(): void {
    this.codeBps.clear();
    for (const bp of [...[...this.lineBps.values()].flat(), ...this.instructionBps, ...this.functionBps]) {
      const list = this.codeBps.get(bp.address);
      if (list) list.push(bp); else this.codeBps.set(bp.address, [bp]);
    }
  }

  /** Replaces the data breakpoints (writes to `size` bytes at linear `address`). */
  setDataBreakpoints(requests: Array<{ address: number; size: number } & BreakpointOptions>): Array<{ id: number; verified: boolean; message?: string }> {
    for (const d of this.dataBps) d.dispose();
    this.dataBps = [];
    const out: Array<{ id: number; verified: boolean; message?: string }> = [];
    for (const r of requests) {
      const id = this.nextBreakpointId++;
      const pages = physicalPages(this.cpu, r.address, r.size);
      if (!pages) { out.push({ id, verified: false, message: `${hex(r.address)} is not mapped` }); continue; }
      let condition: Node | undefined, hit;
      try { condition = parseCondition(r.condition); hit = r.hitCondition ? parseHitCondition(r.hitCondition) : undefined; } catch (e) {
        out.push({ id, verified: false, message: (e as Error).message });
        continue;
      }
      const bp: DataBreakpoint = { id, address: r.address >>> 0, size: r.size, condition, hit, hits: 0, dispose: () => {} };
      bp.dispose = watchWrites(this.cpu, pages, r.size, (phys) => {
        if (this.suppressWatches || this.dataHit) return;
        this.dataHit = { bp, old: readLinearBytes(this.cpu, bp.address, bp.size).bytes, address: phys, icount: this.cpu.icount, writer: this.pc };
        this.cpu.requestStop('data breakpoint');
      });
      this.dataBps.push(bp);
      out.push({ id, verified: true });
    }
    return out;
  }

  /** Enables the exception filters given, each with an optional condition. */
  setExceptionFilters(filters: Array<{ id: ExceptionFilterId; condition?: string }>): void {
    this.filters.clear();
    for (const f of filters) this.filters.set(f.id, new FilterCondition(f.condition ?? ''));
    // Deliveries the hypervisor does not handle (all of them natively; under VT-x those the
    // exception bitmap lets through) reach the guest's IDT without an event: the debugger watches
    // them through a monitor wrapped around the technique's own.
    this.deliveryWatch.set(this.filters.has('guest-exception'));
  }

  /** Linear address of the instruction an event is about; for INT n, the INT before the return EIP. */
  intSite(lin: number, software: boolean): number {
    if (!software) return lin;
    const two = readLinearBytes(this.cpu, (lin - 2) >>> 0, 1).bytes;
    return two.length && two[0] === 0xcd ? (lin - 2) >>> 0 : (lin - 1) >>> 0;
  }

  private onNativeDelivery(ev: DeliveryEvent): void {
    if (ev.kind === 'external' || ev.kind === 'nmi' || this.replaying) return;
    const name = ev.kind === 'software' ? `int ${hex(ev.vector, 2)}` : EXCEPTION_NAMES[ev.vector] ?? `vector ${ev.vector}`;
    const cond = this.filters.get('guest-exception');
    if (!cond || !cond.matches([name, ev.vector, `int ${ev.vector}`])) return;
    const code = ev.errorCode !== undefined ? ` error code ${hex(ev.errorCode, 4)}` : '';
    const addr = ev.address !== undefined ? `, address ${hex(ev.address)}` : '';
    const at = this.intSite((ev.eip + this.cpu.segBase[CS]) >>> 0, ev.kind === 'software');
    this.pendingEvents.push(pendingFromDelivery(this.cpu.icount, ev.kind === 'software', at, { description: `Guest exception ${name}${code}${addr} at ${this.where(at)}`, details: `Delivered through the guest's IDT (vector ${ev.vector}).` }));
    this.cpu.requestStop('guest exception');
  }

  private onVmEvent(ev: VmEvent): void {
    if (this.replaying) return;
    if (this.recent.length === RECENT_EVENTS) this.recent.shift();
    this.recent.push(ev);
    if (this.options.trace && ev.seq >= this.traceHigh) {
      this.traceHigh = ev.seq + 1;
      this.output.traceLine(formatEvent(ev) + '\n');
    }
    const filter = ev.kind as ExceptionFilterId;
    const cond = this.filters.get(filter);
    if (!cond) return;
    // The condition first: words (disassembly, source lines) only for an event that stops.
    const keys = eventKeys(ev);
    if (!keys || !cond.matches(keys)) return;
    const p = describeEvent(ev, this);
    if (!p) return;
    // Re-running the instruction a stop was rewound to raises its event again: not a new stop.
    if (STOP_BEFORE.has(filter) && ev.icount === this.resumeSkip?.icount && (ev.eip >>> 0) === this.resumeSkip.eip) return;
    this.pendingEvents.push(pendingFromVmEvent(ev, filter, p, this.insnIcount >= 0 ? this.insnIcount : undefined));
    if (!this.eventView) {
      // The VMCS as the exit left it (before the VMM handled it and advanced GUEST_RIP), the counters.
      let vmcs = this.vm.inspect().vmcs;
      // The exit qualification in words, as the VMM decoded it for this exit.
      if (vmcs && ev.kind === 'vmexit' && ev.qualificationText) {
        const key = Object.keys(vmcs).find((k) => k === 'EXIT_QUALIFICATION' || k.endsWith('.EXIT_QUALIFICATION'));
        if (key) vmcs = { ...vmcs, [key]: `${vmcs[key]} — ${ev.qualificationText}` };
      }
      this.eventView = { vmcs, counters: structuredClone(this.vm.counters), cycles: this.vm.cycles };
    }
    this.cpu.requestStop(filter);
  }

  /** VMCS fields for the VMCS scope: as the VM exit of this stop left them, else as they are now. */
  vmcsFields(): Record<string, string | number | boolean> | undefined {
    return this.eventView?.vmcs ?? this.vm.inspect().vmcs;
  }

  /** The hypervisor's latest events up to now (after a step back, none from the future). */
  recentEvents(): Array<{ icount: number; line: string }> {
    const limit = this.recentSeqLimit ?? this.vm.events.seq;
    return this.recent.filter((e) => e.seq < limit).map((e) => ({ icount: e.icount, line: formatEvent(e) }));
  }

  /** Counters for the Hypervisor scope: as the event of this stop left them, else as they are now. */
  hypervisorCounters(): { counters: RunCounters; cycles: number } {
    return this.eventView ? { counters: this.eventView.counters, cycles: this.eventView.cycles } : { counters: this.vm.counters, cycles: this.vm.cycles };
  }

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

  // =============================================================================================
  // Running
  // =============================================================================================

  /** Starts: stops on entry, or runs. */
  start(stopOnEntry: boolean): void {
    if (stopOnEntry) {
      this.reportStop({ reason: 'entry', description: `Entry at ${this.where(this.pc)}` });
      // The first checkpoint after the entry stop is shown, off the launch's critical path.
      setImmediate(() => {
        try { if (!this.running && this.cpu.icount === 0) this.ensureFirstCheckpoint(); } catch (e) { this.host.output(`popek debugger: no step back: ${(e as Error).message}\n`, 'stderr'); }
      });
    } else this.continue();
  }

  /**
   * Step back needs a checkpoint where the recording starts, and one of any state the user edited;
   * taken before the guest moves.
   */
  private ensureFirstCheckpoint(): void {
    if (!this.disposed && (this.history.count === 0 || this.history.lastIcount < this.cpu.icount && this.editedAt === this.cpu.icount)) this.checkpoint();
    this.editedAt = -1;
  }
  private editedAt = -1;
  private midDelivery = false;

  continue(): void { void this.run({ kind: 'continue' }); }

  pause(): void { if (this.running) this.pauseRequested = true; }

  step(kind: 'in' | 'over' | 'out', granularity: Granularity): void {
    void this.run(stepGoal(this.steppingView(), kind, granularity));
  }

  private steppingView(): SteppingView {
    const index = this.program.index;
    return {
      index: this.program.index,
      pc: this.pc,
      esp: () => this.cpu.regs[4] >>> 0,
      opcodeAt: (lin) => opcodeAt(this.cpu, lin),
      instructionAt: (lin) => instructionAt(this.cpu, lin),
      ...(index instanceof ElfSourceIndex ? {
        statementStart: (lin: number) => index.isStatementStart(lin),
        frame: () => frameOf(this.cpu, index, { pc: this.pc, esp: this.cpu.regs[4] >>> 0, ebp: this.cpu.regs[5] >>> 0 }),
      } : {}),
    };
  }

  /**
   * How to run: 'fine' looks after every instruction (steps, the equivalence twin); 'bp' lets the
   * CPU check code breakpoint addresses itself and stop where an event the filters ask for or a
   * data watch requested a stop (compiled blocks and regions run; see `fastStop`); 'free' runs slices
   * with no checks.
   */
  private runMode(goal: Goal): 'fine' | 'bp' | 'free' {
    if (goal.kind === 'step' || this.twin !== undefined || this.options.oneAtATime) return 'fine';
    // The divergence filter means nothing without the native twin: it must not slow the run down.
    const filters = this.filters.size - (this.filters.has('divergence') ? 1 : 0);
    // The CPU checks every instruction (per block, compiled blocks run) but the one it resumes at.
    return this.codeBps.size === 0 && filters === 0 && this.dataBps.length === 0 ? 'free' : 'bp';
  }

  private async run(goal: Goal): Promise<void> {
    if (this.running || this.ended || this.disposed) return;
    try { this.ensureFirstCheckpoint(); } catch (e) { this.host.output(`popek debugger: no step back: ${(e as Error).message}\n`, 'stderr'); }
    this.running = true;
    this.pauseRequested = false;
    this.eventView = undefined;
    this.recentSeqLimit = undefined;
    this.midDelivery = false;
    let stop: StopInfo | undefined;
    let sliceSize = 100_000;
    try {
      for (;;) {
        const turnStart = performance.now();
        const mode = this.runMode(goal);
        // The CPU checks the code breakpoints itself: the fast path of `continue`, and one instruction
        // at a time (each slice resumes at EIP, see runFine) where an event it delivered inside the
        // slice leads to one (a handler's first instruction, reached without an instruction retiring).
        this.cpuChecksBreakpoints(mode !== 'free');
        if (mode === 'fine') {
          do {
            stop = this.runFine(goal, FINE_BATCH);
          } while (!stop && !this.ended && performance.now() - turnStart < TURN_MS);
        } else {
          // Resuming: the instruction at EIP was already stopped at or checked (the last slice's end).
          if (mode === 'bp') this.cpu.resume();
          const r = this.vm.runSlice(sliceSize);
          const dt = performance.now() - turnStart;
          sliceSize = Math.max(10_000, Math.min(20_000_000, Math.round(sliceSize * (dt > 0 ? Math.min(4, TURN_MS / dt) : 4))));
          if (this.resumeSkip && this.cpu.icount > this.resumeSkip.icount + 1) this.resumeSkip = undefined;
          if (isOutcome(r)) this.finishRun();
          else if (mode === 'bp') stop = await this.fastStop();
        }
        this.runMs += performance.now() - turnStart;
        this.flushConsole();
        if (this.ended || stop) break;
        this.host.turn?.();
        if (this.cpu.icount - this.history.lastIcount >= CHECKPOINT_MIN_DISTANCE && this.runMs >= CHECKPOINT_COST_FACTOR * this.checkpointMs) this.checkpoint();
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.disposed) return;
        if (this.pauseRequested) { stop = { reason: 'pause', description: `Paused at ${this.where(this.pc)}` }; break; }
      }
    } catch (e) {
      this.host.output(`popek debugger: internal error while running: ${(e as Error)?.message ?? e}\n`, 'stderr');
      stop = { reason: 'pause', description: 'Stopped after an internal error' };
    } finally {
      this.running = false;
      this.cpuChecksBreakpoints(false);
      this.cpu.withdrawStop();
    }
    if (stop?.rewind !== undefined && !this.ended && !this.disposed) {
      // Back to the instruction the event happened at (deterministic re-execution), keeping the
      // VMM's view of the event.
      const view = this.eventView;
      const seqLimit = this.vm.events.seq;
      try {
        this.running = true;
        await this.rewindBefore(stop.rewind);
        this.resumeSkip = { icount: stop.rewind.eventIcount, eip: stop.rewind.eip };
        this.recentSeqLimit = seqLimit;
      } catch (e) {
        this.host.output(`popek debugger: cannot show the state before the event: ${(e as Error).message}\n`, 'stderr');
      } finally { this.running = false; }
      this.eventView = view;
    }
    if (stop && !this.ended) this.reportStop(stop);
  }

  /**
   * After a slice of the fast path: the stop it ran into. The CPU answers a requested stop (an
   * event, a data watch) at the next instruction boundary. Should it have stopped elsewhere than
   * where an event's stop belongs, the guest goes back to before the instruction concerned
   * (deterministic re-execution) and runs one instruction at a time from there: the event happens
   * again where it belongs.
   */
  private async fastStop(): Promise<StopInfo | undefined> {
    const pending = this.pendingEvents[0], data = this.dataHit;
    // A request the slice's budget ended before is answered here.
    this.cpu.withdrawStop();
    if (data && !pending) {
      // The CPU stopped right after the write (at the next instruction boundary), so the condition
      // and the hit count are checked on the state a stop shows.
      this.dataHit = undefined;
      if (!this.dataHitCounts(data)) return this.codeBreakpointStop();
      // At most one instruction retired since the count the watch saw: the writer is the one the
      // watch saw (compiled code keeps the count per block: then it was the block's first).
      const writer = this.cpu.icount <= data.icount + 1 ? data.writer : await this.lastInstruction();
      return this.dataStopInfo(data, writer);
    }
    if (pending && !STOP_BEFORE.has(pending.filter) && this.cpu.icount !== pending.stopAt) {
      // Up to where the CPU stopped, and at least to where the event's stop belongs.
      const from = pending.icountBefore ?? pending.icount, to = Math.max(this.cpu.icount, pending.stopAt);
      this.pendingEvents = [];
      this.dataHit = undefined;
      return this.refine(from, to);
    }
    // A write by the instruction an event stops before or at is not a stop of its own.
    this.dataHit = undefined;
    // A fault delivered to the guest's handler, no instruction retired since: step back goes to the
    // faulting instruction first (as after one instruction at a time).
    if (pending && pending.filter === 'guest-exception' && pending.stopAt === pending.icount && this.cpu.icount === pending.stopAt) this.midDelivery = true;
    return this.eventStop() ?? this.codeBreakpointStop();
  }

  /** Replays to `from` and runs one instruction at a time with every check up to `to`; the stop met on the way. */
  private async refine(from: number, to: number): Promise<StopInfo | undefined> {
    if (!await this.replayTo(from, undefined, from)) throw new Error(`no checkpoint before instruction ${from}`);
    const goal: Goal = { kind: 'continue' };
    while (this.cpu.icount < to && !this.ended) {
      const t0 = performance.now();
      do {
        const stop = this.runFine(goal, Math.min(FINE_BATCH, to - this.cpu.icount));
        if (stop) return stop;
      } while (this.cpu.icount < to && !this.ended && performance.now() - t0 < TURN_MS);
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.disposed) return undefined;
    }
    return undefined;
  }

  /** Re-executes to the state before the event's instruction (see `EventRewind`). */
  private async rewindBefore(r: EventRewind): Promise<void> {
    if (!r.exact && r.icount > 0) {
      const t = r.icount - 1;
      if (await this.replayTo(t, undefined, t) && this.pc === r.eip) return;
    }
    await this.replayTo(r.icount, undefined, Math.max(0, r.icount - 1));
  }

  /** Runs up to `n` instructions one at a time with every check; returns a stop or undefined. */
  private runFine(goal: Goal, n: number): StopInfo | undefined {
    const vm = this.vm, cpu = this.cpu, twin = this.twin;
    for (let k = 0; k < n; k++) {
      this.oneByOne++;
      const before = this.pc;
      goal.before?.(before);
      if (twin) { this.lastBefore = captureBefore(vm, twin); this.twinDelivery = undefined; }
      // A stop asked for outside a run (an edit through a data watch) is not this instruction's.
      cpu.withdrawStop();
      const ic0 = cpu.icount;
      this.insnIcount = ic0;
      // The instruction at EIP was checked (the previous slice's end, or a stop): it runs now.
      cpu.resume();
      const r = vm.runSlice(1);
      this.insnIcount = -1;
      if (this.resumeSkip && cpu.icount > this.resumeSkip.icount + 1) this.resumeSkip = undefined;
      // Stopped right after an event was delivered (an exception, an interrupt to a handler with a
      // breakpoint), before any instruction retired: the same instruction count as the instruction
      // before it (step back goes there first).
      const retired = cpu.icount !== ic0;
      this.midDelivery = !retired;
      if (isOutcome(r)) { this.finishRun(); return undefined; }
      if (twin) {
        if (retired) twin.runSlice(1);
        else {
          // Delivery only: the twin delivers what it has at this boundary, and runs nothing (so the
          // two stay in lock step).
          twin.cpu.requestStop('lock step');
          twin.runSlice(1);
          twin.cpu.withdrawStop();
        }
        const diff = compareWithTwin(vm, twin, this.lastBefore!);
        if (diff && !this.divergence) {
          this.divergence = diff;
          const d = this.twinDelivery;
          const at = this.where(this.lastBefore!.address) + (d ? `, delivering ${d.kind === 'external' ? `interrupt ${hex(d.vector, 2)}` : d.kind === 'software' ? `int ${hex(d.vector, 2)}` : EXCEPTION_NAMES[d.vector] ?? `vector ${d.vector}`}` : '');
          // The first divergence stops; later ones (often consequences of the first) are listed.
          const first = this.firstDivergenceAt === undefined || cpu.icount <= this.firstDivergenceAt;
          this.flushConsole();
          if (first || this.divergenceLines < DIVERGENCE_LINES) {
            this.host.output(`checkEquivalence: ${at} had a different effect under ${vm.mode} than natively: ${diff}\n`, 'console', this.program.index.locate(this.lastBefore!.address));
          } else if (this.divergenceLines === DIVERGENCE_LINES) {
            this.host.output(`checkEquivalence: further differences are not listed\n`, 'console');
          }
          if (!first) this.divergenceLines++;
          if (first) {
            this.firstDivergenceAt = cpu.icount;
            if (this.filters.has('divergence')) {
              return { reason: 'divergence', description: `Divergence from native after ${at}: ${diff}`, text: diff,
                exception: { filter: 'divergence', description: `The instruction at ${at} had a different effect under ${vm.mode} than natively`, details: diff } };
            }
          }
        }
        if (!diff) this.divergence = undefined;
      }
      const evStop = this.eventStop();
      if (evStop) return evStop;
      if (this.dataHit) {
        const s = this.dataStop(before);
        if (s) return s;
      }
      const lin = this.pc;
      // A step completes after an instruction (not after a delivery alone, e.g. a step out's `ret`).
      const stepDone = retired && (goal.done?.(lin) ?? false);
      const bpStop = this.codeBreakpointStop();
      if (bpStop) return bpStop;
      if (stepDone) return { reason: 'step', description: `Stepped to ${this.where(lin)}` };
    }
    return undefined;
  }

  /** The stop for the first event the filters matched since the last check, if any. */
  private eventStop(): StopInfo | undefined {
    if (!this.pendingEvents.length) return undefined;
    const ev = this.pendingEvents[0];
    this.pendingEvents = [];
    return eventStopInfo(ev);
  }

  /** The stop for the code breakpoints at EIP whose conditions hold, if any. */
  private codeBreakpointStop(): StopInfo | undefined {
    const lin = this.pc;
    const bps = this.codeBps.get(lin);
    if (!bps) return undefined;
    const hit = this.checkCodeBreakpoints(bps);
    if (!hit.length) return undefined;
    const reason = hit.every((b) => b.kind === 'instruction') ? 'instruction breakpoint' : hit.every((b) => b.kind === 'function') ? 'function breakpoint' : 'breakpoint';
    return { reason, description: `Breakpoint at ${this.where(lin)}`, hitBreakpointIds: hit.map((b) => b.id) };
  }

  private dataStop(writer: number): StopInfo | undefined {
    const h = this.dataHit!;
    this.dataHit = undefined;
    return this.dataHitCounts(h) ? this.dataStopInfo(h, writer) : undefined;
  }

  /** A watched write's condition and hit count: true when it stops. */
  private dataHitCounts(h: WatchedWrite): boolean {
    const bp = h.bp;
    const ctx = evalContext(this.cpu, this.program.index);
    try { if (bp.condition && evaluate(bp.condition, ctx) === 0) return false; } catch { /* a failing condition stops */ }
    bp.hits++;
    return hitMatches(bp.hit, bp.hits);
  }

  private dataStopInfo(h: WatchedWrite, writer: number): StopInfo {
    const bp = h.bp;
    const now = readLinearBytes(this.cpu, bp.address, bp.size).bytes;
    const fmt = (b: Uint8Array) => hex([...b].reverse().reduce((v, x) => v * 256 + x, 0), bp.size * 2);
    return { reason: 'data breakpoint', description: `Data breakpoint: ${bp.size} byte(s) at ${hex(bp.address)} written by ${this.where(writer)}: ${fmt(h.old)} → ${fmt(now)}`, hitBreakpointIds: [bp.id] };
  }

  /**
   * Linear address of the instruction that retired last (compiled code did not say which): the
   * state one instruction back, re-executed from a checkpoint, then forward again to now.
   */
  private async lastInstruction(): Promise<number> {
    const now = this.cpu.icount;
    if (!await this.replayTo(now - 1, undefined, now - 1)) throw new Error(`no checkpoint before instruction ${now - 1}`);
    const lin = this.pc;
    await this.replayTo(now, undefined, now - 1);
    return lin;
  }

  /** Evaluates conditions, hit counts and log messages; returns the breakpoints that stop. */
  private checkCodeBreakpoints(bps: CodeBreakpoint[]): CodeBreakpoint[] {
    const ctx = evalContext(this.cpu, this.program.index);
    const hit: CodeBreakpoint[] = [];
    for (const bp of bps) {
      if (bp.condition) {
        let ok: boolean;
        try { ok = evaluate(bp.condition, ctx) !== 0; } catch (e) {
          this.host.output(`breakpoint condition at ${this.where(bp.address)}: ${(e as Error).message}\n`, 'stderr');
          ok = true;
        }
        if (!ok) continue;
      }
      if (this.replaying) { if (!bp.logMessage && hitMatches(bp.hit, bp.hits + 1)) hit.push(bp); continue; }
      bp.hits++;
      if (!hitMatches(bp.hit, bp.hits)) continue;
      if (bp.logMessage !== undefined) {
        const loc = this.program.index.locate(bp.address);
        this.flushConsole();
        this.host.output(interpolate(bp.logMessage, ctx) + '\n', 'console', loc);
        continue;
      }
      hit.push(bp);
    }
    return hit;
  }

  private finishRun(): void {
    if (this.ended) return;
    this.flushConsole();
    this.ended = true;
    const r = this.vm.report();
    let message = endMessage(r, this.vm.machine.error, (lin) => this.where(lin));
    if (this.twin) message += ' ' + twinVerdict(this.twin, r);
    this.host.ended(message, r.exitCode);
  }

  /** Sends what the guest printed and the trace lines since the last flush, in order, batched. */
  private flushConsole(): void { this.output.flush((text, category) => this.host.output(text, category)); }

  private reportStop(stop: StopInfo): void {
    if (this.history.count > 0 && this.cpu.icount - this.history.lastIcount >= CHECKPOINT_AT_STOP) this.checkpoint();
    this.host.stopped(stop);
  }

  private checkpoint(): void {
    const t0 = performance.now();
    this.suppressWatches = true;
    try { this.history.add(this.cpu.icount, this.vm.snapshot(), this.twin?.snapshot()); } finally { this.suppressWatches = false; }
    this.checkpointMs = performance.now() - t0;
    this.runMs = 0;
  }

  // =============================================================================================
  // Step back
  // =============================================================================================

  /** Restores the state at `target` instructions (re-executing from the nearest checkpoint). */
  private async replayTo(target: number, observe?: (icount: number, lin: number) => void, startAtOrBefore = target): Promise<boolean> {
    const cp = this.history.latestAtOrBefore(startAtOrBefore);
    if (!cp) return false;
    this.replaying = true;
    this.suppressWatches = true;
    try {
      this.vm.restore(cp.snap);
      if (this.twin && cp.extra) this.twin.restore(cp.extra);
      while (this.cpu.icount < target) {
        const t0 = performance.now();
        while (this.cpu.icount < target && performance.now() - t0 < TURN_MS) {
          if (observe || this.twin) {
            for (let k = 0; k < FINE_BATCH && this.cpu.icount < target; k++) {
              observe?.(this.cpu.icount, this.pc);
              const r = this.vm.runSlice(1);
              this.twin?.runSlice(1);
              if (isOutcome(r)) return true;
            }
          } else {
            const r = this.vm.runSlice(Math.min(target - this.cpu.icount, 500_000));
            if (isOutcome(r)) return true;
          }
        }
        if (this.cpu.icount < target) await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.disposed) return false;
      }
      return true;
    } finally {
      this.replaying = false;
      this.suppressWatches = false;
      this.pendingEvents = [];
      this.dataHit = undefined;
      this.eventView = undefined;
      this.midDelivery = false;
      this.divergence = undefined;
      this.resumeSkip = undefined;
      this.recentSeqLimit = undefined;
    }
  }

  /** Steps back one instruction or one source line. */
  async stepBack(granularity: Granularity): Promise<void> {
    if (this.running) return;
    try { await this.stepBackInner(granularity); } catch (e) { this.travelFailed(e); }
  }

  private travelFailed(e: unknown): void {
    this.running = false;
    this.host.output(`popek debugger: cannot go back: ${(e as Error)?.message ?? e}\n`, 'stderr');
    this.host.stopped({ reason: 'pause', description: `Going back failed: ${(e as Error).message}` });
  }

  private async stepBackInner(granularity: Granularity): Promise<void> {
    this.ensureFirstCheckpoint();
    const now = this.cpu.icount;
    if (now === 0) { this.host.stopped({ reason: 'step', description: `At the first instruction: there is nothing before it` }); return; }
    this.running = true;
    try {
      let target = now - 1;
      if (this.midDelivery) {
        // The faulting instruction, before its exception was delivered (same instruction count).
        target = now;
      } else if (granularity === 'line') {
        const index = this.program.index;
        const cur = index.locate(this.pc);
        const from = this.history.latestAtOrBefore(now - 1)?.icount ?? 0;
        let best = -1;
        // Compiled code: back to the start of the previous statement of this frame (or a caller's),
        // not into the middle of a line or into a callee.
        const elf = index instanceof ElfSourceIndex ? index : undefined;
        const regs = (pc: number) => ({ pc, esp: this.cpu.regs[4] >>> 0, ebp: this.cpu.regs[5] >>> 0 });
        const curCfa = elf ? frameOf(this.cpu, elf, regs(this.pc))?.cfa : undefined;
        await this.replayTo(now, (ic, lin) => {
          if (elf) {
            if (!elf.isStatementStart(lin)) return;
            const loc = elf.locate(lin);
            if (!loc || (cur && loc.line === cur.line && loc.file === cur.file)) return;
            const f = curCfa !== undefined ? frameOf(this.cpu, elf, regs(lin)) : undefined;
            if (f && f.cfa < curCfa!) return;
            best = ic;
            return;
          }
          const e = index.at(lin);
          if (e && (!cur || e.range.start.line !== cur.line || e.file !== cur.file)) best = ic;
        }, now - 1);
        if (best >= from) target = best;
      }
      await this.replayTo(target, undefined, Math.min(target, now - 1));
      this.ended = false;
    } finally { this.running = false; }
    this.host.stopped({ reason: 'step', description: `Stepped back to ${this.where(this.pc)} (instruction ${this.cpu.icount})` });
  }

  /** Runs backwards to the most recent breakpoint hit before now, or to the start. */
  async reverseContinue(): Promise<void> {
    if (this.running) return;
    try { await this.reverseContinueInner(); } catch (e) { this.travelFailed(e); }
  }

  private async reverseContinueInner(): Promise<void> {
    this.ensureFirstCheckpoint();
    this.running = true;
    let hitAt = -1, hitIds: number[] = [];
    const now = this.cpu.icount;
    try {
      // Checkpoint windows from the newest back: replay each, remember its last breakpoint hit.
      const starts = this.history.positions().filter((p) => p < now).reverse();
      for (let i = 0; i < starts.length && hitAt < 0; i++) {
        const end = i === 0 ? now : starts[i - 1];
        await this.replayTo(end, (ic, lin) => {
          const bps = this.codeBps.get(lin);
          if (!bps) return;
          const hit = this.checkCodeBreakpoints(bps);
          if (hit.length) { hitAt = ic; hitIds = hit.map((b) => b.id); }
        }, starts[i]);
        if (this.disposed) return;
      }
      await this.replayTo(hitAt >= 0 ? hitAt : 0);
      this.ended = false;
    } finally { this.running = false; }
    if (hitAt >= 0) this.host.stopped({ reason: 'breakpoint', description: `Breakpoint at ${this.where(this.pc)} (reverse, instruction ${hitAt})`, hitBreakpointIds: hitIds });
    else this.host.stopped({ reason: 'entry', description: `Reached the start of the recording at ${this.where(this.pc)}` });
  }

  // =============================================================================================
  // State
  // =============================================================================================

  /** Call stack of the guest (top frame first). */
  stack(): Frame[] { return callStack(this.cpu, this.program.index, this.pc); }

  /**
   * Something the user changed: checkpoints from here on no longer describe the future. A
   * checkpoint of the edited state is taken before the guest moves (see `ensureFirstCheckpoint`).
   */
  noteStateEdited(): void {
    this.history.truncateFrom(this.cpu.icount);
    this.editedAt = this.cpu.icount;
    this.cpu.flushCodeCache();
  }

  /** Writes guest memory from the debugger (no data breakpoint fires). */
  writeMemory(address: number, data: Uint8Array): number {
    this.suppressWatches = true;
    try { return writeLinearBytes(this.cpu, address, data); } finally { this.suppressWatches = false; this.noteStateEdited(); }
  }

  /** A global variable of compiled code (ELF kernels with DWARF or OBJECT symbols). */
  variable(name: string): GlobalVariable | undefined {
    const index = this.program.index;
    return index instanceof ElfSourceIndex && readName(this.cpu, name.toLowerCase()) === undefined ? index.variable(name) : undefined;
  }

  /** Evaluation context (reads and, from the Debug Console, writes). */
  context() { return evalContext(this.cpu, this.program.index, () => this.noteStateEdited()); }

  /** Runs a write with data breakpoints muted. */
  quietly<T>(fn: () => T): T {
    this.suppressWatches = true;
    try { return fn(); } finally { this.suppressWatches = false; }
  }
}
