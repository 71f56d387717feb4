// A NASM guest using FBLD / FBSTP, the transcendentals, FPREM / FPREM1, FSCALE, FXTRACT and FRNDINT
// under each RC (test/fpu/guests/x87math.gasm) prints the same console in every technique as in
// QEMU — except one line where QEMU 7.2's x87 is wrong: FPREM1's quotient bits (C0 C3 C1 = 0 for
// Q = 334, where the SDM says Q2 Q1 Q0 = 1 1 0); that line is taken from the host CPU's x87 instead.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { assembleWithNasm, runImageInQemu } from '../support/qemu';
import { assertAsQemu, GUESTS, modes, popekGuest, QEMU_ICOUNT } from '../devices/support';
import { REPO_ROOT } from '../support/repoRoot';
import { op } from './x87Cases';
import { hostOnly } from './x87Run';

const FPREM1_LINE = /^fprem1 1000\.5, 3: status ([0-9a-f]{8})$/m;

/** FPREM1 of 1000.5 by 3 on the host's x87: its status word's C3 C2 C1 C0 (as the guest prints them). */
function hostFprem1Status(): string {
  const rec = hostOnly([{ cw: 0x037f, op: 0, a: 3, b: 1000.5 }], [op('fprem1', 0xd9, 0xf5)]);
  return (rec.readUInt16LE(32) & 0x4700).toString(16).padStart(8, '0');
}

describe('x87 FPU: x87math.gasm in every technique as in QEMU', function () {
  this.timeout(60_000);
  const image = assembleWithNasm(path.join(REPO_ROOT, 'test', 'fpu', 'guests', 'x87math.gasm'), {}, ['-i', GUESTS + path.sep]);
  let expected: Promise<{ console: string; exitStatus: number }> | undefined;
  const qemuExpected = () => expected ??= runImageInQemu(image, { extraArgs: QEMU_ICOUNT }).then((q) => {
    assert.match(q.console, /^fbld\/fbstp -001234567890123456$/m);
    assert.match(q.console, FPREM1_LINE);
    return { console: q.console.replace(FPREM1_LINE, `fprem1 1000.5, 3: status ${hostFprem1Status()}`), exitStatus: q.exitStatus };
  });
  for (const mode of modes()) {
    it(`${mode}: the same console and exit status`, async () => {
      const q = await qemuExpected();
      const r = popekGuest('x87math', mode, {}, undefined, { bytes: new Uint8Array(image), origin: 0x100000, entry: 0x100000, via: 'binary', diagnostics: [] });
      assertAsQemu(r, q);
    });
  }
});
