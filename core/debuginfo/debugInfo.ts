/*
 * Source-level view of an ELF32 kernel: symbols (.symtab), the DWARF line table (.debug_line, with
 * paths completed from .debug_info's compilation directories), functions (DW_TAG_subprogram, else
 * sized FUNC symbols) and global variables — indexed both ways: address → file:line / function /
 * `kmain+0xc`, and file:line → breakpoint addresses. Debug information that cannot be read is a
 * warning, never a failure: the kernel still runs and symbols still work.
 */
import * as path from 'node:path';
import { ElfError, type Elf32File } from '../elf/elf32';
import { parseLinePrograms, type LineProgram, type LineRow } from './lineProgram';
import { dataLabels } from './dataLabels';
import { DwarfError } from './reader';
import { readSymbols, type ElfSymbol } from './symbols';
import { parseDebugInfo, type CompileUnit, type GlobalVariableInfo, type SubprogramInfo } from './units';

export interface FunctionRange {
  name: string;
  low: number;
  /** First address past the function. */
  high: number;
  from: 'dwarf' | 'symtab';
}

export interface GlobalVariable {
  name: string;
  address: number;
  /** Bytes (0 when unknown). */
  size: number;
  /** C type from DWARF, or '' for a symbol without one. */
  typeName: string;
}

/** A line-table position: the row that covers an address. */
export interface LinePosition {
  file: string;
  line: number;
  column: number;
  /** Address the row starts at (the statement's first instruction when `address` is inside it). */
  address: number;
  /** First address past the row's range. */
  end: number;
  isStmt: boolean;
}

/** A line range [address, end) of one sequence, in address order. */
interface Range { address: number; end: number; row: LineRow }

export class DebugInfo {
  readonly symbols: ElfSymbol[];
  readonly programs: LineProgram[] = [];
  readonly units: CompileUnit[] = [];
  readonly functions: FunctionRange[];
  readonly globals: GlobalVariable[];
  /** What could not be read (each a sentence for the Debug Console). */
  readonly warnings: string[] = [];
  private readonly ranges: Range[] = [];
  /** Normalized file → line → is_stmt rows. */
  private readonly byFile = new Map<string, Map<number, LineRow[]>>();
  /** Symbols that name places (not sections or files), sorted by address. */
  private readonly places: ElfSymbol[];
  private readonly byName = new Map<string, ElfSymbol>();
  private readonly normalized = new Map<string, string>();

  constructor(elf: Elf32File) {
    this.symbols = attempt(this.warnings, 'the symbol table', () => readSymbols(elf)) ?? [];
    this.places = this.symbols.filter((s) => s.name !== '' && (s.type === 'func' || s.type === 'object' || s.type === 'notype') && s.shndx !== 0)
      .sort((a, b) => a.address - b.address || rank(a) - rank(b));
    for (const s of this.places) if (!this.byName.has(s.name) || s.bind !== 'local') this.byName.set(s.name, s);

    const sect = (name: string) => attempt(this.warnings, name, () => elf.sectionBytes(name));
    const debugInfo = sect('.debug_info'), debugAbbrev = sect('.debug_abbrev');
    const debugStr = sect('.debug_str'), debugLineStr = sect('.debug_line_str');
    let subprograms: SubprogramInfo[] = [], dwarfGlobals: GlobalVariableInfo[] = [];
    if (debugInfo?.length && debugAbbrev) {
      const info = attempt(this.warnings, '.debug_info', () => parseDebugInfo({
        debugInfo, debugAbbrev, debugStr, debugLineStr, debugStrOffsets: sect('.debug_str_offsets'), debugAddr: sect('.debug_addr'),
      }));
      if (info) { this.units.push(...info.units); subprograms = info.subprograms; dwarfGlobals = info.globals; }
    }
    const debugLine = sect('.debug_line');
    if (debugLine?.length) {
      const compDirs = new Map(this.units.filter((u) => u.stmtList !== undefined).map((u) => [u.stmtList!, u.compDir]));
      const progs = attempt(this.warnings, '.debug_line', () => parseLinePrograms({ debugLine, debugLineStr, debugStr, compDirFor: (o) => compDirs.get(o) }));
      if (progs) this.programs.push(...progs);
    }
    this.indexLines();

    // Functions: DWARF's where it has them (C), sized FUNC symbols for the rest (assembly with `global f:function f.end-f`).
    const fns: FunctionRange[] = subprograms.filter((s) => s.high > s.low).map((s) => ({ name: s.name, low: s.low >>> 0, high: s.high >>> 0, from: 'dwarf' }));
    for (const s of this.symbols) {
      if (s.type === 'func' && s.size > 0 && !fns.some((f) => f.low === s.address)) fns.push({ name: s.name, low: s.address, high: s.address + s.size, from: 'symtab' });
    }
    this.functions = fns.sort((a, b) => a.low - b.low);

    const globals: GlobalVariable[] = dwarfGlobals.map((g) => ({ name: g.name, address: g.address >>> 0, size: g.size, typeName: g.typeName }));
    for (const s of this.symbols) {
      if (s.type === 'object' && s.name && !globals.some((g) => g.name === s.name && g.address === s.address)) globals.push({ name: s.name, address: s.address, size: s.size, typeName: '' });
    }
    // Assembly data labels without a type (`global table` in NASM, GNU as without .type/.size).
    for (const l of dataLabels(this.symbols, elf.sections)) {
      if (!globals.some((g) => g.name === l.name)) globals.push({ ...l, typeName: '' });
    }
    this.globals = globals;
  }

