/*
 * Typed keys into the guest: the seam between whoever receives keys (the debugger's screen view, a
 * test) and the keyboard that delivers them (the 8042 PS/2 controller, core/devices/ps2.ts, is
 * `Machine.keyboard`). Characters use the controller's own set-1 table; named keys (arrows, F1 …,
 * as a browser's KeyboardEvent.key spells them) and Ctrl are added here.
 */
import { scanCodes } from '../devices/ps2';


export interface KeyboardInput {
  /**
   * Queues scan codes of set 1 (what a guest reads at port 0x60 with the controller's translation
   * on, as firmware leaves it): make codes, break codes (make | 0x80), 0xE0 prefixes.
   */
  sendScanCodes(codes: readonly number[]): void;
}

/** Named keys (as a browser's KeyboardEvent.key spells them) → set-1 make code; 0xE0xx: extended. */
const NAMED: Record<string, number> = {
  Enter: 0x1c, Backspace: 0x0e, Tab: 0x0f, Escape: 0x01, ' ': 0x39,
  F1: 0x3b, F2: 0x3c, F3: 0x3d, F4: 0x3e, F5: 0x3f, F6: 0x40, F7: 0x41, F8: 0x42, F9: 0x43, F10: 0x44, F11: 0x57, F12: 0x58,
  ArrowUp: 0xe048, ArrowDown: 0xe050, ArrowLeft: 0xe04b, ArrowRight: 0xe04d,
  Home: 0xe047, End: 0xe04f, PageUp: 0xe049, PageDown: 0xe051, Insert: 0xe052, Delete: 0xe053,
};
const LEFT_CTRL = 0x1d;

function press(code: number, out: number[]): void {
  if (code > 0xff) out.push(0xe0, code & 0xff, 0xe0, (code & 0xff) | 0x80);
  else out.push(code, code | 0x80);
}

/**
 * Scan codes (set 1, make then break) that type `key`: one character ("a", "A", "!", "\n") or a
 * named key ("Enter", "ArrowUp", "F1"), with optional Ctrl. Undefined for keys a PC keyboard lacks.
 */
export function keyToScanCodes(key: string, modifiers: { ctrl?: boolean } = {}): number[] | undefined {
  const out: number[] = [];
  if (modifiers.ctrl) out.push(LEFT_CTRL);
  const named = NAMED[key];
  const chars = named === undefined ? scanCodes(key) : undefined;
  if (named !== undefined) press(named, out);
  else if (chars) out.push(...chars);
  else return undefined;
  if (modifiers.ctrl) out.push(LEFT_CTRL | 0x80);
  return out;
}

/** Scan codes that type the text (characters a PC keyboard cannot type are skipped). */
export function textToScanCodes(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(...(scanCodes(ch) ?? []));
  return out;
}
