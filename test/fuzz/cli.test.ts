/*
 * Command-line fuzzing (issue 16): random invocations of the bundled `popek` (dist/cli.js) — bad
 * commands and flags, missing / directory / device / FIFO / binary / empty / huge files, output
 * paths that cannot be written, a guest that never ends with no instruction limit. Checked: it
 * ends (no hang), no stack trace, an exit status the README documents, a refusal is one line
 * "popek: …", a refused `fix` writes nothing, and no temporary file is left behind.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/repoRoot';
import { rng, type Rng } from './support/rng';
import { cases, progress, report, SEED } from './support/scale';
import { HangWatch } from './support/schedstat';

const CLI = path.join(REPO_ROOT, 'dist/cli.js');
/** Exit statuses the README documents (run: also the guest's own status). */
const DOCUMENTED = new Set([0, 1, 2, 4, 6, 70, 124]);
/** Wall time a child starved of CPU is given before it counts as a hang all the same. */
const WALL_CAP_MS = 15 * 60_000;

function files(dir: string): Record<string, string> {
  const w = (name: string, data: string | Buffer) => { const p = path.join(dir, name); fs.writeFileSync(p, data); return p; };
  const fifo = path.join(dir, 'fifo.gasm');
  const made = spawnSync('mkfifo', [fifo]).status === 0;
  const huge = path.join(dir, 'huge.gasm');
  fs.writeFileSync(huge, '');
  fs.truncateSync(huge, 70 * 1024 * 1024); // sparse: no disk used
  return {
    // Copies: `fix FILE` rewrites FILE in place, and the repository's own files must stay as they are.
    hello: w('hello.gasm', fs.readFileSync(path.join(REPO_ROOT, 'examples/hello.gasm'))),
    critical: w('critical.gasm', fs.readFileSync(path.join(REPO_ROOT, 'examples/critical.gasm'), 'utf8').replace(/\n/g, '\r\n')),
    att: w('sensitive.S', fs.readFileSync(path.join(REPO_ROOT, 'test/fixtures/lint/sensitive.S'))),
    clean: w('clean.gasm', 'bits 32\nmov eax, 1\n'),
    loop: w('loop.gasm', 'bits 32\norg 0x100000\nspin:\n    inc eax\n    jmp spin\n'),
    broken: w('broken.gasm', 'bits 32\nmov eax,\n'),
    binary: w('binary.gasm', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1, 0, 0, 0, 0xff, 0xd8])),
    image: w('image.bin', Buffer.from([0xeb, 0xfe])),
    empty: w('empty.gasm', ''),
    passwd: fs.existsSync('/etc/passwd') ? '/etc/passwd' : w('passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
    missing: path.join(dir, 'missing.gasm'),
    directory: dir,
    devzero: '/dev/zero',
    devnull: '/dev/null',
    ...(made ? { fifo } : {}),
    huge,
  };
}

function args(r: Rng, f: Record<string, string>, out: string): { argv: string[]; file?: string; output?: string } {
  const anyFile = () => r.pick(Object.values(f));
  const file = r.chance(0.5) ? r.pick([f.hello, f.critical, f.att, f.clean, f.broken]) : anyFile();
  const output = r.chance(0.7) ? path.join(out, `o${r.int(1e9)}.out`) : r.pick([out, '/dev/full', path.join(out, 'no/such/dir/x'), '']);
  const flag = () => r.pick(['--json', '--nonsense', '-x', '--mode', '--mode=warp', '--mode', 'paravirtual', '--max-instructions', r.pick(['-1', 'x', '1e30', '100', '0x10']), '--cost', r.pick(['modern', 'cheap']), '--org', r.pick(['0', 'x', '-5', '0x100000']), '--memory', r.pick(['1', '16', 'x', '99999']), '--disk', '--initrd', r.pick([anyFile(), ',', `${anyFile()} a b,${anyFile()}`]), '--append', '--keys', r.pick(['', 'ab\\n', '\u00e9']), '--', '-']);
  const command = r.pick(['lint', 'fix', 'asm', 'disasm', 'run', 'compare', 'lint', 'fix', 'help', '--help', 'nonsense', '']);
  if (command === 'run' && r.chance(0.3)) return { argv: ['run', f.loop, ...(r.chance(0.5) ? ['--mode', r.pick(['native', 'binary-translation', 'hardware-assisted'])] : [])], file: f.loop };
  const argv = command ? [command] : [];
  if (r.chance(0.9)) argv.push(file);
  if (r.chance(0.3)) argv.push(anyFile());
  if ((command === 'fix' || command === 'asm') && r.chance(0.6)) argv.push('-o', output);
  for (let i = 0; i < r.int(3); i++) argv.push(flag());
  return { argv, file, output: argv.includes('-o') ? output : undefined };
}

