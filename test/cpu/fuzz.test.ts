// Random bytes as guest code: the CPU must never throw out of the machine. Every run ends with one
// of the SPEC §6 outcomes; an 'error' outcome is only allowed for architecture Popek does not model
// (and says so) or a guest fault loop (a handler that faults again at once, which a real CPU repeats
// forever without retiring an instruction: Cpu.deliverEvent's watchdog), never for a crash inside
// the simulator.
import * as assert from 'node:assert/strict';
import { Machine } from '../../core/machine/machine';
import { OUTCOMES } from '../../core/machine/report';
import { Rng } from '../alu/aluCases';

describe('CPU: random code never crashes the machine', function () {
  this.timeout(120_000);
  it('runs 150 random images (with and without a valid IDT) to an outcome', function () {
    const rng = new Rng(0xc0ffee);
    const seen = new Map<string, number>();
    for (let k = 0; k < 150; k++) {
      const m = new Machine({ memoryMiB: 2, maxInstructions: 10_000, jit: k % 2 === 0 });
      const code = new Uint8Array(512);
      for (let j = 0; j < code.length; j++) code[j] = rng.below(256);
      m.loadImage(code, { origin: 0x100000 });
      if (k % 3 === 0) {
        // An IDT whose every gate points back into the random code, so faults keep it running.
        m.cpu.idtrBase = 0x20000; m.cpu.idtrLimit = 0x7ff;
        for (let v = 0; v < 256; v++) {
          m.mem.write32(0x20000 + v * 8, (0x08 << 16) | (0x0000 + rng.below(512)));
          m.mem.write32(0x20000 + v * 8 + 4, 0x00108e00);
        }
        m.cpu.regs[4] = 0x80000;
      }
      const outcome = m.run(5_000);
      assert.ok(OUTCOMES.includes(outcome), `image ${k}: outcome ${outcome}`);
      if (outcome === 'error') assert.match(m.error ?? '', /not modelled|without retiring an instruction .*\(fault loop\)$/, `image ${k}: ${m.error}`);
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
    }
    if (process.env.POPEK_VERBOSE) console.log(JSON.stringify([...seen]));
    assert.ok(seen.size >= 2, `outcomes: ${JSON.stringify([...seen])}`);
  });
});
