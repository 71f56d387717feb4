/*
 * The memory view's rows, as plain data (no vscode import, unit-tested): guest bytes read through the
 * debug adapter's readMemory laid out 16 to a row with their ASCII, and which bytes changed since the
 * previous stop — compared by address, so a view that follows a moving register (esp) still marks
 * only the bytes that really changed where the two reads overlap.
 */

/** Bytes read at a linear address (`bytes.length` readable, then `unreadable` that are not mapped). */
export interface MemorySnapshot { address: number; bytes: Uint8Array; unreadable: number }

export interface MemoryCell {
  address: number;
  /** Two hex digits, or `??` for a byte that is not mapped. */
  hex: string;
  /** The character the byte is (printable ASCII), else `.`; a space for an unmapped byte. */
  ascii: string;
  changed: boolean;
  unmapped: boolean;
  /** The byte the view follows (the expression's address). */
  target: boolean;
}

export interface MemoryRow { address: string; cells: MemoryCell[] }

export const BYTES_PER_ROW = 16;

export const hex8 = (v: number) => '0x' + (v >>> 0).toString(16).padStart(8, '0');

/** Where to read for a target address: from the start of its row, `rowsBefore` rows above it. */
export function windowFor(target: number, rowsBefore: number, rows: number): { address: number; count: number } {
  const start = Math.max(0, Math.floor((target >>> 0) / BYTES_PER_ROW) * BYTES_PER_ROW - rowsBefore * BYTES_PER_ROW);
  return { address: start, count: Math.min(rows * BYTES_PER_ROW, 0x100000000 - start) };
}

/** The byte at `address` in a snapshot, or undefined when the snapshot does not hold it readable. */
export function byteAt(s: MemorySnapshot, address: number): number | undefined {
  const i = address - s.address;
  return i >= 0 && i < s.bytes.length ? s.bytes[i] : undefined;
}

/** Addresses whose byte differs between two snapshots (only where both read it). */
export function changedAddresses(previous: MemorySnapshot | undefined, next: MemorySnapshot): Set<number> {
  const out = new Set<number>();
  if (!previous) return out;
  for (let i = 0; i < next.bytes.length; i++) {
    const before = byteAt(previous, next.address + i);
    if (before !== undefined && before !== next.bytes[i]) out.add(next.address + i);
  }
  return out;
}

export function asciiOf(b: number): string { return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'; }

/** Rows of 16 cells over the snapshot's bytes and its unmapped tail. */
export function memoryRows(s: MemorySnapshot, changed: Set<number>, target?: number): MemoryRow[] {
  const total = s.bytes.length + s.unreadable;
  const rows: MemoryRow[] = [];
  for (let r = 0; r < total; r += BYTES_PER_ROW) {
    const cells: MemoryCell[] = [];
    for (let i = r; i < Math.min(total, r + BYTES_PER_ROW); i++) {
      const address = (s.address + i) >>> 0;
      const b = i < s.bytes.length ? s.bytes[i] : undefined;
      cells.push({
        address, hex: b === undefined ? '??' : b.toString(16).padStart(2, '0'), ascii: b === undefined ? ' ' : asciiOf(b),
        changed: changed.has(address), unmapped: b === undefined, target: address === target,
      });
    }
    rows.push({ address: hex8(s.address + r), cells });
  }
  return rows;
}

/** The sentence under the rows: how many bytes changed since the last stop, what is not mapped. */
export function memorySummary(s: MemorySnapshot, changed: Set<number>, hadPrevious: boolean): string {
  const parts: string[] = [];
  parts.push(!hadPrevious ? 'first read' : changed.size === 0 ? 'nothing changed since the previous stop'
    : `${changed.size} byte${changed.size === 1 ? '' : 's'} changed since the previous stop`);
  if (s.unreadable) parts.push(`${s.unreadable} bytes from ${hex8(s.address + s.bytes.length)} not mapped`);
  return parts.join(' · ');
}

/** Decodes the base64 `data` of a readMemory response. */
export function snapshotFromResponse(body: { address: string; data?: string; unreadableBytes?: number } | undefined, asked: { address: number; count: number }): MemorySnapshot {
  const bytes = body?.data ? new Uint8Array(Buffer.from(body.data, 'base64')) : new Uint8Array(0);
  const address = body?.address !== undefined ? Number(body.address) : asked.address;
  return { address: Number.isFinite(address) ? address >>> 0 : asked.address, bytes, unreadable: body?.unreadableBytes ?? Math.max(0, asked.count - bytes.length) };
}

/** A byte typed into the view: one or two hex digits, else undefined. */
export function parseByte(text: string): number | undefined {
  return /^[0-9a-f]{1,2}$/i.test(text.trim()) ? parseInt(text.trim(), 16) : undefined;
}
