/*
 * What a short `popek` command loads (its start-up, issue 15): none of Node's stream or perf_hooks
 * modules, which the commands' output once pulled in (cli/output.ts) — read from the process's own
 * module list, written at exit by a preloaded hook. And the direct output's answers: a closed pipe
 * ends the command quietly (status 0), a full disk is status 4 and one line.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/repoRoot';

const CLI = path.join(REPO_ROOT, 'dist/cli.js');

describe('popek start-up: what a short command loads, and its output', function () {
  this.timeout(60_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-startup-'));
  const hello = path.join(dir, 'hello.gasm');
  fs.writeFileSync(hello, 'bits 32\norg 0x100000\n  mov dx, 0x3f8\n  mov al, "A"\n  out dx, al\n  cli\n  hlt\n');
  const hook = path.join(dir, 'modules.js');
  const list = path.join(dir, 'modules.json');
  fs.writeFileSync(hook, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(process.moduleLoadList)));\n`);

  for (const args of [['asm', hello, '-o', path.join(dir, 'hello.bin')], ['lint', hello], ['run', hello, '--max-instructions', '1000'], ['--version']]) {
    it(`popek ${args[0]} loads no stream or perf_hooks module, and prints what it should`, () => {
      const r = spawnSync(process.execPath, ['--require', hook, CLI, ...args], { encoding: 'utf8' });
      assert.ok(r.status === 0 || args[0] === 'run', r.stderr);
      const loaded = JSON.parse(fs.readFileSync(list, 'utf8')) as string[];
      // (internal/streams/utils and internal/perf/utils are Node's own bootstrap: always there)
      assert.deepEqual(loaded.filter((m) => /^NativeModule (stream|internal\/streams\/(readable|writable)|perf_hooks|internal\/perf\/performance)$/.test(m)), []);
      if (args[0] === 'run') { assert.equal(r.stdout, 'A'); assert.match(r.stderr, /^popek: guest ended with outcome 'halt' after 5 instructions\n$/); }
      if (args[0] === '--version') assert.match(r.stdout, /^popek \d+\.\d+\.\d+\n$/);
    });
  }

  it('the code cache is not written after a refused command line (status 2), and is after a run that ran', function () {
    // (Node ≥ 22 keeps its own compile cache: nothing of ours to check there)
    if (typeof (Module as { enableCompileCache?: unknown }).enableCompileCache === 'function') this.skip();
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-cache-'));
    const env = { ...process.env, XDG_CACHE_HOME: cache, POPEK_NO_COMPILE_CACHE: '' };
    const files = () => (fs.existsSync(path.join(cache, 'popek', 'v8')) ? fs.readdirSync(path.join(cache, 'popek', 'v8')) : []);
    const refused = spawnSync(process.execPath, [CLI, 'run', path.join(dir, 'no-such-file.gasm')], { encoding: 'utf8', env });
    assert.equal(refused.status, 2, refused.stderr);
    assert.deepEqual(files(), []);
    const ran = spawnSync(process.execPath, [CLI, 'run', hello, '--max-instructions', '1000'], { encoding: 'utf8', env });
    assert.equal(ran.stdout, 'A');
    assert.equal(files().filter((f) => f.startsWith('cmd-run.js-')).length, 1);
    fs.rmSync(cache, { recursive: true, force: true });
  });

  it('a closed pipe ends a command quietly (status 0); a full disk is status 4, one line', function () {
    const many = path.join(dir, 'many.gasm');
    fs.writeFileSync(many, '  cli\n'.repeat(5000));
    const piped = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" lint "${many}" | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    assert.equal(piped.stdout.trim(), '0');
    assert.equal(piped.stderr, '');
    if (!fs.existsSync('/dev/full')) this.skip();
    const full = spawnSync('bash', ['-c', `"${process.execPath}" "${CLI}" lint "${many}" >/dev/full`], { encoding: 'utf8' });
    assert.equal(full.status, 4);
    assert.equal(full.stderr, 'popek: cannot write to standard output: ENOSPC\n');
  });
});
