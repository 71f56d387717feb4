/*
 * VGA in colour text mode 3 (80×25, 16 colours), as much of it as kernels written from the usual
 * tutorials touch: the text buffer at 0xB8000 (character byte, attribute byte), the CRT controller
 * (index 0x3D4, data 0x3D5: cursor location 0x0E/0x0F, cursor shape 0x0A/0x0B, start address
 * 0x0C/0x0D), the miscellaneous output register (write 0x3C2, read 0x3CC), the attribute
 * controller (0x3C0 with its index/data flip-flop, reset by reading input status 1 at 0x3DA), the
 * sequencer (0x3C4/0x3C5), the graphics controller (0x3CE/0x3CF) and the DAC ports (accepted).
 *
 * The text buffer is plain guest RAM: the machine's memory already covers 0xB8000, every technique
 * (shadow paging and EPT included) maps guest-physical memory onto the same bytes, and the screen is
 * read from them when someone looks. So the device costs nothing while the guest writes to it.
 * Registers the guest never reads back only shape what is drawn (cursor, start address, blink).
 */

export const VGA_TEXT_BASE = 0xb8000;
export const VGA_COLUMNS = 80;
export const VGA_ROWS = 25;

/** Register values as SeaBIOS leaves them for mode 3, measured in QEMU 7.2 from a Multiboot kernel. */
const CRTC_MODE3 = [
  0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00, 0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0xa0,
  0x9c, 0x8e, 0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff,
];
const ATTR_MODE3 = [
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
  0x0c, 0x00, 0x0f, 0x08, 0x00,
];
const SEQ_MODE3 = [0x03, 0x00, 0x03, 0x00, 0x02];
const GC_MODE3 = [0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff];
const MISC_MODE3 = 0x67;

export interface VgaState {
  crtcIndex: number;
  crtc: number[];
  attrIndex: number;
  /** false: the next write to 0x3C0 is an index; true: it is data. */
  attrFlipFlop: boolean;
  attr: number[];
  seqIndex: number;
  seq: number[];
  gcIndex: number;
  gc: number[];
  misc: number;
  dacWriteIndex: number;
  dacReadIndex: number;
  dacComponent: number;
  pelMask: number;
  /** Input status 1 alternates so that retrace-waiting loops finish. */
  retrace: boolean;
}

/** What is on the screen: characters (CP437 codes), attributes, the cursor. */
export interface ScreenSnapshot {
  columns: number;
  rows: number;
  /** rows × columns character codes (code page 437). */
  chars: Uint8Array;
  /** rows × columns attribute bytes (low nibble foreground, high nibble background/blink). */
  attrs: Uint8Array;
  /** Cursor cell, or undefined when the cursor is disabled (CRTC 0x0A bit 5) or off screen. */
  cursor?: { row: number; column: number };
  /** Cursor shape: first and last scan line (CRTC 0x0A/0x0B), 0–15. */
  cursorShape: { start: number; end: number };
  /** Attribute controller mode bit 3: bit 7 of an attribute blinks (true) or brightens the background. */
  blink: boolean;
  /**
   * The guest turned text mode off (attribute controller mode bit 0 or graphics controller register 6
   * bit 0: graphics, as mode 13h sets them). Only text mode is drawn; `chars` is then what the text
   * buffer still holds, not what a monitor would show.
   */
  graphics: boolean;
}

/** The one line shown instead of the text buffer while the VGA is in a graphics mode. */
export const GRAPHICS_MODE_NOTICE = '(the guest switched the VGA to a graphics mode; Popek draws text mode only)';

export class VgaText {
  private s: VgaState = initialState();

  /** `ram`: guest-physical memory as bytes (the text buffer lives in it). */
  constructor(private readonly ram: Uint8Array) {}

  /** The PortDevice for 0x3C0–0x3CF and 0x3D4–0x3DA (register both ranges with the bus). */
  readonly device = {
    read: (port: number): number => this.read(port),
    write: (port: number, value: number): void => this.write(port, value),
  };

  private read(port: number): number {
    const s = this.s;
    switch (port) {
      case 0x3c0: return s.attrIndex;
      case 0x3c1: return s.attr[s.attrIndex & 0x1f] ?? 0;
      case 0x3c2: return 0x00;                                 // input status 0
      case 0x3c4: return s.seqIndex;
      case 0x3c5: return s.seq[s.seqIndex] ?? 0;
      case 0x3c6: return s.pelMask;
      case 0x3c7: return 0x00;                                 // DAC state: write mode
      case 0x3c8: return s.dacWriteIndex;
      case 0x3c9: return 0x00;
      case 0x3cc: return s.misc;
      case 0x3ce: return s.gcIndex;
      case 0x3cf: return s.gc[s.gcIndex] ?? 0;
      case 0x3d4: return s.crtcIndex;
      case 0x3d5: return s.crtc[s.crtcIndex] ?? 0;
      case 0x3da:
        // Input status 1: reading it resets the attribute controller's flip-flop (to "index").
        s.attrFlipFlop = false;
        s.retrace = !s.retrace;
        return s.retrace ? 0x09 : 0x00;                        // vertical retrace + display disabled
      default: return 0xff;
    }
  }

