/*
 * Typed settings. Every key under `popek.` in package.json's contributes.configuration is listed
 * here with its type and default (test/client/config.test.ts keeps the two in sync), so the rest
 * of the client reads `config.mode`, never a string key. No runtime import of `vscode`: the
 * settings reader is passed in, which keeps this module unit-testable outside VS Code.
 */

import { MODES, type Mode } from '../core/isa/types';
import { modeOverrideIn } from '../core/lint/modeMarker';

// The techniques and the `popek: mode=` parser are core's (one definition for CLI, server, client).
export { MODES, type Mode };

export const COST_PROFILES = ['modern', 'vtx-2006'] as const;
export type CostProfile = (typeof COST_PROFILES)[number];

export const ADAPTER_MODES = ['inline', 'process', 'server'] as const;
export type AdapterMode = (typeof ADAPTER_MODES)[number];

export const SECTION = 'popek';

/** Human names for the modes, used by the status bar and the pickers. */
export const MODE_LABELS: Record<Mode, string> = {
  native: 'Native',
  'trap-and-emulate': 'Trap and emulate',
  'binary-translation': 'Binary translation',
  paravirtual: 'Paravirtual',
  'hardware-assisted': 'Hardware assisted (VT-x)',
};

export const MODE_DESCRIPTIONS: Record<Mode, string> = {
  native: 'Bare metal, no hypervisor: the guest kernel runs at CPL 0 (the reference).',
  'trap-and-emulate': 'Kernel deprivileged to CPL 1; privileged instructions trap, critical ones misbehave silently.',
  'binary-translation': 'Kernel code translated block by block; sensitive instructions become VMM callouts.',
  paravirtual: 'Xen-style: the kernel runs at CPL 1 and uses hypercalls; virtual IF is a byte in shared memory.',
  'hardware-assisted': 'VT-x style: VMX non-root at CPL 0; the VMCS decides what exits.',
};

type SettingSpec =
  | { type: 'enum'; values: readonly string[]; default: string }
  | { type: 'number'; default: number; min?: number; max?: number }
  | { type: 'string'; default: string }
  | { type: 'array'; default: readonly string[] };

/** Every setting the extension contributes (keys relative to `popek.`). */
export const SETTINGS = {
  mode: { type: 'enum', values: MODES, default: 'paravirtual' },
  cost: { type: 'enum', values: COST_PROFILES, default: 'modern' },
  maxNumberOfProblems: { type: 'number', default: 1000, min: 1 },
  'trace.server': { type: 'enum', values: ['off', 'messages', 'verbose'], default: 'off' },
  'debugAdapter.mode': { type: 'enum', values: ADAPTER_MODES, default: 'inline' },
  'debugAdapter.port': { type: 'number', default: 4711, min: 1, max: 65535 },
  syntax: { type: 'enum', values: ['auto', 'nasm', 'gas'], default: 'auto' },
  includePaths: { type: 'array', default: [] },
  nasmDefines: { type: 'array', default: [] },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;

/** The part of vscode.WorkspaceConfiguration this module needs. */
export interface SettingsReader {
  get<T>(key: string): T | undefined;
}

/** A value read from settings, or the default when it is missing or of the wrong type / range. */
export function readSetting(reader: SettingsReader, key: SettingKey): string | number | readonly string[] {
  const spec = SETTINGS[key] as SettingSpec;
  const raw = reader.get<unknown>(key);
  switch (spec.type) {
    case 'enum':
      return typeof raw === 'string' && spec.values.includes(raw) ? raw : spec.default;
    case 'number':
      return typeof raw === 'number' && Number.isFinite(raw) && raw >= (spec.min ?? -Infinity) && raw <= (spec.max ?? Infinity)
        ? raw : spec.default;
    case 'string':
      return typeof raw === 'string' ? raw : spec.default;
    case 'array':
      return Array.isArray(raw) && raw.every((x) => typeof x === 'string') ? raw as string[] : spec.default;
  }
}

/** Typed view of the `popek` settings for one scope (a document or the window). */
export class Config {
  constructor(private readonly reader: SettingsReader) {}
  get mode(): Mode { return readSetting(this.reader, 'mode') as Mode; }
  get cost(): CostProfile { return readSetting(this.reader, 'cost') as CostProfile; }
  get maxNumberOfProblems(): number { return readSetting(this.reader, 'maxNumberOfProblems') as number; }
  get adapterMode(): AdapterMode { return readSetting(this.reader, 'debugAdapter.mode') as AdapterMode; }
  get adapterPort(): number { return readSetting(this.reader, 'debugAdapter.port') as number; }
  get syntax(): 'auto' | 'nasm' | 'gas' { return readSetting(this.reader, 'syntax') as 'auto' | 'nasm' | 'gas'; }
}

export function isMode(x: unknown): x is Mode {
  return typeof x === 'string' && (MODES as readonly string[]).includes(x);
}

/**
 * The `; popek: mode=…` (or `# popek: mode=…`) override in the first lines of a file, which the
 * language server honours before the setting; the status bar shows it so the user sees which wins.
 */
export function modeOverride(text: string, maxLines = Infinity): Mode | undefined {
  return modeOverrideIn(text, maxLines);
}
