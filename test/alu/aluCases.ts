/*
 * Random ALU test cases for the differential test against the host CPU: one instruction each, with
 * random register values, a random memory dword and random initial arithmetic flags. Deterministic
 * (seeded), so a failure reproduces. Also emits the NASM source that runs every case and stores the
 * registers, the memory dword and EFLAGS after it, shared by the host (ELF32) and guest (flat) builds.
 */
import { CF, OF, AF, SF, ZF, PF } from '../../core/cpu/constants';

export interface AluCase {
  /** NASM text of the instruction under test. */
  insn: string;
  /** eax, ecx, edx, ebx, ebp, esi, edi (esp is the stack and is left alone). */
  regs: number[];
  mem: number;
  flags: number;
  /** EFLAGS bits whose value after the instruction is undefined (not compared). */
  undefinedFlags: number;
}

export const FLAG_BITS: Record<string, number> = { CF, OF, AF, SF, ZF, PF };
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** Register order of AluCase.regs and of the result record. */
export const CASE_REGS = ['eax', 'ecx', 'edx', 'ebx', 'ebp', 'esi', 'edi'];
/** Result record: 7 registers, the memory dword, EFLAGS. */
export const RECORD_DWORDS = 9;

/** xorshift32: small, fast, deterministic. */
export class Rng {
  constructor(private s: number) { if (!s) this.s = 1; }
  next(): number { let x = this.s; x ^= x << 13; x ^= x >>> 17; x ^= x << 5; this.s = x >>> 0; return this.s; }
  below(n: number): number { return this.next() % n; }
  pick<T>(a: readonly T[]): T { return a[this.below(a.length)]; }
}

const R32 = ['eax', 'ecx', 'edx', 'ebx', 'ebp', 'esi', 'edi'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'bp', 'si', 'di'];
const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const SPECIAL = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x80000001, 9, 0x99, 0x0f, 0x10];

function value(rng: Rng): number {
  switch (rng.below(4)) {
    case 0: return rng.pick(SPECIAL) >>> 0;
    case 1: return rng.below(256);
    case 2: return (rng.pick(SPECIAL) + rng.below(5) - 2) >>> 0;
    default: return rng.next();
  }
}
const hex = (v: number) => '0x' + (v >>> 0).toString(16);

type Gen = (rng: Rng) => { insn: string; undef?: string[]; fix?: (c: AluCase) => void };

const ALU2 = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp', 'test'];
const LOGIC = new Set(['or', 'and', 'xor', 'test']);
const SHIFTS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sar', 'sal'];

function regOfSize(rng: Rng, size: number): string { return size === 4 ? rng.pick(R32) : size === 2 ? rng.pick(R16) : rng.pick(R8); }
function sizeName(size: number): string { return size === 4 ? 'dword' : size === 2 ? 'word' : 'byte'; }
function randSize(rng: Rng): number { return [4, 4, 2, 1][rng.below(4)]; }

