/*
 * The semantics handlers of the instruction table (core/isa/table.ts), registered by the key each
 * form carries (`EncodingForm.handler`: the row's mnemonic, or a key rows share): given the decoded
 * instruction and the form the table matched, a handler returns the function that executes it,
 * after the few operand facts only the semantics needs (the ALU operation, the segment a far-pointer
 * load writes, the shift count source). Forms of one row that behave differently are told apart by
 * their operand patterns, never by opcode. core/cpu/dispatch.ts binds these to the table's encodings
 * at load time; decoding an instruction picks the form, and its handler with it.
 */
import { CR0_EM, CR0_TS, NM, UD } from './constants';
import { CpuFault } from './fault';
import type { ExecFn, Insn } from './insn';
import * as B from './ops/basic';
import * as S from './ops/string';
import * as Y from './ops/system';
import { aaa, aad, aam, daa } from './ops/alu';
import { fpuExec, fwaitExec, fxrstor, fxsave } from './fpu/execute';
import { ea } from './ops/operands';
import type { FormMatch } from '../isa/formIndex';
import type { EncodingForm, OperandPattern } from '../isa/types';

/** Returns the semantics of a decoded instruction of a row (the decoder filled its operands). */
export type Bind = (i: Insn, m: FormMatch) => ExecFn;

const always = (exec: ExecFn): Bind => () => exec;
/** Operand `k` of the matched form. */
const op = (m: FormMatch, k: number): OperandPattern | undefined => m.form.operands[k];
const isImm = (p: OperandPattern | undefined) => p === 'imm8' || p === 'imm16' || p === 'imm32' || p === 'simm8' || p === 'imm8u';
const SREG_INDEX: Partial<Record<OperandPattern, number>> = { es: 0, cs: 1, ss: 2, ds: 3, fs: 4, gs: 5 };

