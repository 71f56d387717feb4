/*
 * Fuzzing the AT&T parser (and the NASM line scanner): random lines built from the characters and
 * tokens these syntaxes use, and mutations of the corpus lines. No input may throw, and every
 * range reported must lie inside its line. Seeded, so a failure reproduces.
 */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { initialAttState, scanAttLine } from '../../core/lint/att';
import { scanNasmLine } from '../../core/lint/nasmScanner';
import { LintDocument } from '../../core/lint/document';
import { lintDocument } from '../../core/lint/lint';
import { allQuickFixes } from '../../core/lint/fixes';
import type { LineFacts, Span } from '../../core/lint/lineModel';
import { REPO_ROOT } from '../support/repoRoot';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (s + 0x6D2B79F5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

const TOKENS = ['%eax', '%cr0', '%ds', '%st(1)', '$', '$0x10', '(', ')', ',', ';', '#', '/*', '*/', '"', '\\', ':', '*', 'ljmp', 'lret', 'popfl', 'movl', 'lgdtl', '.code32',
  '.globl', '.byte', '.ascii', '.macro', '.endm', '1f', '1:', 'label:', ' ', '\t', '-', '+', '%', 'sgdt', 'cli', 'in', 'out', '(%dx)', '%es:(%edi)', '8(%ebx,%ecx,4)', 'rep',
  '[', ']', 'far', 'byte', '%include', '%macro', 'times', 'equ', "'", '`', '0x', '..@x', '\u00e9', '\uD83D\uDE00', '\u0000'];

function randomLine(r: () => number): string {
  const n = Math.floor(r() * 12);
  let s = '';
  for (let i = 0; i < n; i++) s += r() < 0.8 ? TOKENS[Math.floor(r() * TOKENS.length)] : String.fromCharCode(Math.floor(r() * 128));
  return s;
}

function mutate(line: string, r: () => number): string {
  const chars = [...line];
  const k = 1 + Math.floor(r() * 4);
  for (let i = 0; i < k; i++) {
    const at = Math.floor(r() * (chars.length + 1));
    const op = r();
    if (op < 0.4) chars.splice(at, 1);
    else if (op < 0.8) chars.splice(at, 0, TOKENS[Math.floor(r() * TOKENS.length)]);
    else chars.splice(at, 0, String.fromCharCode(Math.floor(r() * 0x3000)));
  }
  return chars.join('');
}

function checkSpans(line: string, f: LineFacts): void {
  const spans: Span[] = [...f.defs, ...f.refs, ...f.errors, ...f.instructions, ...f.instructions.flatMap((i) => [i.mnemonicSpan, ...i.operands])];
  if (f.directive) spans.push(f.directive, f.directive.argsSpan);
  if (f.include) spans.push(f.include);
  if (f.macroCall) spans.push(f.macroCall);
  for (const s of spans) {
    assert.ok(Number.isInteger(s.start) && Number.isInteger(s.end), `integer span in ${JSON.stringify(line)}`);
    assert.ok(s.start >= 0 && s.start <= s.end && s.end <= line.length, `span ${s.start}-${s.end} outside ${JSON.stringify(line)} (${line.length})`);
  }
  if (f.commentStart !== undefined) assert.ok(f.commentStart >= 0 && f.commentStart <= line.length);
}

const ROOT = REPO_ROOT;

describe('scanner fuzzing: no exception, ranges inside the text', () => {
  it('AT&T: 20,000 random lines', () => {
    const r = rng(1);
    const state = initialAttState();
    for (let i = 0; i < 20000; i++) {
      const line = randomLine(r);
      checkSpans(line, scanAttLine(line, state));
    }
  });

  it('AT&T: every corpus line mutated 40 times', () => {
    const r = rng(2);
    const lines = readFileSync(path.join(ROOT, 'test/fixtures/lint/sensitive.S'), 'utf8').split('\n');
    const state = initialAttState();
    for (const l of lines) for (let k = 0; k < 40; k++) { const m = mutate(l, r); checkSpans(m, scanAttLine(m, state)); }
  });

  it('NASM: random and mutated lines', () => {
    const r = rng(3);
    const state = { inMacro: false };
    const lines = readFileSync(path.join(ROOT, 'test/fixtures/lint/sensitive.gasm'), 'utf8').split('\n');
    for (let i = 0; i < 10000; i++) { const line = randomLine(r); checkSpans(line, scanNasmLine(line, state)); }
    for (const l of lines) for (let k = 0; k < 20; k++) { const m = mutate(l, r); checkSpans(m, scanNasmLine(m, state)); }
  });

  it('whole documents of fuzzed lines lint and fix without throwing, diagnostics inside the text', () => {
    const r = rng(4);
    for (const syntax of ['att', 'nasm'] as const) {
      const text = Array.from({ length: 400 }, () => randomLine(r)).join('\n');
      const doc = new LintDocument(syntax === 'att' ? 'f.S' : 'f.gasm', syntax, text);
      for (const d of lintDocument(doc, { mode: 'paravirtual', skipAssembler: syntax === 'nasm' })) {
        const line = doc.lines[d.range.start.line];
        assert.ok(line !== undefined && d.range.end.character <= line.length && d.range.start.character <= d.range.end.character, JSON.stringify(d));
      }
      for (const f of allQuickFixes(doc)) assert.ok(f.edit.range.end.character <= doc.lines[f.line].length);
    }
  });
});
