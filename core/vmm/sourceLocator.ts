/*
 * Source locations for the event stream: a lookup from guest linear address to the source line
 * the assembler's source map gives (addresses as assembled, i.e. identity-mapped guest code).
 * Set it as `vm.events.locate = sourceLocator(result.sourceMap)`.
 */
import * as path from 'node:path';
import type { SourceMapEntry } from '../asm/ast';
import type { SourceLocation } from './events';

export function sourceLocator(map: readonly SourceMapEntry[], relativeTo?: string): (linear: number) => SourceLocation | undefined {
  const entries = map.filter((e) => e.kind === 'instruction').slice().sort((a, b) => a.address - b.address);
  return (linear) => {
    const lin = linear >>> 0;
    let lo = 0, hi = entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1, e = entries[mid];
      if (lin < e.address) hi = mid - 1;
      else if (lin >= e.address + e.length) lo = mid + 1;
      else return { file: relativeTo ? path.relative(relativeTo, e.file) || e.file : e.file, line: e.range.start.line + 1, column: e.range.start.character + 1 };
    }
    return undefined;
  };
}
