/*
 * A generated corpus of byte strings for the decode-agreement test: deterministic (seeded), each 16
 * bytes long (longer than any instruction the corpus builds), covering the one-byte map, the 0F map,
 * the x87 escapes and every prefix Popek decodes (66, 67, F0, F2, F3, segment overrides), with
 * random ModRM/SIB/displacement/immediate bytes after the opcode. Opcodes that are VEX/EVEX/XOP
 * escapes in 32-bit mode (C4/C5/62/8F with ModRM.mod = 3), the three-byte maps (0F 38, 0F 3A) and
 * 3DNow! (0F 0F) belong to ISA extensions Popek does not claim and are left out, and so is WAIT
 * directly before an x87 opcode (objdump prints the pair as one instruction).
 */

/** xorshift32: the same corpus on every run and host. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

const PREFIX_BYTES = [0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65];
const ONE_BYTE_EXCLUDED = new Set([0x0f, ...PREFIX_BYTES]);
const TWO_BYTE_EXCLUDED = new Set([0x0f, 0x38, 0x3a]);

export const CASE_BYTES = 16;

export function generateCorpus(count: number, seed = 0x5eed1234): Uint8Array[] {
  const next = rng(seed);
  const byte = () => next() & 0xff;
  const out: Uint8Array[] = [];
  while (out.length < count) {
    const b: number[] = [];
    // 0–2 prefixes, most strings none
    const r = next() % 100;
    const nPrefix = r < 60 ? 0 : r < 90 ? 1 : 2;
    for (let k = 0; k < nPrefix; k++) {
      const q = next() % 100;
      b.push(q < 35 ? 0x66 : q < 45 ? 0x67 : q < 55 ? 0xf0 : q < 65 ? 0xf2 : q < 78 ? 0xf3 : PREFIX_BYTES[5 + (next() % 6)]);
    }
    const kind = next() % 100;
    let modrmNext = false;
    if (kind < 50) {
      let op: number;
      do op = byte(); while (ONE_BYTE_EXCLUDED.has(op));
      b.push(op);
      modrmNext = op === 0xc4 || op === 0xc5 || op === 0x62 || op === 0x8f;
      // WAIT before an x87 opcode: objdump fuses the two into one mnemonic (9b db e3 = finit), the
      // CPU runs two instructions; keep the WAITs apart from x87 opcodes
      if (op === 0x9b) b.push(0x90);
    } else if (kind < 88) {
      let op: number;
      do op = byte(); while (TWO_BYTE_EXCLUDED.has(op));
      b.push(0x0f, op);
    } else {
      b.push(0xd8 + (next() % 8));
    }
    if (modrmNext) { const m = byte(); b.push(m >= 0xc0 ? m & 0x7f : m); } // mod 0–2: LES/LDS/BOUND/POP, not a VEX/EVEX/XOP escape
    while (b.length < CASE_BYTES) b.push(byte());
    out.push(new Uint8Array(b));
  }
  return out;
}
