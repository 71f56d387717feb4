// A kernel that programs the VGA for mode 13h itself (graphics controller register 6, attribute
// controller mode control — as a public tutorial kernel does before drawing pixels at 0xA0000) leaves
// the text buffer as the BIOS left it. Popek draws text mode only: showing that stale buffer read as
// if the guest had drawn nothing, so the screen says what happened instead; back in text mode, the
// text is shown again.
import * as assert from 'node:assert/strict';
import { GRAPHICS_MODE_NOTICE } from '../../core/devices/vga';
import { boot, guest } from '../vmm/support';

/** Writes "Hi" to the text buffer, then (when `toGraphics`) the mode-13h values of GC 6 and AC 0x10, then (when `back`) mode 3's. */
const kernel = (toGraphics: boolean, back: boolean) => guest(`
  bits 32
  start:
    mov word [0xb8000], 0x0748      ; 'H'
    mov word [0xb8002], 0x0769      ; 'i'
  %if ${toGraphics ? 1 : 0}
    mov dx, 0x3ce                   ; graphics controller: register 6 = 0x05 (graphics, 0xA0000 64 KiB)
    mov ax, 0x0506
    out dx, ax
    mov dx, 0x3da                   ; input status 1: resets the attribute controller's flip-flop
    in al, dx
    mov dx, 0x3c0
    mov al, 0x10                    ; mode control = 0x41 (graphics, 8-bit colour), screen on (bit 5)
    or al, 0x20
    out dx, al
    mov al, 0x41
    out dx, al
  %endif
  %if ${back ? 1 : 0}
    mov dx, 0x3ce                   ; back to mode 3: GC 6 = 0x0E, AC mode control = 0x0C
    mov ax, 0x0e06
    out dx, ax
    mov dx, 0x3da
    in al, dx
    mov dx, 0x3c0
    mov al, 0x30
    out dx, al
    mov al, 0x0c
    out dx, al
  %endif
    mov al, 0
    out 0xf4, al
    hlt
`);

describe('devices: a guest that switches the VGA to a graphics mode', () => {
  const screen = (toGraphics: boolean, back: boolean) => {
    const { vm } = boot(kernel(toGraphics, back).program, 'native');
    vm.run();
    assert.equal(vm.outcome, 'exit');
    return vm.report().screen;
  };
  // (The rest of the first line is the firmware's banner, as QEMU leaves it.)
  it('text mode: the text buffer', () => assert.match(screen(false, false)[0], /^Hi/));
  it('mode 13h: the screen says the guest left text mode (not the stale text)', () => assert.deepEqual(screen(true, false), [GRAPHICS_MODE_NOTICE]));
  it('back to mode 3: the text again', () => assert.match(screen(true, true)[0], /^Hi/));
});
