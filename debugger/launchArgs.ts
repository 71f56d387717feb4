/*
 * The launch arguments of `type: "popek"` (package.json contributes.debuggers[0]
 * configurationAttributes.launch), typed, with their checks: a bad value is a message the user
 * reads, never an exception or a hang.
 */
import type { DebugProtocol } from '@vscode/debugprotocol';
import { COST_PROFILES } from '../core/vmm/cost';
import { availableModes, isMode, MODES, type Mode } from '../core/vmm/technique';
import { EXCEPTION_FILTERS, isExceptionFilter, type ExceptionFilterId } from './runtime/breakpoints';
import type { RuntimeOptions } from './runtime/runtime';

export interface PopekLaunchArguments extends DebugProtocol.LaunchRequestArguments {
  /** The guest: NASM source, a Multiboot ELF kernel or a flat image (by content). */
  program: string;
  /** Where a flat image without a Multiboot header goes (default 0x100000). */
  loadAddress?: number;
  /** Execution technique (default native). */
  mode?: Mode;
  /** Stop at the guest's entry point (default true). */
  stopOnEntry?: boolean;
  /** Cost-model profile (default modern). */
  cost?: string;
  /** Guest RAM in MiB (default 16). */
  memoryMiB?: number;
  /** Stop the guest after this many instructions (0: no limit). */
  maxInstructions?: number;
  /** Run a native twin in lock step and stop at the first divergence. */
  checkEquivalence?: boolean;
  /** Print every hypervisor event in the Debug Console. */
  trace?: boolean;
  /** ATA disk images: the primary master, then the slave (the guest's writes are not saved). */
  disks?: string[];
  /** QEMU's `-append`: the kernel's command line after its file name. */
  append?: string;
  /** QEMU's `-initrd`: Multiboot modules, "FILE [ARGS],FILE2". */
  initrd?: string;
  /** Exception filters on from the start (`["vmexit"]`), besides those ticked in the Breakpoints view. */
  stopOn?: string[];
  /** Record which lines execute (the editor's coverage decoration; the `popekCoverage` event). */
  coverage?: boolean;
}

export interface CheckedLaunch extends RuntimeOptions { stopOnEntry: boolean; stopOn: ExceptionFilterId[] }

/** Checks the arguments; returns the options, or the problems in words. */
export function checkLaunchArguments(raw: unknown): { options?: CheckedLaunch; problems: string[] } {
  const a = (raw ?? {}) as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof a.program !== 'string' || a.program.trim() === '') problems.push('"program" must name the guest assembly file to debug.');
  let mode: Mode = 'native';
  if (a.mode !== undefined) {
    if (typeof a.mode !== 'string' || !isMode(a.mode)) problems.push(`"mode" must be one of ${MODES.join(', ')} (got ${JSON.stringify(a.mode)}).`);
    else if (!availableModes().includes(a.mode)) problems.push(`mode "${a.mode}" is not available in this build (available: ${availableModes().join(', ')}).`);
    else mode = a.mode;
  }
  let cost = 'modern';
  if (a.cost !== undefined) {
    if (typeof a.cost !== 'string' || !Object.hasOwn(COST_PROFILES, a.cost)) problems.push(`"cost" must be one of ${Object.keys(COST_PROFILES).join(', ')} (got ${JSON.stringify(a.cost)}).`);
    else cost = a.cost;
  }
  const int = (name: string, def: number, min: number, max: number, what: string): number => {
    const v = a[name];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) { problems.push(`"${name}" must be ${what} (got ${JSON.stringify(v)}).`); return def; }
    return v;
  };
  const memoryMiB = int('memoryMiB', 16, 2, 2048, 'a whole number of MiB from 2 to 2048');
  const maxInstructions = int('maxInstructions', 0, 0, Number.MAX_SAFE_INTEGER, 'a whole number ≥ 0 (0: no limit)');
  const loadAddress = a.loadAddress === undefined || a.loadAddress === null ? undefined : int('loadAddress', 0x100000, 0, 0xffffffff, 'an address from 0 to 0xFFFFFFFF');
  const bool = (name: string, def: boolean): boolean => {
    const v = a[name];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') { problems.push(`"${name}" must be true or false (got ${JSON.stringify(v)}).`); return def; }
    return v;
  };
  const stopOnEntry = bool('stopOnEntry', true);
  const checkEquivalence = bool('checkEquivalence', false);
  const trace = bool('trace', false);
  const coverage = bool('coverage', false);
  let disks: string[] | undefined;
  if (a.disks !== undefined && a.disks !== null) {
    if (!Array.isArray(a.disks) || a.disks.length > 2 || !a.disks.every((d) => typeof d === 'string' && d.trim() !== '')) problems.push(`"disks" must list at most two disk image files: the primary master, then the slave (got ${JSON.stringify(a.disks)}).`);
    else disks = a.disks as string[];
  }
  const text = (name: 'append' | 'initrd'): string | undefined => {
    const v = a[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') { problems.push(`"${name}" must be a string, as QEMU's -${name} (got ${JSON.stringify(v)}).`); return undefined; }
    return v;
  };
  const append = text('append'), initrd = text('initrd');
  const stopOn: ExceptionFilterId[] = [];
  if (a.stopOn !== undefined) {
    if (!Array.isArray(a.stopOn) || !a.stopOn.every((f) => typeof f === 'string' && isExceptionFilter(f))) {
      problems.push(`"stopOn" must list exception filters among ${EXCEPTION_FILTERS.map((f) => f.filter).join(', ')} (got ${JSON.stringify(a.stopOn)}).`);
    } else stopOn.push(...(a.stopOn as ExceptionFilterId[]));
  }
  if (problems.length) return { problems };
  return { options: { program: a.program as string, mode, cost, memoryMiB, maxInstructions, checkEquivalence, trace, stopOnEntry, stopOn, ...(coverage ? { coverage } : {}), ...(loadAddress !== undefined ? { loadAddress } : {}), ...(disks ? { disks } : {}), ...(append !== undefined ? { append } : {}), ...(initrd !== undefined ? { initrd } : {}) }, problems };
}
