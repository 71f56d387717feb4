// Compiled regions (core/cpu/regionCompiler.ts: hot loops as one JS function, registers and flags
// in locals, the TLB fast path inline) are exact: every guest here runs twice, under the pure
// interpreter (jit off) and with regions, in the same slices (odd sizes, so slices end in the middle
// of regions), and the whole state must agree at every stop — registers, EFLAGS, EIP, the count,
// memory and the console. Each guest also checks its own result (computed here, never recorded), and
// the tests check that regions were really compiled and run.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { assemble } from '../../core/asm';
import { Machine } from '../../core/machine/machine';
import { assembleProgram } from '../../core/machine/program';
import { createVm } from '../../core/vmm';
import { REPO_ROOT } from '../support/repoRoot';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { idtGate } from '../support/guestAsm';

const ORIGIN = 0x100000;

function build(body: string): { bytes: Uint8Array; label: (name: string) => number } {
  const r = assemble('region.gasm', `bits 32\norg 0x${ORIGIN.toString(16)}\n${body}\n`, { origin: ORIGIN });
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  assert.equal(errors.length, 0, errors.map((d) => d.message).join('\n'));
  return {
    bytes: r.bytes,
    label: (name) => {
      const l = r.labels.find((x) => x.name === name);
      assert.ok(l, `label ${name}`);
      return l.address;
    },
  };
}

/** `wasm`: regions compiled to WebAssembly where they can (the default), false: JS regions only. */
function boot(bytes: Uint8Array, jit: boolean, wasm = true): Machine {
  const m = new Machine({ maxInstructions: 20_000_000, jit });
  m.cpu.wasmRegions = wasm;
  m.loadImage(bytes, { origin: ORIGIN });
  return m;
}

/** The CPU state and the console; `memory`: a digest of the first 4 MiB too (every guest's data is there). */
function state(m: Machine, memory = true): string {
  const c = m.cpu;
  return JSON.stringify({
    regs: Array.from(c.regs), eip: c.eip, eflags: c.getEflags(), icount: c.icount, cr2: c.cr2, console: m.console, outcome: m.outcome,
    mem: memory ? createHash('sha1').update(m.mem.bytes.subarray(0, 4 << 20)).digest('hex') : '',
  });
}

/**
 * Runs `bytes` interpreted and with regions in the same slices, comparing the state at each stop:
 * `fast` with regions in WebAssembly where they can be (core/cpu/wasm), `fastJs` with JS regions only.
 */
function lockstep(bytes: Uint8Array, slice = 997): { fast: Machine; fastJs: Machine; slow: Machine; stops: number } {
  const slow = boot(bytes, false), fast = boot(bytes, true), fastJs = boot(bytes, true, false);
  let stops = 0;
  for (;;) {
    const a = slow.runSlice(slice), b = fast.runSlice(slice), c = fastJs.runSlice(slice);
    stops++;
    assert.equal(b, a, `stop ${stops}: ${b} vs ${a} ${fast.error ?? ''}`);
    assert.equal(c, a, `stop ${stops} (JS regions): ${c} vs ${a}`);
    // Memory at every 16th stop and at the end (a digest of 4 MiB costs more than the slice).
    const memory = stops % 16 === 0 || a !== 'slice';
    const want = state(slow, memory);
    assert.equal(state(fast, memory), want, `state after stop ${stops}`);
    assert.equal(state(fastJs, memory), want, `state after stop ${stops} (JS regions)`);
    if (a !== 'slice') break;
  }
  assert.ok(fast.cpu.stats.regionsCompiled > 0 && fastJs.cpu.stats.regionsCompiled > 0, 'regions were compiled');
  return { fast, fastJs, slow, stops };
}

/** Runs to the end with regions (one big slice; WebAssembly and JS), and interpreted; the final states agree. */
function endToEnd(bytes: Uint8Array): Machine {
  const slow = boot(bytes, false), fast = boot(bytes, true), fastJs = boot(bytes, true, false);
  slow.run(50_000_000); fast.run(50_000_000); fastJs.run(50_000_000);
  assert.equal(state(fast), state(slow));
  assert.equal(state(fastJs), state(slow), 'JS regions');
  assert.ok(fast.cpu.stats.regionsCompiled > 0 && fastJs.cpu.stats.regionsCompiled > 0, 'regions were compiled');
  return fast;
}

/** Ends the guest; EAX is kept in EBP (the exit clobbers AL). */
const EXIT = ['mov ebp, eax', 'mov al, 0', 'out 0xf4, al'];

/** A hot loop (its last instruction at `last`), then code in the same page that never runs (`never`). */
const LOOP_THEN_DEAD_CODE = [
  'start:', 'xor eax, eax', 'mov ecx, 20000',
  'lp:', 'add eax, ecx', 'test ecx, 1', 'jz even', 'add ebx, 3', 'even:', 'dec ecx', 'last: jnz lp',
  'jmp done', 'never: inc esi', 'inc edi', 'done:',
  ...EXIT,
].join('\n');

