/*
 * ELF32 little-endian i386 files (System V ABI, Intel386 supplement): the file header, the program
 * headers (what a loader copies where), and the section headers with their names (what the debugger
 * reads symbols and DWARF from). Every offset read from the file is bounds-checked: a truncated or
 * corrupt file gives an ElfError that says what is wrong, never a RangeError from a DataView.
 */

export class ElfError extends Error {}

/** e_type values. */
export const ET_REL = 1, ET_EXEC = 2, ET_DYN = 3, ET_CORE = 4;
/** e_machine value for Intel 80386. */
export const EM_386 = 3;
/** p_type values. */
export const PT_NULL = 0, PT_LOAD = 1, PT_DYNAMIC = 2, PT_INTERP = 3, PT_NOTE = 4, PT_PHDR = 6, PT_GNU_STACK = 0x6474e551;
/** p_flags bits. */
export const PF_X = 1, PF_W = 2, PF_R = 4;
/** sh_type values. */
export const SHT_NULL = 0, SHT_PROGBITS = 1, SHT_SYMTAB = 2, SHT_STRTAB = 3, SHT_NOBITS = 8;
/** sh_flags bits. */
export const SHF_WRITE = 1, SHF_ALLOC = 2, SHF_EXECINSTR = 4;

const EHDR_SIZE = 52, PHDR_SIZE = 32, SHDR_SIZE = 40;
/** Extended section numbering (gABI): the real count / string-table index live in section 0. */
const SHN_XINDEX = 0xffff;

