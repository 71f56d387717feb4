/*
 * The debugger tests refuse a stale adapter bundle (test/support/freshBundle.ts): a dist/ file older
 * than a source under debugger/ or core/ is named with the source that is newer and what to run.
 * Judged on real files: a copy of the bundle with its modification time set before and after the sources'.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { staleBundle } from '../support/freshBundle';
import { ADAPTER_SOURCES } from './support';

describe('the debugger tests refuse a stale dist/ bundle', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-bundle-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a bundle older than a debugger/ or core/ source: refused, naming that source and npm run build', () => {
    const old = path.join(dir, 'old.js');
    fs.writeFileSync(old, '');
    fs.utimesSync(old, new Date(2000, 0, 1), new Date(2000, 0, 1));
    const why = staleBundle(old, ADAPTER_SOURCES);
    assert.match(why ?? '', /built .* UTC\) is older than (debugger|core)\/\S+\.(ts|json) \(changed .* UTC\).*run npm run build first/);
  });

  it('a bundle newer than every source passes; a missing one is refused', () => {
    const fresh = path.join(dir, 'fresh.js');
    fs.writeFileSync(fresh, '');
    const later = new Date(Date.now() + 86_400_000);
    fs.utimesSync(fresh, later, later);
    assert.equal(staleBundle(fresh, ADAPTER_SOURCES), undefined);
    assert.match(staleBundle(path.join(dir, 'none.js'), ADAPTER_SOURCES) ?? '', /is missing: run npm run build first/);
  });
});
