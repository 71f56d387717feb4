/*
 * The command line's answers to bad input (issue 16), case by case (test/fuzz/cli.test.ts does the
 * same at random): one line "popek: …" and exit status 2 for what cannot be read, "not assembly
 * text" for binary input, nothing written when nothing is fixed, line endings kept by `fix`.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/repoRoot';

const CLI = path.join(REPO_ROOT, 'dist/cli.js');
const popek = (...args: string[]) => {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const oneLine = (s: string) => s.trimEnd().split('\n').length === 1 && s.startsWith('popek: ');

describe('popek: bad input is one line and a documented status', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-cli-robust-'));

  it('refuses a device, a directory, a FIFO and a missing file without reading them (status 2)', () => {
    const fifo = path.join(dir, 'pipe.gasm');
    spawnSync('mkfifo', [fifo]);
    for (const [file, why] of [['/dev/zero', /is a device/], [dir, /is a directory/], [fifo, /is a pipe/], [path.join(dir, 'nope.gasm'), /no such file/]] as const) {
      for (const command of ['lint', 'fix', 'asm', 'run']) {
        const r = popek(command, file);
        assert.equal(r.status, 2, `${command} ${file}: ${r.stderr}`);
        assert.ok(oneLine(r.stderr), r.stderr);
        assert.match(r.stderr, why);
      }
    }
  });

  it('refuses binary input to lint and fix ("not assembly text") and writes nothing', () => {
    const bin = path.join(dir, 'kernel.gasm');
    fs.writeFileSync(bin, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0, 0, 0, 0, 0]));
    const out = path.join(dir, 'out.gasm');
    for (const args of [['lint', bin], ['fix', bin, '-o', out]]) {
      const r = popek(...args);
      assert.equal(r.status, 2);
      assert.ok(oneLine(r.stderr), r.stderr);
      assert.match(r.stderr, /not assembly text/);
    }
    assert.ok(!fs.existsSync(out));
  });

  it('fix keeps CRLF, lone CR and mixed line endings byte for byte and does not touch a file with nothing to fix', () => {
    const mixed = path.join(dir, 'mixed.gasm');
    const text = 'bits 32\r\nstart:\r    cli\n    mov eax, 1 ; keep\r\n    popfd\r\n';
    fs.writeFileSync(mixed, text);
    assert.equal(popek('fix', mixed).status, 0);
    const fixed = fs.readFileSync(mixed, 'utf8');
    // The Xen constants' include line goes before the first line of code, ending as that line does.
    assert.ok(fixed.startsWith('%include "xen.inc"    ; Xen constants of the paravirtual rewrites\r\nbits 32\r\nstart:\r'), JSON.stringify(fixed.slice(0, 40)));
    assert.ok(fs.readFileSync(path.join(dir, 'xen.inc'), 'utf8').includes('\r\n__HYPERVISOR_sched_op'), 'the header is written beside, with the file\'s line breaks');
    assert.ok(fixed.includes('    mov eax, 1 ; keep\r\n'));
    assert.ok(fixed.endsWith('\r\n'));
    // The rewrite of `popfd` (its line ends in CRLF) breaks its own lines with CRLF too.
    const popfdRewrite = fixed.slice(fixed.indexOf('mov eax, 1 ; keep\r\n') + 'mov eax, 1 ; keep\r\n'.length);
    assert.ok(popfdRewrite.includes('\r\n') && !/[^\r]\n/.test(popfdRewrite), JSON.stringify(popfdRewrite.slice(0, 200)));
    // Fixed once, nothing left: the second run leaves the file as it is (same bytes, same time).
    const before = fs.statSync(mixed).mtimeMs;
    const again = popek('fix', mixed);
    assert.equal(again.status, 0);
    assert.match(again.stdout, /nothing to fix: file not written/);
    assert.equal(fs.readFileSync(mixed, 'utf8'), fixed);
    assert.equal(fs.statSync(mixed).mtimeMs, before);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  it('an output that cannot be written is status 4, one line', () => {
    const src = path.join(REPO_ROOT, 'examples/critical.gasm');
    const r = popek('fix', src, '-o', path.join(dir, 'no', 'such', 'dir', 'x.gasm'));
    assert.equal(r.status, 4, r.stderr);
    assert.ok(oneLine(r.stderr), r.stderr);
  });

  it('a guest that uses architecture Popek does not model: status 6 and one line saying what (not 70, an internal error)', () => {
    const file = path.join(dir, 'taskreturn.gasm');
    fs.writeFileSync(file, 'bits 32\norg 0x100000\n    pushfd\n    or dword [esp], 0x4000 ; NT\n    popfd\n    iretd\n');
    const r = popek('run', file);
    assert.equal(r.status, 6, r.stderr);
    assert.ok(oneLine(r.stderr), r.stderr);
    assert.match(r.stderr, /outcome 'error'.*IRET with NT = 1 \(task return\) is not modelled/);
    assert.equal(JSON.parse(popek('run', file, '--json').stdout).unmodelled, true);
  });

  it('compare of a guest that runs off into zeroed RAM ends at its instruction limit in every technique (status 0, no heap exhaustion)', () => {
    // The CLI fuzz's two-line file without HLT: execution slides through `add [eax], al` at every
    // new address. It once held gigabytes of code caches and died of V8 heap exhaustion (exit 134).
    const file = path.join(dir, 'runaway.gasm');
    fs.writeFileSync(file, 'bits 32\nmov eax, 1\n');
    const r = popek('compare', file, '--max-instructions', '300000', '--json');
    assert.equal(r.status, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { mode: string; outcome: string; instructions: number }[];
    assert.deepEqual(rows.map((x) => [x.mode, x.outcome, x.instructions]), ['native', 'trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted'].map((m) => [m, 'limit', 300_000]));
  });

  it('bad commands and options: one line, status 2, no stack', () => {
    for (const args of [[], ['warp'], ['lint'], ['lint', '--mode', 'x', 'a.gasm'], ['run', 'a.gasm', '--max-instructions', '-1'], ['disasm', 'a.bin', '--org', 'x'], ['fix', 'a', 'b']]) {
      const r = popek(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(oneLine(r.stderr), `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
