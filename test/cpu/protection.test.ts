// The SDM's edge cases of protected mode: POPF and IRET at CPL 0, 1 and 3 with IOPL 0 and 3, returns
// to an outer ring, #GP/#NP/#SS error codes of segment loads, gates and their privilege checks,
// double fault and triple fault, I/O permission. Guest code is assembled by NASM (one run).
import * as assert from 'node:assert/strict';
import { CS, DS, ES, SS, IF, IOPL } from '../../core/cpu/constants';
import { assembleSnippets, SEL, STACK0, STACK3, TestPc, HANDLERS } from './harness';

const SNIPPETS = {
  // EAX = the EFLAGS image to pop; EBX = EFLAGS after.
  popf: 'push eax\npopfd\npushfd\npop ebx\nint 0x30',
  // Same-privilege IRET: EAX = EFLAGS image, ECX = CS (the current one).
  iretSame: 'push eax\npush ecx\npush dword .after\niretd\n.after:\npushfd\npop ebx\nint 0x30',
  // IRET to ring 3 from ring 0: EAX = EFLAGS image.
  iretOuter: 'push dword 0x23\npush dword 0x6f000\npush eax\npush dword 0x1b\npush dword .user\niretd\n.user:\npushfd\npop ebx\nmov esi, ss\nmov edi, esp\nint 0x30',
  // Far RET to ring 3 from ring 0, with an immediate that releases 8 bytes of parameters.
  retfOuter: 'push dword 0x23\npush dword 0x6e000\npush dword 0\npush dword 0\npush dword 0x1b\npush dword .user\nretf 8\n.user:\nmov esi, ss\nmov edi, esp\nint 0x30',
  movDs: 'mov ds, ax\nint 0x30',
  movSs: 'mov ss, ax\nint 0x30',
  intN: 'int 0x41',
  ud2: 'ud2',
  inPort: 'in al, 0xe0\nint 0x30',
  loop: 'jmp $',
  callGate: 'call 0x50:0\nint 0x30',
  gateTarget: 'mov esi, ss\nmov edi, esp\nint 0x31',
  farJmpConforming: 'jmp 0x40:.next\n.next:\nmov esi, cs\nint 0x30',
  pushEax: 'push eax\nint 0x30',
};

