/*
 * The code generator of the binary translator: one guest basic block (decoded `Insn`s) → the source
 * of one JavaScript function, the "compiled code fragment" (CCF) of Adams & Agesen (ASPLOS 2006 §4):
 *
 *  - innocuous instructions are translated IDENT: their semantics with operands, immediates and
 *    addressing modes inlined (registers are `r[n]`, memory goes through the CPU's segmentation and
 *    paging as the hardware's would), lazy flags written only where a later instruction could see
 *    them (dead flags are not computed), conditions of Jcc/SETcc/CMOVcc computed straight from the
 *    operands of the flag-setting instruction when it is in the same block;
 *  - the innocuous rest runs through the decoded instruction's own semantics (`I[k].semantics`);
 *  - privileged, IOPL-sensitive and critical instructions become callouts into the VMM
 *    (`bt.callout(I[k])`), which works on the virtual CPU;
 *  - block exits with a known target are chained (`bt.chain`: the successor's CCF, patched into the
 *    block's link slot after the first lookup), indirect ones go through `bt.indirect` (an inline cache
 *    of the last target, then the translation cache); a jump back to the block's own start loops inside
 *    the CCF while the budget lasts.
 *
 * Precise state: `k` tracks the instruction being executed, so a fault anywhere leaves EIP at the
 * faulting instruction and the instruction count exact (`bt.fault`); flags stay live across any
 * instruction that can fault, so an exception frame sees the same EFLAGS as on the real CPU.
 */
import { CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SUB } from '../../cpu/cpu';
import type { Insn } from '../../cpu/insn';

/** InsnClass bits that make an instruction a callout (everything a monitor may care about). */
export type CalloutTest = (insn: Insn) => boolean;

interface KnownFlags {
  /** Lazy-flag operation of the last flag writer in this block (CC_SUB, CC_ADD, CC_LOGIC, CC_INC, CC_DEC). */
  op: number;
}

const hex = (v: number) => '0x' + (v >>> 0).toString(16);

/** What one block's code needs to know about each instruction. */
interface Slot {
  insn: Insn;
  eip: number;
  next: number;
}

/** Flags effect of an instruction for the liveness pass: reads arithmetic flags / writes all six / may fault. */
function flagEffect(i: Insn, callout: boolean): { reads: boolean; writesAll: boolean; faults: boolean } {
  if (callout) return { reads: true, writesAll: false, faults: true };
  const op = i.opcode, mem = i.rm < 0 && i.modrm >= 0 && (i.modrm >> 6) !== 3;
  const aluOp = aluOpOf(i);
  if (aluOp >= 0) {
    const reads = aluOp === 2 || aluOp === 3; // ADC, SBB
    return { reads, writesAll: !reads, faults: mem };
  }
  if (op === 0x84 || op === 0x85 || op === 0xa8 || op === 0xa9 || ((op === 0xf6 || op === 0xf7) && i.reg <= 1)) return { reads: false, writesAll: true, faults: mem };
  if (op >= 0x88 && op <= 0x8b) return { reads: false, writesAll: false, faults: mem };
  if (op >= 0xb0 && op <= 0xbf) return { reads: false, writesAll: false, faults: false };
  if (op === 0x8d) return { reads: false, writesAll: false, faults: false };
  if ((op === 0xc6 || op === 0xc7) && i.reg === 0) return { reads: false, writesAll: false, faults: mem };
  if (op === 0x1b6 || op === 0x1b7 || op === 0x1be || op === 0x1bf) return { reads: false, writesAll: false, faults: mem };
  if (op >= 0x50 && op <= 0x5f) return { reads: false, writesAll: false, faults: true };
  if (isConstShift32(i)) return (i.imm & 31) ? { reads: false, writesAll: true, faults: false } : { reads: false, writesAll: false, faults: false };
  if (op >= 0x40 && op <= 0x4f) return { reads: true, writesAll: false, faults: false }; // INC/DEC keep CF
  // Everything else: assume it reads flags (conservative) and may fault.
  return { reads: true, writesAll: false, faults: true };
}

