// The x87 and SIMD rows of the instruction table are defined on first need (core/isa/table.ts
// defineLateRows: `popek run` of a guest without them starts faster). Whatever asks first — a
// decode of one of their opcodes, a look-up of one of their names — must see the same table and the
// same forms per opcode as a table built whole. A fresh copy of the table's modules is loaded per check.
import * as assert from 'node:assert/strict';
import { allInstructions, lateRowNames } from '../../core/isa/table';
import { formsForOpcode } from '../../core/isa/formIndex';

type Table = typeof import('../../core/isa/table');
type Index = typeof import('../../core/isa/formIndex');

const MODULES = /core[\\/]isa[\\/](table|formIndex|x87|simd)\.[jt]s$/;
/** The suite's own copies of the modules, put back after each test (other tests must share one table). */
const saved = new Map<string, NodeJS.Module | undefined>();

/** The table and form index modules loaded afresh (nothing defined beyond what loading defines). */
function fresh(): { table: Table; index: Index } {
  for (const k of Object.keys(require.cache)) {
    if (!MODULES.test(k)) continue;
    if (!saved.has(k)) saved.set(k, require.cache[k]);
    delete require.cache[k];
  }
  /* eslint-disable @typescript-eslint/no-require-imports */
  const table = require('../../core/isa/table') as Table;
  const index = require('../../core/isa/formIndex') as Index;
  /* eslint-enable @typescript-eslint/no-require-imports */
  return { table, index };
}

/** An opcode's forms as text (row and encoding, in order of preference). */
const describe_ = (list: readonly { info: { mnemonic: string }; form: { encoding: string }; reg?: number }[]) => list.map((c) => `${c.info.mnemonic} ${c.form.encoding} ${c.reg ?? ''}`).join('; ');
const KEYS = Array.from({ length: 0x200 }, (_, k) => k);
const late = (info: { category: string; forms: { handler?: string }[] }) => info.category === 'x87' || info.category === 'simd';

describe('isa table: x87 and SIMD rows defined on first need', () => {
  afterEach(() => {
    for (const k of Object.keys(require.cache)) if (MODULES.test(k)) delete require.cache[k];
    for (const [k, m] of saved) if (m) require.cache[k] = m;
    saved.clear();
  });
  it('every form of the late rows sits under an opcode that defines them, and every name that needs them defines them', () => {
    const { table } = fresh();
    for (const info of allInstructions()) {
      const lateForms = info.forms.filter((f) => late(info) || f.handler === 'simd' || f.handler === 'x87');
      if (lateForms.length === 0) continue;
      for (const name of [info.mnemonic, ...(info.aliases ?? [])]) assert.ok(lateRowNames().has(name), `${name} is not among the late names`);
      for (const f of lateForms) {
        const keys = KEYS.filter((k) => formsForOpcode(k).some((c) => c.form === f));
        assert.ok(keys.length > 0, `${info.mnemonic} ${f.encoding} indexed`);
        for (const k of keys) assert.ok(table.isLateOpcode(k), `${info.mnemonic} ${f.encoding} under 0x${k.toString(16)}, not a late opcode`);
      }
    }
  });

  it('decoding only base opcodes leaves them undefined; the forms per opcode equal the whole table\'s before and after', () => {
    const { table, index } = fresh();
    const whole = allInstructions().length;
    const base = KEYS.filter((k) => !table.isLateOpcode(k));
    for (const k of base) assert.equal(describe_(index.formsForOpcode(k)), describe_(formsForOpcode(k).filter((c) => !late(c.info) && c.form.handler !== 'simd')), `0x${k.toString(16)} before`);
    assert.ok(table.definedInstructions().length < whole, 'late rows still undefined');
    assert.ok(table.instructionInfo('mov') && table.definedInstructions().length < whole, 'a base name does not define them');
    // The first late opcode defines them; every opcode then has all its forms.
    assert.ok(index.formsForOpcode(0xd9).length > 0);
    assert.equal(table.definedInstructions().length, whole);
    for (const k of KEYS) assert.equal(describe_(index.formsForOpcode(k)), describe_(formsForOpcode(k)), `0x${k.toString(16)} after`);
    assert.equal(JSON.stringify(table.definedInstructions()), JSON.stringify(allInstructions()), 'the same rows in the same order');
  });

  it('a look-up of a late name (an x87 row, a SIMD row, MOVSD with its SSE2 forms) defines them first', () => {
    for (const name of ['fld', 'fstsw', 'paddd', 'movsd']) {
      const { table } = fresh();
      const info = table.instructionInfo(name);
      assert.ok(info, name);
      assert.equal(JSON.stringify(info), JSON.stringify(allInstructions().find((i) => i.mnemonic === info.mnemonic)), name);
    }
    // A label-like name is not a late one: nothing is defined.
    const { table } = fresh();
    assert.equal(table.instructionInfo('start'), undefined);
    assert.ok(table.definedInstructions().length < allInstructions().length);
  });

  it('a row defined at load is compiled on its first look-up, to the same row as a table compiled whole, in any order', () => {
    // (a short `popek asm` parses the rows it uses only): each name looked up in a fresh table, in
    // reverse table order, before anything compiles the others
    const { table } = fresh();
    const whole = new Map(allInstructions().map((info) => [info.mnemonic, JSON.stringify(info)]));
    const base = allInstructions().filter((info) => !late(info)).reverse();
    for (const info of base) assert.equal(JSON.stringify(table.instructionInfo(info.mnemonic)), whole.get(info.mnemonic), info.mnemonic);
    assert.ok(base.every((info) => table.instructionInfo(info.mnemonic)!.forms.length > 0 || info.forms.length === 0));
    const att = table.attInstructionInfo('movl');
    assert.equal(att?.info.mnemonic, 'mov');
    assert.equal(att?.size, 32);
  });
});
