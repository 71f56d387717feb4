/* The screen view opens by itself once a guest changes the firmware's screen: recognising it. */
import * as assert from 'node:assert/strict';
import { isFirmwareScreen } from '../../client/screenModel';
import { Machine } from '../../core/machine';
import { screenBody } from '../../debugger/screenEvents';

describe('client: screen model', () => {
  it('the screen a fresh machine shows is the firmware\'s; one written cell more is not', () => {
    for (const memoryMiB of [16, 64]) {
      const m = new Machine({ memoryMiB });
      assert.equal(isFirmwareScreen(screenBody(m.vga, false).lines), true, `${memoryMiB} MiB`);
      m.mem.write16(0xb8000 + 2 * (12 * 80 + 40), 0x0741);
      assert.equal(isFirmwareScreen(screenBody(m.vga, false).lines), false);
    }
  });
});
