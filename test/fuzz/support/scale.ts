/*
 * How big the fuzz suite runs. `npm test` runs it small (a few seconds per surface); `npm run fuzz`
 * sets POPEK_FUZZ_SCALE=1 for the full campaign (issue 16's acceptance figures), and any other
 * factor scales it (0.1: a tenth). POPEK_FUZZ_SEED changes the seed (the default is fixed, so a
 * failure reproduces). With POPEK_FUZZ_REPORT=file, each surface appends its figures there as JSON lines.
 */
import * as fs from 'node:fs';

const raw = process.env.POPEK_FUZZ_SCALE;
/** The factor of the full campaign, or undefined for the small run of `npm test`. */
export const FULL_SCALE: number | undefined = raw !== undefined && Number(raw) > 0 ? Number(raw) : undefined;

export const SEED = Number.isInteger(Number(process.env.POPEK_FUZZ_SEED)) && process.env.POPEK_FUZZ_SEED ? Number(process.env.POPEK_FUZZ_SEED) : 16;

/** `small` cases in `npm test`; `full` × the factor in `npm run fuzz`. */
export function cases(small: number, full: number): number {
  return FULL_SCALE === undefined ? small : Math.max(small, Math.round(full * FULL_SCALE));
}

/** Every so often during a full run: the figures so far (a campaign stopped early still has them). */
export function progress(surface: string, figures: Record<string, number | string>): void {
  if (FULL_SCALE === undefined) return;
  const file = process.env.POPEK_FUZZ_REPORT;
  if (file) fs.appendFileSync(file, JSON.stringify({ surface, progress: true, at: new Date().toISOString(), ...figures }) + '\n');
}

/** Records a surface's figures (stdout, and the report file when asked). */
export function report(surface: string, figures: Record<string, number | string>): void {
  const line = JSON.stringify({ surface, seed: SEED, scale: FULL_SCALE ?? 'small', ...figures });
  if (FULL_SCALE !== undefined) process.stdout.write(`\n  fuzz ${line}\n`);
  const file = process.env.POPEK_FUZZ_REPORT;
  if (file) fs.appendFileSync(file, line + '\n');
}
