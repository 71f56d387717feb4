/*
 * The debugger's engine: one guest VM (core/vmm `createVm`, every mode through the same path) and
 * the parts that look after it — code and data breakpoints, the exception filters on the
 * hypervisor's events, the run loop and where its stops belong, the native twin of
 * `checkEquivalence`, step back through checkpoints and re-execution. This class builds them,
 * shares one `RunContext` between them, and is what the session (session.ts) talks to.
 *
 * Headless: no protocol types. Results go out through `RuntimeHost` callbacks.
 */
import * as path from 'node:path';
import type { Cpu } from '../../core/cpu/cpu';
import { createVm, type Mode, type Vm } from '../../core/vmm';
import type { RunCounters } from '../../core/machine/report';
import { multibootBoot } from '../../core/machine/multibootBoot';
import { readImageFile } from '../../core/machine/safeRead';
import { LoadError } from '../../core/machine/multiboot';
import type { BreakpointOptions, ExceptionFilterId } from './breakpoints';
import { callStack, type Frame } from './callStack';
import { CodeBreakpoints } from './codeBreakpoints';
import { CoverageRecorder, type CoverageReport } from './coverage';
import { DataBreakpoints } from './dataBreakpoints';
import { ElfSourceIndex, loadProgram } from './elfProgram';
import { EventFilters } from './eventFilters';
import { frameOf } from './frames';
import { shadowWalker, useGuestWalker, writeLinearBytes } from './guestMemory';
import { evalContext, readName } from './guestState';
import type { GlobalVariable } from '../../core/debuginfo';
import type { GuestProgram } from './program';
import { RunContext, type RuntimeHost, type RuntimeOptions } from './runContext';
import { RunLoop, type RunParts } from './runLoop';
import { instructionAt, opcodeAt, stepGoal, type Granularity, type SteppingView } from './stepping';
import { TimeTravel } from './timeTravel';
import { NativeTwin } from './nativeTwin';
import { CS } from '../../core/cpu/constants';

export type { Granularity } from './stepping';
export type { EventRewind } from './eventStops';
export type { RuntimeHost, RuntimeOptions, StopInfo, StopReason } from './runContext';

export class DebugRuntime {
  readonly program: GuestProgram;
  readonly vm: Vm;
  private readonly ctx: RunContext;
  private readonly codeBps: CodeBreakpoints;
  private readonly dataBps: DataBreakpoints;
  private readonly events: EventFilters;
  /** The native twin, while "Divergence from native" is ticked or the launch has checkEquivalence (nativeTwin.ts). */
  private nativeTwin: NativeTwin | undefined;
  /** Builds a native twin loaded as the guest was. */
  private readonly makeTwin: () => NativeTwin;
  private readonly travel: TimeTravel;
  private readonly parts: RunParts;
  private readonly loop: RunLoop;
  private readonly coverage: CoverageRecorder;

