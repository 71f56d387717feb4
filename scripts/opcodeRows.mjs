// The form index's rows per opcode (core/isa/table.ts rowNumbersByOpcodeKey), computed at build time from
// the table being bundled and handed to the bundles as the POPEK_ROWS_BY_OPCODE define: `popek run` then
// compiles the rows of the opcodes it decodes without first scanning every form's text.
import * as esbuild from 'esbuild';
import { createRequire } from 'node:module';
import { fileURLToPath, URL } from 'node:url';

/** esbuild `define` entries carrying the table's rows per opcode key, from the table at `tablePath`. */
export async function opcodeRowsDefine(tablePath = fileURLToPath(new URL('../core/isa/table.ts', import.meta.url))) {
  const built = await esbuild.build({ entryPoints: [tablePath], bundle: true, write: false, platform: 'node', format: 'cjs', target: 'node20', logLevel: 'warning' });
  const mod = { exports: {} };
  new Function('module', 'exports', 'require', built.outputFiles[0].text)(mod, mod.exports, createRequire(import.meta.url));
  return { POPEK_ROWS_BY_OPCODE: JSON.stringify(mod.exports.rowNumbersByOpcodeKey()) };
}
