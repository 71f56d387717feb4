/*
 * `popek run FILE [--mode M] [--json] [--screen] [--load-address A] [--max-instructions N]
 * [--cost PROFILE] [--trace]` (SPEC §6): loads the guest by content (NASM source, Multiboot ELF
 * kernel, flat image — at A when it has no Multiboot header; core/machine/program.ts), boots it on the simulated PC under the chosen technique (core/vmm; `native`
 * by default) and runs it to its end. Console output goes to stdout as the guest writes it (or
 * inside the JSON report with --json); --trace prints every hypervisor event on stderr; --screen
 * prints the VGA text screen at the end (the JSON report always has it); --keys TEXT types TEXT
 * on the PS/2 keyboard before the guest starts (\n for Enter); the exit
 * status is the guest's exit code (isa-debug-exit: (v << 1) | 1, as QEMU's).
 *
 * Devices: each --disk is an ATA disk image on the primary channel (the first the master, the
 * second the slave); the guest's writes stay in memory unless --disk-write, which saves them to the
 * image files when the run ends. --stdin feeds this process's standard input to COM1's receive line
 * (as QEMU's -serial stdio); while it is open, a guest that halts with nothing scheduled waits for
 * input instead of ending.
 */
import { CliError, numberOption, parseArgs, type CliCommand, type ParsedArgs } from './cliSupport';
import type { Disk } from '../core/devices/ata';
import { isOutcome } from '../core/machine/machine';
import { LoadError } from '../core/machine/multiboot';
import { BootOptionError, multibootBoot } from '../core/machine/multibootBoot';
import { readImageFile } from '../core/machine/safeRead';
import type { MultibootBoot } from '../core/machine/firmware';
import { textToScanCodes } from '../core/machine/keyboardInput';
import { loadProgramFile, ProgramError } from '../core/machine/program';
import { COST_PROFILES, MODES, availableModes, createVm, formatEvent, type Mode, type Vm, type VmEvent } from '../core/vmm';
import { explainDivergence } from '../core/vmm/critical';
import { locateDivergence, programLocator, traceLocator } from './programSource';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { EXIT, checkInputFile } from './inputFile';
import { writeErr, writeOut } from './output';

export const RUN_USAGE = 'popek run FILE [--mode M] [--json] [--screen] [--load-address A] [--keys TEXT] [--max-instructions N] [--cost PROFILE] [--trace] [--disk IMAGE]... [--disk-write] [--stdin] [--append TEXT] [--initrd "FILE [ARGS],FILE2"]';

/** `--load-address A` (decimal or 0x…): where a flat image without a Multiboot header goes. */
export function loadAddressOption(parsed: ParsedArgs): number | undefined {
  if (!parsed.options.has('--load-address')) return undefined;
  const a = numberOption(parsed, '--load-address', 0);
  if (!Number.isInteger(a) || a < 0 || a > 0xffffffff) throw new CliError('--load-address needs an address (e.g. 0x100000)');
  return a;
}

/** A guest that never ends stops here unless --max-instructions says otherwise (0: no limit). */
export const DEFAULT_MAX_INSTRUCTIONS = 200_000_000;

/**
 * Refuses what cannot be a program before reading it: not a regular file (a FIFO or a device would
 * block or never end), or too large. What the file contains is core/machine/program.ts's to judge.
 */
export function checkProgramFile(file: string): void {
  checkInputFile(file);
}

/** Events kept in the `--trace --json` report (the stderr trace has them all). */
const MAX_JSON_EVENTS = 20_000;

/** Instructions per slice between host turns. */
const SLICE = 2_000_000;

/** `--keys TEXT` (`\\n` for Enter, `\\t` for Tab): the keys to type, or undefined. */
export function keysOption(parsed: ParsedArgs): string | undefined {
  const keysOpt = parsed.options.get('--keys');
  return typeof keysOpt === 'string' ? keysOpt.replace(/\\n/g, '\n').replace(/\\t/g, '\t') : undefined;
}

