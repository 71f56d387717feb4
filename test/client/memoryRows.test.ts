/*
 * The memory view's rows and change marks (client/memoryRows.ts) over real bytes: readMemory
 * responses of the bundled debug adapter (DebugClient) on a guest that runs CPUID and stores the
 * vendor string — the bytes that changed between two stops are exactly the ones the guest stored,
 * spelling what the CPU's registers held —, on a paging guest in every technique (a virtual alias,
 * its remap, a page not mapped yet: the view reads through the page tables the CPU really uses), and
 * at the end of guest memory, where bytes are unmapped.
 * Run `npm run build` first (npm test does).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { BYTES_PER_ROW, changedAddresses, hex8, memoryRows, memorySummary, parseByte, snapshotFromResponse, windowFor, type MemorySnapshot } from '../../client/memoryRows';
import { launchToStop, lineOf, register, resumeToStop, ROOT, send, startClient } from '../debugger/support';

const HELLO = path.join(ROOT, 'test', 'e2e', 'fixtures', 'ws', 'hello.gasm');
const PAGING = path.join(ROOT, 'examples', 'paging.gasm');
const MODES = ['native', 'trap-and-emulate', 'binary-translation', 'paravirtual', 'hardware-assisted'];

async function read(dc: DebugClient, address: number, count: number): Promise<MemorySnapshot> {
  const r = await send<DebugProtocol.ReadMemoryResponse>(dc, 'readMemory', { memoryReference: hex8(address), count });
  return snapshotFromResponse(r.body, { address, count });
}

async function addressOf(dc: DebugClient, expression: string): Promise<number> {
  return Number((await dc.evaluateRequest({ expression, context: 'watch' })).body.memoryReference);
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

describe('client: memory view rows over the adapter\'s readMemory', function () {
  this.timeout(30_000);
  let dc: DebugClient;
  beforeEach(async () => { dc = await startClient(); });
  afterEach(async () => { await dc.stop(); });

  it('marks exactly the bytes the guest stored between two stops, and shows them as the CPU held them', async () => {
    const before = lineOf(HELLO, 'mov [vendor], ebx');
    const after = lineOf(HELLO, 'mov al, 0');
    await launchToStop(dc, { program: HELLO, mode: 'native', stopOnEntry: false }, { breakpoints: [{ path: HELLO, breakpoints: [{ line: before }, { line: after }] }] });
    const vendor = await addressOf(dc, 'vendor');
    const window = windowFor(vendor, 2, 8);
    assert.equal(window.address % BYTES_PER_ROW, 0);
    assert.ok(window.address <= vendor - 2 * BYTES_PER_ROW && vendor < window.address + 3 * BYTES_PER_ROW);
    const first = await read(dc, window.address, window.count);
    const ebx = await register(dc, 'ebx'), edx = await register(dc, 'edx'), ecx = await register(dc, 'ecx');
    await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
    const second = await read(dc, window.address, window.count);

    // What the guest stored: EBX, EDX, ECX at vendor, vendor+4, vendor+8 (bytes that were zero before).
    const stored = [...le32(ebx), ...le32(edx), ...le32(ecx)];
    const expected = new Set(stored.map((b, i) => (b !== 0 ? vendor + i : -1)).filter((a) => a >= 0));
    const changed = changedAddresses(first, second);
    assert.deepEqual([...changed].sort((a, b) => a - b), [...expected].sort((a, b) => a - b));
    assert.match(memorySummary(second, changed, true), new RegExp(`^${expected.size} bytes changed since the previous stop$`));

    const rows = memoryRows(second, changed, vendor);
    assert.equal(rows.length, 8);
    const cells = rows.flatMap((r) => r.cells);
    const at = cells.findIndex((c) => c.address === vendor);
    assert.equal(rows[Math.floor(at / 16)].address, hex8(window.address + Math.floor(at / 16) * 16));
    assert.deepEqual(cells.slice(at, at + 12).map((c) => c.hex), stored.map((b) => b.toString(16).padStart(2, '0')));
    assert.equal(cells.slice(at, at + 12).map((c) => c.ascii).join(''), stored.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join(''));
    assert.ok(cells[at].target && cells.filter((c) => c.target).length === 1);
    assert.equal(cells.filter((c) => c.changed).length, expected.size);
  });

  for (const mode of MODES) {
    it(`${mode}: follows a virtual address through the guest's page tables — an alias, its remap, a page not mapped yet`, async () => {
      const source = fs.readFileSync(PAGING, 'utf8');
      const constant = (re: RegExp) => parseInt(re.exec(source)![1], 16);
      const [aliasValue, remapValue] = [constant(/mov dword \[ALIAS\], (0x[0-9A-F]+)/), constant(/mov dword \[page_b\], (0x[0-9A-F]+)/)];
      const lines = [lineOf(PAGING, 'mov esi, msg_alias'), lineOf(PAGING, 'mov esi, msg_remap')];
      await launchToStop(dc, { program: PAGING, mode, stopOnEntry: false }, { breakpoints: [{ path: PAGING, breakpoints: lines.map((line) => ({ line })) }] });
      const alias = await addressOf(dc, 'ALIAS'), lazy = await addressOf(dc, 'LAZY');
      const view = async (target: number) => { const w = windowFor(target, 0, 1); return read(dc, w.address, w.count); };
      const first = await view(alias);
      const hexOf = (v: number) => le32(v).map((b) => b.toString(16).padStart(2, '0'));
      assert.deepEqual(memoryRows(first, new Set(), alias)[0].cells.slice(0, 4).map((c) => c.hex), hexOf(aliasValue));
      // The alias and the page it maps (identity-mapped) are the same bytes.
      const pageA = await read(dc, await addressOf(dc, 'page_a'), 4);
      assert.deepEqual([...pageA.bytes], [...first.bytes.subarray(0, 4)]);
      // LAZY is not present until the guest touches it: unmapped, shown as ??.
      const notYet = await view(lazy);
      assert.equal(notYet.bytes.length, 0);
      assert.ok(memoryRows(notYet, new Set(), lazy)[0].cells.every((c) => c.unmapped && c.hex === '??'));
      await resumeToStop(dc, dc.continueRequest({ threadId: 1 }));
      const second = await view(alias);
      assert.deepEqual(memoryRows(second, new Set(), alias)[0].cells.slice(0, 4).map((c) => c.hex), hexOf(remapValue));
      const changed = changedAddresses(first, second);
      assert.deepEqual([...changed].filter((a) => a < alias + 4).sort((a, b) => a - b), hexOf(aliasValue).map((_, i) => alias + i).filter((_, i) => le32(aliasValue)[i] !== le32(remapValue)[i]));
    });
  }

  it('compares by address when the window moves, and shows unmapped bytes as ?? at the end of memory', async () => {
    await launchToStop(dc, { program: HELLO, mode: 'native', memoryMiB: 16 });
    const end = 16 << 20;
    const s = await read(dc, end - 24, 64);
    assert.equal(s.bytes.length, 24);
    assert.equal(s.unreadable, 40);
    const rows = memoryRows(s, new Set(), end - 24);
    assert.equal(rows.length, 4);
    assert.deepEqual(rows[1].cells.map((c) => c.unmapped), [...Array(8).fill(false), ...Array(8).fill(true)]);
    assert.equal(rows[1].cells[8].hex, '??');
    assert.match(memorySummary(s, new Set(), false), /^first read · 40 bytes from 0x01000000 not mapped$/);
    // A moved window: only the overlap is compared.
    const a: MemorySnapshot = { address: 0x1000, bytes: Uint8Array.from([1, 2, 3, 4]), unreadable: 0 };
    const b: MemorySnapshot = { address: 0x1002, bytes: Uint8Array.from([3, 9, 7, 7]), unreadable: 0 };
    assert.deepEqual([...changedAddresses(a, b)], [0x1003]);
    assert.deepEqual([...changedAddresses(undefined, b)], []);
    assert.equal(parseByte(' 7f '), 0x7f);
    assert.equal(parseByte('1g'), undefined);
    assert.equal(windowFor(0x10, 2, 4).address, 0);
  });
});
