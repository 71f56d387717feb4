/*
 * A small protected-mode test bench for the CPU: code snippets assembled by NASM in one run, a GDT
 * with ring 0/1/3 segments, a TSS, an IDT whose every vector points to its own `hlt` stub (so a
 * test sees which vector arrived, and its stack frame), and optional identity paging.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CS, DS, ES, FS, GS, SS } from '../../core/cpu/constants';
import { Cpu } from '../../core/cpu/cpu';
import { Machine } from '../../core/machine/machine';

export const CODE_BASE = 0x100000;
export const SNIPPET_SPACING = 0x1000;
export const HANDLERS = 0x180000;
export const GDT = 0x1000, IDT = 0x2000, TSS = 0x3000, PAGE_DIR = 0x10000, PAGE_TABLE = 0x11000;
export const STACK0 = 0x8f000, STACK1 = 0x8e000, STACK3 = 0x70000;

export const SEL = {
  code0: 0x08, data0: 0x10, code3: 0x1b, data3: 0x23, tss: 0x28, code1: 0x31, data1: 0x39,
  conforming0: 0x40, notPresent: 0x48, callGate: 0x50, readOnly3: 0x5b, small: 0x60,
};

/** [lo, hi] descriptor words, by selector index. */
const GDT_ENTRIES: Array<[number, number]> = [
  [0, 0],
  [0x0000ffff, 0x00cf9b00], // 0x08 code, DPL 0
  [0x0000ffff, 0x00cf9300], // 0x10 data, DPL 0
  [0x0000ffff, 0x00cffb00], // 0x18 code, DPL 3
  [0x0000ffff, 0x00cff200], // 0x20 data, DPL 3 (accessed bit clear)
  [((TSS & 0xffff) << 16) | 0x67, 0x00008900 | ((TSS >> 16) & 0xff)], // 0x28 32-bit TSS
  [0x0000ffff, 0x00cfbb00], // 0x30 code, DPL 1
  [0x0000ffff, 0x00cfb300], // 0x38 data, DPL 1
  [0x0000ffff, 0x00cf9f00], // 0x40 conforming code, DPL 0
  [0x0000ffff, 0x00cf1300], // 0x48 data, not present
  [0, 0],                   // 0x50 call gate (filled by tests)
  [0x0000ffff, 0x00cff100], // 0x58 read-only data, DPL 3
  [0x00000fff, 0x00409300], // 0x60 data, limit 0xfff (byte granular)
];

