/*
 * `popek fix FILE [-o OUT] [--mode paravirtual]` (SPEC §6): applies every paravirtual quick fix,
 * writes the result to OUT (default: FILE itself, as `eslint --fix`), and prints how many
 * instructions were rewritten, the share of lines changed and the lines added. When the rewrites
 * name Xen constants, the fixed file includes xen.inc (xen-gas.inc), written next to OUT unless a
 * file of that name is there already (a user's is never overwritten). The file's line endings are kept
 * byte for byte; nothing is written when there is nothing to fix (unless -o names another file);
 * the write is atomic (inputFile.ts).
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CliError, parseArgs, type CliCommand } from './cliSupport';
import { LintDocument, syntaxOf } from '../core/lint/document';
import { fixAll } from '../core/lint/fixes';
import { modeOption } from './lintCommand';
import { readSourceText, writeOutputAtomically } from './inputFile';
import { writeOut } from './output';

export const fixCommand: CliCommand = async (args) => {
  const parsed = parseArgs(args, ['-o', '--output', '--mode'], []);
  if (parsed.positional.length !== 1) throw new CliError('usage: popek fix FILE [-o OUT] [--mode paravirtual]');
  const mode = modeOption(parsed.options.get('--mode')) ?? 'paravirtual';
  if (mode !== 'paravirtual') throw new CliError(`fix rewrites for paravirtual mode only (the other techniques run the code unchanged), not '${mode}'`);
  const file = parsed.positional[0];
  const o = parsed.options.get('-o') ?? parsed.options.get('--output');
  const out = typeof o === 'string' ? o : file;
  const original = readSourceText(file);
  const doc = new LintDocument(file, syntaxOf(file), original);
  const result = fixAll(doc);
  const sameFile = path.resolve(out) === path.resolve(file);
  const changed = result.text !== original;
  // In place with nothing to fix: the file is left alone (its time stamp too).
  if (changed || !sameFile) writeOutputAtomically(out, result.text);
  const header = result.header && path.join(path.dirname(path.resolve(out)), result.header.name);
  const wroteHeader = header !== undefined && !existsSync(header);
  if (wroteHeader) writeOutputAtomically(header, result.header!.text);
  const share = result.totalLines ? (100 * result.changedLines) / result.totalLines : 0;
  writeOut(`${out}: ${result.rewrites} rewrite${result.rewrites === 1 ? '' : 's'}`
    + (result.reviewed ? `, ${result.reviewed} instruction${result.reviewed === 1 ? '' : 's'} without a paravirtual equivalent marked reviewed` : '')
    + `; ${result.changedLines} of ${result.totalLines} lines changed (${share.toFixed(1)}%), ${result.addedLines} line${result.addedLines === 1 ? '' : 's'} added`
    + `${changed ? '' : sameFile ? ', nothing to fix: file not written' : ''}`
    + `${header ? (wroteHeader ? `; wrote ${result.header!.name} (Xen constants)` : `; uses the ${result.header!.name} already there`) : ''}\n`);
  return 0;
};
