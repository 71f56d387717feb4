/*
 * The guard every request of the Popek debug adapter goes through (the session extends it), so that
 * whatever a client sends, in whatever order, with whatever arguments:
 *  - every request gets exactly one response: a handler that throws, or whose promise rejects, is
 *    answered with an error; one that has not answered by its deadline is answered "did not finish";
 *    a second response to the same request is dropped;
 *  - an error shown to the user is a sentence, never a stack (the base class turns an exception into
 *    a `{_stack}` message; here it becomes "Internal error … while handling 'x': what went wrong");
 *  - DAP `cancel` works: a pending request is answered `cancelled` at once (its late answer dropped).
 * The handlers themselves (session.ts) stay plain.
 */
import { ErrorDestination, LoggingDebugSession, OutputEvent, TerminatedEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { MAX_DECLARED_BYTES, MAX_MESSAGE_BYTES, MessageFramer, type OversizeMessage } from './messageFraming';

/** How long a request may take to answer (ms); launch and restart assemble and load the guest. */
const DEADLINE_MS = 4000;
const SLOW_DEADLINE_MS = 30_000;
const SLOW = new Set(['launch', 'attach', 'restart']);

/** The base class's id for an exception thrown by a handler (its format is the stack). */
const BASE_EXCEPTION_ID = 1104;
const INTERNAL_ID = 9000;
const CANCELLED_ID = 9001;
const BAD_ARGUMENTS_ID = 9002;

/** DAP argument fields that are whole numbers, with the largest magnitude the adapter accepts. */
const WHOLE_NUMBERS: Record<string, number> = {
  threadId: 2 ** 31, frameId: 2 ** 31, variablesReference: 2 ** 31, startFrame: 2 ** 31, levels: 2 ** 31, start: 2 ** 31, count: 2 ** 32,
  offset: 2 ** 32, line: 2 ** 31, endLine: 2 ** 31, column: 2 ** 31, endColumn: 2 ** 31, targetId: 2 ** 32, requestId: 2 ** 31,
  sourceReference: 2 ** 31, bytes: 2 ** 32, instructionCount: 2 ** 32,
  // Decoding instructions one by one this far away from an address is seconds of work: more is refused.
  instructionOffset: 10_000,
};

/**
 * Longest text a field may hold (characters). writeMemory's `data` is the base64 of at most 1 MiB,
 * as readMemory reads at most 1 MiB (64 MiB once held the adapter for over a minute); the other
 * texts are typed by a person or are paths.
 */
const MAX_DATA_CHARS = Math.ceil(2 ** 20 / 3) * 4;
const MAX_TEXT_CHARS = 65_536;

/** What is wrong with a request's arguments at the top level, in words, or undefined. */
export function argumentProblem(request: DebugProtocol.Request): string | undefined {
  const a = request.arguments as unknown;
  if (a === undefined || a === null) return undefined;
  if (typeof a !== 'object' || Array.isArray(a)) return `the arguments of '${request.command}' must be an object`;
  for (const [name, max] of Object.entries(WHOLE_NUMBERS)) {
    const v = (a as Record<string, unknown>)[name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) return `'${name}' must be a whole number (got ${JSON.stringify(v)?.slice(0, 40)})`;
    if (Math.abs(v) > max) return `'${name}' is out of range (${v}; at most ${max.toLocaleString('en-US')} in size)`;
  }
  for (const name of REQUIRED[request.command] ?? []) {
    if ((a as Record<string, unknown>)[name] === undefined) return `'${name}' is missing`;
  }
  for (const name of TEXTS) {
    const v = (a as Record<string, unknown>)[name];
    if (v !== undefined && typeof v !== 'string') return `'${name}' must be text (got ${JSON.stringify(v)?.slice(0, 40)})`;
    const limit = name === 'data' ? MAX_DATA_CHARS : MAX_TEXT_CHARS;
    if (typeof v === 'string' && v.length > limit) return `'${name}' is too long (${v.length.toLocaleString('en-US')} characters; at most ${limit.toLocaleString('en-US')}${name === 'data' ? ', 1 MiB of memory' : ''})`;
  }
  for (const name of OBJECTS) {
    const v = (a as Record<string, unknown>)[name];
    if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) return `'${name}' must be an object (got ${JSON.stringify(v)?.slice(0, 40)})`;
  }
  for (const name of LISTS) {
    const v = (a as Record<string, unknown>)[name];
    if (v !== undefined && v !== null && !Array.isArray(v)) return `'${name}' must be a list (got ${JSON.stringify(v)?.slice(0, 40)})`;
  }
  return undefined;
}

/** Fields DAP requires, for the requests that cannot do without them. */
const REQUIRED: Record<string, string[]> = {
  completions: ['text', 'column'], writeMemory: ['memoryReference', 'data'], readMemory: ['memoryReference', 'count'], evaluate: ['expression'],
  setVariable: ['variablesReference', 'name', 'value'], setExpression: ['expression', 'value'], disassemble: ['memoryReference', 'instructionCount'],
  dataBreakpointInfo: ['name'], variables: ['variablesReference'], scopes: ['frameId'], goto: ['targetId'],
};

