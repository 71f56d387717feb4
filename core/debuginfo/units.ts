/*
 * DWARF .debug_info (versions 2–5) read for what a source-level debugger of small kernels needs:
 * per compilation unit its name, compilation directory and line program (DW_AT_stmt_list); the
 * functions (DW_TAG_subprogram with low/high pc) and the global variables (DW_TAG_variable whose
 * location is a fixed address, DW_OP_addr) with the size and name of their type. Every DIE is
 * walked with its abbreviation, so attributes this reader does not use are skipped exactly.
 */
import { formClass, readForm, type FormContext, type FormValue } from './forms';
import { DwarfError, Reader } from './reader';

export interface CompileUnit {
  offset: number;
  version: number;
  name: string;
  compDir: string;
  /** Offset of its line program in .debug_line. */
  stmtList?: number;
  producer: string;
  language?: number;
}

export interface SubprogramInfo {
  name: string;
  low: number;
  /** First address past the function. */
  high: number;
  external: boolean;
  unit: number;
}

export interface GlobalVariableInfo {
  name: string;
  address: number;
  /** Bytes of its type (0 when unknown). */
  size: number;
  /** The type as C spells it (`int`, `char[16]`, `struct idt_entry`, `unsigned short*`). */
  typeName: string;
  external: boolean;
}

export interface InfoSections {
  debugInfo: Uint8Array;
  debugAbbrev: Uint8Array;
  debugStr?: Uint8Array;
  debugLineStr?: Uint8Array;
  debugStrOffsets?: Uint8Array;
  debugAddr?: Uint8Array;
}

export interface DebugInfoUnits {
  units: CompileUnit[];
  subprograms: SubprogramInfo[];
  globals: GlobalVariableInfo[];
}

const TAG = { array_type: 0x01, enumeration_type: 0x04, pointer_type: 0x0f, compile_unit: 0x11, structure_type: 0x13, typedef: 0x16, union_type: 0x17, subrange_type: 0x21, base_type: 0x24, const_type: 0x26, subprogram: 0x2e, variable: 0x34, volatile_type: 0x35, partial_unit: 0x3c } as const;
const AT = { location: 0x02, name: 0x03, byte_size: 0x0b, stmt_list: 0x10, low_pc: 0x11, high_pc: 0x12, language: 0x13, comp_dir: 0x1b, upper_bound: 0x2f, count: 0x37, declaration: 0x3c, external: 0x3f, type: 0x49, specification: 0x47, producer: 0x25, str_offsets_base: 0x72, addr_base: 0x73 } as const;
const DW_OP_addr = 0x03;

interface AttrSpec { name: number; form: number; implicitConst: number }
interface Abbrev { tag: number; children: boolean; attrs: AttrSpec[] }

function parseAbbrevs(section: Uint8Array, offset: number): Map<number, Abbrev> {
  const r = new Reader(section, offset, section.length, '.debug_abbrev');
  const out = new Map<number, Abbrev>();
  for (;;) {
    const code = r.uleb();
    if (code === 0) break;
    const tag = r.uleb(), children = r.u8() !== 0, attrs: AttrSpec[] = [];
    for (;;) {
      const name = r.uleb(), form = r.uleb();
      if (name === 0 && form === 0) break;
      attrs.push({ name, form, implicitConst: form === 0x21 ? r.sleb() : 0 });
    }
    out.set(code, { tag, children, attrs });
  }
  return out;
}

/** A DIE kept for type names and sizes (types are referred to by section offset). */
interface TypeDie { tag: number; name?: string; size?: number; type?: number; count?: number; children: number[] }

