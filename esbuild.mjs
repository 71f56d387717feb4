// Bundles each entry point into dist/ (tsc only type-checks; see tsconfig.json).
// `--production` minifies and drops source maps; `--watch` rebuilds on change.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

// Entries whose source may not exist yet are skipped, so a partial tree still builds.
const entries = [
  { in: 'client/extension.ts', out: 'extension', external: ['vscode'] },
  { in: 'server/server.ts', out: 'server' },
  { in: 'debugger/debugAdapter.ts', out: 'debugAdapter' },
  { in: 'cli/popek.ts', out: 'cli', banner: '#!/usr/bin/env node' },
].filter((e) => existsSync(e.in));

const contexts = await Promise.all(entries.map((e) => esbuild.context({
  entryPoints: { [e.out]: e.in },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outdir: 'dist',
  external: e.external ?? [],
  sourcemap: !production,
  minify: production,
  define: { DEBUG: production ? 'false' : 'true' },
  banner: e.banner ? { js: e.banner } : undefined,
  logLevel: 'warning',
})));

if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}
