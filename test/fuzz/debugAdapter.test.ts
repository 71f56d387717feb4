/*
 * Debug-adapter fuzzing (issue 16): random request sequences over DAP with DebugClient, against the
 * bundled adapter in its own process — requests before launch and after terminate, bad frame ids and
 * variable references, stepIn with singleThread:false, cancel, unknown commands, malformed
 * arguments, launches with good and bad arguments in every technique, pause storms in a guest's
 * tight loop. Checked: the adapter lives and nothing escapes it, every request is answered, no error
 * shown to the user is a stack or an internal error, and pause stops the guest.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { REPO_ROOT } from '../support/repoRoot';
import { DapServer } from './support/dapServer';
import { rng, type Rng } from './support/rng';
import { HangWatch, schedstat } from './support/schedstat';
import { cases, progress, report, SEED } from './support/scale';

const MODES = ['native', 'trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted'];
const ANSWER_MS = 5000;
/** A pause of a running guest must stop it within this much of the adapter's time (its latency has a test of its own below). */
const PAUSE_MS = 3000;
const LANES = 10;
/** Wall time a request to an adapter only starved of CPU is given before it counts as unanswered all the same. */
const STARVED_CAP_MS = 120_000;

/** DebugClient's socket (not public: it is closed here and its errors are counted). */
function socketOf(dc: DebugClient): { destroy(): void; on(event: 'error', fn: () => void): void } | undefined {
  return (dc as unknown as { _socket?: { destroy(): void; on(event: 'error', fn: () => void): void } })._socket;
}

/** The promise's value, or undefined when it takes longer than `ms`. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p.catch(() => undefined), new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms); })]).finally(() => clearTimeout(timer));
}

/**
 * Waits for an answer as the campaign judges one: after `limitMs` it is a hang only when HangWatch
 * says so (the adapter busy with its own work, or blocked), not while it is merely starved of CPU.
 */
async function answerOf<T>(p: Promise<T>, pid: number | undefined, limitMs: number): Promise<{ value: T } | { hang: string }> {
  const watch = new HangWatch(pid, limitMs, STARVED_CAP_MS);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    p.then((value) => ({ value })),
    new Promise<{ hang: string }>((resolve) => {
      const check = () => { if (watch.keepWaiting()) timer = setTimeout(check, 1000); else resolve({ hang: watch.verdict() }); };
      timer = setTimeout(check, limitMs);
    }),
  ]);
  clearTimeout(timer);
  return outcome;
}

function programs(dir: string): Record<string, string> {
  const write = (name: string, text: string | Buffer) => { const p = path.join(dir, name); fs.writeFileSync(p, text); return p; };
  return {
    loop: write('loop.gasm', 'bits 32\norg 0x100000\nstart:\n    mov eax, 1\nspin:\n    inc eax\n    add ebx, eax\n    jmp spin\n'),
    calls: write('calls.gasm', 'bits 32\norg 0x100000\nstart:\n    mov esp, 0x90000\nagain:\n    call f\n    jmp again\nf:\n    push ebp\n    mov ebp, esp\n    inc dword [counter]\n    pop ebp\n    ret\ncounter: dd 0\n'),
    hello: path.join(REPO_ROOT, 'examples/hello.gasm'),
    timer: path.join(REPO_ROOT, 'examples/timer.gasm'),
    critical: path.join(REPO_ROOT, 'examples/critical.gasm'),
    broken: write('broken.gasm', 'bits 32\nmov eax,\nnonsense here\n'),
    binary: write('binary.gasm', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0xff, 0xfe])),
    empty: write('empty.gasm', ''),
    missing: path.join(dir, 'missing.gasm'),
    directory: dir,
  };
}

/** A value a client might send for a field that wants `kind`: usually right, sometimes anything. */
function junk(r: Rng): unknown {
  return r.pick([null, -1, 0, 1, 2, 1e9, 2 ** 53, 1.5, NaN, 'x', '', '0x100000', [], {}, true, { a: 1 }]);
}

