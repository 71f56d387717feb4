/* Device test guests (test/devices/guests/*.gasm): assembled by NASM for QEMU and by Popek's own
 * assembler for Popek, booted in both; what the user sees (console, exit status) must agree. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assembleProgram, type Program } from '../../core/machine/program';
import { availableModes, createVm, type Mode, type VmOptions } from '../../core/vmm';
import type { RunReport } from '../../core/machine/report';
import { assembleWithNasm, runImageInQemu, type QemuResult, type RunOptions } from '../support/qemu';
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

const qemuRuns = new Map<string, Promise<QemuResult>>();
/** The same guest assembled by NASM and booted in QEMU (once per run and argument list). */
export function qemuGuest(name: string, options: RunOptions = {}): Promise<QemuResult> {
  const key = `${name} ${JSON.stringify(options)}`;
  let r = qemuRuns.get(key);
  if (!r) {
    const image = assembleWithNasm(path.join(GUESTS, `${name}.gasm`), {}, ['-i', GUESTS + path.sep]);
    qemuRuns.set(key, r = runImageInQemu(image, options));
  }
  return r;
}

/** QEMU's exit status for a Popek run (isa-debug-exit: (v << 1) | 1; a triple fault: 0). */
export function qemuStatus(r: RunReport): number {
  return r.outcome === 'exit' ? r.exitCode : r.outcome === 'triple-fault' ? 0 : -1;
}

/** Runs a guest in Popek under `mode` to its end. */
export function popekGuest(name: string, mode: Mode, options: VmOptions = {}, setup?: (vm: ReturnType<typeof createVm>) => void): RunReport {
  const vm = createVm({ mode, maxInstructions: 50_000_000, ...options });
  setup?.(vm);
  vm.load(guestProgram(name));
  vm.run();
  return vm.report();
}

export function modes(): Mode[] { return ALL_MODES.filter((m) => availableModes().includes(m)); }
