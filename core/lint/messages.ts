/*
 * The words of the virtualization diagnostics (SPEC §7): what a critical instruction does
 * differently when the guest kernel is deprivileged and why no trap reaches the hypervisor; what a
 * privileged one traps to and what that costs; and, for binary translation and hardware
 * assistance, what the technique does instead. All facts come from the instruction table.
 */
import type { Mode, RobinIrvineGroup, VirtFacts, VmExit } from '../isa';
import type { Classified } from './classify';

/** Modelled costs (cycles) quoted in messages; filled from the hypervisor's cost model when present. */
export interface CostFigures {
  profile: string;
  trapRoundTrip?: number;
  vmExit?: number;
  hypercall?: number;
  callout?: number;
}

export const GROUP_TITLE: Record<RobinIrvineGroup, string> = {
  'sensitive-register': 'sensitive-register instructions (they read or change sensitive registers)',
  'protection-system': 'protection-system references (they consult the storage-protection / relocation system)',
};

/**
 * Display name of an instruction as written, e.g. `popfl (popfd)`. Plain text: the Problems panel
 * shows a diagnostic's message as it is, so Markdown backticks would show literally.
 */
export function displayName(spelling: string, mnemonic: string): string {
  return spelling === mnemonic ? spelling : `${spelling} (${mnemonic})`;
}

/** The longest diagnostic message: one line of the Problems panel; the rest is in the hover. */
export const MAX_MESSAGE = 120;

