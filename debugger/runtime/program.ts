/*
 * The guest program as the debugger sees it: the image to load, and the assembler's source map and
 * labels, indexed both ways (address → file:line, file:line → addresses) for breakpoints, stepping
 * by line, the call stack and the disassembly view. Imports core/ only.
 */
import * as fs from 'node:fs';
import { readIncludeText } from '../../core/machine/safeRead';
import * as path from 'node:path';
import { assemble } from '../../core/asm';
import type { AssemblyResult, Diagnostic, LabelSymbol, SourceMapEntry } from '../../core/asm/ast';
import { missingMultibootHeader } from '../../core/lint/multibootHeader';
import type { DebugInfo } from '../../core/debuginfo';
import { ProgramError, imageProgram, type Program } from '../../core/machine/program';

/** A problem with a place in the source (0-based line and column), for the Problems panel. */
export interface LaunchProblem { file: string; line: number; column: number; severity: 'error' | 'warning'; message: string; code?: string; source?: string }

/** Why a program could not be loaded; `message` is what the user reads. */
export class ProgramLoadError extends Error {
  constructor(message: string, readonly kind: 'missing' | 'syntax' | 'binary' | 'empty', readonly problems: LaunchProblem[] = []) { super(message); }
}

/** Files larger than this are refused before the assembler sees them (a guest is a few KiB). */
export const MAX_SOURCE_BYTES = 1 << 20;
/** Errors shown from a failed assembly (the rest are counted). */
const ERRORS_SHOWN = 5;

export interface GuestProgram {
  file: string;
  bytes: Uint8Array;
  origin: number;
  entry: number;
  index: SourceIndex;
  warnings: string[];
  /** The warnings with their places (assembler warnings, a missing Multiboot header); optional for ELF. */
  problems?: LaunchProblem[];
  /** Set for an ELF kernel: its debug information (the index is then an ElfSourceIndex). */
  elf?: { debug: DebugInfo };
}

export interface SourceLocation { file: string; line: number }

/** Address ↔ line lookups over the source map (lines are 0-based here; the session converts). */
export class SourceIndex {
  /** Instructions by address, sorted. */
  private readonly insns: SourceMapEntry[];
  private readonly byAddress = new Map<number, SourceMapEntry>();
  /** file → line → addresses of the instructions that line produced. */
  private readonly byLine = new Map<string, Map<number, number[]>>();
  /** Labels sorted by address (code and data). */
  readonly labels: LabelSymbol[];
  private readonly labelByName = new Map<string, LabelSymbol>();

  /** Data items (db, dd, strings …) by address, sorted: the disassembly view shows them as data. */
  private readonly data: SourceMapEntry[];

  constructor(sourceMap: SourceMapEntry[], labels: LabelSymbol[], readonly constants: Map<string, number> = new Map()) {
    this.insns = sourceMap.filter((e) => e.kind === 'instruction' && e.length > 0).sort((a, b) => a.address - b.address);
    this.data = sourceMap.filter((e) => e.kind === 'data' && e.length > 0).sort((a, b) => a.address - b.address);
    for (const e of this.insns) {
      if (!this.byAddress.has(e.address)) this.byAddress.set(e.address, e);
      const file = normalize(e.file);
      let lines = this.byLine.get(file);
      if (!lines) this.byLine.set(file, lines = new Map());
      const list = lines.get(e.range.start.line);
      if (list) list.push(e.address); else lines.set(e.range.start.line, [e.address]);
    }
    this.labels = [...labels].sort((a, b) => a.address - b.address);
    for (const l of this.labels) this.labelByName.set(l.name.toLowerCase(), l);
  }

  get instructionCount(): number { return this.insns.length; }

  /** Linear addresses of every instruction start the source map knows (coverage probes). */
  instructionAddresses(): number[] { return this.insns.map((e) => e.address); }

