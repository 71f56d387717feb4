// The firmware tables (BIOS data area, MP floating pointer and configuration table, ACPI RSDP, RSDT,
// FADT with its FACS and the DSDT's \_S5, MADT) as a kernel reads them, against QEMU's SeaBIOS:
// test/devices/guests/firmware.gasm finds them the way xv6, Linux and hobby kernels' shutdown code
// do and prints their contents and addresses.
import * as assert from 'node:assert/strict';
import { assertAsQemu, modes, popekGuest, qemuGuest } from './support';

describe('devices: firmware tables as SeaBIOS leaves them', function () {
  this.timeout(60_000);
  it('QEMU has them where the guest looks', async () => {
    const q = await qemuGuest('firmware');
    assert.match(q.console, /^bda 00009fc0 0000027f$/m);
    assert.match(q.console, /^mp F 000f5ba0 ok /m);
    assert.match(q.console, /^table 41504943 00fe1a00 ok /m);
    assert.match(q.console, /^ dsdt 00fe0040 44534454 ok 01 5f53355f120604000000 $/m, 'the \\_S5 package: SLP_TYP 0');
  });
  for (const mode of modes()) {
    it(`${mode}: the same contents as QEMU`, async () => {
      const q = await qemuGuest('firmware');
      const r = popekGuest('firmware', mode);
      assertAsQemu(r, q);
    });
  }
});
