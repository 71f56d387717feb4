/*
 * Region compiler: a hot block and the blocks it reaches by direct branches in the same linear page
 * become ONE JavaScript function with internal control flow (a `switch` over the blocks inside a
 * loop, a block that jumps to itself a tight inner loop), so a hot loop never returns to the
 * dispatcher. What v86 does with WebAssembly and QEMU with chained translation blocks, in JS:
 *
 *  - Registers live in JS locals (r0…r7) inside the function; `cpu.regs` is written back only on a
 *    way out (an exit, a slow path, an instruction run through its `exec`) and read again after an
 *    `exec`.
 *  - Flags: the lazy-flag record (op, size, A, B, result, carry in) lives in locals too. The compiler
 *    knows statically which record the last flag writer left, so Jcc, INC/DEC's carry and the like
 *    read the locals directly (`dec ecx; jnz` is `r1 !== 0`); the record reaches `cpu.cc*` only on a
 *    way out. Between blocks the record travels in locals (`fop` says which one, -1: in `cpu`).
 *  - Memory: the TLB fast path inline. `cpu.tlb` holds, per linear page, the physical page and the
 *    permission bits (paging off: an identity entry), so a load is an array read and a test; each
 *    access site also remembers the last page it reached (an inline cache, Gen.hostAddr). A store
 *    tests a "fast write" bit the CPU sets only for pages without decoded code or a write watch, so
 *    stores next to code keep PhysicalMemory's per-64-byte code tracking on the slow path. A TLB miss
 *    leaves the region at the instruction (Gen.leaveOnMiss: the dispatcher runs it and fills the TLB).
 *    A non-flat segment, an unaligned dword, a page with code or a watch, a page outside RAM take the
 *    slow path inline: `cpu.read*`/`write*` with every check, after EIP, the count, the registers and
 *    the flags were stored, so faults, self-modifying code and write watches behave as interpreted.
 *  - Everything else runs through the instruction's `exec` (one source of semantics, ops/*), with
 *    the state synchronised around it.
 *
 * Contract with Cpu.runBlocks (as for compileBlock): called when EIP is the entry, it runs until an
 * exit, a block whose instructions do not fit before `end` (it stops before it), a TLB miss (it stops
 * before the instruction, possibly the entry's first: then nothing ran and the caller runs the block
 * another way), or an instruction that sets `breakBlock`. On return the CPU state (EIP, count,
 * registers, flags) is exact. Entered at another of its blocks (CompiledRegion), the same holds.
 */
import { CC_ADC, CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SAR32, CC_SBB, CC_SHL32, CC_SHR32, CC_SUB, type Cpu } from './cpu';
import type { Insn } from './insn';
import { shift, imul2 } from './ops/alu';

/**
 * A compiled region: like a CompiledBlock, but false when it did not run at all (the segments are no
 * longer flat as when it was compiled; the caller runs the block another way and recompiles later).
 */
export type RegionFn = (cpu: Cpu, insns: Insn[], r: Int32Array, end: number) => boolean;

/** A block of the region: its EIP and decoded instructions. */
export interface RegionBlock { eip: number; insns: Insn[] }

/** TLB permission bits (cpu.ts): valid/supervisor read, supervisor write, user read, user write. */
export const TLB_VALID = 1, TLB_SUP_WRITE = 2, TLB_USER_READ = 4, TLB_USER_WRITE = 8;
/**
 * Write permission for compiled code's fast path: set by the CPU with the write bit only when the
 * physical page holds no decoded code and no write watch (cleared when it gets one), so a store
 * tests one bit; stores to pages with code take the slow path and its per-64-byte code checks.
 */
export const TLB_FAST_SUP_WRITE = 32, TLB_FAST_USER_WRITE = 64;

/** Largest region (blocks, instructions). */
const MAX_BLOCKS = 48, MAX_INSNS = 600;
/**
 * Access sites of a region with a page cache of their own (Gen.hostAddr); the others use the TLB
 * only. Each costs two locals and a line in every slow path (they are all forgotten there).
 */
const MAX_SITE_CACHES = 24;

const hex = (v: number) => '0x' + (v >>> 0).toString(16);

/**
 * Collects the region that starts at `entryEip`: blocks reached by direct jumps and fall-through in
 * the same linear page (`csBase` + EIP). `blockAt(eip)` returns a block's instructions (decoded and
 * registered for invalidation) or undefined when it cannot be part of a region.
 */
export function collectRegion(entryEip: number, csBase: number, blockAt: (eip: number) => Insn[] | undefined): RegionBlock[] {
  const page = ((entryEip + csBase) & ~0xfff) | 0;
  const inPage = (eip: number) => (((eip + csBase) & ~0xfff) | 0) === page;
  const out: RegionBlock[] = [];
  const seen = new Set<number>();
  const work = [entryEip >>> 0];
  let total = 0;
  while (work.length && out.length < MAX_BLOCKS) {
    const eip = work.shift()!;
    if (seen.has(eip)) continue;
    seen.add(eip);
    const insns = blockAt(eip);
    if (!insns || insns.length === 0) continue;
    if (total + insns.length > MAX_INSNS) break;
    total += insns.length;
    out.push({ eip, insns });
    const last = insns[insns.length - 1];
    const next = (last.linear - insns[0].linear + eip + last.len) >>> 0;
    for (const t of successors(last, next)) if (inPage(t) && !seen.has(t)) work.push(t);
  }
  return out;
}

/** Static successors of a block ending with `i` (next: the address after it). */
function successors(i: Insn, next: number): number[] {
  const op = i.opcode;
  if (i.size !== 4 || i.addr16) return i.endsBlock ? [] : [next];
  if ((op >= 0x70 && op < 0x80) || (op >= 0x180 && op < 0x190)) return [(next + i.imm) >>> 0, next];
  if (op === 0xe9 || op === 0xeb || op === 0xe8) return [(next + i.imm) >>> 0];
  return i.endsBlock ? [] : [next];
}

// ---- static flag state --------------------------------------------------------------------------

/**
 * What the compiler knows about the flags at a point: the record in locals (op, size; `b`: the second
 * operand when it is a constant, a shift's count), 'dyn' (fop says which record), or 'cpu'.
 */
type FlagState = { op: number; size: number; b?: number } | 'dyn' | 'cpu';

const sameFlags = (x: FlagState, y: FlagState) =>
  x === y || (typeof x === 'object' && typeof y === 'object' && x.op === y.op && x.size === y.size && x.b === y.b);

