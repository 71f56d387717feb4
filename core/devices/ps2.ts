/*
 * The 8042 PS/2 controller at 0x60 (data) / 0x64 (status, command) with a keyboard in scan code
 * set 1 (what the controller's translation hands the CPU), as QEMU's hw/input/pckbd.c and ps2.c.
 * Status: bit 0 output buffer full, 1 input buffer full (never: commands complete at once), 2 system
 * flag, 3 last write was a command, 4 keyboard not inhibited. The command byte (0x20 / 0x60) enables
 * IRQ 1 (bit 0) and translation (bit 6). Keyboard commands: reset (FA AA), enable / disable,
 * LEDs, scan code set, identify (FA AB 83), echo; the controller's: self test (55), interface test
 * (00), enable / disable the keyboard, read / write the command byte and the output port, reset.
 *
 * Input: `type(text)` turns characters into set-1 make and break codes (shift around capitals and
 * symbols) queued behind the output buffer; one byte at a time becomes readable at 0x60.
 */
import type { PortDevice } from './ioBus';

const ST_OBF = 0x01, ST_SYS = 0x04, ST_CMD = 0x08, ST_UNLOCKED = 0x10;
const CB_IRQ1 = 0x01, CB_DISABLE_KBD = 0x10;

// Scan code set 1 make codes by character (unshifted, then shifted).
const ROWS: Array<[string, string, number]> = [
  ['1234567890-=', '!@#$%^&*()_+', 0x02], ['qwertyuiop[]', 'QWERTYUIOP{}', 0x10], ["asdfghjkl;'`", 'ASDFGHJKL:"~', 0x1e],
  ['\\zxcvbnm,./', '|ZXCVBNM<>?', 0x2b],
];
const SET1 = new Map<string, { code: number; shift: boolean }>();
for (const [plain, shifted, first] of ROWS) {
  for (let k = 0; k < plain.length; k++) {
    SET1.set(plain[k], { code: first + k, shift: false });
    SET1.set(shifted[k], { code: first + k, shift: true });
  }
}
SET1.set(' ', { code: 0x39, shift: false });
SET1.set('\n', { code: 0x1c, shift: false });
SET1.set('\r', { code: 0x1c, shift: false });
SET1.set('\t', { code: 0x0f, shift: false });
SET1.set('\b', { code: 0x0e, shift: false });
SET1.set('\x1b', { code: 0x01, shift: false });
const LSHIFT = 0x2a;

/** Set-1 make/break bytes that type `ch` (undefined: no key for it). */
export function scanCodes(ch: string): number[] | undefined {
  const k = SET1.get(ch);
  if (!k) return undefined;
  const press = [k.code, k.code | 0x80];
  return k.shift ? [LSHIFT, ...press, LSHIFT | 0x80] : press;
}

export interface Ps2State { commandByte: number; out: number[]; input: number[]; pending: number; lastWasCommand: boolean; outputPort: number; kbdEnabled: boolean; argFor: number; held?: number[]; heldAt?: number; pressOnPoll?: boolean }

/**
 * When keys typed ahead are pressed for a kernel that waits for IRQ 1 rather than polling: a tenth of
 * a second of simulated time, when a kernel has long finished setting up its keyboard (as a user
 * types with QEMU's sendkey once the prompt is there). Pressed at power-on, the first byte's IRQ 1
 * would be taken before the kernel installed its handler, or its edge lost when the kernel
 * reinitialises the PIC, and the kernel would wait for ever.
 */
export const TYPE_AHEAD_SECONDS = 0.1;
/**
 * Between two bytes a user types (a key's make and break code included): 1 ms of simulated time
 * after the guest read the last — about what one byte takes on the PS/2 wire (11 bits at 10–16.7
 * kHz). Handed over back to back, a key's break code reached a kernel's IRQ 1 handler before its
 * main loop had seen the make (pritamzope/OS's terminal clears its "key typed" byte in the
 * handler), and nothing was typed. (QEMU's sendkey holds a key 100 ms.)
 */
export const TYPED_KEY_GAP_SECONDS = 0.001;

