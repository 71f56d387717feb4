/*
 * `popek compare FILE [--json] [--cost PROFILE] [--max-instructions N] [--load-address A] [--memory MIB]
 * [--disk IMAGE]... [--append TEXT] [--initrd "FILE [ARGS],FILE2"] [--keys TEXT]` (SPEC §6; the machine options as `popek run`'s):
 * runs the guest under every execution technique of this build and prints them side by side —
 * outcome, whether the console and the final VGA screen equal native's, instructions, modelled cycles and overhead against native, traps,
 * VM exits and hypercalls.
 */
import { CliError, numberOption, parseArgs, type CliCommand } from './cliSupport';
import { LoadError } from '../core/machine/multiboot';
import { loadProgramFile, ProgramError, type Program } from '../core/machine/program';
import type { RunReport } from '../core/machine/report';
import { bootOptions, checkProgramFile, keysOption, loadAddressOption, memoryOption, readDisks, takeDisks } from './runCommand';
import { textToScanCodes } from '../core/machine/keyboardInput';
import type { Disk } from '../core/devices/ata';
import type { MultibootBoot } from '../core/machine/firmware';
import { locateDivergence, programLocator, type SourcePosition } from './programSource';
import { explainDivergence } from '../core/vmm/critical';
import { COST_PROFILES, availableModes, createVm, type Mode } from '../core/vmm';
import type { CompareRow, CycleCause } from '../core/vmm/compareRow';
import { writeOut } from './output';

export type { CompareRow } from '../core/vmm/compareRow';

const sum = (t: Record<string, number>) => Object.values(t).reduce((a, b) => a + b, 0);

export interface CompareOptions {
  cost?: string;
  maxInstructions?: number;
  modes?: Mode[];
  locate?: (eip: number) => SourcePosition | undefined;
  memoryMiB?: number;
  /** Disk images: each technique's VM gets its own copy (a guest's writes do not reach the next run). */
  disks?: Disk[];
  boot?: MultibootBoot;
  /** Keys typed into every technique's VM, as `popek run --keys` types them. */
  keys?: string;
}

/** Runs `program` under each available mode (native first) and returns one row per mode. */
export function compareModes(program: Program, options: CompareOptions = {}): CompareRow[] {
  const modes = options.modes ?? availableModes();
  const reports: RunReport[] = [];
  const cyclesBy: Array<Partial<Record<CycleCause, number>>> = [];
  for (const mode of modes) {
    const disks = options.disks?.map((d) => ({ bytes: d.bytes.slice() }));
    const vm = createVm({ mode, cost: options.cost, maxInstructions: options.maxInstructions ?? 50_000_000, memoryMiB: options.memoryMiB, disks, boot: options.boot });
    vm.load(program);
    if (options.keys !== undefined) vm.machine.ps2.typeAhead(textToScanCodes(options.keys));
    const start = process.hrtime.bigint();
    vm.run(2_000_000);
    const report = vm.report(Number(process.hrtime.bigint() - start) / 1e6);
    if (options.locate) locateDivergence(report, options.locate);
    reports.push(report);
    cyclesBy.push(Object.fromEntries(Object.entries(vm.cyclesByCause()).map(([k, v]) => [k, Math.round(v)])));
  }
  const native = reports.find((r) => r.mode === 'native');
  return reports.map((r, i) => ({
    mode: r.mode as Mode, outcome: r.outcome, exitCode: r.exitCode,
    consoleMatchesNative: native ? r.console === native.console : false,
    screenMatchesNative: native ? r.screen.join('\n') === native.screen.join('\n') : false,
    instructions: r.instructions, cycles: r.cycles,
    overhead: native && native.cycles > 0 ? r.cycles / native.cycles - 1 : null,
    traps: sum(r.traps), vmExits: sum(r.vmExits), hypercalls: sum(r.hypercalls), critical: sum(r.critical),
    cyclesBy: cyclesBy[i],
    trapsBy: r.traps, criticalBy: r.critical, vmExitsBy: r.vmExits, hypercallsBy: r.hypercalls,
    ...(r.error ? { error: r.error } : {}),
    ...(r.firstDivergence ? { firstDivergence: r.firstDivergence } : {}),
  }));
}

/** A fixed-width text table of the rows. */
export function formatCompare(rows: CompareRow[]): string {
  const head = ['mode', 'outcome', 'exit', 'console', 'screen', 'instructions', 'cycles', 'overhead', 'traps', 'exits', 'hypercalls', 'critical'];
  const body = rows.map((r) => [
    r.mode, r.outcome, String(r.exitCode), r.mode === 'native' ? '(reference)' : r.consoleMatchesNative ? 'same' : 'DIFFERS',
    r.mode === 'native' ? '(reference)' : r.screenMatchesNative ? 'same' : 'DIFFERS',
    String(r.instructions), String(r.cycles), r.overhead === null ? '-' : r.mode === 'native' ? '-' : `${r.overhead >= 0 ? '+' : ''}${(r.overhead * 100).toFixed(1)}%`,
    String(r.traps), String(r.vmExits), String(r.hypercalls), String(r.critical),
  ]);
  const widths = head.map((h, k) => Math.max(h.length, ...body.map((b) => b[k].length)));
  const line = (cells: string[]) => cells.map((c, k) => (k < 5 ? c.padEnd(widths[k]) : c.padStart(widths[k]))).join('  ').trimEnd();
  const notes = rows.filter((r) => r.firstDivergence).map((r) => explainDivergence(r.mode, r.firstDivergence!));
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n');
}

export const compareCommand: CliCommand = async (allArgs) => {
  const { rest: args, disks: diskFiles } = takeDisks(allArgs);
  const parsed = parseArgs(args, ['--cost', '--max-instructions', '--load-address', '--memory', '--append', '--initrd', '--keys'], ['--json']);
  if (parsed.positional.length !== 1) throw new CliError('usage: popek compare FILE [--json] [--cost PROFILE] [--max-instructions N] [--load-address A] [--memory MIB] [--disk IMAGE]... [--append TEXT] [--initrd "FILE [ARGS],FILE2"] [--keys TEXT]');
  const file = parsed.positional[0];
  const cost = parsed.options.get('--cost');
  if (typeof cost === 'string' && !(cost in COST_PROFILES)) throw new CliError(`unknown cost profile '${cost}' (expected one of: ${Object.keys(COST_PROFILES).join(', ')})`);
  const maxInstructions = numberOption(parsed, '--max-instructions', 50_000_000);
  if (!Number.isInteger(maxInstructions) || maxInstructions < 0) throw new CliError('--max-instructions needs a non-negative integer');
  const memoryMiB = memoryOption(parsed);
  checkProgramFile(file);
  const disks = readDisks(diskFiles);
  const boot = bootOptions(parsed, file);
  let program: Program;
  try {
    program = loadProgramFile(file, { loadAddress: loadAddressOption(parsed) });
  } catch (e) {
    if (e instanceof ProgramError) throw new CliError(e.message, 1);
    throw e;
  }
  let rows: CompareRow[];
  try {
    rows = compareModes(program, { cost: typeof cost === 'string' ? cost : undefined, maxInstructions, locate: programLocator(program, file), memoryMiB, disks, boot, keys: keysOption(parsed) });
  } catch (e) {
    if (e instanceof LoadError || e instanceof RangeError) throw new CliError(`${file}: ${e.message}`, 1);
    throw e;
  }
  if (parsed.options.has('--json')) writeOut(JSON.stringify(rows, null, 2) + '\n');
  else writeOut(`${file} (cost profile ${typeof cost === 'string' ? cost : 'modern'})\n${formatCompare(rows)}\n`);
  return 0;
};
