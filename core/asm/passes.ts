/*
 * The passes over the preprocessed statements (nasm -f bin, whose default is -Ox): sizing passes until
 * every size, label and section start settles (short jumps, sign-extended imm8, disp8), then one
 * emitting pass that reports diagnostics and builds the sections, the source map and the symbols.
 * Statements whose bytes depend on their text alone ("pure") are encoded once and reused.
 */
import type {
  AssembleOptions, AssemblyResult, ConstantSymbol, DataDirective, Diagnostic, Expr, LabelSymbol, MacroSymbol, Operand, Range, SectionLayout, SourceMapEntry, Statement,
} from './ast';
import { emptyKeepingStore, parseExpressionText, parseLine, withLine, type LineContext } from './parser';
import { encodedBytes, encodeInstruction, type EncodeContext, type ROp } from './encoder';
import { register } from './registers';
import { PREDEFINED } from './predefined';
import { exprUsesHere, findSymbolRange, isPure, usesHere } from './expressions';
import { evaluate, memoryOperand, simpleMemoryOperand, SIZE_BITS, type EvalResult, type EvalScope } from './operands';
import { encodeFloat, floatBytes, floatSpecial, parseFloatText } from './floats';

export interface Item {
  /**
   * The statement; undefined once a reparsable item's bytes are cached (the statement tree is most of
   * the assembler's memory on big files, and the cached bytes are all the passes need of it).
   */
  s: Statement | undefined;
  /** The source line of a pure one-statement line, from which `s` is parsed again if it is needed. */
  text: string | undefined;
  file: string;
  /** Source line; the statement's own ranges are lineless (line 0) unless `expanded`. */
  line: number;
  /** Range to report and map (the statement's own, or the whole source line for expanded text). */
  range: Range;
  expanded: boolean;
  size: number;
  forceNear: boolean;
  /** Operands (and times count) reference no symbol, `$` or `$$`: the bytes never change (undefined: not yet known). */
  pure: boolean | undefined;
  /**
   * The cached bytes of a pure item: `cacheLen` bytes at `cacheOff` in the assembler's cache pool,
   * assembled for `cacheBits` (0: none yet); `cacheData`: db-like, else an instruction. An item of a
   * line identical to an earlier one starts with that one's (fields, not a shared object: one
   * allocation less per line).
   */
  cacheBits: number;
  cacheOff: number;
  cacheLen: number;
  cacheData: boolean;
  /** Prefix names of an instruction (computed once). */
  prefixNames: readonly string[] | undefined;
}

/** A new item; `same`: the item of an identical earlier line, whose cached bytes it starts with. */
export function newItem(s: Statement | undefined, text: string | undefined, file: string, line: number, range: Range, expanded: boolean, pure: boolean | undefined, same?: Item): Item {
  return {
    s, text, file, line, range, expanded, size: 0, forceNear: false, pure, prefixNames: undefined,
    cacheBits: same?.cacheBits ?? 0, cacheOff: same?.cacheOff ?? 0, cacheLen: same?.cacheLen ?? 0, cacheData: same?.cacheData ?? false,
  };
}

/** The statement of an item whose statement was dropped: its line parsed again (a pure line depends on its text alone). */
export function statementOf(item: Item): Statement {
  if (item.s !== undefined) return item.s;
  const ctx: LineContext = { line: 0, lastGlobal: '', diagnostics: [], statements: [], lineless: true };
  parseLine(item.text ?? '', ctx);
  return (item.s = ctx.statements[0]);
}

/** A section: `bytes[0..len)` holds its content in emitting passes (and for computing cached items). */
interface Section { name: string; index: number; progbits: boolean; align: number; pc: number; start: number; bytes: Uint8Array; len: number }

function reserve(sec: Section, extra: number): void {
  if (sec.len + extra <= sec.bytes.length) return;
  let cap = Math.max(256, sec.bytes.length * 2);
  while (cap < sec.len + extra) cap *= 2;
  const b = new Uint8Array(cap);
  b.set(sec.bytes.subarray(0, sec.len));
  sec.bytes = b;
}
interface Sym { section: number; offset: number; file: string; range: Range; pass: number; isLabel: boolean }

