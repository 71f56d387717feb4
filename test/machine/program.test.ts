// core/machine/program: guest programs from source (the in-process assembler only, never an
// installed nasm) or raw images; assembly errors as the assembler's own `file:line:col: message`.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Machine } from '../../core/machine/machine';
import { ProgramError, assembleProgram, loadProgramFile } from '../../core/machine/program';
import { examplePath } from '../support/qemu';

/** Runs `fn` with no PATH, so no external program (nasm) can be found. */
function withoutPath<T>(fn: () => T): T {
  const saved = process.env.PATH;
  process.env.PATH = '';
  try { return fn(); } finally { process.env.PATH = saved; }
}

describe('machine program loading', function () {
  let dir: string;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-program-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('assembles an example in process (no nasm on PATH) and it runs to its exit', function () {
    const p = withoutPath(() => loadProgramFile(examplePath('hello')));
    assert.equal(p.via, 'assembler');
    assert.ok(p.bytes.length > 0);
    const m = new Machine({ maxInstructions: 10_000_000 });
    m.loadImage(p.bytes, { origin: p.origin, entry: p.entry });
    assert.equal(m.run(), 'exit');
    assert.ok(m.console.length > 0);
  });

  it('an assembly error is the assembler\'s diagnostic as file:line:col: error: message', function () {
    const file = path.join(dir, 'bad.gasm');
    fs.writeFileSync(file, 'bits 32\nmov eax, 1\nfrobnicate eax\nmov ebx, [undefined_label]\n');
    let err: unknown;
    try { withoutPath(() => loadProgramFile(file)); } catch (e) { err = e; }
    assert.ok(err instanceof ProgramError, String(err));
    const lines = err.message.split('\n');
    assert.ok(lines.length >= 1);
    for (const l of lines) assert.match(l, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+: error: .+`));
    assert.match(lines[0], /:3:\d+: error: /);
    assert.ok(err.diagnostics.some((d) => d.severity === 'error'));
  });

  it('source that assembles to nothing is an error, not a silent empty image', function () {
    assert.throws(() => withoutPath(() => assembleProgram('empty.gasm', '; only a comment\n')), (e: unknown) => e instanceof ProgramError && /^empty\.gasm:1:1: error: /.test(e.message));
  });

  it('loads .bin and .img files as raw images at the default origin', function () {
    for (const ext of ['.bin', '.img']) {
      const file = path.join(dir, 'raw' + ext);
      fs.writeFileSync(file, Buffer.from([0xb0, 0x00, 0xe6, 0xf4, 0xf4])); // mov al, 0; out 0xf4, al; hlt
      const p = loadProgramFile(file);
      assert.equal(p.via, 'binary');
      assert.equal(p.origin, 0x100000);
      assert.deepEqual([...p.bytes], [0xb0, 0x00, 0xe6, 0xf4, 0xf4]);
      const m = new Machine();
      m.loadImage(p.bytes, { origin: p.origin });
      assert.equal(m.run(), 'exit');
    }
  });

  it('a missing file is a ProgramError', function () {
    assert.throws(() => loadProgramFile(path.join(dir, 'nope.gasm')), ProgramError);
  });
});
