/*
 * MMX, SSE and SSE2 rows of the instruction table (same `def` format as table.ts, which calls
 * `defineSimd`). Popek decodes, assembles, disassembles and lints them; executing one raises #UD
 * (CPUID reports neither MMX nor SSE). Encodings follow NASM's insns.dat: `mp=66`/`mp=f3`/`mp=f2`
 * are the mandatory prefixes that select the packed-double, scalar-single and scalar-double
 * variants (and the 128-bit integer forms); a SIMD form matches only with exactly its prefix.
 * MOVSD and CMPSD share their names with the string instructions: their SSE2 forms are added to
 * those rows (`more`).
 */
import type { Category, InstructionInfo, VirtFacts } from './types';
import type { DefFn } from './x87';

const h = (n: number) => n.toString(16).padStart(2, '0');

export function defineSimd(def: DefFn, more: (mnemonic: string, forms: string[]) => void, facts: VirtFacts): void {
  const cat: Category = 'simd';
  const s = (m: string, desc: string, forms: string[], flags = ''): InstructionInfo => def(m, cat, desc, flags, facts, forms);

  // ---- MMX, and the SSE2 forms of the same opcodes on XMM registers (66 prefix)
  const INT: Array<[string, number, string, boolean?]> = [
    ['punpcklbw', 0x60, 'Interleaves the low bytes'], ['punpcklwd', 0x61, 'Interleaves the low words'], ['punpckldq', 0x62, 'Interleaves the low dwords'],
    ['packsswb', 0x63, 'Packs words to bytes with signed saturation'], ['pcmpgtb', 0x64, 'Compares bytes for signed greater-than'], ['pcmpgtw', 0x65, 'Compares words for signed greater-than'],
    ['pcmpgtd', 0x66, 'Compares dwords for signed greater-than'], ['packuswb', 0x67, 'Packs words to bytes with unsigned saturation'], ['punpckhbw', 0x68, 'Interleaves the high bytes'],
    ['punpckhwd', 0x69, 'Interleaves the high words'], ['punpckhdq', 0x6a, 'Interleaves the high dwords'], ['packssdw', 0x6b, 'Packs dwords to words with signed saturation'],
    ['pcmpeqb', 0x74, 'Compares bytes for equality'], ['pcmpeqw', 0x75, 'Compares words for equality'], ['pcmpeqd', 0x76, 'Compares dwords for equality'],
    ['psrlw', 0xd1, 'Shifts words right logically'], ['psrld', 0xd2, 'Shifts dwords right logically'], ['psrlq', 0xd3, 'Shifts qwords right logically'],
    ['paddq', 0xd4, 'Adds qwords'], ['pmullw', 0xd5, 'Multiplies words, keeping the low halves'], ['psubusb', 0xd8, 'Subtracts bytes with unsigned saturation'],
    ['psubusw', 0xd9, 'Subtracts words with unsigned saturation'], ['pminub', 0xda, 'Unsigned byte minimum'], ['pand', 0xdb, 'Bitwise AND'],
    ['paddusb', 0xdc, 'Adds bytes with unsigned saturation'], ['paddusw', 0xdd, 'Adds words with unsigned saturation'], ['pmaxub', 0xde, 'Unsigned byte maximum'],
    ['pandn', 0xdf, 'Bitwise AND NOT'], ['pavgb', 0xe0, 'Rounded unsigned byte average'], ['psraw', 0xe1, 'Shifts words right arithmetically'],
    ['psrad', 0xe2, 'Shifts dwords right arithmetically'], ['pavgw', 0xe3, 'Rounded unsigned word average'], ['pmulhuw', 0xe4, 'Multiplies unsigned words, keeping the high halves'],
    ['pmulhw', 0xe5, 'Multiplies signed words, keeping the high halves'], ['psubsb', 0xe8, 'Subtracts bytes with signed saturation'], ['psubsw', 0xe9, 'Subtracts words with signed saturation'],
    ['pminsw', 0xea, 'Signed word minimum'], ['por', 0xeb, 'Bitwise OR'], ['paddsb', 0xec, 'Adds bytes with signed saturation'],
    ['paddsw', 0xed, 'Adds words with signed saturation'], ['pmaxsw', 0xee, 'Signed word maximum'], ['pxor', 0xef, 'Bitwise exclusive OR'],
    ['psllw', 0xf1, 'Shifts words left'], ['pslld', 0xf2, 'Shifts dwords left'], ['psllq', 0xf3, 'Shifts qwords left'],
    ['pmuludq', 0xf4, 'Multiplies the unsigned low dwords into qwords'], ['pmaddwd', 0xf5, 'Multiplies words and adds adjacent products'], ['psadbw', 0xf6, 'Sums absolute byte differences'],
    ['psubb', 0xf8, 'Subtracts bytes'], ['psubw', 0xf9, 'Subtracts words'], ['psubd', 0xfa, 'Subtracts dwords'], ['psubq', 0xfb, 'Subtracts qwords'],
    ['paddb', 0xfc, 'Adds bytes'], ['paddw', 0xfd, 'Adds words'], ['paddd', 0xfe, 'Adds dwords'],
  ];
  const SHIFT_IMM: Record<string, [number, number]> = { psrlw: [0x71, 2], psraw: [0x71, 4], psllw: [0x71, 6], psrld: [0x72, 2], psrad: [0x72, 4], pslld: [0x72, 6], psrlq: [0x73, 2], psllq: [0x73, 6] };
  for (const [m, op, what] of INT) {
    const forms = [`mm,mm/m64: 0f ${h(op)} /r`, `xmm,xmm/m128: mp=66 0f ${h(op)} /r`];
    const imm = SHIFT_IMM[m];
    if (imm) forms.push(`mm,imm8: 0f ${h(imm[0])} /${imm[1]} ib`, `xmm,imm8: mp=66 0f ${h(imm[0])} /${imm[1]} ib`);
    s(m, `${what} (MMX on mm registers, SSE2 on xmm registers).`, forms);
  }
  s('punpcklqdq', 'Interleaves the low qwords (SSE2).', ['xmm,xmm/m128: mp=66 0f 6c /r']);
  s('punpckhqdq', 'Interleaves the high qwords (SSE2).', ['xmm,xmm/m128: mp=66 0f 6d /r']);
  s('psrldq', 'Shifts the whole register right by imm8 bytes (SSE2).', ['xmm,imm8: mp=66 0f 73 /3 ib']);
  s('pslldq', 'Shifts the whole register left by imm8 bytes (SSE2).', ['xmm,imm8: mp=66 0f 73 /7 ib']);
  s('movd', 'Copies a dword between a general register or memory and an MMX/XMM register (zero-extending into it).', [
    'mm,rm32: 0f 6e /r', 'rm32,mm: 0f 7e /r', 'xmm,rm32: mp=66 0f 6e /r', 'rm32,xmm: mp=66 0f 7e /r',
  ]);
  s('movq', 'Copies a qword between MMX/XMM registers and memory.', [
    'mm,mm/m64: 0f 6f /r', 'mm/m64,mm: 0f 7f /r', 'xmm,xmm/m64: mp=f3 0f 7e /r', 'xmm/m64,xmm: mp=66 0f d6 /r',
  ]);
  s('movdqa', 'Copies 128 bits, memory aligned to 16 (SSE2).', ['xmm,xmm/m128: mp=66 0f 6f /r', 'xmm/m128,xmm: mp=66 0f 7f /r']);
  s('movdqu', 'Copies 128 bits, unaligned (SSE2).', ['xmm,xmm/m128: mp=f3 0f 6f /r', 'xmm/m128,xmm: mp=f3 0f 7f /r']);
  s('movdq2q', 'Copies the low qword of an xmm register to an mm register (SSE2).', ['mm,xmm: mp=f2 0f d6 /r']);
  s('movq2dq', 'Copies an mm register to the low qword of an xmm register (SSE2).', ['xmm,mm: mp=f3 0f d6 /r']);
  s('pshufw', 'Shuffles words by the imm8 selector (SSE on MMX).', ['mm,mm/m64,imm8: 0f 70 /r ib']);
  s('pshufd', 'Shuffles dwords by the imm8 selector (SSE2).', ['xmm,xmm/m128,imm8: mp=66 0f 70 /r ib']);
  s('pshufhw', 'Shuffles the high words by the imm8 selector (SSE2).', ['xmm,xmm/m128,imm8: mp=f3 0f 70 /r ib']);
  s('pshuflw', 'Shuffles the low words by the imm8 selector (SSE2).', ['xmm,xmm/m128,imm8: mp=f2 0f 70 /r ib']);
  s('pinsrw', 'Inserts a word at the imm8 position.', ['mm,r32,imm8: 0f c4 /r ib', 'mm,m16,imm8: 0f c4 /r ib', 'xmm,r32,imm8: mp=66 0f c4 /r ib', 'xmm,m16,imm8: mp=66 0f c4 /r ib']);
  s('pextrw', 'Extracts the word at the imm8 position into a general register.', ['r32,mm,imm8: 0f c5 /r ib', 'r32,xmm,imm8: mp=66 0f c5 /r ib']);
  s('pmovmskb', 'Gathers the byte sign bits into a general register.', ['r32,mm: 0f d7 /r', 'r32,xmm: mp=66 0f d7 /r']);
  s('movntq', 'Stores an mm register bypassing the caches.', ['m64,mm: 0f e7 /r']);
  s('movntdq', 'Stores an xmm register bypassing the caches (SSE2).', ['m128,xmm: mp=66 0f e7 /r']);
  s('maskmovq', 'Stores the bytes of mm selected by the mask register to [EDI].', ['mm,mm: 0f f7 /r']);
  s('maskmovdqu', 'Stores the bytes of xmm selected by the mask register to [EDI] (SSE2).', ['xmm,xmm: mp=66 0f f7 /r']);
  s('emms', 'Empties the MMX state (tags every x87 register empty).', [': 0f 77']);

  // ---- SSE / SSE2 floating point: packed single (no prefix), scalar single (f3), packed double (66), scalar double (f2)
  const FP: Array<[string, number, string, string]> = [
    ['sqrt', 0x51, 'psd', 'Square root'], ['add', 0x58, 'psd', 'Adds'], ['mul', 0x59, 'psd', 'Multiplies'], ['sub', 0x5c, 'psd', 'Subtracts'],
    ['min', 0x5d, 'psd', 'Minimum'], ['div', 0x5e, 'psd', 'Divides'], ['max', 0x5f, 'psd', 'Maximum'],
    ['rsqrt', 0x52, 's', 'Approximate reciprocal square root'], ['rcp', 0x53, 's', 'Approximate reciprocal'],
    ['and', 0x54, 'p', 'Bitwise AND'], ['andn', 0x55, 'p', 'Bitwise AND NOT'], ['or', 0x56, 'p', 'Bitwise OR'], ['xor', 0x57, 'p', 'Bitwise exclusive OR'],
    ['unpckl', 0x14, 'p', 'Interleaves the low elements'], ['unpckh', 0x15, 'p', 'Interleaves the high elements'],
  ];
  for (const [m, op, kinds, what] of FP) {
    const o = h(op);
    s(m + 'ps', `${what}, packed single precision (SSE).`, [`xmm,xmm/m128: 0f ${o} /r`]);
    if (kinds !== 'p') s(m + 'ss', `${what}, scalar single precision (SSE).`, [`xmm,xmm/m32: mp=f3 0f ${o} /r`]);
    if (kinds !== 's') s(m + 'pd', `${what}, packed double precision (SSE2).`, [`xmm,xmm/m128: mp=66 0f ${o} /r`]);
    if (kinds === 'psd') s(m + 'sd', `${what}, scalar double precision (SSE2).`, [`xmm,xmm/m64: mp=f2 0f ${o} /r`]);
  }
  s('movups', 'Copies 4 singles, unaligned (SSE).', ['xmm,xmm/m128: 0f 10 /r', 'xmm/m128,xmm: 0f 11 /r']);
  s('movss', 'Copies a scalar single (SSE).', ['xmm,xmm/m32: mp=f3 0f 10 /r', 'xmm/m32,xmm: mp=f3 0f 11 /r']);
  s('movupd', 'Copies 2 doubles, unaligned (SSE2).', ['xmm,xmm/m128: mp=66 0f 10 /r', 'xmm/m128,xmm: mp=66 0f 11 /r']);
  more('movsd', ['xmm,xmm/m64: mp=f2 0f 10 /r', 'xmm/m64,xmm: mp=f2 0f 11 /r']);
  s('movaps', 'Copies 4 singles, memory aligned to 16 (SSE).', ['xmm,xmm/m128: 0f 28 /r', 'xmm/m128,xmm: 0f 29 /r']);
  s('movapd', 'Copies 2 doubles, memory aligned to 16 (SSE2).', ['xmm,xmm/m128: mp=66 0f 28 /r', 'xmm/m128,xmm: mp=66 0f 29 /r']);
  s('movlps', 'Copies the low 2 singles between memory and an xmm register (SSE).', ['xmm,m64: 0f 12 /r', 'm64,xmm: 0f 13 /r']);
  s('movhlps', 'Copies the high qword of the source to the low qword of the destination (SSE).', ['xmm,xmm: 0f 12 /r']);
  s('movhps', 'Copies the high 2 singles between memory and an xmm register (SSE).', ['xmm,m64: 0f 16 /r', 'm64,xmm: 0f 17 /r']);
  s('movlhps', 'Copies the low qword of the source to the high qword of the destination (SSE).', ['xmm,xmm: 0f 16 /r']);
  s('movlpd', 'Copies the low double between memory and an xmm register (SSE2).', ['xmm,m64: mp=66 0f 12 /r', 'm64,xmm: mp=66 0f 13 /r']);
  s('movhpd', 'Copies the high double between memory and an xmm register (SSE2).', ['xmm,m64: mp=66 0f 16 /r', 'm64,xmm: mp=66 0f 17 /r']);
  s('movmskps', 'Gathers the 4 single sign bits into a general register (SSE).', ['r32,xmm: 0f 50 /r']);
  s('movmskpd', 'Gathers the 2 double sign bits into a general register (SSE2).', ['r32,xmm: mp=66 0f 50 /r']);
  s('movntps', 'Stores 4 singles bypassing the caches (SSE).', ['m128,xmm: 0f 2b /r']);
  s('movntpd', 'Stores 2 doubles bypassing the caches (SSE2).', ['m128,xmm: mp=66 0f 2b /r']);
  s('movnti', 'Stores a general register bypassing the caches (SSE2).', ['m32,r32: 0f c3 /r']);
  s('comiss', 'Compares scalar singles into ZF, PF, CF (SSE).', ['xmm,xmm/m32: 0f 2f /r'], 'w:ZF,PF,CF');
  s('ucomiss', 'Unordered compare of scalar singles into ZF, PF, CF (SSE).', ['xmm,xmm/m32: 0f 2e /r'], 'w:ZF,PF,CF');
  s('comisd', 'Compares scalar doubles into ZF, PF, CF (SSE2).', ['xmm,xmm/m64: mp=66 0f 2f /r'], 'w:ZF,PF,CF');
  s('ucomisd', 'Unordered compare of scalar doubles into ZF, PF, CF (SSE2).', ['xmm,xmm/m64: mp=66 0f 2e /r'], 'w:ZF,PF,CF');
  s('cmpps', 'Compares packed singles by the imm8 predicate into masks (SSE).', ['xmm,xmm/m128,imm8: 0f c2 /r ib']);
  s('cmpss', 'Compares scalar singles by the imm8 predicate into a mask (SSE).', ['xmm,xmm/m32,imm8: mp=f3 0f c2 /r ib']);
  s('cmppd', 'Compares packed doubles by the imm8 predicate into masks (SSE2).', ['xmm,xmm/m128,imm8: mp=66 0f c2 /r ib']);
  more('cmpsd', ['xmm,xmm/m64,imm8: mp=f2 0f c2 /r ib']);
  s('shufps', 'Shuffles singles of both operands by the imm8 selector (SSE).', ['xmm,xmm/m128,imm8: 0f c6 /r ib']);
  s('shufpd', 'Shuffles doubles of both operands by the imm8 selector (SSE2).', ['xmm,xmm/m128,imm8: mp=66 0f c6 /r ib']);
  // conversions
  const CVT: Array<[string, string, string]> = [
    ['cvtpi2ps', 'xmm,mm/m64: 0f 2a /r', 'Converts 2 dword integers to singles (SSE).'],
    ['cvtsi2ss', 'xmm,rm32: mp=f3 0f 2a /r', 'Converts a dword integer to a single (SSE).'],
    ['cvtpi2pd', 'xmm,mm/m64: mp=66 0f 2a /r', 'Converts 2 dword integers to doubles (SSE2).'],
    ['cvtsi2sd', 'xmm,rm32: mp=f2 0f 2a /r', 'Converts a dword integer to a double (SSE2).'],
    ['cvttps2pi', 'mm,xmm/m64: 0f 2c /r', 'Converts 2 singles to dword integers, truncating (SSE).'],
    ['cvttss2si', 'r32,xmm/m32: mp=f3 0f 2c /r', 'Converts a single to a dword integer, truncating (SSE).'],
    ['cvttpd2pi', 'mm,xmm/m128: mp=66 0f 2c /r', 'Converts 2 doubles to dword integers, truncating (SSE2).'],
    ['cvttsd2si', 'r32,xmm/m64: mp=f2 0f 2c /r', 'Converts a double to a dword integer, truncating (SSE2).'],
    ['cvtps2pi', 'mm,xmm/m64: 0f 2d /r', 'Converts 2 singles to dword integers (SSE).'],
    ['cvtss2si', 'r32,xmm/m32: mp=f3 0f 2d /r', 'Converts a single to a dword integer (SSE).'],
    ['cvtpd2pi', 'mm,xmm/m128: mp=66 0f 2d /r', 'Converts 2 doubles to dword integers (SSE2).'],
    ['cvtsd2si', 'r32,xmm/m64: mp=f2 0f 2d /r', 'Converts a double to a dword integer (SSE2).'],
    ['cvtps2pd', 'xmm,xmm/m64: 0f 5a /r', 'Converts 2 singles to doubles (SSE2).'],
    ['cvtss2sd', 'xmm,xmm/m32: mp=f3 0f 5a /r', 'Converts a single to a double (SSE2).'],
    ['cvtpd2ps', 'xmm,xmm/m128: mp=66 0f 5a /r', 'Converts 2 doubles to singles (SSE2).'],
    ['cvtsd2ss', 'xmm,xmm/m64: mp=f2 0f 5a /r', 'Converts a double to a single (SSE2).'],
    ['cvtdq2ps', 'xmm,xmm/m128: 0f 5b /r', 'Converts 4 dword integers to singles (SSE2).'],
    ['cvttps2dq', 'xmm,xmm/m128: mp=f3 0f 5b /r', 'Converts 4 singles to dword integers, truncating (SSE2).'],
    ['cvtps2dq', 'xmm,xmm/m128: mp=66 0f 5b /r', 'Converts 4 singles to dword integers (SSE2).'],
    ['cvttpd2dq', 'xmm,xmm/m128: mp=66 0f e6 /r', 'Converts 2 doubles to dword integers, truncating (SSE2).'],
    ['cvtdq2pd', 'xmm,xmm/m64: mp=f3 0f e6 /r', 'Converts 2 dword integers to doubles (SSE2).'],
    ['cvtpd2dq', 'xmm,xmm/m128: mp=f2 0f e6 /r', 'Converts 2 doubles to dword integers (SSE2).'],
  ];
  for (const [m, form, desc] of CVT) s(m, desc, [form]);
  // state, ordering and cache control (0F AE group)
  // FXSAVE/FXRSTOR execute (the x87 state; CPUID.FXSR): their own handlers, not #UD
  def('fxsave', cat, 'Stores the x87, MMX and SSE state (512 bytes).', '', facts, ['m: 0f ae /0'], { handler: 'fxsave' });
  def('fxrstor', cat, 'Loads the x87, MMX and SSE state (512 bytes).', '', facts, ['m: 0f ae /1'], { handler: 'fxrstor' });
  s('ldmxcsr', 'Loads MXCSR from memory (SSE).', ['m32: 0f ae /2']);
  s('stmxcsr', 'Stores MXCSR to memory (SSE).', ['m32: 0f ae /3']);
  s('clflush', 'Writes back and invalidates the cache line holding the operand (SSE2).', ['m: 0f ae /7']);
  // the fences: ModRM.rm is ignored (e8–ef, f0–f7, f8–ff); the assemblers emit rm = 0
  const fence = (m: string, base: number, desc: string) => s(m, desc, [`: 0f ae ${h(base)}`, ...[1, 2, 3, 4, 5, 6, 7].map((r) => `: 0f ae ${h(base + r)} !d`)]);
  fence('lfence', 0xe8, 'Orders loads (SSE2).');
  fence('mfence', 0xf0, 'Orders loads and stores (SSE2).');
  fence('sfence', 0xf8, 'Orders stores (SSE).');
}