describe('CPU: protected-mode edge cases (SDM)', function () {
  let image: Uint8Array;
  let at: Record<string, number>;
  before(function () {
    const s = assembleSnippets(SNIPPETS);
    image = s.image; at = s.address;
  });

  describe('POPF', function () {
    for (const cpl of [0, 1, 3] as const) {
      for (const iopl of [0, 3]) {
        it(`at CPL ${cpl} with IOPL ${iopl}: IF changes ${cpl <= iopl ? 'yes' : 'no'}, IOPL changes ${cpl === 0 ? 'yes' : 'no'}`, function () {
          const pc = new TestPc(image);
          pc.enterRing(cpl, 0x2 | IF | (iopl << 12));
          // Ask for IF = 0 and the other IOPL, with CF and ZF set.
          pc.cpu.regs[0] = 0x2 | 0x41 | ((3 - iopl) << 12);
          const stop = pc.run(at.popf);
          assert.equal(stop.vector, 0x30);
          const after = pc.cpu.regs[3];
          assert.equal(after & 0x41, 0x41, 'arithmetic flags always pop');
          assert.equal((after & IF) !== 0, cpl > iopl, 'IF');
          assert.equal((after & IOPL) >> 12, cpl === 0 ? 3 - iopl : iopl, 'IOPL');
        });
      }
    }
  });

  describe('IRET to the same privilege level', function () {
    for (const cpl of [0, 1, 3] as const) {
      for (const iopl of [0, 3]) {
        it(`at CPL ${cpl} with IOPL ${iopl}: same IF/IOPL rule as POPF`, function () {
          const pc = new TestPc(image);
          pc.enterRing(cpl, 0x2 | IF | (iopl << 12));
          pc.cpu.regs[0] = 0x2 | 0x801 | ((3 - iopl) << 12); // IF = 0, OF and CF set
          pc.cpu.regs[1] = pc.cpu.segSel[CS];
          const stop = pc.run(at.iretSame);
          assert.equal(stop.vector, 0x30);
          const after = pc.cpu.regs[3];
          assert.equal(after & 0x801, 0x801);
          assert.equal((after & IF) !== 0, cpl > iopl, 'IF');
          assert.equal((after & IOPL) >> 12, cpl === 0 ? 3 - iopl : iopl, 'IOPL');
        });
      }
    }
  });

  describe('returns to an outer ring', function () {
    it('IRET from ring 0 to ring 3 loads SS:ESP from the frame and nulls DS (DPL 0 < CPL 3)', function () {
      const pc = new TestPc(image);
      pc.cpu.loadSegment(ES, SEL.data3);
      pc.cpu.regs[0] = 0x2 | IF | (0 << 12);
      const stop = pc.run(at.iretOuter);
      assert.equal(stop.vector, 0x30);
      assert.equal(pc.cpu.regs[6], SEL.data3, 'SS in ring 3');
      assert.equal(pc.cpu.regs[7], 0x6f000, 'ESP from the frame');
      assert.equal(pc.cpu.regs[3] & IF, IF, 'IF popped at CPL 0');
      // The INT from ring 3 switched to the TSS ring-0 stack and pushed SS, ESP, EFLAGS, CS, EIP.
      assert.equal(pc.cpu.segSel[SS], SEL.data0);
      const [eip, cs, eflags, esp, ss] = stop.stack;
      assert.equal(cs, SEL.code3);
      assert.equal(ss, SEL.data3);
      assert.equal(esp, 0x6f000);
      assert.ok(eflags & IF);
      assert.ok(eip > at.iretOuter && eip < at.iretOuter + 0x40);
      assert.equal(pc.cpu.regs[4], STACK0 - 20);
      // Returning to ring 3 nulled DS (DPL 0) and kept ES (DPL 3).
      assert.equal(pc.cpu.segSel[DS], 0);
      assert.equal(pc.cpu.segSel[ES], SEL.data3);
    });

    it('RET far with an immediate from ring 0 to ring 3 releases the parameters on both stacks', function () {
      const pc = new TestPc(image);
      const stop = pc.run(at.retfOuter);
      assert.equal(stop.vector, 0x30);
      assert.equal(pc.cpu.regs[6], SEL.data3);
      assert.equal(pc.cpu.regs[7], 0x6e000 + 8);
    });

    it('IRET to an inner ring is refused with #GP(selector)', function () {
      const pc = new TestPc(image);
      pc.enterRing(3, 0x2);
      pc.cpu.regs[0] = 0x2;
      pc.cpu.regs[1] = SEL.code0;
      const stop = pc.run(at.iretSame);
      assert.equal(stop.vector, 13);
      assert.equal(stop.stack[0], SEL.code0);
    });
  });

  describe('segment loads: error codes', function () {
    const cases: Array<[string, 0 | 3, number, 'movDs' | 'movSs', number, number]> = [
      ['a selector beyond the GDT limit', 0, 0x68, 'movDs', 13, 0x68],
      ['RPL 3 for a DPL 0 data segment', 0, 0x13, 'movDs', 13, 0x10],
      ['a DPL 0 data segment at CPL 3', 3, 0x10, 'movDs', 13, 0x10],
      ['a not-present segment', 0, 0x48, 'movDs', 11, 0x48],
      ['a TSS descriptor', 0, 0x28, 'movDs', 13, 0x28],
      ['an LDT selector without an LDT', 0, 0x5c, 'movDs', 13, 0x5c],
      ['a null selector into SS', 0, 0, 'movSs', 13, 0],
      ['SS with RPL ≠ CPL', 0, 0x23, 'movSs', 13, 0x20],
      ['read-only data into SS', 3, 0x5b, 'movSs', 13, 0x58],
    ];
    for (const [what, cpl, sel, snippet, vector, code] of cases) {
      it(`${what} (${snippet === 'movDs' ? 'MOV DS' : 'MOV SS'}, ${sel.toString(16)}h at CPL ${cpl}) → ${vector === 11 ? '#NP' : '#GP'}(${code.toString(16)}h)`, function () {
        const pc = new TestPc(image);
        pc.enterRing(cpl);
        pc.cpu.regs[0] = sel;
        const stop = pc.run(at[snippet]);
        assert.equal(stop.vector, vector);
        assert.equal(stop.stack[0], code, 'error code');
        assert.equal(stop.stack[1], at[snippet], 'the faulting MOV is the return address');
      });
    }
    it('a null selector into DS is allowed, and using it raises #GP(0)', function () {
      const pc = new TestPc(image);
      pc.cpu.regs[0] = 0;
      const stop = pc.run(at.movDs);
      assert.equal(stop.vector, 0x30);
      assert.equal(pc.cpu.segSel[DS], 0);
      assert.throws(() => pc.cpu.read32(DS, 0), (e: { vector?: number; errorCode?: number }) => e.vector === 13 && e.errorCode === 0);
    });
    it('loading a segment sets the accessed bit of its descriptor', function () {
      const pc = new TestPc(image);
      assert.equal(pc.readDescriptorHi(0x20) & 0x100, 0);
      pc.cpu.regs[0] = 0x23;
      pc.run(at.movDs);
      assert.equal(pc.readDescriptorHi(0x20) & 0x100, 0x100);
    });
    it('an expand-down segment allows offsets above its limit only; a stack access below raises #SS(0)', function () {
      const pc = new TestPc(image);
      pc.setDescriptor(0x50, 0x00000fff, 0x0040f700); // expand-down, writable, 32-bit (B = 1), DPL 3, limit 0xfff
      pc.cpu.loadSegment(DS, 0x53);
      assert.doesNotThrow(() => pc.cpu.read32(DS, 0x2000));
      assert.throws(() => pc.cpu.read32(DS, 0x800), (e: { vector?: number }) => e.vector === 13);
      pc.enterRing(3);
      pc.cpu.loadSegment(SS, 0x53);
      pc.cpu.regs[4] = 0x1002;
      const stop = pc.run(at.pushEax);
      assert.equal(stop.vector, 12, '#SS, delivered on the ring-0 stack from the TSS');
      assert.equal(stop.stack[0], 0);
      assert.equal(stop.stack[1], at.pushEax);
      assert.equal(stop.stack[4], 0x1002, 'ESP unchanged by the faulting push');
    });
    it('an access past a byte-granular limit raises #GP(0)', function () {
      const pc = new TestPc(image);
      pc.cpu.loadSegment(DS, SEL.small);
      assert.equal(pc.cpu.read32(DS, 0xffc), 0);
      assert.throws(() => pc.cpu.read32(DS, 0xffd), (e: { vector?: number }) => e.vector === 13);
    });
  });

  describe('gates', function () {
    it('INT n through a gate with DPL < CPL raises #GP(vector × 8 + 2)', function () {
      const pc = new TestPc(image);
      pc.setGate(0x41, 0x8e, SEL.code0, HANDLERS + 0x41 * 8);
      pc.enterRing(3);
      const stop = pc.run(at.intN);
      assert.equal(stop.vector, 13);
      assert.equal(stop.stack[0], 0x41 * 8 + 2);
    });
    it('a not-present gate raises #NP(vector × 8 + 2)', function () {
      const pc = new TestPc(image);
      pc.setGate(0x41, 0x6e, SEL.code0, HANDLERS + 0x41 * 8);
      const stop = pc.run(at.intN);
      assert.equal(stop.vector, 11);
      assert.equal(stop.stack[0], 0x41 * 8 + 2);
    });
    it('an interrupt gate clears IF, a trap gate keeps it', function () {
      for (const [attr, ifAfter] of [[0xee, 0], [0xef, IF]] as const) {
        const pc = new TestPc(image);
        pc.setGate(0x41, attr, SEL.code0, HANDLERS + 0x41 * 8);
        pc.enterRing(0, 0x2 | IF);
        const stop = pc.run(at.intN);
        assert.equal(stop.vector, 0x41);
        assert.ok(stop.stack[2] & IF, 'the pushed EFLAGS has IF');
        assert.equal(pc.cpu.flags & IF, ifAfter);
      }
    });
    it('CALL through a call gate from ring 3 to ring 0 switches to the TSS stack and copies parameters', function () {
      const pc = new TestPc(image);
      const target = at.gateTarget;
      pc.setDescriptor(SEL.callGate, (SEL.code0 << 16) | (target & 0xffff), (target & 0xffff0000) | 0xec00 | 2);
      pc.enterRing(3);
      pc.cpu.regs[4] = STACK3;
      pc.m.mem.write32(STACK3, 0x1111); pc.m.mem.write32(STACK3 + 4, 0x2222);
      const stop = pc.run(at.callGate);
      assert.equal(stop.vector, 0x31);
      assert.equal(pc.cpu.regs[6], SEL.data0, 'ring 0 stack');
      // New stack: EIP, CS, param0, param1, old ESP, old SS (from the top).
      const edi = pc.cpu.regs[7] >>> 0;
      const words = [0, 1, 2, 3, 4, 5].map((k) => pc.m.mem.read32(edi + 4 * k) >>> 0);
      assert.equal(words[1], SEL.code3);
      assert.deepEqual(words.slice(2, 4), [0x1111, 0x2222]);
      assert.equal(words[4], STACK3);
      assert.equal(words[5], SEL.data3);
    });
    it('a far JMP to a conforming segment keeps CPL (CS.RPL stays the CPL)', function () {
      const pc = new TestPc(image);
      const stop = pc.run(at.farJmpConforming);
      assert.equal(stop.vector, 0x30);
      assert.equal(pc.cpu.regs[6], 0x40);
    });
  });

  describe('double and triple faults', function () {
    it('a #GP while delivering #GP becomes #DF with error code 0', function () {
      const pc = new TestPc(image);
      pc.setGate(13, 0x6e, SEL.code0, HANDLERS + 13 * 8); // #GP gate not present → #NP (contributory)
      pc.setGate(6, 0x8e, 0x68, 0); // #UD gate with a selector beyond the GDT → #GP (delivered serially: #UD is benign)
      const stop = pc.run(at.ud2);
      assert.equal(stop.vector, 8);
      assert.equal(stop.stack[0], 0);
    });
    it('a fault while delivering #DF is a triple fault, reported with the faulting address', function () {
      const pc = new TestPc(image);
      pc.cpu.idtrLimit = 0; // every vector is beyond the IDT limit
      const stop = pc.run(at.ud2);
      assert.equal(stop.outcome, 'triple-fault');
      assert.equal(pc.m.faultAddress, at.ud2);
      const report = pc.m.report('native', 0);
      assert.equal(report.outcome, 'triple-fault');
      assert.equal(report.faultAddress, at.ud2);
    });
    it('an endless loop ends with outcome limit', function () {
      const pc = new TestPc(image);
      const stop = pc.run(at.loop);
      assert.equal(stop.outcome, 'limit');
      assert.equal(pc.m.instructions, 100_000);
    });
  });

  describe('I/O permission', function () {
    it('IN at CPL 3 with IOPL 0 and no I/O bitmap raises #GP(0)', function () {
      const pc = new TestPc(image);
      pc.enterRing(3);
      const stop = pc.run(at.inPort);
      assert.equal(stop.vector, 13);
      assert.equal(stop.stack[0], 0);
    });
    it('the TSS I/O permission bitmap decides at CPL 3 with IOPL 0', function () {
      for (const allowed of [true, false]) {
        const pc = new TestPc(image);
        const tss = 0x3000, bitmap = 0x68;
        pc.m.mem.write16(tss + 102, bitmap);
        for (let k = 0; k < 0x2000; k++) pc.m.mem.write8(tss + bitmap + k, 0xff);
        if (allowed) pc.m.mem.write8(tss + bitmap + (0xe0 >> 3), 0xfe); // port 0xE0 (no device) is bit 0 of byte 28
        pc.m.mem.write8(tss + bitmap + 0x2000, 0xff);
        pc.cpu.trLimit = bitmap + 0x2000;
        pc.enterRing(3);
        const stop = pc.run(at.inPort);
        assert.equal(stop.vector, allowed ? 0x30 : 13, allowed ? 'bit clear: allowed' : 'bit set: #GP(0)');
      }
    });
    it('IN at CPL 3 with IOPL 3 is allowed', function () {
      const pc = new TestPc(image);
      pc.enterRing(3, 0x2 | (3 << 12));
      const stop = pc.run(at.inPort);
      assert.equal(stop.vector, 0x30);
      assert.equal(pc.cpu.regs[0] & 0xff, 0xff, 'an unclaimed port reads 0xFF');
    });
  });
});
