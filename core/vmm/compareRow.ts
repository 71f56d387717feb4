/*
 * THE shape of one row of `popek compare --json` — the CLI prints it, the extension's compare view
 * reads it (client/compareData.ts), so neither re-describes the other. Pure data and checks only: no
 * VM here, so the client bundle can import it without the simulator.
 */
import { MODES, type Mode } from '../isa/types';
import { OUTCOMES, type Divergence, type Outcome } from '../machine/report';

/** What modelled cycles went to, summed over a run (the compare chart stacks these). */
export const CYCLE_CAUSES = [
  'instructions',        // guest instructions × the profile's instruction cost
  'idle',                // halted, waiting for an interrupt
  'trap',                // traps into the VMM (trap-and-emulate, paravirtual privileged instructions)
  'critical',            // critical instructions handled (BT) or run unchanged
  'hypercall',
  'vmexit',
  'guest-exception',     // exceptions reflected to the guest's own handlers
  'interrupt-injection',
  'translation',         // binary translation: blocks translated, translated-code overhead
  'callout',
  'shadow-paging',
  'nested-paging',       // hardware-assisted with EPT: extra page-walk levels
] as const;
export type CycleCause = (typeof CYCLE_CAUSES)[number];

/** Human names of the causes, for legends. */
export const CYCLE_CAUSE_LABELS: Record<CycleCause, string> = {
  instructions: 'guest instructions', idle: 'idle (hlt)', trap: 'traps', critical: 'critical instructions',
  hypercall: 'hypercalls', vmexit: 'VM exits', 'guest-exception': 'guest exceptions',
  'interrupt-injection': 'interrupt injection', translation: 'translation', callout: 'BT callouts',
  'shadow-paging': 'shadow paging', 'nested-paging': 'nested paging',
};

export interface CompareRow {
  mode: Mode;
  outcome: Outcome;
  exitCode: number;
  /** Console output identical to native's. */
  consoleMatchesNative: boolean;
  /** Final VGA text screen identical to native's. */
  screenMatchesNative: boolean;
  instructions: number;
  cycles: number;
  /** Modelled cycles relative to native, MINUS ONE (0.05 = 5 % slower; native 0); null without native. */
  overhead: number | null;
  traps: number;
  vmExits: number;
  hypercalls: number;
  critical: number;
  /** Modelled cycles by cause; the values sum to `cycles` (up to rounding). */
  cyclesBy: Partial<Record<CycleCause, number>>;
  /** Event counts by name: trapping mnemonic, critical mnemonic, KVM exit reason, Xen hypercall. */
  trapsBy: Record<string, number>;
  criticalBy: Record<string, number>;
  vmExitsBy: Record<string, number>;
  hypercallsBy: Record<string, number>;
  error?: string;
  /** The first critical instruction that behaved differently from native (report's `firstDivergence`). */
  firstDivergence?: Divergence;
}

/** Cycles as a multiple of native's (native = 1): what a reader calls "×1.8 slower". */
export function cyclesRatio(row: Pick<CompareRow, 'overhead'>): number | null {
  return row.overhead === null ? null : 1 + row.overhead;
}

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;

function countTable(x: unknown, what: string): Record<string, number> {
  if (x === undefined) return {};
  if (!isObj(x)) throw new Error(`${what}: expected an object of counts`);
  for (const [k, v] of Object.entries(x)) if (!isCount(v)) throw new Error(`${what}.${k}: expected a count, got ${JSON.stringify(v)}`);
  return x as Record<string, number>;
}

/**
 * Checks JSON that claims to be `popek compare --json` output and returns it typed; throws with the
 * first field that is not what the CLI prints (a view must not guess at a shape it does not know).
 */
export function parseCompareRows(json: unknown): CompareRow[] {
  if (!Array.isArray(json)) throw new Error('`popek compare --json` prints an array of rows');
  if (json.length === 0) throw new Error('`popek compare --json` gave no rows');
  return json.map((r, i) => {
    const at = `row ${i}`;
    if (!isObj(r)) throw new Error(`${at}: not an object`);
    if (typeof r.mode !== 'string' || !(MODES as readonly string[]).includes(r.mode)) throw new Error(`${at}: unknown mode ${JSON.stringify(r.mode)}`);
    if (typeof r.outcome !== 'string' || !(OUTCOMES as readonly string[]).includes(r.outcome)) throw new Error(`${at}: unknown outcome ${JSON.stringify(r.outcome)}`);
    for (const k of ['exitCode', 'instructions', 'cycles', 'traps', 'vmExits', 'hypercalls', 'critical'] as const) {
      if (typeof r[k] !== 'number' || !Number.isFinite(r[k])) throw new Error(`${at}.${k}: expected a number`);
    }
    if (r.overhead !== null && (typeof r.overhead !== 'number' || !Number.isFinite(r.overhead))) throw new Error(`${at}.overhead: expected a number or null`);
    for (const k of ['consoleMatchesNative', 'screenMatchesNative'] as const) if (typeof r[k] !== 'boolean') throw new Error(`${at}.${k}: expected a boolean`);
    const cyclesBy = countTable(r.cyclesBy, `${at}.cyclesBy`);
    for (const k of Object.keys(cyclesBy)) if (!(CYCLE_CAUSES as readonly string[]).includes(k)) throw new Error(`${at}.cyclesBy: unknown cause ${k}`);
    return {
      ...(r as unknown as CompareRow),
      cyclesBy,
      trapsBy: countTable(r.trapsBy, `${at}.trapsBy`),
      criticalBy: countTable(r.criticalBy, `${at}.criticalBy`),
      vmExitsBy: countTable(r.vmExitsBy, `${at}.vmExitsBy`),
      hypercallsBy: countTable(r.hypercallsBy, `${at}.hypercallsBy`),
    };
  });
}