export class Assembler implements EvalScope {
  private sections: Section[] = [];
  private cur!: Section;
  private symbols = new Map<string, Sym>();
  private pass = 0;
  private final = false;
  private bits: 16 | 32 = 32;
  /**
   * After `bits 64` (until the next `bits`): 64-bit code, which Popek neither assembles nor runs.
   * One error at the directive (`popek asm` and `run` stop there); its instructions are not
   * checked, so a 32-bit kernel's long-mode trampoline, or the x86-64 branch of a dual-arch file,
   * is not a column of false errors in the editor (the lint shows the directive as information).
   */
  private skip64 = false;
  private readonly startBits: 16 | 32;
  private origin: number;
  private originSet = false;
  private diags: Diagnostic[] = [];
  private changed = false;
  private predefined: Record<string, number>;
  /**
   * Names declared `extern` or `common`: defined by the linker in the `-f elf32` objects kernels are
   * built from. They assemble as 0 here (a flat image has no relocations), and are never undefined.
   */
  private externs = new Set<string>();

  /** `struc` being defined (its name, and the section to go back to), and open `istruc`s (where each began). */
  private struc: { name: string; back: Section } | undefined;
  private istrucs: Array<{ name: string; start: number }> = [];

  private readonly items: Item[] = [];
  /** The operands of the instruction being encoded, resolved, and where it goes (refilled for each). */
  private readonly ops: ROp[] = [];
  private readonly encodeContext: EncodeContext = { bits: 32, address: 0, section: 0, forceNear: false, sizeOnly: false };
  private readonly withSourceMap: boolean;

  /** Pass 0 starts at once: the preprocessor hands each item to `add` as it is parsed, then `run` finishes. */
  private readonly readBinary: AssembleOptions['readBinary'];

  constructor(private readonly mainFile: string, opts: AssembleOptions) {
    this.origin = opts.origin ?? 0;
    this.startBits = opts.bits ?? 32;
    this.withSourceMap = !opts.noSourceMap;
    this.readBinary = opts.readBinary;
    this.predefined = Object.assign(Object.create(null), PREDEFINED, opts.predefined ?? {});
    this.beginPass();
  }

  /**
   * The next item in source order, sized at once (pass 0): a pure item's bytes are cached and its
   * statement dropped right away, so the statements of a big file are never all alive together.
   */
  add(item: Item): void {
    this.items.push(item);
    this.step(item);
  }

  /** Errors seen so far, counted in every pass (diagnostics are only kept from emitting passes). */
  private errorCount = 0;
  private capture = false;

  private diag(item: Item, message: string, code: string, range?: Range, severity: Diagnostic['severity'] = 'error'): void {
    if (severity === 'error') this.errorCount++;
    if (!this.final) return;
    this.diags.push({ range: this.rangeOf(item, range), severity, code, message, file: item.file === this.mainFile ? undefined : item.file });
  }

  /** The real range of `range` (a lineless range inside `item`), or of the item itself. */
  private rangeOf(item: Item, range?: Range): Range {
    if (item.expanded) return item.range;
    return withLine(range ?? item.range, item.line);
  }

  private section(name: string): Section {
    let s = this.sections.find((x) => x.name === name);
    if (!s) {
      s = { name, index: this.sections.length, progbits: !/^\.?bss$/i.test(name), align: 4, pc: 0, start: 0, bytes: new Uint8Array(0), len: 0 };
      this.sections.push(s);
    }
    return s;
  }

  // ---- what expressions see (EvalScope)
  here(): EvalResult { return { n: this.cur.start + this.cur.pc, seg: this.cur.index, known: true }; }
  sectionStart(): EvalResult { return { n: this.cur.start, seg: this.cur.index, known: true }; }
  symbol(name: string): EvalResult {
    const s = this.symbols.get(name);
    if (s) {
      if (s.section < 0) return { n: s.offset, seg: -1, known: true };
      return { n: this.sections[s.section].start + s.offset, seg: s.section, known: true };
    }
    const p = this.predefined[name];
    if (p !== undefined) return { n: p, seg: -1, known: true };
    if (this.externs.has(name)) return { n: 0, seg: -1, known: true };
    return { n: 0, seg: -1, known: false, undef: name };
  }

  /** Evaluates a scalar expression, reporting undefined symbols and errors on the final pass. */
  private scalar(item: Item, e: Expr): EvalResult {
    const v = evaluate(e, this);
    if (v.error) this.diag(item, v.error, 'invalid-expression', e.range);
    else if (v.undef && this.final) this.diag(item, `symbol '${v.undef}' is not defined`, 'undefined-symbol', findSymbolRange(e, v.undef) ?? e.range);
    return v;
  }

