/*
 * stateTransfer.ts: at the end of a stretch the technique did nothing in, the native twin takes the
 * guest's memory — only the pages either side wrote since the stretch began (PhysicalMemory's write
 * epochs), not a comparison of all RAM. A page whose write was not recorded would leave the twin
 * with stale bytes: after every adoption the two memories are compared whole, and the twin is
 * compared with a native VM that ran every instruction itself (its memory, registers and devices).
 * After a stretch the twin ran, the comparison of the few pages either side wrote finds what one of
 * all RAM finds. The guest (pagewrites.gasm, mine,
 * boots in QEMU with the same console) stores every way x86 code does — compiled hot loops over
 * 512 pages with paging on, bytes next to decoded code, rep stosd/movsd, pushes. freshpages.gasm (no
 * paging) touches fresh pages: shadow fills and EPT first touches, which the twin need not run.
 */
import * as assert from 'node:assert/strict';
import { loadProgramFile } from '../../core/machine/program';
import { createVm, type Mode, type Vm } from '../../core/vmm';
import { CHUNK, techniqueChunks, twinDifferences } from '../../debugger/runtime/equivalence';
import { adoptGuestState, inAgreement, pagesThatMayDiffer, StretchWatch } from '../../debugger/runtime/stateTransfer';
import { fixture } from './support';

/** Instructions per stretch: some 20 rounds of the guest's stores, ~25 M of them in all. */
const STRETCH = 50_000;

/** Runs `vm` to instruction `icount` (or its end). */
function runTo(vm: Vm, icount: number): void {
  while (vm.cpu.icount < icount && vm.machine.outcome === undefined && vm.runSlice(icount - vm.cpu.icount) === 'slice') { /* on */ }
}

const consoleText = (vm: Vm) => String.fromCharCode(...vm.machine.uart.output);

/** The guest RAM chunks where two VMs differ (but `ignored`). */
function differingChunks(a: Vm, b: Vm, ignored: ReadonlySet<number>): number[] {
  return [...twinDifferences(a, b, ignored).chunks.keys()];
}

