// The local APIC and the I/O APIC against QEMU (test/devices/guests/apic.gasm: registers after the
// firmware, the timer one-shot and periodic, IPI to self, TPR, ESR, the PIT through the I/O APIC),
// in every technique: each reaches the APICs' MMIO windows its own way — hidden page faults of the
// shadow (trap-and-emulate, BT, VT-x without EPT), faults of direct paging (paravirtual), APIC-access
// and EPT-violation exits (VT-x with EPT).
import * as assert from 'node:assert/strict';
import { modes, popekGuest, qemuGuest, qemuStatus } from './support';

describe('devices: local APIC and I/O APIC', function () {
  this.timeout(60_000);
  let nativeInstructions = 0;
  for (const mode of modes()) {
    it(`${mode}: apic.gasm console and exit status as in QEMU`, async () => {
      const q = await qemuGuest('apic');
      assert.match(q.console, /ticks 00000005/);
      assert.match(q.console, /ioapic irqs 00000003/);
      const r = popekGuest('apic', mode);
      assert.equal(r.console, q.console, r.error);
      assert.equal(qemuStatus(r), q.exitStatus);
      if (mode === 'native') nativeInstructions = r.instructions;
      else assert.equal(r.instructions, nativeInstructions, 'every guest instruction retires once, emulated or not');
      if (mode === 'trap-and-emulate' || mode === 'binary-translation' || mode === 'paravirtual') assert.ok((r.traps.mmio ?? 0) > 50, `MMIO accesses trapped: ${JSON.stringify(r.traps)}`);
      if (mode === 'hardware-assisted') {
        assert.ok((r.vmExits.APIC_ACCESS ?? 0) > 40, JSON.stringify(r.vmExits));
        assert.ok((r.vmExits.EPT_VIOLATION ?? 0) > 0, JSON.stringify(r.vmExits));
      }
    });
  }
  it('hardware-assisted without EPT: the shadow traps the MMIO accesses', async () => {
    const q = await qemuGuest('apic');
    const r = popekGuest('apic', 'hardware-assisted', { techniqueOptions: { ept: false } });
    assert.equal(r.console, q.console, r.error);
    assert.ok((r.traps.mmio ?? 0) > 50, JSON.stringify(r.traps));
  });
  it('hardware-assisted: the APIC-access exit carries Intel\'s qualification (offset, read / write)', () => {
    // The first local APIC access of apic.gasm is a read of the ID register (offset 0x20).
    const quals: number[] = [];
    popekGuest('apic', 'hardware-assisted', {
      trace: (e) => { if (e.kind === 'vmexit' && e.reasonNumber === 44) quals.push(e.qualification); },
    });
    assert.equal(quals[0], 0x020, 'read of 0xFEE00020: offset 0x20, access type 0 (linear read)');
    assert.ok(quals.includes(0x10f0), 'write of the SVR: offset 0xF0, access type 1 (linear write)');
  });
});
