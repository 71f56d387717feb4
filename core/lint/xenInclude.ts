/*
 * The Xen constants a paravirtual rewrite names (`__HYPERVISOR_sched_op`, `XEN_SHARED_INFO`, …):
 * Popek's assembler predefines them, plain `nasm` and GNU `as` do not. So a fix that uses them
 * also adds `%include "xen.inc"` (`.include "xen-gas.inc"` in AT&T syntax) near the top of the
 * file, and the tool writes that header next to the file from core/asm/predefined.ts when the
 * directory has none — never over a file of the user's. The fixed file then assembles with the
 * real tools as well as with Popek.
 */
import { PREDEFINED } from '../asm/predefined';
import type { LintDocument } from './document';

export interface XenHeader {
  /** File name, next to the fixed file. */
  name: string;
  text: string;
}

const NAMES = Object.keys(PREDEFINED);
const USES_XEN = new RegExp(`(?<![\\w.$@])(?:${NAMES.map((n) => n.replace(/[$]/g, '\\$&')).join('|')})(?![\\w$@])`);

/** Whether rewritten text names any of the Xen constants. */
export function usesXenConstants(text: string): boolean {
  return USES_XEN.test(text);
}

/** The header's file name for a document's syntax. */
export function xenHeaderName(syntax: LintDocument['syntax']): string {
  return syntax === 'att' ? 'xen-gas.inc' : 'xen.inc';
}

/** One group per Xen interface (hypercall numbers, sched_op, mmuext_op, …): a blank line between. */
const GROUP = /^(__HYPERVISOR|CONSOLEIO|SCHEDOP|SHUTDOWN|VCPUOP|MMUEXT|MMU|UVMF|PHYSDEVOP|FPU_TASKSWITCH|VCPU_INFO|XEN)_/;

/** The header's text, in the document's syntax (NASM `equ`, or GNU as `.equ` with C comments). */
export function xenHeader(syntax: LintDocument['syntax'], eol = '\n'): XenHeader {
  const att = syntax === 'att';
  const name = xenHeaderName(syntax);
  const width = Math.max(...NAMES.map((n) => n.length));
  const about = [
    `${name}: the Xen constants of Popek's paravirtual rewrites (hypercall numbers and sub-operations`,
    'as in Xen\'s public headers, the shared-info page where SPEC section 5 puts it). Written by Popek',
    'because this directory had none; Popek never overwrites it. Popek\'s own assembler predefines them.',
  ];
  const lines = att ? ['/*', ...about.map((l) => ` * ${l}`), ' */'] : about.map((l) => `; ${l}`);
  let group: string | undefined;
  for (const n of NAMES) {
    const g = GROUP.exec(n)?.[1] ?? n;
    if (g !== group) lines.push('');
    group = g;
    const value = PREDEFINED[n] >= 0x100 ? `0x${PREDEFINED[n].toString(16).toUpperCase()}` : String(PREDEFINED[n]);
    lines.push(att ? `.equ ${`${n},`.padEnd(width + 1)} ${value}` : `${n.padEnd(width)} equ ${value}`);
  }
  return { name, text: lines.join(eol) + eol };
}

/** The line that includes the header, in the document's syntax. */
export function xenIncludeLine(syntax: LintDocument['syntax']): string {
  return syntax === 'att'
    ? `.include "${xenHeaderName(syntax)}"    /* Xen constants of the paravirtual rewrites */`
    : `%include "${xenHeaderName(syntax)}"    ; Xen constants of the paravirtual rewrites`;
}

/** Whether the document already includes the header. */
export function includesXenHeader(doc: LintDocument): boolean {
  const name = xenHeaderName(doc.syntax);
  return doc.facts.some((f) => f.include !== undefined && f.include.path.replace(/^.*[\\/]/, '') === name);
}

/**
 * Where the include line goes: before the file's first line of code (after its opening comments),
 * at a line that is read as it stands (not inside a macro body, a false `#if`, or after a `\`
 * continuation), so the insertion changes how no other line is read.
 */
export function xenIncludeLineNumber(doc: LintDocument): number {
  for (let l = 0; l < doc.facts.length; l++) {
    const f = doc.facts[l];
    const code = f.instructions.length > 0 || f.directive !== undefined || f.defs.length > 0 || f.macroCall !== undefined
      || f.include !== undefined || f.cpp !== undefined || f.macroOpen === true;
    if (!code) continue;
    const readAsIs = !f.inactive && !f.macroBody && !f.repeat && !(l > 0 && /\\\s*$/.test(doc.lines[l - 1]))
      && !(l > 0 && doc.facts[l - 1].endsInBlockComment);
    if (readAsIs) return l;
  }
  return 0;
}
