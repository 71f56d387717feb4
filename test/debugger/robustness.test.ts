/*
 * The adapter's request guard (debugger/requestGuard.ts, issue 16), case by case through DebugClient
 * (test/fuzz/debugAdapter.test.ts does it at random): requests in any order and with any arguments
 * are answered, errors are sentences, DAP cancel answers a pending request, and a pause of a
 * stopped guest still reports a stop.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { MessageFramer } from '../../debugger/messageFraming';
import { DapServer } from '../fuzz/support/dapServer';
import { schedstat } from '../fuzz/support/schedstat';
import { ADAPTER, example, launchToStop, register, resumeToStop, startClient } from './support';

const frame = (m: object) => { const body = JSON.stringify(m); return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`; };

/** The DAP messages arriving on a raw stream, as they come. */
function collect(stream: NodeJS.ReadableStream): Array<DebugProtocol.Response & DebugProtocol.Event> {
  const messages: Array<DebugProtocol.Response & DebugProtocol.Event> = [];
  const reader = new MessageFramer((t) => messages.push(JSON.parse(t) as DebugProtocol.Response & DebugProtocol.Event), () => {});
  stream.on('data', (d: Buffer) => reader.push(d));
  return messages;
}

async function answer(dc: DebugClient, command: string, args: unknown): Promise<{ ok: boolean; message?: string }> {
  try {
    await dc.send(command, args as never);
    return { ok: true };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

const sentence = (m: string | undefined) => !!m && !/\n\s+at |TypeError|Cannot read propert|\{_/.test(m);

describe('debug adapter: every request answered, errors in words', function () {
  this.timeout(60_000);
  let dc: DebugClient;
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  it('answers requests before launch and after terminate, whatever their arguments', async () => {
    const init = await dc.initializeRequest({ adapterID: 'popek', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' });
    assert.equal(init.body?.supportsCancelRequest, true);
    for (const [command, args] of [
      ['stepIn', { threadId: 1, singleThread: false }], ['next', { threadId: 7, granularity: 'nonsense' }], ['stackTrace', { threadId: 1 }],
      ['scopes', { frameId: 99 }], ['variables', { variablesReference: 12345 }], ['evaluate', { expression: 'eax', context: 'hover' }],
      ['scopes', { frameId: 'x' }], ['completions', { text: null, column: 1 }], ['writeMemory', { memoryReference: '0x9000', data: 5 }],
      ['disassemble', { memoryReference: '0x100000', instructionCount: 10, instructionOffset: 1e9 }], ['popekNonsense', {}],
    ] as const) {
      const a = await answer(dc, command, args);
      if (!a.ok) assert.ok(sentence(a.message), `${command}: ${a.message}`);
    }
    const bad = await answer(dc, 'scopes', { frameId: 'x' });
    assert.equal(bad.ok, false);
    assert.match(bad.message!, /'frameId' must be a whole number/);
    await launchToStop(dc, { program: example('hello.gasm'), mode: 'native', stopOnEntry: true });
    await dc.terminateRequest({});
    for (const command of ['stepIn', 'continue', 'stackTrace', 'variables', 'evaluate', 'pause']) {
      const a = await answer(dc, command, { threadId: 1, singleThread: false, variablesReference: 1, expression: 'eax' });
      if (!a.ok) assert.ok(sentence(a.message), `${command} after terminate: ${a.message}`);
    }
  });

  it('disassembles backwards from the top of the address space (it once swept 2^32 bytes and held the adapter)', async () => {
    await launchToStop(dc, { program: example('timer.gasm'), mode: 'paravirtual', stopOnEntry: true });
    for (const memoryReference of ['0xffffffff', '0x80000000', '0xfffffff0']) {
      const r = await dc.disassembleRequest({ memoryReference, instructionCount: 10, instructionOffset: -7 });
      assert.equal(r.body?.instructions.length, 10, memoryReference);
      // Seven items before the address, then the address itself (the sweep wraps past the top, as the CPU does).
      assert.equal(parseInt(r.body!.instructions[7].address, 16), parseInt(memoryReference, 16), memoryReference);
    }
  });

  it('steps over a read of unpopulated MMIO under VT-x with the vmexit filter on (the stop once swallowed its emulation: a million exits, then the guest ended)', async () => {
    // DAP fuzz seed 16, sequence 7813: the filter asked the CPU to stop at the EPT-violation exit,
    // and the VMM's emulation of the access (one instruction with the page passed through) honoured
    // that stop before the instruction ran — so it exited again, up to the 1,000,000-exit guard.
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'popek-mmio-')), 'mmio.gasm');
    fs.writeFileSync(file, 'bits 32\norg 0x100000\nstart:\n    mov ebx, 0xf0000000\n    mov eax, [ebx]\n    mov ecx, eax\n    hlt\n');
    await launchToStop(dc, { program: file, mode: 'hardware-assisted', stopOnEntry: true }, { exceptions: { filters: ['vmexit'] } });
    let stop: DebugProtocol.StoppedEvent | undefined;
    for (let k = 0; k < 8 && !/MMIO/.test(stop?.body.description ?? ''); k++) {
      stop = await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
    }
    assert.match(stop?.body.description ?? '', /EPT_VIOLATION.*guest-physical 0xf0000000 \(read\), MMIO: emulated/);
    // Stepped on from the exit, the read completes: zeros, as where nothing is in QEMU.
    for (let k = 0; k < 4 && (await register(dc, 'eip')) !== 0x100009; k++) await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
    assert.equal(await register(dc, 'eip'), 0x100009);
    assert.equal(await register(dc, 'eax'), 0);
  });

  it('refuses a write of more than 1 MiB in words, and breakpoints outside the 32-bit address space', async () => {
    await launchToStop(dc, { program: example('hello.gasm'), mode: 'native', stopOnEntry: true });
    const big = await answer(dc, 'writeMemory', { memoryReference: '0x200000', data: Buffer.alloc((1 << 20) + 3).toString('base64') });
    assert.equal(big.ok, false);
    assert.match(big.message!, /'data' is too long .*at most 1,398,104, 1 MiB of memory/);
    // Over the framing's limit (16 MiB): not read, yet answered (DebugClient puts seq before the
    // arguments). The adapter answers in order, so by the answer to the `threads` sent after it the
    // huge one has had its answer — or never will (without the fix this test waited for ever).
    let huge: string | undefined;
    const hugeAnswer = dc.send('writeMemory', { memoryReference: '0x200000', data: Buffer.alloc(13 << 20).toString('base64') }).then(() => { huge = 'done'; }, (e: Error) => { huge = e.message; });
    await dc.threadsRequest();
    assert.ok(huge !== undefined, 'the 17.3 MiB writeMemory sent before threads got no answer');
    await hugeAnswer;
    assert.match(huge, /the request is 17\.3 MiB, more than the debugger reads/);
    const fits = await dc.send('writeMemory', { memoryReference: '0x200000', data: Buffer.alloc(1 << 20, 0x5a).toString('base64') });
    assert.equal(fits.body.bytesWritten, 1 << 20);
    const bps = await dc.send('setInstructionBreakpoints', { breakpoints: [{ instructionReference: '0x100004', offset: 2 ** 53 }, { instructionReference: '0x0', offset: -1 }, { instructionReference: '0x100000', offset: 4 }] });
    assert.deepEqual(bps.body.breakpoints.map((b: DebugProtocol.Breakpoint) => [b.verified, b.instructionReference ?? b.message]), [[false, 'not an address'], [false, 'not an address'], [true, '0x00100004']]);
    const data = await dc.send('setDataBreakpoints', { breakpoints: [{ dataId: '0x100000000/4' }, { dataId: '0x200000/4' }] });
    assert.deepEqual(data.body.breakpoints.map((b: DebugProtocol.Breakpoint) => b.verified), [false, true]);
  });

  it('pause of a stopped guest reports a stop; cancel answers the request it names', async () => {
    await launchToStop(dc, { program: example('hello.gasm'), mode: 'native', stopOnEntry: true });
    const stopped = dc.waitForEvent('stopped', 10_000);
    await dc.pauseRequest({ threadId: 1 });
    assert.equal((await stopped).body.reason, 'pause');
    const cancel = await answer(dc, 'cancel', { requestId: 1e6 });
    assert.equal(cancel.ok, true, 'a cancel of nothing pending is answered too');
  });

  it('over a raw connection: a header without a length is skipped, a 20 MiB request is answered that it is too large, and the next is answered', async () => {
    const server = new DapServer();
    await server.start();
    const socket = net.connect(server.port, '127.0.0.1');
    try {
      const answers = collect(socket);
      await new Promise((resolve) => socket.on('connect', resolve));
      socket.write('Content-Length: nothing\r\n\r\n{"seq":1,"type":"request","command":"threads"}');
      socket.write(frame({ command: 'writeMemory', arguments: { memoryReference: '0x9000', data: 'A'.repeat(20 << 20) }, type: 'request', seq: 2 }));
      socket.write(frame({ command: 'threads', type: 'request', seq: 3 }));
      while (answers.length < 2) await new Promise((resolve) => socket.once('data', resolve));
      assert.deepEqual(answers.map((a) => [a.request_seq, a.command, a.success]), [[2, 'writeMemory', false], [3, 'threads', true]]);
      assert.match(answers[0].message ?? '', /the request is 20\.0 MiB, more than the debugger reads \(16\.0 MiB\)/);
    } finally {
      socket.destroy();
      server.stop();
    }
  });

  it('a header declaring an absurd length closes the connection with a message for a person, not a silent drop of all that follows', async () => {
    const absurd = 'Content-Length: 99999999999\r\n\r\n{"seq":2,"type":"request","command":"threads"}';
    const said = /closed the connection: a message declared 99,999,999,999 bytes \(Content-Length\), more than any client sends/;
    // Server mode: this connection is closed by the adapter, which goes on serving others.
    const server = new DapServer();
    await server.start();
    try {
      const socket = net.connect(server.port, '127.0.0.1');
      const messages = collect(socket), ended = new Promise((resolve) => socket.on('end', resolve));
      await new Promise((resolve) => socket.on('connect', resolve));
      socket.write(frame({ type: 'request', seq: 1, command: 'threads' }) + absurd + frame({ type: 'request', seq: 3, command: 'threads' }));
      await ended;
      socket.destroy();
      assert.deepEqual(messages.map((m) => [m.type, m.command ?? m.event, m.request_seq]), [['response', 'threads', 1], ['event', 'output', undefined], ['event', 'terminated', undefined]]);
      assert.equal(messages[1].body.category, 'important');
      assert.match(messages[1].body.output, said);
      assert.match(server.stderr, said);
      const next = net.connect(server.port, '127.0.0.1'), answers = collect(next);
      await new Promise((resolve) => next.on('connect', resolve));
      next.write(frame({ type: 'request', seq: 1, command: 'threads' }));
      while (answers.length < 1) await new Promise((resolve) => next.once('data', resolve));
      assert.equal(answers[0].success, true);
      next.destroy();
    } finally {
      server.stop();
    }
    // A separate process on stdin/stdout: it says why on stdout and stderr, then exits.
    const proc = spawn(process.execPath, [ADAPTER], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = collect(proc.stdout);
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
    proc.stdin.on('error', () => {}); // the adapter may close its input before this write is done
    proc.stdin.write(absurd + frame({ type: 'request', seq: 3, command: 'threads' }));
    assert.equal(await exited, 0);
    assert.deepEqual(out.map((m) => m.event), ['output', 'terminated']);
    assert.match(out[0].body.output, said);
    assert.match(stderr, said);
  });

  it('a server-mode client that vanishes without disconnect leaves no guest running (it once ran on for ever)', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'popek-loop-')), 'loop.gasm');
    fs.writeFileSync(file, 'bits 32\norg 0x100000\nstart:\n    inc eax\n    jmp start\n');
    const server = new DapServer();
    await server.start();
    try {
      const socket = net.connect(server.port, '127.0.0.1');
      const messages = collect(socket);
      await new Promise((resolve) => socket.on('connect', resolve));
      socket.write(frame({ type: 'request', seq: 1, command: 'initialize', arguments: { adapterID: 'popek', pathFormat: 'path' } })
        + frame({ type: 'request', seq: 2, command: 'launch', arguments: { program: file, mode: 'native' } })
        + frame({ type: 'request', seq: 3, command: 'configurationDone' }));
      while (!messages.some((m) => m.request_seq === 2) || !messages.some((m) => m.request_seq === 3)) await new Promise((resolve) => socket.once('data', resolve));
      assert.ok(messages.some((m) => m.request_seq === 2 && m.success), 'launched');
      socket.write(frame({ type: 'request', seq: 4, command: 'continue', arguments: { threadId: 1 } }));
      while (!messages.some((m) => m.request_seq === 4)) await new Promise((resolve) => socket.once('data', resolve));
      // Judged by the scheduler, not by speed: a running guest keeps the adapter runnable (on a CPU
      // or waiting for one) all the time, whatever the machine's load; a stopped one leaves it asleep.
      const runnableMs = async () => {
        const before = schedstat(server.proc.pid)!;
        await new Promise((resolve) => setTimeout(resolve, 1000));
        const after = schedstat(server.proc.pid)!;
        return after.onCpuMs + after.waitingMs - before.onCpuMs - before.waitingMs;
      };
      const running = await runnableMs();
      assert.ok(running > 700, `the guest runs while its client is there (the adapter runnable ${Math.round(running)} ms of 1,000)`);
      // The client goes away without a word; the adapter's side is closed when it ends the socket too.
      const closed = new Promise((resolve) => socket.on('close', resolve));
      socket.end();
      await closed;
      const after = await runnableMs();
      assert.ok(after < 300, `the adapter was runnable ${Math.round(after)} ms of the 1,000 ms after its client vanished: the guest runs on`);
    } finally {
      server.stop();
    }
  });
});

