/*
 * Diagnostics over the protocol: pull (`textDocument/diagnostic`) when the client supports it,
 * push (`publishDiagnostics`) otherwise. They come from core/lint; this module converts them and
 * keeps editing fast on big files: the per-line diagnostics are recomputed at once (cached per
 * line, so an edit costs milliseconds), while the whole-file assembler pass of a big file runs
 * shortly after the edits stop and then asks the client to pull again (or publishes again).
 */
import { pathToFileURL } from 'node:url';
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver/node';
import type { Severity } from '../core/asm/ast';
import { assemblerDiagnostics, lintDocument, type LintDiagnostic } from '../core/lint/lint';
import type { LintDocument } from '../core/lint/document';
import { costFigures } from '../core/lint/costs';
import type { PopekSettings } from './settings';
import type { DocumentStore } from './documents';
import { AssemblerWorker } from './assemblerWorker';

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** Files up to this many lines are assembled at once; bigger ones after a pause in typing. */
export const SYNC_ASSEMBLY_LINES = 1000;
const ASSEMBLY_DELAY_MS = 250;

const converted = new WeakMap<LintDiagnostic, Diagnostic>();

/** The protocol's form of a diagnostic; the same object for the same (cached) diagnostic, so an edit converts only its own lines'. */
export function toLsp(d: LintDiagnostic): Diagnostic {
  let c = converted.get(d);
  if (!c) {
    c = { range: d.range, severity: SEVERITY[d.severity], code: d.code, source: 'popek', message: d.message, data: d.instruction ?? (d.via ? { via: d.via } : undefined) };
    // A call site's diagnostic links to the macro body line it comes from.
    const via = d.via;
    if (via?.file !== undefined && via.line !== undefined) {
      const at = { line: via.line, character: 0 };
      c.relatedInformation = [{ location: { uri: pathToFileURL(via.file).toString(), range: { start: at, end: at } }, message: `\`${via.text}\` comes from the definition of macro ${via.macro}` }];
    }
    converted.set(d, c);
  }
  return c;
}

/** Errors always, the rest up to `maxNumberOfProblems`, in position order. */
export function limit(all: LintDiagnostic[], max: number): LintDiagnostic[] {
  const errors = all.filter((d) => d.severity === 'error');
  const rest = all.filter((d) => d.severity !== 'error');
  const kept = errors.length >= max ? errors.slice(0, max) : [...errors, ...rest.slice(0, max - errors.length)];
  return kept.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
}

export class DiagnosticsEngine {
  /** Per document the last report sent: its id and the (cached, shared) diagnostics it held. */
  private lastReport = new Map<string, { resultId: string; items: LintDiagnostic[]; max: number }>();
  private reportCounter = 0;
  private assembled = new Map<string, { version: number; lineCount: number; diagnostics: LintDiagnostic[] }>();
  private timers = new Map<string, NodeJS.Timeout>();

  private readonly worker: AssemblerWorker;

  /** `workerScript`: the bundle to start as the assembler thread (dist/server.js itself). */
  constructor(private readonly store: DocumentStore, private readonly onLate: (uri: string) => void, workerScript: string) {
    this.worker = new AssemblerWorker(workerScript);
  }

  /** Per document the diagnostics last pushed (cached, shared objects). */
  private lastPushed = new Map<string, { items: LintDiagnostic[]; max: number }>();

  compute(uri: string, model: LintDocument, settings: PopekSettings): Diagnostic[] {
    return this.collect(uri, model, settings).map(toLsp);
  }

  /**
   * Push mode: the diagnostics to publish after a change, or undefined when they are the very objects
   * already published (most keystrokes change no diagnostic: the per-line cache returns the same
   * objects), so a big file's edit sends no JSON at all and the client keeps what it shows.
   */
  changed(uri: string, model: LintDocument, settings: PopekSettings): Diagnostic[] | undefined {
    const items = this.collect(uri, model, settings);
    const last = this.lastPushed.get(uri);
    if (last && last.max === settings.maxNumberOfProblems && last.items.length === items.length && last.items.every((d, i) => d === items[i])) return undefined;
    this.lastPushed.set(uri, { items, max: settings.maxNumberOfProblems });
    return items.map(toLsp);
  }