export class Ps2Controller implements PortDevice {
  /** After SeaBIOS: IRQ 1 on, system flag, translation on (QEMU: 0x61 once the BIOS is done). */
  commandByte = 0x61;
  /** Bytes the controller has to hand over before host input (command replies). */
  private out: number[] = [];
  /** Host input (scan codes) waiting. */
  private input: number[] = [];
  /** Keys a user types (`typeKeys`, `typeAhead`), pressed one byte at a time, the next at cycle `heldAt`. */
  private held: number[] = [];
  /** When the next typed byte is pressed (Infinity: once the guest has read the last one pressed). */
  private heldAt = Infinity;
  /** Keys typed before the guest ran: the first is pressed as soon as the guest reads the controller. */
  private pressOnPoll = false;
  /** The byte in the output buffer (-1: empty). */
  private pending = -1;
  private lastWasCommand = false;
  private outputPort = 0x03;
  private kbdEnabled = true;
  /** Controller command waiting for its data byte at 0x60 (0: none), or a keyboard command's (0x100 | cmd). */
  private argFor = 0;
  /** Status bit 2: the controller passed its self test (the firmware ran it). */
  private selfTested = true;
  /** The last byte read at 0x60: read again when nothing new came (QEMU's ps2_read_data). */
  private last = 0;

  constructor(
    private readonly setIrq: (level: boolean) => void,
    private readonly reset: () => void = () => {},
    /** The machine's clock (cycles) and its rate, for the pace of typed keys. */
    private readonly now: () => number = () => 0,
    private readonly hz = 100_000_000,
  ) {}

  /** Raw scan codes straight into the controller's input, at once (tests of the controller itself). */
  sendScanCodes(codes: number[]): void { this.input.push(...codes.map((c) => c & 0xff)); this.fill(); }

  /**
   * Keys a user types (the debugger's screen view, `--stdin`): scan codes pressed one byte at a time,
   * the first now, each next TYPED_KEY_GAP_SECONDS after the guest read the last.
   */
  typeKeys(codes: readonly number[]): void { this.hold(codes, this.now(), false); }

  /**
   * Keys typed before the guest runs (`popek run --keys`), as a user types them with QEMU's `sendkey`
   * once the kernel is up: the first when the guest first reads the controller (a polling kernel) or
   * at TYPE_AHEAD_SECONDS (one that waits for IRQ 1), then paced as typeKeys.
   */
  typeAhead(codes: readonly number[]): void { this.hold(codes, TYPE_AHEAD_SECONDS * this.hz, true); }

  private hold(codes: readonly number[], at: number, pressOnPoll: boolean): void {
    if (this.held.length === 0) { this.heldAt = at; this.pressOnPoll = pressOnPoll; }
    this.held.push(...codes.map((c) => c & 0xff));
  }

  /** The cycle at which the next typed byte is pressed (Infinity: none, or the last one not read yet). */
  nextKeyCycle(): number { return this.held.length ? this.heldAt : Infinity; }

  /** Presses the next typed byte if its time has come (the machine calls it with its timers). */
  pressDueKey(): void { if (this.now() >= this.nextKeyCycle()) this.pressKey(); }

  private pressKey(): void {
    const b = this.held.shift();
    if (b === undefined) return;
    this.heldAt = Infinity;
    this.pressOnPoll = false;
    this.input.push(b);
    this.fill();
  }

  /** Whether a pressed byte still waits for the guest to read it. */
  private get keyWaiting(): boolean { return this.input.length > 0 || this.pending >= 0; }

  get pendingInput(): number { return this.held.length + this.input.length + this.out.length + (this.pending >= 0 ? 1 : 0); }

  /** Moves the next byte into the output buffer when it is empty, and sets IRQ 1. */
  private fill(): void {
    if (this.pending < 0) {
      if (this.out.length) this.pending = this.out.shift()!;
      else if (this.input.length && this.kbdEnabled && !(this.commandByte & CB_DISABLE_KBD)) this.pending = this.input.shift()!;
    }
    this.setIrq(this.pending >= 0 && (this.commandByte & CB_IRQ1) !== 0);
  }

