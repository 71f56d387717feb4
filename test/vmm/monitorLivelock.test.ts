// One watchdog for every technique, in the CPU's event delivery (Cpu.deliverEvent): a monitor that
// keeps taking events at one guest instruction (a VMM bug: it "handles" a fault without fixing
// anything) ends the run with outcome 'error', naming the event and the instruction, instead of
// spinning the host outside the instruction budget. A stand-in for the bug: each technique's monitor
// is told to swallow #UD. The same guest with the monitor intact reaches the guest's #UD handler.
import * as assert from 'node:assert/strict';
import { MAX_EVENTS_WITHOUT_RETIREMENT } from '../../core/cpu/cpu';
import type { Mode } from '../../core/vmm';
import { idtGate } from '../support/guestAsm';
import { boot, guest } from './support';

const UD = 6;

const g = guest(`
  bits 32
  start:
    mov esp, 0x90000
    lidt [idtr]
    ${idtGate(UD, 'ud_handler').join('\n    ')}
    mov ebx, 0x1234
  faulting:
    ud2
    hlt
  ud_handler:
    mov ebx, 0x600d
    out 0xf4, al
    hlt
  idtr: dw 8*8 - 1
        dd idt
  align 8
  idt: times 64 db 0
`);

describe('vmm: a monitor that never lets the guest retire an instruction is stopped', function () {
  this.timeout(60_000);
  for (const mode of ['binary-translation', 'hardware-assisted', 'trap-and-emulate', 'paravirtual'] as Mode[]) {
    it(mode, () => {
      // Intact: the guest's own #UD handler runs.
      const ok = boot(g.program, mode).vm;
      ok.run();
      assert.equal(ok.outcome, 'exit', mode);
      assert.equal(ok.cpu.regs[3], 0x600d, `${mode}: the guest's #UD handler ran`);

      // The monitor swallows #UD: the UD2 faults again and again, never retiring.
      const { vm } = boot(g.program, mode);
      const monitor = vm.cpu.monitor!;
      const onEvent = monitor.onEvent!.bind(monitor);
      let taken = 0;
      monitor.onEvent = (cpu, ev) => (ev.kind === 'exception' && ev.vector === UD ? (taken++, true) : onEvent(cpu, ev));
      vm.run();
      const r = vm.report();
      assert.equal(r.outcome, 'error', `${mode}: ${r.error}`);
      assert.match(r.error ?? '', /without the guest retiring an instruction; stopped \(monitor livelock\)/);
      assert.match(r.error ?? '', new RegExp(`the last #UD at 0x${g.label('faulting').toString(16).padStart(8, '0')}`));
      assert.equal(taken, MAX_EVENTS_WITHOUT_RETIREMENT + 1, `${mode}: stopped at the limit, not later`);
      assert.equal(vm.cpu.regs[3], 0x1234, `${mode}: nothing after the UD2 ran`);
    });
  }
});
