/* x86 register names (32-bit protected mode: general, segment, control, debug, x87, MMX, XMM) and their encodings. */
export type RegKind = 'gpr' | 'sreg' | 'cr' | 'dr' | 'fpu' | 'mmx' | 'xmm';
export interface RegInfo { name: string; kind: RegKind; size: 8 | 16 | 32 | 64 | 80 | 128; num: number }

const TABLE = new Map<string, RegInfo>();
const add = (names: string[], kind: RegKind, size: RegInfo['size']) => names.forEach((name, num) => { if (name) TABLE.set(name, { name, kind, size, num }); });
add(['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'], 'gpr', 8);
add(['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'], 'gpr', 16);
add(['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'], 'gpr', 32);
add(['es', 'cs', 'ss', 'ds', 'fs', 'gs'], 'sreg', 16);
add(['cr0', '', 'cr2', 'cr3', 'cr4'], 'cr', 32);
add(['dr0', 'dr1', 'dr2', 'dr3', '', '', 'dr6', 'dr7'], 'dr', 32);
add(['st0', 'st1', 'st2', 'st3', 'st4', 'st5', 'st6', 'st7'], 'fpu', 80);
add(['mm0', 'mm1', 'mm2', 'mm3', 'mm4', 'mm5', 'mm6', 'mm7'], 'mmx', 64);
add(['xmm0', 'xmm1', 'xmm2', 'xmm3', 'xmm4', 'xmm5', 'xmm6', 'xmm7'], 'xmm', 128);

export function register(name: string): RegInfo | undefined { return TABLE.get(name); }
export function isRegister(name: string): boolean { return TABLE.has(name); }
export const GPR32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
export const GPR16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
export const GPR8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
export const SREGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
export const SEG_PREFIX: Readonly<Record<string, number>> = Object.assign(Object.create(null), { es: 0x26, cs: 0x2e, ss: 0x36, ds: 0x3e, fs: 0x64, gs: 0x65 });
