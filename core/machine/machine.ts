/*
 * The simulated PC (SPEC §3): RAM, the CPU, the I/O devices, the loader and entry state, the run
 * loop in slices, the outcomes of SPEC §6, and snapshot / restore of the whole machine.
 *
 *   const m = new Machine({ memoryMiB: 16 });
 *   m.loadImage(bytes, { origin: 0x100000 });
 *   while (m.runSlice(1_000_000) === 'slice') { await yieldToHost(); }
 *   m.report('native', wallMs)
 */
import { CS, DS, ES, FS, GS, IF, SS, CR0_PE, CR0_ET } from '../cpu/constants';
import { Cpu, UnsupportedError, type CpuState, type CpuStop } from '../cpu/cpu';
import { TripleFault } from '../cpu/fault';
import { PAGE_SIZE, PhysicalMemory } from '../cpu/physicalMemory';
import { x87, type X87State } from '../cpu/fpu/execute';
import { AtaChannel, SECONDARY_ATA, type Disk } from '../devices/ata';
import { CmosRtc } from '../devices/cmosRtc';
import { PciBus, QEMU_PC_FUNCTIONS } from '../devices/pci';
import { ACPI_PM_BASE, APM_CONTROL, AcpiPm, GPE0_BASE } from '../devices/acpiPm';
import { DebugExit } from '../devices/debugExit';
import { IoApic } from '../devices/ioapic';
import { LocalApic } from '../devices/lapic';
import { MmioBus } from '../devices/mmio';
import { Ps2Controller } from '../devices/ps2';
import { IoBus, ignoredPort } from '../devices/ioBus';
import { Pic8259Pair } from '../devices/pic8259';
import { Pit8254 } from '../devices/pit8254';
import { Uart16550 } from '../devices/uart16550';
import { CPUID_FEATURES_EDX, CPUID_SIGNATURE } from '../cpu/ops/system';
import { VgaText, VGA_TEXT_BASE } from '../devices/vga';
import { BOOT_STACK_TOP, IOAPIC_BASE, LAPIC_BASE, type MultibootBoot, writeBiosDataArea, writeFirmwareGdt, writeFirmwareScreen, writeFirmwareTables, writeMultibootInfo } from './firmware';
import { textToScanCodes, type KeyboardInput } from './keyboardInput';
import { isElf } from '../elf/elf32';
import { elfKernelPlan } from './elfKernel';
import { LoadError, MULTIBOOT_BOOTLOADER_MAGIC, findMultibootHeader, multibootLoadPlan } from './multiboot';
import { emptyCounters, type Outcome, type RunCounters, type RunReport } from './report';

export interface MachineOptions {
  /** Guest RAM in MiB (default 16). */
  memoryMiB?: number;
  /** Extra memory after guest RAM for a monitor (shadow tables, its own GDT/IDT/TSS), MiB. */
  reservedMiB?: number;
  /** Modelled CPU clock in Hz: one instruction is one cycle; the PIT and RDTSC follow it. */
  cpuHz?: number;
  /** Stop with outcome 'limit' after this many instructions (0 or undefined: no limit). */
  maxInstructions?: number;
  /** Compile hot blocks to JS functions (default true; false: interpret every instruction). */
  jit?: boolean;
  /** ATA disks on the primary channel: [master, slave] (image bytes; writes change them). */
  disks?: Disk[];
  /** The CMOS clock's time at power-on (ms since 1970, UTC); it then follows simulated time. */
  rtcStart?: number;
}

/** Runs the guest for at most `budget` instructions; the contract of `Cpu.run`. */
export type Executor = (budget: number) => CpuStop;

/**
 * What `runSlice` returns: 'slice' (budget spent, still running), 'breakpoint', 'stopped' (a stop
 * asked for with `cpu.requestStop`, reason in `cpu.stopReason`), or the outcome once the run is over.
 */
export type StopReason = 'slice' | 'breakpoint' | 'stopped' | Outcome;