/**
 * The record fields a static state needs, as JS expressions of the locals: only what EFLAGS can be
 * computed from (LOGIC: the result; ADD/SUB: no carry in; INC/DEC: the first operand is the result
 * ∓ 1; a shift's count is a constant). Fewer fields read at slow paths and exits means fewer values
 * V8 keeps alive around a hot loop only for the rare case that needs them.
 */
function recordFields(f: { op: number; size: number; b?: number }): { a: string; b: string; r: string; c: string } {
  const m = f.size === 2 ? ' | 0' : f.size === 1 ? ' & 0xffff' : ' & 0xff';
  switch (f.op) {
    case CC_LOGIC: return { a: '0', b: '0', r: 'fr', c: '0' };
    case CC_ADD: case CC_SUB: return { a: 'fa', b: 'fb', r: 'fr', c: '0' };
    case CC_INC: return { a: `((fr - 1)${m})`, b: '1', r: 'fr', c: 'fc' };
    case CC_DEC: return { a: `((fr + 1)${m})`, b: '1', r: 'fr', c: 'fc' };
    case CC_SHL32: case CC_SHR32: case CC_SAR32: return { a: 'fa', b: f.b === undefined ? 'fb' : String(f.b), r: 'fr', c: '0' };
    default: return { a: 'fa', b: 'fb', r: 'fr', c: 'fc' };
  }
}

const MASK = (size: number) => (size === 2 ? '' : size === 1 ? ' & 0xffff' : ' & 0xff');
const SIGN = (size: number) => (size === 2 ? '0x80000000' : size === 1 ? '0x8000' : '0x80');

/** JS condition for cc (0..15) from the record op/size in fa, fb, fr, fc; undefined: use cpu.cond. */
function condFrom(cc: number, op: number, size: number): string | undefined {
  const m = MASK(size), s = SIGN(size);
  const Z = size === 2 ? '(fr === 0)' : `((fr${m}) === 0)`;
  const S = size === 2 ? '(fr < 0)' : `((fr & ${s}) !== 0)`;
  let C: string | undefined, O: string | undefined;
  switch (op) {
    case CC_ADD: C = `(((fr${m}) >>> 0) < ((fa${m}) >>> 0))`; O = `(((fa ^ fr) & (fb ^ fr) & ${s}) !== 0)`; break;
    case CC_SUB: C = `(((fa${m}) >>> 0) < ((fb${m}) >>> 0))`; O = `(((fa ^ fb) & (fa ^ fr) & ${s}) !== 0)`; break;
    // With a carry in, the result equal to the first operand (all ones added / borrowed) carries too.
    case CC_ADC: C = `(fc !== 0 ? ((fr${m}) >>> 0) <= ((fa${m}) >>> 0) : ((fr${m}) >>> 0) < ((fa${m}) >>> 0))`; O = `(((fa ^ fr) & (fb ^ fr) & ${s}) !== 0)`; break;
    case CC_SBB: C = `(fc !== 0 ? ((fa${m}) >>> 0) <= ((fb${m}) >>> 0) : ((fa${m}) >>> 0) < ((fb${m}) >>> 0))`; O = `(((fa ^ fb) & (fa ^ fr) & ${s}) !== 0)`; break;
    case CC_LOGIC: C = 'false'; O = 'false'; break;
    case CC_INC: C = '(fc !== 0)'; O = `(((fa ^ fr) & (fb ^ fr) & ${s}) !== 0)`; break;
    case CC_DEC: C = '(fc !== 0)'; O = `(((fa ^ fb) & (fa ^ fr) & ${s}) !== 0)`; break;
    case CC_SHL32: C = '(((fa >>> (32 - fb)) & 1) !== 0)'; O = `(((fr >>> 31) ^ ((fa >>> (32 - fb)) & 1)) !== 0)`; break;
    case CC_SHR32: C = '(((fa >>> (fb - 1)) & 1) !== 0)'; O = '(fa < 0)'; break;
    case CC_SAR32: C = '(((fa >> (fb - 1)) & 1) !== 0)'; O = 'false'; break;
    default: return undefined;
  }
  let r: string | undefined;
  const sub32 = op === CC_SUB && size === 2;
  switch (cc >> 1) {
    case 0: r = O; break;
    case 1: r = sub32 ? '((fa >>> 0) < (fb >>> 0))' : C; break;
    case 2: r = sub32 ? '(fa === fb)' : Z; break;
    case 3: r = sub32 ? '((fa >>> 0) <= (fb >>> 0))' : `(${C} || ${Z})`; break;
    case 4: r = S; break;
    case 5: return undefined; // PF: through cpu.cond
    case 6: r = sub32 ? '(fa < fb)' : `(${S} !== ${O})`; break;
    default: r = sub32 ? '(fa <= fb)' : `(${Z} || ${S} !== ${O})`; break;
  }
  return cc & 1 ? `!${r}` : r;
}

/**
 * CF (0/1) of an ADD/ADC or SUB/SBB record as arithmetic on its operands and result, without a
 * comparison: the carry (borrow) out of the top bit is a bit function of the three top bits, carry in
 * included. Why: `cond ? 1 : 0` compiles to a branch, and a carry that follows data (INC/DEC keeping
 * the CF of an ADD of memory values, every pass of a loop) mispredicts about every other time —
 * measured with cachegrind on the bench's memory loop: 0.93 mispredicted branches per pass, 0 with this.
 */
function carryBit(op: number, size: number): string | undefined {
  const top = size === 2 ? 31 : size === 1 ? 15 : 7;
  const shift = (bits: string) => (top === 31 ? `(${bits} >>> 31)` : `((${bits} >>> ${top}) & 1)`);
  if (op === CC_ADD || op === CC_ADC) return shift('((fa & fb) | ((fa | fb) & ~fr))');
  if (op === CC_SUB || op === CC_SBB) return shift('((~fa & fb) | (~(fa ^ fb) & fr))');
  return undefined;
}

// ---- the generator ----------------------------------------------------------------------------------

/** JS condition (after `&&`) that an access of `size` bytes at `l` fits the fast path: a dword aligned, a word within its page. */
const FITS = (size: number) => (size === 4 ? ' && (l & 3) === 0' : size === 2 ? ' && (l & 4095) !== 4095' : '');

/** JS that truncates a result to an operand size in bytes (4, 2, 1); the record's size code for it (2, 1, 0). */
const SIZE_MASK_JS = (size: number) => (size === 4 ? ' | 0' : size === 2 ? ' & 0xffff' : ' & 0xff');
export const RECORD_SIZE = (size: number) => (size === 4 ? 2 : size === 2 ? 1 : 0);

