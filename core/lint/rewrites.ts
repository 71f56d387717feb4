/*
 * Paravirtual rewrites (SPEC §5): the replacement code of one critical or privileged instruction,
 * written in NASM syntax (attRender turns it into AT&T for `popek-gas`). Each rewrite saves and
 * restores every register it clobbers and, where the original left the flags alone, the flags too.
 *
 *  - Virtual IF is the byte `evtchn_upcall_mask` of vcpu_info 0 at the start of the shared-info
 *    page (guest-physical XEN_SHARED_INFO): mask = !IF. `cli`/`sti`/`pushf`/`popf` become plain
 *    loads and stores there, as Xen's Linux does (xen_irq_disable, xen_irq_enable, xen_save_fl,
 *    xen_restore_fl); unmasking is followed by `xen_version(0, 0)`, Linux's
 *    xen_force_evtchn_callback, so that an event that arrived while masked is delivered now.
 *  - Everything else that has a Xen equivalent becomes a hypercall: `vmcall` with EAX = number and
 *    the arguments in EBX, ECX, EDX, ESI, EDI; the result comes back in EAX.
 *  - Saving the arithmetic flags uses `pushfd`/`popfd` around the sequence: at CPL 1 they keep and
 *    restore CF…OF exactly; only IF/IOPL, which the sequence does not need, are not restored.
 *    Such lines carry `popek: pv`, so the linter does not flag the rewrite again.
 */
import type { Classified } from './classify';
import type { ScannedInstruction } from './lineModel';

export const MASK = '[XEN_SHARED_INFO + VCPU_INFO_UPCALL_MASK]';

export interface RewriteContext {
  /** Operand texts in NASM syntax, Intel order. */
  operands: string[];
  scanned: ScannedInstruction;
  classified: Classified;
  /** A fresh number for labels inside the rewrite. */
  unique: number;
  /** Intel mnemonic of the next instruction in the source (for the `sti; hlt` idiom). */
  next?: string;
  /** The memory operand (NASM text) of the file's only `lgdt`/`lidt`, when there is one without registers. */
  loadedTable?(mnemonic: 'lgdt' | 'lidt'): string | undefined;
  /** Evaluates an operand to a number when it is a constant expression (ports). */
  constant(text: string): number | undefined;
}

export interface RewriteText {
  /** NASM-syntax lines (no indentation); `;` comments allowed. */
  lines: string[];
  /** What the quick fix says it does. */
  title: string;
  /** False when no paravirtual equivalent exists and the instruction is only marked as reviewed. */
  replaces: boolean;
  /** For a kept instruction: the marker comment text appended to it (no `;`/`#`). */
  marker?: string;
}

/** Lines of a hypercall with `args` (expressions, EBX…EDI), saving the registers it uses. */
export function hypercall(name: string, args: string[], keepEax = false): string[] {
  const regs = ['ebx', 'ecx', 'edx', 'esi', 'edi'].slice(0, args.length);
  const saved = keepEax ? regs : ['eax', ...regs];
  return [
    ...saved.map((r) => `push ${r}`),
    ...args.map((a, i) => `mov ${regs[i]}, ${a}`),
    `mov eax, __HYPERVISOR_${name}`,
    'vmcall',
    ...[...saved].reverse().map((r) => `pop ${r}`),
  ];
}

/** Adds `bytes` to every ESP-relative displacement of a NASM memory operand (after pushes). */
export function shiftEsp(mem: string, bytes: number): string {
  if (!/\besp\b/i.test(mem) || bytes === 0) return mem;
  return mem.replace(/\]\s*$/, ` + ${bytes}]`);
}

/** The memory operand text with its size keyword removed (for `lea` / explicit sizes). */
function bareMemory(text: string): string {
  return text.replace(/^\s*(byte|word|dword|qword|far|near)\s+/i, '').replace(/^\s*(byte|word|dword|qword|far|near)\s+/i, '');
}

const FORCE_CALLBACK = [...hypercall('xen_version', ['0', '0'])];

function mark(line: string): string { return `${line} ; popek: pv`; }

type Builder = (ctx: RewriteContext) => RewriteText | undefined;

/**
 * Wraps the kernel's rewrite of an instruction that faults in user mode: code running at CPL 3
 * (CS.RPL = 3) keeps the original instruction, so that it still raises #GP there, exactly as on
 * bare metal; the kernel (CPL 0 native, 1 paravirtual) takes the rewrite.
 */