  private collect(uri: string, model: LintDocument, settings: PopekSettings): LintDiagnostic[] {
    this.store.lastIncludePaths = settings.includePaths;
    this.store.lastNasmDefines = settings.nasmDefines;
    const includeEnv = this.store.includeEnv(model.fileName, settings.includePaths);
    const lint = lintDocument(model, { mode: settings.mode, costs: costFigures(settings.cost), skipAssembler: true, includeEnv });
    return limit([...lint, ...this.assembler(uri, model)], settings.maxNumberOfProblems);
  }

  /**
   * A pull report: `unchanged` when the diagnostics are the very same objects as in the report the
   * client holds (the per-line cache returns the same objects for untouched lines), so an edit that
   * changes no diagnostic costs no re-sending of hundreds of them.
   */
  report(uri: string, model: LintDocument, settings: PopekSettings, previousResultId?: string): { kind: 'full'; resultId: string; items: Diagnostic[] } | { kind: 'unchanged'; resultId: string } {
    const items = this.collect(uri, model, settings);
    const last = this.lastReport.get(uri);
    if (last && previousResultId === last.resultId && last.max === settings.maxNumberOfProblems && last.items.length === items.length && last.items.every((d, i) => d === items[i])) {
      return { kind: 'unchanged', resultId: last.resultId };
    }
    const resultId = String(++this.reportCounter);
    this.lastReport.set(uri, { resultId, items, max: settings.maxNumberOfProblems });
    return { kind: 'full', resultId, items: items.map(toLsp) };
  }

  /** The assembler's diagnostics now (small file), or the latest known while a fresh pass is pending. */
  private assembler(uri: string, model: LintDocument): LintDiagnostic[] {
    if (model.lines.length <= SYNC_ASSEMBLY_LINES) return assemblerDiagnostics(model, { readFile: this.store.readFile, includeEnv: this.store.includeEnv(model.fileName, this.store.lastIncludePaths) });
    const known = this.assembled.get(uri);
    if (known && known.version === model.version) return known.diagnostics;
    this.schedule(uri, model);
    // Stale results are shown only while the line numbering is unchanged.
    return known && known.lineCount === model.lines.length ? known.diagnostics : [];
  }

  private schedule(uri: string, model: LintDocument): void {
    clearTimeout(this.timers.get(uri));
    this.timers.set(uri, setTimeout(() => {
      this.timers.delete(uri);
      if (this.store.get(uri) !== model) return;
      const version = model.version;
      const lineCount = model.lines.length;
      const openFiles: Record<string, string> = {};
      for (const inc of this.store.included(model)) openFiles[inc.fileName] = inc.text;
      const env = this.store.includeEnv(model.fileName, this.store.lastIncludePaths);
      void this.worker.assemble(model, openFiles, () => assemblerDiagnostics(model, { readFile: this.store.readFile, includeEnv: env }), { searchPaths: env.searchPaths, roots: env.roots, nasmDefines: env.nasmDefines }).then((diagnostics) => {
        if (!diagnostics || this.store.get(uri) !== model) return;
        this.assembled.set(uri, { version, lineCount, diagnostics });
        // Edited meanwhile: the next pull schedules a fresh pass; this one is still worth showing.
        this.onLate(uri);
      });
    }, ASSEMBLY_DELAY_MS));
  }

  /** The next push sends everything (settings changed: the client's copy may be of other settings). */
  forgetPushed(uri: string): void { this.lastPushed.delete(uri); }

  forget(uri: string): void {
    this.lastReport.delete(uri);
    this.lastPushed.delete(uri);
    clearTimeout(this.timers.get(uri));
    this.timers.delete(uri);
    this.assembled.delete(uri);
  }
}