/** Lazy-flag op and JS operator of ALU op n (ADD OR ADC SBB AND SUB XOR CMP). (A function: cpu.ts imports this module.) */
export const aluOp = (n: number): [number, string] | undefined =>
  n === 0 ? [CC_ADD, '+'] : n === 1 ? [CC_LOGIC, '|'] : n === 2 ? [CC_ADC, '+'] : n === 3 ? [CC_SBB, '-'] :
    n === 4 ? [CC_LOGIC, '&'] : n === 5 || n === 7 ? [CC_SUB, '-'] : n === 6 ? [CC_LOGIC, '^'] : undefined;

class Gen {
  out: string[] = [];
  flags: FlagState = 'cpu';
  /** Index of the current block and instruction in it; EIP of the instruction and the next. */
  k = 0;
  eip = 0;
  next = 0;
  constructor(readonly blocks: RegionBlock[], readonly index: Map<number, number>, readonly user: boolean, readonly flat: number) {}

  /** Whether segment `seg` is flat (a constant: the region runs only with these segments). */
  flatTest(seg: number): string { return (this.flat & (1 << seg)) !== 0 ? 'true' : 'false'; }

  emit(s: string): void { this.out.push(s); }

  /** Stores the record to cpu.cc* (no change of what the compiler knows). */
  flushCode(): string {
    const f = this.flags;
    if (f === 'cpu') return '';
    if (f === 'dyn') return 'if (fop >= 0) { cpu.ccOp = fop; cpu.ccSize = fsz; cpu.ccA = fa; cpu.ccB = fb; cpu.ccRes = fr; cpu.ccCin = fc; }';
    const x = recordFields(f);
    return `cpu.ccOp = ${f.op}; cpu.ccSize = ${f.size}; cpu.ccA = ${x.a}; cpu.ccB = ${x.b}; cpu.ccRes = ${x.r}; cpu.ccCin = ${x.c};`;
  }
  /** Everything the CPU must see before a slow path or a call: EIP, count, registers, flags. */
  sync(): string {
    return `cpu.eip = ${hex(this.eip)}; cpu.icount = ic + ${this.k}; ${STORE} ${RESET} ${this.flushCode()}`;
  }
  /** Leaves the function with EIP = `eip` (an expression) and `count` instructions of this block retired. */
  exit(eip: string, count: number, via = EXIT_CASE): string {
    // Through the one exit case (EXIT_CASE): V8 optimises the hot loops better when no exit's stores
    // sit inline at their back edges (the ALU loop ran ~1.4x faster in isolation this way).
    return `{ xe = ${eip}; ic += ${count}; ${this.edgeFlags()} L = ${via}; continue dispatch; }`;
  }
  /**
   * The record travels to the exit or a 'dyn' block start in the locals, fop saying which one. The
   * fields a static state does not need get constants (or are derived from the result), so their old
   * values are dead at the edge.
   */
  edgeFlags(): string {
    const f = this.flags;
    if (f === 'cpu') return 'fop = -1;';
    if (f === 'dyn') return '';
    const x = recordFields(f);
    return `fop = ${f.op}; fsz = ${f.size};${x.a !== 'fa' ? ` fa = ${x.a};` : ''}${x.b !== 'fb' ? ` fb = ${x.b};` : ''}${x.c !== 'fc' ? ` fc = ${x.c};` : ''}`;
  }
  /** Makes the record known as 'cpu' (before reading flags through cpu.*). */
  toCpu(): void {
    const c = this.flushCode();
    if (c) this.emit(c + (this.flags === 'dyn' ? ' fop = -1;' : ''));
    this.flags = 'cpu';
  }
  /** A JS boolean for condition cc, from the locals when the record is known. */
  cond(cc: number): string {
    const f = this.flags;
    if (typeof f === 'object') { const c = condFrom(cc, f.op, f.size); if (c) return c; }
    this.toCpu();
    return `cpu.cond(${cc})`;
  }
  /** CF (0/1) before an INC/DEC (any value when nothing can see the CF it keeps), or before ADC/SBB (`used`: always exact). */
  carry(used = false): string {
    if (this.cfDeadAfter && !used) return '0';
    const f = this.flags;
    if (typeof f === 'object') {
      if (f.op === CC_LOGIC) return '0';
      if (f.op === CC_INC || f.op === CC_DEC) return 'fc';
      const bit = carryBit(f.op, f.size);
      if (bit) return bit;
      const c = condFrom(2, f.op, f.size);
      if (c) return `(${c} ? 1 : 0)`;
    }
    this.toCpu();
    return 'cpu.getCF()';
  }

  // ---- operands ----
  ea(i: Insn): string {
    const parts: string[] = [];
    if (i.disp | 0) parts.push(String(i.disp | 0));
    if (i.base >= 0) parts.push(`r${i.base}`);
    if (i.index >= 0) parts.push(i.scale ? `(r${i.index} << ${i.scale})` : `r${i.index}`);
    return parts.length ? `((${parts.join(' + ')}) | 0)` : '0';
  }
  get8(x: number): string { return x < 4 ? `(r${x} & 0xff)` : `((r${x - 4} >> 8) & 0xff)`; }
  set8(x: number, v: string): string { return x < 4 ? `r${x} = (r${x} & ~0xff) | ((${v}) & 0xff);` : `r${x - 4} = (r${x - 4} & ~0xff00) | (((${v}) & 0xff) << 8);`; }

  /**
   * JS that computes the address of an access of `size` bytes at seg:`ea` into `l` and sets `p` to its
   * host address when the fast path may make it (the page allows `need`, a dword aligned, a word
   * within its page), else to -1 (the slow path: `cpu.read*`/`write*` with every check); a TLB miss
   * leaves the region (leaveOnMiss). A non-flat segment always takes the slow path (`l` is then the
   * offset). Each access site is an inline cache: it keeps the last linear page it reached through the
   * TLB and that page's host base in locals (gK, hK), so an access to the same page as last time at
   * this site is a compare and an or, without the TLB's array (its load, bounds check and permission
   * test). Exact because a TLB entry cannot change while the region runs without a call (CR3, INVLPG,
   * a fill, a page getting code or a watch all happen in `exec`, a slow path or outside the region):
   * `sync`, before every call, forgets every site's page (RESET), and a region starts with none.
   */
  hostAddr(i: Insn, ea: string, size: number, need: number): string {
    if ((this.flat & (1 << i.seg)) === 0) return `l = ${ea}; p = -1;`;
    const fits = FITS(size);
    const viaTlb = `t = tlb[l >>> 12]; if ((t & ${need}) !== 0${fits}) p = (t & -4096) | (l & 4095); ${this.leaveOnMiss(i.seg)} else p = -1;`;
    if (this.sites >= MAX_SITE_CACHES) return `l = ${ea}; ${viaTlb}`;
    const k = this.sites++;
    return `l = ${ea}; if ((l >>> 12) === g${k}${fits}) p = h${k} | (l & 4095); ` +
      `else { t = tlb[l >>> 12]; if ((t & ${need}) !== 0${fits}) { h${k} = t & -4096; g${k} = l >>> 12; p = h${k} | (l & 4095); } ${this.leaveOnMiss(i.seg)} else p = -1; }`;
  }
  /** Access sites with a page cache (hostAddr) so far. */
  sites = 0;

