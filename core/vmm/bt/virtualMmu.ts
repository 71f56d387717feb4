/*
 * Memory virtualization for binary translation (SPEC §4: shadow page tables for trap-and-emulate and
 * binary translation): the guest's CR0, CR3 and CR4 are virtual; the real CR3 points at a shadow page
 * directory (core/vmm/shadowPaging.ts) that maps guest-linear pages to guest-physical frames and is
 * filled on hidden page faults, kept coherent by tracing the guest's page-table pages. The
 * translator's callouts for MOV CR, LMSW, CLTS, SMSW and INVLPG work on the virtual registers here;
 * #PF from translated code or from user code goes to `onPageFault` first.
 *
 * `prefaultEventDelivery` is shared with VT-x's shadow mode: a hidden page fault in the middle of
 * delivering an event would become #DF on the processor (a #PF while delivering a #PF), so before an
 * event goes through the guest's IDT the VMM fills the shadow for what delivery touches.
 */
import { CR0_PG, CR0_WP, GP, UD } from '../../cpu/constants';
import { UnsupportedError, type Cpu } from '../../cpu/cpu';
import { CpuFault } from '../../cpu/fault';
import type { Insn } from '../../cpu/insn';
import { InsnClass } from '../../cpu/monitor';
import { ea } from '../../cpu/ops/operands';
import type { PhysicalMemory } from '../../cpu/physicalMemory';
import { ShadowMmu, type ShadowState } from '../shadowPaging';
import type { VmHost } from '../technique';

/** A page-directory index no linear address has: the shadow keeps no VMM hole (the page after the directory is scratch). */
export const NO_VMM_HOLE = 1024;

/** Fills the shadow for the IDT gate, the handler's descriptor, the TSS stack fields and the frame. */
export function prefaultEventDelivery(cpu: Cpu, shadow: ShadowMmu, mem: PhysicalMemory, vector: number): void {
  const fill = (lin: number, write: boolean) => {
    const r = shadow.handleFault(lin >>> 0, write ? 2 : 0);
    if (write && r !== 'fixed' && r !== 'stuck') shadow.handleFault(lin >>> 0, 0);
  };
  const read32 = (lin: number) => { const p = shadow.guestPhys(lin >>> 0); return p < 0 || p + 4 > mem.ramSize ? 0 : mem.read32(p); };
  const gate = (cpu.idtrBase + vector * 8) >>> 0;
  fill(gate, false); fill(gate + 7, false);
  const sel = read32(gate) >>> 16;
  const desc = (cpu.gdtrBase + (sel & 0xfff8)) >>> 0;
  fill(desc, true); fill(desc + 7, true);
  const dpl = (read32(desc + 4) >>> 13) & 3;
  let esp = cpu.regs[4] >>> 0;
  if (dpl < cpu.cpl) {
    // Inter-privilege: SS:ESP for the new ring from the TSS (ESPn at 4 + 8n, SSn at 8 + 8n).
    fill(cpu.trBase + 4 + 8 * dpl, false); fill(cpu.trBase + 8 + 8 * dpl, false);
    esp = read32(cpu.trBase + 4 + 8 * dpl) >>> 0;
  }
  fill(esp - 1, true); fill(esp - 24, true);
}

export interface VirtualMmuState { cr0: number; cr3: number; cr4: number; shadow: ShadowState }

export class VirtualMmu {
  /** The guest's view of CR0, CR3, CR4. */
  cr0: number;
  cr3: number;
  cr4: number;
  readonly shadow: ShadowMmu;

  constructor(private readonly host: VmHost, base: number, size: number) {
    const cpu = host.cpu;
    this.cr0 = cpu.cr0; this.cr3 = cpu.cr3; this.cr4 = cpu.cr4;
    this.shadow = new ShadowMmu(host, {
      // The translated code and the VMM share no linear range with the guest here: no VMM hole
      // (index 1024 is past the directory; the module's write of its PDE lands in a scratch page).
      pdPhys: base, poolStart: base + 0x2000, poolEnd: base + size,
      vmmPdIndex: NO_VMM_HOLE, vmmPde: 0,
    }, () => ({ cr0: this.cr0, cr3: this.cr3, cr4: this.cr4 }));
  }

  private get cpu(): Cpu { return this.host.cpu; }

