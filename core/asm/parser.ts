import type { ParsedFile } from './ast';
/** Parses NASM-syntax source. Never throws; errors are diagnostics. (Implementation follows.) */
export function parseNasm(text: string, fileName: string): ParsedFile {
  return { fileName, statements: [], diagnostics: [], lineCount: text.split('\n').length };
}