export interface ElfHeader {
  type: number;
  machine: number;
  version: number;
  entry: number;
  phoff: number;
  shoff: number;
  flags: number;
  ehsize: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

export interface ProgramHeader {
  index: number;
  type: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  /** PF_R | PF_W | PF_X. */
  flags: number;
  align: number;
}

export interface SectionHeader {
  index: number;
  /** From the section-header string table ('' when it has none). */
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface Elf32File {
  bytes: Uint8Array;
  header: ElfHeader;
  programHeaders: ProgramHeader[];
  sections: SectionHeader[];
  /** The first section with this name. */
  section(name: string): SectionHeader | undefined;
  /** The file bytes of a section (a view, not a copy); empty for SHT_NOBITS; undefined if absent. */
  sectionBytes(name: string): Uint8Array | undefined;
  /** The file bytes of a section header; throws ElfError when they lie outside the file. */
  bytesOf(s: SectionHeader): Uint8Array;
}

const MACHINES: Record<number, string> = {
  2: 'SPARC', 3: 'i386', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 22: 's390', 40: 'ARM', 43: 'SPARC64',
  50: 'IA-64', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V', 258: 'LoongArch',
};
const TYPES: Record<number, string> = { 0: 'ET_NONE', 1: 'ET_REL', 2: 'ET_EXEC', 3: 'ET_DYN', 4: 'ET_CORE' };

export function machineName(machine: number): string {
  return MACHINES[machine] ?? `machine ${machine}`;
}

/** True when the bytes start with the ELF magic (\x7fELF), whatever the class or machine. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

export interface ParseOptions {
  /** e_type values accepted (default: executables only, what a loader and debugger take). */
  types?: readonly number[];
}

/** Parses and validates an ELF32 little-endian i386 file. */
export function parseElf32(bytes: Uint8Array, options: ParseOptions = {}): Elf32File {
  if (!isElf(bytes)) throw new ElfError('not an ELF file (no \\x7fELF magic at the start)');
  if (bytes.length < 20) throw new ElfError(`truncated ELF file: ${bytes.length} bytes, shorter than the identification`);
  const cls = bytes[4], data = bytes[5];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // e_machine sits at offset 18 in both classes and both byte orders' first byte decides how to read it.
  const machine = data === 2 ? dv.getUint16(18, false) : dv.getUint16(18, true);
  if (cls === 2) throw new ElfError(`ELF64 ${machineName(machine)} file: Popek runs 32-bit kernels (link with ld -m elf_i386, compile with gcc -m32)`);
  if (cls !== 1) throw new ElfError(`ELF file of unknown class ${cls} (EI_CLASS): expected ELF32`);
  if (data === 2) throw new ElfError(`big-endian ELF32 ${machineName(machine)} file: Popek runs little-endian i386 kernels`);
  if (data !== 1) throw new ElfError(`ELF32 file with unknown byte order ${data} (EI_DATA): expected little-endian`);
  if (machine !== EM_386) throw new ElfError(`ELF32 ${machineName(machine)} file: Popek runs i386 (32-bit x86) kernels`);
  if (bytes.length < EHDR_SIZE) throw new ElfError(`truncated ELF file: ${bytes.length} bytes, shorter than the 52-byte ELF32 header`);

  const u16 = (o: number) => dv.getUint16(o, true), u32 = (o: number) => dv.getUint32(o, true);
  const header: ElfHeader = {
    type: u16(16), machine, version: u32(20), entry: u32(24), phoff: u32(28), shoff: u32(32), flags: u32(36),
    ehsize: u16(40), phentsize: u16(42), phnum: u16(44), shentsize: u16(46), shnum: u16(48), shstrndx: u16(50),
  };
  const types = options.types ?? [ET_EXEC];
  if (!types.includes(header.type)) throw new ElfError(typeError(header.type));

  const programHeaders = readProgramHeaders(bytes, dv, header);
  const sections = readSectionHeaders(bytes, dv, header);
  const bytesOf = (s: SectionHeader): Uint8Array => {
    if (s.type === SHT_NOBITS) return bytes.subarray(0, 0);
    if (s.offset > bytes.length || s.size > bytes.length - s.offset) {
      throw new ElfError(`section ${s.name || `[${s.index}]`}: bytes 0x${s.offset.toString(16)}+0x${s.size.toString(16)} lie beyond the end of the file (${bytes.length} bytes)`);
    }
    return bytes.subarray(s.offset, s.offset + s.size);
  };
  const section = (name: string) => sections.find((s) => s.name === name);
  return {
    bytes, header, programHeaders, sections, section, bytesOf,
    sectionBytes: (name) => { const s = section(name); return s && bytesOf(s); },
  };
}

function typeError(type: number): string {
  const name = TYPES[type] ?? `type ${type}`;
  if (type === ET_REL) return `ELF32 relocatable object (${name}), not an executable: link it first (ld -m elf_i386 -T link.ld …)`;
  if (type === ET_DYN) return `ELF32 position-independent executable or shared object (${name}): link the kernel as a fixed-address executable (ld -m elf_i386 without -pie, gcc -fno-pic)`;
  if (type === ET_CORE) return `ELF32 core dump (${name}), not a kernel`;
  return `ELF32 file of ${name}: expected an executable (ET_EXEC)`;
}

function readProgramHeaders(bytes: Uint8Array, dv: DataView, h: ElfHeader): ProgramHeader[] {
  if (h.phnum === 0) return [];
  if (h.phentsize < PHDR_SIZE) throw new ElfError(`ELF header: program header entries of ${h.phentsize} bytes (e_phentsize), expected ${PHDR_SIZE}`);
  if (h.phoff > bytes.length || h.phnum * h.phentsize > bytes.length - h.phoff) {
    throw new ElfError(`truncated ELF file: ${h.phnum} program headers at 0x${h.phoff.toString(16)} run past the end of the file (${bytes.length} bytes)`);
  }
  const out: ProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const o = h.phoff + i * h.phentsize, u = (k: number) => dv.getUint32(o + 4 * k, true);
    const ph: ProgramHeader = { index: i, type: u(0), offset: u(1), vaddr: u(2), paddr: u(3), filesz: u(4), memsz: u(5), flags: u(6), align: u(7) };
    if (ph.type === PT_LOAD) {
      if (ph.filesz > ph.memsz) throw new ElfError(`program header ${i} (LOAD): file size 0x${ph.filesz.toString(16)} exceeds memory size 0x${ph.memsz.toString(16)}`);
      if (ph.offset > bytes.length || ph.filesz > bytes.length - ph.offset) {
        throw new ElfError(`truncated ELF file: program header ${i} (LOAD) has bytes 0x${ph.offset.toString(16)}+0x${ph.filesz.toString(16)} beyond the end of the file (${bytes.length} bytes)`);
      }
    }
    out.push(ph);
  }
  return out;
}

