/* Launch configurations: F5 defaults and the messages for bad configurations. */
import * as assert from 'node:assert/strict';
import { defaultLaunchConfig, launchConfigProblems, withDefaults } from '../../client/launchConfig';

const exists = (p: string) => p === '/ws/hello.gasm';
const base = { type: 'popek', request: 'launch', name: 'x', program: '/ws/hello.gasm' };

describe('client: launch configurations', () => {
  it('F5 with no launch.json debugs the file in the configured technique, stopping on entry', () => {
    const c = defaultLaunchConfig('/ws/hello.gasm', 'hardware-assisted', 'vtx-2006');
    assert.deepEqual(c, { type: 'popek', request: 'launch', name: 'Debug hello.gasm (hardware-assisted)', program: '/ws/hello.gasm',
      mode: 'hardware-assisted', cost: 'vtx-2006', stopOnEntry: true });
    assert.deepEqual(launchConfigProblems(c, exists), []);
  });

  it('a user configuration keeps its values and gets the settings for the rest', () => {
    assert.deepEqual(withDefaults({ ...base, mode: 'native', stopOnEntry: false }, 'paravirtual', 'modern'),
      { ...base, mode: 'native', cost: 'modern', stopOnEntry: false });
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no program', { program: undefined }, /"program" must name/],
    ['a missing file', { program: '/ws/nope.gasm' }, /does not exist: \/ws\/nope\.gasm/],
    ['an unknown mode', { mode: 'vmware' }, /"mode" must be one of native, trap-and-emulate/],
    ['an unknown cost profile', { cost: 'fast' }, /"cost" must be one of modern, vtx-2006/],
    ['zero memory', { memoryMiB: 0 }, /"memoryMiB" must be a whole number from 1/],
    ['fractional memory', { memoryMiB: 1.5 }, /"memoryMiB"/],
    ['negative load address', { loadAddress: -1 }, /"loadAddress" must be an address/],
    ['a negative instruction limit', { maxInstructions: -1 }, /"maxInstructions" must be a whole number ≥ 0/],
    ['a string for a boolean', { stopOnEntry: 'yes' }, /"stopOnEntry" must be true or false/],
    ['attach', { request: 'attach' }, /"request" must be "launch"/],
  ];
  for (const [what, change, message] of bad) {
    it(`says what is wrong with ${what}`, () => {
      const problems = launchConfigProblems({ ...base, ...change }, exists);
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.match(problems[0], message);
    });
  }
});
