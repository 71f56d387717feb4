/*
 * The 32-bit x86 CPU (Intel SDM Vol. 3): registers, lazy flags, segmentation with its checks, paging
 * with a TLB, exception and interrupt delivery, and the run loop over cached decoded blocks.
 * Instruction semantics live in ops/*, decoding in decoder.ts; system-level transfers (far
 * call/jmp/ret, iret, gates) in transfers.ts.
 */
import {
  ARITH_FLAGS, AC, AF, CF, DB, CR0_PE, CR0_PG, CR0_WP, CR4_PGE, CR4_PSE, CS, DF_VEC, DS, EFLAGS_FIXED1, ES, FS,
  GP, GS, ID, IF, IOPL, IOPL_SHIFT, MSR_APIC_BASE, MSR_BIOS_SIGN_ID, MSR_FEATURE_CONTROL, MSR_MISC_ENABLE,
  MSR_MTRRCAP, MSR_MTRR_DEF_TYPE, MSR_PAT, MSR_PLATFORM_ID, MSR_SYSENTER_CS, MSR_SYSENTER_EIP,
  MSR_SYSENTER_ESP, MSR_TSC, NP, NT, OF, PF, PF_VEC, PFEC_P, PFEC_RSVD, PFEC_U, PFEC_W, PTE_A, PTE_D, PTE_G, PTE_P,
  PTE_PS, PTE_U, PTE_W, RF, SF, SS, SS_VEC, TF, TS, VIF, VIP, VM, ZF, EXCEPTION_NAMES, hasErrorCode,
} from './constants';
import { CpuFault, TripleFault } from './fault';
import type { Insn } from './insn';
import type { DeliveryEvent, EventKind, Monitor } from './monitor';
import { PAGE_SHIFT, PhysicalMemory } from './physicalMemory';
import { Decoder } from './decoder';
import { deliverThroughIdt } from './transfers';
import { COMPILE_THRESHOLD, compileBlock, type CompiledBlock } from './blockCompiler';
import { TLB_FAST_SUP_WRITE, TLB_FAST_USER_WRITE, collectRegion, compileRegion, type RegionCode, type RegionFn } from './regionCompiler';
import { compileWasmRegion } from './wasm/wasmRegion';

// Lazy flag operations (which computation produced ccRes from ccA, ccB).
export const CC_EAGER = 0, CC_ADD = 1, CC_ADC = 2, CC_SUB = 3, CC_SBB = 4, CC_LOGIC = 5, CC_INC = 6, CC_DEC = 7;
/** 32-bit shifts by an immediate count 1..31 (ccA = operand, ccB = count); only compiled blocks set them. */
export const CC_SHL32 = 8, CC_SHR32 = 9, CC_SAR32 = 10;
export const SIZE_MASK = [0xff, 0xffff, 0xffffffff | 0] as const;
export const SIZE_SIGN = [0x80, 0x8000, 0x80000000 | 0] as const;
/** Parity flag of a byte (PF set when the number of one bits is even). */
export const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let b = i, n = 0;
  while (b) { n += b & 1; b >>= 1; }
  PARITY[i] = n & 1 ? 0 : PF;
}

// Segment attribute word: descriptor bits 40..55 (access byte in 0..7, flags G, D/B, L, AVL in 12..15).
export const ATTR_TYPE = 0x0f, ATTR_S = 0x10, ATTR_DPL_SHIFT = 5, ATTR_P = 0x80, ATTR_DB = 0x4000, ATTR_G = 0x8000;
// segAcc bits: what an access through this segment may do.
const ACC_READ = 1, ACC_WRITE = 2, ACC_EXPAND_DOWN = 4;

// TLB entry bits (the physical page base sits above bit 12).
const TLB_VALID = 1, TLB_SUP_WRITE = 2, TLB_USER_READ = 4, TLB_USER_WRITE = 8, TLB_GLOBAL = 16;
/**
 * The entry of a linear page whose translation is not cached (it leads outside RAM: a device's
 * registers): no permission bit, so every access still translates, but not 0, so compiled regions
 * take their inline slow path there instead of leaving as on a miss (a device polled in a loop).
 */
const TLB_UNCACHED = 128;

/** Thrown for architecture this CPU does not model (task switches, virtual-8086 mode, real mode). */
export class UnsupportedError extends Error {}

/**
 * Events at one guest instruction — taken over by a monitor (`onEvent` answering true) or delivered by
 * the CPU through the guest's IDT as an exception — without the guest retiring an instruction in
 * between. On bare metal an instruction leads to at most three nested deliveries (#DF), and a REP
 * chunk to a few dozen hidden faults. Past this many the run ends with outcome 'error', because both
 * ways of getting here would spin the host outside the instruction budget:
 * - a guest whose exception handler faults at its first instruction (a store through a data segment
 *   register that now holds a code segment, a handler on an unmapped page) takes the same exception
 *   again at once, 12–16 bytes lower on its stack each time — forever on a real CPU (QEMU's TCG does
 *   not check segment types, so such a kernel may run there; the SDM faults). A public teaching
 *   kernel does this. Reported as a fault loop, under every technique (a monitor reflecting the
 *   guest's faults to its handlers is doing its job).
 * - a monitor that keeps taking events without the guest's handlers seeing any is a VMM bug (a fault
 *   it "fixes" without fixing); the engine fuzz found such loops under trap-and-emulate and PV.
 */
export const MAX_EVENTS_WITHOUT_RETIREMENT = 10_000;

/** Thrown when a monitor livelocks (see MAX_EVENTS_WITHOUT_RETIREMENT); the machine ends the run with outcome 'error'. */
export class MonitorLivelock extends Error {}

/** Thrown for a guest fault loop (see MAX_EVENTS_WITHOUT_RETIREMENT); the machine ends the run with outcome 'error'. */
export class GuestFaultLoop extends Error {}

/** Interrupt controller as the CPU sees it (the 8259A pair). */
export interface InterruptController {
  /** True when an unmasked interrupt request is pending. */
  hasInterrupt(): boolean;
  /** INTA cycle: returns the vector and moves the request to in-service. */
  acknowledge(): number;
}

export interface IoBus {
  in(port: number, size: 1 | 2 | 4): number;
  out(port: number, size: 1 | 2 | 4, value: number): void;
}

/** Why `run` returned ('requested': see `Cpu.requestStop`). */
export type CpuStop = 'budget' | 'halt' | 'stop' | 'breakpoint' | 'requested';

/** What a binary translator keeps of a region's entry block (see Cpu.regionFor). */
export interface RegionEntry {
  readonly valid: boolean;
  readonly region: RegionFn | undefined | null;
  readonly regionAccept: ((i: Insn) => boolean) | undefined;
  readonly compiledEip: number;
}

/**
 * A compiled region and what it was compiled for, shared by every block entered into it (the one it
 * was collected from and those that joined it: see `Cpu.joinRegion`).
 */
interface RegionShared {
  run: RegionCode;
  /** Block index by EIP, the blocks (index order) and whether each may be an entry. */
  index: Map<number, number>;
  members: Block[];
  enterable: boolean[];
  /** What the code assumes: the CS base its EIPs are relative to, flat segments, CPL 3, the instruction filter. */
  csBase: number;
  flat: number;
  user: boolean;
  accept: ((i: Insn) => boolean) | undefined;
  /** Page offsets [start, end) of its blocks, in pairs (Block.regionSpans). */
  spans: number[];
}

interface Block {
  insns: Insn[];
  key: number;
  /** False once its bytes were written (self-modifying code) or the cache was flushed. */
  valid: boolean;
  /** One-entry successor cache (block chaining): the block at linear `chainLin`, valid for `chainEpoch`. */
  chain: Block | undefined;
  chainLin: number;
  chainEpoch: number;
  /** Second successor (a conditional branch has two). */
  chain2: Block | undefined;
  chainLin2: number;
  chainEpoch2: number;
  /** Times run through the interpreter (compiled at COMPILE_THRESHOLD). */
  runs: number;
  /** The block as one JS function (null: not worth compiling), valid when entered at `compiledEip`. */
  compiled: CompiledBlock | undefined | null;
  compiledEip: number;
  /** Physical byte range [start, end) the block was decoded from (one page). */
  start: number;
  end: number;
  /**
   * Breakpoints in the block as last looked up (for `bpGen`, entered at linear `bpLin`): index of
   * the first instruction at a breakpoint address, and of the first one after the entry (-1: none).
   */
  bpGen: number;
  bpLin: number;
  bpAt: number;
  bpAfter: number;
  /**
   * The region compiled from this block (regionCompiler.ts: it and the blocks it reaches in its
   * linear page, one function), valid when entered at `compiledEip`; null: not worth it.
   */
  region: RegionFn | undefined | null;
  /** Entry blocks whose region includes this block (their region goes when this block does). */
  inRegions: Block[] | undefined;
  /** The compiled region `region` enters (set with it). */
  regionShared: RegionShared | undefined;
  /** The instruction filter the region was compiled with (regionFor), undefined: the CPU's own. */
  regionAccept: ((i: Insn) => boolean) | undefined;
  /** Regions compiled from this entry so far (self-modifying code recompiles a few times, then stops). */
  regionTries: number;
  /** For breakpoint generation `regionBpGen`: no breakpoint in the region's blocks. */
  regionBpGen: number;
  regionBpFree: boolean;
  /**
   * Page offsets [start, end) of the region's blocks, in pairs: a breakpoint elsewhere in the page
   * (code not yet run that the debugger's coverage probes, say) does not keep the region from running.
   */
  regionSpans: number[] | undefined;
}

/** Whether page offset `off` lies in one of the [start, end) pairs of `spans`. */
function inSpans(spans: number[], off: number): boolean {
  for (let k = 0; k < spans.length; k += 2) if (off >= spans[k] && off < spans[k + 1]) return true;
  return false;
}

export const CPU_STATE_VERSION = 1;

/** Decoded instructions the block cache holds before it is emptied (≈ 100 MiB of decoded and compiled code). */
export const CODE_CACHE_INSNS = 1 << 18;

export class Cpu {
  // ---- architectural state ----
  readonly regs = new Int32Array(8);
  eip = 0;
  /** EFLAGS; the arithmetic bits are valid only when ccOp === CC_EAGER. */
  flags = EFLAGS_FIXED1;
  ccOp = CC_EAGER;
  ccRes = 0;
  ccA = 0;
  ccB = 0;
  /** 0: byte, 1: word, 2: dword. */
  ccSize = 2;
  /** Carry in (ADC/SBB) or the preserved CF (INC/DEC). */
  ccCin = 0;

