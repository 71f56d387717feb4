import type { DisasmLine } from './ast';
/** Decodes one instruction at `offset` of `bytes`, located at `address`. (Implementation follows.) */
export function disassembleOne(bytes: Uint8Array, offset: number, address: number): DisasmLine {
  return { address, bytes: bytes.subarray(offset, offset + 1), text: `db 0x${bytes[offset].toString(16)}`, mnemonic: 'db' };
}
/** Disassembles a flat image loaded at `org` (NASM syntax). */
export function disassemble(bytes: Uint8Array, org = 0): DisasmLine[] {
  const out: DisasmLine[] = [];
  for (let off = 0; off < bytes.length;) {
    const l = disassembleOne(bytes, off, org + off);
    out.push(l);
    off += l.bytes.length;
  }
  return out;
}
