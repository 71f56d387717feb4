/*
 * Assembly data labels of an ELF kernel as variables. nasm -f elf32 types a data label as OBJECT
 * (with a size) only when it is local or declared `global name:data size`; a plain `global name`
 * label — and GNU as labels without `.type`/`.size` — stays NOTYPE with size 0, and DWARF says
 * nothing about it. Such a label in an allocated, non-executable section (.data, .rodata, .bss) names
 * the bytes from it up to the next symbol of its section, or to the section's end.
 */
import { SHF_ALLOC, SHF_EXECINSTR, type SectionHeader } from '../elf/elf32';
import type { ElfSymbol } from './symbols';

export interface DataLabel { name: string; address: number; size: number }

/**
 * The NOTYPE labels that name data, sized to the next symbol. Not variables: labels inside code,
 * absolute values (`equ`), NASM's local labels (`banner.end`: the dot joins them to their parent,
 * they mark a place inside it), labels at their section's end (`stack_top:`) and the linker's
 * boundary symbols (`_edata`, `__bss_start`), which name no byte of their section.
 */
export function dataLabels(symbols: readonly ElfSymbol[], sections: readonly SectionHeader[]): DataLabel[] {
  const inSection = new Map<number, number[]>();
  for (const s of symbols) {
    if (s.name === '' || s.shndx === 0 || s.shndx >= 0xff00 || s.type === 'section' || s.type === 'file') continue;
    let list = inSection.get(s.shndx);
    if (!list) inSection.set(s.shndx, list = []);
    list.push(s.address >>> 0);
  }
  for (const list of inSection.values()) list.sort((a, b) => a - b);
  const out: DataLabel[] = [];
  for (const s of symbols) {
    if (s.type !== 'notype' || s.name === '' || s.name.includes('.')) continue;
    const sec = sections[s.shndx];
    if (!sec || s.shndx >= 0xff00 || (sec.flags & SHF_ALLOC) === 0 || (sec.flags & SHF_EXECINSTR) !== 0) continue;
    const address = s.address >>> 0, start = sec.addr >>> 0, end = start + sec.size;
    if (address < start || address >= end) continue;
    const next = inSection.get(s.shndx)!.find((a) => a > address) ?? end;
    out.push({ name: s.name, address, size: Math.min(next, end) - address });
  }
  return out;
}
