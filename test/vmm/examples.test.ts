// Every example under the deprivileged techniques: trap-and-emulate and paravirtual must run each
// one to a proper end without a crash of the tool; where the example has no critical instruction
// whose result it prints, the console and exit status equal native's.
import * as assert from 'node:assert/strict';
import { createVm, type Mode } from '../../core/vmm';
import { example, exampleNames } from './support';

const OK_OUTCOMES = ['exit', 'shutdown', 'halt', 'limit'];
/** Examples that print what their critical instructions saw (they diverge on purpose). */
const DIVERGING = new Set(['critical']);

function run(name: string, mode: Mode) {
  const vm = createVm({ mode, maxInstructions: 30_000_000 });
  vm.load(example(name));
  vm.run();
  return vm.report();
}

describe('vmm: the examples under trap-and-emulate and paravirtual', function () {
  this.timeout(120_000);
  const names = exampleNames();
  const native = new Map<string, ReturnType<typeof run>>();
  before(() => { for (const n of names) native.set(n, run(n, 'native')); });

  it('finds the examples', () => assert.ok(names.includes('critical') && names.includes('exits') && names.includes('pv-hello')));

  for (const mode of ['trap-and-emulate', 'paravirtual'] as const) {
    for (const name of exampleNames()) {
      it(`${mode}: ${name}`, () => {
        const r = run(name, mode);
        assert.ok(OK_OUTCOMES.includes(r.outcome), `outcome ${r.outcome}${r.error ? `: ${r.error}` : ''}`);
        const n = native.get(name)!;
        if (DIVERGING.has(name)) return;
        if (name === 'pv-hello' && mode === 'paravirtual') return; // takes the hypercall path (its own test)
        assert.equal(r.console, n.console);
        assert.equal(r.exitCode, n.exitCode);
        assert.equal(r.instructions, n.instructions, 'every guest instruction retires once, emulated or not');
        assert.ok(r.cycles > n.cycles, 'the VMM work costs modelled cycles');
      });
    }
  }
});
