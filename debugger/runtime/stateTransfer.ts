/*
 * Where the technique did nothing, the native twin does not run: it takes the guest's state.
 *
 * Why that is sound. Between two events of the technique (core/vmm/events.ts: traps, critical
 * instructions at the guest kernel's level, hypercalls, VM exits, reflected exceptions, injected
 * interrupts, blocks translated and callouts, shadow-paging work — each one emitted, or tallied when
 * nobody listens, and either way numbered by the bus's `seq`) the guest runs on the same simulated
 * CPU as natively: the same instruction semantics on the same RAM, the same devices timed by the same
 * instruction count. What the technique changes in the CPU (CPL, selectors' RPL and descriptors' DPL,
 * its own GDT/IDT, the real CR0/CR3, the real IF and IOPL) only shows through instructions that are
 * themselves events — or counted by `Technique.unreportedActions` (a ring-1 monitor's critical
 * instructions run by guest user code). So if at the start of a stretch with no event the twin
 * agreed with the guest on everything the comparison sees (registers, flags, IF as the guest
 * believes it, guest RAM) and on the time an RDTSC reads, a native run of the stretch would end
 * exactly in the state the guest ended in: the twin takes that state instead of running the stretch.
 *
 * What is taken (`adoptGuestState`): guest RAM — the pages either side wrote since the stretch
 * began (write epochs of core/cpu/physicalMemory.ts: every RAM write but a machine's initial load
 * goes through its page flags; test/debugger/stateTransfer.test.ts checks the twin's memory after
 * each transfer against the guest's and a native run's), in the chunks the comparison ignores (a paravirtual
 * shared-info page the hypervisor writes; chunks the lock step found only the technique's differences
 * in, e.g. a GDT whose accessed bits the CPU sets natively but not in the monitor's shadow copy, which
 * may share its chunk with the guest's own variables) only the bytes the guest wrote in the stretch,
 * the others keep the twin's values —, the general registers, EIP (as a linear address), the
 * arithmetic flags and DF/TF/AC/ID, the x87, the instruction count, and the devices time drives
 * (`takeTimedDevices`: the same devices the twin's would be — the technique reaches them only through
 * events: port I/O and MMIO trap, exit or call out — and their time is the instruction count), but
 * the serial port's output, which stays the twin's own (its console is compared with the guest's at
 * the end).
 *
 * What is not taken but required unchanged (`techniqueActed`): the rest of the CPU — segments,
 * control and debug registers, descriptor tables, CPL, IF/IOPL/NT, MSRs, halted, pending interrupts,
 * the interrupt shadow, idle time — and IF as the guest believes it. These are where the technique's
 * mapping lives (the twin keeps its own values); a stretch that changed one (a VT-x guest's STI or
 * CR3 load, which exits nowhere) is run by the twin as any stretch with an event.
 *
 * Cases looked at and how they are covered:
 * - trap-and-emulate, paravirtual: privileged instructions, I/O, CLI/STI/POPF at the kernel's level
 *   trap (event, tallied when nobody listens); critical instructions at CPL 1 are `critical` events
 *   (ring1Vmm.onCritical, called from the decoder's wrapper, which compiled blocks and regions call
 *   too); at CPL 3 they are counted (SGDT/SIDT/SMSW/STR/LAR/LSL/VERR/VERW/PUSHF there read the
 *   monitor's state); shadow page-table fills, traced page-table writes, A/D propagation, flushes
 *   are `shadow-paging` events; a write to the guest's GDT page only marks the real descriptors not
 *   present (the next segment load traps: an event); the VMM's own memory lies above guest RAM (never
 *   compared nor taken); hypercalls and event-channel upcalls are events; the shared-info page is
 *   the technique's chunk.
 * - binary translation: a block translated, retranslated, a callout (privileged, sensitive, I/O) are
 *   events; a block invalidated by a guest write emits only for a listener, but it runs again only
 *   after a `translate` event; user code runs directly on the same CPU state as natively (the real
 *   CR0 adds PG/WP, above SMSW's 16 bits).
 * - hardware-assisted: every VM exit (I/O, CPUID, HLT, MSR, EPT violations, APIC accesses that exit)
 *   is an event, tallied or emitted; injected interrupts are events; what completes in non-root mode
 *   (virtualized APIC writes, virtual-interrupt delivery) acts on the machine's own LAPIC model,
 *   which the twin takes; CR3 loads, CLI/STI and segment loads without an exit change the system
 *   state: the twin runs that stretch.
 * - interrupt timing: an interrupt the guest takes is an event in every technique; the twin takes
 *   the same devices, so one the guest did not take in the stretch the twin would not have taken.
 * - RDTSC reads the instruction count plus idle time plus the TSC offset: the last two must agree.
 */
