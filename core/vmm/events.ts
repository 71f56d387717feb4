/*
 * THE event stream of the hypervisor (issue 4, SPEC §4 "Events"): every technique reports what it
 * does here — traps into the monitor, critical instructions that ran (and how they differed from
 * native), hypercalls, VM exits, guest exceptions reflected to the guest, interrupts injected,
 * blocks translated, shadow-paging work. `popek run --trace` prints it one line per event, the
 * debugger stops on it, and the cost model charges each event's `cost` (modelled cycles).
 *
 * Source locations: whoever has a source map (the CLI, the debug adapter) sets `bus.locate`; the bus
 * fills `event.source` from the guest EIP as it emits, so techniques never deal with source maps.
 */

export type VmEventKind =
  | 'trap'                 // a guest instruction or fault trapped into the VMM (#GP, #UD …) and was handled there
  | 'critical'             // a critical instruction ran unchanged (trap-and-emulate, paravirtual) or was handled (BT)
  | 'hypercall'            // paravirtual vmcall into the VMM
  | 'vmexit'               // hardware-assisted: a VM exit with Intel's reason and qualification
  | 'guest-exception'      // an exception or software interrupt delivered (reflected) to the guest's own handler
  | 'interrupt-injection'  // an external interrupt / event delivered to the guest (or queued as pending)
  | 'translation'          // binary translation: a block translated (or a cache event)
  | 'callout'              // binary translation: translated code called the VMM to emulate a privileged / sensitive instruction
  | 'shadow-paging';       // memory virtualization: shadow fill, traced page-table write, flush, A/D propagation

export interface SourceLocation {
  file: string;
  /** 1-based. */
  line: number;
  column?: number;
}

/** Fields every event has. */
export interface VmEventBase {
  kind: VmEventKind;
  /** Sequence number in this VM (monotonic; the debugger's step-back restores it with the VM). */
  seq: number;
  /** Guest instructions retired when it happened. */
  icount: number;
  /** Guest linear address of the instruction concerned (CS base + EIP). */
  eip: number;
  /** Lower-case mnemonic of that instruction ('' when none, e.g. an external interrupt). */
  mnemonic: string;
  /** Modelled cost in cycles of what the VMM (or the hardware) did for it, from the cost profile. */
  cost: number;
  /** One line a human reads (the trace line without the prefix). */
  text: string;
  /** Filled by the bus when a source map is known (see `VmEventBus.locate`). */
  source?: SourceLocation;
}

export interface TrapEvent extends VmEventBase {
  kind: 'trap';
  /** The exception that brought the guest into the VMM (13 for #GP, 6 for #UD, 14 for #PF …). */
  vector: number;
  errorCode?: number;
  /** What the VMM did: emulated the instruction, or reflected the fault to the guest. */
  action: 'emulated' | 'reflected';
}

export interface CriticalInstructionEvent extends VmEventBase {
  kind: 'critical';
  /** The CPL it really ran at, and the one the guest believes it has. */
  cpl: number;
  guestCpl: number;
  /** What differed from native ('' when nothing did this time, e.g. POPF that did not touch IF). */
  differs: string;
  /** True when the result differed from what the instruction does on bare metal. */
  diverged: boolean;
}

export interface HypercallEvent extends VmEventBase {
  kind: 'hypercall';
  number: number;
  /** Xen name (`console_io`) or `unknown`. */
  name: string;
  /** EBX, ECX, EDX, ESI, EDI. */
  args: number[];
  /** EAX after the call (negative errno on failure); undefined for calls that do not return (iret). */
  result?: number;
}

export interface VmExitEvent extends VmEventBase {
  kind: 'vmexit';
  /** KVM's name without the prefix: CPUID, HLT, IO_INSTRUCTION … */
  reason: string;
  /** Intel basic exit reason number (SDM Vol. 3 Appendix C). */
  reasonNumber: number;
  /** Exit qualification, raw and decoded (SDM Vol. 3 §28.2.1 formats). */
  qualification: number;
  qualificationText: string;
  /** VM-exit instruction length (0 when the exit is not caused by an instruction). */
  instructionLength: number;
}

export interface GuestExceptionEvent extends VmEventBase {
  kind: 'guest-exception';
  vector: number;
  errorCode?: number;
  /** Exception name (#GP, #PF …) or `int 0x80`. */
  name: string;
  /** #PF: the fault address the guest sees in CR2. */
  address?: number;
}

export interface InterruptInjectionEvent extends VmEventBase {
  kind: 'interrupt-injection';
  vector: number;
  /** 'delivered' to the guest now, or 'pending' (virtual IF = 0 / events masked). */
  state: 'delivered' | 'pending';
}