/** Chain-link slots of a CCF: 0 the final exit, 1..MAX_SIDE_EXITS taken branches (TranslatedBlock l0..l4). */
export type LinkSlot = 0 | 1 | 2 | 3 | 4;
/** Conditional branches a trace may contain (the translator stops extending it after these). */
export const MAX_SIDE_EXITS = 4;

/** Jcc rel8/rel32 with a 32-bit operand size: what a trace continues through (not taken = fall through). */
export function isTraceBranch(i: Insn): boolean {
  const op = i.opcode;
  return ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) && i.size === 4 && !i.addr16;
}

/** Pseudo lazy-flag operation for the known-flags tracker: a shift by a constant (flags eager, CF/OF in locals). */
const KNOWN_SHIFT = 100;

/** SHL/SHR/SAR r32, imm (C1 /4 /5 /7, D1 /4 /5 /7). */
function isConstShift32(i: Insn): boolean {
  const op = i.opcode;
  return (op === 0xc1 || op === 0xd1) && (i.reg === 4 || i.reg === 5 || i.reg === 7) && i.rm >= 0 && i.size === 4;
}

/** ALU operation number (ADD OR ADC SBB AND SUB XOR CMP) of the 00–3F and 80–83 forms, else -1. */
function aluOpOf(i: Insn): number {
  const op = i.opcode;
  if (op < 0x40 && (op & 7) < 6) return op >> 3;
  if (op >= 0x80 && op <= 0x83) return i.reg;
  return -1;
}

export interface GeneratedBlock {
  /** Source of the function body `(cpu, r, bt, blk, end, I, H) => successor | null`. */
  source: string;
  /** Number of instructions translated inline (the rest are semantics calls or callouts). */
  inlined: number;
  callouts: number;
}

/**
 * Generates the CCF source for `insns` (a decoded basic block starting at EIP `startEip`).
 * `isCallout` says which instructions go to the VMM.
 */
export function generateBlock(insns: Insn[], startEip: number, isCallout: CalloutTest): GeneratedBlock {
  const n = insns.length;
  const slots: Slot[] = [];
  let eip = startEip >>> 0;
  for (const insn of insns) {
    const next = (eip + insn.len) >>> 0;
    slots.push({ insn, eip, next });
    eip = next;
  }
  const callout = insns.map(isCallout);
  // Flag liveness, backwards: live[k] = the flags after instruction k may be observed.
  const live = new Array<boolean>(n);
  let l = true; // live out of the block
  for (let k = n - 1; k >= 0; k--) {
    live[k] = l;
    const fx = flagEffect(insns[k], callout[k]);
    if (fx.reads || fx.faults) l = true;
    else if (fx.writesAll) l = false;
  }
  // A fault in instruction k+1 must see the flags of k: `faults` above keeps them live.
  const g = new Gen(slots, live, callout, startEip >>> 0);
  for (let k = 0; k < n; k++) g.emit(k);
  return { source: g.finish(), inlined: g.inlined, callouts: g.callouts };
}

class Gen {
  private readonly out: string[] = [];
  private known: KnownFlags | undefined;
  inlined = 0;
  callouts = 0;
  private selfLoop = false;
  private ended = false;
  /** Link slots of side exits (taken conditional branches) so far; slot 0 is the final exit. */
  private sideExits = 0;

  private nextSlot(): LinkSlot {
    if (this.sideExits >= MAX_SIDE_EXITS) throw new Error('too many side exits in one trace');
    return (++this.sideExits) as LinkSlot;
  }

  constructor(private readonly slots: Slot[], private readonly live: boolean[], private readonly callout: boolean[], private readonly start: number) {}

  private line(s: string): void { this.out.push(s); }

  finish(): string {
    const n = this.slots.length;
    if (!this.ended) this.line(this.exitTo(n, this.slots[n - 1].next, 0));
    const body = this.out.join('\n');
    const loop = this.selfLoop ? `for (;;) {\n${body}\n}` : body;
    return `let ic0 = cpu.icount, k = 0, a = 0, b = 0, t = 0, fa = 0, fb = 0, fr = 0, fc = 0, fo = false, s = null;
try {
${loop}
} catch (e) { bt.fault(blk, ic0, k); throw e; }`;
  }

