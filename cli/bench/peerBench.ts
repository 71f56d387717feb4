/*
 * Popek against its peers on the same guests: v86 (npm, JS + wasm JIT, booted as a Multiboot kernel
 * without a BIOS, which it supports) and QEMU TCG (`qemu-system-i386 -kernel`), plus the host CPU for
 * the loops that also build as 32-bit Linux programs.
 *
 * Figures are net guest MIPS by CPU time: every guest runs at two lengths and the difference of the
 * instruction counts is divided by the difference of the CPU times, so start-up (v86's wasm
 * compilation, QEMU's process and machine set-up, Popek's decoding) cancels out. The instruction
 * counts are Popek's (the guests are deterministic, so every machine retires the same ones); a peer's
 * console must equal Popek's or its figure is not printed. Rounds interleave the machines (Popek, v86,
 * QEMU, host, again…) and the best CPU time of each (machine, length) is kept, because the machine
 * this runs on is shared and loaded. A peer that is missing gets one line saying so.
 *
 * The techniques against native (goal: within 10 %, both ways) are judged on more rounds of Popek
 * alone (TECHNIQUE_ROUNDS; the first ROUNDS also run the peers): each round runs native and the two
 * techniques back to back at both lengths, in an order that turns, and gives one ratio per technique
 * — its net time over native's in that round, so a change of load between rounds cancels out. The
 * bench prints the median of those ratios and their range.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { median, type BenchSuite } from './benchSupport';
import { assembleProgram } from '../../core/machine/program';
import { createVm } from '../../core/vmm';

const MB_HEADER = [
  'MB_MAGIC equ 0x1BADB002', 'MB_FLAGS equ 0x00010000', 'align 4',
  'mbh: dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS), mbh, $$, image_end, bss_end, start',
];
/** Prints "done\n" on COM1 (no LSR polling: every machine here has a ready transmitter) and exits (port 0xF4). */
const EXIT = ['  mov dx, 0x3f8', ...[...'done\n'].map((c) => `  mov al, ${c.charCodeAt(0)}\n  out dx, al`), '  mov al, 0', '  out 0xf4, al', '  cli', '  hlt'];

/** The ALU loop of the issue: 7 ALU instructions and the loop branch. */
const ALU_BODY = ['add eax, ebx', 'xor ebx, eax', 'sub edx, eax', 'shl esi, 1', 'or esi, edx', 'and edi, esi', 'dec ecx', 'jnz .l'];
/**
 * Memory loop: a sequential and a random (LCG) read-modify-write over a 256 KiB array, with loads
 * of both, 12 instructions per iteration.
 */
const MEM_BODY = [
  'add [ebp + ebx*4], ecx', 'inc ebx', 'and ebx, 0xffff', 'imul edx, edx, 1103515245', 'add edx, 12345',
  'mov eax, edx', 'shr eax, 16', 'xor [ebp + eax*4], ecx', 'mov edi, [ebp + eax*4]', 'add edi, [ebp + ebx*4]', 'dec ecx', 'jnz .l',
];
const MEM_SETUP = ['  mov ebp, buffer', '  xor ebx, ebx', '  mov edx, 12345'];
const MEM_BSS = ['section .bss', 'alignb 4096', 'buffer: resb 262144'];

function loopGuest(body: string[], setup: string[], bss: string[], iterations: number): string {
  return ['bits 32', 'org 0x100000', ...MB_HEADER, 'start:', `  mov ecx, ${iterations}`, '  mov ebx, 1', ...setup, '.l:', ...body.map((l) => '  ' + l), ...EXIT,
    'image_end:', ...(bss.length ? bss : ['section .bss']), 'bss_end:', ''].join('\n');
}
function hostLoop(body: string[], setup: string[], bss: string[], iterations: number): string {
  return ['bits 32', 'global _start', 'section .text', '_start:', `  mov ecx, ${iterations}`, '  mov ebx, 1', ...setup, '.l:', ...body.map((l) => '  ' + l),
    '  mov eax, 1', '  xor ebx, ebx', '  int 0x80', ...bss, ''].join('\n');
}

