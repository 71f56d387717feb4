/*
 * WebAssembly back end for compiled regions (what v86 does): the blocks regionCompiler.ts collects
 * become one WebAssembly function over the memory guest RAM lives in (PhysicalMemory.wasm), so a hot
 * loop runs with its registers and flag record in machine registers (no tagging, no overflow checks)
 * and its memory accesses as plain loads and stores after an inline TLB check — where the JS region
 * pays for V8's checks on every typed-array access.
 *
 * The function never calls out. Whatever it does not do inline, it leaves to the dispatcher, before
 * the instruction, with the state exact (EIP, count, registers, flag record):
 *  - an instruction outside the compiled subset (I/O, system instructions, MUL/DIV, RET, string ops,
 *    a Jcc reading flags the compiler does not know statically, …);
 *  - a memory access that is not the fast case: a TLB miss (the dispatcher walks and fills), a page
 *    without the fast permission (a watch on it, a clean page, MMIO, outside RAM), a store into a
 *    64-byte chunk of decoded code, an access crossing its page, a segment that is not flat;
 *  - the budget (a block that does not fit before `end`), a jump out of the region.
 * So self-modifying code, write watches, faults and MMIO run exactly as in the interpreter: the
 * region never executes them. A TLB entry cannot change while the function runs (nothing runs but
 * it), so each access site caches the page it used last across the whole call. A store to a page
 * that holds code but not in a chunk of it (data next to code: compute.gasm's sieve) is done inline
 * after a look at the chunk marks, which live in the same memory (WasmGen.storeNextToCode).
 * A region that leaves too often anyway (a store into its own code's chunk every pass) moves to the
 * JS region, whose inline slow paths handle those without leaving.
 *
 * Exchange with the wrapper (JS): the registers and flag record in, the same plus EIP and the kind
 * of exit out, in an area of the shared memory (STATE_*); the function returns the instructions it
 * retired.
 */
import { CC_ADC, CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SAR32, CC_SBB, CC_SHL32, CC_SHR32, CC_SUB, type Cpu } from '../cpu';
import type { Insn } from '../insn';
import { CHUNK_SHIFT, PAGE_HAS_CODE, PAGE_UNWRITTEN, PAGE_WATCHED_BYTES, type WasmLayout } from '../physicalMemory';
import {
  TLB_FAST_SUP_WRITE, TLB_FAST_USER_WRITE, TLB_SUP_WRITE, TLB_USER_READ, TLB_USER_WRITE, TLB_VALID, RECORD_SIZE, aluOp, atInstruction, isInlineBranch,
  type CompiledRegion, type RegionBlock, type RegionCode,
} from '../regionCompiler';
import { Body, Op, bin, eqz, get, i32, load, moduleBytes, mulHighU, select, set, store, type Expr } from './wasmBinary';

/** Exchange area (int32 indices from PhysicalMemory.wasm.stateOffset): registers, EIP, flag record, exit kind. */
const STATE_EIP = 8, STATE_FOP = 9, STATE_KIND = 15, STATE_WORDS = 16;
/** Exit kinds: the budget or a jump out; an instruction or access left to the dispatcher; a TLB miss. */
const EXIT_DONE = 0, EXIT_SLOW = 1, EXIT_MISS = 2;

/** Locals: parameters (case, budget), registers, then the rest. */
const P_CASE = 0, P_BUDGET = 1, R0 = 2, IC = 10, LL = 11, FOP = 12, FSZ = 13, FA = 14, FB = 15, FR = 16, FC = 17,
  LA = 18, T = 19, P = 20, V = 21, W = 22, XE = 23, KIND = 24, FL = 25, SITES = 26;
/** Access sites with a page cache of their own (two locals each); the others read the TLB. */
const MAX_SITE_CACHES = 32;

/**
 * Where else a part of a static flag record (its operands a and b, its result r) is: a guest
 * register's value now (its number at the record's operand size), a constant, or 'derived' (for
 * ADD/SUB/INC/DEC, from the other two: a = r ∓ b, r = a ± b). Every flag writer still sets the
 * locals (FA, FB, FR), so they always hold the record; but conditions and exits read these parts
 * instead (an exit stores them into the locals: emitRecord), so the locals' values are dead on the
 * hot path and TurboFan need not keep them alive around a loop and to each of its exits: the sieve
 * and CRC loops run with fewer live values. A part naming a register holds while that register
 * keeps its value: a write to it drops the parts (setR), and the locals are read from there on.
 */
type Part = { reg: number } | { k: number } | 'derived';
/** A flag record whose kind is known statically; a part not given is in its local. */
type Rec = { op: number; size: number; a?: Part; b?: Part; r?: Part };
/** The flag record the code holds: its kind known statically, or in FOP/FSZ and the locals ('dyn'). */
type WFlags = Rec | 'dyn';
const PARTS = ['a', 'b', 'r'] as const;
const samePart = (x: Part | undefined, y: Part | undefined) => x === y || (typeof x === 'object' && typeof y === 'object' &&
  ('reg' in x ? 'reg' in y && x.reg === y.reg : 'k' in y && x.k === y.k));
const sameKind = (x: WFlags, y: WFlags) => x === y || (typeof x === 'object' && typeof y === 'object' && x.op === y.op && x.size === y.size);
const same = (x: WFlags, y: WFlags) => sameKind(x, y) && (typeof x !== 'object' || PARTS.every((p) => samePart(x[p], (y as Rec)[p])));
/** Whether some part of the record is outside its local. */
const lazy = (f: WFlags | undefined) => typeof f === 'object' && PARTS.some((p) => f[p] !== undefined);
/** Two flag states reaching one block: the same, the same kind in the locals, or 'dyn'. */
const merge = (x: WFlags | undefined, y: WFlags): WFlags => (x === undefined || same(x, y) ? y : sameKind(x, y) ? { op: (y as Rec).op, size: (y as Rec).size } : 'dyn');
/** A record's operands and result as expressions. */
type Operands = { fa: Expr; fb: Expr; fr: Expr };
const LOCALS: Operands = { fa: get(FA), fb: get(FB), fr: get(FR) };

