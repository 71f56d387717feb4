/*
 * Compiles a hot decoded block into one JavaScript function (a small JIT), so the common 32-bit
 * register, load/store and branch forms run without a call per instruction. Every other
 * instruction, and any instruction a monitor wraps, is called through its `exec` exactly as the
 * interpreter does, so the semantics stay in one place (ops/*); the generated code only inlines
 * forms whose meaning is a line of arithmetic.
 *
 * Contract with Cpu.runBlocks: the function runs the whole block (the caller checks the budget).
 * Before anything that can fault or look at the CPU state (memory accesses, calls) it stores EIP and
 * the instruction count of that instruction, so a fault is raised at the right place with the right
 * count. After a call that may set `breakBlock` (self-modifying code, mode changes) it returns at
 * once with EIP past that instruction. At the end EIP is the next instruction (or the branch target).
 */
import { CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SAR32, CC_SHL32, CC_SHR32, CC_SUB, type Cpu } from './cpu';
import type { Insn } from './insn';
import { shift, imul2 } from './ops/alu';

/** `end`: the instruction count the run must stop at (a block that loops onto itself checks it). */
export type CompiledBlock = (cpu: Cpu, insns: Insn[], r: Int32Array, end: number) => void;

/** Blocks run this often through the interpreter before they are compiled. */
export const COMPILE_THRESHOLD = 100;

const hex = (v: number) => '0x' + (v >>> 0).toString(16);

/** The effective-address expression of a memory operand (registers are `r[n]`). */
export function eaExpr(i: Insn): string {
  const parts: string[] = [String(i.disp | 0)];
  if (i.base >= 0) parts.push(`r[${i.base}]`);
  if (i.index >= 0) parts.push(i.scale ? `(r[${i.index}] << ${i.scale})` : `r[${i.index}]`);
  const sum = `(${parts.join(' + ')})`;
  return i.addr16 ? `(${sum} & 0xffff)` : `(${sum} | 0)`;
}

/** Lazy-flag record of a 32-bit result. */
function flags(op: number, a: string, b: string, res: string): string {
  return op === CC_LOGIC ? `cpu.ccOp = ${op}; cpu.ccSize = 2; cpu.ccRes = ${res};`
    : `cpu.ccOp = ${op}; cpu.ccSize = 2; cpu.ccA = ${a}; cpu.ccB = ${b}; cpu.ccRes = ${res};`;
}

/** The 32-bit result expression and flags of ALU op (ADD OR _ _ AND SUB XOR CMP) on a, b; undefined for ADC/SBB. */
function aluLines(op: number, dst: string | undefined, a: string, b: string): string | undefined {
  switch (op) {
    case 0: return `{ const a = ${a}, b = ${b}, x = (a + b) | 0; ${flags(CC_ADD, 'a', 'b', 'x')}${dst ? ` ${dst} = x;` : ''} }`;
    case 5: return `{ const a = ${a}, b = ${b}, x = (a - b) | 0; ${flags(CC_SUB, 'a', 'b', 'x')}${dst ? ` ${dst} = x;` : ''} }`;
    case 7: return `{ const a = ${a}, b = ${b}; ${flags(CC_SUB, 'a', 'b', '(a - b) | 0')} }`;
    case 1: return `{ const x = ${a} | ${b}; ${flags(CC_LOGIC, '', '', 'x')}${dst ? ` ${dst} = x;` : ''} }`;
    case 4: return `{ const x = ${a} & ${b}; ${flags(CC_LOGIC, '', '', 'x')}${dst ? ` ${dst} = x;` : ''} }`;
    case 6: return `{ const x = ${a} ^ ${b}; ${flags(CC_LOGIC, '', '', 'x')}${dst ? ` ${dst} = x;` : ''} }`;
    default: return undefined;
  }
}

/** The code of one inlined instruction (also the binary translator's, see core/vmm/bt/codegen.ts). */
export interface Emitted {
  code: string;
  /** For branches: the taken target and whether the branch is conditional (for self-loops). */
  target?: number;
  cc?: number;
  /** The code may fault or read CPU state: EIP and the count are stored before it. */
  sync: boolean;
  /** The code may set breakBlock (a memory write, a call): check after it. */
  check: boolean;
  /** It set cpu.eip itself (a branch); the block ends. */
  branch?: boolean;
}

