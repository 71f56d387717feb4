/*
 * Code coverage over the debug adapter protocol: the lines the `popekCoverage` event reports are
 * exactly those whose instructions QEMU executed (its one-instruction-per-block execution log), in
 * every technique — a hot loop compiled into blocks and regions, a branch never taken, code after
 * the exit — also with a user's breakpoint and steps on the way, and when recording starts mid-run.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { assemble } from '../../core/asm';
import { MODES, type Mode } from '../../core/vmm';
import { COVERAGE_EVENT, COVERAGE_REQUEST, type CoverageBody } from '../../debugger/coverageEvents';
import { entryStubStart, EXIT_AND_HALT, useElfKernel } from '../elf/toolchain';
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

// Multiboot entry stub (the tutorials' idiom): the header in its own section, then kmain, then the exit.
const ENTRY_ASM = `${entryStubStart()}  call kmain
${EXIT_AND_HALT}section .bss
align 16
  resb 4096
stack_top:
`;

const KERNEL_C = `
static void outb(unsigned short port, unsigned char v) {
  __asm__ volatile ("outb %0, %1" : : "a"(v), "Nd"(port));
}

static int never_called(int x) {
  return x * 3;
}

static int twice(int x) {
  return x + x;
}

void kmain(void) {
  int s = 0;
  for (int i = 0; i < 100; i++)
    s += twice(i);
  if (s == 7)
    s = never_called(s);
  outb(0x3f8, 'k');
}
`;

const LINK_LD = `
ENTRY(_start)
SECTIONS {
  . = 1M;
  .text BLOCK(4K) : ALIGN(4K) { *(.multiboot) *(.text) }
  .bss BLOCK(4K) : ALIGN(4K) { *(COMMON) *(.bss) }
}
`;

describe('debugger: code coverage of an ELF kernel (C and NASM lines through DWARF), checked against QEMU and addr2line', function () {
  this.timeout(120_000);
  let dc: DebugClient;
  const k = useElfKernel({ sources: { 'entry.asm': ENTRY_ASM, 'kernel.c': KERNEL_C }, linkerScript: LINK_LD }, ['qemu-system-i386', 'nasm', 'gcc', 'addr2line']);
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  it('the covered .c and .asm lines are those of the addresses QEMU executed, as addr2line names them', async () => {
    const kernel = k;
    // QEMU boots the ELF as a Multiboot kernel; its log lists the addresses run in .text.
    const trace = await traceImageInQemu(Buffer.from(kernel.bytes), 0x100000);
    assert.equal(trace.console, 'k');
    const text = spawnSync('addr2line', ['-e', kernel.file, ...trace.pcs.map((pc) => '0x' + pc.toString(16))], { encoding: 'utf8' }).stdout;
    const want = new Map<string, Set<number>>();
    for (const m of text.matchAll(/^(.+):(\d+)/gm)) {
      const file = path.resolve(kernel.dir, m[1]);
      if (!want.has(file)) want.set(file, new Set());
      want.get(file)!.add(Number(m[2]));
    }
    const cov = lastCoverage(dc);
    await Promise.all([dc.configurationSequence(), dc.launch({ program: kernel.file, mode: 'trap-and-emulate', stopOnEntry: false, coverage: true } as DebugProtocol.LaunchRequestArguments)]);
    const body = await cov.ended;
    const c = kernel.sources['kernel.c'], asm = kernel.sources['entry.asm'];
    for (const file of [c, asm]) {
      assert.deepEqual(body.files.find((f) => f.path === file)?.lines, [...want.get(file) ?? []].sort((a, b) => a - b), file);
    }
    const covered = body.files.find((f) => f.path === c)!.lines;
    assert.ok(covered.includes(lineOf(c, 'return x + x')) && !covered.includes(lineOf(c, 'return x * 3')) && !covered.includes(lineOf(c, 's = never_called(s)')));
  });
});