const r = (n: number) => get(R0 + n);
/** The 32-bit register (0..7) that register n at a record's size (0: 8 bits, AH..BH as 4..7) is part of. */
const reg32 = (n: number, recordSize: number) => (recordSize === 0 && n >= 4 ? n - 4 : n);
const setR = (n: number, v: Expr) => set(R0 + n, v);
const add = (a: Expr, b: Expr) => bin(Op.add, a, b), and = (a: Expr, b: Expr) => bin(Op.and, a, b), or = (a: Expr, b: Expr) => bin(Op.or, a, b);
const xor = (a: Expr, b: Expr) => bin(Op.xor, a, b), shrU = (a: Expr, n: number | Expr) => bin(Op.shrU, a, typeof n === 'number' ? i32(n) : n);
const ne0 = (a: Expr) => bin(Op.ne, a, i32(0));
const MASKV = (size: number) => (size === 2 ? -1 : size === 1 ? 0xffff : 0xff);
const masked = (a: Expr, size: number) => (size === 2 ? a : and(a, i32(MASKV(size))));
const SIGNV = (size: number) => (size === 2 ? 0x80000000 | 0 : size === 1 ? 0x8000 : 0x80);
/** A result truncated to an operand size in bytes (4: as is). */
const trunc = (v: Expr, size: number) => (size === 4 ? v : and(v, i32(size === 2 ? 0xffff : 0xff)));

/** CF (0/1) of a static record, undefined when it cannot be computed from the locals. */
function carryOf(f: Rec, { fa, fb, fr }: Operands = LOCALS): Expr | undefined {
  const top = f.size === 2 ? 31 : f.size === 1 ? 15 : 7;
  const bit = (x: Expr) => and(shrU(x, top), i32(1));
  switch (f.op) {
    case CC_LOGIC: return i32(0);
    case CC_INC: case CC_DEC: return get(FC);
    // The carry out of the top bit from the top bits of a, b and the result (carry in included).
    case CC_ADD: case CC_ADC: return bit(or(and(fa, fb), and(or(fa, fb), xor(fr, i32(-1)))));
    case CC_SUB: case CC_SBB: return bit(or(and(xor(fa, i32(-1)), fb), and(xor(xor(fa, fb), i32(-1)), fr)));
    case CC_SHL32: return and(shrU(fa, bin(Op.sub, i32(32), fb)), i32(1));
    case CC_SHR32: return and(shrU(fa, bin(Op.sub, fb, i32(1))), i32(1));
    case CC_SAR32: return and(bin(Op.shrS, fa, bin(Op.sub, fb, i32(1))), i32(1));
  }
  return undefined;
}

/** Condition cc (0..15) as 0/1 from a static record (the same rules as regionCompiler's condFrom); undefined: not inline. */
function condOf(cc: number, f: Rec, ops: Operands): Expr | undefined {
  const { op, size } = f, { fa, fb, fr } = ops, s = i32(SIGNV(size));
  const Z = eqz(masked(fr, size));
  const S = size === 2 ? bin(Op.ltS, fr, i32(0)) : ne0(and(fr, s));
  const C = carryOf(f, ops);
  let O: Expr;
  switch (op) {
    case CC_ADD: case CC_ADC: case CC_INC: O = ne0(and(and(xor(fa, fr), xor(fb, fr)), s)); break;
    case CC_SUB: case CC_SBB: case CC_DEC: O = ne0(and(and(xor(fa, fb), xor(fa, fr)), s)); break;
    case CC_LOGIC: case CC_SAR32: O = i32(0); break;
    case CC_SHL32: O = ne0(xor(shrU(fr, 31), C!)); break;
    case CC_SHR32: O = bin(Op.ltS, fa, i32(0)); break;
    default: return undefined;
  }
  if (!C) return undefined;
  const sub32 = op === CC_SUB && size === 2;
  let v: Expr;
  switch (cc >> 1) {
    case 0: v = O; break;
    case 1: v = sub32 ? bin(Op.ltU, fa, fb) : C; break;
    case 2: v = sub32 ? bin(Op.eq, fa, fb) : Z; break;
    case 3: v = sub32 ? bin(Op.leU, fa, fb) : or(C, Z); break;
    case 4: v = S; break;
    case 5: return undefined; // PF: not inline
    case 6: v = sub32 ? bin(Op.ltS, fa, fb) : xor(S, O); break;
    default: v = sub32 ? bin(Op.leS, fa, fb) : or(Z, xor(S, O)); break;
  }
  return cc & 1 ? eqz(v) : v;
}

class WasmGen {
  readonly b = new Body();
  flags: WFlags = 'dyn';
  /** Current block's first EIP, the instruction's EIP, index and the next EIP. */
  eip = 0;
  k = 0;
  next = 0;
  sites = 0;
  /** Instructions compiled inline and in all (branches not counted). */
  inlined = 0;
  total = 0;
  flagsDeadAfter = false;
  cfDeadAfter = false;
  constructor(readonly blocks: RegionBlock[], readonly index: Map<number, number>, readonly user: boolean, readonly flat: number, readonly layout: WasmLayout,
    readonly stateOf: (n: number) => WFlags | undefined, readonly onEdge: (n: number, f: WFlags, self: boolean) => void,
    readonly hasCopy: (n: number) => boolean = () => false) {}

  /** Leaves the function with EIP `eip` after `retired` instructions of the block (kind: an expression). */
  exit(eip: number, retired: number, kind: Expr): void {
    const f = this.flags;
    this.b.emit(set(XE, i32(eip | 0)), set(IC, add(get(IC), i32(retired))), set(KIND, kind));
    if (typeof f === 'object') {
      this.emitRecord(f);
      this.b.emit(set(FOP, i32(f.op)), set(FSZ, i32(f.size)));
      // A LOGIC record's operands are not part of it (the CPU's compiled code leaves them 0 too).
      if (f.op === CC_LOGIC) this.b.emit(set(FA, i32(0)), set(FB, i32(0)), set(FC, i32(0)));
      if (f.op === CC_ADD || f.op === CC_SUB || f.op >= CC_SHL32) this.b.emit(set(FC, i32(0)));
    }
    this.b.br('out');
  }
  /** Leaves before the current instruction (the dispatcher runs it). */
  leave(kind: Expr = i32(EXIT_SLOW)): void { this.exit(this.eip, this.k, kind); }