/** Reads / writes of an 8-bit register (AL…BL are low bytes, AH…BH the second bytes of EAX…EBX). */
const get8 = (x: number) => (x < 4 ? `(r[${x}] & 0xff)` : `((r[${x - 4}] >> 8) & 0xff)`);
const set8 = (x: number, v: string) => (x < 4 ? `r[${x}] = (r[${x}] & ~0xff) | ((${v}) & 0xff);` : `r[${x - 4}] = (r[${x - 4}] & ~0xff00) | (((${v}) & 0xff) << 8);`);

/** Byte ALU (ADD SUB CMP AND OR XOR) with 8-bit lazy flags; `dst` writes the result. */
function alu8(op: number, a: string, b: string, dst: ((v: string) => string) | undefined): string | undefined {
  const f = (cc: number, res: string) => `cpu.ccOp = ${cc}; cpu.ccSize = 0; cpu.ccA = a; cpu.ccB = b; cpu.ccRes = ${res};`;
  switch (op) {
    case 0: return `{ const a = ${a}, b = ${b}, x = (a + b) & 0xff; ${f(CC_ADD, 'x')} ${dst ? dst('x') : ''} }`;
    case 5: return `{ const a = ${a}, b = ${b}, x = (a - b) & 0xff; ${f(CC_SUB, 'x')} ${dst ? dst('x') : ''} }`;
    case 7: return `{ const a = ${a}, b = ${b}; ${f(CC_SUB, '(a - b) & 0xff')} }`;
    case 1: case 4: case 6: {
      const o = op === 1 ? '|' : op === 4 ? '&' : '^';
      return `{ const x = (${a}) ${o} (${b}); cpu.ccOp = ${CC_LOGIC}; cpu.ccSize = 0; cpu.ccRes = x; ${dst ? dst('x') : ''} }`;
    }
    default: return undefined;
  }
}

/** Byte forms: ALU on registers and memory, MOV, MOVZX/MOVSX from memory. */
function inline8(i: Insn): Emitted | undefined {
  const op = i.opcode, reg = i.reg, rm = i.rm;
  const mem = rm < 0 ? `${i.seg}, ${eaExpr(i)}` : '';
  if (op < 0x40 && (op & 7) < 6 && !(op & 1) && (op & 7) !== 4) {
    const aop = op >> 3, form = op & 7;
    if (rm < 0) {
      if (form === 2) { const c = alu8(aop, get8(reg), `cpu.read8(${mem})`, (v) => set8(reg, v)); return c ? { code: c, sync: true, check: false } : undefined; }
      if (aop === 7) return { code: alu8(7, `cpu.read8(${mem})`, get8(reg), undefined)!, sync: true, check: false };
      return undefined;
    }
    const [d, src] = form === 0 ? [rm, reg] : [reg, rm];
    const c = alu8(aop, get8(d), get8(src), (v) => set8(d, v));
    return c ? { code: c, sync: false, check: false } : undefined;
  }
  if (op === 0x3c || op === 0x24 || op === 0x0c || op === 0x34 || op === 0x04 || op === 0x2c) {
    const c = alu8(op >> 3, get8(0), String(i.imm & 0xff), (v) => set8(0, v));
    return c ? { code: c, sync: false, check: false } : undefined;
  }
  if (op === 0x80 || op === 0x82) {
    if (rm >= 0) { const c = alu8(reg, get8(rm), String(i.imm & 0xff), (v) => set8(rm, v)); return c ? { code: c, sync: false, check: false } : undefined; }
    if (reg === 7) return { code: alu8(7, `cpu.read8(${mem})`, String(i.imm & 0xff), undefined)!, sync: true, check: false };
    return undefined;
  }
  switch (op) {
    case 0x84: return rm >= 0 ? { code: alu8(4, get8(rm), get8(reg), undefined)!, sync: false, check: false } : undefined;
    case 0xa8: return { code: alu8(4, get8(0), String(i.imm & 0xff), undefined)!, sync: false, check: false };
    case 0x88: return rm >= 0 ? { code: set8(rm, get8(reg)), sync: false, check: false } : { code: `cpu.write8(${mem}, ${get8(reg)});`, sync: true, check: true };
    case 0x8a: return rm >= 0 ? { code: set8(reg, get8(rm)), sync: false, check: false } : { code: set8(reg, `cpu.read8(${mem})`), sync: true, check: false };
    case 0xc6: return rm >= 0 ? { code: set8(rm, String(i.imm & 0xff)), sync: false, check: false } : { code: `cpu.write8(${mem}, ${i.imm & 0xff});`, sync: true, check: true };
  }
  if (op >= 0xb0 && op < 0xb8) return { code: set8(reg, String(i.imm & 0xff)), sync: false, check: false };
  return undefined;
}

