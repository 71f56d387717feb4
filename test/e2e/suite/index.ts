/*
 * Entry of the end-to-end suite inside a VS Code extension host. Both launchers call run():
 * @vscode/test-electron (as extensionTestsPath) and the extension's POPEK_E2E_SUITE hook in
 * code-server. Results also go to POPEK_E2E_RESULT as JSON, because in code-server nobody
 * waits on this promise: scripts/e2e.sh reads the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

interface Outcome { title: string; state: 'passed' | 'failed' | 'pending'; error?: string; ms?: number }

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false, reporter: 'spec' });
  for (const f of fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort()) mocha.addFile(path.join(__dirname, f));
  const resultFile = process.env.POPEK_E2E_RESULT;
  const outcomes: Outcome[] = [];
  return new Promise((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        const summary = {
          passed: outcomes.filter((o) => o.state === 'passed').length,
          failed: outcomes.filter((o) => o.state === 'failed').length,
          skipped: outcomes.filter((o) => o.state === 'pending').length,
          tests: outcomes,
        };
        if (resultFile) fs.writeFileSync(resultFile, JSON.stringify(summary, null, 2));
        if (failures > 0) reject(new Error(`${failures} end-to-end tests failed`));
        else resolve();
      });
      runner.on('pass', (t) => outcomes.push({ title: t.fullTitle(), state: 'passed', ms: t.duration }));
      runner.on('fail', (t, err: Error) => outcomes.push({ title: t.fullTitle(), state: 'failed', error: err?.stack ?? String(err) }));
      runner.on('pending', (t) => outcomes.push({ title: t.fullTitle(), state: 'pending', error: (t as unknown as { skipReason?: string }).skipReason }));
    } catch (err) {
      if (resultFile) fs.writeFileSync(resultFile, JSON.stringify({ passed: 0, failed: 1, skipped: 0, tests: [{ title: 'load', state: 'failed', error: String(err) }] }));
      reject(err);
    }
  });
}
