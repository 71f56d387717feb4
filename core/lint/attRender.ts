/*
 * Renders NASM-syntax lines of the small subset the paravirtual rewrites use (registers,
 * immediates, `size [base + index*scale + disp]`, labels, `;` comments) as GNU as AT&T lines,
 * and converts AT&T operands back to NASM text. Both directions are total: text that is not
 * understood is passed through unchanged rather than thrown on.
 */
import { registerClass, registerSize } from './lineModel';
import type { ScannedOperand } from './lineModel';
import { splitOperands } from './nasmScanner';

const SUFFIX: Record<number, string> = { 8: 'b', 16: 'w', 32: 'l' };
const SIZE_WORD: Record<string, number> = { byte: 8, word: 16, dword: 32 };
const RENAMED: Record<string, string> = { pushfd: 'pushfl', popfd: 'popfl', pushfw: 'pushfw', popfw: 'popfw', pushad: 'pushal', popad: 'popal', iretd: 'iretl', retf: 'lret' };

function label(name: string): string { return name.replace(/^\.\.@/, '.L'); }

/** NASM memory `[expr]` → AT&T `disp(base,index,scale)`. */
export function nasmMemoryToAtt(inner: string): string {
  let seg = '';
  const segm = /^\s*([a-z]s)\s*:\s*(.*)$/i.exec(inner);
  if (segm) { seg = `%${segm[1].toLowerCase()}:`; inner = segm[2]; }
  const terms = inner.replace(/\s+/g, '').replace(/-/g, '+-').split('+').filter(Boolean);
  let base = '';
  let index = '';
  let scale = '';
  const disp: string[] = [];
  for (const t of terms) {
    const scaled = /^([a-z]+)\*([1248])$|^([1248])\*([a-z]+)$/i.exec(t);
    if (scaled) { index = (scaled[1] ?? scaled[4]).toLowerCase(); scale = scaled[2] ?? scaled[3]; continue; }
    if (registerClass(t) === 'gpr32') { if (!base) base = t.toLowerCase(); else { index = t.toLowerCase(); scale = '1'; } continue; }
    disp.push(t.replace(/\.\.@/g, '.L'));
  }
  const d = disp.join('+').replace(/\+-/g, '-');
  if (!base && !index) return `${seg}${d || '0'}`;
  return `${seg}${d}(${base ? '%' + base : ''}${index ? `,%${index},${scale}` : ''})`;
}

function operandToAtt(op: string): { text: string; size?: number } {
  let t = op.trim();
  let size: number | undefined;
  const sz = /^(byte|word|dword)\s+(.*)$/i.exec(t);
  if (sz) { size = SIZE_WORD[sz[1].toLowerCase()]; t = sz[2].trim(); }
  const cls = registerClass(t);
  if (cls) return { text: `%${t.toLowerCase()}`, size: size ?? registerSize(cls) };
  const mem = /^\[(.*)\]$/.exec(t);
  if (mem) return { text: nasmMemoryToAtt(mem[1]), size };
  return { text: `$${t.replace(/\.\.@/g, '.L')}`, size };
}

/** One NASM line (instruction or label, optional comment) as AT&T. */
export function nasmLineToAtt(line: string): string {
  const ci = line.indexOf(';');
  const code = (ci >= 0 ? line.slice(0, ci) : line).trimEnd();
  const comment = ci >= 0 ? ` # ${line.slice(ci + 1).trim()}` : '';
  if (!code.trim()) return comment ? comment.trim() : '';
  const lab = /^\s*([A-Za-z_.@$][\w.@$]*):\s*$/.exec(code);
  if (lab) return `${label(lab[1])}:${comment}`;
  const m = /^\s*([a-z]+)\b\s*(.*)$/i.exec(code);
  if (!m) return line;
  const mnemonic = m[1].toLowerCase();
  const ops = m[2] ? splitOperands(m[2], 0).map((o) => o.text) : [];
  if (/^j[a-z]+$/.test(mnemonic) || mnemonic === 'call') return `${mnemonic} ${ops.map(label).join(', ')}${comment}`;
  const att = ops.map(operandToAtt);
  let name = RENAMED[mnemonic] ?? mnemonic;
  if (mnemonic === 'movzx' || mnemonic === 'movsx') {
    const from = att[1]?.size ?? 8;
    const to = att[0]?.size ?? 32;
    name = `${mnemonic === 'movzx' ? 'movz' : 'movs'}${SUFFIX[from]}${SUFFIX[to]}`;
  } else if (!RENAMED[mnemonic] && att.length) {
    const regSize = att.find((a) => a.text.startsWith('%') && !/^%[a-z]s:/.test(a.text))?.size;
    const explicit = att.find((a) => a.size !== undefined && !a.text.startsWith('%'))?.size;
    const size = regSize ?? explicit;
    if (size) name += SUFFIX[size] ?? '';
  }
  const operands = att.map((a) => a.text).reverse().join(', ');
  return `${name}${operands ? ' ' + operands : ''}${comment}`;
}

/** An AT&T operand as NASM text (for the rewrites, which are written in NASM syntax). */
export function attOperandToNasm(o: ScannedOperand): string {
  let t = o.text.trim();
  if (t.startsWith('*')) t = t.slice(1).trim();
  if (o.kind === 'register') return (o.register ?? t.replace(/^%/, '')).toLowerCase();
  if (t.startsWith('$')) return t.slice(1).trim();
  if (o.kind === 'far') return t.replace(/\$/g, '').replace(/\s*,\s*/, ':');
  let seg = '';
  const sm = /^%([a-z]s)\s*:\s*(.*)$/i.exec(t);
  if (sm) { seg = `${sm[1].toLowerCase()}:`; t = sm[2]; }
  const pm = /^(.*)\(([^()]*)\)\s*$/.exec(t);
  if (!pm) return `[${seg}${t}]`;
  const disp = pm[1].trim();
  const [b, i, s] = pm[2].split(',').map((x) => x.trim().replace(/^%/, '').toLowerCase());
  const parts = [b, i ? `${i}*${s || '1'}` : '', disp].filter(Boolean);
  return `[${seg}${parts.join(' + ').replace(/\+ -/g, '- ')}]`;
}
