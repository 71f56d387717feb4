/*
 * Multiboot 1 kernels linked as ELF32 (what `ld -m elf_i386 -T linker.ld` makes of the tutorials'
 * kernels), loaded as QEMU `-kernel` and GRUB do: the Multiboot header must sit in the first 8 KiB
 * of the file; when it sets the a.out kludge (flag bit 16) its address fields win (as in QEMU),
 * otherwise every PT_LOAD segment goes to its physical address with the rest of its memory size
 * zeroed (BSS), and the kernel starts at e_entry — translated to a physical address when it lies in
 * a segment linked at a different virtual address (higher-half kernels), as GRUB does.
 */
import { ElfError, parseElf32, loadSegments, machineName, type LoadSegment } from '../elf/elf32';
import { LoadError, checkRequiredFlags, type MultibootHeader } from './multiboot';

export interface ElfKernelPlan {
  segments: LoadSegment[];
  entry: number;
}

export function elfKernelPlan(bytes: Uint8Array, header: MultibootHeader | undefined): ElfKernelPlan {
  let elf;
  try {
    elf = parseElf32(bytes);
  } catch (e) {
    if (e instanceof ElfError) throw new LoadError(e.message);
    throw e;
  }
  if (!header) {
    throw new LoadError(`an ELF32 ${machineName(elf.header.machine)} executable with no Multiboot header in the first 8 KiB: ` +
      'QEMU -kernel and GRUB boot Multiboot kernels only (put the header, magic 0x1BADB002, in a section the linker script places first)');
  }
  checkRequiredFlags(header);
  const segments = loadSegments(elf);
  if (segments.length === 0) throw new LoadError('an ELF32 executable with no loadable (PT_LOAD) segment: nothing to run');
  let entry = elf.header.entry >>> 0;
  const inPhysical = segments.some((s) => entry >= s.paddr && entry < s.paddr + s.memsz);
  if (!inPhysical) {
    const seg = segments.find((s) => entry >= s.vaddr && entry < s.vaddr + s.memsz);
    if (seg) entry = (entry - seg.vaddr + seg.paddr) >>> 0;
  }
  return { segments, entry };
}
