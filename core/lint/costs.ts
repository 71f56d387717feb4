/*
 * The modelled costs quoted in diagnostics and hovers. They belong to the hypervisor's cost model
 * (core/vmm/cost.ts); they are read from there so the editor and `popek run` agree.
 */
import { COST_PROFILES, cost, costProfile } from '../vmm/cost';
import type { CostFigures } from './messages';

/** Figures of a named profile (`modern` when the name is unknown). */
export function costFigures(profile = 'modern'): CostFigures {
  const p = costProfile(COST_PROFILES[profile] ? profile : 'modern');
  return {
    profile: p.name,
    // A privileged instruction at CPL 1: #GP into the VMM, decode and emulate, return.
    trapRoundTrip: cost(p, 'trapRoundTrip', 'emulate'),
    vmExit: cost(p, 'vmExitEntry'),
    hypercall: cost(p, 'hypercall'),
    callout: cost(p, 'callout'),
  };
}
