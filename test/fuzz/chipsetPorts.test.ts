/*
 * Port-level fuzz of the chipset devices a kernel probes (PCI configuration space and PIIX3 reset
 * control, PIIX4 power management / APM / GPE0, both IDE channels with the secondary's CD-ROM):
 * random reads and writes of 1, 2 and 4 bytes at their ports. Checked: no host exception; the same
 * sequence on two machines reads the same values (deterministic); and a machine restored from a
 * snapshot taken half-way reads what the original reads from there on (the device state a snapshot
 * holds is the whole state — the debugger's checkpoints, step back and twins depend on it).
 */
import * as assert from 'node:assert/strict';
import { Machine } from '../../core/machine';
import { rng as seeded, type Rng } from './support/rng';
import { cases, SEED } from './support/scale';

/** Port ranges, weighted by how many ports they have; the reset-control and power-off bits are masked so the machine keeps running. */
const RANGES: Array<[number, number]> = [[0xcf8, 8], [0x600, 12], [0xb2, 2], [0xafe0, 4], [0x1f0, 8], [0x3f6, 1], [0x170, 8], [0x376, 1]];

interface Op { read: boolean; port: number; size: 1 | 2 | 4; value: number }

function ops(rng: Rng, n: number): Op[] {
  const out: Op[] = [];
  for (let k = 0; k < n; k++) {
    const [base, count] = RANGES[rng.int(RANGES.length)];
    const port = base + rng.int(count);
    const size = ([1, 2, 4] as const)[rng.int(3)];
    let value = Math.floor(rng() * 0x100000000) >>> 0;
    if (port === 0xcf9 || (port <= 0xcf9 && port + size > 0xcf9)) value &= ~(4 << (8 * (0xcf9 - port)));   // no reset
    if (port >= 0x604 && port <= 0x605) value &= ~(0x20 << (8 * (0x605 - port)));                     // no SLP_EN
    if (port < 0x604 && port + size > 0x605) value &= ~(0x2000 << (8 * (0x604 - port)));
    // A plausible CONFIG_ADDRESS now and then, so configuration cycles reach real functions.
    if (port === 0xcf8 && size === 4 && rng.int(2)) value = (0x80000000 | (rng.int(3) << 11) | (rng.int(8) << 8) | (rng.int(64) << 2)) >>> 0;
    out.push({ read: rng.int(2) === 0, port, size, value });
  }
  return out;
}

function play(m: Machine, list: Op[]): number[] {
  const reads: number[] = [];
  for (const op of list) {
    if (op.read) reads.push(m.io.in(op.port, op.size));
    else m.io.out(op.port, op.size, op.value);
    m.cpu.icount += 97;                                   // time passes (the PM timer, the PIT)
  }
  return reads;
}

describe('fuzz: chipset ports (PCI, ACPI PM, IDE/ATAPI)', function () {
  this.timeout(60_000);
  it(`${cases(20, 2000)} random sequences: no exception, deterministic, a snapshot restores the whole device state`, () => {
    const rng = seeded(SEED);
    for (let n = 0; n < cases(20, 2000); n++) {
      const list = ops(rng, 400);
      const a = new Machine({ memoryMiB: 4 }), b = new Machine({ memoryMiB: 4 });
      const half = list.length / 2;
      assert.deepEqual(play(a, list.slice(0, half)), play(b, list.slice(0, half)), `sequence ${n}: not deterministic`);
      const snap = a.snapshot();
      const c = new Machine({ memoryMiB: 4 });
      c.restore(structuredClone(snap));
      const rest = list.slice(half);
      const fromA = play(a, rest);
      assert.equal(a.outcome, undefined, `sequence ${n}: the machine stopped (${a.error})`);
      assert.deepEqual(play(c, rest), fromA, `sequence ${n}: a restored machine reads differently`);
    }
  });
});
