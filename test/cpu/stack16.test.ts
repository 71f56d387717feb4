// A 16-bit stack segment (SS.B = 0) in 32-bit code, as peer suites found Popek mishandling it (QEMU's
// test-i386, test386.asm): POPA / O16 POPA, POP r/m to memory and POP SS move SP with 16-bit
// wrap-around (POP SS by the size of the stack it pops from), ENTER with nesting ≥ 2 reads the outer
// frame pointers through BP, and ENTER raises #PF for an unwritable final stack page before it
// changes anything. Each test states what changes and checks that nothing else does (registers,
// EFLAGS, segment selectors, the memory around the stack), in the DeZog unit-test style.
import * as assert from 'node:assert/strict';
import { CS, DS, ES, FS, GS, SS } from '../../core/cpu/constants';
import { assembleSnippets, SEL, TestPc } from './harness';

/** A 16-bit data segment (B = 0, byte granular, limit 0xFFFF) at this base, for SS. */
const STACK16_BASE = 0x60000;
const STACK16 = SEL.small; // the harness's spare descriptor slot, rewritten per test

const snippets = {
  popa32: 'popad\nint 0x30',
  popa16: 'popaw\nint 0x30',
  popMem: 'pop dword [ebx]\nint 0x30',
  popSs: 'pop ss\nint 0x30',
  enter32: 'enter 8, 2\nint 0x30',
  enter16: 'o16 enter 4, 3\nint 0x30',
  enterFault: 'enter 0x1000, 0\nint 0x30',
};
const { image, address: at } = assembleSnippets(snippets);

function withStack16(pc: TestPc): void {
  const lo = ((STACK16_BASE & 0xffff) << 16) | 0xffff;
  const hi = (STACK16_BASE & 0xff000000) | 0x00009300 | ((STACK16_BASE >>> 16) & 0xff);
  pc.setDescriptor(STACK16, lo, hi);
  pc.cpu.loadSegment(SS, STACK16);
}

interface Snapshot { regs: number[]; eflags: number; sel: number[] }
function snapshot(pc: TestPc): Snapshot {
  return { regs: Array.from(pc.cpu.regs), eflags: pc.cpu.getEflags(), sel: [CS, DS, ES, FS, GS, SS].map((s) => pc.cpu.segSel[s]) };
}
/** Every register equals `before` except those in `changed` (index → expected value). */
function assertOnly(pc: TestPc, before: Snapshot, changed: Record<number, number>, what: string): void {
  for (let r = 0; r < 8; r++) {
    const want = r in changed ? changed[r] >>> 0 : before.regs[r] >>> 0;
    assert.equal(pc.cpu.regs[r] >>> 0, want >>> 0, `${what}: register ${['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'][r]}`);
  }
  assert.equal(pc.cpu.getEflags(), before.eflags, `${what}: EFLAGS unchanged`);
}
/** ESP once the test's `int 0x30` has pushed its 12-byte frame (SP wraps on a 16-bit stack). */
function afterInt(esp: number, stack16: boolean): number {
  return stack16 ? (esp & ~0xffff) | ((esp - 12) & 0xffff) : (esp - 12) | 0;
}
/** Linear bytes [from, to) as a hex string (to see that nothing else was written). */
function bytes(pc: TestPc, from: number, to: number): string {
  let s = '';
  for (let a = from; a < to; a++) s += pc.m.mem.read8(a).toString(16).padStart(2, '0');
  return s;
}