  /** Loads `size` (1, 2, 4) bytes at seg:`ea` into local `dst` (fast path inline). */
  load(i: Insn, ea: string, size: number, dst: string): void {
    const need = this.user ? TLB_USER_READ : TLB_VALID;
    const read = size === 4 ? `${dst} = dw[p >> 2];` : size === 2 ? `${dst} = by[p] | (by[p + 1] << 8);` : `${dst} = by[p];`;
    const full = `${this.hostAddr(i, ea, size, need)} if (p >= 0) { ${read} } else { ${this.sync()} ${dst} = cpu.read${size * 8}(${i.seg}, l); }`;
    // The access before (in this block, nothing in between that moves its registers or `p`) was to
    // the same address and size and took its fast path: `p` is the host address already.
    this.emit(this.sameAccess(i, ea, size, false) ? `if (p >= 0) ${read} else { ${full} }` : full);
    this.remember(i, ea, size, false);
  }

  /**
   * The last memory access of the block whose fast path leaves its host address in `p` (its slow
   * path sets `p` to -1): address expression, size, segment, whether it checked write permission, and
   * where its code ended. Forgotten at every block start, every instruction run through `exec`
   * and every other access (they reuse `p`).
   */
  private memo: { ea: string; size: number; seg: number; write: boolean; at: number } | undefined;
  remember(i: Insn, ea: string, size: number, write: boolean): void {
    this.memo = (this.flat & (1 << i.seg)) !== 0 ? { ea, size, seg: i.seg, write, at: this.out.length } : undefined;
  }
  forget(): void { this.memo = undefined; }
  /**
   * Whether an access to `ea` now may reuse the remembered one's `p`: same address expression, size
   * and (flat) segment, the permission it needs already checked, and no register of the expression
   * written since (the generated code after the access is scanned for assignments to them).
   */
  sameAccess(i: Insn, ea: string, size: number, write: boolean): boolean {
    const m = this.memo;
    if (!m || m.ea !== ea || m.size !== size || m.seg !== i.seg || (write && !m.write)) return false;
    const regs = ea.match(/\br\d\b/g) ?? [];
    const since = this.out.slice(m.at).join('\n');
    return !since.includes(LOAD) && regs.every((r) => !new RegExp(`\\b${r} = `).test(since));
  }
  /**
   * `else if` the TLB has no entry for the page (t, l loaded): leave the region at this instruction,
   * its state exact as before it; the dispatcher runs it (the CPU walks and fills the TLB, or faults)
   * and comes back at the loop's head. Why not call the slow path inline: V8 optimises a loop whose
   * rare path leaves far better than one where a path with calls (and their type feedback from the
   * TLB's first fills) merges back into the loop (values spilled around it). A present entry that
   * refuses the fast path (code or a watch on the page, a write to a clean page, a page outside RAM,
   * an access across a boundary) still takes the inline slow path: those repeat, a miss does not.
   * Only with the segment flat (else `l` is an offset, not the linear address).
   */
  leaveOnMiss(seg: number): string {
    return (this.flat & (1 << seg)) !== 0 ? `else if (t === 0) ${this.exit(hex(this.eip), this.k, MISS_CASE)}` : '';
  }
  /** Stores `val` (an expression of locals) at seg:`ea`. */
  store(i: Insn, ea: string, size: number, val: string): void {
    const need = this.user ? TLB_FAST_USER_WRITE : TLB_FAST_SUP_WRITE;
    const put = size === 4 ? `dw[p >> 2] = ${val};` : size === 2 ? `by[p] = ${val}; by[p + 1] = (${val}) >> 8;` : `by[p] = ${val};`;
    const slow = `${this.sync()} cpu.write${size * 8}(${i.seg}, l, ${val}); if (cpu.breakBlock) ${this.exit(hex(this.next), this.k + 1)}`;
    this.emit(`${this.hostAddr(i, ea, size, need)} if (p >= 0) { ${put} } else { ${slow} }`);
    this.remember(i, ea, size, true);
  }

  /** Read-modify-write of a memory operand: `compute` turns local `v` into the new value `w` (undefined: no write). */
  rmw(i: Insn, size: number, compute: () => boolean): void {
    // Fast: the page is writable (so readable) with no code and no watch on it.
    const needW = this.user ? TLB_FAST_USER_WRITE : TLB_FAST_SUP_WRITE;
    const read = size === 4 ? 'dw[p >> 2]' : size === 2 ? '(by[p] | (by[p + 1] << 8))' : 'by[p]';
    const write = size === 4 ? 'dw[p >> 2] = w;' : size === 2 ? 'by[p] = w; by[p + 1] = w >> 8;' : 'by[p] = w;';
    const ea = this.ea(i);
    this.emit(`${this.hostAddr(i, ea, size, needW)} if (p >= 0) { v = ${read};`);
    const before = this.flags;
    const writes = compute();
    if (writes) this.emit(write);
    const after = this.flags;
    this.flags = before;
    this.emit(`} else { ${this.sync()} cpu.probeWrite(${i.seg}, l, ${size}); v = cpu.read${size * 8}(${i.seg}, l);`);
    compute();
    this.flags = after;
    if (writes) this.emit(`cpu.write${size * 8}(${i.seg}, l, w); if (cpu.breakBlock) ${this.exit(hex(this.next), this.k + 1)}`);
    this.emit('}');
    this.remember(i, ea, size, true);
  }

