/* The committed grammars are what scripts/gen-grammars.ts makes from the instruction table. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateGrammars, GRAMMAR_FILES, instructionLists } from '../../scripts/gen-grammars';
import { ROOT } from './tokenize';

describe('grammar: generated from the instruction table', () => {
  const generated = generateGrammars();
  for (const key of ['nasm', 'gas'] as const) {
    it(`${GRAMMAR_FILES[key]} is up to date (else run: npx tsx scripts/gen-grammars.ts)`, () => {
      const committed = fs.readFileSync(path.join(ROOT, GRAMMAR_FILES[key]), 'utf8');
      assert.ok(committed === generated[key], `${GRAMMAR_FILES[key]} differs from the generator's output`);
    });
  }

  it('every SPEC §7 class is present', () => {
    const l = instructionLists();
    for (const m of ['sgdt', 'sidt', 'sldt', 'smsw', 'str', 'popf', 'pushf', 'lar', 'lsl', 'verr', 'verw', 'int', 'iret']) {
      assert.ok(l.critical.includes(m), `critical: ${m}`);
    }
    for (const m of ['lgdt', 'lidt', 'lldt', 'ltr', 'lmsw', 'clts', 'invlpg', 'invd', 'wbinvd', 'hlt', 'rdmsr', 'wrmsr', 'rdpmc', 'sysexit']) {
      assert.ok(l.privileged.includes(m), `privileged: ${m}`);
    }
    for (const m of ['cli', 'sti', 'in', 'out']) assert.ok(l['iopl-sensitive'].includes(m), `iopl-sensitive: ${m}`);
  });
});
