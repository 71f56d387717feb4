/*
 * How fast the guest runs, for the client's status bar: a custom DAP event `popekRunning` while the
 * guest runs (at most every RUN_SPEED_INTERVAL_MS) with guest instructions per second of host time
 * and the modelled cycles, and one with `running: false` at each stop and at the end (the status bar
 * then shows the totals). The rate is measured over the interval since the last event, so a pause
 * or a slow stretch shows at once rather than averaged away.
 */

export const RUN_SPEED_EVENT = 'popekRunning';
/** Fastest refresh while the guest runs. */
export const RUN_SPEED_INTERVAL_MS = 500;

export interface RunSpeedBody {
  running: boolean;
  /** Guest instructions retired so far. */
  instructions: number;
  /** Modelled cycles so far (guest instructions × cost, idle time, the hypervisor's overhead). */
  cycles: number;
  /** Guest instructions per second of host time over the last interval (0 when not measured yet). */
  instructionsPerSecond: number;
  /** Modelled cycles per second of host time over the same interval. */
  cyclesPerSecond: number;
}

/** The counters the publisher reads. */
export interface RunCounts { instructions: number; cycles: number }

export class RunSpeedPublisher {
  private last: { t: number; instructions: number; cycles: number } | undefined;

  constructor(private readonly send: (body: RunSpeedBody) => void, private readonly now: () => number = () => performance.now()) {}

  /** While running (called every turn): an event when the interval has passed. */
  running(counts: RunCounts): void {
    const t = this.now();
    if (!this.last) { this.last = { t, ...counts }; return; }
    const dt = t - this.last.t;
    if (dt < RUN_SPEED_INTERVAL_MS) return;
    this.send({
      running: true, instructions: counts.instructions, cycles: counts.cycles,
      instructionsPerSecond: Math.round((counts.instructions - this.last.instructions) * 1000 / dt),
      cyclesPerSecond: Math.round((counts.cycles - this.last.cycles) * 1000 / dt),
    });
    this.last = { t, ...counts };
  }

  /** At a stop or the end: the totals, and the next run measures afresh. */
  stopped(counts: RunCounts): void {
    this.last = undefined;
    this.send({ running: false, instructions: counts.instructions, cycles: counts.cycles, instructionsPerSecond: 0, cyclesPerSecond: 0 });
  }
}

/** `1.23 G` / `45.6 M` / `789 k` / `12`: three significant digits. */
export function siNumber(n: number): string {
  for (const [scale, unit] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']] as const) {
    if (n >= scale) return `${(n / scale).toPrecision(3)} ${unit}`;
  }
  return String(Math.round(n));
}

/** The status bar's text: `▶ 45.6 M instr/s · 1.23 G cycles` while running, the totals when stopped. */
export function runSpeedText(b: RunSpeedBody): string {
  const totals = `${siNumber(b.instructions)} instr · ${siNumber(b.cycles)} cycles`;
  return b.running ? `${siNumber(b.instructionsPerSecond)} instr/s · ${siNumber(b.cycles)} cycles` : totals;
}
