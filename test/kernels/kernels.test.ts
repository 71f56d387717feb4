// Kernels written the way the public tutorials write them (C with a NASM or a GNU as entry stub,
// GDT, IDT, PIC, PIT, paging, a VGA terminal with a hardware cursor and scrolling, COM1), built
// here with the Debian toolchain, booted as ELF files in QEMU (`-kernel kernel.elf`) and in Popek
// under every technique: the console, the screen (characters, attributes, cursor) and the exit
// status must be QEMU's. The firmware's own state (screen, CRTC, attribute registers, BIOS data
// area) is compared the same way.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProgramFile } from '../../core/machine/program';
import { screenLines, CP437 } from '../../core/devices/vga';
import { MODES, availableModes, createVm, type Mode } from '../../core/vmm';
import { assembleWithNasm, requireNasm, requireQemu, runImageInQemu, type QemuResult } from '../support/qemu';
import { FIXTURES, KERNELS, buildKernel, makeTempDir, parseScreenDump, type ScreenDump } from './support';

/** Every technique, hardware-assisted both with EPT and with shadow page tables. */
const CONFIGS: Array<{ mode: Mode; label: string; techniqueOptions?: Record<string, unknown> }> = [
  ...MODES.map((mode) => ({ mode, label: mode })),
  { mode: 'hardware-assisted', label: 'hardware-assisted (shadow paging)', techniqueOptions: { ept: false } },
];

function runPopek(file: string, config: (typeof CONFIGS)[number]) {
  const vm = createVm({ mode: config.mode, maxInstructions: 50_000_000, techniqueOptions: config.techniqueOptions });
  vm.load(loadProgramFile(file));
  vm.run(2_000_000);
  return { report: vm.report(), screen: vm.machine.vga.screen() };
}

function assertScreenEquals(actual: ReturnType<typeof runPopek>['screen'], dump: ScreenDump, what: string): void {
  const cells = Array.from(actual.chars, (c, k) => c | (actual.attrs[k] << 8));
  for (let k = 0; k < cells.length; k++) {
    if (cells[k] !== dump.cells[k]) {
      assert.fail(`${what}: screen cell row ${Math.floor(k / 80)} column ${k % 80} is 0x${cells[k].toString(16)}, QEMU's is 0x${dump.cells[k].toString(16)}`);
    }
  }
  assert.deepEqual(actual.cursor, { row: Math.floor(dump.cursor / 80), column: dump.cursor % 80 }, `${what}: cursor`);
  assert.deepEqual(actual.cursorShape, { start: dump.shape >> 8 & 0x1f, end: dump.shape & 0x1f }, `${what}: cursor shape`);
}

describe('tutorial-style kernels: ELF from gcc/nasm/as, Popek against QEMU', function () {
  this.timeout(120_000);
  let dir: string;
  const elf = new Map<string, string>();
  const qemu = new Map<string, QemuResult>();

  before(async function () {
    requireNasm();
    requireQemu();
    assert.deepEqual(availableModes(), [...MODES], 'every technique must be in this build');
    dir = makeTempDir('popek-kernels-');
    for (const k of KERNELS) {
      const file = buildKernel(k, dir);
      elf.set(k.name, file);
      qemu.set(k.name, await runImageInQemu(fs.readFileSync(file)));
    }
  });
  after(() => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  for (const k of KERNELS) {
    it(`${k.name}: QEMU boots the ELF and the kernel dumps its screen`, function () {
      const q = qemu.get(k.name)!;
      assert.ok(!q.timedOut, `QEMU did not finish: ${q.stderr}`);
      const dump = parseScreenDump(q.console);
      assert.ok(dump, `no screen dump at the end of QEMU's console:\n${q.console.slice(0, 2000)}`);
      assert.ok(q.exitStatus > 1, `isa-debug-exit status ${q.exitStatus}`);
    });

    for (const config of CONFIGS) {
      it(`${k.name}: ${config.label}: console, screen, cursor and exit status equal QEMU's`, function () {
        const q = qemu.get(k.name)!;
        const dump = parseScreenDump(q.console);
        assert.ok(dump, 'QEMU gave no screen dump');
        const { report, screen } = runPopek(elf.get(k.name)!, config);
        assert.equal(report.outcome, 'exit', `outcome ${report.outcome}: ${report.error ?? ''}\n${report.console.slice(0, 800)}`);
        assert.equal(report.console, q.console, 'console');
        assert.equal(report.exitCode, q.exitStatus, 'exit status');
        assertScreenEquals(screen, dump, config.label);
        // The report's screen is the same cells as text.
        const expected = Array.from({ length: 25 }, (_, r) =>
          dump.cells.slice(r * 80, r * 80 + 80).map((c) => CP437[c & 0xff]).join('').replace(/[ \u00a0]+$/, ''));
        assert.deepEqual(report.screen, expected);
        assert.deepEqual(screenLines(screen), expected);
      });
    }
  }

  it('the firmware state a kernel finds (screen, CRTC, attribute controller, BIOS data area) is QEMU\'s', async function () {
    const source = path.join(FIXTURES, 'firmware.asm');
    const q = await runImageInQemu(assembleWithNasm(source));
    assert.equal(q.exitStatus, 1);
    assert.match(q.console, /^[0-9a-f]{50}\n67\n[0-9a-f]{42}\n/, 'QEMU gave the register dump');
    for (const config of CONFIGS) {
      const { report } = runPopek(source, config);
      assert.equal(report.console, q.console, config.label);
      assert.equal(report.exitCode, 1);
    }
  });
});
