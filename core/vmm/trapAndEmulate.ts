/*
 * `trap-and-emulate` (SPEC §4): the classic Popek & Goldberg VMM on x86 without hardware help.
 * The guest kernel runs deprivileged at CPL 1; privileged and IOPL-sensitive instructions #GP into
 * the VMM, which emulates them on the virtual CPU; memory is virtualized with shadow page tables;
 * critical instructions run unchanged and misbehave — which is why x86 was not classically
 * virtualizable. The mechanism is in ring1Vmm.ts; this module names and registers it.
 */
import { Ring1Vmm } from './ring1Vmm';
import { RING1_RESERVED_MIB } from './ringCompression';
import { registerTechnique, type VmHost } from './technique';

export class TrapAndEmulate extends Ring1Vmm {
  readonly mode = 'trap-and-emulate' as const;
  constructor(host: VmHost) { super(host); }
}

registerTechnique({
  mode: 'trap-and-emulate',
  title: 'guest kernel at CPL 1; privileged instructions trap (#GP) and are emulated; shadow paging',
  reservedMiB: RING1_RESERVED_MIB,
  create: (host) => new TrapAndEmulate(host),
});
