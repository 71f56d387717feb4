// Runs the ALU case runner on the host CPU and in Popek. Every x86-64 host runs 64-bit programs; only some run
// 32-bit ones (the kernel may be built without IA32 emulation, or have it disabled: execve then fails
// with "Exec format error"). The differential tests ask first and say which path ran.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Machine } from '../../core/machine/machine';
import { RECORD_DWORDS, caseSource, type AluCase, type CaseTarget } from './aluCases';

export interface HostAbility {
  /** True when this host can execute an ELF32 i386 Linux program. */
  runs32: boolean;
  /** Why not (the error the kernel gave), or how it was decided. */
  why: string;
}

function tool(cmd: string, args: string[], cwd: string): Buffer {
  return execFileSync(cmd, args, { cwd, maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Builds and runs a tiny 32-bit program that exits with status 42. `POPEK_HOST32=0` forces the answer
 * "no", so the 64-bit path can be exercised on a host that could do both.
 */
export function probeHost32(dir: string): HostAbility {
  if (process.env.POPEK_HOST32 === '0') return { runs32: false, why: 'POPEK_HOST32=0' };
  fs.writeFileSync(path.join(dir, 'probe.asm'), 'bits 32\nglobal _start\n_start: mov eax, 1\n mov ebx, 42\n int 0x80\n');
  tool('nasm', ['-f', 'elf32', '-o', 'probe.o', 'probe.asm'], dir);
  tool('ld', ['-m', 'elf_i386', '-o', 'probe', 'probe.o'], dir);
  try {
    execFileSync(path.join(dir, 'probe'), [], { stdio: 'ignore' });
    return { runs32: false, why: 'the 32-bit probe exited with 0 instead of 42' };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { status?: number | null };
    if (err.status === 42) return { runs32: true, why: 'a 32-bit probe ran' };
    return { runs32: false, why: err.code ?? err.message.split('\n')[0] };
  }
}

/** Runs `cases` on the host as a `host32` or `host64` program; returns the result records. */
export function runOnHost(cases: AluCase[], target: Exclude<CaseTarget, 'guest'>, dir: string): Int32Array {
  const base = `alu-${target}`;
  fs.writeFileSync(path.join(dir, `${base}.asm`), caseSource(cases, target));
  const [format, emulation] = target === 'host32' ? ['elf32', 'elf_i386'] : ['elf64', 'elf_x86_64'];
  tool('nasm', ['-w-number-overflow', '-f', format, '-o', `${base}.o`, `${base}.asm`], dir);
  tool('ld', ['-m', emulation, '-o', base, `${base}.o`], dir);
  const out = tool(path.join(dir, base), [], dir);
  if (out.length !== cases.length * RECORD_DWORDS * 4) {
    throw new Error(`the ${target} program wrote ${out.length} bytes, expected ${cases.length * RECORD_DWORDS * 4}`);
  }
  return new Int32Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.length));
}

/** A one-line description of the host CPU for test output and recorded tables. */
export function hostCpuName(): string {
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'latin1');
    const vendor = /vendor_id\s*:\s*(.*)/.exec(info)?.[1] ?? '?';
    const model = /model name\s*:\s*(.*)/.exec(info)?.[1] ?? '?';
    return `${vendor} ${model}`.trim();
  } catch { return 'unknown CPU'; }
}

/**
 * Runs `cases` in Popek as one flat guest (the `guest` target). The guest runs them twice, the second
 * time with every block compiled (jitThreshold 1), and the second results are returned.
 */
export function runInPopek(cases: AluCase[], dir: string): { records: Int32Array; blocksCompiled: number } {
  fs.writeFileSync(path.join(dir, 'alu-guest.asm'), caseSource(cases, 'guest'));
  tool('nasm', ['-w-number-overflow', '-f', 'bin', '-o', 'alu-guest.bin', 'alu-guest.asm'], dir);
  const m = new Machine({ memoryMiB: 16, maxInstructions: 10_000_000 });
  m.cpu.jitThreshold = 1;
  m.loadImage(new Uint8Array(fs.readFileSync(path.join(dir, 'alu-guest.bin'))), { origin: 0x100000 });
  const outcome = m.run();
  if (outcome !== 'exit') throw new Error(`the guest did not run to its end: ${outcome} ${m.error ?? ''}`);
  const bytes = m.mem.bytes.slice(0x400000, 0x400000 + cases.length * RECORD_DWORDS * 4);
  return { records: new Int32Array(bytes.buffer), blocksCompiled: m.cpu.stats.blocksCompiled };
}
