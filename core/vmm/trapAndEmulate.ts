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
import type { LoadedImage } from '../machine/machine';

export class TrapAndEmulate extends Ring1Vmm {
  readonly mode = 'trap-and-emulate' as const;
  constructor(host: VmHost) { super(host); }

  // The guest's PIC is the device model, and the VMM sees every change of the virtual IF (CLI, STI,
  // interrupt gates: all trap or are the VMM's own doing), so while the virtual IF is 0 a request
  // stays in the PIC, as natively: a line masked or a PIC reinitialised meanwhile drops it. (The
  // paravirtual guest's IF is a byte in shared memory it writes without trapping: there the VMM
  // takes the interrupt and holds it as a pending event, as Xen's event channels do.)
  override setVirtualIf(on: boolean): void {
    super.setVirtualIf(on);
    this.holdPicRequests();
  }
  override start(image: LoadedImage): void {
    super.start(image);
    this.holdPicRequests();
  }
  override setState(raw: unknown): void {
    super.setState(raw);
    this.holdPicRequests();
  }
  private holdPicRequests(): void {
    const held = !this.virtualIf();
    if (this.cpu.picHeld === held) return;
    this.cpu.picHeld = held;
    if (!held) this.cpu.requestInterruptCheck(); // a request left in the PIC is deliverable now
  }
}

registerTechnique({
  mode: 'trap-and-emulate',
  title: 'guest kernel at CPL 1; privileged instructions trap (#GP) and are emulated; shadow paging',
  reservedMiB: RING1_RESERVED_MIB,
  create: (host) => new TrapAndEmulate(host),
});
