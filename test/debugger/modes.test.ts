/*
 * The adapter in its three ways of running (separate process: adapter.test.ts; TCP with
 * --server=PORT; inline, as the extension host loads it) and under every execution technique of
 * this build: the hypervisor's events as stops, the VCPU / VMCS / Hypervisor scopes, and the
 * native twin of checkEquivalence.
 */
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { availableModes, type Mode } from '../../core/vmm';
import {
  ADAPTER, collectOutput, example, fixture, launchToStop, lineOf, register, resumeToStop, scope, startAdapterServer, startClient, topFrame,
} from './support';

const HELLO = example('hello.gasm');

/** Launches hello with a breakpoint in putc, checks the stop, then runs it to the end. */
async function helloScenario(dc: DebugClient, mode: Mode = 'native'): Promise<void> {
  const out = collectOutput(dc);
  const line = lineOf(HELLO, 'push eax');
  const { stop } = await launchToStop(dc, { program: HELLO, mode, stopOnEntry: false }, { breakpoints: [{ path: HELLO, breakpoints: [{ line }] }] });
  assert.equal(stop.body.reason, 'breakpoint');
  assert.equal((await topFrame(dc)).line, line);
  assert.equal((await register(dc, 'eax')) & 0xff, 'H'.charCodeAt(0));
  await dc.setBreakpointsRequest({ source: { path: HELLO }, breakpoints: [] });
  await Promise.all([dc.continueRequest({ threadId: 1 }), dc.waitForEvent('terminated')]);
  assert.equal(out.text('stdout'), 'Hello from a Multiboot guest on COM1!\n');
}

describe('debugger: ways of running the adapter', function () {
  this.timeout(30000);

  it('TCP: node dist/debugAdapter.js --server=PORT serves a session per connection', async () => {
    const { child, port } = await startAdapterServer();
    try {
      for (let i = 0; i < 2; i++) {
        const dc = new DebugClient('node', ADAPTER, 'popek');
        await dc.start(port);
        await helloScenario(dc);
        await dc.stop();
      }
    } finally { child.kill(); }
  });

  it('inline: the bundle exports PopekDebugSession without starting itself, and it answers through handleMessage', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(ADAPTER) as { PopekDebugSession: new () => { handleMessage(m: DebugProtocol.ProtocolMessage): void; onDidSendMessage(cb: (m: DebugProtocol.ProtocolMessage) => void): void; dispose(): void } };
    assert.equal(typeof mod.PopekDebugSession, 'function');
    const session = new mod.PopekDebugSession();
    const got: DebugProtocol.ProtocolMessage[] = [];
    session.onDidSendMessage((m) => got.push(m));
    session.handleMessage({ seq: 1, type: 'request', command: 'initialize', arguments: { adapterID: 'popek', linesStartAt1: true, columnsStartAt1: true, pathFormat: 'path' } } as DebugProtocol.InitializeRequest);
    await new Promise((r) => setTimeout(r, 50));
    const init = got.find((m) => m.type === 'response') as DebugProtocol.InitializeResponse;
    assert.equal(init.success, true);
    assert.equal(init.body?.supportsStepBack, true);
    assert.deepEqual(init.body?.exceptionBreakpointFilters?.map((f) => f.filter), ['trap', 'critical', 'hypercall', 'vmexit', 'guest-exception', 'divergence']);
    session.dispose();
  });

  it('inline: a whole session through the exported class (served in this process)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(ADAPTER) as { PopekDebugSession: new () => { setRunAsServer(b: boolean): void; start(i: NodeJS.ReadableStream, o: NodeJS.WritableStream): void } };
    const server = net.createServer((socket) => {
      const s = new mod.PopekDebugSession();
      s.setRunAsServer(true);
      s.start(socket, socket);
    }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const dc = new DebugClient('node', ADAPTER, 'popek');
      await dc.start((server.address() as net.AddressInfo).port);
      await helloScenario(dc);
      await dc.stop();
    } finally { server.close(); }
  });
});