  constructor(options: RuntimeOptions, private readonly host: RuntimeHost) {
    this.program = loadProgram(options.program, options.loadAddress);
    // Relative disk paths are relative to the program's folder (where a kernel and its fs.img sit).
    // Read once: a twin added later starts from the disks the guest started from (each VM writes its own copy).
    const beside = (f: string) => readImageFile(path.resolve(path.dirname(options.program), f));
    const diskFiles = (options.disks ?? []).map((f) => {
      try { return beside(f); } catch (e) { throw new LoadError(`cannot read disk image ${f}: ${(e as Error).message}`); }
    });
    const disks = () => diskFiles.map((bytes) => ({ bytes: bytes.slice() }));
    // The command line and modules QEMU's -append / -initrd would give (modules beside the program, as disks).
    const boot = multibootBoot(options.program, options.append, options.initrd, beside);
    const load = (vm: Vm) => vm.load({ bytes: this.program.bytes, origin: this.program.origin, entry: this.program.entry, via: 'assembler', diagnostics: [] });
    this.vm = createVm({ mode: options.mode, cost: options.cost, memoryMiB: options.memoryMiB, maxInstructions: options.maxInstructions, disks: disks(), boot });
    this.vm.events.locate = (lin) => {
      const loc = this.program.index.locate(lin);
      return loc ? { file: loc.file, line: loc.line + 1 } : undefined;
    };
    load(this.vm);
    // Memory views, disassembly and data breakpoints see memory as the guest maps it (not the shadow).
    useGuestWalker(this.vm.cpu, shadowWalker(this.vm.technique));
    const ctx = this.ctx = new RunContext(this.vm, this.program, host, options);
    this.codeBps = new CodeBreakpoints(ctx);
    this.dataBps = new DataBreakpoints(ctx);
    this.vm.machine.onConsoleByte = (b) => ctx.output.consoleByte(b, this.vm.machine.uart.output.length);
    this.events = new EventFilters(ctx);
    this.travel = new TimeTravel(ctx, undefined, this.codeBps, () => {
      this.events.clearAfterReplay();
      this.dataBps.take();
      this.nativeTwin?.lockStep.clearAfterReplay();
    });
    this.makeTwin = () => {
      const twin = createVm({ mode: 'native', memoryMiB: options.memoryMiB, maxInstructions: options.maxInstructions, disks: disks(), boot });
      load(twin);
      return new NativeTwin(ctx, twin, { events: this.events, dataBps: this.dataBps, travel: this.travel },
        { image: { bytes: this.program.bytes, origin: this.program.origin, entry: this.program.entry }, memoryMiB: options.memoryMiB, maxInstructions: options.maxInstructions, disks: diskFiles, boot },
        () => this.events.has('divergence'));
    };
    this.coverage = new CoverageRecorder(this.program.index);
    if (options.coverage) this.coverage.enable();
    this.parts = { codeBps: this.codeBps, dataBps: this.dataBps, events: this.events, travel: this.travel, twin: undefined, windows: undefined, coverage: this.coverage };
    this.loop = new RunLoop(ctx, this.parts);
    this.updateTwin();
    for (const w of this.program.warnings) host.output(`warning: ${w}\n`, 'console');
  }

  /**
   * The native twin is there while "Divergence from native" is ticked or the launch asked for
   * checkEquivalence (not under native, where there is nothing to compare): added or dropped
   * between runs, never while the guest runs (the run uses the twin it started with).
   */
  private updateTwin(): void {
    // After the guest's end nothing runs (a step back first: then the next run adds it).
    if (this.ctx.running || this.ctx.disposed || this.ctx.ended) return;
    const wanted = this.twinWanted();
    if (wanted && !this.nativeTwin) {
      const twin = this.nativeTwin = this.makeTwin();
      // At a stop, in the host's idle time: the twin warms its code (nativeTwin.ts); not once a run began.
      setImmediate(() => { if (this.nativeTwin === twin && !this.ctx.running && !this.ctx.disposed) twin.warmUp(); });
    }
    else if (!wanted && this.nativeTwin) {
      this.nativeTwin.dispose();
      this.nativeTwin = undefined;
    }
    this.parts.twin = this.nativeTwin?.lockStep;
    this.parts.windows = this.nativeTwin?.windows;
  }

  /** The native twin (synced with the guest's stretch so far), while there is one. */
  get twin(): Vm | undefined {
    this.nativeTwin?.windows.syncTwin();
    return this.nativeTwin?.vm;
  }
  get cpu(): Cpu { return this.vm.cpu; }
  get mode(): Mode { return this.vm.mode; }
  get isRunning(): boolean { return this.ctx.running; }
  get hasEnded(): boolean { return this.ctx.ended; }
  get instructions(): number { return this.vm.cpu.icount; }
  /** Instructions run one at a time with every check so far (steps, the twin, placing a stop exactly). */
  get checkedOneByOne(): number { return this.ctx.oneByOne; }
  /** The native twin: instructions `continue` re-ran in lock step with the twin (stretches that made a difference). */
  get twinLockStepped(): number { return this.nativeTwin?.windows.lockStepped ?? 0; }
  /** The native twin: stretch ends where the twin's state came from the worker thread (not run on this one). */
  get twinStatesFromWorker(): number { return this.nativeTwin?.ahead?.adopted ?? 0; }
  /**
   * The native twin: instructions it executed (on this thread, in lock step, in the worker) — far
   * fewer than the guest's when the technique acts seldom (it takes the guest's state elsewhere).
   */
  get twinInstructionsRun(): number {
    const t = this.nativeTwin;
    return t ? this.travel.twinRan + t.lockStep.ran + (t.ahead?.ran ?? 0) : 0;
  }
  /** The native twin: instructions of stretches it did not run, taking the guest's state at their end. */
  get twinInstructionsAdopted(): number { return this.nativeTwin?.windows.adoptedInstructions ?? 0; }
  /** The native twin: looking for the instruction a stretch's difference came from (narrowing, lock step). */
  get twinSearching(): boolean { return this.nativeTwin?.windows.searching ?? false; }
  /** Memory the step-back checkpoints hold, bytes. */
  get historyBytes(): number { return this.travel.history.bytes; }
  get historyCount(): number { return this.travel.history.count; }

