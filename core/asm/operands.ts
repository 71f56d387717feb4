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
    let base = -1, index = -1, scale = 0;
    let regs16 = false;
    let regs32 = false;
    const regs = (v.regs ?? []).filter((r) => r.mult !== 0);
    for (const r of regs) {
      if (r.size === 16) regs16 = true; else regs32 = true;
      if (base < 0 && index < 0 && r.mult === 1) base = r.reg;
      else if (base < 0 && index < 0) { index = r.reg; scale = r.mult; }
      else if (base >= 0 && index < 0) { index = r.reg; scale = r.mult; }
      else if (base < 0 && r.mult === 1) base = r.reg;
      else return 'invalid effective address: too many registers';
    }
    if (regs16 && regs32) return 'an address cannot mix 16- and 32-bit registers';
    if (regs.some((r) => r.mult < 0)) return 'invalid effective address: a register cannot be subtracted';
    return {
      t: 'mem', size: op.size ? SIZE_BITS[op.size] : undefined, seg: op.segment, base, index, scale, disp: { n: v.n, seg: v.seg, known: v.known },
      hasDisp: true, dispSize: op.dispSize, nosplit: op.nosplit, far: op.jump === 'far', regs16, regs32,
    };
}

function mergeRegs(regs: RegTerm[]): RegTerm[] {
  const out: RegTerm[] = [];
  for (const r of regs) {
    const same = out.find((x) => x.reg === r.reg && x.size === r.size);
    if (same) same.mult += r.mult; else out.push({ ...r });
  }
  return out;
}
