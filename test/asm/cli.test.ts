/* `popek asm` and `popek disasm` (SPEC §6): bytes, error format and exit status, round trip. */
import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { asmCommand, disasmCommand } from '../../cli/asmCommand';

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => { out.push(String(s)); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => { err.push(String(s)); return true; }) as typeof process.stderr.write;
  try {
    const code = await fn();
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

describe('popek asm / disasm', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'popek-cli-'));

  it('assembles a file with an %include to OUT and disassembles it back', async () => {
    writeFileSync(path.join(dir, 'defs.inc'), 'PORT equ 0x3f8\n');
    writeFileSync(path.join(dir, 'k.gasm'), 'bits 32\norg 0x100000\n%include "defs.inc"\nstart: mov dx, PORT\n mov al, "A"\n out dx, al\n jmp start\n');
    const bin = path.join(dir, 'k.bin');
    const r = await capture(() => asmCommand([path.join(dir, 'k.gasm'), '-o', bin]));
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(bin).toString('hex'), '66baf803b041eeebf7');
    const d = await capture(() => disasmCommand([bin, '--org', '0x100000']));
    assert.equal(d.code, 0);
    assert.match(d.out, /mov dx,0x3f8/);
    assert.match(d.out, /jmp short 0x100000/);
    writeFileSync(path.join(dir, 're.gasm'), d.out);
    assert.equal((await capture(() => asmCommand([path.join(dir, 're.gasm'), '-o', path.join(dir, 're.bin')]))).code, 0);
    assert.equal(readFileSync(path.join(dir, 're.bin')).toString('hex'), readFileSync(bin).toString('hex'));
  });

  it('prints errors as file:line:col: error: message and exits 1', async () => {
    const f = path.join(dir, 'bad.gasm');
    writeFileSync(f, 'bits 32\n  mov eax, nowhere\n  movv eax, 1\n');
    const r = await capture(() => asmCommand([f, '-o', path.join(dir, 'bad.bin')]));
    assert.equal(r.code, 1);
    assert.equal(r.err, `${f}:2:12: error: symbol 'nowhere' is not defined\n${f}:3:3: error: unknown instruction 'movv'\n`);
  });
});
