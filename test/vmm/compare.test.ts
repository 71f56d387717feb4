// `popek compare`: every technique side by side against native.
import * as assert from 'node:assert/strict';
import { compareModes, formatCompare } from '../../cli/compareCommand';
import { availableModes } from '../../core/vmm';
import { example } from './support';

describe('vmm: popek compare', function () {
  this.timeout(120_000);

  it('critical.gasm: the deprivileged techniques differ from native, the others do not', () => {
    const rows = compareModes(example('critical'));
    assert.deepEqual(rows.map((r) => r.mode), availableModes());
    const row = (m: string) => rows.find((r) => r.mode === m)!;
    assert.equal(row('native').overhead, 0);
    for (const m of ['trap-and-emulate', 'paravirtual']) {
      assert.equal(row(m).consoleMatchesNative, false, m);
      assert.ok(row(m).critical > 0 && row(m).traps > 0, m);
      assert.ok(row(m).overhead! > 0, m);
    }
    for (const m of ['binary-translation', 'hardware-assisted'].filter((x) => rows.some((r) => r.mode === x))) {
      assert.equal(row(m).consoleMatchesNative, true, m);
      assert.equal(row(m).exitCode, row('native').exitCode, m);
    }
    const text = formatCompare(rows);
    assert.match(text, /^mode\s+outcome\s+exit\s+console\s+screen\s+instructions\s+cycles\s+overhead\s+traps\s+exits\s+hypercalls\s+critical$/m);
    assert.match(text, /^trap-and-emulate\s+exit\s+21\s+DIFFERS/m);
  });

  it('pv-hello: hypercalls only in paravirtual mode', () => {
    const rows = compareModes(example('pv-hello'), { modes: ['native', 'paravirtual'] });
    assert.equal(rows[1].hypercalls, 2);
    assert.equal(rows[1].outcome, 'shutdown');
    assert.equal(rows[0].hypercalls, 0);
  });
});