/** True when `r` ends the run (an outcome), false when the guest goes on after it. */
export function isOutcome(r: StopReason): r is Outcome {
  return r !== 'slice' && r !== 'breakpoint' && r !== 'stopped';
}

export interface LoadOptions {
  /** Address of the image's first byte when there is no Multiboot header (the `org`). */
  origin?: number;
  /** Entry point when there is no Multiboot header (default: origin). */
  entry?: number;
  /** The command line and modules the boot loader hands over (default: an empty command line, no modules). */
  boot?: MultibootBoot;
}

export interface LoadedImage {
  multiboot: boolean;
  loadAddr: number;
  loadEnd: number;
  bssEnd: number;
  entry: number;
}

export const MACHINE_STATE_VERSION = 1;

export interface MachineSnapshot {
  version: number;
  cpu: CpuState;
  memory: Uint8Array;
  pic: ReturnType<Pic8259Pair['getState']>;
  pit: ReturnType<Pit8254['getState']>;
  lapic?: ReturnType<LocalApic['getState']>;
  ioapic?: ReturnType<IoApic['getState']>;
  cmos?: ReturnType<CmosRtc['getState']>;
  pci?: ReturnType<PciBus['getState']>;
  acpiPm?: ReturnType<AcpiPm['getState']>;
  ps2?: ReturnType<Ps2Controller['getState']>;
  ata?: ReturnType<AtaChannel['getState']>;
  ata2?: ReturnType<AtaChannel['getState']>;
  x87?: X87State;
  uart: ReturnType<Uart16550['getState']>;
  debugExit: ReturnType<DebugExit['getState']>;
  vga?: ReturnType<VgaText['getState']>;
  unknownPorts: Array<[number, { reads: number; writes: number }]>;
  outcome?: Outcome;
  exitCode: number;
  faultAddress?: number;
  error?: string;
  unmodelled?: boolean;
  counters: RunCounters;
}

/** The devices' part of a machine snapshot (`Machine.deviceState`). */
export type DeviceState = Pick<MachineSnapshot, 'pic' | 'pit' | 'lapic' | 'ioapic' | 'cmos' | 'pci' | 'acpiPm' | 'ata2' | 'ps2' | 'ata' | 'uart' | 'debugExit' | 'vga' | 'unknownPorts'>;

export const DEFAULT_CPU_HZ = 100_000_000;
export const DEFAULT_ORIGIN = 0x100000;
/** Timer wake-ups of a halted CPU with no instruction retired in between before it counts as halted for good. */
const MAX_IDLE_WAKES = 1000;
export const COM1 = 0x3f8;

export class Machine {
  readonly mem: PhysicalMemory;
  readonly cpu: Cpu;
  readonly io = new IoBus();
  readonly pic = new Pic8259Pair();
  readonly pit: Pit8254;
  readonly uart: Uart16550;
  readonly debugExit: DebugExit;
  /** VGA text mode: the screen is guest RAM at 0xB8000 plus the CRTC/attribute registers. */
  readonly vga: VgaText;
  /** Where typed keys go (the 8042's keyboard); undefined: a machine without a keyboard. */
  keyboard: KeyboardInput | undefined;
  /** Memory-mapped devices (the APICs), reached through `mem` past the end of RAM. */
  readonly mmio = new MmioBus();
  readonly lapic: LocalApic;
  /**
   * Whether the interrupt the CPU acknowledged last came from the local APIC (else from the 8259s
   * through LINT0): VT-x's virtual-interrupt delivery takes only the local APIC's.
   */
  interruptFromApic = false;
  readonly ioapic: IoApic;
  readonly cmos: CmosRtc;
  /** PCI configuration space (0xCF8/0xCFC): QEMU's pc bus without a NIC, and PIIX3's reset control at 0xCF9. */
  readonly pci: PciBus;
  /** PIIX4's ACPI power-management registers at 0x600 (PM timer, PM1 control's power-off). */
  readonly acpiPm: AcpiPm;
  readonly ps2: Ps2Controller;
  readonly ata: AtaChannel;
  /** The secondary IDE channel with QEMU's default drive: an empty ATAPI CD-ROM (ide1-cd0). */
  readonly ata2: AtaChannel;
  /** While true, a CPU halted with nothing scheduled waits (the run loop returns 'slice') instead of ending with 'halt': host input may still come. */
  inputOpen = false;
  readonly options: Required<Omit<MachineOptions, 'disks' | 'rtcStart'>>;