  private resolveOperand(item: Item, op: Operand): ROp | undefined {
    switch (op.kind) {
      case 'register': {
        const r = registerOperand(op.name);
        if (!r) { this.diag(item, `unknown register '${op.name}'`, 'invalid-operands', op.range); return undefined; }
        return r;
      }
      case 'immediate': {
        const v = this.scalar(item, op.expr);
        if (v.error) return undefined;
        return { t: 'imm', v, size: op.size ? SIZE_BITS[op.size] : undefined, strict: op.strict, jump: op.jump };
      }
      case 'far': {
        const sel = this.scalar(item, op.segment);
        const off = this.scalar(item, op.offset);
        if (sel.error || off.error) return undefined;
        return { t: 'far', sel, off };
      }
      case 'memory': {
        const simple = simpleMemoryOperand(op, this);
        if (simple !== undefined) {
          if (simple.undef && this.final) this.diag(item, `symbol '${simple.undef}' is not defined`, 'undefined-symbol', findSymbolRange(op.address, simple.undef) ?? op.range);
          if (typeof simple.operand === 'string') { this.diag(item, simple.operand, 'invalid-operands', op.range); return undefined; }
          return simple.operand;
        }
        const v = evaluate(op.address, this, true);
        if (v.error) { this.diag(item, v.error, 'invalid-operands', op.range); return undefined; }
        if (v.undef && this.final) this.diag(item, `symbol '${v.undef}' is not defined`, 'undefined-symbol', findSymbolRange(op.address, v.undef) ?? op.range);
        const m = memoryOperand(op, v);
        if (typeof m === 'string') { this.diag(item, m, 'invalid-operands', op.range); return undefined; }
        return m;
      }
    }
  }


  // ---- passes
  run(): void {
    // Pass 0 (forward references unknown) ran while items were added. Sizing passes until no size,
    // label or section start changes; then one emitting pass that reports. If emission still moves
    // something (it should not), size again.
    const MAX_PASSES = 24;
    this.layout();
    for (this.pass = 1; this.pass < MAX_PASSES; this.pass++) {
      this.changed = false;
      this.final = false;
      this.onePass();
      this.layout();
      if (this.changed) continue;
      this.pass++;
      this.final = true;
      this.diags = [];
      this.onePass();
      this.layout();
      if (!this.changed) return;
    }
    if (!this.final) { this.final = true; this.diags = []; this.pass++; this.onePass(); this.layout(); }
  }

  private resetSections(): void {
    for (const s of this.sections) { s.pc = 0; s.len = 0; }
    this.cur = this.section('.text');
    this.bits = this.startBits;
    this.skip64 = false;
    this.struc = undefined;
    this.istrucs = [];
  }

  private layout(): void {
    let addr = this.origin;
    const order = [...this.sections.filter((s) => s.progbits && s.name === '.text'), ...this.sections.filter((s) => s.progbits && s.name !== '.text'), ...this.sections.filter((s) => !s.progbits)];
    let first = true;
    for (const s of order) {
      if (!first) addr = Math.ceil(addr / s.align) * s.align;
      if (s.start !== addr) { s.start = addr; this.changed = true; }
      addr += s.pc;
      first = false;
    }
  }

  sourceMap: SourceMapEntry[] = [];
  labels: LabelSymbol[] = [];
  constants: ConstantSymbol[] = [];

  private define(item: Item, name: string, section: number, offset: number, isLabel: boolean, range: Range): void {
    const prev = this.symbols.get(name);
    if (prev && prev.pass === this.pass) {
      // nasm accepts a symbol defined again with the same value (`K equ 4096` in two places), not a different one
      if (prev.section === section && prev.offset === offset && prev.isLabel === isLabel) return;
      this.diag(item, `symbol '${name}' is already defined with another value`, 'redefined', range);
      return;
    }
    if (!prev || prev.offset !== offset || prev.section !== section) this.changed = true;
    if (prev) { prev.section = section; prev.offset = offset; prev.file = item.file; prev.range = range; prev.pass = this.pass; prev.isLabel = isLabel; }
    else this.symbols.set(name, { section, offset, file: item.file, range, pass: this.pass, isLabel });
  }

  private onePass(): void {
    this.beginPass();
    const items = this.items;
    for (let i = 0; i < items.length; i++) this.step(items[i]);
  }

  private beginPass(): void {
    this.resetSections();
    if (this.final) { this.sourceMap = []; this.labels = []; this.constants = []; }
  }