function randomArgs(r: Rng, command: string, files: Record<string, string>, lastSeq: () => number): unknown {
  const maybe = <T>(good: T): unknown => (r.chance(0.15) ? junk(r) : good);
  const file = () => (r.chance(0.8) ? files.hello : r.pick(Object.values(files)));
  switch (command) {
    case 'stackTrace': return { threadId: maybe(1), startFrame: maybe(r.int(3)), levels: maybe(r.int(20)) };
    case 'scopes': return { frameId: maybe(r.int(4)) };
    case 'variables': return { variablesReference: maybe(r.int(1200)), start: r.chance(0.2) ? junk(r) : undefined, count: r.chance(0.2) ? junk(r) : undefined };
    case 'continue': case 'pause': case 'reverseContinue': return { threadId: maybe(1), singleThread: r.chance(0.5) };
    case 'next': case 'stepIn': case 'stepOut': case 'stepBack':
      return { threadId: maybe(r.pick([1, 2])), singleThread: r.pick([true, false, undefined]), granularity: r.pick(['instruction', 'line', 'statement', undefined, 'nonsense']), targetId: r.chance(0.1) ? junk(r) : undefined };
    case 'evaluate': return { expression: maybe(r.pick(['eax', 'eip', '[esp]', 'eax = 5', 'start', 'counter', 'dword [0x100000]', '1/0', 'zf', '((((', '[0xffffffff]', 'cr0', 'no_such'])), frameId: maybe(0), context: r.pick(['repl', 'watch', 'hover', undefined, 'x']) };
    case 'setVariable': return { variablesReference: maybe(r.int(1000)), name: maybe(r.pick(['eax', 'ZF', 'eflags', 'iopl', 'nonsense'])), value: maybe(r.pick(['1', '0x10', 'eax+1', 'x', ''])) };
    case 'setExpression': return { expression: maybe(r.pick(['eax', '[0x9000]', 'eflags', '1'])), value: maybe(r.pick(['1', 'ebx', ''])) };
    case 'setBreakpoints': return { source: maybe({ path: file() }), breakpoints: maybe(Array.from({ length: r.int(4) }, () => ({ line: maybe(r.int(120)), condition: r.chance(0.2) ? r.pick(['eax == 3', '((', 'zf']) : undefined, hitCondition: r.chance(0.1) ? r.pick(['2', '>= 3', 'x']) : undefined, logMessage: r.chance(0.1) ? 'eax={eax}' : undefined }))) };
    case 'setFunctionBreakpoints': return { breakpoints: maybe([{ name: maybe(r.pick(['start', 'spin', 'f', 'nope', ''])) }]) };
    case 'setInstructionBreakpoints': return { breakpoints: maybe([{ instructionReference: maybe(r.pick(['0x100000', '0x100005', 'zz', ''])), offset: r.chance(0.3) ? junk(r) : undefined }]) };
    case 'setExceptionBreakpoints': return { filters: maybe(r.pick([[], ['vmexit'], ['trap', 'critical'], ['nonsense'], ['divergence', 'hypercall']])), filterOptions: r.chance(0.2) ? maybe([{ filterId: 'vmexit', condition: r.pick(['CPUID', '', '(']) }]) : undefined };
    case 'dataBreakpointInfo': return { name: maybe(r.pick(['counter', '[esp]', 'eax', '0x9000'])), asAddress: r.chance(0.3), bytes: r.chance(0.3) ? junk(r) : undefined, variablesReference: r.chance(0.2) ? junk(r) : undefined };
    case 'setDataBreakpoints': return { breakpoints: maybe([{ dataId: maybe(r.pick(['0x9000/4', 'bad', '0x100000/99999'])), accessType: 'write' }]) };
    case 'breakpointLocations': return { source: maybe({ path: file() }), line: maybe(r.int(100)), endLine: r.chance(0.3) ? junk(r) : undefined };
    case 'gotoTargets': return { source: maybe({ path: file() }), line: maybe(r.int(100)) };
    case 'goto': return { threadId: 1, targetId: maybe(r.pick([0x100000, 0x100010, -5])) };
    case 'readMemory': return { memoryReference: maybe(r.pick(['0x100000', '0x0', '0xfffffff0', 'esp'])), offset: r.chance(0.3) ? junk(r) : undefined, count: maybe(r.pick([0, 16, 4096, 1e9])) };
    case 'writeMemory': return { memoryReference: maybe(r.pick(['0x9000', '0xfffffffc', '0x100000'])), data: maybe(r.pick(['AAAA', '', '!!notbase64', 'AQIDBA=='])), offset: r.chance(0.3) ? junk(r) : undefined };
    case 'disassemble': return { memoryReference: maybe(r.pick(['0x100000', '0x0', '0xffffffff'])), instructionCount: maybe(r.pick([0, 10, 100, 1e9])), instructionOffset: r.chance(0.3) ? junk(r) : r.int(20) - 10, offset: r.chance(0.2) ? junk(r) : undefined };
    case 'completions': return { text: maybe(r.pick(['e', 'st', '', '[e'])), column: maybe(r.int(5)), frameId: r.chance(0.2) ? junk(r) : undefined };
    case 'cancel': return { requestId: maybe(lastSeq() + r.int(3) - 1) };
    case 'restart': return r.chance(0.5) ? { arguments: launchArgs(r, files) } : {};
    case 'source': return { sourceReference: maybe(r.int(5)), source: r.chance(0.5) ? { path: file() } : undefined };
    default: return r.chance(0.3) ? junk(r) : {};
  }
}