function findExample(name: string): string | undefined {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const f = path.join(dir, 'examples', name);
    if (fs.existsSync(f)) return f;
    if (path.dirname(dir) === dir) return undefined;
  }
}

interface Guest {
  name: string;
  /** Source at a length (the second length is `scale[1]`). */
  source(n: number): string;
  scale: [number, number];
  /** The same loop as a 32-bit Linux program, when there is one. */
  host?: (n: number) => string;
}

function guests(print: (line: string) => void): Guest[] {
  const list: Guest[] = [
    { name: 'ALU loop (add/xor/sub/shl/or/and, dec, jnz)', source: (n) => loopGuest(ALU_BODY, [], [], n), scale: [4_000_000, 400_000_000], host: (n) => hostLoop(ALU_BODY, [], [], n) },
    { name: 'memory loop (sequential + random RMW)', source: (n) => loopGuest(MEM_BODY, MEM_SETUP, MEM_BSS, n), scale: [1_000_000, 100_000_000], host: (n) => hostLoop(MEM_BODY, MEM_SETUP, MEM_BSS, n) },
  ];
  const file = findExample('compute.gasm');
  if (!file) print('compute: examples/compute.gasm not found (run the bench from the repository)');
  else {
    const text = fs.readFileSync(file, 'utf8');
    // 1,200 rounds (0.8 G instructions), as for own pages: now that its loops run in WebAssembly
    // too, 300 rounds took ~0.1 s of CPU, too little to tell a 10 % difference on a loaded machine.
    list.push({ name: 'examples/compute.gasm (data shares pages with code)', source: (n) => `%define ITERATIONS ${n}\n` + text, scale: [4, 1200] });
    // The same program with its data (.bss) starting on a page of its own.
    const own = text.replace(/section \.bss\nalignb 4\n/, 'section .bss\nalignb 4096\n');
    if (own !== text) list.push({ name: 'compute with data on its own pages', source: (n) => `%define ITERATIONS ${n}\n` + own, scale: [4, 1200] });
  }
  return list;
}

interface Sample { cpuMs: number; console: string }
/** Runs a guest to its end (its write to port 0xF4). */
type Runner = (image: Uint8Array) => Promise<Sample>;

const cpuMsSince = (c0: NodeJS.CpuUsage) => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1000; };

/**
 * How Popek runs a guest: native mode with regions (the shipped engine), `blocks` (single blocks only,
 * the engine before regions), `interpreter` (no compilation: the reference), or under a technique.
 */
type PopekWay = 'native' | 'blocks' | 'interpreter' | 'binary-translation' | 'hardware-assisted';

/** Runs `image` in Popek the given way, to its end (its write to port 0xF4). */
async function runPopek(image: Uint8Array, way: PopekWay = 'native'): Promise<Sample & { instructions: number }> {
  const c0 = process.cpuUsage();
  const vm = createVm({ mode: way === 'binary-translation' || way === 'hardware-assisted' ? way : 'native', memoryMiB: 32 });
  vm.cpu.regions = way !== 'blocks';
  vm.cpu.jit = way !== 'interpreter';
  vm.load(image);
  vm.run(2_000_000_000);
  const cpuMs = cpuMsSince(c0);
  if (vm.outcome !== 'exit') throw new Error(`Popek (${way}): the guest ended with ${vm.outcome}`);
  return { cpuMs, console: vm.machine.console, instructions: vm.cpu.icount };
}

