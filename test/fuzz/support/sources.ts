/*
 * Guest sources for the fuzz suite: windows of the repository's real sources (examples/, the lint
 * corpus) mixed with lines of the same syntax and small hand-made statements, then dressed in one of
 * the line-ending / whitespace variants an editor or another OS produces.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT as ROOT } from '../../support/repoRoot';
import type { Rng } from './rng';

export type Syntax = 'nasm' | 'att';

function linesOf(dir: string, ext: RegExp): string[][] {
  const full = path.join(ROOT, dir);
  return fs.readdirSync(full).filter((f) => ext.test(f)).map((f) => fs.readFileSync(path.join(full, f), 'utf8').split(/\r\n|\r|\n/));
}

let corpus: Record<Syntax, string[][]> | undefined;
function files(): Record<Syntax, string[][]> {
  corpus ??= {
    nasm: [...linesOf('examples', /\.gasm$/), ...linesOf('test/fixtures/lint', /\.gasm$/)],
    att: linesOf('test/fixtures/lint', /\.S$/),
  };
  return corpus;
}

const EXTRA: Record<Syntax, string[]> = {
  nasm: ['cli', 'sti', 'popfd', 'pushfd', 'hlt', 'lbl: cli ; off', '.loc: popfd', 'mov eax, cr0', 'mov cr3, eax', 'lgdt [gdtr]', 'lidt [idtr]',
    'sgdt [gdtr]', 'smsw ax', 'in al, dx', 'out 0x80, al', 'out dx, al', 'iret', 'push cs', 'mov ax, ds', 'mov ds, ax', 'str ax', 'sti\thlt',
    '\tcli', '  cli  ; trailing', 'cli ; popek: pv', '%macro M 0', '%endmacro', 'times 3 nop', 'x equ 4', 'jmp lbl', '', ' ', ';', 'db 1,2,3',
    'invlpg [eax]', 'wrmsr', 'rdmsr', 'cpuid', 'int 0x80', 'lar eax, ax', 'verr ax', 'jmp 0x08:next', 'next:', 'retf', 'mov eax, [gdtr+2]'],
  att: ['cli', 'sti', 'popfl', 'pushfl', 'hlt', 'cli; hlt', 'sti; hlt', 'lbl: cli # off', '1: popfl', 'movl %cr0, %eax', 'movl %eax, %cr3',
    'lgdt gdtr', 'lidt idtr', 'sgdt gdtr', 'smsw %ax', 'inb %dx, %al', 'outb %al, $0x80', 'iret', 'push %cs', 'movw %ds, %ax', '/* c */ cli',
    '/*', '*/', '.macro m', '.endm', 'ljmp $8, $1f', '\tcli', '  cli  # trailing', 'cli # popek: pv', '', ' ', '#', '.byte 1,2', 'cpuid'],
};

/** A random source of `syntax`: a window of a real file with random lines mixed in. */
export function randomSource(r: Rng, syntax: Syntax): string[] {
  const pool = files()[syntax];
  const file = r.pick(pool);
  const start = r.int(file.length);
  const window = file.slice(start, start + 1 + r.int(60));
  const out: string[] = [];
  for (const l of window) {
    out.push(l);
    if (r.chance(0.15)) out.push(r.chance(0.5) ? r.pick(EXTRA[syntax]) : r.pick(r.pick(pool)));
  }
  if (r.chance(0.3)) out.unshift(syntax === 'nasm' ? 'bits 32' : '.code32');
  // Now and then a line typed wrong: characters that open or close something, or a second statement.
  for (let i = 0; i < out.length; i++) if (r.chance(0.05)) out[i] = mutate(r, out[i], syntax);
  return out;
}

const BITS = [' ', '\t', ';', ',', '[', ']', ':', '#', '/*', '*/', '%', '"', "'", '\\', '$', '(', ')', 'cli', 'popfd', 'popfl', '\u00e9', '\ud83d\ude00', '\u2014'];

export function mutate(r: Rng, line: string, syntax: Syntax): string {
  const at = r.int(line.length + 1);
  const bit = r.chance(0.2) ? (syntax === 'att' ? '; cli' : ' cli') : r.pick(BITS);
  return r.chance(0.7) ? line.slice(0, at) + bit + line.slice(at) : line.slice(0, at) + line.slice(at + 1 + r.int(3));
}

export const EOL_VARIANTS = ['lf', 'crlf', 'cr', 'mixed', 'no-final-eol', 'extra-final-eols', 'trailing-space', 'tabs', 'bom-crlf', 'blank-lines', 'cr-crlf'] as const;
export type EolVariant = typeof EOL_VARIANTS[number];

/** The lines joined as variant `v` would write them. */
export function dress(lines: string[], v: EolVariant, r: Rng): string {
  const join = (eol: (i: number) => string, ls = lines) => ls.map((l, i) => l + (i < ls.length - 1 ? eol(i) : '')).join('');
  switch (v) {
    case 'lf': return join(() => '\n') + '\n';
    case 'crlf': return join(() => '\r\n') + '\r\n';
    case 'cr': return join(() => '\r') + '\r';
    case 'mixed': return join(() => r.pick(['\n', '\r\n', '\r'])) + r.pick(['', '\n', '\r\n', '\r']);
    case 'no-final-eol': return join(() => '\r\n');
    case 'extra-final-eols': return join(() => '\n') + '\n\n\n';
    case 'trailing-space': return join(() => '\r\n', lines.map((l) => l + r.pick([' ', '\t', '  \t', '']))) + '\r\n';
    case 'tabs': return join(() => '\n', lines.map((l) => l.replace(/^ +/, '\t'))) + '\n';
    case 'bom-crlf': return '\ufeff' + join(() => '\r\n') + '\r\n';
    case 'blank-lines': return join(() => '\n', lines.flatMap((l) => (r.chance(0.3) ? [l, r.pick(['', '   ', '\t'])] : [l]))) + '\n';
    case 'cr-crlf': return join(() => r.pick(['\r\r\n', '\r\n', '\n\r'])) + '\r\n';
  }
}
