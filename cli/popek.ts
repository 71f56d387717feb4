/*
 * `popek` — the command line (SPEC §6). This file only dispatches: each subcommand lives in its own
 * module under cli/ and is loaded on demand, so `popek asm` does not pay for the language server.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { isCliError, type CliCommand } from './cliSupport';
import { requireWithCodeCache } from './compileCache';
import { writeDirectly, writeErr, writeOut } from './output';

/**
 * A subcommand built as a bundle of its own next to this one (dist/cmd-*.js, see esbuild.mjs):
 * Node then compiles only that command's code (most of `popek lint`'s start-up was compiling
 * every other command's).
 * It is compiled from V8's code cache (compileCache.ts) unless `codeCache` is false (the bench bundle's
 * `import()`s need the module loader). From sources (tests, tsx) the module is imported as usual.
 */
function ownBundle<T>(file: string, fallback: () => Promise<T>, codeCache = true): Promise<T> {
  const bundled = path.join(__dirname, file);
  // A plain require: the path is known only at run time, and the bundle must not inline it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (path.basename(__filename) === 'cli.js' && existsSync(bundled)) return Promise.resolve((codeCache ? requireWithCodeCache(bundled) : require(bundled)) as T);
  return fallback();
}

// name → loader. Add a subcommand by adding its module, one line here and its bundle in esbuild.mjs.
const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  asm: async () => (await ownBundle('cmd-asm.js', () => import('./asmCommand'))).asmCommand,
  disasm: async () => (await ownBundle('cmd-asm.js', () => import('./asmCommand'))).disasmCommand,
  bench: async () => (await ownBundle('cmd-bench.js', () => import('./bench/benchCommand'), false)).benchCommand,
  run: async () => (await ownBundle('cmd-run.js', () => import('./runCommand'))).runCommand,
  compare: async () => (await ownBundle('cmd-compare.js', () => import('./compareCommand'))).compareCommand,
  lint: async () => (await ownBundle('cmd-lint.js', () => import('./lintCommand'))).lintCommand,
  fix: async () => (await ownBundle('cmd-fix.js', () => import('./fixCommand'))).fixCommand,
};

/** The version in popek's package.json, found above this file (dist/, out/cli/ or cli/). */
function version(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'popek' && pkg.version) return pkg.version;
    } catch { /* not here */ }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

function usage(): string {
  return [
    'usage: popek <command> [options]',
    '       popek --version',
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
  if (!name) {
    writeErr('popek: no command (popek --help lists them)\n');
    return 2;
  }
  if (name === '-h' || name === '--help' || name === 'help') {
    writeOut(usage() + '\n');
    return 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    writeOut(`popek ${version()}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    writeErr(`popek: unknown command '${name}' (popek --help lists them)\n`);
    return 2;
  }
  const command = await load();
  return command(rest);
}

/**
 * One line for the user, never a stack (POPEK_DEBUG=1 adds it, for a bug report). A CliError is the
 * user's to fix (its own exit status); anything else is a bug in popek (70).
 */
function fail(err: unknown): void {
  if (isCliError(err)) {
    writeErr(`popek: ${err.message}\n`);
    process.exitCode = err.exitCode;
    return;
  }
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EPIPE') { process.exit(process.exitCode ?? 0); }
  const what = err instanceof RangeError && /allocation|memory/i.test(err.message) ? 'out of memory' : err instanceof Error ? err.message.split('\n')[0] : String(err);
  writeErr(`popek: internal error: ${what} (set POPEK_DEBUG=1 for details)\n`);
  if (process.env.POPEK_DEBUG) writeErr(`${err instanceof Error ? err.stack : ''}\n`);
  process.exitCode = 70;
}

// `popek … | head`: a closed pipe ends the output quietly; other stream errors are one line. The
// commands print through ./output; a stream something else creates gets the handler when it is
// created (creating both here would load Node's stream modules in every run: see output.ts).
for (const name of ['stdout', 'stderr'] as const) {
  onFirstUse(name, (stream) => stream.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); }));
}

/** Calls `hook` with process[name] when something first reads it (Node creates the stream then). */
function onFirstUse(name: 'stdout' | 'stderr', hook: (stream: NodeJS.WriteStream) => void): void {
  const own = Object.getOwnPropertyDescriptor(process, name);
  const create = own?.get;
  if (!create || !own.configurable) { hook(process[name]); return; }
  Object.defineProperty(process, name, {
    configurable: true,
    enumerable: own.enumerable,
    get() {
      // Node's getter keeps the stream it made: put it back, then hook the stream once
      Object.defineProperty(process, name, own);
      const stream = create.call(process) as NodeJS.WriteStream;
      hook(stream);
      return stream;
    },
  });
}
process.on('uncaughtException', (e) => { fail(e); process.exit(process.exitCode ?? 70); });
process.on('unhandledRejection', (e) => { fail(e); process.exit(process.exitCode ?? 70); });

writeDirectly();
main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, fail);
