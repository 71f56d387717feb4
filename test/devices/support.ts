/* Device test guests (test/devices/guests/*.gasm): assembled by NASM for QEMU and by Popek's own
 * assembler for Popek, booted in both; what the user sees (console, exit status) must agree. */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assembleProgram, type Program } from '../../core/machine/program';
import { availableModes, createVm, type Mode, type VmOptions } from '../../core/vmm';
import type { RunReport } from '../../core/machine/report';
import { QEMU, QEMU_PC_ARGS, assembleWithNasm, runImageInQemu, type QemuResult, type RunOptions } from '../support/qemu';
import { REPO_ROOT } from '../support/repoRoot';

export const GUESTS = path.join(REPO_ROOT, 'test', 'devices', 'guests');
export const ALL_MODES: Mode[] = ['native', 'trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted'];

const programs = new Map<string, Program>();
/** test/devices/guests/NAME.gasm through Popek's assembler (once per run). */
export function guestProgram(name: string): Program {
  let p = programs.get(name);
  if (!p) {
    const file = path.join(GUESTS, `${name}.gasm`);
    programs.set(name, p = assembleProgram(file, fs.readFileSync(file, 'utf8')));
  }
  return p;
}

/**
 * QEMU's virtual clock from its instruction count (128 ns an instruction, idle time skipped), not the
 * host's wall clock: timers (PIT, APIC, RTC) then tick at the same guest instruction whatever the
 * host's load — with wall-clock time a loaded CI host saw 6 APIC ticks where a quiet one sees 5.
 */
export const QEMU_ICOUNT = ['-icount', 'shift=7,sleep=off'];

const qemuRuns = new Map<string, Promise<QemuResult>>();
/** The same guest assembled by NASM and booted in QEMU (once per run and argument list). */
export function qemuGuest(name: string, options: RunOptions = {}): Promise<QemuResult> {
  const key = `${name} ${JSON.stringify(options)}`;
  let r = qemuRuns.get(key);
  if (!r) {
    const image = assembleWithNasm(path.join(GUESTS, `${name}.gasm`), {}, ['-i', GUESTS + path.sep]);
    const extraArgs = [...QEMU_ICOUNT, ...(options.extraArgs ?? [])];
    qemuRuns.set(key, r = runImageInQemu(image, { ...options, extraArgs }));
  }
  return r;
}

/** The guest assembled by NASM (with `-D` defines) for Popek: guests that use what Popek's assembler lacks. */
export function nasmGuestProgram(name: string, defines: Record<string, string | number> = {}): Program {
  const bytes = new Uint8Array(assembleWithNasm(path.join(GUESTS, `${name}.gasm`), { defines }, ['-i', GUESTS + path.sep]));
  return { bytes, origin: 0x100000, entry: 0x100000, via: 'binary', diagnostics: [] };
}

/** QEMU's exit status for a Popek run (isa-debug-exit: (v << 1) | 1; a triple fault or a power-off: 0, with -no-reboot). */
export function qemuStatus(r: RunReport): number {
  return r.outcome === 'exit' ? r.exitCode : r.outcome === 'triple-fault' || r.outcome === 'shutdown' ? 0 : -1;
}

/** A Popek run printed QEMU's console and ended with QEMU's exit status. */
export function assertAsQemu(r: RunReport, q: Pick<QemuResult, 'console' | 'exitStatus'>): void {
  assert.equal(r.console, q.console, r.error);
  assert.equal(qemuStatus(r), q.exitStatus);
}

/** Runs a guest in Popek under `mode` to its end. */
export function popekGuest(name: string, mode: Mode, options: VmOptions = {}, setup?: (vm: ReturnType<typeof createVm>) => void, program?: Program): RunReport {
  const vm = createVm({ mode, maxInstructions: 50_000_000, ...options });
  setup?.(vm);
  vm.load(program ?? guestProgram(name));
  vm.run();
  return vm.report();
}

export function modes(): Mode[] { return ALL_MODES.filter((m) => availableModes().includes(m)); }

/** The guest in QEMU with `input` on COM1's receive line (QEMU's stdio chardev: stdin in, stdout out). */
export function qemuGuestWithSerialInput(name: string, input: string, timeoutMs = 20_000): Promise<QemuResult> {
  const image = assembleWithNasm(path.join(GUESTS, `${name}.gasm`), {}, ['-i', GUESTS + path.sep]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-qemu-in-'));
  const kernel = path.join(dir, 'kernel.bin');
  fs.writeFileSync(kernel, image);
  return new Promise((resolve, reject) => {
    const child = spawn(QEMU, ['-kernel', kernel, '-display', 'none', '-chardev', 'stdio,id=com1,signal=off', '-serial', 'chardev:com1', '-monitor', 'none',
      ...QEMU_PC_ARGS, '-m', '16'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code) => {
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ console: Buffer.concat(out).toString('latin1'), exitStatus: timedOut || code === null ? -1 : code, timedOut, stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(input);
  });
}
