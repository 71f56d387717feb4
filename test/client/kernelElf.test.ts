/*
 * F5 on one object of a kernel finds the kernel built from it (client/kernelElf.ts): a kernel linked
 * by ld from a GNU as `.S` (gcc -m32 -g) and a NASM object (nasm -f elf32 -F dwarf -g) is found for
 * either source, newest first; object files, other executables and other files are not.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isLinkedObjectSource, kernelsBuiltFrom } from '../../client/kernelElf';
import { buildElf, removeBuild, type BuiltElf } from '../elf/toolchain';
import { REPO_ROOT } from '../support/repoRoot';

const BOOT_S = `
  .section .multiboot
  .align 4
  .long 0x1BADB002, 0, -0x1BADB002
  .text
  .globl _start
_start:
  call count
  hlt
`;
const COUNT_ASM = `
global count
extern _start
section .text
count:
  inc dword [ticks]
  ret
section .data
ticks: dd 0
`;
const OTHER_ASM = `
global _start
section .text
_start:
  hlt
`;

describe('client: the kernel an object source is linked into', function () {
  this.timeout(60_000);
  let k: BuiltElf, other: BuiltElf;
  before(() => {
    k = buildElf({ sources: { 'boot.S': BOOT_S, 'count.asm': COUNT_ASM } });
    other = buildElf({ sources: { 'other.asm': OTHER_ASM } });
  });
  after(() => { removeBuild(k); removeBuild(other); });

  it('finds the kernel for its .S and its NASM object, not for a file it was not built from', () => {
    const objects = fs.readdirSync(k.dir).filter((f) => f.endsWith('.o')).map((f) => path.join(k.dir, f));
    const candidates = [k.file, other.file, ...objects, k.sources['boot.S']];
    assert.deepEqual(kernelsBuiltFrom(k.sources['boot.S'], candidates), [k.file]);
    assert.deepEqual(kernelsBuiltFrom(k.sources['count.asm'], candidates), [k.file]);
    assert.deepEqual(kernelsBuiltFrom(other.sources['other.asm'], candidates), [other.file]);
    assert.deepEqual(kernelsBuiltFrom(path.join(k.dir, 'ticks.S'), candidates), []);
    // The base name as a whole string: "boot.S" is not found in a kernel that names "reboot.S".
    assert.deepEqual(kernelsBuiltFrom(path.join(k.dir, 'oot.S'), candidates), []);
  });

  it('the newest of several kernels comes first', () => {
    const copy = path.join(k.dir, 'kernel-old.elf');
    fs.copyFileSync(k.file, copy);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(copy, old, old);
    assert.deepEqual(kernelsBuiltFrom(k.sources['boot.S'], [copy, k.file]), [k.file, copy]);
  });

  it('a NASM source with extern is an object of a kernel; a guest that runs alone is not', () => {
    assert.equal(isLinkedObjectSource(COUNT_ASM), true);
    assert.equal(isLinkedObjectSource(fs.readFileSync(path.join(REPO_ROOT, 'test', 'e2e', 'fixtures', 'ws', 'hello.gasm'), 'utf8')), false);
  });
});
