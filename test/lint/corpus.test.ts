/*
 * The lint corpus (test/fixtures/lint): every form of every critical and privileged instruction in
 * both syntaxes is flagged with the right code and nothing else is flagged; and the judges are the
 * real assemblers: whatever `nasm -f bin` / `as --32` accepts gets no error diagnostic, and the
 * lines they reject get one. Each assembler runs once per corpus file.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MODES } from '../../core/isa';
import { LintDocument, syntaxOf } from '../../core/lint/document';
import { lintDocument } from '../../core/lint/lint';
import { REPO_ROOT } from '../support/repoRoot';

const ROOT = REPO_ROOT;
const FIXTURES = path.join(ROOT, 'test/fixtures/lint');
const scratch = mkdtempSync(path.join(tmpdir(), 'popek-corpus-'));

function load(file: string): LintDocument {
  return new LintDocument(file, syntaxOf(file), readFileSync(file, 'utf8'));
}

/** Runs the real assembler once; returns its exit status and the 1-based lines it reports errors on. */
function realAssembler(file: string): { status: number; errorLines: Set<number>; output: string } {
  const att = syntaxOf(file) === 'att';
  const r = att
    ? spawnSync('as', ['--32', '-o', path.join(scratch, 'out.o'), file], { encoding: 'utf8' })
    : spawnSync('nasm', ['-f', 'bin', '-o', path.join(scratch, 'out.bin'), file], { encoding: 'utf8' });
  if (r.error) throw new Error(`${att ? 'as' : 'nasm'} is not installed (scripts/setup.sh installs it): ${r.error.message}`);
  const output = `${r.stdout}${r.stderr}`;
  const errorLines = new Set<number>();
  const re = att ? /:(\d+): Error:/g : /:(\d+): error:/g;
  for (const m of output.matchAll(re)) errorLines.add(Number(m[1]));
  return { status: r.status ?? -1, errorLines, output };
}

function errorLines(doc: LintDocument): Set<number> {
  return new Set(lintDocument(doc, { mode: 'paravirtual' }).filter((d) => d.severity === 'error').map((d) => d.range.start.line + 1));
}

describe('lint corpus: every critical and privileged form, both syntaxes', () => {
  for (const name of ['sensitive.gasm', 'sensitive.S']) {
    const file = path.join(FIXTURES, name);
    it(`${name}: the assembler accepts it and the linter reports no error`, () => {
      const real = realAssembler(file);
      assert.equal(real.status, 0, real.output);
      const doc = load(file);
      const errors = lintDocument(doc, { mode: 'paravirtual' }).filter((d) => d.severity === 'error');
      assert.deepEqual(errors.map((e) => `${e.range.start.line + 1}: ${e.message}`), []);
    });

    it(`${name}: each line gets exactly the expected codes in every virtualized mode, and nothing in native`, () => {
      const doc = load(file);
      const expected = doc.lines.map((l) => {
        const m = /expect:\s*([a-z -]+)$/.exec(l);
        return m ? m[1].trim().split(/\s+/) : [];
      });
      assert.ok(expected.filter((e) => e.length).length > 100, 'the corpus is complete');
      for (const mode of MODES) {
        const got: string[][] = doc.lines.map(() => []);
        for (const d of lintDocument(doc, { mode, skipAssembler: true })) got[d.range.start.line].push(d.code);
        const want = mode === 'native' ? expected.map(() => []) : expected;
        const mismatches = got.map((g, i) => (g.join(' ') === want[i].join(' ') ? '' : `${i + 1}: got [${g.join(' ')}] want [${want[i].join(' ')}] — ${doc.lines[i].trim()}`)).filter(Boolean);
        assert.deepEqual(mismatches, [], `mode ${mode}`);
      }
    });
  }

  it('boot.S (C-preprocessed, xv6 style): macros are not errors, the sensitive lines are flagged', () => {
    const doc = load(path.join(FIXTURES, 'boot.S'));
    const got = lintDocument(doc, { mode: 'paravirtual' });
    assert.deepEqual(got.filter((d) => d.severity === 'error'), []);
    const expected = doc.lines.map((l, i) => [i, /expect:\s*([a-z-]+)/.exec(l)?.[1]] as const).filter(([, c]) => c);
    assert.deepEqual(got.map((d) => [d.range.start.line, d.code]), expected);
  });

  it('severities follow the mode (SPEC §7)', () => {
    const doc = load(path.join(FIXTURES, 'sensitive.gasm'));
    const sev = (mode: (typeof MODES)[number], code: string) => new Set(lintDocument(doc, { mode, skipAssembler: true }).filter((d) => d.code === code).map((d) => d.severity));
    assert.deepEqual(sev('paravirtual', 'critical-instruction'), new Set(['warning']));
    assert.deepEqual(sev('paravirtual', 'privileged-instruction'), new Set(['information']));
    assert.deepEqual(sev('trap-and-emulate', 'critical-instruction'), new Set(['warning']));
    assert.deepEqual(sev('binary-translation', 'critical-instruction'), new Set(['information']));
    assert.deepEqual(sev('binary-translation', 'privileged-instruction'), new Set(['hint']));
    for (const s of sev('hardware-assisted', 'privileged-instruction')) assert.ok(s === 'hint' || s === 'information');
  });
});

