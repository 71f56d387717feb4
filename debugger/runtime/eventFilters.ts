/*
 * The exception filters at work: every hypervisor event (and, for "guest exception", every delivery
 * to the guest's IDT that no event reports) is matched against the filters; a match becomes a
 * pending stop (eventStops.ts) and asks the CPU to stop at the next instruction boundary. Also keeps
 * what the Hypervisor and VMCS scopes show of the event a stop is about, and the trace lines.
 */
import { CS, EXCEPTION_NAMES } from '../../core/cpu/constants';
import type { DeliveryEvent } from '../../core/cpu/monitor';
import type { RunCounters } from '../../core/machine/report';
import { formatEvent, type VmEvent } from '../../core/vmm';
import { FilterCondition, type ExceptionFilterId } from './breakpoints';
import { DeliveryWatch } from './deliveryWatch';
import { eventStopInfo, pendingFromDelivery, pendingFromVmEvent, STOP_BEFORE, type PendingEvent } from './eventStops';
import { describeEvent, eventKeys } from './eventText';
import { readLinearBytes } from './guestMemory';
import { hex } from './guestState';
import type { RunContext, StopInfo } from './runContext';

/** Hypervisor events kept for the Hypervisor scope. */
const RECENT_EVENTS = 32;

export class EventFilters {
  private readonly filters = new Map<ExceptionFilterId, FilterCondition>();
  private readonly deliveryWatch: DeliveryWatch;
  /** Events the filters matched since the last check; the first one stops. */
  pending: PendingEvent[] = [];
  /** What the VMM showed when the event this stop is about happened (VMCS, counters). */
  view: { vmcs: Record<string, string | number | boolean> | undefined; counters: RunCounters; cycles: number } | undefined;
  /** A stop was rewound to before its event's instruction: that event does not stop again. */
  resumeSkip: { icount: number; eip: number } | undefined;
  /** At a stop rewound to before its event: the events listed go up to that one. */
  recentSeqLimit: number | undefined;
  /** The latest hypervisor events (the Hypervisor scope lists them). */
  private recent: VmEvent[] = [];
  private traceHigh = 0;

  constructor(private readonly ctx: RunContext) {
    ctx.vm.events.subscribe((ev) => this.onVmEvent(ev));
    this.deliveryWatch = new DeliveryWatch(ctx.cpu, (ev) => this.onNativeDelivery(ev));
  }

  /** Enables the exception filters given, each with an optional condition. */
  set(filters: Array<{ id: ExceptionFilterId; condition?: string }>): void {
    this.filters.clear();
    for (const f of filters) this.filters.set(f.id, new FilterCondition(f.condition ?? ''));
    // Deliveries the hypervisor does not handle (all of them natively; under VT-x those the
    // exception bitmap lets through) reach the guest's IDT without an event: the debugger watches
    // them through a monitor wrapped around the technique's own.
    this.deliveryWatch.set(this.filters.has('guest-exception'));
  }

  has(id: ExceptionFilterId): boolean { return this.filters.has(id); }

  /** Filters that watch the guest's run (the divergence filter is the twin's, see twinLockStep.ts). */
  get watching(): number { return this.filters.size - (this.filters.has('divergence') ? 1 : 0); }

  dispose(): void { this.deliveryWatch.remove(); }

  /** The stop for the first event the filters matched since the last check, if any. */
  takeStop(): StopInfo | undefined {
    if (!this.pending.length) return undefined;
    const ev = this.pending[0];
    this.pending = [];
    return eventStopInfo(ev);
  }

  /** Forgets what a replay left behind (events of a re-execution are not new). */
  clearAfterReplay(): void {
    this.pending = [];
    this.view = undefined;
    this.resumeSkip = undefined;
    this.recentSeqLimit = undefined;
  }

  /** Linear address of the instruction an event is about; for INT n, the INT before the return EIP. */
  intSite(lin: number, software: boolean): number {
    if (!software) return lin;
    const two = readLinearBytes(this.ctx.cpu, (lin - 2) >>> 0, 1).bytes;
    return two.length && two[0] === 0xcd ? (lin - 2) >>> 0 : (lin - 1) >>> 0;
  }