  /** Linear address of the next instruction. */
  get pc(): number { return this.ctx.pc; }

  dispose(): void {
    this.ctx.disposed = true;
    this.ctx.requestPause();
    this.dataBps.dispose();
    this.events.dispose();
    this.nativeTwin?.dispose();
  }

  // Breakpoints --------------------------------------------------------------------------------

  /** Replaces the line breakpoints of `file` (see `CodeBreakpoints.setLines`). */
  setLineBreakpoints(file: string, requests: Array<{ line: number } & BreakpointOptions>) { return this.codeBps.setLines(file, requests); }
  setInstructionBreakpoints(requests: Array<{ address: number } & BreakpointOptions>) { return this.codeBps.setInstructions(requests); }
  /** Replaces the function breakpoints: a label's name (`puts`, `main.loop`) or an expression. */
  setFunctionBreakpoints(requests: Array<{ name: string } & BreakpointOptions>) { return this.codeBps.setFunctions(requests); }
  /** Replaces the data breakpoints (writes to `size` bytes at linear `address`). */
  setDataBreakpoints(requests: Array<{ address: number; size: number } & BreakpointOptions>) { return this.dataBps.set(requests); }
  /** Enables the exception filters given, each with an optional condition. */
  /**
   * Enables the exception filters given, each with an optional condition. "Divergence from native"
   * adds the native twin (dropped when cleared): now when the guest has not run yet (the launch's
   * filters), else at the next run (catching up costs a native run to where the guest stands).
   */
  setExceptionFilters(filters: Array<{ id: ExceptionFilterId; condition?: string }>): void {
    this.events.set(filters);
    if (this.cpu.icount === 0) this.updateTwin();
    // "Divergence from native" ticked or unticked while the guest runs: the run stops at its next
    // turn (a few ms), the twin is added (it catches up from the first checkpoint) or dropped, and
    // the run goes on — the filter applies now, not at the next continue.
    else if (this.ctx.running && this.twinWanted() !== (this.nativeTwin !== undefined)) {
      this.ctx.onOwnPause = () => setImmediate(() => { if (!this.ctx.disposed && !this.ctx.running) this.continue(); });
      this.ctx.requestPause(true);
    }
  }

  /** Whether the native twin should be there (see updateTwin). */
  private twinWanted(): boolean {
    return this.vm.mode !== 'native' && (this.ctx.options.checkEquivalence || this.events.has('divergence'));
  }

  /** Lines of `file` from `line` to `endLine` (0-based, inclusive) where a breakpoint can stop. */
  breakpointLines(file: string, line: number, endLine: number): number[] {
    const out: number[] = [];
    for (let l = line; l <= endLine; l++) if (this.program.index.addressesOf(file, l).length) out.push(l);
    return out;
  }

  // Coverage -----------------------------------------------------------------------------------

  /** Records executed instructions from now on (coverage.ts: probes, nothing when off). */
  enableCoverage(): void { this.coverage.enable(); }
  get coverageEnabled(): boolean { return this.coverage.enabled; }
  /** Executed lines so far by file (0-based lines). */
  coverageReport(): CoverageReport { return this.coverage.report(); }

  // Hypervisor view of the stop ----------------------------------------------------------------