  /** Set once the run is over. */
  outcome: Outcome | undefined;
  exitCode = 0;
  /** Triple fault: EIP (linear) of the instruction whose fault could not be delivered. */
  faultAddress: number | undefined;
  /** Outcome 'error': what went wrong. */
  error: string | undefined;
  /** Outcome 'error': the guest used architecture Popek does not model (RunReport.unmodelled). */
  unmodelled = false;
  /** Counters a monitor fills (traps, critical, VM exits, hypercalls, translation). */
  counters: RunCounters = emptyCounters();
  /** Called with each console byte as the guest writes it. */
  onConsoleByte: (b: number) => void = () => {};
  image: LoadedImage | undefined;

  constructor(options: MachineOptions = {}) {
    const memoryMiB = options.memoryMiB ?? 16;
    if (!Number.isInteger(memoryMiB) || memoryMiB < 2 || memoryMiB > 2048) throw new RangeError(`memoryMiB must be an integer from 2 to 2048 (got ${memoryMiB})`);
    const reservedMiB = options.reservedMiB ?? 0;
    if (!Number.isInteger(reservedMiB) || reservedMiB < 0 || memoryMiB + reservedMiB > 2048) throw new RangeError(`reservedMiB must be a small non-negative integer (got ${reservedMiB})`);
    this.options = { memoryMiB, reservedMiB, cpuHz: options.cpuHz ?? DEFAULT_CPU_HZ, maxInstructions: options.maxInstructions ?? 0, jit: options.jit ?? true };
    this.mem = new PhysicalMemory(memoryMiB << 20, reservedMiB << 20);
    this.cpu = new Cpu(this.mem);
    this.cpu.io = this.io;
    this.cpu.jit = this.options.jit;
    this.pic.onChange = () => this.cpu.requestInterruptCheck();
    // The APICs: the local APIC is the CPU's interrupt input; the 8259s reach it through LINT0.
    const cpu = this.cpu;
    this.lapic = new LocalApic(() => cpu.time, () => cpu.requestInterruptCheck(), () => (cpu.msr.apicBase & 0x800) !== 0);
    this.ioapic = new IoApic((vector, level) => this.lapic.request(vector, level));
    this.lapic.onLevelEoi = (v) => this.ioapic.eoi(v);
    this.mem.mmio = this.mmio;
    this.mmio.register(LAPIC_BASE, 0x1000, 'local APIC', this.lapic);
    this.mmio.register(IOAPIC_BASE, 0x1000, 'I/O APIC', this.ioapic);
    const lapic = this.lapic, pic = this.pic;
    cpu.pic = {
      hasInterrupt: () => lapic.hasInterrupt() || (pic.hasInterrupt() && lapic.acceptsPic()),
      acknowledge: () => {
        this.interruptFromApic = lapic.hasInterrupt();
        return this.interruptFromApic ? lapic.acknowledge() : pic.acknowledge();
      },
    };
    this.pit = new Pit8254(this.options.cpuHz, () => this.cpu.time, () => { this.pic.pulse(0); this.ioapic.pulse(2); });
    this.uart = new Uart16550(COM1, (level) => this.isaIrq(4, level));
    this.cmos = new CmosRtc(() => cpu.time, this.options.cpuHz, this.mem.ramSize, options.rtcStart);
    this.ps2 = new Ps2Controller((level) => this.isaIrq(1, level), () => { this.finish('triple-fault', 0, { error: 'keyboard controller reset (0xFE)' }); }, () => cpu.time, this.options.cpuHz);
    // Keys a user types (the debugger's screen view) come as a typist's: a byte at a time (Ps2Controller.typeKeys).
    this.keyboard = { sendScanCodes: (codes) => this.ps2.typeKeys(codes) };
    // The x87's FERR# output: IRQ 13 when CR0.NE = 0 (MS-DOS compatible error reporting).
    x87(cpu).onFerr = (level) => this.isaIrq(13, level);
    const disks = options.disks ?? [];
    this.ata = new AtaChannel([disks[0], disks[1]], (level) => this.isaIrq(14, level));
    this.ata2 = new AtaChannel(['cdrom', undefined], (level) => this.isaIrq(15, level), SECONDARY_ATA, 3);
    this.uart.onByte = (b) => this.onConsoleByte(b);
    this.debugExit = new DebugExit((code) => {
      this.finish('exit', code);
      this.cpu.stopRequested = true;
      this.cpu.breakBlock = true;
    });
    this.io.register(COM1, 8, this.uart);
    this.io.register(0x20, 2, this.pic.device);
    this.io.register(0xa0, 2, this.pic.device);
    // A PIT write can bring its next edge closer than the budget of the CPU's current run: stop
    // the run so that runSlice recomputes the budget (else the first ticks arrive late). The stop
    // is taken at the end of the block (breakBlock): an OUT inside a compiled block or loop region
    // would otherwise run on to the end of the budget.
    this.io.register(0x40, 4, { read: (p: number) => this.pit.device.read(p), write: (p: number, v: number) => { this.pit.device.write(p, v); this.cpu.stopRequested = true; this.cpu.breakBlock = true; } });
    this.io.register(0xf4, 4, this.debugExit);
    this.io.register(0x80, 1, ignoredPort);
    this.io.register(0x70, 2, this.cmos);
    // Port 0xF0: a write clears the coprocessor-error latch (FERR# → IRQ 13) on the PC.
    this.io.register(0xf0, 1, { read: () => 0xff, write: () => this.isaIrq(13, false) });
    this.io.register(0x60, 1, this.ps2);
    this.io.register(0x64, 1, this.ps2);
    this.pci = new PciBus(QEMU_PC_FUNCTIONS, () => this.finish('triple-fault', 0, { error: 'reset through the reset control register (0xCF9)' }));
    this.io.register(0xcf8, 8, this.pci.device);
    this.acpiPm = new AcpiPm(() => cpu.time, this.options.cpuHz, () => this.finish('shutdown', 0, { error: 'ACPI power off (PM1 control at 0x604, SLP_TYP 0)' }));
    this.io.register(ACPI_PM_BASE, 12, this.acpiPm.device);
    this.io.register(APM_CONTROL, 2, this.acpiPm.apmDevice);
    this.io.register(GPE0_BASE, 4, this.acpiPm.gpeDevice);
    this.io.register(0x1f0, 8, this.ata);
    this.io.register(0x3f6, 1, this.ata);
    this.io.register(0x170, 8, this.ata2);
    this.io.register(0x376, 1, this.ata2);
    this.vga = new VgaText(this.mem.bytes);
    this.io.register(0x3c0, 16, this.vga.device);
    this.io.register(0x3d4, 2, this.vga.device);
    this.io.register(0x3da, 1, this.vga.device);
    this.resetCpu();
  }

