/* The run report of SPEC §6 (`popek run --json`) and the counters a monitor fills in. */

export type Outcome = 'exit' | 'shutdown' | 'halt' | 'triple-fault' | 'limit' | 'error';
export const OUTCOMES: readonly Outcome[] = ['exit', 'shutdown', 'halt', 'triple-fault', 'limit', 'error'];

export interface TranslationStats { blocks: number; instructions: number; cacheHits: number }

/**
 * The first critical instruction whose result differed from what it does at CPL 0 (trap-and-emulate,
 * paravirtual with an unmodified kernel): where the guest started to see a machine that is not the
 * one it was written for.
 */
export interface Divergence {
  mnemonic: string;
  /** Guest linear address of the instruction. */
  eip: number;
  /** Guest instructions retired before it. */
  icount: number;
  /** What it did differently, and what it does at CPL 0. */
  differs: string;
  /** Filled by whoever knows the guest's sources (the CLI: DWARF line table or the assembler's map). */
  source?: { file: string; line: number; function?: string };
}

/** Filled by the hypervisor modes; native leaves them empty. */
export interface RunCounters {
  /** Traps into the monitor by mnemonic (lower case). */
  traps: Record<string, number>;
  /** Critical instructions that executed (and misbehaved, or were handled) by mnemonic. */
  critical: Record<string, number>;
  /** VM exits by KVM reason name without the prefix (CPUID, HLT, IO_INSTRUCTION …). */
  vmExits: Record<string, number>;
  /** Hypercalls by Xen name. */
  hypercalls: Record<string, number>;
  translation: TranslationStats;
  /** Modelled cycles from the cost model; when absent the report gives the CPU's simulated time. */
  cycles?: number;
  firstDivergence?: Divergence;
}

export function emptyCounters(): RunCounters {
  return { traps: {}, critical: {}, vmExits: {}, hypercalls: {}, translation: { blocks: 0, instructions: 0, cacheHits: 0 } };
}

export interface RunReport {
  mode: string;
  outcome: Outcome;
  /** isa-debug-exit: (v << 1) | 1; paravirtual shutdown: the reason; otherwise 0. */
  exitCode: number;
  console: string;
  instructions: number;
  cycles: number;
  traps: Record<string, number>;
  critical: Record<string, number>;
  vmExits: Record<string, number>;
  hypercalls: Record<string, number>;
  translation: TranslationStats;
  wallMs: number;
  /** Ports no device claims that the guest touched (SPEC §3: "reported"). */
  unknownPorts: Record<string, { reads: number; writes: number }>;
  /** The VGA text screen at the end: 25 lines, code page 437 decoded, trailing blanks trimmed. */
  screen: string[];
  /** Outcome 'triple-fault': linear address of the instruction whose fault could not be delivered. */
  faultAddress?: number;
  /** Outcome 'error' (and 'triple-fault'): what happened. */
  error?: string;
  /**
   * Outcome 'error' because the guest used a part of the x86 that Popek does not model (virtual-8086
   * mode, task switching, real mode): a documented limit of the simulated CPU, not a bug in Popek.
   */
  unmodelled?: boolean;
  /** The first critical instruction that behaved differently from native (see `Divergence`). */
  firstDivergence?: Divergence;
}
