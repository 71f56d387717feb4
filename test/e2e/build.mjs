/* global console */
// Bundles the end-to-end suite and launchers into .e2e/build/ (esbuild; the suite must not depend on
// tsc succeeding for the whole tree, which other work in progress may break).
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const out = path.join(root, '.e2e', 'build');
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: 'inline', logLevel: 'warning' };

// Suite files: one bundle each, because mocha loads test files itself (addFile) after setting its globals.
const suiteDir = path.join(here, 'suite');
const entries = readdirSync(suiteDir).filter((f) => f === 'index.ts' || f.endsWith('.test.ts'));
await esbuild.build({
  ...common,
  entryPoints: entries.map((f) => path.join(suiteDir, f)),
  outdir: path.join(out, 'suite'),
  // vscode is the host's; mocha stays a package so that its own dynamic requires work.
  external: ['vscode', 'mocha'],
});
await esbuild.build({
  ...common,
  entryPoints: [path.join(here, 'runElectron.ts'), path.join(here, 'workbench.ts')],
  outdir: out,
  external: ['@vscode/test-electron', 'playwright-core'],
});
console.log(`e2e: built ${entries.length} suite files and the launchers into ${path.relative(root, out)}/`);
