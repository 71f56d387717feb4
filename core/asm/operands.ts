/*
 * Operand values in the passes: an expression evaluated against the symbol table as it stands (a
 * register sum for addresses), and a memory operand's registers turned into base, index and scale.
 */
import type { Expr, Operand } from './ast';
import type { ROp, Value } from './encoder';
import { register } from './registers';
import { binaryOp, strValue, unaryOp } from './expressions';

export const SIZE_BITS: Record<string, number> = { byte: 8, word: 16, dword: 32, qword: 64, tword: 80, oword: 128 };

export interface RegTerm { reg: number; size: number; mult: number; name: string }
/** A value (see encoder's Value), plus the registers of an address, or why it has no value. */
export interface EvalResult extends Value { regs?: RegTerm[]; undef?: string; error?: string }

/** What an expression refers to, as the passes see it now. */
export interface EvalScope {
  /** `$`: the current address, in the current section. */
  here(): EvalResult;
  /** `$$`: where the current section starts. */
  sectionStart(): EvalResult;
  /** A name's value (label, equ, predefined, extern), or `{ known: false, undef: name }`. */
  symbol(name: string): EvalResult;
}

/** The value of `e` now; `allowRegs` for an address, where registers add up to base + index × scale. */
export function evaluate(e: Expr, scope: EvalScope, allowRegs = false): EvalResult {
  switch (e.kind) {
    case 'number': return { n: e.value, seg: -1, known: true };
    case 'string': return { n: strValue(e.value), seg: -1, known: true };
    case 'float': return { n: 0, seg: -1, known: true, error: 'a floating-point constant is only allowed as a whole data item (dd 1.5, dq -2.0e3) or in __float32__() and its kin' };
    case 'here': return scope.here();
    case 'sectionStart': return scope.sectionStart();
    case 'symbol': return scope.symbol(e.name);
    case 'register': {
      const r = register(e.name);
      if (!r || r.kind !== 'gpr' || r.size === 8) return { n: 0, seg: -1, known: true, error: `register '${e.name}' cannot be used in an address` };
      if (!allowRegs) return { n: 0, seg: -1, known: true, error: `register '${e.name}' is not allowed here` };
      return { n: 0, seg: -1, known: true, regs: [{ reg: r.num, size: r.size, mult: 1, name: r.name }] };
    }
    case 'unary': {
      const a = evaluate(e.arg, scope, allowRegs);
      if (a.error || a.undef) return a;
      if (a.regs) {
        if (e.op === '-') return { ...a, n: -a.n, regs: a.regs.map((r) => ({ ...r, mult: -r.mult })) };
        if (e.op === '+') return a;
        return { ...a, error: 'registers cannot be used with this operator' };
      }
      return { n: unaryOp(e.op, a.n), seg: e.op === '+' ? a.seg : -1, known: a.known };
    }
    case 'binary': {
      const a = evaluate(e.left, scope, allowRegs);
      if (a.error) return a;
      const b = evaluate(e.right, scope, allowRegs);
      if (b.error) return b;
      const undef = a.undef ?? b.undef;
      const known = a.known && b.known;
      if (a.regs || b.regs) {
        if (e.op === '+' || e.op === '-') {
          const rb = (b.regs ?? []).map((r) => ({ ...r, mult: e.op === '-' ? -r.mult : r.mult }));
          const regs = mergeRegs([...(a.regs ?? []), ...rb]);
          const seg = e.op === '+' ? (a.seg >= 0 ? a.seg : b.seg) : a.seg;
          return { n: e.op === '+' ? a.n + b.n : a.n - b.n, seg, known, regs, undef };
        }
        if (e.op === '*') {
          const [r, k] = a.regs ? [a, b] : [b, a];
          if (k.regs) return { n: 0, seg: -1, known, error: 'two registers cannot be multiplied' };
          return { n: r.n * k.n, seg: -1, known, regs: r.regs!.map((x) => ({ ...x, mult: x.mult * k.n })), undef };
        }
        return { n: 0, seg: -1, known, error: `registers cannot be used with '${e.op}'` };
      }
      const v = binaryOp(e.op, a.n, b.n);
      if (v === null) {
        if (!known) return { n: 0, seg: -1, known: false, undef };
        return { n: 0, seg: -1, known, error: 'division by zero' };
      }
      let seg = -1;
      if (e.op === '+') seg = a.seg >= 0 ? a.seg : b.seg;
      else if (e.op === '-') seg = a.seg >= 0 && b.seg < 0 ? a.seg : -1;
      return { n: v, seg, known, undef };
    }
    default: return { n: 0, seg: -1, known: true, error: 'invalid expression' };
  }
}

/**
 * The memory operand `[…]` whose address evaluated to `v` (registers with their multipliers plus a
 * displacement): base, index and scale as the encoder takes them, or why the address is invalid.
 */
export function memoryOperand(op: Extract<Operand, { kind: 'memory' }>, v: EvalResult): ROp | string {
  const regs = v.regs ?? NO_TERMS;
  return memoryFromTerms(op, v, regs, regs.length);
}

const NO_TERMS: RegTerm[] = [];