  /** An ISA interrupt line: to the 8259s and to the I/O APIC (IRQ 0 is pin 2, as the MP table says). */
  isaIrq(irq: number, level: boolean): void {
    this.pic.setIrq(irq, level);
    this.ioapic.setIrq(irq === 0 ? 2 : irq, level);
  }

  /** The next cycle at which a timer (PIT, local APIC timer, a typed key) has something to do. */
  nextTimerCycle(): number { return Math.min(this.pit.nextEventCycle(), this.lapic.nextEventCycle(), this.ps2.nextKeyCycle()); }
  /** Brings the timers up to the CPU's time (their interrupts are raised). */
  updateTimers(): void {
    this.pit.update(); this.lapic.update();
    this.ps2.pressDueKey();
  }
  /** A halted CPU: the cycle of the next timer interrupt that can wake it (Infinity: none). */
  wakeCycle(): number {
    if (!(this.cpu.flags & IF)) return Infinity;
    const pitReaches = ((this.pic.master.imr & 1) === 0 && this.lapic.acceptsPic()) || this.ioapic.unmasked(2);
    return Math.min(pitReaches ? this.pit.nextEventCycle() : Infinity, this.lapic.nextEventCycle(), this.ps2.nextKeyCycle());
  }

  /** Host input for the guest: COM1's receive line and the keyboard (`popek run --stdin`). */
  input(text: string, to: 'serial' | 'keyboard' | 'both' = 'both'): void {
    if (to !== 'keyboard') this.uart.receive(Buffer.from(text, 'utf8'));
    if (to !== 'serial') this.ps2.typeKeys(textToScanCodes(text));
    this.cpu.requestInterruptCheck();
  }