  // ---- ALU ----
  /** fa = a; fb = b; fr = a op b (ADC/SBB: fc = CF, the carry in); the record is known afterwards. */
  alu(aop: number, size: number, a: string, b: string): boolean {
    const o = aluOp(aop);
    if (!o) return false;
    const [cc, sym] = o;
    const m = SIZE_MASK_JS(size);
    if (cc === CC_ADC || cc === CC_SBB) this.emit(`fc = ${this.carry(true)}; fa = ${a}; fb = ${b}; fr = (fa ${sym} fb ${sym} fc)${m};`);
    else this.emit(cc === CC_LOGIC ? `fr = (${a}) ${sym} (${b});` : `fa = ${a}; fb = ${b}; fr = (fa ${sym} fb)${m};`);
    this.flags = { op: cc, size: RECORD_SIZE(size) };
    return true;
  }

  /** Inline code for one instruction; false: run it through its exec. */
  inst(i: Insn): boolean {
    if (i.exec !== i.semantics || i.rep !== 0 || i.lock || i.addr16) return false;
    const op = i.opcode, size = i.size, reg = i.reg, rm = i.rm;
    // Operand sizes 4, 2 (0x66: the low word of a register, `& 0xffff` values) and 1.
    const R = (n: number) => (size === 4 ? `r${n}` : size === 2 ? `(r${n} & 0xffff)` : this.get8(n));
    const W = (n: number, v: string) => (size === 4 ? `r${n} = ${v};` : size === 2 ? `r${n} = (r${n} & ~0xffff) | ((${v}) & 0xffff);` : this.set8(n, v));
    const imm = size === 4 ? String(i.imm | 0) : size === 2 ? String(i.imm & 0xffff) : String(i.imm & 0xff);
    // ALU 00–3F.
    if (op < 0x40 && (op & 7) < 6) {
      const aop = op >> 3, form = op & 7;
      if (!aluOp(aop)) return false;
      const writes = aop !== 7;
      if (form >= 4) { this.alu(aop, size, R(0), imm); if (writes) this.emit(W(0, 'fr')); return true; }
      if (rm >= 0) {
        const [d, s] = form < 2 ? [rm, reg] : [reg, rm];
        this.alu(aop, size, R(d), R(s));
        if (writes) this.emit(W(d, 'fr'));
        return true;
      }
      if (form >= 2) { this.load(i, this.ea(i), size, 'v'); this.alu(aop, size, R(reg), 'v'); if (writes) this.emit(W(reg, 'fr')); return true; }
      if (!writes) { this.load(i, this.ea(i), size, 'v'); this.alu(aop, size, 'v', R(reg)); return true; }
      this.rmw(i, size, () => { this.alu(aop, size, 'v', R(reg)); this.emit('w = fr;'); return true; });
      return true;
    }
    if (op === 0x80 || op === 0x81 || op === 0x83 || op === 0x82) {
      if (!aluOp(reg)) return false;
      if (rm >= 0) { this.alu(reg, size, R(rm), imm); if (reg !== 7) this.emit(W(rm, 'fr')); return true; }
      if (reg === 7) { this.load(i, this.ea(i), size, 'v'); this.alu(7, size, 'v', imm); return true; }
      this.rmw(i, size, () => { this.alu(reg, size, 'v', imm); this.emit('w = fr;'); return true; });
      return true;
    }
    switch (op) {
      case 0x84: case 0x85:
        if (rm >= 0) { this.alu(4, size, R(rm), R(reg)); return true; }
        this.load(i, this.ea(i), size, 'v'); this.alu(4, size, 'v', R(reg)); return true;
      case 0xa8: case 0xa9: this.alu(4, size, R(0), imm); return true;
      case 0xf6: case 0xf7:
        if (reg === 0 || reg === 1) {
          if (rm >= 0) { this.alu(4, size, R(rm), imm); return true; }
          this.load(i, this.ea(i), size, 'v'); this.alu(4, size, 'v', imm); return true;
        }
        if (reg === 2) { // NOT: no flags
          if (rm >= 0) { this.emit(W(rm, `~${R(rm)}`)); return true; }
          this.rmw(i, size, () => { this.emit('w = ~v;'); return true; });
          return true;
        }
        if (reg === 3 && rm >= 0) { // NEG: SUB record 0 - x
          this.emit(`fa = 0; fb = ${R(rm)}; fr = (0 - fb)${SIZE_MASK_JS(size)};`); this.emit(W(rm, 'fr'));
          this.flags = { op: CC_SUB, size: RECORD_SIZE(size) };
          return true;
        }
        return false;
      case 0x88: case 0x89:
        if (rm >= 0) { this.emit(W(rm, R(reg))); return true; }
        this.store(i, this.ea(i), size, R(reg)); return true;
      case 0x8a: case 0x8b:
        if (rm >= 0) { this.emit(W(reg, R(rm))); return true; }
        this.load(i, this.ea(i), size, 'v'); this.emit(W(reg, 'v')); return true;
      case 0xa0: case 0xa1: this.load(i, this.ea(i), size, 'v'); this.emit(W(0, 'v')); return true; // MOV AL/EAX, moffs (the offset in disp)
      case 0xa2: case 0xa3: this.store(i, this.ea(i), size, R(0)); return true;
      case 0xc6: case 0xc7:
        if (rm >= 0) { this.emit(W(rm, imm)); return true; }
        this.store(i, this.ea(i), size, imm); return true;
      case 0x8d: if (rm >= 0 || size !== 4) return false; this.emit(`r${reg} = ${this.ea(i)};`); return true;
      case 0x90: return true;
      case 0x99: if (size !== 4) return false; this.emit('r2 = r0 >> 31;'); return true;
      case 0x1b6: case 0x1be: case 0x1b7: case 0x1bf: {
        if (size !== 4) return false;
        const word = i.imm === 2, signed = (op & 8) !== 0;
        let src: string;
        if (rm < 0) { this.load(i, this.ea(i), word ? 2 : 1, 'v'); src = 'v'; } else src = word ? `(r${rm} & 0xffff)` : this.get8(rm);
        this.emit(`r${reg} = ${signed ? (word ? `((${src} << 16) >> 16)` : `((${src} << 24) >> 24)`) : src};`);
        return true;
      }
      case 0x1af: case 0x69: case 0x6b: {
        if (size !== 4) return false;
        const [a, b] = op === 0x1af ? [`r${reg}`, 'v'] : ['v', String(i.imm | 0)];
        if (rm < 0) this.load(i, this.ea(i), 4, 'v'); else this.emit(`v = r${rm};`);
        if (this.flagsDeadAfter) this.emit(`r${reg} = Math.imul(${a}, ${b});`);
        else { this.toCpu(); this.emit(`r${reg} = imul2(cpu, 2, ${a}, ${b});`); }
        return true;
      }
      case 0xc1: case 0xd1: {
        if (size !== 4 || rm < 0) return false;
        const count = op === 0xd1 ? 1 : i.imm & 31;
        if (count === 0) return false;
        const kind = reg === 4 || reg === 6 ? [CC_SHL32, '<<'] as const : reg === 5 ? [CC_SHR32, '>>>'] as const : reg === 7 ? [CC_SAR32, '>>'] as const : undefined;
        if (!kind) { this.toCpu(); this.emit(`r${rm} = shift(cpu, ${reg}, 2, r${rm}, ${count});`); return true; }
        this.emit(`fa = r${rm}; fb = ${count}; fr = (fa ${kind[1]} ${count}) | 0; r${rm} = fr;`);
        this.flags = { op: kind[0], size: 2, b: count };
        return true;
      }
      case 0xfe: case 0xff:
        if (reg > 1) return false;
        if (rm >= 0) { this.incDec(reg === 1, size, R(rm), (v) => W(rm, v)); return true; }
        this.rmw(i, size, () => { this.incDec(reg === 1, size, 'v', (v) => `w = ${v};`); return true; });
        return true;
    }
    if (op >= 0x40 && op < 0x50) { this.incDec(op >= 0x48, size, R(reg), (v) => W(reg, v)); return true; }
    if (op >= 0xb0 && op < 0xc0) { this.emit(W(reg, imm)); return true; }
    if (size === 4 && op >= 0x50 && op < 0x58) { this.push(`r${reg}`); return true; }
    if (size === 4 && (op === 0x68 || op === 0x6a)) { this.push(String(i.imm | 0)); return true; }
    if (size === 4 && op >= 0x58 && op < 0x60) {
      const need = this.user ? TLB_USER_READ : TLB_VALID;
      // POP ESP loads ESP from the old top of the stack.
      this.emit(`l = r4; t = tlb[l >>> 12]; if (${this.flatTest(2)} && (t & ${need}) !== 0 && (l & 3) === 0) { v = dw[((t & -4096) | (l & 4095)) >> 2]; r4 = (l + 4) | 0; } ${this.leaveOnMiss(2)} else { ${this.sync()} v = cpu.pop32(); r4 = r[4]; } r${reg} = v;`);
      return true;
    }
    return false;
  }

