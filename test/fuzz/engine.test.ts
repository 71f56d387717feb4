/*
 * Engine fuzzing (issue 16): random guest images in all five techniques. Half are random bytes
 * (whatever they decode to: faults, triple faults, junk); half are random programs of innocuous
 * instructions (ALU, moves, memory, stack, loops, setcc/cmov — nothing sensitive) assembled by
 * core/asm, which fold their memory into the registers and end in `jmp $`. Checked: no host
 * exception (outcome 'error'), the same run twice gives the same result, and on the innocuous
 * programs native, binary translation and VT-x end with the same registers and arithmetic flags
 * (trap-and-emulate and paravirtual too: nothing in them is sensitive).
 */
import * as assert from 'node:assert/strict';
import { assemble } from '../../core/asm';
import { availableModes, createVm, type Mode } from '../../core/vmm';
import { rng, type Rng } from './support/rng';
import { cases, progress, report, SEED } from './support/scale';

const ORIGIN = 0x100000;
const LIMIT = 30_000;
const REGS = ['eax', 'ecx', 'edx', 'ebx', 'esi', 'edi', 'ebp'];

function reg(r: Rng): string { return r.pick(REGS); }
function imm(r: Rng): string { return r.pick(['0', '1', '-1', '0x7fffffff', '0x80000000', String(r.int(256)), `0x${(r.int(0x10000) * 0x10001 >>> 0).toString(16)}`]); }

/** One innocuous statement (or a few: a small loop). */
function statement(r: Rng, depth: number, label: () => string): string[] {
  const a = reg(r), b = reg(r);
  switch (r.int(16)) {
    case 0: return [`mov ${a}, ${imm(r)}`];
    case 1: return [`${r.pick(['add', 'sub', 'and', 'or', 'xor', 'adc', 'sbb', 'cmp', 'test'])} ${a}, ${r.chance(0.5) ? b : imm(r)}`];
    case 2: return [`${r.pick(['inc', 'dec', 'neg', 'not'])} ${a}`];
    case 3: return [`${r.pick(['shl', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr'])} ${a}, ${r.chance(0.5) ? String(r.int(40)) : 'cl'}`];
    case 4: return [`imul ${a}, ${b}`];
    case 5: return [`lea ${a}, [${b} + ${reg(r)}*${r.pick([1, 2, 4, 8])} + ${r.int(1000)}]`];
    case 6: return [`mov [data + ${4 * r.int(16)}], ${a}`];
    case 7: return [`${r.pick(['mov', 'add', 'xor', 'sub'])} ${a}, [data + ${4 * r.int(16)}]`];
    case 8: return [`push ${a}`, ...statement(r, depth, label), `pop ${b}`];
    case 9: return [`set${r.pick(['z', 'nz', 'c', 'nc', 'o', 's', 'l', 'g', 'be', 'a', 'p'])} ${r.pick(['al', 'bl', 'cl', 'dl'])}`];
    case 10: return [`cmov${r.pick(['z', 'nz', 'c', 'l', 'ge'])} ${a}, ${b}`];
    case 11: return [`${r.pick(['movzx', 'movsx'])} ${a}, ${r.pick(['al', 'bh', 'cx', 'dx'])}`];
    case 12: return [`xchg ${a}, ${b}`, `bswap ${b}`];
    case 13: return [`${r.pick(['bt', 'bts', 'btr', 'btc'])} ${a}, ${r.int(32)}`];
    case 14: return [`mul ${a}`, `xor edx, edx`, `mov ${a === 'edx' ? 'ebx' : a}, ${1 + r.int(1000)}`, `div ${a === 'edx' ? 'ebx' : a}`];
    default: {
      if (depth > 1) return [`nop`];
      const l = label();
      const body = Array.from({ length: 1 + r.int(4) }, () => statement(r, depth + 1, label)).flat().filter((s) => !/\becx\b|\bcl\b|\bcx\b/.test(s));
      return [`push ecx`, `mov ecx, ${1 + r.int(20)}`, `${l}:`, ...body, `dec ecx`, `jnz ${l}`, `pop ecx`];
    }
  }
}

