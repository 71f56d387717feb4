/*
 * The disassembly view: instructions around an address, decoded from guest memory as it is now
 * (self-modified code shows as it will run), with source locations and symbols. Going backwards
 * on x86 is ambiguous; the source map gives exact instruction starts, else the decoder resyncs.
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

function decodeAt(cpu: Cpu, index: SourceIndex, address: number): DisassembledInstruction {
  const a = address >>> 0;
  const { bytes } = readLinearBytes(cpu, a, 16);
  if (bytes.length === 0) return { address: a, bytes: new Uint8Array(0), text: '??', invalid: true };
  const d = disassembleOne(bytes, 0, a);
  const loc = index.at(a) ? index.locate(a) : undefined;
  if (index instanceof ElfSourceIndex) {
    // As objdump: every instruction as `function+offset`, branch targets as `<symbol+offset>`.
    return { address: a, bytes: d.bytes, text: withTargetSymbol(d.text, index), symbol: index.symbolize(a), file: loc?.file, line: loc?.line };
  }
  const label = index.labelAtOrBelow(a);
  return { address: a, bytes: d.bytes, text: d.text, symbol: label && label.address === a ? label.name : undefined, file: loc?.file, line: loc?.line };
}

/** `call 0x100015` → `call 0x100015 <kmain>` (direct calls, jumps and loops). */
function withTargetSymbol(text: string, index: ElfSourceIndex): string {
  const m = /^(?:call|jmp|j[a-z]+|loop[a-z]*)\s+(?:short\s+|near\s+)?(0x[0-9a-f]+)$/i.exec(text);
  const sym = m ? index.symbolize(parseInt(m[1], 16)) : undefined;
  return sym ? `${text} <${sym}>` : text;
}

/** Start of the instruction `n` instructions before `address` (n > 0). */
function backwards(cpu: Cpu, index: SourceIndex, address: number, n: number): number {
  // Exact while the source map knows the instruction that ends where we are.
  let at = address >>> 0, k = 0;
  while (k < n) {
    const e = index.containing((at - 1) >>> 0);
    if (!e || e.address + e.length !== at) break;
    at = e.address; k++;
  }
  const need = n - k;
  if (need === 0) return at;
  // Otherwise decode forward from a little further back; x86 decoding resyncs within a few bytes.
  for (let d = 0; d < 16; d++) {
    const start = at - need * 8 - d;
    if (start < 0) continue;
    const starts: number[] = [];
    let p = start;
    while (p < at) { starts.push(p); p += Math.max(1, decodeAt(cpu, index, p).bytes.length); }
    if (p === at && starts.length >= need) return starts[starts.length - need];
  }
  return Math.max(0, at - need);
}

/** `count` instructions starting `instructionOffset` instructions away from `address`. */
export function disassembleAround(cpu: Cpu, index: SourceIndex, address: number, instructionOffset: number, count: number): DisassembledInstruction[] {
  let start = address >>> 0;
  if (instructionOffset < 0) start = backwards(cpu, index, start, -instructionOffset);
  const out: DisassembledInstruction[] = [];
  let at = start;
  let skip = Math.max(0, instructionOffset);
  while (out.length < count) {
    const d = decodeAt(cpu, index, at);
    if (skip > 0) skip--; else out.push(d);
    at = (at + Math.max(1, d.bytes.length)) >>> 0;
  }
  return out;
}