  private step(item: Item): void {
    const final = this.final;
    const s = item.s;
    if (s === undefined) { this.emitItem(item); return; }
    {
      switch (s.kind) {
        case 'label': {
          if (this.cur.index < 0) {
            // in `absolute` space (a `struc`'s fields): a constant, no address in the image
            this.define(item, s.fullName, -1, this.cur.start + this.cur.pc, true, s.range);
            if (final) this.constants.push({ name: s.fullName, value: this.cur.start + this.cur.pc, file: item.file, range: this.rangeOf(item, s.range) });
            break;
          }
          this.define(item, s.fullName, this.cur.index, this.cur.pc, true, s.range);
          if (final) this.labels.push({ name: s.fullName, address: this.cur.start + this.cur.pc, file: item.file, range: this.rangeOf(item, s.range), section: this.cur.name });
          break;
        }
        case 'equ': {
          const v = this.scalar(item, s.value);
          if (v.seg >= 0) this.define(item, s.name, v.seg, v.n - this.sections[v.seg].start, false, s.nameRange);
          else this.define(item, s.name, -1, v.n, false, s.nameRange);
          if (final && v.seg < 0) this.constants.push({ name: s.name, value: v.n, file: item.file, range: this.rangeOf(item, s.nameRange) });
          break;
        }
        case 'directive': this.directive(item, s); break;
        case 'instruction': case 'data': case 'times': this.emitItem(item); break;
        default: break;
      }
    }
  }

  private directive(item: Item, s: Extract<Statement, { kind: 'directive' }>): void {
    const arg0 = s.args[0];
    switch (s.name) {
      case 'bits': {
        const v = arg0?.expr ? this.scalar(item, arg0.expr) : undefined;
        if (v?.n === 32 || v?.n === 16) { this.bits = v.n; this.skip64 = false; } else if (v?.n === 64) this.enter64(item, arg0?.range ?? s.range);
        else this.diag(item, 'bits must be 16, 32 or 64', 'directive', arg0?.range ?? s.range);
        break;
      }
      case 'use16': this.bits = 16; this.skip64 = false; break;
      case 'use32': this.bits = 32; this.skip64 = false; break;
      case 'use64': this.enter64(item, s.range); break;
      case 'org': {
        const v = arg0?.expr ? this.scalar(item, arg0.expr) : undefined;
        if (!v || v.seg >= 0) { this.diag(item, 'org needs a constant address', 'directive', arg0?.range ?? s.range); break; }
        if (this.originSet && this.pass === 0 && v.n !== this.origin) this.diag(item, 'org given twice', 'directive', s.range);
        if (this.origin !== v.n) this.changed = true;
        this.origin = v.n;
        this.originSet = true;
        break;
      }
      case 'section': case 'segment': {
        if (!arg0) { this.diag(item, 'section needs a name', 'directive', s.range); break; }
        const sec = this.section(arg0.text);
        for (const a of s.args.slice(1)) {
          const t = a.text.toLowerCase();
          if (t === 'nobits') sec.progbits = false;
          else if (t === 'progbits') sec.progbits = true;
          else if (t.startsWith('align=')) { const n = Number(t.slice(6)); if (n > 0 && (n & (n - 1)) === 0) sec.align = Math.max(sec.align, n); else this.diag(item, `invalid alignment '${a.text}'`, 'directive', a.range); }
        }
        this.cur = sec;
        break;
      }
      case 'align': case 'alignb': {
        const v = arg0?.expr ? this.scalar(item, arg0.expr) : undefined;
        const n = v?.n ?? 0;
        if (!v || n <= 0 || (n & (n - 1)) !== 0) { this.diag(item, 'alignment must be a power of two', 'directive', arg0?.range ?? s.range); break; }
        this.cur.align = Math.max(this.cur.align, n);
        const pad = (n - (this.cur.pc % n)) % n;
        let fill = s.name === 'align' && this.cur.progbits ? 0x90 : 0;
        if (s.args[1]?.expr) { const f = this.scalar(item, s.args[1].expr); fill = f.n & 0xff; }
        this.put(item, new Array(pad).fill(fill), 'data', pad);
        break;
      }
      case 'extern': case 'common': {
        // `extern a, b:function` declares every name; `common buf 4096:4` only its first word.
        const names = s.name === 'common' ? s.args.slice(0, 1) : s.args;
        for (const a of names) { const name = a.text.split(':')[0].trim(); if (name) this.externs.add(name); }
        break;
      }
      case 'global': case 'cpu': case 'default': case 'static': case 'warning': break;
      case 'absolute': {
        const v = arg0?.expr ? this.scalar(item, arg0.expr) : undefined;
        if (v && !v.error) this.cur = absoluteSpace(v.n);
        break;
      }
      case 'struc': case 'endstruc': case 'istruc': case 'at': case 'iend': this.structure(item, s); break;
      default: this.diag(item, `unknown directive '${s.name}'`, 'directive', s.nameRange);
    }
  }