function kernelOnly(ctx: RewriteContext, original: string, kernel: string[]): string[] {
  const l = `..@popek_cpl${ctx.unique}`;
  return [
    mark('pushfd'),
    'push eax',
    `${mark('mov eax, cs')} — CS.RPL is the CPL`,
    'and eax, 3',
    'cmp eax, 3',
    'pop eax',
    `je ${l}_user`,
    mark('popfd'),
    ...kernel,
    `jmp ${l}_done`,
    `${l}_user:`,
    mark('popfd'),
    `${mark(original)} — user mode: it faults, as on bare metal`,
    `${l}_done:`,
  ];
}

const cli: Builder = (ctx) => ({
  title: 'Replace `cli` by masking events in the shared-info page (Xen irq_disable); user-mode code keeps its #GP',
  replaces: true,
  lines: kernelOnly(ctx, 'cli', [`mov byte ${MASK}, 1`]),
});

const sti: Builder = (ctx) => (ctx.next === 'hlt' ? {
  // `sti; hlt` waits for the next interrupt with none lost in between: sched_op(SCHEDOP_block),
  // which the hlt rewrite issues when unmasked, re-enables delivery atomically (Xen safe_halt).
  title: 'Replace `sti` (before `hlt`) by unmasking events; the block hypercall that replaces `hlt` delivers pending ones atomically (Xen safe_halt)',
  replaces: true,
  lines: kernelOnly(ctx, 'sti', [`mov byte ${MASK}, 0`]),
} : {
  title: 'Replace `sti` by unmasking events in the shared-info page and delivering pending ones (Xen irq_enable)',
  replaces: true,
  lines: kernelOnly(ctx, 'sti', [`mov byte ${MASK}, 0`, ...FORCE_CALLBACK]),
});

const pushf: Builder = (ctx) => {
  const w = ctx.scanned.opsize === 16 || ctx.classified.info.mnemonic.endsWith('w');
  const size = w ? 'word' : 'dword';
  const at = w ? 6 : 8;
  return {
    title: 'Replace `pushf` by the flags with IF taken from the virtual event mask (Xen save_fl)',
    replaces: true,
    lines: [
      mark(w ? 'pushfw' : 'pushfd'),
      mark(w ? 'pushfw' : 'pushfd'),
      'push eax',
      `movzx eax, byte ${MASK}`,
      'xor eax, 1',
      'shl eax, 9',
      `and ${size} [esp + ${at}], ~0x200`,
      `or [esp + ${at}], ${w ? 'ax' : 'eax'}`,
      'pop eax',
      mark(w ? 'popfw' : 'popfd'),
    ],
  };
};

const popf: Builder = (ctx) => {
  const w = ctx.scanned.opsize === 16 || ctx.classified.info.mnemonic.endsWith('w');
  return {
    title: 'Replace `popf` by setting the virtual event mask from the popped IF (Xen restore_fl)',
    replaces: true,
    lines: [
      'push eax',
      w ? 'movzx eax, word [esp + 4]' : 'mov eax, [esp + 4]',
      'shr eax, 9',
      'not eax',
      'and eax, 1',
      `mov ${MASK}, al`,
      'pop eax',
      ...FORCE_CALLBACK,
      mark(w ? 'popfw' : 'popfd'),
    ],
  };
};

const hlt: Builder = (ctx) => ({
  title: 'Replace `hlt` by sched_op(SCHEDOP_block), or vcpu_op(VCPUOP_down) when events are masked (Xen safe_halt / halt)',
  replaces: true,
  lines: kernelOnly(ctx, 'hlt', [
    'push eax', 'push ebx', 'push ecx',
    `movzx ebx, byte ${MASK}`,
    '; masked (IF = 0): vcpu_op(VCPUOP_down = 2, vcpu 0) stops for good, as hlt with IF = 0 does',
    '; unmasked: sched_op(SCHEDOP_block = 1) waits for the next event, as hlt with IF = 1 does',
    'imul eax, ebx, __HYPERVISOR_vcpu_op - __HYPERVISOR_sched_op',
    'add eax, __HYPERVISOR_sched_op',
    'add ebx, SCHEDOP_block',
    'mov ecx, 0',
    'vmcall',
    'pop ecx', 'pop ebx', 'pop eax',
  ]),
});

const iret: Builder = () => ({
  title: 'Replace `iret` by the iret hypercall (23): EAX saved on top of the interrupt frame, as Xen\'s hypercall page does',
  replaces: true,
  lines: ['push eax', 'mov eax, __HYPERVISOR_iret', 'vmcall'],
});

