/*
 * Generates NASM source lines from the ISA table: every assembler form with operands cycling
 * through registers of every size, every 32-bit addressing mode (SIB, disp8/disp32, no base,
 * ESP/EBP special cases, segment overrides), immediates at the sbyte edges, near/short branch
 * targets, plus rep/lock prefixed lines. Used by the differential test and the benchmark.
 */
import { allInstructions } from '../../core/isa/table';
import type { EncodingForm, InstructionInfo, OperandPattern } from '../../core/isa/types';

const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const MM = ['mm0', 'mm1', 'mm2', 'mm3', 'mm4', 'mm5', 'mm6', 'mm7'];
const XMM = ['xmm0', 'xmm1', 'xmm2', 'xmm3', 'xmm4', 'xmm5', 'xmm6', 'xmm7'];

/** Every 32-bit addressing mode shape, with the special cases. */
export const MEMORY_OPERANDS = [
  '[eax]', '[ecx]', '[edx]', '[ebx]', '[esp]', '[ebp]', '[esi]', '[edi]',
  '[eax+0x10]', '[ebp-4]', '[esp+8]', '[esi+0x12345]', '[0x12345678]', '[0x10]',
  '[eax+ebx]', '[ebx+ecx*2]', '[edx+esi*4+0x10]', '[ebp+edi*8-0x80]', '[esp+eax]', '[eax*4+0x1000]',
  '[ecx*8]', '[ebx*2]', '[eax*3]', '[ebp+eax*1]', '[edi+0x7f]', '[edi+0x80]', '[esi-0x81]', '[esp+0x100]',
  '[ebp+0x12345678]', '[ecx+edx*4-0x7fffffff]', '[eax*1]', '[esi*2+0x20]', '[edi*5]', '[eax+eax]',
  '[es:edi]', '[fs:eax+4]', '[gs:0x10]', '[cs:ebx+ecx]', '[ss:ebp+8]', '[ds:esi]', '[fs:esp]',
];

const SIZE: Partial<Record<OperandPattern, string>> = { rm8: 'byte', rm16: 'word', rm32: 'dword', m8: 'byte', m16: 'word', m32: 'dword', m64: 'qword' };

function samples(p: OperandPattern, form: EncodingForm, info: InstructionInfo): string[] {
  const mem = (size?: string) => MEMORY_OPERANDS.map((m) => (size ? `${size} ${m}` : m));
  switch (p) {
    case 'r8': return R8;
    case 'r16': return R16;
    case 'r32': return R32;
    case 'rm8': return [...R8, ...mem('byte')];
    case 'rm16': return [...R16, ...mem('word')];
    case 'rm32': return [...R32, ...mem('dword')];
    case 'm': return mem();
    case 'm8': case 'm16': case 'm32': case 'm64': return mem(SIZE[p]);
    case 'm16:32': return mem('far');
    case 'r16/32/m16': return ['ecx', 'cx', 'esi', 'di', ...mem()];
    case 'al': case 'ax': case 'eax': case 'cl': case 'dx': case 'cs': case 'ds': case 'es': case 'fs': case 'gs': case 'ss': return [p];
    case 'one': return ['1'];
    case 'sreg': return ['es', 'cs', 'ss', 'ds', 'fs', 'gs'];
    case 'sreg-no-cs': return ['es', 'ss', 'ds', 'fs', 'gs'];
    case 'cr': return ['cr0', 'cr2', 'cr3', 'cr4'];
    case 'dr': return ['dr0', 'dr1', 'dr2', 'dr3', 'dr6', 'dr7'];
    case 'moffs8': case 'moffs16': case 'moffs32': return ['[0x1234]', '[fs:0x12345678]', '[0x0]'];
    case 'imm8': return ['0', '0x7f', '0xff', '-1', '0x80', '3'];
    case 'imm8u': return ['0x60', '0xf4', '0x0', '0xff'];
    case 'simm8': {
      const word = form.operands.length === 1 && form.opsize === 16 ? 'word ' : '';
      return [word + '5', word + '-3', word + '0x7f', word + '-128'];
    }
    case 'imm16': {
      const word = form.operands.length === 1 && form.opsize === 16 ? 'word ' : '';
      return [word + '0x1234', word + '0x8000', word + '0xffff', word + '200'];
    }
    case 'imm32': return ['0x12345678', '0x80', '-200', '0xdeadbeef', '1000'];
    case 'rel8': return info.forms.some((f) => f.imm[0] === 'rel32') ? ['$+0x10', '$-0x20', '$+2', 'short $+0x7f'] : ['$+0x10', '$-0x20', '$'];
    case 'rel32': return ['$+0x1000', '$-0x400', 'near $+0x10', '$+0x12345'];
    case 'far16:32': return ['0x08:0x12345678', '0x1b:0x100000', '0x10:0x0'];
    case 'st0': return ['st0'];
    case 'sti': return ['st0', 'st1', 'st3', 'st7'];
    case 'm80': return mem('tword');
    case 'm128': return mem();
    case 'mm': return MM;
    case 'xmm': return XMM;
    case 'mm/m32': case 'mm/m64': return [...MM, ...mem()];
    case 'xmm/m32': case 'xmm/m64': case 'xmm/m128': return [...XMM, ...mem()];
  }
  return [];
}

