// The local APIC and the I/O APIC against QEMU (test/devices/guests/apic.gasm: registers after the
// firmware, the timer one-shot and periodic, IPI to self, TPR, ESR, the PIT through the I/O APIC,
// COM1's level-triggered IRQ 4 whose EOI must reach the I/O APIC),
// in every technique: each reaches the APICs' MMIO windows its own way — hidden page faults of the
// shadow (trap-and-emulate, BT, VT-x without EPT), faults of direct paging (paravirtual), APIC-access
// and EPT-violation exits (VT-x with EPT; with APIC virtualization most APIC accesses exit not at all,
// with virtual-interrupt delivery the processor delivers the local APIC's interrupts itself).
import * as assert from 'node:assert/strict';
import { createVm } from '../../core/vmm';
import { assertAsQemu, guestProgram, modes, popekGuest, qemuGuest } from './support';

/** The local APIC registers apic.gasm writes, by offset (TPR and ICR high complete without an exit under APIC virtualization). */
const WRITTEN = [0x0b0, 0x0d0, 0x0e0, 0x0f0, 0x280, 0x300, 0x320, 0x380, 0x3e0];

describe('devices: local APIC and I/O APIC', function () {
  this.timeout(60_000);
  let nativeInstructions = 0;
  for (const mode of modes()) {
    it(`${mode}: apic.gasm console and exit status as in QEMU`, async () => {
      const q = await qemuGuest('apic');
      assert.match(q.console, /ticks 00000005/);
      assert.match(q.console, /ioapic irqs 00000003/);
      assert.match(q.console, /ioapic level irqs 00000003/);
      const r = popekGuest('apic', mode);
      assertAsQemu(r, q);
      if (mode === 'native') nativeInstructions = r.instructions;
      else assert.equal(r.instructions, nativeInstructions, 'every guest instruction retires once, emulated or not');
      if (mode === 'trap-and-emulate' || mode === 'binary-translation' || mode === 'paravirtual') assert.ok((r.traps.mmio ?? 0) > 50, `MMIO accesses trapped: ${JSON.stringify(r.traps)}`);
      if (mode === 'hardware-assisted') {
        // APIC virtualization (the default): only the timer's current count (0x390), a register the
        // virtual-APIC page does not hold, is read through APIC-access exits — three reads in apic.gasm.
        assert.equal(r.vmExits.APIC_ACCESS, 3, JSON.stringify(r.vmExits));
        assert.ok((r.vmExits.APIC_WRITE ?? 0) > 10, JSON.stringify(r.vmExits));
        assert.ok((r.vmExits.EPT_VIOLATION ?? 0) > 0, JSON.stringify(r.vmExits));
        // Virtual-interrupt delivery (the default with it): the level-triggered vector's EOIs exit.
        assert.equal(r.vmExits.EOI_INDUCED, 3, JSON.stringify(r.vmExits));
      }
    });
  }
  it('hardware-assisted without EPT: the shadow traps the MMIO accesses', async () => {
    const q = await qemuGuest('apic');
    const r = popekGuest('apic', 'hardware-assisted', { techniqueOptions: { ept: false } });
    assert.equal(r.console, q.console, r.error);
    assert.ok((r.traps.mmio ?? 0) > 50, JSON.stringify(r.traps));
  });
  it('hardware-assisted without APIC virtualization: every APIC access exits, with Intel\'s qualification (offset, read / write)', async () => {
    const q = await qemuGuest('apic');
    // The first local APIC access of apic.gasm is a read of the ID register (offset 0x20).
    const quals: number[] = [];
    const r = popekGuest('apic', 'hardware-assisted', {
      techniqueOptions: { apicVirtualization: false },
      trace: (e) => { if (e.kind === 'vmexit' && e.reasonNumber === 44) quals.push(e.qualification); },
    });
    assert.equal(r.console, q.console, r.error);
    assert.equal(quals[0], 0x020, 'read of 0xFEE00020: offset 0x20, access type 0 (linear read)');
    assert.ok(quals.includes(0x10f0), 'write of the SVR: offset 0xF0, access type 1 (linear write)');
    assert.equal(r.vmExits.APIC_WRITE, undefined);
    assert.equal(r.vmExits.TPR_BELOW_THRESHOLD, undefined);
  });
  /** apic.gasm under VT-x with `techniqueOptions`: the report, every VM exit, interrupts delivered without one. */
  const run = (techniqueOptions: Record<string, unknown>) => {
    const exits: Array<{ reason: number; qualification: number; icount: number; eip: number; guestRip: number }> = [];
    const virtualDeliveries: number[] = [];
    const vm = createVm({
      mode: 'hardware-assisted', maxInstructions: 50_000_000, techniqueOptions,
      trace: (e) => {
        if (e.kind === 'interrupt-injection' && /virtual-interrupt delivery/.test(e.text)) virtualDeliveries.push(e.vector);
        if (e.kind !== 'vmexit') return;
        const guestRip = Number(vm.inspect().vmcs?.['guest.GUEST_RIP']);
        exits.push({ reason: e.reasonNumber, qualification: e.qualification, icount: e.icount, eip: e.eip, guestRip });
      },
    });
    vm.load(guestProgram('apic'));
    vm.run();
    return { report: vm.report(), exits, virtualDeliveries, view: vm.inspect() };
  };
  it('hardware-assisted with APIC virtualization: reads and TPR writes without exits, APIC-write exits after the others, one TPR-below-threshold exit', async () => {
    const q = await qemuGuest('apic');
    const plain = run({ apicVirtualization: false }), apicv = run({ apicVirtualization: true, virtualInterruptDelivery: false });
    assert.equal(apicv.report.console, q.console, apicv.report.error);
    assert.equal(apicv.report.instructions, plain.report.instructions);
    // Every APIC access either exits or is virtualized.
    const virtualized = Number(apicv.view.hypervisor?.['APIC accesses virtualized']);
    assert.ok(virtualized > 40, String(virtualized));
    assert.equal(virtualized + (apicv.report.vmExits.APIC_ACCESS ?? 0), plain.report.vmExits.APIC_ACCESS);
    // The APIC-access exits left: reads of the current count (offset 0x390, access type 0).
    assert.deepEqual([...new Set(apicv.exits.filter((e) => e.reason === 44).map((e) => e.qualification))], [0x390]);
    // APIC-write exits: qualification = the offset written; every written register but TPR and ICR high.
    assert.deepEqual([...new Set(apicv.exits.filter((e) => e.reason === 56).map((e) => e.qualification))].sort((a, b) => a - b), WRITTEN);
    // One TPR-below-threshold exit: TPR lowered from 0x50 to 0 while the IPI (vector 0x41, class 4)
    // waits; the interrupt is delivered right after it.
    const tpr = apicv.exits.filter((e) => e.reason === 43);
    assert.equal(tpr.length, 1);
    // Trap-like: GUEST_RIP is the instruction after the write (mov dword [imm32], imm32: 10 bytes).
    assert.equal(tpr[0].guestRip, tpr[0].eip + 10);
    for (const e of apicv.exits.filter((x) => x.reason === 56)) assert.ok(e.guestRip > e.eip && e.guestRip <= e.eip + 10, JSON.stringify(e));
    const next = apicv.exits[apicv.exits.indexOf(tpr[0]) + 1];
    assert.equal(next.reason, 1, 'the held-back IPI is the next exit (external interrupt)');
    assert.ok(next.icount - tpr[0].icount <= 3, `delivered after the TPR write: ${JSON.stringify([tpr[0], next])}`);
  });
  it('hardware-assisted with virtual-interrupt delivery: the local APIC\'s interrupts without exits, EOIs virtualized, EOI-induced exits for the level-triggered vector only', async () => {
    const q = await qemuGuest('apic');
    const before = run({ virtualInterruptDelivery: false }), after = run({});
    assert.equal(after.report.console, q.console, after.report.error);
    assert.equal(after.report.instructions, before.report.instructions);
    // Before: every local APIC interrupt is an external-interrupt exit and a VM-entry injection.
    // After: the processor delivers each of them (the one-shot and periodic timer, the IPIs to self,
    // the PIT's and COM1's interrupts through the I/O APIC) — none arrives while the guest runs (it
    // waits in HLT, or the interrupt is raised by an exit's handling or a virtualized self-IPI).
    assert.ok((before.report.vmExits.EXTERNAL_INTERRUPT ?? 0) >= 14, JSON.stringify(before.report.vmExits));
    assert.equal(after.virtualDeliveries.length, before.report.vmExits.EXTERNAL_INTERRUPT);
    assert.equal(after.report.vmExits.EXTERNAL_INTERRUPT, undefined, JSON.stringify(after.report.vmExits));
    // The TPR no longer has a threshold: lowering it evaluates the pending virtual interrupt.
    assert.equal(before.report.vmExits.TPR_BELOW_THRESHOLD, 1);
    assert.equal(after.report.vmExits.TPR_BELOW_THRESHOLD, undefined);
    // APIC-write exits: no EOI (0xB0) any more, and the ICR low (0x300) only for the INIT IPI, which
    // self-IPI virtualization does not take; the two IPIs to self exit not at all.
    const quals = (r: typeof after, reason: number) => r.exits.filter((e) => e.reason === reason).map((e) => e.qualification);
    assert.deepEqual([...new Set(quals(after, 56))].sort((a, b) => a - b), WRITTEN.filter((o) => o !== 0x0b0));
    assert.equal(quals(after, 56).filter((o) => o === 0x300).length, 1);
    assert.equal(quals(before, 56).filter((o) => o === 0x300).length, 3);
    // EOI-induced exits (reason 45): only for COM1's level-triggered vector 0x51, the one the host put
    // in the EOI-exit bitmap, once per interrupt (three); trap-like, after the EOI's 10-byte mov.
    const eoi = after.exits.filter((e) => e.reason === 45);
    assert.deepEqual(eoi.map((e) => e.qualification), [0x51, 0x51, 0x51]);
    for (const e of eoi) assert.equal(e.guestRip, e.eip + 10);
    assert.equal(before.exits.filter((e) => e.reason === 45).length, 0);
    // The guest interrupt status at the end: nothing in service (SVI 0).
    assert.equal(Number(after.view.vmcs?.['guest.GUEST_INTR_STATUS']) >> 8, 0);
  });
});
