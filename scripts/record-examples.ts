// Records what QEMU does with each example: assembles examples/<name>.gasm with NASM, boots it
// in qemu-system-i386 (test/support/qemu.ts has the command line) and writes
// examples/expected/<name>.json = { console, exitStatus, qemu }.
//
//   npx tsx scripts/record-examples.ts            # every example
//   npx tsx scripts/record-examples.ts hello      # only the ones named
//
// Each example is booted twice and the two runs must agree, so a record never captures a
// nondeterministic guest. test/examples/qemu.test.ts checks the records against QEMU live.
import * as fs from 'node:fs';
import { EXPECTED_DIR, ExpectedRecord, expectedPath, listExamples, qemuVersion, runExampleInQemu } from '../test/support/qemu';

async function main(): Promise<void> {
  const all = listExamples();
  const names = process.argv.slice(2);
  for (const n of names) if (!all.includes(n)) throw new Error(`no example examples/${n}.gasm (have: ${all.join(', ')})`);
  const version = qemuVersion();
  fs.mkdirSync(EXPECTED_DIR, { recursive: true });
  let failed = false;
  for (const name of names.length > 0 ? names : all) {
    const a = await runExampleInQemu(name);
    const b = await runExampleInQemu(name);
    if (a.timedOut || a.console !== b.console || a.exitStatus !== b.exitStatus) {
      console.error(`${name}: ${a.timedOut ? 'QEMU timed out' : 'two runs differ'}; not recorded\n${a.stderr}`);
      failed = true;
      continue;
    }
    const record: ExpectedRecord = { console: a.console, exitStatus: a.exitStatus, qemu: version };
    fs.writeFileSync(expectedPath(name), JSON.stringify(record, null, 2) + '\n');
    console.log(`${name}: exit status ${a.exitStatus}, ${a.console.length} console bytes`);
  }
  if (failed) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
