/*
 * One decoder, two readers, checked against two real disassemblers: for every byte string of a
 * generated corpus (test/isa/decodeCorpus.ts), the CPU's decode (through a Machine, as it executes)
 * and Popek's disassembler agree (valid or not, length, mnemonic), and both agree with
 * `objdump -D -b binary -mi386 -Mintel` (binutils) wherever objdump decodes an instruction of
 * Popek's ISA (x86 integer and system, x87, MMX, SSE, SSE2), and with `ndisasm -b32` (nasm) where
 * objdump has no name for a one-byte opcode (salc). Reference
 * instructions outside the ISA Popek models (SSE3+, AVX, CET, BMI …) are counted, not compared.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { disassembleOne } from '../../core/asm/disassembler';
import { instructionInfo } from '../../core/isa/table';
import { Machine } from '../../core/machine/machine';
import { generateCorpus } from './decodeCorpus';

const COUNT = 6000;
/** Each case sits in a slot of its 16 bytes then 16 NOPs: whatever the tail decodes as ends inside the NOPs, so every slot starts an instruction. */
const SLOT = 32;
const AT = 0x200000;

interface RefInsn { offset: number; length: number; text: string }

/** `offset: text` of every instruction a reference printed, lengths from the next offset. */
function parseListing(lines: Array<{ offset: number; text: string }>, total: number): Map<number, RefInsn> {
  const out = new Map<number, RefInsn>();
  lines.forEach((l, k) => out.set(l.offset, { offset: l.offset, length: (k + 1 < lines.length ? lines[k + 1].offset : total) - l.offset, text: l.text }));
  return out;
}

function objdump(file: string, total: number): Map<number, RefInsn> {
  const text = execFileSync('objdump', ['-D', '-b', 'binary', '-mi386', '-Mintel', '--insn-width=16', file], { maxBuffer: 1 << 28 }).toString();
  const lines: Array<{ offset: number; text: string }> = [];
  for (const l of text.split('\n')) {
    const m = /^\s*([0-9a-f]+):\t(?:[0-9a-f]{2} )+\s*\t(.*)$/.exec(l);
    if (m) lines.push({ offset: parseInt(m[1], 16), text: m[2].trim() });
  }
  return parseListing(lines, total);
}

function ndisasm(file: string, total: number): Map<number, RefInsn> {
  const text = execFileSync('ndisasm', ['-b32', file], { maxBuffer: 1 << 28 }).toString();
  const lines: Array<{ offset: number; text: string }> = [];
  for (const l of text.split('\n')) {
    const m = /^([0-9A-F]{8})\s+[0-9A-F]+\s+(.*)$/.exec(l);
    if (m) lines.push({ offset: parseInt(m[1], 16), text: m[2].trim() });
  }
  return parseListing(lines, total);
}

const REF_PREFIXES = new Set(['lock', 'rep', 'repz', 'repe', 'repnz', 'repne', 'data16', 'data32', 'addr16', 'addr32', 'o16', 'o32', 'a16', 'a32',
  'cs', 'ds', 'es', 'ss', 'fs', 'gs', 'bnd', 'notrack', 'xacquire', 'xrelease']);

/** The reference's instruction at a slot: prefix-only entries (objdump's `data16` alone) joined to what follows. */
function refAt(ref: Map<number, RefInsn>, offset: number): RefInsn | undefined {
  let r = ref.get(offset);
  let length = 0;
  const texts: string[] = [];
  while (r && r.text.split(/\s+/).every((w) => REF_PREFIXES.has(w))) {
    texts.push(r.text); length += r.length;
    r = ref.get(offset + length);
  }
  if (!r) return undefined;
  return { offset, length: length + r.length, text: [...texts, r.text].join(' ') };
}

/** Whether the string's opcode (after its prefixes) is in the 0F map. */
function twoByte(c: Uint8Array): boolean {
  let k = 0;
  while ([0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65].includes(c[k])) k++;
  return c[k] === 0x0f;
}

const BAD = 'bad';
/** Instructions of CPUs Popek does not model: the 386/486 test registers; anything on MMX/XMM registers until the table has it. */
const BEYOND = 'beyond';
/**
 * Popek's name for what a reference printed: BAD when it decoded nothing (objdump marks an invalid
 * operand `?` or `(bad)`, ndisasm `segr6`/`segr7`; CR1 and CR5–CR15 do not exist in 32-bit mode),
 * BEYOND outside Popek's ISA.
 */
