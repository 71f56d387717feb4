// A timer request that arrives while the guest has interrupts off waits in the PIC's request register
// (IRR) until IF = 1. If the guest masks the line meanwhile, it is not delivered until unmasked; if the
// guest reinitialises the PIC (ICW1), it is gone. Kernels do both with interrupts off (remap the PIC,
// then STI). Trap-and-emulate once took the request out of the PIC the moment it came (the real IF
// is 1 at CPL 1) and held it for the virtual IF: it delivered it after STI although the line was
// masked or the PIC reset. A public teaching kernel (levex/osdev: pic_init, pit_init, sti) then took
// a stale IRQ 0 right after its STI and went down another path than natively and in QEMU.
// The guest here counts timer interrupts in three phases; QEMU (TCG) is the reference.
import * as assert from 'node:assert/strict';
import { MODES, createVm, type Mode } from '../../core/vmm';
import { imageProgram } from '../../core/machine/program';
import { assembleNasmSource, requireQemu, runImageInQemu } from '../support/qemu';
import { QEMU_ICOUNT } from '../devices/support';
import { idtGate } from '../support/guestAsm';

const SOURCE = `
bits 32
org 0x100000
align 4
hdr: dd 0x1BADB002, 0x00010000, -(0x1BADB002 + 0x00010000), hdr, hdr, end, end, start
start:
    cli
    mov esp, 0x90000
    lidt [idtr]
    ${idtGate('0x20', 'irq0').join('\n    ')}
    call pic_init                 ; IRQ 0 at vector 0x20, the only line open
    ; 1. a request comes with IF = 0; the line is masked before STI: nothing may come
    call pit_one_shot
    call wait_for_edge
    mov al, 0xff
    out 0x21, al
    sti
    times 8 nop
    cli
    mov al, [ticks]
    mov [phase1], al
    ; 2. unmasked: the request still in the IRR comes right after STI
    mov al, 0xfe
    out 0x21, al
    sti
    times 8 nop
    cli
    mov al, [ticks]
    mov [phase2], al
    ; 3. another request with IF = 0, then the PIC reinitialised (ICW1 resets its edge latch)
    call pit_one_shot
    call wait_for_edge
    call pic_init
    sti
    times 8 nop
    cli
    mov al, [ticks]
    mov [phase3], al
    ; exit status: phase1 + 4 * phase2 + 16 * phase3
    movzx eax, byte [phase3]
    shl eax, 2
    add al, [phase2]
    shl eax, 2
    add al, [phase1]
    out 0xf4, al
    hlt

pic_init:                         ; ICW1-4 on both PICs, then mask all but IRQ 0
    mov al, 0x11
    out 0x20, al
    out 0xa0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xa1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xa1, al
    mov al, 1
    out 0x21, al
    out 0xa1, al
    mov al, 0xff
    out 0xa1, al
    mov al, 0xfe
    out 0x21, al
    ret

pit_one_shot:                     ; channel 0, mode 0 (interrupt on terminal count), 256 ticks (~215 us)
    mov al, 0x30
    out 0x43, al
    mov al, 0
    out 0x40, al
    mov al, 1
    out 0x40, al
    ret

wait_for_edge:                    ; latch channel 0 until the count has wrapped past 0 (mode 0 counts on)
    mov al, 0x00
    out 0x43, al
    in al, 0x40
    mov ah, al
    in al, 0x40
    xchg al, ah
    cmp ax, 0x8000                ; after terminal count the counter wraps to 0xFFFF and counts down
    jb wait_for_edge
    ret

irq0:
    inc byte [ticks]
    push eax
    mov al, 0x20
    out 0x20, al
    pop eax
    iretd

ticks:  db 0
phase1: db 0
phase2: db 0
phase3: db 0
align 8
idtr: dw 0x21*8 - 1
      dd idt
align 8
idt: times 0x21*8 db 0
end:
`;

/** Exit status after `out 0xf4, v`: (v << 1) | 1, as QEMU's isa-debug-exit reports it. */
const status = (phase1: number, phase2: number, phase3: number) => (((phase1 + 4 * phase2 + 16 * phase3) << 1) | 1);

describe('vmm: a timer request made while IF = 0 waits in the PIC, in every technique as in QEMU', function () {
  this.timeout(60_000);
  const image = assembleNasmSource(SOURCE);

  it('QEMU: masked → none; unmasked → the one waiting; PIC reinitialised → none', async function () {
    requireQemu();
    const q = await runImageInQemu(image, { extraArgs: QEMU_ICOUNT });
    assert.equal(q.exitStatus, status(0, 1, 1), `QEMU exit status ${q.exitStatus}`);
  });

  const run = (mode: Mode) => {
    const vm = createVm({ mode, maxInstructions: 30_000_000 });
    vm.load(imageProgram('pic.bin', image)!);
    vm.run();
    return vm;
  };
  for (const mode of MODES.filter((m) => m !== 'paravirtual')) {
    it(mode, () => {
      const vm = run(mode);
      assert.equal(vm.outcome, 'exit', `${mode}: ${vm.report().error ?? ''}`);
      assert.equal(vm.report().exitCode, status(0, 1, 1), `${mode}: phases ${vm.report().exitCode}`);
    });
  }

  it('paravirtual models Xen: the VMM takes the request and holds it as a pending event (the guest owns no PIC there)', () => {
    const vm = run('paravirtual');
    assert.equal(vm.outcome, 'exit', vm.report().error ?? '');
    // Held while the virtual IF was 0, then delivered at STI though the line was masked.
    assert.equal(vm.report().exitCode, status(1, 1, 2));
  });
});
