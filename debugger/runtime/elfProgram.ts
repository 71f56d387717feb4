/*
 * An ELF32 kernel as the debugger sees it: the file (the machine's loader places its segments), and
 * a SourceIndex built from its debug information instead of the assembler's source map — each line
 * range of the DWARF line table is decoded into its instructions, the symbols become the labels —
 * so breakpoints, stepping, the call stack and the disassembly work in .c, .S and .asm files as
 * they do in a Popek assembly file. Imports core/ only.
 */
import { decodeBytes } from '../../core/cpu/decoder';
import type { LabelSymbol, SourceMapEntry } from '../../core/asm/ast';
import { loadDebugInfo, type DebugInfo, type GlobalVariable } from '../../core/debuginfo';
import { ElfError, parseElf32, PT_LOAD, type Elf32File } from '../../core/elf/elf32';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadGuestProgram, ProgramLoadError, SourceIndex, type GuestProgram, type SourceLocation } from './program';

/** Lines are 0-based in a SourceIndex, 1-based in DWARF. */
const ZERO = { line: 0, character: 0 };

/** A loaded segment linked at another address than the one it is loaded at (higher-half kernels). */
interface Twin { paddr: number; vaddr: number; size: number }

export class ElfSourceIndex extends SourceIndex {
  constructor(readonly debug: DebugInfo, entries: SourceMapEntry[], labels: LabelSymbol[], private readonly twins: Twin[] = []) {
    super(entries, labels);
  }

  /**
   * The linked (virtual) address of code running at its load (physical) address: a higher-half
   * kernel's entry runs there until it turns paging on.
   */
  linkedAddress(address: number): number | undefined {
    const a = address >>> 0;
    for (const t of this.twins) if (a >= t.paddr && a < t.paddr + t.size) return (a - t.paddr + t.vaddr) >>> 0;
    return undefined;
  }

  override locate(address: number): SourceLocation | undefined {
    const loc = super.locate(address);
    if (loc || !this.twins.length) return loc;
    const v = this.linkedAddress(address);
    return v === undefined ? undefined : super.locate(v);
  }

  override at(address: number): SourceMapEntry | undefined {
    const e = super.at(address);
    if (e || !this.twins.length) return e;
    const v = this.linkedAddress(address);
    return v === undefined ? undefined : super.at(v);
  }

  /** Breakpoint addresses of a line: where it begins in each function (is_stmt rows), not every instruction. */
  override addressesOf(file: string, line: number): number[] {
    return this.debug.addressesOfLine(file, line + 1);
  }

  /** The line's addresses, then the load addresses of those linked elsewhere (see linkedAddress). */
  override nextInstructionLine(file: string, line: number): { line: number; addresses: number[] } | undefined {
    const next = this.debug.nextLineWithCode(file, line + 1);
    if (!next || !next.addresses.length) return undefined;
    const twins: number[] = [];
    for (const a of next.addresses) {
      for (const t of this.twins) if (a >= t.vaddr && a < t.vaddr + t.size) twins.push((a - t.vaddr + t.paddr) >>> 0);
    }
    return { line: next.line - 1, addresses: [...next.addresses, ...twins] };
  }

  /** Every instruction, plus its load address where it also runs before paging (see linkedAddress). */
  override instructionAddresses(): number[] {
    const out = super.instructionAddresses();
    if (!this.twins.length) return out;
    const twinsOf = out.flatMap((a) => this.twins.filter((t) => a >= t.vaddr && a < t.vaddr + t.size).map((t) => (a - t.vaddr + t.paddr) >>> 0));
    return [...out, ...twinsOf];
  }

  override symbolize(address: number): string | undefined { return this.debug.symbolize(address); }

  /** The function (DWARF subprogram or sized symbol) around `address`; else the nearest code label. */
  override functionAt(address: number): LabelSymbol | undefined {
    if (this.twins.length && !this.debug.functionAt(address) && !this.debug.symbolAtOrBelow(address, true)) {
      const v = this.linkedAddress(address);
      if (v !== undefined && v !== address >>> 0) return this.functionAt(v);
    }
    const f = this.debug.functionAt(address);
    if (f) return { name: f.name, address: f.low, file: '', range: { start: ZERO, end: ZERO }, section: '' };
    const s = this.debug.symbolAtOrBelow(address, true);
    if (s) return { name: s.name, address: s.address, file: '', range: { start: ZERO, end: ZERO }, section: '' };
    return super.functionAt(address);
  }

