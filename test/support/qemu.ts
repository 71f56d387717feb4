// The reference machine for the examples: assemble a guest with the real NASM, boot it in the real
// QEMU (qemu-system-i386, TCG) as a Multiboot kernel, and return what a user would see — the COM1
// console and the process exit status. The example tests compare Popek against this, live, and
// against the records in examples/expected/ (written by scripts/record-examples.ts).
//
// QEMU command line (the one examples/README.md documents):
//   qemu-system-i386 -kernel X -display none -serial stdio -monitor none -nic none
//       -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot -m 16
// `-nic none`: Popek's PC is QEMU's `-machine pc` without its default network card (Popek models no
// NIC), so the PCI bus, SeaBIOS's MP table and its boot screen are the same on both.
// `-monitor none` only keeps QEMU's monitor off stdout; `-no-reboot` turns a triple fault into an
// exit (status 0) instead of an endless reboot. The tests send COM1 to a file chardev instead of
// stdio: QEMU's stdio chardev is non-blocking, and once in a while (seen under load) the byte written
// just before isa-debug-exit never reached the pipe; file writes complete before the next instruction.

import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Decoder, DecoderOptions, Mnemonic } from 'iced-x86';
import { REPO_ROOT } from './repoRoot';

/** The repository root (this file is test/support/qemu.ts, also when compiled to out/test/support/). */
export { REPO_ROOT };
export const EXAMPLES_DIR = path.join(REPO_ROOT, 'examples');
export const EXPECTED_DIR = path.join(EXAMPLES_DIR, 'expected');

