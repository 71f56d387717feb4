/* NASM snippets the team's test guests share. */

/**
 * The lines that fill IDT entry `vector` of the table at label `idt` with a present 32-bit ring-0
 * interrupt gate (type 0xE, selector 0x08, the boot loader's flat code segment) to `handler`.
 * Uses EAX.
 */
export function idtGate(vector: number | string, handler: string, idt = 'idt'): string[] {
  const e = `${idt} + ${vector}*8`;
  return [`mov eax, ${handler}`, `mov [${e}], ax`, `mov word [${e} + 2], 0x08`, `mov word [${e} + 4], 0x8e00`, 'shr eax, 16', `mov [${e} + 6], ax`];
}