  /** True at the first instruction of a line-table statement (where a step by line may stop). */
  isStatementStart(address: number): boolean {
    const p = this.debug.lineAt(address);
    return p !== undefined && p.address === address >>> 0 && p.isStmt;
  }

  /** A C global (or data symbol) by its exact name. */
  variable(name: string): GlobalVariable | undefined { return this.debug.global(name); }
}

/** Bytes at a virtual address, from the PT_LOAD segment holding it. */
function bytesAt(elf: Elf32File, vaddr: number, length: number): Uint8Array {
  for (const p of elf.programHeaders) {
    if (p.type !== PT_LOAD || vaddr < p.vaddr || vaddr >= p.vaddr + p.filesz) continue;
    const off = p.offset + (vaddr - p.vaddr);
    return elf.bytes.subarray(off, Math.min(off + length, p.offset + p.filesz));
  }
  return new Uint8Array(0);
}

/** One source-map entry per instruction of each line range (decoded from the file's bytes). */
function instructionEntries(elf: Elf32File, debug: DebugInfo): SourceMapEntry[] {
  const out: SourceMapEntry[] = [];
  for (const r of debug.lineRanges()) {
    const bytes = bytesAt(elf, r.address, r.end - r.address);
    let at = 0;
    while (at < bytes.length) {
      // The CPU's decoder gives the length without building the text (the disassembler's cost).
      const d = decodeBytes(bytes, at, r.address + at);
      const length = Math.max(1, Math.min(d?.len ?? 1, bytes.length - at));
      const range = { start: { line: r.line - 1, character: 0 }, end: { line: r.line - 1, character: 0 } };
      out.push({ address: r.address + at, length, file: r.file, range, kind: 'instruction', section: '' });
      at += length;
    }
  }
  return out;
}

function labelsOf(debug: DebugInfo): LabelSymbol[] {
  return debug.symbols
    .filter((s) => s.name !== '' && s.shndx !== 0 && (s.type === 'func' || s.type === 'object' || s.type === 'notype'))
    .map((s) => ({ name: s.name, address: s.address, file: '', range: { start: ZERO, end: ZERO }, section: '' }));
}

/** True when the file starts with the ELF magic. */
export function looksLikeElf(data: Uint8Array): boolean {
  return data.length >= 4 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46;
}

/**
 * An ELF kernel for the debugger. Throws ElfError for a file that is not an ELF32 i386 executable;
 * unreadable debug information only costs source lines (its warnings are returned).
 */
export function loadElfProgram(file: string, data: Uint8Array): GuestProgram {
  const elf = parseElf32(data);
  const debug = loadDebugInfo(elf);
  const warnings = [...debug.warnings];
  if (!debug.hasLines) warnings.push(`${file}: no DWARF line table (.debug_line): build with -g (gcc) or -g -F dwarf (nasm) to debug by source line`);
  const twins = elf.programHeaders.filter((p) => p.type === PT_LOAD && p.memsz > 0 && p.vaddr !== p.paddr).map((p) => ({ paddr: p.paddr, vaddr: p.vaddr, size: p.memsz }));
  const index = new ElfSourceIndex(debug, instructionEntries(elf, debug), labelsOf(debug), twins);
  return { file, bytes: data, origin: 0, entry: elf.header.entry, index, warnings, elf: { debug } };
}

/**
 * The guest program of a launch, recognised by content whatever its name (kernels are linked to
 * `kernel`, `kernel.bin`, `*.elf`): an ELF kernel, else what loadGuestProgram takes.
 */
export function loadProgram(file: string, loadAddress?: number): GuestProgram {
  const full = path.resolve(file);
  let head: Buffer | undefined;
  try {
    const fd = fs.openSync(full, 'r');
    try { head = Buffer.alloc(4); head = head.subarray(0, fs.readSync(fd, head, 0, 4, 0)); } finally { fs.closeSync(fd); }
  } catch { /* loadGuestProgram reports a missing or unreadable file */ }
  if (!head || !looksLikeElf(head)) return loadGuestProgram(file, loadAddress);
  try { return loadElfProgram(full, new Uint8Array(fs.readFileSync(full))); } catch (e) {
    if (e instanceof ElfError) throw new ProgramLoadError(`${full}: ${e.message}`, 'binary');
    throw e;
  }
}
