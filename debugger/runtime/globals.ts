/*
 * The program's global variables, for the Variables view's "Globals" scope and for data breakpoints
 * set on them ("Break on Value Change"): the data labels of an assembly program (a label whose bytes
 * the assembler emitted or reserved with db/dd/resb/times …, not a code label nor an end marker such
 * as `stack_top:`), and for an ELF kernel its C globals (DWARF variables with a fixed address, OBJECT
 * symbols) with their C type. Each has an address, a size when it is known, and its value read
 * without side effects (guestMemory.ts). Imports core/ only.
 */
import type { Cpu } from '../../core/cpu/cpu';
import { ElfSourceIndex } from './elfProgram';
import { readLinearBytes } from './guestMemory';
import { hex, type StateItem } from './guestState';
import type { SourceIndex } from './program';

export interface GlobalSymbol {
  name: string;
  /** Linear address. */
  address: number;
  /** Bytes; 0 when unknown (a symbol without a size). */
  size: number;
  /** C type from DWARF ('' for assembly labels and symbols without one). */
  typeName: string;
}

/** Bytes a data breakpoint watches on a variable of unknown size (a dword, the common case). */
export const DEFAULT_WATCH_SIZE = 4;
/** Bytes a value shows before it is cut with "…". */
const PREVIEW_BYTES = 16;
/** Sections whose bytes are reserved, not assembled (the assembler's own test, core/asm/passes.ts). */
const NOBITS = /^\.?bss$/i;
/** At most this many globals are listed (a symbol table can hold thousands). */
const MAX_GLOBALS = 2000;

/** The globals of a program, sorted by address (cached per index: the program does not change). */
export function programGlobals(index: SourceIndex): GlobalSymbol[] {
  let list = cache.get(index);
  if (!list) cache.set(index, list = (index instanceof ElfSourceIndex ? elfGlobals(index) : dataLabels(index)).slice(0, MAX_GLOBALS));
  return list;
}
const cache = new WeakMap<SourceIndex, GlobalSymbol[]>();

/** A global by its exact name. */
export function findGlobal(index: SourceIndex, name: string): GlobalSymbol | undefined {
  return programGlobals(index).find((g) => g.name === name);
}

/**
 * Assembly: a label is a variable when a data item (db, dd, resb, times …) starts its bytes. Its size
 * runs over the data items that follow without a gap, up to the next label (`msg: db "hi"` then
 * `db 10, 0` on the next line is one string) — except in .bss, where an unlabelled `resb 4096` after
 * a variable is another thing (the stack), not more of the variable: there a variable is its one item.
 */
function dataLabels(index: SourceIndex): GlobalSymbol[] {
  const labels = index.labels;
  const out: GlobalSymbol[] = [];
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (index.at(l.address)) continue;           // code
    // Several labels at one address (`gdt_end:` then `gdt_descriptor:`): the last one names the data.
    if (i + 1 < labels.length && labels[i + 1].address === l.address) continue;
    let item = index.dataContaining(l.address);
    if (!item || item.address !== l.address) continue; // an end marker (`image_end:`), or inside another item
    let next = labels.length;
    for (let j = i + 1; j < labels.length; j++) if (labels[j].address > l.address) { next = j; break; }
    const limit = next < labels.length ? labels[next].address : Infinity;
    let end = l.address;
    const reserved = NOBITS.test(l.section);
    while (item && item.address === end && end < limit) {
      end = Math.min(limit, item.address + item.length);
      item = reserved ? undefined : index.dataContaining(end);
    }
    out.push({ name: l.name, address: l.address >>> 0, size: end - l.address, typeName: '' });
  }
  return out;
}

/** ELF: the C globals and OBJECT symbols (core/debuginfo), by address. */
function elfGlobals(index: ElfSourceIndex): GlobalSymbol[] {
  // One row per name: DWARF's variable comes first in the list, before the symbol of the same name.
  const byName = new Map<string, GlobalSymbol>();
  for (const g of index.debug.globals) {
    if (g.name && !byName.has(g.name)) byName.set(g.name, { name: g.name, address: g.address >>> 0, size: g.size, typeName: g.typeName });
  }
  return [...byName.values()].sort((a, b) => a.address - b.address || a.name.localeCompare(b.name));
}

/** The Globals scope: one row per global with its value, size, type and memory reference. */
export function globalsView(cpu: Cpu, index: SourceIndex): StateItem[] {
  const elf = index instanceof ElfSourceIndex;
  return programGlobals(index).map((g) => {
    const item: StateItem = { name: g.name, value: globalValue(cpu, g), memory: g.address, type: describeType(g) };
    // What reads it again: C reads a global by its name; an assembly label is an address, so its
    // value is the memory there.
    item.evaluateName = elf ? g.name : g.size === 1 ? `byte [${g.name}]` : g.size === 2 ? `word [${g.name}]` : g.size === 4 ? `dword [${g.name}]` : g.name;
    return item;
  });
}

function describeType(g: GlobalSymbol): string {
  const size = g.size ? `${g.size} byte${g.size === 1 ? '' : 's'}` : 'size unknown';
  return `${g.typeName ? `${g.typeName}, ` : ''}${size} at ${hex(g.address)}`;
}

/**
 * A global's value: a number for 1, 2 or 4 bytes (hex and decimal, as evaluate shows numbers), else
 * its first bytes in hex, with the text they spell when they are mostly printable (strings).
 */
export function globalValue(cpu: Cpu, g: GlobalSymbol): string {
  const size = g.size || DEFAULT_WATCH_SIZE;
  const { bytes, unreadable } = readLinearBytes(cpu, g.address, Math.min(size, PREVIEW_BYTES));
  if (bytes.length === 0) return 'not mapped';
  if (unreadable === 0 && (size === 1 || size === 2 || size === 4) && !isCharArray(g)) {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + bytes[i];
    return v < 10 ? String(v) : `${hex(v, size * 2)} (${v})`;
  }
  const more = size > bytes.length ? ' …' : '';
  const text = printable(bytes);
  const hexes = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return text !== undefined ? `${JSON.stringify(text)}${more ? '…' : ''}  (${hexes}${more})` : `${hexes}${more}`;
}

function isCharArray(g: GlobalSymbol): boolean { return /^(unsigned |signed )?char\s*\[/.test(g.typeName); }

/** The text a run of bytes spells up to its first NUL, when it is printable ASCII (at least 2 chars). */
function printable(bytes: Uint8Array): string | undefined {
  let n = 0;
  while (n < bytes.length && bytes[n] !== 0) n++;
  if (n < 2) return undefined;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (!(b >= 0x20 && b < 0x7f) && b !== 9 && b !== 10 && b !== 13) return undefined;
  }
  return String.fromCharCode(...bytes.subarray(0, n));
}
