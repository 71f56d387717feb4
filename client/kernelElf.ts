/*
 * F5 on a source that is linked into a kernel (a GNU as `.S`, a NASM object with `extern`) debugs the
 * kernel: the ELF in the workspace that was built from it. Such a source cannot run on its own — it
 * is one object of several — but the ELF's debug information maps its lines, so its breakpoints hit.
 * "Built from it" = an i386 executable whose bytes name the source file: DWARF's line table (or
 * .debug_line_str) and the symbol table's FILE entries hold the source's name. Pure but for fs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Files larger than this are not read (a 32-bit kernel with debug information is a few MiB). */
const MAX_KERNEL_BYTES = 64 * 1024 * 1024;
const ET_EXEC = 2, EM_386 = 3;

/** Whether a NASM source is an object linked with others rather than a guest that runs alone. */
export function isLinkedObjectSource(text: string): boolean {
  return /^\s*extern\s+\w/im.test(text);
}

/** Whether `bytes` are an ELF32 i386 executable. */
export function isI386Executable(bytes: Uint8Array): boolean {
  return bytes.length >= 20 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46
    && bytes[4] === 1 && (bytes[16] | (bytes[17] << 8)) === ET_EXEC && (bytes[18] | (bytes[19] << 8)) === EM_386;
}

/**
 * Whether an executable names `source` (a path) as one of its files: the base name as a whole string
 * (NUL or `/` before it, NUL after), as DWARF and .strtab store it.
 */
export function namesSource(bytes: Uint8Array, source: string): boolean {
  const name = Buffer.from(path.basename(source), 'utf8');
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = buf.indexOf(name); at >= 0; at = buf.indexOf(name, at + 1)) {
    const before = at === 0 ? 0 : buf[at - 1];
    if ((before === 0 || before === 0x2f || before === 0x5c) && buf[at + name.length] === 0) return true;
  }
  return false;
}

function head(file: string): Uint8Array | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const b = Buffer.alloc(20);
    return fs.readSync(fd, b, 0, 20, 0) === 20 ? b : undefined;
  } catch { return undefined; } finally { if (fd !== undefined) fs.closeSync(fd); }
}

/**
 * Of `candidates` (paths), the i386 executables built from `source`, newest first (the one a build
 * wrote last is the one the source's current lines are in).
 */
export function kernelsBuiltFrom(source: string, candidates: readonly string[]): string[] {
  const found: Array<{ file: string; mtime: number }> = [];
  for (const file of candidates) {
    const h = head(file);
    if (!h || !isI386Executable(h)) continue;
    let stat: fs.Stats;
    try { stat = fs.statSync(file); } catch { continue; }
    if (stat.size > MAX_KERNEL_BYTES) continue;
    let bytes: Uint8Array;
    try { bytes = fs.readFileSync(file); } catch { continue; }
    if (namesSource(bytes, source)) found.push({ file, mtime: stat.mtimeMs });
  }
  return found.sort((a, b) => b.mtime - a.mtime).map((f) => f.file);
}
