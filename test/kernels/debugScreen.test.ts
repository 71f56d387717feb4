// The guest screen in the debugger: the adapter's `popekScreen` event on a stop, while running and
// at the end, the `popekScreen` request, and `popekKeys` (keys typed into the guest as PC scan
// codes of set 1, through Machine.keyboard). Protocol level, with the bundled adapter.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { keyToScanCodes, textToScanCodes } from '../../core/machine/keyboardInput';
import { typeKeys } from '../../debugger/screenEvents';
import { launchToStop, startClient } from '../debugger/support';
import { assembleWithNasm, requireNasm } from '../support/qemu';
import { makeTempDir } from './support';

interface ScreenBody { lines: string[]; attrs: string; cursor: { row: number; column: number } | null; running: boolean }

/** Writes a counter on row 5 forever (the screen keeps changing while it runs). */
const COUNTER = `bits 32
org 0x100000
MB equ 0x10000
hdr: dd 0x1BADB002, MB, -(0x1BADB002 + MB), hdr, hdr, 0, 0, start
start:
    mov dword [0xb8000 + 160 * 2], 0x1f691f48      ; "Hi", white on blue, row 2
    xor ecx, ecx
again:
    inc ecx
    mov eax, ecx
    shr eax, 16
    and eax, 15
    add eax, 0x0e30                                ; a digit, yellow on black
    mov [0xb8000 + 160 * 5], ax
    jmp again
`;

