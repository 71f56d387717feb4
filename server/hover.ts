/*
 * Hover: over an instruction, its documentation from the table (description, flags, operand
 * forms) and its virtualization behaviour under every technique; over a symbol, its definition.
 */
import { MarkupKind, type Hover, type HoverParams } from 'vscode-languageserver/node';
import type { LintDocument } from '../core/lint/document';
import type { ScannedInstruction } from '../core/lint/lineModel';
import type { Classified } from '../core/lint/classify';
import { reportedClass } from '../core/lint/classify';
import { describeBt, describeExit, GROUP_TITLE, type CostFigures } from '../core/lint/messages';
import { PREDEFINED } from '../core/asm/predefined';
import { macroCallsOf } from '../core/lint/lint';
import { classify } from '../core/lint/classify';
import * as path from 'node:path';

const CLASS_TEXT = {
  critical: '**critical** — sensitive but unprivileged: no trap at CPL > 0',
  privileged: '**privileged** — #GP(0) at CPL > 0',
  'iopl-sensitive': '**IOPL-sensitive** — #GP(0) when CPL > IOPL',
  innocuous: 'innocuous — the same at any privilege level',
} as const;

/** A table cell: one line, no pipe (it would end the cell). */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();

/**
 * Markdown documentation of one instruction as written: what it is, then one row per technique
 * saying what happens to it there — each fact once (the Problems panel's message is the short form).
 */
export function instructionMarkdown(instr: ScannedInstruction, c: Classified, costs?: CostFigures): string {
  const { info, facts, form } = c;
  const lines: string[] = [];
  const spelled = instr.spelling === info.mnemonic ? instr.spelling : `${instr.spelling} (${info.mnemonic})`;
  lines.push(`**${spelled}** — ${info.description}`, '');
  const f = info.flags;
  const flagText = [f.read.length ? `reads ${f.read.join(' ')}` : '', f.written.length ? `writes ${f.written.join(' ')}` : '', f.undefined.length ? `leaves ${f.undefined.join(' ')} undefined` : ''].filter(Boolean).join('; ');
  const meta = [form ? `\`${instr.spelling} ${form.operands.join(', ')}\` = \`${form.encoding}\`` : '', `Flags: ${flagText || 'none affected'}`].filter(Boolean);
  lines.push(meta.join(' · '), '');
  lines.push(`Class: ${CLASS_TEXT[facts.class]}${facts.group ? ` (Robin & Irvine: ${GROUP_TITLE[facts.group]})` : ''}`, '');
  const cls = reportedClass(c);
  if (cls || facts.vmExit.kind !== 'none' || facts.bt.kind === 'callout') {
    if (facts.why) lines.push(`At CPL 1: ${facts.why}`, '');
    const te = cls === 'critical' ? 'runs without a trap; behaves differently (above)'
      : cls === 'privileged' ? `#GP trap; the VMM emulates it${costs?.trapRoundTrip ? ` (~${costs.trapRoundTrip} cycles)` : ''}` : 'runs unchanged';
    const pv = facts.pv && facts.pv.kind !== 'none'
      ? `${facts.pv.hypercall ? `\`__HYPERVISOR_${facts.pv.hypercall}\`: ` : ''}${facts.pv.text}` : cls ? 'as under trap-and-emulate' : 'runs unchanged';
    const exit = facts.vmExit.kind === 'none' ? describeExit(facts.vmExit) : `${describeExit(facts.vmExit)}${costs?.vmExit ? ` (~${costs.vmExit} cycles)` : ''}`;
    lines.push('| technique | what happens |', '|---|---|');
    lines.push('| native | runs at CPL 0 as written |');
    lines.push(`| trap-and-emulate | ${cell(te)} |`);
    lines.push(`| binary-translation | ${cell(describeBt(facts, costs))} |`);
    lines.push(`| paravirtual | ${cell(pv)} |`);
    lines.push(`| hardware-assisted | ${cell(exit)} |`);
  }
  return lines.join('\n').trim();
}

/** The same spelling and form always reads the same: keep the text (a few hundred entries at most). */
const markdownCache = new Map<string, string>();

function cachedMarkdown(instr: ScannedInstruction, c: Classified, costs?: CostFigures): string {
  const key = `${instr.spelling}|${c.info.mnemonic}|${c.form ? c.info.forms.indexOf(c.form) : -1}|${costs?.profile ?? ''}`;
  let text = markdownCache.get(key);
  if (text === undefined) {
    text = instructionMarkdown(instr, c, costs);
    if (markdownCache.size > 4000) markdownCache.clear();
    markdownCache.set(key, text);
  }
  return text;
}

export function hover(model: LintDocument, params: HoverParams, costs?: CostFigures, symbolDoc?: (name: string) => string | undefined): Hover | null {
  const { line, character } = params.position;
  const facts = model.facts[line];
  if (!facts) return null;
  for (const instr of facts.instructions) {
    if (character < instr.mnemonicSpan.start || character > instr.mnemonicSpan.end) continue;
    const c = model.classify(instr);
    if (!c) break; // not in the table: a macro invocation, shown as a symbol below
    return {
      contents: { kind: MarkupKind.Markdown, value: cachedMarkdown(instr, c, costs) },
      range: { start: { line, character: instr.mnemonicSpan.start }, end: { line, character: instr.mnemonicSpan.end } },
    };
  }
  const call = macroCallHover(model, line, character);
  if (call) return call;
  const sym = model.symbolAt(line, character);
  if (sym) {
    const range = { start: { line, character: sym.start }, end: { line, character: sym.end } };
    const builtin = PREDEFINED[sym.name];
    if (builtin !== undefined) return { contents: { kind: MarkupKind.Markdown, value: `\`${sym.name}\` = ${builtin} (0x${builtin.toString(16)}) — predefined by Popek (Xen public interface)` }, range };
    const text = symbolDoc?.(sym.name);
    if (text) return { contents: { kind: MarkupKind.Markdown, value: text }, range };
  }
  return null;
}

