/*
 * The CLI's V8 code cache (cli/compileCache.ts), run as the user runs popek (dist/cli.js): the first run
 * writes the cache, later runs load it without rewriting it (V8 accepted it) and print exactly what a
 * run without the cache prints; a damaged cache file is rejected by V8, the run is still right, and the
 * file is replaced by good data.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const CLI = [path.resolve(__dirname, '../../dist/cli.js'), path.resolve(__dirname, '../../../dist/cli.js')].find(existsSync)!;
const EXAMPLE = [path.resolve(__dirname, '../../examples/hello.gasm'), path.resolve(__dirname, '../../../examples/hello.gasm')].find(existsSync)!;

describe('popek code cache (dist/cli.js)', function () {
  this.timeout(120_000);
  const home = mkdtempSync(path.join(os.tmpdir(), 'popek-cache-'));
  const cacheDir = path.join(home, 'popek', 'v8');
  const popek = (env: Record<string, string>, ...args: string[]) => {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, POPEK_NO_COMPILE_CACHE: '', XDG_CACHE_HOME: home, ...env } });
    return { status: r.status, out: r.stdout, err: r.stderr };
  };
  const cacheFiles = () => (existsSync(cacheDir) ? readdirSync(cacheDir).filter((f) => f.startsWith('cmd-run.js-')) : []);

  it('writes the cache once, then runs from it with the same output as without it', () => {
    assert.ok(CLI, 'dist/cli.js built');
    const reference = popek({ POPEK_NO_COMPILE_CACHE: '1' }, 'run', EXAMPLE);
    assert.match(reference.out, /Hello/, reference.err);
    assert.deepEqual(cacheFiles(), [], 'POPEK_NO_COMPILE_CACHE=1 writes nothing');

    const first = popek({}, 'run', EXAMPLE);
    assert.deepEqual(first, reference);
    const files = cacheFiles();
    assert.equal(files.length, 1, 'one cache file for the run bundle');
    const file = path.join(cacheDir, files[0]);
    const written = statSync(file).mtimeMs;
    assert.ok(statSync(file).size > 10_000, 'the cache holds compiled code');

    const second = popek({}, 'run', EXAMPLE);
    assert.deepEqual(second, reference);
    assert.equal(statSync(file).mtimeMs, written, 'V8 accepted the cache: not written again');
  });

  it("drops an earlier build's cache file when it writes the new one", () => {
    const stale = path.join(cacheDir, 'cmd-run.js-1-2-v0-x.bin');
    writeFileSync(stale, 'old');
    const current = cacheFiles().filter((f) => !stale.endsWith(f));
    for (const f of current) rmSync(path.join(cacheDir, f));
    const r = popek({}, 'run', EXAMPLE);
    assert.match(r.out, /Hello/);
    assert.equal(existsSync(stale), false, 'stale cache removed');
    assert.equal(cacheFiles().length, 1);
  });

  it('survives a damaged cache file and replaces it', () => {
    const file = path.join(cacheDir, cacheFiles()[0]);
    writeFileSync(file, Buffer.alloc(4096, 0x5a));
    const reference = popek({ POPEK_NO_COMPILE_CACHE: '1' }, 'run', EXAMPLE);
    const r = popek({}, 'run', EXAMPLE);
    assert.deepEqual(r, reference);
    assert.notDeepEqual(readFileSync(file), Buffer.alloc(4096, 0x5a), 'rejected data rewritten');
    assert.deepEqual(popek({}, 'run', EXAMPLE), reference);
  });
});