import { CS } from '../../core/cpu/constants';
import { x87 } from '../../core/cpu/fpu/execute';
import type { Vm } from '../../core/vmm';
import { guestIf, linearEip, PAGE, SPAN, view, type TwinDifferences } from './equivalence';

/**
 * The RAM pages (first addresses, ascending) either side wrote since `mark` (the write epochs begun
 * there; the twin's is written by a restore too, e.g. of a state the worker thread ran it to), or
 * undefined when the epochs were not begun in these memories.
 */
export function pagesWrittenSince(vm: Vm, twin: Vm, mark: StretchMark): number[] | undefined {
  const mine = vm.cpu.mem.writtenSince(mark.epochs.vm), theirs = twin.cpu.mem.writtenSince(mark.epochs.twin);
  if (!mine || !theirs) return undefined;
  return [...new Set([...mine, ...theirs])].sort((x, y) => x - y).map((p) => p * PAGE);
}

/**
 * The guest RAM pages (first addresses) where a twin run from `mark` may differ from the guest now:
 * those that differed there (`atMark`, the comparison made at the mark) and those either side wrote
 * since — a comparison of a few pages at the end of a stretch the twin ran, not of 16 MiB.
 * Undefined (compare all) without write epochs or a comparison at the mark.
 */
export function pagesThatMayDiffer(vm: Vm, twin: Vm, mark: StretchMark, atMark: TwinDifferences | undefined): number[] | undefined {
  if (!atMark || atMark.icount !== mark.icount) return undefined;
  const written = pagesWrittenSince(vm, twin, mark);
  if (!written) return undefined;
  const pages = new Set(written);
  for (const at of atMark.chunks.keys()) pages.add(at - (at % PAGE));
  return [...pages].sort((x, y) => x - y);
}

/**
 * The pages (first addresses, ascending, below `n`) where guest RAM may differ from the twin's since
 * `mark`, where the two agreed: those either side wrote since. Without write epochs, every page of
 * each 64 KiB span that differs.
 */
function pagesToLook(vm: Vm, twin: Vm, mark: StretchMark, n: number): number[] {
  const written = pagesWrittenSince(vm, twin, mark);
  if (written) return written.filter((at) => at < n);
  const a = vm.cpu.mem.bytes, b = twin.cpu.mem.bytes;
  const out: number[] = [];
  for (let span = 0; span < n; span += SPAN) {
    const len = Math.min(SPAN, n - span);
    if (!view(a, span, len).equals(view(b, span, len))) for (let page = span; page < span + len; page += PAGE) out.push(page);
  }
  return out;
}

/** EFLAGS bits guest code sets with no privilege (CF PF AF ZF SF TF DF OF AC ID): taken from the guest. */
const USER_FLAGS = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400 | 0x800 | 0x40000 | 0x200000;
/** RF: the debugger's own resume flag (each side has its own). */
const RF = 0x10000;

