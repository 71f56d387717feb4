/* x86 register names (32-bit protected mode) and their encodings. */
export type RegKind = 'gpr' | 'sreg' | 'cr' | 'dr';
export interface RegInfo { name: string; kind: RegKind; size: 8 | 16 | 32; num: number }

const TABLE = new Map<string, RegInfo>();
const add = (names: string[], kind: RegKind, size: 8 | 16 | 32) => names.forEach((name, num) => { if (name) TABLE.set(name, { name, kind, size, num }); });
add(['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'], 'gpr', 8);
add(['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'], 'gpr', 16);
add(['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'], 'gpr', 32);
add(['es', 'cs', 'ss', 'ds', 'fs', 'gs'], 'sreg', 16);
add(['cr0', '', 'cr2', 'cr3', 'cr4'], 'cr', 32);
add(['dr0', 'dr1', 'dr2', 'dr3', '', '', 'dr6', 'dr7'], 'dr', 32);

export function register(name: string): RegInfo | undefined { return TABLE.get(name); }
export function isRegister(name: string): boolean { return TABLE.has(name); }
export const GPR32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
export const GPR16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
export const GPR8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
export const SREGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
export const SEG_PREFIX: Readonly<Record<string, number>> = Object.assign(Object.create(null), { es: 0x26, cs: 0x2e, ss: 0x36, ds: 0x3e, fs: 0x64, gs: 0x65 });
