/*
 * Code breakpoints on the first instruction of a handler the CPU enters by itself (an external
 * interrupt, a guest exception, a paravirtual event) while the adapter runs one instruction at a
 * time (a data breakpoint, an exception filter, a step, the native twin of checkEquivalence): the
 * event is delivered inside that instruction's slice, and the handler's first instruction must
 * still stop before it runs.
 */
import * as assert from 'node:assert/strict';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { availableModes, type Mode } from '../../core/vmm';
import { collectOutput, example, launchToStop, lineOf, resumeToStop, startClient, topFrame } from './support';

const TIMER = example('timer.gasm');
const RINGS = example('rings.gasm');
/** The first instruction of the IRQ 0 handler, and the `hlt` of the main loop's `sti; hlt`. */
const HANDLER = lineOf(TIMER, 'push eax', lineOf(TIMER, 'timer_handler:'));
const HLT = lineOf(TIMER, '    hlt', lineOf(TIMER, '.wait:'));
const GP_HANDLER = lineOf(RINGS, 'push ds', lineOf(RINGS, 'gp_handler:'));
const MODES: Mode[] = ['native', 'hardware-assisted', 'trap-and-emulate', 'paravirtual', 'binary-translation'];

async function evaluate(dc: DebugClient, expression: string): Promise<number> {
  const r = await dc.evaluateRequest({ expression, frameId: 0, context: 'watch' });
  return Number(r.body.result);
}

/** Something that forces the adapter to run one instruction at a time without stopping by itself. */
type Forcing = 'data breakpoint' | 'exception filter';

async function force(dc: DebugClient, how: Forcing): Promise<void> {
  if (how === 'data breakpoint') {
    // `printed` is written by the main loop only after the handler counted a tick.
    const info = await dc.dataBreakpointInfoRequest({ name: 'dword [printed]' });
    const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId!, accessType: 'write' }] });
    assert.equal(set.body.breakpoints[0].verified, true);
  } else {
    // timer.gasm takes no page fault: the filter never stops, it only makes every instruction checked.
    await dc.setExceptionBreakpointsRequest({ filters: [], filterOptions: [{ filterId: 'guest-exception', condition: '#PF' }] });
  }
}