  readonly segSel = new Uint16Array(6);
  readonly segBase = new Int32Array(6);
  readonly segLimit = new Float64Array(6);
  readonly segAttr = new Int32Array(6);
  /** Derived from segAttr: ACC_* bits (0 for a null or unusable segment). */
  readonly segAcc = new Uint8Array(6);
  /**
   * Bit s set when segment s is flat: base 0, limit 4 GiB, readable and writable data, expand-up,
   * 32-bit (B set), so linear = offset with no check left: compiled regions' memory fast path.
   */
  flatSegs = 0;
  cpl = 0;

  gdtrBase = 0; gdtrLimit = 0xffff;
  idtrBase = 0; idtrLimit = 0xffff;
  ldtrSel = 0; ldtrBase = 0; ldtrLimit = 0; ldtrAttr = 0;
  trSel = 0; trBase = 0; trLimit = 0; trAttr = 0;

  cr0 = CR0_PE | 0x10;
  cr2 = 0;
  cr3 = 0;
  cr4 = 0;
  readonly dr = new Int32Array(8);
  readonly msr = { sysenterCs: 0, sysenterEsp: 0, sysenterEip: 0, tscOffset: 0, apicBase: 0xfee00900, pat: 0x0007040600070406n, mtrrDefType: 0n, miscEnable: 1 };

  // ---- execution state ----
  /** EIP of the instruction after the one executing (control transfers overwrite it). */
  nextEip = 0;
  /** Retired instructions. */
  icount = 0;
  /**
   * Where a REP string instruction is in its chunk (ops/string.ts): the iterations done since it last
   * retired, valid while EIP and the instruction count are those below. A fault a monitor takes
   * part way (a shadow-page fill, the #GP of every OUTS under ring compression) restarts the
   * instruction; counting its chunk again from zero would never retire it, and the guest would
   * run outside its instruction budget (engine fuzz, seed 22 image 1589).
   */
  repChunkDone = 0;
  repChunkEip = 0;
  repChunkIcount = -1;
  /** Cycles spent halted (time = icount + idleCycles). */
  idleCycles = 0;
  halted = false;
  /** Instruction count until which maskable interrupts are inhibited (after STI, MOV SS, POP SS). */
  irqShadowUntil = -1;
  /** Set by an instruction or device to leave the current block after this instruction. */
  breakBlock = false;
  /** Something may have made an interrupt deliverable (IF set, PIC change, injection): check at the next boundary. */
  irqCheck = false;
  /** Run one instruction at a time (interrupt shadow pending, breakpoints). */
  private singleStep = false;
  /** Bumped whenever linear→physical or CS changes, so chained blocks are looked up again. */
  private codeEpoch = 0;
  /** Set by a device (isa-debug-exit) to make `run` return 'stop'. */
  stopRequested = false;
  /** A stop asked for with `requestStop`, not yet honoured: its reason. */
  private stopRequest: string | undefined;
  /** The reason given to `requestStop` for the last 'requested' return of a run. */
  stopReason: string | undefined;
  /** Vector of the event being delivered (for #DF / triple-fault classification), -1 none. */
  private delivering = -1;
  /**
   * Livelock watchdog (`stalled`): the instruction count at the last event a monitor took or the CPU
   * delivered as an exception, the events since at that count, and how many went to the guest's IDT.
   */
  private stallIcount = -1;
  private stallEvents = 0;
  private stallFaults = 0;
  /** Exception injected by a monitor, delivered at the next boundary. */
  private injected: CpuFault | undefined;
  /** External interrupts injected by a monitor (queued ahead of the PIC). */
  readonly injectedIrqs: number[] = [];
  /**
   * Set by a monitor that virtualizes IF while the guest's own IF is 0 (trap-and-emulate): the PIC's
   * requests are then not acknowledged, though the real IF is 1. Natively a request waits in the
   * PIC's IRR until IF = 1, so a guest that masks the line or reinitialises the PIC meanwhile never
   * gets it; taken from the PIC and held by the monitor instead, it would come anyway.
   */
  picHeld = false;

  // ---- connections ----
  readonly mem: PhysicalMemory;
  io: IoBus = { in: () => 0xffffffff, out: () => {} };
  pic: InterruptController | undefined;
  monitor: Monitor | undefined;
  /**
   * Linear addresses (as signed 32-bit numbers) where `run` stops before executing (debugger);
   * empty: no check. Checked per block (blocks without one run compiled and chained as without
   * breakpoints); the set is read again at each `run`, so change it between runs. Stops asked for
   * by event handlers are `requestStop`'s.
   */
  readonly breakpoints = new Set<number>();
  /** Breakpoint look-ups cached in blocks are valid for this generation (bumped by each `run`). */
  private bpGen = 0;
  /**
   * Resume point (EFLAGS.RF for the debugger): the instruction at linear `resumeLin` is not checked
   * against the breakpoints while the instruction count is `resumeIcount` (until it retires).
   */
  private resumeIcount = -1;
  private resumeLin = 0;

  // ---- caches ----
  /**
   * Per linear page: the physical page base | TLB_* permission bits, 0 when not cached. With paging
   * off (and no second level) it caches identity entries, so compiled regions use one fast path.
   */
  readonly tlb: Int32Array;
  private readonly tlbUsed: number[] = [];
  private readonly blocks = new Map<number, Block>();
  private readonly pageBlocks = new Map<number, Block[]>();
  /** Instructions decoded into `blocks` since the last flush (the cache's capacity check). */
  private cachedInsns = 0;
  readonly decoder = new Decoder(this);
  /** Compile hot blocks to JS functions (off: interpret only, e.g. to compare the two). */
  jit = true;
  /** Interpreted runs of a block before it is compiled. */
  jitThreshold = COMPILE_THRESHOLD;
  /** Counts for the run report and the benches. */
  readonly stats = { blocksDecoded: 0, blocksCompiled: 0, regionsCompiled: 0, regionsJoined: 0, regionsInWasm: 0, regionsMovedToJs: 0, codeInvalidations: 0, tlbFlushes: 0, regionMissExits: 0, regionSlowExits: 0, codeCacheFull: 0 };
  /** Compile hot regions (several blocks, one function) on top of single blocks (off: blocks only). */
  regions = true;
  /** Compile regions to WebAssembly where they can (core/cpu/wasm; off: JS regions only). */
  wasmRegions = true;

  constructor(mem: PhysicalMemory) {
    this.mem = mem;
    // In the memory compiled WebAssembly regions share (their inline TLB look-up reads it).
    this.tlb = mem.wasm ? new Int32Array(mem.wasm.memory.buffer, mem.wasm.tlbOffset, 1 << 20) : new Int32Array(1 << 20);
    mem.onCodeWrite = (addr, size) => this.invalidateCode(addr, size);
    mem.onPageFlagged = (page) => this.dropFastWrites(page);
    mem.onAllPagesFlagged = () => this.dropFastWrites(-1);
    mem.onPageUnflagged = (page) => this.allowFastWrites(page);
  }

  // =============================================================================================
  // Flags
  // =============================================================================================

  getCF(): number {
    const a = this.ccA, r = this.ccRes;
    switch (this.ccOp) {
      case CC_EAGER: return this.flags & CF;
      case CC_ADD: { const m = SIZE_MASK[this.ccSize]; return ((r & m) >>> 0) < ((a & m) >>> 0) ? 1 : 0; }
      case CC_ADC: { const m = SIZE_MASK[this.ccSize]; const rr = (r & m) >>> 0, aa = (a & m) >>> 0; return (this.ccCin ? rr <= aa : rr < aa) ? 1 : 0; }
      case CC_SUB: { const m = SIZE_MASK[this.ccSize]; return ((a & m) >>> 0) < ((this.ccB & m) >>> 0) ? 1 : 0; }
      case CC_SBB: { const m = SIZE_MASK[this.ccSize]; const aa = (a & m) >>> 0, bb = (this.ccB & m) >>> 0; return (this.ccCin ? aa <= bb : aa < bb) ? 1 : 0; }
      case CC_LOGIC: return 0;
      case CC_SHL32: return (a >>> (32 - this.ccB)) & 1;
      case CC_SHR32: return (a >>> (this.ccB - 1)) & 1;
      case CC_SAR32: return (a >> (this.ccB - 1)) & 1;
      default: return this.ccCin;
    }
  }
  getZF(): boolean {
    return this.ccOp === CC_EAGER ? (this.flags & ZF) !== 0 : (this.ccRes & SIZE_MASK[this.ccSize]) === 0;
  }
  getSF(): boolean {
    return this.ccOp === CC_EAGER ? (this.flags & SF) !== 0 : (this.ccRes & SIZE_SIGN[this.ccSize]) !== 0;
  }
  getPF(): boolean {
    return this.ccOp === CC_EAGER ? (this.flags & PF) !== 0 : PARITY[this.ccRes & 0xff] !== 0;
  }
  getOF(): boolean {
    const s = SIZE_SIGN[this.ccSize], a = this.ccA, b = this.ccB, r = this.ccRes;
    switch (this.ccOp) {
      case CC_EAGER: return (this.flags & OF) !== 0;
      case CC_ADD: case CC_ADC: case CC_INC: return ((a ^ r) & (b ^ r) & s) !== 0;
      case CC_SUB: case CC_SBB: case CC_DEC: return ((a ^ b) & (a ^ r) & s) !== 0;
      // SDM: OF is defined for a count of 1 (and computed the same way for other counts).
      case CC_SHL32: return ((r >>> 31) ^ this.getCF()) !== 0;
      case CC_SHR32: return a < 0;
      default: return false;
    }
  }
  getAF(): boolean {
    if (this.ccOp === CC_EAGER) return (this.flags & AF) !== 0;
    if (this.ccOp === CC_LOGIC || this.ccOp >= CC_SHL32) return false; // AF is undefined after shifts: 0
    return ((this.ccA ^ this.ccB ^ this.ccRes) & 0x10) !== 0;
  }
  /** The six arithmetic flags as EFLAGS bits. */
  arithFlags(): number {
    if (this.ccOp === CC_EAGER) return this.flags & ARITH_FLAGS;
    return this.getCF() | (this.getPF() ? PF : 0) | (this.getAF() ? AF : 0) | (this.getZF() ? ZF : 0) |
      (this.getSF() ? SF : 0) | (this.getOF() ? OF : 0);
  }
  /** Folds the lazy flags into `flags` (before an instruction that changes only some of them). */
  materializeFlags(): void {
    if (this.ccOp !== CC_EAGER) {
      this.flags = (this.flags & ~ARITH_FLAGS) | this.arithFlags();
      this.ccOp = CC_EAGER;
    }
  }
  getEflags(): number {
    return ((this.flags & ~ARITH_FLAGS) | this.arithFlags() | EFLAGS_FIXED1) >>> 0;
  }
  /** Writes EFLAGS as is (no privilege rules: POPF/IRET apply theirs before calling this). */
  setEflags(v: number): void {
    const oldIf = this.flags & IF;
    this.flags = (v & (CF | PF | AF | ZF | SF | TF | IF | 0x400 | OF | IOPL | NT | RF | VM | AC | VIF | VIP | ID)) | EFLAGS_FIXED1;
    this.ccOp = CC_EAGER;
    if ((this.flags & IF) !== oldIf) { this.breakBlock = true; this.irqCheck = true; }
    if (this.flags & VM) throw new UnsupportedError('virtual-8086 mode is not modelled');
  }
  setFlag(bit: number, on: boolean): void {
    if (bit & ARITH_FLAGS) this.materializeFlags();
    this.flags = on ? this.flags | bit : this.flags & ~bit;
    if (bit === IF) { this.irqCheck = true; this.breakBlock = true; }
  }
  /** Tells the CPU an interrupt may have become deliverable (PIC, devices). */
  requestInterruptCheck(): void { this.irqCheck = true; this.breakBlock = true; }
  get iopl(): number { return (this.flags >> IOPL_SHIFT) & 3; }

