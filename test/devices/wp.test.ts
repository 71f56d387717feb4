// CR0.WP = 0: a supervisor write to a read-only page succeeds (a supervisor page and a user page,
// a clean and a dirty PTE), and with WP = 1 the same write faults — in QEMU and in every technique
// (shadow paging under trap-and-emulate, BT and VT-x without EPT; direct paging under paravirtual).
import * as assert from 'node:assert/strict';
import { assertAsQemu, modes, popekGuest, qemuGuest } from './support';

describe('devices: CR0.WP = 0 in every technique', function () {
  this.timeout(60_000);
  for (const mode of modes()) {
    it(`${mode}: wp.gasm console and exit status as in QEMU`, async () => {
      const q = await qemuGuest('wp');
      assert.match(q.console, /wp=0 writes: 11223344 55 cafef00d/);
      const r = popekGuest('wp', mode);
      assertAsQemu(r, q);
    });
  }
  it('hardware-assisted without EPT (shadow paging): as in QEMU', async () => {
    const q = await qemuGuest('wp');
    const r = popekGuest('wp', 'hardware-assisted', { techniqueOptions: { ept: false } });
    assertAsQemu(r, q);
  });
});
