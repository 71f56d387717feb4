/*
 * 10,000 random and mutated sources through the parser and the assembler (seeded, deterministic):
 * nothing throws, no internal error, and every diagnostic's range lies inside the text.
 */
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Diagnostic } from '../../core/asm/ast';
import { assemble } from '../../core/asm/assembler';
import { parseNasm, splitLines } from '../../core/asm/parser';
import { allInstructions } from '../../core/isa/table';
import { generateForms } from './formGen';
import { prng, repoRoot } from './support';

const VOCAB = [
  ...allInstructions().map((i) => i.mnemonic), 'eax', 'ebx', 'ecx', 'esp', 'ebp', 'al', 'ah', 'ax', 'cs', 'ds', 'fs', 'cr0', 'cr3', 'dr7',
  'byte', 'word', 'dword', 'qword', 'short', 'near', 'far', 'strict', 'nosplit', 'rep', 'lock', 'times', 'db', 'dw', 'dd', 'dq', 'resb', 'resd', 'equ',
  'bits', '32', '16', 'org', 'section', '.text', '.data', '.bss', 'align', '%define', '%macro', '%endmacro', '%include', '%if', '%else', '%endif', '%ifdef',
  '%rep', '%endrep', '%assign', '%error', '%1', '%0', '%%l', '$', '$$', '0x10', '0', '1', '-1', '0ffh', '0b101', '7q', "'a'", '"str"', '`x\\n`', "'unterminated",
  '[', ']', '(', ')', ',', ':', '+', '-', '*', '/', '//', '%', '<<', '>>', '&', '|', '^', '~', '!', '==', '<', '?', ';', 'label', '.local', '..@x', 'start',
  '__HYPERVISOR_sched_op', 'SCHEDOP_block', 'constructor', '__proto__', 'toString', 'hasOwnProperty', '\t', '  ', '\\', '{', '}', '@', '#', 'é', '\u0000',
];

function randomSource(rnd: () => number): string {
  const lines: string[] = [];
  const n = 1 + Math.floor(rnd() * 12);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(rnd() * 8);
    const toks: string[] = [];
    for (let j = 0; j < k; j++) toks.push(VOCAB[Math.floor(rnd() * VOCAB.length)]);
    lines.push(toks.join(rnd() < 0.7 ? ' ' : ''));
  }
  return lines.join(rnd() < 0.9 ? '\n' : '\r\n');
}

const CHARS = ' \t[]:,+-*;%$"\'`abcxyz0123456789.\n';
function mutate(text: string, rnd: () => number): string {
  let s = text;
  const m = 1 + Math.floor(rnd() * 5);
  for (let i = 0; i < m; i++) {
    const pos = Math.floor(rnd() * (s.length + 1));
    const what = Math.floor(rnd() * 6);
    if (what === 0) s = s.slice(0, pos) + s.slice(pos + 1 + Math.floor(rnd() * 8));
    else if (what === 1) s = s.slice(0, pos) + CHARS[Math.floor(rnd() * CHARS.length)] + s.slice(pos);
    else if (what === 2) s = s.slice(0, pos) + VOCAB[Math.floor(rnd() * VOCAB.length)] + s.slice(pos);
    else if (what === 3) { const a = s.slice(pos, pos + 20); s = s.slice(0, pos) + a + a + s.slice(pos); }
    else if (what === 4) s = s.slice(0, pos);
    else { const ls = s.split('\n'); const a = Math.floor(rnd() * ls.length), b = Math.floor(rnd() * ls.length); [ls[a], ls[b]] = [ls[b], ls[a]]; s = ls.join('\n'); }
  }
  return s;
}

function checkRanges(text: string, diags: Diagnostic[], what: string): void {
  const lines = splitLines(text);
  for (const d of diags) {
    if (d.file) continue; // inside an include
    const { start, end } = d.range;
    const ok = start.line >= 0 && start.line < lines.length && end.line < lines.length && (start.line < end.line || start.character <= end.character)
      && start.character >= 0 && start.character <= lines[start.line].length && end.character <= lines[end.line].length;
    assert.ok(ok, `${what}: diagnostic '${d.message}' range ${JSON.stringify(d.range)} outside the text:\n${text}`);
    assert.ok(d.message && d.code, `${what}: diagnostic without message or code`);
  }
}

describe('fuzz: parser and assembler never throw, every range is inside the text', function () {
  this.timeout(180000);
  const corpus: string[] = [];
  const ex = path.join(repoRoot(), 'examples');
  if (existsSync(ex)) for (const f of readdirSync(ex).filter((x) => x.endsWith('.gasm')).sort()) corpus.push(readFileSync(path.join(ex, f), 'utf8'));
  const forms = generateForms(2).map((f) => f.text);
  for (let i = 0; i < forms.length; i += 40) corpus.push('bits 32\n' + forms.slice(i, i + 40).join('\n'));
  corpus.push('%macro m 2\n  mov eax, %1\n%%x: add eax, %2\n  jmp %%x\n%endmacro\n%define K 4\nm K, 5\ntimes 3 db 0\n%if K > 2\nnop\n%endif\n');

  it('10,000 sources', () => {
    const rnd = prng(0x5eed);
    let errors = 0;
    for (let i = 0; i < 10000; i++) {
      const text = i % 3 === 0 ? randomSource(rnd) : mutate(corpus[Math.floor(rnd() * corpus.length)], rnd);
      const what = `source #${i}`;
      let p, a;
      try { p = parseNasm(text, 'fuzz.gasm'); } catch (e) { assert.fail(`${what}: parseNasm threw ${String(e)}\n${text}`); }
      checkRanges(text, p.diagnostics, `${what} parse`);
      try { a = assemble('fuzz.gasm', text, { readFile: () => undefined }); } catch (e) { assert.fail(`${what}: assemble threw ${String(e)}\n${text}`); }
      assert.ok(!a.diagnostics.some((d) => d.code === 'internal'), `${what}: internal error ${a.diagnostics.find((d) => d.code === 'internal')?.message}\n${text}`);
      checkRanges(text, a.diagnostics, `${what} assemble`);
      errors += a.diagnostics.length ? 1 : 0;
    }
    assert.ok(errors > 1000, 'the fuzzer produces broken sources');
  });
});
