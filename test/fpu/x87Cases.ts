// x87 test cases shared by the host CPU and Popek: each case is one record (control word, operation,
// two float64 operands, then the results) and one run of straight-line code whose bytes are the same
// in 32-bit and 64-bit mode (ESI / RSI points at the record), so NASM assembles one body for a
// 64-bit host program and for a 32-bit Multiboot guest.

export const RECORD = 56;
// Record layout: 0 cw (u16), 4 op (u32), 8 a (f64), 16 b (f64), 24 result (u64), 32 status word
// (u16), 36 EFLAGS (u32), 40 scratch for an m80 (10 bytes).

/** FNINIT; FLDCW [esi]; FLD qword [esi+8] (a); FLD qword [esi+16] (b): ST0 = b, ST1 = a. */
export const PRO = [0xdb, 0xe3, 0xd9, 0x2e, 0xdd, 0x46, 0x08, 0xdd, 0x46, 0x10];
/** FNSTSW AX; mov [esi+32], ax; pushf; pop eax; mov [esi+36], eax. */
export const STATUS = [0xdf, 0xe0, 0x66, 0x89, 0x46, 0x20, 0x9c, 0x58, 0x89, 0x46, 0x24];
export const FSTP_RESULT = [0xdd, 0x5e, 0x18];

export interface X87Op { name: string; bytes: number[] }
export const op = (name: string, ...bytes: number[]): X87Op => ({ name, bytes: [...PRO, ...bytes, ...STATUS, ...FSTP_RESULT] });

export const OPS: X87Op[] = [
  op('faddp st1', 0xde, 0xc1),
  op('fsubp st1 (a - b)', 0xde, 0xe9),
  op('fsubrp st1 (b - a)', 0xde, 0xe1),
  op('fmulp st1', 0xde, 0xc9),
  op('fdivp st1 (a / b)', 0xde, 0xf9),
  op('fdivrp st1 (b / a)', 0xde, 0xf1),
  op('fsqrt', 0xd9, 0xfa),
  op('fcom st1', 0xd8, 0xd1),
  op('fucom st1', 0xdd, 0xe1),
  op('fcomi st1', 0xdb, 0xf1),
  op('fucomip st1', 0xdf, 0xe9),
  op('fchs', 0xd9, 0xe0),
  op('fabs', 0xd9, 0xe1),
  op('frndint', 0xd9, 0xfc),
  op('fxch st1', 0xd9, 0xc9),
  op('fadd m64 (b + b)', 0xdc, 0x46, 0x10),
  op('fsub m32 from the low half of a', 0xd8, 0x66, 0x08),
  op('fdivr m64 (a / b)', 0xdc, 0x7e, 0x08),
  op('fstp m80, fld m80', 0xdb, 0x7e, 0x28, 0xdb, 0x6e, 0x28),
  op('fsqrt, fstp m80, fld m80 (the indefinite for b < 0)', 0xd9, 0xfa, 0xdb, 0x7e, 0x28, 0xdb, 0x6e, 0x28),
  op('ftst', 0xd9, 0xe4),
  op('fxam', 0xd9, 0xe5),
  op('fld1; fdivrp (1 / b)', 0xd9, 0xe8, 0xde, 0xf1),
  // FISTP dword [esi+24] replaces the final FSTP: PRO, FISTP, STATUS, FSTP (pops a) into the record's +24? no:
  { name: 'fistp m32', bytes: [...PRO, 0xdb, 0x5e, 0x18, ...STATUS] },
  { name: 'fistp m64', bytes: [...PRO, 0xdf, 0x7e, 0x18, ...STATUS] },
  { name: 'fist m16', bytes: [...PRO, 0xdf, 0x56, 0x18, ...STATUS, 0xdd, 0xd8] },
];

/** Control words: double precision, every rounding mode, exceptions masked. */
export const CONTROL_WORDS = [0x027f, 0x067f, 0x0a7f, 0x0e7f];

/** A deterministic mix of operands: integers, halves (rounding ties), ordinary and extreme values, zeros, infinities, NaN. */
export function operands(seed: number, n: number): number[] {
  let s = seed >>> 0;
  const next = () => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s / 2 ** 32; };
  const special = [0, -0, 1, -1, 2.5, -2.5, 3.5, 0.5, 1e300, -1e300, 1e-300, 5e-324, Infinity, -Infinity, NaN, 65535.5, 2147483647.5, -2147483648.7, 1e20, 1 / 3];
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const r = next();
    if (r < 0.3) out.push(special[Math.floor(next() * special.length)]);
    else if (r < 0.5) out.push(Math.round((next() - 0.5) * 2000) / 4);
    else out.push((next() - 0.5) * 10 ** Math.floor(next() * 40 - 20));
  }
  return out;
}

/** `raw`, when given, replaces the two operands' 16 bytes (an FBLD source, say). */
export interface X87Case { cw: number; op: number; a: number; b: number; raw?: number[] }

/** The cases as NASM source: the records (with a signature in front) and the straight-line body. */
export function casesSource(cases: X87Case[], bits: 32 | 64, ops: X87Op[] = OPS): string {
  const lines: string[] = [];
  lines.push('x87_body:');
  cases.forEach((c, k) => {
    lines.push(`    mov esi, x87_rec${k}`);
    lines.push(`    db ${ops[c.op].bytes.join(',')}`);
  });
  lines.push('    ret');
  lines.push('align 16');
  lines.push("x87_records: db 'X87CASES'");
  cases.forEach((c, k) => {
    lines.push(`x87_rec${k}: dw 0x${c.cw.toString(16)}, 0`);
    lines.push(`    dd ${c.op}`);
    lines.push(c.raw ? `    db ${c.raw.join(',')}` : `    dq ${f64Literal(c.a)}, ${f64Literal(c.b)}`);
    lines.push('    times 32 db 0');
  });
  lines.push('x87_records_end:');
  void bits;
  return lines.join('\n') + '\n';
}

function f64Literal(v: number): string {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(v);
  return '0x' + b.readBigUInt64LE().toString(16);
}
