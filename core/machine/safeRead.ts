/*
 * Reading a file named inside a source (`%include`, `incbin`, `.include`) from the assembler, the
 * linter, the language server or the CLI: only a regular file of a sane size is read, so that a
 * path to a FIFO, a terminal, /dev/zero or a huge file is "not found" instead of a hang.
 */
import * as fs from 'node:fs';

/** Biggest included file read (bytes). */
export const MAX_INCLUDE_BYTES = 64 * 1024 * 1024;

/** The text of `file` when it is a regular file no larger than the limit; otherwise undefined. */
export function readIncludeText(file: string): string | undefined {
  return readSane(file, (f) => fs.readFileSync(f, 'utf8'));
}

/** The bytes of `file` (`incbin`) under the same rule as readIncludeText. */
export function readIncludeBytes(file: string): Uint8Array | undefined {
  return readSane(file, (f) => new Uint8Array(fs.readFileSync(f)));
}

function readSane<T>(file: string, read: (file: string) => T): T | undefined {
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > MAX_INCLUDE_BYTES) return undefined;
    return read(file);
  } catch {
    return undefined;
  }
}

/** Largest disk image or Multiboot module read (bytes): far above a teaching kernel's disk, below what exhausts memory. */
export const MAX_IMAGE_BYTES = 1024 * 1024 * 1024;

/**
 * The bytes of a disk image or a Multiboot module: a regular file no larger than MAX_IMAGE_BYTES,
 * else an Error saying why in words (`popek run --disk /dev/zero` read for ever).
 */
export function readImageFile(file: string): Uint8Array {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message, { cause: e });
  }
  if (st.isDirectory()) throw new Error('it is a directory');
  if (!st.isFile()) throw new Error('it is not a regular file (a device, a pipe or a socket)');
  if (st.size > MAX_IMAGE_BYTES) throw new Error(`too large (${(st.size / 1048576).toFixed(0)} MiB; the limit is ${MAX_IMAGE_BYTES / 1048576} MiB)`);
  return new Uint8Array(fs.readFileSync(file));
}

/** Whether `file` is a regular file (what readIncludeText would read). */
export function isRegularFile(file: string): boolean {
  try { return fs.statSync(file).isFile(); } catch { return false; }
}
