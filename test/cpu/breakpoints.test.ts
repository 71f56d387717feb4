// Code breakpoints of the CPU (`cpu.breakpoints`, linear EIP): checked per block, so blocks without
// one run compiled and chained; the stop is exactly before the instruction, at the first instruction
// of every internal run too (after an OUT to the PIT, after HLT woken by the timer, after a slice);
// resuming from a breakpoint executes it (the CPU's RF).
import * as assert from 'node:assert/strict';
import { assemble } from '../../core/asm';
import { Machine } from '../../core/machine/machine';
import { idtGate } from '../support/guestAsm';

const ORIGIN = 0x100000;

/** Assembles a flat guest at 1 MiB with the in-process assembler; returns it and its labels. */
function build(body: string): { bytes: Uint8Array; label: (name: string) => number } {
  const r = assemble('bp.gasm', `bits 32\norg 0x${ORIGIN.toString(16)}\n${body}\n`, { origin: ORIGIN });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.length, 0, errors.map((d) => d.message).join('\n'));
  return {
    bytes: r.bytes,
    label: (name) => {
      const l = r.labels.find((x) => x.name === name);
      assert.ok(l, `label ${name}`);
      return l.address;
    },
  };
}

function boot(bytes: Uint8Array, jit = true): Machine {
  const m = new Machine({ maxInstructions: 50_000_000, jit });
  m.loadImage(bytes, { origin: ORIGIN });
  return m;
}

const linearEip = (m: Machine) => (m.cpu.eip + m.cpu.segBase[1]) >>> 0;

/** Runs to the end, counting breakpoint stops and checking each stops at one of `at`. */
function countStops(m: Machine, at: number[], slice = 1_000_000): { stops: number; outcome: string; where: Map<number, number> } {
  let stops = 0;
  const where = new Map<number, number>();
  for (let guard = 0; guard < 10_000_000; guard++) {
    const r = m.runSlice(slice);
    if (r === 'slice') continue;
    if (r !== 'breakpoint') return { stops, outcome: r, where };
    stops++;
    const pc = linearEip(m);
    assert.ok(at.includes(pc), `stopped at 0x${pc.toString(16)}`);
    where.set(pc, (where.get(pc) ?? 0) + 1);
  }
  throw new Error('no end');
}

const LOOP = `
start:
    mov ecx, ITER
    xor eax, eax
    xor ebx, ebx
.loop:
    add eax, ecx
    xor ebx, eax
.body:
    add ebx, 3
    shl eax, 1
    dec ecx
    jnz .loop
done:
    mov [result], eax
    mov [result + 4], ebx
    mov al, 0
    out 0xf4, al
    hlt
result: dd 0, 0
`;

