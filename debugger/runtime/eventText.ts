/*
 * Hypervisor events in words: what the stop description says for a trap, a critical instruction, a
 * hypercall, a VM exit or a guest exception, and the keys an exception filter's condition matches.
 */
import { EXCEPTION_NAMES } from '../../core/cpu/constants';
import type { VmEvent } from '../../core/vmm';
import { hex } from './guestState';

/** What the description needs from the runtime. */
export interface EventPlaces {
  /** `file:line (instruction)` of a linear address. */
  where(lin: number): string;
  /** The INT instruction before a return address (software interrupts), else `lin`. */
  intSite(lin: number, software: boolean): number;
}

export function shortName(file: string): string {
  const i = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'));
  return i >= 0 ? file.slice(i + 1) : file;
}

/**
 * The names an exception filter's condition matches for a hypervisor event (cheap: checked on
 * every event before any words are made); undefined for kinds no filter stops on.
 */
export function eventKeys(ev: VmEvent): Array<string | number | undefined> | undefined {
  switch (ev.kind) {
    case 'trap': return [ev.mnemonic, EXCEPTION_NAMES[ev.vector], ev.vector];
    case 'critical': return [ev.mnemonic, ev.diverged ? 'differs' : undefined];
    case 'hypercall': return [ev.name, ev.number];
    case 'vmexit': return [ev.reason, ev.reasonNumber];
    case 'guest-exception': return [ev.name, ev.vector];
    default: return undefined;
  }
}

/** Words and match keys for a hypervisor event. */
export function describeEvent(ev: VmEvent, rt: EventPlaces): { description: string; details: string; keys: Array<string | number | undefined> } | undefined {
  const at = rt.where(ev.eip);
  switch (ev.kind) {
    case 'trap':
      return { description: `Trap into the VMM: ${EXCEPTION_NAMES[ev.vector] ?? `vector ${ev.vector}`} from ${at}, ${ev.action}`, details: ev.text, keys: eventKeys(ev)! };
    case 'critical':
      return { description: `Critical instruction ${ev.mnemonic} at ${at} ran at CPL ${ev.cpl} (the guest believes CPL ${ev.guestCpl})${ev.diverged ? `: ${ev.differs}` : ''}`, details: ev.text, keys: eventKeys(ev)! };
    case 'hypercall':
      return { description: `Hypercall ${ev.name} (${ev.number}) from ${at}${ev.result !== undefined ? ` → ${ev.result | 0}` : ''}`, details: `${ev.text}\nEBX..EDI: ${ev.args.map((a) => hex(a)).join(' ')}`, keys: eventKeys(ev)! };
    case 'vmexit':
      return {
        description: `VM exit ${ev.reason} (basic reason ${ev.reasonNumber}) at ${at}; qualification ${hex(ev.qualification)}${ev.qualificationText ? ` (${ev.qualificationText})` : ''}; instruction length ${ev.instructionLength}`,
        details: ev.text, keys: eventKeys(ev)!,
      };
    case 'guest-exception': {
      const site = rt.where(rt.intSite(ev.eip, /^int\b/i.test(ev.name) && ev.mnemonic !== ev.name.split(' ')[0]));
      return { description: `Guest exception ${ev.name}${ev.errorCode !== undefined ? ` error code ${hex(ev.errorCode, 4)}` : ''}${ev.address !== undefined ? `, address ${hex(ev.address)}` : ''} at ${site}`, details: ev.text, keys: eventKeys(ev)! };
    }
    default:
      return undefined;
  }
}
