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
