/*
 * Assembler benchmark: throughput of `assemble` on a generated 20,000-line kernel-like file
 * (target ≥ 200,000 lines/s), the editor's parse of the same file, and the reparse after one edit.
 */
import type { BenchSuite } from './benchSupport';
import { timeIt } from './benchSupport';
import { assemble } from '../../core/asm/assembler';
import { parseNasm } from '../../core/asm/parser';

const BODY = [
  'mov eax, [ebx+ecx*4+0x10]', 'add eax, 1', 'sub ecx, 1000', 'cmp eax, edx', 'jne .loop', 'push ebp', 'mov ebp, esp',
  'lea esi, [ebp-8]', 'xor edx, edx', 'div ecx', 'shl eax, 3', 'and eax, 0xfff', 'mov [edi], al', 'inc edi', 'test eax, eax',
  'jz .done', 'call helper', 'movzx eax, byte [esi]', 'out dx, al', 'in al, 0x60', 'pop ebp', 'mov dword [fs:0x20], 5',
  'imul eax, ebx, 12', 'rep movsd', 'lock xadd [ebx], eax', 'cmovg eax, ecx', 'setz cl', 'bt eax, 7', 'sar edx, cl', 'loop .loop',
];

/** A deterministic NASM source of about `lines` lines: functions with local labels, jumps, data. */
export function generateKernel(lines: number): string {
  const out: string[] = ['bits 32', 'org 0x100000', '%define COUNT 16', 'section .text', 'start:', '  jmp main', 'helper:', '  ret'];
  let f = 0;
  while (out.length < lines - 40) {
    out.push(`func${f}:`, '.loop:');
    for (let i = 0; i < 24; i++) out.push('  ' + BODY[(f * 7 + i) % BODY.length]);
    out.push('.done:', `  jmp func${(f + 1) % 50}`, '  ret');
    f++;
  }
  out.push('main:', '  hlt', 'section .data', 'msg: db "Hello from Popek", 13, 10, 0', 'len equ $ - msg', 'table: dd func0, func1, func2, len');
  out.push('times COUNT db 0', 'section .bss', 'stack: resb 4096');
  while (out.length < lines) out.push('  ; padding comment');
  return out.join('\n') + '\n';
}

export const suite: BenchSuite = {
  name: 'asm',
  async run(print) {
    const text = generateKernel(20000);
    const nLines = text.split('\n').length - 1;
    const first = assemble('bench.gasm', text);
    const errors = first.diagnostics.filter((d) => d.severity === 'error').length;
    const ms = timeIt(() => { assemble('bench.gasm', text); }, 1500);
    print(`assemble ${nLines} lines: ${ms.toFixed(1)} ms → ${Math.round(nLines / (ms / 1000)).toLocaleString('en-US')} lines/s (target ≥ 200,000), ${first.bytes.length} bytes, ${errors} errors`);
    const parseMs = timeIt(() => { parseNasm(text, 'bench.gasm'); }, 800);
    print(`parse (editor model) ${nLines} lines: ${parseMs.toFixed(1)} ms → ${Math.round(nLines / (parseMs / 1000)).toLocaleString('en-US')} lines/s`);
    // one edit in the middle, then reparse (what the language server does on a keystroke)
    const lines = text.split('\n');
    const mid = Math.floor(lines.length / 2);
    let k = 0;
    const editMs = timeIt(() => {
      lines[mid] = `  add eax, ${k++}`;
      parseNasm(lines.join('\n'), 'bench.gasm');
    }, 800);
    print(`reparse after one edit (line ${mid + 1}): ${editMs.toFixed(1)} ms`);
    const editAsmMs = timeIt(() => {
      lines[mid] = `  add eax, ${k++}`;
      assemble('bench.gasm', lines.join('\n'));
    }, 800);
    print(`reassemble after one edit: ${editAsmMs.toFixed(1)} ms`);
  },
};
