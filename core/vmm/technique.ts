/*
 * The interface an execution technique (SPEC §4 `mode`) implements, and the registry that maps a
 * mode to its implementation. `native` and the software techniques live in core/vmm; binary
 * translation (core/vmm/bt) and hardware assistance (core/vmm/vmx) register themselves with one
 * `registerTechnique` call each, imported for its side effect by core/vmm/index.ts.
 *
 * A technique is attached to one `Machine` through a `VmHost` (the VM around it): it installs its
 * monitor on the CPU, prepares the entry state its guest sees, and runs the guest in slices — its
 * own `runSlice`, so a binary translator can replace the interpreter loop. Everything it knows
 * that is not in the machine (virtual CPU, shadow tables, translation cache index, VMCS) goes into
 * `getState()`, so the whole VM can be snapshotted for the debugger's step back.
 */
import type { Cpu } from '../cpu/cpu';
import type { LoadedImage, Machine, StopReason } from '../machine/machine';
import type { RunCounters } from '../machine/report';
import type { CycleCause } from './compareRow';
import type { CostKey, CostProfile } from './cost';
import type { Disk } from '../devices/ata';
import type { MultibootBoot } from '../machine/firmware';
import type { VmEvent, VmEventBus, VmEventInit, VmEventKind } from './events';

import { MODES, type Mode } from '../isa/types';
/** The techniques, in SPEC §4 order (the order `popek compare` prints): core/isa/types' one list. */
export { MODES, type Mode };

export function isMode(s: string): s is Mode { return (MODES as readonly string[]).includes(s); }

/** Counter tables of SPEC §6's report that techniques fill. */
export type CounterTable = 'traps' | 'critical' | 'vmExits' | 'hypercalls';

export interface VmOptions {
  mode?: Mode;
  /** Cost profile name (`modern`, `vtx-2006`) or a profile object. */
  cost?: string | CostProfile;
  /** Guest RAM in MiB (default 16). */
  memoryMiB?: number;
  /** Stop with outcome `limit` after this many guest instructions (0: none). */
  maxInstructions?: number;
  /** Event listener installed before the guest starts (e.g. the `--trace` printer). */
  trace?: (event: VmEvent) => void;
  /** Technique-specific options (e.g. `{ ept: false }` for hardware-assisted). */
  techniqueOptions?: Record<string, unknown>;
  /** ATA disks on the primary channel, [master, slave]: image bytes (the guest's writes change them). */
  disks?: Disk[];
  /** The CMOS clock at power-on (ms since 1970, UTC; default 2000-01-01). */
  rtcStart?: number;
  /** The Multiboot command line and modules (QEMU's `-append` and `-initrd`). */
  boot?: MultibootBoot;
}

/** What a technique sees of the VM it runs in. */
export interface VmHost {
  readonly machine: Machine;
  readonly cpu: Cpu;
  readonly events: VmEventBus;
  readonly profile: CostProfile;
  readonly options: Readonly<VmOptions>;
  /** Cycles of the named cost figures summed (`host.cost('trapRoundTrip', 'emulate')`). */
  cost(...keys: CostKey[]): number;
  /** Adds modelled cycles that no event carries (e.g. translated-code overhead per block run). */
  charge(cycles: number, cause?: CycleCause): void;
  /** Publishes an event (seq, icount, source filled in) and charges its `cost`. */
  emit(init: VmEventInit): VmEvent;
  /**
   * What `emit` does for an event nobody listens to (`events.wants(kind)` false), without building
   * it: charges `cost` to `kind` and takes its sequence number. Hot paths (a trap per port access)
   * call it instead of formatting an event's text for no one.
   */
  tally(kind: VmEventKind, cost: number): void;
  /** Adds to a SPEC §6 counter table (`count('traps', 'rdmsr')`). */
  count(table: CounterTable, key: string, n?: number): void;
  /** The machine's counters (translation statistics are written directly by BT). */
  readonly counters: RunCounters;
}

/** Debugger views of a technique's own state (SPEC §8 VCPU, VMCS and Hypervisor scopes). */
export interface TechniqueView {
  /** VCPU scope: name → value, e.g. `CPL (real)`: 1, `CPL (guest)`: 0, `IF (virtual)`: 1. */
  vcpu?: Record<string, string | number | boolean>;
  /** VMCS scope (hardware-assisted): field name → value. */
  vmcs?: Record<string, string | number | boolean>;
  /** Hypervisor scope: technique-specific counters (shadow fills, cache size …). */
  hypervisor?: Record<string, string | number | boolean>;
}

export interface Technique {
  readonly mode: Mode;
  /**
   * Called once, after the image is loaded with the machine's native entry state: installs the
   * monitor and turns that state into what this technique's guest really runs with (deprivileged
   * CS, the VMM's tables, the shared-info page in ESI …).
   */
  start(image: LoadedImage): void;
  /** Runs at most `budget` guest instructions; same contract as `Machine.runSlice` (never throws). */
  runSlice(budget: number): StopReason;
  /** Technique state beyond the machine's (structured-clone-able). */
  getState(): unknown;
  setState(state: unknown): void;
  /**
   * Times the technique acted with no event to say so (a critical instruction run by guest user code
   * under a ring-1 monitor: SGDT, SMSW, PUSHF … show the monitor's state there too): the debugger's
   * native twin counts on every action being an event or counted here (debugger/runtime/stateTransfer.ts).
   */
  readonly unreportedActions?: number;
  /**
   * Events so far that change nothing the guest can see, however it looks (the twin need not run a
   * stretch for them): a shadow entry built while the guest's paging is off (the page mapped to
   * itself, no guest page table read or marked), an EPT entry built for RAM on first touch. Each is
   * an event as well (counted in the bus's `seq`): the debugger subtracts these.
   */
  readonly invisibleActions?: number;
  /** Called before the machine's memory is restored from a snapshot (drop write watches …). */
  beforeRestore?(): void;
  inspect?(): TechniqueView;
}

export interface TechniqueInfo {
  mode: Mode;
  /** One line for `popek compare` and the debugger's mode picker. */
  title: string;
  /** Memory the technique needs beyond guest RAM (shadow tables, its own GDT/IDT/TSS), MiB. */
  reservedMiB: number;
  create(host: VmHost): Technique;
}

const registry = new Map<Mode, TechniqueInfo>();

export function registerTechnique(info: TechniqueInfo): void {
  registry.set(info.mode, info);
}

export function techniqueInfo(mode: Mode): TechniqueInfo | undefined { return registry.get(mode); }

/** Modes with an implementation in this build, in SPEC §4 order. */
export function availableModes(): Mode[] { return MODES.filter((m) => registry.has(m)); }
