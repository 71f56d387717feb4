/*
 * The repository root, for tests that read examples, fixtures or bundles. Tests run both from
 * test/ (through tsx) and compiled from out/test/, so the root is found by walking up to the
 * package.json that sits next to examples/ — never by a fixed number of `..`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'examples'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find the repository root above ${start}`);
  }
}

export const REPO_ROOT = findRepoRoot(__dirname);
