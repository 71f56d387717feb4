/*
 * DWARF .debug_line (versions 2 to 5): the header (include directories and file names; in version 5
 * the self-describing entry formats, with paths in .debug_line_str through DW_FORM_line_strp) and
 * the line-number state machine, run to completion into rows. gcc 12 emits version 5 for C and GAS
 * (.S); nasm -F dwarf emits version 2.
 */
import * as path from 'node:path';
import { DW_FORM, readForm, type FormContext } from './forms';
import { DwarfError, Reader } from './reader';

/** One row of the line-number matrix (DWARF 5 §6.2.2). */
export interface LineRow {
  address: number;
  /** Absolute (or as absolute as the unit records) path of the source file. */
  file: string;
  line: number;
  column: number;
  isStmt: boolean;
  /** The first address past the sequence (the row carries no source position). */
  endSequence: boolean;
}

export interface LineProgram {
  /** Offset of the unit in .debug_line (DW_AT_stmt_list refers to it). */
  offset: number;
  version: number;
  /** Directories, index 0 first (version 5: the compilation directory; before: compDir if known). */
  directories: string[];
  /** File names resolved to paths; index as the program uses it (1-based before version 5). */
  files: string[];
  rows: LineRow[];
}

export interface LineSections {
  debugLine: Uint8Array;
  debugLineStr?: Uint8Array;
  debugStr?: Uint8Array;
  /** Compilation directory of the unit at a .debug_line offset (from .debug_info), for versions 2–4. */
  compDirFor?(offset: number): string | undefined;
}

const DW_LNCT_path = 1, DW_LNCT_directory_index = 2;
const DW_LNS_copy = 1, DW_LNS_advance_pc = 2, DW_LNS_advance_line = 3, DW_LNS_set_file = 4, DW_LNS_set_column = 5,
  DW_LNS_negate_stmt = 6, DW_LNS_set_basic_block = 7, DW_LNS_const_add_pc = 8, DW_LNS_fixed_advance_pc = 9,
  DW_LNS_set_prologue_end = 10, DW_LNS_set_epilogue_begin = 11, DW_LNS_set_isa = 12;
const DW_LNE_end_sequence = 1, DW_LNE_set_address = 2, DW_LNE_define_file = 3, DW_LNE_set_discriminator = 4;

/** Every line-number program of the section, in order. */
export function parseLinePrograms(s: LineSections): LineProgram[] {
  const out: LineProgram[] = [];
  const r = new Reader(s.debugLine, 0, s.debugLine.length, '.debug_line');
  while (!r.atEnd) {
    const offset = r.pos;
    const { length, offsetSize } = r.initialLength();
    const unit = r.sub(length, `.debug_line unit at 0x${offset.toString(16)}`);
    out.push(parseUnit(unit, offset, offsetSize, s));
  }
  return out;
}

function joinPath(dir: string | undefined, name: string): string {
  if (!dir || path.posix.isAbsolute(name) || /^[A-Za-z]:[\\/]/.test(name)) return name;
  return path.posix.join(dir, name);
}

function parseUnit(r: Reader, offset: number, offsetSize: 4 | 8, s: LineSections): LineProgram {
  const version = r.u16();
  if (version < 2 || version > 5) throw new DwarfError(`.debug_line unit at 0x${offset.toString(16)}: version ${version} (expected 2 to 5)`);
  let addressSize = 4;
  if (version >= 5) {
    addressSize = r.u8();
    r.u8(); // segment selector size
  }
  const headerLength = r.uN(offsetSize);
  const programStart = r.pos + headerLength;
  const minInstLength = r.u8();
  if (version >= 4) r.u8(); // maximum operations per instruction (VLIW only; 1 on x86)
  const defaultIsStmt = r.u8() !== 0;
  const lineBase = r.s8();
  const lineRange = r.u8();
  const opcodeBase = r.u8();
  if (lineRange === 0) throw new DwarfError(`.debug_line unit at 0x${offset.toString(16)}: line_range is 0`);
  const standardLengths = [0];
  for (let i = 1; i < opcodeBase; i++) standardLengths.push(r.u8());

  const ctx: FormContext = { version, addressSize, offsetSize, debugStr: s.debugStr, debugLineStr: s.debugLineStr };
  let directories: string[], files: string[];
  if (version >= 5) {
    const dirEntries = readEntries(r, ctx);
    directories = dirEntries.map((e) => e.path ?? '');
    const fileEntries = readEntries(r, ctx);
    files = fileEntries.map((e) => {
      const dir = directories[e.dir ?? 0];
      const full = joinPath(dir, e.path ?? '');
      // A relative directory is relative to the compilation directory (directory 0).
      return dir !== undefined && !path.posix.isAbsolute(full) && directories[0] ? joinPath(directories[0], full) : full;
    });
  } else {
    const compDir = s.compDirFor?.(offset);
    directories = [compDir ?? ''];
    for (let d = r.cstr(); d !== ''; d = r.cstr()) directories.push(joinPath(compDir, d));
    files = [''];
    for (let f = r.cstr(); f !== ''; f = r.cstr()) {
      const dir = r.uleb();
      r.uleb(); r.uleb(); // modification time, length
      files.push(joinPath(directories[dir] || compDir, f));
    }
  }
  files = files.map((f) => (f ? path.posix.normalize(f) : f));
  r.pos = programStart;
  const rows = runProgram(r, { version, minInstLength, defaultIsStmt, lineBase, lineRange, opcodeBase, standardLengths, addressSize, files, directories, compDir: directories[0] });
  return { offset, version, directories, files, rows };
}

