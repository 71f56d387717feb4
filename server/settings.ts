/*
 * The `popek` settings section, read per document through `workspace/configuration` and cached
 * until the client says the configuration changed (lsp-sample's pattern).
 */
import type { Connection } from 'vscode-languageserver/node';
import type { Mode } from '../core/isa';
import { isMode } from '../core/lint/lint';

export interface PopekSettings {
  mode: Mode;
  maxNumberOfProblems: number;
  cost: string;
  /** `popek.includePaths`: searched for included files (core/lint/includes.ts). */
  includePaths: string[];
  /** `popek.nasmDefines`: NASM's command-line defines (`DEBUG`, `VERSION=2`), as `nasm -d` gives them. */
  nasmDefines: string[];
}

export const DEFAULT_SETTINGS: PopekSettings = { mode: 'paravirtual', maxNumberOfProblems: 1000, cost: 'modern', includePaths: [], nasmDefines: [] };

export class SettingsCache {
  private cache = new Map<string, Promise<PopekSettings>>();
  /** Whether the client answers `workspace/configuration`. */
  supported = false;

  /** Settings pushed with didChangeConfiguration, for clients without workspace/configuration. */
  private pushed: PopekSettings = DEFAULT_SETTINGS;

  constructor(private readonly connection: Connection) {}

  /** A client that cannot answer workspace/configuration sends the section with its notifications. */
  push(settings: unknown): void {
    const section = (settings as { popek?: unknown } | undefined)?.popek;
    if (section !== undefined) this.pushed = normalise(section);
  }

  get(uri: string): Promise<PopekSettings> {
    if (!this.supported) return Promise.resolve(this.pushed);
    let s = this.cache.get(uri);
    if (!s) {
      s = this.connection.workspace.getConfiguration({ scopeUri: uri, section: 'popek' }).then(normalise, () => DEFAULT_SETTINGS);
      this.cache.set(uri, s);
    }
    return s;
  }

  forget(uri: string): void { this.cache.delete(uri); }
  clear(): void { this.cache.clear(); }
}

/** Validates what the client sent; anything malformed falls back to the default. */
export function normalise(raw: unknown): PopekSettings {
  const r = (raw ?? {}) as Partial<Record<keyof PopekSettings, unknown>>;
  return {
    mode: typeof r.mode === 'string' && isMode(r.mode) ? r.mode : DEFAULT_SETTINGS.mode,
    maxNumberOfProblems: typeof r.maxNumberOfProblems === 'number' && r.maxNumberOfProblems >= 1 ? Math.floor(r.maxNumberOfProblems) : DEFAULT_SETTINGS.maxNumberOfProblems,
    cost: typeof r.cost === 'string' ? r.cost : DEFAULT_SETTINGS.cost,
    includePaths: Array.isArray(r.includePaths) ? r.includePaths.filter((p): p is string => typeof p === 'string') : [],
    nasmDefines: Array.isArray(r.nasmDefines) ? r.nasmDefines.filter((p): p is string => typeof p === 'string') : [],
  };
}
