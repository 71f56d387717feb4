/* Shared helpers for `popek bench` suites. */
import * as fs from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface BenchSuite {
  name: string;
  run(print: (line: string) => void): Promise<void>;
}

/** Runs `fn` repeatedly for at least `minMs` (after one warm-up call); returns ms per call. */
export function timeIt(fn: () => void, minMs = 300): number {
  fn();
  let n = 0;
  const start = performance.now();
  let elapsed: number;
  do {
    fn();
    n++;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  return elapsed / n;
}

/** The median of `samples` (the mean of the middle two for an even count). */
export function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** The p-th percentile (0..100) of `samples`. */
export function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const mainThreadStat = `/proc/self/task/${process.pid}/stat`;

/**
 * CPU time of this process's main thread so far, ms (10 ms ticks; Linux). The guest runs on the main
 * thread: on a machine with spare cores its CPU time is the run's time, while the process total
 * also counts V8's helper threads (optimising compilers, concurrent marking), which run beside it.
 * Elsewhere: the whole process (`process.cpuUsage`).
 */
export function mainThreadCpuMs(): number {
  try {
    const stat = fs.readFileSync(mainThreadStat, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
}

/** The whole process's CPU time so far (all threads), ms. */
export function processCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

let gcFn: (() => void) | undefined;
/** A full garbage collection now: a measurement then does not pay for the garbage of the one before. */
export function collectGarbage(): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}