  ea(i: Insn): Expr {
    let e: Expr | undefined;
    const term = (x: Expr) => { e = e === undefined ? x : add(e, x); };
    if (i.disp | 0) term(i32(i.disp | 0));
    if (i.base >= 0) term(r(i.base));
    if (i.index >= 0) term(i.scale ? bin(Op.shl, r(i.index), i32(i.scale)) : r(i.index));
    return e ?? i32(0);
  }
  get(n: number, size: number): Expr {
    if (size === 4) return r(n);
    if (size === 2) return and(r(n), i32(0xffff));
    return n < 4 ? and(r(n), i32(0xff)) : and(shrU(r(n - 4), 8), i32(0xff));
  }
  put(n: number, size: number, v: Expr): Expr {
    if (size === 4) return this.setR(n, v);
    if (size === 2) return this.setR(n, or(and(r(n), i32(~0xffff)), and(v, i32(0xffff))));
    if (n < 4) return this.setR(n, or(and(r(n), i32(~0xff)), and(v, i32(0xff))));
    return this.setR(n - 4, or(and(r(n - 4), i32(~0xff00)), bin(Op.shl, and(v, i32(0xff)), i32(8))));
  }
  /** Sets register n (0..7) to v; a flag record part that reads n is dropped (its local holds it). */
  setR(n: number, v: Expr): Expr {
    const f = this.flags;
    if (typeof f === 'object' && PARTS.some((p) => { const x = f[p]; return typeof x === 'object' && 'reg' in x && reg32(x.reg, f.size) === n; })) {
      this.flags = { op: f.op, size: f.size };
    }
    return setR(n, v);
  }
  /** Part `p` of record f as an expression (see Part). */
  part(f: Rec, p: 'a' | 'b' | 'r'): Expr {
    const x = f[p], bytes = f.size === 2 ? 4 : f.size === 1 ? 2 : 1;
    if (x === undefined) return get(p === 'a' ? FA : p === 'b' ? FB : FR);
    if (typeof x === 'object') return 'k' in x ? i32(x.k) : this.get(x.reg, bytes);
    const plus = f.op === CC_ADD || f.op === CC_INC;
    return p === 'a' ? trunc(bin(plus ? Op.sub : Op.add, this.part(f, 'r'), this.part(f, 'b')), bytes)
      : trunc(bin(plus ? Op.add : Op.sub, this.part(f, 'a'), this.part(f, 'b')), bytes);
  }
  operands(f: Rec): Operands { return { fa: this.part(f, 'a'), fb: this.part(f, 'b'), fr: this.part(f, 'r') }; }
  /** Stores the parts of f into their locals (at an exit: the epilogue hands the locals to the CPU). */
  emitRecord(f: Rec): void {
    const sets = PARTS.filter((p) => f[p] !== undefined).map((p) => set(p === 'a' ? FA : p === 'b' ? FB : FR, this.part(f, p)));
    this.b.emit(...sets);
  }
  /**
   * After flag writer i (its record in the locals): the parts registers or constants hold (see Part),
   * for the forms whose operands are registers or an immediate (a memory operand's stays in its local).
   */
  relax(i: Insn): void {
    const f = this.flags;
    if (typeof f !== 'object' || lazy(f)) return;
    const op = i.opcode, rm = i.rm, reg = i.reg, size = i.size;
    const imm = size === 4 ? i.imm | 0 : size === 2 ? i.imm & 0xffff : i.imm & 0xff;
    /** Destination register (undefined: memory), source register or constant, whether d is written. */
    let d: number | undefined, src: Part | undefined, writes = true;
    if (op < 0x40 && (op & 7) < 6) {
      const form = op & 7;
      writes = op >> 3 !== 7;
      if (form >= 4) { d = 0; src = { k: imm }; }
      else if (rm >= 0) { const [x, y] = form < 2 ? [rm, reg] : [reg, rm]; d = x; src = x === y ? undefined : { reg: y }; }
      else if (form >= 2) d = reg;
      else if (!writes) src = { reg };
      else return;
    } else if (op >= 0x80 && op <= 0x83) {
      writes = reg !== 7;
      if (rm >= 0) d = rm; else if (writes) return;
      src = { k: imm };
    } else if ((op === 0xc1 || op === 0xd1) && rm >= 0) { d = rm; src = { k: op === 0xd1 ? 1 : i.imm & 31 }; }
    else if ((op === 0xfe || op === 0xff) && reg <= 1 && rm >= 0) { d = rm; src = { k: 1 }; }
    else if (op >= 0x40 && op < 0x50) { d = reg; src = { k: 1 }; }
    else return;
    const arith = f.op === CC_ADD || f.op === CC_SUB || f.op === CC_INC || f.op === CC_DEC;
    const next: Rec = { op: f.op, size: f.size, b: src };
    if (writes) {
      if (d === undefined) return;
      next.r = { reg: d };
      // The operand the write replaced: from the result and b; a LOGIC record has no operands.
      if (arith) next.a = 'derived';
    } else {
      if (f.op === CC_LOGIC) return;
      if (d !== undefined) next.a = { reg: d };
      if (arith) next.r = 'derived';
    }
    this.flags = next;
  }

  /** Whether memory operands of `i` may be compiled (its segment flat). */
  flatSeg(seg: number): boolean { return (this.flat & (1 << seg)) !== 0; }

