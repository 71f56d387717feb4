/*
 * The Multiboot command line and modules from QEMU's own options, so a kernel is started in Popek
 * with what its users already type for QEMU: `-append "TEXT"` and `-initrd "FILE ARGS,FILE2"`.
 * QEMU hands the kernel the command line "<kernel file> <append text>" (the file name as given,
 * then a space even when there is no -append) and, for each comma-separated module, the bytes of
 * the file named by its first word with the whole item as the module's string.
 */
import type { MultibootBoot } from './firmware';
import { LoadError } from './multiboot';

/** A module that cannot be read: a load error (the debugger and the CLI report it as one). */
export class BootOptionError extends LoadError {}

/**
 * `kernelName` as the user named it; `append` and `initrd` as QEMU takes them (undefined: not given).
 * `readFile` reads a module (relative paths are the caller's to resolve); its errors become
 * BootOptionErrors naming the module.
 */
export function multibootBoot(kernelName: string, append: string | undefined, initrd: string | undefined, readFile: (file: string) => Uint8Array): MultibootBoot {
  const modules = (initrd === undefined ? [] : initrd.split(',')).map((item) => {
    const file = item.trim().split(/\s+/)[0];
    if (!file) throw new BootOptionError(`initrd: an empty module name in '${initrd}'`);
    let bytes: Uint8Array;
    try { bytes = readFile(file); } catch (e) { throw new BootOptionError(`initrd: cannot read module ${file}: ${(e as Error).message}`); }
    return { bytes, cmdline: item.trim() };
  });
  return { cmdline: `${kernelName} ${append ?? ''}`, modules };
}