  /** The console output so far (bytes written to COM1's THR), as text. */
  get console(): string { return Buffer.from(this.uart.output).toString('utf8'); }

  /** Ends the run (devices, monitors: a paravirtual shutdown ends with 'shutdown' and its reason). */
  finish(outcome: Outcome, exitCode = 0, detail?: { faultAddress?: number; error?: string; unmodelled?: boolean }): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.exitCode = exitCode;
    this.faultAddress = detail?.faultAddress;
    this.error = detail?.error;
    this.unmodelled = detail?.unmodelled === true;
    this.cpu.stopRequested = true;
    this.cpu.breakBlock = true;
  }

  /** SPEC §3 entry state: 32-bit protected mode, flat 0x08/0x10, firmware GDT, IF = 0, paging off. */
  private resetCpu(): void {
    const cpu = this.cpu;
    const gdt = writeFirmwareGdt(this.mem);
    writeBiosDataArea(this.mem);
    writeFirmwareScreen(this.mem, VGA_TEXT_BASE);
    writeFirmwareTables(this.mem, CPUID_SIGNATURE, CPUID_FEATURES_EDX);
    cpu.gdtrBase = gdt.base; cpu.gdtrLimit = gdt.limit;
    cpu.idtrBase = 0; cpu.idtrLimit = 0x3ff; // the real-mode IVT the firmware used
    cpu.cr0 = CR0_PE | CR0_ET;
    cpu.setSegmentCache(CS, 0x08, 0, 0xffffffff, 0xc09b);
    for (const s of [DS, ES, FS, GS, SS]) cpu.setSegmentCache(s, 0x10, 0, 0xffffffff, 0xc093);
    cpu.trSel = 0; cpu.trBase = 0; cpu.trLimit = 0xffff; cpu.trAttr = 0x8b;
    cpu.ldtrSel = 0; cpu.ldtrBase = 0; cpu.ldtrLimit = 0xffff; cpu.ldtrAttr = 0x82;
    cpu.setEflags(0x2);
    cpu.regs.fill(0);
    cpu.regs[4] = BOOT_STACK_TOP;
    // What the firmware (SeaBIOS under QEMU) leaves running, as measured on QEMU: the PICs with the
    // BIOS vector bases and masks (master 0xB8: IRQ 0, 1, 2, 6 open; slave 0x8E), and PIT channel 0
    // in mode 3 with the full count (18.2 Hz). A guest that sets IF before its own set-up gets the
    // timer at vector 8, as in QEMU.
    this.pic.master.imr = 0xb8;
    this.pic.slave.imr = 0x8e;
    this.pit.program(0, 3, 0);
  }

  /**
   * Loads an image, recognised by its content: an ELF32 Multiboot kernel (segments at their physical
   * addresses, see elfKernel.ts); a flat image with a Multiboot 1 header in its first 8 KiB (a.out
   * kludge: the header decides where it goes and where it starts); otherwise a flat image at `origin`
   * (default 0x100000). Sets the entry state.
   */
  loadImage(bytes: Uint8Array, options: LoadOptions = {}): LoadedImage {
    const header = findMultibootHeader(bytes);
    let img: LoadedImage;
    if (isElf(bytes) && !header?.aout) {
      const plan = elfKernelPlan(bytes, header);
      for (const seg of plan.segments) this.checkFits(seg.paddr, seg.memsz);
      for (const seg of plan.segments) {
        this.mem.load(seg.paddr, seg.bytes);
        this.mem.bytes.fill(0, seg.paddr + seg.bytes.length, seg.paddr + seg.memsz);
      }
      const lo = Math.min(...plan.segments.map((s) => s.paddr));
      img = {
        multiboot: true, loadAddr: lo, entry: plan.entry,
        loadEnd: Math.max(...plan.segments.map((s) => s.paddr + s.bytes.length)),
        bssEnd: Math.max(...plan.segments.map((s) => s.paddr + s.memsz)),
      };
    } else if (header) {
      const plan = multibootLoadPlan(bytes, header);
      this.checkFits(plan.loadAddr, plan.bssEnd - plan.loadAddr);
      this.mem.load(plan.loadAddr, bytes.subarray(plan.fileOffset, plan.fileOffset + plan.length));
      this.mem.bytes.fill(0, plan.bssStart, plan.bssEnd);
      img = { multiboot: true, loadAddr: plan.loadAddr, loadEnd: plan.loadAddr + plan.length, bssEnd: plan.bssEnd, entry: plan.entry };
    } else {
      const origin = options.origin ?? DEFAULT_ORIGIN;
      this.checkFits(origin, bytes.length);
      this.mem.load(origin, bytes);
      img = { multiboot: false, loadAddr: origin, loadEnd: origin + bytes.length, bssEnd: origin + bytes.length, entry: options.entry ?? origin };
    }
    this.image = img;
    const cpu = this.cpu;
    cpu.eip = img.entry >>> 0;
    cpu.regs[0] = MULTIBOOT_BOOTLOADER_MAGIC | 0;
    cpu.regs[3] = writeMultibootInfo(this.mem, this.mem.ramSize, img, options.boot ?? { cmdline: '', modules: [] });
    cpu.flushCodeCache();
    return img;
  }

  private checkFits(addr: number, length: number): void {
    if (addr < 0x1000 || addr + length > this.mem.ramSize) {
      throw new LoadError(`the image (0x${addr.toString(16)}–0x${(addr + length).toString(16)}) does not fit in guest RAM (${this.options.memoryMiB} MiB, above the first page)`);
    }
    if (addr < 0x10000 && addr + length > 0x800) {
      throw new LoadError(`the image at 0x${addr.toString(16)} would overwrite the firmware area (0x800–0x10000); load it at 1 MiB`);
    }
  }

  /** Instructions retired so far. */
  get instructions(): number { return this.cpu.icount; }

  /**
   * Runs at most `maxInstructions` more instructions. Returns 'slice' when they ran and the guest
   * goes on, 'breakpoint' when EIP reached one of `cpu.breakpoints`, 'stopped' at the instruction
   * boundary after a `cpu.requestStop`, or the outcome once it is over. Never throws for anything the
   * guest does.
   *
   * Breakpoints stop before every instruction at their address, the first of the slice and of each
   * internal run included (after an OUT to the PIT, a timer tick, HLT woken by an interrupt), except
   * the resume point: the slice after a 'breakpoint' executes that instruction (`cpu.resume()` makes
   * the current EIP one, e.g. for a debugger resuming from a stop of its own).
   *
   * `execute` runs the guest for at most a budget of instructions: the CPU's own loop by default, or a
   * technique's executor (the binary translator's dispatcher, the VT-x non-root loop). Every technique
   * goes through this one loop, so the timers, halting and outcomes are the same in all of them.
   */
  runSlice(maxInstructions: number, execute: Executor = (budget) => this.cpu.run(budget)): StopReason {
    if (this.outcome) return this.outcome;
    const cpu = this.cpu;
    const limit = this.options.maxInstructions > 0 ? this.options.maxInstructions : Infinity;
    const sliceEnd = cpu.icount + Math.max(0, Math.floor(maxInstructions));
    // Consecutive timer wake-ups of a halted CPU that brought it nothing it can take (see below).
    let idleWakes = 0, icountAtWake = -1;
    try {
      while (cpu.icount < sliceEnd) {
        if (cpu.icount >= limit) { this.finish('limit'); break; }
        let budget = Math.min(sliceEnd, limit) - cpu.icount;
        const next = this.nextTimerCycle();
        if (next !== Infinity) budget = Math.max(1, Math.min(budget, next - cpu.time));
        const r = execute(budget);
        this.updateTimers();
        if (this.outcome) break;
        if (r === 'stop') { cpu.stopRequested = false; continue; }
        if (r === 'breakpoint') return 'breakpoint';
        if (r === 'requested') return 'stopped';
        if (r === 'halt') {
          if (cpu.interruptPending()) { cpu.requestInterruptCheck(); continue; } // delivered on the next run (wakes the CPU)
          // A timer that fires but cannot interrupt (its IRQ masked behind one in service that only
          // the halted guest could end with an EOI) leaves the CPU asleep for good, as on hardware.
          // Idling on to its next period would spin the host forever without retiring an
          // instruction, outside the instruction budget: after MAX_IDLE_WAKES it is a halt.
          if (cpu.icount !== icountAtWake) { icountAtWake = cpu.icount; idleWakes = 0; }
          const wake = ++idleWakes > MAX_IDLE_WAKES ? Infinity : this.wakeCycle();
          if (wake === Infinity) { if (this.inputOpen) break; this.finish('halt'); break; }
          cpu.idleCycles += Math.max(0, wake - cpu.time);
          this.updateTimers();
        }
      }
    } catch (e) {
      if (e instanceof TripleFault) this.finish('triple-fault', 0, { faultAddress: (e.eip + cpu.segBase[CS]) >>> 0, error: e.reason });
      else if (e instanceof UnsupportedError) this.finish('error', 0, { error: e.message, unmodelled: true });
      else if (e instanceof RangeError || e instanceof Error) this.finish('error', 0, { error: e.message });
      else throw e;
    }
    if (!this.outcome && cpu.icount >= limit) this.finish('limit');
    return this.outcome ?? 'slice';
  }

  /** Runs to the end (or the instruction limit) in slices; returns the outcome. */
  run(sliceSize = 1_000_000): Outcome {
    for (;;) {
      const r = this.runSlice(sliceSize);
      if (isOutcome(r)) return r;
    }
  }

  /** The run report of SPEC §6. */
  report(mode: string, wallMs: number): RunReport {
    const unknownPorts: Record<string, { reads: number; writes: number }> = {};
    for (const [port, use] of [...this.io.unknown].sort((a, b) => a[0] - b[0])) unknownPorts[`0x${port.toString(16)}`] = { ...use };
    const r: RunReport = {
      mode,
      outcome: this.outcome ?? 'limit',
      exitCode: this.exitCode,
      console: this.console,
      instructions: this.cpu.icount,
      cycles: this.counters.cycles ?? this.cpu.time,
      traps: { ...this.counters.traps },
      critical: { ...this.counters.critical },
      vmExits: { ...this.counters.vmExits },
      hypercalls: { ...this.counters.hypercalls },
      translation: { ...this.counters.translation },
      wallMs: Math.round(wallMs * 1000) / 1000,
      unknownPorts,
      screen: this.vga.lines(),
    };
    if (this.faultAddress !== undefined) r.faultAddress = this.faultAddress;
    if (this.error !== undefined) r.error = this.error;
    if (this.unmodelled) r.unmodelled = true;
    if (this.counters.firstDivergence) r.firstDivergence = { ...this.counters.firstDivergence };
    return r;
  }

  // ---- snapshot / restore ----

  /**
   * The whole machine state (CPU, memory, devices, outcome), independent of later changes — except,
   * with `liveMemory`, its memory: the RAM itself, valid only until the guest runs on, for a caller
   * that copies what it keeps (the debugger's checkpoints copy only the pages that changed, not 16 MiB).
   */
  snapshot(liveMemory = false): MachineSnapshot {
    return {
      version: MACHINE_STATE_VERSION,
      cpu: this.cpu.getState(),
      memory: liveMemory ? this.mem.bytes : this.mem.bytes.slice(),
      ...this.deviceState(),
      x87: x87(this.cpu).getState(),
      outcome: this.outcome, exitCode: this.exitCode, faultAddress: this.faultAddress, error: this.error, unmodelled: this.unmodelled,
      counters: structuredClone(this.counters),
    };
  }

  /**
   * The devices' state alone (timers, interrupt controllers, serial port, disks' registers, VGA),
   * without the CPU or memory: the debugger's native twin takes the guest's where the technique did
   * nothing (debugger/runtime/stateTransfer.ts).
   */
  deviceState(): DeviceState {
    return {
      pic: this.pic.getState(),
      pit: this.pit.getState(),
      lapic: this.lapic.getState(),
      ioapic: this.ioapic.getState(),
      cmos: this.cmos.getState(),
      pci: this.pci.getState(),
      acpiPm: this.acpiPm.getState(),
      ps2: this.ps2.getState(),
      ata: this.ata.getState(),
      ata2: this.ata2.getState(),
      uart: this.uart.getState(),
      debugExit: this.debugExit.getState(),
      vga: this.vga.getState(),
      unknownPorts: [...this.io.unknown].map(([p, u]) => [p, { ...u }]),
    };
  }

  restoreDevices(s: DeviceState): void {
    this.pic.setState(s.pic);
    this.pit.setState(s.pit);
    if (s.lapic) this.lapic.setState(s.lapic);
    if (s.ioapic) this.ioapic.setState(s.ioapic);
    if (s.cmos) this.cmos.setState(s.cmos);
    if (s.pci) this.pci.setState(s.pci);
    if (s.acpiPm) this.acpiPm.setState(s.acpiPm);
    if (s.ps2) this.ps2.setState(s.ps2);
    if (s.ata) this.ata.setState(s.ata);
    if (s.ata2) this.ata2.setState(s.ata2);
    this.uart.setState(s.uart);
    this.debugExit.setState(s.debugExit);
    if (s.vga) this.vga.setState(s.vga);
    this.io.unknown.clear();
    for (const [p, u] of s.unknownPorts) this.io.unknown.set(p, { ...u });
  }

  restore(s: MachineSnapshot): void {
    if (s.version !== MACHINE_STATE_VERSION) throw new Error(`machine snapshot version ${s.version} is not ${MACHINE_STATE_VERSION}`);
    if (s.memory.length !== this.mem.bytes.length) throw new Error('machine snapshot is for a different memory size');
    // Through load(), so decoded code and write watches see the change.
    for (let off = 0; off < s.memory.length; off += PAGE_SIZE) {
      const page = s.memory.subarray(off, off + PAGE_SIZE);
      const cur = this.mem.bytes.subarray(off, off + PAGE_SIZE);
      if (!equalBytes(page, cur)) this.mem.load(off, page);
    }
    this.cpu.setState(s.cpu);
    this.restoreDevices(s);
    if (s.x87) x87(this.cpu).setState(s.x87);
    this.outcome = s.outcome; this.exitCode = s.exitCode; this.faultAddress = s.faultAddress; this.error = s.error; this.unmodelled = s.unmodelled === true;
    this.counters = structuredClone(s.counters);
    this.cpu.stopRequested = this.outcome !== undefined;
  }
}

/** Whether two pages hold the same bytes — memcmp through Buffer: a JS word loop made restore 80 % of a restore-heavy run. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}
