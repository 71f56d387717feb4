/*
 * Where an included file is, as the real tools would find it, without knowing the command line.
 *  - NASM searches the current directory (where `make` runs, usually an ancestor of the file: a
 *    `%include "boot/print.asm"` in boot/bootsect.asm is found from the directory above) and its
 *    `-i` paths;
 *  - cpp searches the including file's directory for `"…"`, then the `-I` paths; `<…>` the paths only;
 *  - GNU as `.include` the current directory and its `-I` paths.
 * The editor does not know the current directory, so the including file's directory and its
 * ancestors up to a workspace root are all tried, then `popek.includePaths` and the `-I`/`-iquote`
 * paths of compile_commands.json. A file found nowhere stays unresolved (the caller degrades).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { isRegularFile, readIncludeBytes, readIncludeText } from '../machine/safeRead';

export interface IncludeEnv {
  /** The text of a file (an open editor's text first), or undefined. */
  read(file: string): string | undefined;
  exists(file: string): boolean;
  /** Extra directories (absolute): `popek.includePaths`, `-I` paths. */
  searchPaths: string[];
  /** Workspace folders: the ancestors of a file are searched up to one of them. */
  roots: string[];
  /** Predefined macros (`-D` of compile_commands.json), name → value. */
  defines?: Record<string, string>;
  /** Headers cpp reads before the first line (`-include` of compile_commands.json: Linux's kconfig.h, hence CONFIG_*). */
  forcedIncludes?: string[];
  /** NASM's command-line defines (`nasm -d DEBUG`: `popek.nasmDefines`, compile_commands.json), name → value. */
  nasmDefines?: Record<string, string>;
  /** Bumped whenever anything this environment reads may have changed (open files, settings). */
  epoch?: number;
  /** The files of a folder (names); enables finding the file that includes a fragment. */
  listDir?: (dir: string) => string[];
}

