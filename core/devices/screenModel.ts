/*
 * The guest's text screen as the debugger sends it to the editor (event and request `popekScreen`) and
 * the Guest Screen view draws it: one definition for the adapter and the client.
 */
export interface ScreenModel {
  columns: number;
  rows: number;
  /** `rows` strings of `columns` characters (code page 437 decoded; blanks kept). */
  lines: string[];
  /** rows × columns attribute bytes, base64. */
  attrs: string;
  cursor: { row: number; column: number } | null;
  cursorShape: { start: number; end: number };
  /** Bit 7 of an attribute blinks (true) or brightens the background (false). */
  blink: boolean;
  /** The guest is running (periodic update) or stopped/ended. */
  running: boolean;
}