interface Entry { path?: string; dir?: number }

/** A version-5 directory or file-name table: a format (content type, form pairs), a count, entries. */
function readEntries(r: Reader, ctx: FormContext): Entry[] {
  const formatCount = r.u8();
  const format: Array<[number, number]> = [];
  for (let i = 0; i < formatCount; i++) format.push([r.uleb(), r.uleb()]);
  const count = r.uleb();
  // Every entry takes at least a byte: a larger count is corrupt (and would loop for ever on an empty format).
  if (count > r.end - r.pos || (formatCount === 0 && count > 0)) throw new DwarfError(`.debug_line: ${count} directory/file entries do not fit in the header`);
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const e: Entry = {};
    for (const [type, form] of format) {
      const v = readForm(r, form, ctx);
      if (type === DW_LNCT_path && typeof v === 'string') e.path = v;
      else if (type === DW_LNCT_directory_index && typeof v === 'number') e.dir = v;
      else if (type === DW_LNCT_path && form !== DW_FORM.string) e.path = String(v);
    }
    out.push(e);
  }
  return out;
}

interface Params {
  version: number; minInstLength: number; defaultIsStmt: boolean; lineBase: number; lineRange: number; opcodeBase: number;
  standardLengths: number[]; addressSize: number; files: string[]; directories: string[]; compDir: string;
}

function runProgram(r: Reader, p: Params): LineRow[] {
  const rows: LineRow[] = [];
  const fileName = (i: number) => p.files[i] ?? `<file ${i}>`;
  let address = 0, file = 1, line = 1, column = 0, isStmt = p.defaultIsStmt;
  const reset = () => { address = 0; file = 1; line = 1; column = 0; isStmt = p.defaultIsStmt; };
  const emit = (endSequence: boolean) => rows.push({ address: address >>> 0, file: fileName(file), line, column, isStmt, endSequence });
  while (!r.atEnd) {
    const op = r.u8();
    if (op >= p.opcodeBase) {
      const adj = op - p.opcodeBase;
      address += Math.floor(adj / p.lineRange) * p.minInstLength;
      line += p.lineBase + (adj % p.lineRange);
      emit(false);
      continue;
    }
    switch (op) {
      case 0: {
        const len = r.uleb();
        const ext = r.sub(len);
        const sub = len > 0 ? ext.u8() : 0;
        if (sub === DW_LNE_end_sequence) { emit(true); reset(); }
        else if (sub === DW_LNE_set_address) address = ext.uN(len - 1);
        else if (sub === DW_LNE_define_file) {
          const name = ext.cstr(), dir = ext.uleb();
          p.files.push(path.posix.normalize(joinPath(p.directories[dir] || p.compDir, name)));
        } else if (sub === DW_LNE_set_discriminator) { /* discriminators do not change the position */ }
        break;
      }
      case DW_LNS_copy: emit(false); break;
      case DW_LNS_advance_pc: address += r.uleb() * p.minInstLength; break;
      case DW_LNS_advance_line: line += r.sleb(); break;
      case DW_LNS_set_file: file = r.uleb(); break;
      case DW_LNS_set_column: column = r.uleb(); break;
      case DW_LNS_negate_stmt: isStmt = !isStmt; break;
      case DW_LNS_set_basic_block: break;
      case DW_LNS_const_add_pc: address += Math.floor((255 - p.opcodeBase) / p.lineRange) * p.minInstLength; break;
      case DW_LNS_fixed_advance_pc: address += r.u16(); break;
      case DW_LNS_set_prologue_end: case DW_LNS_set_epilogue_begin: break;
      case DW_LNS_set_isa: r.uleb(); break;
      default:
        // An opcode this reader does not know: the header says how many LEB128 operands to skip.
        for (let i = 0; i < (p.standardLengths[op] ?? 0); i++) r.uleb();
    }
  }
  return rows;
}