  // ---- operands ----
  private ea(i: Insn): string {
    const parts: string[] = [];
    if (i.base >= 0) parts.push(`r[${i.base}]`);
    if (i.index >= 0) parts.push(i.scale ? `(r[${i.index}] << ${i.scale})` : `r[${i.index}]`);
    if (i.disp !== 0 || parts.length === 0) parts.push(String(i.disp | 0));
    return parts.length === 1 && i.base >= 0 && i.index < 0 && i.disp === 0 ? parts[0] : `((${parts.join(' + ')}) | 0)`;
  }
  private readMem(i: Insn, size: number, ea: string): string {
    return size === 4 ? `cpu.read32(${i.seg}, ${ea})` : size === 2 ? `cpu.read16(${i.seg}, ${ea})` : `cpu.read8(${i.seg}, ${ea})`;
  }
  private writeMem(i: Insn, size: number, ea: string, v: string): string {
    return size === 4 ? `cpu.write32(${i.seg}, ${ea}, ${v});` : size === 2 ? `cpu.write16(${i.seg}, ${ea}, ${v});` : `cpu.write8(${i.seg}, ${ea}, ${v});`;
  }
  private readReg(n: number, size: number): string {
    return size === 4 ? `r[${n}]` : size === 2 ? `(r[${n}] & 0xffff)` : n < 4 ? `(r[${n}] & 0xff)` : `((r[${n - 4}] >> 8) & 0xff)`;
  }
  private writeReg(n: number, size: number, v: string): string {
    if (size === 4) return `r[${n}] = ${v};`;
    if (size === 2) return `r[${n}] = (r[${n}] & ~0xffff) | ((${v}) & 0xffff);`;
    return n < 4 ? `r[${n}] = (r[${n}] & ~0xff) | ((${v}) & 0xff);` : `r[${n - 4}] = (r[${n - 4}] & ~0xff00) | (((${v}) & 0xff) << 8);`;
  }
  /** After a store: a write into this very block (self-modifying code) ends it after this instruction. */
  private smcCheck(k: number): void {
    this.line(`if (!blk.valid) return bt.leave(ic0 + ${k + 1}, ${hex(this.slots[k].next)});`);
  }

  // ---- flags ----
  private setFlags(k: number, op: number, size: number, a: string, b: string, res: string, cin?: string): void {
    const sz = size === 4 ? 2 : size === 2 ? 1 : 0;
    this.known = size === 4 ? { op } : undefined;
    if (size === 4) this.line(`fa = ${a}; fb = ${b}; fr = ${res};`);
    if (!this.live[k]) return;
    this.line(`cpu.ccOp = ${op}; cpu.ccSize = ${sz}; cpu.ccA = ${a}; cpu.ccB = ${b}; cpu.ccRes = ${res};${cin ? ` cpu.ccCin = ${cin};` : ''}`);
  }

  /** JS boolean for condition `cc` (0..15) of the current flags. */
  private cond(cc: number): string {
    const neg = (cc & 1) !== 0, kind = cc >> 1;
    let e: string | undefined;
    const kf = this.known;
    if (kf && kf.op === CC_SUB) {
      e = [`(((fa ^ fb) & (fa ^ fr)) < 0)`, `((fa >>> 0) < (fb >>> 0))`, `(fr === 0)`, `((fa >>> 0) <= (fb >>> 0))`, `(fr < 0)`, undefined, `(fa < fb)`, `(fa <= fb)`][kind];
    } else if (kf && kf.op === CC_LOGIC) {
      e = ['false', 'false', `(fr === 0)`, `(fr === 0)`, `(fr < 0)`, undefined, `(fr < 0)`, `(fr <= 0)`][kind];
    } else if (kf && kf.op === CC_ADD) {
      const of = `(((fa ^ fr) & (fb ^ fr)) < 0)`, cf = `((fr >>> 0) < (fa >>> 0))`;
      e = [of, cf, `(fr === 0)`, `(${cf} || fr === 0)`, `(fr < 0)`, undefined, `((fr < 0) !== ${of})`, `(fr === 0 || (fr < 0) !== ${of})`][kind];
    } else if (kf && (kf.op === CC_INC || kf.op === CC_DEC)) {
      const of = kf.op === CC_INC ? `(fr === -2147483648)` : `(fr === 2147483647)`;
      e = [of, undefined, `(fr === 0)`, undefined, `(fr < 0)`, undefined, `((fr < 0) !== ${of})`, `(fr === 0 || (fr < 0) !== ${of})`][kind];
    }
    else if (kf && kf.op === KNOWN_SHIFT) {
      e = [`fo`, `(fc !== 0)`, `(fr === 0)`, `(fc !== 0 || fr === 0)`, `(fr < 0)`, undefined, `((fr < 0) !== fo)`, `(fr === 0 || (fr < 0) !== fo)`][kind];
    }
    if (e === undefined) return `cpu.cond(${cc})`;
    return neg ? `!${e}` : e;
  }

