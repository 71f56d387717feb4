/*
 * The compare view's model fed with what the real CLI prints (`node dist/cli.js compare … --json`):
 * the view and the CLI share one row type, and this keeps the view's reading of it honest — native
 * is ×1.00, the events table lists what the table counts, the stacked causes add up to the cycles.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareModel, formatRatio } from '../../client/compareData';
import { parseJsonOutput } from '../../client/cli';
import { REPO_ROOT } from '../support/repoRoot';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

function cliCompare(file: string): unknown {
  assert.ok(fs.existsSync(CLI), 'dist/cli.js is built (npm run build)');
  const out = execFileSync(process.execPath, [CLI, 'compare', path.join(REPO_ROOT, file), '--json'], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out);
}

describe('client: compare view model from the real CLI output', function () {
  this.timeout(120_000);
  let critical: unknown;
  before(() => { critical = cliCompare('examples/critical.gasm'); });

  it('native is ×1.00 and every ratio is cycles over native cycles', () => {
    const m = compareModel(critical, 'critical.gasm');
    const native = m.rows.find((r) => r.mode === 'native')!;
    assert.equal(native.ratio, 1);
    assert.equal(formatRatio(native.ratio), '×1.00');
    assert.equal(native.consoleEqual, null, 'native is the reference, not compared with itself');
    assert.equal(native.screenEqual, null);
    for (const r of m.rows.filter((x) => x.mode !== 'native')) assert.equal(typeof r.screenEqual, 'boolean', r.mode);
    for (const r of m.rows) assert.ok(Math.abs(r.ratio! - r.cycles / native.cycles) < 1e-9, `${r.mode}: ${r.ratio} vs ${r.cycles}/${native.cycles}`);
    assert.ok(m.rows.some((r) => r.ratio! > 1), 'some technique costs more than native');
  });

  it('the events table lists every trap, exit, hypercall and critical instruction the totals count', () => {
    const m = compareModel(critical, 'critical.gasm');
    m.rows.forEach((r, i) => {
      const sum = (kind: string) => m.events.filter((e) => e.kind === kind).reduce((s, e) => s + e.counts[i], 0);
      assert.equal(sum('trap'), r.traps, `${r.mode} traps`);
      assert.equal(sum('VM exit'), r.vmExits, `${r.mode} VM exits`);
      assert.equal(sum('hypercall'), r.hypercalls, `${r.mode} hypercalls`);
      assert.equal(sum('critical'), r.critical, `${r.mode} critical`);
    });
    assert.ok(m.events.length > 0 && m.rows.some((r) => r.traps > 0), 'critical.gasm traps somewhere');
  });

  it('the stacked causes (cyclesBy) sum to each technique\'s cycles; native is all guest instructions', () => {
    const m = compareModel(critical, 'critical.gasm');
    for (const r of m.rows) {
      const total = r.segments.reduce((s, x) => s + x.cycles, 0);
      assert.ok(Math.abs(total - r.cycles) <= r.segments.length, `${r.mode}: causes ${total} vs cycles ${r.cycles}`);
    }
    const native = m.rows.find((r) => r.mode === 'native')!;
    assert.deepEqual(native.segments.map((s) => s.cause), ['instructions']);
    const te = m.rows.find((r) => r.mode === 'trap-and-emulate')!;
    assert.ok(te.segments.some((s) => s.cause === 'trap'), `trap-and-emulate spends cycles on traps: ${JSON.stringify(te.segments)}`);
    assert.ok(m.causes.length >= 2);
  });

  it('refuses what the CLI does not print, rather than drawing a wrong view', () => {
    assert.throws(() => compareModel({ modes: {} }), /array/);
    assert.throws(() => compareModel([]), /no rows/);
    const rows = critical as Array<Record<string, unknown>>;
    assert.throws(() => compareModel([{ ...rows[0], mode: 'warp' }]), /unknown mode/);
    assert.throws(() => compareModel([{ ...rows[0], cyclesBy: { magic: 3 } }]), /unknown cause/);
  });

  it('finds the JSON after trace lines', () => {
    assert.deepEqual(parseJsonOutput('[trace] exit CPUID\n{"mode":"native"}\n'), { mode: 'native' });
    assert.deepEqual(parseJsonOutput('event 1\n{\n  "a": [1, 2]\n}\n'), { a: [1, 2] });
    assert.throws(() => parseJsonOutput('no json here'), /no JSON/);
  });
});
