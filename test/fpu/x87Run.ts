// Runs x87 cases (x87Cases.ts) on the host CPU (a 64-bit program built with nasm -f elf64 and ld)
// and in a Popek guest (native), from the same instruction bytes; returns each side's records.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createVm } from '../../core/vmm';
import { assembleNasmSource } from '../support/qemu';
import { GUESTS } from '../devices/support';
import { OPS, RECORD, casesSource, type X87Case, type X87Op } from './x87Cases';

/** The records of `cases` run on the host CPU, the program built in a temporary directory. */
export function hostOnly(cases: X87Case[], ops: X87Op[] = OPS): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-x87-'));
  try { return hostRecords(cases, dir, ops); } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

/** Each case with its host record `h` and its guest record `g`. */
export function hostAndGuest(cases: X87Case[], ops: X87Op[] = OPS): Array<{ c: X87Case; h: Buffer; g: Buffer }> {
  const host = hostOnly(cases, ops), guest = guestRecords(cases, ops);
  assert.equal(host.length, cases.length * RECORD);
  return cases.map((c, k) => ({ c, h: host.subarray(k * RECORD, (k + 1) * RECORD), g: guest.subarray(k * RECORD, (k + 1) * RECORD) }));
}

export function hostRecords(cases: X87Case[], dir: string, ops: X87Op[] = OPS): Buffer {
  const src = `bits 64\nglobal _start\nsection .text\n_start:\n    call x87_body\n    mov eax, 1\n    mov edi, 1\n    mov esi, x87_records + 8\n    mov edx, x87_records_end - x87_records - 8\n    syscall\n    mov eax, 60\n    xor edi, edi\n    syscall\n${casesSource(cases, 64, ops).replace('align 16', 'section .data\nalign 16')}`;
  fs.writeFileSync(path.join(dir, 'x87.asm'), src);
  execFileSync('nasm', ['-f', 'elf64', '-o', 'x87.o', 'x87.asm'], { cwd: dir });
  execFileSync('ld', ['-o', 'x87', 'x87.o'], { cwd: dir });
  return execFileSync(path.join(dir, 'x87'), [], { maxBuffer: 1 << 24 });
}

export function guestRecords(cases: X87Case[], ops: X87Op[] = OPS): Buffer {
  const src = `%include "lib.inc"\nmain:\n    call x87_body\n    mov al, 0\n    ret\n${casesSource(cases, 32, ops)}image_end:\nsection .bss\nalignb 16\nlib_idt: resb 2048\nlib_stack: resb 4096\nlib_stack_top:\nbss_end:\n`;
  const image = assembleNasmSource(src, { includeDir: GUESTS });
  const vm = createVm({ mode: 'native', maxInstructions: 5_000_000 });
  vm.load({ bytes: new Uint8Array(image), origin: 0x100000, entry: 0x100000, via: 'binary', diagnostics: [] });
  vm.run();
  const r = vm.report();
  assert.equal(r.outcome, 'exit', r.error);
  const mem = Buffer.from(vm.machine.mem.bytes.buffer, 0, vm.machine.mem.ramSize);
  const at = mem.indexOf('X87CASES', 0x100000, 'latin1');
  return Buffer.from(mem.subarray(at + 8, at + 8 + cases.length * RECORD));
}