  /** Jcc/SETcc/CMOVcc condition `cc` (0..15). */
  cond(cc: number): boolean {
    if (this.ccOp === CC_SUB && this.ccSize === 2) {
      // Fast path: the flags of a 32-bit CMP/SUB, compared directly.
      const a = this.ccA, b = this.ccB;
      let r: boolean;
      switch (cc >> 1) {
        case 1: r = (a >>> 0) < (b >>> 0); break;
        case 2: r = a === b; break;
        case 3: r = (a >>> 0) <= (b >>> 0); break;
        case 6: r = a < b; break;
        case 7: r = a <= b; break;
        default: return this.condSlow(cc);
      }
      return (cc & 1) ? !r : r;
    }
    return this.condSlow(cc);
  }
  private condSlow(cc: number): boolean {
    let r: boolean;
    switch (cc >> 1) {
      case 0: r = this.getOF(); break;
      case 1: r = this.getCF() !== 0; break;
      case 2: r = this.getZF(); break;
      case 3: r = this.getCF() !== 0 || this.getZF(); break;
      case 4: r = this.getSF(); break;
      case 5: r = this.getPF(); break;
      case 6: r = this.getSF() !== this.getOF(); break;
      default: r = this.getZF() || this.getSF() !== this.getOF(); break;
    }
    return (cc & 1) ? !r : r;
  }

  // =============================================================================================
  // Registers by size
  // =============================================================================================

  getReg8(r: number): number {
    return r < 4 ? this.regs[r] & 0xff : (this.regs[r - 4] >> 8) & 0xff;
  }
  setReg8(r: number, v: number): void {
    if (r < 4) this.regs[r] = (this.regs[r] & ~0xff) | (v & 0xff);
    else this.regs[r - 4] = (this.regs[r - 4] & ~0xff00) | ((v & 0xff) << 8);
  }
  getReg(r: number, size: number): number {
    return size === 4 ? this.regs[r] : size === 2 ? this.regs[r] & 0xffff : this.getReg8(r);
  }
  setReg(r: number, size: number, v: number): void {
    if (size === 4) this.regs[r] = v;
    else if (size === 2) this.regs[r] = (this.regs[r] & ~0xffff) | (v & 0xffff);
    else this.setReg8(r, v);
  }

  // =============================================================================================
  // Segmentation
  // =============================================================================================

  /** Fault for a segment-limit or access violation through segment `seg` (#SS for SS, else #GP(0)). */
  segFault(seg: number, code = 0): CpuFault {
    return new CpuFault(seg === SS ? SS_VEC : GP, code);
  }

  /** Linear address of `off` in segment `seg` for an access of `size` bytes, with the limit checks. */
  linear(seg: number, off: number, size: number, write: boolean): number {
    const acc = this.segAcc[seg];
    if ((acc & (write ? ACC_WRITE : ACC_READ)) === 0) throw this.segFault(seg);
    const o = off >>> 0, end = o + size - 1;
    if (acc & ACC_EXPAND_DOWN) {
      const upper = this.segAttr[seg] & ATTR_DB ? 0xffffffff : 0xffff;
      if (o <= this.segLimit[seg] || end > upper) throw this.segFault(seg);
    } else if (end > this.segLimit[seg]) throw this.segFault(seg);
    return (this.segBase[seg] + off) | 0;
  }

  /** Recomputes segAcc[seg] from the attribute word (after any segment-register load). */
  updateSegAccess(seg: number): void {
    const a = this.segAttr[seg];
    let acc = 0;
    if ((a & ATTR_P) && (a & ATTR_S)) {
      const type = a & ATTR_TYPE;
      if (type & 8) acc = (type & 2) ? ACC_READ : 0; // code: readable or execute-only
      else acc = ACC_READ | ((type & 2) ? ACC_WRITE : 0) | ((type & 4) ? ACC_EXPAND_DOWN : 0);
    }
    this.segAcc[seg] = acc;
    const flat = acc === (ACC_READ | ACC_WRITE) && this.segBase[seg] === 0 && this.segLimit[seg] === 0xffffffff && (a & ATTR_DB) !== 0;
    this.flatSegs = flat ? this.flatSegs | (1 << seg) : this.flatSegs & ~(1 << seg);
    if (seg === CS) this.codeEpoch++;
  }

  /** Loads a segment register's hidden part directly (loader, monitor, snapshot); no checks. */
  setSegmentCache(seg: number, sel: number, base: number, limit: number, attr: number): void {
    this.segSel[seg] = sel;
    this.segBase[seg] = base | 0;
    this.segLimit[seg] = limit >>> 0;
    this.segAttr[seg] = attr;
    this.updateSegAccess(seg);
    if (seg === CS) this.cpl = sel & 3;
  }

  /** Reads the 8-byte descriptor of `sel` (GDT or LDT); returns [lo, hi] or throws #GP(sel). */
  readDescriptor(sel: number, fault = GP): [number, number] {
    const index = sel & 0xfff8;
    let base: number, limit: number;
    if (sel & 4) {
      if ((this.ldtrAttr & ATTR_P) === 0) throw new CpuFault(fault, sel & 0xfffc);
      base = this.ldtrBase; limit = this.ldtrLimit;
    } else { base = this.gdtrBase; limit = this.gdtrLimit; }
    if (index + 7 > limit) throw new CpuFault(fault, sel & 0xfffc);
    const lin = (base + index) | 0;
    return [this.readSys32(lin), this.readSys32((lin + 4) | 0)];
  }
  /** Sets the accessed bit of a code/data descriptor in memory (SDM: on every load). */
  setDescriptorAccessed(sel: number, hi: number): void {
    if (hi & 0x100) return;
    const lin = ((sel & 4 ? this.ldtrBase : this.gdtrBase) + (sel & 0xfff8) + 4) | 0;
    this.writeSys32(lin, hi | 0x100);
  }