function refMnemonic(text: string): string {
  const words = text.replace(/\([^)]*only\)/g, '').split(/\s+/);
  const rest = words.filter((w) => !REF_PREFIXES.has(w));
  let m = (rest[0] ?? '').toLowerCase();
  const ops = rest.slice(1).join(' ');
  if (m === '(bad)' || m === 'db' || m === '') return BAD;
  if (/\btr[0-7]\b/.test(ops)) return BEYOND;
  if (!instructionInfo(m) && !/^(movs|cmps|stos|lods|scas|ins|outs|fnsetpm|[a-z]+w)$/.test(m)) return BEYOND; // MPX bndmov …
  if (/\(bad\)|\?/.test(ops) || /\bcr([15-9]|1[0-5])\b|\bsegr[67]\b/.test(ops)) return BAD;
  if (/\b(x?mm[0-7])\b/.test(ops)) return canonical(m); // SSE2 movsd/cmpsd: not the string instructions
  // objdump writes string instructions without a size suffix; the memory operand says it
  if (/^(movs|cmps|stos|lods|scas|ins|outs)$/.test(m)) {
    const size = /\b(BYTE|WORD|DWORD) PTR/.exec(ops)?.[1];
    m += size === 'BYTE' ? 'b' : size === 'WORD' ? 'w' : 'd';
  }
  if (m === 'fnsetpm') m = 'fsetpm';
  // objdump's operand-size suffix on near transfers (retw, callw, pushw)
  if (!instructionInfo(m) && m.endsWith('w') && instructionInfo(m.slice(0, -1))) m = m.slice(0, -1);
  return canonical(m);
}

/** One name per instruction: the table's (aliases folded) and SHL for SAL. */
function canonical(m: string): string {
  const c = instructionInfo(m)?.mnemonic ?? m;
  return c === 'sal' ? 'shl' : c;
}

describe('decode agreement: CPU = disassembler = objdump/ndisasm', function () {
  this.timeout(120_000);
  const corpus = generateCorpus(COUNT);

  it(`decodes ${COUNT} generated byte strings the same in the CPU and the disassembler, and as objdump/ndisasm do`, () => {
    const image = new Uint8Array(corpus.length * SLOT).fill(0x90);
    corpus.forEach((c, k) => image.set(c, k * SLOT));
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'popek-decode-')), 'corpus.bin');
    writeFileSync(file, image);
    const od = objdump(file, image.length);
    const nd = ndisasm(file, image.length);
    const m = new Machine({ memoryMiB: 4 });
    const internal: string[] = [];
    const external: string[] = [];
    let compared = 0, beyond = 0, valid = 0;
    corpus.forEach((c, k) => {
      m.mem.load(AT, c);
      m.cpu.flushCodeCache();
      const insn = m.cpu.decodeAt(AT);
      const cpuValid = insn.mnemonic !== '(bad)';
      const d = disassembleOne(c, 0, AT);
      const hex = Buffer.from(c.subarray(0, cpuValid ? insn.len : 4)).toString('hex');
      // the two readers of the one decoder
      if (cpuValid !== (d.mnemonic !== 'db') || (cpuValid && (d.bytes.length !== insn.len || d.mnemonic !== insn.mnemonic))) {
        internal.push(`${hex}: CPU ${insn.mnemonic}/${insn.len}, disassembler ${d.text}/${d.bytes.length}`);
      }
      if (cpuValid) valid++;
      // the references
      let ref = refAt(od, k * SLOT);
      let refName = ref ? refMnemonic(ref.text) : BAD;
      // ndisasm fills in one-byte opcodes objdump has no name for (salc); in the 0F map (SSE with a
      // prefix that selects no variant) objdump's "invalid" stands, as on the CPUs it describes
      if (refName === BAD && !twoByte(c)) { const r2 = refAt(nd, k * SLOT); if (r2 && refMnemonic(r2.text) !== BAD) { ref = r2; refName = refMnemonic(r2.text); } }
      if (refName === BEYOND || (refName !== BAD && !instructionInfo(refName))) { beyond++; return; }
      compared++;
      const mine = cpuValid ? canonical(insn.mnemonic) : BAD;
      // F2 0F 09: objdump reserves it (F3 0F 09 is WBNOINVD); a CPU without WBNOINVD ignores the
      // prefix and runs WBINVD, which is what Popek models
      if (refName === BAD && mine === 'wbinvd' && c.includes(0xf2)) return;
      if (mine !== refName || (cpuValid && ref && ref.length !== insn.len)) {
        external.push(`${hex}: Popek ${cpuValid ? `${d.text} (${insn.len})` : '(bad)'}, reference ${ref ? `${ref.text} (${ref.length})` : '(bad)'}`);
      }
    });
    console.log(`      ${COUNT} byte strings: ${valid} valid for Popek; ${compared} compared with objdump/ndisasm, ${beyond} beyond Popek's ISA; ` +
      `${internal.length} CPU/disassembler and ${external.length} reference disagreements`);
    assert.ok(compared > COUNT * 0.7, `compared ${compared}`);
    assert.ok(valid > COUNT * 0.5, `valid ${valid}`);
    assert.deepEqual(internal.slice(0, 30), [], `${internal.length} CPU/disassembler disagreements`);
    assert.deepEqual(external.slice(0, 60), [], `${external.length} reference disagreements`);
  });
});