/** Runs popek; a hang as HangWatch decides (a child only starved of CPU is given time, up to WALL_CAP_MS); `sched` says how it was treated. */
function invoke(argv: string[], limitMs: number): Promise<{ status: number | null; stdout: string; stderr: string; ms: number; hung: boolean; sched: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', hung = false;
    const watch = new HangWatch(child.pid, limitMs, WALL_CAP_MS);
    child.stdout.on('data', (d: Buffer) => { if (stdout.length < 1e6) stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < 1e6) stderr += d.toString(); });
    const check = () => {
      if (watch.keepWaiting()) { timer = setTimeout(check, 2000); return; }
      hung = true;
      child.kill('SIGKILL');
    };
    let timer = setTimeout(check, limitMs);
    const sched = () => watch.verdict();
    // A process that could not be started is this run's failure, in words, not an uncaught error
    // that ends the campaign (seed 17 once ended after 15 s on "spawn /usr/bin/node ENOENT").
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ status: null, stdout, stderr: `could not start: ${e.message}`, ms: performance.now() - t0, hung: false, sched: '' });
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      resolve({ status, stdout, stderr, ms, hung, sched: ms > limitMs ? sched() : '' });
    });
  });
}

describe('fuzz: command line', function () {
  this.timeout(0);
  const n = cases(6, 400);
  it(`${n} invocations: no hang, no stack, documented exit status, one-line refusals`, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-clifuzz-'));
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-clifuzz-out-'));
    const f = files(dir);
    const failures: string[] = [];
    /** Invocations over 90 s of wall time that ended (starved on a loaded machine): reported, with the scheduler's verdict. */
    const slow: string[] = [];
    const fail = (s: string) => { if (failures.length < 20) failures.push(s); };
    const codes: Record<string, number> = {};
    let maxMs = 0;
    const r = rng(SEED + 5);
    const before = new Map([[f.clean, fs.statSync(f.clean).mtimeMs]]);
    for (let i = 0; i < n; i++) {
      const { argv, output } = args(r, f, out);
      const copyOfClean = argv[0] === 'fix' && !argv.includes('-o') && argv[1] === f.clean;
      const res = await invoke(argv, 90_000);
      maxMs = Math.max(maxMs, res.ms);
      const what = `popek ${argv.map((a) => JSON.stringify(a)).join(' ')}`;
      codes[String(res.status)] = (codes[String(res.status)] ?? 0) + 1;
      if (res.ms > 90_000) slow.push(`${what}: ${Math.round(res.ms / 1000)} s (${res.sched})`);
      if (res.hung) { fail(`${what}: no end (${res.sched})`); continue; }
      if (/\n\s+at |node:internal|\.js:\d+:\d+/.test(res.stderr)) fail(`${what}: a stack trace: ${res.stderr.slice(0, 500)}`);
      if (res.stderr.startsWith('could not start: ')) { fail(`${what}: ${res.stderr}`); continue; }
      if (res.status === null) fail(`${what}: killed by a signal`);
      else if (!DOCUMENTED.has(res.status) && !(argv[0] === 'run' && res.status % 2 === 1)) fail(`${what}: undocumented exit status ${res.status}: ${res.stderr.slice(0, 300)}`);
      if (res.status === 2 || res.status === 4 || res.status === 70) {
        const lines = res.stderr.trimEnd().split('\n');
        if (lines.length !== 1 || !lines[0].startsWith('popek: ')) fail(`${what}: the refusal is not one line "popek: …": ${JSON.stringify(res.stderr.slice(0, 300))}`);
        if (argv[0] === 'fix' && output && output !== '/dev/full' && fs.existsSync(output) && fs.statSync(output).isFile()) fail(`${what}: refused, yet wrote ${output}`);
      }
      if (i % 50 === 49) progress('command line', { invocations: i + 1, maxMs: Math.round(maxMs), failures: failures.length });
      if (copyOfClean && fs.statSync(f.clean).mtimeMs !== before.get(f.clean)) fail(`${what}: rewrote a file with nothing to fix`);
    }
    const left = [...fs.readdirSync(dir), ...fs.readdirSync(out)].filter((x) => x.endsWith('.tmp'));
    if (left.length) fail(`temporary files left: ${left.join(', ')}`);
    // The inputs are never modified by a refused or in-place-with-nothing-to-fix command, except those fixed in place.
    report('command line', { invocations: n, maxMs: Math.round(maxMs), exitStatuses: JSON.stringify(codes), failures: failures.length, slowButEnded: slow.length, ...(slow.length ? { slow: slow.slice(0, 5).join(' | ') } : {}) });
    assert.deepEqual(failures, []);
  });
});
