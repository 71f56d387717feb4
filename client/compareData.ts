/*
 * The compare view's model, built from `popek compare --json` exactly as the CLI prints it: the row
 * type is the CLI's own (core/vmm/compareRow.ts), so the view cannot re-describe it wrongly. Pure: no
 * vscode, so test/client feeds it the real CLI's output.
 */
import { CYCLE_CAUSES, CYCLE_CAUSE_LABELS, cyclesRatio, parseCompareRows, type CompareRow, type CycleCause } from '../core/vmm/compareRow';

export interface CompareViewRow {
  mode: string;
  outcome: string;
  exitCode: number;
  /** null for native itself (it is the reference). */
  consoleEqual: boolean | null;
  /** The final VGA text screen equals native's; null for native. */
  screenEqual: boolean | null;
  instructions: number;
  cycles: number;
  /** Cycles as a multiple of native's: 1 for native. */
  ratio: number | null;
  traps: number;
  vmExits: number;
  hypercalls: number;
  critical: number;
  /** Stacked-bar segments, in CYCLE_CAUSES order (zero causes left out). */
  segments: Array<{ cause: CycleCause; label: string; cycles: number }>;
  error?: string;
}

export interface CompareEventRow {
  /** "VM exit", "trap", "critical", "hypercall". */
  kind: string;
  name: string;
  /** Count per technique, in the rows' order. */
  counts: number[];
}

export interface CompareModel {
  file: string;
  rows: CompareViewRow[];
  /** Every event name that occurred in some technique. */
  events: CompareEventRow[];
  /** The causes that occur, for the legend (CYCLE_CAUSES order). */
  causes: Array<{ cause: CycleCause; label: string }>;
}

/** `×1.00`, `×1.05`, `×129`: two decimals below 10, fewer above. */
export function formatRatio(ratio: number | null): string {
  if (ratio === null) return '—';
  return `×${ratio < 10 ? ratio.toFixed(2) : ratio < 100 ? ratio.toFixed(1) : Math.round(ratio).toLocaleString('en-US')}`;
}

const EVENT_KINDS: Array<{ kind: string; of: (r: CompareRow) => Record<string, number> }> = [
  { kind: 'VM exit', of: (r) => r.vmExitsBy },
  { kind: 'trap', of: (r) => r.trapsBy },
  { kind: 'critical', of: (r) => r.criticalBy },
  { kind: 'hypercall', of: (r) => r.hypercallsBy },
];

/** The model of `json` (what `popek compare FILE --json` printed); throws when it is not that. */
export function compareModel(json: unknown, file = ''): CompareModel {
  const rows = parseCompareRows(json);
  const present = new Set<CycleCause>();
  const viewRows = rows.map((r): CompareViewRow => {
    const segments = CYCLE_CAUSES.filter((c) => (r.cyclesBy[c] ?? 0) > 0)
      .map((c) => { present.add(c); return { cause: c, label: CYCLE_CAUSE_LABELS[c], cycles: r.cyclesBy[c]! }; });
    return {
      mode: r.mode, outcome: r.outcome, exitCode: r.exitCode,
      consoleEqual: r.mode === 'native' ? null : r.consoleMatchesNative,
      screenEqual: r.mode === 'native' ? null : r.screenMatchesNative,
      instructions: r.instructions, cycles: r.cycles, ratio: cyclesRatio(r),
      traps: r.traps, vmExits: r.vmExits, hypercalls: r.hypercalls, critical: r.critical,
      segments,
      ...(r.error ? { error: r.error } : {}),
    };
  });
  const events: CompareEventRow[] = [];
  for (const { kind, of } of EVENT_KINDS) {
    const names = [...new Set(rows.flatMap((r) => Object.keys(of(r))))].sort();
    for (const name of names) events.push({ kind, name, counts: rows.map((r) => of(r)[name] ?? 0) });
  }
  return { file, rows: viewRows, events, causes: CYCLE_CAUSES.filter((c) => present.has(c)).map((c) => ({ cause: c, label: CYCLE_CAUSE_LABELS[c] })) };
}