describe('lint corpus: compiler-written AT&T (gcc -m32 -S)', () => {
  // Real compiler output: x87 and SSE code, .cfi_* directives, sections, inline asm with sensitive
  // instructions. as accepts it all, so the linter must report no error, and it must flag the
  // sensitive instructions of the inline asm.
  for (const [flags, name] of [[['-O0'], 'O0'], [['-O2', '-msse2', '-mfpmath=sse', '-march=i686', '-fno-pic'], 'O2-sse']] as const) {
    it(`kernel.c at ${name}: no false errors; cli, sti, pushfl, lidtl, movl %cr2 flagged`, function () {
      const out = path.join(scratch, `kernel-${name}.s`);
      const cc = spawnSync('gcc', ['-m32', ...flags, '-S', '-o', out, path.join(FIXTURES, 'kernel.c')], { encoding: 'utf8' });
      // scripts/setup.sh installs gcc; without it this check must fail, not pass silently.
      assert.ok(!cc.error, `gcc is needed (bash scripts/setup.sh installs it): ${cc.error?.message}`);
      assert.equal(cc.status, 0, cc.stderr);
      const real = realAssembler(out);
      assert.equal(real.status, 0, real.output);
      const doc = load(out);
      const diags = lintDocument(doc, { mode: 'paravirtual' });
      assert.deepEqual(diags.filter((d) => d.severity === 'error').map((d) => `${d.range.start.line + 1}: ${d.message}`), []);
      const flagged = new Set(diags.map((d) => doc.facts[d.range.start.line].instructions.find((i) => i.start === d.range.start.character)?.mnemonic));
      for (const m of ['cli', 'sti', 'pushfd', 'lidt', 'mov', 'in', 'out']) assert.ok(flagged.has(m), `${m} flagged (${[...flagged].join(' ')})`);
    });
  }
});

describe('lint corpus: no false errors, and an error wherever the real assembler rejects', () => {
  const files = [
    ...['rejected.gasm', 'rejected-syntax.gasm', 'rejected.S'].map((f) => path.join(FIXTURES, f)),
    ...readdirSync(path.join(ROOT, 'examples')).filter((f) => /\.(gasm|S|s)$/.test(f)).map((f) => path.join(ROOT, 'examples', f)),
  ];
  for (const file of files) {
    it(`${path.relative(ROOT, file)}: error lines equal the ${syntaxOf(file) === 'att' ? 'as --32' : 'nasm'} error lines`, () => {
      const real = realAssembler(file);
      const ours = errorLines(load(file));
      assert.deepEqual([...ours].sort((a, b) => a - b), [...real.errorLines].sort((a, b) => a - b), real.output);
      if (path.basename(file).startsWith('rejected')) assert.ok(real.errorLines.size >= 3, 'the reject corpus is rejected');
    });
  }
});
