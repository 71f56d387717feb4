// The CPU's decoder against the assembler: every encoding form of the instruction table (generated
// with several operand choices each) is assembled by core/asm and decoded by core/cpu; the decoded
// length and mnemonic must match. The decoder is the CPU's own (for speed), so this keeps it in step
// with the table.
import * as assert from 'node:assert/strict';
import { assemble } from '../../core/asm';
import { instructionInfo } from '../../core/isa/table';
import { Machine } from '../../core/machine/machine';
import { generateForms } from '../asm/formGen';

const AT = 0x200000;
/** Encodings with two names: the decoder gives the first, the table may say the second. */
const SAME = new Map([['sal', 'shl']]);
const PREFIXES = new Set(['rep', 'repe', 'repz', 'repne', 'repnz', 'lock', 'es', 'cs', 'ss', 'ds', 'fs', 'gs']);

function canonical(mnemonic: string): string {
  const m = SAME.get(mnemonic) ?? mnemonic;
  return instructionInfo(m)?.mnemonic ?? m;
}

describe('CPU decoder: every form of the instruction table', function () {
  this.timeout(120_000);

  it('decodes what the assembler emits with the same length and mnemonic', function () {
    const lines = generateForms(4);
    const m = new Machine({ memoryMiB: 4 });
    let checked = 0;
    const failures: string[] = [];
    const seenMnemonics = new Set<string>();
    for (const line of lines) {
      const result = assemble('form.asm', `bits 32\norg 0x${AT.toString(16)}\n${line.text}\n`);
      if (result.diagnostics.some((d) => d.severity === 'error') || result.bytes.length === 0) continue;
      m.mem.load(AT, result.bytes);
      m.cpu.flushCodeCache();
      let insn = m.cpu.decodeAt(AT);
      const words = line.text.split(/[\s,]+/);
      let expected = canonical(words.find((w) => !PREFIXES.has(w)) ?? line.mnemonic);
      seenMnemonics.add(expected);
      let len = insn.len;
      if (line.form.startsWith('9b ')) {
        // finit, fstsw …: WAIT then the no-wait form (fninit, fnstsw …), two instructions to the CPU
        if (insn.mnemonic !== 'wait' || insn.len !== 1) failures.push(`${line.text}: decoded ${insn.mnemonic} first, not wait`);
        insn = m.cpu.decodeAt(AT + 1);
        len += insn.len;
        expected = 'fn' + expected.slice(1);
      }
      const got = canonical(insn.mnemonic);
      checked++;
      if (len !== result.bytes.length || got !== expected || insn.mnemonic === '(bad)') {
        failures.push(`${line.text} [${Buffer.from(result.bytes).toString('hex')}]: decoded ${insn.mnemonic} (${insn.len} bytes)`);
      }
    }
    if (process.env.POPEK_VERBOSE) console.log(`checked ${checked} lines of ${lines.length}, ${seenMnemonics.size} mnemonics`);
    assert.ok(checked > 1000, `assembled and decoded ${checked} lines`);
    assert.ok(seenMnemonics.size > 150, `${seenMnemonics.size} mnemonics covered`);
    assert.equal(failures.length, 0, `${failures.length} of ${checked} differ:\n${failures.slice(0, 40).join('\n')}`);
  });
});
