/*
 * The Globals scope of an ELF kernel whose data is NASM's: objects assembled by nasm -f elf32 (their
 * `global name:data size` declarations and the local data labels nasm types as OBJECT), linked with
 * gcc-built C by ld. Expected names, addresses and sizes come from readelf -s; expected values from
 * the linked file's own bytes (readelf -S places each section in the file) — nothing written in.
 * Run `npm run build` first (npm test does).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { entryStubStart, EXIT_AND_HALT, readelf, useElfKernel } from '../elf/toolchain';
import { launchToStop, lineOf, resumeToStop, startClient } from './support';

const ENTRY_ASM = `
; Entry stub and the kernel's data, in NASM: typed globals, a string, local tables, .bss.
global boot_count:data 4
global banner:data banner.end - banner
${entryStubStart(3, '_start, boot_count, banner, tick_table')}  inc dword [boot_count]
  mov word [colours + 2], 0x1f
  call kmain
${EXIT_AND_HALT}section .data
boot_count: dd 41
banner: db "popek", 0
.end:
colours: dw 0x07, 0x0a, 0x0c, 0x0e
align 4
tick_table: dd 0, 0, 0, 0
section .bss
scratch: resd 4
align 16
  resb 4096
stack_top:
`;

const KERNEL_C = `
extern unsigned int boot_count;
extern unsigned int tick_table[4];

void kmain(void) {
  tick_table[1] = boot_count;
  boot_count = boot_count * 2;
}
`;

// The Multiboot header first (in .text), then the data the linker places after it.
const LINK_LD = 'ENTRY(_start) SECTIONS { . = 1M; .text : { *(.multiboot) *(.text) } .data : { *(.data) } .bss : { *(.bss) } }';

interface Sym { address: number; size: number; type: string; section: number; name: string }

/** readelf -s: every named symbol of the linked kernel. */
function symbols(file: string): Sym[] {
  const out: Sym[] = [];
  for (const m of readelf(['-s'], file).matchAll(/^\s*\d+:\s+([0-9a-f]{8})\s+(\d+)\s+(\w+)\s+\w+\s+\w+\s+(\w+)\s+(\S+)$/gm)) {
    out.push({ address: parseInt(m[1], 16), size: Number(m[2]), type: m[3], section: Number(m[4]), name: m[5] });
  }
  return out;
}

/** readelf -S: section index → address, file offset, size, type, flags. */
function sections(file: string): Map<number, { addr: number; off: number; size: number; type: string; flags: string }> {
  const out = new Map<number, { addr: number; off: number; size: number; type: string; flags: string }>();
  for (const m of readelf(['-S'], file).matchAll(/^\s*\[\s*(\d+)\]\s+\S+\s+(\w+)\s+([0-9a-f]{8})\s+([0-9a-f]{6,})\s+([0-9a-f]{6,})\s+\d+\s+([A-Z]*)/gm)) {
    out.set(Number(m[1]), { type: m[2], addr: parseInt(m[3], 16), off: parseInt(m[4], 16), size: parseInt(m[5], 16), flags: m[6] });
  }
  return out;
}

