/* `popek lint FILE… [--mode M] [--json]` (SPEC §6): the language server's diagnostics. */
import * as path from 'node:path';
import { CliError, parseArgs, type CliCommand } from './cliSupport';
import { LintDocument, syntaxOf } from '../core/lint/document';
import { isMode, lintDocument } from '../core/lint/lint';
import { MODES, type Mode } from '../core/isa';
import { costFigures } from '../core/lint/costs';
import { readSourceText } from './inputFile';
import { compileFlags, diskIncludeEnv, resolveInclude, type IncludeEnv } from '../core/lint/includes';
import { writeOut } from './output';

export interface JsonDiagnostic {
  file: string; line: number; column: number; endLine: number; endColumn: number;
  severity: 'error' | 'warning' | 'information' | 'hint'; code: string; message: string;
}

/** The include environment of a file: `-I` paths, compile_commands.json, the working directory as root. */
export function includeEnvFor(file: string, includePaths: string[] = []): IncludeEnv {
  // NASM and `as` search the working directory; the file's folder and its parents are searched too
  // (no workspace bounds them on the command line).
  const flags = compileFlags(file, []);
  const env = diskIncludeEnv([...includePaths.map((p) => path.resolve(p)), ...flags.includePaths, process.cwd()], []);
  env.defines = flags.defines;
  env.forcedIncludes = flags.forcedIncludes;
  env.nasmDefines = flags.defines;
  return env;
}

/** Reads an included file as NASM/cpp would find it (see core/lint/includes.ts). */
export function readInclude(p: string, from: string, env: IncludeEnv = diskIncludeEnv([], [process.cwd()])): string | undefined {
  const full = resolveInclude(p, from, env);
  return full ? env.read(full) : undefined;
}

export function modeOption(value: string | true | undefined): Mode | undefined {
  if (value === undefined) return undefined;
  if (value === true || !isMode(value)) throw new CliError(`--mode must be one of ${MODES.join(', ')}`);
  return value;
}

/** The diagnostics of one file in the JSON shape (1-based lines and columns). */
export function lintFile(file: string, mode: Mode | undefined, includePaths: string[] = []): JsonDiagnostic[] {
  const text = readSourceText(file);
  const doc = new LintDocument(file, syntaxOf(file, undefined, text), text);
  const env = includeEnvFor(file, includePaths);
  return lintDocument(doc, { mode, readFile: (p, from) => readInclude(p, from, env), includeEnv: env, costs: costFigures() }).map((d) => ({
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
  const parsed = parseArgs(args, ['--mode', '-I'], ['--json']);
  if (parsed.positional.length === 0) throw new CliError('usage: popek lint FILE… [--mode M] [-I DIR[:DIR…]] [--json]');
  const mode = modeOption(parsed.options.get('--mode'));
  const inc = parsed.options.get('-I');
  const includePaths = typeof inc === 'string' ? inc.split(path.delimiter).filter(Boolean) : [];
  const all = parsed.positional.flatMap((f) => lintFile(f, mode, includePaths));
  if (parsed.options.has('--json')) writeOut(JSON.stringify(all, null, 2) + '\n');
  else for (const d of all) writeOut(`${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.code}]\n`);
  return all.some((d) => d.severity === 'error') ? 1 : 0;
};
