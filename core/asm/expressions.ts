/*
 * NASM expression arithmetic shared by the preprocessor (%if, %assign) and the passes: the operators on
 * NASM's 64-bit integers, constant folding, and the questions the passes ask of an expression tree
 * (does it use `$`, where is a symbol written, are a statement's bytes fixed by its text alone).
 */
import type { Expr, Operand, Range, Statement } from './ast';
import type { InstructionInfo } from '../isa/types';
import { instructionInfo } from '../isa/table';

export function evalConst(e: Expr, lookup: (name: string) => number | undefined): number | undefined {
  switch (e.kind) {
    case 'number': return e.value;
    case 'string': return strValue(e.value);
    case 'symbol': return lookup(e.name);
    case 'unary': { const a = evalConst(e.arg, lookup); return a === undefined ? undefined : unaryOp(e.op, a); }
    case 'binary': {
      const a = evalConst(e.left, lookup); const b = evalConst(e.right, lookup);
      if (a === undefined || b === undefined) return undefined;
      return binaryOp(e.op, a, b) ?? undefined;
    }
    default: return undefined;
  }
}

export function strValue(s: string): number {
  let v = 0;
  for (let i = Math.min(s.length, 8) - 1; i >= 0; i--) v = v * 256 + (s.charCodeAt(i) & 0xff);
  return v;
}

export function unaryOp(op: string, a: number): number {
  switch (op) { case '-': return -a; case '+': return a; case '~': return ~a; default: return a ? 0 : 1; }
}

/** NASM binary operators on 32-bit-ish integers; null for division by zero. */
export function binaryOp(op: string, a: number, b: number): number | null {
  switch (op) {
    case '+': return a + b;
    case '-': return a - b;
    case '*': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) * BigInt(Math.trunc(b))));
    case '/': if (b === 0) return null; return Math.floor(toU(a) / toU(b));
    case '//': if (b === 0) return null; return Math.trunc(a / b);
    case '%': if (b === 0) return null; return toU(a) % toU(b);
    case '%%': if (b === 0) return null; return a % b;
    case '<<': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) << BigInt(b & 63)));
    case '>>': return Number(BigInt.asUintN(64, BigInt(Math.trunc(a))) >> BigInt(b & 63)) ;
    case '<<<': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) << BigInt(b & 63)));
    case '>>>': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a))) >> BigInt(b & 63));
    case '&': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) & BigInt(Math.trunc(b))));
    case '|': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) | BigInt(Math.trunc(b))));
    case '^': return Number(BigInt.asIntN(64, BigInt(Math.trunc(a)) ^ BigInt(Math.trunc(b))));
    case '==': return a === b ? 1 : 0;
    case '!=': case '<>': return a !== b ? 1 : 0;
    case '<': return a < b ? 1 : 0;
    case '<=': return a <= b ? 1 : 0;
    case '>': return a > b ? 1 : 0;
    case '>=': return a >= b ? 1 : 0;
    case '<=>': return a < b ? -1 : a > b ? 1 : 0;
    case '&&': return a && b ? 1 : 0;
    case '||': return a || b ? 1 : 0;
    case '^^': return (!a) !== (!b) ? 1 : 0;
  }
  return 0;
}
/** Unsigned view for NASM's unsigned / and %: values below 2^32 stay as they are, negatives wrap to 64 bits. */
export function toU(a: number): number { return a < 0 ? Number(BigInt.asUintN(64, BigInt(Math.trunc(a)))) : a; }

export function exprUsesHere(e: Expr): boolean {
  if (e.kind === 'here' || e.kind === 'sectionStart') return true;
  if (e.kind === 'unary') return exprUsesHere(e.arg);
  if (e.kind === 'binary') return exprUsesHere(e.left) || exprUsesHere(e.right);
  return false;
}
export function usesHere(s: Extract<Statement, { kind: 'instruction' }>): boolean {
  return s.operands.some((o) => o.kind === 'immediate' ? exprUsesHere(o.expr) : o.kind === 'memory' ? exprUsesHere(o.address) : o.kind === 'far' ? exprUsesHere(o.segment) || exprUsesHere(o.offset) : false);
}

/** Whether an instruction has a relative (branch) form, per table entry (asked for every line). */
const BRANCHES = new Map<InstructionInfo, boolean>();
function isBranch(info: InstructionInfo): boolean {
  let b = BRANCHES.get(info);
  if (b === undefined) BRANCHES.set(info, b = info.forms.some((f) => f.imm[0] === 'rel8' || f.imm[0] === 'rel32'));
  return b;
}

function pureExpr(e: Expr): boolean {
  return e.kind === 'number' || e.kind === 'string' || e.kind === 'float' || e.kind === 'register'
    || (e.kind === 'unary' && pureExpr(e.arg)) || (e.kind === 'binary' && pureExpr(e.left) && pureExpr(e.right));
}
function pureOp(o: Operand): boolean {
  return o.kind === 'register' || (o.kind === 'immediate' ? pureExpr(o.expr) : o.kind === 'memory' ? pureExpr(o.address) : pureExpr(o.segment) && pureExpr(o.offset));
}

export function isPure(s: Statement): boolean {
  if (s.kind === 'instruction') {
    // branches encode the distance to their target, which moves with the instruction
    const info = instructionInfo(s.mnemonic);
    if (info && isBranch(info)) return false;
    return s.operands.every(pureOp);
  }
  // incbin's bytes are its file's, which depend on the including file too
  if (s.kind === 'data') return !s.directive.startsWith('res') && s.directive !== 'incbin' && s.items.every(pureExpr);
  if (s.kind === 'times') return pureExpr(s.count) && isPure(s.body);
  return false;
}

export function findSymbolRange(e: Expr, name: string): Range | undefined {
  if (e.kind === 'symbol') return e.name === name ? e.range : undefined;
  if (e.kind === 'unary') return findSymbolRange(e.arg, name);
  if (e.kind === 'binary') return findSymbolRange(e.left, name) ?? findSymbolRange(e.right, name);
  return undefined;
}

