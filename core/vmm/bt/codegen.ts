/*
 * The code generator of the binary translator: one guest basic block (decoded `Insn`s) → the source
 * of one JavaScript function, the "compiled code fragment" (CCF) of Adams & Agesen (ASPLOS 2006 §4):
 *
 *  - innocuous instructions are translated IDENT by the same per-instruction emitters as the CPU's
 *    own hot-block compiler (core/cpu/blockCompiler.ts `inline`: one source of truth for that code):
 *    operands, immediates and addressing modes inlined (registers are `r[n]`, memory goes through the
 *    CPU's segmentation and paging as the hardware's would), lazy flags recorded; conditions of
 *    Jcc (and the carry INC/DEC keep) computed straight from the record of the flag-setting
 *    instruction when it is in the same block;
 *  - the innocuous rest runs through the decoded instruction's own semantics (`I[k].semantics`);
 *  - the instructions whose row says `bt: callout` (privileged, IOPL-sensitive, critical, and the
 *    unprivileged ones whose answer the VMM virtualises: CPUID, RDTSC, SYSENTER, segment loads)
 *    become callouts into the VMM (`bt.callout(I[k])`), which works on the virtual CPU;
 *  - block exits with a known target are chained (`bt.chain`: the successor's CCF, patched into the
 *    block's link slot after the first lookup), indirect ones go through `bt.indirect` (an inline cache
 *    of the last target, then the translation cache); a jump back to the block's own start loops inside
 *    the CCF while the budget lasts, and a Jcc to a later instruction of the same trace skips to it
 *    inside the CCF (`if (!cond) { … }`, the skipped instructions taken off the count).
 *
 * Precise state: `k` is set to the instruction's index before anything that can fault (a memory
 * access, a call), so a fault leaves EIP at the faulting instruction and the instruction count exact
 * (`bt.fault`); flags are always recorded, so an exception frame sees the same EFLAGS as on the real
 * CPU.
 */
import { eaExpr, inline, writtenFlags } from '../../cpu/blockCompiler';
import { CC_ADD, CC_DEC, CC_INC, CC_LOGIC, CC_SAR32, CC_SHL32, CC_SHR32, CC_SUB } from '../../cpu/cpu';
import type { Insn } from '../../cpu/insn';

/** Whether an instruction becomes a callout (the translator asks its row's BT treatment). */
export type CalloutTest = (insn: Insn) => boolean;

const hex = (v: number) => '0x' + (v >>> 0).toString(16);

/** What one block's code needs to know about each instruction. */
interface Slot {
  insn: Insn;
  eip: number;
  next: number;
}

/** Chain-link slots of a CCF: 0 the final exit, 1..MAX_SIDE_EXITS taken branches (TranslatedBlock l0..l4). */
export type LinkSlot = 0 | 1 | 2 | 3 | 4;
/** Runs (dispatches and self-loop passes) of a translated block before its code is tried as a CPU region. */
export const REGION_AFTER = 50;
/** Conditional branches a trace may contain (the translator stops extending it after these). */
export const MAX_SIDE_EXITS = 4;

/** Jcc rel8/rel32 with a 32-bit operand size: what a trace continues through (not taken = fall through). */
export function isTraceBranch(i: Insn): boolean {
  const op = i.opcode;
  return ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) && i.size === 4 && !i.addr16;
}

export interface GeneratedBlock {
  /** Source of the function body `(cpu, r, bt, blk, end) => successor | null` (`shift`, `imul2` in scope). */
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
  const slots: Slot[] = [];
  let eip = startEip >>> 0;
  for (const insn of insns) {
    const next = (eip + insn.len) >>> 0;
    slots.push({ insn, eip, next });
    eip = next;
  }
  const g = new Gen(slots, insns.map(isCallout), startEip >>> 0);
  for (let k = 0; k < insns.length; k++) g.emit(k);
  return { source: g.finish(), inlined: g.inlined, callouts: g.callouts };
}

/** The lazy-flag record left by the last instruction of the block so far (cpu.ccOp / ccSize known statically). */
interface KnownFlags { op: number; size: number }

class Gen {
  private readonly out: string[] = [];
  private known: KnownFlags | undefined;
  inlined = 0;
  callouts = 0;
  private selfLoop = false;
  private ended = false;
  /**
   * Open forward branches inside the trace (innermost last): a Jcc whose target is a later
   * instruction of the same trace is an `if (!cond) { … }` around the instructions it skips, so the
   * taken path stays in this CCF. `at`: the target's index, `from` the branch's; `known`: the flag
   * record when taken.
   */
  private readonly skips: { at: number; from: number; known: KnownFlags | undefined }[] = [];
  /** Link slots of side exits (taken conditional branches) so far; slot 0 is the final exit. */
  private sideExits = 0;

  private nextSlot(): LinkSlot {
    if (this.sideExits >= MAX_SIDE_EXITS) throw new Error('too many side exits in one trace');
    return (++this.sideExits) as LinkSlot;
  }

  constructor(private readonly slots: Slot[], private readonly callout: boolean[], private readonly start: number) {}