/** v86 from node_modules (a bench-time devDependency); undefined with the reason when it cannot load. */
async function loadV86(): Promise<{ run: Runner; version: string } | string> {
  let dir: string;
  try {
    dir = path.dirname(createRequire(path.join(process.cwd(), 'x.js')).resolve('v86/package.json'));
  } catch {
    try { dir = path.dirname(createRequire(__filename).resolve('v86/package.json')); } catch { return 'the npm package v86 is not installed (npm install)'; }
  }
  const wasm = path.join(dir, 'build', 'v86.wasm');
  let V86: new (o: object) => { add_listener(e: string, f: (b: number) => void): void; destroy(): Promise<void> | void; stop(): Promise<void> | void };
  try {
    // The package is an ES module; the bundle keeps this import as is (it loads from node_modules).
    const mod = await (new Function('u', 'return import(u)') as (u: string) => Promise<{ V86: typeof V86 }>)(pathToFileURL(path.join(dir, 'build', 'libv86.mjs')).href);
    V86 = mod.V86;
  } catch (e) { return `v86 could not be loaded (${(e as Error).message})`; }
  const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version as string;
  // v86 treats a write to port 0xF4 as its test harness's exit: it logs "Test exited with code …" and
  // throws the string "HALT" out of its run loop (uncaught: it runs from a timer). That is the end
  // of the guest here too; the handler and the log filter live only while a guest runs.
  const run: Runner = (image) => new Promise((resolve, reject) => {
    const out: number[] = [];
    const log = console.log;
    // The CLI's own handler (report, exit) is set aside while v86 runs: its HALT is expected here.
    const others = process.listeners('uncaughtException');
    const done = (err: unknown, cpuMs = 0) => {
      process.off('uncaughtException', onThrow);
      for (const h of others) process.on('uncaughtException', h);
      console.log = log;
      clearTimeout(timer);
      try { void Promise.resolve(emu.destroy()).catch(() => {}); } catch { /* already stopped */ }
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve({ cpuMs, console: Buffer.from(out).toString('latin1') });
    };
    const onThrow = (e: unknown) => done(e === 'HALT' ? undefined : e, cpuMsSince(c0));
    for (const h of others) process.off('uncaughtException', h);
    process.on('uncaughtException', onThrow);
    console.log = (...a: unknown[]) => { if (!String(a[0]).startsWith('Test exited with code')) log(...a); };
    const timer = setTimeout(() => done(new Error('v86 did not finish within 120 s')), 120_000);
    const c0 = process.cpuUsage();
    const buf = image.buffer.slice(image.byteOffset, image.byteOffset + image.byteLength);
    const emu = new V86({ wasm_path: wasm, memory_size: 32 << 20, multiboot: { buffer: buf }, autostart: true, disable_keyboard: true, disable_mouse: true, disable_speaker: true });
    emu.add_listener('serial0-output-byte', (b: number) => { out.push(b); });
  });
  return { run, version };
}

/** QEMU TCG; CPU time from bash's `times` (the child's user + system). */
function qemuRunner(): { run: Runner; version: string } | string {
  const v = spawnSync('qemu-system-i386', ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) return 'qemu-system-i386 is not installed (scripts/setup.sh installs it)';
  const version = v.stdout.split('\n')[0].replace(/^QEMU emulator version /, '');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-peer-'));
  const run: Runner = async (image) => {
    fs.writeFileSync(path.join(dir, 'guest.bin'), image);
    const r = spawnSync('bash', ['-c', 'qemu-system-i386 -accel tcg -kernel guest.bin -display none -monitor none -serial file:console.txt ' +
      '-device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot -m 32 >/dev/null 2>&1; times'], { cwd: dir, encoding: 'utf8' });
    // `times` prints the shell's and then the children's "user system" lines (e.g. 0m0.101s 0m0.023s).
    const lines = r.stdout.trim().split('\n');
    const secs = (lines[1] ?? '').match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
    if (!secs) throw new Error(`QEMU: no CPU times (${r.stderr || r.stdout})`);
    const cpuMs = (Number(secs[1]) * 60 + Number(secs[2]) + Number(secs[3]) * 60 + Number(secs[4])) * 1000;
    return { cpuMs, console: fs.readFileSync(path.join(dir, 'console.txt'), 'latin1') };
  };
  return { run, version };
}