/** DAP argument fields that are strings, objects, lists. */
const TEXTS = ['text', 'data', 'expression', 'value', 'name', 'memoryReference', 'context', 'granularity', 'program', 'adapterID', 'pathFormat'];
const OBJECTS = ['source', 'format', 'arguments'];
const LISTS = ['breakpoints', 'lines', 'filters', 'filterOptions', 'exceptionOptions'];

function isResponse(x: unknown): x is DebugProtocol.Response {
  const r = x as DebugProtocol.Response | null;
  return typeof r === 'object' && r !== null && r.type === 'response' && typeof r.request_seq === 'number' && typeof r.command === 'string';
}

/** One line of an exception for a person: its message, without the stack or the class name. */
export function describeProblem(e: unknown): string {
  const msg = e instanceof Error ? e.message : typeof e === 'string' ? e : 'an unexpected problem';
  const line = msg.split('\n')[0].trim() || 'an unexpected problem';
  return line.length > 300 ? line.slice(0, 297) + '…' : line;
}

export class GuardedDebugSession extends LoggingDebugSession {
  /** Requests not answered yet, by seq: their command and deadline timer. */
  private readonly pendingRequests = new Map<number, { command: string; timer: NodeJS.Timeout; response: DebugProtocol.Response }>();
  /** Requests already answered (by seq) whose handler may still answer late. */
  private readonly answered = new Set<number>();

  /** The streams of the connection (stdin/stdout, or a server-mode socket); none when inline. */
  private connection: { input: NodeJS.ReadableStream; output: NodeJS.WritableStream } | undefined;

  constructor() {
    super();
    // The input's framing (a separate process or server mode; inline, VS Code hands messages over).
    const framer = new MessageFramer((text) => this.receive(text), (m) => this.answerOversize(m), (n) => this.closeUnreadable(n));
    (this as unknown as { _handleData(data: Buffer): void })._handleData = (data) => framer.push(data);
    // A client gone without `disconnect` (a crash, a dropped socket) leaves no guest running: in
    // server mode the adapter outlives the connection, and a running guest would spin on forever.
    this.on('close', () => this.onConnectionClosed());
    // Every xxxRequest handler, sync or async, has its exceptions turned into an error response.
    const wrapped = new Set<string>();
    for (let proto = Object.getPrototypeOf(this); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
      for (const name of Object.getOwnPropertyNames(proto)) {
        if (wrapped.has(name) || !/Request$/.test(name) || name === 'dispatchRequest' || name === 'sendRequest' || name === 'runInTerminalRequest') continue;
        const fn = (this as unknown as Record<string, unknown>)[name];
        if (typeof fn !== 'function') continue;
        wrapped.add(name);
        (this as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
          const response = args.find(isResponse);
          try {
            const r = (fn as (...a: unknown[]) => unknown).apply(this, args);
            if (r && typeof (r as Promise<unknown>).then === 'function') {
              (r as Promise<unknown>).then(undefined, (e: unknown) => { if (response) this.internalError(response, e); });
            }
            return r;
          } catch (e) {
            if (response) this.internalError(response, e);
            return undefined;
          }
        };
      }
    }
  }

  /** One framed message: JSON handed to the protocol; anything else has no request to answer. */
  private receive(text: string): void {
    let message: DebugProtocol.ProtocolMessage;
    try { message = JSON.parse(text) as DebugProtocol.ProtocolMessage; } catch { return; }
    if (message && typeof message === 'object') this.handleMessage(message);
  }

  override start(inStream: NodeJS.ReadableStream, outStream: NodeJS.WritableStream): void {
    this.connection = { input: inStream, output: outStream };
    super.start(inStream, outStream);
  }

  /**
   * A header declared a body no client sends: every later message would be swallowed as part of
   * it. Rather than go deaf in silence, the adapter says why (the Debug Console and its stderr),
   * ends the session and closes the connection (a separate process then exits, as on disconnect).
   */
  private closeUnreadable(declared: number): void {
    const text = `The Popek debugger closed the connection: a message declared ${declared.toLocaleString('en-US')} bytes (Content-Length), more than any client sends (at most ${MAX_DECLARED_BYTES.toLocaleString('en-US')}); start the debug session again.`;
    process.stderr.write(`popek debug adapter: ${text}\n`);
    this.sendEvent(new OutputEvent(`${text}\n`, 'important'));
    this.sendEvent(new TerminatedEvent());
    this.onConnectionClosed();
    const c = this.connection;
    if (!c) return;
    // The output is flushed before the input is closed (a socket is both: destroying it first would lose the words).
    c.output.end(() => (c.input as NodeJS.ReadableStream & { destroy?(): void }).destroy?.());
  }