export interface TranslationEvent extends VmEventBase {
  kind: 'translation';
  /** Guest physical address of the block (the translation-cache key). */
  physical: number;
  /** Guest instructions in the block. */
  instructions: number;
  /** 'translate' a new block, 'invalidate' (code written), 'flush', 'retranslate' (adaptive BT). */
  action: 'translate' | 'invalidate' | 'flush' | 'retranslate';
}

export interface CalloutEvent extends VmEventBase {
  kind: 'callout';
}

export interface ShadowPagingEvent extends VmEventBase {
  kind: 'shadow-paging';
  /** 'fill' (hidden page fault that built a shadow entry), 'pt-write' (traced guest page-table write),
   *  'flush' (shadow dropped: CR3 write, CR0/CR4 paging change), 'dirty' (first write: D propagated). */
  action: 'fill' | 'pt-write' | 'flush' | 'dirty' | 'invlpg';
  /** Guest linear address concerned (fill, dirty, invlpg) or guest physical address written (pt-write). */
  address: number;
}

export type VmEvent =
  | TrapEvent | CriticalInstructionEvent | HypercallEvent | VmExitEvent | GuestExceptionEvent
  | InterruptInjectionEvent | TranslationEvent | CalloutEvent | ShadowPagingEvent;

/** What a technique passes to `emit`: the bus fills seq, icount and source. */
export type VmEventInit = DistributiveOmit<VmEvent, 'seq' | 'icount' | 'source'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type VmEventListener = (event: VmEvent) => void;

export class VmEventBus {
  private readonly listeners: Array<{ fn: VmEventListener; kinds: readonly VmEventKind[] | undefined }> = [];
  /** Next sequence number (part of the VM's snapshot). */
  seq = 0;
  /** Source map hook: guest linear address → source line. Set by the CLI / debug adapter. */
  locate: ((linear: number) => SourceLocation | undefined) | undefined;

  /**
   * Adds a listener, for every event or only for `kinds` (a technique's own hook on one kind, such
   * as BT's on traced page-table writes, then costs the other kinds nothing); returns the function
   * that removes it.
   */
  subscribe(fn: VmEventListener, kinds?: readonly VmEventKind[]): () => void {
    const entry = { fn, kinds };
    this.listeners.push(entry);
    this.listened();
    return () => {
      const i = this.listeners.indexOf(entry);
      if (i >= 0) this.listeners.splice(i, 1);
      this.listened();
    };
  }

  /** Someone listens to every event (a tracer, the debugger). */
  get hasListeners(): boolean { return this.wantsAll; }

  /** Someone listens to events of `kind`: else a hot path may `tally` instead of building the event. */
  wants(kind: VmEventKind): boolean {
    // Hot paths ask this once per trap or exit: a set kept with the listeners, not a walk over them.
    return this.wantsAll || this.wanted.has(kind);
  }
  private wantsAll = false;
  private readonly wanted = new Set<VmEventKind>();
  private listened(): void {
    this.wantsAll = this.listeners.some((l) => l.kinds === undefined);
    this.wanted.clear();
    for (const l of this.listeners) for (const k of l.kinds ?? []) this.wanted.add(k);
  }

  /**
   * Completes and publishes an event; returns it. `init` becomes the event (its fields are added in
   * place: every caller passes a fresh object, and copying one per trap was most of a device-heavy
   * guest's time under the virtualization techniques).
   */
  publish(init: VmEventInit, icount: number): VmEvent {
    const ev = init as VmEvent;
    ev.seq = this.seq++;
    ev.icount = icount;
    if (this.listeners.length === 0) return ev;
    if (this.locate) {
      const loc = this.locate(ev.eip);
      if (loc) ev.source = loc;
    }
    for (const l of this.listeners.slice()) if (l.kinds === undefined || l.kinds.includes(ev.kind)) l.fn(ev);
    return ev;
  }
}

const hex = (v: number, w = 8) => '0x' + (v >>> 0).toString(16).padStart(w, '0');

/** The `--trace` line of an event: `[icount] kind eip mnemonic: text (cost cycles) file:line`. */
export function formatEvent(ev: VmEvent): string {
  const where = ev.source ? `  ${ev.source.file}:${ev.source.line}` : '';
  const mn = ev.mnemonic ? ` ${ev.mnemonic}` : '';
  return `[${ev.icount}] ${ev.kind.padEnd(19)} ${hex(ev.eip)}${mn}: ${ev.text} (${ev.cost} cycles)${where}`;
}