  private reply(...bytes: number[]): void { this.out.push(...bytes); this.fill(); }

  read(port: number): number {
    if (this.pressOnPoll && !this.keyWaiting) this.pressKey();
    const v = this.readPort(port);
    if (port === 0x60 && this.held.length && this.heldAt === Infinity && !this.keyWaiting) this.heldAt = this.now() + TYPED_KEY_GAP_SECONDS * this.hz;
    return v;
  }

  private readPort(port: number): number {
    if (port === 0x64) {
      return (this.pending >= 0 ? ST_OBF : 0) | (this.selfTested ? ST_SYS : 0) | (this.lastWasCommand ? ST_CMD : 0) | ST_UNLOCKED;
    }
    if (port !== 0x60) return 0xff;
    const v = this.pending >= 0 ? this.pending : this.last;
    this.last = v;
    this.pending = -1;
    this.setIrq(false);
    this.fill();
    return v;
  }

  write(port: number, v: number): void {
    v &= 0xff;
    if (port === 0x64) { this.lastWasCommand = true; this.command(v); return; }
    if (port !== 0x60) return;
    this.lastWasCommand = false;
    const arg = this.argFor;
    this.argFor = 0;
    if (arg === 0x60) { this.commandByte = v; this.fill(); return; }
    if (arg === 0xd1) { this.outputPort = v; if (!(v & 1)) this.reset(); return; }
    if (arg === 0xd2) { this.reply(v); return; }
    if (arg & 0x100) { this.reply(0xfa); return; }        // the argument of LEDs / scan code set
    this.keyboardCommand(v);
  }

  private command(c: number): void {
    switch (c) {
      case 0x20: this.reply(this.commandByte); break;
      case 0x60: case 0xd1: case 0xd2: this.argFor = c; break;
      case 0xa7: case 0xa8: break;                         // no mouse
      case 0xa9: this.reply(0x00); break;
      case 0xaa: this.selfTested = true; this.reply(0x55); break;
      case 0xab: this.reply(0x00); break;
      case 0xad: this.commandByte |= CB_DISABLE_KBD; break;
      case 0xae: this.commandByte &= ~CB_DISABLE_KBD; this.fill(); break;
      case 0xd0: this.reply(this.outputPort); break;
      case 0xfe: this.reset(); break;
      default: break;
    }
  }

  private keyboardCommand(c: number): void {
    switch (c) {
      case 0xff: this.input = []; this.kbdEnabled = true; this.reply(0xfa, 0xaa); break;
      case 0xf4: this.kbdEnabled = true; this.reply(0xfa); break;
      case 0xf5: this.kbdEnabled = false; this.reply(0xfa); break;
      case 0xf6: this.reply(0xfa); break;
      case 0xed: case 0xf0: case 0xf3: this.argFor = 0x100 | c; this.reply(0xfa); break;
      case 0xf2: this.reply(0xfa, 0xab, this.commandByte & 0x40 ? 0x41 : 0x83); break; // ID 0x83, translated to 0x41
      case 0xee: this.reply(0xee); break;
      default: this.reply(0xfe); break;                    // resend: unknown command
    }
  }

  getState(): Ps2State {
    return { commandByte: this.commandByte, out: [...this.out], input: [...this.input], pending: this.pending, lastWasCommand: this.lastWasCommand, outputPort: this.outputPort, kbdEnabled: this.kbdEnabled, argFor: this.argFor, held: [...this.held], heldAt: this.heldAt, pressOnPoll: this.pressOnPoll };
  }
  setState(s: Ps2State): void {
    this.commandByte = s.commandByte; this.out = [...s.out]; this.input = [...s.input]; this.pending = s.pending;
    this.lastWasCommand = s.lastWasCommand; this.outputPort = s.outputPort; this.kbdEnabled = s.kbdEnabled; this.argFor = s.argFor;
    this.held = [...(s.held ?? [])]; this.heldAt = s.heldAt ?? Infinity; this.pressOnPoll = s.pressOnPoll === true;
  }
}
