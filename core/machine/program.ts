/*
 * Turns a guest program file into a loadable image, by what the file contains (its name only ever
 * makes a refusal clearer):
 *
 *   - an ELF file: a Multiboot ELF32 kernel (the machine loads its segments, core/machine/elfKernel.ts);
 *   - other binary data: a flat image — with a Multiboot header in its first 8 KiB it says itself
 *     where it goes; otherwise at the load address given (`--load-address`, launch `loadAddress`),
 *     by default 1 MiB. A real-mode boot sector or a PE file without a load address is refused with
 *     what it is, and so is binary data in a file named as source (.gasm, .asm, .s …);
 *   - text: NASM-syntax source through core/asm's in-process assembler (nothing outside the process,
 *     no installed nasm: when assembly fails, the assembler's diagnostics are the error, as
 *     `file:line:col: error: message`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assemble } from '../asm';
import type { Diagnostic } from '../asm/ast';
import { isElf } from '../elf/elf32';
import { findMultibootHeader } from './multiboot';
import { readIncludeText } from './safeRead';

export interface Program {
  bytes: Uint8Array;
  /** Address of the first byte (nasm `org`). */
  origin: number;
  /** Entry point when the image has no Multiboot header. */
  entry: number;
  /** How the image was produced: assembled from source, a flat binary, or an ELF kernel. */
  via: 'assembler' | 'binary' | 'elf';
  /** Assembler warnings (errors throw). */
  diagnostics: Diagnostic[];
}

export class ProgramError extends Error {
  constructor(message: string, readonly diagnostics: Diagnostic[] = []) { super(message); }
}

/** `file:line:col: severity: message` (1-based; the included file when the diagnostic is in one). */
export function formatDiagnostic(file: string, d: Diagnostic): string {
  return `${d.file ?? file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity}: ${d.message}`;
}

export function assembleProgram(fileName: string, text: string, defaultOrigin = 0x100000): Program {
  const result = assemble(fileName, text, {
    origin: defaultOrigin,
    readFile: (p, from) => {
      const full = path.resolve(path.dirname(from), p);
      return readIncludeText(full);
    },
  });
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new ProgramError(errors.map((d) => formatDiagnostic(fileName, d)).join('\n'), result.diagnostics);
  if (result.bytes.length === 0) throw new ProgramError(`${fileName}:1:1: error: the program assembles to no bytes (nothing to run)`, result.diagnostics);
  return { bytes: result.bytes, origin: result.origin, entry: result.entry, via: 'assembler', diagnostics: result.diagnostics };
}

export interface ProgramFileOptions {
  /** Where a flat image without a Multiboot header goes (and starts); default 1 MiB. */
  loadAddress?: number;
}

/** Reads a program file and makes it loadable, by content (see the top of this file). */
export function loadProgramFile(file: string, options: ProgramFileOptions = {}): Program {
  let data: Buffer;
  try { data = fs.readFileSync(file); } catch (e) { throw new ProgramError(`cannot read ${file}: ${(e as Error).message}`); }
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const image = imageProgram(file, bytes, options);
  if (image) return image;
  const text = data.toString('utf8');
  try {
    return assembleProgram(file, text, options.loadAddress ?? DEFAULT_LOAD_ADDRESS);
  } catch (e) {
    if (e instanceof ProgramError && looksLikeGas(text)) {
      throw new ProgramError(`${file}: this looks like GNU as (AT&T syntax) source, which Popek does not assemble: ` +
        'build it with gcc/as and ld -m elf_i386 and run the ELF kernel\n' + e.message, e.diagnostics);
    }
    throw e;
  }
}

const DEFAULT_LOAD_ADDRESS = 0x100000;

/**
 * The program for a file's bytes when they are an image (ELF or binary data), undefined when they
 * are text (source to assemble). Throws ProgramError for an image nothing here can boot.
 */
export function imageProgram(file: string, bytes: Uint8Array, options: ProgramFileOptions = {}): Program | undefined {
  const origin = options.loadAddress ?? DEFAULT_LOAD_ADDRESS;
  if (isElf(bytes)) return { bytes, origin, entry: origin, via: 'elf', diagnostics: [] };
  if (!looksBinary(bytes)) return undefined;
  if (bytes.length === 0) throw new ProgramError(`${file} is empty: nothing to run`);
  if (!findMultibootHeader(bytes) && options.loadAddress === undefined) {
    const what = unbootable(bytes);
    if (what) throw new ProgramError(`${file}: ${what}`);
    // A source file's name with binary content is more likely a mistake than a flat image.
    if (SOURCE_EXTENSIONS.test(file)) {
      throw new ProgramError(`${file} is not assembly source (it contains binary data) and is not a kernel (no ELF magic, no Multiboot ` +
        'header in the first 8 KiB): to run it as a flat image give its load address (--load-address, launch attribute loadAddress)');
    }
  }
  return { bytes, origin, entry: origin, via: 'binary', diagnostics: [] };
}

const SOURCE_EXTENSIONS = /\.(gasm|asm|nasm|inc|s)$/i;

/** What a binary without a Multiboot header is, when it is something Popek cannot boot as a flat image. */
function unbootable(b: Uint8Array): string | undefined {
  if (b[0] === 0x4d && b[1] === 0x5a) {
    const pe = b.length >= 0x40 ? (b[0x3c] | (b[0x3d] << 8) | (b[0x3e] << 16)) : -1;
    const isPe = pe > 0 && pe + 4 <= b.length && b[pe] === 0x50 && b[pe + 1] === 0x45 && b[pe + 2] === 0 && b[pe + 3] === 0;
    return `${isPe ? 'a PE file (Windows or UEFI executable)' : 'an MZ (DOS) executable'} with no Multiboot header in the first 8 KiB: ` +
      'Popek boots Multiboot kernels (link with ld -m elf_i386 -T linker.ld) or flat images given a load address';
  }
  if (b.length >= 512 && b.length <= 2880 * 1024 && b[510] === 0x55 && b[511] === 0xaa) {
    return 'a real-mode boot sector (0x55AA at 510): real-mode boot sectors are not modelled yet — Popek starts ' +
      'kernels in 32-bit protected mode as a Multiboot loader does (give a load address to run it as a flat 32-bit image anyway)';
  }
  return undefined;
}

/** NUL bytes, invalid UTF-8 or many control characters in the first 64 KiB: not text. */
export function looksBinary(data: Uint8Array): boolean {
  const n = Math.min(data.length, 65536);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(0, n), { stream: n < data.length });
  } catch {
    return true;
  }
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = data[i];
    if (b === 0) return true;
    if (b < 9 || (b > 13 && b < 32)) control++;
  }
  return control > n / 100;
}

/** AT&T-syntax tells: %-registers, GAS directives at the start of a line. */
function looksLikeGas(text: string): boolean {
  return /%(e?[abcd]x|e?[sd]i|e?[sb]p|[c-gs]s|cr[0-4])\b/.test(text) && /^\s*\.(globl|global|section|text|code32|long|align|set|type)\b/m.test(text);
}
