/*
 * `popek bench` — the performance suite. Each area contributes a suite (a module exporting
 * `BenchSuite`); the command runs them in order and prints figures and ratios. Benchmarks print,
 * they never assert: tests assert behaviour, `npm run bench` measures.
 */
import type { CliCommand } from '../cliSupport';
import type { BenchSuite } from './benchSupport';

// Add a suite by adding its module and one line here.
const SUITES: Array<() => Promise<BenchSuite>> = [async () => (await import('./asmBench')).suite, async () => (await import('./serverBench')).serverBench, async () => (await import('./serverPushBench')).serverPushBench, async () => (await import('./startupBench')).startupBench, async () => (await import('./extensionBench')).extensionBench, async () => (await import('./cpuBench')).cpuBench, async () => (await import('./debuggerBench')).debuggerBench, async () => (await import('./vmmBench')).vmmBench, async () => (await import('./btBench')).btBench, async () => (await import('./peerBench')).peerBench];

export const benchCommand: CliCommand = async (args) => {
  const only = args.filter((a) => !a.startsWith('-'));
  for (const load of SUITES) {
    const suite = await load();
    if (only.length && !only.includes(suite.name)) continue;
    process.stdout.write(`\n## ${suite.name}\n`);
    await suite.run((line) => process.stdout.write(line + '\n'));
  }
  return 0;
};
