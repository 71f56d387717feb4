/*
 * Code breakpoints — by source line, by instruction address, by label or expression ("function") —
 * kept by linear address; their conditions, hit counts and log messages are checked where the guest
 * reaches one, and the CPU is given their addresses so the fast path stops there by itself.
 */
import { evaluate, ExpressionError, interpolate } from './expression';
import { hitMatches, parseCondition, parseHitCondition, type BreakpointOptions, type CodeBreakpoint } from './breakpoints';
import { ElfSourceIndex } from './elfProgram';
import { evalContext } from './guestState';
import type { RunContext, StopInfo } from './runContext';

export class CodeBreakpoints {
  private readonly byAddress = new Map<number, CodeBreakpoint[]>();
  private lineBps = new Map<string, CodeBreakpoint[]>();
  private instructionBps: CodeBreakpoint[] = [];
  private functionBps: CodeBreakpoint[] = [];

  constructor(private readonly ctx: RunContext) {}

  get size(): number { return this.byAddress.size; }

  /** The breakpoints at a linear address. */
  at(lin: number): CodeBreakpoint[] | undefined { return this.byAddress.get(lin); }

  /**
   * Replaces the line breakpoints of `file`. Each is moved to the next line with an instruction;
   * returns, per request, the line it ended on (0-based) or a reason it is not verified.
   */
  setLines(file: string, requests: Array<{ line: number } & BreakpointOptions>): Array<{ id: number; verified: boolean; line?: number; address?: number; message?: string }> {
    const index = this.ctx.program.index;
    const out: Array<{ id: number; verified: boolean; line?: number; address?: number; message?: string }> = [];
    const bps: CodeBreakpoint[] = [];
    for (const r of requests) {
      const id = this.ctx.newBreakpointId();
      const target = index.nextInstructionLine(file, r.line);
      if (!target) { out.push({ id, verified: false, message: 'no instruction on or after this line' }); continue; }
      let bp: CodeBreakpoint;
      try {
        bp = { id, address: target.addresses[0], kind: 'line', ...checks(r), logMessage: r.logMessage, hits: 0 };
      } catch (e) {
        out.push({ id, verified: false, line: target.line, message: (e as Error).message });
        continue;
      }
      bps.push(bp);
      // Compiled code: the line's start in every function that has it, and the physical twin of
      // code that runs before paging maps it where it is linked (higher-half kernels).
      if (index instanceof ElfSourceIndex) for (const a of target.addresses.slice(1)) bps.push({ ...bp, address: a });
      out.push({ id, verified: true, line: target.line, address: bp.address });
    }
    this.lineBps.set(file, bps);
    this.rebuild();
    return out;
  }

  setInstructions(requests: Array<{ address: number } & BreakpointOptions>): Array<{ id: number; verified: boolean; address: number; message?: string }> {
    const out: Array<{ id: number; verified: boolean; address: number; message?: string }> = [];
    this.instructionBps = [];
    for (const r of requests) {
      const id = this.ctx.newBreakpointId();
      try {
        const bp: CodeBreakpoint = { id, address: r.address >>> 0, kind: 'instruction', ...checks(r), logMessage: r.logMessage, hits: 0 };
        this.instructionBps.push(bp);
        out.push({ id, verified: true, address: bp.address });
      } catch (e) {
        out.push({ id, verified: false, address: r.address, message: (e as Error).message });
      }
    }
    this.rebuild();
    return out;
  }

