/*
 * Stops on hypervisor events (the exception filters): what a matched event records until the run
 * loop stops, where its stop belongs (before the instruction, after it, at the handler a delivery
 * leads to), and the stop it becomes.
 */
import type { VmEvent } from '../../core/vmm';
import type { ExceptionFilterId } from './breakpoints';
import type { StopInfo } from './runtime';

/**
 * Events that happen AT an instruction that left the guest (a VM exit, a trap into the VMM, a
 * hypercall): the stop shows the guest as it was at that moment — the instruction not yet run —
 * with the VMCS and the counters as the event left them.
 */
export const STOP_BEFORE: ReadonlySet<ExceptionFilterId> = new Set(['vmexit', 'trap', 'hypercall']);

/**
 * Where a stop on an event AT an instruction goes back to: `icount` exactly when the instruction
 * count before it is known (one instruction at a time), else the instruction at `eip` at or just
 * before `icount` (the event's own count: a VMM emulating an instruction emits after retiring it).
 * Its event, seen again when the guest resumes there (same count and address), is not a new stop.
 */
export interface EventRewind { icount: number; exact: boolean; eip: number; eventIcount: number }

export interface PendingEvent {
  filter: ExceptionFilterId; description: string; details: string;
  /** The event's own instruction count, and the instruction count before its instruction when known (one at a time). */
  icount: number;
  icountBefore: number | undefined;
  /** Linear address of the instruction concerned. */
  eip: number;
  /** Instruction count the stop belongs at: before the instruction, after it, or after the delivery alone. */
  stopAt: number;
}

/** The pending stop for a hypervisor event the filters matched (`icountBefore`: known one instruction at a time). */
export function pendingFromVmEvent(ev: VmEvent, filter: ExceptionFilterId, words: { description: string; details: string }, icountBefore: number | undefined): PendingEvent {
  // A critical instruction ran: the stop is after it; a guest exception's, at its handler (after
  // the INT n that retires with its delivery).
  const retires = filter === 'critical' || (ev.kind === 'guest-exception' && ev.name.startsWith('int'));
  return { filter, description: words.description, details: words.details, icount: ev.icount, icountBefore, eip: ev.eip >>> 0, stopAt: ev.icount + (retires ? 1 : 0) };
}

/**
 * The pending stop for a delivery to the guest's IDT that no hypervisor event reported: at the
 * handler's first instruction, after the INT n that retires with its delivery, or with the same
 * count as the instruction that faulted.
 */
export function pendingFromDelivery(icount: number, software: boolean, site: number, words: { description: string; details: string }): PendingEvent {
  return { filter: 'guest-exception', description: words.description, details: words.details, icount, icountBefore: icount, eip: site, stopAt: icount + (software ? 1 : 0) };
}

/** The stop an event becomes. */
export function eventStopInfo(ev: PendingEvent): StopInfo {
  return { reason: 'exception', description: ev.description, text: ev.details, exception: { filter: ev.filter, description: ev.description, details: ev.details },
    rewind: STOP_BEFORE.has(ev.filter) ? { icount: ev.icountBefore ?? ev.icount, exact: ev.icountBefore !== undefined, eip: ev.eip, eventIcount: ev.icount } : undefined };
}
