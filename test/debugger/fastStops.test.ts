/*
 * `continue` with exception filters or data breakpoints runs the fast path (compiled blocks and
 * regions; an event or a watched write asks the CPU to stop, and the stop is placed exactly after).
 * The reference is the same session checking after every instruction (`oneAtATime`): for every
 * technique, the stops — instruction count, EIP, reason, description, registers — must be the same,
 * while the fast path checked only a few instructions one by one.
 */
import * as assert from 'node:assert/strict';
import { DebugRuntime } from '../../debugger/runtime/runtime';
import type { ExceptionFilterId } from '../../debugger/runtime/breakpoints';
import type { Mode } from '../../core/vmm';
import { fixture } from './support';

const HOTLOOP = fixture('hotloop.gasm');
/** Stops collected per run (the guest has 6 rounds of each event). */
const MAX_STOPS = 8;

interface Run { stops: string[]; instructions: number; oneByOne: number }

type Watch = { filter: ExceptionFilterId } | { variable: string; hitCondition?: string };

async function run(mode: Mode, watch: Watch, oneAtATime: boolean): Promise<Run> {
  const stops: string[] = [];
  let rt!: DebugRuntime;
  await new Promise<void>((resolve, reject) => {
    rt = new DebugRuntime({ program: HOTLOOP, mode, cost: 'modern', memoryMiB: 16, maxInstructions: 0, checkEquivalence: false, trace: false, oneAtATime }, {
      stopped: (s) => {
        const regs = [...rt.cpu.regs].map((r) => (r >>> 0).toString(16)).join(' ');
        stops.push(`${rt.instructions} ${rt.pc.toString(16)} ${s.reason}: ${s.description} [${regs}]`);
        if (stops.length >= MAX_STOPS) resolve(); else setImmediate(() => rt.continue());
      },
      output: (text, category) => { if (category === 'stderr') reject(new Error(text)); },
      ended: (message) => { stops.push(`end: ${message}`); resolve(); },
    });
    if ('filter' in watch) rt.setExceptionFilters([{ id: watch.filter }]);
    else {
      const label = rt.program.index.label(watch.variable);
      assert.ok(label, watch.variable);
      const [bp] = rt.setDataBreakpoints([{ address: label.address, size: 4, hitCondition: watch.hitCondition }]);
      assert.ok(bp.verified);
    }
    rt.continue();
  });
  const result = { stops, instructions: rt.instructions, oneByOne: rt.checkedOneByOne };
  rt.dispose();
  return result;
}

// Binary translation's `critical` events come from its callouts, which single instructions run
// outside of (the reference path interprets them): the two paths see different events by design.
const CASES: Array<[Mode, Watch]> = [
  ['native', { filter: 'guest-exception' }],
  ['native', { variable: 'last', hitCondition: '%700' }],
  ['trap-and-emulate', { filter: 'trap' }],
  ['trap-and-emulate', { filter: 'critical' }],
  ['trap-and-emulate', { variable: 'counter' }],
  ['paravirtual', { filter: 'guest-exception' }],
  ['binary-translation', { filter: 'guest-exception' }],
  ['binary-translation', { variable: 'last', hitCondition: '%700' }],
  ['hardware-assisted', { filter: 'vmexit' }],
  ['hardware-assisted', { variable: 'counter' }],
];

describe('debugger: continue with filters and data breakpoints on the fast path', function () {
  this.timeout(60000);
  for (const [mode, watch] of CASES) {
    const what = 'filter' in watch ? `the ${watch.filter} filter` : `a data breakpoint on ${watch.variable}${watch.hitCondition ? ` (hit ${watch.hitCondition})` : ''}`;
    it(`${mode}, ${what}: the same stops as checking every instruction`, async () => {
      const fast = await run(mode, watch, false);
      const reference = await run(mode, watch, true);
      assert.ok(reference.stops.length >= 3, `the reference run stopped only ${reference.stops.length} times:\n${reference.stops.join('\n')}`);
      assert.deepEqual(fast.stops, reference.stops);
      // The reference checked every instruction it ran; the fast path only a few (placing stops).
      assert.equal(reference.oneByOne >= reference.instructions, true);
      assert.ok(fast.oneByOne < fast.instructions / 10, `${fast.oneByOne} of ${fast.instructions} instructions were checked one by one`);
    });
  }
});