/** The host CPU on a 32-bit Linux build of the loop; CPU time from `times`. */
function hostRunner(source: (n: number) => string, scale: [number, number], dir: string): { run: (k: 0 | 1) => number } | string {
  try {
    for (const k of [0, 1]) {
      fs.writeFileSync(path.join(dir, `h${k}.asm`), source(scale[k] * HOST_FACTOR));
      spawnSync('nasm', ['-f', 'elf32', '-o', `h${k}.o`, `h${k}.asm`], { cwd: dir, stdio: 'ignore' });
      const l = spawnSync('ld', ['-m', 'elf_i386', '-o', `h${k}`, `h${k}.o`], { cwd: dir, stdio: 'ignore' });
      if (l.status !== 0 || l.error) return 'not measured (needs nasm and ld)';
      const t = spawnSync(path.join(dir, `h${k}`), { stdio: 'ignore' });
      if (t.status !== 0 || t.error) return 'not measured (this machine does not run 32-bit Linux programs)';
    }
  } catch (e) { return `not measured (${(e as Error).message})`; }
  return {
    run: (k) => {
      const r = spawnSync('bash', ['-c', `./h${k}; times`], { cwd: dir, encoding: 'utf8' });
      const m = (r.stdout.trim().split('\n')[1] ?? '').match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
      return m ? (Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4])) * 1000 : NaN;
    },
  };
}

const ROUNDS = 3;
/** Rounds of Popek native and the techniques (the first ROUNDS of them with the peers, the rest alone). */
const TECHNIQUE_ROUNDS = 15;
/** `list` turned left by `by` places. */
const rotate = <T>(list: readonly T[], by: number): T[] => list.map((_, i) => list[(i + by) % list.length]);
/** Techniques measured on every guest beside native (the guests are innocuous kernel code: no privileged instruction in their loops). */
const TECHNIQUES = ['binary-translation', 'hardware-assisted'] as const;
/** The host runs the loops this many times longer (it is that much faster). */
const HOST_FACTOR = 4;
const f1 = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

