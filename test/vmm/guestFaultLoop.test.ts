// A guest whose exception handler faults at its first instruction takes the same exception again
// at once, forever, without retiring an instruction — outside any instruction budget. A public
// teaching kernel does exactly this (its interrupt stub reloads DS with the selector the boot loader
// left there, which its own GDT makes a code segment, and the handler's first store then #GPs): the
// run hung inside one instruction (this guest, its stack elsewhere, ended as a triple fault only after
// tens of thousands of deliveries, when its frames reached memory the CPU needs). The CPU's watchdog
// (Cpu.stalled) now ends it with outcome 'error' naming the exception and where, as a fault loop in
// every technique (not as a monitor livelock: the monitors only reflect the guest's own faults); a
// handler that works is unaffected.
import * as assert from 'node:assert/strict';
import { MODES } from '../../core/vmm';
import { idtGate } from '../support/guestAsm';
import { boot, guest, runTo } from './support';

/** `fixDs`: whether the #GP handler reloads DS with a data segment before its store. */
const kernel = (fixDs: boolean) => guest(`
  bits 32
  start:
    mov esp, 0x90000
    lidt [idtr]
    ${idtGate(13, 'gp_handler').join('\n    ')}
    mov ax, cs                  ; DS := the (readable) code segment: loads fine, but no store may use it
    mov ds, ax
  faulting:
    mov byte [marker], 1        ; #GP(0): a write through a code segment
    hlt
  gp_handler:
    ${fixDs ? 'mov ax, ss\n    mov ds, ax' : ''}
  handler_store:
    mov byte [marker], 13       ; without the fix: #GP(0) again, here
    mov ebx, 0x600d
    out 0xf4, al
    hlt
  idtr: dw 14*8 - 1
        dd idt
  marker: db 0
  align 8
  idt: times 14*8 db 0
`);

describe('vmm: a guest exception handler that faults at once ends the run with a clear error', function () {
  this.timeout(60_000);
  const looping = kernel(false), working = kernel(true);
  for (const mode of MODES) {
    it(mode, () => {
      const ok = boot(working.program, mode).vm;
      ok.run();
      assert.equal(ok.outcome, 'exit', `${mode}: ${ok.report().error}`);
      assert.equal(ok.cpu.regs[3], 0x600d, `${mode}: the working handler ran`);

      const { vm } = boot(looping.program, mode);
      vm.run();
      const r = vm.report();
      assert.equal(r.outcome, 'error', `${mode}: ${r.error}`);
      const at = looping.label('handler_store').toString(16).padStart(8, '0');
      assert.match(r.error ?? '', new RegExp(`took \\d+ exceptions without retiring an instruction \\(the last #GP at 0x${at}\\).*\\(fault loop\\)`));
      assert.notEqual(vm.cpu.regs[3], 0x600d, `${mode}: nothing after the handler's store ran`);
      // Retired: the set-up up to the first faulting store, and nothing after it.
      const before = boot(looping.program, mode).vm;
      runTo(before, looping.label('faulting'));
      assert.equal(vm.cpu.icount, before.cpu.icount, `${mode}: instructions retired`);
    });
  }
});
