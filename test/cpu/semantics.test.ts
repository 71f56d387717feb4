// Every form of the instruction table carries the key of its semantics handler (EncodingForm.handler);
// core/cpu/semantics.ts registers handlers by those keys. Every form the CPU can decode has a
// registered handler (bound into the CPU's dispatch tables), and every registered handler is some
// form's: no handler for a row that is gone, no row left without one.
import * as assert from 'node:assert/strict';
import { allInstructions } from '../../core/isa/table';
import { dispatchEntry } from '../../core/cpu/dispatch';
import { handlerKeys, semanticsOf } from '../../core/cpu/semantics';

describe('cpu semantics: one handler per table key', () => {
  it('every form has a handler key with a registered handler', () => {
    let forms = 0;
    for (const info of allInstructions()) {
      for (const form of info.forms) {
        assert.ok(form.handler, `${info.mnemonic} (${form.encoding}) has a handler key`);
        assert.ok(semanticsOf(form), `${info.mnemonic} (${form.encoding}): handler '${form.handler}' is registered`);
        forms++;
      }
    }
    assert.ok(forms > 1000, `${forms} forms`);
  });

  it('the CPU\'s dispatch tables bind every decodable form to the handler its key names', () => {
    const bound = new Set<string>();
    for (let op = 0; op < 0x200; op++) {
      const entry = dispatchEntry(op);
      if (!entry) continue;
      for (const m of entry.forms) {
        const d = entry.decoding.get(m.form);
        assert.ok(d, `${m.info.mnemonic} (${m.form.encoding}) is bound`);
        assert.equal(d.bind, semanticsOf(m.form), `${m.info.mnemonic}: the bound handler is its key's`);
        bound.add(m.form.handler);
      }
    }
    // Every registered handler is used by a form the CPU decodes.
    for (const key of handlerKeys()) assert.ok(bound.has(key), `handler '${key}' is some decodable form's`);
  });
});