  /** Linear address of the instruction an event is about; for INT n, the INT before the return EIP. */
  intSite(lin: number, software: boolean): number { return this.events.intSite(lin, software); }
  /** VMCS fields for the VMCS scope: as the VM exit of this stop left them, else as they are now. */
  vmcsFields(): Record<string, string | number | boolean> | undefined { return this.events.vmcsFields(); }
  /** The hypervisor's latest events up to now (after a step back, none from the future). */
  recentEvents(): Array<{ icount: number; line: string }> { return this.events.recentEvents(); }
  /** Counters for the Hypervisor scope: as the event of this stop left them, else as they are now. */
  hypervisorCounters(): { counters: RunCounters; cycles: number } { return this.events.hypervisorCounters(); }

  /** `file:line mnemonic` of a linear address, for descriptions. */
  where(lin: number): string { return this.ctx.where(lin); }
  instructionText(lin: number): string | undefined { return this.ctx.instructionText(lin); }

  // Running ------------------------------------------------------------------------------------

  /** Starts: stops on entry, or runs. */
  start(stopOnEntry: boolean): void {
    this.updateTwin();
    if (!stopOnEntry) { this.continue(); return; }
    this.travel.atStop();
    this.host.stopped({ reason: 'entry', description: `Entry at ${this.where(this.pc)}` });
    // The first checkpoint after the entry stop is shown, off the launch's critical path.
    setImmediate(() => {
      try { if (!this.ctx.running && this.cpu.icount === 0) this.travel.ensureFirstCheckpoint(); } catch (e) { this.host.output(`popek debugger: no step back: ${(e as Error).message}\n`, 'stderr'); }
    });
  }

  continue(): void {
    this.updateTwin();
    void this.loop.run({ kind: 'continue' });
  }

  pause(): void { if (this.ctx.running) this.ctx.requestPause(); }

  step(kind: 'in' | 'over' | 'out', granularity: Granularity): void {
    this.updateTwin();
    void this.loop.run(stepGoal(this.steppingView(), kind, granularity));
  }

  /** Moves EIP to `address` (Jump to Cursor). */
  jumpTo(address: number): void {
    this.cpu.eip = (address - this.cpu.segBase[CS]) >>> 0;
    this.cpu.halted = false;
    this.noteStateEdited();
    this.host.stopped({ reason: 'goto', description: `Jumped to ${this.where(this.pc)}` });
  }

  private steppingView(): SteppingView {
    const index = this.program.index;
    return {
      index,
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

  // Step back ----------------------------------------------------------------------------------

  /** Steps back one instruction or one source line. */
  stepBack(granularity: Granularity): Promise<void> { return this.travel.stepBack(granularity); }
  /** Runs backwards to the most recent breakpoint hit before now, or to the start. */
  reverseContinue(): Promise<void> { return this.travel.reverseContinue(); }

  // State --------------------------------------------------------------------------------------

  /** Call stack of the guest (top frame first). */
  stack(): Frame[] { return callStack(this.cpu, this.program.index, this.pc); }

  /**
   * Something the user changed: checkpoints from here on no longer describe the future. A
   * checkpoint of the edited state is taken before the guest moves (see `ensureFirstCheckpoint`).
   */
  noteStateEdited(): void {
    this.travel.noteEdited();
    this.cpu.flushCodeCache();
  }

  /** Writes guest memory from the debugger (no data breakpoint fires). */
  writeMemory(address: number, data: Uint8Array): number {
    try { return this.quietly(() => writeLinearBytes(this.cpu, address, data)); } finally { this.noteStateEdited(); }
  }

  /** A global variable of compiled code (ELF kernels with DWARF or OBJECT symbols). */
  variable(name: string): GlobalVariable | undefined {
    const index = this.program.index;
    return index instanceof ElfSourceIndex && readName(this.cpu, name.toLowerCase()) === undefined ? index.variable(name) : undefined;
  }

  /** Evaluation context (reads and, from the Debug Console, writes). */
  context() { return evalContext(this.cpu, this.program.index, () => this.noteStateEdited()); }

  /** Runs a write with data breakpoints muted. */
  quietly<T>(fn: () => T): T { return this.ctx.quietly(fn); }
}