/** Where a stretch starts, as `StretchWatch.acted` and `adoptGuestState` need it. */
export interface StretchMark {
  icount: number;
  /** The write epochs begun there in the guest's memory and the twin's (`PhysicalMemory.newWriteEpoch`). */
  epochs: { vm: number; twin: number };
  /** The guest's bytes of the ignored chunks there (what it writes in the stretch is told apart). */
  ignoredBytes: Map<number, Uint8Array>;
  /** Events so far but translations and those the guest cannot see (see StretchWatch). */
  events: number;
  unreported: number;
  system: string;
}

/** The CPU state the technique maps or keeps (all but what `adoptGuestState` takes), and IF as the guest believes it. */
function systemState(vm: Vm): string {
  const s = vm.cpu.getState() as Partial<ReturnType<Vm['cpu']['getState']>>;
  const eflags = s.eflags! & ~USER_FLAGS & ~RF;
  delete s.regs; delete s.eip; delete s.eflags; delete s.icount;
  return JSON.stringify([s, eflags, guestIf(vm)]);
}

/**
 * Whether the technique acted in a stretch. Every event counts but a binary translator's
 * `translation` events: translating a block changes nothing the guest can see (only the translation
 * cache); the callouts in it are events of their own when they run, and what its inline code does is
 * the same whether it was translated in this stretch or an earlier one — the stretches after it, which
 * run that code without any event, are taken on the same premise (the translator's inline code has
 * the instructions' semantics). Counted apart because BT translates a block's tail wherever a slice
 * ends in the middle of a block: a translation at every slice boundary.
 * Nor do the technique's `invisibleActions`: a shadow entry built while the guest's paging is off
 * (it maps the page to itself; the guest has no page table to read or mark), an EPT entry built for
 * RAM on its first touch. A guest without paging met them at each page it touched for the first
 * time — the first stretches of every run were the twin's to run (50,000 instructions of cold code
 * in examples/compute.gasm: 10–15 ms of `continue`). A shadow fill with the guest's paging on reads
 * and marks (A/D) the guest's tables, where the native TLB may differ from the shadow: it counts.
 */
export class StretchWatch {
  private translations = 0;
  private readonly unsubscribe: () => void;

  constructor(private readonly vm: Vm) {
    this.unsubscribe = vm.events.subscribe(() => { this.translations++; }, ['translation']);
  }

  /** A stretch starts here, `twin` beside the guest (write epochs begin in both memories). */
  mark(twin: Vm, ignored: ReadonlySet<number>, chunk: number): StretchMark {
    const vm = this.vm, ram = vm.cpu.mem.bytes;
    const ignoredBytes = new Map<number, Uint8Array>();
    for (const at of ignored) if (at + chunk <= vm.cpu.mem.ramSize) ignoredBytes.set(at, ram.slice(at, at + chunk));
    const epochs = { vm: vm.cpu.mem.newWriteEpoch(), twin: twin.cpu.mem.newWriteEpoch() };
    return { icount: vm.cpu.icount, epochs, ignoredBytes, events: this.events(), unreported: vm.technique.unreportedActions ?? 0, system: systemState(vm) };
  }

  /** Events so far that may have acted: all but translations and the technique's invisible ones. */
  private events(): number {
    const vm = this.vm;
    return vm.events.seq - this.translations - (vm.technique.invisibleActions ?? 0);
  }

  /** Whether the technique did anything since `mark` that a native run might not do alike (see above). */
  acted(mark: StretchMark): boolean {
    const vm = this.vm;
    return this.events() !== mark.events || (vm.technique.unreportedActions ?? 0) !== mark.unreported
      || vm.machine.outcome !== undefined || systemState(vm) !== mark.system;
  }

  dispose(): void { this.unsubscribe(); }
}

/**
 * Whether the twin agrees with the guest as the stretch's soundness needs: the comparison at the
 * stretch's start (`clean`, both sides there) found no difference at all, and RDTSC reads the same.
 */