/**
 * Inline code for `i`, or undefined when it must go through its exec. `carry`: a JS expression for
 * CF before `i` (INC/DEC keep it), when the caller knows a cheaper one than `cpu.getCF()`.
 */
export function inline(i: Insn, next: number, carry = 'cpu.getCF()'): Emitted | undefined {
  if (i.exec !== i.semantics || i.rep !== 0 || i.lock) return undefined;
  const op = i.opcode, size = i.size;
  const reg = i.reg, rm = i.rm;
  if (size === 1) return inline8(i);
  if (size === 4) {
    // ALU block 00–3F, 32-bit forms.
    if (op < 0x40 && (op & 7) < 6 && (op & 1)) {
      const aop = op >> 3, form = op & 7;
      if (form === 1 && rm >= 0) { const c = aluLines(aop, aop === 7 ? undefined : `r[${rm}]`, `r[${rm}]`, `r[${reg}]`); if (c) return { code: c, sync: false, check: false }; }
      if (form === 3 && rm >= 0) { const c = aluLines(aop, aop === 7 ? undefined : `r[${reg}]`, `r[${reg}]`, `r[${rm}]`); if (c) return { code: c, sync: false, check: false }; }
      if (form === 3 && rm < 0) { const c = aluLines(aop, aop === 7 ? undefined : `r[${reg}]`, `r[${reg}]`, `cpu.read32(${i.seg}, ${eaExpr(i)})`); if (c) return { code: c, sync: true, check: false }; }
      if (form === 5) { const c = aluLines(aop, aop === 7 ? undefined : 'r[0]', 'r[0]', String(i.imm | 0)); if (c) return { code: c, sync: false, check: false }; }
      return undefined;
    }
    if ((op === 0x81 || op === 0x83) && rm >= 0) {
      const c = aluLines(reg, reg === 7 ? undefined : `r[${rm}]`, `r[${rm}]`, String(i.imm | 0));
      return c ? { code: c, sync: false, check: false } : undefined;
    }
    if ((op === 0x81 || op === 0x83) && rm < 0 && reg === 7) {
      return { code: aluLines(7, undefined, `cpu.read32(${i.seg}, ${eaExpr(i)})`, String(i.imm | 0))!, sync: true, check: false };
    }
    switch (op) {
      case 0x89: return rm >= 0 ? { code: `r[${rm}] = r[${reg}];`, sync: false, check: false } : { code: `cpu.write32(${i.seg}, ${eaExpr(i)}, r[${reg}]);`, sync: true, check: true };
      case 0x8b: return rm >= 0 ? { code: `r[${reg}] = r[${rm}];`, sync: false, check: false } : { code: `r[${reg}] = cpu.read32(${i.seg}, ${eaExpr(i)});`, sync: true, check: false };
      case 0xc7: return rm >= 0 ? { code: `r[${rm}] = ${i.imm | 0};`, sync: false, check: false } : { code: `cpu.write32(${i.seg}, ${eaExpr(i)}, ${i.imm | 0});`, sync: true, check: true };
      case 0x8d: return rm < 0 ? { code: `r[${reg}] = ${eaExpr(i)};`, sync: false, check: false } : undefined;
      case 0x85: return rm >= 0 ? { code: aluLines(4, undefined, `r[${rm}]`, `r[${reg}]`)!, sync: false, check: false } : undefined;
      case 0xa9: return { code: aluLines(4, undefined, 'r[0]', String(i.imm | 0))!, sync: false, check: false };
      case 0xf7: return rm >= 0 && reg === 2 ? { code: `r[${rm}] = ~r[${rm}];`, sync: false, check: false } : rm >= 0 && reg === 0 ? { code: aluLines(4, undefined, `r[${rm}]`, String(i.imm | 0))!, sync: false, check: false } : undefined;
      case 0x90: return { code: '', sync: false, check: false };
      case 0x1af: return rm >= 0 ? { code: `r[${reg}] = imul2(cpu, 2, r[${reg}], r[${rm}]);`, sync: false, check: false } : undefined;
      case 0x69: case 0x6b: return rm >= 0 ? { code: `r[${reg}] = imul2(cpu, 2, r[${rm}], ${i.imm | 0});`, sync: false, check: false } : undefined;
      case 0xc1: case 0xd1: {
        const count = op === 0xd1 ? 1 : i.imm & 31;
        if (rm < 0 || count === 0) return undefined;
        // SHL/SAL, SHR, SAR with their own lazy flag records; rotates through the shared helper.
        const lazyShift = reg === 4 || reg === 6 ? [CC_SHL32, '<<'] : reg === 5 ? [CC_SHR32, '>>>'] : reg === 7 ? [CC_SAR32, '>>'] : undefined;
        if (lazyShift) {
          return { code: `{ const a = r[${rm}], x = (a ${lazyShift[1]} ${count}) | 0; cpu.ccOp = ${lazyShift[0]}; cpu.ccSize = 2; cpu.ccA = a; cpu.ccB = ${count}; cpu.ccRes = x; r[${rm}] = x; }`, sync: false, check: false };
        }
        return { code: `r[${rm}] = shift(cpu, ${reg}, 2, r[${rm}], ${count});`, sync: false, check: false };
      }
      case 0x1b6: case 0x1be: case 0x1b7: case 0x1bf: {
        if (rm < 0) {
          const load = `cpu.read${i.imm === 2 ? 16 : 8}(${i.seg}, ${eaExpr(i)})`;
          const val = op & 8 ? (i.imm === 2 ? `((${load} << 16) >> 16)` : `((${load} << 24) >> 24)`) : load;
          return { code: `r[${reg}] = ${val};`, sync: true, check: false };
        }
        const src = i.imm === 2 ? `(r[${rm}] & 0xffff)` : rm < 4 ? `(r[${rm}] & 0xff)` : `((r[${rm - 4}] >> 8) & 0xff)`;
        const val = op & 8 ? (i.imm === 2 ? `((${src} << 16) >> 16)` : `((${src} << 24) >> 24)`) : src;
        return { code: `r[${reg}] = ${val};`, sync: false, check: false };
      }
      case 0xe8: return { code: `cpu.push32(${next | 0}); cpu.eip = ${hex((next + i.imm) >>> 0)};`, sync: true, check: false, branch: true };
      case 0xe9: case 0xeb: return { code: `cpu.eip = ${hex((next + i.imm) >>> 0)};`, sync: false, check: false, branch: true, target: (next + i.imm) >>> 0 };
    }
    if (op >= 0x40 && op < 0x48) return { code: `{ const a = r[${reg}], x = (a + 1) | 0; cpu.ccCin = ${carry}; ${flags(CC_INC, 'a', '1', 'x')} r[${reg}] = x; }`, sync: false, check: false };
    if (op >= 0x48 && op < 0x50) return { code: `{ const a = r[${reg}], x = (a - 1) | 0; cpu.ccCin = ${carry}; ${flags(CC_DEC, 'a', '1', 'x')} r[${reg}] = x; }`, sync: false, check: false };
    if (op >= 0x50 && op < 0x58) return { code: `cpu.push32(r[${reg}]);`, sync: true, check: true };
    if (op >= 0x58 && op < 0x60) return { code: `{ const v = cpu.pop32(); r[${reg}] = v; }`, sync: true, check: false };
    if (op >= 0xb8 && op < 0xc0) return { code: `r[${reg}] = ${i.imm | 0};`, sync: false, check: false };
    if ((op >= 0x70 && op < 0x80) || (op >= 0x180 && op < 0x190)) {
      return { code: `cpu.eip = cpu.cond(${op & 15}) ? ${hex((next + i.imm) >>> 0)} : ${hex(next)};`, sync: false, check: false, branch: true, target: (next + i.imm) >>> 0, cc: op & 15 };
    }
  }
  return undefined;
}

