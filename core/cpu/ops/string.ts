/*
 * String instructions (MOVS, CMPS, STOS, LODS, SCAS, INS, OUTS) with REP/REPE/REPNE. Each iteration
 * updates ECX/ESI/EDI only after its memory accesses succeed, so a fault leaves a restartable state.
 * A long REP runs in chunks: after CHUNK iterations EIP stays on the instruction, so interrupts and
 * slice ends can come in between (as on real hardware); each chunk counts as one instruction, in
 * every technique, however many hidden faults restart it (Cpu.repChunkDone).
 */
import { DF, ES } from '../constants';
import type { Cpu } from '../cpu';
import type { ExecFn, Insn } from '../insn';
import { cmpFlags } from './alu';
import { SZ } from './operands';
import { checkIoPermission } from './system';

const CHUNK = 4096;

type Step = (cpu: Cpu, i: Insn, si: number, di: number, delta: number) => void;

function makeString(step: Step, usesSi: boolean, usesDi: boolean, conditional: boolean): ExecFn {
  return (cpu, i) => {
    const r = cpu.regs, a16 = i.addr16;
    const delta = (cpu.flags & DF) ? -i.size : i.size;
    if (i.rep === 0) {
      step(cpu, i, a16 ? r[6] & 0xffff : r[6], a16 ? r[7] & 0xffff : r[7], delta);
      if (usesSi) r[6] = a16 ? (r[6] & ~0xffff) | ((r[6] + delta) & 0xffff) : (r[6] + delta) | 0;
      if (usesDi) r[7] = a16 ? (r[7] & ~0xffff) | ((r[7] + delta) & 0xffff) : (r[7] + delta) | 0;
      return;
    }
    // Iterations of this chunk done before a restart at the same boundary (a monitor's hidden fault).
    let n = 0;
    if (cpu.repChunkIcount === cpu.icount && cpu.repChunkEip === cpu.eip) n = cpu.repChunkDone;
    else { cpu.repChunkIcount = cpu.icount; cpu.repChunkEip = cpu.eip; cpu.repChunkDone = 0; }
    for (;;) {
      const count = a16 ? r[1] & 0xffff : r[1];
      if (count === 0) return;
      step(cpu, i, a16 ? r[6] & 0xffff : r[6], a16 ? r[7] & 0xffff : r[7], delta);
      if (usesSi) r[6] = a16 ? (r[6] & ~0xffff) | ((r[6] + delta) & 0xffff) : (r[6] + delta) | 0;
      if (usesDi) r[7] = a16 ? (r[7] & ~0xffff) | ((r[7] + delta) & 0xffff) : (r[7] + delta) | 0;
      r[1] = a16 ? (r[1] & ~0xffff) | ((count - 1) & 0xffff) : (count - 1) | 0;
      cpu.repChunkDone = ++n;
      // REPE stops when ZF = 0, REPNE when ZF = 1.
      if (conditional && cpu.getZF() !== (i.rep === 1)) return;
      if (n >= CHUNK && (a16 ? r[1] & 0xffff : r[1]) !== 0) {
        cpu.nextEip = cpu.eip;
        cpu.breakBlock = true;
        return;
      }
    }
  };
}

export const movs = makeString((cpu, i, si, di) => cpu.write(ES, di, i.size, cpu.read(i.seg, si, i.size)), true, true, false);
export const stos = makeString((cpu, i, _si, di) => cpu.write(ES, di, i.size, cpu.getReg(0, i.size)), false, true, false);
export const lods = makeString((cpu, i, si) => cpu.setReg(0, i.size, cpu.read(i.seg, si, i.size)), true, false, false);
export const cmps = makeString((cpu, i, si, di) => {
  const a = cpu.read(i.seg, si, i.size), b = cpu.read(ES, di, i.size);
  cmpFlags(cpu, SZ(i.size), a, b);
}, true, true, true);
export const scas = makeString((cpu, i, _si, di) => {
  const b = cpu.read(ES, di, i.size);
  cmpFlags(cpu, SZ(i.size), cpu.getReg(0, i.size), b);
}, false, true, true);
/**
 * INS/OUTS check I/O permission once, before the repeat count: a REP INS with ECX = 0 at CPL > IOPL
 * still raises #GP(0) (as Bochs and QEMU do; the SDM lists the check first in INS/OUTS's operation, and
 * the port in DX cannot change between iterations).
 */
function checkedIo(exec: ExecFn): ExecFn {
  return (cpu, i) => {
    checkIoPermission(cpu, cpu.regs[2] & 0xffff, i.size);
    exec(cpu, i);
  };
}
export const ins = checkedIo(makeString((cpu, i, _si, di) => {
  const port = cpu.regs[2] & 0xffff;
  cpu.probeWrite(ES, di, i.size);
  cpu.write(ES, di, i.size, cpu.io.in(port, i.size as 1 | 2 | 4));
}, false, true, false));
export const outs = checkedIo(makeString((cpu, i, si) => {
  cpu.io.out(cpu.regs[2] & 0xffff, i.size as 1 | 2 | 4, cpu.read(i.seg, si, i.size));
}, true, false, false));