  /**
   * Sets P to the host address of the access of `size` bytes at linear `ea` when the TLB allows it
   * (`write`: a store) and it stays in its page, else leaves (a miss or a slow case). Each site caches
   * the last page it reached with the fast permission (locals g, h): nothing can change a TLB entry
   * while the function runs.
   */
  hostAddr(ea: Expr, size: number, write: boolean): void {
    const b = this.b;
    b.emit(set(LA, ea));
    const fits = size === 4 ? bin(Op.leU, and(get(LA), i32(4095)), i32(4092)) : size === 2 ? bin(Op.ne, and(get(LA), i32(4095)), i32(4095)) : undefined;
    const page = shrU(get(LA), 12), offset = and(get(LA), i32(4095));
    const need = write ? (this.user ? TLB_FAST_USER_WRITE : TLB_FAST_SUP_WRITE) : this.user ? TLB_USER_READ : TLB_VALID;
    const viaTlb = (g?: number) => {
      b.emit(set(T, [...bin(Op.shl, page, i32(2)), Op.load, 2, ...uleb32(this.layout.tlbOffset)]));
      const ok = ne0(and(get(T), i32(need)));
      b.if(eqz(fits ? and(ok, fits) : ok));
      if (write) this.storeNextToCode(size, fits, offset);
      else this.leave(select(eqz(get(T)), i32(EXIT_MISS), i32(EXIT_SLOW)));
      if (write) b.else();
      else b.end();
      if (g !== undefined) b.emit(set(g + 1, and(get(T), i32(-4096))), set(g, page));
      b.emit(set(P, or(and(get(T), i32(-4096)), offset)));
      if (write) b.end();
    };
    if (this.sites >= MAX_SITE_CACHES) { viaTlb(); return; }
    const g = SITES + 2 * this.sites++;
    const hit = bin(Op.eq, page, get(g));
    b.if(fits ? and(hit, fits) : hit);
    b.emit(set(P, or(get(g + 1), offset)));
    b.else();
    viaTlb(g);
    b.end();
  }
  /**
   * A store the TLB entry T (loaded) refuses the fast path: one to a page that holds decoded code
   * (data next to code, compute.gasm's sieve) is done here when the page is writable, has no
   * page-wide write watch, and no byte it writes lies in a 64-byte chunk of decoded code or of a byte
   * watch (a data breakpoint's; PhysicalMemory's marks, read at every such store: code is only decoded
   * and watches set between calls, so they are exact); also a page's first write of a write epoch
   * (recorded here: see PhysicalMemory.foldRegionWrites). Anything else leaves. Sets P; the site's
   * page cache is not filled (the next store checks its chunk again).
   */
  storeNextToCode(size: number, fits: Expr | undefined, offset: Expr): void {
    const b = this.b, { pageFlagsOffset, codeChunksOffset } = this.layout;
    const writable = ne0(and(get(T), i32(this.user ? TLB_USER_WRITE : TLB_SUP_WRITE)));
    b.emit(set(P, or(and(get(T), i32(-4096)), offset)));
    // FL: the page's flags but code and byte watches — none (the store is done here), or only its
    // first write of the write epoch (recorded here, then done); anything else leaves.
    const page = shrU(get(T), 12), flags = [...page, Op.load8u, 0, ...uleb32(pageFlagsOffset)];
    b.emit(set(FL, and(flags, i32(0xff & ~(PAGE_HAS_CODE | PAGE_WATCHED_BYTES)))));
    const chunk = (at: Expr) => [...shrU(at, CHUNK_SHIFT), Op.load8u, 0, ...uleb32(codeChunksOffset)];
    const noCode = eqz(size === 1 ? chunk(get(P)) : or(chunk(get(P)), chunk(add(get(P), i32(size - 1)))));
    const ok = and(and(writable, eqz(and(get(FL), i32(~PAGE_UNWRITTEN)))), noCode);
    b.if(eqz(fits ? and(ok, fits) : ok));
    this.leave(select(eqz(get(T)), i32(EXIT_MISS), i32(EXIT_SLOW)));
    b.end();
    // The first write: its flag cleared, the page marked for PhysicalMemory.foldRegionWrites.
    const { regionWritesOffset } = this.layout;
    b.if(get(FL));
    b.emit([...page, ...and(flags, i32(0xff & ~PAGE_UNWRITTEN)), Op.store8, 0, ...uleb32(pageFlagsOffset)]);
    b.emit([...page, ...i32(1), Op.store8, 0, ...uleb32(regionWritesOffset + 4)]);
    b.emit([...i32(0), ...i32(1), Op.store, 2, ...uleb32(regionWritesOffset)]);
    b.end();
  }

  /** V = `size` bytes at seg:ea (zero-extended). */
  load(i: Insn, size: number): void { this.hostAddr(this.ea(i), size, false); this.b.emit(set(V, load(size, get(P)))); }
  /** The flag record of ALU op `aop` on a and b (ADC/SBB with the carry in `cin`); FR the result. */
  alu(aop: number, size: number, a: Expr, bv: Expr, cin?: Expr): void {
    const [cc, op] = aluOp(aop)!;
    const sym = op === '+' ? Op.add : op === '-' ? Op.sub : op === '|' ? Op.or : op === '&' ? Op.and : Op.xor;
    if (cc === CC_LOGIC) this.b.emit(set(FR, bin(sym, a, bv)));
    else if (cin) this.b.emit(set(FC, cin), set(FA, a), set(FB, bv), set(FR, trunc(bin(sym, bin(sym, get(FA), get(FB)), get(FC)), size)));
    else this.b.emit(set(FA, a), set(FB, bv), set(FR, trunc(bin(sym, get(FA), get(FB)), size)));
    this.flags = { op: cc, size: RECORD_SIZE(size) };
  }
  /**
   * CF before an instruction that keeps or reads it (`used`: exactly); undefined: not known here. With
   * the record's kind known only at run time ('dyn': blocks that several kinds of flag writer reach),
   * the CF of each kind, chosen by FOP; an eager record (EFLAGS in the CPU) leaves the region.
   */
  carry(used: boolean): Expr | undefined {
    if (this.cfDeadAfter && !used) return i32(0);
    if (typeof this.flags === 'object') return carryOf(this.flags, this.operands(this.flags));
    const b = this.b, fop = get(FOP), sz = get(FSZ), is = (op: number) => bin(Op.eq, fop, i32(op));
    b.if(or(eqz(fop), bin(Op.gtU, fop, i32(CC_SAR32))));
    this.leave();
    b.end();
    // Every size's formula, the record's size picked (sizes 2, 1, 0: 32, 16, 8 bits).
    const bySize = (op: number) => select(bin(Op.eq, sz, i32(2)), carryOf({ op, size: 2 })!, select(bin(Op.eq, sz, i32(1)), carryOf({ op, size: 1 })!, carryOf({ op, size: 0 })!));
    return select(bin(Op.leU, bin(Op.sub, fop, i32(CC_ADD)), i32(CC_ADC - CC_ADD)), bySize(CC_ADD),
      select(bin(Op.leU, bin(Op.sub, fop, i32(CC_SUB)), i32(CC_SBB - CC_SUB)), bySize(CC_SUB),
        select(bin(Op.geU, fop, i32(CC_INC)), select(bin(Op.leU, fop, i32(CC_DEC)), get(FC), select(is(CC_SHL32), carryOf({ op: CC_SHL32, size: 2 })!,
          select(is(CC_SHR32), carryOf({ op: CC_SHR32, size: 2 })!, carryOf({ op: CC_SAR32, size: 2 })!))), i32(0))));
  }

