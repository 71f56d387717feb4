/*
 * The little of the WebAssembly binary format the region back end needs: one module with one
 * function `(i32, i32) -> i32` over i32 locals, importing one memory. Code is built as byte arrays
 * (`Expr`), so expressions compose like the JS they replace; structured control flow goes through
 * named labels whose branch depths are counted here (WebAssembly branches by depth, not by name).
 */

/** Code: the bytes of a sequence of instructions (an expression leaves its value on the stack). */
export type Expr = number[];

/** Opcodes used (WebAssembly core spec 1.0, section 5.4). */
export const Op = {
  unreachable: 0x00, select: 0x1b, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b, br: 0x0c, brIf: 0x0d, brTable: 0x0e, return: 0x0f,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  load: 0x28, load8u: 0x2d, load16u: 0x2f, store: 0x36, store8: 0x3a, store16: 0x3b,
  const: 0x41, eqz: 0x45, eq: 0x46, ne: 0x47, ltS: 0x48, ltU: 0x49, gtS: 0x4a, gtU: 0x4b, leS: 0x4c, leU: 0x4d, geS: 0x4e, geU: 0x4f,
  i64Mul: 0x7e, i64ShrU: 0x88, i64Const: 0x42, wrapI64: 0xa7, extendI32U: 0xad,
  add: 0x6a, sub: 0x6b, mul: 0x6c, and: 0x71, or: 0x72, xor: 0x73, shl: 0x74, shrS: 0x75, shrU: 0x76,
} as const;
const VOID = 0x40, I32 = 0x7f, FUNC = 0x60;

export function uleb(n: number): number[] {
  const out: number[] = [];
  n >>>= 0;
  do { let b = n & 0x7f; n >>>= 7; if (n !== 0) b |= 0x80; out.push(b); } while (n !== 0);
  return out;
}
export function sleb(n: number): number[] {
  const out: number[] = [];
  n |= 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}

// ---- expressions (i32) ----
export const get = (local: number): Expr => [Op.localGet, ...uleb(local)];
export const set = (local: number, value: Expr): Expr => [...value, Op.localSet, ...uleb(local)];
export const i32 = (v: number): Expr => [Op.const, ...sleb(v)];
/** A binary operator applied to two expressions. */
export const bin = (op: number, a: Expr, b: Expr): Expr => [...a, ...b, op];
export const eqz = (a: Expr): Expr => [...a, Op.eqz];
/** `cond ? a : b` (both evaluated). */
export const select = (cond: Expr, a: Expr, b: Expr): Expr => [...a, ...b, ...cond, Op.select];
/** The high 32 bits of the unsigned 64-bit product of a and b. */
export const mulHighU = (a: Expr, b: Expr): Expr => [...a, Op.extendI32U, ...b, Op.extendI32U, Op.i64Mul, Op.i64Const, 32, Op.i64ShrU, Op.wrapI64];
/** Loads of `size` bytes (zero-extended) and stores, at host address `addr` (memory 0, offset 0). */
export const load = (size: number, addr: Expr): Expr => [...addr, size === 4 ? Op.load : size === 2 ? Op.load16u : Op.load8u, size === 4 ? 2 : size === 2 ? 1 : 0, 0];
export const store = (size: number, addr: Expr, value: Expr): Expr => [...addr, ...value, size === 4 ? Op.store : size === 2 ? Op.store16 : Op.store8, size === 4 ? 2 : size === 2 ? 1 : 0, 0];

/**
 * A function body under construction. Labels name the enclosing block/loop/if frames; `br(name)`
 * turns a name into the depth WebAssembly wants.
 */
export class Body {
  readonly code: number[] = [];
  private readonly frames: (string | undefined)[] = [];
  emit(...parts: Expr[]): void { for (const p of parts) for (const b of p) this.code.push(b); }
  block(label?: string): void { this.code.push(Op.block, VOID); this.frames.push(label); }
  loop(label?: string): void { this.code.push(Op.loop, VOID); this.frames.push(label); }
  /** `if` on the condition `cond` (an i32 expression). */
  if(cond: Expr, label?: string): void { this.emit(cond); this.code.push(Op.if, VOID); this.frames.push(label); }
  else(): void { this.code.push(Op.else); }
  end(): void { this.code.push(Op.end); this.frames.pop(); }
  depth(label: string): number {
    const at = this.frames.lastIndexOf(label);
    if (at < 0) throw new Error(`wasm: no label ${label}`);
    return this.frames.length - 1 - at;
  }
  br(label: string): void { this.code.push(Op.br, ...uleb(this.depth(label))); }
  brIf(cond: Expr, label: string): void { this.emit(cond); this.code.push(Op.brIf, ...uleb(this.depth(label))); }
  /** Branches to `labels[value]`, or `fallback` when value is out of range. */
  brTable(value: Expr, labels: string[], fallback: string): void {
    this.emit(value);
    this.code.push(Op.brTable, ...uleb(labels.length));
    for (const l of labels) this.code.push(...uleb(this.depth(l)));
    this.code.push(...uleb(this.depth(fallback)));
  }
}

/**
 * A module importing memory `env.mem` and exporting `run`, a function of `params` i32 parameters
 * returning an i32, with `locals` more i32 locals and body `body` (without its final `end`).
 */
export function moduleBytes(params: number, locals: number, body: number[]): Uint8Array {
  const str = (s: string) => [...uleb(s.length), ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const section = (id: number, bytes: number[]) => [id, ...uleb(bytes.length), ...bytes];
  const fn = [...uleb(1), ...uleb(locals), I32, ...body, Op.end];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, FUNC, ...uleb(params), ...new Array<number>(params).fill(I32), 1, I32]),
    ...section(2, [1, ...str('env'), ...str('mem'), 0x02, 0x00, 0x00]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...str('run'), 0x00, 0]),
    ...section(10, [1, ...uleb(fn.length), ...fn]),
  ]);
}