const GENERATORS: Array<[number, Gen]> = [
  [30, (rng) => { // ALU reg, reg / reg, imm / reg, mem / mem, reg
    const m = rng.pick(ALU2), size = randSize(rng), d = regOfSize(rng, size);
    const undef = LOGIC.has(m) ? ['AF'] : [];
    switch (rng.below(5)) {
      case 0: return { insn: `${m} ${d}, ${regOfSize(rng, size)}`, undef };
      case 1: return { insn: `${m} ${d}, ${hex(value(rng) & (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff))}`, undef };
      case 2: return m === 'test' ? { insn: `${m} [scratch], ${d}`, undef } : { insn: `${m} ${d}, [scratch]`, undef };
      case 3: return { insn: `${m} ${sizeName(size)} [scratch], ${hex(value(rng) & (size === 4 ? 0xffffffff : size === 2 ? 0xffff : 0xff))}`, undef };
      default: return { insn: `${m} [scratch], ${d}`, undef };
    }
  }],
  [6, (rng) => { // sign-extended imm8 forms
    const m = rng.pick(ALU2.filter((x) => x !== 'test')), size = rng.pick([4, 2]);
    const imm = rng.below(256) - 128;
    return { insn: `${m} ${regOfSize(rng, size)}, byte ${imm}`, undef: LOGIC.has(m) ? ['AF'] : [] };
  }],
  [8, (rng) => {
    const m = rng.pick(['inc', 'dec', 'neg', 'not']), size = randSize(rng);
    return { insn: rng.below(4) === 0 ? `${m} ${sizeName(size)} [scratch]` : `${m} ${regOfSize(rng, size)}` };
  }],
  [8, (rng) => {
    const m = rng.pick(['mul', 'imul']), size = randSize(rng);
    return { insn: rng.below(4) === 0 ? `${m} ${sizeName(size)} [scratch]` : `${m} ${regOfSize(rng, size)}`, undef: ['SF', 'ZF', 'AF', 'PF'] };
  }],
  [6, (rng) => {
    const size = rng.pick([4, 2]);
    const r = regOfSize(rng, size);
    switch (rng.below(3)) {
      case 0: return { insn: `imul ${r}, ${regOfSize(rng, size)}`, undef: ['SF', 'ZF', 'AF', 'PF'] };
      case 1: return { insn: `imul ${r}, ${regOfSize(rng, size)}, ${rng.below(256) - 128}`, undef: ['SF', 'ZF', 'AF', 'PF'] };
      default: return { insn: `imul ${r}, [scratch], ${hex(value(rng) & (size === 4 ? 0x7fffffff : 0x7fff))}`, undef: ['SF', 'ZF', 'AF', 'PF'] };
    }
  }],
  [8, (rng) => { // DIV/IDIV: operands chosen so that no #DE happens
    const m = rng.pick(['div', 'idiv']), size = randSize(rng);
    const src = rng.pick(size === 1 ? ['bl', 'cl', 'bh', 'ch'] : size === 2 ? ['bx', 'cx', 'si', 'di'] : ['ebx', 'ecx', 'esi', 'edi']);
    return {
      insn: `${m} ${src}`, undef: ['CF', 'OF', 'SF', 'ZF', 'AF', 'PF'],
      fix: (c) => fixDivision(c, m === 'idiv', size, src),
    };
  }],
  [16, (rng) => { // shifts and rotates by 1, imm8, CL
    const m = rng.pick(SHIFTS), size = randSize(rng), r = rng.below(5) === 0 ? `${sizeName(size)} [scratch]` : regOfSize(rng, size);
    const how = rng.below(3);
    const count = how === 0 ? 1 : rng.below(4) === 0 ? rng.below(256) : rng.below(34);
    const insn = how === 2 ? `${m} ${r}, cl` : `${m} ${r}, ${how === 0 ? 1 : count}`;
    return {
      insn,
      fix: (c) => {
        const cnt = insn.endsWith(', cl') ? c.regs[1] & 0xff : count;
        c.undefinedFlags = shiftUndefined(m, size, cnt);
      },
    };
  }],
  [6, (rng) => { // SHLD/SHRD
    const m = rng.pick(['shld', 'shrd']), size = rng.pick([4, 2]);
    const dst = rng.below(4) === 0 ? `${sizeName(size)} [scratch]` : regOfSize(rng, size);
    const src = regOfSize(rng, size);
    const useCl = rng.below(2) === 0 && !['cx', 'ecx'].includes(src);
    const count = size === 2 ? rng.below(17) : rng.below(32);
    return {
      insn: `${m} ${dst}, ${src}, ${useCl ? 'cl' : count}`,
      fix: (c) => {
        if (useCl) c.regs[1] = (c.regs[1] & ~0xff) | (size === 2 ? rng.below(17) : rng.below(40));
        const cnt = useCl ? (c.regs[1] & 31) : count;
        c.undefinedFlags = cnt === 0 ? 0 : AF | (cnt === 1 ? 0 : OF);
      },
    };
  }],
  [8, (rng) => { // BT family
    const m = rng.pick(['bt', 'bts', 'btr', 'btc']), size = rng.pick([4, 2]);
    switch (rng.below(3)) {
      case 0: return { insn: `${m} ${regOfSize(rng, size)}, ${regOfSize(rng, size)}`, undef: ['OF', 'SF', 'AF', 'PF'] };
      case 1: return { insn: `${m} ${regOfSize(rng, size)}, ${rng.below(256)}`, undef: ['OF', 'SF', 'AF', 'PF'] };
      default: return { insn: `${m} ${sizeName(size)} [scratch], ${rng.below(size * 8)}`, undef: ['OF', 'SF', 'AF', 'PF'] };
    }
  }],
  [5, (rng) => {
    const m = rng.pick(['bsf', 'bsr']), size = rng.pick([4, 2]);
    return { insn: `${m} ${regOfSize(rng, size)}, ${regOfSize(rng, size)}`, undef: ['CF', 'OF', 'SF', 'AF', 'PF'] };
  }],
  [6, (rng) => { // BCD adjustments
    const m = rng.pick(['daa', 'das', 'aaa', 'aas', 'aam', 'aad']);
    const undef = m === 'daa' || m === 'das' ? ['OF'] : m === 'aaa' || m === 'aas' ? ['OF', 'SF', 'ZF', 'PF'] : ['OF', 'AF', 'CF'];
    if (m === 'aam') return { insn: `aam ${1 + rng.below(255)}`, undef };
    if (m === 'aad') return { insn: `aad ${rng.below(256)}`, undef };
    return { insn: m, undef };
  }],
  [8, (rng) => { // data movement and conversions
    const size = rng.pick([4, 2]);
    switch (rng.below(9)) {
      case 0: return { insn: `movzx ${regOfSize(rng, size)}, ${rng.pick(R8)}` };
      case 1: return { insn: `movsx ${regOfSize(rng, size)}, ${rng.pick(R8)}` };
      case 2: return { insn: `movsx ${rng.pick(R32)}, ${rng.pick(R16)}` };
      case 3: return { insn: rng.pick(['cbw', 'cwde', 'cwd', 'cdq']) };
      case 4: return { insn: `bswap ${rng.pick(R32)}` };
      case 5: return { insn: `xchg ${regOfSize(rng, size)}, ${regOfSize(rng, size)}` };
      case 6: return { insn: `xadd ${regOfSize(rng, size)}, ${regOfSize(rng, size)}` };
      case 7: return { insn: `cmpxchg ${regOfSize(rng, size)}, ${regOfSize(rng, size)}` };
      default: return { insn: `lea ${rng.pick(R32)}, [${rng.pick(R32)} + ${rng.pick(R32)}*${rng.pick([1, 2, 4, 8])} + (${value(rng) | 0})]` };
    }
  }],
  [6, (rng) => { // condition codes
    const cc = rng.pick(['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g']);
    return rng.below(2) ? { insn: `set${cc} ${rng.pick(R8)}` } : { insn: `cmov${cc} ${rng.pick(R32)}, ${rng.pick(R32)}` };
  }],
  [3, (rng) => ({ insn: rng.pick(['clc', 'stc', 'cmc', 'sahf', 'lahf', 'salc_']) })],
];