  /** CF as 0/1 (INC/DEC keep it), from the locals when the flag writer is in this block. */
  private knownCarry(): string {
    const kf = this.known;
    if (kf && kf.op === CC_SUB) return '((fa >>> 0) < (fb >>> 0) ? 1 : 0)';
    if (kf && kf.op === CC_ADD) return '((fr >>> 0) < (fa >>> 0) ? 1 : 0)';
    if (kf && kf.op === CC_LOGIC) return '0';
    if (kf && kf.op === KNOWN_SHIFT) return 'fc';
    return 'cpu.getCF()';
  }

  // ---- exits ----
  /** Leaves the block after `count` instructions to a known EIP, chained through link slot `slot`. */
  private exitTo(count: number, target: number, slot: LinkSlot): string {
    if (target === this.start) {
      // A jump back to this block's own start: loop inside the CCF while the budget lasts and no
      // interrupt can be taken (IF = 0, or nothing pending — checked by the trampoline otherwise).
      this.selfLoop = true;
      return `ic0 += ${count}; k = 0; if (ic0 + ${count} <= end && (cpu.flags & 0x200) === 0) continue; cpu.icount = ic0; cpu.eip = ${hex(target)}; return blk;`;
    }
    // Chained: the successor's CCF straight from the link slot (EIP is implied by it; the trampoline
    // writes it back only when it stops). Unlinked or stale: the dispatcher resolves and patches it.
    return `cpu.icount = ic0 + ${count}; return ((s = blk.l${slot}) !== null && s.valid) ? s : (cpu.eip = ${hex(target)}, bt.chain(blk, ${slot}));`;
  }
  private exitIndirect(count: number, target: string): string {
    return `return bt.indirect(blk, ic0 + ${count}, ${target});`;
  }
  /** Runs instruction k by its decoded semantics (EIP, next EIP and the count exact first). */
  private viaSemantics(k: number, fn: 'semantics' | 'callout'): void {
    const { eip, next, insn } = this.slots[k];
    this.line(`cpu.icount = ic0 + ${k}; cpu.eip = ${hex(eip)}; cpu.nextEip = ${hex(next)};`);
    this.line(fn === 'callout' ? `bt.callout(I[${k}]);` : `I[${k}].semantics(cpu, I[${k}]);`);
    this.known = undefined;
    if (insn.endsBlock || k === this.slots.length - 1) {
      // Control transfer or state change: continue wherever it went (dispatcher / chained lookup).
      this.line(`cpu.breakBlock = false; return bt.after(ic0 + ${k + 1});`);
      this.ended = true;
      return;
    }
    // Anything that changed control flow or asked to leave the block (IF set, TLB flush, a device …).
    this.line(`if (cpu.breakBlock || cpu.nextEip !== ${hex(next)} || !blk.valid) { cpu.breakBlock = false; return bt.after(ic0 + ${k + 1}); }`);
  }

  emit(k: number): void {
    const { insn: i } = this.slots[k];
    this.line(`k = ${k};`);
    if (this.callout[k]) { this.callouts++; this.viaSemantics(k, 'callout'); return; }
    // Invalid encodings (#UD when executed), LOCK, 16-bit addressing and operand size: their semantics.
    if (i.mnemonic === '(bad)' || i.addr16 || i.lock || (i.size === 2 && i.opcode !== 0x1b7 && i.opcode !== 0x1bf)) { this.viaSemantics(k, 'semantics'); return; }
    if (this.inline(k)) { this.inlined++; return; }
    this.viaSemantics(k, 'semantics');
  }

