/*
 * Data breakpoints: a write watch per breakpoint (dataWatches.ts) that records the first watched
 * write since the last check and asks the CPU to stop; at the stop, the condition and hit count
 * decide, and the stop names the writer and the bytes before and after.
 */
import { evaluate, type Node } from './expression';
import { hitMatches, parseCondition, parseHitCondition, type BreakpointOptions, type DataBreakpoint } from './breakpoints';
import { physicalPages, watchWrites } from './dataWatches';
import { readLinearBytes } from './guestMemory';
import { evalContext, hex } from './guestState';
import type { RunContext, StopInfo } from './runContext';

/** A watched write: the bytes before it, and the instruction count and EIP the CPU had then (per block in compiled code). */
export interface WatchedWrite { bp: DataBreakpoint; old: Uint8Array; address: number; icount: number; writer: number }

export class DataBreakpoints {
  private bps: DataBreakpoint[] = [];
  /** The first watched write since the last check. */
  hit: WatchedWrite | undefined;

  constructor(private readonly ctx: RunContext) {}

  get count(): number { return this.bps.length; }

  /** Replaces the data breakpoints (writes to `size` bytes at linear `address`). */
  set(requests: Array<{ address: number; size: number } & BreakpointOptions>): Array<{ id: number; verified: boolean; message?: string }> {
    this.dispose();
    const ctx = this.ctx, cpu = ctx.cpu;
    const out: Array<{ id: number; verified: boolean; message?: string }> = [];
    for (const r of requests) {
      const id = ctx.newBreakpointId();
      const pages = physicalPages(cpu, r.address, r.size);
      if (!pages) { out.push({ id, verified: false, message: `${hex(r.address)} is not mapped` }); continue; }
      let condition: Node | undefined, hit;
      try { condition = parseCondition(r.condition); hit = r.hitCondition ? parseHitCondition(r.hitCondition) : undefined; } catch (e) {
        out.push({ id, verified: false, message: (e as Error).message });
        continue;
      }
      const bp: DataBreakpoint = { id, address: r.address >>> 0, size: r.size, condition, hit, hits: 0, dispose: () => {} };
      bp.dispose = watchWrites(cpu, pages, r.size, (phys) => {
        if (ctx.suppressWatches || this.hit) return;
        this.hit = { bp, old: readLinearBytes(cpu, bp.address, bp.size).bytes, address: phys, icount: cpu.icount, writer: ctx.pc };
        cpu.requestStop('data breakpoint');
      });
      this.bps.push(bp);
      out.push({ id, verified: true });
    }
    return out;
  }

  dispose(): void {
    for (const d of this.bps) d.dispose();
    this.bps = [];
  }

  /** The watched write since the last check, cleared. */
  take(): WatchedWrite | undefined {
    const h = this.hit;
    this.hit = undefined;
    return h;
  }

  /** One instruction at a time: the stop for the write `writer` just made, if it stops. */
  stopAfter(writer: number): StopInfo | undefined {
    const h = this.take();
    return h && this.counts(h) ? this.stopInfo(h, writer) : undefined;
  }

  /** A watched write's condition and hit count: true when it stops. */
  counts(h: WatchedWrite): boolean {
    const bp = h.bp;
    const ctx = evalContext(this.ctx.cpu, this.ctx.program.index);
    try { if (bp.condition && evaluate(bp.condition, ctx) === 0) return false; } catch { /* a failing condition stops */ }
    bp.hits++;
    return hitMatches(bp.hit, bp.hits);
  }

  stopInfo(h: WatchedWrite, writer: number): StopInfo {
    const bp = h.bp;
    const now = readLinearBytes(this.ctx.cpu, bp.address, bp.size).bytes;
    const fmt = (b: Uint8Array) => hex([...b].reverse().reduce((v, x) => v * 256 + x, 0), bp.size * 2);
    return { reason: 'data breakpoint', description: `Data breakpoint: ${bp.size} byte(s) at ${hex(bp.address)} written by ${this.ctx.where(writer)}: ${fmt(h.old)} → ${fmt(now)}`, hitBreakpointIds: [bp.id] };
  }
}