/** Reads two bytes from the PS/2 controller (polling 0x64 bit 0), prints them in hex on COM1, exits. */
const TWO_KEYS = `bits 32
org 0x100000
MB equ 0x10000
hdr: dd 0x1BADB002, MB, -(0x1BADB002 + MB), hdr, hdr, 0, 0, start
start:
    mov ecx, 2
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

describe('debugger: the guest screen', function () {
  this.timeout(60_000);
  let dc: DebugClient;
  let dir: string;
  before(() => { dir = makeTempDir('popek-screen-'); fs.writeFileSync(path.join(dir, 'counter.asm'), COUNTER); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  it('sends the screen on the entry stop, while running, and answers the popekScreen request', async () => {
    const first = dc.waitForEvent('popekScreen', 20000) as Promise<DebugProtocol.Event>;
    await launchToStop(dc, { program: path.join(dir, 'counter.asm'), stopOnEntry: true });
    const atEntry = (await first).body as ScreenBody;
    // What the firmware left: SeaBIOS's banner, the cursor on row 2, grey on black.
    assert.equal(atEntry.running, false);
    assert.match(atEntry.lines[0], /^SeaBIOS /);
    assert.equal(atEntry.lines.length, 25);
    assert.ok(atEntry.lines.every((l) => l.length === 80));
    assert.deepEqual(atEntry.cursor, { row: 2, column: 0 });
    assert.equal(Buffer.from(atEntry.attrs, 'base64')[0], 0x07);

    // Running: an update arrives with the guest's writes (throttled, only when it changed).
    const running = new Promise<ScreenBody>((resolve) => {
      const on = (e: DebugProtocol.Event) => { if (e.event === 'popekScreen' && (e.body as ScreenBody).running) { dc.removeListener('popekScreen', on); resolve(e.body as ScreenBody); } };
      dc.on('popekScreen', on);
    });
    await dc.continueRequest({ threadId: 1 });
    const live = await running;
    assert.equal(live.lines[2].slice(0, 2), 'Hi');
    assert.deepEqual([...Buffer.from(live.attrs, 'base64').subarray(160, 162)], [0x1f, 0x1f]);

    const paused = dc.waitForEvent('stopped', 20000);
    await dc.pauseRequest({ threadId: 1 });
    await paused;
    const asked = (await dc.customRequest('popekScreen')).body as ScreenBody;
    assert.equal(asked.running, false);
    assert.match(asked.lines[5], /^[0-9:;<=>?]/);
    assert.equal(Buffer.from(asked.attrs, 'base64')[5 * 80], 0x0e);
  });

  it('popekKeys names a key a PC keyboard does not have', async () => {
    await launchToStop(dc, { program: path.join(dir, 'counter.asm'), stopOnEntry: true });
    await assert.rejects(dc.customRequest('popekKeys', { key: '€' }), /no PC key for "€"/);
  });
});

describe('debugger: keys typed in the screen view reach the guest', function () {
  this.timeout(60_000);
  let dc: DebugClient;
  let dir: string;
  before(() => { dir = makeTempDir('popek-keys-'); fs.writeFileSync(path.join(dir, 'keys.asm'), TWO_KEYS); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  it('popekKeys "a" while stopped: the guest reads make 1E and break 9E at port 0x60', async () => {
    await launchToStop(dc, { program: path.join(dir, 'keys.asm'), stopOnEntry: true });
    assert.deepEqual((await dc.customRequest('popekKeys', { key: 'a' })).body, { sent: 2 });
    let out = '';
    dc.on('output', (e: DebugProtocol.OutputEvent) => { if (e.body.category === 'stdout') out += e.body.output; });
    const exited = dc.waitForEvent('exited', 20000) as Promise<DebugProtocol.ExitedEvent>;
    await dc.continueRequest({ threadId: 1 });
    assert.equal((await exited).body.exitCode, 1);
    assert.equal(out, '1E9E');
  });
});

describe('debugger: a flat image at its launch loadAddress', function () {
  this.timeout(60_000);
  let dc: DebugClient;
  let dir: string;
  before(function () {
    requireNasm();
    dir = makeTempDir('popek-flat-');
    fs.writeFileSync(path.join(dir, 'flat.asm'), 'bits 32\norg 0x200000\n    mov esi, msg\n.next:\n    lodsb\n    test al, al\n    jz .done\n' +
      '    mov dx, 0x3f8\n    out dx, al\n    jmp .next\n.done:\n    mov al, 2\n    out 0xf4, al\nmsg: db "flat", 10, 0\n');
    fs.writeFileSync(path.join(dir, 'kernel'), assembleWithNasm(path.join(dir, 'flat.asm')));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  it('runs there (the entry stop is at the load address) and prints its message', async () => {
    let out = '';
    dc.on('output', (e: DebugProtocol.OutputEvent) => { if (e.body.category === 'stdout') out += e.body.output; });
    const exited = dc.waitForEvent('exited', 20000) as Promise<DebugProtocol.ExitedEvent>;
    await launchToStop(dc, { program: path.join(dir, 'kernel'), loadAddress: 0x200000, stopOnEntry: true });
    const frame = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    assert.equal(frame.instructionPointerReference, '0x00200000');
    await dc.continueRequest({ threadId: 1 });
    assert.equal((await exited).body.exitCode, 5);
    assert.equal(out, 'flat\n');
  });

  it('refuses a loadAddress that is not an address', async () => {
    await dc.initializeRequest();
    await assert.rejects(dc.launch({ program: path.join(dir, 'kernel'), loadAddress: -1 } as DebugProtocol.LaunchRequestArguments), /"loadAddress" must be an address/);
  });
});

describe('keys as PC scan codes (set 1)', () => {
  it('makes and breaks, Shift around shifted characters, E0 for the extended keys', () => {
    // IBM PC AT scan code set 1 (what the 8042 delivers with translation on).
    assert.deepEqual(keyToScanCodes('a'), [0x1e, 0x9e]);
    assert.deepEqual(keyToScanCodes('A'), [0x2a, 0x1e, 0x9e, 0xaa]);
    assert.deepEqual(keyToScanCodes('Enter'), [0x1c, 0x9c]);
    assert.deepEqual(keyToScanCodes('ArrowUp'), [0xe0, 0x48, 0xe0, 0xc8]);
    assert.deepEqual(keyToScanCodes('c', { ctrl: true }), [0x1d, 0x2e, 0xae, 0x9d]);
    assert.deepEqual(textToScanCodes('1 z'), [0x02, 0x82, 0x39, 0xb9, 0x2c, 0xac]);
    assert.equal(keyToScanCodes('€'), undefined);
  });

  it('typeKeys hands them to the machine\'s keyboard', () => {
    const got: number[] = [];
    assert.deepEqual(typeKeys({ sendScanCodes: (c) => got.push(...c) }, { text: 'ok' }), { sent: 4 });
    assert.deepEqual(got, [0x18, 0x98, 0x25, 0xa5]);
    assert.match((typeKeys(undefined, { key: 'x' }) as { error: string }).error, /no keyboard device/);
  });
});
