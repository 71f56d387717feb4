// Paravirtual (SPEC §5): the hypercall ABI, the shared-info event mask, event delivery through the
// registered trap table, and the paravirtual hello.
import * as assert from 'node:assert/strict';
import type { HypercallEvent } from '../../core/vmm';
import { boot, example, guest, runTo } from './support';
import { SHARED_INFO_ADDR } from '../../core/vmm/hypercalls';
import { MULTIBOOT_INFO } from '../../core/machine';

const ABI_GUEST = `
bits 32
org 0x100000
start:
    mov esp, 0x180000
    mov [shared], esi
    mov ebx, 0x11111111
    mov ecx, 0x22222222
    mov edx, 0x33333333
    mov esi, 0x44444444
    mov edi, 0x55555555
    mov ebp, 0x66666666
    mov eax, 99                 ; no such hypercall
    vmcall
after_unknown:
    mov eax, __HYPERVISOR_xen_version
    xor ebx, ebx
    vmcall
after_version:
    mov eax, __HYPERVISOR_console_io
    mov ebx, CONSOLEIO_write
    mov ecx, 4
    mov edx, 0xfff00000         ; beyond guest RAM
    vmcall
after_bad_buffer:
    mov eax, __HYPERVISOR_console_io
    mov ebx, CONSOLEIO_write
    mov ecx, msg_len
    mov edx, msg
    vmcall
    mov eax, __HYPERVISOR_sched_op
    mov ebx, SCHEDOP_shutdown
    mov ecx, reason
    vmcall
    jmp $
msg: db "pv ok", 10
msg_len equ $ - msg
reason: dd 3                    ; SHUTDOWN_crash
shared: dd 0
`;