  /** A hook for the session: the client is gone (or cut off); what it ran should stop. */
  protected onConnectionClosed(): void { /* nothing by default */ }

  /** A message too large to read: the request its ends name is answered with why. */
  private answerOversize(m: OversizeMessage): void {
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    process.stderr.write(`popek debug adapter: a message of ${mib(m.length)} was not read (at most ${mib(MAX_MESSAGE_BYTES)})\n`);
    if (m.seq === undefined || this.answered.has(m.seq)) return;
    const command = m.command ?? 'request';
    const response = { type: 'response', seq: 0, request_seq: m.seq, command, success: true } as DebugProtocol.Response;
    super.sendErrorResponse(response, { id: BAD_ARGUMENTS_ID, format: `Cannot do '${command}': the request is ${mib(m.length)}, more than the debugger reads (${mib(MAX_MESSAGE_BYTES)})`, showUser: false });
  }

  protected override dispatchRequest(request: DebugProtocol.Request): void {
    if (typeof request?.seq === 'number' && !this.pendingRequests.has(request.seq)) {
      const response = { type: 'response', seq: 0, request_seq: request.seq, command: String(request.command), success: true } as DebugProtocol.Response;
      const limit = SLOW.has(request.command) ? SLOW_DEADLINE_MS : DEADLINE_MS;
      const timer = setTimeout(() => {
        if (!this.pendingRequests.has(request.seq)) return;
        this.sendErrorResponse(response, { id: INTERNAL_ID, format: `The debugger did not finish '${request.command}' in ${limit / 1000} s; try again, or restart the session`, showUser: true });
      }, limit);
      timer.unref?.();
      this.pendingRequests.set(request.seq, { command: request.command, timer, response });
    }
    // A request without arguments gets an empty object: every handler reads fields of its arguments.
    if (request && typeof request === 'object' && request.arguments === undefined) request.arguments = {};
    const problem = request && typeof request === 'object' ? argumentProblem(request) : 'not a request';
    if (problem) {
      const response = this.pendingRequests.get(request?.seq)?.response;
      if (response) super.sendErrorResponse(response, { id: BAD_ARGUMENTS_ID, format: `Cannot do '${String(request.command)}': {_problem}`, variables: { _problem: problem }, showUser: false });
      return;
    }
    try {
      super.dispatchRequest(request);
    } catch (e) {
      const response = this.pendingRequests.get(request?.seq)?.response;
      if (response) this.internalError(response, e);
    }
  }

  override sendResponse(response: DebugProtocol.Response): void {
    const seq = response.request_seq;
    if (this.answered.has(seq)) return; // answered already (an error, a deadline, a cancel)
    const pending = this.pendingRequests.get(seq);
    if (pending) {
      clearTimeout(pending.timer);
      this.pendingRequests.delete(seq);
    }
    this.answered.add(seq);
    if (this.answered.size > 10_000) this.answered.delete(this.answered.values().next().value as number);
    if (response.command === 'initialize' && response.success) {
      response.body = { ...(response.body ?? {}), supportsCancelRequest: true };
    }
    super.sendResponse(response);
  }

  protected override sendErrorResponse(response: DebugProtocol.Response, codeOrMessage: number | DebugProtocol.Message, format?: string, variables?: unknown, dest?: ErrorDestination): void {
    if (codeOrMessage === BASE_EXCEPTION_ID) {
      const v = variables as { _exception?: string } | undefined;
      this.internalError(response, v?._exception ?? 'an unexpected problem');
      return;
    }
    super.sendErrorResponse(response, codeOrMessage as number, format, variables, dest);
  }

  /** Answers `response` with an error in words (the stack goes to the adapter's log, not the user). */
  protected internalError(response: DebugProtocol.Response, e: unknown): void {
    if (this.answered.has(response.request_seq)) return;
    const what = describeProblem(e);
    super.sendErrorResponse(response, { id: INTERNAL_ID, format: `Internal error in the Popek debugger while handling '${response.command}': {_problem}`, variables: { _problem: what }, showUser: true });
    if (e instanceof Error && e.stack) process.stderr.write(`popek debug adapter: ${response.command}: ${e.stack}\n`);
  }

  /** DAP `cancel`: a request still pending is answered `cancelled` now; its own answer is dropped. */
  protected override cancelRequest(response: DebugProtocol.CancelResponse, args: DebugProtocol.CancelArguments): void {
    const id = args?.requestId;
    const pending = typeof id === 'number' ? this.pendingRequests.get(id) : undefined;
    if (pending) {
      const r = pending.response;
      r.success = false;
      r.message = 'cancelled';
      super.sendErrorResponse(r, { id: CANCELLED_ID, format: 'cancelled', showUser: false });
      this.onCancelled(pending.command);
    }
    this.sendResponse(response);
  }

  /** A hook for the session: a pending request of this command was cancelled. */
  protected onCancelled(_command: string): void { /* nothing by default */ }
}
