/*
 * The native twin of checkEquivalence runs in a worker thread (debugger/runtime/twinAhead.ts). The
 * thread lives as long as its session: an adapter in server mode (one process, a session per
 * connection, as VS Code's inline and TCP adapters are) serving two sessions one after another
 * holds one twin thread while a session runs and none once it has ended — counted in the kernel's
 * view of the adapter process (/proc/PID/status), not in the adapter's own words.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { ADAPTER, fixture, launchToStop, settledThreads, startAdapterServer } from './support';

const TWINS = fixture('twins.gasm');

describe('debugger: the native twin\'s worker thread lives as long as its session', function () {
  this.timeout(60_000);

  it('a server-mode adapter serving two checkEquivalence sessions one after another holds the thread only while each runs', async function () {
    if (!fs.existsSync('/proc/self/status')) this.skip();
    const { child, port } = await startAdapterServer();
    try {
      const pid = child.pid!;
      const counts: Array<{ before: number; during: number; after: number }> = [];
      for (let i = 0; i < 2; i++) {
        const before = await settledThreads(pid);
        const dc = new DebugClient('node', ADAPTER, 'popek');
        await dc.start(port);
        const { stop } = await launchToStop(dc, { program: TWINS, mode: 'trap-and-emulate', stopOnEntry: false, checkEquivalence: true }, { exceptions: { filters: ['divergence'] } });
        assert.equal(stop.body.reason, 'divergence');
        const during = await settledThreads(pid);
        await dc.stop();
        const after = await settledThreads(pid, (n) => n < during);
        counts.push({ before, during, after });
        
      }
      for (const c of counts) {
        assert.ok(c.during > c.before, `a twin thread while the session runs: ${JSON.stringify(counts)}`);
        assert.equal(c.after, c.before, `no thread left after the session: ${JSON.stringify(counts)}`);
      }
    } finally { child.kill(); }
  });
});
