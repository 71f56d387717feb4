// Paging as the SDM describes it: #PF error codes and CR2, CR0.WP, accessed and dirty bits, a TLB that
// really caches (a PTE change is invisible until INVLPG or a CR3 write), and self-modifying code.
import * as assert from 'node:assert/strict';
import { CR0_WP } from '../../core/cpu/constants';
import { assembleSnippets, TestPc } from './harness';

const SNIPPETS = {
  read: 'mov eax, [esi]\nint 0x30',
  write: 'mov dword [esi], 0x12345678\nint 0x30',
  // Reads twice; the test changes the PTE between the reads through the `between` hook (int 0x32).
  readTwice: 'mov eax, [esi]\nint 0x32\nmov ebx, [esi]\nint 0x30',
  readInvlpg: 'mov eax, [esi]\nint 0x32\ninvlpg [esi]\nmov ebx, [esi]\nint 0x30',
  // Self-modifying code: the loop patches the immediate of an ADD it already executed.
  smcLoop: 'mov ecx, 2\nxor ebx, ebx\n.loop:\n.patch: add ebx, 1\nmov byte [.patch + 2], 5\ndec ecx\njnz .loop\nint 0x30',
  // ... and the very next instruction in the same block.
  smcNext: 'mov byte [.next + 1], 7\n.next: mov al, 0\nint 0x30',
  // ... and code on a page reached through another linear mapping (physical, not linear, tracking).
  smcAlias: 'mov eax, 1\ncall esi\nmov edx, eax\nmov byte [edi + 1], 9\ncall esi\nint 0x30',
  stub: 'mov eax, 3\nret',
};