  /**
   * NASM's structure macros: `struc name` lays out fields in absolute space from 0 (each field a
   * constant offset) and `endstruc` defines `name_size`; `istruc name` / `at name.field, dd …` / `iend`
   * build an instance, padding with zeros up to each field and to the size.
   */
  private structure(item: Item, s: Extract<Statement, { kind: 'directive' }>): void {
    const name = s.args[0]?.text ?? '';
    switch (s.name) {
      case 'struc': {
        if (!name) { this.diag(item, 'struc needs a name', 'directive', s.range); return; }
        const off = s.args[1] ? evaluate(parseExpressionText(s.args[1].text, 0).expr, this) : undefined;
        this.struc = { name, back: this.cur.index < 0 && this.struc ? this.struc.back : this.cur };
        this.cur = absoluteSpace(off?.n ?? 0);
        this.define(item, name, -1, this.cur.start, false, s.args[0].range);
        break;
      }
      case 'endstruc': {
        if (!this.struc) { this.diag(item, 'endstruc without struc', 'directive', s.range); return; }
        this.define(item, `${this.struc.name}_size`, -1, this.cur.pc, false, s.range);
        this.cur = this.struc.back;
        this.struc = undefined;
        break;
      }
      case 'istruc': this.istrucs.push({ name, start: this.cur.pc }); break;
      case 'at': case 'iend': {
        const open = this.istrucs[this.istrucs.length - 1];
        if (!open) { this.diag(item, `${s.name} without istruc`, 'directive', s.range); return; }
        const target = s.name === 'at' ? (s.args[0]?.expr ? this.scalar(item, s.args[0].expr) : undefined) : this.symbol(`${open.name}_size`);
        const base = s.name === 'at' ? this.symbol(open.name) : { n: 0, known: true };
        if (s.name === 'iend') this.istrucs.pop();
        if (!target || !target.known || !base.known) return;
        const pad = target.n - base.n - (this.cur.pc - open.start);
        if (pad < 0) { if (this.final) this.diag(item, `${s.name === 'at' ? 'field' : 'data'} goes past the structure's layout (${-pad} bytes too many before it)`, 'range', s.range); return; }
        this.put(item, new Array(pad).fill(0), 'data', pad);
        break;
      }
    }
  }

  /** Appends the first `n` of `bytes` (or reserves `size` bytes) in the current section and records the source map. */
  private put(item: Item, bytes: ArrayLike<number> | null, kind: 'instruction' | 'data', size: number, n = bytes === null ? 0 : bytes.length): void {
    const sec = this.cur;
    if (sec.pc + size > MAX_SECTION) {
      this.diag(item, `section '${sec.name}' would grow beyond ${MAX_SECTION / 1048576} MiB`, 'range');
      return;
    }
    if (sec.index < 0) { sec.pc += size; return; }
    if (this.final) {
      if (size > 0 && this.withSourceMap) this.sourceMap.push({ address: sec.start + sec.pc, length: size, file: item.file, range: this.rangeOf(item), kind, section: sec.name });
      if (!sec.progbits && bytes && anyNonZero(bytes, n)) this.diag(item, `data in the nobits section '${sec.name}' is ignored`, 'nobits', undefined, 'warning');
    }
    if ((this.final || this.capture) && sec.progbits) {
      reserve(sec, size);
      if (bytes) {
        const out = sec.bytes;
        const at = sec.len;
        for (let i = 0; i < n; i++) out[at + i] = bytes[i];
        sec.len += n;
      } else { sec.bytes.fill(0, sec.len, sec.len + size); sec.len += size; }
    }
    sec.pc += size;
  }

  /** Bytes of every cached (pure) item, back to back. */
  private cachePool = new Uint8Array(1 << 16);
  private cachePoolLen = 0;

  private enter64(item: Item, range: Range): void {
    this.skip64 = true;
    this.diag(item, '64-bit code (bits 64) is not assembled or checked: Popek assembles and runs 32-bit code; the instructions up to the next bits directive are skipped', 'bits64', range);
  }

