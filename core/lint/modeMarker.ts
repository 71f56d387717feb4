/*
 * THE parser of the `popek: mode=…` marker (SPEC §7): a comment that picks a file's technique over
 * the setting. The linter (lineModel.scanMarker), the extension's status bar and its commands all
 * read it here, so a marker means the same technique everywhere. No dependencies but the mode list.
 */
import { MODES, type Mode } from '../isa/types';

/** The mode a comment's text names (`popek: mode=trap-and-emulate`), lower-cased; not checked. */
export function markedMode(comment: string): string | undefined {
  const m = /\bpopek:\s*(.*)$/i.exec(comment);
  if (!m) return undefined;
  const mode = /\bmode\s*=\s*([a-z-]+)/i.exec(m[1]);
  return mode ? mode[1].toLowerCase() : undefined;
}

/** The comment part of a line in either syntax (`;` NASM, `#` / `//` / `/*` GNU as), or undefined. */
function commentOf(line: string): string | undefined {
  const m = /(;|#|\/\/|\/\*)(.*)$/.exec(line);
  return m ? m[2] : undefined;
}

/** The first valid `popek: mode=` marker of a file (as the linter reads it: any comment, any line). */
export function modeOverrideIn(text: string, maxLines = Infinity): Mode | undefined {
  const lines = text.split(/\r?\n/);
  for (const line of Number.isFinite(maxLines) ? lines.slice(0, maxLines) : lines) {
    const comment = commentOf(line);
    const mode = comment === undefined ? undefined : markedMode(comment);
    if (mode && (MODES as readonly string[]).includes(mode)) return mode as Mode;
  }
  return undefined;
}
