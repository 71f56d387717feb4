// Hardware assistance (VT-x, SPEC §4, issue 4): the VMCS model and its encodings, KVM's controls,
// exits with Intel's reasons and exit qualifications, exact exit counts, EPT on and off, every
// example with QEMU's console and exit status, snapshot/restore.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createVm, type VmEvent } from '../../core/vmm';
import { CPU, PIN, SECONDARY, kvmDefaults } from '../../core/vmm/vmx/controls';
import {
  EXIT_REASON, crAccessQualification, decodeCrAccess, decodeEptViolation, decodeIo, exitReasonName, ioQualification,
} from '../../core/vmm/vmx/exitReasons';
import { HardwareAssistedTechnique } from '../../core/vmm/vmx/hardwareAssisted';
import { VMCS, VMCS_FIELDS, Vmcs, VmcsError, decodeEncoding } from '../../core/vmm/vmx/vmcs';
import { EXAMPLES, boot, example, exampleNames, guest } from './support';

const expected = (name: string) => JSON.parse(fs.readFileSync(path.join(EXAMPLES, 'expected', `${name}.json`), 'utf8')) as { console: string; exitStatus: number };
type ExitEvent = Extract<VmEvent, { kind: 'vmexit' }>;
const exits = (events: VmEvent[]) => events.filter((e): e is ExitEvent => e.kind === 'vmexit');
const vmx = (vm: ReturnType<typeof createVm>) => vm.technique as HardwareAssistedTechnique;

