// The x87 under the CR0 bits against QEMU (test/devices/guests/fpu.gasm): #NM with TS (and FWAIT
// with MP), with EM; #MF for an unmasked exception with NE = 1; FSAVE / FRSTOR and FXSAVE / FXRSTOR
// round trips — in every technique. IRQ 13 with NE = 0 only in Popek: QEMU 7.2's TCG aborts there.
import * as assert from 'node:assert/strict';
import { assertAsQemu, modes, nasmGuestProgram, popekGuest, qemuGuest } from './support';

describe('devices: x87 and CR0.EM / MP / TS / NE', function () {
  this.timeout(60_000);
  for (const mode of modes()) {
    it(`${mode}: fpu.gasm as in QEMU`, async () => {
      const q = await qemuGuest('fpu');
      assert.match(q.console, /#MF count, status 00000001/);
      const r = popekGuest('fpu', mode, {}, undefined, nasmGuestProgram('fpu'));
      assertAsQemu(r, q);
    });
  }
  it('NE = 0: the pending error goes out on FERR# as IRQ 13 (once, cleared by port 0xF0 and FNCLEX)', () => {
    const r = popekGuest('fpu', 'native', {}, undefined, nasmGuestProgram('fpu', { FERR: 1 }));
    assert.equal(r.outcome, 'exit', r.error);
    assert.match(r.console, /^irq13 count 00000001$/m);
  });
});
