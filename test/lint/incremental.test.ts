/*
 * The incremental document model: after any sequence of editor changes, the lines, the per-line
 * facts and the diagnostics equal those of the same text scanned from scratch. The edits are
 * random (seeded) and include what carries state across lines: AT&T block comments and macro
 * bodies in both syntaxes.
 */
import * as assert from 'node:assert/strict';
import { LintDocument } from '../../core/lint/document';
import { lintDocument } from '../../core/lint/lint';
import type { LineFacts } from '../../core/lint/lineModel';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s * 1664525 + 1013904223) >>> 0; return s / 4294967296; };
}

const PIECES = {
  nasm: ['cli', 'popfd', 'mov ds, ax', '%macro M 0', '%endmacro', 'lbl:', '.loc:', 'jmp lbl', '\n', '\n', '; c', 'x equ 4', 'mov eax, cr0', ' ', '[', ']', ','],
  att: ['cli', 'popfl', '/*', '*/', '.macro m', '.endm', 'lbl:', '1:', 'ljmp $8, $1f', '\n', '\n', '# c', ';', 'movl %cr0, %eax', ' ', '(', ')', ',',
    '#if 0', '#endif', '#else', '#define X \\', 'm', '.irp r, es', '.endr', 'pushl %\\r'],
};

/** The facts without the caches the linter attaches to them. */
function plain(f: LineFacts): unknown {
  // The macro view's marks (inactive, macroBody, repeat) are compared through the diagnostics.
  const { lintCache: _cache, inactive: _i, macroBody: _m, repeat: _r, ...rest } = f;
  return JSON.parse(JSON.stringify(rest));
}

describe('incremental document model', () => {
  for (const syntax of ['nasm', 'att'] as const) {
    it(`${syntax}: 300 random edits keep lines, facts and diagnostics equal to a fresh scan`, () => {
      const r = rng(syntax === 'nasm' ? 7 : 8);
      const pieces = PIECES[syntax];
      const pick = () => pieces[Math.floor(r() * pieces.length)];
      let text = Array.from({ length: 40 }, () => `${pick()} ${pick()}`).join('\n');
      const doc = new LintDocument(syntax === 'nasm' ? 'a.gasm' : 'a.S', syntax, text);
      for (let step = 0; step < 300; step++) {
        const lines = text.split('\n');
        const sl = Math.floor(r() * lines.length);
        const el = Math.min(lines.length - 1, sl + Math.floor(r() * 3));
        const sc = Math.floor(r() * (lines[sl].length + 1));
        const ec = sl === el ? sc + Math.floor(r() * (lines[el].length - sc + 1)) : Math.floor(r() * (lines[el].length + 1));
        const insert = Array.from({ length: Math.floor(r() * 3) }, pick).join(r() < 0.5 ? ' ' : '\n');
        const offset = (l: number, c: number) => lines.slice(0, l).reduce((n, x) => n + x.length + 1, 0) + c;
        text = text.slice(0, offset(sl, sc)) + insert + text.slice(offset(el, ec));
        doc.applyChange({ range: { start: { line: sl, character: sc }, end: { line: el, character: ec } }, text: insert });
        const fresh = new LintDocument(doc.fileName, syntax, text);
        assert.equal(doc.text, text, `text after step ${step}`);
        assert.deepEqual(doc.facts.map(plain), fresh.facts.map(plain), `facts after step ${step}`);
        // Linted after every edit (the incremental path), or now and then after several (the full one).
        if (step % 7 !== 3) {
          assert.deepEqual(lintDocument(doc, { mode: 'paravirtual', skipAssembler: true }), lintDocument(fresh, { mode: 'paravirtual', skipAssembler: true }), `diagnostics after step ${step}`);
        }
      }
      const fresh = new LintDocument(doc.fileName, syntax, text);
      assert.deepEqual(lintDocument(doc, { mode: 'paravirtual', skipAssembler: true }), lintDocument(fresh, { mode: 'paravirtual', skipAssembler: true }));
      assert.deepEqual([...doc.symbols().byName.keys()].sort(), [...fresh.symbols().byName.keys()].sort());
      assert.deepEqual(doc.definitions(), fresh.definitions());
    });
  }
});
