/*
 * Fix-all fuzzing (issue 16): random sources × 11 line-ending / whitespace variants. For each, the
 * fix-all of core/lint (what `popek fix` writes) and the server's `source.fixAll` code action
 * (applied by vscode-languageserver-textdocument, as an editor applies it) must: change no line and
 * no line ending outside the rewritten lines, lose no line, stay inside the document, agree with
 * each other, and be idempotent (fixing the fixed text changes nothing).
 */
import * as assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { LintDocument, splitLines } from '../../core/lint/document';
import { allQuickFixes, fixAll, xenIncludeEdit } from '../../core/lint/fixes';
import { codeActions, FIX_ALL } from '../../server/codeActions';
import type { PopekSettings } from '../../server/settings';
import { rng } from './support/rng';
import { cases, progress, report, SEED } from './support/scale';
import { dress, EOL_VARIANTS, randomSource } from './support/sources';

const SETTINGS = { mode: 'paravirtual', cost: 'modern', maxNumberOfProblems: 1000 } as unknown as PopekSettings;

/** Checks one text; returns the number of rewritten lines. Throws (assert) with the reason. */
export function checkFixAll(fileName: string, syntax: 'nasm' | 'att', text: string): number {
  const doc = new LintDocument(fileName, syntax, text);
  assert.equal(doc.text, text, 'the model keeps the text byte for byte');
  const orig = splitLines(text);
  const fixes = allQuickFixes(doc);
  for (const f of fixes) {
    const { start, end } = f.edit.range;
    assert.ok(start.line === end.line && start.line < orig.lines.length && end.character <= orig.lines[start.line].length && start.character <= end.character,
      `edit range inside its line: ${JSON.stringify(f.edit.range)}`);
  }
  const result = fixAll(doc).text;
  // Every line not rewritten is in the result, with its line ending, in order; a rewritten line
  // becomes 1 + (line breaks of its edits) lines, the last ending as the original did.
  const fixed = splitLines(result);
  const grow = new Map<number, number>();
  // The fixes, and the line that includes the Xen constants header when they name its constants.
  const include = xenIncludeEdit(doc, fixes)?.edit;
  for (const e of [...fixes.map((f) => f.edit), ...(include ? [include] : [])]) grow.set(e.range.start.line, (grow.get(e.range.start.line) ?? 0) + (e.newText.match(/\r\n|\r|\n/g)?.length ?? 0));
  let k = 0;
  for (let i = 0; i < orig.lines.length; i++) {
    const g = grow.get(i);
    if (g === undefined) {
      assert.equal(fixed.lines[k], orig.lines[i], `line ${i + 1} unchanged`);
      assert.equal(fixed.eols[k], orig.eols[i], `line ending of line ${i + 1} unchanged`);
      k++;
    } else {
      for (let j = 0; j < g; j++) assert.ok(fixed.eols[k + j] !== '', `rewritten line ${i + 1} keeps its lines`);
      k += g;
      assert.equal(fixed.eols[k], orig.eols[i], `line ending of rewritten line ${i + 1}`);
      k++;
    }
  }
  assert.equal(k, fixed.lines.length, 'no line added or lost');
  // The server's fix-all, applied as an editor applies it.
  const uri = `file:///fuzz/${fileName}`;
  const actions = codeActions(doc, { textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, context: { diagnostics: [], only: [FIX_ALL] } }, SETTINGS);
  const edits = actions.find((a) => a.kind === FIX_ALL)?.edit?.changes?.[uri] ?? [];
  const td = TextDocument.create(uri, syntax === 'att' ? 'popek-gas' : 'popek-nasm', 1, text);
  assert.equal(TextDocument.applyEdits(td, edits), result, 'the server\'s fix-all equals popek fix');
  // Idempotent: nothing left to fix.
  const again = fixAll(new LintDocument(fileName, syntax, result)).text;
  assert.equal(again, result, 'fixing the fixed text changes nothing');
  return grow.size;
}

describe('fuzz: fix-all keeps every other line and line ending, is idempotent, CLI = server', () => {
  it('found by the campaign: a fix whose `#` comment would swallow a `/*` after the instruction is not offered', () => {
    checkFixAll('a.S', 'att', '.code32\n1: popfl/*\n        popfl                           # x\n  cli\n');
  });

  it('found by the campaign (seed 17): the server\'s fix-all applies when the first code line is rewritten from column 0 (the %include inserted there came after the rewrite: "Overlapping edit")', () => {
    for (const text of ['iret\n', '; c\r\niret\r\nstr ax\r\n']) checkFixAll('a.gasm', 'nasm', text);
    checkFixAll('a.S', 'att', 'iret\n');
  });

  const n = cases(8, 2000);
  it(`${n} sources × ${EOL_VARIANTS.length} variants`, function () {
    this.timeout(0);
    const r = rng(SEED);
    let rewritten = 0, texts = 0;
    const failures: string[] = [];
    for (let s = 0; s < n; s++) {
      const syntax = r.chance(0.7) ? 'nasm' : 'att';
      const lines = randomSource(r, syntax);
      for (const v of EOL_VARIANTS) {
        const text = dress(lines, v, r);
        const name = syntax === 'nasm' ? `s${s}.gasm` : `s${s}.S`;
        try {
          rewritten += checkFixAll(name, syntax, text);
        } catch (e) {
          if (failures.length < 10) failures.push(`source ${s} (${syntax}, ${v}): ${(e as Error).message.split('\n')[0]}\n--- text (JSON) ---\n${JSON.stringify(text)}`);
          else failures.push(`source ${s} (${syntax}, ${v})`);
        }
        texts++;
      }
      if (s % 200 === 199) progress('fix-all', { sources: s + 1, texts, rewrittenLines: rewritten, failures: failures.length });
    }
    report('fix-all', { sources: n, variants: EOL_VARIANTS.length, texts, rewrittenLines: rewritten, failures: failures.length });
    assert.deepEqual(failures.slice(0, 10), []);
  });
});