describe('debugger: breakpoints on the first instruction of a handler, one instruction at a time', function () {
  this.timeout(60000);
  let dc: DebugClient;
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });
  const has = (m: Mode) => {
    if (!availableModes().includes(m)) throw new Error(`core/vmm registers no '${m}' technique (available: ${availableModes().join(', ')})`);
    return true;
  };

  for (const mode of MODES) {
    // Under trap-and-emulate, paravirtual and binary translation the VMM maps guest pages on first
    // use: `printed` is not mapped yet at the entry stop, so those are forced by the filter only.
    const forcings: Forcing[] = mode === 'native' || mode === 'hardware-assisted' ? ['data breakpoint', 'exception filter'] : ['exception filter'];
    for (const how of forcings) {
      it(`${mode}, with a ${how}: stops at the IRQ 0 handler's first instruction, before it runs (timer.gasm)`, async function () {
        if (!has(mode)) this.skip();
        const { stop } = await launchToStop(dc, { program: TIMER, mode, stopOnEntry: true }, { breakpoints: [{ path: TIMER, breakpoints: [{ line: HANDLER }] }] });
        assert.equal(stop.body.reason, 'entry');
        await force(dc, how);
        for (let tick = 0; tick < 2; tick++) {
          const s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
          assert.equal(s.body.reason, 'breakpoint', `tick ${tick + 1}: ${s.body.description}`);
          assert.equal((await topFrame(dc)).line, HANDLER);
          assert.equal(await evaluate(dc, 'dword [ticks]'), tick, 'the handler has not run yet');
          if (how === 'data breakpoint' && tick === 0) {
            // Then the main loop reports the tick: the data breakpoint on `printed`.
            const d = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
            assert.equal(d.body.reason, 'data breakpoint', d.body.description);
          }
        }
      });
    }

    it(`${mode}: step in from the sti; hlt of the main loop lands on a breakpoint at the handler's first instruction (timer.gasm)`, async function () {
      if (!has(mode)) this.skip();
      const { stop } = await launchToStop(dc, { program: TIMER, mode, stopOnEntry: false }, { breakpoints: [{ path: TIMER, breakpoints: [{ line: HLT }, { line: HANDLER }] }] });
      assert.equal(stop.body.reason, 'breakpoint');
      assert.equal((await topFrame(dc)).line, HLT);
      // From hlt (the instruction after sti): the CPU sleeps, then the timer's interrupt arrives.
      let s: DebugProtocol.StoppedEvent | undefined;
      for (let k = 0; k < 3; k++) {
        s = await resumeToStop(dc, dc.stepInRequest({ threadId: 1 }));
        const line = (await topFrame(dc)).line;
        if (line < HLT - 6 || line > HLT + 1) break;
      }
      assert.equal(s!.body.reason, 'breakpoint', s!.body.description);
      assert.equal((await topFrame(dc)).line, HANDLER);
      assert.equal(await evaluate(dc, 'dword [ticks]'), 0, 'the handler has not run yet');
      // Stepping on runs the handler's first instruction.
      const n = await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
      assert.equal(n.body.reason, 'step');
      assert.equal((await topFrame(dc)).line, HANDLER + 1);
    });

    it(`${mode}, with an exception filter: stops at the #GP handler's first instruction (rings.gasm)`, async function () {
      if (!has(mode)) this.skip();
      const { stop } = await launchToStop(dc, { program: RINGS, mode, stopOnEntry: false }, {
        breakpoints: [{ path: RINGS, breakpoints: [{ line: GP_HANDLER }] }],
        exceptions: { filters: [], filterOptions: [{ filterId: 'guest-exception', condition: '#PF' }] },
      });
      assert.equal(stop.body.reason, 'breakpoint', stop.body.description);
      assert.equal((await topFrame(dc)).line, GP_HANDLER);
      const st = await dc.stackTraceRequest({ threadId: 1 });
      assert.deepEqual(st.body.stackFrames.map((f) => f.name.split(' @')[0]), ['gp_handler', 'user_main (interrupted)']);
    });
  }

  it('hardware-assisted with checkEquivalence: stops at the handler\'s first instruction and the native twin stays in lock step', async function () {
    if (!has('hardware-assisted')) this.skip();
    const out = collectOutput(dc);
    const { stop } = await launchToStop(dc, { program: TIMER, mode: 'hardware-assisted', stopOnEntry: false, checkEquivalence: true }, {
      breakpoints: [{ path: TIMER, breakpoints: [{ line: HANDLER }] }], exceptions: { filters: ['divergence'] },
    });
    assert.equal(stop.body.reason, 'breakpoint', stop.body.description);
    assert.equal((await topFrame(dc)).line, HANDLER);
    for (let k = 1; k <= 3; k++) {
      const s = await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
      assert.equal(s.body.reason, 'step', s.body.description);
      assert.equal((await topFrame(dc)).line, HANDLER + k);
    }
    // A second tick: the twin delivers it at the same instruction.
    const again = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.equal(again.body.reason, 'breakpoint', again.body.description);
    assert.equal(await evaluate(dc, 'dword [ticks]'), 1);
    // Step back from the handler's entry returns before the delivery, and forward stops there again.
    await resumeToStop(dc, dc.stepBackRequest({ threadId: 1, granularity: 'instruction' }));
    assert.notEqual((await topFrame(dc)).line, HANDLER);
    const fwd = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.equal(fwd.body.reason, 'breakpoint', fwd.body.description);
    assert.equal((await topFrame(dc)).line, HANDLER);
    await dc.setBreakpointsRequest({ source: { path: TIMER }, breakpoints: [] });
    await Promise.all([dc.continueRequest({ threadId: 1 }), dc.waitForEvent('terminated', 60000)]);
    assert.doesNotMatch(out.text('console'), /Divergence from native:/);
    assert.match(out.text('console'), /Compared with native: same console and outcome\./);
  });

  for (const mode of ['trap-and-emulate', 'paravirtual'] as Mode[]) {
    it(`${mode} with checkEquivalence: the native twin stays in lock step through a stop at the handler's first instruction`, async function () {
      if (!has(mode)) this.skip();
      const out = collectOutput(dc);
      // The divergence filter off: the frames these techniques push differ from native (listed, not stopped at).
      const { stop } = await launchToStop(dc, { program: TIMER, mode, stopOnEntry: false, checkEquivalence: true }, {
        breakpoints: [{ path: TIMER, breakpoints: [{ line: HANDLER }] }], exceptions: { filters: [] },
      });
      assert.equal(stop.body.reason, 'breakpoint', stop.body.description);
      assert.equal((await topFrame(dc)).line, HANDLER);
      for (let k = 1; k <= 3; k++) {
        const s = await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
        assert.equal(s.body.reason, 'step', s.body.description);
        assert.equal((await topFrame(dc)).line, HANDLER + k);
      }
      await dc.setBreakpointsRequest({ source: { path: TIMER }, breakpoints: [] });
      await Promise.all([dc.continueRequest({ threadId: 1 }), dc.waitForEvent('terminated', 60000)]);
      // One instruction apart, the two would differ in EIP.
      assert.doesNotMatch(out.text('console'), /Divergence from native: .*EIP 0x/);
      assert.match(out.text('console'), /Compared with native: same console and outcome\./);
    });
  }
});
