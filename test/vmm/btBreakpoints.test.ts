// Binary translation with debugger breakpoints (issue 14's debugger on issue 10's BT): a breakpoint in
// guest kernel code must not take the guest off the translator. Before, any breakpoint made BT run
// ring-0 code on the bare CPU: examples/paging.gasm's `mov cr3`/`mov cr0` loaded the real registers,
// so at the stop the real CR3 was the guest's own page directory and the VMM's virtual CR0 had no PG.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isOutcome } from '../../core/machine/machine';
import type { BinaryTranslationTechnique } from '../../core/vmm/bt/binaryTranslation';
import { EXAMPLES, boot, guest } from './support';

const PG = 0x80000000;
const paging = guest(fs.readFileSync(path.join(EXAMPLES, 'paging.gasm'), 'utf8'));

describe('vmm/bt: debugger breakpoints keep the guest virtualized', function () {
  this.timeout(60_000);

  it('at a breakpoint after the guest enabled paging: the VMM holds CR0.PG and the guest CR3, the CPU runs on the shadow; the run ends as without breakpoints', function () {
    const plain = boot(paging.program, 'binary-translation').vm;
    let r: string;
    do r = plain.runSlice(1_000_000); while (!isOutcome(r as Parameters<typeof isOutcome>[0]));

    const { vm, events } = boot(paging.program, 'binary-translation');
    const mmu = (vm.technique as BinaryTranslationTechnique).mmu;
    const puts = paging.label('puts') | 0;
    vm.cpu.breakpoints.add(puts);
    let hits = 0;
    for (;;) {
      r = vm.runSlice(1_000_000);
      if (isOutcome(r as Parameters<typeof isOutcome>[0])) break;
      if (r !== 'breakpoint') continue;
      assert.equal((vm.cpu.eip + vm.cpu.segBase[1]) | 0, puts, 'stopped before puts');
      if (++hits === 2) { // the first call after paging is on (the first prints the banner)
        assert.ok((mmu.cr0 & PG) !== 0, 'the guest\'s CR0.PG is in the VMM');
        assert.equal(mmu.cr3 >>> 0, paging.label('page_directory'), 'the guest\'s CR3 is in the VMM');
        assert.notEqual(vm.cpu.cr3 >>> 0, paging.label('page_directory'), 'the CPU runs on the shadow directory, not the guest\'s');
        assert.ok(events.some((e) => e.kind === 'callout' && e.mnemonic === 'mov'), 'MOV CR3/CR0 were callouts, emulated on the virtual CPU');
      }
    }
    assert.ok(hits > 2, `puts was reached ${hits} times`);
    assert.equal(r, plain.machine.outcome ?? r);
    assert.equal(vm.machine.console, plain.machine.console);
    assert.equal(vm.cpu.icount, plain.cpu.icount, 'same instruction count as without breakpoints');
  });
});