/** Skip combinations NASM refuses or reads differently on purpose (kept out of the comparison). */
function acceptable(info: InstructionInfo, form: EncodingForm, ops: string[]): boolean {
  if (info.mnemonic === 'xchg' && ops[0] === ops[1]) return false;
  if (info.mnemonic === 'pop' && ops[0] === 'cs') return false; // 8086-only byte; nasm warns
  if (info.mnemonic === 'lea' && ops[1].includes(':')) return false;
  if (['lgdt', 'lidt', 'sgdt', 'sidt', 'invlpg', 'lea', 'lds', 'les', 'lfs', 'lgs', 'lss'].includes(info.mnemonic) && ops.some((o) => /\b(word|dword|byte)\b/.test(o))) return false;
  return true;
}

export interface GeneratedLine { text: string; mnemonic: string; form: string }

/** The generated lines (deterministic); at least `min` lines. */
export function generateForms(perForm = 10): GeneratedLine[] {
  const out: GeneratedLine[] = [];
  for (const info of allInstructions()) {
    for (const form of info.forms) {
      if (form.decodeOnly) continue;
      const lists = form.operands.map((p) => samples(p, form, info));
      if (lists.some((l) => l.length === 0)) continue;
      const n = Math.min(perForm, Math.max(1, ...lists.map((l) => l.length)));
      const seen = new Set<string>();
      for (let k = 0; k < n * 3 && seen.size < n; k++) {
        const ops = lists.map((l, i) => l[(k * (i * 3 + 1) + i) % l.length]);
        if (!acceptable(info, form, ops)) continue;
        const text = `${info.mnemonic}${ops.length ? ' ' + ops.join(',') : ''}`;
        if (seen.has(text)) continue;
        seen.add(text);
        out.push({ text, mnemonic: info.mnemonic, form: form.encoding });
      }
    }
  }
  // prefixes
  for (const t of ['rep movsb', 'rep movsd', 'rep stosw', 'rep stosd', 'repne scasb', 'repe cmpsd', 'repz cmpsb', 'repnz scasd', 'rep insb', 'rep outsd', 'rep lodsb',
    'lock add dword [eax],5', 'lock xchg [ebx],ecx', 'lock cmpxchg [esi+4],edx', 'lock inc dword [fs:0x10]', 'lock xadd [edi],eax', 'lock bts dword [eax],3',
    'lock or byte [ebx+ecx*2],0x80', 'lock dec word [ebp-8]', 'lock sub [esp+4],eax', 'lock cmpxchg8b [edi]', 'rep movsw', 'fs rep movsb', 'es lodsd', 'pause']) {
    out.push({ text: t, mnemonic: t.split(' ')[0], form: 'prefix' });
  }
  return out;
}
