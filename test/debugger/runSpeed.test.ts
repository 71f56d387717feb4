/*
 * The status bar's figures: the adapter's `popekRunning` event while the guest runs and at a stop,
 * checked against the guest's own loop counter and the Hypervisor scope.
 */
import * as assert from 'node:assert/strict';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { RUN_SPEED_EVENT, runSpeedText, siNumber, type RunSpeedBody } from '../../debugger/runSpeed';
import { fixture, register, resumeToStop, scope, startClient } from './support';

describe('debugger: instructions/s and modelled cycles for the status bar', function () {
  this.timeout(60000);
  let dc: DebugClient;
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  it('reports the speed while running and the totals at a pause, as the guest and the Hypervisor scope count them', async () => {
    const bodies: RunSpeedBody[] = [];
    dc.on(RUN_SPEED_EVENT, (e: DebugProtocol.Event) => bodies.push(e.body as RunSpeedBody));
    const running = new Promise<RunSpeedBody>((resolve) => dc.on(RUN_SPEED_EVENT, (e: DebugProtocol.Event) => { if (e.body.running) resolve(e.body); }));
    await Promise.all([dc.configurationSequence(), dc.launch({ program: fixture('runaway.gasm'), mode: 'trap-and-emulate', stopOnEntry: false } as never)]);
    const r = await running;
    assert.ok(r.instructions > 0 && r.instructionsPerSecond > 0 && r.cyclesPerSecond > 0, JSON.stringify(r));
    assert.ok(r.cycles >= r.instructions, 'each instruction costs at least a cycle');
    await resumeToStop(dc, dc.pauseRequest({ threadId: 1 }));
    const last = bodies[bodies.length - 1];
    assert.equal(last.running, false);
    // runaway.gasm: `xor eax, eax`, then `inc eax; jmp` for ever: the count follows from EAX.
    const eax = await register(dc, 'eax');
    assert.ok(last.instructions === 2 * eax || last.instructions === 2 * eax + 1, `${last.instructions} instructions, EAX ${eax}`);
    const hv = await scope(dc, 'Hypervisor');
    assert.equal(String(last.instructions), hv.get('instructions')?.value);
    assert.equal(String(Math.round(last.cycles)), hv.get('modelled cycles')?.value);
    assert.ok(bodies.slice(0, -1).every((b) => b.running && b.instructions <= last.instructions));
  });

  it('formats figures with three significant digits', () => {
    assert.deepEqual([siNumber(12), siNumber(1234), siNumber(45_678_901), siNumber(1_234_567_890)], ['12', '1.23 k', '45.7 M', '1.23 G']);
    assert.equal(runSpeedText({ running: true, instructions: 5e6, cycles: 2.5e9, instructionsPerSecond: 123_456_789, cyclesPerSecond: 1 }), '123 M instr/s · 2.50 G cycles');
    assert.equal(runSpeedText({ running: false, instructions: 5e6, cycles: 2.5e9, instructionsPerSecond: 0, cyclesPerSecond: 0 }), '5.00 M instr · 2.50 G cycles');
  });
});
