/*
 * How the Linux scheduler treated a process's main thread (/proc/PID/schedstat: ns on a CPU, ns
 * waiting on a run queue). Over a slow answer it tells CPU starvation on a loaded machine (mostly
 * waiting) from a stall of the process's own: busy (mostly on a CPU) or idle (neither: a lost
 * message, a missed wake-up). Undefined where there is no /proc.
 */
import * as fs from 'node:fs';

export interface SchedSample { onCpuMs: number; waitingMs: number }

export function schedstat(pid: number | undefined): SchedSample | undefined {
  if (pid === undefined) return undefined;
  try {
    const [onCpu, waiting] = fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { onCpuMs: onCpu / 1e6, waitingMs: waiting / 1e6 };
  } catch { return undefined; }
}

/** What the process did between two samples over `wallMs`, in words for a failure message. */
export function schedVerdict(before: SchedSample | undefined, after: SchedSample | undefined, wallMs: number): string {
  if (!before || !after) return 'no scheduler figures';
  const cpu = after.onCpuMs - before.onCpuMs, wait = after.waitingMs - before.waitingMs;
  const kind = wait > wallMs / 2 ? 'starved: waiting for a CPU' : cpu > wallMs / 2 ? 'busy: its own work' : 'idle: neither running nor waiting to';
  return `${kind} — ${Math.round(cpu)} ms on a CPU, ${Math.round(wait)} ms waiting for one, over ${Math.round(wallMs)} ms`;
}

/**
 * When a slow answer counts as a hang: once `limitMs` of wall time has passed, the process has spent
 * `limitMs` on a CPU (its own work), or made no progress in the last interval (neither running nor
 * waiting to: blocked), or `capMs` of wall time went by. A process that is only starved of CPU on a
 * loaded machine is given time, so load is not taken for a hang.
 */
export class HangWatch {
  private readonly t0 = performance.now();
  private readonly first: SchedSample | undefined;
  private last: SchedSample | undefined;

  constructor(private readonly pid: number | undefined, private readonly limitMs: number, private readonly capMs: number) {
    this.first = this.last = schedstat(pid);
  }

  /** Asked when the wall-clock limit has passed, then every interval: true while only starved. */
  keepWaiting(): boolean {
    const now = schedstat(this.pid), wall = performance.now() - this.t0;
    const before = this.last;
    this.last = now;
    if (!now || !this.first || !before || wall >= this.capMs) return false;
    const busy = now.onCpuMs - this.first.onCpuMs;
    const progressed = (now.onCpuMs + now.waitingMs) - (before.onCpuMs + before.waitingMs) > 100;
    return busy < this.limitMs && progressed;
  }

  verdict(): string { return schedVerdict(this.first, schedstat(this.pid) ?? this.last, performance.now() - this.t0); }
}
