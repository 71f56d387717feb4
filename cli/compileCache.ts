/*
 * Loads a command's bundle through V8's code cache, as `module.enableCompileCache()` does on Node ≥ 22
 * (used when present): the first run stores the bundle's compiled code — with every function it
 * compiled while it ran, not only the top level — and later runs start from it instead of parsing
 * and compiling the bundle again (most of popek's own start-up).
 * The cache lives in the user's cache folder (per user: V8 trusts the code it loads), one file per
 * bundle, size, modification time and Node version (a new build's file replaces the old one).
 * POPEK_NO_COMPILE_CACHE=1 turns it off; any problem with it (unwritable folder, data V8 rejects)
 * falls back to a plain `require`.
 */
import * as fs from 'node:fs';
import Module, { createRequire } from 'node:module';
import type * as osModule from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';

/** The exit status of a refused command line (cli/inputFile.ts EXIT.usage). */
const USAGE_ERROR = 2;

type NodeModuleApi = typeof Module & { enableCompileCache?: (dir?: string) => unknown };

/** $HOME, else os.homedir() (node:os is loaded only then: a module less in every start-up). */
function homeDir(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return process.env.HOME || (require('node:os') as typeof osModule).homedir();
}

function cacheDir(): string {
  return path.join(process.env.XDG_CACHE_HOME || path.join(homeDir(), '.cache'), 'popek', 'v8');
}

/** `require(file)` for a self-contained CommonJS bundle, compiled from the code cache when it can be. */
export function requireWithCodeCache(file: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const plain = () => require(file) as unknown;
  if (process.env.POPEK_NO_COMPILE_CACHE) return plain();
  const api = Module as NodeModuleApi;
  if (typeof api.enableCompileCache === 'function') { api.enableCompileCache(path.join(cacheDir(), '..', 'node')); return plain(); }
  let source: string;
  let cacheFile: string;
  try {
    source = fs.readFileSync(file, 'utf8');
    const st = fs.statSync(file);
    cacheFile = path.join(cacheDir(), `${path.basename(file)}-${st.size}-${Math.trunc(st.mtimeMs)}-${process.version}-${process.arch}.bin`);
  } catch { return plain(); }
  let cachedData: Buffer | undefined;
  try { cachedData = fs.readFileSync(cacheFile); } catch { cachedData = undefined; }
  let script: vm.Script;
  try { script = new vm.Script(Module.wrap(source), { filename: file, cachedData }); } catch { return plain(); }
  const mod = new Module(file, require.main);
  mod.filename = file;
  mod.loaded = true;
  const run = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  run.call(mod.exports, mod.exports, createRequire(file), mod, file, path.dirname(file));
  if (cachedData === undefined || script.cachedDataRejected) {
    // written at exit, so the data holds the functions this run compiled too; not after a command
    // line the command refused (status 2, EXIT.usage: a mistyped option or file), whose cache would
    // hold little beyond the argument checks, and would be kept by every later run
    process.once('exit', (status) => {
      if (status === USAGE_ERROR) return;
      try {
        fs.mkdirSync(path.dirname(cacheFile), { recursive: true, mode: 0o700 });
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        fs.renameSync(tmp, cacheFile);
        // the caches of earlier builds of this bundle are never read again
        const prefix = `${path.basename(file)}-`;
        for (const old of fs.readdirSync(path.dirname(cacheFile))) {
          if (old.startsWith(prefix) && old.endsWith('.bin') && old !== path.basename(cacheFile)) fs.rmSync(path.join(path.dirname(cacheFile), old), { force: true });
        }
      } catch { /* no cache this time */ }
    });
  }
  return mod.exports;
}