describe('cpu: compiled regions', function () {
  it('every inlined form (ALU reg/mem/imm incl. ADC/SBB, byte forms, INC/DEC, shifts, IMUL, MOVZX/SX, PUSH/POP, CALL, Jcc on every condition) agrees with the interpreter', function () {
    // A loop over a table of operand pairs; each iteration runs every compiled form and folds the
    // flags of each Jcc into EBP (one bit per condition), so a wrong flag changes the result.
    const ccs = ['o', 'no', 'b', 'nb', 'z', 'nz', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
    let n = 0;
    /** Jcc on conditions from..to-1, each folding its outcome into EBP (labels unique per use). */
    const jccs = (from = 0, to = 16) => ccs.slice(from, to).flatMap((cc, k) => { n++; return [`j${cc} .t${n}`, `jmp .f${n}`, `.t${n}:`, `xor ebp, ${1 << (k + from)}`, `.f${n}:`]; });
    const body = [
      'start:', 'mov esp, 0x90000', 'xor ebp, ebp', 'mov esi, 0',
      '.loop:',
      'mov eax, [pairs + esi*8]', 'mov ebx, [pairs + esi*8 + 4]',
      'mov [scratch], eax', 'add [scratch], ebx', ...jccs(0, 5),
      'mov ecx, eax', 'sub ecx, ebx', ...jccs(5, 10),
      'cmp eax, ebx', ...jccs(10, 16),
      'xor [scratch], ebx', 'or ecx, [scratch]', 'and ecx, 0xfff0fff', 'test ecx, ebx',
      'cmp byte [scratch], 0x80', 'setb dl', 'add dl, bl', 'adc dh, al', 'sub byte [scratch + 1], bl', 'mov dl, [scratch + 2]', 'xor dl, 0x5a',
      'inc dword [scratch]', 'dec byte [scratch + 3]', 'inc ecx', 'dec edx', ...jccs(),
      'shl eax, 3', 'shr ebx, 5', 'sar ecx, 7', 'rol edx, 3', ...jccs(0, 8),
      // ADC/SBB (register, memory, immediate, byte), the carry in from a compare, then every Jcc on their flags.
      'cmp eax, ebx', 'adc ecx, ebx', ...jccs(0, 8), 'cmp ebx, eax', 'sbb edx, [scratch]', ...jccs(8, 16),
      'cmp al, bl', 'sbb byte [scratch + 1], 7', 'adc dword [scratch], 0x12345', 'sbb dl, al', 'adc [scratch + 2], dh', ...jccs(),
      // The first Jcc after the instruction reads the record in locals: CF with a carry in and a result equal to the operand.
      'stc', 'adc ecx, -1', ...jccs(2, 4), 'stc', 'sbb edx, edx', ...jccs(2, 4), 'stc', 'adc al, 0xff', ...jccs(6, 8), 'cmp ebx, eax', 'sbb ecx, eax', ...jccs(3, 4),
      'imul edi, eax, 12345', 'imul edi, ebx', 'add edi, 7', 'imul eax, [scratch], -3',
      'movzx ecx, byte [scratch + 1]', 'movsx edx, word [scratch + 2]', 'movsx ecx, dl', 'movzx edx, cx',
      'push eax', 'push dword [scratch]', 'push 0x1234', 'pop ecx', 'pop edx', 'pop eax', 'not eax', 'neg ebx', ...jccs(0, 6),
      'call .sub', 'lea ecx, [eax + ebx*2 + 7]', 'cdq',
      'add [sum], eax', 'adc [sum + 4], edx', 'add [sum], ebx', 'add [sum], ecx', 'add [sum], edi', 'add [sum], ebp',
      'inc esi', 'cmp esi, 24', 'jb .loop',
      'dec dword [rounds]', 'mov esi, 0', 'jnz .loop',
      ...EXIT,
      '.sub:', 'add eax, 3', 'ret',
      'align 4', 'rounds: dd 20', 'sum: dd 0, 0', 'scratch: dd 0',
      'pairs:', 'dd 0, 0, 1, 1, 0x7fffffff, 1, 0x80000000, 0x80000000, 0xffffffff, 1, 5, 7, 7, 5, 0x80000000, 1',
      'dd 0x7fffffff, 0xffffffff, 0x12345678, 0x9abcdef0, 0xff, 0x1, 0x80, 0x80, 0x7f, 0x81, 0xfffffffe, 0xffffffff',
      'dd 3, 0x80000001, 0x10000, 0xffff, 0xdeadbeef, 0xdeadbeef, 0x55555555, 0xaaaaaaaa, 1, 0x7fffffff, 0x8000, 0x7fff',
      'dd 100, 200, 0x40000000, 0x40000000, 0xc0000000, 0x40000000, 2, 0xfffffffd, 0x11, 0x0f, 0xf0, 0x10',
    ].join('\n');
    const g = build(body);
    const { fast } = lockstep(g.bytes, 1013);
    assert.equal(fast.outcome, 'exit');
    endToEnd(g.bytes);
  });

  it('INC/DEC keep the CF of the ADD/SUB/ADC/SBB/NEG before them and ADC/SBB take it as their carry in, in every operand size, as interpreted', function () {
    // The carry a compiled region computes from the record's operands (regionCompiler carryBit) for
    // every pair below, every writer and size; each CF is folded into EBP by an ADC, so a wrong carry
    // changes the sum. The pairs cover carries and borrows out of bit 7, 15 and 31 with a carry in.
    const writers = (a: string, b: string) => [`add ${a}, ${b}`, `sub ${a}, ${b}`, `stc`, `adc ${a}, ${b}`, `stc`, `sbb ${a}, ${b}`, `clc`, `adc ${a}, ${b}`, `clc`, `sbb ${a}, ${b}`, `neg ${a}`];
    const fold = (writer: string[], a: string, b: string) => writer.flatMap((w) => (w === 'stc' || w === 'clc' ? [w] :
      [`mov ${a}, [pairs + esi*8]`.replace(/\b(al|ax|eax)\b/, 'eax'), `mov ${b}, [pairs + esi*8 + 4]`.replace(/\b(bl|bx|ebx)\b/, 'ebx'), w, `inc ${a}`, 'adc ebp, 0', w.startsWith('neg') ? `neg ${a}` : w, `dec ${b}`, 'adc ebp, ebp', w.startsWith('neg') ? `neg ${a}` : w, `adc ${a}, ${b}`, 'adc ebp, 0', w.startsWith('neg') ? `neg ${a}` : w, `sbb ${b}, ${a}`, 'adc ebp, ebp', 'add edi, eax']));
    const body = [
      'start:', 'xor ebp, ebp', 'xor edi, edi', 'mov ecx, 40',
      '.round:',
      // One loop per operand size (a region is at most 600 instructions).
      ...(['eax', 'ax', 'al'] as const).flatMap((a, k) => {
        const b = ['ebx', 'bx', 'bl'][k];
        return [`xor esi, esi`, `.loop${k}:`, ...fold(writers(a, b), a, b), 'inc esi', 'cmp esi, 16', `jb .loop${k}`];
      }),
      // Memory forms: the INC/DEC is an RMW of the dword written by ADD.
      'xor esi, esi', '.loopm:',
      'mov eax, [pairs + esi*8]', 'mov [scratch], eax', 'mov ebx, [pairs + esi*8 + 4]', 'add [scratch], ebx', 'inc dword [scratch]', 'adc ebp, 0', 'sub [scratch], ebx', 'dec word [scratch]', 'adc ebp, ebp', 'add edi, [scratch]',
      'inc esi', 'cmp esi, 16', 'jb .loopm',
      'dec ecx', 'jnz .round',
      'mov eax, ebp', 'xor eax, edi', ...EXIT,
      'align 4', 'scratch: dd 0',
      'pairs:', 'dd 0, 0, 1, 0xffffffff, 0xffffffff, 0xffffffff, 0x7fffffff, 1, 0x80000000, 0x80000000, 0x80, 0x80, 0xff, 1, 0x7f, 0x81',
      'dd 0x8000, 0x8000, 0xffff, 1, 0x7fff, 0x8001, 0, 1, 0x12345678, 0x9abcdef0, 0xdeadbeef, 0x21524111, 0x00ff00ff, 0xff00ff01, 3, 0xfffffffd',
    ].join('\n');
    const g = build(body);
    const { fast } = lockstep(g.bytes, 1013);
    assert.equal(fast.outcome, 'exit');
    endToEnd(g.bytes);
  });

  it('a load of the address the access before it used reuses its translation only when that access took the fast path and the address registers did not change', function () {
    // `near` shares the page with the code (stores there take the slow path: code tracking), `buf`
    // has a page of its own. Each pair below is an access then a load of the same address expression.
    const body = [
      'start:', 'xor ebp, ebp', 'mov ecx, 3000', 'mov edx, 12345',
      '.loop:',
      'imul edx, edx, 1103515245', 'add edx, 12345', 'mov eax, edx', 'shr eax, 22', 'mov ebx, ecx', 'and ebx, 15',
      // Fast RMW then the load: the translation is reused.
      'xor [buf + eax*4], ecx', 'mov edi, [buf + eax*4]', 'add ebp, edi',
      // RMW on the code's page (slow path), then a load of it: must not use the translation of buf.
      'xor [near + ebx*4], ecx', 'mov esi, [near + ebx*4]', 'add ebp, esi',
      // The index register changes between the two: a new translation.
      'add [buf + eax*4], ecx', 'mov eax, ebx', 'mov edi, [buf + eax*4]', 'xor ebp, edi',
      // The load's own destination is its address register: the next load of the same expression reads the new address.
      'mov eax, ebx', 'shl eax, 2', 'add eax, buf', 'mov [eax], eax', 'mov eax, [eax]', 'mov eax, [eax]', 'add ebp, eax',
      // Store then load, word and byte sizes, on both pages.
      'mov [buf + ebx*4 + 64], ecx', 'mov edi, [buf + ebx*4 + 64]', 'add ebp, edi',
      'mov [near + ebx*2], dx', 'mov di, [near + ebx*2]', 'add ebp, edi',
      'add byte [buf + ebx + 128], cl', 'mov al, [buf + ebx + 128]', 'movzx eax, al', 'add ebp, eax',
      'dec ecx', 'jnz .loop',
      'mov eax, ebp', ...EXIT,
      'align 64', 'near: times 64 db 0',
      'align 4096', 'buf: times 1024 dd 0',
    ].join('\n');
    const g = build(body);
    const { fast } = lockstep(g.bytes, 1013);
    assert.equal(fast.outcome, 'exit');
    endToEnd(g.bytes);
  });

  it('16-bit operand forms (0x66: ALU reg/mem/imm incl. ADC/SBB, INC/DEC, NEG/NOT/TEST, MOV) compiled inline agree with the interpreter, a word across a page end included', function () {
    // As the test above with word operands: each iteration folds the flags of every Jcc into EBP,
    // and the upper halves of the registers must survive every word write.
    const ccs = ['o', 'no', 'b', 'nb', 'z', 'nz', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
    let n = 0;
    const jccs = (from = 0, to = 16) => ccs.slice(from, to).flatMap((cc, k) => { n++; return [`j${cc} .t${n}`, `jmp .f${n}`, `.t${n}:`, `xor ebp, ${1 << (k + from)}`, `.f${n}:`]; });
    const body = [
      'start:', 'mov esp, 0x90000', 'xor ebp, ebp', 'mov esi, 0', 'mov edi, 0x12345678',
      '.loop:',
      'mov eax, [pairs + esi*8]', 'mov ebx, [pairs + esi*8 + 4]',
      'mov [scratch], ax', 'add [scratch], bx', ...jccs(0, 8), 'mov cx, ax', 'sub cx, bx', ...jccs(8, 16),
      'cmp ax, bx', ...jccs(), 'cmp word [scratch], 0x8000', ...jccs(2, 8),
      'xor [scratch], bx', 'or cx, [scratch]', 'and cx, 0xff0f', 'test cx, bx', ...jccs(4, 10), 'test word [scratch], 0x8001', ...jccs(4, 10),
      'cmp ax, bx', 'adc cx, bx', ...jccs(0, 8), 'cmp bx, ax', 'sbb dx, [scratch]', ...jccs(8, 16),
      'stc', 'adc word [scratch], 0x7fff', 'sbb word [scratch], -1', 'adc [scratch], dx', ...jccs(),
      'inc word [scratch]', 'dec cx', ...jccs(0, 10), 'inc dx', 'dec word [scratch]', ...jccs(),
      'neg bx', ...jccs(0, 8), 'not word [scratch]', 'not dx', 'add dx, 0x8000', ...jccs(),
      'add di, ax', 'sub word [edge], bx', 'xor [edge], di', 'mov dx, [edge]', 'mov word [edge2], 0x1234', 'add [edge2], dx', ...jccs(),
      'mov ax, 0xbeef', 'mov [scratch + 2], cx',
      'add [sum], eax', 'add [sum], ebx', 'add [sum], ecx', 'add [sum], edx', 'add [sum], edi', 'add [sum], ebp', 'movzx ecx, word [scratch]', 'add [sum], ecx',
      'inc esi', 'cmp esi, 24', 'jb .loop',
      'dec dword [rounds]', 'mov esi, 0', 'jnz .loop',
      'mov eax, [sum]', 'add eax, [edge]', 'add eax, [edge2]',
      ...EXIT,
      'align 4', 'rounds: dd 8', 'sum: dd 0', 'scratch: dd 0',
      'pairs:', 'dd 0, 0, 1, 1, 0x7fff, 1, 0x8000, 0x8000, 0xffff, 1, 5, 7, 7, 5, 0x8000, 1',
      'dd 0x7fff, 0xffff, 0x12345678, 0x9abcdef0, 0xff, 0x1, 0x80, 0x80, 0x7f, 0x81, 0xfffe, 0xffff',
      'dd 3, 0x80000001, 0x10000, 0xffff, 0xdeadbeef, 0xdeadbeef, 0x5555, 0xaaaa, 1, 0x7fffffff, 0x8000, 0x7fff',
      'dd 100, 200, 0x4000, 0x4000, 0xc000, 0x4000, 2, 0xfffd, 0x11, 0x0f, 0xf0, 0x10',
      // A word across a page end (the slow path) and one at a page's last even offset (the fast path).
      'align 4096', 'times 4095 db 0', 'edge: dw 0', 'times 4093 db 0', 'edge2: dw 0',
    ].join('\n');
    const g = build(body);
    assert.deepEqual([g.label('edge') & 4095, g.label('edge2') & 4095], [4095, 4094]);
    const { fast } = lockstep(g.bytes, 1009);
    assert.equal(fast.outcome, 'exit');
    endToEnd(g.bytes);
    // With paging, the page after a word's first byte maps elsewhere: its second byte goes there.
    const paged = build([
      ...pagingWithPfHandler(['mov dword [0x201000 + 0x381*4], 0x3a0003']),
      'mov ecx, 500', 'mov eax, 0x1234', 'xor edx, edx',
      '.l:', 'add word [0x380fff], ax', 'adc dx, [0x380fff]', 'mov [0x380fff], dx', 'xor [0x380fff], cx', 'add ax, 0x3333', 'dec ecx', 'jnz .l',
      'mov eax, [0x3a0000]', 'add eax, edx', ...EXIT,
      'pf: hlt', 'align 4', 'idtr: dw 256*8-1', 'dd idt', 'align 8', 'idt: times 256*8 db 0',
    ].join('\n'));
    lockstep(paged.bytes, 97);
  });

  it('self-modifying code inside a hot loop: a store to the loop\'s own instructions takes effect at once', function () {
    // The loop adds the immediates of `patch` and `patch2`; after 300 iterations (long compiled by
    // then) it rewrites both: `patch` in the same block right after the store, `patch2` in a later one.
    const g = build([
      'start:', 'xor eax, eax', 'xor edx, edx', 'mov ecx, 600',
      'lp:',
      'cmp ecx, 300', 'jne go', 'mov byte [patch + 2], 5', 'mov byte [patch2 + 2], 9',
      'go:',
      'patch: add eax, 1',
      'cmp ecx, 300', 'ja skip', 'inc ebx',
      'skip:',
      'patch2: add edx, 2',
      'dec ecx', 'jnz lp',
      ...EXIT,
    ].join('\n'));
    const m = endToEnd(g.bytes);
    const { fast } = lockstep(g.bytes, 101);
    // ECX = 600..301 add 1 and 2, ECX = 300..1 add 5 and 9.
    assert.equal(m.cpu.regs[5], 300 * 1 + 300 * 5);
    assert.equal(m.cpu.regs[2], 300 * 2 + 300 * 9);
    assert.ok(fast.cpu.stats.codeInvalidations > 0);
  });

  /** Paging on, a hot loop reading linear 0x380000; after 400 iterations the PTE moves to another page. */
  function pagingGuest(flush: string[]): string {
    return [
      'start:',
      // Page table at 0x201000 mapping the first 4 MiB 1:1, directory at 0x200000.
      'mov edi, 0x201000', 'xor eax, eax', 'or eax, 3',
      '.pt:', 'mov [edi], eax', 'add edi, 4', 'add eax, 0x1000', 'cmp edi, 0x202000', 'jb .pt',
      'mov dword [0x200000], 0x201003',
      // Page A (0x380000) holds 1s, page B (0x390000) 2s.
      'mov edi, 0x380000', '.fa:', 'mov dword [edi], 1', 'mov dword [edi + 0x10000], 2', 'add edi, 4', 'cmp edi, 0x381000', 'jb .fa',
      'mov eax, 0x200000', 'mov cr3, eax', 'mov eax, cr0', 'or eax, 0x80000000', 'mov cr0, eax',
      'xor eax, eax', 'xor esi, esi', 'mov ecx, 1000',
      '.loop:',
      'mov ebx, esi', 'and ebx, 0x3ff', 'add eax, [0x380000 + ebx*4]', 'inc esi',
      'cmp ecx, 600', 'jne .next',
      'mov dword [0x201000 + 0x380*4], 0x390003', ...flush,
      '.next:', 'dec ecx', 'jnz .loop',
      ...EXIT,
    ].join('\n');
  }

  it('page-table changes while a region is hot: INVLPG and a CR3 write are seen by the next access', function () {
    for (const flush of [['invlpg [0x380000]'], ['mov edx, cr3', 'mov cr3, edx']]) {
      const g = build(pagingGuest(flush));
      const m = endToEnd(g.bytes);
      // ECX = 1000..600 read page A (1 each; the PTE changes after the read at 600), the other 599 page B.
      assert.equal(m.cpu.regs[5], 401 * 1 + 599 * 2, flush.join('; '));
      lockstep(g.bytes, 89);
    }
  });

  it('an access site\'s cached page is forgotten after a slow path: a write that walks to a moved PTE is seen by the next read at the same site', function () {
    // Pages X0..X15 (0x300000…) map frames A (1:1, holding 0x1111) with the dirty bit clear, so the
    // TLB holds them read-only after a read. Per page, twice: read X (one site, which caches A), point
    // X's PTE at frame B (no INVLPG), write X: the write has no write permission in the TLB, walks,
    // and goes to B, and the TLB now maps X to B. The second read at the site must read B (the value
    // just written), as interpreted: the site's page cache is forgotten at the write's slow path.
    const rounds = 12;
    const g = build([
      'start:',
      'mov edi, 0x201000', 'mov eax, 3',
      '.pt:', 'mov [edi], eax', 'add edi, 4', 'add eax, 0x1000', 'cmp edi, 0x202000', 'jb .pt',
      'mov dword [0x200000], 0x201003',
      'mov edi, 0x300000', '.fa:', 'mov dword [edi], 0x1111', 'add edi, 0x1000', 'cmp edi, 0x310000', 'jb .fa',
      'mov eax, 0x200000', 'mov cr3, eax', 'mov eax, cr0', 'or eax, 0x80000000', 'mov cr0, eax',
      `xor edi, edi`, `mov ebp, ${rounds}`,
      '.round:',
      // Every X back to its frame A, clean; the TLB emptied, then filled read-only by a read of each.
      'xor esi, esi', '.back:', 'mov edx, esi', 'shl edx, 12', 'add edx, 0x300003', 'mov [0x201000 + 0x300*4 + esi*4], edx', 'inc esi', 'cmp esi, 16', 'jb .back',
      'mov eax, cr3', 'mov cr3, eax',
      'xor esi, esi', '.touch:', 'mov ebx, esi', 'shl ebx, 12', 'mov eax, [0x300000 + ebx]', 'inc esi', 'cmp esi, 16', 'jb .touch',
      'xor esi, esi',
      // The read of both passes is one site: .twice is a block of its own (too long to be copied into the jump).
      '.page:', 'mov ebx, esi', 'shl ebx, 12', 'add ebx, 0x300000', 'mov ecx, 2', 'jmp .twice',
      '.twice:', 'mov eax, [ebx]', 'add edi, eax',
      'mov edx, esi', 'shl edx, 12', 'add edx, 0x340003', 'mov [0x201000 + 0x300*4 + esi*4], edx',
      'mov [ebx], ecx', 'dec ecx', 'jnz .twice',
      'inc esi', 'cmp esi, 16', 'jb .page',
      'dec ebp', 'jnz .round',
      'mov eax, edi', ...EXIT,
    ].join('\n'));
    const m = endToEnd(g.bytes);
    // Each page, each round: 0x1111 from A, then the 2 written to B just before.
    assert.equal(m.cpu.regs[5], rounds * 16 * (0x1111 + 2));
    lockstep(g.bytes, 97);
  });

  /**
   * Guest start: the #PF handler `pf` in the IDT, the first 4 MiB mapped 1:1 (table at 0x201000,
   * directory at 0x200000), `unmap` run on the table, then paging on.
   */
  function pagingWithPfHandler(unmap: string[]): string[] {
    return [
      'start:', 'mov esp, 0x90000', 'lidt [idtr]',
      ...idtGate(14, 'pf'),
      'mov edi, 0x201000', 'mov eax, 3',
      '.pt:', 'mov [edi], eax', 'add edi, 4', 'add eax, 0x1000', 'cmp edi, 0x202000', 'jb .pt',
      'mov dword [0x200000], 0x201003',
      ...unmap,
      'mov eax, 0x200000', 'mov cr3, eax', 'mov eax, cr0', 'or eax, 0x80000000', 'mov cr0, eax',
    ];
  }

  it('faults inside a region are raised at the faulting instruction with the state before it', function () {
    // A #PF handler maps the page on demand (a not-present PTE), counts the faults and returns.
    const g = build([
      ...pagingWithPfHandler([
        // Pages 0x300000–0x307fff not present.
        'mov edi, 0x201000 + 0x300*4', '.np:', 'and dword [edi], ~1', 'add edi, 4', 'cmp edi, 0x201000 + 0x308*4', 'jb .np',
      ]),
      'xor eax, eax', 'mov ecx, 4000', 'mov esi, 0x300000',
      '.loop:', 'add eax, ecx', 'add [esi], eax', 'cmp eax, 7', 'adc ebx, 0', 'add esi, 8', 'and esi, 0x307fff', 'or esi, 0x300000', 'dec ecx', 'jnz .loop',
      'mov eax, [faults]', 'out 0xf4, al',
      'pf:', 'push eax', 'mov eax, cr2', 'shr eax, 12', 'or dword [0x201000 + eax*4], 1', 'inc dword [faults]', 'pop eax', 'add esp, 4', 'iretd',
      'align 4', 'faults: dd 0', 'idtr: dw 256*8-1', 'dd idt', 'align 8', 'idt: times 256*8 db 0',
    ].join('\n'));
    const m = endToEnd(g.bytes);
    assert.equal(m.exitCode, (8 << 1) | 1, 'one fault per page');
    lockstep(g.bytes, 53);
  });

  it('a fault at a loop head entered by the back edge sees the EFLAGS the back edge carries (static flag states per block start)', function () {
    // Each loop's head is a read-modify-write that faults every 4th pass (its page changes and the
    // #PF handler keeps only one of two pages mapped), after a back edge whose last flag writer is a
    // different kind each time: DEC keeping ADD's CF, SHL/SHR by constants, TEST, INC, SUB, DEC of a
    // byte register. The region knows that state statically at the head and stores only the record
    // parts EFLAGS needs; the handler logs the EFLAGS the fault pushed, so a wrong part shows.
    const tails: string[][] = [
      ['add eax, 0x9e3779b9', 'dec ecx'],
      ['dec ecx', 'mov edx, ecx', 'shl edx, 3'],
      ['dec ecx', 'mov edx, ecx', 'shr edx, 1'],
      ['dec ecx', 'test ecx, ecx'],
      ['add eax, 0x7fffffff', 'dec ecx', 'mov edx, ecx', 'not edx', 'inc edx'],
      ['add eax, ecx', 'sub ecx, 1'],
      ['add al, cl', 'dec cl'],
    ];
    const loops = tails.flatMap((tail, n) => [
      'mov ecx, 300', 'mov esi, 0x300000',
      `.l${n}:`, 'add [esi], ecx', 'mov esi, ecx', 'and esi, 4', 'shl esi, 10', 'or esi, 0x300000', ...tail, `jnz .l${n}`,
    ]);
    const g = build([
      ...pagingWithPfHandler(['and dword [0x201000 + 0x300*4], ~1', 'and dword [0x201000 + 0x301*4], ~1']),
      'xor eax, eax', 'mov dword [logp], 0x280000',
      ...loops,
      'mov eax, [logp]', 'sub eax, 0x280000', 'shr eax, 2', 'out 0xf4, al',
      // EFLAGS pushed by the fault (above EBX, EAX, the error code, EIP, CS) to the log; the other page unmapped.
      'pf:', 'push eax', 'push ebx', 'mov eax, [esp + 20]', 'mov ebx, [logp]', 'mov [ebx], eax', 'add dword [logp], 4',
      'mov eax, [mapped]', 'test eax, eax', 'jz .none', 'and dword [0x201000 + eax*4], ~1', 'shl eax, 12', 'invlpg [eax]', '.none:',
      'mov eax, cr2', 'shr eax, 12', 'or dword [0x201000 + eax*4], 1', 'mov [mapped], eax',
      'pop ebx', 'pop eax', 'add esp, 4', 'iretd',
      'align 4', 'logp: dd 0', 'mapped: dd 0', 'idtr: dw 256*8-1', 'dd idt', 'align 8', 'idt: times 256*8 db 0',
    ].join('\n'));
    const m = endToEnd(g.bytes);
    // A fault when the page changes: every 4th pass of each loop's ~300.
    const faults = (new DataView(m.mem.bytes.buffer).getInt32(g.label('logp'), true) - 0x280000) / 4;
    assert.ok(faults > 300, `faults taken (${faults})`);
    // Logged EFLAGS differ between the loops (the states are really different).
    const log = new Set(Array.from(new Int32Array(m.mem.bytes.buffer, 0x280000, faults)).map((f) => f & 0x8d5));
    assert.ok(log.size >= 4, `distinct flags logged (${log.size})`);
    lockstep(g.bytes, 61);
  });

  /**
   * A hot loop whose accesses miss the TLB again and again (regions leave at a missing page, the
   * dispatcher runs the instruction and fills the TLB): data pages mapped on demand by a #PF handler,
   * a CR3 reload every 128 passes, an INVLPG of a code alias every 64, a PTE moved (INVLPG) at pass
   * 1500, a store through the alias to the loop's own code at 1024 right after its INVLPG (so that
   * store misses), a call to a page of its own (a breakpoint there in one run). Every access form
   * the region inlines: RMW dword and word, loads dword and byte, a store, PUSH/POP, CALL/RET.
   */
  const MISS_PASSES = 3000, SMC_PASS = 1024, REMAP_PASS = 1500;
  function missGuest(): ReturnType<typeof build> {
    return build([
      ...pagingWithPfHandler([
        // 16 data pages 0x300000–0x30ffff not present; linear 0x3f0000 an alias of the code page 0x100000.
        'mov edi, 0x201000 + 0x300*4', '.np:', 'and dword [edi], ~1', 'add edi, 4', 'cmp edi, 0x201000 + 0x310*4', 'jb .np',
        'mov dword [0x201000 + 0x3f0*4], 0x100003',
      ]),
      'xor eax, eax', 'xor ebx, ebx', `mov ecx, ${MISS_PASSES}`, 'mov esi, 0x300000',
      'mloop:',
      'add dword [counter], 1', 'add [esi], ecx', 'mov edx, [esi + 0x40]', 'add eax, edx', 'push eax', 'pop edi', 'mov [esi + 0x80], edi',
      'add word [esi + 0xc0], cx', 'movzx edx, byte [esi + 0x41]', 'add eax, edx',
      // EDX = 0 at the SMC pass, else the distance from patch + 2 to scratch (a 64-byte chunk without code).
      'mov edx, ecx', `xor edx, ${SMC_PASS}`, 'neg edx', 'sbb edx, edx', 'and edx, scratch - (patch + 2)',
      'mov byte [0x3f0000 - 0x100000 + patch + 2 + edx], 3',
      'patch: add ebx, 1',
      'call far_sub',
      'add esi, 0x1004', 'and esi, 0xfefc', 'or esi, 0x300000',
      'mov edx, ecx', 'and edx, 63', 'cmp edx, 1', 'jne nf', 'invlpg [0x3f0000 - 0x100000 + patch]', 'nf:',
      'test ecx, 127', 'jnz nc', 'mov edx, cr3', 'mov cr3, edx', 'nc:',
      `cmp ecx, ${REMAP_PASS}`, 'jne nr', 'mov dword [0x201000 + 0x305*4], 0x3a0003', 'invlpg [0x305000]', 'nr:',
      'dec ecx', 'jnz mloop',
      ...EXIT,
      'pf:', 'push eax', 'mov eax, cr2', 'shr eax, 12', 'or dword [0x201000 + eax*4], 1', 'pop eax', 'add esp, 4', 'iretd',
      'align 64', 'scratch: times 64 db 0', 'counter: dd 0', 'idtr: dw 256*8-1', 'dd idt', 'align 8', 'idt: times 256*8 db 0',
      'align 4096', 'far_sub: add dword [far_count], 1', 'ret', 'far_count: dd 0',
    ].join('\n'));
  }
  /** The loop's EAX and EBX computed here (its memory modelled page by page, the PTE move included). */
  function missGuestResult(): { eax: number; ebx: number } {
    const mem = new DataView(new ArrayBuffer(4 << 20));
    let remapped = false;
    const phys = (lin: number) => (remapped && lin >>> 12 === 0x305 ? (0x3a0 << 12) | (lin & 0xfff) : lin);
    let eax = 0, ebx = 0, esi = 0x300000;
    for (let ecx = MISS_PASSES; ecx > 0; ecx--) {
      mem.setInt32(phys(esi), mem.getInt32(phys(esi), true) + ecx, true);
      eax = (eax + mem.getInt32(phys(esi + 0x40), true)) | 0;
      mem.setInt32(phys(esi + 0x80), eax, true);
      mem.setUint16(phys(esi + 0xc0), mem.getUint16(phys(esi + 0xc0), true) + ecx, true);
      eax = (eax + mem.getUint8(phys(esi + 0x41))) | 0;
      ebx += ecx <= SMC_PASS ? 3 : 1;
      esi = ((esi + 0x1004) & 0xfefc) | 0x300000;
      if (ecx === REMAP_PASS) remapped = true;
    }
    return { eax, ebx };
  }

  it('regions that leave on a TLB miss stay exact: demand paging, CR3 reloads, INVLPG, a PTE moved, self-modifying code through an alias', function () {
    const g = missGuest();
    assert.ok(g.label('counter') < 0x101000 && g.label('far_sub') >= 0x101000, 'the loop\'s code and scratch share a page, far_sub has its own');
    const m = endToEnd(g.bytes);
    const want = missGuestResult();
    // EAX reads the moved page after pass 1500 (a stale TLB entry would read the old one); EBX sums
    // the patched immediate (3 from the SMC pass on).
    assert.equal(m.cpu.regs[5], want.eax, 'EAX');
    assert.equal(m.cpu.regs[3], want.ebx, 'EBX');
    assert.equal(new DataView(m.mem.bytes.buffer).getInt32(g.label('counter'), true), MISS_PASSES);
    assert.ok(m.cpu.stats.regionMissExits > 100, `regions left on misses (${m.cpu.stats.regionMissExits})`);
    assert.ok(m.cpu.stats.codeInvalidations > 0, 'the store through the alias invalidated the loop');
    const { fast } = lockstep(g.bytes, 211);
    assert.ok(fast.cpu.stats.regionMissExits > 100, `regions left on misses in slices (${fast.cpu.stats.regionMissExits})`);
  });

  it('a breakpoint reached after a region left on a TLB miss stops exactly there, as interpreted', function () {
    const g = missGuest();
    const slow = boot(g.bytes, false), fast = boot(g.bytes, true);
    // Hot first (regions compiled, misses taken), then a breakpoint in the page the loop calls.
    for (const m of [slow, fast]) assert.equal(m.runSlice(30_001), 'slice');
    const before = fast.cpu.stats.regionMissExits;
    for (const m of [slow, fast]) m.cpu.breakpoints.add(g.label('far_sub'));
    for (let k = 0; k < 300; k++) {
      const a = slow.runSlice(100_000), b = fast.runSlice(100_000);
      assert.equal(a, 'breakpoint'); assert.equal(b, 'breakpoint');
      assert.equal(fast.cpu.eip >>> 0, g.label('far_sub'));
      assert.equal(state(fast, k % 50 === 0), state(slow, k % 50 === 0), `stop ${k}`);
    }
    assert.ok(fast.cpu.stats.regionMissExits > before, 'regions left on misses between the stops');
    for (const m of [slow, fast]) m.cpu.breakpoints.clear();
    assert.equal(slow.runSlice(10_000_000), 'exit'); assert.equal(fast.runSlice(10_000_000), 'exit');
    assert.equal(state(fast), state(slow));
  });

  it('timer interrupts are delivered at the same instruction as interpreted', function () {
    // IRQ 0 every ~100 PIT ticks; the handler logs the interrupted EIP and the loop counter.
    const g = build([
      'start:', 'mov esp, 0x90000', 'lidt [idtr]',
      ...idtGate('0x20', 'handler'),
      'mov al, 0x11', 'out 0x20, al', 'mov al, 0x20', 'out 0x21, al', 'mov al, 4', 'out 0x21, al', 'mov al, 1', 'out 0x21, al', 'mov al, 0xfe', 'out 0x21, al',
      'mov al, 0x34', 'out 0x43, al', 'mov al, 100', 'out 0x40, al', 'mov al, 0', 'out 0x40, al',
      'mov edi, log', 'xor eax, eax', 'mov ecx, 200000', 'sti',
      '.loop:', 'add eax, ecx', 'xor eax, 0x1234', 'cmp eax, ecx', 'jb .x', 'add ebx, 1', '.x:', 'dec ecx', 'jnz .loop',
      'cli', 'mov eax, [ticks]', 'out 0xf4, al',
      'handler:', 'push eax', 'mov eax, [esp + 4]', 'mov [edi], eax', 'mov [edi + 4], ecx', 'add edi, 8', 'inc dword [ticks]',
      'mov al, 0x20', 'out 0x20, al', 'pop eax', 'iretd',
      'align 4', 'ticks: dd 0', 'idtr: dw 256*8-1', 'dd idt', 'align 8', 'idt: times 256*8 db 0', 'align 4096', 'log: times 0x8000 db 0',
    ].join('\n'));
    const m = endToEnd(g.bytes);
    assert.ok(m.exitCode > 3, `interrupts were taken (${m.exitCode})`);
  });

  it('a breakpoint inside a hot region (not at its entry) stops exactly there, and the region runs again after it is removed', function () {
    const g = build([
      'start:', 'xor eax, eax', 'mov ecx, 5000',
      'lp:', 'add eax, ecx', 'test ecx, 1', 'jz even', 'add ebx, 3', 'inner: xor edx, eax', 'even:', 'dec ecx', 'jnz lp',
      ...EXIT,
    ].join('\n'));
    const slow = boot(g.bytes, false), fast = boot(g.bytes, true);
    for (const m of [slow, fast]) assert.equal(m.runSlice(20_001), 'slice');
    assert.ok(fast.cpu.stats.regionsCompiled > 0);
    for (const m of [slow, fast]) m.cpu.breakpoints.add(g.label('inner'));
    for (let k = 0; k < 5; k++) {
      const a = slow.runSlice(100_000), b = fast.runSlice(100_000);
      assert.equal(a, 'breakpoint'); assert.equal(b, 'breakpoint');
      assert.equal((fast.cpu.eip >>> 0), g.label('inner'));
      assert.equal(state(fast), state(slow));
    }
    for (const m of [slow, fast]) m.cpu.breakpoints.clear();
    assert.equal(slow.runSlice(1_000_000), 'exit'); assert.equal(fast.runSlice(1_000_000), 'exit');
    assert.equal(state(fast), state(slow));
  });

  it('a breakpoint in the same page but outside a hot region\'s blocks lets the region run; one on its last instruction stops there', function () {
    // The debugger's coverage puts a breakpoint on every instruction not yet run: code after a hot
    // loop in the same page must not keep the loop interpreted block by block.
    const g = build(LOOP_THEN_DEAD_CODE);
    const slow = boot(g.bytes, false), fast = boot(g.bytes, true);
    for (const m of [slow, fast]) assert.equal(m.runSlice(2_001), 'slice');
    assert.ok(fast.cpu.stats.regionsCompiled > 0);
    // Count the regions' runs (each compiled region function wrapped).
    let regionRuns = 0;
    for (const b of (fast.cpu as unknown as { blocks: Map<number, { region?: ((...a: unknown[]) => boolean) | null }> }).blocks.values()) {
      const f = b.region;
      if (f) b.region = (...a: unknown[]) => { regionRuns++; return f(...a); };
    }
    for (const m of [slow, fast]) m.cpu.breakpoints.add(g.label('never'));
    assert.equal(slow.runSlice(40_000), 'slice'); assert.equal(fast.runSlice(40_000), 'slice');
    assert.equal(state(fast), state(slow));
    assert.ok(regionRuns > 0, 'the region ran with a breakpoint elsewhere in its page');
    // On the loop's last instruction: inside the region, which must not run past it.
    for (const m of [slow, fast]) m.cpu.breakpoints.add(g.label('last'));
    for (let k = 0; k < 3; k++) {
      assert.equal(slow.runSlice(100_000), 'breakpoint'); assert.equal(fast.runSlice(100_000), 'breakpoint');
      assert.equal(fast.cpu.eip >>> 0, g.label('last'));
      assert.equal(state(fast), state(slow));
    }
    for (const m of [slow, fast]) m.cpu.breakpoints.clear();
    assert.equal(slow.runSlice(1_000_000), 'exit'); assert.equal(fast.runSlice(1_000_000), 'exit');
    assert.equal(state(fast), state(slow));
  });

  it('a block inside a hot region that the dispatcher reaches joins that region: it runs there with the flag record the CPU holds, and not when the record is of another kind', function () {
    // Block B (10 instructions, so it is never copied into the jump to it) starts by reading the CF
    // of the loop's CMP: inside the region it expects that SUB record in locals. The dispatcher
    // reaches B where a slice ended (the record is a SUB: the region runs from B) and, every 16th
    // pass, from a jump in another page after an ADD (the region must not run B with that record
    // taken for a SUB). Both in step with the interpreter; B's entries join the loop's region.
    const g = build([
      'start:', 'mov esp, 0x90000', 'xor esi, esi', 'xor ecx, ecx', 'xor edx, edx', 'mov edi, 4000',
      'outer:', 'mov eax, [tbl + esi*4]', 'mov ebx, [tbl + esi*4 + 32]', 'cmp eax, ebx', 'jz eq',
      'b_entry:', 'adc ecx, 0', 'mov ebp, ecx', 'lea ebp, [ebp + edx*2]', 'mov [scratch], ebp', 'mov ebp, eax', 'mov ebp, ebx', 'lea ebp, [ecx + 1]', 'mov ebp, edx', 'mov ebp, esi', 'jb below',
      'add edx, 3', 'jmp next',
      'below:', 'add edx, 5', 'jmp next',
      'eq:', 'add ecx, 7',
      'next:', 'inc esi', 'and esi, 7', 'test edi, 15', 'jz other_page',
      'back:', 'dec edi', 'jnz outer',
      'mov eax, ecx', 'shl eax, 16', 'add eax, edx', ...EXIT,
      'align 4', 'scratch: dd 0',
      'tbl: dd 5, 9, 0x80000000, 7, 0xffffffff, 3, 12, 12',
      'dd 5, 2, 0x7fffffff, 7, 0xfffffffe, 4, 12, 11',
      'align 4096',
      // Another page: an ADD record with CF clear (read as a SUB of the same operands, CF would be set), then into B.
      'other_page:', 'dec edi', 'mov ebp, edi', 'add ebp, 0xfffff000', 'jmp b_entry',
    ].join('\n'));
    const { fast } = lockstep(g.bytes, 997);
    assert.ok(fast.cpu.stats.regionsJoined > 0, `blocks joined the loop's region (${fast.cpu.stats.regionsJoined})`);
    endToEnd(g.bytes);
  });

  it('binary translation: a self-looping innocuous block moves to a region within one long slice (interrupts off), and a write to its code takes effect at once', function () {
    // The self-modifying loop of the test above, 6,000 passes: BT's CCF loops inside itself while IF
    // is 0, counts its passes and hands over to a region once hot; at pass 3,000 the loop rewrites
    // two of its immediates, which must end the region (and its kept entry) at once.
    const g = build([
      'start:', 'xor eax, eax', 'xor edx, edx', 'xor ebx, ebx', 'mov ecx, 6000',
      'lp:',
      'cmp ecx, 3000', 'jne go', 'mov byte [patch + 2], 5', 'mov byte [patch2 + 2], 9',
      'go:',
      'patch: add eax, 1',
      'cmp ecx, 3000', 'ja skip', 'inc ebx',
      'skip:',
      'patch2: add edx, 2',
      'dec ecx', 'jnz lp',
      ...EXIT,
    ].join('\n'));
    const vm = createVm({ mode: 'binary-translation' });
    vm.load(g.bytes, ORIGIN);
    vm.runSlice(10_000_000);
    const slow = boot(g.bytes, false);
    slow.run(10_000_000);
    assert.equal(vm.outcome, 'exit');
    assert.deepEqual([vm.cpu.icount, vm.cpu.eip, Array.from(vm.cpu.regs), vm.cpu.getEflags()], [slow.cpu.icount, slow.cpu.eip, Array.from(slow.cpu.regs), slow.cpu.getEflags()]);
    assert.equal(vm.cpu.regs[5], 3000 * 1 + 3000 * 5);
    assert.equal(vm.cpu.regs[2], 3000 * 2 + 3000 * 9);
    assert.equal(vm.cpu.regs[3], 3000);
    assert.ok(vm.cpu.stats.regionsCompiled > 0, 'regions were compiled under BT within the slice');
    assert.ok(vm.cpu.stats.codeInvalidations > 0, 'the write invalidated the region');
  });

  it('binary translation with a breakpoint outside the loop in the same page runs the loop as a region; one on its last instruction stops there', function () {
    const g = build(LOOP_THEN_DEAD_CODE);
    const vm = createVm({ mode: 'binary-translation' });
    vm.load(g.bytes, ORIGIN);
    const slow = boot(g.bytes, false);
    const same = () => assert.deepEqual([vm.cpu.icount, vm.cpu.eip, Array.from(vm.cpu.regs), vm.cpu.getEflags()], [slow.cpu.icount, slow.cpu.eip, Array.from(slow.cpu.regs), slow.cpu.getEflags()]);
    for (const m of [vm, slow]) m.cpu.breakpoints.add(g.label('never'));
    assert.equal(vm.runSlice(50_001), 'slice'); assert.equal(slow.runSlice(50_001), 'slice');
    same();
    assert.ok(vm.cpu.stats.regionsCompiled > 0, 'the loop became a region with a breakpoint elsewhere in its page');
    for (const m of [vm, slow]) m.cpu.breakpoints.add(g.label('last'));
    for (let k = 0; k < 3; k++) {
      assert.equal(vm.runSlice(100_000), 'breakpoint'); assert.equal(slow.runSlice(100_000), 'breakpoint');
      assert.equal(vm.cpu.eip >>> 0, g.label('last'));
      same();
    }
    for (const m of [vm, slow]) m.cpu.breakpoints.clear();
    assert.equal(vm.runSlice(1_000_000), 'exit'); assert.equal(slow.runSlice(1_000_000), 'exit');
    same();
  });

  it('binary translation: slices ending anywhere in a loop still give the loop one region (at its head), in step with the interpreter', function () {
    // Slices of 997 instructions end at every place in the 8-instruction loop in turn; the next slice
    // starts there. Each such start must not become a region of its own (a fresh function each).
    const g = build([
      'start:', 'mov ecx, 200000', 'mov ebx, 1',
      '.l:', 'add eax, ebx', 'xor ebx, eax', 'sub edx, eax', 'shl esi, 1', 'or esi, edx', 'and edi, esi', 'dec ecx', 'jnz .l',
      ...EXIT,
    ].join('\n'));
    const vm = createVm({ mode: 'binary-translation' });
    vm.load(g.bytes, ORIGIN);
    const slow = boot(g.bytes, false);
    for (let k = 0; k < 2000 && !vm.outcome; k++) {
      vm.runSlice(997); slow.runSlice(997);
      assert.deepEqual([vm.cpu.icount, vm.cpu.eip, Array.from(vm.cpu.regs), vm.cpu.getEflags()], [slow.cpu.icount, slow.cpu.eip, Array.from(slow.cpu.regs), slow.cpu.getEflags()], `slice ${k}`);
    }
    assert.equal(vm.outcome, 'exit');
    assert.equal(vm.cpu.stats.regionsCompiled, 1, 'one region, at the loop head');
  });

  it('binary translation runs hot innocuous kernel code as regions, in step with its own translation', function () {
    // compute.gasm under BT twice: regions on and off (the CPU's jit flag), compared every 5,000
    // instructions; both end like native.
    const src = fs.readFileSync(path.join(REPO_ROOT, 'examples', 'compute.gasm'), 'utf8');
    const p = assembleProgram('compute.gasm', '%define ITERATIONS 1\n' + src);
    const make = (regions: boolean) => { const vm = createVm({ mode: 'binary-translation' }); vm.cpu.regions = regions; vm.cpu.jit = regions; vm.load(p); return vm; };
    const on = make(true), off = make(false);
    for (let k = 0; k < 1000 && !on.outcome; k++) {
      on.runSlice(5000); off.runSlice(5000);
      assert.equal(on.cpu.icount, off.cpu.icount);
      assert.deepEqual([on.cpu.eip, Array.from(on.cpu.regs), on.cpu.getEflags()], [off.cpu.eip, Array.from(off.cpu.regs), off.cpu.getEflags()], `slice ${k}`);
    }
    assert.equal(on.outcome, 'exit');
    assert.equal(off.outcome, 'exit');
    assert.ok(on.cpu.stats.regionsCompiled > 0, 'regions were compiled under BT');
    assert.equal(off.cpu.stats.regionsCompiled, 0);
    const native = new Machine({}); native.loadImage(p.bytes); native.run();
    assert.equal(on.machine.console, native.console);
  });
  it('memory loaded over decoded code (a restore, the debugger\'s twin taking the guest\'s pages) drops that code wherever in the page it lies', function () {
    // `f` lies 0x800 into its page: a load of the whole page changes it (the loader's first byte
    // alone was looked at before). The loop calls it 500 times; the new `f` returns 2.
    const g = build([
      'start:', 'xor ebx, ebx', 'mov ecx, 500',
      '.l:', 'call f', 'add ebx, eax', 'dec ecx', 'jnz .l',
      'mov eax, ebx', ...EXIT,
      'align 4096', 'times 0x800 db 0x90', 'f:', 'mov eax, 1', 'ret',
    ].join('\n'));
    for (const jit of [true, false]) {
      const m = boot(g.bytes, jit);
      m.runSlice(1000);
      assert.ok(m.cpu.icount >= 1000);
      const page = g.label('f') & ~0xfff, copy = m.mem.bytes.slice(page, page + 4096);
      copy[(g.label('f') & 0xfff) + 1] = 2;   // mov eax, 2
      // Calls still to come (give or take the one under way) return 2 from now on.
      const left = m.cpu.regs[1];
      m.mem.load(page, copy);
      m.run(1_000_000);
      assert.equal(m.outcome, 'exit');
      const sum = m.cpu.regs[5];
      assert.ok(sum >= 500 + left - 1 && sum <= 500 + left, `jit ${jit}: the new code ran after the load (sum ${sum}, ${left} calls left at the load)`);
    }
  });

  describe('in WebAssembly (core/cpu/wasm)', function () {
    /** The primes below `limit`: their count and sum, and the CRC-32 (IEEE, as zlib) of the 0/1 sieve array. */
    function sieveFacts(limit: number): { count: number; sum: number; crc: number } {
      const flags = new Uint8Array(limit).fill(1);
      flags[0] = flags[1] = 0;
      for (let p = 2; p * p < limit; p++) if (flags[p]) for (let q = p * p; q < limit; q += p) flags[q] = 0;
      let count = 0, sum = 0, crc = ~0;
      for (let n = 0; n < limit; n++) {
        if (flags[n]) { count++; sum = (sum + n) | 0; }
        crc ^= flags[n];
        for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
      }
      return { count, sum: sum >>> 0, crc: ~crc >>> 0 };
    }
    const LIMIT = 4096;

    it('the bench\'s loops (sieve, count, CRC table and CRC, ALU, memory read-modify-write) run as WebAssembly regions without leaving them for JS, in step with the interpreter', function () {
      const g = build([
        'start:', 'mov esp, 0x90000', 'mov ebp, 2',
        '.round:',
        'mov edi, flags', `mov ecx, ${LIMIT / 4}`,
        '.fill:', 'mov dword [edi], 0x01010101', 'add edi, 4', 'dec ecx', 'jnz .fill',
        'mov byte [flags], 0', 'mov byte [flags + 1], 0', 'mov ebx, 2',
        '.outer:', 'mov eax, ebx', 'mul eax', `cmp eax, ${LIMIT}`, 'jae .sieved', 'cmp byte [flags + ebx], 0', 'je .skip',
        '.cross:', 'mov byte [flags + eax], 0', 'add eax, ebx', `cmp eax, ${LIMIT}`, 'jb .cross',
        '.skip:', 'inc ebx', 'jmp .outer',
        '.sieved:', 'xor eax, eax', 'xor edx, edx', 'xor ecx, ecx',
        '.count:', 'cmp byte [flags + ecx], 0', 'je .not', 'inc eax', 'add edx, ecx',
        '.not:', 'inc ecx', `cmp ecx, ${LIMIT}`, 'jb .count',
        'mov [count], eax', 'mov [sum], edx',
        'xor ecx, ecx',
        '.entry:', 'mov eax, ecx', 'mov edx, 8',
        '.bit:', 'shr eax, 1', 'jnc .nox', 'xor eax, 0xEDB88320', '.nox:', 'dec edx', 'jnz .bit',
        'mov [table + ecx*4], eax', 'inc ecx', 'cmp ecx, 256', 'jb .entry',
        'mov eax, 0xFFFFFFFF', 'mov esi, flags', `mov ecx, ${LIMIT}`,
        '.byte:', 'movzx edx, byte [esi]', 'xor dl, al', 'shr eax, 8', 'xor eax, [table + edx*4]', 'inc esi', 'dec ecx', 'jnz .byte',
        'not eax', 'mov [crc], eax',
        // The memory loop of the bench (sequential and LCG-random read-modify-write), then its ALU loop.
        'mov ecx, 20000', 'mov esi, buffer', 'xor ebx, ebx', 'mov edx, 12345',
        '.mem:', 'add [esi + ebx*4], ecx', 'inc ebx', 'and ebx, 0x3ff', 'imul edx, edx, 1103515245', 'add edx, 12345', 'mov eax, edx', 'shr eax, 22',
        'xor [esi + eax*4], ecx', 'mov edi, [esi + eax*4]', 'add edi, [esi + ebx*4]', 'dec ecx', 'jnz .mem',
        'mov [lcg], edx', 'mov [last], edi',
        'mov ecx, 30000', 'mov eax, 1', 'mov ebx, 2', 'mov edx, 3', 'mov esi, 4', 'mov edi, 5',
        '.alu:', 'add eax, ebx', 'xor ebx, eax', 'sub edx, eax', 'shl esi, 1', 'or esi, edx', 'and edi, esi', 'dec ecx', 'jnz .alu',
        'add eax, edi', 'mov [alu], eax',
        'dec ebp', 'jnz .round',
        'mov eax, [crc]', ...EXIT,
        'align 4096', 'count: dd 0', 'sum: dd 0', 'crc: dd 0', 'lcg: dd 0', 'last: dd 0', 'alu: dd 0',
        'align 4096', 'table: times 256 dd 0', `flags: times ${LIMIT} db 0`, 'align 4096', 'buffer: times 1024 dd 0',
      ].join('\n'));
      const { fast, fastJs } = lockstep(g.bytes, 997);
      assert.ok(fast.cpu.stats.regionsInWasm > 0, 'regions in WebAssembly');
      assert.equal(fast.cpu.stats.regionsInWasm, fast.cpu.stats.regionsCompiled, 'every region in WebAssembly');
      assert.equal(fast.cpu.stats.regionsMovedToJs, 0, 'no region moved to JS');
      assert.equal(fastJs.cpu.stats.regionsInWasm, 0);
      const end = endToEnd(g.bytes);
      assert.equal(end.cpu.stats.regionsMovedToJs, 0);
      // The guest's own results against the same computations here.
      const dv = new DataView(end.mem.bytes.buffer), at = (l: string) => dv.getUint32(g.label(l), true);
      const facts = sieveFacts(LIMIT);
      assert.deepEqual([at('count'), at('sum'), at('crc')], [facts.count, facts.sum, facts.crc]);
      let lcg = 12345;
      for (let k = 0; k < 20000; k++) lcg = (Math.imul(lcg, 1103515245) + 12345) | 0;
      assert.equal(at('lcg'), lcg >>> 0);
    });

    it('a write epoch begun between slices: a region\'s first store to each page is recorded without leaving it — the pages written are those the interpreter records, and it adds no exit and no region to the loop', function () {
      // A loop over 96 pages (a dword each, at an offset that moves every round); a write epoch is
      // begun before every slice in each machine (the debugger's twin begins one per stretch).
      const g = build([
        'start:', 'mov esp, 0x90000', 'mov ebp, 1000', 'xor ebx, ebx',
        '.round:', 'mov edi, buffer', 'mov ecx, 96',
        // The page's first store in the middle of a block: leaving before it, the dispatcher went on
        // from there, an entry hot enough (96 a slice) to be compiled as a region of its own.
        '.page:', 'mov eax, ecx', 'xor eax, ebp', 'mov [edi + ebx], eax', 'add [edi + 8], ecx', 'add edi, 4096', 'dec ecx', 'jnz .page',
        'add ebx, 4', 'and ebx, 0xff0', 'dec ebp', 'jnz .round',
        'mov eax, [buffer + 8]', ...EXIT,
        'align 4096', 'buffer:',
      ].join('\n'));
      const run = (jit: boolean, epochs: boolean) => {
        const m = boot(g.bytes, jit);
        const written: number[][] = [];
        for (;;) {
          const epoch = epochs ? m.mem.newWriteEpoch() : 0;
          const r = m.runSlice(20_011);
          if (epochs) written.push(m.mem.writtenSince(epoch)!);
          if (r !== 'slice') break;
        }
        return { m, written };
      };
      const slow = run(false, true), fast = run(true, true), plain = run(true, false);
      assert.equal(state(fast.m), state(slow.m));
      assert.equal(fast.written.length, slow.written.length);
      fast.written.forEach((pages, k) => assert.deepEqual(pages, slow.written[k], `slice ${k}: the pages written`));
      assert.ok(slow.written.filter((p) => p.length >= 96).length >= 10, `most slices wrote every page: ${slow.written.map((p) => p.length)}`);
      assert.ok(fast.m.cpu.stats.regionsInWasm > 0);
      assert.equal(fast.m.cpu.stats.regionSlowExits, plain.m.cpu.stats.regionSlowExits, 'no more slow exits than without epochs');
      assert.equal(fast.m.cpu.stats.regionsCompiled, plain.m.cpu.stats.regionsCompiled, 'no more regions than without epochs');
    });

    it('a block that flag writers of several kinds reach keeps the CF an INC/DEC does not change, chosen by the record\'s kind at run time', function () {
      // `.x` is reached after an ADD and after a CMP (jumps both): its state is known only at
      // run time. It is longer than the blocks copied into a jump, so it has a case of its own.
      const g = build([
        'start:', 'xor ebx, ebx', 'xor esi, esi', 'xor ebp, ebp', 'mov ecx, 3000',
        '.l:', 'mov eax, [data + esi*4]', 'test esi, 1', 'jz .a', 'add eax, 0x80000000', 'jmp .x',
        '.a:', 'cmp eax, 0x40000000', 'jmp .x',
        '.x:', 'inc edi', 'adc ebx, 0', 'dec edx', 'adc ebp, ebx', 'lea eax, [eax + 1]', 'mov edx, eax', 'inc esi', 'and esi, 7', 'dec ecx', 'jnz .l',
        'mov eax, ebx', 'add eax, ebp', ...EXIT,
        'align 4096', 'data: dd 0x10000000, 0x90000000, 0x50000000, 0x70000000, 0x3fffffff, 0x80000000, 0, 0xffffffff',
      ].join('\n'));
      const { fast } = lockstep(g.bytes, 991);
      assert.ok(fast.cpu.stats.regionsInWasm > 0);
      assert.equal(fast.cpu.stats.regionsMovedToJs, 0, 'the loop stayed in WebAssembly');
      // EBX counts the carries: per 8 passes, CF from ADD 0x80000000 for the odd entries with the top bit set (3 of 4), from CMP for the even ones below 0x40000000 (3 of 4).
      assert.equal(fast.cpu.regs[3] >>> 0, (3000 / 8) * 6);
      endToEnd(g.bytes);
    });

    it('a region that leaves for the dispatcher every pass (data in a chunk of its own code) moves to the JS region and stays exact', function () {
      // The store goes to a 64-byte chunk that holds decoded code (the exit's block): WebAssembly
      // leaves before it each time; after enough such exits the region runs as JS, whose slow path is inline.
      const g = build([
        'start:', 'xor eax, eax', 'xor ebx, ebx', 'mov ecx, 5000',
        '.l:', 'add eax, ecx', 'mov [cell], eax', 'add ebx, [cell]', 'dec ecx', 'jnz .l',
        'mov eax, ebx', ...EXIT,
        'cell: dd 0',
      ].join('\n'));
      const { fast } = lockstep(g.bytes, 997);
      assert.ok(fast.cpu.stats.regionsInWasm > 0 && fast.cpu.stats.regionsMovedToJs > 0, JSON.stringify(fast.cpu.stats));
      const end = endToEnd(g.bytes);
      let eax = 0, ebx = 0;
      for (let ecx = 5000; ecx > 0; ecx--) { eax += ecx; ebx = (ebx + eax) | 0; }
      assert.equal(end.cpu.regs[5], ebx);
    });

    it('stores next to code stay in the WebAssembly region; a store into a chunk that became code since (the loop calls what it wrote) leaves it and takes effect, in step with the interpreter', function () {
      // `data` and `patch` share the loop's page, each in 64-byte chunks of its own. Every 64th pass
      // writes "mov eax, ECX; ret" into `patch` and calls it: from the first call on its chunk holds
      // decoded code, so the next writes there must leave for the dispatcher (which drops the stale
      // block) — a region that kept treating the chunk as data would run the old immediate.
      const g = build([
        'start:', 'mov esp, 0x90000', 'xor ebx, ebx', 'xor esi, esi', 'mov ecx, 3000',
        '.l:', 'mov [data + esi*4], ecx', 'add ebx, [data + esi*4]', 'inc esi', 'and esi, 15',
        'test ecx, 63', 'jnz .skip',
        'mov byte [patch], 0xb8', 'mov [patch + 1], ecx', 'mov byte [patch + 5], 0xc3', 'mov edi, patch', 'call edi', 'add ebx, eax',
        '.skip:', 'dec ecx', 'jnz .l',
        // The exit's block would go on decoding into the data after it: a jump ends it.
        'mov eax, ebx', ...EXIT, 'jmp $',
        'align 64', 'data: times 16 dd 0', 'align 64', 'patch: times 64 db 0x90',
      ].join('\n'));
      const { fast } = lockstep(g.bytes, 499);
      assert.ok(fast.cpu.stats.regionsInWasm > 0, JSON.stringify(fast.cpu.stats));
      assert.equal(fast.cpu.stats.regionsMovedToJs, 0, 'the loop stayed in WebAssembly');
      assert.ok(fast.cpu.stats.codeInvalidations > 0, 'the patch was invalidated');
      const end = endToEnd(g.bytes);
      let ebx = 0;
      for (let ecx = 3000; ecx > 0; ecx--) { ebx = (ebx + ecx) | 0; if ((ecx & 63) === 0) ebx = (ebx + ecx) | 0; }
      assert.equal(end.cpu.regs[5], ebx);
    });

    it('a store next to code on a page that also has a write watch (a monitor\'s) reaches the watch every time, as interpreted', function () {
      const g = build([
        'start:', 'xor ebx, ebx', 'xor esi, esi', 'mov ecx, 3000',
        '.l:', 'mov [data + esi*4], ecx', 'add ebx, [data + esi*4]', 'inc esi', 'and esi, 15', 'dec ecx', 'jnz .l',
        'mov eax, ebx', ...EXIT, 'jmp $',
        'align 64', 'data: times 16 dd 0',
      ].join('\n'));
      const page = g.label('data') >>> 12;
      assert.equal(page, g.label('start') >>> 12, 'the data shares the code\'s page');
      const watched = (jit: boolean) => {
        const m = boot(g.bytes, jit);
        let writes = 0;
        m.mem.addWriteWatch(page, () => { writes++; });
        m.run(50_000_000);
        return { m, writes };
      };
      const slow = watched(false), fast = watched(true);
      assert.equal(state(fast.m), state(slow.m));
      assert.ok(fast.m.cpu.stats.regionsInWasm > 0, JSON.stringify(fast.m.cpu.stats));
      assert.equal(fast.writes, slow.writes);
      assert.ok(slow.writes >= 3000);
    });

    it('a byte watch (a data breakpoint\'s) on one variable of the loop\'s page: the stores beside it stay in the WebAssembly region, the watch sees every store to its bytes, as interpreted', function () {
      // `data` is stored to on every pass, `watched` (a 64-byte chunk of its own) on every 128th
      // (the region leaves for that store; leaving on most passes would move the loop to the JS region).
      const g = build([
        'start:', 'xor ebx, ebx', 'xor esi, esi', 'mov ecx, 3000',
        '.l:', 'mov [data + esi*4], ecx', 'add ebx, [data + esi*4]', 'inc esi', 'and esi, 15',
        'test ecx, 127', 'jnz .skip', 'mov [watched], ecx', '.skip:', 'dec ecx', 'jnz .l',
        'mov eax, ebx', ...EXIT, 'jmp $',
        'align 64', 'data: times 16 dd 0', 'align 64', 'watched: dd 0',
      ].join('\n'));
      const at = g.label('watched');
      assert.equal(at >>> 12, g.label('data') >>> 12, 'the variable shares the loop\'s page');
      const watched = (jit: boolean) => {
        const m = boot(g.bytes, jit);
        let writes = 0;
        m.mem.addWriteWatch(at >>> 12, (phys, n) => { if (phys < at + 4 && phys + n > at) writes++; }, { from: at, to: at + 4 });
        m.run(50_000_000);
        return { m, writes };
      };
      const slow = watched(false), fast = watched(true);
      assert.equal(state(fast.m), state(slow.m));
      assert.equal(fast.writes, slow.writes);
      assert.equal(slow.writes, 3000 / 128 | 0);
      assert.ok(fast.m.cpu.stats.regionsInWasm > 0, JSON.stringify(fast.m.cpu.stats));
      assert.equal(fast.m.cpu.stats.regionsMovedToJs, 0, 'the loop stayed in WebAssembly');
    });

    it('a dword store that straddles a data chunk and a chunk of code leaves the region and changes that code, at a site that also stores to data; so does a store into another region\'s code', function () {
      // One store site writes a dword 2 bytes before `f` on every 4th inner pass, and to data 10–26
      // bytes before it on the others: 0x34, 0x12, then `f`'s opcode and X into its immediate's low
      // byte, so `f` returns 0x11223300 | X (X of the last pass). Only the dword's last byte lies in
      // the code chunk, and the same site wrote to data on the same page earlier in the same run of
      // the region (a site's page cache must not let it skip the chunk check); `f` is called through
      // a register, so it is no block of the region. `gl`, a loop with a region of its own, is
      // patched through its immediate every 8th outer pass.
      const g = build([
        'start:', 'mov esp, 0x90000', 'xor ebx, ebx', 'mov ebp, 300',
        // The jump makes `.l` a block of its own: each outer pass enters the region at its first inner pass.
        '.o:', 'mov ecx, 8', 'jmp .l',
        '.l:', 'movzx eax, cl', 'add eax, ebp', 'shl eax, 24', 'or eax, 0x00b81234',
        'lea edi, [ecx + 3]', 'and edi, 3', 'neg edi', 'mov [f - 2 + edi*8], eax', 'dec ecx', 'jnz .l',
        'mov esi, f', 'call esi', 'add ebx, eax',
        'test ebp, 7', 'jnz .n', 'mov [gimm], ebp', 'mov esi, gl', 'call esi', 'add ebx, eax',
        '.n:', 'dec ebp', 'jnz .o',
        'mov eax, ebx', ...EXIT, 'jmp $',
        'align 64', 'times 60 db 0', 'align 64', 'f: mov eax, 0x11223344', 'ret',
        'align 64', 'gl: mov edx, 20', 'xor eax, eax', 'gloop:', 'db 0x05', 'gimm: dd 0', 'dec edx', 'jnz gloop', 'ret',
      ].join('\n'));
      lockstep(g.bytes, 331);
      const end = endToEnd(g.bytes);
      let ebx = 0;
      for (let ebp = 300; ebp > 0; ebp--) { ebx = (ebx + ((0x11223300 | ((ebp + 1) & 0xff)) >>> 0)) | 0; if ((ebp & 7) === 0) ebx = (ebx + 20 * ebp) | 0; }
      assert.equal(end.cpu.regs[5], ebx);
    });

    for (const mode of ['binary-translation', 'hardware-assisted'] as const) {
      it(`${mode}: compute.gasm (its sieve next to its code) runs in WebAssembly regions that never move to JS, in step with the interpreter`, function () {
        const src = fs.readFileSync(path.join(REPO_ROOT, 'examples', 'compute.gasm'), 'utf8');
        const p = assembleProgram('compute.gasm', '%define ITERATIONS 2\n' + src);
        const vm = createVm({ mode });
        vm.load(p);
        const slow = new Machine({ jit: false });
        slow.loadImage(p.bytes);
        for (let k = 0; k < 2000 && !vm.outcome; k++) {
          vm.runSlice(4999); slow.runSlice(4999);
          assert.deepEqual([vm.cpu.icount, vm.cpu.eip, Array.from(vm.cpu.regs), vm.cpu.getEflags()], [slow.cpu.icount, slow.cpu.eip, Array.from(slow.cpu.regs), slow.cpu.getEflags()], `slice ${k}`);
        }
        assert.equal(vm.outcome, 'exit');
        assert.equal(vm.machine.console, slow.console);
        const facts = sieveFacts(32768);
        assert.ok(vm.machine.console.includes(`: ${facts.count}\n`) && vm.machine.console.includes(`primes: ${facts.sum}\n`), vm.machine.console);
        assert.ok(vm.machine.console.includes(`0x${facts.crc.toString(16).padStart(8, '0')}`), vm.machine.console);
        assert.ok(vm.cpu.stats.regionsInWasm > 0, JSON.stringify(vm.cpu.stats));
        assert.equal(vm.cpu.stats.regionsMovedToJs, 0, JSON.stringify(vm.cpu.stats));
      });
    }

    it('a flag record kept in registers (its result in the destination, a compare\'s operand in its register, a constant) is built exactly at every kind of exit: a slow access, a TLB miss, a jump out of the region, after a register write', function () {
      // Each flag writer below follows a hot loop (over 400 instructions per region run, so the
      // region stays in WebAssembly) in the same block, then that block leaves the region in each
      // way; the code the exit goes to, in another page, reads the record the exit built (PUSHFD:
      // every flag) and folds it into EDI. The operands change every outer pass.
      const writers = [
        'add eax, ebx', 'sub eax, 0x7fffffff', 'cmp eax, ebx', 'cmp ebx, 0x80000000', 'inc eax', 'dec ebx', 'add eax, eax',
        'adc eax, ebx', 'sbb ebx, 1', 'xor eax, ebx', 'shr eax, 3', 'shl ebx, 1', 'sar eax, 31',
        'add ax, bx', 'cmp bx, 0x8000', 'sub al, 0x7f', 'cmp ah, bl', 'add bh, ah', 'and al, bh', 'inc cl', 'dec bx',
        'add eax, [val]', 'cmp eax, [val]', 'cmp [val], ebx', 'cmp byte [val + 1], 0x40', 'sub bl, [val + 3]',
        // A register the record reads written before the exit: the record goes to the locals first.
        'cmp eax, ebx\nmov eax, ecx', 'add ebx, eax\nlea ebx, [ebx + 8]', 'cmp al, bh\nmovzx ebx, al', 'sub ecx, 3\npop ecx\npush ecx', 'dec eax\nmovsx eax, al',
      ];
      const exits = [
        { leave: ['mov edx, [0x300ffe]'], after: [] }, // a dword across a page end: a slow access
        { leave: ['mov edx, [esi]'], after: ['invlpg [esi]'] }, // a page whose TLB entry went: a miss
        { leave: [], after: [] }, // the jump to the other page: out of the region
      ];
      const body: string[] = [...pagingWithPfHandler([]), 'xor edi, edi', 'mov ebp, 24', 'mov esi, 0x302000', 'push ecx', 'outer:'];
      const far: string[] = ['align 4096'];
      let k = 0;
      for (const w of writers) {
        for (const { leave, after } of exits) {
          body.push('align 128', 'mov eax, ebp', 'imul eax, eax, 0x9e3779b1', 'mov ebx, eax', 'shr ebx, 7', 'xor ebx, ebp', 'mov [val], ebx', `mov ecx, ${110 + k % 3}`,
            `i${k}:`, 'add edx, ecx', 'xor edx, eax', 'dec ecx', `jnz i${k}`, ...w.split('\n'), ...leave, `jmp far${k}`, `back${k}:`);
          far.push(`far${k}:`, 'pushfd', 'pop edx', 'add edi, edx', 'rol edi, 1', ...after, `jmp back${k}`);
          k++;
        }
      }
      body.push('dec ebp', 'jnz outer', 'mov eax, edi', ...EXIT, 'jmp $', 'pf: hlt', 'align 4', 'val: dd 0', 'idtr: dw 256*8-1', 'dd idt', 'align 8', 'idt: times 256*8 db 0', ...far);
      const g = build(body.join('\n'));
      const { fast } = lockstep(g.bytes, 997);
      const stats = fast.cpu.stats;
      assert.ok(stats.regionsInWasm >= 3 * writers.length, JSON.stringify(stats));
      assert.equal(stats.regionsMovedToJs, 0, 'the loops stayed in WebAssembly');
      assert.ok(stats.regionMissExits >= 20 * writers.length, `regions left on TLB misses (${stats.regionMissExits})`);
      endToEnd(g.bytes);
    });

    it('a loop entered with another kind of flag record than its own back edge carries keeps its own as static; the entry goes to a copy that reads the record at run time, exactly at a TLB miss there', function () {
      // As in the sieve: the region's head is the first loop; the code after it (copied into the
      // head's case) ends with a byte compare and jumps to a second loop, which loops with SUB's
      // 32-bit record. ADC reads the byte compare's CF on that loop's first pass, inside the region or
      // after the load before it missed the TLB (a fresh page every other outer pass). EBX counts
      // those carries.
      const passes = 250;
      const g = build([
        ...pagingWithPfHandler([]), 'xor edi, edi', 'xor ebx, ebx', `mov ebp, ${passes}`, 'mov esi, 0x300000',
        'outer:', 'mov ecx, 40',
        'A:', 'add edi, ecx', 'dec ecx', 'jnz A',
        // IMUL compiles inline where the next instruction writes the flags.
        'imul eax, ebp, 0x9e3779b1', 'add esi, 2048', 'mov [val], eax', 'mov ecx, 30', 'cmp byte [val + 1], 0x80', 'jmp C',
        'C:', 'mov edx, [esi]', 'adc ebx, edx', 'add edi, eax', 'sub ecx, 1', 'jnz C',
        'dec ebp', 'jnz outer', 'mov eax, edi', ...EXIT, 'jmp $',
        'pf: hlt', 'align 4', 'idtr: dw 256*8-1', 'dd idt', 'align 8', 'idt: times 256*8 db 0', 'align 4096', 'val: dd 0',
      ].join('\n'));
      const { fast } = lockstep(g.bytes, 997);
      assert.equal(fast.cpu.stats.regionsMovedToJs, 0);
      assert.ok(fast.cpu.stats.regionMissExits >= passes / 2 - 10, `regions left on TLB misses (${fast.cpu.stats.regionMissExits})`);
      let carries = 0;
      for (let ebp = passes; ebp > 0; ebp--) if (((Math.imul(ebp, 0x9e3779b1) >>> 8) & 0xff) < 0x80) carries++;
      assert.equal(endToEnd(g.bytes).cpu.regs[3], carries);
    });

    it('a block whose flag record the region reads from registers is not entered from outside: the CPU\'s record of that kind, from other registers, is read as it is', function () {
      // Inside the region `Y` is reached after SUB ECX, 1, whose CF its ADC reads from ECX. Every
      // other outer pass, code in another page reaches `Y` after SUB EDX, 1 with EDX 0 (CF 1, ECX 0).
      const g = build([
        'start:', 'xor ebx, ebx', 'xor edi, edi', 'mov ebp, 600',
        'outer:', 'mov ecx, 50', 'jmp H',
        'H:', 'add edi, ecx', 'sub ecx, 1', 'jmp Y',
        'Y:', 'adc ebx, 0', 'add edi, 3', 'add edi, ecx', 'xor edi, 5', 'add edi, ebx', 'lea edi, [edi + 1]', 'add edi, ecx', 'xor edi, 7', 'test ecx, ecx', 'jnz H',
        'dec ebp', 'jz done', 'test ebp, 1', 'jnz outer', 'jmp other',
        'done:', 'mov eax, ebx', ...EXIT, 'jmp $',
        'align 4096', 'other:', 'xor ecx, ecx', 'xor edx, edx', 'sub edx, 1', 'jmp Y',
      ].join('\n'));
      lockstep(g.bytes, 997);
      let far = 0;
      for (let ebp = 600 - 1; ebp > 0; ebp--) if ((ebp & 1) === 0) far++;
      assert.equal(endToEnd(g.bytes).cpu.regs[3], far, 'one carry per visit from the other page');
    });

    it('a dword that crosses into a page mapped elsewhere leaves the region (each byte where its page maps); one at a page\'s last aligned offset does not', function () {
      const g = build([
        ...pagingWithPfHandler(['mov dword [0x201000 + 0x381*4], 0x3a0003']),
        'mov ecx, 400', 'mov eax, 0x12345678', 'xor edx, edx',
        '.l:', 'add [0x380ffe], eax', 'add edx, [0x380ffe]', 'add [0x382ffc], edx', 'mov ebx, [0x382ffd]', 'xor edx, ebx', 'add eax, 0x01010101', 'dec ecx', 'jnz .l',
        'mov eax, [0x3a0000]', 'add eax, edx', 'add eax, [0x382ffc]', ...EXIT,
        'pf: hlt', 'align 4', 'idtr: dw 256*8-1', 'dd idt', 'align 8', 'idt: times 256*8 db 0',
      ].join('\n'));
      const { fast } = lockstep(g.bytes, 97);
      assert.ok(fast.cpu.stats.regionsInWasm > 0);
      endToEnd(g.bytes);
    });
  });
});
