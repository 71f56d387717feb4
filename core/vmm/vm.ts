/*
 * A virtual machine: the simulated PC plus the technique that runs the guest on it, the event
 * stream and the cost accounting. This is what the CLI (`popek run --mode`, `popek compare`), the
 * debug adapter and the benchmarks drive.
 *
 *   const vm = createVm({ mode: 'trap-and-emulate', cost: 'vtx-2006' });
 *   vm.load(assembleProgram(file, text));
 *   vm.events.subscribe((e) => console.log(formatEvent(e)));
 *   while (vm.runSlice(1_000_000) === 'slice') await turn();
 *   vm.report(wallMs)
 */
import { UnsupportedError } from '../cpu/cpu';
import { Machine, isOutcome, type LoadedImage, type StopReason } from '../machine/machine';
import type { Program } from '../machine/program';
import type { Outcome, RunCounters, RunReport } from '../machine/report';
import { cost, costProfile, type CostKey, type CostProfile } from './cost';
import { CYCLE_CAUSES, type CycleCause } from './compareRow';
import { VmEventBus, type VmEvent, type VmEventInit, type VmEventKind } from './events';
import { techniqueInfo, availableModes, type CounterTable, type Mode, type Technique, type TechniqueView, type VmHost, type VmOptions } from './technique';

export const VM_STATE_VERSION = 1;

export interface VmSnapshot {
  version: number;
  mode: Mode;
  machine: ReturnType<Machine['snapshot']>;
  technique: unknown;
  overheadCycles: number;
  /** Absent in snapshots of older builds. */
  overheadBy?: Partial<Record<CycleCause, number>>;
  eventSeq: number;
  started: boolean;
}

export class UnknownModeError extends RangeError {}

/** A cause's index in CYCLE_CAUSES (VmEventKind names are causes too). */
const CAUSE_INDEX = Object.fromEntries(CYCLE_CAUSES.map((c, i) => [c, i])) as Record<CycleCause, number>;

export class Vm implements VmHost {
  readonly mode: Mode;
  readonly machine: Machine;
  readonly events = new VmEventBus();
  readonly profile: CostProfile;
  readonly options: Readonly<VmOptions>;
  readonly technique: Technique;
  /** Modelled cycles the techniques added on top of the guest's own instructions. */
  overheadCycles = 0;
  /**
   * `overheadCycles` by cause (an event's kind, or what `charge` was told), indexed as CYCLE_CAUSES:
   * a trap or exit adds to it, and a keyed store into an object by the cause's name was a tenth of a
   * port-polling guest's time under binary translation.
   */
  private overheadBy = new Float64Array(CYCLE_CAUSES.length);
  private started = false;

  constructor(options: VmOptions = {}) {
    this.options = { ...options };
    this.mode = options.mode ?? 'native';
    this.profile = costProfile(options.cost);
    const info = techniqueInfo(this.mode);
    if (!info) throw new UnknownModeError(`mode '${this.mode}' is not available in this build (available: ${availableModes().join(', ')})`);
    this.machine = new Machine({ memoryMiB: options.memoryMiB, maxInstructions: options.maxInstructions, reservedMiB: info.reservedMiB, disks: options.disks, rtcStart: options.rtcStart });
    this.technique = info.create(this);
    if (options.trace) this.events.subscribe(options.trace);
  }

  get cpu() { return this.machine.cpu; }
  get counters(): RunCounters { return this.machine.counters; }
  get outcome(): Outcome | undefined { return this.machine.outcome; }
  get console(): string { return this.machine.console; }

  // ---- VmHost ----
  cost(...keys: CostKey[]): number { return cost(this.profile, ...keys); }
  charge(cycles: number, cause: CycleCause = 'translation'): void {
    this.overheadCycles += cycles;
    this.overheadBy[CAUSE_INDEX[cause]] += cycles;
  }
  emit(init: VmEventInit): VmEvent {
    this.overheadCycles += init.cost;
    if (init.cost) this.overheadBy[CAUSE_INDEX[init.kind]] += init.cost;
    return this.events.publish(init, this.machine.cpu.icount);
  }
  tally(kind: VmEventKind, cost: number): void {
    this.overheadCycles += cost;
    if (cost) this.overheadBy[CAUSE_INDEX[kind]] += cost;
    this.events.seq++;
  }
  count(table: CounterTable, key: string, n = 1): void {
    const t = this.machine.counters[table];
    t[key] = (t[key] ?? 0) + n;
  }

