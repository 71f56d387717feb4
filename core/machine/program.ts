/*
 * Turns a guest program file into a loadable image: NASM-syntax (or AT&T) source through core/asm's
 * in-process assembler, or a raw flat binary (.bin, .img, .raw; .elf is not supported). Nothing
 * outside the process (no installed nasm) is used: when assembly fails, the assembler's own
 * diagnostics are the error, as `file:line:col: error: message`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assemble } from '../asm';
import type { Diagnostic } from '../asm/ast';

export interface Program {
  bytes: Uint8Array;
  /** Address of the first byte (nasm `org`). */
  origin: number;
  /** Entry point when the image has no Multiboot header. */
  entry: number;
  /** How the image was produced. */
  via: 'assembler' | 'binary';
  /** Assembler warnings (errors throw). */
  diagnostics: Diagnostic[];
}

export class ProgramError extends Error {
  constructor(message: string, readonly diagnostics: Diagnostic[] = []) { super(message); }
}

const BINARY_EXTENSIONS = new Set(['.bin', '.img', '.raw']);

/** `file:line:col: severity: message` (1-based; the included file when the diagnostic is in one). */
export function formatDiagnostic(file: string, d: Diagnostic): string {
  return `${d.file ?? file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity}: ${d.message}`;
}

export function assembleProgram(fileName: string, text: string, defaultOrigin = 0x100000): Program {
  const result = assemble(fileName, text, {
    origin: defaultOrigin,
    readFile: (p, from) => {
      const full = path.resolve(path.dirname(from), p);
      try { return fs.readFileSync(full, 'utf8'); } catch { return undefined; }
    },
  });
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new ProgramError(errors.map((d) => formatDiagnostic(fileName, d)).join('\n'), result.diagnostics);
  if (result.bytes.length === 0) throw new ProgramError(`${fileName}:1:1: error: the program assembles to no bytes (nothing to run)`, result.diagnostics);
  return { bytes: result.bytes, origin: result.origin, entry: result.entry, via: 'assembler', diagnostics: result.diagnostics };
}

/** Reads a program file: raw binaries by extension, NASM-syntax source otherwise. */
export function loadProgramFile(file: string, defaultOrigin = 0x100000): Program {
  let data: Buffer;
  try { data = fs.readFileSync(file); } catch (e) { throw new ProgramError(`cannot read ${file}: ${(e as Error).message}`); }
  if (BINARY_EXTENSIONS.has(path.extname(file).toLowerCase())) {
    return { bytes: new Uint8Array(data), origin: defaultOrigin, entry: defaultOrigin, via: 'binary', diagnostics: [] };
  }
  return assembleProgram(file, data.toString('utf8'), defaultOrigin);
}
