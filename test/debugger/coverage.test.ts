/*
 * Code coverage over the debug adapter protocol: the lines the `popekCoverage` event reports are
 * exactly those whose instructions QEMU executed (its one-instruction-per-block execution log), in
 * every technique — a hot loop compiled into blocks and regions, a branch never taken, code after
 * the exit — also with a user's breakpoint and steps on the way, and when recording starts mid-run.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { assemble } from '../../core/asm';
import { MODES, type Mode } from '../../core/vmm';
import { COVERAGE_EVENT, COVERAGE_REQUEST, type CoverageBody } from '../../debugger/coverageEvents';
import { assembleWithNasm, hasTool, traceImageInQemu } from '../support/qemu';
import { fixture, launchToStop, lineOf, resumeToStop, send, startClient } from './support';

const FILE = fixture('coverage.gasm');

/** 1-based lines of the instructions QEMU started, through Popek's source map of the same bytes. */
let qemuLines: number[] | undefined;
async function executedInQemu(): Promise<number[]> {
  if (qemuLines) return qemuLines;
  const image = assembleWithNasm(FILE);
  const ours = assemble(FILE, fs.readFileSync(FILE, 'utf8'));
  assert.ok(Buffer.from(ours.bytes).equals(image), 'nasm and Popek assemble the same bytes (the map applies to both)');
  const trace = await traceImageInQemu(image, 0x100000);
  assert.equal(trace.console, 'c', 'QEMU ran the guest to its exit');
  const lineAt = new Map(ours.sourceMap.filter((e) => e.kind === 'instruction').map((e) => [e.address, e.range.start.line + 1]));
  qemuLines = [...new Set(trace.pcs.map((pc) => { const l = lineAt.get(pc); assert.ok(l, `QEMU ran ${pc.toString(16)}, not an instruction start`); return l!; }))].sort((a, b) => a - b);
  return qemuLines;
}

function lastCoverage(dc: DebugClient): { ended: Promise<CoverageBody>; latest: () => CoverageBody | undefined } {
  let latest: CoverageBody | undefined;
  const ended = new Promise<CoverageBody>((resolve) => dc.on(COVERAGE_EVENT, (e: DebugProtocol.Event) => {
    latest = e.body as CoverageBody;
    if (latest.ended) resolve(latest);
  }));
  return { ended, latest: () => latest };
}

const linesOf = (b: CoverageBody) => b.files.find((f) => f.path === FILE)?.lines ?? [];

describe('debugger: code coverage of executed lines, checked against QEMU', function () {
  this.timeout(120_000);
  let dc: DebugClient;
  before(function () { if (!hasTool('qemu-system-i386') || !hasTool('nasm')) this.skip(); });
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  for (const mode of MODES as readonly Mode[]) {
    it(`${mode}: the covered lines are those QEMU executed (the loop, the call; not the untaken branches or what follows the exit)`, async () => {
      const want = await executedInQemu();
      const cov = lastCoverage(dc);
      await Promise.all([dc.configurationSequence(), dc.launch({ program: FILE, mode, stopOnEntry: false, coverage: true } as DebugProtocol.LaunchRequestArguments)]);
      const body = await cov.ended;
      assert.equal(body.mode, mode);
      assert.deepEqual(linesOf(body), want);
      assert.ok(!want.includes(lineOf(FILE, "mov al, '!'")) && want.includes(lineOf(FILE, 'add eax, ecx')), 'the fixture has executed and unexecuted lines');
      assert.ok(body.executed < body.instructions);
    });
  }

  it('with a breakpoint, steps and a continue on the way, and from a stop where recording is switched on', async () => {
    const want = await executedInQemu();
    const cov = lastCoverage(dc);
    const bpLine = lineOf(FILE, '    pushfd');
    // Recording switched on at the entry stop by the request (nothing has run yet), not at launch.
    await launchToStop(dc, { program: FILE, mode: 'binary-translation', stopOnEntry: true }, { breakpoints: [{ path: FILE, breakpoints: [{ line: bpLine }] }] });
    const now = await send<DebugProtocol.Response & { body: CoverageBody }>(dc, COVERAGE_REQUEST, {});
    assert.deepEqual(linesOf(now.body), [], 'nothing executed at the entry');
    const stop = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.equal(stop.body.reason, 'breakpoint');
    const atBp = cov.latest()!;
    assert.deepEqual(linesOf(atBp), want.filter((l) => l < bpLine), 'at the breakpoint: the lines before it that ran');
    await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
    await resumeToStop(dc, dc.nextRequest({ threadId: 1 }));
    await dc.continueRequest({ threadId: 1 });
    assert.deepEqual(linesOf(await cov.ended), want);
  });

  it('off (the default): no coverage event, and the run does not stop at probes', async () => {
    let events = 0;
    dc.on(COVERAGE_EVENT, () => { events++; });
    await Promise.all([dc.configurationSequence(), dc.launch({ program: FILE, mode: 'native', stopOnEntry: false } as DebugProtocol.LaunchRequestArguments), dc.waitForEvent('terminated')]);
    assert.equal(events, 0);
  });
});
