// PIIX4's ACPI power-management registers at 0x600 against QEMU (test/devices/guests/acpiPm.gasm):
// PM1 status / enable / control as they read back, the PM timer's rate against the PIT (3.00 PM
// ticks per PIT tick on both), and the power-off `outw(0x604, 0x2000)` that ends the run — in every
// technique.
import * as assert from 'node:assert/strict';
import { modes, popekGuest, qemuGuest, qemuStatus } from './support';

describe('devices: ACPI power management (PM timer, power-off) as in QEMU', function () {
  this.timeout(60_000);

  it('QEMU: three PM ticks per PIT tick, and the power-off stops it', async () => {
    const q = await qemuGuest('acpiPm');
    assert.match(q.console, /^pm timer ticks per PIT tick x100 0000012c$/m, q.console);
    assert.equal(q.exitStatus, 0);
  });

  for (const mode of modes()) {
    it(`${mode}: acpiPm.gasm as in QEMU, ending in a power-off`, async () => {
      const q = await qemuGuest('acpiPm');
      const r = popekGuest('acpiPm', mode);
      assert.equal(r.console, q.console, r.error);
      assert.equal(r.outcome, 'shutdown', r.error);
      assert.equal(r.exitCode, 0, 'reason: poweroff');
      assert.equal(qemuStatus(r), q.exitStatus);
    });
  }
});
