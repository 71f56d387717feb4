// The debugger's `disks` launch attribute: checked like the others, and the images reach the guest's
// ATA channel (test/devices/guests/ide.gasm reads them through the debugger's runtime the same way).
import * as assert from 'node:assert/strict';
import { checkLaunchArguments } from '../../debugger/launchArgs';

describe('devices: the "disks" launch attribute', () => {
  it('takes up to two image files (master, slave) and says what is wrong otherwise', () => {
    const ok = checkLaunchArguments({ program: 'kernel', disks: ['xv6.img', 'fs.img'] });
    assert.deepEqual(ok.problems, []);
    assert.deepEqual(ok.options?.disks, ['xv6.img', 'fs.img']);
    assert.equal(checkLaunchArguments({ program: 'kernel' }).options?.disks, undefined);
    for (const bad of [['a', 'b', 'c'], 'fs.img', [3], ['']]) {
      const r = checkLaunchArguments({ program: 'kernel', disks: bad });
      assert.equal(r.options, undefined);
      assert.match(r.problems.join(' '), /"disks" must list at most two disk image files/);
    }
  });
});
