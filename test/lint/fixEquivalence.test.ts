/*
 * The acceptance test of the quick fixes (issue 5): for each example, `popek fix` then a run in
 * `paravirtual` mode gives the same console output and exit status as the original in `native`
 * mode. Runs in-process through core/machine and core/vmm (what `popek run` uses).
 */
import * as assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { LintDocument } from '../../core/lint/document';
import { fixAll } from '../../core/lint/fixes';
import { assembleProgram } from '../../core/machine';
import { availableModes, runProgram } from '../../core/vmm';

const ROOT = [path.resolve(__dirname, '../..'), path.resolve(__dirname, '../../..')].find((p) => {
  try { return readdirSync(path.join(p, 'examples')).some((f) => f.endsWith('.gasm')); } catch { return false; }
})!;
const EXAMPLES = readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.gasm')).sort();
/** Generous: the largest example (compute) runs a few million instructions. */
const LIMIT = 50_000_000;

describe('popek fix: the fixed program under paravirtual behaves as the original under native', function () {
  this.timeout(120000);
  before(function () {
    // Skip only when the hypervisor genuinely has no paravirtual mode in this build.
    if (!availableModes().includes('paravirtual')) {
      console.log(`      skipped: core/vmm registers no paravirtual technique in this build (available: ${availableModes().join(', ')})`);
      this.skip();
    }
  });

  for (const name of EXAMPLES) {
    it(name, () => {
      const file = path.join(ROOT, 'examples', name);
      const text = readFileSync(file, 'utf8');
      const fixed = fixAll(new LintDocument(file, 'nasm', text));
      const native = runProgram(assembleProgram(file, text), { mode: 'native', maxInstructions: LIMIT }).report;
      const pv = runProgram(assembleProgram(file, fixed.text), { mode: 'paravirtual', maxInstructions: LIMIT }).report;
      assert.notEqual(native.outcome, 'limit', 'the original ends under native');
      assert.equal(pv.console, native.console, `console (${fixed.rewrites} rewrites, ${fixed.changedLines}/${fixed.totalLines} lines changed; pv outcome ${pv.outcome}${pv.error ? ': ' + pv.error : ''})`);
      assert.equal(pv.exitCode, native.exitCode, `exit status (pv outcome ${pv.outcome})`);
    });
  }
});
