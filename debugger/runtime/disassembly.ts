/*
 * The disassembly view: instructions around an address, decoded from guest memory as it is now
 * (self-modified code shows as it will run), with source locations and symbols.
 *
 * x86 cannot be decoded backwards, and a linear sweep through data (the Multiboot header, strings)
 * drifts out of step with the code after it. So every sweep RESYNCS on instruction starts known for
 * certain — the assembler's source map, every EIP the debugger has stopped at, the address asked
 * about — and shows the source map's data items as `db`. A sweep that reaches a known start lands on
 * it, whatever it started from: going back n instructions from EIP and forward again gives EIP, and
 * two requests about the same place agree (VS Code merges their rows and marks the row of EIP).
 */
import { disassembleOne } from '../../core/asm';
import type { Cpu } from '../../core/cpu/cpu';
import { ElfSourceIndex } from './elfProgram';
import { readLinearBytes } from './guestMemory';
import type { SourceIndex } from './program';

export interface DisassembledInstruction {
  address: number;
  bytes: Uint8Array;
  text: string;
  /** Label at this exact address. */
  symbol?: string;
  file?: string;
  /** 0-based. */
  line?: number;
  /** Memory could not be read here. */
  invalid?: boolean;
}

/** Instruction starts known for certain besides the source map (EIPs seen at stops). */
export type KnownStarts = ReadonlySet<number>;

/** Longest x86 instruction; a sweep of n × this many bytes holds at least n instructions. */
const MAX_INSN = 15;
/** How far below a window a sweep may start, to begin on a known instruction start. */
const ANCHOR_REACH = 4096;
/** Items a request may reach away from its address (VS Code asks for 50 at a time). */
const MAX_BACK = 8192;
/** Bytes of a data item shown per `db` row. */
const DB_ROW = 8;

class Sweeper {
  constructor(private readonly cpu: Cpu, private readonly index: SourceIndex, private readonly known: KnownStarts, private readonly target: number) {}

  isKnown(a: number): boolean { return a === this.target || this.known.has(a) || this.index.at(a) !== undefined; }

  /** The item at `a`: an instruction, a `db` row of a data item, or `db` bytes up to the next known start. */
  decode(a: number): DisassembledInstruction {
    const { bytes } = readLinearBytes(this.cpu, a, 16);
    if (bytes.length === 0) return { address: a, bytes: new Uint8Array(0), text: '??', invalid: true };
    const loc = this.index.locate(a);
    const label = this.index.labelAtOrBelow(a);
    const where = { symbol: label && label.address === a ? label.name : undefined, file: loc?.file, line: loc?.line };
    const data = this.index.dataContaining(a);
    if (data && !this.index.at(a)) {
      const n = Math.min(DB_ROW, data.address + data.length - a, bytes.length, this.nextKnown(a, DB_ROW) - a);
      return { address: a, bytes: bytes.slice(0, n), text: dbText(bytes.subarray(0, n)), file: data.file, line: data.range.start.line, symbol: where.symbol };
    }
    const d = disassembleOne(bytes, 0, a);
    // An instruction that would swallow a known start is not one: show its bytes up to there as data.
    const stop = this.nextKnown(a, d.bytes.length);
    if (stop < a + d.bytes.length) return { address: a, bytes: bytes.slice(0, stop - a), text: dbText(bytes.subarray(0, stop - a)), ...where };
    if (this.index instanceof ElfSourceIndex) {
      // As objdump: every instruction as `function+offset`, branch targets as `<symbol+offset>`.
      return { address: a, bytes: d.bytes, text: withTargetSymbol(d.text, this.index), ...where, symbol: this.index.symbolize(a) };
    }
    return { address: a, bytes: d.bytes, text: d.text, ...where };
  }

  /** The first known start in (a, a + len), else a + len. */
  private nextKnown(a: number, len: number): number {
    for (let k = 1; k < len; k++) if (this.isKnown((a + k) >>> 0)) return a + k;
    return a + len;
  }

  /** Item starts from `from` up to (not including) `to`, resyncing on known starts. */
  starts(from: number, to: number): number[] {
    const out: number[] = [];
    let p = from;
    while (p < to) {
      out.push(p);
      p += Math.max(1, this.decode(p).bytes.length);
    }
    return out;
  }
}

/** `call 0x100015` → `call 0x100015 <kmain>` (direct calls, jumps and loops). */
function withTargetSymbol(text: string, index: ElfSourceIndex): string {
  const m = /^(?:call|jmp|j[a-z]+|loop[a-z]*)\s+(?:short\s+|near\s+)?(0x[0-9a-f]+)$/i.exec(text);
  const sym = m ? index.symbolize(parseInt(m[1], 16)) : undefined;
  return sym ? `${text} <${sym}>` : text;
}

function dbText(bytes: Uint8Array): string {
  return `db ${[...bytes].map((b) => `0x${b.toString(16).padStart(2, '0')}`).join(', ')}`;
}

/** The nearest known start at or below `a` and at least `below` bytes under it, within reach. */
function anchorBelow(sw: Sweeper, index: SourceIndex, known: KnownStarts, a: number): number {
  const lowest = Math.max(0, a - ANCHOR_REACH);
  let best = -1;
  const fromMap = index.instructionAtOrBelow(a);
  if (fromMap && fromMap.address >= lowest) best = fromMap.address;
  for (const k of known) if (k <= a && k >= lowest && k > best) best = k;
  // Nothing known: a fixed 16-byte grid keeps two requests about the same place in agreement.
  // (Unsigned: `&` is signed in JS, and a negative start above 0x80000000 swept ~2^32 bytes.)
  return best >= 0 ? best : (a & ~15) >>> 0;
}

/** `count` items starting `instructionOffset` items away from `address` (DAP `disassemble`). */
export function disassembleAround(cpu: Cpu, index: SourceIndex, address: number, instructionOffset: number, count: number, known: KnownStarts = new Set()): DisassembledInstruction[] {
  const target = address >>> 0;
  // Further than this many items before the address there is nothing a view can use: placeholders.
  if (Math.abs(instructionOffset) > MAX_BACK || count <= 0) {
    return Array.from({ length: Math.max(0, count) }, (_, i) => ({ address: Math.max(0, target - MAX_BACK + i), bytes: new Uint8Array(0), text: '??', invalid: true }));
  }
  const sw = new Sweeper(cpu, index, known, target);
  let start = target;
  let before: number[] = [];
  if (instructionOffset < 0) {
    const n = -instructionOffset;
    const windowStart = Math.max(0, target - n * (MAX_INSN + 1));
    const from = anchorBelow(sw, index, known, windowStart);
    before = sw.starts(from, target);
    start = before.length >= n ? before[before.length - n] : before[0] ?? target;
  }
  const out: DisassembledInstruction[] = [];
  // Below address 0 there is nothing: pad so that the item at `address` keeps its index.
  const missing = instructionOffset < 0 ? Math.min(count, Math.max(0, -instructionOffset - before.length)) : 0;
  for (let i = missing; i > 0; i--) out.push({ address: Math.max(0, start - i), bytes: new Uint8Array(0), text: '??', invalid: true });
  let at = start;
  let skip = Math.max(0, instructionOffset);
  while (out.length < count) {
    const d = sw.decode(at);
    if (skip > 0) skip--; else out.push(d);
    at = (at + Math.max(1, d.bytes.length)) >>> 0;
  }
  return out;
}
