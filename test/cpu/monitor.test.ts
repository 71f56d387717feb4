// The hook points a monitor (the VMM) builds on (core/cpu/monitor.ts): event interception before IDT
// delivery, instruction-class intercepts with emulate-and-skip, critical-instruction notifications,
// injection, the emulator helpers, decoded instructions executed one by one, physical write watches.
import * as assert from 'node:assert/strict';
import { DS, IF, GP, UD } from '../../core/cpu/constants';
import { CpuFault } from '../../core/cpu/fault';
import { InsnClass, type CriticalEvent, type DeliveryEvent } from '../../core/cpu/monitor';
import { assembleSnippets, SEL, TestPc } from './harness';

const SNIPPETS = {
  cpuid: 'xor eax, eax\ncpuid\nmov esi, ebx\nint 0x30',
  cli: 'cli\nmov eax, 5\nint 0x30',
  popf: 'push dword 0x2\npopfd\nint 0x30',
  ud2: 'ud2\nmov eax, 9\nint 0x30',
  loop: 'inc eax\njmp $-1',
  straight: 'mov eax, 1\nadd eax, 2\nshl eax, 3\njmp 0x100000',
  store: 'mov dword [0x200010], 0x55\nint 0x30',
};

describe('CPU: monitor hook points', function () {
  let image: Uint8Array;
  let at: Record<string, number>;
  before(function () {
    const s = assembleSnippets(SNIPPETS);
    image = s.image; at = s.address;
  });

  it('(b) intercepts CPUID before it runs; the monitor emulates it and the CPU skips it', function () {
    const pc = new TestPc(image);
    const seen: string[] = [];
    pc.cpu.setMonitor({
      interceptClasses: InsnClass.CPUID,
      onInstruction(cpu, insn) {
        seen.push(`${insn.mnemonic}/${insn.len}`);
        cpu.regs[3] = 0x1234;
        return true;
      },
    });
    const stop = pc.run(at.cpuid);
    assert.equal(stop.vector, 0x30);
    assert.deepEqual(seen, ['cpuid/2'], 'only the intercepted class reaches the monitor');
    assert.equal(pc.cpu.regs[6], 0x1234);
  });

  it('(b) returning false executes the instruction natively', function () {
    const pc = new TestPc(image);
    pc.cpu.setMonitor({ interceptClasses: InsnClass.CPUID, onInstruction: () => false });
    pc.run(at.cpuid);
    assert.equal(pc.cpu.regs[6], 0x756e6547, 'EBX = "Genu"');
  });

  it('(a) sees an exception before IDT delivery and can handle it (trap-and-emulate)', function () {
    const pc = new TestPc(image);
    pc.enterRing(3);
    const events: DeliveryEvent[] = [];
    pc.cpu.setMonitor({
      onEvent(cpu, ev) {
        events.push(ev);
        if (ev.vector === GP && ev.kind === 'exception') { cpu.eip = (cpu.eip + 1) >>> 0; return true; } // emulate CLI: skip it
        return false;
      },
    });
    const stop = pc.run(at.cli);
    assert.equal(stop.vector, 0x30, 'the software interrupt was delivered normally');
    assert.equal(pc.cpu.regs[0], 5, 'execution went on after the emulated CLI');
    assert.deepEqual(events.map((e) => [e.vector, e.kind, e.eip]), [[GP, 'exception', at.cli], [0x30, 'software', at.cli + 1 + 5 + 2]]);
    assert.equal(events[0].errorCode, 0);
  });

  it('(a) a #PF reaches the monitor with its address before CR2 is written', function () {
    const pc = new TestPc(image, { paging: true });
    pc.setPte(0x200000, 0);
    pc.cpu.flushTlb();
    let seen: DeliveryEvent | undefined;
    pc.cpu.setMonitor({ onEvent: (cpu, ev) => { if (ev.vector === 14) { seen = ev; assert.equal(cpu.cr2, 0); } return false; } });
    pc.run(at.store);
    assert.equal(seen?.address, 0x200010);
    assert.equal(seen?.errorCode, 2);
    assert.equal(pc.cpu.cr2, 0x200010, 'delivered by the CPU afterwards');
  });

  it('(c) reports a critical instruction after it ran, with EFLAGS before and after', function () {
    const pc = new TestPc(image);
    pc.enterRing(3, 0x2 | IF);
    const events: CriticalEvent[] = [];
    pc.cpu.setMonitor({ onCritical: (_cpu, ev) => events.push(ev) });
    pc.run(at.popf);
    const popf = events.find((e) => e.mnemonic === 'popfd');
    assert.ok(popf, `events: ${events.map((e) => e.mnemonic).join(', ')}`);
    assert.equal(popf.cplBefore, 3);
    assert.equal(popf.eflagsBefore & IF, IF);
    assert.equal(popf.eflagsAfter & IF, IF, 'POPF at CPL 3 silently kept IF');
    assert.ok(events.some((e) => e.mnemonic === 'int'), 'INT n is critical too');
  });

  it('(d) an injected exception is delivered at the next boundary; a queued IRQ when IF = 1', function () {
    const pc = new TestPc(image);
    pc.cpu.injectException(UD);
    let stop = pc.run(at.loop);
    assert.equal(stop.vector, UD);
    const pc2 = new TestPc(image);
    pc2.enterRing(0, 0x2 | IF);
    pc2.cpu.raiseIrq(0x47);
    stop = pc2.run(at.loop);
    assert.equal(stop.vector, 0x47);
    assert.equal(stop.stack[0], at.loop, 'the interrupted instruction is the return address');
  });

  it('(d) a monitor can raise a fault from an intercept (delivered at the intercepted instruction)', function () {
    const pc = new TestPc(image);
    pc.cpu.setMonitor({ interceptClasses: InsnClass.CPUID, onInstruction: () => { throw new CpuFault(GP, 0x18); } });
    const stop = pc.run(at.cpuid);
    assert.equal(stop.vector, GP);
    assert.equal(stop.stack[0], 0x18);
    assert.equal(stop.stack[1], at.cpuid + 2);
  });

  it('(e) helpers: linear accesses through paging, segment loads with their checks, every register', function () {
    const pc = new TestPc(image, { paging: true });
    pc.setPte(0x200000, 0x301000 | 0x7);
    pc.cpu.flushTlb();
    pc.cpu.writeLinear32(0x200004, 0xfeedf00d);
    assert.equal(pc.m.mem.read32(0x301004) >>> 0, 0xfeedf00d);
    assert.equal(pc.cpu.readLinear32(0x200004) >>> 0, 0xfeedf00d);
    assert.throws(() => pc.cpu.readLinear32(0x3ff000 + 0x1000 * 0x100), (e: CpuFault) => e.vector === 14);
    assert.throws(() => pc.cpu.loadSegment(DS, 0x48), (e: CpuFault) => e.vector === 11 && e.errorCode === 0x48);
    pc.cpu.loadSegment(DS, SEL.data3);
    assert.equal(pc.cpu.segSel[DS], SEL.data3);
    pc.cpu.writeMsr(0x176, 0x1234n);
    assert.equal(pc.cpu.readMsr(0x176), 0x1234n);
    assert.throws(() => pc.cpu.readMsr(0x12345), (e: CpuFault) => e.vector === GP);
    const state = pc.cpu.getState();
    assert.equal(state.gdtr[0], pc.cpu.gdtrBase);
  });

  it('(f) decoded instructions run one by one; blocks end at control transfers', function () {
    const pc = new TestPc(image);
    const block = pc.cpu.decodeBlock(at.straight);
    assert.deepEqual(block.map((i) => i.mnemonic), ['mov', 'add', 'shl', 'jmp']);
    assert.ok(block[3].endsBlock && !block[0].endsBlock);
    pc.cpu.eip = at.straight;
    for (const insn of block) pc.cpu.execOne(insn);
    assert.equal(pc.cpu.regs[0], 24);
    assert.equal(pc.cpu.eip, 0x100000);
    assert.equal(pc.cpu.icount, 4);
  });

  it('(f) a physical write watch sees guest writes before they land', function () {
    const pc = new TestPc(image);
    const writes: Array<[number, number]> = [];
    const remove = pc.m.mem.addWriteWatch(0x200, (addr, size) => writes.push([addr, size]));
    pc.run(at.store);
    assert.deepEqual(writes, [[0x200010, 4]]);
    remove();
    pc.run(at.store);
    assert.equal(writes.length, 1);
  });
});