  /** VMCS fields for the VMCS scope: as the VM exit of this stop left them, else as they are now. */
  vmcsFields(): Record<string, string | number | boolean> | undefined {
    return this.view?.vmcs ?? this.ctx.vm.inspect().vmcs;
  }

  /** The hypervisor's latest events up to now (after a step back, none from the future). */
  recentEvents(): Array<{ icount: number; line: string }> {
    const limit = this.recentSeqLimit ?? this.ctx.vm.events.seq;
    return this.recent.filter((e) => e.seq < limit).map((e) => ({ icount: e.icount, line: formatEvent(e) }));
  }

  /** Counters for the Hypervisor scope: as the event of this stop left them, else as they are now. */
  hypervisorCounters(): { counters: RunCounters; cycles: number } {
    const vm = this.ctx.vm;
    return this.view ? { counters: this.view.counters, cycles: this.view.cycles } : { counters: vm.counters, cycles: vm.cycles };
  }

  private onNativeDelivery(ev: DeliveryEvent): void {
    const ctx = this.ctx;
    if (ev.kind === 'external' || ev.kind === 'nmi' || ctx.replaying) return;
    const name = ev.kind === 'software' ? `int ${hex(ev.vector, 2)}` : EXCEPTION_NAMES[ev.vector] ?? `vector ${ev.vector}`;
    const cond = this.filters.get('guest-exception');
    if (!cond || !cond.matches([name, ev.vector, `int ${ev.vector}`])) return;
    const code = ev.errorCode !== undefined ? ` error code ${hex(ev.errorCode, 4)}` : '';
    const addr = ev.address !== undefined ? `, address ${hex(ev.address)}` : '';
    const at = this.intSite((ev.eip + ctx.cpu.segBase[CS]) >>> 0, ev.kind === 'software');
    this.pending.push(pendingFromDelivery(ctx.cpu.icount, ev.kind === 'software', at, { description: `Guest exception ${name}${code}${addr} at ${ctx.where(at)}`, details: `Delivered through the guest's IDT (vector ${ev.vector}).` }));
    ctx.cpu.requestStop('guest exception');
  }

  private onVmEvent(ev: VmEvent): void {
    const ctx = this.ctx;
    if (ctx.replaying) return;
    if (this.recent.length === RECENT_EVENTS) this.recent.shift();
    this.recent.push(ev);
    if (ctx.options.trace && ev.seq >= this.traceHigh) {
      this.traceHigh = ev.seq + 1;
      ctx.output.traceLine(formatEvent(ev) + '\n');
    }
    const filter = ev.kind as ExceptionFilterId;
    const cond = this.filters.get(filter);
    if (!cond) return;
    // The condition first: words (disassembly, source lines) only for an event that stops.
    const keys = eventKeys(ev);
    if (!keys || !cond.matches(keys)) return;
    const p = describeEvent(ev, { where: (lin) => ctx.where(lin), intSite: (lin, software) => this.intSite(lin, software) });
    if (!p) return;
    // Re-running the instruction a stop was rewound to raises its event again: not a new stop.
    if (STOP_BEFORE.has(filter) && ev.icount === this.resumeSkip?.icount && (ev.eip >>> 0) === this.resumeSkip.eip) return;
    this.pending.push(pendingFromVmEvent(ev, filter, p, ctx.insnIcount >= 0 ? ctx.insnIcount : undefined));
    if (!this.view) {
      // The VMCS as the exit left it (before the VMM handled it and advanced GUEST_RIP), the counters.
      let vmcs = ctx.vm.inspect().vmcs;
      // The exit qualification in words, as the VMM decoded it for this exit.
      if (vmcs && ev.kind === 'vmexit' && ev.qualificationText) {
        const key = Object.keys(vmcs).find((k) => k === 'EXIT_QUALIFICATION' || k.endsWith('.EXIT_QUALIFICATION'));
        if (key) vmcs = { ...vmcs, [key]: `${vmcs[key]} — ${ev.qualificationText}` };
      }
      this.view = { vmcs, counters: structuredClone(ctx.vm.counters), cycles: ctx.vm.cycles };
    }
    ctx.cpu.requestStop(filter);
  }
}