  /** Inline code for one instruction; false (nothing emitted): leave before it. */
  inst(i: Insn): boolean {
    if (i.exec !== i.semantics || i.rep !== 0 || i.lock || i.addr16) return false;
    const op = i.opcode, size = i.size, reg = i.reg, rm = i.rm, b = this.b;
    if (rm < 0 && !this.flatSeg(i.seg) && op !== 0x8d) return false;
    const R = (n: number) => this.get(n, size);
    const Wr = (n: number, v: Expr) => b.emit(this.put(n, size, v));
    const imm = i32(size === 4 ? i.imm | 0 : size === 2 ? i.imm & 0xffff : i.imm & 0xff);
    /** ALU op `aop` (its carry in first when ADC/SBB), false when that carry is not known. */
    const aluIn = (aop: number, a: () => Expr, bv: () => Expr, before?: () => void): boolean => {
      const cin = aop === 2 || aop === 3 ? this.carry(true) : undefined;
      if ((aop === 2 || aop === 3) && !cin) return false;
      before?.();
      this.alu(aop, size, a(), bv(), cin);
      return true;
    };
    /** Read-modify-write of the memory operand: V the old value, `compute` sets W (false: nothing emitted). */
    const rmw = (compute: () => boolean): boolean => {
      const at = b.code.length, flags = this.flags, sites = this.sites;
      this.hostAddr(this.ea(i), size, true);
      b.emit(set(V, load(size, get(P))));
      if (!compute()) { b.code.length = at; this.flags = flags; this.sites = sites; return false; }
      b.emit(store(size, get(P), get(W)));
      return true;
    };
    if (op < 0x40 && (op & 7) < 6) {
      const aop = op >> 3, form = op & 7, writes = aop !== 7;
      if (form >= 4) { if (!aluIn(aop, () => R(0), () => imm)) return false; if (writes) Wr(0, get(FR)); return true; }
      if (rm >= 0) {
        const [d, s] = form < 2 ? [rm, reg] : [reg, rm];
        if (!aluIn(aop, () => R(d), () => R(s))) return false;
        if (writes) Wr(d, get(FR));
        return true;
      }
      if (form >= 2) { if (!aluIn(aop, () => R(reg), () => get(V), () => this.load(i, size))) return false; if (writes) Wr(reg, get(FR)); return true; }
      if (!writes) return aluIn(aop, () => get(V), () => R(reg), () => this.load(i, size));
      return rmw(() => { if (!aluIn(aop, () => get(V), () => R(reg))) return false; b.emit(set(W, get(FR))); return true; });
    }
    if (op === 0x80 || op === 0x81 || op === 0x83 || op === 0x82) {
      if (rm >= 0) { if (!aluIn(reg, () => R(rm), () => imm)) return false; if (reg !== 7) Wr(rm, get(FR)); return true; }
      if (reg === 7) return aluIn(7, () => get(V), () => imm, () => this.load(i, size));
      return rmw(() => { if (!aluIn(reg, () => get(V), () => imm)) return false; b.emit(set(W, get(FR))); return true; });
    }
    switch (op) {
      case 0x84: case 0x85:
        if (rm >= 0) return aluIn(4, () => R(rm), () => R(reg));
        return aluIn(4, () => get(V), () => R(reg), () => this.load(i, size));
      case 0xa8: case 0xa9: return aluIn(4, () => R(0), () => imm);
      case 0xf6: case 0xf7:
        if (reg === 0 || reg === 1) return rm >= 0 ? aluIn(4, () => R(rm), () => imm) : aluIn(4, () => get(V), () => imm, () => this.load(i, size));
        if (reg === 2) { // NOT: no flags
          if (rm >= 0) { Wr(rm, xor(R(rm), i32(-1))); return true; }
          return rmw(() => { b.emit(set(W, xor(get(V), i32(-1)))); return true; });
        }
        if (reg === 4 && size === 4 && this.flagsDeadAfter) { // MUL: EDX:EAX = EAX * src (its eager flags unseen)
          if (rm < 0) this.load(i, 4); else b.emit(set(V, r(rm)));
          b.emit(this.setR(2, mulHighU(r(0), get(V))), this.setR(0, bin(Op.mul, r(0), get(V))));
          return true;
        }
        if (reg === 3 && rm >= 0) { // NEG: the record of 0 - x
          b.emit(set(FA, i32(0)), set(FB, R(rm)), set(FR, trunc(bin(Op.sub, i32(0), get(FB)), size)));
          // The new record before the register write (a write stores the current record first: setR).
          this.flags = { op: CC_SUB, size: RECORD_SIZE(size) };
          Wr(rm, get(FR));
          return true;
        }
        return false;
      case 0x88: case 0x89:
        if (rm >= 0) { Wr(rm, R(reg)); return true; }
        this.hostAddr(this.ea(i), size, true); b.emit(store(size, get(P), R(reg))); return true;
      case 0x8a: case 0x8b:
        if (rm >= 0) { Wr(reg, R(rm)); return true; }
        this.load(i, size); Wr(reg, get(V)); return true;
      case 0xa0: case 0xa1: this.load(i, size); Wr(0, get(V)); return true; // MOV AL/EAX, moffs (the offset in disp)
      case 0xa2: case 0xa3: this.hostAddr(this.ea(i), size, true); b.emit(store(size, get(P), R(0))); return true;
      case 0xc6: case 0xc7:
        if (rm >= 0) { Wr(rm, imm); return true; }
        this.hostAddr(this.ea(i), size, true); b.emit(store(size, get(P), imm)); return true;
      case 0x8d: if (rm >= 0 || size !== 4) return false; b.emit(this.setR(reg, this.ea(i))); return true;
      case 0x90: return true;
      case 0x99: if (size !== 4) return false; b.emit(this.setR(2, bin(Op.shrS, r(0), i32(31)))); return true;
      case 0x1b6: case 0x1be: case 0x1b7: case 0x1bf: {
        if (size !== 4) return false;
        const word = i.imm === 2, signed = (op & 8) !== 0, bits = word ? 16 : 8;
        let src: Expr;
        if (rm < 0) { this.load(i, word ? 2 : 1); src = get(V); } else src = this.get(rm, word ? 2 : 1);
        b.emit(this.setR(reg, signed ? bin(Op.shrS, bin(Op.shl, src, i32(32 - bits)), i32(32 - bits)) : src));
        return true;
      }
      case 0x1af: case 0x69: case 0x6b: {
        // IMUL's flags are eager (overflow of the full product): only where the next instruction overwrites them.
        if (size !== 4 || !this.flagsDeadAfter) return false;
        if (rm < 0) this.load(i, 4); else b.emit(set(V, r(rm)));
        b.emit(this.setR(reg, bin(Op.mul, op === 0x1af ? r(reg) : get(V), op === 0x1af ? get(V) : i32(i.imm | 0))));
        return true;
      }
      case 0xc1: case 0xd1: {
        if (size !== 4 || rm < 0) return false;
        const count = op === 0xd1 ? 1 : i.imm & 31;
        const kind = reg === 4 || reg === 6 ? [CC_SHL32, Op.shl] : reg === 5 ? [CC_SHR32, Op.shrU] : reg === 7 ? [CC_SAR32, Op.shrS] : undefined;
        if (count === 0 || !kind) return false;
        this.flags = { op: kind[0], size: 2 };
        b.emit(set(FA, r(rm)), set(FB, i32(count)), set(FR, bin(kind[1], get(FA), i32(count))), this.setR(rm, get(FR)));
        return true;
      }
      case 0xfe: case 0xff:
        if (reg > 1) return false;
        if (rm >= 0) return this.incDec(reg === 1, size, R(rm), (v) => this.put(rm, size, v));
        return rmw(() => this.incDec(reg === 1, size, get(V), (v) => set(W, v)));
    }
    if (op >= 0x40 && op < 0x50) return this.incDec(op >= 0x48, size, R(reg), (v) => this.put(reg, size, v));
    if (op >= 0xb0 && op < 0xc0) { Wr(reg, imm); return true; }
    if (size === 4 && op >= 0x50 && op < 0x58) return this.push(r(reg));
    if (size === 4 && (op === 0x68 || op === 0x6a)) return this.push(i32(i.imm | 0));
    if (size === 4 && op >= 0x58 && op < 0x60) {
      if (!this.flatSeg(2)) return false;
      // POP ESP loads ESP from the old top of the stack.
      this.hostAddr(r(4), 4, false);
      b.emit(set(V, load(4, get(P))), this.setR(4, add(get(LA), i32(4))), this.setR(reg, get(V)));
      return true;
    }
    return false;
  }

