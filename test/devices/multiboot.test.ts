// The Multiboot information a kernel gets, against QEMU's loader: the structure at QEMU's address,
// its fields, the command line ("<kernel> <-append>") and two modules (`-initrd "m1 args,m2"`) at
// QEMU's addresses, with their strings and contents (test/devices/guests/multiboot.gasm) — in every
// technique; and `popek run --append/--initrd`, QEMU's options, giving the same.
import * as assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { multibootBoot } from '../../core/machine/multibootBoot';
import { collectOutput, launchToStop, startClient } from '../debugger/support';
import { assertAsQemu, GUESTS, modes, popekGuest, qemuGuest } from './support';

const CLI = [path.resolve(__dirname, '../../dist/cli.js'), path.resolve(__dirname, '../../../dist/cli.js')].find((f) => fs.existsSync(f));

describe('devices: Multiboot command line and modules as QEMU hands them over', function () {
  this.timeout(60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-mb-'));
  const m1 = path.join(dir, 'm1.bin'), m2 = path.join(dir, 'm2.bin');
  const initrd = `${m1} first arg,${m2}`;
  before(() => {
    fs.writeFileSync(m1, 'MOD1-content');
    fs.writeFileSync(m2, Buffer.from(Array.from({ length: 5000 }, (_, k) => (k * 7 + 0x58) & 0xff)));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const qemu = () => qemuGuest('multiboot', { extraArgs: ['-initrd', initrd, '-append', 'hello world'] });

  it('QEMU: the structure at 0x9500, two modules after the kernel', async () => {
    const q = await qemu();
    assert.match(q.console, /^mbi at 00009500$/m, q.console);
    assert.match(q.console, /^cmdline kernel\.bin hello world$/m);
    assert.match(q.console, /^module 00103000 0010300c m1\.bin first arg 31444f4d$/m);
    assert.equal(q.console.match(/^module /gm)?.length, 2);
    assert.equal(q.exitStatus, 5, 'the guest exits with its module count');
    assert.match(q.console, /^loader name after the command line y$/m);
  });

  for (const mode of modes()) {
    it(`${mode}: multiboot.gasm as in QEMU`, async () => {
      const q = await qemu();
      const boot = multibootBoot('kernel.bin', 'hello world', initrd, (f) => new Uint8Array(fs.readFileSync(f)));
      const r = popekGuest('multiboot', mode, { boot });
      assertAsQemu(r, q);
    });
  }

  it('popek run --append --initrd: the same modules and command line; a missing module is a clear error', async function () {
    if (!CLI) this.skip();
    const q = await qemu();
    const r = spawnSync(process.execPath, [CLI!, 'run', path.join(GUESTS, 'multiboot.gasm'), '--initrd', initrd, '--append', 'hello world'], { encoding: 'utf8' });
    assert.equal(r.status, q.exitStatus, r.stderr);
    const modulesOf = (s: string) => s.split('\n').filter((l) => l.startsWith('module ')).join('\n');
    assert.equal(modulesOf(r.stdout), modulesOf(q.console));
    assert.match(r.stdout, /^cmdline multiboot\.gasm hello world$/m);
    const bad = spawnSync(process.execPath, [CLI!, 'run', path.join(GUESTS, 'multiboot.gasm'), '--initrd', path.join(dir, 'nope.bin')], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /initrd: cannot read module .*nope\.bin/);
    // A device named as a module or a disk is refused at once (it used to read /dev/zero for ever).
    const guest = path.join(GUESTS, 'multiboot.gasm');
    const devices: Array<[string[], RegExp]> = [
      [['--initrd', '/dev/zero'], /initrd: cannot read module \/dev\/zero: it is not a regular file/],
      [['--disk', '/dev/zero'], /cannot read disk image \/dev\/zero: it is not a regular file/],
    ];
    for (const [argv, why] of devices) {
      const r2: SpawnSyncReturns<string> = spawnSync(process.execPath, [CLI!, 'run', guest, ...argv], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(r2.status, 1, r2.stderr);
      assert.match(r2.stderr, why);
    }
  });

  it('popek compare takes the same options: every technique boots with the modules', async function () {
    if (!CLI) this.skip();
    const r = spawnSync(process.execPath, [CLI!, 'compare', path.join(GUESTS, 'multiboot.gasm'), '--initrd', initrd, '--append', 'hello world', '--memory', '32', '--json'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as Array<{ mode: string; outcome: string; exitCode: number; consoleMatchesNative: boolean }>;
    // The guest exits with its module count: (2 << 1) | 1.
    assert.ok(rows.length >= 2 && rows.every((row) => row.outcome === 'exit' && row.exitCode === 5 && row.consoleMatchesNative), r.stdout);
    const bad = spawnSync(process.execPath, [CLI!, 'compare', path.join(GUESTS, 'multiboot.gasm'), '--initrd', path.join(dir, 'nope.bin')], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /initrd: cannot read module .*nope\.bin/);
  });

  it('the debugger\'s "initrd" and "append" launch attributes: the guest and its native twin get the modules', async () => {
    const q = await qemu();
    const dc = await startClient();
    try {
      const out = collectOutput(dc);
      await launchToStop(dc, { program: path.join(GUESTS, 'multiboot.gasm'), mode: 'trap-and-emulate', initrd, append: 'hello world', stopOnEntry: true },
        { exceptions: { filters: ['divergence'] } });
      const ended = dc.waitForEvent('terminated', 30000);
      const stopped = dc.waitForEvent('stopped', 30000).then((e) => `stopped: ${JSON.stringify(e.body)}`);
      await dc.continueRequest({ threadId: 1 });
      // With "Divergence from native" on, a twin started without the modules would stop here.
      assert.equal(await Promise.race([ended.then(() => 'terminated'), stopped]), 'terminated');
      const lines = (s: string) => s.split('\n').filter((l) => l.startsWith('module ') || l.startsWith('mbi ')).join('\n');
      assert.equal(lines(out.text('stdout')), lines(q.console));
      assert.match(out.text('stdout'), /^cmdline multiboot\.gasm hello world$/m);
    } finally {
      await dc.stop();
    }
  });

  it('a launch whose module or disk is a device fails in words, at once', async () => {
    for (const args of [{ initrd: '/dev/zero' }, { disks: ['/dev/zero'] }]) {
      const dc = await startClient();
      try {
        const err = await dc.launch({ program: path.join(GUESTS, 'multiboot.gasm'), ...args } as never).then(() => 'launched', (e: Error) => e.message);
        assert.match(err, /\/dev\/zero: it is not a regular file/);
      } finally {
        await dc.stop();
      }
    }
  });
});
