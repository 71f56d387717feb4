/*
 * Source-level debugging of an ELF kernel through the Debug Adapter Protocol (DebugClient against
 * the bundled adapter): a kernel in the tutorials' style — a NASM Multiboot entry stub and C built
 * by the test with gcc -m32 -ffreestanding -g -fno-omit-frame-pointer, linked by ld -m elf_i386 —
 * debugged by its .c and .asm lines: breakpoints, the call stack's C function names through the
 * EBP chain, step over / in / out by C line, VM exits located at the C line and function, C
 * globals in evaluate, disassembly with symbols. Expected lines and addresses come from the
 * sources and from binutils (readelf, addr2line), never written in by hand.
 * Run `npm run build` first (npm test does).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { compileObject, READ_CR0_S as HELPER_S, entryStubStart, EXIT_AND_HALT, multibootHeader, readelf, useElfKernel } from '../elf/toolchain';
import { failure, launchToStop, lineOf, resumeToStop, send, startClient, topFrame } from './support';
import * as fs from 'node:fs';
import * as os from 'node:os';

// Multiboot entry stub as the tutorials write it (OSDev Bare Bones): the header in its own section,
// flags 3 (page-aligned modules, memory information).
const ENTRY_ASM = `${entryStubStart(3, '_start, isr_soft')}  xor ebp, ebp
  ; One interrupt gate, vector 0x80, to isr_soft (the code segment the loader left).
  mov eax, isr_soft
  mov [idt + 0x80*8], ax
  mov [idt + 0x80*8 + 2], cs
  mov byte [idt + 0x80*8 + 5], 0x8E
  shr eax, 16
  mov [idt + 0x80*8 + 6], ax
  lidt [idtr]
  call kmain
${EXIT_AND_HALT}isr_soft:
  iretd
section .data
idtr:
  dw 256*8 - 1
  dd idt
section .bss
idt:
  resq 256
align 16
  resb 8192
stack_top:
`;

// The linker script of the tutorials: 1 MiB, 4 KiB-aligned sections, the Multiboot header first.
const LINK_LD = `
ENTRY(_start)
SECTIONS {
  . = 1M;
  .text BLOCK(4K) : ALIGN(4K) { *(.multiboot) *(.text) }
  .rodata BLOCK(4K) : ALIGN(4K) { *(.rodata*) }
  .data BLOCK(4K) : ALIGN(4K) { *(.data) }
  .bss BLOCK(4K) : ALIGN(4K) { *(COMMON) *(.bss) }
}
`;


const KERNEL_C = `
unsigned int ticks = 7;
char banner[8] = "popek";

static void outb(unsigned short port, unsigned char v) {
  __asm__ volatile ("outb %0, %1" : : "a"(v), "Nd"(port));
}

static unsigned int cpu_vendor(void) {
  unsigned int a = 0, b, c, d;
  __asm__ volatile ("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
  return b;
}

static void puts(const char *s) {
  while (*s)
    outb(0x3f8, *s++);
}

static int add(int a, int b) {
  int r = a + b;
  return r;
}

unsigned int read_cr0(void);

static void irq_off(void) {
  __asm__ volatile ("cli");
}

static unsigned int flags_roundtrip(void) {
  unsigned int f;
  __asm__ volatile ("pushf; popf; pushf; pop %0" : "=r"(f));
  return f;
}

static void syscall0(void) {
  __asm__ volatile ("int $0x80");
}

void kmain(void) {
  unsigned int v = cpu_vendor();
  ticks = ticks + 1;
  int x = add(2, 3);
  puts("ok\\n");
  ticks += x + (v & 0);
  unsigned int cr0 = read_cr0();
  irq_off();
  ticks += flags_roundtrip() & 0;
  syscall0();
  ticks += cr0 & 0;
}
`;

type Frame = DebugProtocol.StackFrame;

describe('debugger: ELF kernels from C and NASM (DebugClient)', function () {
  this.timeout(60_000);
  const k = useElfKernel({ sources: { 'entry.asm': ENTRY_ASM, 'kernel.c': KERNEL_C, 'helper.S': HELPER_S }, linkerScript: LINK_LD });
  let dc: DebugClient;
  let kc: string, asm: string, gas: string;
  const cLine = (text: string) => lineOf(kc, text);

  before(function () {
    kc = k.sources['kernel.c'];
    asm = k.sources['entry.asm'];
    gas = k.sources['helper.S'];
  });
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  async function frames(): Promise<Frame[]> {
    return (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames;
  }
  const fn = (f: Frame) => f.name.replace(/ @ .*$/, '');

  async function toBreakpoint(file: string, line: number, extra: Record<string, unknown> = {}): Promise<DebugProtocol.StoppedEvent> {
    const { stop, breakpoints } = await launchToStop(dc, { program: k.file, stopOnEntry: false, ...extra }, { breakpoints: [{ path: file, breakpoints: [{ line }] }] });
    const bp = breakpoints[0].body.breakpoints[0];
    assert.ok(bp.verified, `breakpoint at ${path.basename(file)}:${line}: ${bp.message}`);
    assert.equal(bp.line, line);
    return stop;
  }

  it('a breakpoint in the .c file hits; the call stack names the C functions and the NASM caller', async () => {
    const line = cLine('int r = a + b;');
    const stop = await toBreakpoint(kc, line);
    assert.equal(stop.body.reason, 'breakpoint');
    const st = await frames();
    assert.deepEqual(st.slice(0, 3).map(fn), ['add', 'kmain', '_start']);
    assert.deepEqual(st.slice(0, 3).map((f) => [f.source?.path, f.line]), [[kc, line], [kc, cLine('int x = add(2, 3);')], [asm, lineOf(asm, 'call kmain')]]);
    // The breakpoint's address is where addr2line puts that line.
    const pc = parseInt(st[0].instructionPointerReference!, 16);
    const a2l = spawnSync('addr2line', ['-e', k.file, `0x${pc.toString(16)}`], { encoding: 'utf8' }).stdout.trim();
    assert.equal(a2l, `${kc}:${line}`);
  });

  it('step over a C line runs calls to their return and stops at the next line of the same function', async () => {
    await toBreakpoint(kc, cLine('int x = add(2, 3);'));
    const steps: number[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await resumeToStop(dc, dc.nextRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'step');
      const f = await topFrame(dc);
      assert.equal(fn(f), 'kmain');
      steps.push(f.line);
    }
    assert.deepEqual(steps, [cLine('puts("ok'), cLine('ticks += x'), cLine('ticks += x') + 1]);
  });

  it('step in enters the callee at its first line; step out returns to the caller in the calling line', async () => {
    await toBreakpoint(kc, cLine('int x = add(2, 3);'));
    await resumeToStop(dc, dc.stepInRequest({ threadId: 1 }));
    let f = await topFrame(dc);
    assert.deepEqual([fn(f), f.line], ['add', cLine('static int add(int a, int b) {')]);
    await resumeToStop(dc, dc.nextRequest({ threadId: 1 }));
    f = await topFrame(dc);
    assert.deepEqual([fn(f), f.line], ['add', cLine('int r = a + b;')]);
    await resumeToStop(dc, dc.stepOutRequest({ threadId: 1 }));
    const st = await frames();
    assert.deepEqual([fn(st[0]), st[0].line, fn(st[1])], ['kmain', cLine('int x = add(2, 3);'), '_start']);
    // Back in kmain right after the call: EAX holds add's result.
    const eax = await dc.evaluateRequest({ expression: 'eax', context: 'watch' });
    assert.match(eax.body.result, /^5$/);
  });

  it('step back by line returns to the start of the previous C line of the same function', async () => {
    await toBreakpoint(kc, cLine('puts("ok'));
    const back: Array<[string, number]> = [];
    for (let i = 0; i < 2; i++) {
      await resumeToStop(dc, dc.stepBackRequest({ threadId: 1 }));
      const f = await topFrame(dc);
      back.push([fn(f), f.line]);
    }
    assert.deepEqual(back, [['kmain', cLine('int x = add(2, 3);')], ['kmain', cLine('ticks = ticks + 1;')]]);
  });

  it('a vmexit stop (CPUID, hardware-assisted) shows the C line and function, with the C callers', async () => {
    const { stop } = await launchToStop(dc, { program: k.file, mode: 'hardware-assisted', stopOnEntry: false }, { exceptions: { filters: [], filterOptions: [{ filterId: 'vmexit', condition: 'CPUID' }] } });
    assert.equal(stop.body.reason, 'exception');
    assert.match(stop.body.description ?? '', /kernel\.c:\d+/);
    const st = await frames();
    assert.deepEqual(st.slice(0, 3).map(fn), ['cpu_vendor', 'kmain', '_start']);
    assert.deepEqual([st[0].source?.path, st[0].line], [kc, cLine('"cpuid"')]);
    assert.equal(st[1].line, cLine('unsigned int v = cpu_vendor();'));
  });

  it('an I/O VM exit inside a C helper two calls deep is located there', async () => {
    const { stop } = await launchToStop(dc, { program: k.file, mode: 'hardware-assisted', stopOnEntry: false }, { exceptions: { filters: [], filterOptions: [{ filterId: 'vmexit', condition: 'IO_INSTRUCTION' }] } });
    assert.equal(stop.body.reason, 'exception');
    const st = await frames();
    assert.deepEqual(st.slice(0, 4).map(fn), ['outb', 'puts', 'kmain', '_start']);
    assert.deepEqual(st.slice(0, 3).map((f) => f.line), [cLine('"outb %0, %1"'), cLine('outb(0x3f8, *s++);'), cLine('puts("ok')]);
  });

  it('a breakpoint in the .asm file hits at its line', async () => {
    const line = lineOf(asm, 'mov al, 0');
    await toBreakpoint(asm, line);
    const f = await topFrame(dc);
    assert.deepEqual([f.source?.path, f.line, fn(f)], [asm, line, '_start']);
  });

  it('a breakpoint in a GAS .S file hits; its C caller is on the stack', async () => {
    const line = lineOf(gas, 'movl %cr0, %eax');
    await toBreakpoint(gas, line);
    const st = await frames();
    assert.deepEqual([st[0].source?.path, st[0].line, fn(st[0])], [gas, line, 'read_cr0']);
    assert.deepEqual([fn(st[1]), st[1].line], ['kmain', cLine('unsigned int cr0 = read_cr0();')]);
  });

  it('trap-and-emulate: the trap (cli) and the critical instruction (popf) are located at their C lines and functions', async () => {
    const { stop } = await launchToStop(dc, { program: k.file, mode: 'trap-and-emulate', stopOnEntry: false }, { exceptions: { filters: [], filterOptions: [{ filterId: 'trap', condition: 'cli' }, { filterId: 'critical', condition: 'popfd' }] } });
    assert.equal(stop.body.reason, 'exception');
    assert.match(stop.body.description ?? '', new RegExp(`kernel\\.c:${cLine('"cli"')} \\(cli\\)`));
    let st = await frames();
    assert.deepEqual([fn(st[0]), st[0].line, fn(st[1]), st[1].line], ['irq_off', cLine('"cli"'), 'kmain', cLine('irq_off();')]);
    const next = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.match(next.body.description ?? '', new RegExp(`^Critical instruction popfd at kernel\\.c:${cLine('"pushf; popf')} \\(popfd\\)`));
    st = await frames();
    assert.equal(fn(st[0]), 'flags_roundtrip');
  });

  it('a guest exception (int 0x80) names the C line that raised it; the handler\'s stack shows the interrupted C function', async () => {
    const { stop } = await launchToStop(dc, { program: k.file, stopOnEntry: false }, { exceptions: { filters: ['guest-exception'] } });
    assert.equal(stop.body.reason, 'exception');
    assert.match(stop.body.description ?? '', new RegExp(`kernel\\.c:${cLine('"int $0x80"')} \\(int 0x80\\)`));
    const st = await frames();
    assert.deepEqual([fn(st[0]), st[0].source?.path], ['isr_soft', asm]);
    // The interrupted frame is where the handler returns to: syscall0, just past its int.
    const interrupted = st.find((f) => /^syscall0 \(interrupted\)/.test(f.name));
    assert.ok(interrupted && interrupted.source?.path === kc && interrupted.line >= cLine('"int $0x80"'), st.map((f) => `${f.name}:${f.line}`).join(', '));
  });

  it('C globals in evaluate: the value as C reads it, &name its address (as readelf -s), assignable from the console', async () => {
    await toBreakpoint(kc, cLine('int x = add(2, 3);'));
    const sym = (name: string) => parseInt(new RegExp(`([0-9a-f]{8})\\s+\\d+\\s+OBJECT\\s+\\w+\\s+\\w+\\s+\\w+\\s+${name}$`, 'm').exec(readelf(['-s'], k.file))![1], 16);
    const ticks = await dc.evaluateRequest({ expression: 'ticks', context: 'hover' });
    assert.match(ticks.body.result, /^8$/); // 7, then ticks + 1 ran
    assert.equal(ticks.body.type, 'unsigned int');
    assert.equal(parseInt(ticks.body.memoryReference!, 16), sym('ticks'));
    const addr = await dc.evaluateRequest({ expression: '&ticks', context: 'watch' });
    assert.equal(parseInt(addr.body.result, 16), sym('ticks'));
    const first = await dc.evaluateRequest({ expression: 'byte [&banner]', context: 'watch' });
    assert.match(first.body.result, /^0x0*70 \(112\)$/); // 'p'
    await dc.evaluateRequest({ expression: 'ticks = 41', context: 'repl' });
    assert.match((await dc.evaluateRequest({ expression: 'ticks + 1', context: 'watch' })).body.result, /^0x0*2a \(42\)$/);
  });

  it('the Globals scope lists the C globals with their C types, sizes and addresses (readelf -s); Break on Value Change stops after the C line that wrote', async () => {
    await toBreakpoint(kc, cLine('int x = add(2, 3);'));
    const symbols = readelf(['-s'], k.file);
    const sym = (name: string) => new RegExp(`([0-9a-f]{8})\\s+(\\d+)\\s+OBJECT\\s+\\w+\\s+\\w+\\s+\\w+\\s+${name}$`, 'm').exec(symbols)!;
    const scopes = (await dc.scopesRequest({ frameId: 0 })).body.scopes;
    const ref = scopes.find((s) => s.name === 'Globals')!.variablesReference;
    const vars = new Map((await dc.variablesRequest({ variablesReference: ref })).body.variables.map((v) => [v.name, v]));
    const ticks = vars.get('ticks')!, banner = vars.get('banner')!;
    assert.equal(parseInt(ticks.memoryReference!, 16), parseInt(sym('ticks')[1], 16));
    assert.equal(ticks.type, `unsigned int, ${sym('ticks')[2]} bytes at ${ticks.memoryReference}`);
    assert.equal(ticks.value, '8'); // 7, then ticks + 1 ran
    assert.equal(ticks.evaluateName, 'ticks');
    assert.equal(parseInt(banner.memoryReference!, 16), parseInt(sym('banner')[1], 16));
    assert.match(banner.type ?? '', new RegExp(`^char\\[8\\], ${sym('banner')[2]} bytes`));
    assert.match(banner.value, /^"popek"/);
    const info = await dc.dataBreakpointInfoRequest({ variablesReference: ref, name: 'ticks' });
    assert.equal(info.body.dataId, `${ticks.memoryReference}/4`);
    await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId!, accessType: 'write' }] });
    const s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.equal(s.body.reason, 'data breakpoint');
    // ticks += x + (v & 0): 8 + 5.
    assert.match(s.body.description ?? '', new RegExp(`written by kernel\\.c:${cLine('ticks += x + (v & 0);')} .*: 0x00000008 → 0x0000000d$`));
  });

  it('disassembly names instructions by symbol+offset and call targets by symbol', async () => {
    await toBreakpoint(kc, cLine('int x = add(2, 3);'));
    const f = await topFrame(dc);
    const r = await send<DebugProtocol.DisassembleResponse>(dc, 'disassemble', { memoryReference: f.instructionPointerReference, instructionCount: 12 });
    const list = r.body!.instructions;
    assert.match(list[0].symbol ?? '', /^kmain\+0x[0-9a-f]+$/);
    assert.equal(list[0].line, f.line);
    assert.ok(list.some((i) => /^call 0x[0-9a-f]+ <add>$/.test(i.instruction)), list.map((i) => i.instruction).join('\n'));
  });

  it('an x86-64 ELF is refused, naming what it is', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-elf64-'));
    const file = path.join(dir, 'kernel64.o');
    fs.writeFileSync(file, compileObject('k.c', 'int answer = 42;\nint f(void) { return answer; }\n', ['-m64', '-ffreestanding']));
    await dc.initializeRequest();
    assert.match(await failure(dc.launchRequest({ program: file } as never)), /ELF64 x86-64 file: Popek runs 32-bit kernels/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

// A higher-half kernel (OSDev "Higher Half x86 Bare Bones" style): linked at 0xC0100000, loaded at
// 1 MiB; the entry stub runs at its physical address until it maps the kernel with 4 MiB pages and
// jumps up, then C runs at the addresses the line table has.
const HH_ENTRY_ASM = `
KERNEL_VBASE equ 0xC0000000
global _start
extern kmain
${multibootHeader(3)}section .text
_start:
  mov ecx, boot_pd - KERNEL_VBASE
  mov dword [ecx], 0x83
  mov dword [ecx + (KERNEL_VBASE >> 22) * 4], 0x83
  mov cr3, ecx
  mov ecx, cr4
  or ecx, 0x10
  mov cr4, ecx
  mov ecx, cr0
  or ecx, 0x80000000
  mov cr0, ecx
  lea ecx, [higher]
  jmp ecx
higher:
  mov esp, stack_top
  xor ebp, ebp
  call kmain
  mov al, 0
  out 0xf4, al
  hlt
section .bss
align 4096
boot_pd:
  resb 4096
  resb 8192
stack_top:
`;
const HH_KERNEL_C = `
unsigned int counter;

static void bump(unsigned int n) {
  counter += n;
}

void kmain(void) {
  bump(3);
  bump(4);
}
`;
const HH_LD = `
ENTRY(_start)
SECTIONS {
  . = 0xC0100000;
  .text : AT(ADDR(.text) - 0xC0000000) { *(.multiboot) *(.text) }
  .rodata : AT(ADDR(.rodata) - 0xC0000000) { *(.rodata*) }
  .data : AT(ADDR(.data) - 0xC0000000) { *(.data) }
  .bss : AT(ADDR(.bss) - 0xC0000000) { *(COMMON) *(.bss) }
}
`;

describe('debugger: a higher-half ELF kernel (DebugClient)', function () {
  this.timeout(60_000);
  const k = useElfKernel({ sources: { 'entry.asm': HH_ENTRY_ASM, 'kernel.c': HH_KERNEL_C }, linkerScript: HH_LD });
  let dc: DebugClient;
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  it('before paging the entry stub runs at its load address and is shown at its .asm lines; its breakpoints hit there', async () => {
    const asm = k.sources['entry.asm'];
    const line = lineOf(asm, 'mov cr3, ecx');
    const { stop } = await launchToStop(dc, { program: k.file, stopOnEntry: true }, { breakpoints: [{ path: asm, breakpoints: [{ line }] }] });
    assert.equal(stop.body.reason, 'entry');
    let f = await topFrame(dc);
    assert.ok(parseInt(f.instructionPointerReference!, 16) < 0xc0000000, `runs at its load address: ${f.instructionPointerReference}`);
    assert.deepEqual([f.source?.path, f.line, f.name.replace(/ @ .*$/, '')], [asm, lineOf(asm, 'mov ecx, boot_pd - KERNEL_VBASE'), '_start']);
    const hit = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.equal(hit.body.reason, 'breakpoint');
    f = await topFrame(dc);
    assert.deepEqual([f.source?.path, f.line], [asm, line]);
  });

  it('after paging a C breakpoint hits at its linked address, with the C call stack', async () => {
    const kc = k.sources['kernel.c'];
    const line = lineOf(kc, 'counter += n;');
    const { stop } = await launchToStop(dc, { program: k.file, stopOnEntry: false }, { breakpoints: [{ path: kc, breakpoints: [{ line }] }] });
    assert.equal(stop.body.reason, 'breakpoint');
    const st = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames;
    assert.ok(parseInt(st[0].instructionPointerReference!, 16) >= 0xc0100000);
    assert.deepEqual(st.slice(0, 3).map((f) => [f.name.replace(/ @ .*$/, ''), f.line]), [['bump', line], ['kmain', lineOf(kc, 'bump(3);')], ['higher', lineOf(k.sources['entry.asm'], 'call kmain')]]);
    const counter = await dc.evaluateRequest({ expression: 'counter', context: 'watch' });
    assert.equal(counter.body.result, '0');
  });
});
