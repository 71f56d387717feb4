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

/** Whether `file` is a regular file (what readIncludeText would read). */
export function isRegularFile(file: string): boolean {
  try { return fs.statSync(file).isFile(); } catch { return false; }
}
