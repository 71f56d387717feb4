/*
 * The engine fuzz's guest images (issue 16): image n of seed S comes from `imageRng(S, n)`, so a
 * failing image is regenerated from its number (the regression tests do so) instead of being copied.
 * Even images are random programs of innocuous instructions (nothing sensitive) assembled by
 * core/asm, odd ones random bytes.
 */
import { rng, type Rng } from './rng';

export const ORIGIN = 0x100000;
const REGS = ['eax', 'ecx', 'edx', 'ebx', 'esi', 'edi', 'ebp'];

function reg(r: Rng): string { return r.pick(REGS); }
function imm(r: Rng): string { return r.pick(['0', '1', '-1', '0x7fffffff', '0x80000000', String(r.int(256)), `0x${(r.int(0x10000) * 0x10001 >>> 0).toString(16)}`]); }

/** One innocuous statement (or a few: a small loop). */
function statement(r: Rng, depth: number, label: () => string): string[] {
  const a = reg(r), b = reg(r);
  switch (r.int(16)) {
    case 0: return [`mov ${a}, ${imm(r)}`];
    case 1: return [`${r.pick(['add', 'sub', 'and', 'or', 'xor', 'adc', 'sbb', 'cmp', 'test'])} ${a}, ${r.chance(0.5) ? b : imm(r)}`];
    case 2: return [`${r.pick(['inc', 'dec', 'neg', 'not'])} ${a}`];
    case 3: return [`${r.pick(['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr'])} ${a}, ${r.chance(0.5) ? String(r.int(40)) : 'cl'}`];
    case 4: return [`imul ${a}, ${b}`];
    case 5: return [`lea ${a}, [${b} + ${reg(r)}*${r.pick([1, 2, 4, 8])} + ${r.int(1000)}]`];
    case 6: return [`mov [data + ${4 * r.int(16)}], ${a}`];
    case 7: return [`${r.pick(['mov', 'add', 'xor', 'sub'])} ${a}, [data + ${4 * r.int(16)}]`];
    case 8: return [`push ${a}`, ...statement(r, depth, label), `pop ${b}`];
    case 9: return [`set${r.pick(['z', 'nz', 'c', 'nc', 'o', 's', 'l', 'g', 'be', 'a', 'p'])} ${r.pick(['al', 'bl', 'cl', 'dl'])}`];
    case 10: return [`cmov${r.pick(['z', 'nz', 'c', 'l', 'ge'])} ${a}, ${b}`];
    case 11: return [`${r.pick(['movzx', 'movsx'])} ${a}, ${r.pick(['al', 'bh', 'cx', 'dx'])}`];
    case 12: return [`xchg ${a}, ${b}`, `bswap ${b}`];
    case 13: return [`${r.pick(['bt', 'bts', 'btr', 'btc'])} ${a}, ${r.int(32)}`];
    case 14: return [`mul ${a}`, `xor edx, edx`, `mov ${a === 'edx' ? 'ebx' : a}, ${1 + r.int(1000)}`, `div ${a === 'edx' ? 'ebx' : a}`];
    default: {
      if (depth > 1) return [`nop`];
      const l = label();
      const body = Array.from({ length: 1 + r.int(4) }, () => statement(r, depth + 1, label)).flat().filter((s) => !/\becx\b|\bcl\b|\bcx\b/.test(s));
      return [`push ecx`, `mov ecx, ${1 + r.int(20)}`, `${l}:`, ...body, `dec ecx`, `jnz ${l}`, `pop ecx`];
    }
  }
}

export function innocuousProgram(r: Rng): string {
  let n = 0;
  const label = () => `.l${n++}`;
  const lines = ['bits 32', `org 0x${ORIGIN.toString(16)}`, 'start:', '    mov esp, 0x90000', ...REGS.map((x) => `    mov ${x}, ${imm(r)}`)];
  for (let i = 0; i < 10 + r.int(40); i++) lines.push(...statement(r, 0, label).map((s) => (s.endsWith(':') ? s : `    ${s}`)));
  // Memory folded into the registers, then a quiet end.
  lines.push('    mov esi, data', '    mov edi, 0', '    mov ecx, 16', '.fold:', '    rol edi, 5', '    xor edi, [esi]', '    add esi, 4', '    dec ecx', '    jnz .fold', 'done:', '    jmp done', 'align 4', 'data: times 16 dd 0x5a5a5a5a');
  return lines.join('\n') + '\n';
}

/** The random source of image `n` in the campaign of `seed`. */
export function imageRng(seed: number, n: number): Rng { return rng(seed * 7919 + n); }

/** Odd images: 32–511 random bytes. */
export function randomImage(r: Rng): Uint8Array {
  const bytes = new Uint8Array(32 + r.int(480));
  for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
  return bytes;
}
