// Keys typed ahead with `popek run --keys` reach a guest that polls the PS/2 controller, byte for
// byte as QEMU's keyboard delivers them when its monitor types the same keys (`sendkey`): set-1
// make and break codes, Shift around the capital.
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCommand } from '../../cli/runCommand';
import { QEMU, QEMU_PC_ARGS, assembleWithNasm, requireNasm, requireQemu } from '../support/qemu';
import { makeTempDir } from './support';

/** Prints "R" (ready), then the hex of the first 6 bytes read at port 0x60, then exits. */
const KEYS = `bits 32
org 0x100000
MB equ 0x10000
hdr: dd 0x1BADB002, MB, -(0x1BADB002 + MB), hdr, hdr, 0, 0, start
start:
    mov al, 'R'
    mov dx, 0x3f8
    out dx, al
    mov ecx, 6
next:
    in al, 0x64
    test al, 1
    jz next
    in al, 0x60
    mov ah, al
    shr al, 4
    call nibble
    mov al, ah
    call nibble
    loop next
    mov al, 0
    out 0xf4, al
nibble:
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe .out
    add al, 7
.out:
    mov dx, 0x3f8
    out dx, al
    ret
`;

/** Boots `image` in QEMU; once the guest printed "R", types the keys through the monitor. */
function qemuWithKeys(image: string, dir: string, keys: string[]): Promise<string> {
  const com1 = path.join(dir, 'com1.txt');
  const child = spawn(QEMU, ['-kernel', image, '-display', 'none', '-monitor', 'stdio', '-chardev', `file,id=com1,path=${com1}`, '-serial', 'chardev:com1',
    ...QEMU_PC_ARGS, '-m', '16'], { stdio: ['pipe', 'ignore', 'ignore'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('QEMU did not finish')); }, 20_000);
    const poll = setInterval(() => {
      if (fs.existsSync(com1) && fs.readFileSync(com1, 'latin1').startsWith('R')) {
        clearInterval(poll);
        for (const k of keys) child.stdin.write(`sendkey ${k}\n`);
      }
    }, 50);
    child.on('close', () => { clearTimeout(timer); clearInterval(poll); resolve(fs.existsSync(com1) ? fs.readFileSync(com1, 'latin1') : ''); });
  });
}

describe('popek run --keys: typed-ahead keys as QEMU\'s keyboard gives them', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => { requireNasm(); requireQemu(); dir = makeTempDir('popek-keys-'); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('"aB": 1E 9E, then 2A 30 B0 (Shift, b, b released)', async function () {
    const src = path.join(dir, 'keys.asm');
    fs.writeFileSync(src, KEYS);
    const image = path.join(dir, 'keys.bin');
    fs.writeFileSync(image, assembleWithNasm(src));
    const qemu = await qemuWithKeys(image, dir, ['a', 'shift-b']);
    assert.match(qemu, /^R[0-9A-F]{12}$/, 'QEMU read six bytes');
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string | Uint8Array) => { out.push(typeof s === 'string' ? s : Buffer.from(s).toString('latin1')); return true; }) as typeof process.stdout.write;
    let code: number;
    try { code = await runCommand([src, '--keys', 'aB']); } finally { process.stdout.write = write; }
    assert.equal(code, 1);
    assert.equal(out.join(''), qemu);
  });
});