export const peerBench: BenchSuite = {
  name: 'peers',
  async run(print) {
    const v86 = await loadV86();
    const qemu = qemuRunner();
    print(`peers: v86 ${typeof v86 === 'string' ? `— not measured: ${v86}` : v86.version + ' (Multiboot, no BIOS)'}; ` +
      `QEMU ${typeof qemu === 'string' ? `— not measured: ${qemu}` : qemu.version + ' TCG'}`);
    print(`method: net guest MIPS by CPU time between two run lengths (start-up cancels out), ${ROUNDS} interleaved rounds (Popek native, binary translation and hardware-assisted in an order that turns each round, then Popek with single blocks only, the interpreter, v86, QEMU, host), best CPU time per machine and length; ` +
      `techniques against native: the median (and range) over ${TECHNIQUE_ROUNDS} rounds of each round's net time over native's in the same round`);
    const hostDir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-host-'));
    try {
      for (const g of guests(print)) {
        const images = g.scale.map((n) => assembleProgram('guest.gasm', g.source(n)).bytes);
        // Single blocks only (the engine before region compilation) and the interpreter on a tenth of the extra length: slower.
        const shortScale = g.scale[0] + Math.max(1, Math.round((g.scale[1] - g.scale[0]) / 10));
        const shortImages = [images[0], assembleProgram('guest.gasm', g.source(shortScale)).bytes];
        const shortCounts: number[] = [];
        for (const img of shortImages) shortCounts.push((await runPopek(img, 'blocks')).instructions);
        // Popek first: the instruction counts and the console every peer (and technique) must reproduce.
        const counts: number[] = [], consoles: string[] = [];
        for (const img of images) { const r = await runPopek(img); counts.push(r.instructions); consoles.push(r.console); }
        const host = g.host ? hostRunner(g.host, g.scale, hostDir) : undefined;
        const best: Record<string, [number, number]> = {};
        /** CPU times of native and each technique per round, [short, long]. */
        const perRound: Record<string, [number, number][]> = {};
        const note = (who: string, k: number, ms: number) => { const b = (best[who] ??= [Infinity, Infinity]); b[k] = Math.min(b[k], ms); };
        const problems: string[] = [];
        for (let round = 0; round < TECHNIQUE_ROUNDS; round++) {
          for (const k of [0, 1] as const) {
            // Native and the techniques run the same regions, and V8 reuses the code it optimized for an
            // earlier VM's region of the same source: whoever runs first in a round runs colder. The order
            // turns with the round, so each gets every place equally often (the 10 % question needs that).
            for (const way of rotate(['native', ...TECHNIQUES] as const, round)) {
              if (problems.some((p) => p.startsWith(way))) continue;
              const r = await runPopek(images[k], way);
              if (way !== 'native' && (r.console !== consoles[k] || r.instructions !== counts[k])) { problems.push(`${way}: ran differently from native`); continue; }
              ((perRound[way] ??= [])[round] ??= [0, 0])[k] = r.cpuMs;
              if (round < ROUNDS) note(way === 'native' ? 'Popek' : way, k, r.cpuMs);
            }
            if (round >= ROUNDS) continue;
            note('blocks', k, (await runPopek(shortImages[k], 'blocks')).cpuMs);
            note('interpreter', k, (await runPopek(shortImages[k], 'interpreter')).cpuMs);
            for (const [who, peer] of [['v86', v86], ['QEMU', qemu]] as const) {
              if (typeof peer === 'string' || problems.some((p) => p.startsWith(who))) continue;
              try {
                const r = await peer.run(images[k]);
                if (r.console !== consoles[k]) { problems.push(`${who}: console differs from Popek's (${JSON.stringify(r.console.slice(-40))})`); continue; }
                note(who, k, r.cpuMs);
              } catch (e) { problems.push(`${who}: ${(e as Error).message}`); }
            }
            if (host && typeof host !== 'string') note('host', k, host.run(k));
          }
        }
        const net = (who: string, per = 1) => { const b = best[who]; return b ? (counts[1] - counts[0]) * per / (b[1] - b[0]) / 1000 : NaN; };
        const netShort = (who: string) => { const b = best[who]; return b ? (shortCounts[1] - shortCounts[0]) / (b[1] - b[0]) / 1000 : NaN; };
        const popek = net('Popek');
        const blocks = netShort('blocks');
        const parts = [`Popek ${f1(popek)} (single blocks only: ${f1(blocks)})`];
        const ratios: string[] = [];
        for (const who of ['v86', 'QEMU']) {
          const m = net(who);
          if (Number.isFinite(m) && m > 0) { parts.push(`${who} ${f1(m)}`); ratios.push(`Popek/${who} ${(popek / m).toFixed(2)}× (single blocks ${(blocks / m).toFixed(2)}×)`); }
          else if (best[who]) problems.push(`${who}: the longer run was not slower than the shorter (too much noise)`);
        }
        if (host !== undefined) {
          // The host loops run HOST_FACTOR× the guest's iterations (its instructions: the same per iteration).
          const m = typeof host === 'string' ? NaN : net('host', HOST_FACTOR);
          if (Number.isFinite(m) && m > 0) { parts.push(`host ${f1(m)}`); ratios.push(`Popek/host ${(popek / m).toFixed(3)}×`); } else ratios.push(`host ${typeof host === 'string' ? host : 'not measured'}`);
        }
        print(`${g.name}: ${((counts[1] - counts[0]) / 1e6).toFixed(1)} M net instructions; MIPS ${parts.join(', ')}; ${ratios.join(', ')}`);
        // The techniques on the same (innocuous) guest, as time against native's (goal: within 10 %).
        const ways = TECHNIQUES.filter((w) => best[w] && !problems.some((p) => p.startsWith(w))).map((w) => {
          const ratios = perRound[w].map(([a, b], r) => (b - a) / (perRound.native[r][1] - perRound.native[r][0]));
          return `${w} ${median(ratios).toFixed(2)}× native's time (median of ${ratios.length} rounds, range ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}; ${f1(net(w))} MIPS best of ${ROUNDS})`;
        });
        ways.push(`interpreter ${f1(netShort('interpreter'))} MIPS (${(popek / netShort('interpreter')).toFixed(1)}× native's time)`);
        print(`  Popek techniques: ${ways.join(', ')}`);
        for (const p of problems) print(`  not measured: ${p}`);
      }
    } finally {
      fs.rmSync(hostDir, { recursive: true, force: true });
    }
  },
};
