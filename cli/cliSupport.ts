/* Small shared pieces of the command line: the command type, a usage error, and option parsing. */

/** A subcommand: takes its arguments (after the command name), returns the process exit status. */
export type CliCommand = (args: string[]) => Promise<number>;

/** An error the user can fix (bad option, missing file): printed without a stack trace. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * Whether `err` is a CliError. Each command is a bundle of its own (esbuild.mjs), with its own copy
 * of the class, so `instanceof` cannot tell across bundles: the name does.
 */
export function isCliError(err: unknown): err is CliError {
  return err instanceof Error && err.name === 'CliError' && typeof (err as CliError).exitCode === 'number';
}

export interface ParsedArgs {
  positional: string[];
  /** `--name value`, `--name=value`, `-o value`; flags without a value are `true`. */
  options: Map<string, string | true>;
}

/**
 * Parses `args`. `valued` lists the options that take a value (e.g. ['-o', '--mode']); every other
 * option is a boolean flag. Unknown options are rejected so that typos do not pass silently.
 */
export function parseArgs(args: string[], valued: string[], flags: string[]): ParsedArgs {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') { positional.push(...args.slice(i + 1)); break; }
    if (!arg.startsWith('-') || arg === '-') { positional.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (valued.includes(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw new CliError(`option ${name} needs a value`);
      options.set(name, value);
    } else if (flags.includes(name) && eq < 0) {
      options.set(name, true);
    } else {
      throw new CliError(`unknown option '${arg}'`);
    }
  }
  return { positional, options };
}

/** Reads an option as a number (accepts 0x… hex), or returns `fallback`. */
export function numberOption(parsed: ParsedArgs, name: string, fallback: number): number {
  const v = parsed.options.get(name);
  if (v === undefined || v === true) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new CliError(`option ${name}: '${v}' is not a number`);
  return n;
}