const lgdt: Builder = (ctx) => {
  const m = bareMemory(ctx.operands[0]);
  const l = `..@popek_gdt${ctx.unique}`;
  return {
    title: 'Replace `lgdt` by set_gdt(frame list, entries) when the table is page-aligned, as Xen requires (else the hypervisor emulates lgdt on its trap)',
    replaces: true,
    lines: [
      mark('pushfd'),
      'push eax',
      `mov eax, ${displaced(shiftEsp(m, 8), 2)}`,
      'test eax, 0xFFF             ; set_gdt takes whole pages',
      'pop eax',
      `jz ${l}_hypercall`,
      mark('popfd'),
      `${mark(`lgdt ${m}`)} — not page-aligned: emulated on its trap`,
      `jmp ${l}_done`,
      `${l}_hypercall:`,
      'push eax', 'push ebx', 'push ecx', 'push edx',
      `lea edx, ${shiftEsp(m, 20)}`,
      'movzx ecx, word [edx]',
      'add ecx, 1',
      'shr ecx, 3                  ; entries = (limit + 1) / 8',
      'mov ebx, [edx + 2]',
      'shr ebx, 12                 ; frame of the table',
      'push ebx',
      'mov ebx, esp                ; a one-frame list on the stack',
      'mov eax, __HYPERVISOR_set_gdt',
      'vmcall',
      'add esp, 4',
      'pop edx', 'pop ecx', 'pop ebx', 'pop eax',
      mark('popfd'),
      `${l}_done:`,
    ],
  };
};

/** `[x]` with `disp` added to its displacement: `[x + disp]`. */
function displaced(mem: string, disp: number): string {
  return mem.replace(/\]\s*$/, ` + ${disp}]`);
}

const lidt: Builder = (ctx) => {
  const m = bareMemory(ctx.operands[0]);
  const l = `..@popek_idt${ctx.unique}`;
  return {
    title: 'Replace `lidt` by set_trap_table with one trap_info per present gate of the table',
    replaces: true,
    lines: [
      mark('pushfd'),
      'pushad',
      `lea esi, ${shiftEsp(m, 36)}`,
      'movzx ecx, word [esi]',
      'add ecx, 1',
      'shr ecx, 3                  ; gates = (limit + 1) / 8',
      'mov esi, [esi + 2]          ; table base',
      'mov ebp, esp',
      'push dword 0                ; terminator: address 0',
      'push dword 0',
      `${l}_next:`,
      'sub ecx, 1',
      `js ${l}_done`,
      'mov al, [esi + ecx*8 + 5]   ; type and attributes',
      'test al, 0x80',
      `jz ${l}_next                 ; not present`,
      'movzx edx, word [esi + ecx*8 + 6]',
      'shl edx, 16',
      'mov dx, [esi + ecx*8]',
      'push edx                    ; trap_info.address',
      'movzx edx, word [esi + ecx*8 + 2]',
      'shl edx, 16                 ; trap_info.cs',
      'mov dl, cl                  ; trap_info.vector',
      'mov ah, al',
      'shr ah, 5',
      'and ah, 3                   ; trap_info.flags: DPL',
      'and al, 0x0F',
      'cmp al, 0x0E',
      `jne ${l}_trap`,
      'or ah, 4                    ; interrupt gate: mask events on entry',
      `${l}_trap:`,
      'mov dh, ah',
      'push edx',
      `jmp ${l}_next`,
      `${l}_done:`,
      'mov ebx, esp',
      'mov eax, __HYPERVISOR_set_trap_table',
      'vmcall',
      'mov esp, ebp',
      'popad',
      mark('popfd'),
    ],
  };
};

function mmuext(cmd: string, arg1: string | undefined, title: string): RewriteText {
  return {
    title,
    replaces: true,
    lines: [
      'push eax', 'push ebx', 'push ecx', 'push edx', 'push esi',
      ...(arg1 ? [`mov ebx, ${arg1}`] : []),
      'push dword 0                ; mmuext_op.arg2',
      arg1 ? 'push ebx                    ; mmuext_op.arg1' : 'push dword 0                ; mmuext_op.arg1',
      `push dword ${cmd}`,
      'mov ebx, esp                ; one mmuext_op',
      'mov ecx, 1',
      'mov edx, 0',
      'mov esi, 0x7FF0             ; DOMID_SELF',
      'mov eax, __HYPERVISOR_mmuext_op',
      'vmcall',
      'add esp, 12',
      'pop esi', 'pop edx', 'pop ecx', 'pop ebx', 'pop eax',
    ],
  };
}