  /** Loads a program (or raw bytes at `origin`) and gives it the technique's entry state. */
  load(program: Program | Uint8Array, origin?: number): LoadedImage {
    if (this.started) throw new Error('this VM already has a program; create a new one');
    const img = program instanceof Uint8Array
      ? this.machine.loadImage(program, { origin, boot: this.options.boot })
      : this.machine.loadImage(program.bytes, { origin: program.origin, entry: program.entry, boot: this.options.boot });
    this.technique.start(img);
    this.started = true;
    return img;
  }

  /** Runs at most `budget` guest instructions (see `Machine.runSlice`); never throws for guest behaviour. */
  runSlice(budget: number): StopReason {
    if (!this.started) throw new Error('load a program before running the VM');
    if (this.machine.outcome) return this.machine.outcome;
    let r: StopReason;
    try {
      r = this.technique.runSlice(budget);
    } catch (e) {
      // A bug in a technique must not take the tool down: the run ends with outcome 'error'.
      this.machine.finish('error', 0, { error: `${this.mode}: ${e instanceof Error ? e.message : String(e)}`, unmodelled: e instanceof UnsupportedError });
      r = 'error';
    }
    return r;
  }

  /** Runs to the end (or the instruction limit). */
  run(sliceSize = 1_000_000): Outcome {
    for (;;) {
      const r = this.runSlice(sliceSize);
      if (isOutcome(r)) return r;
    }
  }

  /** Modelled cycles so far: guest instructions × the instruction cost, idle time, and overhead. */
  get cycles(): number {
    const cpu = this.machine.cpu;
    return cpu.icount * this.profile.figures.instruction.cycles + cpu.idleCycles + this.overheadCycles;
  }

  /** `cycles` by cause (the compare view stacks them); the values sum to `cycles`. */
  cyclesByCause(): Partial<Record<CycleCause, number>> {
    const cpu = this.machine.cpu;
    const out: Partial<Record<CycleCause, number>> = { instructions: cpu.icount * this.profile.figures.instruction.cycles };
    if (cpu.idleCycles) out.idle = cpu.idleCycles;
    return Object.assign(out, this.overheadByCause());
  }

  /** The non-zero overhead cycles by cause. */
  private overheadByCause(): Partial<Record<CycleCause, number>> {
    const out: Partial<Record<CycleCause, number>> = {};
    CYCLE_CAUSES.forEach((k, i) => { if (this.overheadBy[i]) out[k] = this.overheadBy[i]; });
    return out;
  }

  /** SPEC §6 report. */
  report(wallMs = 0): RunReport {
    this.machine.counters.cycles = Math.round(this.cycles);
    return this.machine.report(this.mode, wallMs);
  }

  inspect(): TechniqueView { return this.technique.inspect?.() ?? {}; }

  /** `liveMemory`: see Machine.snapshot. */
  snapshot(liveMemory = false): VmSnapshot {
    return {
      version: VM_STATE_VERSION, mode: this.mode,
      machine: this.machine.snapshot(liveMemory),
      technique: structuredClone(this.technique.getState()),
      overheadCycles: this.overheadCycles, overheadBy: this.overheadByCause(), eventSeq: this.events.seq, started: this.started,
    };
  }

  restore(s: VmSnapshot): void {
    if (s.version !== VM_STATE_VERSION) throw new Error(`VM snapshot version ${s.version} is not ${VM_STATE_VERSION}`);
    if (s.mode !== this.mode) throw new Error(`VM snapshot is for mode ${s.mode}, not ${this.mode}`);
    this.technique.beforeRestore?.();
    this.machine.restore(s.machine);
    this.technique.setState(structuredClone(s.technique));
    this.overheadCycles = s.overheadCycles;
    this.overheadBy.fill(0);
    for (const [k, v] of Object.entries(s.overheadBy ?? {})) if (k in CAUSE_INDEX) this.overheadBy[CAUSE_INDEX[k as CycleCause]] = v;
    this.events.seq = s.eventSeq;
    this.started = s.started;
  }
}

export function createVm(options: VmOptions = {}): Vm { return new Vm(options); }

/** Runs a program to its end under `options.mode`; returns the report (and the VM, for inspection). */
export function runProgram(program: Program | Uint8Array, options: VmOptions = {}, sliceSize = 1_000_000): { vm: Vm; report: RunReport } {
  const vm = createVm(options);
  vm.load(program);
  const start = performance.now();
  vm.run(sliceSize);
  return { vm, report: vm.report(performance.now() - start) };
}
