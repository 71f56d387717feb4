/*
 * Turns a guest program file into a loadable image: NASM-syntax source through core/asm's
 * assembler, or a raw flat binary (.bin, .img, .elf is not supported).
 *
 * Until the in-process assembler produces code, source that it leaves empty (no bytes, no
 * diagnostics) is assembled with an installed `nasm -f bin` instead, so runs work meanwhile.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
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
  via: 'assembler' | 'nasm' | 'binary';
  /** Assembler warnings (errors throw). */
  diagnostics: Diagnostic[];
}

export class ProgramError extends Error {
  constructor(message: string, readonly diagnostics: Diagnostic[] = []) { super(message); }
}

const BINARY_EXTENSIONS = new Set(['.bin', '.img', '.raw']);

function formatDiagnostic(file: string, d: Diagnostic): string {
  return `${file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity}: ${d.message}`;
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
  if (result.bytes.length > 0 || result.sourceMap.length > 0 || result.labels.length > 0) {
    return { bytes: result.bytes, origin: result.origin, entry: result.entry, via: 'assembler', diagnostics: result.diagnostics };
  }
  return assembleWithNasm(fileName, text, defaultOrigin);
}

function assembleWithNasm(fileName: string, text: string, defaultOrigin: number): Program {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-'));
  try {
    const src = path.join(dir, 'in.asm'), out = path.join(dir, 'out.bin');
    fs.writeFileSync(src, text);
    try {
      execFileSync('nasm', ['-f', 'bin', '-I', path.dirname(path.resolve(fileName)) + path.sep, '-o', out, src], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      const stderr = (e as { stderr?: Buffer }).stderr?.toString() ?? String(e);
      throw new ProgramError(stderr.replaceAll(src, fileName).trim() || `cannot assemble ${fileName}`);
    }
    const org = /^\s*org\s+([0-9a-fx]+h?)/im.exec(text);
    const origin = org ? parseNumber(org[1]) ?? defaultOrigin : defaultOrigin;
    return { bytes: new Uint8Array(fs.readFileSync(out)), origin, entry: origin, via: 'nasm', diagnostics: [] };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function parseNumber(s: string): number | undefined {
  const t = s.toLowerCase();
  const n = t.endsWith('h') ? parseInt(t.slice(0, -1), 16) : Number(t);
  return Number.isFinite(n) ? n : undefined;
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
