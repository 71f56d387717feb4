// No guest input may crash the tool: garbage as kernel code, faults with no handler (triple
// fault), writes over the hypervisor's area, and bad hypercall arguments all end in an outcome.
import * as assert from 'node:assert/strict';
import { OUTCOMES } from '../../core/machine/report';
import { createVm, type Mode } from '../../core/vmm';
import { guest } from './support';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s >>> 24; };
}

const MODES: Mode[] = ['trap-and-emulate', 'paravirtual'];

function runBytes(bytes: Uint8Array, mode: Mode) {
  const vm = createVm({ mode, maxInstructions: 100_000 });
  vm.load(bytes, 0x100000);
  vm.run(20_000);
  return vm.report();
}

describe('vmm: robustness', function () {
  this.timeout(120_000);

  for (const mode of MODES) {
    it(`${mode}: random bytes as kernel code end in an outcome, never an exception`, () => {
      const next = lcg(mode.length * 7919);
      const seen = new Set<string>();
      for (let k = 0; k < 40; k++) {
        const bytes = Uint8Array.from({ length: 4096 }, next);
        const r = runBytes(bytes, mode);
        assert.ok(OUTCOMES.includes(r.outcome), r.outcome);
        if (r.outcome === 'error') assert.match(r.error ?? '', /not modelled|not supported|unsupported/i, `image ${k}: ${r.error}`);
        seen.add(r.outcome);
      }
      assert.ok(seen.size >= 1);
    });
  }

  it('a fault with no handler is a triple fault, as natively', () => {
    const g = guest('bits 32\norg 0x100000\nstart:\n  lidt [idtr]\n  ud2\nidtr: dw 0\n  dd 0\n');
    for (const mode of ['native', ...MODES] as Mode[]) {
      const vm = createVm({ mode });
      vm.load(g.program);
      assert.equal(vm.run(), 'triple-fault', mode);
    }
  });

  it("writes to the hypervisor's hole fault in the guest instead of reaching the VMM's tables", () => {
    const g = guest(`
bits 32
org 0x100000
start:
    mov esp, 0x180000
    lidt [idtr]
    mov dword [0xffc00000], 0xdeadbeef     ; the VMM's GDT page: read-only, supervisor
    jmp $
pf:
    mov eax, cr2
    mov [seen], eax
    out 0xf4, al
idtr: dw 14 * 8 + 7
      dd idt
idt:  times 14 dq 0
      dw pf, 0x08, 0x8e00, 0x10
seen: dd 0
`);
    const vm = createVm({ mode: 'trap-and-emulate' });
    vm.load(g.program);
    assert.equal(vm.run(), 'exit');
    assert.equal(vm.machine.mem.read32(g.label('seen')) >>> 0, 0xffc00000);
    assert.notEqual(vm.machine.mem.read32(vm.machine.mem.reservedBase) >>> 0, 0xdeadbeef);
  });

  it('paravirtual: bad hypercall arguments return errors', () => {
    const g = guest(`
bits 32
org 0x100000
start:
    mov esp, 0x180000
    mov eax, __HYPERVISOR_mmu_update
    mov ebx, bad_update
    mov ecx, 1
    xor edx, edx
    vmcall
    mov [r_mmu], eax
    mov eax, __HYPERVISOR_update_va_mapping     ; paging is off: no page table to update
    mov ebx, 0x400000
    mov ecx, 0x500003
    xor edx, edx
    xor esi, esi
    vmcall
    mov [r_uvm], eax
    mov eax, __HYPERVISOR_set_trap_table
    mov ebx, 0xfff00000                         ; beyond guest RAM
    vmcall
    mov [r_stt], eax
    mov eax, __HYPERVISOR_sched_op
    mov ebx, 77
    vmcall
    mov [r_sched], eax
    mov eax, __HYPERVISOR_sched_op
    mov ebx, SCHEDOP_shutdown
    mov ecx, 0xfff00000                         ; unreadable reason
    vmcall
    mov [r_shut], eax
    mov eax, __HYPERVISOR_sched_op
    mov ebx, SCHEDOP_shutdown
    mov ecx, reason
    vmcall
bad_update: dd 0x7ffff000, 0, 0x00000003, 0   ; ptr beyond RAM
reason: dd 1
r_mmu: dd 0
r_uvm: dd 0
r_stt: dd 0
r_sched: dd 0
r_shut: dd 0
`);
    const vm = createVm({ mode: 'paravirtual' });
    vm.load(g.program);
    assert.equal(vm.run(), 'shutdown');
    assert.equal(vm.report().exitCode, 1, 'reboot');
    const m = vm.machine.mem, v = (l: string) => m.read32(g.label(l));
    assert.equal(v('r_mmu'), -22);
    assert.equal(v('r_uvm'), -22);
    assert.equal(v('r_stt'), -14);
    assert.equal(v('r_sched'), -38);
    assert.equal(v('r_shut'), -14);
  });

  it('paravirtual: every hypercall number with random arguments returns or ends the run, never throws', () => {
    const g = guest('bits 32\norg 0x100000\nstart:\n  vmcall\n  jmp start\n');
    const next = lcg(4242);
    const word = () => (next() << 24) | (next() << 16) | (next() << 8) | next();
    let vm = createVm({ mode: 'paravirtual' });
    vm.load(g.program);
    for (let k = 0; k < 600; k++) {
      if (vm.outcome) { vm = createVm({ mode: 'paravirtual' }); vm.load(g.program); }
      const r = vm.cpu.regs;
      for (let j = 1; j < 8; j++) if (j !== 4) r[j] = next() & 1 ? word() : next() & 7;
      r[0] = k % 45;
      vm.cpu.eip = g.label('start');
      const before = Array.from(r);
      const stop = vm.runSlice(1);
      assert.ok(stop === 'slice' || OUTCOMES.includes(stop as never), `hypercall ${k % 45}: ${stop}`);
      if (vm.outcome === 'error') assert.fail(`hypercall ${k % 45}: ${vm.report().error}`);
      // Only EAX (and ESP/EIP for iret) may change.
      if (!vm.outcome && k % 45 !== 23) for (const j of [1, 2, 3, 5, 6, 7]) assert.equal(r[j], before[j], `hypercall ${k % 45} changed register ${j}`);
    }
  });
});

