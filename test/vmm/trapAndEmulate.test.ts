// Trap-and-emulate: exact trap counts, critical instructions that diverge from native (and the
// events that say why), and snapshot / restore of a whole VM mid-run.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CriticalInstructionEvent, TrapEvent } from '../../core/vmm';
import { EXAMPLES, boot, example, guest } from './support';

describe('vmm: trap-and-emulate', function () {
  this.timeout(60_000);

  it('exits.gasm: rdmsr and every port access trap, by mnemonic, exactly as often as the guest runs them', () => {
    const text = fs.readFileSync(path.join(EXAMPLES, 'exits.gasm'), 'utf8');
    const m = /;\s*expect:\s*cpuid=(\d+)\s+io=(\d+)\s+rdmsr=(\d+)/.exec(text);
    assert.ok(m, 'the example states its counts');
    const [cpuid, io, rdmsr] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const { vm, events } = boot(example('exits'), 'trap-and-emulate');
    vm.run();
    const r = vm.report();
    assert.equal(r.console, 'exits: ok\n');
    assert.equal(r.traps.rdmsr, rdmsr);
    assert.equal((r.traps.in ?? 0) + (r.traps.out ?? 0), io);
    // CPUID is not privileged on this CPU (no CPUID faulting): it runs without a trap.
    assert.equal(r.traps.cpuid, undefined);
    assert.ok(cpuid > 0);
    const trapEvents = events.filter((e): e is TrapEvent => e.kind === 'trap');
    assert.equal(trapEvents.length, rdmsr + io, 'one trap event per trapped instruction');
    assert.ok(trapEvents.every((e) => e.vector === 13 && e.action === 'emulated' && e.cost > 0));
  });

  it('critical.gasm: visibly diverges from native, and reports the critical instructions behind it', () => {
    const native = boot(example('critical'), 'native').vm;
    native.run();
    const { vm, events } = boot(example('critical'), 'trap-and-emulate');
    vm.run();
    const n = native.report(), t = vm.report();
    assert.equal(n.exitCode, 1, 'natively nothing differs');
    assert.notEqual(t.console, n.console);
    const differing = t.console.split('\n').filter((l) => l.includes('-- differs'));
    assert.equal(t.exitCode, (differing.length << 1) | 1, 'the guest counts what it saw differ');
    assert.match(t.console, /popf clearing IF, then pushf: IF=1 -- differs/);
    assert.match(t.console, /mov ax, cs: 0x0009 -- differs/);
    const diverged = events.filter((e): e is CriticalInstructionEvent => e.kind === 'critical' && e.diverged);
    const mnemonics = new Set(diverged.map((e) => e.mnemonic));
    for (const want of ['popfd', 'sgdt', 'sidt', 'str', 'mov', 'push', 'lar']) assert.ok(mnemonics.has(want), `a diverged ${want} event (got ${[...mnemonics].join(', ')})`);
    const popf = diverged.find((e) => e.mnemonic === 'popfd')!;
    assert.match(popf.differs, /IF=0.*not loaded/);
    assert.equal(popf.cpl, 1);
    assert.ok(t.critical.popfd >= 1 && t.critical.sgdt === 1);
    // Critical instructions do not trap: none of them appears among the traps.
    for (const k of Object.keys(t.traps)) assert.ok(!['pushfd', 'popfd', 'sgdt', 'sidt', 'str', 'lar'].includes(k), k);
  });

  it('SYSENTER and SYSEXIT with the guest\'s SYSENTER MSRs work as natively (kernel in ring 1)', () => {
    const g = guest(`
bits 32
org 0x100000
start:
    mov esp, 0x180000
    lgdt [gdtr]
    jmp 0x08:.cs
.cs:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov ecx, 0x174
    mov eax, 0x08
    xor edx, edx
    wrmsr
    mov ecx, 0x175
    mov eax, 0x170000
    wrmsr
    mov ecx, 0x176
    mov eax, kernel_entry
    wrmsr
    push 0x23
    push 0x160000
    push 0x2
    push 0x1b
    push user
    iret
user:
    mov ax, 0x23                ; the return to ring 3 nulled DS (DPL 0 < CPL 3)
    mov ds, ax
    mov ax, cs
    mov [user_cs], ax
    sysenter
kernel_entry:
    inc dword [entries]
    mov [kernel_esp], esp
    cmp dword [entries], 2
    je .exit
    mov ecx, 0x165000
    mov edx, user
    sysexit
.exit:
    mov al, 0
    out 0xf4, al
align 8
gdt: dq 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF, 0x00CFFA000000FFFF, 0x00CFF2000000FFFF
gdtr: dw 5 * 8 - 1
      dd gdt
entries: dd 0
user_cs: dd 0
kernel_esp: dd 0
`);
    const results = (['native', 'trap-and-emulate', 'paravirtual'] as const).map((mode) => {
      const { vm } = boot(g.program, mode);
      const outcome = vm.run();
      const m = vm.machine.mem;
      return { mode, outcome, entries: m.read32(g.label('entries')), userCs: m.read32(g.label('user_cs')) & 0xffff, esp: m.read32(g.label('kernel_esp')) >>> 0, traps: vm.report().traps };
    });
    for (const r of results) {
      assert.equal(r.outcome, 'exit', r.mode);
      assert.equal(r.entries, 2, r.mode);
      assert.equal(r.userCs, 0x1b, r.mode);
      assert.equal(r.esp, 0x170000, r.mode);
    }
    assert.equal(results[1].traps.sysenter, 2);
    assert.equal(results[1].traps.sysexit, 1);
  });

  for (const [mode, name, at] of [['trap-and-emulate', 'timer', 1500], ['trap-and-emulate', 'paging', 6000], ['paravirtual', 'rings', 1500]] as const) {
    it(`snapshot / restore mid-run continues identically (${mode}, ${name})`, () => {
      const { vm } = boot(example(name), mode);
      vm.runSlice(at);
      const snap = vm.snapshot();
      vm.run();
      const first = vm.report();
      vm.restore(snap);
      assert.equal(vm.cpu.icount, at);
      vm.run();
      const second = vm.report();
      for (const k of ['outcome', 'exitCode', 'console', 'instructions', 'cycles', 'traps', 'critical'] as const) assert.deepEqual(second[k], first[k], k);
      assert.equal(first.outcome, 'exit');
    });
  }
});