describe('CPU: 16-bit stack segment (SS.B = 0) in 32-bit code', function () {
  it('POPAD wraps SP at 64 KiB and keeps ESP[31:16]; every other register comes from the stack', function () {
    const pc = new TestPc(image);
    withStack16(pc);
    for (let k = 0; k < 8; k++) pc.m.mem.write32(STACK16_BASE + 0xffe0 + 4 * k, 0x11111111 * (8 - k));
    pc.cpu.regs[4] = 0x1234ffe0;
    const before = snapshot(pc);
    const stop = pc.run(at.popa32);
    assert.equal(stop.vector, 0x30);
    // POPAD pops EDI, ESI, EBP, (skip), EBX, EDX, ECX, EAX from SP = 0xFFE0 upwards
    assertOnly(pc, before, { 7: 0x88888888, 6: 0x77777777, 5: 0x66666666, 3: 0x44444444, 2: 0x33333333, 1: 0x22222222, 0: 0x11111111, 4: afterInt(0x12340000, true) }, 'popad');
    assert.deepEqual(snapshot(pc).sel, before.sel, 'segment selectors unchanged');
  });

  it('O16 POPA wraps SP at 64 KiB, writes only the low words, and keeps ESP[31:16]', function () {
    const pc = new TestPc(image);
    withStack16(pc);
    for (let k = 0; k < 8; k++) pc.m.mem.write16(STACK16_BASE + 0xfff0 + 2 * k, 0x1111 * (8 - k));
    for (let r = 0; r < 8; r++) if (r !== 4) pc.cpu.regs[r] = 0xabcd0000 | r;
    pc.cpu.regs[4] = 0x5678fff0;
    const before = snapshot(pc);
    pc.run(at.popa16);
    assertOnly(pc, before, { 7: 0xabcd8888, 6: 0xabcd7777, 5: 0xabcd6666, 3: 0xabcd4444, 2: 0xabcd3333, 1: 0xabcd2222, 0: 0xabcd1111, 4: afterInt(0x56780000, true) }, 'popaw');
  });

  it('POP r/m32 to memory: SP wraps at 64 KiB, ESP[31:16] kept, the dword lands at [EBX] and nowhere else', function () {
    const pc = new TestPc(image);
    withStack16(pc);
    pc.m.mem.write32(STACK16_BASE + 0xfffc, 0xdeadbeef);
    pc.cpu.regs[3] = 0x50000;
    pc.cpu.regs[4] = 0x0042fffc;
    const around = bytes(pc, 0x4fff8, 0x50008);
    const before = snapshot(pc);
    pc.run(at.popMem);
    assertOnly(pc, before, { 4: afterInt(0x00420000, true) }, 'pop dword [ebx]');
    assert.equal(pc.m.mem.read32(0x50000) >>> 0, 0xdeadbeef);
    assert.equal(bytes(pc, 0x4fff8, 0x50000) + bytes(pc, 0x50004, 0x50008), around.slice(0, 16) + around.slice(24), 'the bytes around [EBX] unchanged');
  });

  it('POP SS moves ESP by the size of the old stack: 16-bit old SS wraps SP, 32-bit old SS does not', function () {
    // from a 16-bit stack to a 32-bit one: SP = 0xFFFC + 4 wraps to 0, ESP[31:16] kept
    let pc = new TestPc(image);
    withStack16(pc);
    pc.m.mem.write32(STACK16_BASE + 0xfffc, SEL.data0);
    pc.cpu.regs[4] = 0x0007fffc;
    let before = snapshot(pc);
    pc.run(at.popSs);
    assertOnly(pc, before, { 4: afterInt(0x00070000, false) }, 'pop ss (16-bit → 32-bit)');
    assert.equal(pc.cpu.segSel[SS], SEL.data0);
    // from a 32-bit stack to a 16-bit one: ESP = 0x0007FFFC + 4, no wrap
    pc = new TestPc(image);
    pc.setDescriptor(STACK16, ((STACK16_BASE & 0xffff) << 16) | 0xffff, 0x00009300 | ((STACK16_BASE >>> 16) & 0xff));
    pc.m.mem.write32(0x7fffc, STACK16);
    pc.cpu.regs[4] = 0x0007fffc;
    before = snapshot(pc);
    pc.run(at.popSs);
    assert.equal(pc.cpu.segSel[SS], STACK16);
    assertOnly(pc, before, { 4: afterInt(0x00080000, true) }, 'pop ss (32-bit → 16-bit)');
  });

  it('ENTER 8, 2 on a 16-bit stack copies the outer frame pointer through BP (EBP[31:16] ignored) and wraps nothing else', function () {
    const pc = new TestPc(image);
    withStack16(pc);
    pc.m.mem.write32(STACK16_BASE + 0x00fc, 0xcafef00d); // [BP - 4]: the outer level's frame pointer
    pc.cpu.regs[5] = 0xabcd0100; // EBP: BP = 0x100, upper half not part of the address
    pc.cpu.regs[4] = 0x00000200;
    const around = bytes(pc, STACK16_BASE + 0x1e0, STACK16_BASE + 0x200);
    const before = snapshot(pc);
    const stop = pc.run(at.enter32);
    assert.equal(stop.vector, 0x30, 'no #SS/#GP from an address taken through EBP');
    // FrameTemp = 0x1FC: [0x1FC] = old EBP, [0x1F8] = [BP - 4], [0x1F4] = FrameTemp; ESP = 0x1F4 - 8; EBP = FrameTemp
    // (INT 0x30 then pushed its 12-byte frame below ESP = 0x1EC)
    assertOnly(pc, before, { 5: 0x000001fc, 4: afterInt(0x000001ec, true) }, 'enter 8, 2');
    assert.equal(pc.m.mem.read32(STACK16_BASE + 0x1fc) >>> 0, 0xabcd0100);
    assert.equal(pc.m.mem.read32(STACK16_BASE + 0x1f8) >>> 0, 0xcafef00d);
    assert.equal(pc.m.mem.read32(STACK16_BASE + 0x1f4) >>> 0, 0x000001fc);
    assert.equal(bytes(pc, STACK16_BASE + 0x1ec, STACK16_BASE + 0x1f4), around.slice(2 * 0xc, 2 * 0x14), 'the allocated bytes are not written');
  });

  it('O16 ENTER 4, 3 on a 16-bit stack: word frame pointers through BP - 2, BP - 4; only BP and SP change', function () {
    const pc = new TestPc(image);
    withStack16(pc);
    pc.m.mem.write16(STACK16_BASE + 0x00fe, 0x1111);
    pc.m.mem.write16(STACK16_BASE + 0x00fc, 0x2222);
    pc.cpu.regs[5] = 0x77770100;
    pc.cpu.regs[4] = 0x99990200;
    const before = snapshot(pc);
    pc.run(at.enter16);
    // FrameTemp = 0x1FE: [0x1FE] = BP, [0x1FC] = [BP-2], [0x1FA] = [BP-4], [0x1F8] = FrameTemp; SP = 0x1F8 - 4
    assertOnly(pc, before, { 5: 0x777701fe, 4: afterInt(0x999901f4, true) }, 'o16 enter 4, 3');
    assert.deepEqual([0x1fe, 0x1fc, 0x1fa, 0x1f8].map((o) => pc.m.mem.read16(STACK16_BASE + o)), [0x0100, 0x1111, 0x2222, 0x01fe]);
  });

  it('ENTER raises #PF when the final stack page is not present, before pushing EBP or changing ESP/EBP', function () {
    const pc = new TestPc(image, { paging: true });
    const page = 0x70000; // ESP = page + 0x10; the frame needs page - 0x1000 (not present)
    pc.setPte(page - 0x1000, 0);
    pc.cpu.regs[4] = page + 0x10;
    pc.cpu.regs[5] = 0x12345678;
    const around = bytes(pc, page, page + 0x20);
    const before = snapshot(pc);
    const stop = pc.run(at.enterFault);
    assert.equal(stop.vector, 14, '#PF');
    assert.equal(pc.cpu.cr2 >>> 0, (page + 0x10 - 4 - 0x1000) >>> 0, 'CR2 = the final stack pointer');
    assert.equal(stop.stack[0] & 3, 2, 'error code: write to a not-present page');
    assert.equal(stop.stack[1], at.enterFault, 'the fault is reported at ENTER');
    // the #PF frame (error code, EIP, CS, EFLAGS) went below the unchanged ESP, so EFLAGS sits where
    // ENTER would have pushed EBP; nothing above it was written
    assertOnly(pc, before, { 4: page }, 'enter with an unwritable final stack page');
    assert.equal(pc.m.mem.read32(page + 0xc), stop.stack[3], 'EBP was not pushed: the #PF frame\'s EFLAGS is there');
    assert.equal(bytes(pc, page + 0x10, page + 0x20), around.slice(0x20), 'nothing above ESP was written');
  });
});
