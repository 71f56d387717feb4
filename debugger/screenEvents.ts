/*
 * The guest's VGA text screen for the client's "Popek: Guest Screen" view: a custom DAP event
 * `popekScreen` on every stop, at the end, and while running at most every SCREEN_INTERVAL_MS and
 * only when something changed; the `popekScreen` request answers with the same body on demand, and
 * the `popekKeys` request types keys into the guest (Machine.keyboard, set by the PS/2 keyboard).
 */
import { CP437, GRAPHICS_MODE_NOTICE, type VgaText } from '../core/devices/vga';
import { keyToScanCodes, textToScanCodes, type KeyboardInput } from '../core/machine/keyboardInput';
import type { ScreenModel } from '../core/devices/screenModel';

export const SCREEN_EVENT = 'popekScreen';
export const SCREEN_REQUEST = 'popekScreen';
export const KEYS_REQUEST = 'popekKeys';
/** Fastest refresh while the guest runs. */
export const SCREEN_INTERVAL_MS = 200;

/** The body of the `popekScreen` event and request. */
export type ScreenEventBody = ScreenModel;

export function screenBody(vga: VgaText, running: boolean): ScreenEventBody {
  const s = vga.screen();
  const lines: string[] = [];
  for (let r = 0; r < s.rows; r++) {
    let line = '';
    for (let c = 0; c < s.columns; c++) line += CP437[s.chars[r * s.columns + c]];
    lines.push(line);
  }
  if (s.graphics) lines.splice(0, s.rows, GRAPHICS_MODE_NOTICE.padEnd(s.columns).slice(0, s.columns), ...Array<string>(s.rows - 1).fill(' '.repeat(s.columns)));
  return {
    columns: s.columns, rows: s.rows, lines, attrs: Buffer.from(s.attrs).toString('base64'),
    cursor: s.cursor ?? null, cursorShape: s.cursorShape, blink: s.blink, running,
  };
}

/** Decides when a screen event is worth sending. */
export class ScreenPublisher {
  private lastKey = '';
  private lastSent = -Infinity;

  constructor(private readonly send: (body: ScreenEventBody) => void, private readonly now: () => number = () => performance.now()) {}

  /** On a stop or at the end: always (the view shows where the guest stands). */
  stopped(vga: VgaText): void { this.emit(screenBody(vga, false)); }

  /** While running: throttled, and only when the screen or the cursor changed. */
  running(vga: VgaText): void {
    const t = this.now();
    if (t - this.lastSent < SCREEN_INTERVAL_MS) return;
    const body = screenBody(vga, true);
    if (key(body) === this.lastKey) { this.lastSent = t; return; }
    this.emit(body);
  }

  private emit(body: ScreenEventBody): void {
    this.lastKey = key(body);
    this.lastSent = this.now();
    this.send(body);
  }
}

function key(b: ScreenEventBody): string {
  return `${b.lines.join('')}|${b.attrs}|${b.cursor ? b.cursor.row * 80 + b.cursor.column : -1}|${b.cursorShape.start},${b.cursorShape.end}`;
}

export interface KeysArguments {
  /** Text to type, character by character. */
  text?: string;
  /** One key as a browser names it (KeyboardEvent.key): "a", "Enter", "ArrowUp", "F1" … */
  key?: string;
  ctrl?: boolean;
}

/** Types the keys; returns how many scan codes went to the keyboard, or why none could. */
export function typeKeys(keyboard: KeyboardInput | undefined, args: KeysArguments): { sent: number } | { error: string } {
  const codes = typeof args.text === 'string' ? textToScanCodes(args.text)
    : typeof args.key === 'string' ? keyToScanCodes(args.key, { ctrl: args.ctrl === true }) : undefined;
  if (!codes) return { error: `no PC key for ${JSON.stringify(args.key ?? args.text)}` };
  if (!keyboard) return { error: 'this machine has no keyboard device yet: the keys were not delivered' };
  keyboard.sendScanCodes(codes);
  return { sent: codes.length };
}