describe('debugger: the native twin takes only the pages written in a stretch the technique did nothing in', () => {
  for (const mode of ['trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted'] as Mode[]) {
    it(`${mode}: after every adoption the twin's memory is the guest's and a native run's`, () => {
      const image = loadProgramFile(fixture('pagewrites.gasm'));
      const guest = createVm({ mode }), twin = createVm({ mode: 'native' }), reference = createVm({ mode: 'native' });
      for (const vm of [guest, twin, reference]) vm.load(image);
      const ignored = new Set(techniqueChunks(guest));
      const watch = new StretchWatch(guest);
      let adoptions = 0, busy = 0, compared = 0;
      const ignoredAtFirst = ignored.size;
      try {
        while (guest.machine.outcome === undefined) {
          const atMark = twinDifferences(guest, twin, ignored);
          const agreed = inAgreement(atMark, guest, twin.cpu);
          const mark = watch.mark(twin, ignored, CHUNK);
          runTo(guest, guest.cpu.icount + STRETCH);
          if (!agreed || watch.acted(mark)) {
            runTo(twin, guest.cpu.icount);
            // The comparison at the end of a stretch the twin ran looks at a few pages: it finds
            // every difference a comparison of all RAM finds.
            const few = twinDifferences(guest, twin, ignored, pagesThatMayDiffer(guest, twin, mark, atMark));
            assert.deepEqual([...few.chunks.keys()], differingChunks(guest, twin, ignored), `${mode}: the differences at ${guest.cpu.icount}`);
            compared++;
            // What the technique's own set-up left different (paravirtual: a word below the image
            // the loader writes natively), as the debugger's search ignores it when the lock step
            // finds no instruction it came of.
            for (const c of differingChunks(guest, twin, ignored)) ignored.add(c);
            continue;
          }
          const pages = guest.cpu.mem.writtenSince(mark.epochs.vm)!.length;
          if (pages >= 512) busy++;
          adoptGuestState(twin, guest, mark, CHUNK);
          adoptions++;
          const at = guest.cpu.icount;
          assert.deepEqual(differingChunks(guest, twin, ignored), [], `${mode}: the guest's memory after the adoption at ${at}`);
          runTo(reference, at);
          assert.deepEqual(differingChunks(reference, twin, ignored), [], `${mode}: a native run's memory at ${at}`);
          assert.deepEqual([...twin.cpu.regs], [...reference.cpu.regs], `${mode}: a native run's registers at ${at}`);
          assert.deepEqual(twin.machine.deviceState(), reference.machine.deviceState(), `${mode}: a native run's devices at ${at}`);
        }
      } finally { watch.dispose(); }
      // Most stretches were taken; those of the rounds took 512 pages and more each.
      assert.ok(adoptions >= 40, `${mode}: ${adoptions} adoptions`);
      assert.ok(compared >= 1, `${mode}: ${compared} stretches run by the twin`);
      assert.ok(busy >= 15, `${mode}: ${busy} adopted stretches wrote 512 pages or more`);
      assert.ok(ignored.size - ignoredAtFirst <= 1, `${mode}: chunks ignored ${[...ignored].map((c) => c.toString(16))}`);
      runTo(twin, guest.cpu.icount);
      assert.equal(consoleText(twin), consoleText(guest));
      assert.match(consoleText(guest), /^sum 0x[0-9a-f]{8}\n$/);
    });
  }

  for (const mode of ['trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted'] as Mode[]) {
    it(`${mode}: a guest without paging touching fresh pages (shadow fills, EPT first touches) is not run by the twin; it equals a native run`, () => {
      // freshpages.gasm: 48 rounds, each a busy loop and then one dword into each of 64 pages never
      // touched before: every first touch is an event (shadow fill / EPT violation), none of them
      // visible to a guest without paging (Technique.invisibleActions).
      const image = loadProgramFile(fixture('freshpages.gasm'));
      const guest = createVm({ mode }), twin = createVm({ mode: 'native' }), reference = createVm({ mode: 'native' });
      for (const vm of [guest, twin, reference]) vm.load(image);
      const ignored = new Set(techniqueChunks(guest));
      const watch = new StretchWatch(guest);
      let quietWithEvents = 0, ran = 0;
      try {
        while (guest.machine.outcome === undefined) {
          const atMark = twinDifferences(guest, twin, ignored);
          const agreed = inAgreement(atMark, guest, twin.cpu);
          const mark = watch.mark(twin, ignored, CHUNK);
          const seq = guest.events.seq, invisible = guest.technique.invisibleActions ?? 0;
          runTo(guest, guest.cpu.icount + 20_000);
          if (!agreed || watch.acted(mark)) {
            runTo(twin, guest.cpu.icount);
            for (const c of differingChunks(guest, twin, ignored)) ignored.add(c);
            ran++;
            continue;
          }
          // (Binary translation's other events here are translations, which never count.)
          if ((guest.technique.invisibleActions ?? 0) !== invisible) {
            quietWithEvents++;
            assert.ok(guest.events.seq - seq >= (guest.technique.invisibleActions ?? 0) - invisible, `${mode}: each invisible action is an event too`);
          }
          adoptGuestState(twin, guest, mark, CHUNK);
          const at = guest.cpu.icount;
          runTo(reference, at);
          assert.deepEqual(differingChunks(reference, twin, ignored), [], `${mode}: a native run's memory at ${at}`);
          assert.deepEqual([...twin.cpu.regs], [...reference.cpu.regs], `${mode}: a native run's registers at ${at}`);
          assert.equal(twin.cpu.eip, reference.cpu.eip, `${mode}: a native run's EIP at ${at}`);
          assert.deepEqual(twin.machine.deviceState(), reference.machine.deviceState(), `${mode}: a native run's devices at ${at}`);
        }
      } finally { watch.dispose(); }
      // Every fresh page was an invisible action (64 a round), and most stretches with one were taken.
      assert.ok((guest.technique.invisibleActions ?? 0) >= 48 * 64, `${mode}: ${guest.technique.invisibleActions} invisible actions`);
      assert.ok(quietWithEvents >= 40, `${mode}: ${quietWithEvents} stretches taken with first touches in them (the twin ran ${ran})`);
      // The end (console output: port I/O) is the twin's to run, and its console is the guest's.
      assert.ok(ran >= 1, `${mode}: the twin ran ${ran} stretches`);
      runTo(twin, guest.cpu.icount);
      assert.equal(consoleText(twin), consoleText(guest));
      assert.equal(consoleText(guest), 'sum 0xbaed9800\n');
    });
  }

  it('a shadow fill with the guest\'s paging on is not invisible: the twin runs that stretch', () => {
    // pagewrites.gasm turns paging on first: its fills read and mark the guest's page tables.
    const image = loadProgramFile(fixture('pagewrites.gasm'));
    for (const mode of ['trap-and-emulate', 'binary-translation'] as Mode[]) {
      const guest = createVm({ mode });
      guest.load(image);
      runTo(guest, 2_000_000);
      const fills = guest.technique.inspect?.().hypervisor?.['shadow fills'] as number;
      assert.ok(fills > (guest.technique.invisibleActions ?? 0) + 100, `${mode}: ${fills} fills, ${guest.technique.invisibleActions} invisible`);
    }
  });

  it('after a stretch the twin ran, the pages compared include a difference standing since its start and one only the twin wrote', () => {
    const image = loadProgramFile(fixture('pagewrites.gasm'));
    const guest = createVm({ mode: 'trap-and-emulate' }), twin = createVm({ mode: 'native' });
    for (const vm of [guest, twin]) vm.load(image);
    const watch = new StretchWatch(guest);
    try {
      // Pages the guest never uses (its buffer is at 4–6 MiB): one differs before the stretch, the
      // other is written by the twin alone in it.
      const standing = 0xa00000, twinOnly = 0xb00010;
      guest.cpu.mem.write8(standing, 1);
      const atMark = twinDifferences(guest, twin);
      assert.deepEqual([...atMark.chunks.keys()], [standing]);
      const mark = watch.mark(twin, new Set(), CHUNK);
      runTo(guest, STRETCH);
      runTo(twin, STRETCH);
      twin.cpu.mem.write32(twinOnly, 0x12345678);
      const pages = pagesThatMayDiffer(guest, twin, mark, atMark)!;
      assert.ok(pages.includes(standing), 'the page that differed at the start');
      assert.ok(pages.includes(twinOnly & ~0xfff), 'the page only the twin wrote');
      assert.deepEqual([...twinDifferences(guest, twin, new Set(), pages).chunks.keys()], differingChunks(guest, twin, new Set()));
      assert.ok(pages.length < 1024, `${pages.length} of 4096 pages compared`);
    } finally { watch.dispose(); }
  });
});
