// DAA, DAS, AAA, AAS, AAM, AAD and SALC do not exist in 64-bit mode, so a host that cannot run 32-bit
// programs cannot check them live. Their reference is a table recorded on a host that can
// (test/alu/fixtures/bcd-host32.txt): every AL with every CF/AF for DAA/DAS/AAA/AAS, a seeded sample of
// AL/AH/imm8 for AAM/AAD, both CF values for SALC. Only AX and the flags take part (the other registers
// and memory must stay as they were, which the test also checks).
//
// Re-record on a host that runs 32-bit code:  npx tsx test/alu/bcdTable.ts
// A host that can run 32-bit code also re-checks the table against itself in the test.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AF, CF } from '../../core/cpu/constants';
import { ARITH, CASE_REGS, RECORD_DWORDS, Rng, type AluCase } from './aluCases';
import { hostCpuName, probeHost32, runOnHost } from './runners';
import { REPO_ROOT } from '../support/repoRoot';

export const TABLE_FILE = path.join(REPO_ROOT, 'test', 'alu', 'fixtures', 'bcd-host32.txt');
/** The registers other than EAX, fixed: the instructions under test must leave them alone. */
const OTHER_REGS = [0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555, 0x66666666];
const EAX_HIGH = 0xc0de0000;
const MEM = 0x0badf00d;

/** Flags the SDM leaves undefined after each instruction (not compared). */
export const BCD_UNDEFINED: Record<string, number> = {
  daa: 0x800, das: 0x800, // OF
  aaa: 0x800 | 0x80 | 0x40 | 0x4, aas: 0x800 | 0x80 | 0x40 | 0x4, // OF SF ZF PF
  aam: 0x800 | 0x10 | 0x1, aad: 0x800 | 0x10 | 0x1, // OF AF CF
  salc: 0,
};

export interface BcdEntry {
  /** Instruction text as in the table: `daa`, `aam 0x0a`, `salc`. */
  insn: string;
  ax: number;
  flags: number;
  axOut: number;
  flagsOut: number;
}

/** The inputs of the table, deterministic. */
export function bcdInputs(): Array<{ insn: string; ax: number; flags: number }> {
  const rng = new Rng(0xbcdbcd);
  const list: Array<{ insn: string; ax: number; flags: number }> = [];
  const randomFlags = () => rng.next() & ARITH & ~(CF | AF);
  for (const m of ['daa', 'das', 'aaa', 'aas']) {
    for (let al = 0; al < 256; al++) {
      for (const cf of [0, CF]) {
        for (const af of [0, AF]) list.push({ insn: m, ax: (rng.below(256) << 8) | al, flags: randomFlags() | cf | af });
      }
    }
  }
  for (let k = 0; k < 1024; k++) list.push({ insn: `aam 0x${(1 + rng.below(255)).toString(16).padStart(2, '0')}`, ax: rng.below(0x10000), flags: rng.next() & ARITH });
  for (let k = 0; k < 1024; k++) list.push({ insn: `aad 0x${rng.below(256).toString(16).padStart(2, '0')}`, ax: rng.below(0x10000), flags: rng.next() & ARITH });
  for (let k = 0; k < 16; k++) list.push({ insn: 'salc', ax: rng.below(0x10000), flags: (rng.next() & ARITH & ~CF) | (k & 1 ? CF : 0) });
  return list;
}

/** The ALU-case form of a table input (for the case runner). */
export function toCase(e: { insn: string; ax: number; flags: number }): AluCase {
  return {
    insn: e.insn === 'salc' ? 'salc_' : e.insn,
    regs: [(EAX_HIGH | e.ax) >>> 0, ...OTHER_REGS],
    mem: MEM,
    flags: e.flags,
    undefinedFlags: BCD_UNDEFINED[e.insn.split(' ')[0]],
  };
}

/** Checks that a result record left everything but AX and the flags alone; returns what differs. */
export function untouchedDiffs(records: Int32Array, k: number): string[] {
  const o = k * RECORD_DWORDS, diffs: string[] = [];
  if ((records[o] >>> 16) !== EAX_HIGH >>> 16) diffs.push(`EAX[31:16]=0x${(records[o] >>> 16).toString(16)}`);
  OTHER_REGS.forEach((v, i) => { if (records[o + 1 + i] >>> 0 !== v) diffs.push(`${CASE_REGS[1 + i]}=0x${(records[o + 1 + i] >>> 0).toString(16)}`); });
  if (records[o + 7] >>> 0 !== MEM) diffs.push(`mem=0x${(records[o + 7] >>> 0).toString(16)}`);
  return diffs;
}

const h = (v: number, n: number) => v.toString(16).padStart(n, '0');

export function formatTable(entries: BcdEntry[], cpu: string): string {
  const head = [
    '# DAA/DAS/AAA/AAS/AAM/AAD/SALC on a real CPU in 32-bit mode: insn, AX in, EFLAGS in, AX out, EFLAGS out',
    `# (arithmetic flags only). Recorded by test/alu/bcdTable.ts on: ${cpu}`,
    '# Flags the SDM leaves undefined are recorded as this CPU left them and are not compared.',
  ];
  return head.concat(entries.map((e) => `${e.insn.replace(' ', ':')} ${h(e.ax, 4)} ${h(e.flags, 3)} ${h(e.axOut, 4)} ${h(e.flagsOut, 3)}`)).join('\n') + '\n';
}

export function parseTable(text: string): { cpu: string; entries: BcdEntry[] } {
  const cpu = /Recorded by \S+ on: (.*)/.exec(text)?.[1] ?? 'unknown';
  const entries: BcdEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [insn, ax, flags, axOut, flagsOut] = line.split(' ');
    entries.push({ insn: insn.replace(':', ' '), ax: parseInt(ax, 16), flags: parseInt(flags, 16), axOut: parseInt(axOut, 16), flagsOut: parseInt(flagsOut, 16) });
  }
  return { cpu, entries };
}

/** Runs the table's inputs on this host in 32-bit mode and returns the entries. */
export function recordOnHost(dir: string): BcdEntry[] {
  const inputs = bcdInputs();
  const records = runOnHost(inputs.map(toCase), 'host32', dir);
  return inputs.map((e, k) => ({ ...e, axOut: records[k * RECORD_DWORDS] & 0xffff, flagsOut: records[k * RECORD_DWORDS + 8] & ARITH }));
}

if (require.main === module) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-bcd-'));
  try {
    const ability = probeHost32(dir);
    if (!ability.runs32) throw new Error(`this host cannot run 32-bit programs (${ability.why}); record the table on one that can`);
    const entries = recordOnHost(dir);
    fs.writeFileSync(TABLE_FILE, formatTable(entries, hostCpuName()));
    console.log(`wrote ${entries.length} entries to ${TABLE_FILE}`);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}