function launchArgs(r: Rng, files: Record<string, string>): Record<string, unknown> {
  const program = r.chance(0.75) ? r.pick([files.hello, files.loop, files.calls, files.timer, files.critical]) : r.pick(Object.values(files));
  const a: Record<string, unknown> = { program, mode: r.chance(0.9) ? r.pick(MODES) : r.pick(['warp', 5, null]), stopOnEntry: r.chance(0.7) };
  if (r.chance(0.1)) a.maxInstructions = r.pick([0, 1, 1000, -1, 'x']);
  if (r.chance(0.1)) a.memoryMiB = r.pick([2, 16, 1, 99999, 'x']);
  if (r.chance(0.1)) a.checkEquivalence = r.pick([true, false, 'yes']);
  if (r.chance(0.05)) a.trace = true;
  if (r.chance(0.05)) a.cost = r.pick(['modern', 'vtx-2006', 'cheap']);
  return a;
}

const COMMANDS = ['threads', 'stackTrace', 'scopes', 'variables', 'continue', 'next', 'stepIn', 'stepOut', 'stepBack', 'reverseContinue', 'pause',
  'evaluate', 'setVariable', 'setExpression', 'setBreakpoints', 'setFunctionBreakpoints', 'setInstructionBreakpoints', 'setExceptionBreakpoints',
  'dataBreakpointInfo', 'setDataBreakpoints', 'breakpointLocations', 'gotoTargets', 'goto', 'readMemory', 'writeMemory', 'disassemble',
  'completions', 'exceptionInfo', 'cancel', 'restart', 'source', 'modules', 'loadedSources', 'configurationDone', 'popekNonsense', 'terminate'];