  private indexLines(): void {
    for (const p of this.programs) {
      let seqStart = 0;
      for (let i = 0; i < p.rows.length; i++) {
        const row = p.rows[i];
        if (!row.endSequence) continue;
        this.addSequence(p.rows.slice(seqStart, i + 1));
        seqStart = i + 1;
      }
    }
    this.ranges.sort((a, b) => a.address - b.address);
  }

  private addSequence(rows: LineRow[]): void {
    for (let i = 0; i < rows.length - 1; i++) {
      const row = rows[i];
      // Several rows at one address: the last one describes the instruction there (as addr2line).
      if (rows[i + 1].address === row.address && !rows[i + 1].endSequence) continue;
      if (rows[i + 1].address > row.address) this.ranges.push({ address: row.address, end: rows[i + 1].address, row });
    }
    for (const row of rows) {
      if (row.endSequence || !row.isStmt) continue;
      let file = this.normalized.get(row.file);
      if (file === undefined) this.normalized.set(row.file, file = normalizePath(row.file));
      let lines = this.byFile.get(file);
      if (!lines) this.byFile.set(file, lines = new Map());
      const list = lines.get(row.line);
      if (list) list.push(row); else lines.set(row.line, [row]);
    }
  }

  /** Source files the line table names (normalized absolute paths when the units recorded them). */
  get files(): string[] { return [...this.byFile.keys()]; }

  get hasLines(): boolean { return this.ranges.length > 0; }

