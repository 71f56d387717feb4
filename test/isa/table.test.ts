/* The instruction table: coverage (issue 2 item 3), SPEC §7 classes, VT-x exits, AT&T spellings. */
import * as assert from 'node:assert/strict';
import { allInstructions, attInstructionInfo, instructionInfo, virtFactsFor } from '../../core/isa/table';

const COVERAGE = [
  'mov', 'movzx', 'movsx', 'lea', 'xchg', 'cmpxchg', 'xadd', 'bswap', 'cmove', 'cmovne', 'sete', 'setnz',
  'push', 'pop', 'pusha', 'popa', 'pushad', 'popad', 'pushf', 'popf', 'pushfd', 'popfd', 'enter', 'leave',
  'add', 'adc', 'sub', 'sbb', 'cmp', 'and', 'or', 'xor', 'test', 'not', 'neg', 'mul', 'imul', 'div', 'idiv', 'inc', 'dec',
  'shl', 'sal', 'shr', 'sar', 'rol', 'ror', 'rcl', 'rcr', 'shld', 'shrd', 'bt', 'bts', 'btr', 'btc', 'bsf', 'bsr',
  'movsb', 'movsw', 'movsd', 'cmpsb', 'scasb', 'lodsd', 'stosd', 'jmp', 'call', 'ret', 'retf', 'je', 'jz', 'jnz', 'jg', 'jl',
  'loop', 'loope', 'loopne', 'jecxz', 'int', 'int3', 'into', 'iret', 'iretd', 'cli', 'sti', 'clc', 'stc', 'cmc', 'cld', 'std', 'lahf', 'sahf',
  'cbw', 'cwde', 'cwd', 'cdq', 'xlat', 'xlatb', 'hlt', 'in', 'out', 'insb', 'insd', 'outsb', 'outsd',
  'lgdt', 'lidt', 'sgdt', 'sidt', 'lldt', 'sldt', 'ltr', 'str', 'lmsw', 'smsw', 'clts', 'invlpg', 'invd', 'wbinvd',
  'rdmsr', 'wrmsr', 'rdtsc', 'rdpmc', 'cpuid', 'lar', 'lsl', 'verr', 'verw', 'arpl', 'sysenter', 'sysexit', 'vmcall', 'ud2', 'nop',
  'lds', 'les', 'lfs', 'lgs', 'lss', 'cmpxchg8b',
];
const CRITICAL = ['sgdt', 'sidt', 'sldt', 'smsw', 'str', 'pushf', 'pushfd', 'popf', 'popfd', 'lar', 'lsl', 'verr', 'verw', 'retf', 'int', 'iret', 'iretd'];
const PRIVILEGED = ['lgdt', 'lidt', 'lldt', 'ltr', 'lmsw', 'clts', 'invlpg', 'invd', 'wbinvd', 'hlt', 'rdmsr', 'wrmsr', 'rdpmc', 'sysexit'];
const IOPL = ['cli', 'sti', 'in', 'out', 'insb', 'insw', 'insd', 'outsb', 'outsw', 'outsd'];
const KVM_REASONS = new Set(['EXCEPTION_NMI', 'TASK_SWITCH', 'CPUID', 'HLT', 'INVD', 'INVLPG', 'RDPMC', 'RDTSC', 'VMCALL', 'CR_ACCESS', 'DR_ACCESS', 'IO_INSTRUCTION', 'MSR_READ', 'MSR_WRITE', 'GDTR_IDTR', 'LDTR_TR', 'WBINVD', 'PAUSE_INSTRUCTION']);