  incDec(dec: boolean, size: number, a: Expr, write: (v: Expr) => Expr): boolean {
    const c = this.carry(false);
    if (!c) return false;
    this.flags = { op: dec ? CC_DEC : CC_INC, size: RECORD_SIZE(size) };
    this.b.emit(set(FC, c), set(FA, a), set(FB, i32(1)), set(FR, trunc(bin(dec ? Op.sub : Op.add, get(FA), i32(1)), size)), write(get(FR)));
    return true;
  }
  /** PUSH of `val` (computed before ESP changes). */
  push(val: Expr): boolean {
    if (!this.flatSeg(2)) return false;
    this.b.emit(set(V, val));
    this.hostAddr(add(r(4), i32(-4)), 4, true);
    this.b.emit(store(4, get(P), get(V)), this.setR(4, get(LA)));
    return true;
  }

  /**
   * To the block at `to` after `retired` instructions of the current block (case `caseId`): an exit
   * when it is not in the region; else a branch to its case, or, for a small block (not the entry)
   * jumped to from a case's own code (`depth` 0), a copy of it in place, so a loop of a few blocks
   * runs as one WebAssembly loop instead of going through the dispatch at each block.
   */
  jump(to: number, retired: number, caseId: number, depth: number): void {
    const t = this.index.get(to >>> 0), b = this.b;
    if (t === undefined) { this.exit(to, retired, i32(EXIT_DONE)); return; }
    // A block that would leave part way (I/O, RET, …) is the dispatcher's from its start: fewer cases
    // in the function (the hot loop's code compiles better without them), the same exits.
    if (!this.inline(t)) { this.exit(to, retired, i32(EXIT_SLOW)); return; }
    if (depth === 0 && t !== 0 && t !== caseId && this.blocks[t].insns.length <= INLINE_MAX_INSNS) {
      const { eip, k, next, flags, flagsDeadAfter, cfDeadAfter } = this;
      b.emit(set(IC, add(get(IC), i32(retired))));
      this.emitBody(t, caseId, depth + 1);
      Object.assign(this, { eip, k, next, flags, flagsDeadAfter, cfDeadAfter });
      return;
    }
    const f = this.flags;
    this.onEdge(t, f, t === caseId);
    let want = this.stateOf(t), dest = t;
    // Another kind of record than the block's own loop brings: to its copy that reads it at run time.
    if (typeof want === 'object' && !sameKind(want, f) && this.hasCopy(t)) { want = 'dyn'; dest = this.blocks.length + t; }
    if (want === 'dyn' && typeof f === 'object') b.emit(set(FOP, i32(f.op)), set(FSZ, i32(f.size)));
    b.emit(set(IC, add(get(IC), i32(retired))));
    if (dest === caseId) b.br('self');
    else { b.emit(set(LL, i32(dest))); b.br('dispatch'); }
  }

