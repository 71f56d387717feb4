/*
 * Source positions of guest addresses for the CLI (--trace lines, the end-of-run divergence note):
 * the assembler's source map of a NASM source, or the DWARF line table and function ranges of an ELF
 * kernel built with -g.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { assemble } from '../core/asm';
import { loadDebugInfo } from '../core/debuginfo';
import { parseElf32 } from '../core/elf/elf32';
import type { Program } from '../core/machine/program';
import type { Divergence, RunReport } from '../core/machine/report';
import { readIncludeText } from '../core/machine/safeRead';
import { sourceLocator } from '../core/vmm';

export type SourcePosition = NonNullable<Divergence['source']>;

/** Source lines for --trace: the assembler's source map of FILE (assembled again, cheaply). */
export function traceLocator(file: string) {
  const r = assemble(file, fs.readFileSync(file, 'utf8'), {
    readFile: (p, from) => readIncludeText(nodePath.resolve(nodePath.dirname(from), p)),
  });
  return sourceLocator(r.sourceMap, process.cwd());
}

/**
 * Where guest address `eip` comes from in the program's sources (undefined when nothing says). The
 * sources are read (assembled again, the debug information parsed) on the first question: most runs
 * end without one.
 */
export function programLocator(program: Program, file: string): (eip: number) => SourcePosition | undefined {
  let locate: ((eip: number) => SourcePosition | undefined) | undefined;
  return (eip) => (locate ??= sourcePositions(program, file))(eip);
}

function sourcePositions(program: Program, file: string): (eip: number) => SourcePosition | undefined {
  try {
    if (program.via === 'assembler') {
      const locate = traceLocator(file);
      return (eip) => { const l = locate(eip); return l && { file: l.file, line: l.line }; };
    }
    if (program.via === 'elf') {
      const debug = loadDebugInfo(parseElf32(program.bytes));
      return (eip) => {
        const l = debug.lineAt(eip >>> 0);
        const fn = debug.functionAt(eip >>> 0)?.name;
        if (!l) return fn ? { file: file, line: 0, function: fn } : undefined;
        return { file: nodePath.relative(process.cwd(), l.file) || l.file, line: l.line, ...(fn ? { function: fn } : {}) };
      };
    }
  } catch { /* no usable debug information: positions stay unknown */ }
  return () => undefined;
}

/** Gives the report's first divergence its source position. */
export function locateDivergence(report: RunReport, locate: (eip: number) => SourcePosition | undefined): void {
  const d = report.firstDivergence;
  if (!d || d.source) return;
  const at = locate(d.eip);
  if (at) d.source = at;
}
