/* Shared helpers for `popek bench` suites. */

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

/** The p-th percentile (0..100) of `samples`. */
export function percentile(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
