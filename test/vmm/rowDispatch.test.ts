// The techniques dispatch on the instruction table's rows (core/isa/table.ts), as KVM dispatches on
// the exit reason: these check that the rows and the dispatch tables agree — every exit reason a row
// names is one the VT-x decisions handle, with the number the SDM gives it (exitReasons.ts).
import * as assert from 'node:assert/strict';
import { allInstructions, virtFactsFor } from '../../core/isa/table';
import { InsnClass } from '../../core/cpu/monitor';
import { EXIT_REASON } from '../../core/vmm/vmx/exitReasons';
import { DECIDED_REASONS, INTERCEPTED_CLASSES } from '../../core/vmm/vmx/nonRoot';

describe('vmm: dispatch by instruction-table row', function () {
  it('every VM exit a row names has a decision, under the SDM number of its reason', function () {
    let rows = 0;
    for (const info of allInstructions()) {
      for (const form of info.forms) {
        const e = virtFactsFor(info, form).vmExit;
        if (e.kind === 'none') continue;
        assert.equal(EXIT_REASON[e.reason as keyof typeof EXIT_REASON], e.reasonNumber, `${info.mnemonic} ${form.encoding}: ${e.reason}`);
        // Only instructions the CPU shows the monitor can exit; those need a decision.
        if (form.intercept && (InsnClass[form.intercept] & INTERCEPTED_CLASSES)) {
          assert.ok(DECIDED_REASONS.has(e.reason), `${info.mnemonic} ${form.encoding}: no decision for ${e.reason}`);
          rows++;
        }
      }
    }
    assert.ok(rows > 30, `${rows} intercepted forms`);
  });
});
