// A C kernel with xv6's interrupt-flag idiom (fixtures/cpulocal: pushcli reads IF with PUSHFL, then
// CLI; mycpu panics if PUSHFL shows interrupts enabled), built with gcc -m32 -g. QEMU runs it to
// "interrupts were off". Native, binary translation and VT-x must print the same; trap-and-emulate
// and paravirtual (an unmodified kernel) run PUSHFL at CPL 1, where it reads the real IF = 1, so the
// kernel panics in mycpu — and the run says where it first went wrong: the PUSHFL's C source line
// (from the ELF's DWARF line table) and function, with why (sensitive, unprivileged).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareModes } from '../../cli/compareCommand';
import { programLocator } from '../../cli/programSource';
import { loadProgramFile } from '../../core/machine/program';
import { explainDivergence } from '../../core/vmm/critical';
import { MODES, availableModes, createVm, type Mode } from '../../core/vmm';
import { requireQemu, runImageInQemu, type QemuResult } from '../support/qemu';
import { CPULOCAL, FIXTURES, buildKernel, makeTempDir } from './support';

/** The console without the screen dump the kernel appends. */
const text = (console: string) => console.split('\n=== screen')[0];

describe('critical instructions in a C kernel: where an unmodified kernel first diverges', function () {
  this.timeout(120_000);
  let dir: string, elf: string, qemu: QemuResult;

  before(async function () {
    requireQemu();
    assert.deepEqual(availableModes(), [...MODES]);
    dir = makeTempDir('popek-cpulocal-');
    elf = buildKernel(CPULOCAL, dir);
    qemu = await runImageInQemu(fs.readFileSync(elf));
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('QEMU: PUSHFL after CLI reads IF = 0, no panic; native Popek the same, trap-and-emulate panics in mycpu', () => {
    assert.equal(text(qemu.console), 'cpu 0: interrupts were off\n');
    assert.equal(qemu.exitStatus, 1);
    const run = (mode: Mode) => {
      const vm = createVm({ mode, maxInstructions: 20_000_000 });
      vm.load(loadProgramFile(elf));
      vm.run();
      return vm.report();
    };
    assert.equal(text(run('native').console), text(qemu.console));
    assert.equal(text(run('trap-and-emulate').console), 'cpu panic: mycpu called with interrupts enabled\n');
  });

  it('every technique: the same console as QEMU where PUSHFL is exact, the panic and its source line where it is not', () => {
    const program = loadProgramFile(elf);
    const rows = compareModes(program, { maxInstructions: 20_000_000, locate: programLocator(program, elf) });
    const source = fs.readFileSync(path.join(FIXTURES, 'cpulocal', 'kernel.c'), 'utf8').split('\n');
    const pushflLine = source.findIndex((l) => l.includes('pushfl; popl')) + 1;
    assert.ok(pushflLine > 0);
    for (const r of rows) {
      if (r.mode === 'trap-and-emulate' || r.mode === 'paravirtual') {
        assert.equal(r.exitCode, 3, `${r.mode}: the kernel's own panic exit`);
        assert.ok(r.criticalBy.pushfd >= 1, `${r.mode}: PUSHFL counted as a critical instruction`);
        const d = r.firstDivergence;
        assert.ok(d, `${r.mode}: a first divergence`);
        assert.equal(d.mnemonic, 'pushfd');
        assert.match(d.differs, /real flags IF=1 .*guest's IF=0/);
        assert.ok(d.source, `${r.mode}: located in the DWARF line table`);
        assert.equal(path.basename(d.source.file), 'kernel.c');
        assert.equal(d.source.line, pushflLine);
        assert.equal(d.source.function, 'pushcli', 'the first PUSHFL is pushcli\'s (readeflags inlined)');
        const why = explainDivergence(r.mode, d);
        assert.match(why, new RegExp(`kernel\\.c:${pushflLine}, in pushcli`));
        assert.match(why, /sensitive but not privileged \(Robin & Irvine 2000\)/);
      } else {
        assert.equal(r.exitCode, qemu.exitStatus, `${r.mode}: exit status`);
        assert.equal(r.consoleMatchesNative, true, `${r.mode}: console`);
        assert.equal(r.firstDivergence, undefined, `${r.mode}: nothing diverges`);
      }
    }
  });
});
