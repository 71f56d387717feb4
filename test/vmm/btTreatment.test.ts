// Binary translation treats each instruction as its table row says (core/isa/table.ts `bt`): every
// row's treatment is one the translator implements and the translator follows it (callout in the CCF
// or not, as the row says); a guest made of each kind's sensitive rows runs under BT exactly as
// natively, and the translator's callouts are exactly the callout rows the guest's kernel ran.
import * as assert from 'node:assert/strict';
import { Machine } from '../../core/machine/machine';
import { allInstructions, virtFactsFor } from '../../core/isa/table';
import type { EncodingForm } from '../../core/isa/types';
import type { Insn } from '../../core/cpu/insn';
import { generateBlock } from '../../core/vmm/bt/codegen';
import { BT_KINDS, isCallout } from '../../core/vmm/bt/translator';
import type { BinaryTranslationTechnique } from '../../core/vmm/bt/binaryTranslation';
import { rowFacts } from '../../core/vmm/rowFacts';
import { boot, guest } from './support';

const MEMORY_ONLY = new Set(['m', 'm8', 'm16', 'm32', 'm64', 'm80', 'm128', 'm16:32']);

/** One encoding of a form: register 0 / [eax] operands, zero immediates (what the form's text lists). */
function encode(f: EncodingForm): number[] {
  const b: number[] = [];
  if (f.opsize === 16) b.push(0x66);
  if (f.addrsize === 16) b.push(0x67);
  b.push(...(f.mandatoryPrefix ?? []));
  const op = [...f.opcode];
  if (f.plusCc) op[op.length - 1] += f.cc ?? 0;
  b.push(...op);
  if (f.modrm !== undefined) {
    const digit = f.modrm === 'r' ? 0 : f.modrm;
    const mem = f.rmOperand !== undefined && MEMORY_ONLY.has(f.operands[f.rmOperand]);
    b.push((mem ? 0x00 : 0xc0) | (digit << 3));
  }
  const wide = f.opsize === 16 ? 2 : 4;
  for (const imm of f.imm) {
    const n = imm === 'ib' || imm === 'rel8' ? 1 : imm === 'iw' ? 2 : imm === 'id' || imm === 'moffs' ? 4 : imm === 'rel32' ? wide : wide + 2;
    for (let k = 0; k < n; k++) b.push(0);
  }
  return b;
}