  private emitItem(item: Item): void {
    if (this.skip64) {
      const st = statementOf(item);
      if (st.kind === 'instruction' || (st.kind === 'times' && st.body.kind === 'instruction')) return;
    }
    if (item.cacheBits === this.bits && this.cur.progbits) {
      const len = item.cacheLen;
      if (!this.final) { this.cur.pc += len; return; }
      this.putCached(item, item.cacheData ? 'data' : 'instruction', item.cacheOff, len);
      return;
    }
    const s = statementOf(item);
    if (item.pure === undefined) item.pure = isPure(s);
    if (item.pure) {
      // the bytes never change: compute them once (in whatever pass), then reuse
      const errors = this.errorCount;
      const sec = this.cur;
      const start = sec.len;
      const pc = sec.pc;
      this.capture = true;
      this.emitItemUncached(item, s);
      this.capture = false;
      if (this.errorCount === errors && sec === this.cur && sec.progbits && sec.len - start === sec.pc - pc) {
        const len = sec.len - start;
        if (this.cachePoolLen + len > this.cachePool.length) {
          let cap = this.cachePool.length * 2;
          while (cap < this.cachePoolLen + len) cap *= 2;
          const b = new Uint8Array(cap);
          b.set(this.cachePool.subarray(0, this.cachePoolLen));
          this.cachePool = b;
        }
        const pool = this.cachePool;
        const bytes = sec.bytes;
        for (let i = 0, o = this.cachePoolLen; i < len; i++) pool[o + i] = bytes[start + i];
        item.cacheBits = this.bits;
        item.cacheOff = this.cachePoolLen;
        item.cacheLen = len;
        item.cacheData = s.kind === 'data' || (s.kind === 'times' && s.body.kind === 'data');
        this.cachePoolLen += len;
        if (item.text !== undefined) item.s = undefined;
      }
      return;
    }
    this.emitItemUncached(item, s);
  }

  /** `put` of a cached item's bytes (from the cache pool). */
  private putCached(item: Item, kind: 'instruction' | 'data', off: number, size: number): void {
    const sec = this.cur;
    if (!sec.progbits || sec.pc + size > MAX_SECTION) { this.put(item, this.cachePool.subarray(off, off + size), kind, size); return; }
    if (size > 0 && this.withSourceMap) this.sourceMap.push({ address: sec.start + sec.pc, length: size, file: item.file, range: this.rangeOf(item), kind, section: sec.name });
    reserve(sec, size);
    const pool = this.cachePool;
    const out = sec.bytes;
    const at = sec.len;
    for (let i = 0; i < size; i++) out[at + i] = pool[off + i];
    sec.len += size;
    sec.pc += size;
  }

  private emitItemUncached(item: Item, s: Statement): void {
    let count = 1;
    let body = s;
    if (s.kind === 'times') {
      const v = this.scalar(item, s.count);
      if (v.error) return;
      count = v.n;
      if (!v.known) count = 0;
      if (count < 0) { if (this.final) this.diag(item, `times count is negative (${count})`, 'range', s.count.range); count = 0; }
      if (count > 16 * 1024 * 1024) { this.diag(item, `times count ${count} is too large`, 'range', s.count.range); count = 0; }
      body = s.body;
    }
    if (body.kind === 'data') {
      const all: number[] = [];
      let reserve = 0;
      const fixed = !body.items.some(exprUsesHere);
      for (let k = 0; k < count; k++) {
        const r = this.dataBytes(item, body, k === 0);
        if (r === null) return;
        if (typeof r === 'number') { if (fixed) { reserve = r * count; break; } reserve += r; continue; }
        if (fixed && count > 1) {
          if (r.length * count > MAX_SECTION) { this.diag(item, `times ${count} makes more than ${MAX_SECTION / 1048576} MiB`, 'range'); return; }
          if (!this.final && !this.capture) { reserve = r.length * count; break; }
          for (let j = 0; j < count; j++) for (let b = 0; b < r.length; b++) all.push(r[b]);
          break;
        }
        for (const b of r) all.push(b);
      }
      if (reserve) this.put(item, this.final && !this.cur.progbits ? null : null, 'data', reserve);
      else this.put(item, all, 'data', all.length);
      return;
    }
    if (body.kind !== 'instruction') return;
    // the resolved operands live in one array reused from instruction to instruction (the encoder keeps none)
    const ops = this.ops;
    emptyKeepingStore(ops);
    for (let k = 0; k < body.operands.length; k++) {
      const r = this.resolveOperand(item, body.operands[k]);
      if (!r) { this.put(item, null, 'instruction', 0); return; }
      ops.push(r);
    }
    const prefixes = item.prefixNames ??= body.prefixes.length === 0 ? NO_PREFIXES : body.prefixes.map((p) => p.name);
    const emitting = this.final || this.capture;
    // the bytes of a `times` of an instruction, gathered (a single instruction is copied from the encoder's buffer)
    let total: number[] | undefined;
    let size = 0;
    for (let k = 0; k < count; k++) {
      const ec = this.encodeContext;
      ec.bits = this.bits; ec.address = this.cur.start + this.cur.pc + size; ec.section = this.cur.index; ec.forceNear = item.forceNear; ec.sizeOnly = !emitting;
      const enc = encodeInstruction(body.mnemonic, prefixes, ops, ec);
      if ('error' in enc) {
        const range = enc.operand !== undefined ? body.operands[enc.operand]?.range : enc.code === 'unknown-instruction' ? body.mnemonicRange : body.range;
        this.diag(item, enc.error, enc.code, range);
        return;
      }
      if (enc.warnings && k === 0) for (const w of enc.warnings) this.diag(item, w, 'range', body.range, 'warning');
      const bytes = encodedBytes();
      if (k === 0 && enc.length === 1 && bytes[0] === 0x0f) this.diag(item, "'pop cs' only exists on the 8086: the byte 0F it assembles to starts a two-byte opcode on later CPUs", 'obsolete', body.range, 'warning');
      if (k === 0 && count > 1 && !enc.form.imm.some((i) => i === 'rel8' || i === 'rel32') && !usesHere(body)) {
        // position-independent: the same bytes every time
        size = enc.length * count;
        if (emitting) { total = new Array(size); for (let j = 0; j < size; j++) total[j] = bytes[j % enc.length]; }
        break;
      }
      if (emitting && count > 1) { total ??= []; for (let j = 0; j < enc.length; j++) total.push(bytes[j]); }
      size += enc.length;
    }
    if (item.size !== size) {
      if (item.size && size > item.size && this.pass > 6) item.forceNear = true;
      item.size = size;
      this.changed = true;
    }
    if (!emitting) this.put(item, null, 'instruction', size);
    else if (total !== undefined) this.put(item, total, 'instruction', size);
    else this.put(item, encodedBytes(), 'instruction', size, size);
  }

