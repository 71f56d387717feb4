/*
 * 8254 PIT (ports 0x40–0x43, input clock 1.193182 MHz). Channel 0 raises IRQ 0. Time is simulated:
 * the machine passes the current time in CPU cycles, converted at the modelled CPU clock, so a run
 * is deterministic. Modes 0 (interrupt on terminal count), 2 (rate generator) and 3 (square wave)
 * are modelled for channel 0's interrupt; all channels count, latch and read back.
 * Access modes: latch, lobyte, hibyte, lobyte/hibyte.
 */
import type { PortDevice } from './ioBus';

export const PIT_HZ = 1_193_182;

export interface PitChannelState {
  mode: number; access: number; reload: number; loadTick: number; armed: boolean;
  writeHigh: boolean; readHigh: boolean; latched: number; latchHighPending: boolean; partial: number; bcd: boolean;
}

class Channel {
  mode = 0; access = 3; reload = 0x10000; loadTick = 0; armed = false;
  writeHigh = false; readHigh = false; latched = -1; latchHighPending = false; partial = 0; bcd = false;

  /** Counter value at `tick` (counts down from reload, wrapping in modes 2/3). */
  count(tick: number): number {
    if (!this.armed) return this.reload & 0xffff;
    const elapsed = tick - this.loadTick;
    if (this.mode === 2 || this.mode === 3) {
      const step = this.mode === 3 ? 2 : 1; // mode 3 counts down by two, twice per period
      const c = this.reload - ((elapsed * step) % this.reload);
      return c & 0xffff;
    }
    return (this.reload - elapsed) & 0xffff;
  }

  /** First tick > `after` at which the output makes a rising edge (an IRQ), or Infinity. */
  nextEdge(after: number): number {
    if (!this.armed) return Infinity;
    if (this.mode === 2 || this.mode === 3) {
      const k = Math.floor((after - this.loadTick) / this.reload) + 1;
      return this.loadTick + Math.max(1, k) * this.reload;
    }
    if (this.mode === 0 || this.mode === 4) {
      const t = this.loadTick + this.reload;
      return t > after ? t : Infinity;
    }
    return Infinity;
  }
}

export class Pit8254 {
  readonly channels = [new Channel(), new Channel(), new Channel()];
  /** Last tick up to which IRQ 0 edges were raised. */
  private lastTick = 0;
  /** IRQ 0 edges raised (for reports and tests). */
  irqCount = 0;

  constructor(
    /** Modelled CPU clock: cycles per second. */
    readonly cpuHz: number,
    /** Current time in CPU cycles. */
    private readonly now: () => number,
    private readonly raiseIrq0: () => void,
  ) {}

  private tick(): number { return Math.floor(this.now() * PIT_HZ / this.cpuHz); }

  /** Raises IRQ 0 if channel 0's output had a rising edge since the last call. */
  update(): void {
    const t = this.tick();
    const edge = this.channels[0].nextEdge(this.lastTick);
    if (edge <= t) {
      this.irqCount++;
      this.raiseIrq0(); // missed periods coalesce into one request, as an edge-latched IRR does
    }
    this.lastTick = t;
  }

  /** CPU cycle at which the next IRQ 0 edge happens (Infinity when none is scheduled). */
  nextEventCycle(): number {
    const edge = this.channels[0].nextEdge(this.lastTick);
    if (edge === Infinity) return Infinity;
    return Math.ceil(edge * this.cpuHz / PIT_HZ);
  }

  /** Programs a channel as a control word + lobyte/hibyte count would (firmware set-up, tests). */
  program(channel: number, mode: number, count: number): void {
    this.writePort(0x43, (channel << 6) | 0x30 | (mode << 1));
    this.writePort(0x40 + channel, count & 0xff);
    this.writePort(0x40 + channel, (count >> 8) & 0xff);
  }

  readonly device: PortDevice = {
    read: (port) => this.readPort(port),
    write: (port, v) => this.writePort(port, v),
  };

  private readPort(port: number): number {
    if (port === 0x43) return 0xff;
    const c = this.channels[port - 0x40];
    let value: number;
    if (c.latched >= 0) {
      value = c.latched;
      if (c.access === 3) {
        if (!c.latchHighPending) { c.latchHighPending = true; return value & 0xff; }
        c.latchHighPending = false;
      }
      c.latched = -1;
      return c.access === 2 ? (value >> 8) & 0xff : c.access === 3 ? (value >> 8) & 0xff : value & 0xff;
    }
    value = c.count(this.tick());
    if (c.access === 1) return value & 0xff;
    if (c.access === 2) return (value >> 8) & 0xff;
    c.readHigh = !c.readHigh;
    return c.readHigh ? value & 0xff : (value >> 8) & 0xff;
  }

  private writePort(port: number, v: number): void {
    this.update();
    if (port === 0x43) {
      const sel = v >> 6;
      if (sel === 3) return; // read-back command: not modelled (8254-only)
      const c = this.channels[sel];
      const access = (v >> 4) & 3;
      if (access === 0) { // counter latch
        if (c.latched < 0) { c.latched = c.count(this.tick()); c.latchHighPending = false; }
        return;
      }
      c.access = access;
      c.mode = (v >> 1) & 7;
      if (c.mode > 5) c.mode -= 4; // modes 6 and 7 are 2 and 3
      c.bcd = (v & 1) !== 0;
      c.writeHigh = false; c.readHigh = false;
      c.armed = false;
      return;
    }
    const c = this.channels[port - 0x40];
    if (c.access === 1) this.load(c, v);
    else if (c.access === 2) this.load(c, v << 8);
    else if (!c.writeHigh) { c.partial = v; c.writeHigh = true; }
    else { c.writeHigh = false; this.load(c, c.partial | (v << 8)); }
  }

  private load(c: Channel, value: number): void {
    c.reload = value === 0 ? 0x10000 : value;
    if (c.mode === 3 && c.reload === 1) c.reload = 2;
    c.loadTick = this.tick();
    c.armed = true;
    if (c === this.channels[0]) this.lastTick = c.loadTick;
  }

  getState(): { channels: PitChannelState[]; lastTick: number; irqCount: number } {
    return { channels: this.channels.map((c) => ({ ...c })), lastTick: this.lastTick, irqCount: this.irqCount };
  }
  setState(s: { channels: PitChannelState[]; lastTick: number; irqCount: number }): void {
    s.channels.forEach((c, k) => Object.assign(this.channels[k], c));
    this.lastTick = s.lastTick;
    this.irqCount = s.irqCount;
  }
}
