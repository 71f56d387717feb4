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

/** Display name of an instruction as written, e.g. `popfl` (popfd). */
export function displayName(spelling: string, mnemonic: string): string {
  return spelling === mnemonic ? `\`${spelling}\`` : `\`${spelling}\` (${mnemonic})`;
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

/** The message of a virtualization diagnostic for `mode`, or undefined when the mode reports nothing. */
export function virtMessage(name: string, c: Classified, cls: 'critical' | 'privileged', mode: Mode, costs?: CostFigures): string | undefined {
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
