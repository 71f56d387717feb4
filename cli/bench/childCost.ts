/*
 * What a child process costs, as GNU time measures it (Debian's `time` package, installed by setup):
 * wall and CPU time (user + system) and peak RSS. The CPU time is what the bench compares on this
 * shared machine, where wall time mostly measures the other load.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { median } from './benchSupport';

export interface ChildCost { wallMs: number; cpuMs: number; maxRssMiB: number; status: number | null }

const GNU_TIME = '/usr/bin/time';

export function gnuTimeAvailable(): boolean { return existsSync(GNU_TIME); }

/** Runs `cmd args` once under GNU time; undefined when GNU time is missing. */
export function childCost(cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildCost | undefined {
  if (!gnuTimeAvailable()) return undefined;
  const dir = mkdtempSync(path.join(tmpdir(), 'popek-time-'));
  const out = path.join(dir, 'time.txt');
  try {
    const r = spawnSync(GNU_TIME, ['-f', '%e %U %S %M', '-o', out, cmd, ...args], { stdio: 'ignore', env: env ?? process.env });
    const last = readFileSync(out, 'utf8').trim().split('\n').pop() ?? '';
    const [e, u, s, m] = last.split(' ').map(Number);
    return { wallMs: e * 1000, cpuMs: (u + s) * 1000, maxRssMiB: m / 1024, status: r.status };
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

/** The lowest CPU time of `runs` runs (the least disturbed by the other load), with its wall time and the highest RSS. */
export function bestCost(cmd: string, args: string[], runs: number, env?: NodeJS.ProcessEnv): ChildCost | undefined {
  const all: ChildCost[] = [];
  for (let i = 0; i < runs; i++) { const c = childCost(cmd, args, env); if (!c) return undefined; all.push(c); }
  const best = all.reduce((a, b) => (b.cpuMs < a.cpuMs ? b : a));
  return { ...best, maxRssMiB: Math.max(...all.map((c) => c.maxRssMiB)) };
}

/**
 * CPU time per run of `runs` back-to-back runs of a short command (bash's `times` sums the children,
 * so the 10 ms clock resolution is divided by `runs`).
 */
export function cpuPerRun(cmd: string, args: string[], runs: number, env?: NodeJS.ProcessEnv): number {
  const quoted = [cmd, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const r = spawnSync('bash', ['-c', `for i in $(seq ${runs}); do ${quoted} >/dev/null 2>&1 </dev/null; done; times`], { encoding: 'utf8', env: env ?? process.env });
  // `times` prints the shell's own line, then the children's: "0m0.573s 0m0.097s"
  const child = (r.stdout.trim().split('\n').pop() ?? '').split(/\s+/).map((t) => { const m = /(\d+)m([\d.]+)s/.exec(t); return m ? Number(m[1]) * 60 + Number(m[2]) : 0; });
  return ((child[0] ?? 0) + (child[1] ?? 0)) * 1000 / runs;
}

/** The median wall time of one run of a short command (of up to 7). */
export function medianWall(cmd: string, args: string[], runs: number, env?: NodeJS.ProcessEnv): number {
  const walls: number[] = [];
  for (let i = 0; i < Math.min(runs, 7); i++) { const t = performance.now(); spawnSync(cmd, args, { stdio: 'ignore', env: env ?? process.env }); walls.push(performance.now() - t); }
  return median(walls);
}

/** `cpuPerRun` and `medianWall` of a short command. */
export function shortRunCost(cmd: string, args: string[], runs: number, env?: NodeJS.ProcessEnv): { cpuMs: number; wallMs: number } {
  return { cpuMs: cpuPerRun(cmd, args, runs, env), wallMs: medianWall(cmd, args, runs, env) };
}
