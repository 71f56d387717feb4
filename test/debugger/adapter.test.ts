/*
 * The debug adapter through the Debug Adapter Protocol, with a real client (DebugClient) against
 * the bundled adapter (dist/debugAdapter.js, run as a separate process): launch and its errors,
 * every kind of breakpoint, stepping and step back, state, memory, disassembly, output.
 * Run `npm run build` first (npm test does).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import {
  collectOutput, example, failure, fixture, launchToStop, lineOf, register, resumeToStop, scope, send, startClient, topFrame,
} from './support';

const HELLO = example('hello.gasm');
const FRAMES = fixture('frames.gasm');

describe('debugger: protocol (stdio adapter process)', function () {
  this.timeout(30000);
  let dc: DebugClient;
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  describe('launch', () => {
    it('stops on entry at the entry point, with the Multiboot entry state', async () => {
      const { stop } = await launchToStop(dc, { program: HELLO, stopOnEntry: true });
      assert.equal(stop.body.reason, 'entry');
      assert.match(stop.body.description ?? '', /hello\.gasm:\d+ \(mov esp,/);
      const f = await topFrame(dc);
      assert.equal(f.line, lineOf(HELLO, 'mov esp, stack_top'));
      assert.equal(f.source?.path, HELLO);
      assert.equal(await register(dc, 'eax'), 0x2badb002);
    });

    it('runs to the end without stopOnEntry: console in stdout, exit code, terminated', async () => {
      const out = collectOutput(dc);
      const exited = dc.waitForEvent('exited');
      await Promise.all([dc.configurationSequence(), dc.launch({ program: HELLO, stopOnEntry: false } as never), dc.waitForEvent('terminated')]);
      assert.equal(out.text('stdout'), 'Hello from a Multiboot guest on COM1!\n');
      assert.equal((await exited).body.exitCode, 1);
      assert.match(out.text('console'), /exited with code 1/);
    });

    const bad: Array<[string, Record<string, unknown>, RegExp]> = [
      ['a missing file', { program: '/nonexistent/x.gasm' }, /does not exist/],
      ['an unknown mode', { program: HELLO, mode: 'vmware' }, /"mode" must be one of native/],
      ['zero memory', { program: HELLO, memoryMiB: 0 }, /"memoryMiB" must be a whole number/],
      ['a negative limit', { program: HELLO, maxInstructions: -5 }, /"maxInstructions"/],
      ['an unknown cost profile', { program: HELLO, cost: 'cheap' }, /"cost" must be one of modern/],
      ['a string for a boolean', { program: HELLO, stopOnEntry: 'yes' }, /"stopOnEntry" must be true or false/],
    ];
    for (const [what, args, message] of bad) {
      it(`refuses ${what} with a message`, async () => {
        await dc.initializeRequest();
        assert.match(await failure(dc.launchRequest(args as never)), message);
      });
    }

    it('an assembly error: file:line and the source line in the Debug Console, a problems event, the session ends (no error dialog)', async () => {
      await dc.initializeRequest();
      const out = collectOutput(dc);
      const problems = new Promise<DebugProtocol.Event>((resolve) => dc.on('popek/problems', resolve));
      const ended = dc.waitForEvent('terminated');
      const r = await dc.launchRequest({ program: fixture('broken.gasm') } as never);
      assert.equal(r.success, true, 'not an error response: VS Code would show a modal about launch.json');
      await ended;
      const text = out.text('stderr');
      assert.match(text, /broken\.gasm:5:\d+: error: /);
      assert.match(text, /broken\.gasm:7:\d+: error: /);
      const src = fs.readFileSync(fixture('broken.gasm'), 'utf8').split('\n');
      assert.ok(text.includes(src[4].trim()), `the source line of the error: ${src[4].trim()}`);
      const body = (await problems).body as { file: string; problems: Array<{ line: number; severity: string; message: string }> };
      assert.equal(path.resolve(body.file), path.resolve(fixture('broken.gasm')));
      assert.deepEqual(body.problems.filter((p) => p.severity === 'error').map((p) => p.line + 1).slice(0, 2), [5, 7]);
    });

    it('a guest without a Multiboot header runs, with a warning in the Console and the problems event', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-dbg-'));
      const file = path.join(dir, 'flat.gasm');
      fs.writeFileSync(file, 'bits 32\nstart:\n    mov eax, 1\n    hlt\n');
      const problems = new Promise<DebugProtocol.Event>((resolve) => dc.on('popek/problems', resolve));
      const out = collectOutput(dc);
      const { stop } = await launchToStop(dc, { program: file });
      assert.equal(stop.body.reason, 'entry');
      const body = (await problems).body as { problems: Array<{ code?: string; line: number; message: string }> };
      // Where the editor says it (core/lint/multibootHeader.ts): above `start:`, the image's first byte.
      assert.deepEqual(body.problems.map((p) => [p.code, p.line]), [['no-multiboot-header', 1]]);
      assert.match(body.problems[0].message, /Multiboot header/);
      assert.ok(body.problems[0].message.length <= 120);
      assert.match(out.text('console'), /no Multiboot header/);
    });

    it('Debug Console: help answers there; an unknown name is a console line, not a toast', async () => {
      await launchToStop(dc, { program: HELLO });
      const frameId = (await topFrame(dc)).id;
      const help = await dc.evaluateRequest({ expression: 'help', context: 'repl', frameId });
      assert.match(help.body.result, /registers/);
      assert.match(help.body.result, /eax/);
      const r = await dc.send('evaluate', { expression: 'no_such_name', context: 'repl', frameId }).then(() => undefined, (e: Error) => e);
      assert.ok(r, 'an unknown name is an error response');
      assert.match(r.message, /no_such_name/);
      assert.match(r.message, /help/);
    });

    it('stopOn: ["vmexit"] stops on VM exits with no filter ticked in the Breakpoints view', async () => {
      const { stop } = await launchToStop(dc, { program: HELLO, mode: 'hardware-assisted', stopOn: ['vmexit'] }, { exceptions: { filters: [] } });
      assert.equal(stop.body.reason, 'entry');
      const s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'exception');
      assert.match(`${s.body.description} ${s.body.text ?? ''}`, /VM exit/);
      assert.match(await failure(dc.launchRequest({ program: HELLO, stopOn: ['nope'] } as never)), /stopOn/);
    });

    it('refuses a 10 MB nonsense file quickly, and a binary file', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-dbg-'));
      const big = path.join(dir, 'big.gasm');
      fs.writeFileSync(big, Buffer.alloc(10 << 20, 'x@# '));
      await dc.initializeRequest();
      assert.match(await failure(dc.launchRequest({ program: big } as never)), /too large/);
      const bin = path.join(dir, 'noise.gasm');
      fs.writeFileSync(bin, Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) & 0xff)));
      assert.match(await failure(dc.launchRequest({ program: bin } as never)), /not assembly source/);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });

  describe('breakpoints', () => {
    it('moves a breakpoint on a comment or label line to the next instruction, and stops there with the callers', async () => {
      const comment = lineOf(HELLO, '; putc: write AL');
      const { stop, breakpoints } = await launchToStop(dc, { program: HELLO, stopOnEntry: false }, { breakpoints: [{ path: HELLO, breakpoints: [{ line: comment }] }] });
      const bp = breakpoints[0].body.breakpoints[0];
      assert.equal(bp.verified, true);
      assert.equal(bp.line, lineOf(HELLO, 'push eax'));
      assert.equal(stop.body.reason, 'breakpoint');
      assert.deepEqual(stop.body.hitBreakpointIds, [bp.id]);
      const st = await dc.stackTraceRequest({ threadId: 1 });
      assert.deepEqual(st.body.stackFrames.map((f) => f.name.split(' ')[0]), ['putc', 'puts', 'start']);
      assert.equal(st.body.stackFrames[1].line, lineOf(HELLO, 'call putc'));
      assert.equal(st.body.stackFrames[2].line, lineOf(HELLO, 'call puts'));
    });

    it('does not verify a breakpoint after the last instruction', async () => {
      const last = fs.readFileSync(HELLO, 'utf8').split('\n').length;
      const { breakpoints } = await launchToStop(dc, { program: HELLO }, { breakpoints: [{ path: HELLO, breakpoints: [{ line: last }] }] });
      assert.equal(breakpoints[0].body.breakpoints[0].verified, false);
    });

    it('conditional breakpoint over registers: stops when AL is "l"', async () => {
      const line = lineOf(HELLO, 'push eax');
      const { stop } = await launchToStop(dc, { program: HELLO, stopOnEntry: false }, { breakpoints: [{ path: HELLO, breakpoints: [{ line, condition: "(eax & 0xff) == 'l' && ZF == 0" }] }] });
      assert.equal(stop.body.reason, 'breakpoint');
      assert.equal((await register(dc, 'eax')) & 0xff, 'l'.charCodeAt(0));
      // The next stop is the second "l" of "Hello".
      await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal((await register(dc, 'esi')) - (await dc.evaluateRequest({ expression: 'message', context: 'watch' }).then((r) => parseInt(r.body.result, 16))), 4);
    });

    it('hit-count breakpoint stops on the 5th hit; log points print with {expr} holes', async () => {
      const out = collectOutput(dc);
      const line = lineOf(HELLO, 'push eax');
      const log = lineOf(HELLO, 'out dx, al');
      const { stop } = await launchToStop(dc, { program: HELLO, stopOnEntry: false }, { breakpoints: [{ path: HELLO, breakpoints: [{ line, hitCondition: '5' }, { line: log, logMessage: 'char {al,c} = {al,d}' }] }] });
      assert.equal(stop.body.reason, 'breakpoint');
      assert.equal((await register(dc, 'eax')) & 0xff, 'o'.charCodeAt(0));
      assert.match(out.text('console'), /char H = 72\nchar e = 101\nchar l = 108\nchar l = 108\n/);
    });

    it('instruction breakpoint at an address from the disassembly', async () => {
      const { stop } = await launchToStop(dc, { program: HELLO });
      assert.equal(stop.body.reason, 'entry');
      const dis = await dc.disassembleRequest({ memoryReference: (await topFrame(dc)).instructionPointerReference!, instructionCount: 5, resolveSymbols: true });
      const ins = dis.body!.instructions;
      assert.match(ins[0].instruction, /^mov esp,0x/);
      assert.equal(ins[0].symbol, 'start');
      assert.equal(ins[0].line, lineOf(HELLO, 'mov esp, stack_top'));
      assert.equal(ins[2].instruction.startsWith('call'), true);
      const r = await send<DebugProtocol.SetInstructionBreakpointsResponse>(dc, 'setInstructionBreakpoints', { breakpoints: [{ instructionReference: ins[2].address }] });
      assert.equal(r.body.breakpoints[0].verified, true);
      const s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'instruction breakpoint');
      assert.equal((await topFrame(dc)).instructionPointerReference, ins[2].address);
    });

    for (const mode of ['native', 'paravirtual']) {it(`disassembly as VS Code asks for it (50 before EIP, 100 rows), ${mode}: EIP is row 50 at every stop, in step with the source`, async () => {
      // paravirtual: the real CR3 is a lazily filled shadow; the view must read memory as the guest maps it.
      const { stop } = await launchToStop(dc, { program: HELLO, mode }, { breakpoints: [{ path: HELLO, breakpoints: [{ line: lineOf(HELLO, 'out dx, al') }] }] });
      assert.equal(stop.body.reason, 'entry');
      const hex = (a: string) => parseInt(a, 16);
      // What the assembler says starts an instruction: every row that lands on a source line of an
      // instruction must start where the source map says (the disassembly never drifts out of step).
      const check = async (what: string) => {
        const ip = (await topFrame(dc)).instructionPointerReference!;
        const dis = await dc.disassembleRequest({ memoryReference: ip, offset: 0, instructionOffset: -50, instructionCount: 100, resolveSymbols: true });
        const rows = dis.body!.instructions;
        assert.equal(rows.length, 100, what);
        assert.equal(hex(rows[50].address), hex(ip), `${what}: row 50 is EIP ${ip}, not ${rows[50].address}`);
        for (let i = 1; i < rows.length; i++) assert.ok(hex(rows[i].address) > hex(rows[i - 1].address), `${what}: addresses increase at row ${i}`);
        // Scrolling up, as the view does: the 50 rows before row 0 end exactly where row 0 starts.
        const up = await dc.disassembleRequest({ memoryReference: ip, offset: 0, instructionOffset: -100, instructionCount: 50 });
        const last = up.body!.instructions[49];
        assert.equal(hex(last.address) + last.instructionBytes!.split(' ').length, hex(rows[0].address), `${what}: scrolling up joins row 0`);
        return rows;
      };
      const rows = await check('entry');
      // The Multiboot header before `start` is data: shown as db, and `start` begins its own row.
      const start = rows.find((r) => r.symbol === 'start');
      assert.ok(start && /^mov esp/.test(start.instruction), `start row: ${JSON.stringify(start)}`);
      assert.ok(rows.some((r) => /^db 0x02, 0xb0, 0xad, 0x1b/.test(r.instruction)), 'the Multiboot magic shows as data');
      for (let i = 0; i < 6; i++) {
        await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
        await check(`step ${i + 1}`);
      }
      const bp = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(bp.body.reason, 'breakpoint');
      await check('breakpoint in puts');
    });}

    it('data breakpoint on a memory write: stops after the writing instruction and says old → new', async () => {
      const { stop } = await launchToStop(dc, { program: FRAMES });
      assert.equal(stop.body.reason, 'entry');
      const info = await dc.dataBreakpointInfoRequest({ name: 'dword [counter]' });
      assert.ok(info.body.dataId);
      assert.deepEqual(info.body.accessTypes, ['write']);
      const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId, accessType: 'write' }] });
      assert.equal(set.body.breakpoints[0].verified, true);
      const s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'data breakpoint');
      assert.match(s.body.description ?? '', /written by frames\.gasm:\d+ \(add \[0x[0-9a-f]+\],eax\): 0x00000000 → 0x0000000a/);
      assert.equal((await topFrame(dc)).line, lineOf(FRAMES, 'add [counter], eax') + 1);
      // Addresses typed by the user work too (asAddress).
      const byAddr = await dc.dataBreakpointInfoRequest({ name: '0x9000', asAddress: true, bytes: 2 } as never);
      assert.equal(byAddr.body.dataId, '0x00009000/2');
      // A register is not memory.
      assert.equal((await dc.dataBreakpointInfoRequest({ name: 'eax' })).body.dataId, null);
    });

    it('exception filter guest-exception stops on the #GP of a ring-3 cli (rings.gasm, native)', async () => {
      const rings = example('rings.gasm');
      const { stop } = await launchToStop(dc, { program: rings, stopOnEntry: false }, { exceptions: { filters: [], filterOptions: [{ filterId: 'guest-exception', condition: '#GP' }] } });
      assert.equal(stop.body.reason, 'exception');
      assert.match(stop.body.description ?? '', /Guest exception #GP error code 0x0000 at rings\.gasm:\d+ \(cli\)/);
      const info = await dc.exceptionInfoRequest({ threadId: 1 });
      assert.equal(info.body.exceptionId, 'Guest exceptions'); // as the Breakpoints view names the filter
      assert.equal(info.body.details?.typeName, 'guest-exception');
      // Stopped at the guest's #GP handler, which the IDT named.
      assert.ok((await topFrame(dc)).line > 0);
    });
  });

  describe('breakpoints by label, locations, jump to cursor', () => {
    it('function breakpoint on a label, with a hit condition; unknown labels are not verified', async () => {
      const { stop } = await launchToStop(dc, { program: HELLO });
      assert.equal(stop.body.reason, 'entry');
      const r = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'putc', hitCondition: '3' }, { name: 'nowhere' }] });
      assert.equal(r.body.breakpoints[0].verified, true);
      assert.equal(r.body.breakpoints[0].line, lineOf(HELLO, 'push eax'));
      assert.equal(r.body.breakpoints[1].verified, false);
      const s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'function breakpoint');
      assert.equal((await register(dc, 'eax')) & 0xff, 'l'.charCodeAt(0));
    });

    it('lists the lines that hold instructions, and jumps to a line', async () => {
      await launchToStop(dc, { program: FRAMES });
      const first = lineOf(FRAMES, 'inner:');
      const locs = await dc.send('breakpointLocations', { source: { path: FRAMES }, line: first - 1, endLine: first + 5 }) as DebugProtocol.BreakpointLocationsResponse;
      assert.deepEqual(locs.body.breakpoints.map((b) => b.line), [first + 1, first + 2, first + 3, first + 5]);
      const shl = lineOf(FRAMES, 'shl eax, 1');
      const targets = await dc.send('gotoTargets', { source: { path: FRAMES }, line: shl - 1 }) as DebugProtocol.GotoTargetsResponse;
      assert.equal(targets.body.targets[0].line, shl);
      await dc.setVariableRequest({ variablesReference: (await dc.scopesRequest({ frameId: 0 })).body.scopes[0].variablesReference, name: 'eax', value: '21' });
      const g = await resumeToStop(dc, dc.send('goto', { threadId: 1, targetId: targets.body.targets[0].id }));
      assert.equal(g.body.reason, 'goto');
      assert.equal((await topFrame(dc)).line, shl);
      await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
      assert.equal(await register(dc, 'eax'), 42);
    });
  });

  describe('stepping', () => {
    it('steps in, over a call, and out, by instruction and by line', async () => {
      await launchToStop(dc, { program: FRAMES }, { breakpoints: [{ path: FRAMES, breakpoints: [{ line: lineOf(FRAMES, 'call outer') }] }] });
      // Entry: continue to the call.
      let s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'breakpoint');
      s = await resumeToStop(dc, dc.nextRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'step');
      assert.equal((await topFrame(dc)).line, lineOf(FRAMES, 'add esp, 4'));
      assert.equal(await dc.evaluateRequest({ expression: 'dword [counter]', context: 'watch' }).then((r) => r.body.result), '0x0000000a (10)');
      // Around the loop to the call again, then into outer and inner.
      s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'breakpoint');
      s = await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
      assert.match(s.body.description ?? '', /^Stepped to frames\.gasm:\d+ \(push ebp\)/);
      assert.equal((await topFrame(dc)).line, lineOf(FRAMES, 'push ebp'));
      for (let i = 0; i < 5; i++) await resumeToStop(dc, dc.stepInRequest({ threadId: 1 }));
      const inner = await dc.stackTraceRequest({ threadId: 1 });
      assert.deepEqual(inner.body.stackFrames.map((f) => f.name.split(' ')[0]), ['inner', 'outer', 'start']);
      // Line stepping skips the blank line in inner.
      const at = (await topFrame(dc)).line;
      assert.equal(at, lineOf(FRAMES, 'push ebp', lineOf(FRAMES, 'inner:')));
      await resumeToStop(dc, dc.stepInRequest({ threadId: 1 }));
      await resumeToStop(dc, dc.stepInRequest({ threadId: 1 }));
      await resumeToStop(dc, dc.stepInRequest({ threadId: 1 }));
      assert.equal((await topFrame(dc)).line, lineOf(FRAMES, 'shl eax, 1'));
      s = await resumeToStop(dc, dc.stepOutRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'step');
      assert.equal((await topFrame(dc)).line, lineOf(FRAMES, 'add esp, 4', lineOf(FRAMES, 'call inner')));
      assert.equal(await register(dc, 'eax'), 8);
    });

    it('steps back to the previous instruction with the earlier registers, and reverse-continues to a breakpoint', async () => {
      const line = lineOf(FRAMES, 'shl eax, 1');
      await launchToStop(dc, { program: FRAMES, stopOnEntry: false }, { breakpoints: [{ path: FRAMES, breakpoints: [{ line }] }] });
      const before = await register(dc, 'eax');
      await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
      assert.equal(await register(dc, 'eax'), before * 2);
      const s = await resumeToStop(dc, dc.stepBackRequest({ threadId: 1, granularity: 'instruction' }));
      assert.equal(s.body.reason, 'step');
      assert.equal((await topFrame(dc)).line, line);
      assert.equal(await register(dc, 'eax'), before);
      // By line: back over `mov eax, [ebp+8]` to the line before it (`mov ebp, esp`), EAX not loaded yet.
      const byLine = await resumeToStop(dc, dc.stepBackRequest({ threadId: 1 }));
      assert.equal(byLine.body.reason, 'step');
      assert.equal((await topFrame(dc)).line, lineOf(FRAMES, 'mov eax, [ebp+8]', lineOf(FRAMES, 'inner:')));
      await resumeToStop(dc, dc.stepBackRequest({ threadId: 1 }));
      assert.equal((await topFrame(dc)).line, lineOf(FRAMES, 'mov ebp, esp', lineOf(FRAMES, 'inner:')));
      await resumeToStop(dc, dc.stepInRequest({ threadId: 1 }));
      await resumeToStop(dc, dc.stepInRequest({ threadId: 1 }));
      assert.equal((await topFrame(dc)).line, line);
      // Forward twice through the breakpoint (second call), then reverse to the first hit.
      await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(await register(dc, 'eax'), 4);
      const r = await resumeToStop(dc, dc.reverseContinueRequest({ threadId: 1 }));
      assert.equal(r.body.reason, 'breakpoint');
      assert.equal(await register(dc, 'eax'), 5);
      assert.equal(await dc.evaluateRequest({ expression: '[counter]', context: 'watch' }).then((x) => x.body.result), '0');
    });

    it('pauses a runaway guest', async () => {
      await launchToStop(dc, { program: fixture('runaway.gasm') });
      await dc.continueRequest({ threadId: 1 });
      await new Promise((r) => setTimeout(r, 200));
      const s = await resumeToStop(dc, dc.pauseRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'pause');
      assert.ok(await register(dc, 'eax') > 1000);
      const line = (await topFrame(dc)).line;
      assert.ok(line === lineOf(fixture('runaway.gasm'), 'inc eax') || line === lineOf(fixture('runaway.gasm'), 'jmp spin'));
    });

    it('ends the session with a message on a triple fault', async () => {
      const out = collectOutput(dc);
      await Promise.all([dc.configurationSequence(), dc.launch({ program: fixture('triple.gasm'), stopOnEntry: false } as never), dc.waitForEvent('terminated')]);
      assert.match(out.text(), /Triple fault at triple\.gasm:\d+ \(ud2\)/);
    });

    it('restart reassembles and stops on entry again, keeping breakpoints', async () => {
      const line = lineOf(FRAMES, 'shl eax, 1');
      await launchToStop(dc, { program: FRAMES }, { breakpoints: [{ path: FRAMES, breakpoints: [{ line }] }] });
      await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      const s = await resumeToStop(dc, dc.restartRequest({}));
      assert.equal(s.body.reason, 'entry');
      const b = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(b.body.reason, 'breakpoint');
      assert.equal((await topFrame(dc)).line, line);
    });
  });

  describe('state', () => {
    it('decodes EFLAGS and edits flags, IOPL and registers through setVariable', async () => {
      await launchToStop(dc, { program: HELLO });
      const scopes = await dc.scopesRequest({ frameId: 0 });
      assert.deepEqual(scopes.body.scopes.map((s) => s.name), ['Registers', 'EFLAGS', 'VCPU', 'Globals', 'Hypervisor']);
      const flags = scopes.body.scopes[1].variablesReference;
      let fl = await scope(dc, 'EFLAGS');
      assert.equal(fl.get('ZF')?.value, '0');
      assert.equal(fl.get('IOPL')?.value, '0');
      await dc.setVariableRequest({ variablesReference: flags, name: 'ZF', value: '1' });
      await dc.setVariableRequest({ variablesReference: flags, name: 'IOPL', value: '3' });
      fl = await scope(dc, 'EFLAGS');
      assert.equal(fl.get('ZF')?.value, '1');
      assert.equal(fl.get('IOPL')?.value, '3');
      assert.equal(await register(dc, 'eflags'), 0x3042);
      const regs = scopes.body.scopes[0].variablesReference;
      const r = await dc.setVariableRequest({ variablesReference: regs, name: 'ecx', value: '0x1234 + 1' });
      assert.equal(r.body.value, '0x00001235');
      assert.match(await failure(dc.setVariableRequest({ variablesReference: flags, name: 'IOPL', value: '7' })), /IOPL/);
      const vcpu = await scope(dc, 'VCPU');
      assert.equal(vcpu.get('CPL (real)')?.value, '0');
      assert.match(vcpu.get('GDTR (real)')?.value ?? '', /base 0x00000800/);
    });

    it('evaluates register, flag and memory expressions; never host code', async () => {
      await launchToStop(dc, { program: HELLO });
      const ev = (expression: string, context = 'watch') => dc.evaluateRequest({ expression, context }).then((r) => r.body.result);
      assert.equal(await ev('eax == 0x2badb002 && ZF == 0'), '1');
      assert.equal(await ev('byte [message]'), '0x00000048 (72)');
      assert.equal(await ev('word [message + 1] == 0x6c65'), '1');
      assert.equal(await ev("'H' + 1"), '0x00000049 (73)');
      // A local label means the one of the function EIP is in (start.halt here).
      assert.equal(await ev('.halt == start.halt'), '1');
      assert.match(await failure(ev('process.exit(1)')), /unknown name 'process.exit'|unexpected/);
      assert.match(await failure(ev('[0xfffff000]')), /not mapped|0xfffff000/);
      assert.match(await failure(ev('eax = 1', 'watch')), /Debug Console/);
      assert.equal(await ev('eax = 7', 'repl'), '7');
      assert.equal(await register(dc, 'eax'), 7);
      const c = await dc.completionsRequest({ text: 'mes', column: 4 });
      assert.ok(c.body.targets.some((t) => t.label === 'message'));
    });

    it('reads and writes memory through a register\'s memory reference', async () => {
      await launchToStop(dc, { program: HELLO });
      const esp = (await scope(dc, 'Registers')).get('eip')!;
      assert.ok(esp.memoryReference);
      const msg = await dc.evaluateRequest({ expression: 'message', context: 'watch' });
      const read = await send<DebugProtocol.ReadMemoryResponse>(dc, 'readMemory', { memoryReference: msg.body.memoryReference!, count: 5 });
      assert.equal(Buffer.from(read.body!.data!, 'base64').toString(), 'Hello');
      await send(dc, 'writeMemory', { memoryReference: msg.body.memoryReference!, data: Buffer.from('Jello').toString('base64') });
      const out = collectOutput(dc);
      await dc.setBreakpointsRequest({ source: { path: HELLO }, breakpoints: [] });
      await Promise.all([dc.continueRequest({ threadId: 1 }), dc.waitForEvent('terminated')]);
      assert.match(out.text('stdout'), /^Jello from a Multiboot guest/);
    });
  });

  describe('memory references', () => {
    it('at a VM exit (EPT_VIOLATION, hardware-assisted): disassemble without a reference starts at EIP; a missing or bad reference is answered in words', async () => {
      const { stop } = await launchToStop(dc, { program: HELLO, mode: 'hardware-assisted', stopOnEntry: false }, { exceptions: { filters: ['vmexit'] } });
      assert.match(stop.body.description ?? '', /^VM exit EPT_VIOLATION/);
      const eip = (await topFrame(dc)).instructionPointerReference!;
      const dis = await dc.disassembleRequest({ memoryReference: '', instructionCount: 3 });
      assert.equal(dis.body?.instructions[0].address, eip);
      assert.match(await failure(send(dc, 'readMemory', { memoryReference: '', count: 4 })), /^no memory reference: the request names no address$/);
      // Without the argument at all, the request guard answers first.
      assert.match(await failure(send(dc, 'readMemory', { count: 4 })), /'memoryReference' is missing/);
      assert.match(await failure(send(dc, 'readMemory', { memoryReference: 'undefined', count: 4 })), /^bad memory reference "undefined": an address such as 0x00100000 is expected$/);
      assert.match(await failure(send(dc, 'writeMemory', { memoryReference: '', data: 'AA==' })), /^no memory reference/);
    });
  });

  describe('watch edits and termination', () => {
    it('setExpression assigns through a watch expression (register, memory); terminate ends the session', async () => {
      await launchToStop(dc, { program: HELLO });
      const r = await dc.send('setExpression', { expression: 'ebx', value: '0x1234' }) as DebugProtocol.SetExpressionResponse;
      assert.equal(r.body.value, '0x00001234 (4660)');
      assert.equal(await register(dc, 'ebx'), 0x1234);
      await dc.send('setExpression', { expression: 'byte [message]', value: "'J'" });
      assert.equal(await dc.evaluateRequest({ expression: 'byte [message]', context: 'watch' }).then((x) => x.body.result), '0x0000004a (74)');
      assert.match(await failure(dc.send('setExpression', { expression: 'eax + 1', value: '2' })), /cannot be assigned/);
      const terminated = dc.waitForEvent('terminated');
      await dc.send('terminate', {});
      await terminated;
    });
  });

  describe('robustness', () => {
    it('answers every request with junk arguments and keeps working', async () => {
      await launchToStop(dc, { program: HELLO });
      const commands = ['setBreakpoints', 'setInstructionBreakpoints', 'setDataBreakpoints', 'dataBreakpointInfo', 'setExceptionBreakpoints', 'evaluate', 'setVariable',
        'setExpression', 'readMemory', 'writeMemory', 'disassemble', 'stackTrace', 'variables', 'completions', 'exceptionInfo', 'restart', 'launch'];
      const junk: unknown[] = [null, { x: 1 }, { source: null, breakpoints: [null], filters: null }, { expression: null, memoryReference: 'zz', count: -5 },
        { memoryReference: '0x100000', count: 1e12, offset: -1e9, instructionCount: 1e9, instructionOffset: -1e9 }, { variablesReference: 99999, name: null, value: {} },
        { name: {}, asAddress: true, bytes: -1, dataId: null, breakpoints: [{ dataId: null }] }, { arguments: { program: 5 }, program: '/dev/zero' }];
      let answered = 0;
      for (const c of commands) {
        for (const a of junk) {
          await dc.send(c, a).then(() => answered++, () => answered++);
        }
      }
      assert.equal(answered, commands.length * junk.length);
      // Still a working session: a fresh launch of hello runs to its end.
      const t = await dc.threadsRequest();
      assert.equal(t.body.threads.length, 1);
      const out = collectOutput(dc);
      await dc.setBreakpointsRequest({ source: { path: HELLO }, breakpoints: [] });
      await dc.setExceptionBreakpointsRequest({ filters: [] });
      await dc.send('restart', { arguments: { program: HELLO, stopOnEntry: false } });
      await dc.waitForEvent('terminated');
      assert.match(out.text('stdout'), /Hello from a Multiboot guest/);
    });
  });
});