/** The machine every test boots in QEMU: the PC Popek models (no NIC), isa-debug-exit, a triple fault ends the run. */
export const QEMU_PC_ARGS = ['-nic', 'none', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-no-reboot'];

/** Overridable for machines where the tools are not on PATH. */
export const QEMU = process.env.POPEK_QEMU ?? 'qemu-system-i386';
export const NASM = process.env.POPEK_NASM ?? 'nasm';

/** What booting a guest in QEMU produced. */
export interface QemuResult {
  /** Every byte the guest wrote to COM1, one char per byte (latin1), untranslated. */
  console: string;
  /** QEMU's exit status: (v << 1) | 1 after `out 0xF4, v`; 0 after a triple fault (-no-reboot). -1 if it was killed. */
  exitStatus: number;
  /** True when QEMU did not stop by itself within the time limit and was killed. */
  timedOut: boolean;
  /** QEMU's own diagnostics (stderr), for error messages. */
  stderr: string;
}

/** A record in examples/expected/<name>.json. */
export interface ExpectedRecord {
  console: string;
  exitStatus: number;
  /** First line of `qemu-system-i386 --version` at recording time. */
  qemu: string;
}

export interface RunOptions {
  /** Kill QEMU after this long (default 20 s; every example stops by itself in well under 1 s). */
  timeoutMs?: number;
  /** Guest RAM in MiB (default 16, as SPEC §3). */
  memoryMiB?: number;
  /** More QEMU arguments (disks: `-drive file=…,format=raw,if=ide,index=0`). */
  extraArgs?: string[];
}

export interface AssembleOptions {
  /** `-D NAME=VALUE` definitions, e.g. { ITERATIONS: 100 } for examples/compute.gasm. */
  defines?: Record<string, string | number>;
}

/** Per-instruction counts of one run, from QEMU's single-step execution log. */
export interface QemuTrace extends QemuResult {
  /** Instructions executed inside the traced address range (the kernel image). */
  instructions: number;
  /** The same, per lower-case mnemonic (`cpuid`, `in`, `out`, `rdmsr`, …). */
  byMnemonic: Record<string, number>;
  /** Addresses of the instructions that started at least once (code coverage), ascending. */
  pcs: number[];
}

/** True if `cmd` can be started (it is on PATH or an existing path). */
export function hasTool(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.error === undefined;
}

/** Throws a clear, actionable error when QEMU is missing. */
export function requireQemu(): void {
  if (!hasTool(QEMU)) {
    throw new Error(
      `${QEMU} not found: the example tests compare Popek with QEMU. Install it with ` +
        '`sudo apt-get install qemu-system-x86` (scripts/setup.sh does), or set POPEK_QEMU to its path.',
    );
  }
}

/** Throws a clear, actionable error when NASM is missing. */
export function requireNasm(): void {
  if (!hasTool(NASM)) {
    throw new Error(
      `${NASM} not found: the examples are assembled with the real NASM for QEMU. Install it with ` +
        '`sudo apt-get install nasm` (scripts/setup.sh does), or set POPEK_NASM to its path.',
    );
  }
}

/** First line of `qemu-system-i386 --version`, e.g. "QEMU emulator version 7.2.22 (Debian …)". */
export function qemuVersion(): string {
  requireQemu();
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  return (r.stdout ?? '').split('\n')[0].trim();
}

/** Example names (file names without `.gasm`), sorted. */
export function listExamples(): string[] {
  return fs
    .readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.gasm'))
    .map((f) => f.slice(0, -'.gasm'.length))
    .sort();
}

export function examplePath(name: string): string {
  return path.join(EXAMPLES_DIR, `${name}.gasm`);
}

export function expectedPath(name: string): string {
  return path.join(EXPECTED_DIR, `${name}.json`);
}

/** Reads examples/expected/<name>.json. */
export function readExpected(name: string): ExpectedRecord {
  return JSON.parse(fs.readFileSync(expectedPath(name), 'utf8')) as ExpectedRecord;
}

/** Assembles a NASM source file with `nasm -f bin` and returns the flat image. */
export function assembleWithNasm(sourceFile: string, options: AssembleOptions = {}, extraArgs: string[] = []): Buffer {
  requireNasm();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-nasm-'));
  try {
    const out = path.join(dir, 'image.bin');
    const defines = Object.entries(options.defines ?? {}).map(([k, v]) => `-D${k}=${v}`);
    const r = spawnSync(NASM, ['-f', 'bin', ...defines, ...extraArgs, '-o', out, sourceFile], { encoding: 'utf8' });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`nasm failed on ${sourceFile}:\n${r.stderr}`);
    return fs.readFileSync(out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Assembles NASM source text (e.g. a guest a test generates) with `nasm -f bin`. `%include`s are
 * resolved against `includeDir` (default: examples/).
 */
export function assembleNasmSource(source: string, options: AssembleOptions & { includeDir?: string } = {}): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-src-'));
  try {
    const file = path.join(dir, 'source.gasm');
    fs.writeFileSync(file, source);
    const inc = (options.includeDir ?? EXAMPLES_DIR) + path.sep;
    return assembleWithNasm(file, options, ['-i', inc]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Boots a flat Multiboot image in QEMU and collects its console and exit status. */
export function runImageInQemu(image: Buffer, options: RunOptions = {}): Promise<QemuResult> {
  return withImageFile(image, (file) => runQemu(file, [], options));
}

/** Assembles examples/<name>.gasm with NASM and boots it in QEMU. */
export function runExampleInQemu(name: string, options: RunOptions & AssembleOptions = {}): Promise<QemuResult> {
  return runImageInQemu(assembleWithNasm(examplePath(name), options), options);
}

/**
 * Boots an image in QEMU with one instruction per translation block and logs every execution whose
 * address lies in [org, org + image length); returns the console, the exit status and the dynamic
 * instruction counts. The log counts an instruction when it starts, so one that faults (a #GP,
 * a #UD, a #PF that the handler fixes before the instruction runs again) counts once per attempt.
 * This is slow (QEMU logs every instruction) and meant for small guests such as examples/exits.gasm.
 */
export async function traceImageInQemu(image: Buffer, org = 0x100000, options: RunOptions = {}): Promise<QemuTrace> {
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-qemu-log-'));
  try {
    const log = path.join(logDir, 'exec.log');
    const end = org + image.length - 1;
    const extra = ['-singlestep', '-d', 'exec,nochain', '-dfilter', `0x${org.toString(16)}..0x${end.toString(16)}`, '-D', log];
    const result = await withImageFile(image, (file) => runQemu(file, extra, options));
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'latin1') : '';
    // Lines look like "Trace 0: 0x7f.. [cs_base/pc/flags/cflags] ...": the second field is the EIP.
    const perPc = new Map<number, number>();
    let instructions = 0;
    for (const m of text.matchAll(/^Trace \d+: \S+ \[[0-9a-f]+\/([0-9a-f]+)\//gm)) {
      const pc = parseInt(m[1], 16);
      perPc.set(pc, (perPc.get(pc) ?? 0) + 1);
      instructions++;
    }
    const byMnemonic: Record<string, number> = {};
    for (const [pc, n] of perPc) {
      const name = mnemonicAt(image, org, pc);
      byMnemonic[name] = (byMnemonic[name] ?? 0) + n;
    }
    return { ...result, instructions, byMnemonic, pcs: [...perPc.keys()].sort((a, b) => a - b) };
  } finally {
    fs.rmSync(logDir, { recursive: true, force: true });
  }
}

/** The lower-case mnemonic of the instruction at guest address `pc` of a flat image loaded at `org`. */
export function mnemonicAt(image: Buffer, org: number, pc: number): string {
  const offset = pc - org;
  const bytes = new Uint8Array(image.subarray(offset, offset + 15));
  const decoder = new Decoder(32, bytes, DecoderOptions.None);
  decoder.ip = BigInt(pc);
  const insn = decoder.decode();
  const name = (Mnemonic[insn.mnemonic] as string | undefined) ?? 'invalid';
  insn.free();
  decoder.free();
  return name.toLowerCase();
}

// ---------------------------------------------------------------------------------------------

async function withImageFile<T>(image: Buffer, use: (file: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-qemu-'));
  try {
    const file = path.join(dir, 'kernel.bin');
    fs.writeFileSync(file, image);
    return await use(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function runQemu(kernel: string, extraArgs: string[], options: RunOptions): Promise<QemuResult> {
  requireQemu();
  const args = [
    '-kernel', kernel,
    '-display', 'none',
    '-chardev', `file,id=com1,path=${path.join(path.dirname(kernel), 'com1.txt')}`,
    '-serial', 'chardev:com1',
    '-monitor', 'none',
    ...QEMU_PC_ARGS,
    '-m', String(options.memoryMiB ?? 16),
    ...extraArgs,
    ...(options.extraArgs ?? []),
  ];
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    // stdin is ignored so QEMU never puts a terminal into raw mode or waits for input.
    const child = spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const com1 = path.join(path.dirname(kernel), 'com1.txt');
      const serial = fs.existsSync(com1) ? fs.readFileSync(com1) : Buffer.alloc(0);
      resolve({
        console: Buffer.concat([serial, ...out]).toString('latin1'),
        exitStatus: timedOut || code === null ? -1 : code,
        timedOut,
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}