const invlpg: Builder = (ctx) => {
  const m = bareMemory(ctx.operands[0]);
  return {
    ...mmuext('MMUEXT_INVLPG_LOCAL', undefined, 'Replace `invlpg` by mmuext_op(MMUEXT_INVLPG_LOCAL)'),
    lines: [
      'push eax', 'push ebx', 'push ecx', 'push edx', 'push esi',
      'push dword 0                ; mmuext_op.arg2',
      `lea ebx, ${shiftEsp(m, 24)}`,
      'push ebx                    ; mmuext_op.arg1: the linear address',
      'push dword MMUEXT_INVLPG_LOCAL',
      'mov ebx, esp', 'mov ecx, 1', 'mov edx, 0', 'mov esi, 0x7FF0             ; DOMID_SELF',
      'mov eax, __HYPERVISOR_mmuext_op', 'vmcall', 'add esp, 12',
      'pop esi', 'pop edx', 'pop ecx', 'pop ebx', 'pop eax',
    ],
  };
};

const wbinvd: Builder = () => mmuext('MMUEXT_FLUSH_CACHE', undefined, 'Replace `wbinvd` by mmuext_op(MMUEXT_FLUSH_CACHE)');

const lldt: Builder = () => mmuext('MMUEXT_SET_LDT', '0', 'Replace `lldt` by mmuext_op(MMUEXT_SET_LDT, no table): right for the null selector a kernel without an LDT loads');

const clts: Builder = () => ({ title: 'Replace `clts` by fpu_taskswitch(0)', replaces: true, lines: hypercall('fpu_taskswitch', ['FPU_TASKSWITCH_CLEAR_TS']) });

const out: Builder = (ctx) => {
  const port = ctx.constant(ctx.operands[0]);
  const src = ctx.operands[1]?.toLowerCase();
  if (port === 0xF4 && src === 'al') {
    return {
      title: 'Replace the isa-debug-exit write by sched_op(SCHEDOP_shutdown) with reason (value << 1) | 1, the exit status QEMU gives',
      replaces: true,
      lines: [
        'push eax', 'push ebx', 'push ecx',
        'movzx ecx, al',
        'lea ecx, [ecx*2 + 1]        ; exit status (v << 1) | 1',
        'push ecx',
        'mov ebx, SCHEDOP_shutdown',
        'mov ecx, esp                ; -> the shutdown reason',
        'mov eax, __HYPERVISOR_sched_op',
        'vmcall',
        'add esp, 4',
        'pop ecx', 'pop ebx', 'pop eax',
      ],
    };
  }
  if (port === 0x3F8 && src === 'al') {
    return {
      title: 'Replace the COM1 write by console_io(CONSOLEIO_write, 1, byte)',
      replaces: true,
      lines: [
        'push eax', 'push ebx', 'push ecx', 'push edx',
        'push eax                    ; the byte to write, on the stack',
        'mov ebx, CONSOLEIO_write', 'mov ecx, 1', 'mov edx, esp',
        'mov eax, __HYPERVISOR_console_io', 'vmcall',
        'add esp, 4',
        'pop edx', 'pop ecx', 'pop ebx', 'pop eax',
      ],
    };
  }
  return undefined;
};

/**
 * `sgdt`/`sidt`: Xen has no hypercall that reads the tables back; a PV guest keeps the
 * pseudo-descriptor it passed (the table's advice). When the file loads its table once, from a
 * fixed place, the rewrite copies those 6 bytes instead of storing the real (hypervisor's) register.
 */
