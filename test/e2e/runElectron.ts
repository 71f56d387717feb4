/*
 * Launcher 1 of the end-to-end suite: desktop VS Code through @vscode/test-electron, where VS Code
 * can be downloaded. Offline (no route to the download server) it says so and skips, exit status 0.
 * Usage: node .e2e/build/runElectron.js WORKSPACE_DIR
 */
import * as path from 'node:path';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..', '..');
  const workspace = path.resolve(process.argv[2] ?? path.join(root, '.e2e', 'run', 'ws-electron'));
  let executable: string;
  try {
    // 1.100.3 is the VS Code inside code-server 4.100.3: both launchers test the same version.
    executable = await downloadAndUnzipVSCode({ version: process.env.POPEK_E2E_VSCODE ?? '1.100.3', cachePath: path.join(root, '.vscode-test'), timeout: 30_000 });
  } catch (err) {
    console.log(`test-electron: skipped — VS Code cannot be downloaded here (${(err as Error).message.split('\n')[0]})`);
    return 0;
  }
  try {
    await runTests({
      vscodeExecutablePath: executable,
      extensionDevelopmentPath: root,
      extensionTestsPath: path.join(root, '.e2e', 'build', 'suite', 'index.js'),
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
      extensionTestsEnv: { POPEK_E2E_RESULT: path.join(root, '.e2e', 'run', 'electron-result.json') },
    });
    console.log('test-electron: passed');
    return 0;
  } catch (err) {
    console.log(`test-electron: FAILED (${(err as Error).message})`);
    return 1;
  }
}

main().then((code) => process.exit(code), (err) => { console.error(err); process.exit(1); });
