/*
 * "Divergence from native" ticked in the Breakpoints view is all it takes: the adapter adds the
 * native twin when the filter is set and drops it when it is cleared, without `checkEquivalence` in
 * launch.json. The reference is a launch with checkEquivalence (the twin from the start, tested
 * against the lock step in twinWindows.test.ts): the filter alone — set before the run, after some
 * steps, or after the guest already went past its divergence (the twin catches up from the first
 * checkpoint and the guest is taken back to it) — must give the same divergence stop (description,
 * line, registers), the same Debug Console lines and the same end. Through the real protocol
 * client (DebugClient) and the bundled adapter; the twin's thread counted in the kernel's view of
 * the adapter process.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { ADAPTER, collectOutput, fixture, launchToStop, lineOf, resumeToStop, scope, settledThreads, startAdapterServer, startClient, topFrame } from './support';

const TWINS = fixture('twins.gasm');
const PAST_DIVERGENCE = lineOf(TWINS, 'cmp dword [syscalls], 1');

interface Seen { description: string | undefined; line: number; registers: string; console: string; exitCode: number }

/** Stops and continues until the guest's end: the events seen on the way, in order. */
async function runToEnd(dc: DebugClient): Promise<number> {
  const exited = dc.waitForEvent('exited', 30_000) as Promise<DebugProtocol.ExitedEvent>;
  let ended = false;
  void exited.then(() => { ended = true; });
  while (!ended) {
    const next = Promise.race([dc.waitForEvent('stopped', 30_000), exited]);
    await dc.continueRequest({ threadId: 1 });
    await next;
  }
  return (await exited).body.exitCode;
}

/**
 * A trap-and-emulate launch of twins.gasm stopped on entry; `before` runs there (steps, filters),
 * then `continue` until the divergence stop, which is looked at, then on to the end.
 */
async function divergence(launch: Record<string, unknown>, setup: Parameters<typeof launchToStop>[2], before: (dc: DebugClient) => Promise<void> = async () => {}, program = TWINS): Promise<Seen> {
  const dc = await startClient();
  try {
    const out = collectOutput(dc);
    await launchToStop(dc, { program, mode: 'trap-and-emulate', stopOnEntry: true, ...launch }, setup);
    await before(dc);
    let stop: DebugProtocol.StoppedEvent;
    do stop = await resumeToStop(dc, dc.continueRequest({ threadId: 1 })); while (stop.body.reason !== 'divergence');
    const line = (await topFrame(dc)).line;
    const registers = [...(await scope(dc, 'Registers')).entries()].map(([n, v]) => `${n}=${v.value}`).join(' ');
    const exitCode = await runToEnd(dc);
    return { description: stop.body.description, line, registers, console: out.text('console'), exitCode };
  } finally { await dc.stop(); }
}

