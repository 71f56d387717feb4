// Memory past the end of guest RAM, in every technique against QEMU (test/devices/guests/pastRam.gasm):
// QEMU reads zeros there and drops writes. Popek read all ones (a floating bus), so xv6 booted with
// Popek's default 16 MiB (it wants 224) walked a free list of 0xFFFFFFFF pointers into a triple fault
// where QEMU prints xv6's own "panic: userinit: out of memory?".
import * as assert from 'node:assert/strict';
import { assertAsQemu, modes, popekGuest, qemuGuest } from './support';

describe('devices: memory past the end of RAM reads as in QEMU', function () {
  this.timeout(60_000);
  it('QEMU: zeros, the writes dropped', async () => {
    const q = await qemuGuest('pastRam');
    assert.match(q.console, /^stored and read back past RAM 00000000$/m);
    assert.match(q.console, /^dword across the end 00004433$/m);
    assert.match(q.console, /^movsd from past RAM 00000000$/m);
  });
  for (const mode of modes()) {
    it(mode, async () => {
      const q = await qemuGuest('pastRam');
      const r = popekGuest('pastRam', mode);
      assertAsQemu(r, q);
    });
  }
});
