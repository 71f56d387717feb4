/*
 * A synthetic guest source of a given size, for benchmarks (`popek bench server`): routines of
 * ordinary code with a sprinkling of critical and privileged instructions, local labels, calls,
 * constants and data, in NASM or AT&T syntax. Deterministic.
 */
export function bigSource(lines: number, syntax: 'nasm' | 'att' = 'nasm'): string {
  const out: string[] = syntax === 'nasm' ? ['bits 32', 'org 0x100000', 'COUNT equ 16', ''] : ['.code32', '.set COUNT, 16', ''];
  let r = 0;
  while (out.length < lines - 4) {
    const name = `routine_${r++}`;
    if (syntax === 'nasm') {
      out.push(`${name}:`, '    push ebp', '    mov ebp, esp', '    mov ecx, COUNT', '.loop:', '    add eax, [ebp + 8]', '    xor edx, edx',
        '    imul eax, eax, 3', '    dec ecx', '    jnz .loop', r % 7 === 0 ? '    cli' : '    nop', r % 11 === 0 ? '    pushfd' : '    inc eax',
        r % 13 === 0 ? '    popfd' : '    dec eax', `    call ${r > 1 ? `routine_${r - 2}` : name}`, '    pop ebp', '    ret', '');
    } else {
      out.push(`${name}:`, '    pushl %ebp', '    movl %esp, %ebp', '    movl $COUNT, %ecx', `.L${r}:`, '    addl 8(%ebp), %eax', '    xorl %edx, %edx',
        '    imull $3, %eax, %eax', '    decl %ecx', `    jnz .L${r}`, r % 7 === 0 ? '    cli' : '    nop', r % 11 === 0 ? '    pushfl' : '    incl %eax',
        r % 13 === 0 ? '    popfl' : '    decl %eax', `    call ${r > 1 ? `routine_${r - 2}` : name}`, '    popl %ebp', '    ret', '');
    }
  }
  out.push(syntax === 'nasm' ? 'data: dd 0' : 'data: .long 0');
  return out.join('\n');
}
