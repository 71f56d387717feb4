// System and string instructions as the SDM describes them: SYSENTER/SYSEXIT, RDMSR/WRMSR (#GP for
// an unknown MSR), RDTSC from simulated time, CPUID, LAR/LSL/VERR/VERW/ARPL, SGDT/SIDT/SLDT/STR/SMSW,
// string instructions with REP/REPE/REPNE and the direction flag, privileged instructions at CPL 3.
import * as assert from 'node:assert/strict';
import { SS, ZF } from '../../core/cpu/constants';
import { assembleSnippets, GDT, IDT, SEL, TestPc } from './harness';

const SNIPPETS = {
  sysenter: 'mov ecx, 0x174\nxor edx, edx\nmov eax, 0x08\nwrmsr\nmov ecx, 0x175\nmov eax, 0x8f000\nwrmsr\nmov ecx, 0x176\nmov eax, .kernel\nwrmsr\n' +
    'mov ecx, 0x6f000\nmov edx, .user\nsysexit\n.user:\nmov esi, cs\nmov edi, ss\nsysenter\n.kernel:\nmov ebp, cs\nint 0x30',
  rdmsrBad: 'mov ecx, 0xc0ffee\nrdmsr\nint 0x30',
  rdtsc: 'rdtsc\nmov esi, eax\nnop\nnop\nrdtsc\nsub eax, esi\nint 0x30',
  cpuid: 'mov eax, 1\ncpuid\nint 0x30',
  lar: 'mov ax, 0x1b\nlar ebx, ax\nsetz cl\nmov ax, 0x10\nlar edx, ax\nsetz ch\nlsl esi, word [lslsel]\nint 0x30\nlslsel: dw 0x5b',
  verw: 'mov ax, 0x5b\nverr ax\nsetz bl\nverw ax\nsetz bh\nint 0x30',
  arpl: 'mov ax, 0x10\nmov cx, 0x3\narpl ax, cx\nsetz bl\nint 0x30',
  sgdt: 'sgdt [0x200000]\nsidt [0x200008]\nsldt eax\nstr ebx\nsmsw ecx\nint 0x30',
  repMovs: 'cld\nmov esi, 0x200000\nmov edi, 0x201000\nmov ecx, 5\nrep movsd\nint 0x30',
  repStosStd: 'std\nmov edi, 0x20100c\nmov eax, 0xabababab\nmov ecx, 3\nrep stosd\ncld\nint 0x30',
  repeCmps: 'cld\nmov esi, 0x200000\nmov edi, 0x201000\nmov ecx, 8\nrepe cmpsb\nint 0x30',
  repneScas: 'cld\nmov edi, 0x200000\nmov al, 0x42\nmov ecx, 100\nrepne scasb\nint 0x30',
  hlt: 'hlt',
  movCr: 'mov eax, cr0\nint 0x30',
  lgdt: 'lgdt [0x200000]\nint 0x30',
  singleStep: 'pushfd\nor dword [esp], 0x100\npopfd\nmov eax, 1\nmov eax, 2\nint 0x30',
};