/** Over a macro call: what it expands to, with the critical and privileged instructions marked. */
function macroCallHover(model: LintDocument, line: number, character: number): Hover | null {
  const f = model.facts[line];
  if (!f || f.inactive || (!f.macroCall && !f.instructions.some((i) => !i.known))) return null;
  const view = model.currentMacroView();
  const call = macroCallsOf(model, line, view).find((c) => character >= c.start && character <= c.end);
  if (!call) return null;
  const e = call.expansion;
  const marks = new Map<string, string>();
  for (const x of e.instructions) {
    const c = classify(x.instr);
    const cls = c ? reportedClass(c) : undefined;
    if (cls) marks.set(x.text, cls);
  }
  const shown = e.lines.slice(0, 60).map((l) => {
    const hit = [...marks.entries()].find(([t]) => l.includes(t));
    return hit ? `${l.trimEnd()}    ${model.syntax === 'att' ? '#' : ';'} ← ${hit[1]}` : l.trimEnd();
  });
  const def = view.gas.get(e.macro.toLowerCase())?.at ?? view.nasm.get(e.macro)?.at ?? view.nasm.get(e.macro.toLowerCase())?.at ?? view.cppAt.get(e.macro);
  const where = def ? ` — defined in ${def.file === model.fileName ? 'this file' : path.basename(def.file)}, line ${def.line + 1}` : '';
  const value = [`macro **${e.macro}**${where}`, '', 'Expands to:', '```' + (model.syntax === 'att' ? 'asm' : 'nasm'), ...shown, ...(e.lines.length > 60 ? ['…'] : []), '```'].join('\n');
  return { contents: { kind: MarkupKind.Markdown, value }, range: { start: { line, character: call.start }, end: { line, character: call.end } } };
}