  /** The real processor always pages, through the shadow. */
  start(): void {
    const cpu = this.cpu;
    cpu.cr0 = (this.cr0 | CR0_PG | CR0_WP) >>> 0 | 0;
    cpu.cr3 = this.shadow.layout.pdPhys;
    this.shadow.reset();
    cpu.flushTlb();
  }

  /**
   * A #PF the real CPU raised: a hidden fault is fixed ('fixed': retry), a guest fault comes back
   * with the error code the guest's own tables give.
   */
  onPageFault(address: number, errorCode: number): 'fixed' | { errorCode: number } {
    const r = this.shadow.handleFault(address, errorCode);
    if (r === 'fixed') return 'fixed';
    return { errorCode: r === 'stuck' ? errorCode : r.guestErrorCode };
  }

  prefault(vector: number): void {
    prefaultEventDelivery(this.cpu, this.shadow, this.host.machine.mem, vector);
  }

  /**
   * Callout for an instruction that reads or writes paging state on the virtual CPU. Returns false
   * when it is not one of them (the caller runs its semantics).
   */
  emulate(insn: Insn): boolean {
    // By the row's intercept class (MOV_CR, SMSW, LMSW, CLTS, INVLPG) and the form's operands.
    const cpu = this.cpu, cls = insn.cls;
    if (cls & InsnClass.MOV_CR) {
      if (cpu.cpl !== 0) throw new CpuFault(GP, 0);
      const cr = insn.reg, gpr = insn.rm;
      if (cr === 2) return false;
      if (insn.form!.operands[1] === 'cr') {
        cpu.regs[gpr] = cr === 0 ? this.cr0 : cr === 3 ? this.cr3 : this.cr4;
        return true;
      }
      this.writeCr(cr, cpu.regs[gpr]);
      return true;
    }
    if (cls & InsnClass.SMSW) {
      const v = this.cr0 & 0xffff;
      if (insn.rm >= 0) cpu.setReg(insn.rm, insn.size, v); else cpu.write16(insn.seg, ea(cpu, insn), v);
      return true;
    }
    if (cls & (InsnClass.LMSW | InsnClass.CLTS | InsnClass.INVLPG)) {
      if (cpu.cpl !== 0) throw new CpuFault(GP, 0);
      if (cls & InsnClass.CLTS) this.writeCr(0, this.cr0 & ~8);
      else if (cls & InsnClass.LMSW) {
        const src = insn.rm >= 0 ? cpu.getReg(insn.rm, 2) : cpu.read16(insn.seg, ea(cpu, insn));
        this.writeCr(0, (this.cr0 & ~0xe) | (src & 0xf) | (this.cr0 & 1));
      } else {
        if (insn.rm >= 0) throw new CpuFault(UD);
        this.shadow.invlpg((cpu.segBase[insn.seg] + ea(cpu, insn)) >>> 0);
      }
      return true;
    }
    return false;
  }

  private writeCr(cr: number, value: number): void {
    const cpu = this.cpu;
    if (cr === 0) {
      const v = (value | 0x10) | 0;
      if ((v & CR0_PG) && !(v & 1)) throw new CpuFault(GP, 0);
      // The real CR0 keeps PG set, so setCr0 would take PE = 0 for a #GP: say what native says.
      if (!(v & 1)) throw new UnsupportedError('real mode is not modelled (CR0.PE cleared)');
      const old = this.cr0;
      cpu.setCr0((v | CR0_PG | CR0_WP) | 0); // validates (real mode is not modelled) before the guest's copy changes
      this.cr0 = v;
      if ((old ^ v) & (CR0_PG | CR0_WP | 1)) this.shadow.reset('guest CR0.PG/WP change');
    } else if (cr === 3) {
      this.cr3 = value | 0;
      this.shadow.reset('guest CR3 load');
    } else if (cr === 4) {
      const old = this.cr4;
      cpu.setCr4(value);
      this.cr4 = value | 0;
      if ((old ^ value) & 0x90) this.shadow.reset('guest CR4.PSE/PGE change');
    }
  }

  getState(): VirtualMmuState { return { cr0: this.cr0, cr3: this.cr3, cr4: this.cr4, shadow: this.shadow.getState() }; }
  setState(s: VirtualMmuState): void {
    this.cr0 = s.cr0; this.cr3 = s.cr3; this.cr4 = s.cr4;
    this.shadow.setState(s.shadow);
  }
}
