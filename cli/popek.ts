/*
 * `popek` — the command line (SPEC §6). This file only dispatches: each subcommand lives in its own
 * module under cli/ and is loaded on demand, so `popek asm` does not pay for the language server.
 */
import { CliError, type CliCommand } from './cliSupport';

// name → loader. Add a subcommand by adding its module and one line here.
const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  asm: async () => (await import('./asmCommand')).asmCommand,
  disasm: async () => (await import('./asmCommand')).disasmCommand,
  bench: async () => (await import('./bench/benchCommand')).benchCommand,
  run: async () => (await import('./runCommand')).runCommand,
  compare: async () => (await import('./compareCommand')).compareCommand,
  lint: async () => (await import('./lintCommand')).lintCommand,
  fix: async () => (await import('./fixCommand')).fixCommand,
};

function usage(): string {
  return [
    'usage: popek <command> [options]',
    '',
    '  lint FILE… [--mode M] [--json]        diagnostics of the language server',
    '  asm FILE [-o OUT]                      assemble (NASM syntax) to a flat binary',
    '  disasm FILE [--org A]                  disassemble a flat binary (NASM syntax)',
    '  fix FILE [-o OUT] [--mode paravirtual] apply every paravirtual quick fix',
    '  run FILE [--mode M] [--json] [--screen] [--load-address A] [--keys TEXT] [--max-instructions N] [--cost PROFILE] [--trace]',
    '                                         FILE: NASM source, Multiboot ELF kernel or flat image',
    '  compare FILE [--json] [--load-address A]  every technique side by side (console, screen)',
    '  bench                                  the performance suite',
    '',
    `commands available in this build: ${Object.keys(COMMANDS).sort().join(', ')}`,
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`popek: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const command = await load();
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof CliError) {
      process.stderr.write(`popek: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`popek: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = 70;
    }
  },
);