function shiftUndefined(m: string, size: number, count: number): number {
  const c = count & 31;
  if (c === 0) return 0;
  let u = c === 1 ? 0 : OF;
  if (m === 'shl' || m === 'sal' || m === 'shr' || m === 'sar') u |= AF;
  // 8/16-bit SHL/SHR/SAR with a count of at least the width: CF is undefined (SDM).
  if ((m === 'shl' || m === 'sal' || m === 'shr') && c >= size * 8) u |= CF;
  return u;
}

/** Makes a division well defined: divisor ≠ 0 and a quotient that fits. */
function fixDivision(c: AluCase, signed: boolean, size: number, src: string): void {
  const r = c.regs;
  const where: Record<string, [number, boolean]> = {
    bl: [3, false], cl: [1, false], bh: [3, true], ch: [1, true], bx: [3, false], cx: [1, false], si: [5, false], di: [6, false],
    ebx: [3, false], ecx: [1, false], esi: [5, false], edi: [6, false],
  };
  const [idx, high8] = where[src];
  const get = () => (size === 4 ? r[idx] : size === 2 ? r[idx] & 0xffff : high8 ? (r[idx] >> 8) & 0xff : r[idx] & 0xff);
  const set = (v: number) => {
    if (size === 4) r[idx] = v >>> 0;
    else if (size === 2) r[idx] = ((r[idx] & ~0xffff) | (v & 0xffff)) >>> 0;
    else if (high8) r[idx] = ((r[idx] & ~0xff00) | ((v & 0xff) << 8)) >>> 0;
    else r[idx] = ((r[idx] & ~0xff) | (v & 0xff)) >>> 0;
  };
  const bits = size * 8, mask = size === 4 ? 0xffffffff : (1 << bits) - 1;
  let d = get();
  if (d === 0) { set(3); d = 3; }
  if (signed) {
    let sd = d >= 2 ** (bits - 1) ? d - 2 ** bits : d;
    if (sd === -1) { set(7); sd = 7; }
    // Dividend = a small multiple of the divisor plus a remainder, sign-extended into the high half.
    const q = Math.floor((c.mem % 200) - 100);
    const rem = Math.abs(sd) > 1 ? (c.mem >>> 8) % Math.abs(sd) : 0;
    const dividend = q * sd + (q * sd < 0 ? -rem : rem);
    setDividend(r, size, dividend);
  } else {
    const q = c.mem % (mask + 1 > 2 ** 31 ? 0x7fffffff : mask + 1);
    const rem = (c.mem >>> 3) % d;
    const dividend = BigInt(Math.min(q, mask)) * BigInt(d) + BigInt(rem);
    setDividendBig(r, size, dividend);
  }
}
function setDividend(r: number[], size: number, v: number): void {
  if (size === 1) r[0] = ((r[0] & ~0xffff) | (v & 0xffff)) >>> 0;
  else if (size === 2) { r[0] = ((r[0] & ~0xffff) | (v & 0xffff)) >>> 0; r[2] = ((r[2] & ~0xffff) | ((v >> 16) & 0xffff)) >>> 0; }
  else { const b = BigInt.asUintN(64, BigInt(v)); r[0] = Number(b & 0xffffffffn); r[2] = Number(b >> 32n); }
}
function setDividendBig(r: number[], size: number, v: bigint): void {
  if (size === 1) r[0] = ((r[0] & ~0xffff) | Number(v & 0xffffn)) >>> 0;
  else if (size === 2) { r[0] = ((r[0] & ~0xffff) | Number(v & 0xffffn)) >>> 0; r[2] = ((r[2] & ~0xffff) | Number((v >> 16n) & 0xffffn)) >>> 0; }
  else { r[0] = Number(v & 0xffffffffn); r[2] = Number((v >> 32n) & 0xffffffffn); }
}

