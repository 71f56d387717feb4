/*
 * The VM-exit trace document, fed the real CLI's `popek run --trace --json`: every exit the report
 * counts is a row (the old view counted 32 exits and then said "(no events)"), lines fit a side
 * editor, and the source column links to the line of the instruction.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { traceDocument, type TraceReport } from '../../client/traceView';
import { REPO_ROOT } from '../support/repoRoot';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const HELLO = path.join(REPO_ROOT, 'examples', 'hello.gasm');

function traced(mode: string): TraceReport {
  assert.ok(fs.existsSync(CLI), 'dist/cli.js is built (npm run build)');
  // The exit status is the guest's, not an error: take stdout whatever it is.
  let out: string;
  try { out = execFileSync(process.execPath, [CLI, 'run', HELLO, '--mode', mode, '--trace', '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 26 }); } catch (e) { out = (e as { stdout: string }).stdout; }
  return JSON.parse(out) as TraceReport;
}

describe('client: VM-exit trace document from the real CLI output', function () {
  this.timeout(60_000);

  it('hardware-assisted: one row per VM exit the report counts, each linked to its source line', () => {
    const report = traced('hardware-assisted');
    const exits = Object.values(report.vmExits).reduce((a, b) => a + b, 0);
    assert.ok(exits > 0, 'hello.gasm exits under VT-x');
    const doc = traceDocument(report, HELLO, 'hardware-assisted');
    const lines = doc.text.split('\n');
    const exitRows = lines.filter((l) => /^\s*\d+\s+[\d,]+\s+VM exit\s/.test(l));
    assert.equal(exitRows.length, exits, `${exits} exits counted, ${exitRows.length} rows`);
    assert.ok(!/no events/i.test(doc.text));
    assert.ok(exitRows.some((l) => /IO_INSTRUCTION/.test(l)));
    for (const l of lines) assert.ok(l.length <= 120, `a line of ${l.length} characters: ${l}`);
    // Links: the span says hello.gasm:N and points at hello.gasm line N, which holds the instruction.
    assert.ok(doc.links.length >= exits - 2, `${doc.links.length} links`);
    const source = fs.readFileSync(HELLO, 'utf8').split('\n');
    for (const k of doc.links) {
      assert.equal(lines[k.line].slice(k.start, k.end), `hello.gasm:${k.sourceLine}`);
      assert.equal(path.resolve(k.file), HELLO);
      assert.match(source[k.sourceLine - 1], /^\s*[a-z]/, `line ${k.sourceLine} is an instruction`);
    }
  });

  it('native: says there is no hypervisor, not "(no events)" under counts', () => {
    const doc = traceDocument(traced('native'), HELLO, 'native');
    assert.match(doc.text, /Native runs without a hypervisor/);
    assert.equal(doc.events, 0);
  });
});
