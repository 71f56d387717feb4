// The CMOS RTC against QEMU (test/devices/guests/cmos.gasm): status registers, memory bytes, an
// update cycle through UIP, the date and time — QEMU's clock set to 2000-01-01 00:00:00 in VM time,
// Popek's deterministic clock 1 ms before its first second ends (so the update cycle comes soon).
import * as assert from 'node:assert/strict';
import { assertAsQemu, modes, popekGuest, qemuGuest } from './support';

// QEMU runs with -icount (support.ts): on a loaded host a wall-clock VM time made its boot take "10 or more" seconds.
const QEMU_RTC = { extraArgs: ['-rtc', 'base=2000-01-01T00:00:00,clock=vm', '-global', 'isa-fdc.fdtypeA=none'] };
const RTC_START = Date.UTC(2000, 0, 1, 0, 0, 0, 999);

describe('devices: CMOS RTC', function () {
  this.timeout(60_000);
  for (const mode of modes()) {
    it(`${mode}: cmos.gasm as in QEMU`, async () => {
      const q = await qemuGuest('cmos', QEMU_RTC);
      assert.match(q.console, /update cycle seen/);
      const r = popekGuest('cmos', mode, { rtcStart: RTC_START });
      assertAsQemu(r, q);
    });
  }
  it('the clock follows simulated time: the same run reads the same seconds', () => {
    const a = popekGuest('cmos', 'native', { rtcStart: RTC_START }), b = popekGuest('cmos', 'native', { rtcStart: RTC_START });
    assert.equal(a.console, b.console);
    assert.equal(a.instructions, b.instructions);
  });
});