/** Assembles named snippets in one NASM run; snippet k starts at CODE_BASE + k * SNIPPET_SPACING. */
export function assembleSnippets(snippets: Record<string, string>): { image: Uint8Array; address: Record<string, number> } {
  const names = Object.keys(snippets);
  const src = ['bits 32', `org 0x${CODE_BASE.toString(16)}`];
  names.forEach((name, k) => {
    src.push(`times ${k * SNIPPET_SPACING} - ($ - $$) db 0x90`, `snippet_${k}:`, snippets[name]);
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-cpu-'));
  try {
    fs.writeFileSync(path.join(dir, 's.asm'), src.join('\n') + '\n');
    execFileSync('nasm', ['-f', 'bin', '-o', 's.bin', 's.asm'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    const image = new Uint8Array(fs.readFileSync(path.join(dir, 's.bin')));
    const address: Record<string, number> = {};
    names.forEach((n, k) => { address[n] = CODE_BASE + k * SNIPPET_SPACING; });
    return { image, address };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface Stop {
  /** Vector whose handler ran (its `hlt`), or undefined when the run ended otherwise. */
  vector?: number;
  outcome: string;
  /** Dwords on the handler's stack from ESP upwards (error code first when the vector has one). */
  stack: number[];
}

export class TestPc {
  readonly m: Machine;
  readonly cpu: Cpu;

  constructor(image: Uint8Array, options: { paging?: boolean } = {}) {
    this.m = new Machine({ memoryMiB: 4, maxInstructions: 100_000 });
    this.m.loadImage(image, { origin: CODE_BASE });
    this.cpu = this.m.cpu;
    // Mask every IRQ: the firmware leaves the PIT running at 18.2 Hz, and a handler that halts with
    // IF = 1 (trap gates) must end the run, not wake on the timer.
    this.m.io.out(0x21, 1, 0xff);
    this.m.io.out(0xa1, 1, 0xff);
    const mem = this.m.mem;
    GDT_ENTRIES.forEach(([lo, hi], k) => { mem.write32(GDT + 8 * k, lo); mem.write32(GDT + 8 * k + 4, hi); });
    this.cpu.gdtrBase = GDT; this.cpu.gdtrLimit = GDT_ENTRIES.length * 8 - 1;
    for (let v = 0; v < 256; v++) {
      this.setGate(v, 0xee, SEL.code0, HANDLERS + v * 8);
      mem.write8(HANDLERS + v * 8, 0xf4); // hlt
    }
    this.cpu.idtrBase = IDT; this.cpu.idtrLimit = 256 * 8 - 1;
    mem.write32(TSS + 4, STACK0); mem.write32(TSS + 8, SEL.data0);
    mem.write32(TSS + 12, STACK1); mem.write32(TSS + 16, SEL.data1);
    mem.write16(TSS + 102, 0x68); // I/O bitmap base beyond the limit: no bitmap
    this.cpu.trSel = SEL.tss; this.cpu.trBase = TSS; this.cpu.trLimit = 0x67; this.cpu.trAttr = 0x8b;
    if (options.paging) this.enablePaging();
    this.enterRing(0);
  }

  /** IDT gate for `vector`: type/attribute byte (e.g. 0x8e int gate DPL 0, 0xef trap gate DPL 3). */
  setGate(vector: number, attr: number, sel: number, offset: number): void {
    this.m.mem.write32(IDT + vector * 8, (sel << 16) | (offset & 0xffff));
    this.m.mem.write32(IDT + vector * 8 + 4, (offset & 0xffff0000) | (attr << 8));
  }
  setDescriptor(sel: number, lo: number, hi: number): void {
    this.m.mem.write32(GDT + (sel & ~7), lo);
    this.m.mem.write32(GDT + (sel & ~7) + 4, hi);
  }
  readDescriptorHi(sel: number): number { return this.m.mem.read32(GDT + (sel & ~7) + 4); }

  /** Identity-maps the first 4 MiB: user, writable 4 KiB pages (tests change single PTEs). */
  enablePaging(): void {
    const mem = this.m.mem;
    mem.write32(PAGE_DIR, PAGE_TABLE | 0x7);
    for (let p = 0; p < 1024; p++) mem.write32(PAGE_TABLE + 4 * p, (p << 12) | 0x7);
    this.cpu.cr3 = PAGE_DIR;
    this.cpu.setCr0(this.cpu.cr0 | 0x80000000);
  }
  pte(lin: number): number { return this.m.mem.read32(PAGE_TABLE + 4 * ((lin >>> 12) & 0x3ff)); }
  setPte(lin: number, v: number): void { this.m.mem.write32(PAGE_TABLE + 4 * ((lin >>> 12) & 0x3ff), v); }
  pde(): number { return this.m.mem.read32(PAGE_DIR); }

  /** Puts the CPU at `cpl` with flat segments of that ring, and EFLAGS `eflags` (default IF = 0, IOPL 0). */
  enterRing(cpl: 0 | 1 | 3, eflags = 0x2): void {
    const code = cpl === 0 ? SEL.code0 : cpl === 1 ? SEL.code1 : SEL.code3;
    const data = cpl === 0 ? SEL.data0 : cpl === 1 ? SEL.data1 : SEL.data3;
    const cpu = this.cpu;
    const load = (seg: number, sel: number) => {
      const hi = this.readDescriptorHi(sel), lo = this.m.mem.read32(GDT + (sel & ~7));
      cpu.setSegmentCache(seg, sel, Cpu.descBase(lo, hi), Cpu.descLimit(lo, hi), Cpu.descAttr(hi));
    };
    load(CS, code);
    for (const s of [SS, DS, ES, FS, GS]) load(s, data);
    cpu.regs[4] = cpl === 0 ? STACK0 : cpl === 1 ? STACK1 : STACK3;
    cpu.setEflags(eflags);
  }

  /** Runs from `eip` until a handler's `hlt` (or another outcome). */
  run(eip: number): Stop {
    // A halted handler ended the previous run: start afresh from `eip`.
    this.m.outcome = undefined;
    this.cpu.halted = false;
    this.cpu.stopRequested = false;
    this.cpu.eip = eip;
    const outcome = this.m.run(10_000);
    const stop: Stop = { outcome, stack: [] };
    const lin = (this.cpu.eip - 1 - HANDLERS) >>> 0;
    if (outcome === 'halt' && lin < 256 * 8 && lin % 8 === 0) {
      stop.vector = lin / 8;
      for (let k = 0; k < 6; k++) stop.stack.push(this.m.mem.read32((this.cpu.regs[4] + 4 * k) >>> 0) >>> 0);
    }
    return stop;
  }
}