  private line(s: string): void { this.out.push(s); }

  finish(): string {
    const n = this.slots.length;
    if (!this.ended) this.line(this.exitTo(n, this.slots[n - 1].next, 0));
    const body = this.out.join('\n');
    const loop = this.selfLoop ? `for (;;) {\n${body}\n}` : body;
    return `const I = blk.insns;
let ic0 = cpu.icount, k = 0, t = 0, s = null;
try {
${loop}
} catch (e) { bt.fault(blk, ic0, k); throw e; }`;
  }

  /** Instruction k is about to do something that can fault: a fault is reported there. */
  private at(k: number): void { this.line(`k = ${k};`); }

  /**
   * After a store: a write into this very block (self-modifying code), or a write watch that asked
   * for a stop (`cpu.requestStop`, e.g. a data breakpoint), ends it after this instruction.
   */
  private smcCheck(k: number): void {
    this.line(`if (!blk.valid || cpu.stopPending) return bt.leave(ic0 + ${k + 1}, ${hex(this.slots[k].next)});`);
  }

  // ---- flags ----
  /** JS boolean for condition `cc` (0..15) of the current flags: from the known record, else cpu.cond. */
  private cond(cc: number): string {
    const neg = (cc & 1) !== 0, kind = cc >> 1, kf = this.known;
    let e: string | undefined;
    if (kf && kf.size === 2) {
      if (kf.op === CC_SUB) {
        e = ['(((cpu.ccA ^ cpu.ccB) & (cpu.ccA ^ cpu.ccRes)) < 0)', '((cpu.ccA >>> 0) < (cpu.ccB >>> 0))', '(cpu.ccRes === 0)', '((cpu.ccA >>> 0) <= (cpu.ccB >>> 0))',
          '(cpu.ccRes < 0)', undefined, '(cpu.ccA < cpu.ccB)', '(cpu.ccA <= cpu.ccB)'][kind];
      } else if (kf.op === CC_LOGIC) {
        e = ['false', 'false', '(cpu.ccRes === 0)', '(cpu.ccRes === 0)', '(cpu.ccRes < 0)', undefined, '(cpu.ccRes < 0)', '(cpu.ccRes <= 0)'][kind];
      } else if (kf.op === CC_ADD) {
        e = [undefined, '((cpu.ccRes >>> 0) < (cpu.ccA >>> 0))', '(cpu.ccRes === 0)', undefined, '(cpu.ccRes < 0)'][kind];
      } else if (kf.op === CC_INC || kf.op === CC_DEC || kf.op === CC_SHL32 || kf.op === CC_SHR32 || kf.op === CC_SAR32) {
        e = [undefined, undefined, '(cpu.ccRes === 0)', undefined, '(cpu.ccRes < 0)'][kind];
      }
    } else if (kf && kf.size === 0 && (kf.op === CC_SUB || kf.op === CC_LOGIC || kf.op === CC_ADD)) {
      // Byte records hold the operands and the result as 0..255.
      const sub = kf.op === CC_SUB;
      e = [undefined, sub ? '(cpu.ccA < cpu.ccB)' : kf.op === CC_LOGIC ? 'false' : undefined, '(cpu.ccRes === 0)',
        sub ? '(cpu.ccA <= cpu.ccB)' : kf.op === CC_LOGIC ? '(cpu.ccRes === 0)' : undefined, '((cpu.ccRes & 0x80) !== 0)'][kind];
    }
    if (e === undefined) return `cpu.cond(${cc})`;
    return neg ? `!${e}` : e;
  }

  /** CF as 0/1 before an INC/DEC, from the known record (else the CPU's getCF). */
  private carry(): string | undefined {
    const kf = this.known;
    if (!kf) return undefined;
    if (kf.op === CC_LOGIC) return '0';
    if (kf.op === CC_INC || kf.op === CC_DEC) return 'cpu.ccCin';
    if (kf.size === 0) {
      // Byte records hold the operands and the result as 0..255.
      if (kf.op === CC_SUB) return '(cpu.ccA < cpu.ccB ? 1 : 0)';
      if (kf.op === CC_ADD) return '(cpu.ccRes < cpu.ccA ? 1 : 0)';
      return undefined;
    }
    if (kf.size !== 2) return undefined;
    if (kf.op === CC_SUB) return '((cpu.ccA >>> 0) < (cpu.ccB >>> 0) ? 1 : 0)';
    if (kf.op === CC_ADD) return '((cpu.ccRes >>> 0) < (cpu.ccA >>> 0) ? 1 : 0)';
    return undefined;
  }

