/*
 * The decoder's form index is built one opcode at a time, when the CPU first decodes it, from the rows
 * with a form there (core/isa/formIndex.ts formsForOpcode, table.ts rowsWithOpcode): `popek run`
 * compiles the rows of the opcodes it meets, not all of them (issue 15, start-up). Each opcode's list
 * must equal the one of the index built whole, over every opcode, whatever order the opcodes come
 * in — from sources (the rows placed by scanning the form texts) and from a bundle (the rows placed by
 * the table the build computed, scripts/isaTableDefines.mjs), before and after the late x87/SIMD rows.
 */
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { REPO_ROOT } from '../support/repoRoot';

type Index = typeof import('../../core/isa/formIndex');
type Table = typeof import('../../core/isa/table');

const MODULES = /core[\\/]isa[\\/](table|formIndex|opcodeKeys|x87|simd)\.[jt]s$/;
const KEYS = Array.from({ length: 0x200 }, (_, k) => k);

/** An opcode's forms as text: row, encoding, register of a +r form and tail, in order of preference. */
const describe_ = (list: readonly { info: { mnemonic: string }; form: { encoding: string }; reg?: number; tail?: number[] }[] | undefined) =>
  (list ?? []).map((c) => `${c.info.mnemonic} ${c.form.encoding} ${c.reg ?? ''} ${c.tail?.join(',') ?? ''}`).join('; ');

/** The opcodes in a shuffled order (a fixed seed: the same order every run). */
function shuffled(keys: number[], seed: number): number[] {
  const out = keys.slice();
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Asks a fresh index for the base opcodes one by one (shuffled), then a late one, then all; each list
 * is compared with the same copy's index built whole at that point.
 */
function checkAgainstWhole(index: Index, table: Table, what: string): void {
  const base = KEYS.filter((k) => !table.isLateOpcode(k));
  const lazy = new Map(shuffled(base, 7).map((k) => [k, describe_(index.formsForOpcode(k))]));
  const whole = index.wholeFormIndex();
  let withForms = 0;
  for (const k of base) {
    assert.equal(lazy.get(k), describe_(whole.get(k)), `${what}: 0x${k.toString(16)} before the late rows`);
    if (lazy.get(k) !== '') withForms++;
  }
  assert.ok(withForms > 250, `${what}: ${withForms} base opcodes have forms`);
  assert.ok(index.formsForOpcode(0xdd).length > 0, `${what}: an x87 opcode`);
  const lazyAfter = new Map(shuffled(KEYS, 11).map((k) => [k, describe_(index.formsForOpcode(k))]));
  const wholeAfter = index.wholeFormIndex();
  for (const k of KEYS) assert.equal(lazyAfter.get(k), describe_(wholeAfter.get(k)), `${what}: 0x${k.toString(16)} after the late rows`);
}

describe('isa form index: built per opcode on first need, equal to the whole index', function () {
  this.timeout(60_000);
  const saved = new Map<string, NodeJS.Module | undefined>();
  afterEach(() => {
    for (const k of Object.keys(require.cache)) if (MODULES.test(k)) delete require.cache[k];
    for (const [k, m] of saved) if (m) require.cache[k] = m;
    saved.clear();
  });

  it('from sources: every opcode\'s list equals the whole index\'s, in any order of first decode', () => {
    for (const k of Object.keys(require.cache)) {
      if (!MODULES.test(k)) continue;
      if (!saved.has(k)) saved.set(k, require.cache[k]);
      delete require.cache[k];
    }
    /* eslint-disable @typescript-eslint/no-require-imports */
    const table = require('../../core/isa/table') as Table;
    const index = require('../../core/isa/formIndex') as Index;
    /* eslint-enable @typescript-eslint/no-require-imports */
    checkAgainstWhole(index, table, 'sources');
  });

  /** core/isa/formIndex.ts bundled as the build does, with `define` (undefined: none), loaded. */
  async function bundled(define: Record<string, string>): Promise<Index & Table> {
    const entry = 'export * from "./formIndex"; export { isLateOpcode, lateRowNames, rowNumbersByOpcodeKey } from "./table";';
    const built = await esbuild.build({
      stdin: { contents: entry, resolveDir: path.join(REPO_ROOT, 'core/isa'), loader: 'ts' },
      bundle: true, write: false, platform: 'node', format: 'cjs', target: 'node20', define, logLevel: 'warning',
    });
    const mod = { exports: {} as Index & Table };
    new Function('module', 'exports', built.outputFiles[0].text)(mod, mod.exports);
    return mod.exports;
  }

  it('from a bundle: the rows per opcode the build computes give every opcode\'s list of the whole index', async () => {
    // an ES module: imported as one (TypeScript's CommonJS output would turn `import()` into `require`)
    const importEsm = new Function('url', 'return import(url)') as (url: string) => Promise<{ isaTableDefines: () => Promise<Record<string, string>> }>;
    const { isaTableDefines } = await importEsm(pathToFileURL(path.join(REPO_ROOT, 'scripts/isaTableDefines.mjs')).href);
    const define = await isaTableDefines();
    const lib = await bundled(define);
    checkAgainstWhole(lib, lib, 'bundle');
    // the bundle reads the define (a define that lists no rows gives no forms), and the build's
    // table is the scan of a fresh table from sources
    const empty = await bundled({ POPEK_ROWS_BY_OPCODE: '[]' });
    assert.equal(empty.formsForOpcode(0x89).length, 0);
    const fromSources = await bundled({});
    assert.equal(define.POPEK_ROWS_BY_OPCODE, JSON.stringify(fromSources.rowNumbersByOpcodeKey()));
    // and the late rows' names it computes are the ones a table without them finds
    assert.deepEqual([...lib.lateRowNames()].sort(), [...fromSources.lateRowNames()].sort());
    assert.ok(lib.lateRowNames().has('fld') && lib.lateRowNames().has('movsd') && !lib.lateRowNames().has('mov'));
  });
});
