/*
 * The snippets expand (with their default choices) into code the reference assemblers accept:
 * NASM for popek-nasm, GNU as --32 for popek-gas. The Xen names come from core/asm/predefined.ts,
 * which Popek's assembler predefines and NASM does not.
 */
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PREDEFINED } from '../../core/asm/predefined';
import { repoRoot } from '../../scripts/gen-grammars';

const ROOT = repoRoot(__dirname);

interface Snippet { prefix: string | string[]; body: string | string[]; description: string }

/** Expands a snippet body as VS Code does when every placeholder keeps its default. */
export function expandSnippet(body: string | string[], vars: Record<string, string> = {}): string {
  let text = Array.isArray(body) ? body.join('\n') : body;
  for (let i = 0; i < 10; i++) {
    const next = text
      .replace(/\$\{\d+:([^{}]*)\}/g, '$1')
      .replace(/\$\{\d+\|([^,|}]*)[^}]*\|\}/g, '$1')
      .replace(/\$\{([A-Z_]+)\}/g, (_m, v: string) => vars[v] ?? '');
    if (next === text) break;
    text = next;
  }
  return text.replace(/(?<!\\)\$\d+/g, '').replace(/\\\$/g, '$');
}

function have(tool: string): boolean {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
}

function load(file: string): Record<string, Snippet> {
  return JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));
}

/** What a fragment needs around it to assemble on its own. */
const NASM_CONTEXT: Record<string, string> = {
  'IDT gate': 'handler: iretd\nidt: times 256 dq 0\n',
  'Hypercall: console_io write': 'message: db "hi"\nmessage_len equ $ - message\n',
  'Hypercall: sched_op shutdown': 'shutdown_reason: dd 0\n',
};
const GAS_CONTEXT: Record<string, string> = {
  'Hypercall: console_io write': 'message: .ascii "hi"\n.set message_len, . - message\n',
  'Hypercall: sched_op shutdown': 'shutdown_reason: .long 0\n',
};

describe('snippets', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-snippets-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('the expander handles placeholders, choices, variables and escapes', () => {
    assert.equal(expandSnippet(['a ${1:x} ${2|p,q|} ${TM_FILENAME} \\$\\$ $0'], { TM_FILENAME: 'f' }), 'a x p f $$ ');
    assert.equal(expandSnippet('${1:outer ${2:inner}}'), 'outer inner');
  });

  it('package.json contributes every snippet file, and each has a prefix, body and description', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const contributed = (pkg.contributes.snippets as Array<{ language: string; path: string }>).map((s) => path.normalize(s.path));
    for (const f of fs.readdirSync(path.join(ROOT, 'snippets'))) {
      assert.ok(contributed.includes(path.normalize(`./snippets/${f}`)), `snippets/${f} is not contributed`);
      for (const [name, s] of Object.entries(load(`snippets/${f}`))) {
        assert.ok(s.prefix.length && s.body.length && s.description, `${f}: ${name}`);
      }
    }
  });

  for (const [name, s] of Object.entries(load('snippets/popek-nasm.json'))) {
    it(`NASM accepts "${name}"`, function () {
      assert.ok(have('nasm'), 'nasm is needed (bash scripts/setup.sh installs it)');
      const defines = Object.entries(PREDEFINED).map(([k, v]) => `%define ${k} ${v}`).join('\n');
      const body = expandSnippet(s.body, { TM_FILENAME: 'kernel.gasm' });
      const whole = /^org /m.test(body) ? body : `bits 32\norg 0x100000\n${body}\n${NASM_CONTEXT[name] ?? ''}`;
      const file = path.join(tmp, 'snippet.asm');
      fs.writeFileSync(file, `${defines}\n${whole}\n`);
      execFileSync('nasm', ['-f', 'bin', '-o', path.join(tmp, 'snippet.bin'), file], { stdio: 'pipe' });
      assert.ok(fs.existsSync(path.join(tmp, 'snippet.bin')), 'nasm wrote no output');
    });
  }

  for (const [name, s] of Object.entries(load('snippets/popek-gas.json'))) {
    it(`GNU as --32 accepts "${name}"`, function () {
      assert.ok(have('as'), 'GNU as is needed (bash scripts/setup.sh installs binutils)');
      const file = path.join(tmp, 'snippet.s');
      fs.writeFileSync(file, `.code32\n${expandSnippet(s.body)}\n${GAS_CONTEXT[name] ?? ''}\n`);
      execFileSync('as', ['--32', '-o', path.join(tmp, 'snippet.o'), file], { stdio: 'pipe' });
    });
  }
});
