// The screen's characters are VGA text cells, drawn with code page 437 (the VGA ROM font). The table
// once lacked 'à' (0x85) and 'ì' (0x8D), so every code from 0x85 on showed its neighbour: a public
// kernel's double-line box (╔═╗, 0xC9 0xCD 0xBB) came out as ╦╧╜, and 0xFE/0xFF as "undefined".
// Checked against glibc's own CP437 table (iconv, in every Debian), not against a copy of ours.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CP437, screenLines } from '../../core/devices/vga';

describe('devices: the VGA text screen in code page 437', () => {
  it('has one character per code, and 0x20–0xFF are those iconv gives for CP437', function () {
    assert.equal([...CP437].length, 256);
    const high = Buffer.from(Array.from({ length: 0x100 - 0x20 }, (_, i) => 0x20 + i));
    const r = spawnSync('iconv', ['-f', 'CP437', '-t', 'UTF-8'], { input: high });
    if (r.error || r.status !== 0) this.skip(); // iconv is part of libc-bin; skip only where a host has none
    const theirs = [...r.stdout.toString('utf8')];
    const ours = [...CP437].slice(0x20);
    // 0x7F is a control code to iconv (DEL); the VGA font draws it as a house.
    theirs[0x7f - 0x20] = '⌂';
    assert.deepEqual(ours, theirs);
  });

  it('a box drawn with the double-line codes reads as that box', () => {
    const chars = new Uint8Array(80 * 25).fill(0x20);
    chars.set([0xc9, 0xcd, 0xcd, 0xbb], 0);
    chars.set([0xba, 0x20, 0x20, 0xba], 80);
    chars.set([0xc8, 0xcd, 0xcd, 0xbc], 160);
    const lines = screenLines({ rows: 25, columns: 80, chars, attrs: new Uint8Array(80 * 25).fill(0x07), cursorShape: { start: 14, end: 15 }, blink: true, graphics: false });
    assert.deepEqual(lines.slice(0, 3), ['╔══╗', '║  ║', '╚══╝']);
  });

  it('a line ends at its last character that is not a blank (NUL and 0x20 are spaces, 0xFF is NBSP): the blanks inside stay', () => {
    const chars = new Uint8Array(80 * 25); // all NUL: blank lines
    chars.set([0x41, 0x00, 0xff, 0x42, 0xff, 0x20, 0x00], 0);
    chars.set([0xff, 0xdb], 80 + 78);
    const lines = screenLines({ rows: 25, columns: 80, chars, attrs: new Uint8Array(80 * 25), cursorShape: { start: 14, end: 15 }, blink: true, graphics: false });
    assert.equal(lines.length, 25);
    assert.deepEqual(lines.slice(0, 3), ['A \u00a0B', ' '.repeat(78) + '\u00a0█', '']);
  });
});
