/* client/config.ts and package.json's contributes.configuration describe the same settings. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Config, MODES, SETTINGS, modeOverride, readSetting } from '../../client/config';
import { repoRoot } from '../../scripts/gen-grammars';

const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(__dirname), 'package.json'), 'utf8'));
const props: Record<string, { type: string; default: unknown; enum?: string[]; minimum?: number; maximum?: number; scope?: string; markdownDescription?: string; description?: string }> =
  pkg.contributes.configuration.properties;

describe('client: settings', () => {
  it('package.json and client/config.ts list the same keys', () => {
    assert.deepEqual(Object.keys(props).sort(), Object.keys(SETTINGS).map((k) => `popek.${k}`).sort());
  });

  for (const [key, spec] of Object.entries(SETTINGS)) {
    it(`popek.${key}: same type, default and values, and a description`, () => {
      const p = props[`popek.${key}`];
      assert.ok(p, `popek.${key} missing from package.json`);
      assert.deepEqual(p.default, spec.default);
      assert.ok(p.markdownDescription || p.description, 'no description');
      if (spec.type === 'enum') {
        assert.equal(p.type, 'string');
        assert.deepEqual(p.enum, [...spec.values]);
      } else {
        assert.equal(p.type, spec.type);
        if ('min' in spec) assert.equal(p.minimum, spec.min);
        if ('max' in spec) assert.equal(p.maximum, spec.max);
      }
    });
  }

  it('the debugger contribution offers the same modes and cost profiles', () => {
    const attrs = pkg.contributes.debuggers[0].configurationAttributes.launch.properties;
    assert.deepEqual(attrs.mode.enum, [...MODES]);
    assert.deepEqual(attrs.cost.enum, [...SETTINGS.cost.values]);
  });

  it('settings a workspace could use to redirect the debug adapter are machine-scoped', () => {
    assert.equal(props['popek.debugAdapter.mode'].scope, 'machine');
    assert.equal(props['popek.debugAdapter.port'].scope, 'machine');
  });

  it('bad values read as the default', () => {
    const reader = (values: Record<string, unknown>) => ({ get: <T>(k: string) => values[k] as T | undefined });
    const c = new Config(reader({ mode: 'warp-drive', cost: 'vtx-2006', maxNumberOfProblems: -3, 'debugAdapter.port': 70000 }));
    assert.equal(c.mode, 'paravirtual');
    assert.equal(c.cost, 'vtx-2006');
    assert.equal(c.maxNumberOfProblems, 1000);
    assert.equal(c.adapterPort, 4711);
    assert.equal(readSetting(reader({ mode: 'native' }), 'mode'), 'native');
    assert.equal(new Config(reader({})).adapterMode, 'inline');
  });

  it('finds the `popek: mode=` override in a file', () => {
    assert.equal(modeOverride('; popek: mode=trap-and-emulate\nbits 32'), 'trap-and-emulate');
    assert.equal(modeOverride('bits 32\n  ;popek: mode=native'), 'native');
    assert.equal(modeOverride('# popek: mode=hardware-assisted'), 'hardware-assisted');
    assert.equal(modeOverride('; popek: mode=bogus'), undefined);
    // The language server's reading (core/lint/modeMarker.ts is the one parser): a trailing comment
    // counts, anywhere in the file, and the first marker wins.
    assert.equal(modeOverride('mov eax, 1 ; popek: mode=native'), 'native');
    assert.equal(modeOverride('bits 32\n'.repeat(60) + '; popek: mode=native\n; popek: mode=paravirtual'), 'native');
    assert.equal(modeOverride('mov eax, 1\n'), undefined);
  });
});