/** `text` cut at a word boundary to `max` characters (with an ellipsis when cut). */
export function fitMessage(text: string, max = MAX_MESSAGE): string {
  const t = text.replace(/\s+/g, ' ').trim();
  if (t.length <= max) return t;
  const cut = t.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space > max * 0.6 ? cut.slice(0, space) : cut).replace(/[\s,;:—-]+$/, '')}…`;
}

/** A short name for the paravirtual fix: `hypercall set_trap_table`, `the shared-info event mask` … */
function pvFix(facts: VirtFacts): string | undefined {
  const pv = facts.pv;
  if (!pv || pv.kind === 'none') return undefined;
  if (pv.kind === 'hypercall' && pv.hypercall) return `hypercall ${pv.hypercall}`;
  if (pv.short) return pv.short;
  if (pv.kind === 'shared-memory') return 'the virtual IF in shared info';
  return undefined;
}

/**
 * The one-sentence message of a virtualization diagnostic (≤ MAX_MESSAGE characters): what goes
 * wrong under `mode` and the fix in a few words. The whole story is in the hover.
 */
/** `fixText`: the fix as this instance's quick fix makes it (null: none), when it differs from the table's. */
export function shortVirtMessage(name: string, c: Classified, cls: 'critical' | 'privileged', mode: Mode, costs?: CostFigures, fixText?: string | null): string | undefined {
  const f = c.facts;
  const cost = (n: number | undefined) => (n !== undefined && costs ? `, ~${n} cycles` : '');
  const trapWord = f.class === 'iopl-sensitive' ? 'traps (#GP, CPL > IOPL)' : 'traps (#GP)';
  switch (mode) {
    case 'native':
      return undefined;
    case 'trap-and-emulate':
    case 'paravirtual': {
      const fix = mode !== 'paravirtual' ? undefined : fixText === undefined ? pvFix(f) : fixText ?? undefined;
      if (cls === 'critical') {
        // What goes wrong (the table's description, past what the instruction does), then the fix:
        // the first of these that fits one line of the Problems panel.
        const d = c.info.description.replace(/\.$/, '');
        const why = (f.why ?? '').split(/: |; |\. /)[0].replace(/\.$/, '');
        const effects = [why, d.includes('; ') ? d.slice(d.indexOf('; ') + 2) : ''].filter(Boolean);
        const head = `${name} is critical, no trap at CPL 1`;
        const fixes = fix ? [`; fix: ${fix} (Ctrl+.)`, `; fix: ${fix}`] : mode === 'paravirtual' ? ['; review it (Ctrl+.)', ''] : [''];
        const candidates = [...effects.flatMap((e) => fixes.map((x) => `${head}: ${e}${x}`)), ...fixes.map((x) => `${head}${x}`)];
        return fitMessage(candidates.find((m) => m.length <= MAX_MESSAGE) ?? candidates[candidates.length - 1]);
      }
      const base = `${name} ${trapWord} at CPL 1; the VMM emulates it${cost(costs?.trapRoundTrip)}`;
      return fitMessage(!fix ? base : `${base}; fix: ${fix} (Ctrl+.)`.length <= MAX_MESSAGE ? `${base}; fix: ${fix} (Ctrl+.)` : `${base}; fix: ${fix}`);
    }
    case 'binary-translation':
      return fitMessage(f.bt.kind === 'callout'
        ? `${name}: binary translation replaces it by a callout into the VMM${cost(costs?.callout)}`
        : `${name}: binary translation copies it unchanged`);
    case 'hardware-assisted': {
      const e = f.vmExit;
      const exit = e.kind === 'none' ? 'runs without a VM exit'
        : e.kind === 'unconditional' ? `always causes a VM exit (${e.reason}, ${e.reasonNumber})${cost(costs?.vmExit)}`
          : `causes a VM exit (${e.reason}, ${e.reasonNumber}) when "${e.control.replace(/\s*\(.*\)$/, '')}" is set${cost(costs?.vmExit)}`;
      return fitMessage(`${name} under VT-x ${exit}`);
    }
  }
}

function sentence(s: string | undefined): string {
  if (!s) return '';
  const t = s.trim();
  return /[.!?)]$/.test(t) ? t : t + '.';
}

export function describeExit(exit: VmExit): string {
  switch (exit.kind) {
    case 'none': return `runs in VMX non-root operation without a VM exit${exit.note ? ` (${exit.note.replace(/\.$/, '')})` : ''}`;
    case 'unconditional': return `always causes a VM exit, basic reason ${exit.reasonNumber} ${exit.reason}${exit.note ? ` (${exit.note.replace(/\.$/, '')})` : ''}`;
    case 'controlled': return `causes a VM exit, basic reason ${exit.reasonNumber} ${exit.reason}, when the VMCS control “${exit.control}” is set${exit.note ? ` (${exit.note.replace(/\.$/, '')})` : ''}`;
  }
}

function cycles(n: number | undefined, what: string, costs?: CostFigures): string {
  return n !== undefined && costs ? ` (${what} modelled at ${n} cycles, cost profile ${costs.profile})` : '';
}

export function describeBt(facts: VirtFacts, costs?: CostFigures): string {
  return facts.bt.kind === 'callout'
    ? `the translator replaces it by a callout into the VMM, which applies it to the virtual CPU, so it neither traps nor misbehaves${cycles(costs?.callout, 'a callout', costs)}${facts.bt.note ? `: ${facts.bt.note.replace(/\.$/, '')}` : ''}`
    : `the translator copies it unchanged (IDENT)${facts.bt.note ? `: ${facts.bt.note.replace(/\.$/, '')}` : ''}`;
}

export function describePv(facts: VirtFacts): string {
  const pv = facts.pv;
  if (!pv || pv.kind === 'none') return '';
  if (pv.kind === 'hypercall') return `Paravirtual replacement: hypercall ${pv.hypercall ?? ''} — ${pv.text.replace(/\.$/, '')}.`.replace(/ {2}/g, ' ');
  if (pv.kind === 'shared-memory') return `Paravirtual replacement: ${sentence(pv.text)}`;
  return `Paravirtual: ${sentence(pv.text)}`;
}

/** The whole explanation of a virtualization diagnostic for `mode` (for a hover or related information). */
export function virtDetail(name: string, c: Classified, cls: 'critical' | 'privileged', mode: Mode, costs?: CostFigures): string | undefined {
  const f = c.facts;
  const kindWord = f.class === 'iopl-sensitive' ? 'IOPL-sensitive (#GP when CPL > IOPL)' : 'privileged (#GP at CPL > 0)';
  switch (mode) {
    case 'native':
      return undefined;
    case 'trap-and-emulate':
    case 'paravirtual': {
      const cpl = 'CPL 1';
      if (cls === 'critical') {
        const group = f.group ? ` Robin & Irvine group: ${GROUP_TITLE[f.group]}.` : '';
        // Most critical instructions run without any exception; a few (INT n, far transfers) fault,
        // but with the meaning of the real CPL: the table's `why` says which.
        const silent = /#GP|fault/i.test(f.why ?? '') ? '' : ` At ${cpl} it raises no exception, so no trap reaches the hypervisor and the guest silently sees or does something else than at CPL 0.`;
        return `${name} is critical: sensitive but not privileged.${group} ${sentence(f.why)}${silent} ${mode === 'paravirtual' ? describePv(f) : 'Trap-and-emulate cannot virtualize it.'}`.replace(/\s+/g, ' ').trim();
      }
      const trap = `At ${cpl} it is ${kindWord}: it traps to the hypervisor, which emulates it on the virtual CPU${cycles(costs?.trapRoundTrip, 'the trap round trip', costs)}.`;
      return `${name}: ${trap} ${sentence(f.why)} ${mode === 'paravirtual' ? describePv(f) : ''}`.replace(/\s+/g, ' ').trim();
    }
    case 'binary-translation':
      return `${name} is ${cls === 'critical' ? 'critical (sensitive, unprivileged)' : kindWord} — binary translation: ${describeBt(f, costs)}.`.replace(/\.\.$/, '.');
    case 'hardware-assisted': {
      const exitCost = f.vmExit.kind === 'none' ? '' : cycles(costs?.vmExit, 'exit and re-entry', costs);
      return `${name} is ${cls === 'critical' ? 'critical (sensitive, unprivileged)' : kindWord} — hardware-assisted (VT-x): the guest runs at CPL 0 in VMX non-root operation, so it behaves as on bare metal; it ${describeExit(f.vmExit)}${exitCost}.`;
    }
  }
}