describe('debugger: Globals of an ELF kernel from NASM objects (DebugClient, readelf)', function () {
  this.timeout(60_000);
  const k = useElfKernel({ sources: { 'entry.asm': ENTRY_ASM, 'kernel.c': KERNEL_C }, linkerScript: LINK_LD });
  let dc: DebugClient;
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  async function globals(): Promise<{ ref: number; vars: Map<string, DebugProtocol.Variable> }> {
    const scopes = (await dc.scopesRequest({ frameId: 0 })).body.scopes;
    const g = scopes.find((s) => s.name === 'Globals');
    assert.ok(g, `a Globals scope in ${scopes.map((s) => s.name)}`);
    const vars = (await dc.variablesRequest({ variablesReference: g.variablesReference })).body.variables;
    return { ref: g.variablesReference, vars: new Map(vars.map((v) => [v.name, v])) };
  }

  it('lists every NASM data object at readelf\'s address and size, and a plain `global` data label up to the next symbol; values from the ELF\'s own bytes', async () => {
    await launchToStop(dc, { program: k.file, stopOnEntry: true });
    const syms = symbols(k.file), secs = sections(k.file);
    const bytes = fs.readFileSync(k.file);
    const { vars } = await globals();
    const objects = syms.filter((s) => s.type === 'OBJECT');
    // nasm -f elf32 made these OBJECT: the `global name:data size` ones and the local data labels.
    for (const name of ['boot_count', 'banner', 'colours', 'scratch']) assert.ok(objects.some((s) => s.name === name), `${name} is an OBJECT in readelf -s`);
    // A plain `global tick_table` stays NOTYPE, size 0: its bytes run to the next symbol of its
    // section (readelf -s), or to the section's end (readelf -S).
    const table = syms.find((s) => s.name === 'tick_table')!;
    assert.equal(table.type, 'NOTYPE');
    const tableSec = secs.get(table.section)!;
    const tableEnd = Math.min(tableSec.addr + tableSec.size, ...syms.filter((s) => s.section === table.section && s.address > table.address).map((s) => s.address));
    const expected = [...objects, { ...table, size: tableEnd - table.address }];
    for (const s of expected) {
      const v = vars.get(s.name);
      assert.ok(v, `${s.name} (${s.type}, ${s.size} bytes) in Globals: ${[...vars.keys()]}`);
      assert.equal(parseInt(v.memoryReference!, 16), s.address, `${s.name}'s address`);
      assert.equal(v.type, `${s.size} byte${s.size === 1 ? '' : 's'} at ${v.memoryReference}`, `${s.name}'s size`);
      // Its value at entry: the bytes the file holds there (.bss: zeros), read as the scope reads them.
      const sec = secs.get(s.section)!;
      const own = sec.type === 'NOBITS' ? Buffer.alloc(s.size) : bytes.subarray(sec.off + s.address - sec.addr, sec.off + s.address - sec.addr + s.size);
      if (s.size === 4 || s.size === 2) {
        const n = s.size === 4 ? own.readUInt32LE(0) : own.readUInt16LE(0);
        assert.equal(v.value, n < 10 ? String(n) : `0x${n.toString(16).padStart(s.size * 2, '0')} (${n})`, `${s.name}'s value`);
      } else {
        assert.ok(v.value.includes([...own.subarray(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join(' ')), `${s.name}: ${v.value}`);
      }
    }
    assert.match(vars.get('banner')!.value, /^"popek"/);
    // Not variables: code labels, NASM's local labels (banner.end), end markers (stack_top), the C function.
    for (const name of ['_start', '_start.hang', 'banner.end', 'stack_top', 'kmain']) {
      assert.ok(syms.some((s) => s.name === name), `${name} in readelf -s`);
      assert.ok(!vars.has(name), `${name} is not a variable`);
    }
    assert.equal(vars.size, expected.length, `Globals: ${[...vars.keys()]}`);
  });

  it('Break on Value Change on a NASM variable stops after the C line that writes it, and Globals shows the new value', async () => {
    const kc = k.sources['kernel.c'];
    await launchToStop(dc, { program: k.file, stopOnEntry: true });
    const { ref, vars } = await globals();
    const info = await dc.dataBreakpointInfoRequest({ variablesReference: ref, name: 'boot_count' });
    assert.equal(info.body.dataId, `${vars.get('boot_count')!.memoryReference}/4`);
    await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId!, accessType: 'write' }] });
    // The stub's own increment first (41 → 42), then kmain's doubling (42 → 84) at its C line.
    let s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.match(s.body.description ?? '', /written by entry\.asm:\d+ .*: 0x00000029 → 0x0000002a$/);
    s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    assert.equal(s.body.reason, 'data breakpoint');
    assert.match(s.body.description ?? '', new RegExp(`written by kernel\\.c:${lineOf(kc, 'boot_count = boot_count * 2;')} .*: 0x0000002a → 0x00000054$`));
    const after = (await globals()).vars;
    assert.equal(after.get('boot_count')!.value, '0x00000054 (84)');
    assert.match(after.get('tick_table')!.value, /^00 00 00 00 2a 00 00 00/);
  });
});
