// The debugger (DebugClient over the bundled adapter) on a C kernel with xv6's idioms
// (fixtures/cpulocal: seginit's LGDT and LTR, pushcli's PUSHFL and CLI) under trap-and-emulate: it
// stops on each trap and on the critical instruction at its C source line and function (DWARF from
// gcc -g), and on a VM exit of the same kernel under VT-x at the C line of the port access.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { launchToStop, lineOf, resumeToStop, startClient } from '../debugger/support';
import { CPULOCAL, FIXTURES, buildKernel, makeTempDir } from './support';

describe('debugger: trap, critical-instruction and VM-exit stops in a C kernel at their C lines', function () {
  this.timeout(120_000);
  const kernelC = path.join(FIXTURES, 'cpulocal', 'kernel.c');
  const line = (text: string) => lineOf(kernelC, text);
  let dir: string, elf: string, dc: DebugClient;

  before(() => { dir = makeTempDir('popek-cpulocal-dbg-'); elf = buildKernel(CPULOCAL, dir); });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  async function top(): Promise<{ file: string; line: number; fn: string }> {
    const f = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    return { file: path.basename(f.source?.path ?? ''), line: f.line, fn: f.name.replace(/ @ .*$/, '') };
  }
  const described = (stop: DebugProtocol.StoppedEvent, what: RegExp) => assert.match(stop.body.description ?? '', what);

  it('trap-and-emulate: LGDT, LTR (traps), PUSHFL (critical), CLI (trap) stop in seginit and pushcli', async () => {
    const filters = [{ filterId: 'trap', condition: 'cli,lgdt,ltr' }, { filterId: 'critical', condition: 'pushfd' }];
    let { stop } = await launchToStop(dc, { program: elf, mode: 'trap-and-emulate', stopOnEntry: false }, { exceptions: { filters: [], filterOptions: filters } });
    // The first CLI is kernel_main's own (before seginit).
    described(stop, new RegExp(`kernel\\.c:${line('static inline void cli(void)')} \\(cli\\)`));
    assert.deepEqual(await top(), { file: 'kernel.c', line: line('static inline void cli(void)'), fn: 'kernel_main' });
    stop = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    described(stop, /\(lgdt /);
    assert.deepEqual(await top(), { file: 'kernel.c', line: line('"lgdt %0"'), fn: 'seginit' });
    stop = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    described(stop, /\(ltr /);
    assert.deepEqual(await top(), { file: 'kernel.c', line: line('"ltr %0"'), fn: 'seginit' });
    stop = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    described(stop, new RegExp(`^Critical instruction pushfd at kernel\\.c:${line('pushfl; popl')}`));
    assert.deepEqual(await top(), { file: 'kernel.c', line: line('pushfl; popl'), fn: 'pushcli' });
    stop = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    described(stop, /\(cli\)/);
    assert.deepEqual(await top(), { file: 'kernel.c', line: line('static inline void cli(void)'), fn: 'pushcli' });
  });

  it('hardware-assisted: the first I/O VM exit stops at the C line of the port access (serial_init)', async () => {
    const { stop } = await launchToStop(dc, { program: elf, mode: 'hardware-assisted', stopOnEntry: false }, { exceptions: { filters: [], filterOptions: [{ filterId: 'vmexit', condition: 'IO_INSTRUCTION' }] } });
    described(stop, /IO_INSTRUCTION/);
    const f = await top();
    assert.equal(f.file, 'io.h');
    assert.equal(f.line, lineOf(path.join(FIXTURES, 'common', 'io.h'), 'static inline void outb'));
  });
});