/** The directories searched for `p` included from `fromFile`, in order. */
export function includeDirectories(fromFile: string, env: IncludeEnv, angle = false): string[] {
  const dirs: string[] = [];
  const add = (d: string): void => { if (!dirs.includes(d)) dirs.push(d); };
  const ancestors: string[] = [];
  let dir = path.dirname(path.resolve(fromFile));
  for (let k = 0; k < 12; k++) {
    ancestors.push(dir);
    if (env.roots.some((r) => path.resolve(r) === dir)) break;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  if (!angle) add(ancestors[0]);
  for (const p of env.searchPaths) add(path.resolve(p));
  for (const a of ancestors) add(a);
  for (const r of env.roots) add(path.resolve(r));
  return dirs;
}

/** The absolute path of an included file, or undefined when it is nowhere to be found. */
export function resolveInclude(p: string, fromFile: string, env: IncludeEnv, angle = false): string | undefined {
  if (!p) return undefined;
  if (path.isAbsolute(p)) return env.exists(p) ? p : undefined;
  for (const d of includeDirectories(fromFile, env, angle)) {
    const c = path.join(d, p);
    if (env.exists(c)) return c;
  }
  return undefined;
}

/** `incbin`'s reader: the file found where `%include` would find it (nasm searches the same `-i` paths), as bytes. */
export function binaryReader(env: IncludeEnv | undefined): (p: string, fromFile: string) => Uint8Array | undefined {
  return (p, fromFile) => {
    const full = env ? resolveInclude(p, fromFile, env) : path.resolve(path.dirname(fromFile), p);
    return full ? readIncludeBytes(full) : undefined;
  };
}

/**
 * The file that `%include`s `file`, looked for in its folder and the parents' folders (the build
 * assembles that one; `file` alone is a fragment whose symbols live in the includer).
 */
export function findIncluder(file: string, env: IncludeEnv): string | undefined {
  if (!env.listDir) return undefined;
  const target = path.resolve(file);
  let dir = path.dirname(target);
  let read = 0;
  for (let k = 0; k < 3; k++) {
    for (const name of env.listDir(dir)) {
      if (!/\.(asm|nasm|gasm|s|inc)$/i.test(name) || read > 200) continue;
      const candidate = path.join(dir, name);
      if (candidate === target) continue;
      read++;
      const text = env.read(candidate);
      if (!text || text.length > 1 << 20) continue;
      for (const m of text.matchAll(/^\s*%include\s+["'<`]([^"'>`]+)["'>`]/gim)) {
        if (resolveInclude(m[1], candidate, env) === target) return candidate;
      }
    }
    if (env.roots.some((r) => path.resolve(r) === dir)) break;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** Flags of compile_commands.json that matter to the linter. */
export interface CompileFlags { includePaths: string[]; defines: Record<string, string>; forcedIncludes: string[] }

const compileDbCache = new Map<string, { mtime: number; entries: Array<{ file: string; args: string[]; directory: string }> }>();

function splitCommand(cmd: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(cmd))) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

function readCompileDb(file: string): Array<{ file: string; args: string[]; directory: string }> {
  try {
    const mtime = statSync(file).mtimeMs;
    const cached = compileDbCache.get(file);
    if (cached && cached.mtime === mtime) return cached.entries;
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Array<{ file: string; directory?: string; command?: string; arguments?: string[] }>;
    const entries = (Array.isArray(raw) ? raw : []).map((e) => {
      const directory = path.resolve(path.dirname(file), e.directory ?? '.');
      return { file: path.resolve(directory, e.file ?? ''), directory, args: e.arguments ?? splitCommand(e.command ?? '') };
    });
    compileDbCache.set(file, { mtime, entries });
    return entries;
  } catch {
    return [];
  }
}

/**
 * The `-I`, `-iquote`, `-isystem`, `-D` and `-include` flags that compile_commands.json gives the
 * file (found in the file's directory, an ancestor, or their `build/`); for a file the database does
 * not list, the union of every entry's paths (a header's or a sibling's view of the project).
 */
export function compileFlags(file: string, roots: string[]): CompileFlags {
  const out: CompileFlags = { includePaths: [], defines: {}, forcedIncludes: [] };
  let db: string | undefined;
  let dir = path.dirname(path.resolve(file));
  for (let k = 0; k < 12 && !db; k++) {
    for (const c of [path.join(dir, 'compile_commands.json'), path.join(dir, 'build', 'compile_commands.json')]) if (existsSync(c)) { db = c; break; }
    if (roots.some((r) => path.resolve(r) === dir)) break;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  if (!db) return out;
  const entries = readCompileDb(db);
  const own = entries.filter((e) => e.file === path.resolve(file));
  for (const e of own.length ? own : entries) {
    const a = e.args;
    for (let i = 0; i < a.length; i++) {
      const take = (flag: string): string | undefined => (a[i] === flag ? a[++i] : a[i].startsWith(flag) ? a[i].slice(flag.length) : undefined);
      let v: string | undefined;
      if ((v = take('-iquote')) !== undefined || (v = take('-isystem')) !== undefined || (v = take('-I')) !== undefined) {
        const d = path.resolve(e.directory, v);
        if (!out.includePaths.includes(d)) out.includePaths.push(d);
      } else if ((v = take('-include')) !== undefined) {
        const f = path.resolve(e.directory, v);
        if (!out.forcedIncludes.includes(f)) out.forcedIncludes.push(f);
      } else if ((v = take('-D')) !== undefined || (/(^|\/)(nasm|yasm)(\.exe)?$/.test(a[0] ?? '') && (v = take('-d')) !== undefined)) {
        // cpp's -D; nasm takes -d as well
        const eq = v.indexOf('=');
        if (eq < 0) out.defines[v] = '1'; else out.defines[v.slice(0, eq)] = v.slice(eq + 1);
      }
    }
  }
  return out;
}

/** An environment over the file system (the CLI, the assembler thread). */
export function diskIncludeEnv(searchPaths: string[] = [], roots: string[] = []): IncludeEnv {
  return {
    read: (f) => readIncludeText(f),
    exists: (f) => isRegularFile(f),
    listDir: (d) => { try { return readdirSync(d); } catch { return []; } },
    searchPaths,
    roots,
  };
}

/** `popek.nasmDefines` entries (`DEBUG`, `VERSION=2`, `-dDEBUG`) as name → value (NASM's `-d NAME` defines it empty). */
export function parseNasmDefines(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of list) {
    const m = /^\s*(?:-[dD]\s*)?([A-Za-z_.?@$][\w.?@$#~]*)(?:=(.*))?\s*$/.exec(raw);
    if (m) out[m[1]] = m[2] ?? '';
  }
  return out;
}