  incDec(dec: boolean, size: number, a: string, write: (v: string) => string): void {
    const c = this.carry();
    this.emit(`fc = ${c}; fa = ${a}; fb = 1; fr = (fa ${dec ? '-' : '+'} 1)${SIZE_MASK_JS(size)}; ${write('fr')}`);
    this.flags = { op: dec ? CC_DEC : CC_INC, size: RECORD_SIZE(size) };
  }

  /** PUSH of `val`; a write that hit code leaves with EIP `after` (CALL: its target). */
  push(val: string, after = this.next): void {
    const need = this.user ? TLB_FAST_USER_WRITE : TLB_FAST_SUP_WRITE;
    // SS flat and 32-bit; the value is computed before ESP changes (PUSH ESP).
    this.emit(`v = ${val}; l = (r4 - 4) | 0; t = tlb[l >>> 12]; if (${this.flatTest(2)} && (t & ${need}) !== 0 && (l & 3) === 0) { dw[((t & -4096) | (l & 4095)) >> 2] = v; r4 = l; } ` +
      `${this.leaveOnMiss(2)} else { ${this.sync()} cpu.push32(v); r4 = r[4]; if (cpu.breakBlock) ${this.exit(hex(after), this.k + 1)} }`);
  }

  /** Blocks that may be copied into a jump to them (emitBody), by index. */
  readonly inlinable = new Map<number, boolean>();
  /** True when the next instruction of the block overwrites every flag before anything can read them. */
  flagsDeadAfter = false;
  /** True when the flags after this instruction are overwritten before anything can read them (so INC/DEC's kept CF is dead). */
  cfDeadAfter = false;
}

/**
 * Placeholders for storing the register locals to `cpu.regs` and loading them back: replaced at the
 * end by the registers the region uses (the others stay in `cpu.regs` and cost no local; fewer live
 * values in a hot loop mean fewer spills).
 */
const STORE = '@STORE@', LOAD = '@LOAD@';
/** Placeholder for forgetting every access site's page (Gen.hostAddr), replaced once the sites are known. */
const RESET = '@RESET@';
/** The switch case every exit goes through (Gen.exit); a TLB miss's exit counts itself first. */
const EXIT_CASE = -1, MISS_CASE = -3;

/** Writes every flag, reads none, cannot fault (a register-only ALU op other than ADC/SBB, INC/DEC excluded). */
function overwritesFlagsSafely(i: Insn | undefined): boolean {
  if (!i || i.exec !== i.semantics || i.size !== 4) return false;
  const op = i.opcode;
  if (op < 0x40 && (op & 7) < 6) { const aop = op >> 3; return aop !== 2 && aop !== 3 && (i.rm >= 0 || (op & 7) >= 4); }
  if (op === 0x81 || op === 0x83) return i.rm >= 0 && i.reg !== 2 && i.reg !== 3;
  return false;
}

/** Neither reads nor writes flags and cannot fault: register moves, LEA, MOV reg, imm. */
function flagNeutral(i: Insn): boolean {
  if (i.exec !== i.semantics || i.size !== 4 || i.rm < 0 && (i.opcode === 0x89 || i.opcode === 0x8b)) return false;
  const op = i.opcode;
  return op === 0x89 || op === 0x8b || op === 0x8d || (op >= 0xb8 && op < 0xc0) || op === 0x90;
}
/** The flags are overwritten from instruction `from` on before anything (a fault included) can see them. */
function flagsDeadLater(insns: Insn[], from: number): boolean {
  for (let j = from; j < insns.length && j < from + 4; j++) {
    if (overwritesFlagsSafely(insns[j])) return true;
    if (!flagNeutral(insns[j])) return false;
  }
  return false;
}

/** Where a generator is in a block (Gen, and the WebAssembly back end's). */
export interface InsnPosition { eip: number; k: number; next: number; flagsDeadAfter: boolean; cfDeadAfter: boolean }
/** Moves generator `g` (its `eip` that of the instruction) to instruction `k` of `insns`: its index, next EIP and which flags the next ones overwrite. */
export function atInstruction(g: InsnPosition, insns: Insn[], k: number): Insn {
  const i = insns[k];
  g.k = k;
  g.next = (g.eip + i.len) >>> 0;
  g.flagsDeadAfter = overwritesFlagsSafely(insns[k + 1]);
  g.cfDeadAfter = flagsDeadLater(insns, k + 1);
  return i;
}