  /** The instruction that starts at `address`, if the source map has one. */
  at(address: number): SourceMapEntry | undefined { return this.byAddress.get(address >>> 0); }

  /** The source line of the instruction containing `address` (inside it, not only at its start). */
  locate(address: number): SourceLocation | undefined {
    const e = this.containing(address);
    return e ? { file: e.file, line: e.range.start.line } : undefined;
  }

  containing(address: number): SourceMapEntry | undefined {
    const a = address >>> 0;
    const exact = this.byAddress.get(a);
    if (exact) return exact;
    const e = this.instructionAtOrBelow(a);
    return e && a < e.address + e.length ? e : undefined;
  }

  /** The last instruction starting at or below `address`. */
  instructionAtOrBelow(address: number): SourceMapEntry | undefined {
    return atOrBelow(this.insns, address >>> 0);
  }

  /** The data item (db, dd …) whose bytes include `address`. */
  dataContaining(address: number): SourceMapEntry | undefined {
    const a = address >>> 0;
    const e = atOrBelow(this.data, a);
    return e && a < e.address + e.length ? e : undefined;
  }

  /** Addresses of the instructions on `line` of `file`. */
  addressesOf(file: string, line: number): number[] {
    return this.byLine.get(normalize(file))?.get(line) ?? [];
  }

  /**
   * The first line at or after `line` in `file` that holds an instruction (a breakpoint on a blank,
   * label or comment line moves there), with its addresses; undefined past the last instruction.
   */
  nextInstructionLine(file: string, line: number): { line: number; addresses: number[] } | undefined {
    const lines = this.byLine.get(normalize(file));
    if (!lines) return undefined;
    let best = -1;
    for (const l of lines.keys()) if (l >= line && (best < 0 || l < best)) best = l;
    return best < 0 ? undefined : { line: best, addresses: lines.get(best)! };
  }

  /** Files that contributed instructions. */
  get files(): string[] { return [...this.byLine.keys()]; }

  label(name: string): LabelSymbol | undefined { return this.labelByName.get(name.toLowerCase()); }

  /** The nearest label at or below `address`, as `name` or `name+0x12`. */
  symbolize(address: number): string | undefined {
    const l = this.labelAtOrBelow(address);
    if (!l) return undefined;
    const off = (address >>> 0) - l.address;
    return off === 0 ? l.name : `${l.name}+0x${off.toString(16)}`;
  }

  labelAtOrBelow(address: number): LabelSymbol | undefined {
    const a = address >>> 0;
    let lo = 0, hi = this.labels.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.labels[mid].address <= a) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found < 0 ? undefined : this.labels[found];
  }

  /** The enclosing non-local label (`puts` for `puts.done`): a frame's function name. */
  functionAt(address: number): LabelSymbol | undefined {
    const a = address >>> 0;
    for (let i = this.labels.length - 1; i >= 0; i--) {
      const l = this.labels[i];
      if (l.address <= a && !l.name.includes('.')) return l;
    }
    return undefined;
  }
}

/** The last entry of a list sorted by address whose address is at or below `a`. */
function atOrBelow(list: SourceMapEntry[], a: number): SourceMapEntry | undefined {
  let lo = 0, hi = list.length - 1, found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid].address <= a) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found < 0 ? undefined : list[found];
}

export function normalize(file: string): string {
  const p = path.resolve(file);
  return process.platform === 'win32' ? p.toLowerCase() : p;
}

function formatDiagnostic(file: string, d: Diagnostic): string {
  return `${d.file ?? file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.message}`;
}

/**
 * Reads the guest file and makes it loadable by what it contains (core/machine/program.ts): an ELF
 * kernel or a flat image as it is (a flat image without a Multiboot header at `loadAddress`,
 * default 1 MiB), source through the assembler; throws ProgramLoadError with a message.
 */