const int1: ExecFn = (cpu) => cpu.deliverEvent(1, 'exception', 0, 0, cpu.nextEip);
/** VMCALL outside VMX non-root operation. */
const vmcall: ExecFn = () => { throw new CpuFault(UD); };
/** MMX and SSE are not modelled (CPUID says so): #UD, as on a CPU without them. */
const simd: ExecFn = () => { throw new CpuFault(UD); };
const salc: ExecFn = (cpu) => cpu.setReg8(0, cpu.getCF() ? 0xff : 0);
const fxsaveOp: ExecFn = (cpu, i) => { if (cpu.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(NM); fxsave(cpu, i.seg, ea(cpu, i)); };
const fxrstorOp: ExecFn = (cpu, i) => { if (cpu.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(NM); fxrstor(cpu, i.seg, ea(cpu, i)); };
const SIMD: Bind = always(simd);
const aamOp: ExecFn = (cpu, i) => aam(cpu, i.imm);
const aadOp: ExecFn = (cpu, i) => aad(cpu, i.imm);

/** The eight ALU operations in their encoding order (00–3F, and the /digit of 80–83). */
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];

/** Shift and rotate counts: 1, CL (-1), or the immediate. */
function shiftCount(i: Insn, m: FormMatch): void {
  const last = op(m, m.form.operands.length - 1);
  if (last === 'one') i.imm = 1;
  else if (last === 'cl') i.imm = -1;
}

/** A register operand from the opcode (+r) or ModRM.rm, or memory. */
const isPlusReg = (f: EncodingForm) => f.plusReg === true && f.modrm === undefined;

/** Built on first use: the handlers live in modules that import the CPU, which imports this one. */
let REGISTRY: Record<string, Bind> | undefined;

function buildRegistry(): Record<string, Bind> {
  const r: Record<string, Bind> = {
    // ---- data movement
    mov: (i, m) => {
      const a = op(m, 0), b = op(m, 1);
      if (b === 'moffs8' || b === 'moffs16' || b === 'moffs32') return B.movAccMoffs;
      if (a === 'moffs8' || a === 'moffs16' || a === 'moffs32') return B.movMoffsAcc;
      if (b === 'sreg') return B.movESreg;
      if (a === 'sreg-no-cs') return B.movSregE;
      if (b === 'cr') return Y.movFromCr;
      if (a === 'cr') return Y.movToCr;
      if (b === 'dr') return Y.movFromDr;
      if (a === 'dr') return Y.movToDr;
      if (isImm(b)) return isPlusReg(m.form) ? (i.size === 4 ? B.movRI32 : B.movRI) : B.movEI;
      if (m.form.rmOperand === 0) return i.size === 4 ? (i.rm >= 0 ? B.movRR32 : B.movMG32) : B.movEG;
      return i.size === 4 ? (i.rm >= 0 ? B.movGR32 : B.movGM32) : B.movGE;
    },
    movzx: (i, m) => movExtend(i, m),
    movsx: (i, m) => movExtend(i, m),
    lea: always(B.lea),
    xchg: (_i, m) => (isPlusReg(m.form) ? B.xchgAcc : B.xchgEG),
    cmpxchg: always(B.cmpxchgE),
    cmpxchg8b: always(B.cmpxchg8b),
    xadd: always(B.xaddE),
    bswap: always(B.bswap),
    xlatb: always(B.xlat),
    // ---- stack
    push: (i, m) => stackOp(i, m, { r32: B.pushR32, r: B.pushR, e: B.pushE, sreg: B.pushSreg, imm: B.pushI }),
    pop: (i, m) => stackOp(i, m, { r32: B.popR32, r: B.popR, e: B.popE, sreg: B.popSreg, imm: B.ud }),
    pushad: always(B.pusha), pushaw: always(B.pusha), popad: always(B.popa), popaw: always(B.popa),
    pushfd: always(B.pushf), pushfw: always(B.pushf), popfd: always(B.popf), popfw: always(B.popf),
    enter: always(B.enter), leave: always(B.leave),
    // ---- arithmetic and logic
    test: (i, m) => {
      if (m.form.modrm === 'r') return B.testEG;
      if (m.form.modrm === undefined) i.rm = 0; // AL/AX/EAX, imm
      return B.testEI;
    },
    not: always(B.notE), neg: always(B.negE), mul: always(B.mulE), div: always(B.divE), idiv: always(B.idivE),
    imul: (_i, m) => (m.form.operands.length === 1 ? B.imul1E : isImm(op(m, m.form.operands.length - 1)) ? B.imulGEI : B.imulGE),
    inc: (i, m) => (isPlusReg(m.form) ? (i.size === 4 ? B.incR32 : B.incR) : B.incE),
    dec: (i, m) => (isPlusReg(m.form) ? (i.size === 4 ? B.decR32 : B.decR) : B.decE),
    daa: always((cpu) => daa(cpu, false)), das: always((cpu) => daa(cpu, true)),
    aaa: always((cpu) => aaa(cpu, false)), aas: always((cpu) => aaa(cpu, true)),
    // `aam`/`aad` without an operand: the table's form has the base (0A) as a fixed trailing byte
    aam: (i, m) => { if (m.tail) i.imm = m.tail[0]; return aamOp; },
    aad: (i, m) => { if (m.tail) i.imm = m.tail[0]; return aadOp; },
    salc: always(salc),
    shld: (i, m) => { shiftCount(i, m); return B.shiftDoubleE; },
    shrd: (i, m) => { shiftCount(i, m); return B.shiftDoubleE; },
    'bit-test': (_i, m) => (m.form.modrm === 'r' ? B.btEG : B.btEI), // BT, BTS, BTR, BTC
    bsf: always(B.bsfG), bsr: always(B.bsrG),
    // ---- control transfer
    jmp: (_i, m) => controlTransfer(m, B.jmpRel, B.jmpE, B.jmpFar),
    call: (_i, m) => controlTransfer(m, B.callRel, B.callE, B.callFar),
    ret: always(B.ret), retf: always(B.retFar),
    loop: always(B.loop), loope: always(B.loop), loopne: always(B.loop), jecxz: always(B.loop), jcxz: always(B.loop),
    int: always(B.intN), int3: always(B.int3), int1: always(int1), into: always(B.into), bound: always(B.bound),
    iretd: always(B.iretOp), iretw: always(B.iretOp), ud2: always(B.ud),
    sysenter: always(Y.sysenterOp), sysexit: always(Y.sysexitOp), vmcall: always(vmcall),
    // ---- flags, conversions
    cli: always(B.cli), sti: always(B.sti), clc: always(B.clc), stc: always(B.stc), cmc: always(B.cmc),
    cld: always(B.cld), std: always(B.std), lahf: always(B.lahf), sahf: always(B.sahf),
    cbw: always(B.cbw), cwde: always(B.cbw), cwd: always(B.cwd), cdq: always(B.cwd),
    // ---- I/O (the port is the immediate, or DX: -1)
    in: (i, m) => { if (op(m, 1) === 'dx') i.imm = -1; return Y.inOp; },
    out: (i, m) => { if (op(m, 0) === 'dx') i.imm = -1; return Y.outOp; },
    // ---- system
    sgdt: always(Y.sgdtSidt), sidt: always(Y.sgdtSidt), lgdt: always(Y.lgdtLidt), lidt: always(Y.lgdtLidt),
    sldt: always(Y.sldt), str: always(Y.str), smsw: always(Y.smsw), lmsw: always(Y.lmsw),
    lldt: (i) => { i.size = 2; return Y.lldt; },
    ltr: (i) => { i.size = 2; return Y.ltr; },
    verr: (i) => { i.size = 2; return Y.verrVerw; },
    verw: (i) => { i.size = 2; return Y.verrVerw; },
    arpl: (i) => { i.size = 2; return Y.arpl; },
    lar: always(Y.lar), lsl: always(Y.lsl),
    clts: always(Y.clts), invlpg: always(Y.invlpg), invd: always(Y.cacheOp), wbinvd: always(Y.cacheOp), hlt: always(Y.hlt),
    rdmsr: always(Y.rdmsr), wrmsr: always(Y.wrmsr), rdpmc: always(Y.rdpmc), rdtsc: always(Y.rdtsc), cpuid: always(Y.cpuid),
    // ---- misc
    nop: always(B.nop), pause: always(B.nop), wait: always(fwaitExec),
    prefetchnta: always(B.nop), prefetcht0: always(B.nop), prefetcht1: always(B.nop), prefetcht2: always(B.nop),
    prefetch: always(B.nop), prefetchw: always(B.nop), prefetchwt1: always(B.nop),
    fxsave: always(fxsaveOp), fxrstor: always(fxrstorOp),
    // ---- the x87 escapes D8–DF execute from their ModRM in core/cpu/fpu; MMX/SSE raise #UD
    x87: always(fpuExec), simd: SIMD,
    // ---- families: one handler for the rows of every condition / shift operation
    jcc: always(B.jcc), setcc: always(B.setcc), cmovcc: always(B.cmovcc),
    shift: (i, m) => { shiftCount(i, m); return B.shiftE; },
  };
  ALU.forEach((name, aop) => {
    r[name] = (i, m) => {
      const f = m.form, mem = i.rm < 0;
      if (f.modrm === 'r') return f.rmOperand === 0 ? B.aluEG(aop, i.size, mem) : B.aluGE(aop, i.size, mem);
      if (f.modrm === undefined) { i.rm = 0; return B.aluEI(aop, i.size, false); } // AL/AX/EAX, imm
      return B.aluEI(aop, i.size, mem);
    };
  });
  for (const [prefix, exec] of [['movs', S.movs], ['cmps', S.cmps], ['stos', S.stos], ['lods', S.lods], ['scas', S.scas], ['ins', S.ins], ['outs', S.outs]] as const) {
    for (const suffix of ['b', 'w', 'd']) r[prefix + suffix] = (i) => { if (suffix === 'b') i.size = 1; return exec; };
  }
  // Far-pointer loads: the segment register they write (ES, SS, DS, FS, GS as numbered by the CPU)
  for (const [name, seg] of [['les', 0], ['lss', 2], ['lds', 3], ['lfs', 4], ['lgs', 5]] as const) {
    r[name] = (i) => { i.imm = seg; return B.loadFarPointer; };
  }
  return r;
}

/** MOVZX/MOVSX: the destination has the operand size; `imm` is the source size in bytes. */
function movExtend(i: Insn, m: FormMatch): ExecFn {
  i.size = i.operandSize === 32 ? 4 : 2;
  i.imm = op(m, 1) === 'rm8' ? 1 : 2;
  return B.movx;
}

function stackOp(i: Insn, m: FormMatch, e: { r32: ExecFn; r: ExecFn; e: ExecFn; sreg: ExecFn; imm: ExecFn }): ExecFn {
  const a = op(m, 0)!;
  const sreg = SREG_INDEX[a];
  if (sreg !== undefined) { i.reg = sreg; return e.sreg; }
  if (isImm(a)) return e.imm;
  if (isPlusReg(m.form)) return i.size === 4 ? e.r32 : e.r;
  return e.e;
}

function controlTransfer(m: FormMatch, rel: ExecFn, near: ExecFn, far: ExecFn): ExecFn {
  const a = op(m, 0);
  if (a === 'rel8' || a === 'rel32') return rel;
  if (a === 'far16:32') return far;
  if (a === 'm16:32') return B.farIndirect;
  return near;
}

/** The handler registered under the form's key (undefined: none, a table error dispatch.ts reports). */
export function semanticsOf(form: EncodingForm): Bind | undefined {
  REGISTRY ??= buildRegistry();
  return Object.hasOwn(REGISTRY, form.handler) ? REGISTRY[form.handler] : undefined;
}

/** Every key a handler is registered under. */
export function handlerKeys(): string[] {
  REGISTRY ??= buildRegistry();
  return Object.keys(REGISTRY);
}
