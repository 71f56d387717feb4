/*
 * `popek fix FILE [-o OUT] [--mode paravirtual]` (SPEC §6): applies every paravirtual quick fix,
 * writes the result to OUT (default: FILE itself, as `eslint --fix`), and prints how many
 * instructions were rewritten and the share of lines changed.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { CliError, parseArgs, type CliCommand } from './cliSupport';
import { LintDocument, syntaxOf } from '../core/lint/document';
import { fixAll } from '../core/lint/fixes';
import { modeOption } from './lintCommand';

export const fixCommand: CliCommand = async (args) => {
  const parsed = parseArgs(args, ['-o', '--output', '--mode'], []);
  if (parsed.positional.length !== 1) throw new CliError('usage: popek fix FILE [-o OUT] [--mode paravirtual]');
  const mode = modeOption(parsed.options.get('--mode')) ?? 'paravirtual';
  if (mode !== 'paravirtual') throw new CliError(`fix rewrites for paravirtual mode only (the other techniques run the code unchanged), not '${mode}'`);
  const file = parsed.positional[0];
  if (!existsSync(file)) throw new CliError(`${file}: no such file`);
  const doc = new LintDocument(file, syntaxOf(file), readFileSync(file, 'utf8'));
  const result = fixAll(doc);
  const o = parsed.options.get('-o') ?? parsed.options.get('--output');
  const out = typeof o === 'string' ? o : file;
  writeFileSync(out, result.text);
  const share = result.totalLines ? (100 * result.changedLines) / result.totalLines : 0;
  process.stdout.write(`${out}: ${result.rewrites} rewrite${result.rewrites === 1 ? '' : 's'}`
    + (result.reviewed ? `, ${result.reviewed} instruction${result.reviewed === 1 ? '' : 's'} without a paravirtual equivalent marked reviewed` : '')
    + `; ${result.changedLines} of ${result.totalLines} lines changed (${share.toFixed(1)}%)\n`);
  return 0;
};
