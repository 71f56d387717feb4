import type { AssembleOptions, AssemblyResult } from './ast';
/** Assembles NASM-syntax source to a flat image (nasm -f bin). Never throws. (Implementation follows.) */
export function assemble(fileName: string, _text: string, options: AssembleOptions = {}): AssemblyResult {
  return { bytes: new Uint8Array(0), origin: options.origin ?? 0, entry: options.origin ?? 0, sourceMap: [], labels: [], constants: [], macros: [], sections: [], diagnostics: [], files: [fileName] };
}