describe('cpu breakpoints', function () {
  this.timeout(60_000);

  it('a breakpoint inside a hot compiled loop stops once per iteration, before the instruction', function () {
    const iter = 5000;
    const g = build(`ITER equ ${iter}\n${LOOP}`);
    const ref = boot(g.bytes);
    assert.equal(ref.run(), 'exit');
    const m = boot(g.bytes);
    // Warm up without breakpoints so the loop's block is compiled, then set one in its middle.
    assert.equal(m.runSlice(3 + 6 * 1000), 'slice');
    assert.ok(m.cpu.stats.blocksCompiled > 0, 'the loop is compiled');
    const body = g.label('start.loop') + 4; // the `add ebx, 3` after two 2-byte instructions
    assert.equal(body, g.label('start.body'));
    m.cpu.breakpoints.add(body);
    let last = -1;
    let stops = 0;
    for (;;) {
      const r = m.runSlice(1_000_000);
      if (r !== 'breakpoint') { assert.equal(r, 'exit'); break; }
      stops++;
      assert.equal(linearEip(m), body);
      // Exactly before the instruction: 2 instructions into the iteration, one iteration apart.
      if (last >= 0) assert.equal(m.instructions - last, 6);
      last = m.instructions;
    }
    assert.equal(stops, iter - 1000);
    assert.equal(m.instructions, ref.instructions);
    assert.deepEqual([...m.mem.bytes.subarray(g.label('result'), g.label('result') + 8)], [...ref.mem.bytes.subarray(g.label('result'), g.label('result') + 8)]);
  });

  it('a breakpoint at the head of a self-looping compiled block stops on every iteration', function () {
    const iter = 3000;
    const g = build(`start:\n mov ecx, ${iter}\n xor eax, eax\nhead:\n add eax, ecx\n dec ecx\n jnz head\n mov al, 0\n out 0xf4, al\n hlt`);
    const m = boot(g.bytes);
    assert.equal(m.runSlice(2 + 3 * 500), 'slice');
    assert.ok(m.cpu.stats.blocksCompiled > 0);
    m.cpu.breakpoints.add(g.label('head'));
    const { stops, outcome } = countStops(m, [g.label('head')]);
    assert.equal(outcome, 'exit');
    assert.equal(stops, iter - 500);
  });

  it('the same counts with the JIT off and with one-instruction slices', function () {
    const iter = 300;
    const g = build(`ITER equ ${iter}\n${LOOP}`);
    for (const [jit, slice] of [[false, 1_000_000], [true, 1], [true, 7]] as const) {
      const m = boot(g.bytes, jit);
      m.cpu.breakpoints.add(g.label('start.body'));
      m.cpu.breakpoints.add(g.label('done'));
      const { stops, outcome, where } = countStops(m, [g.label('start.body'), g.label('done')], slice);
      assert.equal(outcome, 'exit', `jit ${jit} slice ${slice}`);
      assert.equal(stops, iter + 1);
      assert.equal(where.get(g.label('start.body')), iter);
      assert.equal(where.get(g.label('done')), 1);
    }
  });

  it('a breakpoint on a never-executed address changes nothing (blocks still compiled)', function () {
    const g = build(`ITER equ 20000\n${LOOP}`);
    const ref = boot(g.bytes);
    assert.equal(ref.run(), 'exit');
    const m = boot(g.bytes);
    m.cpu.breakpoints.add(0x300000);
    assert.equal(m.run(), 'exit');
    assert.equal(m.instructions, ref.instructions);
    assert.equal(m.cpu.stats.blocksCompiled, ref.cpu.stats.blocksCompiled);
    assert.deepEqual(Array.from(m.cpu.regs), Array.from(ref.cpu.regs));
  });

  it('stops at the first instruction after an OUT to the PIT (a new internal run)', function () {
    const g = build(`start:\n mov al, 0x34\n out 0x43, al\nafter:\n mov al, 0x9c\n out 0x40, al\nafter2:\n mov al, 0x2e\n out 0x40, al\nafter3:\n nop\n mov al, 0\n out 0xf4, al\n hlt`);
    const m = boot(g.bytes);
    const at = [g.label('after'), g.label('after2'), g.label('after3')];
    for (const a of at) m.cpu.breakpoints.add(a);
    const { stops, outcome, where } = countStops(m, at);
    assert.equal(outcome, 'exit');
    assert.equal(stops, 3);
    for (const a of at) assert.equal(where.get(a), 1);
  });

  it('stops at the first instruction after a slice boundary, then resumes without a second stop', function () {
    const g = build(`start:\n nop\n nop\nthird:\n mov eax, 7\n nop\n mov al, 0\n out 0xf4, al\n hlt`);
    const m = boot(g.bytes);
    m.cpu.breakpoints.add(g.label('third'));
    assert.equal(m.runSlice(2), 'slice');
    assert.equal(linearEip(m), g.label('third'));
    assert.equal(m.runSlice(100), 'breakpoint');
    assert.equal(m.instructions, 2, 'nothing executed');
    assert.equal(m.runSlice(1), 'slice', 'resuming executes the breakpoint instruction');
    assert.equal(m.instructions, 3);
    assert.equal(m.cpu.regs[0], 7);
    assert.equal(m.runSlice(100), 'exit');
  });

  it('a breakpoint at the current EIP stops at once unless the caller resumes (cpu.resume)', function () {
    const g = build(`start:\n mov eax, 5\n mov al, 0\n out 0xf4, al\n hlt`);
    const m = boot(g.bytes);
    m.cpu.breakpoints.add(g.label('start'));
    assert.equal(m.runSlice(100), 'breakpoint');
    assert.equal(m.instructions, 0);
    const n = boot(g.bytes);
    n.cpu.breakpoints.add(g.label('start'));
    n.cpu.resume();
    assert.equal(n.runSlice(100), 'exit');
  });

  it('resuming from a breakpoint in a loop runs a whole iteration before the next stop', function () {
    const g = build(`start:\n mov ecx, 50\nhead:\n nop\n dec ecx\n jnz head\n mov al, 0\n out 0xf4, al\n hlt`);
    const m = boot(g.bytes);
    m.cpu.breakpoints.add(g.label('head'));
    assert.equal(m.runSlice(1000), 'breakpoint');
    assert.equal(m.instructions, 1);
    assert.equal(m.runSlice(1000), 'breakpoint');
    assert.equal(m.instructions, 4);
    // A state restored to the stop: the snapshot's resume point is not carried over.
    const snap = m.snapshot();
    assert.equal(m.runSlice(1000), 'breakpoint');
    assert.equal(m.instructions, 7);
    m.restore(snap);
    assert.equal(m.runSlice(1000), 'breakpoint');
    assert.equal(m.instructions, 4, 'a restored state checks its first instruction');
  });

  it('stops at the first instruction of a timer interrupt handler that wakes HLT', function () {
    const src = [
      'start:', 'mov esp, 0x90000', 'lidt [idtr]',
      ...idtGate('0x20', 'handler'),
      'mov al, 0x11', 'out 0x20, al', 'mov al, 0x20', 'out 0x21, al', 'mov al, 4', 'out 0x21, al', 'mov al, 1', 'out 0x21, al', 'mov al, 0xfe', 'out 0x21, al',
      'mov al, 0x34', 'out 0x43, al', 'mov al, 0x9c', 'out 0x40, al', 'mov al, 0x2e', 'out 0x40, al',
      'sti', 'hlt', 'hlt', 'hlt', 'mov al, [ticks]', 'out 0xf4, al',
      'handler: inc byte [ticks]', 'push eax', 'mov al, 0x20', 'out 0x20, al', 'pop eax', 'iretd',
      'ticks: db 0', 'align 8', 'idtr: dw 256*8-1', 'dd idt', 'align 8', 'idt: times 256*8 db 0',
    ].join('\n');
    const g = build(src);
    const m = boot(g.bytes);
    m.cpu.breakpoints.add(g.label('handler'));
    const { stops, outcome } = countStops(m, [g.label('handler')]);
    assert.equal(outcome, 'exit');
    assert.equal(stops, 3);
    assert.equal(m.exitCode, (3 << 1) | 1);
  });
});