/** An error message a person can read: no stack, no internal failure, not empty. */
function unfitMessage(message: string): string | undefined {
  if (!message.trim()) return 'empty message';
  if (/\n\s+at |\bat .*\.(js|ts):\d+|[\\/]dist[\\/]|node:internal/.test(message)) return 'a stack trace';
  if (/Internal error|TypeError|ReferenceError|RangeError|Cannot read propert|is not a function|undefined is not|\{_/.test(message)) return 'an internal error';
  return undefined;
}

describe('fuzz: debug adapter over DAP', function () {
  this.timeout(0);
  // POPEK_FUZZ_ONLY=7947,8001 replays those sequences one after the other, as a failure message names
  // them; POPEK_FUZZ_ONLY=7800-8400 replays a stretch of the campaign as it ran (ten lanes at once).
  // POPEK_FUZZ_PRINT=1 prints each sequence's requests.
  const onlyText = process.env.POPEK_FUZZ_ONLY ?? '';
  const only = onlyText.split(',').flatMap((x) => {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(x);
    const first = Number(m?.[1]), last = m?.[2] ? Number(m[2]) : first;
    return m ? Array.from({ length: Math.max(0, last - first + 1) }, (_, i) => first + i) : [];
  });
  const sequences = only.length || cases(10, 10_000);
  it(`${sequences} random request sequences, with launches in every technique and pause storms`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-dapfuzz-'));
    const files = programs(dir);
    const server = new DapServer();
    await server.start();
    const failures: string[] = [];
    const fail = (s: string) => { if (failures.length < 25 && !failures.includes(s)) failures.push(s); };
    const counts = { sequences: 0, requests: 0, errorsAnswered: 0, launches: 0, pauseStorms: 0, pausesStopped: 0, cancels: 0, connectionResets: 0 };
    let maxPauseMs = 0, maxAnswerMs = 0, slowest = '';
    try {
      // Several sessions at once (as several VS Code windows on one adapter server); each sequence
      // has its own seeded random source, so a failure names a sequence that replays alone.
      const lanes = only.length && !onlyText.includes('-') ? 1 : LANES;
      const lane = async (first: number) => { for (let k = first; k < sequences; k += lanes) {
        const n = only.length ? only[k] : k;
        const r = rng(SEED * 1_000_003 + n);
        if (server.exited !== undefined) { fail(`the adapter exited (${server.exited}): ${server.stderr.slice(-1500)}`); break; }
        const dc = new DebugClient('node', '', 'popek');
        await dc.start(server.port);
        // A connection the adapter resets (a session it ended) is counted, not an uncaught error of
        // the fuzz itself; the adapter's health is judged by its process and its stderr.
        socketOf(dc)?.on('error', () => { counts.connectionResets++; });
        const stopped: number[] = [];
        dc.on('stopped', () => stopped.push(performance.now()));
        let seq = 0;
        const log: string[] = [];
        // The last requests, under the sequence's number (POPEK_FUZZ_ONLY replays it).
        const recent = (k: number) => `sequence ${n}: ${log.slice(-k).join(' | ')}`;
        const send = async (command: string, args: unknown): Promise<boolean> => {
          counts.requests++;
          seq++;
          log.push(`${command} ${JSON.stringify(args)?.slice(0, 200)}`);
          const t0 = performance.now();
          const answer = await answerOf(dc.send(command, args as never).then(() => 'ok', (e: Error) => `error:${e.message}`), server.proc.pid, ANSWER_MS);
          const ms = performance.now() - t0;
          if (ms > maxAnswerMs) { maxAnswerMs = ms; slowest = `${command} ${JSON.stringify(args)?.slice(0, 200)} (sequence ${n})`; }
          if ('hang' in answer) { fail(`no answer to ${command} in ${ANSWER_MS} ms (the adapter was ${answer.hang}) after ${recent(8)}`); return false; }
          const outcome = answer.value;
          if (outcome.startsWith('error:')) {
            counts.errorsAnswered++;
            const why = unfitMessage(outcome.slice(6));
            if (why && !(command === 'popekNonsense' && /unrecognized request/i.test(outcome))) fail(`${command} answered ${why}: ${outcome.slice(6, 400)} (after ${recent(4)})`);
            return false;
          }
          return true;
        };
        try {
          if (r.chance(0.92)) await send('initialize', r.chance(0.95) ? { adapterID: 'popek', linesStartAt1: r.chance(0.9), columnsStartAt1: true, pathFormat: 'path' } : junk(r));
          const storm = r.chance(0.08);
          if (storm || r.chance(0.75)) {
            const args = storm ? { program: r.pick([files.loop, files.calls]), mode: r.pick(MODES), stopOnEntry: false } : launchArgs(r, files);
            // (DebugClient has no timeouts on a socket: every wait here has its own.)
            const initialized = within(dc.waitForEvent('initialized'), 3000).then((ev) => (ev && r.chance(0.97) ? send('configurationDone', {}) : undefined));
            counts.launches++;
            const launched = await send('launch', args);
            await initialized;
            if (storm && launched) {
              // A tight guest loop: pause must stop it.
              counts.pauseStorms++;
              for (let k = 0; k < 3; k++) {
                await new Promise((res) => setTimeout(res, 20 + r.int(60)));
                const before = stopped.length;
                const t0 = performance.now(), watch = new HangWatch(server.proc.pid, PAUSE_MS, STARVED_CAP_MS);
                await send('pause', { threadId: 1 });
                // An adapter only starved of CPU is given time (see HangWatch), checked once a second.
                let checked = t0 + PAUSE_MS;
                while (stopped.length === before) {
                  await new Promise((res) => setTimeout(res, 2));
                  if (performance.now() < checked) continue;
                  if (!watch.keepWaiting()) break;
                  checked = performance.now() + 1000;
                }
                if (stopped.length === before) { fail(`pause did not stop the guest in ${PAUSE_MS} ms (${JSON.stringify(args)}; the adapter was ${watch.verdict()}) after ${recent(8)}; stopped events: ${stopped.length}`); break; }
                counts.pausesStopped++;
                maxPauseMs = Math.max(maxPauseMs, stopped[stopped.length - 1] - t0);
                await send(r.pick(['continue', 'stepIn', 'next']), { threadId: 1, singleThread: false });
              }
            }
          }
          const steps = 3 + r.int(25);
          for (let k = 0; k < steps; k++) {
            const command = r.pick(COMMANDS);
            if (command === 'cancel') counts.cancels++;
            if (command === 'cancel' && r.chance(0.5)) {
              // A request and its cancel back to back.
              const slow = r.pick(['stepBack', 'reverseContinue', 'continue', 'disassemble', 'stackTrace']);
              void send(slow, randomArgs(r, slow, files, () => seq));
              await send('cancel', { requestId: seq });
              continue;
            }
            await send(command, randomArgs(r, command, files, () => seq));
            if (r.chance(0.05)) await new Promise((res) => setTimeout(res, r.int(30)));
          }
          if (r.chance(0.8)) await send(r.pick(['disconnect', 'terminate']), r.chance(0.5) ? { terminateDebuggee: true } : {});
        } finally {
          // Disconnect (answered within the limit, or it counts as a hang — judged as every request), then close the socket.
          const last = await answerOf(dc.disconnectRequest({}).then(() => true, () => true), server.proc.pid, ANSWER_MS);
          if ('hang' in last) fail(`no answer to the final disconnect in ${ANSWER_MS} ms (the adapter was ${last.hang}) after ${recent(8)}`);
          socketOf(dc)?.destroy();
        }
        if (process.env.POPEK_FUZZ_PRINT) process.stdout.write(`sequence ${n}\n  ${log.join('\n  ')}\n`);
        counts.sequences++;
        if (counts.sequences % 250 === 0) progress('debug adapter', { ...counts, maxPauseMs: Math.round(maxPauseMs), maxAnswerMs: Math.round(maxAnswerMs), slowest, failures: failures.length, adapterProblems: server.problems().length, lastFailure: failures.at(-1)?.slice(0, 600) ?? '' });
      } };
      await Promise.all(Array.from({ length: lanes }, (_, i) => lane(i)));
    } finally {
      server.stop();
    }
    const escaped = server.problems();
    for (const p of escaped.slice(0, 10)) fail(`the adapter logged: ${p.slice(0, 400)}`);
    report('debug adapter', { ...counts, maxAnswerMs: Math.round(maxAnswerMs), slowest, maxPauseMs: Math.round(maxPauseMs), adapterProblems: escaped.length, failures: failures.length });
    assert.deepEqual(failures, []);
  });
});

