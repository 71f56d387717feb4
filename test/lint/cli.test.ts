/*
 * `popek lint` and `popek fix` (SPEC §6), run as the user runs them: the bundled dist/cli.js.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const CLI = [path.resolve(__dirname, '../../dist/cli.js'), path.resolve(__dirname, '../../../dist/cli.js')].find(existsSync)!;
const dir = mkdtempSync(path.join(tmpdir(), 'popek-cli-'));

function popek(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('popek lint / popek fix (dist/cli.js)', function () {
  this.timeout(30000);
  const good = path.join(dir, 'good.gasm');
  const bad = path.join(dir, 'bad.gasm');
  const gas = path.join(dir, 'entry.S');
  before(() => {
    assert.ok(CLI, 'dist/cli.js built');
    writeFileSync(good, 'bits 32\nstart:\n    cli\n    pushfd\n    ret\n');
    writeFileSync(bad, 'bits 32\n    mov eax, nowhere\n    popfd\n');
    writeFileSync(gas, '.code32\n    popfl\n    ljmp $0x08, $1f\n1:  movl %cr0, %eax\n');
  });

  it('prints file:line:col: severity: message [code], 1-based, and exits 0 without errors', () => {
    const r = popek('lint', good);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0], new RegExp(`^${good.replace(/[.\\/]/g, '\\$&')}:3:5: information: .* \\[privileged-instruction\\]$`));
    assert.match(lines[1], /:4:5: warning: \S+ is critical, no trap at CPL 1.* \[critical-instruction\]$/);
  });

  it('a segment register read and a load say what each does wrong at CPL 1 (reading CS shows the real ring)', () => {
    const sreg = path.join(dir, 'sreg.gasm');
    writeFileSync(sreg, 'bits 32\n    mov ax, cs\n    mov ds, ax\n');
    const r = popek('lint', sreg, '--json');
    const byLine = new Map((JSON.parse(r.stdout) as Array<{ line: number; message: string }>).map((d) => [d.line, d.message]));
    assert.match(byLine.get(2) ?? '', /^mov ax, cs is critical, no trap at CPL 1: MOV from CS\/SS shows the real CPL \(RPL 1\)/);
    assert.match(byLine.get(3) ?? '', /^mov ds, ax is critical, no trap at CPL 1: MOV to a segment register/);
  });

  it('PUSH DS says it pushes the selector as loaded; PUSH CS says it exposes the CPL (xv6 and Linux trap entries push DS)', () => {
    const push = path.join(dir, 'push.gasm');
    writeFileSync(push, 'bits 32\n    push ds\n    push cs\n');
    const r = popek('lint', push, '--json');
    const byLine = new Map((JSON.parse(r.stdout) as Array<{ line: number; message: string }>).map((d) => [d.line, d.message]));
    assert.match(byLine.get(2) ?? '', /^push ds is critical, no trap at CPL 1: PUSH DS\/ES\/FS\/GS pushes the selector as loaded/);
    assert.match(byLine.get(3) ?? '', /^push cs is critical, no trap at CPL 1: PUSH CS\/SS exposes the real CPL/);
  });

  it('each shared-memory fix is named for what it replaces: a control register read by a cached copy, CLI/PUSHF by the virtual IF', () => {
    const shm = path.join(dir, 'shm.gasm');
    writeFileSync(shm, 'bits 32\n    mov eax, cr0\n    mov ebx, cr2\n    cli\n    pushfd\n');
    const r = popek('lint', shm, '--json', '--mode', 'paravirtual');
    const byLine = new Map((JSON.parse(r.stdout) as Array<{ line: number; message: string }>).map((d) => [d.line, d.message]));
    for (const line of [2, 3]) assert.match(byLine.get(line) ?? '', /fix: a cached copy \(CR2: shared info\)/, `line ${line}`);
    for (const line of [4, 5]) assert.match(byLine.get(line) ?? '', /fix: the virtual IF in shared info/, `line ${line}`);
  });

  it('exits 1 when there is an error, and --json gives the SPEC fields', () => {
    const r = popek('lint', bad, '--json');
    assert.equal(r.status, 1);
    const all = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(Object.keys(all[0]).sort(), ['code', 'column', 'endColumn', 'endLine', 'file', 'line', 'message', 'severity']);
    assert.deepEqual(all.map((d) => [d.line, d.column, d.severity, d.code]), [[2, 14, 'error', 'undefined-symbol'], [3, 5, 'warning', 'critical-instruction']]);
    assert.equal(all[1].endColumn, 10);
  });

  it('takes several files, --mode, and AT&T sources', () => {
    const r = popek('lint', good, gas, '--mode', 'binary-translation', '--json');
    assert.equal(r.status, 0, r.stderr);
    const all = JSON.parse(r.stdout) as Array<{ file: string; line: number; severity: string; code: string }>;
    assert.deepEqual(all.filter((d) => d.file === gas).map((d) => [d.line, d.code, d.severity]),
      [[2, 'critical-instruction', 'information'], [3, 'critical-instruction', 'information'], [4, 'privileged-instruction', 'hint']]);
    assert.equal(popek('lint', good, '--mode', 'nonsense').status, 2);
    assert.equal(popek('lint', path.join(dir, 'missing.gasm')).status, 2);
  });

  it('reads the `-include` headers compile_commands.json gives a .S (kbuild\'s kconfig.h): the side gcc -E keeps is linted, the other not', () => {
    const kdir = path.join(dir, 'kbuild');
    mkdirSync(kdir, { recursive: true });
    writeFileSync(path.join(kdir, 'cfg.h'), '#define CONFIG_SMP 1\n');
    writeFileSync(path.join(kdir, 'compile_commands.json'), JSON.stringify([{ directory: kdir, file: 'smp.S', arguments: ['gcc', '-m32', '-include', 'cfg.h', '-c', 'smp.S', '-o', 'smp.o'] }]));
    const file = path.join(kdir, 'smp.S');
    writeFileSync(file, '#ifdef CONFIG_SMP\n\tpushfl\n#else\n\tcli\n#endif\n');
    const cpp = spawnSync('gcc', ['-m32', '-E', '-include', 'cfg.h', 'smp.S'], { cwd: kdir, encoding: 'utf8' });
    assert.equal(cpp.status, 0, cpp.stderr);
    assert.ok(/\bpushfl\b/.test(cpp.stdout) && !/\bcli\b/.test(cpp.stdout), 'gcc -E keeps the CONFIG_SMP side only');
    const r = popek('lint', '--json', file);
    const flagged = (JSON.parse(r.stdout) as Array<{ line: number; code: string }>).filter((d) => d.code.endsWith('-instruction')).map((d) => d.line);
    assert.deepEqual(flagged, [2]);
  });

  it('fix writes the rewritten program and its xen.inc, and prints the rewrites, the share of lines changed and the lines added', () => {
    const out = path.join(dir, 'good.pv.gasm');
    const r = popek('fix', good, '-o', out);
    assert.equal(r.status, 0, r.stderr);
    const fixed = readFileSync(out, 'utf8');
    const added = fixed.split('\n').length - readFileSync(good, 'utf8').split('\n').length;
    assert.match(r.stdout, new RegExp(`2 rewrites; 2 of 6 lines changed \\(33\\.3%\\), ${added} lines added; wrote xen\\.inc`));
    assert.match(readFileSync(path.join(dir, 'xen.inc'), 'utf8'), /^__HYPERVISOR_sched_op +equ 29$/m);
    // A second fix beside it uses that header; a header of the user's is never overwritten.
    writeFileSync(path.join(dir, 'xen.inc'), '; mine\n');
    assert.match(popek('fix', good, '-o', out).stdout, /uses the xen\.inc already there/);
    assert.equal(readFileSync(path.join(dir, 'xen.inc'), 'utf8'), '; mine\n');
    rmSync(path.join(dir, 'xen.inc'));
    popek('fix', good, '-o', out);
    assert.match(fixed, /mov byte \[XEN_SHARED_INFO \+ VCPU_INFO_UPCALL_MASK\], 1/);
    assert.equal(popek('lint', out).stdout, '', 'nothing left to flag');
    assert.equal(popek('fix', good, '--mode', 'native').status, 2);
  });
});
