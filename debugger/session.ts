/*
 * The Popek debug session: a translator between the Debug Adapter Protocol and the headless runtime
 * (debugger/runtime, which imports core/ only). One method per request; lines and columns are
 * converted here (the runtime is 0-based); errors go out through sendErrorResponse with the stable
 * ids of errors.ts.
 */
import {
  Breakpoint, BreakpointEvent, Event as DapEvent, ExitedEvent, Handles, InitializedEvent, OutputEvent, Scope,
  Source, StackFrame, StoppedEvent, TerminatedEvent, Thread,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import * as path from 'node:path';
import { LoadError } from '../core/machine/multiboot';
import { ErrorFormat, ErrorId } from './errors';
import { describeProblem, GuardedDebugSession } from './requestGuard';
import { checkLaunchArguments, type CheckedLaunch, type PopekLaunchArguments } from './launchArgs';
import { EXCEPTION_FILTERS, isExceptionFilter } from './runtime/breakpoints';
import { disassembleAround } from './runtime/disassembly';
import { ExpressionError, evaluate, parseExpression } from './runtime/expression';
import { DEFAULT_WATCH_SIZE, findGlobal, globalsView, programGlobals } from './runtime/globals';
import { readLinearBytes } from './runtime/guestMemory';
import { eflagsView, hex, hypervisorView, registersView, vcpuView, vmcsView, writeName, type StateItem } from './runtime/guestState';
import { ProgramLoadError } from './runtime/program';
import { DebugRuntime, type RuntimeHost, type StopInfo } from './runtime/runtime';
import { KEYS_REQUEST, SCREEN_EVENT, SCREEN_REQUEST, ScreenPublisher, screenBody, typeKeys, type KeysArguments } from './screenEvents';
import { RUN_SPEED_EVENT, RunSpeedPublisher, type RunCounts } from './runSpeed';
import { COVERAGE_EVENT, COVERAGE_REQUEST, coverageBody } from './coverageEvents';

const THREAD_ID = 1;
/** How long launch waits for configurationDone before it runs anyway (ms). */
const CONFIGURATION_TIMEOUT = 2000;

type ScopeKind = 'registers' | 'eflags' | 'vcpu' | 'vmcs' | 'hypervisor' | 'globals';

export class PopekDebugSession extends GuardedDebugSession {
  private runtime: DebugRuntime | undefined;
  private launchOptions: CheckedLaunch | undefined;
  private readonly variableHandles = new Handles<ScopeKind | StateItem[]>();
  private configurationDone: Promise<void>;
  private resolveConfigurationDone: () => void = () => {};
  private lastStop: StopInfo | undefined;
  /** Source breakpoints as last requested, per file (restart re-applies them). */
  /** EIPs of reported frames: certain instruction starts, on which the disassembly view resyncs. */
  private readonly knownStarts = new Set<number>();
  private readonly sourceBreakpoints = new Map<string, DebugProtocol.SetBreakpointsArguments>();
  private instructionBreakpoints: DebugProtocol.SetInstructionBreakpointsArguments | undefined;
  private functionBreakpoints: DebugProtocol.SetFunctionBreakpointsArguments | undefined;
  private dataBreakpoints: DebugProtocol.SetDataBreakpointsArguments | undefined;
  private exceptionBreakpoints: DebugProtocol.SetExceptionBreakpointsArguments | undefined;
  private linesStartAt1 = true;
  /** The guest screen for the client's screen view (custom event `popekScreen`). */
  private readonly screen = new ScreenPublisher((body) => this.sendEvent({ seq: 0, type: 'event', event: SCREEN_EVENT, body } as DebugProtocol.Event));
  /** Instructions/s and modelled cycles for the client's status bar (custom event `popekRunning`). */
  private readonly speed = new RunSpeedPublisher((body) => this.sendEvent({ seq: 0, type: 'event', event: RUN_SPEED_EVENT, body } as DebugProtocol.Event));

  constructor() {
    super();
    this.configurationDone = new Promise((resolve) => { this.resolveConfigurationDone = resolve; });
    this.setDebuggerLinesStartAt1(false);
    this.setDebuggerColumnsStartAt1(false);
  }

  // ---- lifecycle ----

  protected override initializeRequest(response: DebugProtocol.InitializeResponse, args: DebugProtocol.InitializeRequestArguments): void {
    this.linesStartAt1 = args.linesStartAt1 ?? true;
    const b: DebugProtocol.Capabilities = response.body ?? {};
    b.supportsConfigurationDoneRequest = true;          // launch waits for the breakpoints to be set
    b.supportsConditionalBreakpoints = true;            // conditions over registers, flags and memory
    b.supportsHitConditionalBreakpoints = true;         // "5", ">= 5", "%2"
    b.supportsLogPoints = true;                         // messages with {expression} holes
    b.supportsEvaluateForHovers = true;                 // hover a register or a label in the source
    b.supportsSetVariable = true;                       // registers, flags, IOPL
    b.supportsSetExpression = true;                     // assign to a watch expression: eax, [0x9000]
    b.supportsStepBack = true;                          // step back and reverse continue (checkpoints + re-execution)
    b.supportsRestartRequest = true;                    // reassembles and reloads, keeping breakpoints
    b.supportsTerminateRequest = true;                  // stop the guest
    b.supportsExceptionInfoRequest = true;              // details of a trap, VM exit, divergence
    b.supportsExceptionFilterOptions = true;            // conditions on filters: "CPUID,HLT"
    b.exceptionBreakpointFilters = EXCEPTION_FILTERS.map((f) => ({
      filter: f.filter, label: f.label, description: f.description, default: false, // each filter checks every instruction: off until asked for
      supportsCondition: f.conditionDescription !== undefined, conditionDescription: f.conditionDescription,
    }));
    b.supportsReadMemoryRequest = true;                 // memory view from registers' memoryReference
    b.supportsWriteMemoryRequest = true;                // edit guest memory
    b.supportsDisassembleRequest = true;                // disassembly view with source locations and symbols
    b.supportsSteppingGranularity = true;               // step by instruction or by source line
    b.supportsInstructionBreakpoints = true;            // breakpoints in the disassembly view
    b.supportsFunctionBreakpoints = true;               // break on a label: puts, main.loop
    b.supportsBreakpointLocationsRequest = true;        // the lines that hold instructions
    b.supportsGotoTargetsRequest = true;                // Jump to Cursor: set EIP to a line's instruction
    b.supportsDataBreakpoints = true;                   // break on memory writes
    b.supportsDataBreakpointBytes = true;               // …at an address typed by the user
    b.supportsValueFormattingOptions = false;           // values are hex with decimal where it helps
    b.supportsCompletionsRequest = true;                // registers, flags, labels in the Debug Console
    b.supportsLoadedSourcesRequest = false;             // one program, its sources come from the stack
    b.supportsCancelRequest = false;                    // nothing long-running to cancel
    b.supportsSingleThreadExecutionRequests = false;    // one virtual CPU
    response.body = b;
    this.sendResponse(response);
  }

  protected override configurationDoneRequest(response: DebugProtocol.ConfigurationDoneResponse): void {
    this.resolveConfigurationDone();
    this.sendResponse(response);
  }

  protected override async launchRequest(response: DebugProtocol.LaunchResponse, args: PopekLaunchArguments): Promise<void> {
    try {
      const checked = checkLaunchArguments(args);
      if (!checked.options) { this.fail(response, ErrorId.badLaunchArguments, checked.problems.join(' ')); return; }
      this.launchOptions = checked.options;
      const rt = this.createRuntime(checked.options, response);
      if (!rt) return;
      // Breakpoints a client sent before the program was loaded.
      this.reapplyBreakpoints(rt);
      this.sendEvent(new InitializedEvent());
      await Promise.race([this.configurationDone, new Promise((r) => setTimeout(r, CONFIGURATION_TIMEOUT))]);
      this.sendResponse(response);
      rt.start(checked.options.stopOnEntry);
    } catch (e) {
      this.fail(response, ErrorId.internal, describeProblem(e));
    }
  }

  /** Loads the program into a new runtime; on failure answers `response` with the reason. */
  private createRuntime(options: CheckedLaunch, response: DebugProtocol.Response): DebugRuntime | undefined {
    try {
      this.runtime?.dispose();
      this.runtime = new DebugRuntime(options, this.runtimeHost());
      // The runtime prints the warnings (a missing Multiboot header too) in the Debug Console; the
      // extension puts them in the Problems panel (the event also clears the last launch's errors).
      const program = this.runtime.program;
      this.sendEvent(new DapEvent('popek/problems', { file: program.file, problems: program.problems ?? [] }));
      return this.runtime;
    } catch (e) {
      this.runtime = undefined;
      if (e instanceof ProgramLoadError && e.kind === 'syntax') {
        // Not a configuration problem (no modal about launch.json): the errors go to the Debug Console
        // with their source lines and, through the extension, to the Problems panel; the session ends.
        const text = e.problems.map((p) => `${p.file}:${p.line + 1}:${p.column + 1}: error: ${p.message}\n${p.source ? `    ${p.source.trim()}\n` : ''}`).join('');
        this.sendEvent(new OutputEvent(`${e.message.split('\n')[0]}\n${text}`, 'stderr'));
        this.sendEvent(new DapEvent('popek/problems', { file: path.resolve(options.program), problems: e.problems }));
        this.sendResponse(response);
        this.sendEvent(new TerminatedEvent());
      } else if (e instanceof ProgramLoadError) {
        const id = e.kind === 'missing' ? ErrorId.programMissing : e.kind === 'syntax' ? ErrorId.assemblyFailed : ErrorId.notAProgram;
        this.fail(response, id, e.message);
      } else if (e instanceof LoadError || e instanceof RangeError) {
        this.fail(response, ErrorId.loadFailed, e.message);
      } else {
        this.fail(response, ErrorId.internal, e instanceof Error ? e.message : String(e));
      }
      return undefined;
    }
  }

  private runtimeHost(): RuntimeHost {
    return {
      stopped: (stop) => {
        this.lastStop = stop;
        this.variableHandles.reset();
        const ev = new StoppedEvent(stop.reason, THREAD_ID, stop.text) as DebugProtocol.StoppedEvent;
        ev.body.description = stop.description;
        ev.body.allThreadsStopped = true;
        if (stop.hitBreakpointIds) ev.body.hitBreakpointIds = stop.hitBreakpointIds;
        // The totals first: whoever reacts to the stop reads them.
        if (this.runtime) this.speed.stopped(runCounts(this.runtime));
        this.sendCoverage(false);
        this.sendEvent(ev);
        if (this.runtime) this.screen.stopped(this.runtime.vm.machine.vga);
      },
      turn: () => { if (this.runtime) { this.screen.running(this.runtime.vm.machine.vga); this.speed.running(runCounts(this.runtime)); } },
      output: (text, category, where) => {
        const ev = new OutputEvent(text, category) as DebugProtocol.OutputEvent;
        if (where) { ev.body.source = this.source(where.file); ev.body.line = this.convertDebuggerLineToClient(where.line); }
        this.sendEvent(ev);
      },
      ended: (message, exitCode) => {
        if (this.runtime) { this.screen.stopped(this.runtime.vm.machine.vga); this.speed.stopped(runCounts(this.runtime)); }
        this.sendCoverage(true);
        this.sendEvent(new OutputEvent(message + '\n', 'console'));
        this.sendEvent(new ExitedEvent(exitCode));
        this.sendEvent(new TerminatedEvent());
      },
    };
  }

  /** The executed lines so far (coverageEvents.ts), when the session records them. */
  private sendCoverage(ended: boolean): void {
    const rt = this.runtime;
    if (rt?.coverageEnabled) this.sendEvent(new DapEvent(COVERAGE_EVENT, this.coverageOf(rt, ended)));
  }

  private coverageOf(rt: DebugRuntime, ended: boolean) {
    return coverageBody(rt.mode, rt.coverageReport(), ended, { path: (p) => this.convertDebuggerPathToClient(p), line: (l) => this.convertDebuggerLineToClient(l) });
  }

  /**
   * `popekScreen`: the screen now; `popekKeys`: type keys into the guest (see screenEvents.ts);
   * `popekCoverage`: record executed lines from now on, and the lines so far.
   */
  protected override customRequest(command: string, response: DebugProtocol.Response, args: unknown): void {
    const rt = this.runtime;
    if (command === COVERAGE_REQUEST) {
      if (!rt) { this.fail(response, ErrorId.noGuest, 'launch a program first'); return; }
      rt.enableCoverage();
      response.body = this.coverageOf(rt, rt.hasEnded);
      this.sendResponse(response);
    } else if (command === SCREEN_REQUEST) {
      if (!rt) { this.fail(response, ErrorId.noGuest, 'launch a program first'); return; }
      response.body = screenBody(rt.vm.machine.vga, rt.isRunning);
      this.sendResponse(response);
    } else if (command === KEYS_REQUEST) {
      if (!rt) { this.fail(response, ErrorId.noGuest, 'launch a program first'); return; }
      const r = typeKeys(rt.vm.machine.keyboard, (args ?? {}) as KeysArguments);
      if ('error' in r) { this.fail(response, ErrorId.keys, r.error, false); return; }
      response.body = r;
      this.sendResponse(response);
    } else {
      super.customRequest(command, response, args);
    }
  }

  protected override restartRequest(response: DebugProtocol.RestartResponse, args: DebugProtocol.RestartArguments): void {
    try {
      const fresh = args?.arguments ? checkLaunchArguments(args.arguments) : { options: this.launchOptions, problems: [] };
      if (!fresh.options) { this.fail(response, ErrorId.badLaunchArguments, fresh.problems.join(' ') || 'launch first'); return; }
      const rt = this.createRuntime(fresh.options, response);
      if (!rt) return;
      this.launchOptions = fresh.options;
      this.reapplyBreakpoints(rt);
      this.sendResponse(response);
      rt.start(fresh.options.stopOnEntry);
    } catch (e) {
      this.fail(response, ErrorId.internal, describeProblem(e));
    }
  }

  private reapplyBreakpoints(rt: DebugRuntime): void {
    for (const args of this.sourceBreakpoints.values()) {
      for (const bp of this.applySourceBreakpoints(rt, args)) this.sendEvent(new BreakpointEvent('changed', bp));
    }
    if (this.instructionBreakpoints) this.applyInstructionBreakpoints(rt, this.instructionBreakpoints);
    if (this.functionBreakpoints) this.applyFunctionBreakpoints(rt, this.functionBreakpoints);
    if (this.exceptionBreakpoints) this.applyExceptionBreakpoints(rt, this.exceptionBreakpoints);
    if (this.dataBreakpoints) this.applyDataBreakpoints(rt, this.dataBreakpoints);
  }

  protected override terminateRequest(response: DebugProtocol.TerminateResponse): void {
    this.runtime?.dispose();
    this.sendResponse(response);
    this.sendEvent(new TerminatedEvent());
  }

  protected override disconnectRequest(response: DebugProtocol.DisconnectResponse): void {
    this.runtime?.dispose();
    this.runtime = undefined;
    this.sendResponse(response);
  }

  /** The client vanished without `disconnect` (server mode outlives it): its guest stops too. */
  protected override onConnectionClosed(): void {
    this.runtime?.dispose();
    this.runtime = undefined;
  }

  // ---- breakpoints ----

  protected override setBreakPointsRequest(response: DebugProtocol.SetBreakpointsResponse, args: DebugProtocol.SetBreakpointsArguments): void {
    const file = typeof args?.source?.path === 'string' ? args.source.path : undefined;
    if (file) this.sourceBreakpoints.set(path.resolve(file), args);
    const rt = this.runtime;
    if (!rt || !file) {
      response.body = { breakpoints: objects<DebugProtocol.SourceBreakpoint>(args?.breakpoints).map((b) => ({ verified: false, line: b.line, message: file ? 'the program is not loaded yet' : 'no source path' })) };
      this.sendResponse(response);
      return;
    }
    const bps = this.applySourceBreakpoints(rt, args);
    response.body = { breakpoints: bps };
    this.sendResponse(response);
    // A breakpoint moved to the next instruction line is announced too (editors that ignore the response line).
    for (const [i, bp] of bps.entries()) {
      const asked = args.breakpoints?.[i]?.line;
      if (bp.verified && asked !== undefined && bp.line !== asked) this.sendEvent(new BreakpointEvent('changed', bp));
    }
  }

  private applySourceBreakpoints(rt: DebugRuntime, args: DebugProtocol.SetBreakpointsArguments): DebugProtocol.Breakpoint[] {
    const file = path.resolve(args.source.path!);
    const asked: DebugProtocol.SourceBreakpoint[] = args.breakpoints !== undefined ? objects<DebugProtocol.SourceBreakpoint>(args.breakpoints).filter((b) => Number.isInteger(b.line))
      : objects<number>((args.lines ?? []).map((line) => ({ line }))).map((b) => b as unknown as DebugProtocol.SourceBreakpoint).filter((b) => Number.isInteger(b.line));
    const requests = asked.map((b) => ({
      line: this.convertClientLineToDebugger(b.line), condition: str(b.condition), hitCondition: str(b.hitCondition), logMessage: str(b.logMessage),
    }));
    return rt.setLineBreakpoints(file, requests).map((r, i) => {
      const bp = new Breakpoint(r.verified, r.line !== undefined ? this.convertDebuggerLineToClient(r.line) : this.convertDebuggerLineToClient(requests[i].line), undefined, this.source(file)) as DebugProtocol.Breakpoint;
      bp.id = r.id;
      if (r.message) bp.message = r.message;
      if (r.address !== undefined) bp.instructionReference = hex(r.address);
      if (!r.verified) bp.reason = 'failed';
      return bp;
    });
  }

  protected override setInstructionBreakpointsRequest(response: DebugProtocol.SetInstructionBreakpointsResponse, args: DebugProtocol.SetInstructionBreakpointsArguments): void {
    this.instructionBreakpoints = args;
    const rt = this.runtime;
    response.body = { breakpoints: rt ? this.applyInstructionBreakpoints(rt, args) : objects(args?.breakpoints).map(() => ({ verified: false, message: 'the program is not loaded yet' })) };
    this.sendResponse(response);
  }

  private applyInstructionBreakpoints(rt: DebugRuntime, args: DebugProtocol.SetInstructionBreakpointsArguments): DebugProtocol.Breakpoint[] {
    const parsed = objects<DebugProtocol.InstructionBreakpoint>(args?.breakpoints).map((b) => ({ address: (parseAddress(b.instructionReference) ?? NaN) + (Number.isInteger(b.offset) ? b.offset! : 0), condition: str(b.condition), hitCondition: str(b.hitCondition) }));
    // An offset that takes the reference outside the 32-bit address space is not wrapped: not an address.
    const inRange = (p: { address: number }) => p.address >= 0 && p.address <= 0xffffffff;
    const results = rt.setInstructionBreakpoints(parsed.filter(inRange));
    let k = 0;
    return parsed.map((p) => {
      if (!inRange(p)) return { verified: false, message: 'not an address' };
      const r = results[k++];
      const loc = rt.program.index.locate(r.address);
      const bp: DebugProtocol.Breakpoint = { id: r.id, verified: r.verified, instructionReference: hex(r.address), message: r.message };
      if (loc) { bp.source = this.source(loc.file); bp.line = this.convertDebuggerLineToClient(loc.line); }
      return bp;
    });
  }

  protected override setFunctionBreakPointsRequest(response: DebugProtocol.SetFunctionBreakpointsResponse, args: DebugProtocol.SetFunctionBreakpointsArguments): void {
    this.functionBreakpoints = args;
    const rt = this.runtime;
    response.body = { breakpoints: rt ? this.applyFunctionBreakpoints(rt, args) : objects(args?.breakpoints).map(() => ({ verified: false, message: 'the program is not loaded yet' })) };
    this.sendResponse(response);
  }

  private applyFunctionBreakpoints(rt: DebugRuntime, args: DebugProtocol.SetFunctionBreakpointsArguments): DebugProtocol.Breakpoint[] {
    const asked = objects<DebugProtocol.FunctionBreakpoint>(args?.breakpoints).filter((b) => typeof b.name === 'string');
    return rt.setFunctionBreakpoints(asked.map((b) => ({ name: b.name, condition: str(b.condition), hitCondition: str(b.hitCondition) }))).map((r) => {
      const bp: DebugProtocol.Breakpoint = { id: r.id, verified: r.verified, message: r.message };
      if (r.address !== undefined) {
        bp.instructionReference = hex(r.address);
        const loc = rt.program.index.locate(r.address);
        if (loc) { bp.source = this.source(loc.file); bp.line = this.convertDebuggerLineToClient(loc.line); }
      }
      return bp;
    });
  }

  protected override breakpointLocationsRequest(response: DebugProtocol.BreakpointLocationsResponse, args: DebugProtocol.BreakpointLocationsArguments): void {
    const rt = this.runtime;
    const file = typeof args?.source?.path === 'string' ? path.resolve(args.source.path) : undefined;
    const line = this.convertClientLineToDebugger(Number(args?.line));
    const end = args?.endLine !== undefined ? this.convertClientLineToDebugger(Number(args.endLine)) : line;
    response.body = { breakpoints: rt && file && Number.isInteger(line) && Number.isInteger(end) && end - line < 100_000
      ? rt.breakpointLines(file, line, end).map((l) => ({ line: this.convertDebuggerLineToClient(l) })) : [] };
    this.sendResponse(response);
  }

  protected override gotoTargetsRequest(response: DebugProtocol.GotoTargetsResponse, args: DebugProtocol.GotoTargetsArguments): void {
    const rt = this.runtime;
    const file = typeof args?.source?.path === 'string' ? path.resolve(args.source.path) : undefined;
    const target = rt && file && Number.isInteger(args.line) ? rt.program.index.nextInstructionLine(file, this.convertClientLineToDebugger(args.line)) : undefined;
    response.body = { targets: target ? [{ id: target.addresses[0], label: `${rt!.instructionText(target.addresses[0]) ?? ''} @ ${hex(target.addresses[0])}`, line: this.convertDebuggerLineToClient(target.line), instructionPointerReference: hex(target.addresses[0]) }] : [] };
    this.sendResponse(response);
  }

  protected override gotoRequest(response: DebugProtocol.GotoResponse, args: DebugProtocol.GotoArguments): void {
    const rt = this.runtime;
    if (!rt || rt.isRunning || rt.hasEnded) { this.fail(response, ErrorId.running, 'goto'); return; }
    if (!Number.isInteger(args?.targetId) || args.targetId < 0 || args.targetId > 0xffffffff) { this.fail(response, ErrorId.setVariable, 'EIP: not a goto target'); return; }
    this.sendResponse(response);
    rt.jumpTo(args.targetId);
  }

  protected override dataBreakpointInfoRequest(response: DebugProtocol.DataBreakpointInfoResponse, args: DebugProtocol.DataBreakpointInfoArguments): void {
    const rt = this.runtime;
    const none = (why: string) => { response.body = { dataId: null, description: why }; this.sendResponse(response); };
    if (!rt) return none('no guest is loaded');
    // From the Variables view: a global is its bytes; a register or a flag is not memory.
    const scope = args.variablesReference ? this.variableHandles.get(args.variablesReference) : undefined;
    if (scope === 'globals') {
      const g = findGlobal(rt.program.index, String(args.name));
      if (!g) return none(`${args.name} is not a global of the program`);
      const size = Math.min(g.size || DEFAULT_WATCH_SIZE, 4096);
      response.body = { dataId: `${hex(g.address)}/${size}`, description: `${g.name}: ${size} byte${size === 1 ? '' : 's'} at ${hex(g.address)}`, accessTypes: ['write'], canPersist: false };
      this.sendResponse(response);
      return;
    }
    if (scope !== undefined) return none(`${args.name} is not memory: a data breakpoint watches memory (the Globals scope, or [${args.name}] in Watch for what it points to)`);
    let address: number, size: number;
    try {
      if (args.asAddress) {
        const a = parseAddress(args.name) ?? evaluate(parseExpression(args.name), rt.context());
        address = a; size = Math.max(1, Math.min(args.bytes ?? 4, 4096));
      } else {
        const node = parseExpression(args.name);
        if (node.k === 'mem') { address = evaluate(node.addr, rt.context()); size = node.size; } else if (node.k === 'id' && rt.program.index.label(node.name)) {
          address = rt.program.index.label(node.name)!.address; size = 4;
        } else return none(`${args.name} is not memory: watch [${args.name}] for what it points to`);
      }
    } catch (e) { return none((e as Error).message); }
    response.body = { dataId: `${hex(address)}/${size}`, description: `${size} byte(s) at ${hex(address)}`, accessTypes: ['write'], canPersist: false };
    this.sendResponse(response);
  }

  protected override setDataBreakpointsRequest(response: DebugProtocol.SetDataBreakpointsResponse, args: DebugProtocol.SetDataBreakpointsArguments): void {
    this.dataBreakpoints = args;
    const rt = this.runtime;
    response.body = { breakpoints: rt ? this.applyDataBreakpoints(rt, args) : objects(args?.breakpoints).map(() => ({ verified: false, message: 'the program is not loaded yet' })) };
    this.sendResponse(response);
  }

  private applyDataBreakpoints(rt: DebugRuntime, args: DebugProtocol.SetDataBreakpointsArguments): DebugProtocol.Breakpoint[] {
    const parsed = objects<DebugProtocol.DataBreakpoint>(args?.breakpoints).map((b) => {
      const m = /^(0x[0-9a-f]+)\/(\d+)$/i.exec(str(b.dataId) ?? '');
      const address = m ? parseInt(m[1], 16) : NaN;
      return address <= 0xffffffff ? { address, size: Math.min(4096, Math.max(1, parseInt(m![2], 10))), condition: str(b.condition), hitCondition: str(b.hitCondition) } : undefined;
    });
    const results = rt.setDataBreakpoints(parsed.filter((p) => p !== undefined));
    let k = 0;
    return parsed.map((p) => {
      if (!p) return { verified: false, message: 'unknown data breakpoint id' };
      const r = results[k++];
      return { id: r.id, verified: r.verified, message: r.message };
    });
  }

  protected override setExceptionBreakPointsRequest(response: DebugProtocol.SetExceptionBreakpointsResponse, args: DebugProtocol.SetExceptionBreakpointsArguments): void {
    this.exceptionBreakpoints = args;
    const rt = this.runtime;
    const list = rt ? this.applyExceptionBreakpoints(rt, args) : [];
    response.body = { breakpoints: list };
    this.sendResponse(response);
  }

  private applyExceptionBreakpoints(rt: DebugRuntime, args: DebugProtocol.SetExceptionBreakpointsArguments): DebugProtocol.Breakpoint[] {
    const all = [...(Array.isArray(args?.filters) ? args.filters : []).map((f) => ({ filterId: String(f), condition: undefined as string | undefined })),
      ...objects<DebugProtocol.ExceptionFilterOptions>(args?.filterOptions).map((f) => ({ filterId: String(f.filterId), condition: str(f.condition) }))];
    const enabled = all.filter((f) => isExceptionFilter(f.filterId)).map((f) => ({ id: f.filterId as never, condition: f.condition as string | undefined }));
    // The launch's `stopOn` filters stay on whatever the Breakpoints view says (e.g. the walkthrough's VM exits).
    for (const id of this.launchOptions?.stopOn ?? []) if (!enabled.some((f) => f.id === id)) enabled.push({ id: id as never, condition: undefined });
    // "Divergence from native" brings the native twin with it (no launch.json flag needed).
    rt.setExceptionFilters(enabled);
    return all.map((f) => ({ verified: isExceptionFilter(f.filterId), message: isExceptionFilter(f.filterId) ? undefined : `unknown filter ${f.filterId}` }));
  }

  protected override exceptionInfoRequest(response: DebugProtocol.ExceptionInfoResponse): void {
    const ex = this.lastStop?.exception;
    // VS Code titles the stop "Exception has occurred: <exceptionId>": the filter's name as the
    // Breakpoints view shows it ("VM exits"), not its id ("vmexit"); the id stays in details.typeName.
    const label = EXCEPTION_FILTERS.find((f) => f.filter === ex?.filter)?.label ?? ex?.filter;
    response.body = ex
      ? { exceptionId: label!, description: ex.description, breakMode: 'always', details: { message: ex.details, typeName: ex.filter } }
      : { exceptionId: 'none', description: this.lastStop?.description ?? 'not stopped on an exception', breakMode: 'never' };
    this.sendResponse(response);
  }

  // ---- execution control ----

  protected override threadsRequest(response: DebugProtocol.ThreadsResponse): void {
    response.body = { threads: [new Thread(THREAD_ID, `CPU 0 (${this.runtime?.mode ?? 'not started'})`)] };
    this.sendResponse(response);
  }

  protected override continueRequest(response: DebugProtocol.ContinueResponse): void {
    if (!this.guest(response)) return;
    response.body = { allThreadsContinued: true };
    this.sendResponse(response);
    this.runtime!.continue();
  }

  protected override nextRequest(response: DebugProtocol.NextResponse, args: DebugProtocol.NextArguments): void {
    if (!this.guest(response)) return;
    this.sendResponse(response);
    this.runtime!.step('over', args.granularity === 'instruction' ? 'instruction' : 'line');
  }

  protected override stepInRequest(response: DebugProtocol.StepInResponse, args: DebugProtocol.StepInArguments): void {
    if (!this.guest(response)) return;
    this.sendResponse(response);
    this.runtime!.step('in', args.granularity === 'instruction' ? 'instruction' : 'line');
  }

  protected override stepOutRequest(response: DebugProtocol.StepOutResponse, args: DebugProtocol.StepOutArguments): void {
    if (!this.guest(response)) return;
    this.sendResponse(response);
    this.runtime!.step('out', args.granularity === 'instruction' ? 'instruction' : 'line');
  }

  protected override stepBackRequest(response: DebugProtocol.StepBackResponse, args: DebugProtocol.StepBackArguments): void {
    if (!this.guest(response)) return;
    this.sendResponse(response);
    void this.runtime!.stepBack(args.granularity === 'instruction' ? 'instruction' : 'line');
  }

  protected override reverseContinueRequest(response: DebugProtocol.ReverseContinueResponse): void {
    if (!this.guest(response)) return;
    this.sendResponse(response);
    void this.runtime!.reverseContinue();
  }

  protected override pauseRequest(response: DebugProtocol.PauseResponse): void {
    this.sendResponse(response);
    const rt = this.runtime;
    if (rt && !rt.isRunning && !rt.hasEnded) {
      // Already stopped (a step ended first): say so again, so that a pause always ends in a stop.
      const ev = new StoppedEvent('pause', THREAD_ID, this.lastStop?.text) as DebugProtocol.StoppedEvent;
      ev.body.description = this.lastStop?.description ?? 'Paused';
      ev.body.allThreadsStopped = true;
      this.sendEvent(ev);
      return;
    }
    rt?.pause();
  }

  // ---- state ----

  protected override stackTraceRequest(response: DebugProtocol.StackTraceResponse, args: DebugProtocol.StackTraceArguments): void {
    const rt = this.runtime;
    if (!rt || rt.isRunning) { response.body = { stackFrames: [], totalFrames: 0 }; this.sendResponse(response); return; }
    const frames = rt.stack();
    const start = args.startFrame ?? 0, levels = args.levels || frames.length;
    response.body = {
      stackFrames: frames.slice(start, start + levels).map((f, i) => {
        const loc = rt.program.index.locate(f.address);
        const sf = new StackFrame(start + i, f.name.startsWith('0x') ? f.name : `${f.name} @ ${hex(f.address)}`, loc ? this.source(loc.file) : undefined, loc ? this.convertDebuggerLineToClient(loc.line) : 0, this.linesStartAt1 ? 1 : 0) as DebugProtocol.StackFrame;
        sf.instructionPointerReference = hex(f.address);
        if (i + start === 0 && this.knownStarts.size < 65536) this.knownStarts.add(f.address >>> 0);
        if (!loc) sf.presentationHint = 'subtle';
        if (f.kind === 'interrupt') sf.presentationHint = 'label';
        return sf;
      }),
      totalFrames: frames.length,
    };
    this.sendResponse(response);
  }

  protected override scopesRequest(response: DebugProtocol.ScopesResponse): void {
    const rt = this.runtime;
    const scopes: DebugProtocol.Scope[] = [];
    if (rt) {
      scopes.push(new Scope('Registers', this.variableHandles.create('registers'), false));
      scopes.push(new Scope('EFLAGS', this.variableHandles.create('eflags'), false));
      scopes.push(new Scope('VCPU', this.variableHandles.create('vcpu'), false));
      if (rt.vmcsFields()) scopes.push(new Scope('VMCS', this.variableHandles.create('vmcs'), false));
      // The program's variables (data labels, C globals): "Break on Value Change" works on them.
      const globals = programGlobals(rt.program.index).length;
      if (globals) scopes.push(Object.assign(new Scope('Globals', this.variableHandles.create('globals'), false), { namedVariables: globals }));
      scopes.push(new Scope('Hypervisor', this.variableHandles.create('hypervisor'), true));
      (scopes[0] as DebugProtocol.Scope).presentationHint = 'registers';
    }
    response.body = { scopes };
    this.sendResponse(response);
  }

  protected override variablesRequest(response: DebugProtocol.VariablesResponse, args: DebugProtocol.VariablesArguments): void {
    const rt = this.runtime;
    const h = this.variableHandles.get(args.variablesReference);
    let items: StateItem[] = [];
    if (rt && h !== undefined) {
      if (Array.isArray(h)) items = h;
      else if (h === 'registers') items = registersView(rt.cpu);
      else if (h === 'eflags') items = eflagsView(rt.cpu);
      else if (h === 'vcpu') items = vcpuView(rt.cpu, rt.vm);
      else if (h === 'vmcs') items = vmcsView(rt.vmcsFields()) ?? [];
      else if (h === 'hypervisor') items = hypervisorView(rt.vm, rt.hypervisorCounters(), rt.recentEvents());
      else if (h === 'globals') items = globalsView(rt.cpu, rt.program.index);
    }
    response.body = { variables: items.map((it) => this.variable(it)) };
    this.sendResponse(response);
  }

  private variable(it: StateItem): DebugProtocol.Variable {
    const v: DebugProtocol.Variable = { name: it.name, value: it.value, variablesReference: it.children ? this.variableHandles.create(it.children) : 0 };
    if (it.evaluateName) v.evaluateName = it.evaluateName;
    if (it.type) v.type = it.type;
    if (it.memory !== undefined) v.memoryReference = hex(it.memory);
    if (!it.editable) v.presentationHint = { attributes: ['readOnly'] };
    return v;
  }

  protected override setVariableRequest(response: DebugProtocol.SetVariableResponse, args: DebugProtocol.SetVariableArguments): void {
    const rt = this.runtime;
    if (!rt || rt.isRunning) { this.fail(response, ErrorId.running, 'setVariable'); return; }
    const h = this.variableHandles.get(args.variablesReference);
    if (h !== 'registers' && h !== 'eflags') { this.fail(response, ErrorId.setVariable, `${args.name}: only registers and flags can be changed here`); return; }
    try {
      const value = evaluate(parseExpression(args.value), rt.context());
      const name = args.name.toLowerCase();
      if (!rt.quietly(() => writeName(rt.cpu, name, value))) throw new ExpressionError(`${args.name} cannot take the value ${hex(value)}`);
      rt.noteStateEdited();
      const item = (h === 'registers' ? registersView(rt.cpu) : eflagsView(rt.cpu)).find((i) => i.name.toLowerCase() === name);
      response.body = { value: item?.value ?? hex(value) };
      if (item?.memory !== undefined) response.body.memoryReference = hex(item.memory);
      this.sendResponse(response);
    } catch (e) {
      this.fail(response, ErrorId.setVariable, `${args.name}: ${(e as Error).message}`);
    }
  }

  protected override evaluateRequest(response: DebugProtocol.EvaluateResponse, args: DebugProtocol.EvaluateArguments): void {
    const rt = this.runtime;
    // After a launch that did not start a guest (an assembly error) VS Code still asks: an answer in
    // place (the console, the Watch view), not an error toast on top of the launch's own message.
    if (!rt) { this.fail(response, ErrorId.noGuest, 'evaluate', false); return; }
    if (args.context === 'repl' && /^\s*(help|\?)\s*$/i.test(args.expression ?? '')) {
      response.body = { result: REPL_HELP, variablesReference: 0 };
      this.sendResponse(response);
      return;
    }
    try {
      const node = parseExpression(args.expression);
      if (node.k === 'assign' && args.context !== 'repl') throw new ExpressionError('assignments are allowed in the Debug Console only');
      if (node.k === 'assign' && rt.isRunning) throw new ExpressionError('pause the guest before changing it');
      const v = rt.quietly(() => evaluate(node, rt.context()));
      response.body = { result: formatValue(v), variablesReference: 0, memoryReference: hex(v) };
      const cvar = node.k === 'id' ? rt.variable(node.name) : undefined;
      if (cvar) {
        // A C global: its value, its C type, and its memory (not the value as an address).
        response.body.memoryReference = hex(cvar.address);
        if (cvar.typeName) response.body.type = cvar.typeName;
      } else if (args.context === 'hover' && node.k === 'id') {
        const label = rt.program.index.label(node.name);
        if (label) {
          const at = readLinearBytes(rt.cpu, label.address, 4).bytes;
          if (at.length === 4) response.body.result = `${hex(label.address)} → [${hex(label.address)}] = ${formatValue(new DataView(at.buffer, at.byteOffset).getUint32(0, true))}`;
        }
      }
      this.sendResponse(response);
    } catch (e) {
      // In the Debug Console the answer is a line there (VS Code prints the message), never a toast.
      if (e instanceof ExpressionError) this.fail(response, ErrorId.evaluate, args.context === 'repl' ? `${e.message} (type help for what the console understands)` : e.message, false);
      else this.fail(response, ErrorId.internal, (e as Error).message);
    }
  }

  protected override setExpressionRequest(response: DebugProtocol.SetExpressionResponse, args: DebugProtocol.SetExpressionArguments): void {
    const rt = this.runtime;
    if (!rt || rt.isRunning) { this.fail(response, ErrorId.running, 'setExpression'); return; }
    try {
      const target = parseExpression(args.expression);
      if (target.k !== 'id' && target.k !== 'mem') throw new ExpressionError(`${args.expression} cannot be assigned`);
      const v = rt.quietly(() => evaluate({ k: 'assign', target, value: parseExpression(args.value) }, rt.context()));
      response.body = { value: formatValue(v) };
      this.sendResponse(response);
    } catch (e) {
      this.fail(response, ErrorId.evaluate, (e as Error).message);
    }
  }

  protected override completionsRequest(response: DebugProtocol.CompletionsResponse, args: DebugProtocol.CompletionsArguments): void {
    const rt = this.runtime;
    const before = args.text.slice(0, Math.max(0, args.column - (this.linesStartAt1 ? 1 : 0)));
    const word = /[A-Za-z_.$@][\w.$@]*$/.exec(before)?.[0] ?? '';
    const names = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp', 'eip', 'eflags', 'cs', 'ds', 'es', 'fs', 'gs', 'ss', 'cr0', 'cr2', 'cr3', 'cr4',
      'CF', 'PF', 'AF', 'ZF', 'SF', 'TF', 'IF', 'DF', 'OF', 'iopl', 'cpl', 'byte', 'word', 'dword', ...(rt?.program.index.labels.map((l) => l.name) ?? [])];
    response.body = { targets: names.filter((n) => n.toLowerCase().startsWith(word.toLowerCase())).slice(0, 200).map((n) => ({ label: n, start: before.length - word.length, length: word.length })) };
    this.sendResponse(response);
  }

  // ---- memory and disassembly ----

  protected override readMemoryRequest(response: DebugProtocol.ReadMemoryResponse, args: DebugProtocol.ReadMemoryArguments): void {
    const rt = this.runtime;
    const base = this.memoryBase(response, ErrorId.memory, args.memoryReference);
    if (!rt || base === undefined) return;
    const address = (base + (args.offset ?? 0)) >>> 0;
    const count = Math.max(0, Math.min(args.count, 1 << 20));
    const { bytes, unreadable } = readLinearBytes(rt.cpu, address, count);
    response.body = { address: hex(address), data: Buffer.from(bytes).toString('base64'), unreadableBytes: unreadable };
    this.sendResponse(response);
  }

  protected override writeMemoryRequest(response: DebugProtocol.WriteMemoryResponse, args: DebugProtocol.WriteMemoryArguments): void {
    const rt = this.runtime;
    const base = this.memoryBase(response, ErrorId.memory, args.memoryReference);
    if (!rt || base === undefined) return;
    if (rt.isRunning) { this.fail(response, ErrorId.running, 'writeMemory'); return; }
    const data = new Uint8Array(Buffer.from(args.data, 'base64'));
    const address = (base + (args.offset ?? 0)) >>> 0;
    const written = rt.writeMemory(address, data);
    if (written === 0 && data.length > 0) { this.fail(response, ErrorId.memory, `memory at ${hex(address)} is not mapped`); return; }
    response.body = { offset: args.offset ?? 0, bytesWritten: written };
    this.sendResponse(response);
  }

  protected override disassembleRequest(response: DebugProtocol.DisassembleResponse, args: DebugProtocol.DisassembleArguments): void {
    const rt = this.runtime;
    // No reference (a Disassembly view without a focused frame): where the guest is.
    const base = !args.memoryReference && rt && !rt.isRunning ? rt.pc : this.memoryBase(response, ErrorId.disassemble, args.memoryReference);
    if (!rt || base === undefined) return;
    const count = Math.max(0, Math.min(args.instructionCount, 4096));
    const list = disassembleAround(rt.cpu, rt.program.index, (base + (args.offset ?? 0)) >>> 0, args.instructionOffset ?? 0, count, this.knownStarts);
    response.body = {
      instructions: list.map((d) => {
        const ins: DebugProtocol.DisassembledInstruction = {
          address: hex(d.address), instruction: d.text,
          instructionBytes: [...d.bytes].map((b) => b.toString(16).padStart(2, '0')).join(' '),
        };
        if (d.symbol && args.resolveSymbols !== false) ins.symbol = d.symbol;
        if (d.file !== undefined && d.line !== undefined) { ins.location = this.source(d.file); ins.line = this.convertDebuggerLineToClient(d.line); }
        if (d.invalid) ins.presentationHint = 'invalid';
        return ins;
      }),
    };
    this.sendResponse(response);
  }

  // ---- helpers ----

  /**
   * The linear address a memory or disassembly request names, or undefined after answering it with
   * the reason. Not shown as a notification: the editor's views send these requests on their own
   * (the Disassembly view, a hex view) and show their own state.
   */
  private memoryBase(response: DebugProtocol.Response, id: number, reference: string | undefined): number | undefined {
    if (!this.runtime) { this.fail(response, ErrorId.noGuest, 'the session has ended', false); return undefined; }
    const base = parseAddress(reference);
    if (base === undefined) {
      this.fail(response, id, reference ? `bad memory reference ${JSON.stringify(reference)}: an address such as 0x00100000 is expected` : 'no memory reference: the request names no address', false);
    }
    return base;
  }

  /** True when a guest is loaded and not over; otherwise answers with an error. */
  private guest(response: DebugProtocol.Response): boolean {
    if (!this.runtime) { this.fail(response, ErrorId.noGuest, 'launch a program first'); return false; }
    if (this.runtime.hasEnded) { this.fail(response, ErrorId.noGuest, 'the guest has ended'); return false; }
    return true;
  }

  private fail(response: DebugProtocol.Response, id: number, problems: string, showUser = true): void {
    this.sendErrorResponse(response, { id, format: ErrorFormat[id] ?? '{_problems}', variables: { _problems: problems }, showUser });
  }

  private source(file: string): Source {
    return new Source(path.basename(file), this.convertDebuggerPathToClient(file));
  }
}

