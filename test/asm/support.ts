/* Shared test helpers: the repository root, a seeded PRNG, an in-memory include reader. */
import { REPO_ROOT } from '../support/repoRoot';

export function repoRoot(): string {
  return REPO_ROOT;
}

/** mulberry32: small, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function hex(b: Uint8Array): string { return Buffer.from(b).toString('hex'); }
