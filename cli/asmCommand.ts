/* `popek asm FILE [-o OUT]` and `popek disasm FILE [--org A]` (SPEC §6). */
import * as path from 'node:path';
import { CliError, numberOption, parseArgs, type CliCommand } from './cliSupport';
import { assemble } from '../core/asm/assembler';
import { readIncludeBytes, readIncludeText } from '../core/machine/safeRead';
import { readInputBytes, readSourceText, writeOutputAtomically } from './inputFile';
import { writeErr, writeOut } from './output';

/** Assembles FILE to OUT (default: FILE without its extension, `.bin`); errors as `file:line:col: error: message`. */
export const asmCommand: CliCommand = async (args) => {
  const parsed = parseArgs(args, ['-o', '--output'], []);
  if (parsed.positional.length !== 1) throw new CliError('usage: popek asm FILE [-o OUT]');
  const file = parsed.positional[0];
  const text = readSourceText(file);
  const result = assemble(file, text, {
    noSourceMap: true,
    readFile: (p, from) => firstReadable(p, from, readIncludeText),
    readBinary: (p, from) => firstReadable(p, from, readIncludeBytes),
  });
  let errors = 0;
  for (const d of result.diagnostics) {
    if (d.severity === 'error') errors++;
    writeErr(`${d.file ?? file}:${d.range.start.line + 1}:${d.range.start.character + 1}: ${d.severity === 'information' ? 'info' : d.severity}: ${d.message}\n`);
  }
  if (errors) return 1;
  const o = parsed.options.get('-o') ?? parsed.options.get('--output');
  const out = typeof o === 'string' ? o : file.replace(/\.[^./\\]*$/, '') + '.bin';
  writeOutputAtomically(out, result.bytes);
  return 0;
};

/** An included file next to the including one, else from the working directory (as nasm looks). */
function firstReadable<T>(p: string, from: string, read: (file: string) => T | undefined): T | undefined {
  const full = path.isAbsolute(p) ? p : path.resolve(path.dirname(from), p);
  for (const candidate of [full, path.resolve(p)]) {
    const t = read(candidate);
    if (t !== undefined) return t;
  }
  return undefined;
}

/** Disassembles a flat binary loaded at `--org` (default 0) in NASM syntax. */
export const disasmCommand: CliCommand = async (args) => {
  const parsed = parseArgs(args, ['--org'], []);
  if (parsed.positional.length !== 1) throw new CliError('usage: popek disasm FILE [--org A]');
  const file = parsed.positional[0];
  const bytes = new Uint8Array(readInputBytes(file));
  const org = numberOption(parsed, '--org', 0);
  if (!Number.isInteger(org) || org < 0 || org > 0xffffffff) throw new CliError('--org needs an address from 0 to 0xffffffff');
  // loaded here, not at start-up: it brings the CPU's decoder, whose tables `popek asm` never needs
  const { disassemble } = await import('../core/asm/disassembler');
  const lines: string[] = [`bits 32`, `org 0x${org.toString(16)}`, ''];
  for (const l of disassemble(bytes, org, { roundTrip: true })) {
    const hex = Array.from(l.bytes, (b) => b.toString(16).padStart(2, '0')).join('');
    lines.push(`${l.text.padEnd(40)} ; ${l.address.toString(16).padStart(8, '0')}  ${hex}`);
  }
  writeOut(lines.join('\n') + '\n');
  return 0;
};