  private write(port: number, v: number): void {
    const s = this.s;
    v &= 0xff;
    switch (port) {
      case 0x3c0:
        if (!s.attrFlipFlop) s.attrIndex = v & 0x3f;
        else if ((s.attrIndex & 0x1f) < ATTR_MODE3.length) s.attr[s.attrIndex & 0x1f] = v;
        s.attrFlipFlop = !s.attrFlipFlop;
        break;
      case 0x3c2: s.misc = v; break;
      case 0x3c4: s.seqIndex = v & 0x07; break;
      case 0x3c5: if (s.seqIndex < SEQ_MODE3.length) s.seq[s.seqIndex] = v; break;
      case 0x3c6: s.pelMask = v; break;
      case 0x3c7: s.dacReadIndex = v; s.dacComponent = 0; break;
      case 0x3c8: s.dacWriteIndex = v; s.dacComponent = 0; break;
      case 0x3c9:
        // Palette entries are accepted (three writes per colour) but the screen keeps the standard colours.
        if (++s.dacComponent === 3) { s.dacComponent = 0; s.dacWriteIndex = (s.dacWriteIndex + 1) & 0xff; }
        break;
      case 0x3ce: s.gcIndex = v & 0x0f; break;
      case 0x3cf: if (s.gcIndex < GC_MODE3.length) s.gc[s.gcIndex] = v; break;
      case 0x3d4: s.crtcIndex = v & 0x1f; break;
      case 0x3d5:
        if (s.crtcIndex < CRTC_MODE3.length) {
          // Registers 0–7 are write-protected while CRTC 0x11 bit 7 is set (as SeaBIOS leaves it),
          // except bit 4 of register 7.
          if (s.crtcIndex <= 7 && (s.crtc[0x11] & 0x80)) { if (s.crtcIndex === 7) s.crtc[7] = (s.crtc[7] & ~0x10) | (v & 0x10); } else s.crtc[s.crtcIndex] = v;
        }
        break;
      default: break;
    }
  }

  /** Cursor location register (CRTC 0x0E:0x0F), a cell index from the start of video memory. */
  get cursorLocation(): number { return (this.s.crtc[0x0e] << 8) | this.s.crtc[0x0f]; }
  /** Start address (CRTC 0x0C:0x0D): the cell shown at the top left. */
  get startAddress(): number { return (this.s.crtc[0x0c] << 8) | this.s.crtc[0x0d]; }

  /** The visible screen as it would be drawn now. */
  screen(): ScreenSnapshot {
    const s = this.s;
    const cells = VGA_COLUMNS * VGA_ROWS;
    const chars = new Uint8Array(cells), attrs = new Uint8Array(cells);
    const start = this.startAddress;
    for (let k = 0; k < cells; k++) {
      // Text memory is 32 KiB (0xB8000–0xBFFFF) and wraps.
      const a = VGA_TEXT_BASE + (((start + k) * 2) & 0x7fff);
      chars[k] = this.ram[a];
      attrs[k] = this.ram[a + 1];
    }
    const rel = this.cursorLocation - start;
    const disabled = (s.crtc[0x0a] & 0x20) !== 0;
    const cursor = !disabled && rel >= 0 && rel < cells ? { row: Math.floor(rel / VGA_COLUMNS), column: rel % VGA_COLUMNS } : undefined;
    return {
      columns: VGA_COLUMNS, rows: VGA_ROWS, chars, attrs, cursor,
      cursorShape: { start: s.crtc[0x0a] & 0x1f, end: s.crtc[0x0b] & 0x1f },
      blink: (s.attr[0x10] & 0x08) !== 0,
      graphics: (s.attr[0x10] & 0x01) !== 0 || (s.gc[6] & 0x01) !== 0,
    };
  }

  /** The screen as 25 lines of text (code page 437 decoded, NUL as a blank, trailing blanks trimmed). */
  lines(): string[] {
    return screenLines(this.screen());
  }

  getState(): VgaState { return structuredClone(this.s); }
  setState(state: VgaState): void { this.s = structuredClone(state); }
}

function initialState(): VgaState {
  return {
    crtcIndex: 0, crtc: [...CRTC_MODE3], attrIndex: 0x20, attrFlipFlop: false, attr: [...ATTR_MODE3],
    seqIndex: 0, seq: [...SEQ_MODE3], gcIndex: 0, gc: [...GC_MODE3], misc: MISC_MODE3,
    dacWriteIndex: 0, dacReadIndex: 0, dacComponent: 0, pelMask: 0xff, retrace: false,
  };
}

/** Code page 437 (the VGA's ROM font) as Unicode; 0 is drawn as a blank. */
export const CP437 =
  ' ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼' +
  ' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~⌂' +
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀' +
  'αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

/** CP437 as UTF-16 code units (each of its characters is one). */
let cp437Units: Uint16Array | undefined;

export function screenLines(sc: ScreenSnapshot): string[] {
  // A stale text buffer would read as if the guest had drawn nothing (or had never left the BIOS).
  if (sc.graphics) return [GRAPHICS_MODE_NOTICE];
  // Each line made at once from its code units (every `popek run` reports its screen: 2,000
  // one-character concatenations and 25 regular expressions were ≈ 0.5 ms of a short run's start-up).
  const units = cp437Units ??= Uint16Array.from({ length: 256 }, (_, k) => CP437.charCodeAt(k));
  const row = new Uint16Array(sc.columns);
  const out: string[] = [];
  for (let r = 0; r < sc.rows; r++) {
    let end = 0; // past the last character that is not a blank (space or NBSP)
    for (let c = 0; c < sc.columns; c++) {
      const u = units[sc.chars[r * sc.columns + c]];
      row[c] = u;
      if (u !== 0x20 && u !== 0xa0) end = c + 1;
    }
    out.push(String.fromCharCode.apply(null, row.subarray(0, end) as unknown as number[]));
  }
  return out;
}
