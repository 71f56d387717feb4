// PCI configuration space (mechanism #1, 0xCF8/0xCFC) against QEMU's `-machine pc -nic none` (every test's QEMU): the
// bus scan, every present function's 256 bytes, BAR sizing, what writes stick, the corner cases of
// the two ports, and PIIX3's reset control register (test/devices/guests/pci.gasm) — in every technique.
import * as assert from 'node:assert/strict';
import { assertAsQemu, modes, popekGuest, qemuGuest } from './support';

describe('devices: PCI configuration space as in QEMU', function () {
  this.timeout(60_000);
  const qemu = () => qemuGuest('pci');

  it('QEMU shows its five functions and resets through 0xCF9', async () => {
    const q = await qemu();
    assert.equal(q.console.match(/^function /gm)?.length, 5, q.console);
    assert.match(q.console, /^12378086 /m, 'the i440FX host bridge');
    assert.match(q.console, /^reset control after 0xfa 02$/m);
    assert.equal(q.exitStatus, 0, 'the reset stops QEMU (-no-reboot)');
  });

  for (const mode of modes()) {
    it(`${mode}: pci.gasm as in QEMU`, async () => {
      const q = await qemu();
      const r = popekGuest('pci', mode);
      assertAsQemu(r, q);
      assert.match(r.error ?? '', /0xCF9/);
    });
  }
});
