// The nanobenchmarks of examples/nanobench/ (Adams & Agesen, ASPLOS 2006 style) under the
// first-generation VT-x cost profile must reproduce the paper's qualitative findings: binary
// translation beats hardware assistance on the port-I/O loop and on the page-table-update loop,
// hardware assistance beats binary translation on the system-call loop. Every guest must also run
// to its own end under every technique.
import * as assert from 'node:assert/strict';
import { NANOBENCHMARKS, formatNanobenchTable, nanobenchRows, type NanobenchRow } from '../../cli/bench/vmmBench';
import { availableModes } from '../../core/vmm';

describe('vmm: nanobenchmarks (vtx-2006 profile)', function () {
  this.timeout(300_000);
  let rows: NanobenchRow[];
  before(() => { rows = nanobenchRows('vtx-2006', availableModes(), 20, 120); });
  const row = (name: string) => rows.find((r) => r.benchmark === name)!;

  it('every nanobenchmark runs to its exit under every technique', () => {
    assert.deepEqual(rows.map((r) => r.benchmark), [...NANOBENCHMARKS]);
    for (const r of rows) assert.ok(r.ok, `${r.benchmark} did not end with its "done" line`);
    for (const r of rows) assert.ok(r.perIteration.native! > 0 && r.perIteration.native! < 20, `${r.benchmark}: a few instructions per iteration natively`);
  });

  it('the deprivileged techniques pay for every trap in the loops that trap', () => {
    for (const name of ['in', 'crwr', 'ptemod', 'syscall', 'divzero', 'pgfault']) {
      assert.ok(row(name).perIteration['trap-and-emulate']! > 100 * row(name).perIteration.native!, name);
    }
    assert.equal(row('callret').perIteration['trap-and-emulate'], row('callret').perIteration.native, 'call/ret never traps');
  });

  it('reproduces Adams & Agesen: BT cheaper on in and ptemod, VT-x cheaper on syscall', function () {
    const modes = availableModes();
    assert.ok(modes.includes('binary-translation') && modes.includes('hardware-assisted'), `techniques registered: ${modes.join(', ')}`);
    const bt = (n: string) => row(n).perIteration['binary-translation']!;
    const hw = (n: string) => row(n).perIteration['hardware-assisted']!;
    assert.ok(bt('in') < hw('in'), `in: BT ${bt('in')} vs VT-x ${hw('in')}`);
    assert.ok(bt('ptemod') < hw('ptemod'), `ptemod: BT ${bt('ptemod')} vs VT-x ${hw('ptemod')}`);
    assert.ok(hw('syscall') < bt('syscall'), `syscall: VT-x ${hw('syscall')} vs BT ${bt('syscall')}`);
    assert.ok(bt('crwr') < hw('crwr'), `crwr (cr8wr): BT ${bt('crwr')} vs VT-x ${hw('crwr')}`);
  });

  it('prints a README-ready Markdown table', () => {
    const t = formatNanobenchTable(rows, 'vtx-2006');
    const lines = t.split('\n');
    assert.match(lines[0], /vtx-2006/);
    assert.match(lines[2], /^\| benchmark \| native \|/);
    assert.equal(lines.filter((l) => /^\| [a-z]/.test(l) && !l.startsWith('| benchmark')).length, NANOBENCHMARKS.length);
    assert.match(t, /\| ptemod \| \d/);
  });
});