export function parseDebugInfo(s: InfoSections): DebugInfoUnits {
  const result: DebugInfoUnits = { units: [], subprograms: [], globals: [] };
  const r = new Reader(s.debugInfo, 0, s.debugInfo.length, '.debug_info');
  const abbrevCache = new Map<number, Map<number, Abbrev>>();
  while (!r.atEnd) {
    const unitOffset = r.pos;
    const { length, offsetSize } = r.initialLength();
    const u = r.sub(length, `.debug_info unit at 0x${unitOffset.toString(16)}`);
    const version = u.u16();
    if (version < 2 || version > 5) throw new DwarfError(`.debug_info unit at 0x${unitOffset.toString(16)}: version ${version} (expected 2 to 5)`);
    let addressSize: number, abbrevOffset: number, unitType = 1;
    if (version >= 5) {
      unitType = u.u8();
      addressSize = u.u8();
      abbrevOffset = u.uN(offsetSize);
      if (unitType === 4 || unitType === 5) u.skip(8); // skeleton / split compile: dwo_id
      else if (unitType === 2 || unitType === 6) u.skip(8 + offsetSize); // type units: signature, type offset
    } else {
      abbrevOffset = u.uN(offsetSize);
      addressSize = u.u8();
    }
    let abbrevs = abbrevCache.get(abbrevOffset);
    if (!abbrevs) abbrevCache.set(abbrevOffset, abbrevs = parseAbbrevs(s.debugAbbrev, abbrevOffset));
    const ctx: FormContext = { version, addressSize, offsetSize, debugStr: s.debugStr, debugLineStr: s.debugLineStr, debugStrOffsets: s.debugStrOffsets, debugAddr: s.debugAddr };
    if (unitType === 1 || unitType === 3) walkUnit(u, unitOffset, abbrevs, ctx, result);
  }
  return result;
}

function walkUnit(u: Reader, unitOffset: number, abbrevs: Map<number, Abbrev>, ctx: FormContext, out: DebugInfoUnits): void {
  const types = new Map<number, TypeDie>();
  const pendingGlobals: Array<{ name: string; address: number; type?: number; external: boolean }> = [];
  const declarations = new Map<number, { name?: string; type?: number; external: boolean }>();
  /** Stack of open DIEs with children: their offsets (for array subranges). */
  const parents: number[] = [];

  while (!u.atEnd) {
    const dieOffset = u.pos;
    const code = u.uleb();
    if (code === 0) { parents.pop(); continue; }
    const ab = abbrevs.get(code);
    if (!ab) throw new DwarfError(`.debug_info DIE at 0x${dieOffset.toString(16)}: abbreviation ${code} is not defined`);
    const a = new Map<number, { v: FormValue; form: number }>();
    for (const spec of ab.attrs) {
      let v = readForm(u, spec.form, ctx, spec.implicitConst);
      // Unit-relative references become section offsets (ref_addr already is one).
      if (formClass(spec.form) === 'reference' && spec.form !== 0x10 && typeof v === 'number') v += unitOffset;
      a.set(spec.name, { v, form: spec.form });
      if (spec.name === AT.str_offsets_base && typeof v === 'number') ctx.strOffsetsBase = v;
      if (spec.name === AT.addr_base && typeof v === 'number') ctx.addrBase = v;
    }
    const num = (n: number) => { const x = a.get(n)?.v; return typeof x === 'number' ? x : undefined; };
    const str = (n: number) => { const x = a.get(n)?.v; return typeof x === 'string' ? x : undefined; };
    const depth = parents.length;
    switch (ab.tag) {
      case TAG.compile_unit: case TAG.partial_unit:
        out.units.push({ offset: unitOffset, version: ctx.version, name: str(AT.name) ?? '', compDir: str(AT.comp_dir) ?? '', stmtList: num(AT.stmt_list), producer: str(AT.producer) ?? '', language: num(AT.language) });
        break;
      case TAG.subprogram: {
        const low = num(AT.low_pc), hi = a.get(AT.high_pc);
        const name = str(AT.name) ?? (num(AT.specification) !== undefined ? declarations.get(num(AT.specification)!)?.name : undefined);
        if (low !== undefined && hi && typeof hi.v === 'number' && name) {
          const high = formClass(hi.form) === 'address' ? hi.v : low + hi.v;
          out.subprograms.push({ name, low, high, external: a.get(AT.external)?.v === true, unit: unitOffset });
        }
        break;
      }
      case TAG.variable: {
        const loc = a.get(AT.location)?.v;
        const spec = num(AT.specification);
        const decl = spec !== undefined ? declarations.get(spec) : undefined;
        const name = str(AT.name) ?? decl?.name;
        if (a.get(AT.declaration)?.v === true) declarations.set(dieOffset, { name, type: num(AT.type), external: a.get(AT.external)?.v === true });
        if (loc instanceof Uint8Array && loc.length === 1 + ctx.addressSize && loc[0] === DW_OP_addr && name) {
          const address = new Reader(loc, 1, loc.length).uN(ctx.addressSize);
          pendingGlobals.push({ name, address, type: num(AT.type) ?? decl?.type, external: a.get(AT.external)?.v === true || (decl?.external ?? false) });
        }
        break;
      }
      default:
        break;
    }
    if (isTypeTag(ab.tag) || ab.tag === TAG.subrange_type) {
      const count = num(AT.count) ?? (num(AT.upper_bound) !== undefined ? num(AT.upper_bound)! + 1 : undefined);
      types.set(dieOffset, { tag: ab.tag, name: str(AT.name), size: num(AT.byte_size), type: num(AT.type), count, children: [] });
      if (ab.tag === TAG.subrange_type && depth > 0) types.get(parents[depth - 1])?.children.push(dieOffset);
    }
    if (ab.children) parents.push(dieOffset);
  }
  for (const g of pendingGlobals) {
    const t = describeType(types, g.type, ctx.addressSize, 0);
    out.globals.push({ name: g.name, address: g.address, size: t.size, typeName: t.name, external: g.external });
  }
}