const percentile = (xs: number[], p: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] : 0);

describe('fuzz: debug adapter — pause latency, one session at a time', function () {
  this.timeout(0);
  const perMode = cases(1, 20);
  it(`${perMode} pauses of a tight guest loop per technique: every pause stops the guest; latency split into run-queue wait and the adapter's own`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-dappause-'));
    const files = programs(dir);
    const server = new DapServer();
    await server.start();
    const r = rng(SEED * 31 + 7);
    const latency: number[] = [], own: number[] = [];
    const failures: string[] = [];
    let starvedMs = 0;
    try {
      for (const mode of MODES) {
        const dc = new DebugClient('node', '', 'popek');
        await dc.start(server.port);
        socketOf(dc)?.on('error', () => failures.push(`${mode}: the adapter reset the connection`));
        const stopped: number[] = [];
        dc.on('stopped', () => stopped.push(performance.now()));
        try {
          await dc.initializeRequest({ adapterID: 'popek', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
          const initialized = dc.waitForEvent('initialized').then(() => dc.configurationDoneRequest());
          await dc.launch({ program: files.loop, mode, stopOnEntry: false } as never);
          await initialized;
          for (let k = 0; k < perMode; k++) {
            await new Promise((res) => setTimeout(res, 30 + r.int(120)));
            const before = stopped.length, s0 = schedstat(server.proc.pid), t0 = performance.now();
            const answered = within(dc.pauseRequest({ threadId: 1 }), ANSWER_MS);
            while (stopped.length === before && performance.now() - t0 < ANSWER_MS) await new Promise((res) => setTimeout(res, 1));
            if (!(await answered)) failures.push(`${mode}: pause ${k} not answered`);
            if (stopped.length === before) { failures.push(`${mode}: pause ${k} did not stop the guest`); break; }
            const ms = stopped[before] - t0, s1 = schedstat(server.proc.pid);
            const wait = s0 && s1 ? s1.waitingMs - s0.waitingMs : 0;
            latency.push(ms);
            own.push(Math.max(0, ms - wait));
            starvedMs += wait;
            await dc.continueRequest({ threadId: 1 });
          }
        } finally {
          await within(dc.disconnectRequest({ terminateDebuggee: true }), ANSWER_MS);
          socketOf(dc)?.destroy();
        }
      }
    } finally {
      server.stop();
    }
    const round = (x: number) => Math.round(x);
    report('pause latency', {
      pauses: latency.length, medianMs: round(percentile(latency, 0.5)), p95Ms: round(percentile(latency, 0.95)), maxMs: round(Math.max(0, ...latency)),
      over200ms: latency.filter((x) => x > 200).length, ownMedianMs: round(percentile(own, 0.5)), ownMaxMs: round(Math.max(0, ...own)),
      ownOver200ms: own.filter((x) => x > 200).length, runQueueWaitMs: round(starvedMs), failures: failures.length,
    });
    assert.deepEqual(failures, []);
    assert.equal(latency.length, perMode * MODES.length);
  });
});