describe('CPU: paging and self-modifying code', function () {
  let image: Uint8Array;
  let at: Record<string, number>;
  before(function () {
    const s = assembleSnippets(SNIPPETS);
    image = s.image; at = s.address;
  });

  const NOT_PRESENT = 0x300000, READ_ONLY_USER = 0x301000, SUPERVISOR = 0x302000, PLAIN = 0x303000;
  function pagedPc(): TestPc {
    const pc = new TestPc(image, { paging: true });
    pc.setPte(NOT_PRESENT, NOT_PRESENT | 0x6);
    pc.setPte(READ_ONLY_USER, READ_ONLY_USER | 0x5);
    pc.setPte(SUPERVISOR, SUPERVISOR | 0x3);
    pc.setPte(PLAIN, PLAIN | 0x7);
    pc.cpu.flushTlb();
    return pc;
  }

  const cases: Array<[string, 0 | 3, 'read' | 'write', number, number]> = [
    ['a read of a not-present page at CPL 0', 0, 'read', NOT_PRESENT + 0x10, 0],
    ['a write to a not-present page at CPL 0', 0, 'write', NOT_PRESENT + 0x10, 2],
    ['a read of a not-present page at CPL 3', 3, 'read', NOT_PRESENT + 0x20, 4],
    ['a read of a supervisor page at CPL 3', 3, 'read', SUPERVISOR + 0x30, 5],
    ['a write to a read-only page at CPL 3', 3, 'write', READ_ONLY_USER + 0x40, 7],
  ];
  for (const [what, cpl, snippet, address, code] of cases) {
    it(`${what} → #PF error code ${code}, CR2 = the address`, function () {
      const pc = pagedPc();
      pc.enterRing(cpl);
      pc.cpu.regs[6] = address;
      const stop = pc.run(at[snippet]);
      assert.equal(stop.vector, 14);
      assert.equal(stop.stack[0], code);
      assert.equal(pc.cpu.cr2 >>> 0, address);
      assert.equal(stop.stack[1], at[snippet], 'EIP of the faulting instruction');
    });
  }

  it('CR0.WP decides whether ring 0 may write a read-only page (#PF code 3 with WP = 1)', function () {
    const pc = pagedPc();
    pc.cpu.regs[6] = READ_ONLY_USER;
    assert.equal(pc.run(at.write).vector, 0x30, 'WP = 0: the write succeeds');
    assert.equal(pc.m.mem.read32(READ_ONLY_USER) >>> 0, 0x12345678);
    const pc2 = pagedPc();
    pc2.cpu.setCr0(pc2.cpu.cr0 | CR0_WP);
    pc2.cpu.regs[6] = READ_ONLY_USER;
    const stop = pc2.run(at.write);
    assert.equal(stop.vector, 14);
    assert.equal(stop.stack[0], 3);
  });

  it('sets the accessed bit on a read and the dirty bit on a write, in the PTE and the PDE', function () {
    const pc = pagedPc();
    pc.m.mem.write32(0x10000, pc.pde() & ~0x60);
    assert.equal(pc.pte(PLAIN) & 0x60, 0);
    pc.cpu.regs[6] = PLAIN;
    pc.run(at.read);
    assert.equal(pc.pte(PLAIN) & 0x60, 0x20, 'A set, D clear after a read');
    assert.equal(pc.pde() & 0x20, 0x20, 'PDE accessed');
    const pc2 = pagedPc();
    pc2.cpu.regs[6] = PLAIN;
    pc2.run(at.read);
    pc2.run(at.write);
    assert.equal(pc2.pte(PLAIN) & 0x60, 0x60, 'A and D set after a write (to a page already in the TLB)');
  });

  it('the TLB keeps a translation until INVLPG', function () {
    for (const [snippet, faults] of [['readTwice', false], ['readInvlpg', true]] as const) {
      const pc = pagedPc();
      pc.m.mem.write32(PLAIN, 0xabcd);
      pc.cpu.regs[6] = PLAIN;
      let stop = pc.run(at[snippet]);
      assert.equal(stop.vector, 0x32);
      pc.setPte(PLAIN, 0); // not present now, but the TLB still holds the old entry
      assert.ok(pc.cpu.tlbHas(PLAIN));
      pc.cpu.eip = stop.stack[0]; // back from the stub to the code after int 0x32
      pc.cpu.regs[4] += 12;
      stop = pc.run(pc.cpu.eip);
      if (faults) {
        assert.equal(stop.vector, 14, 'after INVLPG the walk sees the not-present PTE');
        assert.equal(stop.stack[0], 0);
      } else {
        assert.equal(stop.vector, 0x30, 'without INVLPG the stale entry is used');
        assert.equal(pc.cpu.regs[3], 0xabcd);
      }
    }
  });

  it('a CR3 write flushes the TLB', function () {
    const pc = pagedPc();
    pc.cpu.regs[6] = PLAIN;
    pc.run(at.read);
    assert.ok(pc.cpu.tlbHas(PLAIN));
    pc.cpu.setCr3(pc.cpu.cr3);
    assert.ok(!pc.cpu.tlbHas(PLAIN));
  });

  it('CR4.PSE: a 4 MiB page maps through the PDE alone, with its A and D bits', function () {
    const pc = pagedPc();
    pc.cpu.setCr4(pc.cpu.cr4 | 0x10);
    pc.m.mem.write32(0x10000 + 4, 0x00000083); // PDE 1: linear 4–8 MiB → physical 0–4 MiB, writable
    pc.cpu.flushTlb();
    pc.m.mem.write32(0x5000, 0x600dcafe);
    assert.equal(pc.cpu.readLinear32(0x405000) >>> 0, 0x600dcafe);
    assert.equal(pc.m.mem.read32(0x10004) & 0x60, 0x20, 'accessed');
    pc.cpu.writeLinear32(0x405004, 1);
    assert.equal(pc.m.mem.read32(0x10004) & 0x60, 0x60, 'dirty');
    assert.equal(pc.m.mem.read32(0x5004), 1);
  });

  it('CR4.PGE: a CR3 write keeps global translations, INVLPG drops them', function () {
    const pc = pagedPc();
    pc.cpu.setCr4(pc.cpu.cr4 | 0x80);
    pc.setPte(PLAIN, PLAIN | 0x107);
    pc.cpu.readLinear32(PLAIN);
    pc.cpu.readLinear32(READ_ONLY_USER);
    pc.cpu.setCr3(pc.cpu.cr3);
    assert.ok(pc.cpu.tlbHas(PLAIN), 'global entry kept');
    assert.ok(!pc.cpu.tlbHas(READ_ONLY_USER), 'non-global entry flushed');
    pc.cpu.invalidatePage(PLAIN);
    assert.ok(!pc.cpu.tlbHas(PLAIN));
  });

  it('a write into an instruction already executed takes effect the next time it runs', function () {
    const pc = new TestPc(image);
    const stop = pc.run(at.smcLoop);
    assert.equal(stop.vector, 0x30);
    assert.equal(pc.cpu.regs[3], 1 + 5);
  });

  it('a write into the next instruction of the same block takes effect at once', function () {
    const pc = new TestPc(image);
    const stop = pc.run(at.smcNext);
    assert.equal(stop.vector, 0x30);
    assert.equal(pc.cpu.regs[0] & 0xff, 7);
  });

  it('a write through another linear mapping of the same physical page invalidates the decoded code', function () {
    const pc = new TestPc(image, { paging: true });
    // Map linear 0x200000 to the physical page of `stub`, and execute it from there; patch it through its identity address.
    pc.setPte(0x200000, (at.stub & ~0xfff) | 0x7);
    pc.cpu.flushTlb();
    pc.cpu.regs[6] = 0x200000 + (at.stub & 0xfff);
    pc.cpu.regs[7] = at.stub;
    const stop = pc.run(at.smcAlias);
    assert.equal(stop.vector, 0x30);
    assert.equal(pc.cpu.regs[2], 3, 'first call: the original code');
    assert.equal(pc.cpu.regs[0], 9, 'second call: the patched code');
  });
});