  /** Whether every instruction of block `t` before its branch compiles inline (with the flag record's kind unknown). */
  inline(t: number): boolean {
    let ok = this.inlineBlocks.get(t);
    if (ok === undefined) {
      const scratch = new WasmGen(this.blocks, this.index, this.user, this.flat, this.layout, () => undefined, () => {});
      const insns = this.blocks[t].insns;
      scratch.eip = this.blocks[t].eip >>> 0;
      scratch.b.block('out'); // what its exits branch to
      ok = insns.every((i, k) => { atInstruction(scratch, insns, k); const yes = isInlineBranch(i) || scratch.inst(i); scratch.eip = scratch.next; return yes; });
      this.inlineBlocks.set(t, ok);
    }
    return ok;
  }
  readonly inlineBlocks = new Map<number, boolean>();

  /** Block `n` as case `caseId` starting with flag state `entry`: a loop its jumps to itself continue. */
  emitBlock(n: number, caseId: number, entry: WFlags): void {
    this.flags = entry;
    this.b.loop('self');
    this.emitBody(n, caseId, 0);
    this.b.end();
    this.b.emit([Op.unreachable]);
  }

  /** Block `n`'s code inside case `caseId`, with the flag state as it is: every path ends in a branch. */
  emitBody(n: number, caseId: number, depth: number): void {
    const b = this.b, blk = this.blocks[n], count = blk.insns.length;
    this.eip = blk.eip >>> 0;
    this.k = 0;
    b.if(bin(Op.gtS, add(get(IC), i32(count)), get(P_BUDGET)));
    this.exit(this.eip, 0, i32(EXIT_DONE));
    b.end();
    for (let k = 0; k < count; k++) {
      const i = atInstruction(this, blk.insns, k);
      if (isInlineBranch(i)) {
        const target = (this.next + i.imm) >>> 0, op = i.opcode;
        if (op === 0xe8 || op === 0xe9 || op === 0xeb) {
          if (op === 0xe8 && !this.push(i32(this.next | 0))) { this.leave(); return; }
          this.jump(target, k + 1, caseId, depth);
          return;
        }
        const c = typeof this.flags === 'object' ? condOf(op & 15, this.flags, this.operands(this.flags)) : undefined;
        if (!c) { this.leave(); return; }
        b.if(c);
        this.jump(target, k + 1, caseId, depth);
        b.end();
        this.jump(this.next, k + 1, caseId, depth);
        return;
      }
      if (depth === 0) this.total++;
      const before = this.flags;
      if (!this.inst(i)) { this.leave(); return; }
      if (this.flags !== before) this.relax(i);
      if (depth === 0) this.inlined++;
      this.eip = this.next;
    }
    this.k = count;
    this.jump(this.eip, count, caseId, depth);
  }
}

/** Blocks of at most this many instructions are copied into a jump to them (once: not into a copy). */
const INLINE_MAX_INSNS = 8;

const uleb32 = (n: number): number[] => {
  const out: number[] = [];
  do { let x = n & 0x7f; n = Math.floor(n / 128); if (n !== 0) x |= 0x80; out.push(x); } while (n !== 0);
  return out;
};

/** Generation passes spent finding the blocks' entry flag states (then every block is 'dyn'). */
const MAX_PASSES = 8;

/**
 * Compiles `blocks` (block 0 the entry) for these flat segments and privilege; undefined when the
 * host has no WebAssembly memory or the region would do nothing inline. `fallback` makes the JS
 * region it moves to when it leaves too often.
 */
