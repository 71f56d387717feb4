/* Helpers to compare Popek with `nasm -f bin`: one nasm run with a listing, bytes per source line. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assemble } from '../../core/asm';
import type { AssembleOptions } from '../../core/asm/ast';
import { hex } from './support';

export function haveNasm(): boolean {
  try { execFileSync('nasm', ['-v'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** Assembles `source` with nasm; returns the image and the bytes of every 0-based source line (from the listing). */
export function nasmAssemble(source: string, includeDir?: string): { bytes: Uint8Array; perLine: Map<number, string>; errors: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'popek-nasm-'));
  const src = path.join(dir, 'in.asm');
  writeFileSync(src, source);
  let errors = '';
  try {
    execFileSync('nasm', ['-f', 'bin', '-l', path.join(dir, 'out.lst'), '-o', path.join(dir, 'out.bin'), ...(includeDir ? ['-I', includeDir + '/'] : []), src], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    errors = String((e as { stderr?: Buffer }).stderr ?? e);
    return { bytes: new Uint8Array(0), perLine: new Map(), errors };
  }
  const perLine = new Map<number, string>();
  for (const l of readFileSync(path.join(dir, 'out.lst'), 'utf8').split('\n')) {
    const m = /^\s*(\d+)\s+[0-9A-F]{8}\s+([0-9A-F[\]()]+)-?(\s|$)/.exec(l);
    if (!m) continue;
    const line = Number(m[1]) - 1;
    perLine.set(line, (perLine.get(line) ?? '') + m[2].replace(/[[\]()]/g, '').toLowerCase());
  }
  return { bytes: new Uint8Array(readFileSync(path.join(dir, 'out.bin'))), perLine, errors };
}

/** Popek's image, its bytes per 0-based source line (from the source map), and its diagnostics as text. */
export function popekPerLine(src: string, fileName = 'in.asm', options: AssembleOptions = {}): { bytes: Uint8Array; perLine: Map<number, string>; errors: string[]; warnings: string[] } {
  const r = assemble(fileName, src, options);
  const perLine = new Map<number, string>();
  for (const e of r.sourceMap) {
    const off = e.address - r.origin;
    perLine.set(e.range.start.line, (perLine.get(e.range.start.line) ?? '') + hex(r.bytes.subarray(off, off + e.length)));
  }
  const text = (severity: string) => r.diagnostics.filter((d) => (d.severity === 'error') === (severity === 'error')).map((d) => `${d.range.start.line + 1}: ${d.message}`);
  return { bytes: r.bytes, perLine, errors: text('error'), warnings: text('other') };
}