  static descBase(lo: number, hi: number): number { return ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) | 0; }
  static descLimit(lo: number, hi: number): number {
    const raw = (lo & 0xffff) | (hi & 0xf0000);
    return (hi & 0x800000) ? ((raw << 12) | 0xfff) >>> 0 : raw;
  }
  static descAttr(hi: number): number { return (hi >> 8) & 0xf0ff; }

  /**
   * MOV/POP Sreg, LDS… for DS, ES, FS, GS, SS with every check of the SDM pseudocode
   * (CS is loaded only by far transfers; see transfers.ts).
   */
  loadSegment(seg: number, sel: number): void {
    sel &= 0xffff;
    if (!(this.cr0 & CR0_PE)) throw new UnsupportedError('real mode is not modelled');
    if (seg === CS) throw new CpuFault(6);
    if ((sel & 0xfffc) === 0) {
      if (seg === SS) throw new CpuFault(GP, 0);
      // A null selector loads an unusable segment; using it raises #GP(0).
      this.setSegmentCache(seg, sel, 0, 0, 0);
      return;
    }
    const [lo, hi] = this.readDescriptor(sel);
    const attr = Cpu.descAttr(hi);
    const dpl = (attr >> ATTR_DPL_SHIFT) & 3, rpl = sel & 3, type = attr & ATTR_TYPE;
    if (seg === SS) {
      if (rpl !== this.cpl || !(attr & ATTR_S) || (type & 8) || !(type & 2) || dpl !== this.cpl) throw new CpuFault(GP, sel & 0xfffc);
      if (!(attr & ATTR_P)) throw new CpuFault(SS_VEC, sel & 0xfffc);
    } else {
      if (!(attr & ATTR_S) || ((type & 8) && !(type & 2))) throw new CpuFault(GP, sel & 0xfffc);
      const conformingCode = (type & 0xc) === 0xc;
      if (!conformingCode && (rpl > dpl || this.cpl > dpl)) throw new CpuFault(GP, sel & 0xfffc);
      if (!(attr & ATTR_P)) throw new CpuFault(NP, sel & 0xfffc);
    }
    this.setDescriptorAccessed(sel, hi);
    this.setSegmentCache(seg, sel, Cpu.descBase(lo, hi), Cpu.descLimit(lo, hi), attr | 1);
    if (seg === SS) { this.irqShadowUntil = this.icount + 1; this.breakBlock = true; }
  }

  // =============================================================================================
  // Paging and memory access
  // =============================================================================================

  /** Linear → physical for an access (`user`: a CPL 3 access); walks the tables on a TLB miss. */
  translate(lin: number, write: boolean, user: boolean): number {
    const e = this.tlb[lin >>> PAGE_SHIFT];
    const need = user ? (write ? TLB_USER_WRITE : TLB_USER_READ) : (write ? TLB_SUP_WRITE : TLB_VALID);
    if (e & need) return (e & ~0xfff) | (lin & 0xfff);
    if (!(this.cr0 & CR0_PG)) return this.secondLevel === undefined ? this.translateIdentity(lin) : this.translateUnpaged(lin, write);
    return this.walk(lin, write, user, false);
  }

  /** Paging off: physical = linear; RAM pages are cached as identity entries (every access allowed). */
  private translateIdentity(lin: number): number {
    const p = lin >>> 0, base = p - (p & 0xfff);
    if (base + 0xfff < this.mem.size) {
      const page = p >>> PAGE_SHIFT;
      if (this.tlb[page] === 0) this.tlbUsed.push(page);
      this.tlb[page] = this.withFastWrites(base | TLB_VALID | TLB_SUP_WRITE | TLB_USER_READ | TLB_USER_WRITE);
    } else this.markUncached(lin);
    return p;
  }

  /**
   * Page walk (SDM Vol. 3 §4.3): permission checks with CR0.WP, accessed and dirty bits, #PF with its
   * error code. `fetch` marks an instruction fetch (no I/D bit without PAE/NX, kept for clarity).
   */
  /**
   * Second-level address translation (VT-x EPT), set by a monitor: guest-physical page base →
   * host-physical page base, or it throws (an EPT-violation VM exit; the access has not happened).
   * Consulted on TLB misses only: for the paging-structure reads of a walk (`final` false) and for the
   * translated address (`final` true); with guest paging off, once per guest-physical page per TLB fill.
   */
  secondLevel: ((gpaPage: number, write: boolean, lin: number, final: boolean) => number) | undefined;
  /**
   * Set by a monitor: a paged access to a device's registers (MMIO) raises #PF with the P and RSVD
   * bits in its error code instead of reaching the device, so that the monitor can emulate it.
   */
  mmioFaults = false;

  /** Paging off under a second level: guest-physical = linear, cached in the TLB like a walk. */
  private translateUnpaged(lin: number, write: boolean): number {
    const page = lin >>> PAGE_SHIFT;
    const e = this.tlb[page];
    if (e & (write ? TLB_SUP_WRITE : TLB_VALID)) return (e & ~0xfff) | (lin & 0xfff);
    const hpa = (this.secondLevel!(lin & ~0xfff, write, lin, true) & ~0xfff) >>> 0;
    if (hpa + 0xfff < this.mem.size) {
      if (e === 0) this.tlbUsed.push(page);
      // Write permission is cached only after a write was allowed (the second level saw one).
      this.tlb[page] = this.withFastWrites(hpa | TLB_VALID | TLB_USER_READ | (write ? TLB_SUP_WRITE | TLB_USER_WRITE : (e & (TLB_SUP_WRITE | TLB_USER_WRITE))));
    } else this.markUncached(lin);
    return (hpa | (lin & 0xfff)) >>> 0;
  }

  /**
   * A walk that found no usable translation: #PF, unless the monitor claims the access as one to a
   * device's registers that it emulates (`Monitor.deviceAccess`): then this one access goes to the
   * physical address it gives, uncached, and the instruction goes on.
   */
  private pageFault(lin: number, write: boolean, user: boolean, errorCode: number, device: number): number {
    const m = this.monitor;
    if (m?.deviceAccess) {
      const phys = m.deviceAccess(this, lin, write, user, device);
      if (phys >= 0) { this.markUncached(lin); return phys >>> 0; }
    }
    throw new CpuFault(PF_VEC, errorCode, lin);
  }

  private walk(lin: number, write: boolean, user: boolean, fetch: boolean): number {
    void fetch;
    const mem = this.mem;
    const sl = this.secondLevel;
    let pdeAddr = ((this.cr3 & ~0xfff) + ((lin >>> 22) << 2)) >>> 0;
    if (sl !== undefined) pdeAddr = (sl(pdeAddr & ~0xfff, false, lin, false) | (pdeAddr & 0xfff)) >>> 0;
    const pde = mem.read32(pdeAddr);
    const errBase = (write ? PFEC_W : 0) | (user ? PFEC_U : 0);
    if (!(pde & PTE_P)) return this.pageFault(lin, write, user, errBase, -1);
    let physBase: number, pte: number, pteAddr = -1, rw: boolean, us: boolean, global: boolean;
    if ((pde & PTE_PS) && (this.cr4 & CR4_PSE)) {
      physBase = ((pde & 0xffc00000) + (lin & 0x3ff000)) >>> 0;
      pte = pde;
      rw = (pde & PTE_W) !== 0; us = (pde & PTE_U) !== 0; global = (pde & PTE_G) !== 0;
    } else {
      pteAddr = ((pde & ~0xfff) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0;
      if (sl !== undefined) pteAddr = (sl(pteAddr & ~0xfff, false, lin, false) | (pteAddr & 0xfff)) >>> 0;
      pte = mem.read32(pteAddr);
      if (!(pte & PTE_P)) return this.pageFault(lin, write, user, errBase, -1);
      physBase = (pte & ~0xfff) >>> 0;
      rw = (pde & PTE_W) !== 0 && (pte & PTE_W) !== 0;
      us = (pde & PTE_U) !== 0 && (pte & PTE_U) !== 0;
      global = (pte & PTE_G) !== 0;
    }
    const wp = (this.cr0 & CR0_WP) !== 0;
    if (user ? (!us || (write && !rw)) : (write && !rw && wp)) throw new CpuFault(PF_VEC, errBase | PFEC_P, lin);
    if (sl !== undefined) physBase = sl(physBase, write, lin, true) >>> 0;
    // A monitor that keeps device frames out of the guest's direct reach (paravirtual direct paging).
    if (this.mmioFaults && physBase >= mem.size && mem.isMmio(physBase)) return this.pageFault(lin, write, user, errBase | PFEC_P | PFEC_RSVD, (physBase + (lin & 0xfff)) >>> 0);
    // Accessed bits on every walk that succeeds; dirty on a write.
    if (!(pde & PTE_A)) mem.write32(pdeAddr, pde | PTE_A);
    if (pteAddr >= 0) {
      const want = pte | PTE_A | (write ? PTE_D : 0);
      if (want !== pte) mem.write32(pteAddr, want);
      pte = want;
    } else if (write && !(pte & PTE_D)) {
      pte |= PTE_A | PTE_D;
      mem.write32(pdeAddr, pte);
    }
    // Cache the translation. Write permission is cached only once the dirty bit is set, so the
    // first write to a clean page walks again and sets D.
    if (physBase + 0xfff < mem.size) {
      const dirty = (pte & PTE_D) !== 0;
      let bits = TLB_VALID;
      if (dirty && (rw || !wp)) bits |= TLB_SUP_WRITE;
      if (us) bits |= TLB_USER_READ;
      if (us && rw && dirty) bits |= TLB_USER_WRITE;
      if (global && (this.cr4 & CR4_PGE)) bits |= TLB_GLOBAL;
      const page = lin >>> PAGE_SHIFT;
      if (this.tlb[page] === 0) this.tlbUsed.push(page);
      this.tlb[page] = this.withFastWrites(physBase | bits);
    } else this.markUncached(lin);
    return (physBase + (lin & 0xfff)) >>> 0;
  }

  /**
   * A TLB entry with the write permissions compiled code may use without looking further: those of
   * the entry when its physical page holds no decoded code and no write watch (else every write goes
   * through PhysicalMemory's per-64-byte checks).
   */
  private withFastWrites(e: number): number {
    if (this.mem.pageFlags[e >>> PAGE_SHIFT] !== 0) return e;
    return e | (e & TLB_SUP_WRITE ? TLB_FAST_SUP_WRITE : 0) | (e & TLB_USER_WRITE ? TLB_FAST_USER_WRITE : 0);
  }
  /** Physical page `page` (-1: every page) got code, a watch or a write record: no cached entry may write it fast any more. */
  private dropFastWrites(page: number): void {
    const tlb = this.tlb;
    for (const lin of this.tlbUsed) if (page < 0 || (tlb[lin] >>> PAGE_SHIFT) === page) tlb[lin] &= ~(TLB_FAST_SUP_WRITE | TLB_FAST_USER_WRITE);
  }
  /** Physical page `page` lost its last flag (its first write of a write epoch was recorded): cached entries write it fast again. */
  private allowFastWrites(page: number): void {
    const tlb = this.tlb;
    for (const lin of this.tlbUsed) if ((tlb[lin] >>> PAGE_SHIFT) === page && tlb[lin] !== TLB_UNCACHED) tlb[lin] = this.withFastWrites(tlb[lin]);
  }

  /** Drops every TLB entry (CR3 write keeps global pages when CR4.PGE, as the SDM says). */
  flushTlb(keepGlobal = false): void {
    this.stats.tlbFlushes++;
    const kept: number[] = [];
    for (const page of this.tlbUsed) {
      if (keepGlobal && (this.tlb[page] & TLB_GLOBAL)) kept.push(page);
      else this.tlb[page] = 0;
    }
    this.tlbUsed.length = 0;
    this.tlbUsed.push(...kept);
    this.breakBlock = true;
    this.codeEpoch++;
  }
  /** INVLPG. */
  invalidatePage(lin: number): void {
    this.tlb[lin >>> PAGE_SHIFT] = 0;
    this.breakBlock = true;
    this.codeEpoch++;
  }
  /** True when the TLB holds a translation for `lin` (tests, debugger views). */
  tlbHas(lin: number): boolean { const e = this.tlb[lin >>> PAGE_SHIFT]; return e !== 0 && e !== TLB_UNCACHED; }
  /** A translation to outside RAM, not cached: the page's entry says so (TLB_UNCACHED) unless it has one. */
  private markUncached(lin: number): void {
    const page = lin >>> PAGE_SHIFT;
    if (this.tlb[page] === 0) { this.tlbUsed.push(page); this.tlb[page] = TLB_UNCACHED; }
  }

  private get userAccess(): boolean { return this.cpl === 3; }

  // Data accesses through a segment (the instruction's view).
  read8(seg: number, off: number): number {
    return this.mem.read8(this.translate(this.linear(seg, off, 1, false), false, this.cpl === 3));
  }
  read16(seg: number, off: number): number {
    const lin = this.linear(seg, off, 2, false);
    if ((lin & 0xfff) === 0xfff) return this.readLinear8(lin, this.userAccess) | (this.readLinear8((lin + 1) | 0, this.userAccess) << 8);
    return this.mem.read16(this.translate(lin, false, this.cpl === 3));
  }
  read32(seg: number, off: number): number {
    const lin = this.linear(seg, off, 4, false);
    if ((lin & 0xfff) > 0xffc) return this.readLinearSlow(lin, 4, this.userAccess);
    return this.mem.read32(this.translate(lin, false, this.cpl === 3));
  }
  write8(seg: number, off: number, v: number): void {
    this.mem.write8(this.translate(this.linear(seg, off, 1, true), true, this.cpl === 3), v);
  }
  write16(seg: number, off: number, v: number): void {
    const lin = this.linear(seg, off, 2, true);
    if ((lin & 0xfff) === 0xfff) { this.writeLinearSlow(lin, 2, v, this.userAccess); return; }
    this.mem.write16(this.translate(lin, true, this.cpl === 3), v);
  }
  write32(seg: number, off: number, v: number): void {
    const lin = this.linear(seg, off, 4, true);
    if ((lin & 0xfff) > 0xffc) { this.writeLinearSlow(lin, 4, v, this.userAccess); return; }
    this.mem.write32(this.translate(lin, true, this.cpl === 3), v);
  }
  read(seg: number, off: number, size: number): number {
    return size === 4 ? this.read32(seg, off) : size === 2 ? this.read16(seg, off) : this.read8(seg, off);
  }
  write(seg: number, off: number, size: number, v: number): void {
    if (size === 4) this.write32(seg, off, v); else if (size === 2) this.write16(seg, off, v); else this.write8(seg, off, v);
  }
  /**
   * Checks that a write of `size` bytes at seg:off would succeed (segment and paging, setting D),
   * so that read-modify-write instructions fault before they change anything.
   */
  probeWrite(seg: number, off: number, size: number): void {
    const lin = this.linear(seg, off, size, true);
    this.translate(lin, true, this.cpl === 3);
    if ((lin & 0xfff) > 0x1000 - size) this.translate((lin + size - 1) | 0, true, this.cpl === 3);
  }

  // Linear accesses (paging only): the monitor's and the system's view.
  readLinear8(lin: number, user = false): number { return this.mem.read8(this.translate(lin, false, user)); }
  readLinear16(lin: number, user = false): number {
    if ((lin & 0xfff) === 0xfff) return this.readLinearSlow(lin, 2, user);
    return this.mem.read16(this.translate(lin, false, user));
  }
  readLinear32(lin: number, user = false): number {
    if ((lin & 0xfff) > 0xffc) return this.readLinearSlow(lin, 4, user);
    return this.mem.read32(this.translate(lin, false, user));
  }
  writeLinear8(lin: number, v: number, user = false): void { this.mem.write8(this.translate(lin, true, user), v); }
  writeLinear16(lin: number, v: number, user = false): void {
    if ((lin & 0xfff) === 0xfff) { this.writeLinearSlow(lin, 2, v, user); return; }
    this.mem.write16(this.translate(lin, true, user), v);
  }
  writeLinear32(lin: number, v: number, user = false): void {
    if ((lin & 0xfff) > 0xffc) { this.writeLinearSlow(lin, 4, v, user); return; }
    this.mem.write32(this.translate(lin, true, user), v);
  }
  private readLinearSlow(lin: number, size: number, user: boolean): number {
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.mem.read8(this.translate((lin + i) | 0, false, user)) << (8 * i);
    return v;
  }
  private writeLinearSlow(lin: number, size: number, v: number, user: boolean): void {
    // Translate every byte first, so a #PF on the second page leaves the first unwritten.
    const phys: number[] = [];
    for (let i = 0; i < size; i++) phys.push(this.translate((lin + i) | 0, true, user));
    for (let i = 0; i < size; i++) this.mem.write8(phys[i], v >> (8 * i));
  }
  /** Supervisor reads/writes of system structures (GDT, LDT, IDT, TSS). */
  readSys32(lin: number): number { return this.readLinear32(lin, false); }
  readSys16(lin: number): number { return this.readLinear16(lin, false); }
  writeSys32(lin: number, v: number): void { this.writeLinear32(lin, v, false); }

  // Stack.
  get stack32(): boolean { return (this.segAttr[SS] & ATTR_DB) !== 0; }
  push32(v: number): void {
    if (this.stack32) {
      const sp = (this.regs[4] - 4) | 0;
      this.write32(SS, sp, v);
      this.regs[4] = sp;
    } else {
      const sp = (this.regs[4] - 4) & 0xffff;
      this.write32(SS, sp, v);
      this.regs[4] = (this.regs[4] & ~0xffff) | sp;
    }
  }
  push16(v: number): void {
    const sp = this.stack32 ? (this.regs[4] - 2) | 0 : (this.regs[4] - 2) & 0xffff;
    this.write16(SS, sp, v);
    this.regs[4] = this.stack32 ? sp : (this.regs[4] & ~0xffff) | sp;
  }
  push(v: number, size: number): void { if (size === 4) this.push32(v); else this.push16(v); }
  pop32(): number {
    const sp = this.stack32 ? this.regs[4] : this.regs[4] & 0xffff;
    const v = this.read32(SS, sp);
    this.regs[4] = this.stack32 ? (sp + 4) | 0 : (this.regs[4] & ~0xffff) | ((sp + 4) & 0xffff);
    return v;
  }
  pop16(): number {
    const sp = this.stack32 ? this.regs[4] : this.regs[4] & 0xffff;
    const v = this.read16(SS, sp);
    this.regs[4] = this.stack32 ? (sp + 2) | 0 : (this.regs[4] & ~0xffff) | ((sp + 2) & 0xffff);
    return v;
  }
  pop(size: number): number { return size === 4 ? this.pop32() : this.pop16(); }
  /** Reads the stack at ESP + offset without popping (instructions that must not change ESP on a fault). */
  peek(offset: number, size: number): number {
    const sp = this.stack32 ? (this.regs[4] + offset) | 0 : (this.regs[4] + offset) & 0xffff;
    return size === 4 ? this.read32(SS, sp) : this.read16(SS, sp);
  }

  // =============================================================================================
  // Control registers and MSRs
  // =============================================================================================

  setCr0(v: number): void {
    v |= 0x10; // ET is hard-wired to 1
    if ((v & CR0_PG) && !(v & CR0_PE)) throw new CpuFault(GP, 0);
    if (!(v & CR0_PE)) throw new UnsupportedError('real mode is not modelled (CR0.PE cleared)');
    const changed = this.cr0 ^ v;
    this.cr0 = v | 0;
    if (changed & (CR0_PG | CR0_WP | CR0_PE)) { this.flushTlb(); this.flushCodeCache(); }
    this.breakBlock = true;
  }
  setCr3(v: number): void {
    this.cr3 = v | 0;
    this.flushTlb((this.cr4 & CR4_PGE) !== 0);
  }
  setCr4(v: number): void {
    if (v & ~(0x7ff)) throw new CpuFault(GP, 0);
    if (v & 0x20) throw new CpuFault(GP, 0); // PAE is not modelled (no CPUID.PAE), so setting it #GPs
    const changed = this.cr4 ^ v;
    this.cr4 = v;
    if (changed & (CR4_PSE | CR4_PGE)) this.flushTlb();
  }

  /** Simulated time in cycles (one instruction = one cycle, plus time spent halted). */
  get time(): number { return this.icount + this.idleCycles; }

  readMsr(n: number): bigint {
    switch (n >>> 0) {
      case MSR_TSC: return BigInt(this.time + this.msr.tscOffset);
      case MSR_APIC_BASE: return BigInt(this.msr.apicBase >>> 0);
      case MSR_SYSENTER_CS: return BigInt(this.msr.sysenterCs >>> 0);
      case MSR_SYSENTER_ESP: return BigInt(this.msr.sysenterEsp >>> 0);
      case MSR_SYSENTER_EIP: return BigInt(this.msr.sysenterEip >>> 0);
      case MSR_MISC_ENABLE: return BigInt(this.msr.miscEnable >>> 0);
      case MSR_PAT: return this.msr.pat;
      case MSR_MTRRCAP: return 0n;
      case MSR_MTRR_DEF_TYPE: return this.msr.mtrrDefType;
      case MSR_PLATFORM_ID: return 0n;
      case MSR_BIOS_SIGN_ID: return 0n;
      case MSR_FEATURE_CONTROL: return 1n; // locked, VMX disabled
      default: throw new CpuFault(GP, 0);
    }
  }
  writeMsr(n: number, v: bigint): void {
    const lo = Number(v & 0xffffffffn) | 0;
    switch (n >>> 0) {
      case MSR_TSC: this.msr.tscOffset = Number(BigInt.asIntN(64, v)) - this.time; return;
      case MSR_APIC_BASE: this.msr.apicBase = lo; return;
      case MSR_SYSENTER_CS: this.msr.sysenterCs = lo & 0xffff; return;
      case MSR_SYSENTER_ESP: this.msr.sysenterEsp = lo; return;
      case MSR_SYSENTER_EIP: this.msr.sysenterEip = lo; return;
      case MSR_MISC_ENABLE: this.msr.miscEnable = lo; return;
      case MSR_PAT: this.msr.pat = v & 0xffffffffffffffffn; return;
      case MSR_MTRR_DEF_TYPE: this.msr.mtrrDefType = v & 0xcffn; return;
      case MSR_BIOS_SIGN_ID: return;
      default: throw new CpuFault(GP, 0);
    }
  }

  // =============================================================================================
  // Events: exceptions and interrupts
  // =============================================================================================

  /** Queues an external interrupt vector (ahead of the PIC); delivered when IF = 1. */
  raiseIrq(vector: number): void { this.injectedIrqs.push(vector & 0xff); this.requestInterruptCheck(); }
  /** Delivers `vector` as an exception at the next instruction boundary. */
  injectException(vector: number, errorCode = 0, address = 0): void {
    this.injected = new CpuFault(vector, errorCode, address);
    this.requestInterruptCheck();
  }

  /**
   * Delivers an event through the IDT now, with the monitor's `onEvent` first. Handles #DF
   * (contributory and page-fault combinations, SDM Vol. 3 Table 6-5) and the triple fault.
   * `returnEip` is what the handler's frame holds.
   */
  deliverEvent(vector: number, kind: EventKind, errorCode = 0, address = 0, returnEip = this.eip): void {
    const outer = this.delivering;
    if (this.monitor?.onEvent) {
      const ev: DeliveryEvent = { vector, kind, eip: returnEip, nested: outer >= 0 };
      if (kind === 'exception' && hasErrorCode(vector)) ev.errorCode = errorCode;
      if (vector === PF_VEC && kind === 'exception') ev.address = address;
      if (this.monitor.onEvent(this, ev)) { this.stalled(ev.vector, ev.kind, ev.eip, false); return; }
    }
    if (kind === 'exception' && vector === PF_VEC) this.cr2 = address | 0;
    this.delivering = vector;
    try {
      deliverThroughIdt(this, vector, kind, errorCode, returnEip);
    } catch (e) {
      if (!(e instanceof CpuFault)) throw e;
      this.delivering = outer;
      this.nestedFault(vector, kind, e);
      return;
    } finally {
      if (this.delivering === vector) this.delivering = outer;
    }
    this.halted = false;
    if (kind === 'exception') this.stalled(vector, kind, returnEip, true);
  }

  /**
   * The watchdog for every technique (see MAX_EVENTS_WITHOUT_RETIREMENT): counts the events at this
   * instruction count — `toGuest`: an exception delivered through the guest's IDT — and ends the run
   * at the limit, as a guest fault loop when the guest's handlers took any of them.
   */
  private stalled(vector: number, kind: EventKind, eip: number, toGuest: boolean): void {
    if (this.icount !== this.stallIcount) { this.stallIcount = this.icount; this.stallEvents = 0; this.stallFaults = 0; return; }
    if (toGuest) this.stallFaults++;
    if (++this.stallEvents < MAX_EVENTS_WITHOUT_RETIREMENT) return;
    const what = kind === 'exception' ? EXCEPTION_NAMES[vector] ?? `exception ${vector}` : `${kind} vector 0x${vector.toString(16)}`;
    const last = `the last ${what} at 0x${((this.segBase[CS] + eip) >>> 0).toString(16).padStart(8, '0')}`;
    const faults = this.stallFaults;
    this.stallEvents = 0; this.stallFaults = 0;
    if (faults > 0) throw new GuestFaultLoop(`the guest took ${faults + 1} exceptions without retiring an instruction (${last}): its handler faults again at its first instruction; stopped (fault loop)`);
    throw new MonitorLivelock(`the VMM handled ${MAX_EVENTS_WITHOUT_RETIREMENT} events (${last}) without the guest retiring an instruction; stopped (monitor livelock)`);
  }

  private nestedFault(first: number, kind: EventKind, second: CpuFault): void {
    if (first === DF_VEC && kind === 'exception') throw new TripleFault(this.eip, `fault ${second} while delivering #DF`);
    const contributory = (v: number) => v === 0 || (v >= 10 && v <= 13);
    const isDouble = kind === 'exception' &&
      ((contributory(first) && contributory(second.vector)) ||
       (first === PF_VEC && (contributory(second.vector) || second.vector === PF_VEC)));
    if (isDouble) this.deliverEvent(DF_VEC, 'exception', 0);
    else this.deliverEvent(second.vector, 'exception', second.errorCode, second.address);
  }

  /** Delivers a fault raised by the current instruction (EIP = the faulting instruction). */
  private handleFault(f: CpuFault): void {
    this.breakBlock = false;
    this.deliverEvent(f.vector, 'exception', f.errorCode, f.address, this.eip);
  }

  /** Checks for a deliverable external interrupt; delivers it. Returns true when one was taken. */
  private checkInterrupts(): boolean {
    this.irqCheck = false;
    this.singleStep = false;
    if (this.injected) {
      const f = this.injected;
      this.injected = undefined;
      this.halted = false;
      this.irqCheck = true; // an external interrupt may be pending too
      this.deliverEvent(f.vector, 'exception', f.errorCode, f.address);
      return true;
    }
    // IF = 0: setting IF will request a new check.
    if (!(this.flags & IF)) return false;
    const pending = this.injectedIrqs.length > 0 || (!this.picHeld && (this.pic?.hasInterrupt() ?? false));
    if (!pending) return false;
    if (this.icount < this.irqShadowUntil) {
      // Inside an STI / MOV SS shadow: run one instruction, then look again.
      this.irqCheck = true;
      this.singleStep = true;
      return false;
    }
    const vector = this.injectedIrqs.length ? this.injectedIrqs.shift()! : this.pic!.acknowledge();
    this.halted = false;
    this.irqCheck = true; // another one may be pending (delivered once the handler allows it)
    this.deliverEvent(vector, 'external');
    return true;
  }
  /**
   * At an instruction boundary outside `run` (a binary translator's dispatcher): delivers an injected
   * exception or a deliverable external interrupt, as `run` does before each block. True if one was.
   */
  deliverPendingEvent(): boolean {
    if (!this.injected && !this.injectedIrqs.length && !((this.flags & IF) && this.pic && !this.picHeld && this.icount >= this.irqShadowUntil)) return false;
    return this.checkInterrupts();
  }
  /** True when an external interrupt could be delivered now (HLT wake-up test). */
  interruptPending(): boolean {
    return this.injected !== undefined || ((this.flags & IF) !== 0 && (this.injectedIrqs.length > 0 || (!this.picHeld && (this.pic?.hasInterrupt() ?? false))));
  }

  // =============================================================================================
  // Decoded-code cache
  // =============================================================================================

  /** Decodes the instruction at linear address `lin` (uncached; for monitors, disassembly, BT). */
  decodeAt(lin: number): Insn {
    return this.decoder.decode(lin | 0);
  }
  /**
   * The instruction at `lin` through the decoded-code cache: decoded once, dropped when its bytes
   * are written, like the blocks `run` executes. For a monitor that runs the same guest instruction
   * itself again and again (an MMIO access after each hidden page fault).
   */
  cachedInsnAt(lin: number): Insn {
    return this.blockAt(lin | 0).insns[0];
  }
  /** Decodes the basic block starting at `lin` (ends at a control transfer or a page boundary). */
  decodeBlock(lin: number): Insn[] {
    const out: Insn[] = [];
    let at = lin | 0;
    for (;;) {
      let insn: Insn;
      try {
        insn = this.decoder.decode(at);
      } catch (e) {
        // A fetch fault past the first instruction belongs to that later instruction: end the block.
        if (out.length > 0 && e instanceof CpuFault) break;
        throw e;
      }
      out.push(insn);
      at = (at + insn.len) | 0;
      if (insn.endsBlock || out.length >= 64 || (at & 0xfff) === 0 || ((at ^ lin) & ~0xfff) !== 0) break;
    }
    return out;
  }
  /** Drops every decoded block (monitor attached or changed, CR0 changes). */
  flushCodeCache(): void {
    this.cachedInsns = 0;
    for (const page of this.pageBlocks.keys()) this.mem.clearCode(page);
    for (const b of this.blocks.values()) b.valid = false;
    this.codeEpoch++;
    this.blocks.clear();
    this.pageBlocks.clear();
    this.breakBlock = true;
  }
  /** Physical bytes [addr, addr + size) (within one page) were written: drop the blocks decoded from them. */
  private invalidateCode(addr: number, size: number): void {
    const page = addr >>> PAGE_SHIFT;
    const list = this.pageBlocks.get(page);
    if (!list) { this.mem.clearCode(page); return; }
    const end = addr + size;
    let kept = 0;
    for (let k = 0; k < list.length; k++) {
      const b = list[k];
      if (b.start < end && addr < b.end) {
        b.valid = false; this.blocks.delete(b.key); this.stats.codeInvalidations++; this.breakBlock = true;
        if (b.inRegions) for (const e of b.inRegions) { e.region = undefined; e.runs = 0; }
      }
      else list[kept++] = b;
    }
    list.length = kept;
    if (kept === 0) { this.pageBlocks.delete(page); this.mem.clearCode(page); }
  }
  setMonitor(m: Monitor | undefined): void {
    this.monitor = m;
    this.flushCodeCache();
  }

  private blockAt(lin: number): Block {
    const phys = this.translate(lin, false, this.cpl === 3);
    // The same bytes decode differently for CPL 3 (fetch permissions) and in 16-bit code segments.
    const key = phys + (this.cpl === 3 ? 0x100000000 : 0) + ((this.segAttr[CS] & ATTR_DB) ? 0 : 0x200000000);
    let block = this.blocks.get(key);
    if (block) return block;
    const insns = this.decodeBlock(lin);
    const last = insns[insns.length - 1];
    const bytes = ((last.linear - lin) | 0) + last.len;
    block = { insns, key, valid: true, chain: undefined, chainLin: 0, chainEpoch: -1, chain2: undefined, chainLin2: 0, chainEpoch2: -1, runs: 0, compiled: undefined, compiledEip: -1, start: phys, end: phys + bytes, bpGen: -1, bpLin: 0, bpAt: -1, bpAfter: -1,
      region: undefined, regionAccept: undefined, inRegions: undefined, regionShared: undefined, regionTries: 0, regionBpGen: -1, regionBpFree: false, regionSpans: undefined };
    // An instruction that crosses into the next page is not cached (that page's mapping may change).
    if (((phys & 0xfff) + bytes) <= 0x1000) {
      // A full cache is emptied, as QEMU flushes its translation buffer when it fills: a guest that runs
      // through megabytes of never-repeated code (a runaway into zeroed RAM) must not hold gigabytes.
      if (this.cachedInsns + insns.length > CODE_CACHE_INSNS) { this.flushCodeCache(); this.stats.codeCacheFull++; }
      this.cachedInsns += insns.length;
      this.blocks.set(key, block);
      const page = phys >>> PAGE_SHIFT;
      let list = this.pageBlocks.get(page);
      if (!list) this.pageBlocks.set(page, list = []);
      list.push(block);
      this.mem.markCode(block.start, block.end);
      this.stats.blocksDecoded++;
    }
    return block;
  }

  // =============================================================================================
  // Run loop
  // =============================================================================================

  /** Executes one decoded instruction at the current EIP (monitors, binary translation). */
  execOne(insn: Insn): void {
    this.nextEip = (this.eip + insn.len) >>> 0;
    insn.exec(this, insn);
    this.eip = this.nextEip;
    this.icount++;
  }

  /** Skips an instruction a monitor emulated. */
  skip(insn: Insn): void { this.nextEip = (this.eip + insn.len) >>> 0; }

  /**
   * Resumes from a stop at the current EIP (EFLAGS.RF for a debugger): the next `run` executes the
   * instruction there even if its address is a breakpoint. `run` does this itself when it returns
   * 'breakpoint'; a debugger calls it when it resumes from a stop of its own (a step, entry, pause).
   */
  resume(): void {
    this.resumeIcount = this.icount;
    this.resumeLin = (this.eip + this.segBase[CS]) | 0;
  }

  /**
   * Whether an executor that runs guest code its own way (a binary translator) must stop before the
   * instruction at linear `lin`: a debugger breakpoint there, unless it is the resume point `run`
   * honours too (the instruction a stop was reported at, until it retires).
   */
  breakpointAt(lin: number): boolean {
    return this.breakpoints.has(lin) && !(this.icount === this.resumeIcount && lin === this.resumeLin);
  }

  /**
   * Asks the run in progress to return 'requested' at the next instruction boundary: after the
   * instruction (or event delivery) running now and what the boundary delivers (a pending
   * interrupt, a single-step trap), before the next instruction executes (a halted CPU first waits
   * for what wakes it, as the machine advances time). For event handlers (a debugger's event
   * filters and data watches, a device): every executor honours it — this loop,
   * compiled blocks and regions (they leave on `breakBlock`), the binary translator, VT-x non-root.
   * A request made between runs stops the next one at its first boundary. `stopReason` tells why.
   */
  requestStop(reason: string): void {
    this.stopRequest ??= reason;
    this.breakBlock = true;
  }

  /** Drops a requested stop not yet honoured (one asked for outside a run, no longer wanted). */
  withdrawStop(): void { this.stopRequest = undefined; }

  /** True when a requested stop waits for the next instruction boundary (executors test it there). */
  get stopPending(): boolean { return this.stopRequest !== undefined; }

  /** Honours the pending stop (executors call it at a boundary when `stopPending`): 'requested'. */
  takeStop(): CpuStop {
    this.stopReason = this.stopRequest;
    this.stopRequest = undefined;
    this.breakBlock = false;
    return 'requested';
  }

  /**
   * Runs at most `budget` instructions. Returns why it stopped: 'budget' (ran them all), 'halt'
   * (HLT and nothing can wake it: the caller decides, e.g. advance time), 'stop' (a device asked),
   * 'breakpoint' (EIP reached a breakpoint, not executed), 'requested' (see `requestStop`). Throws
   * TripleFault and UnsupportedError.
   *
   * Breakpoints: stops before executing any instruction whose linear address is in `breakpoints`,
   * the first one of this run included, except the resume point (see `resume`). Checked per block:
   * blocks without a breakpoint run compiled and chained.
   */
  run(budget: number): CpuStop {
    const end = this.icount + budget;
    const bps = this.breakpoints.size > 0 ? this.breakpoints : undefined;
    if (bps !== undefined) this.bpGen++;
    while (this.icount < end) {
      if (this.stopRequested) return 'stop';
      if (this.irqCheck) this.checkInterrupts();
      if (this.halted) return 'halt';
      if (this.stopRequest !== undefined) return this.takeStop();
      // EFLAGS.TF: one instruction, then a single-step #DB trap (SDM Vol. 3 §17.3.1.4).
      const trapFlag = (this.flags & TF) !== 0;
      try {
        const before = this.icount;
        if (this.runBlocks(this.singleStep || trapFlag ? this.icount + 1 : end, bps)) {
          this.resume();
          return 'breakpoint';
        }
        if (trapFlag && this.icount > before) {
          this.dr[6] |= 0x4000; // DR6.BS
          this.deliverEvent(DB, 'exception', 0, 0, this.eip);
        }
      } catch (e) {
        if (e instanceof CpuFault) this.handleFault(e);
        else throw e;
      }
    }
    if (this.stopRequest !== undefined) return this.takeStop();
    return this.stopRequested ? 'stop' : 'budget';
  }

  /**
   * For a binary translator: the region at the current EIP made of blocks whose instructions all
   * pass `accept` (the innocuous ones: identical translation), compiled now if it was not (the
   * translator counts hotness itself); undefined when there is none. The answer is the region's entry
   * block: the caller may keep it and run `entry.region` while `regionStill(entry, accept, eip)` holds
   * (self-modifying code or a recompilation ends that), as Cpu.runBlocks does (the region returns
   * false when it did not run). Throws CpuFault as a fetch.
   */
  regionFor(accept: (i: Insn) => boolean): RegionEntry | undefined {
    if (this.eip > this.segLimit[CS] || !this.jit) return undefined;
    const block = this.blockAt((this.eip + this.segBase[CS]) | 0);
    if (block.region === undefined) {
      block.compiledEip = this.eip;
      this.compileRegionAt(block, accept);
    }
    return Cpu.regionStill(block, accept, this.eip) ? block : undefined;
  }

  /**
   * For an executor that runs regions itself (binary translation): whether the region of `entry`
   * (from regionFor) may run with the debugger's breakpoints as they are — none in its blocks (a
   * breakpoint elsewhere, e.g. a coverage probe on code not run yet, leaves it free). Call
   * `breakpointsChanged` at the start of each run: the set may have changed since the last one.
   */
  regionFreeOfBreakpoints(entry: RegionEntry): boolean {
    const bps = this.breakpoints;
    return bps.size === 0 || this.regionClear(entry as Block, (entry.compiledEip + this.segBase[CS]) | 0, bps);
  }

  /** The breakpoint set may have changed: what was looked up per block and region is looked up again. */
  breakpointsChanged(): void { this.bpGen++; }

  /** Whether `entry` (from regionFor) still holds a region compiled with `accept` for entry at `eip`. */
  static regionStill(entry: RegionEntry, accept: (i: Insn) => boolean, eip: number): boolean {
    return entry.valid && !!entry.region && entry.regionAccept === accept && entry.compiledEip === eip;
  }

  /**
   * Gives `entry` (entered at the current EIP) a region: the one of another entry that holds it as one
   * of its blocks when there is one for this CPU state (joinRegion), else one compiled from it and the
   * blocks it reaches. `accept`: only blocks whose instructions pass.
   */
  private compileRegionAt(entry: Block, accept?: (i: Insn) => boolean): void {
    if (!this.regions || entry.regionTries >= 4) { entry.region = null; return; }
    if (this.joinRegion(entry, accept)) return;
    entry.regionTries++;
    const csBase = this.segBase[CS];
    const byEip = new Map<number, Block>();
    const blocks = collectRegion(this.eip, csBase, (eip) => {
      try {
        const b = this.blockAt((eip + csBase) | 0);
        // Blocks not in the cache (an instruction crossing the page end) are not tracked for writes.
        if (!b.valid || this.blocks.get(b.key) !== b) return undefined;
        if (accept !== undefined && !b.insns.every(accept)) return undefined;
        // A block another region can be entered at ends this one there (the dispatcher goes on in
        // that region): a function's entry or a call site made hot later gets a small region of its
        // own instead of a second copy of the loops already compiled.
        if (b !== entry && this.regionHolding(b, eip, accept) !== undefined) return undefined;
        byEip.set(eip >>> 0, b);
        return b.insns;
      } catch (e) {
        if (e instanceof CpuFault) return undefined;
        throw e;
      }
    });
    const members = blocks.map((b) => byEip.get(b.eip >>> 0)!);
    if (blocks.length === 0 || members[0] !== entry) { entry.region = null; return; }
    const user = this.cpl === 3, flat = this.flatSegs;
    const inJs = () => compileRegion(blocks, user, flat);
    // WebAssembly where it can (core/cpu/wasm: a loop's memory accesses without V8's checks), else JS.
    const inWasm = this.wasmRegions ? compileWasmRegion(blocks, user, flat, this.mem.wasm, inJs) : undefined;
    if (inWasm) this.stats.regionsInWasm++;
    const code = inWasm ?? inJs();
    entry.regionAccept = accept;
    if (!code) { entry.region = null; return; }
    this.stats.regionsCompiled++;
    const shared: RegionShared = {
      run: code.run, index: new Map(blocks.map((b, n) => [b.eip >>> 0, n])), members, enterable: code.enterable,
      csBase, flat: this.flatSegs, user: this.cpl === 3, accept,
      spans: members.flatMap((b) => [b.start & 0xfff, ((b.end - 1) & 0xfff) + 1]),
    };
    this.enterRegion(entry, shared, 0);
  }

  /** Makes `entry` enter `shared` at block `at`: its region, and it goes when any block of it does. */
  private enterRegion(entry: Block, shared: RegionShared, at: number): void {
    const run = shared.run;
    entry.region = (cpu, insns, r, end) => run(cpu, insns, r, end, at);
    entry.regionShared = shared;
    entry.regionAccept = shared.accept;
    entry.regionSpans = shared.spans;
    entry.regionBpGen = -1;
    for (const b of shared.members) (b.inRegions ??= []).push(entry);
  }

  /**
   * The live region compiled for the CPU state as it is (CS base, flat segments, CPL, filter) that
   * holds `block` at `eip` as one of its blocks and may be entered there; undefined when none does.
   */
  private regionHolding(block: Block, eip: number, accept: ((i: Insn) => boolean) | undefined): RegionShared | undefined {
    const hosts = block.inRegions;
    if (hosts === undefined) return undefined;
    for (const host of hosts) {
      const s = host.regionShared;
      if (!host.region || !host.valid || s === undefined || s.accept !== accept || s.flat !== this.flatSegs || s.user !== (this.cpl === 3) || s.csBase !== this.segBase[CS]) continue;
      const n = s.index.get(eip >>> 0);
      if (n !== undefined && s.enterable[n] && s.members[n] === block) return s;
    }
    return undefined;
  }

  /** Enters `entry` into a region that already holds it (see regionHolding); false when none does. */
  private joinRegion(entry: Block, accept: ((i: Insn) => boolean) | undefined): boolean {
    const shared = this.regionHolding(entry, this.eip, accept);
    if (shared === undefined) return false;
    this.stats.regionsJoined++;
    this.enterRegion(entry, shared, shared.index.get(this.eip >>> 0)!);
    return true;
  }

  /** A region that did not run (compiled for other segments): dropped, compiled again once hot. Returns false. */
  private dropRegion(block: Block): boolean {
    block.region = undefined;
    block.regionAccept = undefined;
    block.runs = 0;
    return false;
  }

  /** True when no breakpoint lies in the blocks of the region entered at `lin` (cached per generation). */
  private regionClear(block: Block, lin: number, bps: Set<number>): boolean {
    if (block.regionBpGen !== this.bpGen) {
      let free = true;
      const spans = block.regionSpans;
      for (const bp of bps) {
        if (((bp ^ lin) & ~0xfff) !== 0) continue;
        // Regions stay in their linear page, so a page offset names one place in it.
        if (spans === undefined || inSpans(spans, bp & 0xfff)) { free = false; break; }
      }
      block.regionBpGen = this.bpGen; block.regionBpFree = free;
    }
    return block.regionBpFree;
  }

  /** Looks up the breakpoints of `block` entered at linear `lin` (cached per generation). */
  private scanBreakpoints(block: Block, lin: number, bps: Set<number>): void {
    const insns = block.insns, base = insns[0].linear;
    let at = -1, after = -1;
    for (let k = 0; k < insns.length; k++) {
      if (bps.has((lin + insns[k].linear - base) | 0)) {
        if (at < 0) at = k;
        if (k > 0) { after = k; break; }
      }
    }
    block.bpGen = this.bpGen; block.bpLin = lin; block.bpAt = at; block.bpAfter = after;
  }

  /**
   * Executes chained blocks until `end` instructions or an instruction sets breakBlock. With
   * breakpoints: returns true, before executing it, at the first instruction whose address is one.
   */
  private runBlocks(end: number, bps: Set<number> | undefined): boolean {
    this.breakBlock = false;
    let lin = (this.eip + this.segBase[CS]) | 0;
    // The first instruction is checked as it is now (a hook may have latched a stop meanwhile).
    if (bps !== undefined && this.breakpointAt(lin)) return true;
    if (this.eip > this.segLimit[CS]) throw new CpuFault(GP, 0);
    let block = this.blockAt(lin);
    let entry = true;
    // Whether a block ran before this one in this call (not a region: it leaves where it likes, a
    // TLB miss mid-block say). Only such a block compiles a region, as the binary translator does:
    // a loop gets one region at the block a jump reaches (its head), not one per place a slice or a
    // region happened to stop, and a loop's blocks join it instead of compiling copies of it.
    let chained = false;
    for (;;) {
      const insns = block.insns;
      let left = end - this.icount;
      /** Instructions to run before the breakpoint in this block (-1: none in it). */
      let bpStop = -1;
      let runEnd = end;
      if (bps !== undefined && (!entry || left > 1)) {
        if (block.bpGen !== this.bpGen || block.bpLin !== lin) this.scanBreakpoints(block, lin, bps);
        if (block.bpAt >= 0) {
          // The entry instruction was checked above; a chained block stops at its own first one.
          bpStop = entry ? block.bpAfter : block.bpAt;
          if (bpStop === 0) return true;
          if (bpStop > 0 && bpStop < left) left = bpStop;
          // A compiled block that loops onto itself makes one pass (its head is a breakpoint).
          runEnd = Math.min(end, this.icount + insns.length);
        }
      }
      entry = false;
      const fromBlock = chained;
      chained = true;
      const region = block.region;
      const ic0 = this.icount;
      // A region that left at its first instruction (a TLB miss) ran nothing: the block runs another way.
      if (region && block.regionAccept === undefined && block.compiledEip === this.eip && insns.length <= left && (bps === undefined || this.regionClear(block, lin, bps)) &&
          (region(this, insns, this.regs, end) ? this.icount !== ic0 || this.breakBlock : this.dropRegion(block))) {
        if (this.breakBlock) { this.breakBlock = false; return false; }
        chained = false;
      } else if (block.compiled && block.compiledEip === this.eip && insns.length <= left) {
        // Hot, but first reached where no block led to it (or its region went): a region once a block leads here.
        if (block.region === undefined && fromBlock && ++block.runs >= this.jitThreshold && this.jit) this.compileRegionAt(block);
        block.compiled(this, insns, this.regs, runEnd);
        if (this.breakBlock) { this.breakBlock = false; return false; }
      } else {
        if (++block.runs === this.jitThreshold && this.jit) {
          if (block.compiled === undefined) {
            block.compiled = compileBlock(insns, this.eip) ?? null;
            block.compiledEip = this.eip;
            if (block.compiled) this.stats.blocksCompiled++;
          }
          if (block.region === undefined && block.compiledEip === this.eip && fromBlock) this.compileRegionAt(block);
        }
        const n = insns.length < left ? insns.length : left;
        for (let i = 0; i < n; i++) {
          const insn = insns[i];
          this.nextEip = (this.eip + insn.len) >>> 0;
          insn.exec(this, insn);
          this.eip = this.nextEip;
          this.icount++;
          if (this.breakBlock) { this.breakBlock = false; return false; }
        }
        // Just before the block's breakpoint (EIP is its address); at the budget's end the next run stops there.
        if (n === bpStop && this.icount < end) return true;
      }
      if (this.icount >= end) return false;
      // Chain to the next block without a lookup when this block went there before.
      lin = (this.eip + this.segBase[CS]) | 0;
      let next = block.chain;
      if (next === undefined || block.chainLin !== lin || block.chainEpoch !== this.codeEpoch || !next.valid) {
        next = block.chain2;
        if (next === undefined || block.chainLin2 !== lin || block.chainEpoch2 !== this.codeEpoch || !next.valid) {
          if (this.eip > this.segLimit[CS]) throw new CpuFault(GP, 0);
          next = this.blockAt(lin);
          // Keep the previous successor as the second entry (the other side of a branch).
          block.chain2 = block.chain; block.chainLin2 = block.chainLin; block.chainEpoch2 = block.chainEpoch;
          block.chain = next; block.chainLin = lin; block.chainEpoch = this.codeEpoch;
        }
      }
      block = next;
    }
  }

  // =============================================================================================
  // Reset, snapshot
  // =============================================================================================

  /** Serialisable copy of the architectural state (memory is the machine's business). */
  getState(): CpuState {
    return {
      version: CPU_STATE_VERSION,
      regs: Array.from(this.regs), eip: this.eip, eflags: this.getEflags(),
      seg: [0, 1, 2, 3, 4, 5].map((s) => [this.segSel[s], this.segBase[s], this.segLimit[s], this.segAttr[s]]),
      gdtr: [this.gdtrBase, this.gdtrLimit], idtr: [this.idtrBase, this.idtrLimit],
      ldtr: [this.ldtrSel, this.ldtrBase, this.ldtrLimit, this.ldtrAttr], tr: [this.trSel, this.trBase, this.trLimit, this.trAttr],
      cr: [this.cr0, this.cr2, this.cr3, this.cr4], dr: Array.from(this.dr),
      msr: { ...this.msr, pat: this.msr.pat.toString(), mtrrDefType: this.msr.mtrrDefType.toString() },
      icount: this.icount, idleCycles: this.idleCycles, halted: this.halted, irqShadowUntil: this.irqShadowUntil,
      cpl: this.cpl, injectedIrqs: [...this.injectedIrqs],
    };
  }
  setState(s: CpuState): void {
    if (s.version !== CPU_STATE_VERSION) throw new Error(`CPU state version ${s.version} is not ${CPU_STATE_VERSION}`);
    const cr0Before = this.cr0;
    this.regs.set(s.regs);
    this.eip = s.eip;
    this.flags = (s.eflags | EFLAGS_FIXED1) | 0;
    this.ccOp = CC_EAGER;
    s.seg.forEach(([sel, base, limit, attr], i) => this.setSegmentCache(i, sel, base, limit, attr));
    [this.gdtrBase, this.gdtrLimit] = s.gdtr;
    [this.idtrBase, this.idtrLimit] = s.idtr;
    [this.ldtrSel, this.ldtrBase, this.ldtrLimit, this.ldtrAttr] = s.ldtr;
    [this.trSel, this.trBase, this.trLimit, this.trAttr] = s.tr;
    [this.cr0, this.cr2, this.cr3, this.cr4] = s.cr;
    this.dr.set(s.dr);
    Object.assign(this.msr, { ...s.msr, pat: BigInt(s.msr.pat), mtrrDefType: BigInt(s.msr.mtrrDefType) });
    this.icount = s.icount; this.idleCycles = s.idleCycles; this.halted = s.halted; this.irqShadowUntil = s.irqShadowUntil;
    this.cpl = s.cpl;
    this.injectedIrqs.length = 0; this.injectedIrqs.push(...s.injectedIrqs);
    this.injected = undefined;
    this.delivering = -1;
    this.stallIcount = -1;
    this.repChunkIcount = -1;
    this.stopRequested = false;
    this.stopRequest = undefined;
    this.irqCheck = true;
    this.resumeIcount = -1;
    this.flushTlb();
    // Decoded and compiled code stays, as across a guest's own CR3 write (blocks are found by physical
    // address, CPL 3 and code size; chains die with the TLB flush): the memory a restore changed was
    // written through PhysicalMemory.load, which drops the code on it. A change of paging or
    // protection drops it all, as setCr0 does. Keeping it makes a step back, the debugger's native
    // twin taking a state and its worker's restarts run warm code instead of compiling it all again.
    if ((cr0Before ^ this.cr0) & (CR0_PG | CR0_WP | CR0_PE)) this.flushCodeCache();
    this.breakBlock = false;
  }

  /** Segment registers by name for views. */
  static readonly SEGS = [ES, CS, SS, DS, FS, GS];
}

export interface CpuState {
  version: number;
  regs: number[];
  eip: number;
  eflags: number;
  seg: number[][];
  gdtr: [number, number];
  idtr: [number, number];
  ldtr: [number, number, number, number];
  tr: [number, number, number, number];
  cr: [number, number, number, number];
  dr: number[];
  msr: { sysenterCs: number; sysenterEsp: number; sysenterEip: number; tscOffset: number; apicBase: number; pat: string; mtrrDefType: string; miscEnable: number };
  icount: number;
  idleCycles: number;
  halted: boolean;
  irqShadowUntil: number;
  cpl: number;
  injectedIrqs: number[];
}

export { TS, DS, ES, FS, GS };