export function generateCases(count: number, seed: number): AluCase[] {
  const rng = new Rng(seed);
  const total = GENERATORS.reduce((s, [w]) => s + w, 0);
  const cases: AluCase[] = [];
  while (cases.length < count) {
    let pick = rng.below(total), gen: Gen = GENERATORS[0][1];
    for (const [w, g] of GENERATORS) { if (pick < w) { gen = g; break; } pick -= w; }
    const g = gen(rng);
    const c: AluCase = {
      insn: g.insn,
      regs: R32.map(() => value(rng)),
      mem: value(rng),
      flags: rng.next() & ARITH,
      undefinedFlags: (g.undef ?? []).reduce((m, f) => m | FLAG_BITS[f], 0),
    };
    g.fix?.(c);
    cases.push(c);
  }
  return cases;
}

/** Instructions that do not exist in 64-bit mode (#UD there): compared with the recorded table instead. */
export const LEGACY_ONLY = new Set(['daa', 'das', 'aaa', 'aas', 'aam', 'aad', 'salc_']);
export const isLegacyOnly = (c: AluCase): boolean => LEGACY_ONLY.has(c.insn.split(' ')[0]);

/**
 * Where the case runner runs:
 * - `guest`: a flat image at 1 MiB for Popek that stores the records at RESULTS and exits through
 *   isa-debug-exit; it runs the cases twice, the second time as compiled blocks (jitThreshold 1);
 * - `host32`: an ELF32 Linux program (nasm -f elf32, ld -m elf_i386) writing the records to stdout;
 * - `host64`: an ELF64 Linux program doing the same with the same 8/16/32-bit operands, for hosts whose
 *   kernel refuses 32-bit executables. Instructions that are invalid in 64-bit mode (LEGACY_ONLY) are
 *   left out there, and their records stay zero.
 */
