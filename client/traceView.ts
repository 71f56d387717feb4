/*
 * The "Show VM-Exit Trace" document: the hypervisor events of one run (`popek run --trace --json`
 * gives them as fields in `events`), one per line in aligned columns — what happened, where, what it
 * cost, and the source line, which the extension makes a link. Pure: no vscode, unit-tested.
 */
import type { RunReport } from '../core/machine/report';
import type { VmEvent } from '../core/vmm/events';

export type TraceReport = RunReport & { events?: VmEvent[]; eventsTruncated?: boolean };

/** A link from a span of the document to a source line (0-based document line; 1-based source line). */
export interface TraceLink { line: number; start: number; end: number; file: string; sourceLine: number }

export interface TraceDocument { text: string; links: TraceLink[]; events: number }

const KIND_NAMES: Record<string, string> = {
  vmexit: 'VM exit', trap: 'trap', critical: 'critical', hypercall: 'hypercall', 'guest-exception': 'guest exception',
  'interrupt-injection': 'interrupt', translation: 'translation', callout: 'callout', 'shadow-paging': 'shadow paging',
};

const hex = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const counts = (o: Record<string, number> | undefined) =>
  o && Object.keys(o).length ? Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ') : 'none';

/** What the event did, without the prefix the kind column already says ("VM exit CPUID (10): "). */
function what(e: VmEvent): string {
  if (e.kind === 'vmexit') return `${e.reason}${e.qualificationText ? ` — ${e.qualificationText}` : ''}`;
  return e.text;
}

export function traceDocument(report: TraceReport, file: string, mode: string): TraceDocument {
  const events = report.events ?? [];
  const base = (p: string) => p.split(/[\\/]/).pop() ?? p;
  const exitCycles = events.filter((e) => e.kind === 'vmexit').reduce((s, e) => s + e.cost, 0);
  const header = [
    `Hypervisor events of ${base(file)} under ${mode}`,
    `outcome: ${report.outcome} (exit code ${report.exitCode}) · ${report.instructions.toLocaleString('en-US')} instructions · ${report.cycles.toLocaleString('en-US')} modelled cycles`,
    `VM exits: ${counts(report.vmExits)}${exitCycles ? ` (${exitCycles.toLocaleString('en-US')} cycles)` : ''}`,
    `traps: ${counts(report.traps)} · critical: ${counts(report.critical)} · hypercalls: ${counts(report.hypercalls)}`,
    '',
  ];
  if (!events.length) {
    const none = mode === 'native' ? 'Native runs without a hypervisor: there are no events.' : 'No hypervisor events in this run.';
    return { text: [...header, none, ''].join('\n'), links: [], events: 0 };
  }
  // Short columns first, the description last: a narrow editor cuts only the end of the description.
  const rows = events.map((e, i) => [
    String(i + 1), e.icount.toLocaleString('en-US'), KIND_NAMES[e.kind] ?? e.kind, hex(e.eip), e.mnemonic || '—',
    e.source ? `${base(e.source.file)}:${e.source.line}` : '', e.cost.toLocaleString('en-US'), what(e),
  ]);
  const head = ['#', 'instr.', 'event', 'address', 'insn', 'source', 'cycles', 'what'];
  const right = new Set([0, 1, 6]);
  // The description is capped (the full text is in `popek run --trace` and the debugger's Hypervisor scope).
  const cap = [6, 12, 16, 10, 8, 28, 8, 50];
  const cell = (c: string, k: number) => (c.length > cap[k] ? c.slice(0, cap[k] - 1) + '…' : c);
  const widths = head.map((h, k) => Math.max(h.length, ...rows.map((r) => cell(r[k], k).length)));
  const fmt = (r: string[]) => r.map((c, k) => (right.has(k) ? cell(c, k).padStart(widths[k]) : cell(c, k).padEnd(widths[k]))).join('  ').trimEnd();
  const lines = [...header, fmt(head), fmt(widths.map((w) => '─'.repeat(w)))];
  const links: TraceLink[] = [];
  const sourceColumn = widths.slice(0, 5).reduce((s, w) => s + w + 2, 0);
  events.forEach((e, i) => {
    const text = fmt(rows[i]);
    if (e.source) links.push({ line: lines.length, start: sourceColumn, end: sourceColumn + cell(rows[i][5], 5).length, file: e.source.file, sourceLine: e.source.line });
    lines.push(text);
  });
  if (report.eventsTruncated) lines.push('', `(only the first ${events.length.toLocaleString('en-US')} events; \`popek run --trace\` prints them all)`);
  lines.push('');
  return { text: lines.join('\n'), links, events: events.length };
}