  /** Files read by `incbin` (by including file and name), once per assembly rather than once per pass. */
  private readonly binaries = new Map<string, Uint8Array | undefined>();

  /** `incbin "file"[, skip[, length]]`: the file's bytes from `skip`, at most `length` of them (NASM manual §3.2.3). */
  private incbinBytes(item: Item, s: Extract<Statement, { kind: 'data' }>, report: boolean): number[] | null {
    const [name, skipExpr, lengthExpr] = s.items;
    if (name?.kind !== 'string' || s.items.length > 3) { if (report) this.diag(item, 'incbin expects a quoted file name, then an optional skip and length', 'syntax', s.range); return null; }
    const key = `${item.file}\0${name.value}`;
    if (!this.binaries.has(key)) this.binaries.set(key, this.readBinary?.(name.value, item.file));
    const data = this.binaries.get(key);
    if (!data) { if (report) this.diag(item, `unable to open file '${name.value}'`, 'include', name.range); return null; }
    const count = (e: Expr | undefined, dflt: number): number | null => {
      if (!e) return dflt;
      const v = this.scalar(item, e);
      if (v.error) return null;
      if (v.known && v.seg >= 0) { if (report) this.diag(item, 'incbin offsets must be constants', 'range', e.range); return null; }
      return v.known ? Math.max(0, v.n) : 0;
    };
    const skip = count(skipExpr, 0);
    const length = count(lengthExpr, data.length);
    if (skip === null || length === null) return null;
    return Array.from(data.subarray(Math.min(skip, data.length), Math.min(data.length, skip + length)));
  }

  /** Bytes of one data statement, or the number of bytes reserved; null on error. */
  private dataBytes(item: Item, s: Extract<Statement, { kind: 'data' }>, report: boolean): number[] | number | null {
    const unit = DATA_UNIT[s.directive];
    if (s.directive === 'incbin') return this.incbinBytes(item, s, report);
    if (s.directive.startsWith('res')) {
      const v = s.items[0] ? this.scalar(item, s.items[0]) : undefined;
      if (!v || v.error) return null;
      if (s.items.length > 1 && report) this.diag(item, `${s.directive} takes one count`, 'syntax', s.items[1].range);
      if (v.n < 0 && v.known) { if (report) this.diag(item, `${s.directive} count is negative`, 'range', s.items[0].range); return 0; }
      if (v.known && v.seg >= 0 && report) this.diag(item, `${s.directive} count must be a constant`, 'range', s.items[0].range);
      return v.known ? Math.min(v.n, 64 * 1024 * 1024) * unit : 0;
    }
    const out: number[] = [];
    for (const e of s.items) {
      const f = floatItem(e);
      if (f !== undefined) {
        const value = f.special ?? parseFloatText(f.text);
        if (typeof value === 'string' && f.special === undefined) { if (report) this.diag(item, value, 'syntax', e.range); return null; }
        const enc = encodeFloat(value as Exclude<typeof value, string> | NonNullable<typeof f.special>, f.negative, unit);
        if (enc.overflow && report) this.diag(item, 'overflow in floating-point constant', 'range', e.range, 'warning');
        for (const b of floatBytes(enc.bits, unit)) out.push(b);
        continue;
      }
      if (unit === 10 || unit === 16) { if (report) this.diag(item, `integer supplied as ${unit * 8}-bit data (${s.directive} takes floating-point constants)`, 'invalid-operands', e.range); return null; }
      if (e.kind === 'string' && (unit === 1 || e.value.length > unit)) {
        for (let i = 0; i < e.value.length; i++) out.push(e.value.charCodeAt(i) & 0xff);
        const pad = (unit - (e.value.length % unit)) % unit;
        for (let i = 0; i < pad; i++) out.push(0);
        continue;
      }
      const v = this.scalar(item, e);
      if (v.error) return null;
      let n = v.n;
      if (unit === 1 && v.known && (n < -128 || n > 255) && report) this.diag(item, `byte value ${n} exceeds bounds`, 'range', e.range, 'warning');
      if (unit === 2 && v.known && (n < -32768 || n > 65535) && report) this.diag(item, `word value ${n} exceeds bounds`, 'range', e.range, 'warning');
      if (unit === 8) {
        const exact = e.kind === 'number' && e.big !== undefined ? e.big : e.kind === 'unary' && e.op === '-' && e.arg.kind === 'number' && e.arg.big !== undefined ? -e.arg.big : undefined;
        const big = BigInt.asUintN(64, exact ?? BigInt(Math.trunc(n)));
        for (let i = 0n; i < 8n; i++) out.push(Number((big >> (8n * i)) & 0xffn));
        continue;
      }
      for (let i = 0; i < unit; i++) { out.push(n & 0xff); n = Math.floor(n / 256); }
    }
    return out;
  }