export function inAgreement(clean: TwinDifferences, vm: Vm, twin: TwinClock): boolean {
  if (clean.chunks.size !== 0 || clean.icount !== vm.cpu.icount || twin.icount !== vm.cpu.icount) return false;
  for (let i = 0; i < clean.vm.length; i++) if (clean.vm[i] !== clean.twin[i]) return false;
  return vm.cpu.idleCycles === twin.idleCycles && vm.cpu.msr.tscOffset === twin.msr.tscOffset;
}

/** What `inAgreement` reads of the twin's CPU (the CPU itself, or its state as the worker gave it). */
export interface TwinClock { icount: number; idleCycles: number; msr: { tscOffset: number } }

/**
 * The devices a stretch without an event may have changed, the guest's taken by the twin: those
 * simulated time drives (the timers, the interrupt controllers their interrupts reach, the RTC, the
 * ACPI PM timer, the serial port's receive line — its output stays the twin's own) and the keyboard
 * the host types into. The others (PCI configuration, the disks' registers, VGA, the debug exit,
 * unclaimed ports) change only by port I/O — an event in every technique, so a stretch the twin ran —
 * and are as the guest's: a transfer of them cost more than all the rest of it (PCI's
 * configuration space alone).
 */
function takeTimedDevices(twin: Vm, vm: Vm): void {
  const from = vm.machine, to = twin.machine;
  to.pic.setState(from.pic.getState());
  to.pit.setState(from.pit.getState());
  to.lapic.setState(from.lapic.getState());
  to.ioapic.setState(from.ioapic.getState());
  to.cmos.setState(from.cmos.getState());
  to.acpiPm.setState(from.acpiPm.getState());
  to.ps2.setState(from.ps2.getState());
  const output = to.uart.getState().output;
  to.uart.setState({ ...from.uart.getState(), output });
}

/**
 * The twin takes the guest's state (what is listed above); in the ignored chunks of guest RAM
 * (`chunk` bytes each, the guest's bytes at the stretch's start in `mark`) only the bytes the guest
 * changed since. Pages are written through the memory's `load` (decoded code on them is dropped); a
 * page that is the same on both sides is not touched.
 */
export function adoptGuestState(twin: Vm, vm: Vm, mark: StretchMark, chunk: number): void {
  const ignored = mark.ignoredBytes;
  const g = vm.cpu, t = twin.cpu;
  const a = g.mem.bytes, b = t.mem.bytes, n = Math.min(g.mem.ramSize, t.mem.ramSize);
  let loaded = false;
  for (const page of pagesToLook(vm, twin, mark, n)) {
    const size = Math.min(PAGE, n - page);
    if (view(a, page, size).equals(view(b, page, size))) continue;
    loaded = true;
    let whole = true;
    for (let c = page; c < page + size && whole; c += chunk) if (ignored.has(c)) whole = false;
    if (whole) { t.mem.load(page, a.subarray(page, page + size)); continue; }
    for (let c = page; c < page + size; c += chunk) {
      const before = ignored.get(c);
      if (!before) {
        if (!view(a, c, chunk).equals(view(b, c, chunk))) t.mem.load(c, a.subarray(c, c + chunk));
        continue;
      }
      const merged = b.slice(c, c + chunk);
      for (let k = 0; k < chunk; k++) if (a[c + k] !== before[k]) merged[k] = a[c + k];
      t.mem.load(c, merged);
    }
  }
  t.regs.set(g.regs.subarray(0, 8));
  t.eip = (linearEip(g) - t.segBase[CS]) >>> 0;
  t.setEflags((t.getEflags() & ~USER_FLAGS) | (g.getEflags() & USER_FLAGS));
  t.icount = g.icount;
  x87(t).setState(x87(g).getState());
  takeTimedDevices(twin, vm);
  // The twin's TLB may hold a translation of a page table the guest rewrote (no event under VT-x with EPT).
  if (loaded) t.flushTlb();
  t.requestInterruptCheck();
}