function isTypeTag(tag: number): boolean {
  return tag === TAG.base_type || tag === TAG.pointer_type || tag === TAG.typedef || tag === TAG.const_type || tag === TAG.volatile_type ||
    tag === TAG.structure_type || tag === TAG.union_type || tag === TAG.enumeration_type || tag === TAG.array_type;
}

/** The C spelling and byte size of a type DIE (bounded depth: DWARF can describe cycles through pointers). */
function describeType(types: Map<number, TypeDie>, ref: number | undefined, addressSize: number, depth: number): { name: string; size: number } {
  if (ref === undefined) return { name: 'void', size: 0 };
  const t = types.get(ref);
  if (!t || depth > 8) return { name: '?', size: 0 };
  const inner = () => describeType(types, t.type, addressSize, depth + 1);
  switch (t.tag) {
    case TAG.base_type: return { name: t.name ?? '?', size: t.size ?? 0 };
    case TAG.pointer_type: return { name: `${inner().name}*`, size: t.size ?? addressSize };
    case TAG.typedef: return { name: t.name ?? inner().name, size: inner().size };
    case TAG.const_type: { const i = inner(); return { name: `const ${i.name}`, size: i.size }; }
    case TAG.volatile_type: { const i = inner(); return { name: `volatile ${i.name}`, size: i.size }; }
    case TAG.structure_type: return { name: `struct ${t.name ?? '<anonymous>'}`, size: t.size ?? 0 };
    case TAG.union_type: return { name: `union ${t.name ?? '<anonymous>'}`, size: t.size ?? 0 };
    case TAG.enumeration_type: return { name: `enum ${t.name ?? '<anonymous>'}`, size: t.size ?? 4 };
    case TAG.array_type: {
      const el = inner();
      const dims = t.children.map((c) => types.get(c)?.count);
      const n = dims.reduce<number>((p, d) => p * (d ?? 0), 1);
      return { name: `${el.name}${dims.map((d) => `[${d ?? ''}]`).join('')}`, size: t.size ?? el.size * n };
    }
    default: return { name: t.name ?? '?', size: t.size ?? 0 };
  }
}
