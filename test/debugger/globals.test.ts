/*
 * The Variables view's Globals scope and "Break on Value Change" on its variables, over the Debug
 * Adapter Protocol (DebugClient against the bundled adapter), in every technique: the data labels
 * are the ones real nasm places (its map file) with the bytes real nasm assembled, code labels and
 * end markers are not variables, and a data breakpoint set from the scope stops right after the
 * write — also deep in the hot loop that runs as compiled blocks and regions — with the value the
 * guest's own registers wrote.
 * Run `npm run build` first (npm test does).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { fixture, launchToStop, lineOf, register, resumeToStop, startClient, topFrame } from './support';

const HOTLOOP = fixture('hotloop.gasm');
const MODES = ['native', 'trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted'];
/** The hot loop's iteration count, as the source defines it. */
const INNER = parseInt(/^INNER\s+equ\s+(\d+)/m.exec(fs.readFileSync(HOTLOOP, 'utf8'))![1], 10);

/** Real nasm: the flat image and its map file (each label's address). */
function nasmBuild(): { image: Uint8Array; origin: number; labels: Map<string, number> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-globals-'));
  try {
    fs.writeFileSync(path.join(dir, 'map.asm'), `[map symbols ${path.join(dir, 'out.map')}]\n`);
    const r = spawnSync('nasm', ['-f', 'bin', '-P', path.join(dir, 'map.asm'), '-o', path.join(dir, 'out.bin'), HOTLOOP], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const labels = new Map<string, number>();
    for (const m of fs.readFileSync(path.join(dir, 'out.map'), 'utf8').matchAll(/^\s+[0-9A-F]+\s+([0-9A-F]+)\s+(\S+)$/gm)) labels.set(m[2], parseInt(m[1], 16));
    return { image: new Uint8Array(fs.readFileSync(path.join(dir, 'out.bin'))), origin: labels.get('multiboot_header')!, labels };
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}

async function scopeRef(dc: DebugClient, name: string): Promise<number> {
  const scopes = await dc.scopesRequest({ frameId: 0 });
  const s = scopes.body.scopes.find((x) => x.name === name);
  if (!s) throw new Error(`no ${name} scope (${scopes.body.scopes.map((x) => x.name).join(', ')})`);
  return s.variablesReference;
}

async function globals(dc: DebugClient): Promise<{ ref: number; vars: Map<string, DebugProtocol.Variable> }> {
  const ref = await scopeRef(dc, 'Globals');
  const vars = (await dc.variablesRequest({ variablesReference: ref })).body.variables;
  return { ref, vars: new Map(vars.map((v) => [v.name, v])) };
}

const sizeOf = (v: DebugProtocol.Variable) => Number(/(\d+) bytes?/.exec(v.type ?? '')?.[1]);

/** Break on Value Change as VS Code asks for it: dataBreakpointInfo on the variable, then setDataBreakpoints. */
async function breakOnChange(dc: DebugClient, name: string, hitCondition?: string): Promise<string> {
  const { ref } = await globals(dc);
  const info = await dc.dataBreakpointInfoRequest({ variablesReference: ref, name });
  assert.ok(info.body.dataId, info.body.description);
  const set = await dc.setDataBreakpointsRequest({ breakpoints: [{ dataId: info.body.dataId, accessType: 'write', hitCondition }] });
  assert.equal(set.body.breakpoints[0].verified, true, set.body.breakpoints[0].message);
  return info.body.dataId;
}

describe('debugger: the Globals scope and data breakpoints from the Variables view (DebugClient)', function () {
  this.timeout(60_000);
  let dc: DebugClient;
  let nasm: ReturnType<typeof nasmBuild>;
  before(() => { nasm = nasmBuild(); });
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  it('lists the data labels where nasm places them, with nasm\'s bytes; code labels and end markers are not variables', async () => {
    await launchToStop(dc, { program: HOTLOOP, mode: 'native' });
    const { vars } = await globals(dc);
    assert.deepEqual([...vars.keys()].sort(), ['counter', 'gdt', 'gdt_descriptor', 'idt', 'idt_descriptor', 'last', 'multiboot_header', 'syscalls']);
    const byAddress = [...nasm.labels.entries()].filter(([, a]) => a >= nasm.origin).sort((a, b) => a[1] - b[1]);
    for (const [name, v] of vars) {
      const address = nasm.labels.get(name)!;
      assert.equal(parseInt(v.memoryReference!, 16), address, name);
      // The size runs to the next label nasm placed further on (a variable's bytes, then the next
      // one's); in .bss a variable is its one reservation (`idt: resb 256 * 8`, then the stack).
      const next = byAddress.find(([, a]) => a > address)![1];
      const reserved = new RegExp(`^${name}:\\s+resb\\s+([\\d *]+)$`, 'm').exec(fs.readFileSync(HOTLOOP, 'utf8'));
      assert.equal(sizeOf(v), reserved ? reserved[1].split('*').reduce((p, x) => p * Number(x), 1) : next - address, `${name}: ${v.type}`);
      // The value is the bytes nasm assembled there (.bss: nothing assembled, zero).
      const at = address - nasm.origin;
      const bytes = at < nasm.image.length ? nasm.image.subarray(at, at + Math.min(sizeOf(v), 16)) : new Uint8Array(Math.min(sizeOf(v), 16));
      if (sizeOf(v) === 4) {
        const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
        assert.equal(n < 10 ? Number(v.value) : parseInt(v.value, 16), n, `${name} = ${v.value}`);
        assert.equal(v.evaluateName, `dword [${name}]`);
      } else {
        assert.ok(v.value.startsWith([...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ')), `${name} = ${v.value}`);
      }
    }
    for (const code of ['start', 'round', 'inner', 'syscall', 'image_end', 'stack_top', 'gdt_end']) assert.ok(!vars.has(code), code);
    // A register is not memory: no data breakpoint from the Registers scope, and it says why.
    const regs = await scopeRef(dc, 'Registers');
    const eax = await dc.dataBreakpointInfoRequest({ variablesReference: regs, name: 'eax' });
    assert.equal(eax.body.dataId, null);
    assert.match(eax.body.description, /eax is not memory/);
    // Several bytes: the whole table is watched.
    const gdt = await dc.dataBreakpointInfoRequest({ variablesReference: (await globals(dc)).ref, name: 'gdt' });
    assert.equal(gdt.body.dataId, `0x${nasm.labels.get('gdt')!.toString(16).padStart(8, '0')}/${nasm.labels.get('gdt_end')! - nasm.labels.get('gdt')!}`);
  });

  for (const mode of MODES) {
    it(`${mode}: Break on Value Change on a global stops right after the write, in the hot loop's compiled code too`, async () => {
      await launchToStop(dc, { program: HOTLOOP, mode });
      // counter: written once per round with the round number (EBP counts down from ROUNDS).
      await breakOnChange(dc, 'counter');
      const s = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(s.body.reason, 'data breakpoint');
      const ebp = await register(dc, 'ebp');
      assert.match(s.body.description ?? '', new RegExp(`written by hotloop\\.gasm:${lineOf(HOTLOOP, 'mov [counter], ebp')} \\(mov \\[0x[0-9a-f]+\\],ebp\\): 0x00000000 → 0x0*${ebp.toString(16)}$`));
      assert.equal((await topFrame(dc)).line, lineOf(HOTLOOP, 'mov [counter], ebp') + 1);
      assert.equal(Number((await globals(dc)).vars.get('counter')!.value), ebp);

      // last: written on every iteration of the hot loop; from the 1000th write on (compiled by then).
      await dc.setDataBreakpointsRequest({ breakpoints: [] });
      await launchAgain(dc, mode);
      await breakOnChange(dc, 'last', '1000');
      const h = await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      assert.equal(h.body.reason, 'data breakpoint');
      assert.equal((await topFrame(dc)).line, lineOf(HOTLOOP, 'mov [last], ebx') + 1);
      // The 1000th iteration of the first round: ECX counts down from INNER.
      assert.equal(await register(dc, 'ecx'), INNER - 999);
      const ebx = await register(dc, 'ebx');
      assert.equal(parseInt((await globals(dc)).vars.get('last')!.value, 16), ebx);
      assert.match(h.body.description ?? '', new RegExp(`→ 0x0*${ebx.toString(16)}$`));
    });
  }
});

/** Restarts the session at its entry (breakpoints are kept). */
async function launchAgain(dc: DebugClient, mode: string): Promise<void> {
  const stopped = dc.waitForEvent('stopped', 20000);
  await dc.send('restart', { arguments: { program: HOTLOOP, mode } });
  await stopped;
}
