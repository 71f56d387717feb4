/*
 * Completion: at the start of a statement, mnemonics (AT&T spellings in `popek-gas`), directives
 * and macros; in operands, registers, labels, constants and the hypercall names and constants
 * of the paravirtual interface. The fixed lists are built once per syntax.
 */
import { CompletionItemKind, MarkupKind, type CompletionItem, type CompletionList, type CompletionParams } from 'vscode-languageserver/node';
import { allInstructions, instructionInfo } from '../core/isa';
import { PREDEFINED } from '../core/asm/predefined';
import { allRegisters } from '../core/lint/lineModel';
import { NASM_DATA, NASM_DIRECTIVES } from '../core/lint/nasmScanner';
import { ATT_DIRECTIVES } from '../core/lint/att';
import type { LintDocument } from '../core/lint/document';
import type { DocumentStore } from './documents';
import { instructionMarkdown } from './hover';

export const COMPLETION_TRIGGERS = ['%', '.', '$', '_'];

const NASM_PREPROC = ['%define', '%undef', '%assign', '%macro', '%endmacro', '%include', '%if', '%ifdef', '%ifndef', '%elif', '%else', '%endif', '%rep', '%endrep', '%error', '%warning'];

interface Fixed { statement: CompletionItem[]; operand: CompletionItem[] }
const fixed = new Map<string, Fixed>();

function classTag(m: string): string {
  const info = instructionInfo(m);
  if (!info) return '';
  const c = info.virt.class;
  const formCritical = info.forms.some((f) => f.virt?.class === 'critical');
  const formPriv = info.forms.some((f) => f.virt?.class === 'privileged');
  return c === 'innocuous' ? (formCritical ? 'some forms critical' : formPriv ? 'some forms privileged' : '') : c;
}

function fixedItems(syntax: 'nasm' | 'att'): Fixed {
  let f = fixed.get(syntax);
  if (f) return f;
  const statement: CompletionItem[] = [];
  for (const info of allInstructions()) {
    const spellings = syntax === 'att' ? [info.mnemonic, ...info.att] : [info.mnemonic, ...(info.aliases ?? [])];
    for (const s of new Set(spellings)) {
      const tag = classTag(info.mnemonic);
      // The description comes with completionItem/resolve: the list itself stays small.
      statement.push({ label: s, kind: CompletionItemKind.Keyword, data: { mnemonic: info.mnemonic, tag }, sortText: `1${s}` });
    }
  }
  const directives = syntax === 'att' ? [...ATT_DIRECTIVES].map((d) => '.' + d) : [...NASM_DIRECTIVES, ...NASM_DATA, 'times', 'equ', ...NASM_PREPROC];
  for (const d of directives) statement.push({ label: d, kind: CompletionItemKind.Keyword, detail: 'directive', sortText: `2${d}` });
  const operand: CompletionItem[] = [];
  for (const [r, cls] of allRegisters()) operand.push({ label: syntax === 'att' ? `%${r}` : r, kind: CompletionItemKind.Variable, detail: `register (${cls})`, sortText: `3${r}` });
  for (const [name, value] of Object.entries(PREDEFINED)) {
    const isCall = name.startsWith('__HYPERVISOR_');
    operand.push({
      label: syntax === 'att' ? `$${name}` : name,
      filterText: name,
      kind: isCall ? CompletionItemKind.Function : CompletionItemKind.Constant,
      detail: `${isCall ? 'hypercall' : 'constant'} = ${value}`,
      sortText: `4${name}`,
    });
  }
  f = { statement, operand };
  fixed.set(syntax, f);
  return f;
}

/** At most this many of the document's own names per answer; past it the list is marked incomplete and the editor asks again as the user types. */
const MAX_SYMBOLS = 300;

/**
 * Items whose name contains the word being typed (the editor then ranks them fuzzily). The fixed
 * vocabulary (mnemonics, directives, registers, constants) always passes; the document's labels,
 * which run into thousands in big files, are capped, which keeps every answer small.
 */
function narrow(items: CompletionItem[], prefix: string): CompletionList {
  const p = prefix.toLowerCase().replace(/^[%$]/, '');
  const out: CompletionItem[] = [];
  let symbols = 0;
  let incomplete = false;
  for (const i of items) {
    if (p && !(i.filterText ?? i.label).toLowerCase().includes(p)) continue;
    if ((i.data as { symbol?: boolean } | undefined)?.symbol) {
      if (symbols === MAX_SYMBOLS) { incomplete = true; continue; }
      symbols++;
    }
    out.push(i);
  }
  return { isIncomplete: incomplete, items: out };
}

export function completion(store: DocumentStore, model: LintDocument, p: CompletionParams): CompletionList {
  const prefix = /[\w.%$@?#~]*$/.exec((model.lines[p.position.line] ?? '').slice(0, p.position.character))?.[0] ?? '';
  return narrow(candidates(store, model, p), prefix);
}

function candidates(store: DocumentStore, model: LintDocument, p: CompletionParams): CompletionItem[] {
  const line = model.lines[p.position.line] ?? '';
  const before = line.slice(0, p.position.character);
  const fixedSet = fixedItems(model.syntax);
  const comment = model.facts[p.position.line]?.commentStart;
  if (comment !== undefined && p.position.character > comment) return [];
  // Statement position: only a label (and blanks) before the cursor.
  const statementStart = /^\s*(?:[A-Za-z_.?@$][\w.?@$#~]*:\s*)*[%.\w]*$/.test(before);
  const items: CompletionItem[] = [];
  const symbols = [model, ...store.included(model)].flatMap((d) => d.definitions());
  if (statementStart) {
    items.push(...fixedSet.statement);
    for (const s of symbols) if (s.kind === 'macro') items.push({ label: s.name, kind: CompletionItemKind.Snippet, detail: 'macro', sortText: `0${s.name}`, data: { symbol: true } });
    return items;
  }
  items.push(...fixedSet.operand);
  const seen = new Set<string>();
  for (const s of symbols) {
    if (s.kind === 'macro' || seen.has(s.name)) continue;
    seen.add(s.name);
    items.push({ label: s.name, kind: s.kind === 'label' ? CompletionItemKind.Reference : CompletionItemKind.Constant, detail: s.kind, sortText: `0${s.name}`, data: { symbol: true } });
  }
  return items;
}

export function resolveCompletion(item: CompletionItem): CompletionItem {
  const m = (item.data as { mnemonic?: string } | undefined)?.mnemonic;
  if (!m) return item;
  const info = instructionInfo(m);
  if (!info) return item;
  const tag = (item.data as { tag?: string }).tag;
  item.detail = `${info.description}${tag ? ` [${tag}]` : ''}`;
  item.documentation = {
    kind: MarkupKind.Markdown,
    value: instructionMarkdown({ spelling: item.label, mnemonic: m, mnemonicSpan: { start: 0, end: 0 }, prefixes: [], operands: [], known: true, start: 0, end: 0 }, { info, facts: info.virt }),
  };
  return item;
}
