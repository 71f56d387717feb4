/*
 * Breakpoints as the runtime keeps them: code breakpoints by linear address (from source lines or
 * instruction references) with condition, hit condition and log message; data breakpoints on memory
 * writes; exception filters over the hypervisor's events. No protocol types here.
 */
import { ExpressionError, hasSideEffects, parseExpression, type Node } from './expression';

export interface BreakpointOptions {
  condition?: string;
  hitCondition?: string;
  logMessage?: string;
}

export interface CodeBreakpoint {
  id: number;
  address: number;
  kind: 'line' | 'instruction' | 'function';
  condition?: Node;
  hit?: HitCondition;
  logMessage?: string;
  hits: number;
}

export interface DataBreakpoint {
  id: number;
  address: number;
  size: number;
  condition?: Node;
  hit?: HitCondition;
  hits: number;
  /** Removes the physical write watches. */
  dispose: () => void;
}

export interface HitCondition { op: '>=' | '>' | '==' | '<=' | '<' | '%'; n: number; text: string }

/** `5` (break from the 5th hit on), `== 5`, `> 5`, `%5` (every 5th hit). */
export function parseHitCondition(text: string): HitCondition {
  const m = /^\s*(>=|>|==|=|<=|<|%)?\s*(\d+)\s*$/.exec(text);
  if (!m) throw new ExpressionError(`hit count condition '${text}' is not a number with an optional >=, >, ==, <=, < or %`);
  const op = (m[1] === '=' ? '==' : m[1] ?? '>=') as HitCondition['op'];
  const n = parseInt(m[2], 10);
  if (op === '%' && n === 0) throw new ExpressionError('hit count modulo 0');
  return { op, n, text };
}

export function hitMatches(h: HitCondition | undefined, hits: number): boolean {
  if (!h) return true;
  switch (h.op) {
    case '>=': return hits >= h.n;
    case '>': return hits > h.n;
    case '==': return hits === h.n;
    case '<=': return hits <= h.n;
    case '<': return hits < h.n;
    case '%': return hits % h.n === 0;
  }
}

/** Parses a breakpoint condition; rejects assignments (a condition must not change the guest). */
export function parseCondition(text: string | undefined): Node | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const node = parseExpression(text);
  if (hasSideEffects(node)) throw new ExpressionError('a condition cannot assign');
  return node;
}

/** Exception breakpoint filters (SPEC §8), in the order the editor lists them. */
export const EXCEPTION_FILTERS = [
  { filter: 'trap', label: 'Traps into the VMM', description: 'A guest instruction or fault trapped into the hypervisor (trap-and-emulate, paravirtual, binary translation).', conditionDescription: 'Mnemonics or exceptions, comma-separated: cli, hlt, #GP' },
  { filter: 'critical', label: 'Critical instructions', description: 'A sensitive but unprivileged instruction ran (and behaved differently than at CPL 0, or was handled).', conditionDescription: 'Mnemonics, comma-separated: popf, sgdt; or "differs" for only those that behaved differently' },
  { filter: 'hypercall', label: 'Hypercalls', description: 'A paravirtual vmcall into the hypervisor.', conditionDescription: 'Hypercall names or numbers, comma-separated: console_io, sched_op, 29' },
  { filter: 'vmexit', label: 'VM exits', description: 'Hardware-assisted: the guest left VMX non-root operation.', conditionDescription: 'Exit reasons, comma-separated: CPUID, HLT, IO_INSTRUCTION (or reason numbers)' },
  { filter: 'guest-exception', label: 'Guest exceptions', description: 'An exception or software interrupt delivered to the guest\'s own handler.', conditionDescription: 'Exceptions or vectors, comma-separated: #PF, #GP, 14, int 0x80' },
  { filter: 'divergence', label: 'Divergence from native', description: 'The first instruction whose effect differs from a native twin of the guest (run beside it while this is ticked).', conditionDescription: undefined },
] as const;

export type ExceptionFilterId = typeof EXCEPTION_FILTERS[number]['filter'];

export function isExceptionFilter(s: string): s is ExceptionFilterId {
  return EXCEPTION_FILTERS.some((f) => f.filter === s);
}

/** A comma-separated list of names; an event matches when one of its keys is in the list. */
export class FilterCondition {
  private readonly names: Set<string>;
  constructor(readonly text: string) {
    this.names = new Set(text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));
  }
  get empty(): boolean { return this.names.size === 0; }
  matches(keys: Array<string | number | undefined>): boolean {
    if (this.names.size === 0) return true;
    for (const k of keys) {
      if (k === undefined) continue;
      const s = String(k).toLowerCase();
      if (this.names.has(s)) return true;
      if (typeof k === 'number' && (this.names.has(`0x${k.toString(16)}`))) return true;
    }
    return false;
  }
}