  /** The line-table row covering `address`. */
  lineAt(address: number): LinePosition | undefined {
    const a = address >>> 0;
    let lo = 0, hi = this.ranges.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.ranges[mid].address <= a) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found < 0) return undefined;
    const r = this.ranges[found];
    if (a >= r.end) return undefined;
    return { file: r.row.file, line: r.row.line, column: r.row.column, address: r.address, end: r.end, isStmt: r.row.isStmt };
  }

  /** Every [address, end) line range, in address order (for building an instruction index). */
  lineRanges(): ReadonlyArray<{ address: number; end: number; file: string; line: number; isStmt: boolean }> {
    return this.ranges.map((r) => ({ address: r.address, end: r.end, file: r.row.file, line: r.row.line, isStmt: r.row.isStmt }));
  }

  /** Addresses where line `line` of `file` begins (one per function, or per sequence outside functions). */
  addressesOfLine(file: string, line: number): number[] {
    const rows = this.fileLines(file)?.get(line);
    if (!rows) return [];
    const firstPerGroup = new Map<string, number>();
    for (const row of rows) {
      const fn = this.functionAt(row.address);
      const key = fn ? `f${fn.low}` : `a${row.address}`;
      const cur = firstPerGroup.get(key);
      if (cur === undefined || row.address < cur) firstPerGroup.set(key, row.address);
    }
    return [...new Set(firstPerGroup.values())].sort((a, b) => a - b);
  }

  /** The first line at or after `line` in `file` with code, and its addresses (where a breakpoint moves). */
  nextLineWithCode(file: string, line: number): { line: number; addresses: number[] } | undefined {
    const lines = this.fileLines(file);
    if (!lines) return undefined;
    let best = -1;
    for (const l of lines.keys()) if (l >= line && (best < 0 || l < best)) best = l;
    return best < 0 ? undefined : { line: best, addresses: this.addressesOfLine(file, best) };
  }

  /** Lines of `file` that have code. */
  linesOf(file: string): number[] {
    return [...(this.fileLines(file)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /**
   * The line table's name for a file the editor knows by `file`: the same path, else the one that
   * shares the longest tail of path components (the kernel was built in another directory).
   */
  resolveFile(file: string): string | undefined {
    const want = normalizePath(file);
    if (this.byFile.has(want)) return want;
    const parts = want.split('/');
    let best: string | undefined, bestScore = 0;
    for (const f of this.byFile.keys()) {
      const fp = f.split('/');
      let k = 0;
      while (k < parts.length && k < fp.length && parts[parts.length - 1 - k] === fp[fp.length - 1 - k]) k++;
      if (k > bestScore) { best = f; bestScore = k; }
    }
    return best;
  }

  private fileLines(file: string): Map<number, LineRow[]> | undefined {
    const f = this.resolveFile(file);
    return f === undefined ? undefined : this.byFile.get(f);
  }

  /** The function containing `address` (DWARF or sized symbol), innermost when they nest. */
  functionAt(address: number): FunctionRange | undefined {
    const a = address >>> 0;
    let best: FunctionRange | undefined;
    for (const f of this.functions) {
      if (f.low > a) break;
      if (a < f.high && (!best || f.low >= best.low)) best = f;
    }
    return best;
  }

  /** The symbol at or below `address` (functions and labels; data too), preferring globals at one address. */
  symbolAtOrBelow(address: number, codeOnly = false): ElfSymbol | undefined {
    const a = address >>> 0;
    let lo = 0, hi = this.places.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.places[mid].address <= a) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    for (let i = found; i >= 0; i--) {
      const s = this.places[i];
      if (codeOnly && !s.code) continue;
      // The preferred symbol at this address comes first among equals (sorted by rank).
      let j = i;
      while (j > 0 && this.places[j - 1].address === s.address && (!codeOnly || this.places[j - 1].code)) j--;
      return this.places[j];
    }
    return undefined;
  }

  /** `kmain`, `kmain+0xc`, or undefined before the first symbol; inside a function its name wins. */
  symbolize(address: number): string | undefined {
    const a = address >>> 0;
    const fn = this.functionAt(a);
    const sym = this.symbolAtOrBelow(a);
    const base = fn && (!sym || sym.address <= fn.low) ? { name: fn.name, address: fn.low } : sym;
    if (!base) return undefined;
    const off = a - base.address;
    return off === 0 ? base.name : `${base.name}+0x${off.toString(16)}`;
  }

  /** A symbol by exact name (globals before locals). */
  symbol(name: string): ElfSymbol | undefined { return this.byName.get(name); }

  /** A global variable by name (DWARF's type and size when it has them). */
  global(name: string): GlobalVariable | undefined { return this.globals.find((g) => g.name === name); }
}

/** Sort order among symbols at one address: functions, then globals, then the rest. */
function rank(s: ElfSymbol): number {
  return (s.type === 'func' ? 0 : 2) + (s.bind === 'local' ? 1 : 0);
}

function attempt<T>(warnings: string[], what: string, fn: () => T): T | undefined {
  try { return fn(); } catch (e) {
    if (e instanceof DwarfError || e instanceof ElfError) { warnings.push(`${what} could not be read: ${e.message}`); return undefined; }
    throw e;
  }
}

/** Posix-normalized path (DWARF paths are the build machine's; compare them normalized). */
export function normalizePath(p: string): string {
  return path.posix.normalize(p.replace(/\\/g, '/'));
}

export function loadDebugInfo(elf: Elf32File): DebugInfo {
  return new DebugInfo(elf);
}