/** Counts of a generation pass: instructions inlined and in all. */
interface Tally { inlined: number; total: number }

/**
 * Emits block `n` as switch case `caseId`, starting with the flag state `entry`. `edge(t, flags)` is
 * told of every in-region jump to block t with the state it carries and returns the code that
 * moves the record along it; `caseOf(t)` is the case a jump to block t goes to.
 */
function emitBlock(g: Gen, n: number, caseId: number, entry: FlagState, insnList: Insn[], tally: Tally,
  edge: (t: number, flags: FlagState) => string, caseOf: (t: number) => number): void {
  g.flags = entry;
  g.emit(`case ${caseId}: for (;;) {`);
  emitBody(g, n, caseId, insnList, tally, edge, caseOf, 0);
  g.emit('}');
}

/** Blocks of at most this many instructions are copied into a jump to them (once: not into a copy). */
const INLINE_MAX_INSNS = 8;

/**
 * Whether block `t` may be copied into a jump to it: small, and every instruction compiled inline
 * (a call through `exec` in the copy would sit inside the jumping block's loop, and V8 optimises a
 * hot loop with a call on one of its paths much worse: the ALU loop ran at a third of its speed with
 * its exit block, an OUT, copied into it).
 */
function inlinable(g: Gen, t: number): boolean {
  let ok = g.inlinable.get(t);
  if (ok === undefined) {
    const insns = g.blocks[t].insns;
    const scratch = new Gen(g.blocks, g.index, g.user, g.flat);
    ok = insns.length <= INLINE_MAX_INSNS && insns.every((i, k) => (k === insns.length - 1 && isInlineBranch(i)) || scratch.inst(i));
    g.inlinable.set(t, ok);
  }
  return ok;
}

/** A direct branch the region compiles inline (Jcc, JMP, CALL rel). */
export function isInlineBranch(i: Insn): boolean {
  const op = i.opcode;
  return i.size === 4 && !i.addr16 && i.exec === i.semantics && ((op >= 0x70 && op < 0x80) || (op >= 0x180 && op < 0x190) || op === 0xe9 || op === 0xeb || op === 0xe8);
}

/**
 * Block `n`'s code inside case `caseId`: every path ends in a jump or an exit. A jump to a small
 * block other than the region's entry copies that block in place (`depth` 1: `ic` already counts
 * the block that jumped), so a loop of a few blocks (a test, a skipped increment, the back edge)
 * runs as one `for` with `if`s instead of going through the switch at every block; the copy starts
 * with the exact flag state of the jump, and its own jumps go to cases as usual.
 */
function emitBody(g: Gen, n: number, caseId: number, insnList: Insn[], tally: Tally,
  edge: (t: number, flags: FlagState) => string, caseOf: (t: number) => number, depth: number): void {
  const b = g.blocks[n];
  const count = b.insns.length;
  g.eip = b.eip >>> 0;
  g.k = 0;
  g.forget();
  g.emit(`if (ic + ${count} > end) ${g.exit(hex(b.eip), 0)}`);
  const jump = (to: number, retired: number): void => {
    const t = g.index.get(to);
    if (t === undefined) { g.emit(g.exit(hex(to), retired)); return; }
    if (depth === 0 && t !== 0 && caseOf(t) !== caseId && inlinable(g, t)) {
      const { eip, k, next, flags, flagsDeadAfter, cfDeadAfter } = g;
      g.emit(`{ ic += ${count};`);
      emitBody(g, t, caseId, insnList, tally, edge, caseOf, depth + 1);
      g.emit('}');
      Object.assign(g, { eip, k, next, flags, flagsDeadAfter, cfDeadAfter });
      g.forget();
      return;
    }
    const move = edge(t, g.flags);
    g.emit(caseOf(t) === caseId ? `{ ic += ${count}; ${move} continue; }` : `{ ic += ${count}; ${move} L = ${caseOf(t)}; continue dispatch; }`);
  };
  for (let k = 0; k < count; k++) {
    const i = atInstruction(g, b.insns, k);
    tally.total++;
    const op = i.opcode;
    if (isInlineBranch(i)) {
      tally.inlined++;
      const target = (g.next + i.imm) >>> 0;
      if (op === 0xe8) g.push(String(g.next | 0), target);
      if (op === 0xe8 || op === 0xe9 || op === 0xeb) jump(target, k + 1);
      else {
        const c = g.cond(op & 15);
        g.emit(`if (${c})`);
        jump(target, k + 1);
        jump(g.next, k + 1);
      }
      return;
    }
    const at = g.out.length, flagsBefore = g.flags;
    if (g.inst(i)) { tally.inlined++; g.eip = g.next; continue; }
    g.out.length = at;
    g.flags = flagsBefore;
    g.forget();
    // Through exec: the state is synchronised around it.
    insnList.push(i);
    const id = insnList.length - 1;
    g.emit(`${g.sync()} cpu.nextEip = ${hex(g.next)}; I[${id}].exec(cpu, I[${id}]); ${LOAD}`);
    if (g.flags === 'dyn') g.emit('fop = -1;');
    g.flags = 'cpu';
    if (i.endsBlock) { g.emit(g.exit('cpu.nextEip', k + 1)); return; }
    // The code assumes the segments flat as they were when it was compiled: leave when that changed.
    g.emit(`if (cpu.breakBlock || cpu.nextEip !== ${hex(g.next)} || cpu.flatSegs !== ${g.flat}) ${g.exit('cpu.nextEip', k + 1)}`);
    g.eip = g.next;
  }
  // Fell off the end (page end, 64-instruction limit): the next block.
  let eip = b.eip >>> 0;
  for (const i of b.insns) eip = (eip + i.len) >>> 0;
  g.k = count;
  jump(eip, count);
}

/** Most generation passes spent finding the blocks' entry flag states before settling for 'dyn'. */
const MAX_FLAG_PASSES = 8;

/**
 * The flag state at each block's start in the region: static when every jump inside the region to it
 * carries the same one (the region's own entry comes from outside with the record in `cpu` and is a
 * copy of block 0 of its own, so a loop's head keeps the state its back edge brings). A least fixed
 * point over the blocks reached; undefined: no jump inside the region reaches the block.
 */