  /** Replaces the function breakpoints: a label's name (`puts`, `main.loop`) or an expression. */
  setFunctions(requests: Array<{ name: string } & BreakpointOptions>): Array<{ id: number; verified: boolean; address?: number; message?: string }> {
    const { program, cpu } = this.ctx;
    const out: Array<{ id: number; verified: boolean; address?: number; message?: string }> = [];
    this.functionBps = [];
    for (const r of requests) {
      const id = this.ctx.newBreakpointId();
      try {
        const label = program.index.label(r.name.trim());
        const node = label ? undefined : parseCondition(r.name);
        if (!label && !node) throw new ExpressionError('empty name');
        const address = label ? label.address : evaluate(node!, evalContext(cpu, program.index));
        const bp: CodeBreakpoint = { id, address: address >>> 0, kind: 'function', ...checks(r), hits: 0 };
        this.functionBps.push(bp);
        out.push({ id, verified: true, address: bp.address });
      } catch (e) {
        out.push({ id, verified: false, message: e instanceof ExpressionError ? `no label ${r.name} (${e.message})` : (e as Error).message });
      }
    }
    this.rebuild();
    return out;
  }

  /** True when a code breakpoint is set at linear `lin` (whatever its condition). */
  hasAt(lin: number): boolean { return this.byAddress.has(lin >>> 0); }

  /** Gives the CPU the code breakpoint addresses to check itself (`on`), or none. */
  cpuChecks(on: boolean): void {
    const set = this.ctx.cpu.breakpoints;
    set.clear();
    // The CPU passes linear addresses as signed 32-bit numbers; the breakpoints are keyed unsigned
    // (without `| 0` no breakpoint at or above 0x80000000 — a higher-half kernel — would ever hit).
    if (on) for (const address of this.byAddress.keys()) set.add(address | 0);
  }

  /** The stop for the code breakpoints at EIP whose conditions hold, if any. */
  stopHere(): StopInfo | undefined {
    const lin = this.ctx.pc;
    const bps = this.byAddress.get(lin);
    if (!bps) return undefined;
    const hit = this.check(bps);
    if (!hit.length) return undefined;
    const reason = hit.every((b) => b.kind === 'instruction') ? 'instruction breakpoint' : hit.every((b) => b.kind === 'function') ? 'function breakpoint' : 'breakpoint';
    return { reason, description: `Breakpoint at ${this.ctx.where(lin)}`, hitBreakpointIds: hit.map((b) => b.id) };
  }

  /**
   * Evaluates conditions, hit counts and log messages; returns the breakpoints that stop. While
   * replaying, hit counts do not move and nothing is logged (the hits happened already).
   */
  check(bps: CodeBreakpoint[]): CodeBreakpoint[] {
    const { cpu, program, host } = this.ctx;
    const ctx = evalContext(cpu, program.index);
    const hit: CodeBreakpoint[] = [];
    for (const bp of bps) {
      if (bp.condition) {
        let ok: boolean;
        try { ok = evaluate(bp.condition, ctx) !== 0; } catch (e) {
          host.output(`breakpoint condition at ${this.ctx.where(bp.address)}: ${(e as Error).message}\n`, 'stderr');
          ok = true;
        }
        if (!ok) continue;
      }
      if (this.ctx.replaying) { if (!bp.logMessage && hitMatches(bp.hit, bp.hits + 1)) hit.push(bp); continue; }
      bp.hits++;
      if (!hitMatches(bp.hit, bp.hits)) continue;
      if (bp.logMessage !== undefined) {
        const loc = program.index.locate(bp.address);
        this.ctx.flushConsole();
        host.output(interpolate(bp.logMessage, ctx) + '\n', 'console', loc);
        continue;
      }
      hit.push(bp);
    }
    return hit;
  }

  private rebuild(): void {
    this.byAddress.clear();
    for (const bp of [...[...this.lineBps.values()].flat(), ...this.instructionBps, ...this.functionBps]) {
      const list = this.byAddress.get(bp.address);
      if (list) list.push(bp); else this.byAddress.set(bp.address, [bp]);
    }
  }
}

/** A breakpoint's condition and hit condition, parsed (throws on a syntax error). */
function checks(r: BreakpointOptions): Pick<CodeBreakpoint, 'condition' | 'hit'> {
  return { condition: parseCondition(r.condition), hit: r.hitCondition ? parseHitCondition(r.hitCondition) : undefined };
}