/** The objects of a list a client sent (anything else is dropped). */
function objects<T>(list: unknown): T[] {
  return Array.isArray(list) ? list.filter((x): x is T => typeof x === 'object' && x !== null) : [];
}

function str(x: unknown): string | undefined { return typeof x === 'string' ? x : undefined; }

function parseAddress(s: string | undefined): number | undefined {
  if (typeof s !== 'string') return undefined;
  if (!s) return undefined;
  const t = s.trim().toLowerCase();
  const n = /^0x[0-9a-f]+$/.test(t) ? parseInt(t.slice(2), 16) : /^[0-9]+$/.test(t) ? parseInt(t, 10) : NaN;
  return Number.isFinite(n) && n >= 0 && n <= 0xffffffff ? n : undefined;
}

/** What `help` in the Debug Console answers. */
const REPL_HELP = [
  'Expressions, evaluated on the stopped guest (values are unsigned 32-bit):',
  '  registers   eax ax al … esp eip eflags cs ds ss … cr0–cr4',
  '  flags       CF ZF SF OF IF DF, iopl, cpl',
  '  memory      [esp+4]  byte [0x9000]  word [vendor+2]  dword [label]',
  '  symbols     labels and constants of the program (message, stack_top …)',
  '  operators   + - * / % & | ^ ~ << >> == != < > && || ?:   numbers 0x10 10h 0b101 \'A\'',
  'Assignments change the guest:  eax = 5   [0x9000] = 0xff   ZF = 1',
  'Watch, hover and conditional breakpoints take the same expressions.',
].join('\n');

function formatValue(v: number): string {
  const u = v >>> 0;
  const signed = u | 0;
  return u < 10 ? String(u) : `${hex(u)} (${u}${signed < 0 ? `, ${signed}` : ''})`;
}

function runCounts(rt: DebugRuntime): RunCounts { return { instructions: rt.instructions, cycles: rt.vm.cycles }; }