describe('vmm/bt: each instruction treated as its table row says', function () {
  this.timeout(60_000);

  it('every row\'s BT treatment is one the translator implements, and decoded instructions follow it', () => {
    const m = new Machine();
    const at = 0x100000;
    const rowsSeen = new Set<string>();
    let checked = 0;
    for (const info of allInstructions()) {
      for (const form of info.forms) {
        const kind = virtFactsFor(info, form).bt.kind;
        assert.ok(Object.hasOwn(BT_KINDS, kind), `${info.mnemonic} ${form.encoding}: BT kind '${kind}' has no translation`);
        const bytes = encode(form);
        m.mem.load(at, new Uint8Array([...bytes, 0x90, 0x90, 0x90, 0x90]));
        let insn: Insn;
        try { insn = m.cpu.decodeAt(at); } catch { continue; }
        if (insn.info === undefined || insn.form === undefined) continue;
        const facts = rowFacts(insn)!;
        const callout = facts.bt.kind === 'callout';
        assert.equal(isCallout(insn), callout, `${insn.mnemonic} (${insn.form.encoding}): row says ${facts.bt.kind}`);
        const src = generateBlock([insn], at, isCallout).source;
        assert.equal(src.includes('bt.callout('), callout, `${insn.mnemonic}: the CCF ${callout ? 'calls' : 'must not call'} the VMM`);
        rowsSeen.add(insn.info.mnemonic);
        checked++;
      }
    }
    assert.ok(checked > 500, `${checked} forms decoded and checked`);
    // Every row with a callout, and every row a monitor intercepts, was among them.
    for (const info of allInstructions()) {
      const sensitive = info.forms.some((f) => f.intercept !== undefined || virtFactsFor(info, f).bt.kind === 'callout');
      if (sensitive && info.category !== 'x87') assert.ok(rowsSeen.has(info.mnemonic), `${info.mnemonic} was decoded and checked`);
    }
  });

  // Both guests: IDT handlers for #UD (skips the 3-byte VMCALL), #BP and #OF (count, return), a loop
  // run long enough for its blocks to be translated, chained and compiled as regions, then the
  // registers and the counters the handlers kept are compared with the native run.
  const prologue = `
      bits 32
      start:
        mov esp, 0x90000
        lidt [idtr]
        mov eax, ud_handler
        mov edi, idt + 6*8
        call gate
        mov eax, bp_handler
        mov edi, idt + 3*8
        call gate
        mov eax, of_handler
        mov edi, idt + 4*8
        call gate
        xor esi, esi            ; the checksum of what the loop saw
        jmp main
      gate:                     ; interrupt gate to EAX at [EDI]
        mov [edi], ax
        mov word [edi + 2], 0x08
        mov word [edi + 4], 0x8e00
        shr eax, 16
        mov [edi + 6], ax
        ret
      ud_handler:
        add dword [esp], 3
        inc dword [n_ud]
        iret
      bp_handler:
        inc dword [n_bp]
        iret
      of_handler:
        inc dword [n_of]
        iret
  `;
  const epilogue = `
        out 0xf4, al
        hlt
      align 4
      n_ud: dd 0
      n_bp: dd 0
      n_of: dd 0
      far_ptr: dd 0x12345678
               dw 0x10
      idtr: dw 8*8 - 1
            dd idt
      align 8
      idt: times 64 db 0
      sysenter_stack: times 64 db 0
  `;
  const guests = {
    // Rows copied unchanged (ident) although a monitor may intercept them: what they raise is reflected.
    ident: `${prologue}
      main:
        mov ecx, 120
      body:
        int3
        mov eax, 0x7fffffff
        add eax, ecx            ; OF = 1
        into
        mov ax, 0x0010
        mov dx, 0x0013
        arpl ax, dx             ; RPL raised to 3, ZF = 1
        setz bl
        movzx ebx, bl
        add esi, ebx
        add esi, eax
        vmcall                  ; #UD outside VMX operation
        dec ecx
        jnz body
        mov eax, [n_bp]
        mov ebx, [n_of]
        mov edx, [n_ud]
      ${epilogue}`,
    // Unprivileged rows whose answer the VMM virtualises, and a critical / privileged pair: callouts.
    callout: `${prologue}
      main:
        mov ecx, 0x174          ; SYSENTER_CS, _ESP, _EIP
        xor edx, edx
        mov eax, 0x08
        wrmsr
        mov ecx, 0x175
        mov eax, sysenter_stack + 64
        wrmsr
        mov ecx, 0x176
        mov eax, entry
        wrmsr
        mov ecx, 120
      body:
        push ecx
        xor eax, eax
        cpuid                   ; leaf 0: the vendor
        add esi, ebx
        add esi, edx
        mov eax, 1
        cpuid                   ; leaf 1: signature and features
        add esi, eax
        add esi, edx
        rdtsc
        mov edi, eax
        rdtsc
        sub eax, edi            ; virtual time between the two (instruction-counted)
        add esi, eax
        lds ebx, [far_ptr]
        add esi, ebx
        mov bx, ds
        add esi, ebx
        lss ebx, [far_ptr]
        mov ebp, esp
        sysenter                ; to entry, on sysenter_stack
      entry:
        mov esp, ebp
        pushfd
        pop eax
        add esi, eax
        pop ecx
        dec ecx
        jnz body
      ${epilogue}`,
  };

  for (const [kind, source] of Object.entries(guests)) {
    it(`a guest of ${kind} rows runs under BT as natively; the callouts are the callout rows it ran`, () => {
      const g = guest(source);
      const run = (mode: 'native' | 'binary-translation') => {
        const { vm, events } = boot(g.program, mode);
        vm.run();
        const cpu = vm.cpu;
        return { vm, events, state: { regs: Array.from(cpu.regs), eip: cpu.eip, eflags: cpu.getEflags(), icount: cpu.icount, outcome: vm.outcome, sregs: Array.from(cpu.segSel) } };
      };
      const native = run('native'), bt = run('binary-translation');
      assert.equal(native.state.outcome, 'exit');
      assert.deepEqual(bt.state, native.state);
      if (kind === 'ident') assert.deepEqual([native.state.regs[0], native.state.regs[3], native.state.regs[2]], [120, 120, 120], 'every INT3, INTO and VMCALL raised its exception (counts in EAX, EBX, EDX)');

      // The callouts expected: the callout-row instructions the native run executed at CPL 0, counted
      // by stepping the interpreter (no translator involved).
      const { vm: step } = boot(g.program, 'native');
      const expected = new Map<string, number>();
      while (!step.outcome) {
        const cpu = step.cpu;
        const insn = cpu.decodeAt((cpu.segBase[1] + cpu.eip) | 0);
        if (rowFacts(insn)?.bt.kind === 'callout' && cpu.cpl === 0) expected.set(insn.mnemonic, (expected.get(insn.mnemonic) ?? 0) + 1);
        step.runSlice(1);
      }
      const translator = (bt.vm.technique as BinaryTranslationTechnique).bt;
      // A callout whose emulation takes a hidden page fault (the shadow entry of the GDT page a
      // segment load reads) runs again once the VMM has filled it: it is counted per run.
      const seen = new Map<string, number>();
      let restarts = 0, last: { eip: number; mnemonic: string } | undefined;
      for (const e of bt.events) {
        if (e.kind === 'callout' || e.kind === 'critical') { seen.set(e.mnemonic, (seen.get(e.mnemonic) ?? 0) + 1); last = e; }
        else if (e.kind === 'shadow-paging' && last && e.eip === last.eip) { seen.set(last.mnemonic, seen.get(last.mnemonic)! - 1); restarts++; last = undefined; }
        else if (e.kind !== 'translation') last = undefined;
      }
      assert.deepEqual(new Map([...seen].sort()), new Map([...expected].sort()), 'one callout event per callout row run');
      const total = [...expected.values()].reduce((a, b) => a + b, 0);
      assert.equal(translator.stats.callouts, total + restarts, 'callouts = callout rows run (+ restarts after a hidden fault)');
      if (kind === 'callout') for (const m of ['cpuid', 'rdtsc', 'lds', 'lss', 'sysenter', 'pushfd']) assert.ok((expected.get(m) ?? 0) >= 120, `${m} ran as a callout`);
      else for (const m of ['int3', 'into', 'arpl', 'vmcall']) assert.equal(seen.get(m), undefined, `${m} is copied, not a callout`);
    });
  }
});
