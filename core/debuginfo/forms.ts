/*
 * DWARF attribute forms (DWARF 2–5, DW_FORM_*), shared by the line-program header of version 5 and
 * the .debug_info reader: each value is read, or skipped, from its encoding. Strings come from
 * .debug_str / .debug_line_str / .debug_str_offsets; addresses through .debug_addr for addrx.
 */
import { DwarfError, Reader, stringAt } from './reader';

export const DW_FORM = {
  addr: 0x01, block2: 0x03, block4: 0x04, data2: 0x05, data4: 0x06, data8: 0x07, string: 0x08, block: 0x09,
  block1: 0x0a, data1: 0x0b, flag: 0x0c, sdata: 0x0d, strp: 0x0e, udata: 0x0f, ref_addr: 0x10, ref1: 0x11,
  ref2: 0x12, ref4: 0x13, ref8: 0x14, ref_udata: 0x15, indirect: 0x16, sec_offset: 0x17, exprloc: 0x18,
  flag_present: 0x19, strx: 0x1a, addrx: 0x1b, ref_sup4: 0x1c, strp_sup: 0x1d, data16: 0x1e, line_strp: 0x1f,
  ref_sig8: 0x20, implicit_const: 0x21, loclistx: 0x22, rnglistx: 0x23, ref_sup8: 0x24, strx1: 0x25, strx2: 0x26,
  strx3: 0x27, strx4: 0x28, addrx1: 0x29, addrx2: 0x2a, addrx3: 0x2b, addrx4: 0x2c,
  GNU_addr_index: 0x1f01, GNU_str_index: 0x1f02, GNU_ref_alt: 0x1f20, GNU_strp_alt: 0x1f21,
} as const;

/** The sections and unit parameters a form may need. */
export interface FormContext {
  version: number;
  addressSize: number;
  offsetSize: 4 | 8;
  debugStr?: Uint8Array;
  debugLineStr?: Uint8Array;
  debugStrOffsets?: Uint8Array;
  strOffsetsBase?: number;
  debugAddr?: Uint8Array;
  addrBase?: number;
}

/** What a form gives: a number (constants, addresses, offsets, references), a string, or a block. */
export type FormValue = number | string | Uint8Array | boolean;

/** The classes a reader cares about, to tell an address from a constant (DW_AT_high_pc) and so on. */
export type FormClass = 'address' | 'constant' | 'string' | 'block' | 'reference' | 'flag' | 'offset' | 'other';

export function formClass(form: number): FormClass {
  switch (form) {
    case DW_FORM.addr: case DW_FORM.addrx: case DW_FORM.addrx1: case DW_FORM.addrx2: case DW_FORM.addrx3: case DW_FORM.addrx4: case DW_FORM.GNU_addr_index:
      return 'address';
    case DW_FORM.data1: case DW_FORM.data2: case DW_FORM.data4: case DW_FORM.data8: case DW_FORM.sdata: case DW_FORM.udata: case DW_FORM.implicit_const:
      return 'constant';
    case DW_FORM.string: case DW_FORM.strp: case DW_FORM.line_strp: case DW_FORM.strx: case DW_FORM.strx1: case DW_FORM.strx2:
    case DW_FORM.strx3: case DW_FORM.strx4: case DW_FORM.GNU_str_index: case DW_FORM.strp_sup: case DW_FORM.GNU_strp_alt:
      return 'string';
    case DW_FORM.block: case DW_FORM.block1: case DW_FORM.block2: case DW_FORM.block4: case DW_FORM.exprloc: case DW_FORM.data16:
      return 'block';
    case DW_FORM.ref1: case DW_FORM.ref2: case DW_FORM.ref4: case DW_FORM.ref8: case DW_FORM.ref_udata: case DW_FORM.ref_addr:
    case DW_FORM.ref_sig8: case DW_FORM.ref_sup4: case DW_FORM.ref_sup8: case DW_FORM.GNU_ref_alt:
      return 'reference';
    case DW_FORM.flag: case DW_FORM.flag_present:
      return 'flag';
    case DW_FORM.sec_offset: case DW_FORM.loclistx: case DW_FORM.rnglistx:
      return 'offset';
    default:
      return 'other';
  }
}

