// Host input for the guest: COM1's receive line (RBR, IER, IIR 0x04, LSR.DR, IRQ 4) against QEMU fed
// on stdin, and the 8042 keyboard controller (commands against QEMU; typed keys as scan code set 1).
import * as assert from 'node:assert/strict';
import { scanCodes } from '../../core/devices/ps2';
import { createVm } from '../../core/vmm';
import { assertAsQemu, guestProgram, modes, popekGuest, qemuGuest, qemuGuestWithSerialInput } from './support';

const LINE = 'hello, popek 42\n';

describe('devices: COM1 receive and the PS/2 keyboard', function () {
  this.timeout(60_000);
  for (const mode of modes()) {
    it(`${mode}: serial.gasm reads a line from COM1 as in QEMU`, async () => {
      const q = await qemuGuestWithSerialInput('serial', LINE);
      assert.match(q.console, /got HELLO, POPEK 42/);
      const r = popekGuest('serial', mode, {}, (vm) => vm.machine.input(LINE, 'serial'));
      assertAsQemu(r, q);
    });
    it(`${mode}: ps2.gasm's controller and keyboard commands as in QEMU`, async () => {
      const q = await qemuGuest('ps2');
      assert.match(q.console, /self test 55/);
      const r = popekGuest('ps2', mode);
      assert.equal(r.console, q.console, r.error);
    });
  }

  it('typed keys reach the guest as set-1 make and break codes through IRQ 1', () => {
    const vm = createVm({ mode: 'trap-and-emulate', maxInstructions: 20_000_000 });
    vm.load(guestProgram('ps2'));
    let typed = false;
    for (;;) {
      const r = vm.runSlice(500);
      // Straight into the controller (a user's keys come a byte per millisecond: Machine.input, keys.test.ts).
      if (!typed && vm.machine.console.includes('enable fa')) { vm.machine.ps2.sendScanCodes([...scanCodes('a')!, ...scanCodes('Z')!]); typed = true; }
      if (r !== 'slice') break;
    }
    // The bytes before the keys are the controller's last reply, read again on the IRQ 1 edge that
    // the command replies left latched in the 8259 (QEMU's guest sees the same 0xFA).
    const keys = /keys (.*)/.exec(vm.machine.console)![1].trim().split(' ').map((h) => parseInt(h, 16)).filter((b) => b !== 0xfa);
    // IBM scan code set 1: A is 0x1E; Z is 0x2C with left shift (0x2A) around it; breaks are make | 0x80.
    assert.deepEqual(keys.slice(0, 4), [0x1e, 0x9e, 0x2a, 0x2c]);
    assert.deepEqual(scanCodes('Z'), [0x2a, 0x2c, 0xac, 0xaa]);
    assert.deepEqual(scanCodes('\n'), [0x1c, 0x9c]);
  });
});
