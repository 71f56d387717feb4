/*
 * Where a form sits in the decoder's form index (formIndex.ts): its key is the opcode byte the decoder
 * reads first (0x00–0xff), or 0x100 | b for a two-byte 0F b opcode. A `+r` form sits under 8 keys
 * (50+r: 50…57), a `+cc` form under its condition's byte (70+cc: jz at 74). When the opcode goes on
 * after the key byte (0F 01 C1, D4 0A, x87 D9 C0+r), what follows is a fixed tail the form must match.
 *
 * One rule for the two readers: the form index of compiled forms, and the table's scan of form texts
 * that finds which rows to compile for an opcode without compiling the others (`popek run` decodes a
 * few dozen of the 500 opcodes).
 */

/**
 * Calls `each` with every index key of a form whose opcode bytes are `op`, once per register number
 * for a `+r` form (`reg` is undefined otherwise), and the form's last opcode byte for that register
 * (the tail's last byte when the opcode goes on past the key). `ccAdd` is the condition code a `+cc`
 * form adds (0 otherwise).
 */
export function forEachOpcodeKey(op: readonly number[], plusReg: boolean, ccAdd: number, each: (key: number, reg: number | undefined, lastByte: number) => void): void {
  const len = op.length;
  const two = op[0] === 0x0f && len > 1;
  const last = op[len - 1] + ccAdd;
  for (let reg = 0; reg < (plusReg ? 8 : 1); reg++) {
    const lastByte = last + reg;
    each(two ? 0x100 | (len === 2 ? lastByte : op[1]) : len === 1 ? lastByte : op[0], plusReg ? reg : undefined, lastByte);
  }
}

const HEX_DIGIT = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
const hexValue = (c: number) => (c <= 57 ? c - 48 : c - 87);

/**
 * The opcode bytes of a form's text (table.ts's format: `operands: encoding`), and whether its last
 * one is `+r` or `+cc`: only what places the form in the index, read without building the form
 * (table.ts compileForm parses the whole text, and checks it).
 */
export function opcodeOfFormText(text: string): { op: number[]; plusReg: boolean; plusCc: boolean } {
  const op: number[] = [];
  let plusReg = false, plusCc = false;
  // the encoding follows the last ': ' (`far16:32` and `m16:32` have a colon of their own), or the
  // first ':' of a form without operands
  const sep = text.lastIndexOf(': ');
  for (let at = sep < 0 ? text.indexOf(':') + 1 : sep + 2; at < text.length;) {
    let end = text.indexOf(' ', at);
    if (end < 0) end = text.length;
    const c0 = text.charCodeAt(at), c1 = text.charCodeAt(at + 1);
    // a hex byte, alone or with +r/+cc: 'a16' and 'a32' start with hex digits too but go on otherwise
    if (end - at >= 2 && HEX_DIGIT(c0) && HEX_DIGIT(c1)) {
      const rest = end - at === 2 ? '' : text.slice(at + 2, end);
      if (rest === '' || rest === '+r' || rest === '+cc') {
        op.push((hexValue(c0) << 4) | hexValue(c1));
        if (rest === '+r') plusReg = true; else if (rest === '+cc') plusCc = true;
      }
    }
    at = end + 1;
  }
  return { op, plusReg, plusCc };
}
