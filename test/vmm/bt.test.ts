// Binary translation (SPEC §4, issue 4): every example gives QEMU's console and exit status; the
// translator really translates (counters, inline code, callouts), the cache stays coherent with
// self-modifying code, critical instructions behave as native, faults are precise, user code runs
// direct, snapshot/restore continues identically.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createVm, type VmEvent } from '../../core/vmm';
import { BinaryTranslationTechnique } from '../../core/vmm/bt/binaryTranslation';
import { generateBlock } from '../../core/vmm/bt/codegen';
import { isCallout } from '../../core/vmm/bt/translator';
import { Machine } from '../../core/machine/machine';
import { EXAMPLES, boot, example, exampleNames, guest } from './support';

const EXPECTED = path.join(EXAMPLES, 'expected');
const expected = (name: string) => JSON.parse(fs.readFileSync(path.join(EXPECTED, `${name}.json`), 'utf8')) as { console: string; exitStatus: number };

function runMode(name: string, mode: 'native' | 'binary-translation') {
  const { vm, events } = boot(example(name), mode);
  vm.run();
  return { vm, events, report: vm.report() };
}

const bt = (vm: ReturnType<typeof createVm>) => (vm.technique as BinaryTranslationTechnique).bt;

/** A kernel that prints the low byte of EAX as a decimal number after each call, then exits. */
const PRINT = `
putc:                       ; AL to COM1
    push edx
    mov dx, 0x3f8
    out dx, al
    pop edx
    ret
putnum:                     ; EAX (0..99) in decimal, then a newline
    push eax
    push ebx
    xor edx, edx
    mov ebx, 10
    div ebx
    add al, '0'
    call putc
    mov al, dl
    add al, '0'
    call putc
    mov al, 10
    call putc
    pop ebx
    pop eax
    ret
exit:
    out 0xf4, al
    hlt
`;

