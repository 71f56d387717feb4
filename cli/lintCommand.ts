/* `popek lint FILE… [--mode M] [--json]` (SPEC §6): the language server's diagnostics. */
import * as path from 'node:path';
import { CliError, parseArgs, type CliCommand } from './cliSupport';
import { LintDocument, syntaxOf } from '../core/lint/document';
import { isMode, lintDocument } from '../core/lint/lint';
import { MODES, type Mode } from '../core/isa';
import { costFigures } from '../core/lint/costs';
import { readIncludeText } from '../core/machine/safeRead';
import { readSourceText } from './inputFile';

export interface JsonDiagnostic {
  file: string; line: number; column: number; endLine: number; endColumn: number;
  severity: 'error' | 'warning' | 'information' | 'hint'; code: string; message: string;
}

/** Reads an included file relative to the including one (then the working directory). */
export function readInclude(p: string, from: string): string | undefined {
  const full = path.isAbsolute(p) ? p : path.resolve(path.dirname(from), p);
  for (const c of [full, path.resolve(p)]) {
    const text = readIncludeText(c);
    if (text !== undefined) return text;
  }
  return undefined;
}

export function modeOption(value: string | true | undefined): Mode | undefined {
  if (value === undefined) return undefined;
  if (value === true || !isMode(value)) throw new CliError(`--mode must be one of ${MODES.join(', ')}`);
  return value;
}

/** The diagnostics of one file in the JSON shape (1-based lines and columns). */
export function lintFile(file: string, mode: Mode | undefined): JsonDiagnostic[] {
  const doc = new LintDocument(file, syntaxOf(file), readSourceText(file));
  return lintDocument(doc, { mode, readFile: readInclude, costs: costFigures() }).map((d) => ({
    file: d.file ?? file,
    line: d.range.start.line + 1,
    column: d.range.start.character + 1,
    endLine: d.range.end.line + 1,
    endColumn: d.range.end.character + 1,
    severity: d.severity,
    code: d.code,
    message: d.message,
  }));
}

export const lintCommand: CliCommand = async (args) => {
  const parsed = parseArgs(args, ['--mode'], ['--json']);
  if (parsed.positional.length === 0) throw new CliError('usage: popek lint FILE… [--mode M] [--json]');
  const mode = modeOption(parsed.options.get('--mode'));
  const all = parsed.positional.flatMap((f) => lintFile(f, mode));
  if (parsed.options.has('--json')) process.stdout.write(JSON.stringify(all, null, 2) + '\n');
  else for (const d of all) process.stdout.write(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.code}]\n`);
  return all.some((d) => d.severity === 'error') ? 1 : 0;
};