describe('vmm: paravirtual', function () {
  this.timeout(60_000);

  it('pv-hello prints through console_io and shuts down with exit code 0', () => {
    const { vm, events } = boot(example('pv-hello'), 'paravirtual');
    const outcome = vm.run();
    const r = vm.report();
    assert.equal(outcome, 'shutdown');
    assert.equal(r.exitCode, 0);
    assert.match(r.console, /^Hello from a paravirtual guest, via console_io!\n$/);
    assert.deepEqual(r.hypercalls, { console_io: 1, sched_op: 1 });
    const calls = events.filter((e): e is HypercallEvent => e.kind === 'hypercall');
    assert.deepEqual(calls.map((c) => [c.number, c.name, c.result]), [[18, 'console_io', 0], [29, 'sched_op', 0]]);
  });

  it('hypercall ABI: -38 for an unknown number and no other register changes; EFAULT for a bad buffer; shutdown reason = exit code', () => {
    const g = guest(ABI_GUEST);
    const { vm } = boot(g.program, 'paravirtual');
    assert.equal(vm.cpu.regs[6], SHARED_INFO_ADDR, 'ESI holds the shared-info page at entry');
    assert.equal(vm.cpu.regs[3], MULTIBOOT_INFO, 'EBX still holds the Multiboot information');
    assert.equal(runTo(vm, g.label('after_unknown')), 'breakpoint');
    const r = Array.from(vm.cpu.regs, (x) => x >>> 0);
    assert.equal(r[0] | 0, -38);
    assert.deepEqual(r.slice(1), [0x22222222, 0x33333333, 0x11111111, 0x180000, 0x66666666, 0x44444444, 0x55555555]);
    runTo(vm, g.label('after_version'));
    assert.equal(vm.cpu.regs[0], 0x00030004);
    runTo(vm, g.label('after_bad_buffer'));
    assert.equal(vm.cpu.regs[0], -14);
    assert.equal(vm.run(), 'shutdown');
    const rep = vm.report();
    assert.equal(rep.exitCode, 3);
    assert.equal(rep.console, 'pv ok\n');
    assert.equal(rep.hypercalls.unknown, 1);
  });

  it('events: masked → pending in shared info; unmasked → delivered through the trap table, IF in the frame', () => {
    const g = guest(`
bits 32
org 0x100000
start:
    mov esp, stack_top
    mov ebp, esi                     ; shared info
    mov eax, __HYPERVISOR_set_trap_table
    mov ebx, traps
    vmcall
    mov al, 0x11                     ; PIC: ICW1..4, IRQ 0 at vector 0x20, only IRQ 0 unmasked
    out 0x20, al
    mov al, 0x20
    out 0x21, al
    mov al, 4
    out 0x21, al
    mov al, 1
    out 0x21, al
    mov al, 0xfe
    out 0x21, al
    mov al, 0x34                     ; PIT channel 0, rate generator, divisor 1193 (1 kHz)
    out 0x43, al
    mov al, 0xa9
    out 0x40, al
    mov al, 4
    out 0x40, al
    mov ecx, 400000                  ; events masked (the initial state): spin past a few ticks
.spin:
    dec ecx
    jnz .spin
masked_done:
    mov byte [ebp + VCPU_INFO_UPCALL_MASK], 0   ; unmask with a plain store (no trap) …
    mov eax, __HYPERVISOR_xen_version           ; … and force delivery, as Linux's xen_irq_enable
    xor ebx, ebx
    vmcall
delivered:
    mov eax, __HYPERVISOR_sched_op
    mov ebx, SCHEDOP_shutdown
    mov ecx, ticks
    vmcall
tick:
    inc dword [ticks]
    mov eax, [esp + 8]               ; EFLAGS of the frame
    mov [frame_flags], eax
    mov al, 0x20
    out 0x20, al                     ; EOI
    push eax
    mov eax, __HYPERVISOR_iret
    vmcall
traps:
    db 0x20, 4                       ; vector 0x20, flags: DPL 0, mask events on entry
    dw 0x08
    dd tick
    dd 0, 0
ticks: dd 0
frame_flags: dd 0
    times 256 dd 0
stack_top:
`);
    const { vm, events } = boot(g.program, 'paravirtual');
    runTo(vm, g.label('masked_done'));
    const mem = vm.machine.mem;
    assert.equal(mem.read32(g.label('ticks')), 0, 'nothing delivered while masked');
    assert.equal(mem.read8(SHARED_INFO_ADDR), 1, 'evtchn_upcall_pending set');
    assert.ok(events.some((e) => e.kind === 'interrupt-injection' && e.state === 'pending'));
    runTo(vm, g.label('delivered'));
    assert.ok(mem.read32(g.label('ticks')) >= 1, 'delivered through the trap table once unmasked');
    assert.equal(mem.read32(g.label('frame_flags')) & 0x200, 0x200, 'the frame says events were enabled');
    assert.equal(vm.run(), 'shutdown');
    assert.ok(vm.report().hypercalls.iret >= 1);
  });

  it('system calls from ring 3 go through the trap table onto the stack_switch stack', () => {
    const g = guest(`
bits 32
org 0x100000
start:
    mov esp, 0x180000
    lgdt [gdtr]                      ; trapped and emulated: ring-0 and ring-3 flat segments
    mov eax, __HYPERVISOR_set_trap_table
    mov ebx, traps
    vmcall
    mov eax, __HYPERVISOR_stack_switch
    mov ebx, 0x10
    mov ecx, 0x170000
    vmcall
    push 0x23
    push 0x160000
    push 0x202
    push 0x1b
    push user
    iret
user:
    mov eax, 1
    int 0x80
    mov eax, 2
    int 0x80
    jmp $
syscall:
    mov bx, 0x10                     ; the return to ring 3 nulled DS
    mov ds, bx
    mov [kernel_esp], esp
    mov [kernel_cs], cs
    cmp eax, 2
    je .shutdown
    iret
.shutdown:
    mov eax, __HYPERVISOR_sched_op
    mov ebx, SCHEDOP_shutdown
    mov ecx, reason
    vmcall
traps:
    db 0x80, 3                       ; DPL 3: user code may use it
    dw 0x08
    dd syscall
    dd 0, 0
reason: dd 0
kernel_esp: dd 0
kernel_cs: dd 0
align 8
gdt: dq 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF, 0x00CFFA000000FFFF, 0x00CFF2000000FFFF
gdtr: dw 5 * 8 - 1
      dd gdt
`);
    const { vm } = boot(g.program, 'paravirtual');
    assert.equal(vm.run(), 'shutdown');
    const m = vm.machine.mem;
    assert.equal(m.read32(g.label('kernel_esp')) >>> 0, 0x170000 - 20, 'frame of SS, ESP, EFLAGS, CS, EIP on the registered kernel stack');
    assert.equal(m.read32(g.label('kernel_cs')) & 3, 1, 'the kernel runs in ring 1');
    assert.equal(vm.report().hypercalls.stack_switch, 1);
  });

  it('direct paging: NEW_BASEPTR installs the guest directory; mmu_update and update_va_mapping remap a page', () => {
    const g = guest(`
bits 32
org 0x100000
PD  equ 0x110000
PT0 equ 0x111000
PT1 equ 0x112000
start:
    mov esp, 0x180000
    mov dword [0x200000], 0xaaaa
    mov dword [0x201000], 0xbbbb
    mov dword [0x202000], 0xcccc
    xor ecx, ecx
.fill:
    mov eax, ecx
    shl eax, 12
    or eax, 3
    mov [PT0 + ecx * 4], eax
    inc ecx
    cmp ecx, 1024
    jne .fill
    mov dword [PD], PT0 | 3
    mov dword [PD + 4], PT1 | 3
    mov dword [PT1], 0x200000 | 3
    mov eax, __HYPERVISOR_mmuext_op
    mov ebx, ops
    mov ecx, 1
    xor edx, edx
    vmcall
    mov eax, cr0                     ; trapped and emulated: paging on
    or eax, 0x80000000
    mov cr0, eax
    mov eax, [0x400000]
    mov [seen_a], eax
    mov eax, __HYPERVISOR_mmu_update ; PTE of 0x400000 → 0x201000, validated
    mov ebx, update
    mov ecx, 1
    mov edx, done
    vmcall
    mov [r_mmu], eax
    invlpg [0x400000]
    mov eax, [0x400000]
    mov [seen_b], eax
    mov eax, __HYPERVISOR_update_va_mapping
    mov ebx, 0x400000
    mov ecx, 0x202000 | 3
    xor edx, edx
    mov esi, UVMF_INVLPG
    vmcall
    mov eax, [0x400000]
    mov [seen_c], eax
    mov eax, __HYPERVISOR_sched_op
    mov ebx, SCHEDOP_shutdown
    mov ecx, reason
    vmcall
ops:    dd MMUEXT_NEW_BASEPTR, PD >> 12, 0
update: dd PT1 | MMU_NORMAL_PT_UPDATE, 0, 0x201000 | 3, 0
done:   dd 0
reason: dd 0
r_mmu:  dd -1
seen_a: dd 0
seen_b: dd 0
seen_c: dd 0
`);
    const { vm } = boot(g.program, 'paravirtual');
    assert.equal(vm.run(), 'shutdown', vm.report().error);
    const m = vm.machine.mem, v = (l: string) => m.read32(g.label(l)) >>> 0;
    assert.equal(v('seen_a'), 0xaaaa);
    assert.equal(v('r_mmu'), 0);
    assert.equal(v('done'), 1);
    assert.equal(v('seen_b'), 0xbbbb);
    assert.equal(v('seen_c'), 0xcccc);
    assert.equal(vm.cpu.cr3 >>> 0, 0x110000, 'the guest directory is the real one');
    assert.equal(m.read32(0x110000 + 1023 * 4) & 1, 1, "the hypervisor's PDE is in it");
  });

  it('set_timer_op + SCHEDOP_block: the guest sleeps until the timer, then its event callback runs', () => {
    const g = guest(`
bits 32
org 0x100000
start:
    mov esp, 0x180000
    mov eax, __HYPERVISOR_set_callbacks
    mov ebx, 0x08
    mov ecx, callback
    xor edx, edx
    xor esi, esi
    vmcall
    mov eax, __HYPERVISOR_set_timer_op   ; 2 ms of system time from boot
    mov ebx, 2000000
    xor ecx, ecx
    vmcall
    mov eax, __HYPERVISOR_sched_op       ; block: unmask events and sleep
    mov ebx, SCHEDOP_block
    vmcall
    jmp $
callback:
    inc dword [upcalls]
    mov eax, __HYPERVISOR_sched_op
    mov ebx, SCHEDOP_shutdown
    mov ecx, reason
    vmcall
upcalls: dd 0
reason: dd 0
`);
    const { vm, events } = boot(g.program, 'paravirtual');
    assert.equal(vm.run(), 'shutdown');
    assert.equal(vm.machine.mem.read32(g.label('upcalls')), 1);
    const hz = vm.machine.options.cpuHz;
    assert.ok(vm.cpu.time >= 0.002 * hz, `simulated time ${vm.cpu.time} reached the deadline`);
    assert.ok(vm.cpu.icount < 100, 'it slept rather than spun');
    assert.ok(events.some((e) => e.kind === 'interrupt-injection' && /set_timer_op/.test(e.text)));
  });

  it("Xen's emulate prefix (ud2; 'xen'; cpuid) has the hypervisor run CPUID", () => {
    const g = guest(`
bits 32
org 0x100000
start:
    xor eax, eax
    db 0x0f, 0x0b, 'xen'            ; XEN_EMULATE_PREFIX
    cpuid
    mov [vendor], ebx
    mov eax, __HYPERVISOR_sched_op
    mov ebx, SCHEDOP_shutdown
    mov ecx, reason
    vmcall
vendor: dd 0
reason: dd 0
`);
    const { vm } = boot(g.program, 'paravirtual');
    assert.equal(vm.run(), 'shutdown');
    assert.equal(vm.machine.mem.read32(g.label('vendor')), 0x756e6547, '"Genu"');
    assert.equal(vm.report().traps.cpuid, 1);
  });
});