/** `memoryOperand` of the first `count` register terms of `regs` (terms with multiplier 0 cancelled out). */
function memoryFromTerms(op: Extract<Operand, { kind: 'memory' }>, disp: Value, regs: readonly RegTerm[], count: number): ROp | string {
  let base = -1, index = -1, scale = 0;
  let regs16 = false;
  let regs32 = false;
  let negative = false;
  for (let k = 0; k < count; k++) {
    const r = regs[k];
    if (r.mult === 0) continue;
    if (r.mult < 0) negative = true;
    if (r.size === 16) regs16 = true; else regs32 = true;
    if (base < 0 && index < 0 && r.mult === 1) base = r.reg;
    else if (base < 0 && index < 0) { index = r.reg; scale = r.mult; }
    else if (base >= 0 && index < 0) { index = r.reg; scale = r.mult; }
    else if (base < 0 && r.mult === 1) base = r.reg;
    else return 'invalid effective address: too many registers';
  }
  if (regs16 && regs32) return 'an address cannot mix 16- and 32-bit registers';
  if (negative) return 'invalid effective address: a register cannot be subtracted';
  return {
    t: 'mem', size: op.size ? SIZE_BITS[op.size] : undefined, seg: op.segment, base, index, scale, disp: { n: disp.n, seg: disp.seg, known: disp.known },
    hasDisp: true, dispSize: op.dispSize, nosplit: op.nosplit, far: op.jump === 'far', regs16, regs32,
  };
}

/**
 * The address of a memory operand gathered in one walk without allocating, for the shapes nearly
 * every address has: sums of registers, `register * number`, symbols and numbers, minus numbers
 * (`[ebx+ecx*4+table-8]`). Gives the same values as `evaluate` + `memoryOperand` on those shapes.
 */
const TERMS: RegTerm[] = [0, 1, 2, 3].map(() => ({ reg: 0, size: 0, mult: 0, name: '' }));
const SUM = { n: 0, seg: -1, known: true, undef: undefined as string | undefined, count: 0, magnitude: 0 };

function addTerm(name: string, mult: number): boolean {
  const r = register(name);
  if (!r || r.kind !== 'gpr' || r.size === 8) return false;
  for (let k = 0; k < SUM.count; k++) {
    const t = TERMS[k];
    if (t.reg === r.num && t.size === r.size) { t.mult += mult; return true; }
  }
  if (SUM.count === TERMS.length) return false;
  const t = TERMS[SUM.count++];
  t.reg = r.num; t.size = r.size; t.mult = mult; t.name = r.name;
  return true;
}

function addNumber(n: number): boolean {
  SUM.magnitude += Math.abs(n);
  return Number.isSafeInteger(n);
}

/** Adds `e` to SUM; false when `e` is not one of the simple shapes (the caller then evaluates it in full). */
function gather(e: Expr, scope: EvalScope): boolean {
  switch (e.kind) {
    case 'number': SUM.n += e.value; return addNumber(e.value);
    case 'register': return addTerm(e.name, 1);
    case 'symbol': {
      const v = scope.symbol(e.name);
      if (v.error !== undefined || v.regs !== undefined) return false;
      if (!v.known) { SUM.known = false; SUM.undef ??= v.undef; }
      if (SUM.seg < 0 && v.seg >= 0) SUM.seg = v.seg;
      SUM.n += v.n;
      return addNumber(v.n);
    }
    case 'binary':
      if (e.op === '+') return gather(e.left, scope) && gather(e.right, scope);
      if (e.op === '-') return e.right.kind === 'number' && gather(e.left, scope) && addNumber(e.right.value) && ((SUM.n -= e.right.value), true);
      if (e.op === '*') {
        const reg = e.left.kind === 'register' ? e.left : e.right.kind === 'register' ? e.right : undefined;
        const k = e.left.kind === 'number' ? e.left : e.right.kind === 'number' ? e.right : undefined;
        if (reg === undefined || k === undefined || !addNumber(k.value)) return false;
        SUM.n += 0 * k.value;
        return addTerm(reg.name, k.value);
      }
      return false;
    default: return false;
  }
}

/** The memory operand `op` resolved against `scope`: its value (for `undef`) and operand, or undefined to take the general path. */
export function simpleMemoryOperand(op: Extract<Operand, { kind: 'memory' }>, scope: EvalScope): { undef: string | undefined; operand: ROp | string } | undefined {
  SUM.n = 0; SUM.seg = -1; SUM.known = true; SUM.undef = undefined; SUM.count = 0; SUM.magnitude = 0;
  if (!gather(op.address, scope) || SUM.magnitude > Number.MAX_SAFE_INTEGER) return undefined;
  const operand = memoryFromTerms(op, SUM, TERMS, SUM.count);
  SIMPLE.undef = SUM.undef;
  SIMPLE.operand = operand;
  return SIMPLE;
}
const SIMPLE: { undef: string | undefined; operand: ROp | string } = { undef: undefined, operand: '' };

function mergeRegs(regs: RegTerm[]): RegTerm[] {
  const out: RegTerm[] = [];
  for (const r of regs) {
    const same = out.find((x) => x.reg === r.reg && x.size === r.size);
    if (same) same.mult += r.mult; else out.push({ ...r });
  }
  return out;
}
