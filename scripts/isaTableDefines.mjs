// Facts of the instruction table (core/isa/table.ts) that every start of a bundle would otherwise derive
// from the table's text, computed once at build time from the table being bundled and handed to the
// bundles as defines: the rows per opcode of the form index (POPEK_ROWS_BY_OPCODE: `popek run` compiles
// the rows of the opcodes it decodes without first scanning every form's text) and the names of the late
// x87/SIMD rows (POPEK_LATE_ROW_NAMES: without a pass over those rows at load).
import * as esbuild from 'esbuild';
import { createRequire } from 'node:module';
import { fileURLToPath, URL } from 'node:url';

/** esbuild `define` entries carrying those facts, from the table at `tablePath`. */
export async function isaTableDefines(tablePath = fileURLToPath(new URL('../core/isa/table.ts', import.meta.url))) {
  const built = await esbuild.build({ entryPoints: [tablePath], bundle: true, write: false, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning' });
  const mod = { exports: {} };
  new Function('module', 'exports', 'require', built.outputFiles[0].text)(mod, mod.exports, createRequire(import.meta.url));
  const table = mod.exports;
  return { POPEK_ROWS_BY_OPCODE: JSON.stringify(table.rowNumbersByOpcodeKey()), POPEK_LATE_ROW_NAMES: JSON.stringify([...table.lateRowNames()]) };
}
