import type { EncodingForm, InstructionInfo, VirtFacts } from './types';
const TABLE: InstructionInfo[] = [];
const BY_NAME = new Map<string, InstructionInfo>();
/** The entry for an Intel mnemonic or alias (case-insensitive), or undefined. */
export function instructionInfo(mnemonic: string): InstructionInfo | undefined { return BY_NAME.get(mnemonic.toLowerCase()); }
/** Every entry, in table order. */
export function allInstructions(): readonly InstructionInfo[] { return TABLE; }
/** The entry for an AT&T spelling ('popfl', 'ljmp', 'movzbl' …) with the operand size its suffix implies. */
export function attInstructionInfo(spelling: string): { info: InstructionInfo; size?: 8 | 16 | 32 | 64; far?: boolean } | undefined { void spelling; return undefined; }
/** Virtualization facts of a mnemonic, or of one of its forms (a form's overrides win). */
export function virtFactsFor(info: InstructionInfo, form?: EncodingForm): VirtFacts { return form?.virt ? { ...info.virt, ...form.virt } : info.virt; }