  /** Inline translation of the common innocuous forms; false when the instruction is not one of them. */
  private inline(k: number): boolean {
    const { insn: i, next } = this.slots[k];
    const op = i.opcode, size = i.size;
    const mem = i.rm < 0;
    const last = k === this.slots.length - 1;
    const aop = aluOpOf(i);
    if (aop >= 0) {
      if (aop === 2 || aop === 3) return false; // ADC/SBB: semantics (carry in)
      // Destination and source by form: 00–3F: form 0/1 E,G; 2/3 G,E; 4/5 acc,imm. 80–83: E,imm.
      let dst: { reg: number } | { mem: true }, src: string;
      if (op < 0x40) {
        const form = op & 7;
        if (form < 2) { dst = mem ? { mem: true } : { reg: i.rm }; src = this.readReg(i.reg, size); }
        else if (form < 4) { dst = { reg: i.reg }; src = mem ? this.readMem(i, size, this.ea(i)) : this.readReg(i.rm, size); }
        else { dst = { reg: 0 }; src = String(size === 4 ? i.imm | 0 : i.imm & (size === 1 ? 0xff : 0xffff)); }
      } else {
        dst = mem ? { mem: true } : { reg: i.rm };
        src = String(size === 4 ? i.imm | 0 : i.imm & (size === 1 ? 0xff : 0xffff));
      }
      const writes = aop !== 7;
      const m = size === 4 ? '| 0' : size === 2 ? '& 0xffff' : '& 0xff';
      const expr = [`(a + b) ${m}`, `(a | b)`, '', '', `(a & b)`, `(a - b) ${m}`, `(a ^ b)`, `(a - b) ${m}`][aop];
      const cc = [CC_ADD, CC_LOGIC, 0, 0, CC_LOGIC, CC_SUB, CC_LOGIC, CC_SUB][aop];
      if ('reg' in dst) {
        this.line(`a = ${this.readReg(dst.reg, size)}; b = ${src}; t = ${expr};`);
        if (writes) this.line(this.writeReg(dst.reg, size, 't'));
      } else {
        const ea = this.ea(i);
        this.line(`const ea${k} = ${ea};`);
        this.line(`a = ${this.readMem(i, size, `ea${k}`)}; b = ${src}; t = ${expr};`);
        if (writes) { this.line(this.writeMem(i, size, `ea${k}`, 't')); this.smcCheck(k); }
      }
      this.setFlags(k, cc, size, 'a', 'b', 't');
      return true;
    }
    switch (op) {
      case 0x84: case 0x85: { // TEST E, G
        this.line(`t = ${mem ? this.readMem(i, size, this.ea(i)) : this.readReg(i.rm, size)} & ${this.readReg(i.reg, size)};`);
        this.setFlags(k, CC_LOGIC, size, 't', 't', 't');
        return true;
      }
      case 0xa8: case 0xa9: {
        this.line(`t = ${this.readReg(0, size)} & ${size === 4 ? i.imm | 0 : i.imm & 0xff};`);
        this.setFlags(k, CC_LOGIC, size, 't', 't', 't');
        return true;
      }
      case 0xf6: case 0xf7: {
        if (i.reg > 1) return false;
        this.line(`t = ${mem ? this.readMem(i, size, this.ea(i)) : this.readReg(i.rm, size)} & ${size === 4 ? i.imm | 0 : i.imm & 0xff};`);
        this.setFlags(k, CC_LOGIC, size, 't', 't', 't');
        return true;
      }
      case 0x88: case 0x89: // MOV E, G
        if (mem) { this.line(this.writeMem(i, size, this.ea(i), this.readReg(i.reg, size))); this.smcCheck(k); }
        else this.line(this.writeReg(i.rm, size, this.readReg(i.reg, size)));
        return true;
      case 0x8a: case 0x8b: // MOV G, E
        this.line(this.writeReg(i.reg, size, mem ? this.readMem(i, size, this.ea(i)) : this.readReg(i.rm, size)));
        return true;
      case 0xa0: case 0xa1: // MOV acc, moffs
        this.line(this.writeReg(0, size, this.readMem(i, size, String(i.disp | 0))));
        return true;
      case 0xa2: case 0xa3:
        this.line(this.writeMem(i, size, String(i.disp | 0), this.readReg(0, size))); this.smcCheck(k);
        return true;
      case 0xc6: case 0xc7: // MOV E, imm
        if (mem) { this.line(this.writeMem(i, size, this.ea(i), String(i.imm | 0))); this.smcCheck(k); }
        else this.line(this.writeReg(i.rm, size, String(i.imm | 0)));
        return true;
      case 0x8d: // LEA
        if (!mem) return false;
        this.line(`r[${i.reg}] = ${this.ea(i)};`);
        return true;
      case 0x1b6: case 0x1b7: case 0x1be: case 0x1bf: { // MOVZX / MOVSX
        if (i.size !== 4) return false;
        const from = i.imm;
        const v = mem ? this.readMem(i, from, this.ea(i)) : this.readReg(i.rm, from);
        const sx = (op & 8) !== 0;
        this.line(`r[${i.reg}] = ${sx ? (from === 1 ? `(${v} << 24) >> 24` : `(${v} << 16) >> 16`) : v};`);
        return true;
      }
    }
    if (op >= 0xb0 && op <= 0xbf) { // MOV r, imm
      this.line(this.writeReg(i.reg, size, String(i.imm | 0)));
      return true;
    }
    if (op >= 0x40 && op <= 0x4f && size === 4) { // INC/DEC r32
      const isInc = op < 0x48;
      // INC/DEC keep CF: it is the carry-in of the lazy record (computed only if the flags are live).
      const cin = this.live[k] ? this.knownCarry() : undefined;
      if (cin) this.line(`b = ${cin};`);
      this.line(`a = r[${i.reg}]; t = (a ${isInc ? '+' : '-'} 1) | 0; r[${i.reg}] = t;`);
      this.setFlags(k, isInc ? CC_INC : CC_DEC, 4, 'a', '1', 't', cin ? 'b' : undefined);
      return true;
    }
    if ((op === 0xfe || op === 0xff) && i.reg <= 1 && !mem && size === 4) {
      const isInc = i.reg === 0;
      const cin = this.live[k] ? this.knownCarry() : undefined;
      if (cin) this.line(`b = ${cin};`);
      this.line(`a = r[${i.rm}]; t = (a ${isInc ? '+' : '-'} 1) | 0; r[${i.rm}] = t;`);
      this.setFlags(k, isInc ? CC_INC : CC_DEC, 4, 'a', '1', 't', cin ? 'b' : undefined);
      return true;
    }
    if (op >= 0x50 && op <= 0x57 && size === 4) { this.line(`cpu.push32(r[${op & 7}]);`); this.smcCheck(k); return true; }
    if (op >= 0x58 && op <= 0x5f && size === 4) { this.line(`t = cpu.pop32(); r[${op & 7}] = t;`); return true; }
    if ((op === 0x68 || op === 0x6a) && size === 4) { this.line(`cpu.push32(${i.imm | 0});`); this.smcCheck(k); return true; }
    if (isConstShift32(i)) {
      // SHL/SHR/SAR r32 by a constant, flags as ops/alu.ts shift(): computed eagerly (the lazy record
      // has no shift operation), CF/OF kept in locals for a Jcc in the same block.
      const c = i.imm & 31;
      if (c === 0) return true; // a zero count changes nothing, not even the flags
      const n = i.rm;
      if (i.reg === 4) this.line(`a = r[${n}]; t = a << ${c}; fc = (a >>> ${32 - c}) & 1; fo = (t < 0 ? 1 : 0) !== fc;`);
      else if (i.reg === 5) this.line(`a = r[${n}]; t = (a >>> ${c}) | 0; fc = (a >>> ${c - 1}) & 1; fo = a < 0;`);
      else this.line(`a = r[${n}]; t = a >> ${c}; fc = (a >> ${c - 1}) & 1; fo = false;`);
      this.line(`r[${n}] = t; fr = t;`);
      if (this.live[k]) this.line(`cpu.flags = (cpu.flags & ~0x8d5) | fc | H.PARITY[t & 0xff] | (t === 0 ? 0x40 : 0) | (t < 0 ? 0x80 : 0) | (fo ? 0x800 : 0); cpu.ccOp = 0;`);
      this.known = { op: KNOWN_SHIFT };
      return true;
    }
    if (op === 0x1af && size === 4) { // IMUL r32, r/m32
      this.line(`r[${i.reg}] = H.imul2(cpu, 2, r[${i.reg}], ${mem ? this.readMem(i, 4, this.ea(i)) : `r[${i.rm}]`});`);
      this.known = undefined;
      return true;
    }
    if ((op === 0x69 || op === 0x6b) && size === 4) {
      this.line(`r[${i.reg}] = H.imul2(cpu, 2, ${mem ? this.readMem(i, 4, this.ea(i)) : `r[${i.rm}]`}, ${i.imm | 0});`);
      this.known = undefined;
      return true;
    }
    if (op >= 0x190 && op <= 0x19f) { // SETcc
      const v = `(${this.cond(op & 15)} ? 1 : 0)`;
      if (mem) { this.line(this.writeMem(i, 1, this.ea(i), v)); this.smcCheck(k); } else this.line(this.writeReg(i.rm, 1, v));
      return true;
    }
    if (op >= 0x140 && op <= 0x14f && size === 4) { // CMOVcc (the source is read whatever the condition)
      this.line(`t = ${mem ? this.readMem(i, 4, this.ea(i)) : `r[${i.rm}]`}; if (${this.cond(op & 15)}) r[${i.reg}] = t;`);
      return true;
    }
    if (op === 0x90 && i.rep === 0) return true; // NOP
    if (op === 0x99 && size === 4) { this.line('r[2] = r[0] >> 31;'); return true; } // CDQ
    // ---- control flow: these end the block ----
    if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) {
      if (size !== 4) return false;
      const target = (next + i.imm) >>> 0;
      // Taken: a side exit through its own link slot. Not taken: the trace goes on (translated
      // fall-through path), or, at the end of the CCF, the fall-through exit.
      this.line(`if (${this.cond(op & 15)}) { ${this.exitTo(k + 1, target, this.nextSlot())} }`);
      if (last) { this.line(this.exitTo(k + 1, next, 0)); this.ended = true; }
      return true;
    }
    if ((op === 0xe9 || op === 0xeb) && size === 4) {
      this.line(this.exitTo(k + 1, (next + i.imm) >>> 0, 0));
      this.ended = true;
      return true;
    }
    if (op === 0xe8 && size === 4) {
      this.line(`cpu.push32(${hex(next)} | 0);`);
      this.line(this.exitTo(k + 1, (next + i.imm) >>> 0, 0));
      this.ended = true;
      return true;
    }
    if (op === 0xc3 && size === 4) {
      this.line(`t = cpu.pop32() >>> 0;`);
      this.line(this.exitIndirect(k + 1, 't'));
      this.ended = true;
      return true;
    }
    if (op === 0xe2 && size === 4) { // LOOP
      const target = (next + i.imm) >>> 0;
      this.line(`t = (r[1] - 1) | 0; r[1] = t; if (t !== 0) { ${this.exitTo(k + 1, target, this.nextSlot())} }`);
      this.line(this.exitTo(k + 1, next, 0));
      this.ended = true;
      return true;
    }
    if (op === 0xe3 && size === 4) { // JECXZ
      const target = (next + i.imm) >>> 0;
      this.line(`if (r[1] === 0) { ${this.exitTo(k + 1, target, this.nextSlot())} }`);
      this.line(this.exitTo(k + 1, next, 0));
      this.ended = true;
      return true;
    }
    if (op === 0xff && (i.reg === 2 || i.reg === 4) && size === 4) { // CALL/JMP r/m32
      this.line(`t = ${mem ? this.readMem(i, 4, this.ea(i)) : `r[${i.rm}]`} >>> 0;`);
      if (i.reg === 2) this.line(`cpu.push32(${hex(next)} | 0);`);
      this.line(this.exitIndirect(k + 1, 't'));
      this.ended = true;
      return true;
    }
    void last;
    return false;
  }
}
