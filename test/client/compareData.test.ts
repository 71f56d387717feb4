/* The compare view's model from `popek compare --json`, in the shapes the CLI may print. */
import * as assert from 'node:assert/strict';
import { normaliseCompare } from '../../client/compareData';
import { parseJsonOutput } from '../../client/cli';

const run = (mode: string, cycles: number, extra: Record<string, unknown> = {}) => ({
  mode, outcome: 'exit', exitCode: 1, console: 'hi\n', instructions: 100, cycles,
  traps: {}, critical: {}, vmExits: {}, hypercalls: {}, translation: { blocks: 0, instructions: 0, cacheHits: 0 }, wallMs: 1, ...extra,
});

describe('client: compare data', () => {
  it('an array of runs: totals, overhead against native, events by reason', () => {
    const m = normaliseCompare([
      run('native', 1000),
      run('trap-and-emulate', 5000, { traps: { cli: 2, out: 3 }, critical: { popfd: 1 }, consoleEqual: true, screenMatchesNative: false }),
      run('hardware-assisted', 3000, { vmExits: { CPUID: 1, IO_INSTRUCTION: 3 }, cyclesBy: { instructions: 100, CPUID: 1400, IO_INSTRUCTION: 1500 } }),
    ], '/ws/hello.gasm');
    assert.equal(m.file, '/ws/hello.gasm');
    assert.deepEqual(m.rows.map((r) => r.mode), ['native', 'trap-and-emulate', 'hardware-assisted']);
    const te = m.rows[1];
    assert.equal(te.traps, 5);
    assert.equal(te.critical, 1);
    assert.equal(te.overhead, 5);
    assert.equal(te.consoleEqual, true);
    assert.equal(te.screenEqual, false);
    assert.equal(m.rows[2].screenEqual, null, 'no screen field: unknown');
    assert.deepEqual(te.eventsBy, { 'trap: cli': 2, 'trap: out': 3 });
    const ha = m.rows[2];
    assert.equal(ha.vmExits, 4);
    assert.deepEqual(ha.cyclesBy, { instructions: 100, CPUID: 1400, IO_INSTRUCTION: 1500 });
    assert.equal(m.rows[0].consoleEqual, null, 'unknown stays unknown');
  });

  it('an object holding the runs, keyed by mode, with the CLI\'s own overhead', () => {
    const m = normaliseCompare({ file: 'a.gasm', modes: { native: run('x', 10), paravirtual: { ...run('x', 20), overhead: 2.5 } } });
    assert.equal(m.file, 'a.gasm');
    assert.deepEqual(m.rows.map((r) => [r.mode, r.overhead]), [['native', 1], ['paravirtual', 2.5]]);
  });

  it('rejects output with no runs, rather than drawing an empty view', () => {
    assert.throws(() => normaliseCompare({ hello: 1 }), /unrecognised/);
    assert.throws(() => normaliseCompare([]), /no runs/);
  });

  it('finds the JSON after trace lines', () => {
    assert.deepEqual(parseJsonOutput('[trace] exit CPUID\n{"mode":"native"}\n'), { mode: 'native' });
    assert.deepEqual(parseJsonOutput('event 1\n{\n  "a": [1, 2]\n}\n'), { a: [1, 2] });
    assert.throws(() => parseJsonOutput('no json here'), /no JSON/);
  });
});
