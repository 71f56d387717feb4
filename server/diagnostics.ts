/*
 * Diagnostics over the protocol: pull (`textDocument/diagnostic`) when the client supports it,
 * push (`publishDiagnostics`) otherwise. Both come from core/lint; this module only converts.
 */
import { DiagnosticSeverity, type Diagnostic } from 'vscode-languageserver/node';
import type { Severity } from '../core/asm/ast';
import { lintDocument, type LintDiagnostic } from '../core/lint/lint';
import type { LintDocument } from '../core/lint/document';
import type { PopekSettings } from './settings';
import type { DocumentStore } from './documents';
import { costFigures } from '../core/lint/costs';

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

export function toLsp(d: LintDiagnostic): Diagnostic {
  return {
    range: d.range,
    severity: SEVERITY[d.severity],
    code: d.code,
    source: 'popek',
    message: d.message,
    data: d.instruction,
  };
}

/** The LSP diagnostics of a document: errors always, the rest up to `maxNumberOfProblems`. */
export function computeDiagnostics(model: LintDocument, settings: PopekSettings, store: DocumentStore): Diagnostic[] {
  const all = lintDocument(model, { mode: settings.mode, readFile: store.readFile, costs: costFigures(settings.cost) });
  const errors = all.filter((d) => d.severity === 'error');
  const rest = all.filter((d) => d.severity !== 'error');
  const kept = errors.length >= settings.maxNumberOfProblems ? errors.slice(0, settings.maxNumberOfProblems) : [...errors, ...rest.slice(0, settings.maxNumberOfProblems - errors.length)];
  kept.sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
  return kept.map(toLsp);
}
