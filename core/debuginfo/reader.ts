/*
 * A bounds-checked little-endian cursor over a DWARF section: fixed-size integers, LEB128, C strings,
 * and the 32/64-bit DWARF "initial length". Reading past the end throws DwarfError, so corrupt debug
 * information fails as one clear error instead of a RangeError or garbage.
 */

export class DwarfError extends Error {}

const utf8 = new TextDecoder('utf-8');

export class Reader {
  private readonly dv: DataView;
  pos: number;

  constructor(readonly bytes: Uint8Array, pos = 0, readonly end = bytes.length, readonly what = 'DWARF data') {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
  }

  get atEnd(): boolean { return this.pos >= this.end; }

  private need(n: number): number {
    const at = this.pos;
    // Written so that NaN and Infinity (from absurd LEB128 values) fail too.
    if (!(n >= 0 && at + n <= this.end)) throw new DwarfError(`${this.what}: truncated at offset 0x${at.toString(16)} (needs ${n} more bytes)`);
    this.pos = at + n;
    return at;
  }

  u8(): number { return this.dv.getUint8(this.need(1)); }
  s8(): number { return this.dv.getInt8(this.need(1)); }
  u16(): number { return this.dv.getUint16(this.need(2), true); }
  u24(): number { const a = this.need(3); return this.dv.getUint16(a, true) | (this.dv.getUint8(a + 2) << 16); }
  u32(): number { return this.dv.getUint32(this.need(4), true); }
  /** A 64-bit value as a number (exact below 2^53; our addresses and offsets are 32-bit). */
  u64(): number { const a = this.need(8); return this.dv.getUint32(a, true) + this.dv.getUint32(a + 4, true) * 0x100000000; }
  /** An unsigned value of `size` bytes (1, 2, 4, 8). */
  uN(size: number): number {
    switch (size) {
      case 1: return this.u8();
      case 2: return this.u16();
      case 4: return this.u32();
      case 8: return this.u64();
      default: throw new DwarfError(`${this.what}: unsupported ${size}-byte value at offset 0x${this.pos.toString(16)}`);
    }
  }

  uleb(): number { return this.leb128(false); }
  sleb(): number { return this.leb128(true); }

  /** LEB128 (DWARF 5 §7.6), as a double: exact to 2^53, which every field Popek reads stays within. */
  private leb128(signed: boolean): number {
    let result = 0, mul = 1, b: number;
    do {
      b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
    } while (b & 0x80);
    return signed && (b & 0x40) ? result - mul : result;
  }

  cstr(): string {
    const end = this.bytes.indexOf(0, this.pos);
    if (end < 0 || end >= this.end) throw new DwarfError(`${this.what}: unterminated string at offset 0x${this.pos.toString(16)}`);
    const s = decodeString(this.bytes, this.pos, end);
    this.pos = end + 1;
    return s;
  }

  skip(n: number): void { this.need(n); }

  /** A sub-reader over the next `n` bytes (this one moves past them). */
  sub(n: number, what = this.what): Reader {
    const at = this.need(n);
    return new Reader(this.bytes, at, at + n, what);
  }

  /**
   * The unit length that starts a .debug_line / .debug_info unit: 32-bit DWARF (offsets of 4 bytes)
   * or, after 0xffffffff, 64-bit DWARF (offsets of 8 bytes).
   */
  initialLength(): { length: number; offsetSize: 4 | 8 } {
    const l = this.u32();
    if (l === 0xffffffff) return { length: this.u64(), offsetSize: 8 };
    if (l >= 0xfffffff0) throw new DwarfError(`${this.what}: reserved unit length 0x${l.toString(16)}`);
    return { length: l, offsetSize: 4 };
  }
}

/** Identifiers and paths are ASCII: decoded without TextDecoder's per-call cost; UTF-8 otherwise. */
function decodeString(bytes: Uint8Array, start: number, end: number): string {
  if (end - start <= 64) {
    let s = '';
    for (let i = start; i < end; i++) {
      const b = bytes[i];
      if (b >= 0x80) return utf8.decode(bytes.subarray(start, end));
      s += String.fromCharCode(b);
    }
    return s;
  }
  return utf8.decode(bytes.subarray(start, end));
}

/** Strings already read, per string section (types and names are referred to many times). */
const stringCache = new WeakMap<Uint8Array, Map<number, string>>();

/** The NUL-terminated string at `offset` of a string section (.debug_str, .debug_line_str). */
export function stringAt(section: Uint8Array | undefined, offset: number, name: string): string {
  if (!section) throw new DwarfError(`a string in ${name} is referenced but the file has no ${name} section`);
  if (offset >= section.length) throw new DwarfError(`${name}: string offset 0x${offset.toString(16)} is past the end (0x${section.length.toString(16)})`);
  let cache = stringCache.get(section);
  if (!cache) stringCache.set(section, cache = new Map());
  let s = cache.get(offset);
  if (s === undefined) cache.set(offset, s = new Reader(section, offset, section.length, name).cstr());
  return s;
}
