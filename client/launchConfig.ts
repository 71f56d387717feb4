/*
 * Launch configurations for the `popek` debugger: defaults for F5 with no launch.json, and a check
 * that turns a bad configuration into one clear sentence before any adapter starts. Pure: no vscode.
 */
import { COST_PROFILES, CostProfile, MODES, Mode } from './config';

export const DEBUG_TYPE = 'popek';

export interface PopekLaunchConfig {
  type: string;
  request: string;
  name: string;
  program?: unknown;
  mode?: unknown;
  stopOnEntry?: unknown;
  cost?: unknown;
  memoryMiB?: unknown;
  maxInstructions?: unknown;
  checkEquivalence?: unknown;
  trace?: unknown;
  coverage?: unknown;
  /** Where a flat image without a Multiboot header goes. */
  loadAddress?: unknown;
  [key: string]: unknown;
}

/** The configuration F5 uses on a guest file when there is no launch.json. */
export function defaultLaunchConfig(program: string, mode: Mode, cost: CostProfile): PopekLaunchConfig {
  const base = program.split(/[\\/]/).pop() ?? program;
  return { type: DEBUG_TYPE, request: 'launch', name: `Debug ${base} (${mode})`, program, mode, cost, stopOnEntry: true };
}

/** Fills what is missing from a user's configuration with the settings' values. */
export function withDefaults(config: PopekLaunchConfig, mode: Mode, cost: CostProfile): PopekLaunchConfig {
  return { ...config, mode: config.mode ?? mode, cost: config.cost ?? cost, stopOnEntry: config.stopOnEntry ?? true };
}

const MAX_MEMORY_MIB = 4096;

/** What is wrong with a configuration (after variable substitution), as sentences; empty when fine. */
export function launchConfigProblems(config: PopekLaunchConfig, fileExists: (p: string) => boolean): string[] {
  const problems: string[] = [];
  if (config.request !== 'launch') problems.push(`"request" must be "launch" (Popek starts the guest itself), not ${JSON.stringify(config.request)}.`);
  if (typeof config.program !== 'string' || config.program.trim() === '') {
    problems.push('"program" must name the guest assembly file to run, e.g. "${file}".');
  } else if (!fileExists(config.program)) {
    problems.push(`"program" names a file that does not exist: ${config.program}`);
  }
  if (config.mode !== undefined && !(MODES as readonly unknown[]).includes(config.mode)) {
    problems.push(`"mode" must be one of ${MODES.join(', ')}; got ${JSON.stringify(config.mode)}.`);
  }
  if (config.cost !== undefined && !(COST_PROFILES as readonly unknown[]).includes(config.cost)) {
    problems.push(`"cost" must be one of ${COST_PROFILES.join(', ')}; got ${JSON.stringify(config.cost)}.`);
  }
  if (config.memoryMiB !== undefined && !(Number.isInteger(config.memoryMiB) && (config.memoryMiB as number) >= 1 && (config.memoryMiB as number) <= MAX_MEMORY_MIB)) {
    problems.push(`"memoryMiB" must be a whole number from 1 to ${MAX_MEMORY_MIB}; got ${JSON.stringify(config.memoryMiB)}.`);
  }
  if (config.maxInstructions !== undefined && !(Number.isInteger(config.maxInstructions) && (config.maxInstructions as number) >= 0)) {
    problems.push(`"maxInstructions" must be a whole number ≥ 0 (0: no limit); got ${JSON.stringify(config.maxInstructions)}.`);
  }
  if (config.loadAddress !== undefined && !(Number.isInteger(config.loadAddress) && (config.loadAddress as number) >= 0 && (config.loadAddress as number) <= 0xffffffff)) {
    problems.push(`"loadAddress" must be an address from 0 to 4294967295 (0xFFFFFFFF); got ${JSON.stringify(config.loadAddress)}.`);
  }
  for (const key of ['stopOnEntry', 'checkEquivalence', 'trace', 'coverage'] as const) {
    if (config[key] !== undefined && typeof config[key] !== 'boolean') problems.push(`"${key}" must be true or false; got ${JSON.stringify(config[key])}.`);
  }
  return problems;
}
