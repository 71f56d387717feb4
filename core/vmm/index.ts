/*
 * The hypervisor (SPEC §4, §5): execution techniques, memory virtualization, the event stream and
 * the cost model. Importing this module registers every technique of this build.
 */
import './native';
import './trapAndEmulate';
import './paravirtual';
import './bt/binaryTranslation';
import './vmx/hardwareAssisted';
// Each technique module registers itself (one line each; binary translation and hardware
// assistance are added here by core/vmm/bt and core/vmm/vmx).

export * from './events';
export * from './cost';
export * from './technique';
export * from './vm';
export { sourceLocator } from './sourceLocator';
