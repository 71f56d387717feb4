// Shadow page tables (trap-and-emulate): filled lazily from the guest's tables, accessed and dirty
// bits propagated back to the guest's entries, and kept coherent when the guest writes a PTE.
import * as assert from 'node:assert/strict';
import { R_SHADOW_PD } from '../../core/vmm/ringCompression';
import type { Vm } from '../../core/vmm';
import { boot, guest, runTo } from './support';

const PAGING_GUEST = `
bits 32
org 0x100000
PD      equ 0x110000
PT0     equ 0x111000          ; identity map of the first 4 MiB
PT1     equ 0x112000          ; maps 0x400000
FRAME_A equ 0x200000
FRAME_B equ 0x201000
start:
    mov esp, 0x180000
    mov dword [FRAME_A], 0xaaaa
    mov dword [FRAME_B], 0xbbbb
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
    mov dword [PT1], FRAME_A | 3
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov eax, [0x400000]          ; a read: the guest PTE gets A, not D
read_done:
    mov dword [0x400004], 0x5555 ; a write: D
write_done:
    mov dword [PT1], FRAME_B | 3 ; the guest rewrites the PTE (no INVLPG yet)
pte_written:
    invlpg [0x400000]
    mov eax, [0x400000]
    mov [result], eax
    out 0xf4, al
result: dd 0
`;

const PT1 = 0x112000, FRAME_A = 0x200000, FRAME_B = 0x201000;

function shadowPte(vm: Vm, lin: number): number {
  const mem = vm.machine.mem, pd = mem.reservedBase + R_SHADOW_PD;
  const pde = mem.read32(pd + (lin >>> 22) * 4);
  if (!(pde & 1)) return 0;
  return mem.read32((pde & ~0xfff) + ((lin >>> 12) & 0x3ff) * 4) >>> 0;
}

describe('vmm: shadow paging (trap-and-emulate)', function () {
  this.timeout(60_000);

  it('fills from the guest tables, propagates A and D, and drops the shadow entry when the guest writes its PTE', () => {
    const g = guest(PAGING_GUEST);
    const { vm, events } = boot(g.program, 'trap-and-emulate');
    const mem = vm.machine.mem;
    assert.equal(runTo(vm, g.label('read_done')), 'breakpoint');
    assert.equal(vm.cpu.regs[0], 0xaaaa, 'the read went through the guest mapping');
    assert.notEqual(vm.cpu.cr3, 0x110000, 'the real CR3 is the shadow, not the guest directory');
    let gpte = mem.read32(PT1);
    assert.equal(gpte & 0x20, 0x20, 'guest PTE accessed');
    assert.equal(gpte & 0x40, 0, 'guest PTE still clean after a read');
    let spte = shadowPte(vm, 0x400000);
    assert.equal(spte & ~0xfff, FRAME_A);
    assert.equal(spte & 2, 0, 'clean page shadowed read-only, so the first write is seen');

    runTo(vm, g.label('write_done'));
    gpte = mem.read32(PT1);
    assert.equal(gpte & 0x40, 0x40, 'guest PTE dirty after the write');
    spte = shadowPte(vm, 0x400000);
    assert.equal(spte & 2, 2, 'shadow writable once the guest entry is dirty');
    assert.ok(events.some((e) => e.kind === 'shadow-paging' && e.action === 'dirty'));
    assert.equal(mem.read32(FRAME_A + 4), 0x5555);

    runTo(vm, g.label('pte_written'));
    assert.equal(shadowPte(vm, 0x400000) & 1, 0, 'the traced PTE write dropped the shadow entry');
    const ptWrite = events.find((e) => e.kind === 'shadow-paging' && e.action === 'pt-write');
    assert.ok(ptWrite && ptWrite.cost > 0 && ptWrite.mnemonic === 'mov');

    assert.equal(vm.run(), 'exit');
    assert.equal(mem.read32(g.label('result')), 0xbbbb, 'the new mapping is used after the rewrite');
    assert.equal(shadowPte(vm, 0x400000) & ~0xfff, FRAME_B, 'refilled from the new guest entry');
  });

  it("reflects the guest's own page faults with the guest error code and CR2", () => {
    const g = guest(`
bits 32
org 0x100000
start:
    mov esp, 0x180000
    mov dword [0x110000], 0            ; an empty directory …
    mov dword [0x110000], 0x111000 | 3 ; … mapping only the first 4 MiB
    xor ecx, ecx
.fill:
    mov eax, ecx
    shl eax, 12
    or eax, 3
    mov [0x111000 + ecx * 4], eax
    inc ecx
    cmp ecx, 1024
    jne .fill
    lidt [idtr]
    mov eax, 0x110000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov dword [0x800000], 1            ; not mapped: the guest's #PF
    jmp $
pf:
    mov eax, cr2
    mov [cr2_seen], eax
    pop eax
    mov [err_seen], eax
    out 0xf4, al
idtr: dw 14 * 8 + 7
      dd idt
idt:  times 14 dq 0
      dw pf, 0x08, 0x8e00, 0x10
cr2_seen: dd 0
err_seen: dd 0
`);
    const { vm } = boot(g.program, 'trap-and-emulate');
    assert.equal(vm.run(), 'exit');
    const mem = vm.machine.mem;
    assert.equal(mem.read32(g.label('cr2_seen')), 0x800000);
    assert.equal(mem.read32(g.label('err_seen')), 2, 'not present, write, supervisor (the guest believes CPL 0)');
  });
});