describe('CPU: system and string instructions', function () {
  let image: Uint8Array;
  let at: Record<string, number>;
  before(function () {
    const s = assembleSnippets(SNIPPETS);
    image = s.image; at = s.address;
  });

  it('SYSEXIT enters ring 3 with CS = SYSENTER_CS + 16, SS = + 24; SYSENTER returns to ring 0', function () {
    const pc = new TestPc(image);
    // SYSENTER's layout: code0 at 0x08, data0 at 0x10, then ring 3 code and data at 0x18 / 0x20.
    const stop = pc.run(at.sysenter);
    assert.equal(stop.vector, 0x30);
    assert.equal(pc.cpu.regs[6], 0x1b, 'ring-3 CS');
    assert.equal(pc.cpu.regs[7], 0x23, 'ring-3 SS');
    assert.equal(pc.cpu.regs[5], 0x08, 'ring-0 CS after SYSENTER');
    assert.equal(pc.cpu.segSel[SS], SEL.data0);
  });

  it('RDMSR of an unknown MSR raises #GP(0)', function () {
    const pc = new TestPc(image);
    const stop = pc.run(at.rdmsrBad);
    assert.equal(stop.vector, 13);
    assert.equal(stop.stack[0], 0);
  });

  it('RDTSC counts simulated time: one cycle per instruction', function () {
    const pc = new TestPc(image);
    pc.run(at.rdtsc);
    assert.equal(pc.cpu.regs[0], 4, 'rdtsc … rdtsc is 4 instructions later (mov, nop, nop, rdtsc)');
  });

  it('CPUID leaf 1 reports what this CPU implements (FPU, TSC, MSR, CX8, APIC, SEP, PGE, CMOV, PSE, FXSR; no PAE)', function () {
    const pc = new TestPc(image);
    pc.run(at.cpuid);
    const edx = pc.cpu.regs[2];
    for (const bit of [0, 3, 4, 5, 8, 9, 11, 13, 15, 24]) assert.ok(edx & (1 << bit), `bit ${bit}`);
    assert.equal(edx & (1 << 6), 0, 'no PAE');
  });

  it('LAR/LSL at CPL 3: a visible descriptor sets ZF and gives its rights / limit; DPL 0 data is not visible', function () {
    const pc = new TestPc(image);
    pc.enterRing(3);
    pc.cpu.regs[3] = 0; pc.cpu.regs[2] = 0x77;
    pc.run(at.lar);
    assert.equal(pc.cpu.regs[3] >>> 0, 0x00cffb00, 'LAR 0x1b');
    assert.equal(pc.cpu.regs[1] & 0xff, 1, 'ZF after LAR 0x1b');
    assert.equal((pc.cpu.regs[1] >> 8) & 0xff, 0, 'ZF clear after LAR 0x10 at CPL 3');
    assert.equal(pc.cpu.regs[2], 0x77, 'destination unchanged');
    assert.equal(pc.cpu.regs[6] >>> 0, 0xffffffff, 'LSL of a page-granular 4 GiB segment (ESI)');
  });

  it('VERR/VERW: read-only data is readable but not writable', function () {
    const pc = new TestPc(image);
    pc.enterRing(3);
    pc.run(at.verw);
    assert.equal(pc.cpu.regs[3] & 0xffff, 0x0001);
  });

  it('ARPL raises the RPL of the destination to the source RPL and sets ZF', function () {
    const pc = new TestPc(image);
    pc.run(at.arpl);
    assert.equal(pc.cpu.regs[0] & 0xffff, 0x13);
    assert.equal(pc.cpu.regs[3] & 0xff, 1);
  });

  it('SGDT/SIDT/SLDT/STR/SMSW store the real registers, also at CPL 3', function () {
    const pc = new TestPc(image);
    pc.enterRing(3);
    pc.run(at.sgdt);
    const mem = pc.m.mem;
    assert.equal(mem.read16(0x200000), pc.cpu.gdtrLimit);
    assert.equal(mem.read32(0x200002), GDT);
    assert.equal(mem.read16(0x200008), 0x7ff);
    assert.equal(mem.read32(0x20000a), IDT);
    assert.equal(pc.cpu.regs[0], 0);
    assert.equal(pc.cpu.regs[3], SEL.tss);
    assert.equal(pc.cpu.regs[1], pc.cpu.cr0);
  });

  it('REP MOVSD copies ECX dwords and leaves ECX = 0, ESI/EDI advanced', function () {
    const pc = new TestPc(image);
    for (let k = 0; k < 6; k++) pc.m.mem.write32(0x200000 + 4 * k, 0x1000 + k);
    pc.run(at.repMovs);
    for (let k = 0; k < 5; k++) assert.equal(pc.m.mem.read32(0x201000 + 4 * k), 0x1000 + k);
    assert.equal(pc.m.mem.read32(0x201014), 0, 'one past the count is untouched');
    assert.equal(pc.cpu.regs[1], 0);
    assert.equal(pc.cpu.regs[6], 0x200014);
    assert.equal(pc.cpu.regs[7], 0x201014);
  });

  it('REP STOSD with DF = 1 stores downwards', function () {
    const pc = new TestPc(image);
    pc.run(at.repStosStd);
    assert.deepEqual([0x201004, 0x201008, 0x20100c].map((a) => pc.m.mem.read32(a) >>> 0), [0xabababab, 0xabababab, 0xabababab]);
    assert.equal(pc.m.mem.read32(0x201000), 0);
    assert.equal(pc.cpu.regs[7], 0x201000);
  });

  it('REPE CMPSB stops at the first difference; REPNE SCASB at the first match', function () {
    const pc = new TestPc(image);
    pc.m.mem.load(0x200000, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    pc.m.mem.load(0x201000, Uint8Array.from([1, 2, 3, 9, 5, 6, 7, 8]));
    pc.run(at.repeCmps);
    assert.equal(pc.cpu.regs[1], 4, 'ECX after 4 comparisons');
    assert.equal(pc.cpu.regs[6], 0x200004);
    assert.equal(pc.cpu.getEflags() & ZF, 0);
    const pc2 = new TestPc(image);
    pc2.m.mem.write8(0x200009, 0x42);
    pc2.run(at.repneScas);
    assert.equal(pc2.cpu.regs[7], 0x20000a);
    assert.equal(pc2.cpu.regs[1], 90);
    assert.ok(pc2.cpu.getEflags() & ZF);
  });

  it('EFLAGS.TF: the instruction after the POPF that set it runs, then a single-step #DB trap', function () {
    const pc = new TestPc(image);
    const stop = pc.run(at.singleStep);
    assert.equal(stop.vector, 1);
    assert.equal(pc.cpu.regs[0], 1, 'one instruction ran');
    assert.equal(stop.stack[0], at.singleStep + 1 + 7 + 1 + 5, 'the return address is the next instruction');
    assert.ok(stop.stack[2] & 0x100, 'TF in the pushed EFLAGS');
    assert.equal(pc.cpu.flags & 0x100, 0, 'the handler runs with TF clear');
    assert.ok(pc.cpu.dr[6] & 0x4000, 'DR6.BS');
  });

  it('privileged instructions raise #GP(0) at CPL 3 (HLT, MOV from CR0, LGDT)', function () {
    for (const name of ['hlt', 'movCr', 'lgdt'] as const) {
      const pc = new TestPc(image);
      pc.enterRing(3);
      const stop = pc.run(at[name]);
      assert.equal(stop.vector, 13, name);
      assert.equal(stop.stack[0], 0, name);
      assert.equal(stop.stack[2], SEL.code3, `${name}: from ring 3`);
    }
  });

});
