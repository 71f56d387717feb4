/*
 * Code lens over each routine (non-local label): how many critical and privileged instructions it
 * contains, for the target mode's eyes. A routine runs to the next non-local label.
 */
import type { CodeLens } from 'vscode-languageserver/node';
import type { Mode } from '../core/isa';
import type { LintDocument } from '../core/lint/document';
import { reportedClass } from '../core/lint/classify';
import { effectiveMode } from '../core/lint/lint';

export function routineCounts(model: LintDocument): Array<{ name: string; line: number; critical: number; privileged: number }> {
  const out: Array<{ name: string; line: number; critical: number; privileged: number }> = [];
  let cur: (typeof out)[number] | undefined;
  for (let line = 0; line < model.facts.length; line++) {
    const f = model.facts[line];
    const global = f.defs.find((d) => d.kind === 'label' && !(model.syntax === 'nasm' && d.name.startsWith('.')) && !d.name.startsWith('.L'));
    if (global) { cur = { name: global.name, line, critical: 0, privileged: 0 }; out.push(cur); }
    if (!cur || f.pvMarker) continue;
    for (const instr of f.instructions) {
      const c = model.classify(instr);
      const cls = c ? reportedClass(c) : undefined;
      if (cls === 'critical') cur.critical++;
      else if (cls === 'privileged') cur.privileged++;
    }
  }
  return out;
}

export function codeLenses(model: LintDocument, setting: Mode): CodeLens[] {
  const mode = effectiveMode(model, setting);
  return routineCounts(model).filter((r) => r.critical + r.privileged > 0).map((r) => ({
    range: { start: { line: r.line, character: 0 }, end: { line: r.line, character: 0 } },
    command: {
      title: `${r.critical} critical · ${r.privileged} privileged (${mode})`,
      command: '',
    },
  }));
}