/**
 * The lazy-flag record the code of `e` leaves: `{ op, size }` (cpu.ccOp / cpu.ccSize, the operands
 * in cpu.ccA / ccB / ccRes), null when it changes the flags some other way (a helper call), undefined
 * when it leaves them alone.
 */
export function writtenFlags(e: Emitted): { op: number; size: number } | null | undefined {
  if (/\b(shift|imul2)\(/.test(e.code)) return null;
  const m = [...e.code.matchAll(/cpu\.ccOp = (\d+); cpu\.ccSize = (\d);/g)];
  if (m.length === 0) return undefined;
  return m.length === 1 ? { op: Number(m[0][1]), size: Number(m[0][2]) } : null;
}

/** Generates the block function (undefined when the block has nothing worth compiling). */
export function compileBlock(insns: Insn[], startEip: number): CompiledBlock | undefined {
  const lines: string[] = [];
  let inlined = 0;
  let eip = startEip >>> 0;
  const n = insns.length;
  for (let k = 0; k < n; k++) {
    const i = insns[k];
    const next = (eip + i.len) >>> 0;
    const e = i.addr16 || (i.size !== 4 && i.opcode >= 0x70 && i.opcode < 0x80) ? undefined : inline(i, next);
    const sync = `cpu.eip = ${hex(eip)}; cpu.icount = ic + ${k};`;
    if (e) {
      inlined++;
      if (e.sync) lines.push(sync);
      lines.push(e.code);
      if (e.branch && e.target === (startEip >>> 0) && k === n - 1) {
        // A loop onto itself: iterate inside the function while the budget allows.
        lines.pop();
        const again = `ic += ${n}; if (ic + ${n} > end) { cpu.eip = ${hex(startEip)}; cpu.icount = ic; return; } continue;`;
        if (e.cc === undefined) lines.push(again);
        else lines.push(`if (cpu.cond(${e.cc})) { ${again} }`, `cpu.eip = ${hex(next)}; cpu.icount = ic + ${n}; return;`);
        return finish(lines, inlined, n, true);
      }
      if (e.branch) { lines.push(`cpu.icount = ic + ${k + 1};`, 'return;'); return finish(lines, inlined, n); }
      if (e.check) lines.push(`if (cpu.breakBlock) { cpu.eip = ${hex(next)}; cpu.icount = ic + ${k + 1}; return; }`);
    } else {
      lines.push(sync, `cpu.nextEip = ${hex(next)};`, `I[${k}].exec(cpu, I[${k}]);`, 'cpu.eip = cpu.nextEip;',
        `if (cpu.breakBlock) { cpu.icount = ic + ${k + 1}; return; }`);
      if (i.endsBlock) { lines.push(`cpu.icount = ic + ${k + 1};`, 'return;'); return finish(lines, inlined, n); }
    }
    eip = next;
  }
  lines.push(`cpu.eip = ${hex(eip)};`, `cpu.icount = ic + ${n};`);
  return finish(lines, inlined, n);
}

/**
 * Compiled functions by source text: the same block in another machine (a snapshot restored, the
 * next test, a twin run) reuses the function V8 has already optimised.
 */
const cache = new Map<string, CompiledBlock>();
const CACHE_LIMIT = 20_000;

function finish(lines: string[], inlined: number, n: number, loops = false): CompiledBlock | undefined {
  if (inlined === 0 || (n > 1 && inlined * 2 < n)) return undefined;
  const body = loops ? `let ic = cpu.icount;\nfor (;;) {\n${lines.join('\n')}\n}` : `const ic = cpu.icount;\n${lines.join('\n')}`;
  let fn = cache.get(body);
  if (!fn) {
    const make = new Function('shift', 'imul2', `return function block(cpu, I, r, end) {\n${body}\n};`) as (s: typeof shift, m: typeof imul2) => CompiledBlock;
    fn = make(shift, imul2);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(body, fn);
  }
  return fn;
}
