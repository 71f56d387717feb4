/*
 * The acceptance test of the quick fixes (issue 5): for each example, `popek fix` then a run in
 * `paravirtual` mode gives the same console output and exit status as the original in `native`
 * mode. Runs in-process through core/machine and core/vmm (what `popek run` uses).
 *
 * Rewrites make the code longer, so an address the guest prints (a faulting EIP, a stack pointer,
 * a table base) moves. Addresses inside the program are therefore compared by what they point at:
 * an instruction by its line in the ORIGINAL source, data by its label and offset. Any other
 * difference fails the test.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { assemble, type AssemblyResult } from '../../core/asm';
import { LintDocument } from '../../core/lint/document';
import { fixAll } from '../../core/lint/fixes';
import { assembleProgram } from '../../core/machine';
import { availableModes, runProgram } from '../../core/vmm';
import { REPO_ROOT } from '../support/repoRoot';

const ROOT = REPO_ROOT;
const EXAMPLES = readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.gasm')).sort();
/**
 * Examples that exist to run the critical instructions Xen has no replacement for (str, mov from
 * CS, push cs, lar, popf changing IOPL): no rewrite can make those behave as at CPL 0, so for them
 * the test asserts that fixing removes differences and adds none.
 */
const PROBES = new Set(['critical.gasm']);
/** Generous: the largest example (compute) runs a few million instructions. */
const LIMIT = 50_000_000;

/** Replaces each 8-digit hex address inside the program by `<line N>` or `<label+offset>`. */
export function symbolize(text: string, asm: AssemblyResult, originalLine: (line: number) => number): string {
  const labels = asm.labels.filter((l) => !l.name.startsWith('..@')).sort((a, b) => a.address - b.address);
  const end = Math.max(asm.origin + asm.bytes.length, ...asm.sections.map((s) => s.start + s.size));
  return text.replace(/0x([0-9a-f]{8})\b/gi, (whole, hex: string) => {
    const a = parseInt(hex, 16);
    if (a < asm.origin || a > end) return whole;
    const insn = asm.sourceMap.find((e) => e.kind === 'instruction' && a >= e.address && a < e.address + e.length);
    if (insn) return `<line ${originalLine(insn.range.start.line) + 1}${a === insn.address ? '' : `+${a - insn.address}`}>`;
    let label;
    for (const l of labels) { if (l.address <= a) label = l; else break; }
    return label ? `<${label.name}+${a - label.address}>` : whole;
  });
}

describe('popek fix: the fixed program under paravirtual behaves as the original under native', function () {
  this.timeout(120000);
  before(function () {
    if (!availableModes().includes('paravirtual')) {
      throw new Error(`core/vmm registers no paravirtual technique in this build (available: ${availableModes().join(', ')})`);
    }
  });

  const shares: string[] = [];
  after(() => { if (shares.length) console.log(`      popek fix, share of lines changed: ${shares.join(', ')}`); });

  for (const name of EXAMPLES) {
    it(name, () => {
      const file = path.join(ROOT, 'examples', name);
      const text = readFileSync(file, 'utf8');
      const fixed = fixAll(new LintDocument(file, 'nasm', text));
      shares.push(`${name} ${fixed.rewrites} rewrites ${(100 * fixed.changedLines / fixed.totalLines).toFixed(1)}%`);
      // As `popek fix` leaves it: the fixed file with the Xen constants header it includes beside it.
      const fixedFile = path.join(mkdtempSync(path.join(tmpdir(), 'popek-fixeq-')), name);
      writeFileSync(fixedFile, fixed.text);
      if (fixed.header) writeFileSync(path.join(path.dirname(fixedFile), fixed.header.name), fixed.header.text);
      const readFile = (p: string, from: string) => readFileSync(path.resolve(path.dirname(from), p), 'utf8');
      // A guest that already makes hypercalls (pv-hello) takes a bare-metal fallback natively, so
      // its reference is its own paravirtual run: fixing must not change what it does.
      const alreadyParavirtual = /^\s*vmcall\b/m.test(text);
      const reference = runProgram(assembleProgram(file, text), { mode: alreadyParavirtual ? 'paravirtual' : 'native', maxInstructions: LIMIT }).report;
      const pv = runProgram(assembleProgram(fixedFile, fixed.text), { mode: 'paravirtual', maxInstructions: LIMIT }).report;
      assert.notEqual(reference.outcome, 'limit', 'the original ends');
      const refConsole = symbolize(reference.console, assemble(file, text, { origin: 0x100000 }), (l) => l);
      const pvConsole = symbolize(pv.console, assemble(fixedFile, fixed.text, { origin: 0x100000, readFile }), (l) => fixed.originalLine[l] ?? -1);
      const what = `${fixed.rewrites} rewrites, ${fixed.changedLines}/${fixed.totalLines} lines changed; pv outcome ${pv.outcome}${pv.error ? ': ' + pv.error : ''}`;
      if (PROBES.has(name)) {
        const unfixed = runProgram(assembleProgram(file, text), { mode: 'paravirtual', maxInstructions: LIMIT }).report;
        const differing = (c: string) => new Set(c.split('\n').filter((l) => l.includes('-- differs')).map((l) => l.split(':')[0]));
        const before = differing(unfixed.console), after = differing(pv.console);
        for (const check of after) assert.ok(before.has(check), `fixing made '${check}' differ (${what})`);
        assert.ok(after.size < before.size, `fixing removes differences: ${before.size} before, ${after.size} after: ${[...after].join(', ')}`);
        assert.equal(pv.exitCode, (after.size << 1) | 1, 'the exit status counts the remaining differences');
        return;
      }
      assert.equal(pvConsole, refConsole, `console (${what})`);
      assert.equal(pv.exitCode, reference.exitCode, `exit status (${what})`);
    });
  }
});