describe('debugger: "Divergence from native" without checkEquivalence', function () {
  this.timeout(120_000);
  let reference: Seen;

  before(async () => {
    reference = await divergence({ checkEquivalence: true }, { exceptions: { filters: ['divergence'] } });
    assert.match(reference.description ?? '', /^Divergence from native after twins\.gasm:\d+ \(push cs\)/);
    assert.match(reference.console, /Divergence from native: twins\.gasm:\d+ \(push cs\) had a different effect/);
    assert.match(reference.console, /Compared with native: same console and outcome\./);
  });

  it('ticked before the run (setExceptionBreakpoints only): the same divergence stop, lines and end as with checkEquivalence', async () => {
    assert.deepEqual(await divergence({}, { exceptions: { filters: ['divergence'] } }), reference);
  });

  it('after ~10 M instructions without an event of the technique (stretches the twin does not run): the same stop and lines', async () => {
    // 600 rounds instead of 3, the sensitive instructions in the last: the twin takes the guest's
    // state at the ends of the clean rounds' stretches (stateTransfer.ts) and runs the last one.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-twins-'));
    const program = path.join(dir, 'twins.gasm');
    fs.writeFileSync(program, fs.readFileSync(TWINS, 'utf8').replace(/^ROUNDS\s+equ\s+3\b/m, 'ROUNDS      equ 600'));
    try {
      const long = await divergence({}, { exceptions: { filters: ['divergence'] } }, async () => {}, program);
      // Instruction counts and the registers the rounds computed differ; not the divergence.
      const counts = (text: string) => text.replace(/\b\d{4,}\b/g, 'N');
      assert.equal(long.description, reference.description);
      assert.equal(long.line, reference.line);
      assert.equal(counts(long.console), counts(reference.console));
      assert.equal(long.exitCode, reference.exitCode);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it('ticked while the guest runs: the run goes on with the twin (no stop in between) and stops at the divergence', async () => {
    // 6000 rounds: the guest still runs when the filter is ticked, the divergence in its last round.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-twins-'));
    const program = path.join(dir, 'twins.gasm');
    fs.writeFileSync(program, fs.readFileSync(TWINS, 'utf8').replace(/^ROUNDS\s+equ\s+3\b/m, 'ROUNDS      equ 6000'));
    const dc = await startClient();
    try {
      await launchToStop(dc, { program, mode: 'trap-and-emulate', stopOnEntry: true }, {});
      const stops: DebugProtocol.StoppedEvent[] = [];
      dc.on('stopped', (e: DebugProtocol.StoppedEvent) => stops.push(e));
      const first = dc.waitForEvent('stopped', 60_000) as Promise<DebugProtocol.StoppedEvent>;
      await dc.continueRequest({ threadId: 1 });
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(stops.length, 0, 'still running when the filter is ticked');
      await dc.setExceptionBreakpointsRequest({ filters: ['divergence'] });
      const stop = await first;
      assert.equal(stop.body.reason, 'divergence', JSON.stringify(stop.body));
      assert.equal(stop.body.description, reference.description);
      assert.equal((await topFrame(dc)).line, reference.line);
      assert.deepEqual(stops.map((e) => e.body.reason), ['divergence']);
    } finally {
      await dc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ticked after some steps: the same', async () => {
    assert.deepEqual(await divergence({}, {}, async (dc) => {
      for (let i = 0; i < 5; i++) await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
      await dc.setExceptionBreakpointsRequest({ filters: ['divergence'] });
    }), reference);
  });

  it('ticked once the guest is past its divergence: the next continue goes back to it (the twin catches up from the first checkpoint)', async () => {
    let past = -1;
    const seen = await divergence({}, {}, async (dc) => {
      await dc.setBreakpointsRequest({ source: { path: TWINS }, breakpoints: [{ line: PAST_DIVERGENCE }] });
      const bp = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(bp.body.reason, 'breakpoint');
      past = (await topFrame(dc)).line;
      await dc.setExceptionBreakpointsRequest({ filters: ['divergence'] });
    });
    assert.equal(past, PAST_DIVERGENCE);
    assert.ok(seen.line < PAST_DIVERGENCE, `the divergence (line ${seen.line}) comes before the breakpoint (line ${PAST_DIVERGENCE})`);
    // The stop says the guest went back (the rest is the reference's).
    assert.match(seen.description ?? '', / \(went back: the guest had diverged before instruction \d+, where this run started\)$/);
    assert.deepEqual({ ...seen, description: seen.description?.replace(/ \(went back: .*\)$/, '') }, reference);
  });

  it('ticked once the guest is past its divergence, then a step: the step stops at the divergence, not at its own instruction', async () => {
    const dc = await startClient();
    try {
      await launchToStop(dc, { program: TWINS, mode: 'trap-and-emulate', stopOnEntry: false }, { breakpoints: [{ path: TWINS, breakpoints: [{ line: PAST_DIVERGENCE }] }] });
      await dc.setExceptionBreakpointsRequest({ filters: ['divergence'] });
      const stop = await resumeToStop(dc, dc.stepInRequest({ threadId: 1, granularity: 'instruction' }));
      assert.equal(stop.body.reason, 'divergence');
      assert.equal(stop.body.description?.replace(/ \(went back: .*\)$/, ''), reference.description);
      assert.equal((await topFrame(dc)).line, reference.line);
    } finally { await dc.stop(); }
  });

  it('cleared: the twin and its thread are gone, the end says nothing of native', async function () {
    if (!fs.existsSync('/proc/self/status')) this.skip();
    const { child, port } = await startAdapterServer();
    try {
      const pid = child.pid!;
      const idle = await settledThreads(pid);
      const dc = new DebugClient('node', ADAPTER, 'popek');
      await dc.start(port);
      try {
        const out = collectOutput(dc);
        const { stop } = await launchToStop(dc, { program: TWINS, mode: 'trap-and-emulate', stopOnEntry: false }, { exceptions: { filters: ['divergence'] } });
        assert.equal(stop.body.reason, 'divergence');
        const withTwin = await settledThreads(pid);
        await dc.setExceptionBreakpointsRequest({ filters: [] });
        assert.equal(await runToEnd(dc), 1);
        const cleared = await settledThreads(pid, (n) => n < withTwin);
        assert.ok(withTwin > idle, `a twin thread while the filter is ticked: ${idle} → ${withTwin}`);
        assert.equal(cleared, idle, `no twin thread once the filter is cleared: ${idle} → ${withTwin} → ${cleared}`);
        assert.match(out.text('console'), /The guest exited with code 1/);
        assert.doesNotMatch(out.text('console'), /Compared with native/);
      } finally { await dc.stop(); }
    } finally { child.kill(); }
  });
});