  // ---- exits ----
  /** Leaves the block after `count` instructions to a known EIP, chained through link slot `slot`. */
  private exitTo(count: number, target: number, slot: LinkSlot): string {
    if (target === this.start) {
      // A jump back to this block's own start: loop inside the CCF while the budget lasts and no
      // interrupt can be taken (IF = 0, or nothing pending — checked by the trampoline otherwise).
      this.selfLoop = true;
      // The next pass may run the whole trace: loop only if all of it fits in the budget.
      // It also counts its passes, and goes back to the trampoline once when they make it hot (so
      // innocuous code can move to a CPU region there).
      return `ic0 += ${count}; if (ic0 + ${this.slots.length} <= end && (cpu.flags & 0x200) === 0 && ++blk.runs !== ${REGION_AFTER}) continue; cpu.icount = ic0; cpu.eip = ${hex(target)}; return blk;`;
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
    this.at(k);
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
    const { insn: i, next } = this.slots[k];
    // The end of skipped instructions: both paths meet here (flags known only if both agree).
    while (this.skips.length > 0 && this.skips[this.skips.length - 1].at === k) {
      const { known, from } = this.skips.pop()!;
      // Counts are by position in the trace: the taken path did not run the skipped ones.
      this.line(`} else ic0 -= ${k - from - 1};`);
      if (!known || !this.known || known.op !== this.known.op || known.size !== this.known.size) this.known = undefined;
    }
    if (this.callout[k]) { this.callouts++; this.viaSemantics(k, 'callout'); return; }
    // Invalid encodings (#UD when executed) and 16-bit addressing: their semantics.
    if (i.mnemonic === '(bad)' || i.addr16) { this.viaSemantics(k, 'semantics'); return; }
    if (this.controlFlow(k)) { this.inlined++; return; }
    // Innocuous: the CPU's block compiler's code for it (branches are handled above, never there).
    const e = inline(i, next, this.carry());
    if (e === undefined || e.branch) { this.viaSemantics(k, 'semantics'); return; }
    if (e.sync) this.at(k);
    if (e.code) this.line(e.code);
    if (e.check) this.smcCheck(k);
    const w = writtenFlags(e);
    if (w !== undefined) this.known = w ?? undefined;
    this.inlined++;
  }

  /** Control transfers with a known or computed target: exits of the CCF (chained, indirect, self-loop). */
  private controlFlow(k: number): boolean {
    const { insn: i, next } = this.slots[k];
    const op = i.opcode, mem = i.rm < 0;
    if (i.size !== 4 || i.rep !== 0 || i.lock) return false;
    const last = k === this.slots.length - 1;
    if ((op >= 0x70 && op <= 0x7f) || (op >= 0x180 && op <= 0x18f)) {
      const target = (next + i.imm) >>> 0;
      // A forward branch within the trace (properly nested in the open ones): skip to the target.
      const j = this.slots.findIndex((sl, x) => x > k + 1 && sl.eip === target);
      const inner = this.skips.length > 0 ? this.skips[this.skips.length - 1].at : this.slots.length;
      if (j > 0 && j <= inner) {
        this.line(`if (!${this.cond(op & 15)}) {`);
        this.skips.push({ at: j, from: k, known: this.known });
        return true;
      }
      // Taken: a side exit through its own link slot. Not taken: the trace goes on (translated
      // fall-through path), or, at the end of the CCF, the fall-through exit.
      this.line(`if (${this.cond(op & 15)}) { ${this.exitTo(k + 1, target, this.nextSlot())} }`);
      if (last) { this.line(this.exitTo(k + 1, next, 0)); this.ended = true; }
      return true;
    }
    if (op === 0xe9 || op === 0xeb) {
      this.line(this.exitTo(k + 1, (next + i.imm) >>> 0, 0));
      this.ended = true;
      return true;
    }
    if (op === 0xe8) {
      this.at(k);
      this.line(`cpu.push32(${hex(next)} | 0);`);
      this.line(this.exitTo(k + 1, (next + i.imm) >>> 0, 0));
      this.ended = true;
      return true;
    }
    if (op === 0xc3) {
      this.at(k);
      this.line(`t = cpu.pop32() >>> 0;`);
      this.line(this.exitIndirect(k + 1, 't'));
      this.ended = true;
      return true;
    }
    if (op === 0xe2) { // LOOP
      const target = (next + i.imm) >>> 0;
      this.line(`t = (r[1] - 1) | 0; r[1] = t; if (t !== 0) { ${this.exitTo(k + 1, target, this.nextSlot())} }`);
      this.line(this.exitTo(k + 1, next, 0));
      this.ended = true;
      return true;
    }
    if (op === 0xe3) { // JECXZ
      const target = (next + i.imm) >>> 0;
      this.line(`if (r[1] === 0) { ${this.exitTo(k + 1, target, this.nextSlot())} }`);
      this.line(this.exitTo(k + 1, next, 0));
      this.ended = true;
      return true;
    }
    if (op === 0xff && (i.reg === 2 || i.reg === 4)) { // CALL/JMP r/m32
      this.at(k);
      this.line(`t = ${mem ? `cpu.read32(${i.seg}, ${eaExpr(i)})` : `r[${i.rm}]`} >>> 0;`);
      if (i.reg === 2) this.line(`cpu.push32(${hex(next)} | 0);`);
      this.line(this.exitIndirect(k + 1, 't'));
      this.ended = true;
      return true;
    }
    return false;
  }
}
