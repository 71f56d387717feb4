/*
 * The assembler's fast paths checked against what they shortcut: a memory operand's address gathered
 * in one walk (`simpleMemoryOperand`) against the general evaluator + `memoryOperand` on thousands of
 * random addresses; and the bench's generated sources (100,000 unique lines' generator, the kernel-like
 * file) against `nasm -f bin`, byte for byte, so the encoder's shared buffer, the reused operands and
 * the fast address path are checked on whole files too.
 */
import * as assert from 'node:assert/strict';
import { assemble } from '../../core/asm/assembler';
import type { Operand } from '../../core/asm/ast';
import { evaluate, memoryOperand, simpleMemoryOperand, type EvalResult, type EvalScope } from '../../core/asm/operands';
import { parseLine, type LineContext } from '../../core/asm/parser';
import { generateKernel, generateUniqueLines } from '../../cli/bench/asmBench';
import { haveNasm, nasmAssemble } from './nasmDiff';
import { hex, prng } from './support';

/** Symbols as the passes see them: a label (section 0 and 1), a constant, an extern-like 0, and undefined names. */
const SCOPE: EvalScope = {
  here: () => ({ n: 0x100040, seg: 0, known: true }),
  sectionStart: () => ({ n: 0x100000, seg: 0, known: true }),
  symbol: (name: string): EvalResult => {
    switch (name) {
      case 'table': return { n: 0x100010, seg: 0, known: true };
      case 'buf': return { n: 0x200000, seg: 1, known: true };
      case 'K': return { n: 12, seg: -1, known: true };
      case 'Z': return { n: 0, seg: -1, known: true };
      default: return { n: 0, seg: -1, known: false, undef: name };
    }
  },
};

const REGS = ['eax', 'ebx', 'ecx', 'edx', 'esi', 'edi', 'ebp', 'esp', 'bx', 'si', 'di', 'bp', 'al', 'cr0'];
const NAMES = ['table', 'buf', 'K', 'Z', 'nowhere', 'later'];

const pickFrom = (rand: () => number) => <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

/** A sum of 1–5 terms (registers, scaled registers, numbers, symbols) joined by + and -: the shapes addresses have. */
function randomSum(rand: () => number): string {
  const pick = pickFrom(rand);
  const terms = 1 + Math.floor(rand() * 5);
  let text = '';
  for (let i = 0; i < terms; i++) {
    const r = rand();
    const term = r < 0.3 ? pick(REGS) : r < 0.45 ? `${pick(REGS)}*${pick([1, 2, 4, 8, 3])}` : r < 0.7 ? String(pick([0, 4, -8, 300, 0x7fffffff])) : pick(NAMES);
    text += i === 0 ? term : `${rand() < 0.7 ? '+' : '-'}${term}`;
  }
  return text;
}

/** A random address expression over registers, numbers, symbols, + - * (some shapes the fast path declines). */
function randomAddress(rand: () => number, depth = 0): string {
  const pick = pickFrom(rand);
  if (depth === 0 && rand() < 0.5) return randomSum(rand);
  const leaf = (): string => {
    const r = rand();
    if (r < 0.4) return pick(REGS);
    if (r < 0.7) return String(pick([0, 1, 4, 8, 127, 128, -129, 4096, 0x7fffffff, 0xffffffff, 2 ** 53]));
    if (r < 0.9) return pick(NAMES);
    return pick(['$', '$$', '-4', '(ebx)', '~3']);
  };
  if (depth > 3 || rand() < 0.3) return leaf();
  const op = pick(['+', '+', '+', '-', '*', '*', '/']);
  if (op === '*' && rand() < 0.7) return rand() < 0.5 ? `${pick(REGS)}*${pick([1, 2, 3, 4, 5, 8, 9, 0, -1])}` : `${pick([2, 4, 8])}*${pick(REGS)}`;
  const a = randomAddress(rand, depth + 1);
  const b = randomAddress(rand, depth + 1);
  return rand() < 0.2 ? `${a}${op}(${b})` : `${a}${op}${b}`;
}

function memoryOf(text: string): Extract<Operand, { kind: 'memory' }> | undefined {
  const ctx: LineContext = { line: 0, lastGlobal: '', diagnostics: [], statements: [], lineless: true };
  parseLine(`mov eax, [${text}]`, ctx);
  const s = ctx.statements[0];
  const op = s?.kind === 'instruction' ? s.operands[1] : undefined;
  return ctx.diagnostics.length === 0 && op?.kind === 'memory' ? op : undefined;
}

describe('assembler fast paths against the general paths and nasm', function () {
  this.timeout(120_000);

  it('gathers a memory operand\'s address exactly as the general evaluator does (5,000 random addresses)', () => {
    const rand = prng(15);
    let taken = 0;
    let checked = 0;
    for (let i = 0; i < 5000; i++) {
      const text = randomAddress(rand);
      const op = memoryOf(text);
      if (!op) continue;
      checked++;
      const general = evaluate(op.address, SCOPE, true);
      const slow = general.error ? general.error : memoryOperand(op, general);
      const fast = simpleMemoryOperand(op, SCOPE);
      if (fast === undefined) continue;
      taken++;
      assert.deepEqual(fast.operand, slow, `[${text}]`);
      assert.equal(fast.undef, general.error ? undefined : general.undef, `undefined symbol of [${text}]`);
    }
    // both kinds occur: the fast path takes most addresses and declines the others
    assert.ok(taken > checked / 3 && taken < checked, `fast path took ${taken} of ${checked}`);
  });

  it('assembles the bench\'s unique-lines source (20,000 lines) and its kernel-like file to nasm\'s bytes', function () {
    if (!haveNasm()) this.skip();
    for (const text of [generateUniqueLines(20_000), generateKernel(5_000)]) {
      const n = nasmAssemble(text);
      assert.equal(n.errors, '');
      const r = assemble('bench.asm', text);
      assert.deepEqual(r.diagnostics.filter((d) => d.severity === 'error'), []);
      assert.ok(hex(r.bytes) === hex(n.bytes), 'same bytes as nasm');
    }
  });
});
