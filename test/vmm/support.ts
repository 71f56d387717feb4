/* Helpers for the hypervisor tests: assemble a guest from text (with its labels), run a VM. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assemble } from '../../core/asm';
import { assembleProgram, type Program } from '../../core/machine/program';
import { createVm, type Mode, type Vm, type VmEvent, type VmOptions } from '../../core/vmm';
import { EXAMPLES_DIR } from '../support/qemu';

/** examples/ of the repository (from test/vmm under tsx, or out/test/vmm once compiled). */
export const EXAMPLES = EXAMPLES_DIR;

const cache = new Map<string, Program>();
/** An example (examples/NAME.gasm), assembled once per test run. */
export function example(name: string): Program {
  let p = cache.get(name);
  if (!p) {
    const file = path.join(EXAMPLES, `${name}.gasm`);
    p = assembleProgram(file, fs.readFileSync(file, 'utf8'));
    cache.set(name, p);
  }
  return p;
}

export function exampleNames(dir = EXAMPLES): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.gasm')).map((f) => f.slice(0, -5)).sort();
}

export interface Guest { program: Program; label(name: string): number }

/** Assembles a test guest written inline (flat image at 0x100000 unless it says otherwise). */
export function guest(source: string): Guest {
  const r = assemble('guest.gasm', source, { origin: 0x100000 });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(errors.map((d) => `${d.range.start.line + 1}: ${d.message}`).join('\n'));
  const labels = new Map(r.labels.map((l) => [l.name, l.address]));
  return {
    program: { bytes: r.bytes, origin: r.origin, entry: r.entry, via: 'assembler', diagnostics: r.diagnostics },
    label: (name) => {
      const a = labels.get(name);
      if (a === undefined) throw new Error(`no label ${name}`);
      return a;
    },
  };
}

/** Creates a VM for `mode`, loads the program, records its events. */
export function boot(program: Program, mode: Mode, options: VmOptions = {}): { vm: Vm; events: VmEvent[] } {
  const events: VmEvent[] = [];
  const vm = createVm({ mode, maxInstructions: 20_000_000, ...options });
  vm.events.subscribe((e) => events.push(e));
  vm.load(program);
  return { vm, events };
}

/** Runs until EIP reaches the linear address `at` (not executed) or the run ends. */
export function runTo(vm: Vm, at: number): string {
  vm.cpu.breakpoints.add(at);
  try {
    for (;;) {
      const r = vm.runSlice(1_000_000);
      if (r === 'breakpoint' || r !== 'slice') return r;
    }
  } finally { vm.cpu.breakpoints.delete(at); }
}
