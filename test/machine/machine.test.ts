// The simulated PC around the CPU: loader and entry state (SPEC §3), devices (UART, PIC, PIT,
// isa-debug-exit, port 0x80, unknown ports), outcomes, slices, snapshot / restore, `popek run`.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CS, DS, SS } from '../../core/cpu/constants';
import { Machine } from '../../core/machine/machine';
import { LoadError } from '../../core/machine/multiboot';
import { REPO_ROOT, assembleNasmSource, assembleWithNasm, examplePath, runImageInQemu } from '../support/qemu';
import { idtGate } from '../support/guestAsm';

/** A flat guest at 1 MiB (no Multiboot header) built from NASM source. */
function guest(body: string): Buffer {
  return assembleNasmSource(`bits 32\norg 0x100000\n${body}\n`);
}
function boot(image: Uint8Array, maxInstructions = 1_000_000): Machine {
  const m = new Machine({ maxInstructions });
  m.loadImage(image);
  return m;
}

describe('machine', function () {
  this.timeout(60_000);

  describe('loader and entry state', function () {
    it('honours the Multiboot a.out kludge and sets the SPEC §3 entry state', function () {
      const m = boot(assembleWithNasm(examplePath('hello')));
      const cpu = m.cpu;
      assert.ok(m.image?.multiboot);
      assert.equal(cpu.regs[0] >>> 0, 0x2badb002);
      assert.equal(cpu.segSel[CS], 0x08);
      assert.equal(cpu.segSel[DS], 0x10);
      assert.equal(cpu.segSel[SS], 0x10);
      assert.equal(cpu.getEflags() & 0x200, 0, 'IF = 0');
      assert.equal(cpu.cr0 & 0x80000001, 1, 'protected mode, paging off');
      assert.equal(cpu.eip, m.image!.entry);
      // EBX: Multiboot info with mem_lower/mem_upper for 16 MiB.
      const mbi = cpu.regs[3];
      assert.equal(m.mem.read32(mbi) & 1, 1);
      assert.equal(m.mem.read32(mbi + 4), 639);
      assert.equal(m.mem.read32(mbi + 8), 16 * 1024 - 1024 - 128, 'as QEMU: RAM above 1 MiB up to the firmware\'s last 128 KiB');
      assert.equal(m.mem.read32(mbi + 44), 6 * 24, 'six e820 entries');
      // The firmware GDT is readable by the guest and has flat 0x08 / 0x10.
      assert.equal(m.mem.read32(cpu.gdtrBase + 8 + 4) >>> 0, 0x00cf9b00);
      assert.equal(m.mem.read32(cpu.gdtrBase + 16 + 4) >>> 0, 0x00cf9300);
      // bss is zeroed up to bss_end_addr.
      assert.ok(m.image!.bssEnd > m.image!.loadEnd);
    });

    it('loads a flat image without a header at its origin', function () {
      const m = boot(guest('mov al, 5\nout 0xf4, al'));
      assert.equal(m.image?.multiboot, false);
      assert.equal(m.run(), 'exit');
      assert.equal(m.exitCode, 11);
    });

    it('rejects a Multiboot header that requires unknown features, and images that do not fit', function () {
      const hdr = assembleNasmSource('bits 32\norg 0x100000\ndd 0x1BADB002, 0x00010008, -(0x1BADB002 + 0x00010008)\n');
      assert.throws(() => new Machine().loadImage(hdr), LoadError);
      assert.throws(() => new Machine({ memoryMiB: 2 }).loadImage(new Uint8Array(3 << 20)), LoadError);
      assert.throws(() => new Machine({ memoryMiB: 0 }), RangeError);
    });
  });

  describe('devices', function () {
    it('UART: THR bytes are the console; LSR reports ready; DLAB selects the divisor latch; scratch register', function () {
      const m = new Machine();
      const io = m.io;
      assert.equal(io.in(0x3fd, 1), 0x60);
      io.out(0x3fb, 1, 0x80); io.out(0x3f8, 1, 0x03); io.out(0x3f9, 1, 0x00); io.out(0x3fb, 1, 0x03);
      assert.equal(io.in(0x3fb, 1), 0x03);
      io.out(0x3f8, 1, 0x41); io.out(0x3f8, 1, 0x0a);
      io.out(0x3ff, 1, 0x5a);
      assert.equal(io.in(0x3ff, 1), 0x5a);
      assert.equal(m.console, 'A\n');
    });

    it('UART: enabling the THR-empty interrupt raises IRQ 4; reading IIR acknowledges it', function () {
      const m = new Machine();
      const io = m.io;
      io.out(0x21, 1, 0xff);
      io.out(0x3f9, 1, 0x02);
      assert.equal(m.pic.master.irr & 0x10, 0x10);
      assert.equal(io.in(0x3fa, 1) & 0x0f, 0x02, 'IIR: THR empty');
      assert.equal(io.in(0x3fa, 1) & 0x0f, 0x01, 'IIR: nothing pending');
    });

    it('PIC: ICW1–4 set the vector base, OCW1 the mask, OCW3 selects IRR or ISR, EOI clears ISR', function () {
      const m = new Machine();
      const io = m.io;
      io.out(0x20, 1, 0x11); io.out(0x21, 1, 0x20); io.out(0x21, 1, 0x04); io.out(0x21, 1, 0x01);
      io.out(0xa0, 1, 0x11); io.out(0xa1, 1, 0x28); io.out(0xa1, 1, 0x02); io.out(0xa1, 1, 0x01);
      io.out(0x21, 1, 0xfc); io.out(0xa1, 1, 0xff);
      assert.equal(io.in(0x21, 1), 0xfc);
      m.pic.pulse(1); m.pic.pulse(0); m.pic.pulse(5);
      assert.equal(io.in(0x20, 1), 0x23, 'IRR: IRQ 0, 1, 5');
      assert.ok(m.pic.hasInterrupt());
      assert.equal(m.pic.acknowledge(), 0x20, 'IRQ 0 first (highest priority)');
      assert.ok(!m.pic.hasInterrupt(), 'IRQ 1 waits for the EOI of IRQ 0');
      io.out(0x20, 1, 0x0b);
      assert.equal(io.in(0x20, 1), 0x01, 'ISR: IRQ 0 in service');
      io.out(0x20, 1, 0x20);
      assert.equal(io.in(0x20, 1), 0x00);
      assert.equal(m.pic.acknowledge(), 0x21);
      m.pic.setIrq(10, true);
      io.out(0xa1, 1, 0xfb);
      io.out(0x21, 1, 0xf8);
      io.out(0x20, 1, 0x20);
      assert.equal(m.pic.acknowledge(), 0x2a, 'slave IRQ 10 through the cascade');
    });

    it('PIT: channel 0 in mode 2 raises IRQ 0 at the programmed rate of simulated time', function () {
      const m = new Machine({ cpuHz: 100_000_000 });
      const io = m.io;
      io.out(0x43, 1, 0x34); io.out(0x40, 1, 11932 & 0xff); io.out(0x40, 1, 11932 >> 8); // 100 Hz
      m.cpu.idleCycles += 100_000_000 / 100 + 10_000;
      m.pit.update();
      assert.equal(m.pit.irqCount, 1);
      assert.equal(m.pic.master.irr & 1, 1);
      const next = m.pit.nextEventCycle();
      assert.ok(Math.abs(next - m.cpu.time - 990_000) < 20_000, `next IRQ 0 in about 10 ms (${next - m.cpu.time} cycles)`);
      // The counter counts down and can be latched.
      io.out(0x43, 1, 0x00);
      const lo = io.in(0x40, 1), hi = io.in(0x40, 1);
      assert.ok(((hi << 8) | lo) <= 11932);
    });

    it('isa-debug-exit stops the machine with (v << 1) | 1, whatever the access width', function () {
      const m = boot(guest('mov eax, 0x21\nout 0xf4, eax\nhlt'));
      assert.equal(m.run(), 'exit');
      assert.equal(m.exitCode, 0x43);
      assert.equal(m.instructions, 2);
    });

    it('port 0x80 is ignored; other ports read 0xFF, ignore writes and are reported', function () {
      const m = boot(guest('out 0x80, al\nin al, 0x61\nmov ebx, eax\nmov dx, 0x1234\nin ax, dx\nout dx, ax\nmov al, 0\nout 0xf4, al'));
      m.run();
      assert.equal(m.cpu.regs[3] & 0xff, 0xff);
      assert.equal(m.cpu.regs[0] & 0xff, 0x00);
      const report = m.report('native', 0);
      assert.deepEqual(report.unknownPorts, { '0x61': { reads: 1, writes: 0 }, '0x1234': { reads: 1, writes: 1 }, '0x1235': { reads: 1, writes: 1 } });
    });
  });

  describe('outcomes', function () {
    it('HLT with IF = 0 ends with halt', function () {
      const m = boot(guest('cli\nhlt'));
      assert.equal(m.run(), 'halt');
    });
    it('HLT with IF = 1 but no interrupt source (all IRQs masked) ends with halt', function () {
      const m = boot(guest('mov al, 0xff\nout 0x21, al\nsti\nhlt'));
      assert.equal(m.run(), 'halt');
    });
    it('the firmware leaves the PIT running and IRQ 0 open, as in QEMU: STI before any set-up faults', async function () {
      const image = assembleNasmSource([
        'bits 32', 'org 0x100000', 'align 4',
        'hdr: dd 0x1BADB002, 0x00010000, -(0x1BADB002 + 0x00010000), hdr, hdr, end, end, start',
        'start: in al, 0x21', 'mov dx, 0x3f8', 'add al, 0', 'out dx, al', 'sti', 'hlt', 'mov al, 5', 'out 0xf4, al', 'end:',
      ].join('\n'));
      const m = boot(image);
      const outcome = m.run();
      const qemu = await runImageInQemu(image);
      assert.equal(outcome, 'triple-fault');
      assert.equal(m.exitCode, qemu.exitStatus, 'QEMU -no-reboot exits with 0 after a triple fault');
      assert.equal(Buffer.from(m.uart.output).toString('latin1'), qemu.console, 'the master IMR as the firmware left it');
    });
    it('an endless loop ends with limit, exactly at the instruction limit', function () {
      const m = boot(guest('jmp $'), 12_345);
      assert.equal(m.run(), 'limit');
      assert.equal(m.instructions, 12_345);
    });
    it('a triple fault ends with triple-fault and the faulting address', function () {
      const m = boot(guest('nop\nlidt [bad]\nud2\nbad: dw 0\ndd 0'));
      assert.equal(m.run(), 'triple-fault');
      assert.equal(m.faultAddress, 0x100000 + 1 + 7);
    });
    it('runSlice returns control after the slice and resumes exactly', function () {
      const m = boot(guest('mov ecx, 1000\n.l: dec ecx\njnz .l\nmov al, 0\nout 0xf4, al'));
      assert.equal(m.runSlice(100), 'slice');
      assert.equal(m.instructions, 100);
      assert.equal(m.runSlice(1), 'slice');
      assert.equal(m.instructions, 101);
      assert.equal(m.runSlice(1_000_000), 'exit');
      assert.equal(m.instructions, 1 + 2000 + 2);
    });
    it('a breakpoint stops before the instruction and the next slice executes it', function () {
      const m = boot(guest('nop\nnop\nmov eax, 7\nmov al, 0\nout 0xf4, al'));
      m.cpu.breakpoints.add(0x100002);
      assert.equal(m.runSlice(1000), 'breakpoint');
      assert.equal(m.cpu.eip, 0x100002);
      assert.equal(m.runSlice(1000), 'exit');
      assert.equal(m.cpu.regs[0] & 0xffffff00, 0);
    });
    it('a timer interrupt wakes HLT (the PIT programmed, IRQ 0 unmasked, IF = 1)', function () {
      const src = [
        'mov esp, 0x90000', 'lidt [idtr]',
        ...idtGate('0x20', 'handler'),
        'mov al, 0x11', 'out 0x20, al', 'mov al, 0x20', 'out 0x21, al', 'mov al, 4', 'out 0x21, al', 'mov al, 1', 'out 0x21, al', 'mov al, 0xfe', 'out 0x21, al',
        'mov al, 0x34', 'out 0x43, al', 'mov al, 0x9c', 'out 0x40, al', 'mov al, 0x2e', 'out 0x40, al',
        'sti', 'hlt', 'mov al, [ticks]', 'out 0xf4, al',
        'handler: inc byte [ticks]', 'push eax', 'mov al, 0x20', 'out 0x20, al', 'pop eax', 'iretd',
        'ticks: db 0', 'align 8', 'idtr: dw 256*8-1', 'dd idt', 'align 8', 'idt: times 256*8 db 0',
      ].join('\n');
      const m = boot(guest(src));
      assert.equal(m.run(), 'exit');
      assert.equal(m.exitCode, (1 << 1) | 1);
      assert.ok(m.cpu.idleCycles > 0, 'time advanced while halted');
    });
  });

  describe('snapshot and restore', function () {
    it('restoring a snapshot replays the rest of the run identically', function () {
      const m = boot(assembleWithNasm(examplePath('compute')), 100_000_000);
      assert.equal(m.runSlice(300_000), 'slice');
      const snap = m.snapshot();
      assert.equal(m.run(), 'exit');
      const first = { console: m.console, instructions: m.instructions, eax: m.cpu.regs[0] };
      m.restore(snap);
      assert.equal(m.outcome, undefined);
      assert.equal(m.instructions, 300_000);
      assert.equal(m.run(), 'exit');
      assert.deepEqual({ console: m.console, instructions: m.instructions, eax: m.cpu.regs[0] }, first);
    });
    it('restoring memory invalidates code decoded from it', function () {
      const m = boot(guest('mov eax, 1\nnop\nmov al, 0\nout 0xf4, al'));
      const snap = m.snapshot();
      m.runSlice(1);
      assert.equal(m.cpu.regs[0], 1);
      snap.memory[0x100001] = 2; // mov eax, 2 in the snapshot
      m.restore(snap);
      m.runSlice(1);
      assert.equal(m.cpu.regs[0], 2);
    });
    it('refuses a snapshot of another version', function () {
      const m = new Machine();
      const snap = m.snapshot();
      assert.throws(() => m.restore({ ...snap, version: 999 }), /version/);
    });
  });

  describe('popek run', function () {
    const cli = path.join(REPO_ROOT, 'dist', 'cli.js');
    before(function () {
      assert.ok(fs.existsSync(cli), 'dist/cli.js exists (npm run build)');
    });
    it('prints the console, exits with the guest\'s status, and gives the SPEC §6 report with --json', function () {
      const plain = spawnSync(process.execPath, [cli, 'run', examplePath('hello')], { encoding: 'utf8' });
      assert.equal(plain.stdout, 'Hello from a Multiboot guest on COM1!\n');
      assert.equal(plain.status, 1);
      const json = spawnSync(process.execPath, [cli, 'run', examplePath('hello'), '--json', '--max-instructions', '100000'], { encoding: 'utf8' });
      assert.equal(json.status, 1);
      const r = JSON.parse(json.stdout);
      for (const k of ['mode', 'outcome', 'exitCode', 'console', 'instructions', 'cycles', 'traps', 'critical', 'vmExits', 'hypercalls', 'translation', 'wallMs']) assert.ok(k in r, k);
      assert.equal(r.mode, 'native');
      assert.equal(r.outcome, 'exit');
      assert.equal(r.exitCode, 1);
      assert.ok(r.instructions > 100);
    });
    it('runs under another technique with --mode, --cost and --trace', function () {
      const r = spawnSync(process.execPath, [cli, 'run', examplePath('critical'), '--mode', 'trap-and-emulate', '--cost', 'vtx-2006', '--json', '--trace'], { encoding: 'utf8' });
      const report = JSON.parse(r.stdout);
      assert.equal(report.mode, 'trap-and-emulate');
      assert.equal(report.outcome, 'exit');
      assert.ok(Object.keys(report.traps).length > 0, 'the deprivileged kernel trapped');
      assert.ok(r.stderr.trim().length > 0, '--trace printed events');
    });
    it('ends a looping guest with outcome limit at --max-instructions', function () {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'popek-run-')), 'loop.bin');
      fs.writeFileSync(file, Buffer.from([0xeb, 0xfe]));
      const r = spawnSync(process.execPath, [cli, 'run', file, '--json', '--max-instructions', '5000'], { encoding: 'utf8' });
      const report = JSON.parse(r.stdout);
      assert.equal(report.outcome, 'limit');
      assert.equal(report.instructions, 5000);
    });
    it('rejects bad options with a clear message', function () {
      const bad = spawnSync(process.execPath, [cli, 'run', examplePath('hello'), '--mode', 'warp'], { encoding: 'utf8' });
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /unknown mode 'warp'/);
      const missing = spawnSync(process.execPath, [cli, 'run', '/nonexistent.gasm'], { encoding: 'utf8' });
      assert.notEqual(missing.status, 0);
      assert.match(missing.stderr, /cannot read/);
    });
  });
});