describe('isa table', () => {
  it('covers the protected-mode kernel instruction set', () => {
    for (const m of COVERAGE) assert.ok(instructionInfo(m), `missing ${m}`);
    assert.ok(allInstructions().length >= 150);
  });

  it('classifies SPEC §7 critical, privileged and IOPL-sensitive instructions', () => {
    for (const m of CRITICAL) assert.equal(instructionInfo(m)!.virt.class, 'critical', m);
    for (const m of PRIVILEGED) assert.equal(instructionInfo(m)!.virt.class, 'privileged', m);
    for (const m of IOPL) assert.equal(instructionInfo(m)!.virt.class, 'iopl-sensitive', m);
    assert.equal(instructionInfo('add')!.virt.class, 'innocuous');
    for (const info of allInstructions()) {
      if (info.virt.class === 'critical' && !info.mnemonic.startsWith('iret')) assert.ok(info.virt.group, `${info.mnemonic} has no Robin & Irvine group`);
      if (info.virt.class !== 'innocuous') assert.ok(info.virt.why && info.virt.pv, `${info.mnemonic} lacks why/pv`);
    }
  });

  it('gives per-form facts: Sreg moves, pushes and far transfers are critical, CR/DR moves privileged', () => {
    const mov = instructionInfo('mov')!;
    const form = (info: typeof mov, ops: string) => info.forms.find((f) => f.operands.join(',') === ops)!;
    assert.equal(virtFactsFor(mov, form(mov, 'sreg-no-cs,rm16')).class, 'critical');
    assert.equal(virtFactsFor(mov, form(mov, 'r32,sreg')).group, 'protection-system');
    assert.equal(virtFactsFor(mov, form(mov, 'cr,r32')).class, 'privileged');
    const crExit = virtFactsFor(mov, form(mov, 'cr,r32')).vmExit;
    assert.equal(crExit.kind === 'controlled' ? crExit.reason : '', 'CR_ACCESS');
    assert.equal(virtFactsFor(mov, form(mov, 'r32,dr')).class, 'privileged');
    assert.equal(virtFactsFor(mov, form(mov, 'rm32,r32')).class, 'innocuous');
    const push = instructionInfo('push')!;
    assert.equal(virtFactsFor(push, form(push, 'cs')).class, 'critical');
    assert.equal(virtFactsFor(push, form(push, 'r32')).class, 'innocuous');
    const jmp = instructionInfo('jmp')!;
    assert.equal(virtFactsFor(jmp, form(jmp, 'far16:32')).class, 'critical');
    assert.equal(virtFactsFor(jmp, form(jmp, 'm16:32')).class, 'critical');
    assert.equal(virtFactsFor(jmp, form(jmp, 'rel32')).class, 'innocuous');
  });

  it('records VT-x exits with KVM reason names and numbers', () => {
    const exit = (m: string) => instructionInfo(m)!.virt.vmExit;
    assert.deepEqual([exit('cpuid').kind, (exit('cpuid') as { reasonNumber: number }).reasonNumber], ['unconditional', 10]);
    assert.equal((exit('hlt') as { reason: string }).reason, 'HLT');
    assert.equal((exit('vmcall') as { reasonNumber: number }).reasonNumber, 18);
    assert.equal((exit('out') as { reason: string }).reason, 'IO_INSTRUCTION');
    assert.equal((exit('lgdt') as { reasonNumber: number }).reasonNumber, 46);
    assert.equal((exit('str') as { reasonNumber: number }).reasonNumber, 47);
    assert.equal(exit('popf').kind, 'none');
    for (const info of allInstructions()) {
      for (const f of [undefined, ...info.forms]) {
        const e = virtFactsFor(info, f).vmExit;
        if (e.kind !== 'none') assert.ok(KVM_REASONS.has(e.reason), `${info.mnemonic}: ${e.reason}`);
      }
    }
  });

  it('names the paravirtual replacements with Xen hypercalls', () => {
    assert.equal(instructionInfo('hlt')!.virt.pv!.hypercall, 'sched_op');
    assert.equal(instructionInfo('lidt')!.virt.pv!.hypercall, 'set_trap_table');
    assert.equal(instructionInfo('iret')!.virt.pv!.hypercall, 'iret');
    assert.equal(instructionInfo('cli')!.virt.pv!.kind, 'shared-memory');
    assert.equal(instructionInfo('popf')!.virt.pv!.kind, 'shared-memory');
    assert.equal(instructionInfo('out')!.virt.pv!.hypercall, 'console_io');
  });

  it('knows AT&T spellings', () => {
    assert.equal(attInstructionInfo('popfl')!.info.mnemonic, 'popfd');
    assert.equal(attInstructionInfo('pushfl')!.info.mnemonic, 'pushfd');
    assert.equal(attInstructionInfo('ljmp')!.far, true);
    assert.equal(attInstructionInfo('lgdtl')!.info.mnemonic, 'lgdt');
    assert.equal(attInstructionInfo('movl')!.size, 32);
    assert.equal(attInstructionInfo('movb')!.size, 8);
    assert.equal(attInstructionInfo('movzbl')!.info.mnemonic, 'movzx');
    assert.equal(attInstructionInfo('lret')!.info.mnemonic, 'retf');
    assert.equal(attInstructionInfo('cltd')!.info.mnemonic, 'cdq');
    assert.equal(attInstructionInfo('iret')!.info.mnemonic, 'iretd');
  });

  it('has flags, descriptions and compiled encodings for every entry', () => {
    for (const info of allInstructions()) {
      assert.ok(info.description.length > 5, info.mnemonic);
      assert.ok(info.forms.length > 0, info.mnemonic);
      for (const f of info.forms) assert.ok(f.opcode.length > 0, `${info.mnemonic} ${f.encoding}`);
    }
    assert.deepEqual(instructionInfo('adc')!.flags.read, ['CF']);
    assert.ok(instructionInfo('div')!.flags.undefined.includes('ZF'));
    assert.ok(instructionInfo('popfd')!.flags.written.includes('IF'));
  });
});
