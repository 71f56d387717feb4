/*
 * What the commands print. Run as `popek` (cli/popek.ts calls `writeDirectly`): synchronous writes
 * to file descriptors 1 and 2, not through process.stdout / process.stderr, whose creation loads
 * Node's stream machinery (twenty internal modules: a few ms of every `popek` call, a good part of a
 * short command's own start-up); a write here is one system call. Order with any stream write is
 * kept: on Linux both are synchronous. A closed pipe (`popek … | head`) ends the process quietly; a
 * closed descriptor discards the text, as Node's stdio streams do; standard output on a full disk is
 * an error of the command (exit 4). A command called in-process (tests) prints through the streams.
 */
import { writeSync } from 'node:fs';
import { CliError } from './cliSupport';
import { EXIT } from './inputFile';

/** Sleeps on it for a millisecond when a non-blocking pipe is full. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/**
 * Set by `writeDirectly`, on the global object: each command is a bundle of its own (esbuild.mjs),
 * with its own copy of this module, and the dispatcher's call must reach them all.
 */
const DIRECT = Symbol.for('popek.writeDirectly');
/** Prints through the file descriptors from now on (the `popek` process itself). */
export function writeDirectly(): void { (globalThis as Record<symbol, unknown>)[DIRECT] = true; }

function writeAll(fd: number, data: string | Uint8Array): void {
  if ((globalThis as Record<symbol, unknown>)[DIRECT] !== true) { (fd === 1 ? process.stdout : process.stderr).write(data); return; }
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  for (let off = 0; off < bytes.length;) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // a pipe another process made non-blocking, and full: wait for the reader
      if (code === 'EAGAIN') { Atomics.wait(PAUSE, 0, 0, 1); continue; }
      if (code === 'EPIPE') process.exit(process.exitCode ?? 0);
      // nowhere to say it (standard error), or a closed descriptor: the text is dropped
      if (fd !== 1 || code === 'EBADF') return;
      // a full disk, a quota: the user's to fix, like an output file that cannot be written
      throw new CliError(`cannot write to standard output: ${code ?? String(e)}`, EXIT.output);
    }
  }
}

/** Writes to standard output. */
export function writeOut(data: string | Uint8Array): void { writeAll(1, data); }
/** Writes to standard error. */
export function writeErr(data: string | Uint8Array): void { writeAll(2, data); }
