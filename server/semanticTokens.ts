/*
 * Semantic tokens: mnemonics, with modifiers that make critical and privileged instructions stand
 * out (themes colour `critical` / `privileged`), labels, constants, macros and registers.
 */
import { SemanticTokensBuilder, type SemanticTokens, type SemanticTokensLegend } from 'vscode-languageserver/node';
import type { LintDocument } from '../core/lint/document';
import { reportedClass } from '../core/lint/classify';

const TYPES = ['keyword', 'function', 'variable', 'macro', 'label', 'parameter', 'comment'] as const;
const MODIFIERS = ['critical', 'privileged', 'declaration', 'readonly'] as const;
export const SEMANTIC_LEGEND: SemanticTokensLegend = { tokenTypes: [...TYPES], tokenModifiers: [...MODIFIERS] };

const T = (t: (typeof TYPES)[number]) => TYPES.indexOf(t);
const M = (m: (typeof MODIFIERS)[number]) => 1 << MODIFIERS.indexOf(m);

export function semanticTokens(model: LintDocument): SemanticTokens {
  const b = new SemanticTokensBuilder();
  const table = model.symbols();
  model.currentMacroView(); // marks the lines cpp skips
  for (let line = 0; line < model.facts.length; line++) {
    const f = model.facts[line];
    // A region cpp skips (`#if 0`, a false `#ifdef`) is shown as a comment: greyed, like clangd's.
    if (f.inactive) { if (model.lines[line].length) b.push(line, 0, model.lines[line].length, T('comment'), 0); continue; }
    const tokens: Array<[number, number, number, number]> = [];
    for (const d of f.defs) tokens.push([d.start, d.end - d.start, d.kind === 'macro' ? T('macro') : d.kind === 'label' ? T('label') : T('variable'), M('declaration') | (d.kind === 'label' ? 0 : M('readonly'))]);
    for (const instr of f.instructions) {
      const c = model.classify(instr);
      const cls = c ? reportedClass(c) : undefined;
      const mod = f.pvMarker ? 0 : cls === 'critical' ? M('critical') : cls === 'privileged' ? M('privileged') : 0;
      tokens.push([instr.mnemonicSpan.start, instr.mnemonicSpan.end - instr.mnemonicSpan.start, instr.known ? T('keyword') : T('macro'), mod]);
      for (const o of instr.operands) if (o.kind === 'register') tokens.push([o.start, o.end - o.start, T('parameter'), 0]);
    }
    const scope = table.lineScopes[line];
    for (const r of f.refs) {
      const sym = table.byName.get(model.qualify(r.name, scope));
      if (!sym || !sym.defs.length) continue;
      tokens.push([r.start, r.end - r.start, sym.kind === 'label' ? T('function') : sym.kind === 'macro' ? T('macro') : T('variable'), sym.kind === 'label' ? 0 : M('readonly')]);
    }
    tokens.sort((a, b2) => a[0] - b2[0]);
    let last = -1;
    for (const [start, len, type, mod] of tokens) {
      if (start < last || len <= 0) continue;
      b.push(line, start, len, type, mod);
      last = start + len;
    }
  }
  return b.build();
}
