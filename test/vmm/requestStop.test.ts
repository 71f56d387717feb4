// `cpu.requestStop(reason)`: a stop asked for from an event handler (a device, a write watch, a
// hypervisor event) ends the run at the next instruction boundary in every technique, compiled
// blocks and regions included, and code breakpoints work as before. The reference is the native
// VM stepped to the same instruction count: the stopped guest must be exactly there (registers,
// EIP), and it must finish as the native run does after resuming.
import * as assert from 'node:assert/strict';
import { createVm, MODES, type Mode, type Vm } from '../../core/vmm';
import { isOutcome } from '../../core/machine/machine';
import { guest } from './support';

/** A port no device of the PC claims: the test's own device sits there. */
const TEST_PORT = 0xe9;
const ITER = 3000;

const SOURCE = `bits 32
org 0x100000
start:
    mov esp, 0x180000
    mov ecx, ${ITER}
    xor eax, eax
    xor ebx, ebx
    mov esi, buf
stores:
    add eax, ecx
    lea ebx, [ebx + eax * 2 + 1]
    mov [esi], ebx
after_store:
    xor ebx, eax
    dec ecx
    jnz stores
    mov ecx, ${ITER}
outs:
    add eax, ecx
    rol ebx, 3
    mov edx, ${TEST_PORT}
    mov al, bl
    out dx, al
after_out:
    add ebx, eax
    dec ecx
    jnz outs
done:
    mov [buf + 4], ebx
    mov al, 0
    out 0xf4, al
    hlt
align 4096
buf: dd 0, 0
`;

const g = guest(SOURCE);

function boot(mode: Mode): Vm {
  const vm = createVm({ mode, maxInstructions: 5_000_000 });
  vm.load(g.program);
  return vm;
}

const linear = (vm: Vm) => (vm.cpu.eip + vm.cpu.segBase[1]) >>> 0;
/** What the guest sees of the CPU at a boundary: general registers and EIP (the same in every technique). */
const state = (vm: Vm) => ({ icount: vm.cpu.icount, eip: linear(vm), regs: Array.from(vm.cpu.regs.subarray(0, 8), (r) => r >>> 0) });

/** The native VM after exactly `n` instructions. */
function nativeAt(n: number) {
  const vm = boot('native');
  vm.cpu.jit = false;
  while (vm.cpu.icount < n) assert.ok(!isOutcome(vm.runSlice(n - vm.cpu.icount)), 'native ran to its end');
  return state(vm);
}

/** Runs until the VM stops on request ('stopped') or ends; returns what runSlice said last. */
function runUntilStop(vm: Vm): string {
  for (;;) {
    const r = vm.runSlice(1_000_000);
    if (r !== 'slice') return r;
  }
}

/** Runs to the end; returns the outcome and the result the guest stored. */
function finish(vm: Vm): { outcome: string; result: number } {
  let r: string;
  do r = vm.runSlice(1_000_000); while (!isOutcome(r as Parameters<typeof isOutcome>[0]));
  const b = vm.machine.mem.bytes, at = g.label('buf') + 4;
  return { outcome: r, result: (b[at] | b[at + 1] << 8 | b[at + 2] << 16 | b[at + 3] << 24) >>> 0 };
}

const nativeEnd = (() => { const vm = boot('native'); return finish(vm); })();

describe('vmm: cpu.requestStop from event handlers', function () {
  this.timeout(60_000);

  for (const mode of MODES) {
    it(`${mode}: a write watch's stop lands right after the store, in a hot (compiled) loop`, function () {
      const vm = boot(mode);
      const buf = g.label('buf');
      let writes = 0;
      const stopAt = ITER - 5;
      vm.machine.mem.addWriteWatch(buf >>> 12, (phys) => {
        if (phys === buf && ++writes === stopAt) vm.cpu.requestStop('watch');
      });
      assert.equal(runUntilStop(vm), 'stopped');
      assert.equal(vm.cpu.stopReason, 'watch');
      assert.equal(linear(vm), g.label('after_store'));
      assert.equal(writes, stopAt);
      const here = state(vm);
      assert.deepEqual(here, nativeAt(here.icount));
      if (mode !== 'binary-translation') assert.ok(vm.cpu.stats.regionsCompiled > 0, 'the loop ran as a compiled region');
      assert.deepEqual(finish(vm), nativeEnd);
    });

    it(`${mode}: a device's stop lands right after its OUT, every technique's I/O path`, function () {
      const vm = boot(mode);
      let outs = 0;
      const stopAt = ITER - 7;
      vm.machine.io.register(TEST_PORT, 1, { read: () => 0xff, write: () => { if (++outs === stopAt) vm.cpu.requestStop('device'); } });
      assert.equal(runUntilStop(vm), 'stopped');
      assert.equal(vm.cpu.stopReason, 'device');
      assert.equal(linear(vm), g.label('after_out'));
      assert.equal(outs, stopAt);
      const here = state(vm);
      assert.deepEqual(here, nativeAt(here.icount));
      assert.deepEqual(finish(vm), nativeEnd);
    });

    if (mode !== 'native') {
      it(`${mode}: a stop asked for by a hypervisor event handler lands at the next boundary`, function () {
        const vm = boot(mode);
        const seen: number[] = [];
        vm.events.subscribe((ev) => {
          // Every 50th event of the run (traps, exits, translations …): several stops, each one checked.
          if (ev.seq % 50 === 49) { seen.push(ev.icount); vm.cpu.requestStop(ev.kind); }
        });
        let stops = 0;
        for (;;) {
          const r = vm.runSlice(1_000_000);
          if (isOutcome(r)) break;
          if (r !== 'stopped') continue;
          stops++;
          const here = state(vm);
          const at = seen[seen.length - 1];
          // The event's instruction retired (it was running when the event came), or the event came
          // between instructions (a delivery, a translation): nothing more ran.
          assert.ok(here.icount === at || here.icount === at + 1, `stopped at ${here.icount}, event at ${at}`);
          assert.deepEqual(here, nativeAt(here.icount));
          if (stops === 5) break;
        }
        assert.ok(stops > 0, 'the guest made hypervisor events');
        assert.deepEqual(finish(vm), nativeEnd);
      });
    }

    it(`${mode}: code breakpoints are unaffected by requested stops`, function () {
      const vm = boot(mode);
      let outs = 0;
      vm.machine.io.register(TEST_PORT, 1, { read: () => 0xff, write: () => { if (++outs === 10) vm.cpu.requestStop('device'); } });
      vm.cpu.breakpoints.add(g.label('after_store') | 0);
      vm.cpu.breakpoints.add(g.label('done') | 0);
      const stops: string[] = [];
      for (;;) {
        const r = vm.runSlice(1_000_000);
        if (isOutcome(r)) break;
        if (r === 'breakpoint' || r === 'stopped') stops.push(`${r}@${(linear(vm) >>> 0).toString(16)}`);
        if (r === 'breakpoint' && linear(vm) === g.label('after_store')) vm.cpu.breakpoints.delete(g.label('after_store') | 0);
      }
      const h = (l: string) => g.label(l).toString(16);
      assert.deepEqual(stops, [`breakpoint@${h('after_store')}`, `stopped@${h('after_out')}`, `breakpoint@${h('done')}`]);
    });
  }
});
