/*
 * Files the command line reads and writes. Whatever path a user passes, the answer is one line and
 * a documented exit status, never a hang or a stack: only regular files are read (a FIFO, a terminal
 * or /dev/zero would block or never end), up to a size limit, and source text must be text
 * ("not assembly text" otherwise). Output files are written to a temporary file next to the target
 * and renamed over it, so an interrupted or failed write never leaves half a file.
 */
import * as buffer from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliError } from './cliSupport';

/** Exit statuses of `popek` (README, "Command line"). Popek's own are even: a guest's isa-debug-exit status is odd. */
export const EXIT = {
  ok: 0,
  /** The input has errors (lint errors, assembly errors, a program that cannot be loaded). */
  problems: 1,
  /** Bad command line, or an input file that cannot be used (missing, a directory, a device, binary, too large). */
  usage: 2,
  /** The output file cannot be written. */
  output: 4,
  /** `run`: the instruction limit ended the guest (as timeout(1)). */
  limit: 124,
  /** `run`: the guest used a part of the x86 Popek does not model (virtual-8086 mode, task switching, real mode). */
  unmodelled: 6,
  /** A bug in popek, or the guest's run ended in an internal error. */
  internal: 70,
} as const;

/** Biggest input file read (bytes): far above any real guest source, far below what exhausts memory. */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

function describe(st: fs.Stats): string {
  if (st.isDirectory()) return 'is a directory';
  if (st.isFIFO()) return 'is a pipe, not a file';
  if (st.isSocket()) return 'is a socket, not a file';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'is a device, not a file';
  return 'is not a regular file';
}

/** Checks that `file` is a readable regular file of a sane size; throws the one-line reason. */
export function checkInputFile(file: string, verb = 'cannot read'): fs.Stats {
  if (file === '') throw new CliError(`${verb} '': an empty file name`, EXIT.usage);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'ENOTDIR' ? 'a part of the path is not a directory'
      : code === 'ENAMETOOLONG' ? 'the name is too long' : code === 'ELOOP' ? 'too many symbolic links' : (e as Error).message;
    throw new CliError(`${verb} ${file}: ${why}`, EXIT.usage);
  }
  if (!st.isFile()) throw new CliError(`${verb} ${file}: it ${describe(st)}`, EXIT.usage);
  if (st.size > MAX_INPUT_BYTES) throw new CliError(`${verb} ${file}: too large (${(st.size / 1048576).toFixed(1)} MiB; the limit is ${MAX_INPUT_BYTES / 1048576} MiB)`, EXIT.usage);
  return st;
}

/** The bytes of a regular input file (see checkInputFile). */
export function readInputBytes(file: string, verb = 'cannot read'): Buffer {
  checkInputFile(file, verb);
  try {
    const data = fs.readFileSync(file);
    if (data.length > MAX_INPUT_BYTES) throw new CliError(`${verb} ${file}: too large (the limit is ${MAX_INPUT_BYTES / 1048576} MiB)`, EXIT.usage);
    return data;
  } catch (e) {
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(`${verb} ${file}: ${code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message}`, EXIT.usage);
  }
}

/** buffer.isUtf8 (Node ≥ 18.14). */
const checkUtf8 = (buffer as { isUtf8?: (input: Uint8Array) => boolean }).isUtf8;

/**
 * Why `data` is not source text, or undefined when it is: a NUL byte, invalid UTF-8, or more
 * control characters than a text file has (tab, line breaks, form feed and escape are text).
 */
export function notTextReason(data: Uint8Array): string | undefined {
  if (data.includes(0)) return 'it contains NUL bytes';
  if (!isUtf8(data)) return 'it is not UTF-8';
  // (an indexed loop: the first pass over a big file runs before the JIT, where an iterator costs 10×)
  let control = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if ((b < 0x20 && b !== 9 && b !== 10 && b !== 13 && b !== 12 && b !== 11 && b !== 27) || b === 0x7f) control++;
  }
  if (control > 8 && control * 100 > data.length) return 'it has control characters';
  return undefined;
}

/** Whether `data` is valid UTF-8: Node's own check (no string made) where it has one. */
function isUtf8(data: Uint8Array): boolean {
  if (typeof checkUtf8 === 'function') return checkUtf8(data);
  // (made only here: a TextDecoder costs ≈ 0.15 ms of every start)
  try { new TextDecoder('utf-8', { fatal: true }).decode(data); return true; } catch { return false; }
}

/** The text of an assembly source file; refuses binary files ("not assembly text"). */
export function readSourceText(file: string, verb = 'cannot read'): string {
  const data = readInputBytes(file, verb);
  const why = notTextReason(data);
  if (why) throw new CliError(`${file}: not assembly text (${why})`, EXIT.usage);
  return data.toString('utf8');
}

/**
 * Writes `data` to `out` atomically: a temporary file in the same directory, then a rename over
 * the target (a reader sees the old file or the new one, never half of one). Keeps the mode of a
 * file it replaces.
 */
export function writeOutputAtomically(out: string, data: string | Uint8Array): void {
  if (out === '') throw new CliError('cannot write \'\': an empty file name', EXIT.usage);
  let mode: number | undefined;
  try {
    const st = fs.statSync(out);
    if (st.isDirectory()) throw new CliError(`cannot write ${out}: it is a directory`, EXIT.output);
    if (!st.isFile()) throw new CliError(`cannot write ${out}: it ${describe(st)}`, EXIT.output);
    mode = st.mode & 0o7777;
  } catch (e) {
    if (e instanceof CliError) throw e;
    // ENOENT: a new file.
  }
  const dir = path.dirname(path.resolve(out));
  const tmp = path.join(dir, `.${path.basename(out)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  try {
    fs.writeFileSync(tmp, data, { flag: 'wx', mode: mode ?? 0o666 });
    if (mode !== undefined) fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, out);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch { /* not created */ }
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOSPC' ? 'no space left on the device'
      : code === 'EROFS' ? 'read-only file system' : (e as Error).message;
    throw new CliError(`cannot write ${out}: ${why}`, EXIT.output);
  }
}
