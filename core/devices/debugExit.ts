/*
 * QEMU's isa-debug-exit (iobase 0xF4, iosize 4): a write of v stops the machine with exit status
 * (v << 1) | 1 (hw/misc/debugexit.c). Any access width is taken whole.
 */
import type { PortDevice } from './ioBus';

export class DebugExit implements PortDevice {
  /** (v << 1) | 1 once written; undefined while running. */
  exitCode: number | undefined;
  constructor(private readonly onExit: (code: number) => void) {}
  read(): number { return 0xff; }
  write(_port: number, value: number): void { this.writeWide(_port, 1, value); }
  writeWide(_port: number, _size: 1 | 2 | 4, value: number): void {
    this.exitCode = ((value << 1) | 1) >>> 0;
    this.onExit(this.exitCode);
  }
  getState(): { exitCode?: number } { return { exitCode: this.exitCode }; }
  setState(s: { exitCode?: number }): void { this.exitCode = s.exitCode; }
}