function entryFlagStates(blocks: RegionBlock[], index: Map<number, number>, user: boolean, flat: number): (FlagState | undefined)[] | undefined {
  let entry: (FlagState | undefined)[] = blocks.map(() => undefined);
  for (let pass = 0; pass < MAX_FLAG_PASSES; pass++) {
    const g = new Gen(blocks, index, user, flat);
    const incoming: (FlagState | undefined)[] = blocks.map(() => undefined);
    const edge = (t: number, f: FlagState) => { const c = incoming[t]; incoming[t] = c === undefined || sameFlags(c, f) ? f : 'dyn'; return ''; };
    const tally = { inlined: 0, total: 0 };
    emitBlock(g, 0, -2, 'cpu', [], tally, edge, (t) => t);
    for (let n = 0; n < blocks.length; n++) { const e = entry[n]; if (e !== undefined) emitBlock(g, n, n, e, [], tally, edge, (t) => t); }
    if (incoming.every((f, n) => f === entry[n] || (f !== undefined && entry[n] !== undefined && sameFlags(f, entry[n]!)))) return entry;
    entry = incoming;
  }
  return undefined;
}

/**
 * A compiled region: `run` with `at`, the index of the block to start at (0: the block the region was
 * collected from). Any block `enterable` says may be an entry, so the region serves every block of
 * its loops the dispatcher arrives at (a slice that ended mid-loop, a region that left on a TLB
 * miss) instead of each getting a region of its own: V8 compiles one function, not one per entry.
 * A block whose code expects a static flag record runs from an outside entry only when the CPU's
 * record is of that kind (it is loaded into the locals); else `run` returns true having run nothing.
 */
export interface CompiledRegion { run: RegionCode; enterable: boolean[] }
export type RegionCode = (cpu: Cpu, insns: Insn[], r: Int32Array, end: number, at: number) => boolean;

/**
 * JS that returns from the region without running anything unless the CPU's flag record is the kind
 * static state `f` expects, and then loads it into the locals (its fields as the CPU holds them).
 */
function enterWithFlags(f: FlagState): string {
  if (typeof f !== 'object') return '';
  const kind = `cpu.ccOp !== ${f.op} || cpu.ccSize !== ${f.size}${f.b === undefined ? '' : ` || cpu.ccB !== ${f.b}`}`;
  return `if (${kind}) return true; fa = cpu.ccA; fb = cpu.ccB; fr = cpu.ccRes; fc = cpu.ccCin;`;
}

/** Generates the region function (undefined when not worth it: nothing inlined). */
export function compileRegion(blocks: RegionBlock[], user: boolean, flat: number): CompiledRegion | undefined {
  const index = new Map<number, number>();
  blocks.forEach((b, n) => index.set(b.eip >>> 0, n));
  const g = new Gen(blocks, index, user, flat);
  const insnList: Insn[] = [];
  const tally = { inlined: 0, total: 0 };
  const entry = entryFlagStates(blocks, index, user, flat);
  // Without settled states every block starts 'dyn' (fop says), the region's entry included.
  const stateOf = (n: number): FlagState => (entry ? entry[n] ?? 'cpu' : 'dyn');
  // A block whose start state is static needs nothing moved along a jump to it; a 'dyn' one needs fop.
  const edge = (t: number) => (stateOf(t) === 'dyn' ? g.edgeFlags() : '');
  // The region's entry: block 0 itself when it starts with the record in cpu, else a copy of it.
  const e0 = entry?.[0];
  const entryCase = typeof e0 === 'object' ? blocks.length : 0;
  if (entryCase) emitBlock(g, 0, entryCase, 'cpu', insnList, tally, edge, (t) => t);
  const enterable = blocks.map(() => false);
  const entries: string[] = [];
  for (let n = 0; n < blocks.length; n++) {
    if (entry && n > 0 && entry[n] === undefined) continue; // no jump reaches it
    emitBlock(g, n, n, stateOf(n), insnList, tally, edge, (t) => t);
    enterable[n] = true;
    if (n > 0) entries.push(`case ${n}: ${enterWithFlags(stateOf(n))} L = ${n}; break;`);
  }
  const { inlined, total } = tally;
  if (inlined === 0 || inlined * 2 < total) return undefined;
  const code = g.out.join('\n');
  const used: number[] = [];
  for (let n = 0; n < 8; n++) if (new RegExp(`\\br${n}\\b`).test(code)) used.push(n);
  const store = used.map((n) => `r[${n}] = r${n};`).join(' '), load = used.map((n) => `r${n} = r[${n}];`).join(' ');
  const body = [
    `let ic = cpu.icount, L = ${entryCase}, fop = -1, fsz = 0, fa = 0, fb = 0, fr = 0, fc = 0, l = 0, t = 0, p = 0, v = 0, w = 0, xe = 0;`,
    // Compiled for these flat segments (the memory fast path needs no segment check): else not run.
    `if (cpu.flatSegs !== ${flat}) return false;`,
    // Entered at another block than the first (see CompiledRegion).
    `if (at !== 0) switch (at) { ${entries.join(' ')} default: return true; }`,
    used.length ? `let ${used.map((n) => `r${n} = r[${n}]`).join(', ')};` : '',
    'const tlb = cpu.tlb, dw = cpu.mem.dwords, by = cpu.mem.bytes;',
    g.sites ? `let ${Array.from({ length: g.sites }, (_, k) => `g${k} = -1, h${k} = 0`).join(', ')};` : '',
    'dispatch: for (;;) switch (L) {', code.replaceAll(STORE, store).replaceAll(LOAD, load).replaceAll(RESET, Array.from({ length: g.sites }, (_, k) => `g${k} = -1;`).join(' ')),
    // Every way out: EIP xe, the count in ic, the flag record as fop says.
    `case ${MISS_CASE}: cpu.stats.regionMissExits++;`,
    `case ${EXIT_CASE}: cpu.eip = xe; cpu.icount = ic; ${store} if (fop >= 0) { cpu.ccOp = fop; cpu.ccSize = fsz; cpu.ccA = fa; cpu.ccB = fb; cpu.ccRes = fr; cpu.ccCin = fc; } return true;`,
    'default: throw new Error("region: no block " + L);', '}',
  ].join('\n');
  // Named by its entry EIP, so a CPU profile tells the regions apart.
  const source = `return function region_${(blocks[0].eip >>> 0).toString(16)}(cpu, _insns, r, end, at) {\n${body}\n};`;
  let make = makers.get(source);
  if (!make) {
    make = new Function('shift', 'imul2', 'I', source) as Maker;
    if (makers.size >= 5000) makers.delete(makers.keys().next().value!);
    makers.set(source, make);
  }
  return { run: make(shift, imul2, insnList), enterable };
}

type Maker = (s: typeof shift, m: typeof imul2, I: Insn[]) => RegionCode;
/** Region function makers by source text (the same region in another machine reuses V8's code). */
const makers = new Map<string, Maker>();