describe('vmm/bt: binary translation', function () {
  this.timeout(120_000);

  describe('the examples give QEMU\'s console and exit status', () => {
    for (const name of exampleNames()) {
      it(name, () => {
        const { report } = runMode(name, 'binary-translation');
        const exp = expected(name);
        assert.equal(report.outcome, 'exit', report.error);
        assert.equal(report.console, exp.console);
        assert.equal(report.exitCode, exp.exitStatus);
        const native = runMode(name, 'native').report;
        assert.equal(report.instructions, native.instructions, 'every guest instruction retires once, as natively');
      });
    }
  });

  it('translates kernel code: counters, inline code, chaining, callouts', () => {
    const { vm, events, report } = runMode('compute', 'binary-translation');
    const t = report.translation;
    assert.ok(t.blocks > 20, `blocks ${t.blocks}`);
    assert.ok(t.instructions >= t.blocks * 2, `instructions ${t.instructions}`);
    assert.ok(t.cacheHits > 0, 'the dispatcher finds translations again');
    const s = bt(vm).stats;
    assert.ok(s.linksPatched > 10, 'direct exits are chained');
    assert.ok(s.inlined > t.instructions / 2, `most instructions are inlined (${s.inlined} of ${t.instructions})`);
    assert.ok(s.callouts > 0, 'port I/O goes through callouts');
    const tr = events.filter((e) => e.kind === 'translation' && e.action === 'translate');
    assert.equal(tr.length, t.blocks, 'one translation event per block');
    assert.ok(events.some((e) => e.kind === 'callout' && e.mnemonic === 'out'));
    // Far fewer blocks entered through the dispatcher than executed: the rest are chained.
    assert.ok(t.cacheHits < report.instructions / 1000);
  });

  it('generates specialised code for innocuous instructions and callouts for sensitive ones', () => {
    const g = guest(`
      bits 32
      start:
        mov eax, [ebx + 4*ecx + 8]
        add eax, 5
        cmp eax, edx
        jne start
      second:
        cli
        pushfd
        out dx, al
        hlt
    `);
    const m = new Machine();
    m.loadImage(g.program.bytes, { origin: 0x100000 });
    const first = m.cpu.decodeBlock(0x100000);
    const src = generateBlock(first, 0x100000, isCallout).source;
    assert.match(src, /cpu\.read32\(3, \(\(8 \+ r\[3\] \+ \(r\[1\] << 2\)\) \| 0\)\)/, 'addressing inlined');
    assert.match(src, /x = \(a \+ b\) \| 0/, 'add inlined');
    assert.doesNotMatch(src, /semantics|callout/, 'nothing left to the interpreter');
    assert.doesNotMatch(src, /cpu\.cond\(/, 'the branch condition is computed from the compare\'s flag record');
    assert.match(src, /cpu\.ccRes === 0/);
    // cli, pushfd, out, hlt: each is a callout (cli ends its block, as it can open an interrupt window).
    let at = g.label('second');
    for (const mn of ['cli', 'pushfd', 'out', 'hlt']) {
      const insn = m.cpu.decodeAt(at);
      assert.equal(insn.mnemonic, mn);
      assert.ok(isCallout(insn), `${mn} is a callout`);
      at += insn.len;
    }
    // A forward branch inside the trace stays in the CCF: the skipped instructions are uncounted.
    const g2 = guest(`
      bits 32
      top:
        cmp byte [esi], 0
        je skip
        inc eax
        add edx, ecx
      skip:
        inc ecx
        cmp ecx, 100
        jb top
        hlt
    `);
    const m2 = new Machine();
    m2.loadImage(g2.program.bytes, { origin: 0x100000 });
    const trace = [0, 1, 2, 3, 4, 5, 6].reduce<ReturnType<typeof m2.cpu.decodeAt>[]>((acc) => [...acc, m2.cpu.decodeAt(0x100000 + acc.reduce((n, x) => n + x.len, 0))], []);
    const src3 = generateBlock(trace, 0x100000, isCallout).source;
    assert.match(src3, /if \(!\(cpu\.ccRes === 0\)\) \{/);
    assert.match(src3, /\} else ic0 -= 2;/);
    assert.doesNotMatch(src3, /bt\.chain\(blk, 1\)/, 'no side exit for the forward branch');
    const block = m.cpu.decodeBlock(g.label('second'));
    const src2 = generateBlock(block, g.label('second'), isCallout).source;
    assert.equal((src2.match(/bt\.callout\(/g) ?? []).length, block.length);
  });

  it('critical instructions behave exactly as natively (critical.gasm)', () => {
    const native = runMode('critical', 'native').report;
    const { report, events } = runMode('critical', 'binary-translation');
    assert.equal(report.console, native.console);
    assert.doesNotMatch(report.console, /differs/);
    for (const m of ['pushfd', 'popfd', 'sgdt', 'sidt', 'sldt', 'str', 'smsw', 'lar', 'lsl', 'verr', 'verw']) {
      assert.ok((report.critical[m] ?? 0) > 0, `${m} was handled by a callout`);
    }
    const crit = events.filter((e): e is Extract<VmEvent, { kind: 'critical' }> => e.kind === 'critical');
    assert.ok(crit.length > 10);
    assert.ok(crit.every((e) => !e.diverged && e.guestCpl === 0));
  });

  it('invalidates a translation when the guest writes its code, and runs the new code', () => {
    const g = guest(`
      bits 32
      start:
        mov esp, 0x90000
        call f                  ; translated: returns 1
        call putnum
        mov byte [f + 1], 2     ; patch the immediate of "mov eax, 1"
        call f                  ; must return 2 now
        call putnum
        mov byte [g1 + 1], 7    ; patch the very next instruction, inside this block
      g1:
        mov al, 3
        movzx eax, al
        call putnum
        mov al, 0
        jmp exit
      f:
        mov eax, 1
        ret
      ${PRINT}
    `);
    for (const mode of ['native', 'binary-translation'] as const) {
      const { vm, events } = boot(g.program, mode);
      vm.run();
      const r = vm.report();
      assert.equal(r.console, '01\n02\n07\n', mode);
      if (mode === 'binary-translation') {
        assert.ok(bt(vm).cache.stats.invalidations >= 2, 'both patched blocks were invalidated');
        assert.ok(events.some((e) => e.kind === 'translation' && e.action === 'invalidate'));
      }
    }
  });

  it('faults are precise: EIP, registers, flags and the count at the faulting instruction', () => {
    // A #DE in the middle of a block; the handler stops the machine, and the whole CPU state is
    // compared with the interpreter's.
    const g = guest(`
      bits 32
      start:
        mov esp, 0x90000
        lidt [idtr]
        mov eax, de_handler
        mov [idt], ax
        mov word [idt + 2], 0x08
        mov word [idt + 4], 0x8e00
        shr eax, 16
        mov [idt + 6], ax
        mov ecx, 5
        mov eax, 100
        cmp eax, 7              ; flags the handler's frame will hold
        xor edx, edx
        mov ebx, 0
        div ebx                 ; #DE here
        mov ecx, 99             ; never runs
      de_handler:
        mov esi, [esp]          ; faulting EIP
        mov edi, [esp + 8]      ; EFLAGS at the fault
        hlt
      idtr: dw 8*8 - 1
            dd idt
      align 8
      idt: times 64 db 0
    `);
    const states = (['native', 'binary-translation'] as const).map((mode) => {
      const { vm } = boot(g.program, mode);
      vm.run();
      const cpu = vm.cpu;
      return { regs: Array.from(cpu.regs), eip: cpu.eip, eflags: cpu.getEflags(), icount: cpu.icount, outcome: vm.outcome };
    });
    assert.deepEqual(states[1], states[0]);
    assert.equal(states[0].regs[1], 5, 'the instruction after the fault did not run');
  });

  it('user-mode code runs direct: only kernel code is translated (rings.gasm)', () => {
    const { vm, report } = runMode('rings', 'binary-translation');
    assert.equal(report.outcome, 'exit');
    const keys = [...bt(vm).cache.blocks()].map((b) => Math.floor(b.key / 0x100000000) & 3);
    assert.ok(keys.length > 0);
    assert.ok(keys.every((cpl) => cpl === 0), 'no CPL 3 block in the translation cache');
    assert.ok(report.instructions > report.translation.instructions, 'more ran than was translated');
  });

  it('shadow page tables: hidden faults, the guest\'s own CR3, adaptive retranslation of page-table writers', () => {
    const { vm, report } = runMode('paging', 'binary-translation');
    assert.equal(report.console, expected('paging').console, 'A/D bits, #PF with CR2 and error code as natively');
    const t = vm.technique as BinaryTranslationTechnique;
    assert.ok(t.mmu.shadow.stats.fills > 0);
    assert.equal(vm.cpu.cr3, vm.machine.mem.reservedBase, 'the real CR3 is the shadow directory');
    assert.notEqual(t.mmu.cr3, vm.cpu.cr3, 'the guest\'s CR3 is virtual');
    // ptemod-style loop: the PTE store is caught, its block retranslated, later stores are callouts.
    const g = guest(`
      bits 32
        mov esp, 0x90000
        mov edi, 0x300000           ; page directory
        mov ecx, 1024
        xor eax, eax
        rep stosd
        mov dword [0x300000], 0x301000 | 3      ; PDE 0 -> page table at 0x301000
        mov edi, 0x301000
        mov eax, 3
      .pt:
        stosd                        ; identity-map the first 4 MiB
        add eax, 0x1000
        cmp edi, 0x302000
        jb .pt
        mov eax, 0x300000
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        mov ecx, 50
      .loop:
        mov dword [0x301000 + 0x200*4], 0x200000 | 3
        invlpg [0x200000]
        mov eax, [0x200000]
        dec ecx
        jnz .loop
        mov eax, cr3
        mov al, 0
        out 0xf4, al
    `);
    const costs = (['binary-translation', 'hardware-assisted'] as const).map((mode) => {
      const { vm: v, events } = boot(g.program, mode, { cost: 'vtx-2006' });
      v.run();
      assert.equal(v.outcome, 'exit', mode);
      assert.equal(v.cpu.regs[0] & ~0xff, 0x300000, `${mode}: the guest reads back its own CR3`);
      if (mode === 'binary-translation') assert.ok(events.some((e) => e.kind === 'translation' && e.action === 'retranslate'));
      return v.report().cycles;
    });
    assert.ok(costs[0] < costs[1], `page-table updates: BT ${costs[0]} cheaper than first-generation VT-x ${costs[1]} (Adams & Agesen)`);
  });

  it('snapshot / restore continues identically', () => {
    const { vm } = boot(example('timer'), 'binary-translation');
    vm.runSlice(1500);
    const snap = vm.snapshot();
    vm.run();
    const a = vm.report();
    const stateA = vm.cpu.getState();
    vm.restore(snap);
    vm.run();
    const b = vm.report();
    assert.equal(b.console, a.console);
    assert.equal(b.outcome, a.outcome);
    assert.equal(b.exitCode, a.exitCode);
    assert.equal(b.instructions, a.instructions);
    assert.deepEqual(vm.cpu.getState(), stateA);
  });

  it('survives garbage as kernel code without crashing the tool', () => {
    const bytes = new Uint8Array(4096);
    let x = 12345;
    for (let i = 0; i < bytes.length; i++) { x = (x * 1103515245 + 12345) >>> 0; bytes[i] = x >>> 24; }
    for (const seed of [0, 1, 2]) {
      bytes[0] = seed * 17;
      const vm = createVm({ mode: 'binary-translation', maxInstructions: 200_000 });
      vm.load(bytes, 0x100000);
      vm.run();
      const nat = createVm({ mode: 'native', maxInstructions: 200_000 });
      nat.load(bytes, 0x100000);
      nat.run();
      assert.notEqual(vm.outcome, 'error', vm.machine.error);
      assert.equal(vm.outcome, nat.outcome);
      assert.equal(vm.cpu.icount, nat.cpu.icount);
    }
  });
});