describe('vmm/vmx: hardware-assisted (VT-x)', function () {
  this.timeout(120_000);

  describe('VMCS', () => {
    it('has Intel\'s field encodings (reference §3b, Linux asm/vmx.h)', () => {
      const ref: Array<[keyof typeof VMCS, number]> = [
        ['GUEST_ES_SELECTOR', 0x0800], ['GUEST_TR_SELECTOR', 0x080e], ['GUEST_CR0', 0x6800], ['GUEST_CR3', 0x6802],
        ['GUEST_CR4', 0x6804], ['GUEST_ES_BASE', 0x6806], ['GUEST_IDTR_BASE', 0x6818], ['GUEST_DR7', 0x681a],
        ['GUEST_RSP', 0x681c], ['GUEST_RIP', 0x681e], ['GUEST_RFLAGS', 0x6820], ['GUEST_ES_LIMIT', 0x4800],
        ['GUEST_IDTR_LIMIT', 0x4812], ['GUEST_ES_AR_BYTES', 0x4814], ['GUEST_TR_AR_BYTES', 0x4822],
        ['GUEST_INTERRUPTIBILITY_INFO', 0x4824], ['GUEST_ACTIVITY_STATE', 0x4826], ['GUEST_IA32_EFER', 0x2806],
        ['VMCS_LINK_POINTER', 0x2800], ['HOST_CR0', 0x6c00], ['HOST_CR3', 0x6c02], ['HOST_CR4', 0x6c04],
        ['HOST_RSP', 0x6c14], ['HOST_RIP', 0x6c16], ['HOST_ES_SELECTOR', 0x0c00], ['HOST_TR_SELECTOR', 0x0c0c],
        ['PIN_BASED_VM_EXEC_CONTROL', 0x4000], ['CPU_BASED_VM_EXEC_CONTROL', 0x4002], ['SECONDARY_VM_EXEC_CONTROL', 0x401e],
        ['EXCEPTION_BITMAP', 0x4004], ['CR3_TARGET_COUNT', 0x400a], ['CR0_GUEST_HOST_MASK', 0x6000],
        ['CR4_GUEST_HOST_MASK', 0x6002], ['CR0_READ_SHADOW', 0x6004], ['CR4_READ_SHADOW', 0x6006],
        ['IO_BITMAP_A', 0x2000], ['IO_BITMAP_B', 0x2002], ['MSR_BITMAP', 0x2004], ['EPT_POINTER', 0x201a],
        ['TPR_THRESHOLD', 0x401c], ['VM_EXIT_CONTROLS', 0x400c], ['VM_ENTRY_CONTROLS', 0x4012],
        ['VM_ENTRY_INTR_INFO_FIELD', 0x4016], ['VM_INSTRUCTION_ERROR', 0x4400], ['VM_EXIT_REASON', 0x4402],
        ['VM_EXIT_INTR_INFO', 0x4404], ['VM_EXIT_INTR_ERROR_CODE', 0x4406], ['IDT_VECTORING_INFO_FIELD', 0x4408],
        ['VM_EXIT_INSTRUCTION_LEN', 0x440c], ['VMX_INSTRUCTION_INFO', 0x440e], ['EXIT_QUALIFICATION', 0x6400],
        ['GUEST_LINEAR_ADDRESS', 0x640a], ['GUEST_PHYSICAL_ADDRESS', 0x2400],
      ];
      for (const [name, enc] of ref) assert.equal(VMCS[name], enc, name);
      // Area and width come from the encoding bits (SDM App. B).
      assert.deepEqual(decodeEncoding(VMCS.GUEST_RIP), { high: false, index: 0xf, area: 'guest', width: 'natural' });
      assert.equal(decodeEncoding(VMCS.VM_EXIT_REASON).area, 'exit-info');
      assert.equal(decodeEncoding(VMCS.EPT_POINTER).width, 64);
      assert.equal(decodeEncoding(VMCS.HOST_CS_SELECTOR).area, 'host');
      assert.equal(decodeEncoding(VMCS.EXCEPTION_BITMAP).width, 32);
      assert.equal(new Set(VMCS_FIELDS.map((f) => f.encoding)).size, VMCS_FIELDS.length, 'no encoding twice');
    });

    it('VMREAD/VMWRITE: widths, read-only exit information, unknown encodings, 64-bit high halves', () => {
      const v = new Vmcs();
      v.write(VMCS.GUEST_CS_SELECTOR, 0x12345);
      assert.equal(v.read(VMCS.GUEST_CS_SELECTOR), 0x2345n, '16-bit field');
      v.write(VMCS.EPT_POINTER, 0x1234_5678_9abc_d01en);
      assert.equal(v.read(VMCS.EPT_POINTER + 1), 0x12345678n, 'high half of a 64-bit field');
      v.write(VMCS.EPT_POINTER + 1, 0xffn);
      assert.equal(v.read(VMCS.EPT_POINTER), 0xff_9abc_d01en);
      assert.throws(() => v.write(VMCS.VM_EXIT_REASON, 1), (e: unknown) => e instanceof VmcsError && e.instructionError === 13);
      assert.throws(() => v.read(0x7777), (e: unknown) => e instanceof VmcsError && e.instructionError === 12);
      assert.equal(v.read(VMCS.VMCS_LINK_POINTER), 0xffffffffffffffffn, 'link pointer all ones');
      const guestArea = v.area('guest').map((f) => f.name);
      assert.ok(guestArea.includes('GUEST_RIP') && !guestArea.includes('HOST_RIP'));
    });
  });

  it('programs KVM\'s default controls', () => {
    const withEpt = kvmDefaults({ ept: true }), noEpt = kvmDefaults({ ept: false });
    assert.ok(withEpt.pin & PIN.EXT_INTR_MASK && withEpt.pin & PIN.NMI_EXITING);
    for (const c of [withEpt, noEpt]) {
      for (const bit of [CPU.HLT_EXITING, CPU.UNCOND_IO_EXITING, CPU.MOV_DR_EXITING, CPU.USE_MSR_BITMAPS, CPU.ACTIVATE_SECONDARY_CONTROLS, CPU.USE_TSC_OFFSETTING]) assert.ok(c.primary & bit);
      assert.equal(c.primary & CPU.USE_IO_BITMAPS, 0, 'KVM exits on every port access');
      assert.equal(c.primary & CPU.RDTSC_EXITING, 0);
    }
    assert.ok(withEpt.secondary & SECONDARY.ENABLE_EPT && withEpt.secondary & SECONDARY.UNRESTRICTED_GUEST);
    assert.equal(withEpt.primary & (CPU.CR3_LOAD_EXITING | CPU.CR3_STORE_EXITING | CPU.INVLPG_EXITING), 0);
    assert.equal(withEpt.exceptionBitmap & (1 << 14), 0);
    assert.equal(noEpt.secondary & SECONDARY.ENABLE_EPT, 0);
    assert.ok(noEpt.primary & CPU.CR3_LOAD_EXITING && noEpt.primary & CPU.INVLPG_EXITING);
    assert.ok(noEpt.exceptionBitmap & (1 << 14), '#PF exits with shadow paging');
    assert.ok(withEpt.exceptionBitmap & (1 << 6), '#UD exits (KVM emulates VMCALL-like instructions)');
  });

  it('decodes exit qualifications as KVM does', () => {
    const q = ioQualification(0x3f8, 1, false, false, false, false);
    assert.equal(q, 0x03f80000);
    assert.deepEqual(decodeIo(q), { port: 0x3f8, size: 1, isIn: false, string: false, rep: false, immediate: false });
    assert.deepEqual(decodeIo(ioQualification(0x60, 4, true, true, true, true)), { port: 0x60, size: 4, isIn: true, string: true, rep: true, immediate: true });
    assert.equal(crAccessQualification(3, 0, 0), 0x3);
    assert.deepEqual(decodeCrAccess(crAccessQualification(0, 3, 0, true, 0x1234)), { cr: 0, accessType: 3, gpr: 0, lmswMemory: true, lmswData: 0x1234 });
    assert.equal(exitReasonName(EXIT_REASON.VMCALL), 'VMCALL');
    assert.equal(EXIT_REASON.VMCALL, 18);
    assert.equal(exitReasonName(48), 'EPT_VIOLATION');
  });

  for (const ept of [true, false]) {
    describe(`the examples give QEMU's console and exit status (EPT ${ept ? 'on' : 'off: shadow paging'})`, () => {
      for (const name of exampleNames()) {
        it(name, () => {
          const { vm } = boot(example(name), 'hardware-assisted', { techniqueOptions: { ept } });
          vm.run();
          const r = vm.report();
          const exp = expected(name);
          assert.equal(r.outcome, 'exit', r.error);
          assert.equal(r.console, exp.console);
          assert.equal(r.exitCode, exp.exitStatus);
          if (ept) assert.ok((r.vmExits.EPT_VIOLATION ?? 0) > 0, 'guest memory is mapped on first touch');
          else assert.equal(r.vmExits.EPT_VIOLATION, undefined);
        });
      }
    });
  }

  it('exits.gasm: exactly 6 CPUID, 21 IO_INSTRUCTION and 3 MSR_READ exits', () => {
    const { vm, events } = boot(example('exits'), 'hardware-assisted');
    vm.run();
    const r = vm.report();
    assert.equal(r.vmExits.CPUID, 6);
    assert.equal(r.vmExits.IO_INSTRUCTION, 21);
    assert.equal(r.vmExits.MSR_READ, 3);
    const rdmsr = exits(events).filter((e) => e.reason === 'MSR_READ');
    assert.ok(rdmsr.every((e) => e.instructionLength === 2 && e.mnemonic === 'rdmsr'));
    // The last exit: `out 0xF4, al` (E6 F4): immediate, size 1, OUT, port 0xF4.
    const v = vmx(vm).vmcs;
    assert.equal(exitReasonName(v.get(VMCS.VM_EXIT_REASON)), 'IO_INSTRUCTION');
    assert.equal(v.get(VMCS.EXIT_QUALIFICATION), 0x00f40040);
    assert.equal(v.get(VMCS.VM_EXIT_INSTRUCTION_LEN), 2);
    assert.equal(v.get(VMCS.GUEST_CS_SELECTOR), 0x08, 'guest state saved on exit');
    assert.equal(v.get(VMCS.GUEST_CS_AR_BYTES) & 0xff, 0x9b);
  });

  it('qualifications of real exits: out dx, al to COM1; mov cr3, eax; mov ebx, cr3; invlpg', () => {
    const g = guest(`
      bits 32
        mov esp, 0x90000
        mov dx, 0x3f8
        mov al, 'A'
        out dx, al
        mov eax, 0x5000
        mov cr3, eax
        mov ebx, cr3
        invlpg [0x1234]
        mov al, 0
        out 0xf4, al
    `);
    const { vm, events } = boot(g.program, 'hardware-assisted', { techniqueOptions: { ept: false } });
    vm.run();
    assert.equal(vm.console, 'A');
    const ex = exits(events);
    const io = ex.find((e) => e.reason === 'IO_INSTRUCTION')!;
    assert.equal(io.qualification, 0x03f80000);
    assert.equal(io.instructionLength, 1);
    const cr = ex.filter((e) => e.reason === 'CR_ACCESS');
    assert.equal(cr[0].qualification, 0x3, 'mov to CR3 from EAX');
    assert.equal(cr[1].qualification, 0x313, 'mov from CR3 to EBX (type 1, GPR 3)');
    assert.equal(vm.cpu.regs[3], 0x5000, 'the guest reads back its own CR3, not the shadow\'s');
    const inv = ex.find((e) => e.reason === 'INVLPG')!;
    assert.equal(inv.qualification, 0x1234);
    assert.equal(vm.report().instructions, 10);
  });

  it('VMCALL exits (reason 18) and the host injects #UD: pv-hello takes its bare-metal path', () => {
    const { vm, events } = boot(example('pv-hello'), 'hardware-assisted');
    vm.run();
    const r = vm.report();
    assert.equal(r.console, expected('pv-hello').console);
    assert.equal(r.vmExits.VMCALL, 2);
    assert.ok(exits(events).filter((e) => e.reason === 'VMCALL').every((e) => e.reasonNumber === 18 && e.instructionLength === 3));
    const native = createVm({ mode: 'native' });
    native.load(example('pv-hello'));
    native.run();
    assert.equal(r.instructions, native.cpu.icount, 'a VMCALL that faults does not retire, as on bare metal');
  });

  it('critical instructions need no help at CPL 0 in non-root operation', () => {
    const { vm } = boot(example('critical'), 'hardware-assisted');
    vm.run();
    assert.doesNotMatch(vm.console, /differs/);
    assert.deepEqual(vm.report().critical, {});
    assert.deepEqual(vm.report().traps, {});
  });

  it('EPT: one violation per guest page on first touch, MMIO emulated where nothing is (zeros, as QEMU)', () => {
    const g = guest(`
      bits 32
        mov esp, 0x90000
        mov ebx, 0x5a5a5a5a
        mov ecx, ebx
        mov eax, [0x300000]     ; RAM, untouched so far
        mov eax, [0x300004]     ; same page: no new exit
        mov ebx, [0x2000000]    ; beyond the 16 MiB of RAM: nothing there
        mov ecx, [0x2000000]    ; MMIO exits every time
        mov al, 0
        out 0xf4, al
    `);
    const { vm, events } = boot(g.program, 'hardware-assisted');
    vm.run();
    const viol = exits(events).filter((e) => e.reason === 'EPT_VIOLATION');
    const pages = viol.map((e) => e.text.match(/guest-physical (0x[0-9a-f]+)/)![1]);
    assert.equal(pages.filter((p) => p === '0x300000').length, 1);
    assert.equal(pages.filter((p) => p === '0x2000000').length, 2);
    assert.equal(vm.cpu.regs[3], 0);
    assert.equal(vm.cpu.regs[1], 0);
    assert.equal(vmx(vm).ept!.mapped, viol.length - 2, 'every RAM violation mapped a page');
    const v = vmx(vm).vmcs;
    assert.ok(v.get(VMCS.EPT_POINTER) & 0x18, 'EPTP: 4-level walk');
  });

  it('EPT: accesses beyond RAM exit once per instruction and behave as natively (writes dropped, reads zeros, as in QEMU)', () => {
    const g = guest(`
      bits 32
        mov esp, 0x90000
        mov dword [0x2000010], 0x12345678   ; a write to nothing: dropped
        mov eax, [0x2000010]
        add dword [0x2000020], 5            ; read-modify-write: one instruction, one exit
        mov ebx, [0x2000020]
        mov esi, 0x2000100
        mov edi, 0x300000
        movsd                               ; from nothing into RAM
        mov edx, [0x300000]
        push dword [0x2000ffe]              ; straddles into the next unpopulated page
        pop ebp
        mov al, 0
        out 0xf4, al
    `);
    const { vm, events } = boot(g.program, 'hardware-assisted');
    vm.run();
    const native = createVm({ mode: 'native' });
    native.load(g.program);
    native.run();
    assert.equal(vm.report().outcome, 'exit');
    for (const r of [0, 1, 2, 3, 5, 6, 7]) assert.equal(vm.cpu.regs[r], native.cpu.regs[r], `register ${r} as native`);
    assert.equal(vm.cpu.regs[3], 0, 'the writes were dropped, the reads are zeros');
    assert.equal(vm.cpu.regs[2], 0, 'movsd copied zeros into RAM');
    assert.equal(vm.machine.mem.read32(0x300000), native.machine.mem.read32(0x300000));
    const beyond = exits(events).filter((e) => e.reason === 'EPT_VIOLATION' && /guest-physical 0x200/.test(e.text));
    // One exit per instruction and page: mov (write), mov, add (a read-modify-write is checked for
    // writing), mov, movsd, push (two pages).
    assert.deepEqual(beyond.map((e) => [e.icount, decodeEptViolation(e.qualification).write]), [[1, true], [2, false], [3, true], [4, false], [7, false], [9, false], [9, false]]);
    assert.equal(vm.report().instructions, native.cpu.icount, 'every instruction retired once');
  });

  it('external interrupts exit and are injected; HLT exits (timer.gasm)', () => {
    const { vm, events } = boot(example('timer'), 'hardware-assisted');
    vm.run();
    const r = vm.report();
    assert.equal(r.vmExits.EXTERNAL_INTERRUPT, 10);
    assert.ok((r.vmExits.HLT ?? 0) >= 10);
    assert.equal(events.filter((e) => e.kind === 'interrupt-injection').length, 10);
  });

  it('snapshot / restore continues identically', () => {
    for (const ept of [true, false]) {
      const { vm } = boot(example('paging'), 'hardware-assisted', { techniqueOptions: { ept } });
      vm.runSlice(4000);
      const snap = vm.snapshot();
      vm.run();
      const a = vm.report();
      vm.restore(snap);
      vm.run();
      const b = vm.report();
      assert.equal(b.console, a.console);
      assert.equal(b.instructions, a.instructions);
      assert.deepEqual(b.vmExits, a.vmExits);
    }
  });
});
