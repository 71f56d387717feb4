// Bundles each entry point into dist/ (tsc only type-checks; see tsconfig.json).
// `--production` minifies and drops source maps; `--watch` rebuilds on change.
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isaTableDefines } from './scripts/isaTableDefines.mjs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

// cli.js is the dispatcher only: its `import('./xCommand')` (used when running from sources) stay
// out of the bundle, which loads dist/cmd-*.js instead (cli/popek.ts ownBundle).
const commandsApart = {
  name: 'commands-apart',
  setup(build) {
    build.onResolve({ filter: /^\.\/(\w+Command|bench\/benchCommand)$/ }, (args) => (args.importer.endsWith('popek.ts') ? { path: args.path, external: true } : undefined));
  },
};

// `import * as fs from 'node:fs'` becomes a copy of the module's every property in a CommonJS bundle
// (esbuild's __toESM: ~100 getters for fs, per importing file; ≈ 1 ms of each `popek` start). For a
// Node built-in the module object itself serves: our sources are read with such imports as
// `import fs = require('node:fs')` (TypeScript's form, which esbuild emits as a plain require).
// tsc checks the sources as written.
const NAMESPACE_BUILTIN = /^import \* as (\w+) from '(node:[\w/]+)';$/gm;
const builtinsAsRequire = {
  name: 'builtins-as-require',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes('node_modules')) return undefined;
      const text = readFileSync(args.path, 'utf8');
      return { contents: text.replace(NAMESPACE_BUILTIN, "import $1 = require('$2');"), loader: 'ts' };
    });
  },
};

// Entries whose source may not exist yet are skipped, so a partial tree still builds.
const entries = [
  { in: 'client/extension.ts', out: 'extension', external: ['vscode'] },
  { in: 'server/server.ts', out: 'server' },
  { in: 'debugger/debugAdapter.ts', out: 'debugAdapter' },
  // The native twin of checkEquivalence in a worker thread, loaded from beside whichever bundle runs the debugger.
  { in: 'debugger/runtime/twinWorker.ts', out: 'twinWorker' },
  { in: 'cli/popek.ts', out: 'cli', banner: '#!/usr/bin/env node', plugins: [commandsApart] },
  // Each subcommand is a bundle of its own, loaded by cli.js (a small dispatcher): a run compiles
  // only the code of its command (`popek lint` starts in a fraction of the time).
  // Minified in every build (source maps kept): a command's start-up reads, hashes and checks its
  // whole bundle against the code cache, and a bundle of half the size starts measurably faster.
  { in: 'cli/asmCommand.ts', out: 'cmd-asm', minify: true },
  { in: 'cli/runCommand.ts', out: 'cmd-run', minify: true },
  { in: 'cli/compareCommand.ts', out: 'cmd-compare', minify: true },
  { in: 'cli/lintCommand.ts', out: 'cmd-lint', minify: true },
  { in: 'cli/fixCommand.ts', out: 'cmd-fix', minify: true },
  { in: 'cli/bench/benchCommand.ts', out: 'cmd-bench' },
].filter((e) => existsSync(e.in));

// Facts of the instruction table computed now (scripts/isaTableDefines.mjs). Not in a watch build: the
// table may change under it, and the bundles then derive them from the table when they start.
const tableDefines = watch ? {} : await isaTableDefines();

const contexts = await Promise.all(entries.map((e) => esbuild.context({
  entryPoints: { [e.out]: e.in },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  outdir: 'dist',
  external: e.external ?? [],
  sourcemap: !production,
  minify: production || e.minify === true,
  define: { DEBUG: production ? 'false' : 'true', ...tableDefines },
  banner: e.banner ? { js: e.banner } : undefined,
  plugins: [...(e.plugins ?? []), builtinsAsRequire],
  logLevel: 'warning',
})));

// Node reads the package.json nearest to a module it loads (for its "type"); without this one it
// would parse the extension's whole manifest on every `popek` start.
mkdirSync('dist', { recursive: true });
writeFileSync('dist/package.json', '{ "type": "commonjs" }\n');

if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}