function storeTable(load: 'lgdt' | 'lidt'): Builder {
  return (ctx) => {
    const from = ctx.loadedTable?.(load);
    const to = ctx.operands[0];
    if (!from || !to || !/^\s*(\w+\s+)?\[/.test(to)) return undefined;
    const src = bareMemory(from);
    const dst = shiftEsp(bareMemory(to), 4);
    return {
      title: `Replace \`${load === 'lgdt' ? 'sgdt' : 'sidt'}\` by the pseudo-descriptor the guest loaded with \`${load} ${src}\` (Xen cannot read the table register back)`,
      replaces: true,
      lines: [
        'push eax',
        `mov ax, ${src.replace(/^\[/, 'word [')}`,
        `mov ${dst.replace(/^\[/, 'word [')}, ax            ; limit`,
        `mov eax, ${displaced(src, 2)}`,
        `mov ${displaced(dst, 2).replace(/^\[/, 'dword [')}, eax  ; base`,
        'pop eax',
      ],
    };
  };
}

/** `mov cr3, r32` → mmuext_op(NEW_BASEPTR); `mov r32, cr2` → the fault address Xen keeps in vcpu_info. */
const movCr: Builder = (ctx) => {
  const [dst, src] = ctx.scanned.operands;
  const d = ctx.operands[0]?.toLowerCase(), s = ctx.operands[1]?.toLowerCase();
  if (dst?.register === 'cr3' && src?.registerClass === 'gpr32') {
    const r = mmuext('MMUEXT_NEW_BASEPTR', undefined, 'Replace `mov cr3` by mmuext_op(MMUEXT_NEW_BASEPTR): the hypervisor validates the new page directory');
    return {
      ...r,
      lines: [
        'push eax', 'push ebx', 'push ecx', 'push edx', 'push esi',
        'push dword 0                ; mmuext_op.arg2',
        `mov ebx, ${s}`,
        mark('pushfd'),
        'shr ebx, 12                 ; the directory\'s frame',
        mark('popfd'),
        'push ebx                    ; mmuext_op.arg1',
        'push dword MMUEXT_NEW_BASEPTR',
        'mov ebx, esp', 'mov ecx, 1', 'mov edx, 0', 'mov esi, 0x7FF0             ; DOMID_SELF',
        'mov eax, __HYPERVISOR_mmuext_op', 'vmcall', 'add esp, 12',
        'pop esi', 'pop edx', 'pop ecx', 'pop ebx', 'pop eax',
      ],
    };
  }
  if (src?.register === 'cr2' && dst?.registerClass === 'gpr32') {
    return {
      title: 'Replace `mov reg, cr2` by the fault address Xen stores in vcpu_info (arch.cr2; Linux xen_read_cr2)',
      replaces: true,
      lines: [`mov ${d}, [XEN_SHARED_INFO + VCPU_INFO_ARCH_CR2]`],
    };
  }
  return undefined;
};

const BUILDERS: Record<string, Builder> = {
  mov: movCr,
  sgdt: storeTable('lgdt'), sidt: storeTable('lidt'),
  cli, sti, pushf, pushfd: pushf, pushfw: pushf, popf, popfd: popf, popfw: popf, hlt, iret, iretd: iret, lgdt, lidt, invlpg, wbinvd, lldt, clts, out,
};

/** The first clause of the table's replacement text, short enough for a comment. */
function shortNote(text: string | undefined): string {
  const t = (text ?? 'no paravirtual equivalent').replace(/\s+/g, ' ').replace(/[`]/g, '').split(/(?<=[.;:])\s/)[0].replace(/[.;:]$/, '');
  return t.length > 90 ? t.slice(0, 89) + '…' : t;
}

/*
 * Not rewritten, on purpose: `ltr` (Xen's Linux makes it a no-op and sets the ring-0 stack with
 * stack_switch, but the stack is in the TSS the guest describes; the hypervisor emulating the
 * trapped `ltr` keeps ring transitions working, a bare no-op would not), `in`/`out` to ports other
 * than COM1's data register and isa-debug-exit (Xen emulates them on the #GP), and the critical
 * instructions Xen has no hypercall for (sgdt, sidt, sldt, smsw, str, lar, lsl, verr, verw,
 * Sreg moves, far transfers, int n): those are marked reviewed.
 */

/** The rewrite of one classified instruction (a marker-only "reviewed" fix when none exists). */
export function rewriteOf(ctx: RewriteContext): RewriteText {
  const name = ctx.classified.info.mnemonic;
  const builder = BUILDERS[name] ?? BUILDERS[ctx.scanned.mnemonic];
  // Operands that fit no form are the assembler's error to report, not something to rewrite.
  const built = ctx.classified.form ? builder?.(ctx) : undefined;
  if (built) return built;
  const pv = ctx.classified.facts.pv;
  return {
    title: `Keep \`${ctx.scanned.spelling}\` and mark it reviewed (${ctx.classified.facts.class !== 'critical' && pv?.kind === 'emulated' ? 'the hypervisor emulates it on its trap' : 'no hypercall replaces it'})`,
    replaces: false,
    lines: [],
    marker: `popek: pv — kept: ${ctx.classified.facts.class !== 'critical' && pv?.kind === 'emulated' ? 'the hypervisor emulates it on its trap' : shortNote(pv?.text)}`,
  };
}
