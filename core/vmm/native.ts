/*
 * `native`: bare metal, no hypervisor (SPEC §4). The guest kernel runs at CPL 0 on the plain
 * machine; the only cost is one `instruction` per instruction. The reference the other modes are
 * compared with.
 */
import { registerTechnique, type Technique, type VmHost } from './technique';

class NativeTechnique implements Technique {
  readonly mode = 'native' as const;
  constructor(private readonly host: VmHost) {}
  start(): void {}
  runSlice(budget: number) { return this.host.machine.runSlice(budget); }
  getState(): unknown { return null; }
  setState(): void {}
  inspect() {
    const cpu = this.host.cpu;
    return { vcpu: { 'CPL (real)': cpu.cpl, 'CPL (guest)': cpu.cpl } };
  }
}

registerTechnique({ mode: 'native', title: 'bare metal, no hypervisor', reservedMiB: 0, create: (host) => new NativeTechnique(host) });