  result(files: string[], macros: MacroSymbol[], preDiags: Diagnostic[]): AssemblyResult {
    const progbits = this.sections.filter((s) => s.progbits && s.pc > 0);
    let end = this.origin;
    for (const s of progbits) end = Math.max(end, s.start + s.pc);
    const size = Math.max(0, end - this.origin);
    let bytes: Uint8Array;
    try { bytes = new Uint8Array(size); } catch { bytes = new Uint8Array(0); }
    for (const s of progbits) {
      const off = s.start - this.origin;
      if (off < 0 || off >= bytes.length) continue;
      bytes.set(s.bytes.subarray(0, Math.min(s.len, bytes.length - off)), off);
    }
    const entryLabel = this.labels.find((l) => l.name === '_start') ?? this.labels.find((l) => l.name === 'start');
    const sections: SectionLayout[] = this.sections.map((s) => ({ name: s.name, start: s.start, size: s.pc, nobits: !s.progbits }));
    return {
      bytes, origin: this.origin, entry: entryLabel ? entryLabel.address : this.origin, sourceMap: this.sourceMap, labels: this.labels,
      constants: this.constants, macros, sections, diagnostics: [...preDiags, ...this.diags], files,
    };
  }
}

const MAX_SECTION = 64 * 1024 * 1024;

/** Register operands, one per register (the encoder never changes an operand). */
const REGISTER_OPERANDS = new Map<string, ROp>();
function registerOperand(name: string): ROp | undefined {
  let op = REGISTER_OPERANDS.get(name);
  if (op === undefined) {
    const reg = register(name);
    if (!reg) return undefined;
    REGISTER_OPERANDS.set(name, op = { t: 'reg', reg });
  }
  return op;
}

/** The prefix names of the (most) instructions written without one. */
const NO_PREFIXES: readonly string[] = Object.freeze([]);

function anyNonZero(bytes: ArrayLike<number>, n: number): boolean {
  for (let i = 0; i < n; i++) if (bytes[i] !== 0) return true;
  return false;
}

/** Absolute space from `start` (`absolute`, `struc`): labels are constants, nothing is emitted. */
function absoluteSpace(start: number): Section {
  return { name: '(absolute)', index: -1, progbits: false, align: 1, pc: 0, start, bytes: new Uint8Array(0), len: 0 };
}

/** Bytes per item of each data directive. */
const DATA_UNIT: Record<DataDirective, number> = { db: 1, dw: 2, dd: 4, dq: 8, dt: 10, do: 16, resb: 1, resw: 2, resd: 4, resq: 8, rest: 10, reso: 16, incbin: 1 };

/** A data item that is a floating-point constant, with its signs (`dd -1.5`): NASM takes no other arithmetic on one. */
function floatItem(e: Expr): { text: string; special: ReturnType<typeof floatSpecial>; negative: boolean } | undefined {
  let negative = false;
  while (e.kind === 'unary' && (e.op === '-' || e.op === '+')) { if (e.op === '-') negative = !negative; e = e.arg; }
  return e.kind === 'float' ? { text: e.text, special: floatSpecial(e.text), negative } : undefined;
}