/** `--memory N`: guest RAM in MiB (default 16, as SPEC §3). */
export function memoryOption(parsed: ParsedArgs): number {
  const memoryMiB = numberOption(parsed, '--memory', 16);
  if (!Number.isInteger(memoryMiB) || memoryMiB < 2 || memoryMiB > 2048) throw new CliError('--memory needs a whole number of MiB from 2 to 2048');
  return memoryMiB;
}

/** `--append TEXT` and `--initrd "FILE [ARGS],FILE2"`, as QEMU takes them: the Multiboot command line and modules. */
export function bootOptions(parsed: ParsedArgs, file: string): MultibootBoot {
  const text = (name: string) => { const v = parsed.options.get(name); return typeof v === 'string' ? v : undefined; };
  try {
    return multibootBoot(file, text('--append'), text('--initrd'), readImageFile);
  } catch (e) {
    if (e instanceof BootOptionError) throw new CliError(e.message, 1);
    throw e;
  }
}

/** Takes every `--disk FILE` / `--disk=FILE` out of `args` (the option repeats). */
export function takeDisks(args: string[]): { rest: string[]; disks: string[] } {
  const rest: string[] = [], disks: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') { rest.push(...args.slice(i)); break; }
    if (a === '--disk') {
      if (args[i + 1] === undefined) throw new CliError('option --disk needs a value');
      disks.push(args[++i]);
    } else if (a.startsWith('--disk=')) disks.push(a.slice('--disk='.length));
    else rest.push(a);
  }
  return { rest, disks };
}

/** Reads the disk images (at most two: master and slave). */
export function readDisks(files: string[]): Disk[] {
  if (files.length > 2) throw new CliError(`at most two --disk images (primary master and slave), got ${files.length}`);
  return files.map((f) => {
    try { return { bytes: readImageFile(f) }; } catch (e) { throw new CliError(`cannot read disk image ${f}: ${(e as Error).message}`, 1); }
  });
}