export type CaseTarget = 'guest' | 'host32' | 'host64';

/** NASM source of the case runner for one target (every target has the same record layout). */
export function caseSource(cases: AluCase[], target: CaseTarget = 'guest'): string {
  const out: string[] = [];
  const records = cases.length * RECORD_DWORDS;
  if (target === 'guest') {
    out.push('bits 32', 'org 0x100000', 'results equ 0x400000', 'scratch equ 0x3ff000',
      '    mov esp, 0x90000', '    call cases', '    call cases', '    mov al, 0', '    out 0xf4, al', '    hlt');
  } else {
    out.push(target === 'host64' ? 'bits 64\ndefault abs' : 'bits 32', 'global _start', 'section .bss', 'alignb 8',
      `results: resd ${records}`, 'scratch: resd 2', 'section .text', '_start:', '    call cases');
    if (target === 'host32') {
      out.push('    mov ecx, results', `    mov esi, ${records * 4}`,
        '.write: mov eax, 4', '    mov ebx, 1', '    mov edx, esi', '    int 0x80', '    test eax, eax', '    jle .done',
        '    add ecx, eax', '    sub esi, eax', '    jnz .write', '.done: mov eax, 1', '    xor ebx, ebx', '    int 0x80');
    } else {
      out.push('    mov rsi, results', `    mov r12, ${records * 4}`,
        '.write: mov eax, 1', '    mov edi, 1', '    mov rdx, r12', '    syscall', '    test rax, rax', '    jle .done',
        '    add rsi, rax', '    sub r12, rax', '    jnz .write', '.done: mov eax, 60', '    xor edi, edi', '    syscall');
    }
  }
  // The flags image goes through the stack; its width is the mode's.
  const [pushImm, popf, pushf] = target === 'host64' ? ['push qword', 'popfq', 'pushfq'] : ['push dword', 'popfd', 'pushfd'];
  out.push('%define salc_ db 0xd6', 'cases:');
  cases.forEach((c, k) => {
    if (target === 'host64' && isLegacyOnly(c)) return;
    const base = `results + ${k * RECORD_DWORDS * 4}`;
    out.push(`    mov dword [scratch], ${hex(c.mem)}`);
    out.push(`    ${pushImm} ${hex(c.flags | 0x202)}`, `    ${popf}`);
    CASE_REGS.forEach((r, i) => out.push(`    mov ${r}, ${hex(c.regs[i])}`));
    out.push(`    ${c.insn}`);
    out.push(`    ${pushf}`);
    CASE_REGS.forEach((r, i) => out.push(`    mov [${base} + ${i * 4}], ${r}`));
    // Pop the flags through EAX (already stored): a 64-bit pop to memory would write 8 bytes.
    out.push(`    mov eax, [scratch]`, `    mov [${base} + 28], eax`, `    pop ${target === 'host64' ? 'rax' : 'eax'}`, `    mov [${base} + 32], eax`);
  });
  out.push('    ret', '');
  return out.join('\n');
}