export function compileWasmRegion(blocks: RegionBlock[], user: boolean, flat: number, layout: WasmLayout | undefined,
  fallback: () => CompiledRegion | undefined): CompiledRegion | undefined {
  if (!layout || blocks.length === 0) return undefined;
  const index = new Map<number, number>();
  blocks.forEach((blk, n) => index.set(blk.eip >>> 0, n));
  // The flag state at each block's start: static when every jump inside the region to it carries
  // the same one (a least fixed point); an outside entry comes with the CPU's record ('dyn'). A block
  // that loops onto itself keeps its loop's state when other jumps bring another kind of record:
  // those go to a copy of it that reads the record at run time (case blocks.length + n; block 0's
  // copy is the entry), so a loop entered from a compare on another operand size stays static.
  let states: (WFlags | undefined)[] = blocks.map(() => undefined), copies = blocks.map((_, n) => n === 0);
  let gen: WasmGen | undefined;
  for (let pass = 0; pass <= MAX_PASSES; pass++) {
    const own: (WFlags | undefined)[] = blocks.map(() => undefined), other = own.slice();
    // Not settled: every block 'dyn' (and a case of its own, whichever jumps reach it).
    const last = pass === MAX_PASSES, now: (WFlags | undefined)[] = last ? blocks.map(() => 'dyn') : states, nowCopies = last ? blocks.map((_, n) => n === 0) : copies;
    const g = new WasmGen(blocks, index, user, flat, layout, (n) => now[n], (n, f, self) => { if (self) own[n] = merge(own[n], f); else other[n] = merge(other[n], f); },
      (n) => nowCopies[n]);
    emitFunction(g, now, nowCopies);
    const copy = (n: number) => typeof own[n] === 'object' && other[n] !== undefined && !sameKind(own[n]!, other[n]!);
    const incoming = blocks.map((_, n) => (copy(n) || other[n] === undefined ? own[n] : merge(other[n], own[n] ?? other[n]!)));
    const nextCopies = blocks.map((_, n) => n === 0 || copy(n));
    if (last || (incoming.every((f, n) => f === now[n] || (f !== undefined && now[n] !== undefined && same(f, now[n]!))) && nextCopies.every((c, n) => c === nowCopies[n]))) {
      gen = g; states = now; copies = nowCopies; break;
    }
    states = incoming;
    copies = nextCopies;
  }
  const g = gen!;
  if (g.inlined === 0 || g.inlined * 2 < g.total) return undefined;
  const bytes = moduleBytes(2, SITES - 2 + 2 * g.sites, wrapBody(g, layout));
  const fn = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { mem: layout.memory } }).exports.run as (c: number, budget: number) => number;
  const st = new Int32Array(layout.memory.buffer, layout.stateOffset, STATE_WORDS);
  const writesMarked = new Int32Array(layout.memory.buffer, layout.regionWritesOffset, 1);
  // A block whose record is partly in registers is entered from inside only (the CPU's record need not match them).
  const enterable = blocks.map((_, n) => copies[n] || (states[n] !== undefined && !lazy(states[n])));
  let js: RegionCode | undefined, moved = false, calls = 0, shortExits = 0;
  const run: RegionCode = (cpu: Cpu, insns: Insn[], regs: Int32Array, end: number, at: number): boolean => {
    if (moved) return js ? js(cpu, insns, regs, end, at) : true;
    if (cpu.flatSegs !== flat) return false;
    // Entered at a block whose code expects a static record: only with the CPU's record of that kind.
    const f = copies[at] ? 'dyn' : states[at];
    if (f === undefined || (typeof f === 'object' && (cpu.ccOp !== f.op || cpu.ccSize !== f.size || lazy(f)))) return true;
    for (let n = 0; n < 8; n++) st[n] = regs[n];
    st[STATE_FOP] = cpu.ccOp; st[STATE_FOP + 1] = cpu.ccSize; st[STATE_FOP + 2] = cpu.ccA; st[STATE_FOP + 3] = cpu.ccB; st[STATE_FOP + 4] = cpu.ccRes; st[STATE_FOP + 5] = cpu.ccCin;
    const budget = end - cpu.icount;
    const n = fn(copies[at] ? blocks.length + at : at, budget > 0x3fffffff ? 0x3fffffff : budget);
    for (let k = 0; k < 8; k++) regs[k] = st[k];
    cpu.eip = st[STATE_EIP] >>> 0;
    cpu.icount += n;
    cpu.ccOp = st[STATE_FOP]; cpu.ccSize = st[STATE_FOP + 1]; cpu.ccA = st[STATE_FOP + 2]; cpu.ccB = st[STATE_FOP + 3]; cpu.ccRes = st[STATE_FOP + 4]; cpu.ccCin = st[STATE_FOP + 5];
    const kind = st[STATE_KIND];
    if (writesMarked[0] !== 0) layout.foldRegionWrites();
    if (kind === EXIT_MISS) cpu.stats.regionMissExits++;
    else if (kind === EXIT_SLOW) {
      cpu.stats.regionSlowExits++;
      if (n < SHORT_RUN) shortExits++;
    }
    if (++calls === WINDOW) {
      // Most runs of the last WINDOW left after a few instructions for something the dispatcher
      // does (a store next to code each pass, an instruction it lacks in a loop), and the rest of
      // the loop ran in single blocks: the JS region, whose slow paths stay in the loop, from now on.
      if (shortExits * 2 >= WINDOW) {
        moved = true;
        cpu.stats.regionsMovedToJs++;
        js = fallback()?.run;
      }
      calls = 0;
      shortExits = 0;
    }
    return true;
  };
  return { run, enterable };
}
/** Runs per verdict, and a run this short that left for the dispatcher (see `run`). */
const WINDOW = 128, SHORT_RUN = 400;

/** The cases: every block with a known state, and the 'dyn' copies (case blocks.length + n; block 0's: the entry). */
function emitFunction(g: WasmGen, states: (WFlags | undefined)[], copies: boolean[]): void {
  const b = g.b, nb = g.blocks.length;
  const cases: number[] = [];
  for (let n = 0; n < nb; n++) if (states[n] !== undefined) cases.push(n);
  for (let n = 0; n < nb; n++) if (copies[n]) cases.push(nb + n);
  b.block('out');
  b.loop('dispatch');
  b.block('bad');
  for (let c = cases.length - 1; c >= 0; c--) b.block(`c${cases[c]}`);
  const labels = Array.from({ length: 2 * nb }, (_, n) => ((n < nb ? states[n] !== undefined : copies[n - nb]) ? `c${n}` : 'bad'));
  b.brTable(get(LL), labels, 'bad');
  for (const c of cases) {
    b.end();
    g.emitBlock(c >= nb ? c - nb : c, c, c >= nb ? 'dyn' : states[c]!);
  }
  b.end(); // bad
  b.emit([Op.unreachable]);
  b.end(); // dispatch
  b.end(); // out
}

/** The prologue (state in), the cases, the epilogue (state out). */
function wrapBody(g: WasmGen, layout: WasmLayout): number[] {
  const stAt = (k: number): Expr => i32(layout.stateOffset + 4 * k);
  const pro: number[] = [];
  for (let n = 0; n < 8; n++) pro.push(...set(R0 + n, load(4, stAt(n))));
  for (let k = 0; k < 6; k++) pro.push(...set(FOP + k, load(4, stAt(STATE_FOP + k))));
  for (let k = 0; k < g.sites; k++) pro.push(...set(SITES + 2 * k, i32(-1)));
  pro.push(...set(LL, get(P_CASE)));
  const epi: number[] = [];
  for (let n = 0; n < 8; n++) epi.push(...store(4, stAt(n), r(n)));
  epi.push(...store(4, stAt(STATE_EIP), get(XE)));
  for (let k = 0; k < 6; k++) epi.push(...store(4, stAt(STATE_FOP + k), get(FOP + k)));
  epi.push(...store(4, stAt(STATE_KIND), get(KIND)), ...get(IC));
  return [...pro, ...g.b.code, ...epi];
}
