/*
 * The debugger's headless parts without the protocol: the expression language (conditions, log
 * messages, the Debug Console), hit conditions, and step-back checkpoints sharing pages.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hitMatches, parseCondition, parseHitCondition } from '../../debugger/runtime/breakpoints';
import { ExpressionError, evaluateExpression, interpolate, type EvalContext } from '../../debugger/runtime/expression';
import { CheckpointStore } from '../../debugger/runtime/history';
import { createVm, type Mode } from '../../core/vmm';
import { DebugRuntime } from '../../debugger/runtime/runtime';
import { fixture } from './support';

function context(): EvalContext & { regs: Record<string, number>; mem: Map<number, number> } {
  const regs: Record<string, number> = { eax: 5, esp: 0x1000, zf: 1, cf: 0 };
  const mem = new Map<number, number>([[0x1004, 7], [0x1005, 0], [0x1006, 0], [0x1007, 0], [0x9000, 0xab]]);
  return {
    regs, mem,
    readName: (n) => (Object.hasOwn(regs, n) ? regs[n] : undefined),
    writeName: (n, v) => { if (!Object.hasOwn(regs, n)) return false; regs[n] = v; return true; },
    symbol: (n) => (n === 'buffer' ? 0x9000 : undefined),
    read: (a, size) => {
      let v = 0;
      for (let i = size - 1; i >= 0; i--) { const b = mem.get(a + i); if (b === undefined) return undefined; v = v * 256 + b; }
      return v;
    },
    write: (a, size, v) => { for (let i = 0; i < size; i++) mem.set(a + i, (v >>> (8 * i)) & 0xff); return true; },
  };
}

describe('debugger: expressions, hit conditions, checkpoints', () => {
  it('evaluates registers, flags, memory of each size, labels, operators with C precedence', () => {
    const c = context();
    assert.equal(evaluateExpression('eax == 5 && [esp+4] > 3', c), 1);
    assert.equal(evaluateExpression('ZF', c), 1);
    assert.equal(evaluateExpression('byte [buffer]', c), 0xab);
    assert.equal(evaluateExpression('byte ptr [0x9000] == 0ABh', c), 1);
    assert.equal(evaluateExpression('1 + 2 * 3 << 1', c), 14);
    assert.equal(evaluateExpression('-1', c), 0xffffffff);
    assert.equal(evaluateExpression('eax > 3 ? 10 : 20', c), 10);
    assert.equal(evaluateExpression("'AB'", c), 0x4241);
    assert.equal(evaluateExpression('0b101 | 0x10', c), 0x15);
  });

  it('reports errors in words and never runs host code', () => {
    const c = context();
    assert.throws(() => evaluateExpression('process.exit(1)', c), ExpressionError);
    assert.throws(() => evaluateExpression('constructor', c), /unknown name 'constructor'/);
    assert.throws(() => evaluateExpression('[0x5000]', c), /not mapped/);
    assert.throws(() => evaluateExpression('eax +', c), /unexpected end/);
    assert.throws(() => evaluateExpression('1 / 0', c), /division by zero/);
    assert.throws(() => evaluateExpression('(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((1))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))', c), /nested too deeply/);
    assert.throws(() => parseCondition('eax = 1'), /cannot assign/);
  });

  it('assigns to registers and memory from the Debug Console', () => {
    const c = context();
    assert.equal(evaluateExpression('eax = eax + 1', c), 6);
    assert.equal(c.regs.eax, 6);
    evaluateExpression('word [0x1004] = 0x1234', c);
    assert.equal(evaluateExpression('dword [0x1004]', c), 0x1234);
  });

  it('interpolates log messages', () => {
    const c = context();
    assert.equal(interpolate('eax={eax} ({eax,d}) char {0x41,c} {{literal}} {nope}', c), "eax=0x5 (5) char A {literal} <unknown name 'nope' (not a register, flag, label or constant)>");
  });

  it('hit conditions: N means from the Nth hit on; ==, >, %', () => {
    const at = (text: string) => [1, 2, 3, 4, 5, 6].filter((n) => hitMatches(parseHitCondition(text), n));
    assert.deepEqual(at('3'), [3, 4, 5, 6]);
    assert.deepEqual(at('== 3'), [3]);
    assert.deepEqual(at('>4'), [5, 6]);
    assert.deepEqual(at('%2'), [2, 4, 6]);
    assert.throws(() => parseHitCondition('often'), /hit count condition/);
  });

  it('checkpoints share unchanged pages and restore exactly', () => {
    const vm = createVm({ mode: 'native', memoryMiB: 4 });
    vm.load(new Uint8Array([0x40, 0xa3, 0x00, 0x20, 0x00, 0x00, 0xeb, 0xf8]), 0x100000); // inc eax; mov [0x2000], eax; jmp -8
    const store = new CheckpointStore();
    store.add(0, vm.snapshot());
    const one = store.bytes;
    // Guest RAM is mostly zero: the image, the firmware's tables and one shared zero page.
    assert.ok(one < 64 * 1024, `${one} bytes for the first checkpoint`);
    vm.runSlice(30);
    store.add(vm.cpu.icount, vm.snapshot());
    // Only the page written (0x2000) is new.
    assert.ok(store.bytes - one <= 2 * 4096 + 4096, `${store.bytes - one} bytes added`);
    const eax = vm.cpu.regs[0];
    vm.runSlice(30);
    const back = store.latestAtOrBefore(35)!;
    assert.equal(back.icount, 30);
    vm.restore(back.snap);
    assert.equal(vm.cpu.regs[0], eax);
    assert.equal(vm.cpu.mem.read32(0x2000), eax);
    store.truncateFrom(30);
    assert.deepEqual(store.positions(), [0]);
  });

  it('a checkpoint unpacks to the memory it was taken of, byte for byte: a lone byte in a span that is zero but for it, the last page, zero spans', () => {
    const vm = createVm({ mode: 'native', memoryMiB: 4 });
    vm.load(new Uint8Array([0xeb, 0xfe]), 0x100000); // jmp $
    vm.cpu.mem.write8(0x2ffff3, 0x5a);
    vm.cpu.mem.write8(0x3fffff, 0xa5);
    const store = new CheckpointStore();
    store.add(0, vm.snapshot(true));
    vm.cpu.mem.write8(0x2ffff3, 0);
    vm.cpu.mem.write8(0x250000, 7);
    store.add(1, vm.snapshot(true));
    const [a, b] = [store.latestAtOrBefore(0)!.snap.machine.memory, store.latestAtOrBefore(1)!.snap.machine.memory];
    assert.equal(a[0x2ffff3], 0x5a);
    assert.equal(a[0x3fffff], 0xa5);
    assert.equal(a[0x250000], 0);
    assert.ok(Buffer.from(b).equals(Buffer.from(vm.cpu.mem.bytes)), 'the second checkpoint is the memory now');
  });

  it('checkpoints of the live RAM (no copy of all memory) keep the bytes as they were then', () => {
    const vm = createVm({ mode: 'native', memoryMiB: 4 });
    vm.load(new Uint8Array([0x40, 0xa3, 0x00, 0x20, 0x00, 0x00, 0xeb, 0xf8]), 0x100000); // inc eax; mov [0x2000], eax; jmp -8
    const store = new CheckpointStore();
    const live = vm.snapshot(true);
    assert.equal(live.machine.memory, vm.machine.mem.bytes, 'the snapshot holds the RAM itself');
    store.add(0, live);
    vm.runSlice(30);
    const eax = vm.cpu.regs[0];
    store.add(vm.cpu.icount, vm.snapshot(true));
    // The guest writes on: the checkpoints must not see it.
    vm.runSlice(300);
    assert.notEqual(vm.cpu.mem.read32(0x2000), eax);
    vm.restore(store.latestAtOrBefore(30)!.snap);
    assert.equal(vm.cpu.regs[0], eax);
    assert.equal(vm.cpu.mem.read32(0x2000), eax);
    vm.restore(store.latestAtOrBefore(0)!.snap);
    assert.equal(vm.cpu.mem.read32(0x2000), 0);
    // The same as a checkpoint of a copy: run again from the start to 30 instructions.
    vm.runSlice(30);
    assert.equal(vm.cpu.mem.read32(0x2000), eax);
  });
});

describe('debugger: the sentence at the end of a run', function () {
  this.timeout(60_000);
  const ended = (program: string, mode: Mode) => new Promise<string>((resolve, reject) => {
    const rt = new DebugRuntime({ program, mode, cost: 'modern', memoryMiB: 16, maxInstructions: 1_000_000, checkEquivalence: false, trace: false }, {
      stopped: (s) => reject(new Error(`unexpected stop: ${s.description}`)),
      output: (text, category) => { if (category === 'stderr') reject(new Error(text)); },
      ended: (message) => { rt.dispose(); resolve(message); },
    });
    rt.continue();
  });

  for (const mode of ['native', 'trap-and-emulate'] as Mode[]) {
    it(`${mode}: a halt with interrupts enabled that nothing can interrupt is told apart from one with interrupts disabled`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-halts-'));
      try {
        const text = fs.readFileSync(fixture('halts.gasm'), 'utf8');
        const cliFirst = path.join(dir, 'cli.gasm');
        fs.writeFileSync(cliFirst, '%define CLI_FIRST\n' + text);
        assert.match(await ended(fixture('halts.gasm'), mode), /^The guest halted with interrupts enabled, but nothing is left that can interrupt it .* after \d+ instructions\.$/);
        assert.match(await ended(cliFirst, mode), /^The guest halted with interrupts disabled \(nothing can wake it\) after \d+ instructions\.$/);
      } finally { fs.rmSync(dir, { recursive: true, force: true }); }
    });
  }
});