export function innocuousProgram(r: Rng): string {
  let n = 0;
  const label = () => `.l${n++}`;
  const lines = ['bits 32', `org 0x${ORIGIN.toString(16)}`, 'start:', '    mov esp, 0x90000', ...REGS.map((x) => `    mov ${x}, ${imm(r)}`)];
  for (let i = 0; i < 10 + r.int(40); i++) lines.push(...statement(r, 0, label).map((s) => (s.endsWith(':') ? s : `    ${s}`)));
  // Memory folded into the registers, then a quiet end.
  lines.push('    mov esi, data', '    mov edi, 0', '    mov ecx, 16', '.fold:', '    rol edi, 5', '    xor edi, [esi]', '    add esi, 4', '    dec ecx', '    jnz .fold', 'done:', '    jmp done', 'align 4', 'data: times 16 dd 0x5a5a5a5a');
  return lines.join('\n') + '\n';
}

interface Outcome { outcome: string; exitCode: number; console: string; regs: number[]; flags: number; error?: string }

function run(bytes: Uint8Array, mode: Mode, limit: number): Outcome {
  const vm = createVm({ mode, maxInstructions: limit, memoryMiB: 4 });
  vm.load({ bytes, origin: ORIGIN, entry: ORIGIN, via: 'binary', diagnostics: [] });
  vm.run(limit);
  const rep = vm.report();
  const cpu = vm.cpu;
  return { outcome: rep.outcome, exitCode: rep.exitCode, console: rep.console, regs: [...cpu.regs].map((x) => x >>> 0), flags: cpu.getEflags() & 0x8d5, error: rep.error };
}

describe('fuzz: engine — random guest images in all five techniques', function () {
  this.timeout(0);
  const images = cases(4, 5000);
  it(`${images} images × ${availableModes().length} modes: no host exception, deterministic, native = BT = VT-x without sensitive instructions`, () => {
    const modes = availableModes();
    const failures: string[] = [];
    const fail = (s: string) => { if (failures.length < 15) failures.push(s); };
    const counts = { images: 0, randomImages: 0, programs: 0, runs: 0, hostErrors: 0 };
    for (let n = 0; n < images; n++) {
      const r = rng(SEED * 7919 + n);
      const innocuous = n % 2 === 0;
      let bytes: Uint8Array;
      let source = '';
      if (innocuous) {
        source = innocuousProgram(r);
        const a = assemble('fuzz.gasm', source);
        const errors = a.diagnostics.filter((d) => d.severity === 'error');
        if (errors.length) { fail(`program ${n} does not assemble: ${errors[0].message}\n${source}`); continue; }
        bytes = a.bytes;
        counts.programs++;
      } else {
        bytes = new Uint8Array(32 + r.int(480));
        for (let i = 0; i < bytes.length; i++) bytes[i] = r.int(256);
        counts.randomImages++;
      }
      counts.images++;
      const results = new Map<Mode, Outcome>();
      for (const mode of modes) {
        const limit = innocuous ? LIMIT : 5_000;
        let a: Outcome, b: Outcome;
        try {
          a = run(bytes, mode, limit);
          // Determinism: every fourth image runs twice (a VM costs tens of ms to build).
          b = n % 4 < 2 ? run(bytes, mode, limit) : a;
        } catch (e) {
          fail(`image ${n} in ${mode}: host exception ${(e as Error).stack}`);
          continue;
        }
        counts.runs += a === b ? 1 : 2;
        if (a.outcome === 'error') { counts.hostErrors++; fail(`image ${n} in ${mode}: ${a.error} (${innocuous ? source : Buffer.from(bytes).toString('hex')})`); }
        try { assert.deepEqual(b, a); } catch { fail(`image ${n} in ${mode}: two runs differ`); }
        results.set(mode, a);
      }
      if (n % 200 === 199) progress('engine', { ...counts, failures: failures.length });
      if (innocuous) {
        const native = results.get('native');
        for (const [mode, res] of results) {
          if (!native || mode === 'native') continue;
          if (res.outcome !== 'limit') fail(`program ${n} in ${mode} ended ${res.outcome} ${res.error ?? ''}`);
          try {
            assert.deepEqual({ regs: res.regs.filter((_, i) => i !== 4), flags: res.flags }, { regs: native.regs.filter((_, i) => i !== 4), flags: native.flags });
          } catch {
            fail(`program ${n}: ${mode} ends with ${JSON.stringify(res.regs)} flags ${res.flags.toString(16)}, native with ${JSON.stringify(native.regs)} flags ${native.flags.toString(16)}\n${source}`);
          }
        }
      }
    }
    report('engine', { ...counts, modes: modes.length, failures: failures.length });
    assert.deepEqual(failures, []);
  });
});
