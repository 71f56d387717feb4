/*
 * A NASM guest without a Multiboot header: GRUB and `qemu -kernel` refuse the image, and Popek can
 * only run it flat from its first byte (core/machine/program.ts). Said in the editor while typing,
 * on the line where the header belongs (above the image's first bytes and their labels), with a
 * quick fix that inserts one: the a.out-kludge header of the "multiboot" snippet, which loads the
 * flat image at its `org`.
 */
import type { AssemblyResult } from '../asm/ast';
import { findMultibootHeader } from '../machine/multiboot';
import type { LintDocument } from './document';
import type { TextEdit } from './fixes';
import type { LintDiagnostic } from './lint';

export const NO_MULTIBOOT_CODE = 'no-multiboot-header';
export const NO_MULTIBOOT_MESSAGE = 'no Multiboot header: QEMU -kernel and GRUB refuse this image, Popek runs it from its first byte (Ctrl+. adds one)';
export const NO_ORG_MESSAGE = 'no org and no Multiboot header: nasm builds this for address 0, QEMU -kernel refuses it (Ctrl+. adds both)';
/** Where the quick fix places an image without `org`: 1 MiB, where Popek loads it and Multiboot kernels live. */
export const DEFAULT_ORG = 0x100000;

const ORG_LINE = /^\s*\[?\s*org\s/im;

/**
 * The diagnostic of an image that assembled without errors and has no Multiboot header, on the
 * line of its first byte; not for 16-bit code (a boot sector is not a Multiboot kernel), an object
 * for a linker, or an image without bytes. A file without `org` is a kernel only when it halts
 * (`hlt`): nasm assembles it for address 0 while Popek loads it at 1 MiB, so its absolute addresses
 * are wrong outside Popek; the fix adds the `org` with the header. A file without `org` or `hlt` is
 * a snippet or a routine, left alone.
 */
export function missingMultibootHeader(fileName: string, text: string, result: AssemblyResult): LintDiagnostic | undefined {
  if (result.bytes.length === 0 || result.diagnostics.some((d) => d.severity === 'error')) return undefined;
  // An object for a linker (extern/global/common) has its header in another object or the script.
  const noOrg = !ORG_LINE.test(text);
  if ((noOrg && !/^\s*(?:[\w.]+:\s*)?hlt\b/im.test(text)) || /^\s*\[?\s*(extern|global|common)\s/im.test(text)) return undefined;
  if (/^\s*\[?\s*bits\s+16\b/im.test(text) && !/^\s*\[?\s*bits\s+32\b/im.test(text.slice(0, text.search(/^\s*\[?\s*bits\s+16\b/im)))) return undefined;
  try {
    if (findMultibootHeader(result.bytes)) return undefined;
  } catch {
    return undefined; // a header with a bad field: the loader names it at launch
  }
  const first = result.sourceMap.filter((e) => e.file === fileName || !e.file).reduce<AssemblyResult['sourceMap'][number] | undefined>((a, e) => (!a || e.address < a.address ? e : a), undefined);
  if (!first) return undefined;
  const line = headerLine(text.split(/\r\n|\r|\n/), first.range.start.line);
  return {
    range: { start: { line, character: 0 }, end: { line, character: text.split(/\r\n|\r|\n/)[line]?.length ?? 0 } },
    severity: 'warning',
    code: NO_MULTIBOOT_CODE,
    message: noOrg ? NO_ORG_MESSAGE : NO_MULTIBOOT_MESSAGE,
  };
}

/**
 * Where the header goes: before the image's first byte, above the labels that name that byte (a
 * `start:` on the line before must still name the code, not the header).
 */
function headerLine(lines: string[], firstByte: number): number {
  let l = firstByte;
  while (l > 0 && /^\s*[A-Za-z_.?$@][\w.?$@#~]*:\s*(;.*)?$/.test(lines[l - 1])) l--;
  return l;
}

/**
 * The quick fix: a Multiboot 1 header (magic, flag 16 for the a.out-kludge addresses, checksum,
 * header/load/end/bss/entry addresses) inserted before `line`. The entry is `start`/`_start` when
 * the file defines one (Popek's own choice of entry), else the first byte after the header, where
 * the image started before.
 */
export function multibootHeaderEdit(doc: LintDocument, line: number): TextEdit {
  const eol = doc.eolAt(line) || '\n';
  const defined = (name: string) => doc.symbols().byName.get(name)?.defs.length;
  const entry = defined('_start') ? '_start' : defined('start') ? 'start' : 'multiboot_entry';
  const org = ORG_LINE.test(doc.text) ? [] : [
    '; Loaded at 1 MiB: nasm assembles for this address (without org: for 0, and every absolute address is off).',
    `org 0x${DEFAULT_ORG.toString(16)}`,
    '',
  ];
  const lines = [
    ...org,
    '; Multiboot 1 header: lets GRUB and QEMU -kernel load this flat image at its org and start it',
    '; at the entry below (flag 16: the a.out-kludge address fields are valid).',
    'align 4',
    'multiboot_header:',
    '    dd 0x1BADB002                       ; magic',
    '    dd 0x00010000                       ; flags',
    '    dd -(0x1BADB002 + 0x00010000)       ; checksum',
    '    dd multiboot_header                 ; header_addr',
    '    dd $$                               ; load_addr: the image\'s start',
    '    dd 0                                ; load_end_addr: the whole file',
    '    dd 0                                ; bss_end_addr: no bss to clear',
    `    dd ${entry}${' '.repeat(Math.max(1, 32 - entry.length))}; entry_addr`,
    ...(entry === 'multiboot_entry' ? ['multiboot_entry:'] : []),
  ];
  return { range: { start: { line, character: 0 }, end: { line, character: 0 } }, newText: lines.join(eol) + eol };
}