function readSectionHeaders(bytes: Uint8Array, dv: DataView, h: ElfHeader): SectionHeader[] {
  if (h.shoff === 0) return [];
  if (h.shentsize < SHDR_SIZE) throw new ElfError(`ELF header: section header entries of ${h.shentsize} bytes (e_shentsize), expected ${SHDR_SIZE}`);
  const at = (i: number) => h.shoff + i * h.shentsize;
  const fits = (n: number) => h.shoff <= bytes.length && n * h.shentsize <= bytes.length - h.shoff;
  if (!fits(1)) throw new ElfError(`truncated ELF file: the section headers at 0x${h.shoff.toString(16)} lie beyond the end of the file (${bytes.length} bytes)`);
  let count = h.shnum, strndx = h.shstrndx;
  if (count === 0) count = dv.getUint32(at(0) + 20, true);
  if (strndx === SHN_XINDEX) strndx = dv.getUint32(at(0) + 24, true);
  if (!fits(count)) throw new ElfError(`truncated ELF file: ${count} section headers at 0x${h.shoff.toString(16)} run past the end of the file (${bytes.length} bytes)`);
  const out: SectionHeader[] = [], nameOffsets: number[] = [];
  for (let i = 0; i < count; i++) {
    const o = at(i), u = (k: number) => dv.getUint32(o + 4 * k, true);
    nameOffsets.push(u(0));
    out.push({ index: i, name: '', type: u(1), flags: u(2), addr: u(3), offset: u(4), size: u(5), link: u(6), info: u(7), addralign: u(8), entsize: u(9) });
  }
  if (strndx !== 0 && count > 0) {
    if (strndx >= count) throw new ElfError(`ELF header: section-name string table index ${strndx} (e_shstrndx) is past the ${count} sections`);
    const st = out[strndx];
    if (st.offset > bytes.length || st.size > bytes.length - st.offset) {
      throw new ElfError(`truncated ELF file: the section-name string table (0x${st.offset.toString(16)}+0x${st.size.toString(16)}) lies beyond the end of the file`);
    }
    const table = bytes.subarray(st.offset, st.offset + st.size);
    for (const s of out) s.name = cString(table, nameOffsets[s.index], 'section name');
  }
  return out;
}

/** The NUL-terminated string at `offset` of a string table; ElfError when it runs off the table. */
export function cString(table: Uint8Array, offset: number, what = 'string'): string {
  if (offset >= table.length) {
    if (offset === 0) return '';
    throw new ElfError(`${what} at offset ${offset} is outside its string table (${table.length} bytes)`);
  }
  const end = table.indexOf(0, offset);
  if (end < 0) throw new ElfError(`${what} at offset ${offset} is not NUL-terminated within its string table`);
  return utf8.decode(table.subarray(offset, end));
}

const utf8 = new TextDecoder('utf-8');

/** One piece of a kernel image as a loader places it: `bytes` at `paddr`, then zeros up to `memsz`. */
export interface LoadSegment {
  paddr: number;
  vaddr: number;
  bytes: Uint8Array;
  memsz: number;
  flags: number;
}

/**
 * The PT_LOAD segments with a non-zero memory size, in file order, as GRUB and QEMU `-kernel` load a
 * Multiboot ELF: at the physical address (p_paddr), with the bytes past p_filesz zeroed (BSS).
 */
export function loadSegments(elf: Elf32File): LoadSegment[] {
  return elf.programHeaders
    .filter((p) => p.type === PT_LOAD && p.memsz > 0)
    .map((p) => ({ paddr: p.paddr, vaddr: p.vaddr, bytes: elf.bytes.subarray(p.offset, p.offset + p.filesz), memsz: p.memsz, flags: p.flags }));
}
