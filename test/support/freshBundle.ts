/*
 * The debugger's protocol tests run the bundled adapter (dist/debugAdapter.js, built by `npm run
 * build`), which `tsc -b` does not rebuild. A bundle older than the sources under test runs the old
 * code: a fix looks absent, and a test waiting for an answer the old code never sends looks like a
 * hang (it happened to the lead, session 5). So the set-up refuses a stale bundle, with a message
 * that says what to run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './repoRoot';

/** The newest source file under `dirs` (TypeScript and JSON): its path and modification time. */
function newestSource(dirs: string[]): { file: string; mtimeMs: number } {
  let newest = { file: '', mtimeMs: 0 };
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|json)$/.test(e.name)) {
        const m = fs.statSync(p).mtimeMs;
        if (m > newest.mtimeMs) newest = { file: p, mtimeMs: m };
      }
    }
  };
  for (const d of dirs) walk(path.join(REPO_ROOT, d));
  return newest;
}

const checked = new Map<string, string | undefined>();

/**
 * Why `bundle` (a path under dist/) cannot be tested — missing, or older than a source file under
 * `sourceDirs` — or undefined when it is fresh. Looked at once per process.
 */
export function staleBundle(bundle: string, sourceDirs: string[]): string | undefined {
  const key = `${bundle}\n${sourceDirs.join('\n')}`;
  if (checked.has(key)) return checked.get(key);
  const rel = path.relative(REPO_ROOT, bundle);
  let why: string | undefined;
  if (!fs.existsSync(bundle)) why = `${rel} is missing: run npm run build first`;
  else {
    const built = fs.statSync(bundle).mtimeMs, src = newestSource(sourceDirs);
    if (src.mtimeMs > built) {
      const at = (ms: number) => new Date(ms).toISOString().slice(11, 19);
      why = `${rel} (built ${at(built)} UTC) is older than ${path.relative(REPO_ROOT, src.file)} (changed ${at(src.mtimeMs)} UTC): ` +
        'the tests would run the old code (a missing answer looks like a hang); run npm run build first';
    }
  }
  checked.set(key, why);
  return why;
}

/** Throws, with what to run, when `bundle` is missing or older than its sources. */
export function requireFreshBundle(bundle: string, sourceDirs: string[]): void {
  const why = staleBundle(bundle, sourceDirs);
  if (why) throw new Error(why);
}