/**
 * Reads one value of `form`. Strings from supplementary/alternate files (strp_sup, GNU_strp_alt)
 * cannot be resolved and read as ''. `implicitConst` is the abbreviation's value for implicit_const.
 */
export function readForm(r: Reader, form: number, c: FormContext, implicitConst = 0): FormValue {
  switch (form) {
    case DW_FORM.addr: return r.uN(c.addressSize);
    case DW_FORM.data1: case DW_FORM.ref1: return r.u8();
    case DW_FORM.data2: case DW_FORM.ref2: return r.u16();
    case DW_FORM.data4: case DW_FORM.ref4: case DW_FORM.ref_sup4: return r.u32();
    case DW_FORM.data8: case DW_FORM.ref8: case DW_FORM.ref_sig8: case DW_FORM.ref_sup8: return r.u64();
    case DW_FORM.data16: return block(r, 16);
    case DW_FORM.sdata: return r.sleb();
    case DW_FORM.udata: case DW_FORM.ref_udata: return r.uleb();
    case DW_FORM.string: return r.cstr();
    case DW_FORM.strp: return stringAt(c.debugStr, r.uN(c.offsetSize), '.debug_str');
    case DW_FORM.line_strp: return stringAt(c.debugLineStr, r.uN(c.offsetSize), '.debug_line_str');
    case DW_FORM.strp_sup: case DW_FORM.GNU_strp_alt: r.uN(c.offsetSize); return '';
    case DW_FORM.strx: case DW_FORM.GNU_str_index: return indexedString(c, r.uleb());
    case DW_FORM.strx1: return indexedString(c, r.u8());
    case DW_FORM.strx2: return indexedString(c, r.u16());
    case DW_FORM.strx3: return indexedString(c, r.u24());
    case DW_FORM.strx4: return indexedString(c, r.u32());
    case DW_FORM.addrx: case DW_FORM.GNU_addr_index: return indexedAddress(c, r.uleb());
    case DW_FORM.addrx1: return indexedAddress(c, r.u8());
    case DW_FORM.addrx2: return indexedAddress(c, r.u16());
    case DW_FORM.addrx3: return indexedAddress(c, r.u24());
    case DW_FORM.addrx4: return indexedAddress(c, r.u32());
    case DW_FORM.ref_addr: return r.uN(c.version <= 2 ? c.addressSize : c.offsetSize);
    case DW_FORM.sec_offset: case DW_FORM.GNU_ref_alt: return r.uN(c.offsetSize);
    case DW_FORM.flag: return r.u8() !== 0;
    case DW_FORM.flag_present: return true;
    case DW_FORM.implicit_const: return implicitConst;
    case DW_FORM.loclistx: case DW_FORM.rnglistx: return r.uleb();
    case DW_FORM.block1: return block(r, r.u8());
    case DW_FORM.block2: return block(r, r.u16());
    case DW_FORM.block4: return block(r, r.u32());
    case DW_FORM.block: case DW_FORM.exprloc: return block(r, r.uleb());
    case DW_FORM.indirect: return readForm(r, r.uleb(), c, implicitConst);
    default: throw new DwarfError(`unknown attribute form 0x${form.toString(16)} at offset 0x${r.pos.toString(16)}`);
  }
}

function block(r: Reader, n: number): Uint8Array {
  const s = r.sub(n);
  return s.bytes.subarray(s.pos, s.end);
}

function indexedString(c: FormContext, index: number): string {
  if (!c.debugStrOffsets) throw new DwarfError('an indexed string (DW_FORM_strx) but no .debug_str_offsets section');
  const r = new Reader(c.debugStrOffsets, (c.strOffsetsBase ?? 8) + index * c.offsetSize, c.debugStrOffsets.length, '.debug_str_offsets');
  return stringAt(c.debugStr, r.uN(c.offsetSize), '.debug_str');
}

function indexedAddress(c: FormContext, index: number): number {
  if (!c.debugAddr) throw new DwarfError('an indexed address (DW_FORM_addrx) but no .debug_addr section');
  const r = new Reader(c.debugAddr, (c.addrBase ?? 8) + index * c.addressSize, c.debugAddr.length, '.debug_addr');
  return r.uN(c.addressSize);
}
