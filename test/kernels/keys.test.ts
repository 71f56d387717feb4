// Keys typed ahead with `popek run --keys` reach a guest that polls the PS/2 controller, byte for
// byte as QEMU's keyboard delivers them when its monitor types the same keys (`sendkey`): set-1
// make and break codes, Shift around the capital; and a guest that waits for IRQ 1 after setting up
// its PIC gets them too (pressed once it is up, a key at a time, as sendkey types them).
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCommand } from '../../cli/runCommand';
import { compareCommand } from '../../cli/compareCommand';
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

/**
 * A keyboard driven by IRQ 1, as hobby kernels write it (pritamzope/OS's terminal): the PIC remapped
 * to vector 0x20 (its edge latch cleared), a handler that clears the "key typed" byte, reads port
 * 0x60 and keeps make codes; the main loop spins on that byte. Prints "R", then the make codes of
 * three keys.
 */
const IRQ_KEYS = `bits 32
org 0x100000
MB equ 0x10000
hdr: dd 0x1BADB002, MB, -(0x1BADB002 + MB), hdr, hdr, 0, bss_end, start
start:
    mov esp, 0x90000
    mov al, 0x11                ; ICW1..ICW4: master at 0x20, slave at 0x28
    out 0x20, al
    out 0xA0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xA1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xA1, al
    mov al, 1
    out 0x21, al
    out 0xA1, al
    mov al, 0xFD                ; only IRQ 1
    out 0x21, al
    mov al, 0xFF
    out 0xA1, al
    mov eax, kbd
    mov [idt + 0x21*8], ax
    mov word [idt + 0x21*8 + 2], 0x08
    mov word [idt + 0x21*8 + 4], 0x8E00
    shr eax, 16
    mov [idt + 0x21*8 + 6], ax
    lidt [idtr]
    sti
    mov al, 'R'
    call putc
    mov ecx, 3
spin:
    cmp byte [key], 0
    je spin
    mov al, [key]
    mov byte [key], 0
    mov ah, al
    shr al, 4
    call nibble
    mov al, ah
    call nibble
    loop spin
    mov al, 0
    out 0xf4, al
kbd:
    pusha
    mov byte [key], 0           ; the handler forgets the last key first
    in al, 0x60
    test al, 0x80               ; a break code: nothing typed
    jnz .eoi
    mov [key], al
.eoi:
    mov al, 0x20
    out 0x20, al
    popa
    iret
nibble:
    and al, 15
    add al, '0'
    cmp al, '9'
    jbe putc
    add al, 7
putc:
    mov dx, 0x3f8
    out dx, al
    ret
idtr: dw 256*8 - 1
    dd idt
key: db 0
align 8
idt: times 256*8 db 0
bss_end:
`;

/** Boots `image` in QEMU; once the guest printed "R", types the keys through the monitor. */
function qemuWithKeys(image: string, dir: string, keys: string[]): Promise<string> {
  const com1 = path.join(dir, 'com1.txt');
  // The last boot's file would read "R…" before this QEMU truncates it: the keys went to the firmware.
  fs.rmSync(com1, { force: true });
  const child = spawn(QEMU, ['-kernel', image, '-display', 'none', '-monitor', 'stdio', '-chardev', `file,id=com1,path=${com1}`, '-serial', 'chardev:com1',
    ...QEMU_PC_ARGS, '-m', '16'], { stdio: ['pipe', 'ignore', 'ignore'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('QEMU did not finish')); }, 20_000);
    const poll = setInterval(() => {
      if (fs.existsSync(com1) && fs.readFileSync(com1, 'latin1').startsWith('R')) {
        clearInterval(poll);
        // One key at a time, as a typist: sent together, QEMU may press the next before the guest's
        // loop saw the last, and IRQ_KEYS' handler (which forgets the last key first) loses it — the
        // test then timed out now and then on a loaded host.
        keys.forEach((k, i) => setTimeout(() => child.stdin.write(`sendkey ${k}\n`), 250 * i));
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

  it('a kernel that takes keys from IRQ 1 gets them too: pressed a tenth of a second in, 1 ms apart', async function () {
    const src = path.join(dir, 'irqkeys.asm');
    fs.writeFileSync(src, IRQ_KEYS);
    const image = path.join(dir, 'irqkeys.bin');
    fs.writeFileSync(image, assembleWithNasm(src));
    const qemu = await qemuWithKeys(image, dir, ['a', 'b', 'c']);
    assert.equal(qemu, 'R1E302E', 'QEMU: the make codes of a, b, c');
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string | Uint8Array) => { out.push(typeof s === 'string' ? s : Buffer.from(s).toString('latin1')); return true; }) as typeof process.stdout.write;
    let code: number;
    try { code = await runCommand([src, '--keys', 'abc', '--max-instructions', '50000000']); } finally { process.stdout.write = write; }
    assert.equal(out.join(''), qemu);
    assert.equal(code, 1);
  });

  it('popek compare --keys types them into every technique', async function () {
    const src = path.join(dir, 'irqkeys.asm');
    fs.writeFileSync(src, IRQ_KEYS);
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string | Uint8Array) => { out.push(typeof s === 'string' ? s : Buffer.from(s).toString('latin1')); return true; }) as typeof process.stdout.write;
    try { assert.equal(await compareCommand([src, '--keys', 'abc', '--max-instructions', '50000000', '--json']), 0); } finally { process.stdout.write = write; }
    const rows = JSON.parse(out.join('')) as Array<{ mode: string; outcome: string; exitCode: number; consoleMatchesNative: boolean; firstDivergence?: { mnemonic: string } }>;
    // Without the keys the guest spins to the limit. With them native, binary translation and VT-x
    // print R1E302E and exit; under trap-and-emulate and paravirtual the handler's IRET (critical:
    // at CPL 1 it does not restore IF) leaves interrupts off after the first key, as it should.
    const exact = rows.filter((r) => ['native', 'binary-translation', 'hardware-assisted'].includes(r.mode));
    assert.ok(exact.length >= 1 && exact.every((r) => r.outcome === 'exit' && r.exitCode === 1 && r.consoleMatchesNative), JSON.stringify(rows));
    for (const r of rows.filter((x) => x.mode === 'trap-and-emulate' || x.mode === 'paravirtual')) assert.equal(r.firstDivergence?.mnemonic, 'iretd', r.mode);
  });
});
