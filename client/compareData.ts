/*
 * `popek compare --json` normalised for the compare view: one row per technique, with totals and the
 * breakdowns the chart draws. Tolerant of the shape (array, or an object holding the runs), because
 * a view must show what it can rather than fail on a field it does not know. Pure: no vscode.
 */

export interface CompareRow {
  mode: string;
  outcome: string;
  exitCode: number | null;
  consoleEqual: boolean | null;
  /** Final VGA screen equal to native's (null when the CLI does not say). */
  screenEqual: boolean | null;
  instructions: number;
  cycles: number;
  /** cycles / native cycles (1 = as fast as native), when both are known. */
  overhead: number | null;
  traps: number;
  vmExits: number;
  hypercalls: number;
  critical: number;
  /** Modelled cycles by cause (instructions, each exit reason, trap, hypercall …), when the CLI gives them. */
  cyclesBy: Record<string, number>;
  /** Event counts by exit reason / trapping mnemonic / hypercall name. */
  eventsBy: Record<string, number>;
}

export interface CompareModel { file: string; rows: CompareRow[] }

type Obj = Record<string, unknown>;
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);

/** Sum of a {name: count} map, or the number itself. */
function total(x: unknown): number {
  if (typeof x === 'number') return num(x);
  if (isObj(x)) return Object.values(x).reduce<number>((s, v) => s + num(v), 0);
  return 0;
}

function counts(x: unknown, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  if (isObj(x)) for (const [k, v] of Object.entries(x)) if (num(v)) out[prefix + k] = num(v);
  return out;
}

function runsOf(json: unknown): unknown[] {
  if (Array.isArray(json)) return json;
  if (isObj(json)) {
    for (const key of ['modes', 'results', 'runs', 'techniques', 'rows']) {
      const v = json[key];
      if (Array.isArray(v)) return v;
      if (isObj(v)) return Object.entries(v).map(([mode, r]) => (isObj(r) ? { ...r, mode } : r));
    }
  }
  throw new Error('unrecognised `popek compare --json` output: expected an array of runs or an object with "modes"');
}

export function normaliseCompare(json: unknown, file = ''): CompareModel {
  const rows: CompareRow[] = [];
  for (const r of runsOf(json)) {
    if (!isObj(r) || typeof r.mode !== 'string') continue;
    const breakdown = [r.cyclesBy, r.cyclesByReason, r.cycleBreakdown, r.costBreakdown].find(isObj);
    const consoleEqual = [r.consoleEqual, r.consoleMatchesNative, r.sameConsole, r.consoleSameAsNative].find((v) => typeof v === 'boolean');
    const screenEqual = [r.screenEqual, r.screenMatchesNative].find((v) => typeof v === 'boolean');
    rows.push({
      mode: r.mode,
      outcome: typeof r.outcome === 'string' ? r.outcome : '?',
      exitCode: typeof r.exitCode === 'number' ? r.exitCode : null,
      consoleEqual: typeof consoleEqual === 'boolean' ? consoleEqual : null,
      screenEqual: typeof screenEqual === 'boolean' ? screenEqual : null,
      instructions: num(r.instructions),
      cycles: num(r.cycles),
      overhead: typeof r.overhead === 'number' ? r.overhead : null,
      traps: total(r.traps),
      vmExits: total(r.vmExits ?? r.exits),
      hypercalls: total(r.hypercalls),
      critical: total(r.critical),
      cyclesBy: breakdown ? counts(breakdown) : {},
      eventsBy: { ...counts(r.vmExits ?? r.exits), ...counts(r.traps, 'trap: '), ...counts(r.hypercalls, 'hypercall: ') },
    });
  }
  if (rows.length === 0) throw new Error('`popek compare --json` gave no runs');
  const native = rows.find((row) => row.mode === 'native');
  for (const row of rows) {
    if (row.overhead === null && native && native.cycles > 0) row.overhead = row.cycles / native.cycles;
  }
  const f = isObj(json) && typeof json.file === 'string' ? json.file : file;
  return { file: f, rows };
}