export function loadGuestProgram(file: string, loadAddress?: number): GuestProgram {
  const defaultOrigin = loadAddress ?? 0x100000;
  const full = path.resolve(file);
  let stat: fs.Stats;
  try { stat = fs.statSync(full); } catch { throw new ProgramLoadError(`the program ${full} does not exist`, 'missing'); }
  if (!stat.isFile()) throw new ProgramLoadError(`the program ${full} is not a file`, 'missing');
  // Checked before reading: a huge file is refused without filling memory.
  if (stat.size > MAX_SOURCE_BYTES * 16) {
    throw new ProgramLoadError(`${full} is ${(stat.size / 1048576).toFixed(1)} MiB, too large for a guest program (at most ${MAX_SOURCE_BYTES * 16 >> 20} MiB)`, 'binary');
  }
  const data = fs.readFileSync(full);
  let image: Program | undefined;
  try {
    image = imageProgram(full, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), { loadAddress });
  } catch (e) {
    if (e instanceof ProgramError) throw new ProgramLoadError(e.message, 'binary');
    throw e;
  }
  if (image) return { file: full, bytes: image.bytes, origin: image.origin, entry: image.entry, index: new SourceIndex([], []), warnings: [], problems: [] };
  if (data.length > MAX_SOURCE_BYTES) {
    throw new ProgramLoadError(`${full} is ${(data.length / 1048576).toFixed(1)} MiB, too large for a guest source file (at most ${MAX_SOURCE_BYTES >> 20} MiB; the examples are 15 KiB)`, 'binary');
  }
  const text = data.toString('utf8');
  const result = assemble(full, text, {
    origin: defaultOrigin,
    readFile: (p, from) => {
      return readIncludeText(path.resolve(path.dirname(from), p));
    },
  });
  const lines = text.split(/\r?\n/);
  const problem = (d: Diagnostic, severity: 'error' | 'warning'): LaunchProblem => ({
    file: d.file ?? full, line: d.range.start.line, column: d.range.start.character, severity, message: d.message, code: d.code,
    source: !d.file || d.file === full ? lines[d.range.start.line] : undefined,
  });
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) {
    const shown = errors.slice(0, ERRORS_SHOWN).map((d) => formatDiagnostic(full, d));
    const more = errors.length > ERRORS_SHOWN ? `\n… and ${errors.length - ERRORS_SHOWN} more error(s)` : '';
    throw new ProgramLoadError(`cannot assemble ${path.basename(full)}:\n${shown.join('\n')}${more}`, 'syntax', errors.map((d) => problem(d, 'error')));
  }
  if (result.bytes.length === 0) throw new ProgramLoadError(`${path.basename(full)} assembles to no bytes: nothing to run`, 'empty');
  const constants = new Map(result.constants.map((c) => [c.name.toLowerCase(), c.value]));
  const warnings = result.diagnostics.filter((d) => d.severity === 'warning');
  const problems = warnings.map((d) => problem(d, 'warning'));
  const noHeader = multibootProblem(full, text, result, lines);
  if (noHeader) problems.push(noHeader);
  return {
    file: full, bytes: result.bytes, origin: result.origin, entry: result.entry,
    index: new SourceIndex(result.sourceMap, result.labels, constants),
    warnings: [...warnings.map((d) => formatDiagnostic(full, d)), ...(noHeader ? [`${full}:${noHeader.line + 1}:1: ${noHeader.message}`] : [])],
    problems,
  };
}

/**
 * A guest without a Multiboot header still runs here (flat at its origin, from its first byte), but
 * QEMU's -kernel and GRUB refuse it: the editor's diagnostic (core/lint/multibootHeader.ts), on the
 * line where the header belongs and with its words, so the launch and the Problems panel agree.
 */
function multibootProblem(file: string, text: string, result: AssemblyResult, lines: string[]): LaunchProblem | undefined {
  const d = missingMultibootHeader(file, text, result);
  if (!d) return undefined;
  const line = d.range.start.line;
  return { file, line, column: 0, severity: 'warning', code: d.code, source: lines[line], message: d.message };
}
