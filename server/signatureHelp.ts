/*
 * Signature help: the operand forms of the instruction under the cursor (from the table), in the
 * syntax of the document, with the operand being typed highlighted.
 */
import type { SignatureHelp, SignatureHelpParams, SignatureInformation } from 'vscode-languageserver/node';
import type { LintDocument } from '../core/lint/document';
import { lookup } from '../core/lint/classify';
import { virtFactsFor } from '../core/isa';

export const SIGNATURE_TRIGGERS = [' ', ','];

export function signatureHelp(model: LintDocument, p: SignatureHelpParams): SignatureHelp | null {
  const { line, character } = p.position;
  const facts = model.facts[line];
  if (!facts) return null;
  const instr = facts.instructions.find((i) => character > i.mnemonicSpan.end && character <= Math.max(i.end, i.mnemonicSpan.end + 1) + 1)
    ?? facts.instructions.find((i) => character > i.mnemonicSpan.end);
  if (!instr) return null;
  const info = lookup(instr);
  if (!info) return null;
  const text = model.lines[line].slice(instr.mnemonicSpan.end, character);
  const commas = (text.match(/,/g) ?? []).length;
  const att = model.syntax === 'att';
  const signatures: SignatureInformation[] = [];
  const seen = new Set<string>();
  for (const form of info.forms) {
    if (form.decodeOnly) continue;
    const ops = att ? [...form.operands].reverse() : form.operands;
    const label = `${instr.spelling} ${ops.join(', ')}`.trim();
    if (seen.has(label)) continue;
    seen.add(label);
    const cls = virtFactsFor(info, form).class;
    signatures.push({
      label,
      documentation: `${info.description}${cls !== 'innocuous' ? ` — ${cls}` : ''} (encoding ${form.encoding})`,
      parameters: ops.map((o) => ({ label: o })),
    });
  }
  if (!signatures.length) return null;
  // Prefer the first form with enough operands for the one being typed.
  const active = Math.max(0, signatures.findIndex((s) => (s.parameters?.length ?? 0) > commas));
  return { signatures, activeSignature: active, activeParameter: commas };
}
