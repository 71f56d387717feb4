// ATA/IDE PIO against QEMU (test/devices/guests/ide.gasm): presence of both drives, IDENTIFY, READ
// SECTORS by words and dwords with IRQ 14, WRITE SECTORS to the slave read back — in every technique,
// and `popek run --disk … [--disk-write]` leaves the image file as QEMU leaves it (or untouched).
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assertAsQemu, GUESTS, modes, popekGuest, qemuGuest } from './support';

/** Deterministic image contents (every sector different). */
function image(sectors: number, seed: number): Uint8Array {
  const b = new Uint8Array(sectors * 512);
  for (let i = 0; i < b.length; i++) b[i] = (i * seed + (i >> 9) * 3) & 0xff;
  return b;
}

const CLI = [path.resolve(__dirname, '../../dist/cli.js'), path.resolve(__dirname, '../../../dist/cli.js')].find((f) => fs.existsSync(f));

describe('devices: ATA disks (PIO)', function () {
  this.timeout(60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-ide-'));
  const master = path.join(dir, 'master.img'), slaveQemu = path.join(dir, 'slave-qemu.img');
  const qemu = () => qemuGuest('ide', { extraArgs: ['-drive', `file=${master},format=raw,if=ide,index=0`, '-drive', `file=${slaveQemu},format=raw,if=ide,index=1`] });
  before(() => {
    fs.writeFileSync(master, image(64, 7));
    fs.writeFileSync(slaveQemu, image(32, 13));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('QEMU reads and writes its disks', async () => {
    const q = await qemu();
    assert.match(q.console, /^model QEMU HARDDISK/m);
    assert.match(q.console, /^write, read back /m);
    assert.notDeepEqual(new Uint8Array(fs.readFileSync(slaveQemu)), image(32, 13), 'QEMU wrote the slave image');
  });

  for (const mode of modes()) {
    it(`${mode}: ide.gasm as in QEMU, the slave's bytes as QEMU left them`, async () => {
      const q = await qemu();
      const disks = [{ bytes: image(64, 7) }, { bytes: image(32, 13) }];
      const r = popekGuest('ide', mode, { disks });
      assertAsQemu(r, q);
      assert.deepEqual(disks[1].bytes, new Uint8Array(fs.readFileSync(slaveQemu)));
    });
  }

  it('popek run --disk keeps the image unless --disk-write', async function () {
    if (!CLI) this.skip();
    await qemu();
    const slave = path.join(dir, 'slave-popek.img');
    fs.writeFileSync(slave, image(32, 13));
    const run = (...extra: string[]) => spawnSync(process.execPath, [CLI!, 'run', path.join(GUESTS, 'ide.gasm'), '--disk', master, `--disk=${slave}`, ...extra], { encoding: 'utf8' });
    const r1 = run();
    assert.equal(r1.status, 1, r1.stderr);
    assert.deepEqual(new Uint8Array(fs.readFileSync(slave)), image(32, 13), 'no --disk-write: the file is unchanged');
    const r2 = run('--disk-write', '--mode', 'trap-and-emulate');
    assert.equal(r2.status, 1, r2.stderr);
    assert.deepEqual(fs.readFileSync(slave), fs.readFileSync(slaveQemu), '--disk-write: the file holds what the guest wrote');
  });
});

// A channel with no drive: QEMU reads 0 from every register (status, alternate status, the sector
// count just written, error, device), so a kernel's `while (inb(0x1F7) & BSY)` ends and it reports
// no disk. Popek read 0xFF (a floating bus) there: Hurlex-II's ide_init spun forever on BSY where
// QEMU prints "Main IDE Device Not Found!", and szhou42/osdev's probe said "not ata device".
describe('devices: an ATA channel without drives reads as in QEMU', function () {
  this.timeout(60_000);
  for (const mode of modes()) {
    it(mode, async () => {
      const q = await qemuGuest('ideEmpty');
      assert.match(q.console, /^status 00$/m, 'QEMU: no drive, not busy');
      const r = popekGuest('ideEmpty', mode);
      assertAsQemu(r, q);
    });
  }
});

// The secondary channel holds QEMU's default drive, an ATAPI CD-ROM with no disc (ide1-cd0). Drivers
// that probe all four positions (wyoos, szhou42/osdev) found a floating bus (0xFF) in Popek; QEMU
// answers IDENTIFY DEVICE with an abort and the ATAPI signature, IDENTIFY PACKET DEVICE, and packet
// commands with NOT READY / MEDIUM NOT PRESENT (test/devices/guests/atapi.gasm).
describe('devices: the secondary channel\'s empty CD-ROM, as in QEMU', function () {
  this.timeout(60_000);
  it('QEMU: an ATAPI drive without a disc', async () => {
    const q = await qemuGuest('atapi');
    assert.match(q.console, /^IDENTIFY DEVICE: 41 a0 eb 14 01 01 04 $/m, 'aborted, ATAPI signature');
    assert.match(q.console, /^ {2}after the CDB: 41 a0 ff fe 01 03 20 $/m, 'TEST UNIT READY: NOT READY');
    assert.match(q.console, /^00f0 0002 0000 0a00 0000 0000 003a 0000 0000 $/m, 'sense: NOT READY, MEDIUM NOT PRESENT');
  });
  for (const mode of modes()) {
    it(mode, async () => {
      const q = await qemuGuest('atapi');
      const r = popekGuest('atapi', mode);
      assertAsQemu(r, q);
    });
  }
});