export const runCommand: CliCommand = async (allArgs) => {
  const { rest: args, disks: diskFiles } = takeDisks(allArgs);
  const parsed = parseArgs(args, ['--mode', '--max-instructions', '--cost', '--memory', '--load-address', '--keys', '--append', '--initrd'], ['--json', '--trace', '--screen', '--disk-write', '--stdin']);
  if (parsed.positional.length !== 1) throw new CliError(`usage: ${RUN_USAGE}`);
  const file = parsed.positional[0];
  const modeOpt = parsed.options.get('--mode');
  const mode = (typeof modeOpt === 'string' ? modeOpt : 'native') as Mode;
  if (!MODES.includes(mode)) throw new CliError(`unknown mode '${mode}' (expected one of: ${MODES.join(', ')})`);
  if (!availableModes().includes(mode)) throw new CliError(`mode '${mode}' is not available in this build (available: ${availableModes().join(', ')})`);
  const costOpt = parsed.options.get('--cost');
  const cost = typeof costOpt === 'string' ? costOpt : undefined;
  if (cost !== undefined && !(cost in COST_PROFILES)) throw new CliError(`unknown cost profile '${cost}' (expected one of: ${Object.keys(COST_PROFILES).join(', ')})`);
  const limitGiven = parsed.options.has('--max-instructions');
  const maxInstructions = numberOption(parsed, '--max-instructions', DEFAULT_MAX_INSTRUCTIONS);
  if (!Number.isInteger(maxInstructions) || maxInstructions < 0) throw new CliError('--max-instructions needs a non-negative integer (0: no limit)');
  const memoryMiB = memoryOption(parsed);
  checkProgramFile(file);
  const json = parsed.options.has('--json');
  const trace = parsed.options.has('--trace');
  const diskWrite = parsed.options.has('--disk-write');
  if (diskWrite && diskFiles.length === 0) throw new CliError('--disk-write needs a --disk image');
  const disks = readDisks(diskFiles);
  const screen = parsed.options.has('--screen');
  const loadAddress = loadAddressOption(parsed);
  const keys = keysOption(parsed);
  const boot = bootOptions(parsed, file);

  let program;
  try {
    program = loadProgramFile(file, { loadAddress });
  } catch (e) {
    if (e instanceof ProgramError) throw new CliError(e.message, 1);
    throw e;
  }
  let vm: Vm;
  const events: VmEvent[] = [];
  try {
    // --trace --json: the events go into the report too (`events`), for readers that want fields, not lines.
    vm = createVm({ mode, cost, memoryMiB, maxInstructions, disks, boot, trace: trace ? (ev) => {
      writeErr(formatEvent(ev) + '\n');
      if (json && events.length < MAX_JSON_EVENTS) events.push(ev);
    } : undefined });
    vm.load(program);
    // Typed ahead: the first key when the guest polls the controller or a tenth of a second in, then one
    // byte 1 ms after the guest read the last (Ps2Controller's TYPE_AHEAD_SECONDS, TYPED_KEY_GAP_SECONDS).
    if (keys !== undefined) vm.machine.ps2.typeAhead(textToScanCodes(keys));
    if (trace && program.via === 'assembler') vm.events.locate = traceLocator(file);
    else if (trace && program.via === 'elf') {
      // A kernel built with -g: trace lines name the C (or assembly) source line.
      const locate = programLocator(program, file);
      vm.events.locate = (eip) => { const at = locate(eip); return at && at.line ? { file: at.file, line: at.line } : undefined; };
    }
  } catch (e) {
    if (e instanceof LoadError || e instanceof RangeError) throw new CliError(`${file}: ${e.message}`, 1);
    throw e;
  }
  const byte = new Uint8Array(1);
  if (!json) vm.machine.onConsoleByte = (b) => { byte[0] = b; writeOut(byte); };

  const machine = vm.machine;
  const stdinOpen = parsed.options.has('--stdin');
  if (stdinOpen) {
    machine.inputOpen = true;
    process.stdin.on('data', (d: Buffer) => machine.input(d.toString('utf8'), 'serial'));
    process.stdin.on('end', () => { machine.inputOpen = false; });
  }

  // (process.hrtime, not performance.now(): `performance` loads perf_hooks, ten modules, on first use)
  const start = process.hrtime.bigint();
  try {
    for (;;) {
      const before = machine.instructions;
      const r = vm.runSlice(SLICE);
      if (isOutcome(r)) break;
      // Waiting for input (halted, nothing scheduled): give the host time to deliver it.
      const idle = machine.instructions === before && machine.inputOpen;
      await new Promise<void>((resolve) => (idle ? setTimeout(resolve, 10) : setImmediate(resolve))); // stay responsive (signals, output, input)
    }
  } finally {
    if (stdinOpen) process.stdin.destroy();
  }
  if (diskWrite) disks.forEach((d, k) => { if (d.dirty) fs.writeFileSync(diskFiles[k], d.bytes); });
  const report = vm.report(Number(process.hrtime.bigint() - start) / 1e6);
  locateDivergence(report, programLocator(program, file));
  if (json) {
    const withEvents = trace ? { ...report, events: events.map((e) => ({ ...e, source: e.source && { ...e.source, file: nodePath.resolve(e.source.file) } })), eventsTruncated: events.length >= MAX_JSON_EVENTS } : report;
    writeOut(JSON.stringify(withEvents, null, 2) + '\n');
  } else if (screen) writeOut((report.console === '' || report.console.endsWith('\n') ? '' : '\n') + report.screen.join('\n') + '\n');
  if (json) { /* the report says it all */ } else if (report.outcome !== 'exit' && report.outcome !== 'shutdown') {
    const where = report.faultAddress !== undefined ? ` at 0x${report.faultAddress.toString(16).padStart(8, '0')}` : '';
    const why = report.outcome === 'limit' ? ` (${limitGiven ? '--max-instructions' : `the default limit; --max-instructions N to change it, 0 for none`})` : '';
    writeErr(`popek: guest ended with outcome '${report.outcome}'${where} after ${report.instructions} instructions${report.error ? `: ${report.error}` : ''}${why}\n`);
  }
  if (!json && report.firstDivergence) writeErr(`popek: ${explainDivergence(mode, report.firstDivergence)}\n`);
  if (report.outcome === 'error') return report.unmodelled ? EXIT.unmodelled : EXIT.internal;
  if (report.outcome === 'limit') return EXIT.limit;
  return report.exitCode & 0xff;
};
