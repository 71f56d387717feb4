/*
 * The ELF symbol table (.symtab with its .strtab, Elf32_Sym): functions, objects and assembly labels
 * with their sizes and sections, as `readelf -s` lists them. Kernels are linked unstripped, so this
 * is where names come from even without DWARF (nasm emits no DW_TAG_subprogram names).
 */
import { cString, ElfError, SHF_EXECINSTR, SHT_SYMTAB, type Elf32File } from '../elf/elf32';

export type SymbolType = 'notype' | 'object' | 'func' | 'section' | 'file' | 'common' | 'tls' | 'other';
export type SymbolBind = 'local' | 'global' | 'weak' | 'other';

export interface ElfSymbol {
  name: string;
  address: number;
  size: number;
  type: SymbolType;
  bind: SymbolBind;
  /** Section index (st_shndx): 0 undefined, 0xfff1 absolute, 0xfff2 common. */
  shndx: number;
  /** In an executable section (code), as opposed to data or absolute. */
  code: boolean;
}

const TYPES: SymbolType[] = ['notype', 'object', 'func', 'section', 'file', 'common', 'tls'];
const BINDS: SymbolBind[] = ['local', 'global', 'weak'];
const SYM_SIZE = 16;

/** Every entry of .symtab except the null symbol at index 0, in table order. */
export function readSymbols(elf: Elf32File): ElfSymbol[] {
  const symtab = elf.sections.find((s) => s.type === SHT_SYMTAB);
  if (!symtab) return [];
  const bytes = elf.bytesOf(symtab);
  const strSection = elf.sections[symtab.link];
  if (!strSection) throw new ElfError(`.symtab: its string table (section ${symtab.link}) does not exist`);
  const strtab = elf.bytesOf(strSection);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entSize = symtab.entsize >= SYM_SIZE ? symtab.entsize : SYM_SIZE;
  const out: ElfSymbol[] = [];
  for (let off = entSize; off + SYM_SIZE <= bytes.length; off += entSize) {
    const info = dv.getUint8(off + 12), shndx = dv.getUint16(off + 14, true);
    const sec = shndx > 0 && shndx < 0xff00 ? elf.sections[shndx] : undefined;
    out.push({
      name: cString(strtab, dv.getUint32(off, true), 'symbol name'),
      address: dv.getUint32(off + 4, true),
      size: dv.getUint32(off + 8, true),
      type: TYPES[info & 0xf] ?? 'other',
      bind: BINDS[info >> 4] ?? 'other',
      shndx,
      code: sec !== undefined && (sec.flags & SHF_EXECINSTR) !== 0,
    });
  }
  return out;
}
