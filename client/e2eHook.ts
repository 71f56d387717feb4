/*
 * End-to-end hook: when POPEK_E2E_SUITE names a compiled test entry (test/e2e/suite/index.ts built by
 * scripts/e2e.sh), the extension runs it inside this extension host once activated. This is how the
 * one `vscode`-API mocha suite runs in code-server, whose server cannot be given a test entry the way
 * @vscode/test-electron gives one to desktop VS Code. Without the variable this does nothing.
 */
import { Log } from './log';

export function maybeRunE2eSuite(log: Log): void {
  const suite = process.env.POPEK_E2E_SUITE;
  if (!suite) return;
  log.info(`POPEK_E2E_SUITE=${suite}: running the end-to-end suite in this extension host`);
  // After activate() returns, so the suite sees an activated extension.
  setTimeout(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    Promise.resolve().then(() => (require(suite) as { run(): Promise<void> }).run())
      .then(() => log.info('end-to-end suite finished'), (err) => log.error('end-to-end suite failed', err));
  }, 0);
}
