/*
 * Emulating a guest instruction that touches a device's registers (the APICs' MMIO windows). The
 * monitor keeps device frames out of the guest's reach — no shadow entry (trap-and-emulate, BT,
 * VT-x without EPT), no EPT entry (VT-x), a faulting frame under direct paging (paravirtual) — so
 * each access traps; the monitor then runs that one instruction with the device frame reachable
 * (`open`/`close`), which performs the access on the device model, and resumes after it. Real VMMs
 * decode the instruction and emulate the access (KVM's x86 emulator); running the CPU's own
 * semantics for it is the same access with the same result.
 */
import { CS } from '../cpu/constants';
import type { Cpu } from '../cpu/cpu';
import { CpuFault } from '../cpu/fault';
import type { VmHost } from './technique';

const hex = (v: number) => '0x' + (v >>> 0).toString(16);

/**
 * Runs the instruction at the guest's EIP once between `open()` and `close()`. Returns its mnemonic,
 * or undefined when it faulted anyway (EIP is back at the instruction; nothing retired).
 */
export function runInstructionOnce(cpu: Cpu, open: () => void, close: () => void): string | undefined {
  const eip = cpu.eip, icount = cpu.icount;
  open();
  try {
    const insn = cpu.cachedInsnAt((cpu.segBase[CS] + eip) | 0);
    cpu.execOne(insn);
    return insn.mnemonic;
  } catch (e) {
    if (!(e instanceof CpuFault)) throw e;
    cpu.eip = eip;
    cpu.icount = icount;
    return undefined;
  } finally {
    close();
  }
}

/** Counts and publishes an emulated MMIO access (`traps.mmio`, a 'trap' event on the trace). */
export function reportMmio(host: VmHost, guestEip: number, lin: number, phys: number, write: boolean, mnemonic: string | (() => string), vector = 14, cost = host.cost('trapRoundTrip', 'emulate')): void {
  host.count('traps', 'mmio');
  if (!host.events.wants('trap')) { host.tally('trap', cost); return; }
  const device = host.machine.mmio.deviceAt(phys) ?? 'device';
  host.emit({
    kind: 'trap', vector, action: 'emulated', eip: guestEip, mnemonic: typeof mnemonic === 'string' ? mnemonic : mnemonic(), cost,
    text: `MMIO ${write ? 'write' : 'read'} of ${device} register ${hex(phys)} (linear ${hex(lin)}) emulated`,
  });
}

/**
 * Device accesses the CPU performs at a monitor's word (`Monitor.deviceAccess`) counted as the traps
 * they stand for: one per instruction, as emulating the whole instruction after its first #PF counts
 * it (a read-modify-write of a register is one trap, not two).
 */
export class DeviceTrapAccount {
  private icount = -1;
  private eip = -1;
  /** Modelled cycles of one (the profile is the VM's for its life). */
  private readonly cost: number;
  constructor(private readonly host: VmHost) {
    this.cost = host.cost('trapRoundTrip', 'emulate');
  }

  account(lin: number, phys: number, write: boolean, vector = 14): void {
    const host = this.host, cpu = host.cpu, eip = (cpu.segBase[CS] + cpu.eip) >>> 0;
    if (cpu.icount === this.icount && eip === this.eip) return;
    this.icount = cpu.icount;
    this.eip = eip;
    // A device polled through MMIO makes a trap of every access: counted and charged, the event
    // (and the mnemonic's look-up) only for a listener.
    if (!host.events.wants('trap')) {
      const traps = host.counters.traps;
      traps.mmio = (traps.mmio ?? 0) + 1;
      host.tally('trap', this.cost);
      return;
    }
    reportMmio(host, eip, lin, phys, write, () => cpu.cachedInsnAt(eip | 0).mnemonic, vector, this.cost);
  }
}
