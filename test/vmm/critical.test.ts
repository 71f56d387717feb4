// The divergence describers of critical instructions (core/vmm/critical.ts) are keyed by table row:
// every row that silently shows or loads a different value at CPL 1 has one, and only critical rows
// do. What they say is checked on real runs in trapAndEmulate.test.ts and test/kernels/divergence.
import * as assert from 'node:assert/strict';
import { allInstructions, virtFactsFor } from '../../core/isa/table';
import { describedRows } from '../../core/vmm/critical';

describe('vmm/critical: a describer per critical row', () => {
  const described = new Set(describedRows().map((i) => i.mnemonic));

  it('only critical rows are described', () => {
    for (const info of describedRows()) {
      assert.ok(info.forms.some((f) => virtFactsFor(info, f).class === 'critical'), `${info.mnemonic} has a critical form`);
    }
  });

  it('every sensitive-register row (Robin & Irvine §1a) and every value-revealing protection row is described', () => {
    const revealing = new Set(['lar', 'lsl', 'verr', 'verw', 'str', 'push', 'mov']);
    for (const info of allInstructions()) {
      const groups = new Set(info.forms.map((f) => virtFactsFor(info, f).group));
      if (groups.has('sensitive-register')) assert.ok(described.has(info.mnemonic), `${info.mnemonic} (sensitive register) has a describer`);
      if (revealing.has(info.mnemonic)) assert.ok(groups.has('protection-system') && described.has(info.mnemonic), `${info.mnemonic} has a describer`);
    }
    assert.ok(['sgdt', 'sidt', 'sldt', 'smsw', 'pushfd', 'popfd', 'iretd'].every((m) => described.has(m)));
  });
});
