/*
 * Deliveries the hypervisor does not handle (all of them natively; under VT-x those the exception
 * bitmap lets through) reach the guest's IDT without an event: the debugger sees them through a
 * monitor wrapped around the technique's own, which it removes again when no longer asked for.
 */
import type { Cpu } from '../../core/cpu/cpu';
import type { DeliveryEvent, Monitor } from '../../core/cpu/monitor';

export class DeliveryWatch {
  private installed: { wrapper: Monitor; inner: Monitor | undefined } | undefined;

  constructor(private readonly cpu: Cpu, private readonly onDelivery: (ev: DeliveryEvent) => void) {}

  /** Watches (`on`) or stops watching. */
  set(on: boolean): void {
    if (on && !this.installed) this.install();
    else if (!on && this.installed) this.remove();
  }

  private install(): void {
    const inner = this.cpu.monitor;
    const wrapper: Monitor = {
      get interceptClasses() { return inner?.interceptClasses; },
      onEvent: (cpu, ev) => {
        const handled = inner?.onEvent?.(cpu, ev) ?? false;
        if (!handled) this.onDelivery(ev);
        return handled;
      },
    };
    if (inner?.onInstruction) wrapper.onInstruction = (cpu, insn) => inner.onInstruction!(cpu, insn);
    if (inner?.onCritical) wrapper.onCritical = (cpu, ev) => inner.onCritical!(cpu, ev);
    this.cpu.setMonitor(wrapper);
    this.installed = { wrapper, inner };
  }

  remove(): void {
    if (this.installed && this.cpu.monitor === this.installed.wrapper) this.cpu.setMonitor(this.installed.inner);
    this.installed = undefined;
  }
}