describe('debugger: every execution technique of this build', function () {
  this.timeout(60000);
  let dc: DebugClient;
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });
  // Every technique is registered in this build; a missing one is a failure, not a skip.
  const has = (m: Mode) => {
    if (!availableModes().includes(m)) throw new Error(`core/vmm registers no '${m}' technique (available: ${availableModes().join(', ')})`);
    return true;
  };

  for (const mode of ['native', 'trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted'] as Mode[]) {
    it(`${mode}: breakpoint, registers, console, exit`, async function () {
      if (!has(mode)) this.skip();
      await helloScenario(dc, mode);
    });

    it(`${mode}: a runaway guest can be paused, and continues after`, async function () {
      if (!has(mode)) this.skip();
      const runaway = fixture('runaway.gasm');
      await Promise.all([dc.configurationSequence(), dc.launch({ program: runaway, mode, stopOnEntry: false } as never)]);
      await new Promise((r) => setTimeout(r, 150));
      const s = await resumeToStop(dc, dc.pauseRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'pause');
      const eax = await register(dc, 'eax');
      assert.ok(eax > 100, `EAX ${eax}`);
      await dc.continueRequest({ threadId: 1 });
      await new Promise((r) => setTimeout(r, 50));
      await resumeToStop(dc, dc.pauseRequest({ threadId: 1 }));
      assert.ok(await register(dc, 'eax') > eax);
    });

    it(`${mode}: guest-exception stops on the ring-3 cli's #GP (rings.gasm) and step back returns before it`, async function () {
      if (!has(mode)) this.skip();
      const rings = example('rings.gasm');
      const { stop } = await launchToStop(dc, { program: rings, mode, stopOnEntry: false }, { exceptions: { filters: [], filterOptions: [{ filterId: 'guest-exception', condition: '#GP' }] } });
      assert.equal(stop.body.reason, 'exception');
      const cli = lineOf(rings, '    cli', lineOf(rings, 'user_main:'));
      assert.equal(stop.body.description, `Guest exception #GP error code 0x0000 at rings.gasm:${cli} (cli)`);
      // The call stack crosses the privilege change: the handler, then the interrupted user code.
      const st = await dc.stackTraceRequest({ threadId: 1 });
      assert.deepEqual(st.body.stackFrames.map((f) => f.name.split(' @')[0]), ['gp_handler', 'user_main (interrupted)']);
      assert.equal(st.body.stackFrames[1].line, cli);
      const regs = await scope(dc, 'Registers');
      assert.equal(Number(regs.get('cs')!.value) & 3, mode === 'native' || mode === 'hardware-assisted' || mode === 'binary-translation' ? 0 : 1, 'in the kernel\'s handler');
      await resumeToStop(dc, dc.stepBackRequest({ threadId: 1, granularity: 'instruction' }));
      assert.equal((await topFrame(dc)).line, cli);
      assert.equal(Number((await scope(dc, 'Registers')).get('cs')!.value) & 3, 3);
    });
  }

  it('trap-and-emulate: the trap filter stops on the first trapped instruction and says what the VMM did', async function () {
    if (!has('trap-and-emulate')) this.skip();
    const { stop } = await launchToStop(dc, { program: HELLO, mode: 'trap-and-emulate', stopOnEntry: false }, { exceptions: { filters: ['trap'] } });
    assert.equal(stop.body.reason, 'exception');
    assert.match(stop.body.description ?? '', /^Trap into the VMM: #GP from hello\.gasm:\d+ \(in al,dx\), emulated/);
    const info = await dc.exceptionInfoRequest({ threadId: 1 });
    assert.equal(info.body.exceptionId, 'Traps into the VMM'); // as the Breakpoints view names the filter
    assert.equal(info.body.details?.typeName, 'trap');
    const hv = await scope(dc, 'Hypervisor');
    assert.equal(hv.get('traps')?.value, '1');
    const recent = await dc.variablesRequest({ variablesReference: hv.get('recent events')!.variablesReference });
    assert.match(recent.body.variables.at(-1)!.value, /^\[\d+\] trap +0x[0-9a-f]{8} in: #GP → VMM emulated in/);
    const vcpu = await scope(dc, 'VCPU');
    assert.equal(vcpu.get('CPL (real)')?.value, '1');
    assert.equal(vcpu.get('CPL (guest believes)')?.value, '0');
    // The condition narrows it: only `out`.
    await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'trap', condition: 'out' }] });
    const s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.match(s.body.description ?? '', /\(out dx,al\)/);
  });

  it('trap-and-emulate: the critical filter stops on popf that silently kept IF', async function () {
    if (!has('trap-and-emulate')) this.skip();
    const critical = example('critical.gasm');
    const { stop } = await launchToStop(dc, { program: critical, mode: 'trap-and-emulate', stopOnEntry: false }, { exceptions: { filters: [], filterOptions: [{ filterId: 'critical', condition: 'differs' }] } });
    assert.equal(stop.body.reason, 'exception');
    assert.match(stop.body.description ?? '', /^Critical instruction \w+ at critical\.gasm:\d+ .* ran at CPL 1 \(the guest believes CPL 0\): /);
  });

  it('trap-and-emulate with checkEquivalence: stops at the first instruction whose effect differs from native', async function () {
    if (!has('trap-and-emulate')) this.skip();
    const critical = example('critical.gasm');
    const { stop } = await launchToStop(dc, { program: critical, mode: 'trap-and-emulate', stopOnEntry: false, checkEquivalence: true }, { exceptions: { filters: ['divergence'] } });
    assert.equal(stop.body.reason, 'divergence');
    assert.match(stop.body.description ?? '', /^Divergence from native after critical\.gasm:(\d+) \(popfd\): IF as the guest believes it is 1, native 0/);
    const at = Number(/critical\.gasm:(\d+)/.exec(stop.body.description!)![1]);
    assert.match(lineText(critical, at), /popf/);
    // Later differences are listed, not stopped at; at the end the run is compared as a whole.
    const out = collectOutput(dc);
    await Promise.all([dc.continueRequest({ threadId: 1 }), dc.waitForEvent('terminated', 60000)]);
    assert.ok(out.text('console').split('\n').filter((l) => l.startsWith('Divergence from native: ')).length >= 3);
    assert.match(out.text('console'), /Compared with native: console and outcome \(native: exit 1\) differ\./);
  });

  it('checkEquivalence reports no divergence where there is none (exits.gasm under paravirtual: only the entry state differs)', async function () {
    if (!has('paravirtual')) this.skip();
    const out = collectOutput(dc);
    const exits = example('exits.gasm');
    await launchToStop(dc, { program: exits, mode: 'paravirtual', stopOnEntry: true, checkEquivalence: true }, { exceptions: { filters: ['divergence'] } });
    await Promise.all([dc.continueRequest({ threadId: 1 }), dc.waitForEvent('terminated')]);
    assert.equal(out.text('stdout'), 'exits: ok\n');
    assert.doesNotMatch(out.text('console'), /checkEquivalence/);
    assert.match(out.text('console'), /Compared with native: same console and outcome\./);
  });

  it('the divergence filter in a launch without checkEquivalence brings the twin itself: the same first divergence, no word of launch.json', async function () {
    if (!has('trap-and-emulate')) this.skip();
    const out = collectOutput(dc);
    const { stop } = await launchToStop(dc, { program: example('critical.gasm'), mode: 'trap-and-emulate', stopOnEntry: false }, { exceptions: { filters: ['divergence'] } });
    assert.equal(stop.body.reason, 'divergence');
    assert.match(stop.body.description ?? '', /^Divergence from native after critical\.gasm:(\d+) \(popfd\): IF as the guest believes it is 1, native 0/);
    assert.doesNotMatch(out.text('console'), /launch\.json|add "checkEquivalence"/);
  });

  it('hardware-assisted: stops on the first VM exit CPUID at the cpuid; VMCS holds reason 10 and its guest RIP; step back returns to the instruction before', async function () {
    if (!has('hardware-assisted')) this.skip();
    const exits = example('exits.gasm');
    const { stop } = await launchToStop(dc, { program: exits, mode: 'hardware-assisted', stopOnEntry: false }, { exceptions: { filters: [], filterOptions: [{ filterId: 'vmexit', condition: 'CPUID,HLT' }] } });
    assert.equal(stop.body.reason, 'exception');
    const cpuidLine = lineOf(exits, '    cpuid ');
    assert.match(stop.body.description ?? '', new RegExp(`^VM exit CPUID \\(basic reason 10\\) at exits\\.gasm:${cpuidLine} \\(cpuid\\); qualification 0x00000000( \\(leaf 0x0\\))?; instruction length 2`));
    // The guest as the exit found it: at the cpuid, EAX = 0 (leaf 0) and cpuid not run yet.
    const frame = await topFrame(dc);
    assert.equal(frame.line, cpuidLine);
    assert.equal(await register(dc, 'eax'), 0);
    const vmcs = await scope(dc, 'VMCS');
    const exitInfo = await dc.variablesRequest({ variablesReference: vmcs.get('VM-exit information')!.variablesReference });
    const reason = exitInfo.body.variables.find((v) => v.name.startsWith('VM_EXIT_REASON'));
    assert.ok(reason, 'VM_EXIT_REASON in the exit-information area');
    assert.equal(reason.name, 'VM_EXIT_REASON [0x4402]');
    assert.match(reason.value, /^0x0000000a \(10\) CPUID$/);
    const qual = exitInfo.body.variables.find((v) => v.name.startsWith('EXIT_QUALIFICATION'))!;
    assert.match(qual.value, /^0x00000000 \(0\)/);
    const guest = await dc.variablesRequest({ variablesReference: vmcs.get('Guest-state area')!.variablesReference });
    const rip = guest.body.variables.find((v) => v.name.startsWith('GUEST_RIP'))!;
    assert.equal(parseInt(/0x[0-9a-f]+/.exec(rip.value)![0], 16), parseInt(frame.instructionPointerReference!, 16));
    // Control fields name their bits: CPUID exits unconditionally, HLT exiting is one of KVM's controls.
    const controls = await dc.variablesRequest({ variablesReference: vmcs.get('Control fields')!.variablesReference });
    const primary = controls.body.variables.find((v) => v.name.startsWith('CPU_BASED_VM_EXEC_CONTROL'))!;
    const primaryBits = await dc.variablesRequest({ variablesReference: primary.variablesReference });
    assert.ok(primaryBits.body.variables.some((v) => v.name === 'HLT_EXITING'), primaryBits.body.variables.map((v) => v.name).join(' '));
    const exitsByReason = await dc.variablesRequest({ variablesReference: (await scope(dc, 'Hypervisor')).get('VM exits')!.variablesReference });
    assert.equal(exitsByReason.body.variables.find((v) => v.name === 'CPUID')?.value, '1', 'this exit is counted');
    // Step back: the instruction before (xor eax, eax), with the earlier EAX (the Multiboot magic).
    await resumeToStop(dc, dc.stepBackRequest({ threadId: 1, granularity: 'instruction' }));
    assert.equal((await topFrame(dc)).line, cpuidLine - 1);
    assert.equal(await register(dc, 'eax'), 0x2badb002);
    // Forward again: the cpuid exits (the same exit does not stop twice), EBX gets the vendor.
    await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
    const s2 = await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
    assert.equal(s2.body.reason, 'exception', 'stepping onto the cpuid stops on its exit');
    const s3 = await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
    assert.equal(s3.body.reason, 'step');
    assert.equal((await topFrame(dc)).line, cpuidLine + 1);
    assert.equal(await register(dc, 'ebx'), 0x756e6547); // "Genu"
  });

  it('paravirtual: the hypercall filter stops on console_io with its arguments; the guest console still arrives', async function () {
    if (!has('paravirtual')) this.skip();
    const pv = example('pv-hello.gasm');
    const out = collectOutput(dc);
    const { stop } = await launchToStop(dc, { program: pv, mode: 'paravirtual', stopOnEntry: false }, { exceptions: { filters: [], filterOptions: [{ filterId: 'hypercall', condition: 'console_io' }] } });
    assert.equal(stop.body.reason, 'exception');
    assert.match(stop.body.description ?? '', /^Hypercall console_io \(18\) from pv-hello\.gasm:\d+ \(vmcall\)/);
    const info = await dc.exceptionInfoRequest({ threadId: 1 });
    assert.match(info.body.details?.message ?? '', /EBX\.\.EDI: 0x00000000 0x000000/);
    const hv = await scope(dc, 'Hypervisor');
    assert.equal(hv.get('hypercalls')?.value, '1');
    await dc.setExceptionBreakpointsRequest({ filters: [] });
    await Promise.all([dc.continueRequest({ threadId: 1 }), dc.waitForEvent('terminated')]);
    assert.equal(out.text('stdout'), 'Hello from a paravirtual guest, via console_io!\n');
  });

  it('trace prints each hypervisor event as a line in the Debug Console', async function () {
    if (!has('trap-and-emulate')) this.skip();
    const out = collectOutput(dc);
    await Promise.all([dc.configurationSequence(), dc.launch({ program: HELLO, mode: 'trap-and-emulate', stopOnEntry: false, trace: true } as never), dc.waitForEvent('terminated')]);
    const lines = out.text('console').split('\n').filter((l) => / trap {16}0x[0-9a-f]{8} in: #GP/.test(l));
    assert.ok(lines.length >= 38, `${lines.length} trap lines`);
    assert.match(lines[0], /hello\.gasm:\d+$/);
  });
});

function lineText(file: string, line: number): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('node:fs') as typeof import('node:fs')).readFileSync(file, 'utf8').split('\n')[line - 1];
}
