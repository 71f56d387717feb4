/*
 * Screen checks of a kernel built from several objects (issue 14): `.asm` opens as NASM, F5 on a
 * GNU as `.S` debugs the kernel ELF built from it (its breakpoint hits at its line), and the Globals
 * scope lists the NASM objects' variables with readelf's sizes and the bytes the ELF holds. The check
 * builds kernel/kernel.elf in the workspace with gcc, nasm and ld (scripts/setup.sh installs them);
 * expected names, addresses and sizes come from readelf, never written in.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { endSession, removeAllBreakpoints, setScopeExpanded, variableRow, variablesCaughtUp, type Kit } from './memoryChecks';

/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr}`);
  return r.stdout;
}

/** Builds kernel.elf from the workspace's kernel/ sources, as its makefile would. */
function buildKernel(dir: string): string {
  run('gcc', ['-m32', '-g', '-c', 'start.S', '-o', 'start.o'], dir);
  run('nasm', ['-f', 'elf32', '-F', 'dwarf', '-g', 'data.asm', '-o', 'data.o'], dir);
  run('ld', ['-m', 'elf_i386', '-T', 'link.ld', 'start.o', 'data.o', '-o', 'kernel.elf'], dir);
  return path.join(dir, 'kernel.elf');
}

interface DataSymbol { name: string; address: number; size: number }

/**
 * What readelf says the Globals scope should hold: the OBJECT symbols with their sizes, and a plain
 * global data label (NOTYPE) sized to the next symbol of its section or the section's end.
 */
function expectedGlobals(elf: string, label: string): DataSymbol[] {
  const syms = [...run('readelf', ['-sW', elf], path.dirname(elf)).matchAll(/^\s*\d+:\s+([0-9a-f]{8})\s+(\d+)\s+(\w+)\s+\w+\s+\w+\s+(\w+)\s+(\S+)$/gm)]
    .map((m) => ({ address: parseInt(m[1], 16), size: Number(m[2]), type: m[3], section: m[4], name: m[5] }));
  const sections = new Map([...run('readelf', ['-SW', elf], path.dirname(elf)).matchAll(/^\s*\[\s*(\d+)\]\s+\S+\s+\w+\s+([0-9a-f]{8})\s+[0-9a-f]+\s+([0-9a-f]+)/gm)]
    .map((m) => [m[1], parseInt(m[2], 16) + parseInt(m[3], 16)]));
  const plain = syms.find((s) => s.name === label && s.type === 'NOTYPE');
  if (!plain) throw new Error(`readelf -s has no NOTYPE ${label}`);
  const end = Math.min(sections.get(plain.section)!, ...syms.filter((s) => s.section === plain.section && s.address > plain.address).map((s) => s.address));
  return [...syms.filter((s) => s.type === 'OBJECT'), { ...plain, size: end - plain.address }];
}

/** The active editor's language as the status bar names it. */
async function languageShown(page: Page, want: RegExp): Promise<string> {
  const item = page.locator('.statusbar-item', { hasText: want }).first();
  await item.waitFor({ timeout: 15_000 });
  return (await item.innerText()).trim();
}

/** The text of the hover VS Code shows over a variable's name (its type), once it says `want`. */
async function typeHover(page: Page, name: string, want: RegExp): Promise<string> {
  const hover = page.locator('.workbench-hover, .monaco-hover', { hasText: want });
  for (let attempt = 0; attempt < 3; attempt++) {
    // The previous row's hover first goes away (it says the same kind of thing).
    await page.mouse.move(700, 800);
    await hover.first().waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
    await variableRow(page, name).locator('.name').first().hover();
    if (await hover.first().waitFor({ state: 'visible', timeout: 4_000 }).then(() => true, () => false)) {
      return (await hover.first().innerText()).replace(/\u00a0/g, ' ');
    }
  }
  return '';
}

export async function kernelChecks(page: Page, kit: Kit): Promise<void> {
  const { OUT } = kit;
  const kernelDir = path.join(process.env.WS ?? '', 'kernel');

  await kit.step(page, '.asm opens as NASM (the grammar colours it, the status bar names it), and a .s by its NASM content', ['server'], async () => {
    await kit.quickOpen(page, 'data.asm');
    const shown = await languageShown(page, /x86 Guest Assembly \(NASM\)/);
    // Coloured by the NASM grammar (Plain Text draws every token in one colour): directives, mnemonics,
    // comments, numbers and strings in colours of their own.
    await page.locator('.editor-group-container.active .monaco-editor .view-line span span', { hasText: /^inc$/ }).first().waitFor({ timeout: 15_000 });
    const colours: string[] = await page.evaluate(() => [...new Set([...document.querySelectorAll('.editor-group-container.active .monaco-editor .view-line span span')]
      .filter((e: any) => e.textContent.trim() !== '').map((e: any) => (globalThis as any).getComputedStyle(e).color as string))]);
    await page.screenshot({ path: path.join(OUT, 'ui-18-asm-as-nasm.png') });
    if (colours.length < 3) throw new Error(`${colours.length} token colours: ${colours.join(', ')}`);
    // By content, not by name: a .s holding NASM (bits 32, section .text) is NASM too.
    await kit.quickOpen(page, 'entry.s');
    const byContent = await languageShown(page, /x86 Guest Assembly \(NASM\)/);
    await page.screenshot({ path: path.join(OUT, 'ui-18b-s-with-nasm-content.png') });
    return `(data.asm: ${JSON.stringify(shown)}, ${colours.length} token colours; entry.s with NASM content: ${JSON.stringify(byContent)})`;
  });

  await kit.step(page, '.nasm opens as NASM: the status bar names it, the linter squiggles its critical instruction and lists it in Problems', ['server'], async () => {
    await kit.quickOpen(page, 'ring.nasm');
    const shown = await languageShown(page, /x86 Guest Assembly \(NASM\)/);
    const at = kit.lineNumberOf('ring.nasm', /^\s*mov ax, cs/);
    await page.keyboard.press('Control+Home');
    // The squiggle lies on the line that reads CS (critical under the default technique, paravirtual).
    const squiggled = await page.waitForFunction(() => {
      const editor = document.querySelector('.editor-group-container.active .monaco-editor');
      const numberAt = new Map<number, number>();
      for (const n of editor?.querySelectorAll('.margin-view-overlays .line-numbers') ?? []) numberAt.set(Math.round(n.parentElement.getBoundingClientRect().top), Number(n.textContent));
      const lines = [...(editor?.querySelectorAll('.squiggly-warning') ?? [])].map((e: any) => numberAt.get(Math.round(e.getBoundingClientRect().top)) ?? 0).filter(Boolean);
      return lines.length ? lines : false;
    }, null, { timeout: 60_000 }).then((h) => h.jsonValue() as Promise<number[]>);
    if (!squiggled.includes(at)) throw new Error(`warning squiggles on lines ${squiggled}, not on ${at} (mov ax, cs)`);
    // Its row in the Problems panel, filtered to it (other files' rows come first and push it out of view).
    await page.keyboard.press('Control+Shift+M');
    const filter = page.locator('.panel .viewpane-filter input').first();
    await filter.fill('mov ax, cs');
    const row = page.locator('.markers-panel .monaco-list-row', { hasText: 'mov ax, cs is critical' }).first();
    await row.waitFor({ timeout: 20_000 });
    const said = kit.norm(await row.innerText());
    const file = kit.norm(await page.locator('.markers-panel .monaco-list-row', { hasText: /ring\.nasm/ }).first().innerText().catch(() => ''));
    await page.screenshot({ path: path.join(OUT, 'ui-18c-nasm-extension.png') });
    await filter.fill('');
    if (!/ring\.nasm/.test(file)) throw new Error(`the problem is not listed under ring.nasm: ${JSON.stringify(file)}`);
    if (Number(/\[Ln (\d+)/.exec(said)?.[1]) !== at) throw new Error(`the Problems row ${JSON.stringify(said)} is not on line ${at}`);
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
    return `(${JSON.stringify(shown)}; squiggle on line ${at}; Problems: ${JSON.stringify(said.split('\n')[0])})`;
  });

  await kit.step(page, 'F5 on a .S kernel source debugs the ELF built from it: its breakpoint hits at its line; Globals lists the NASM variables with readelf\'s sizes', ['debugAdapter'], async () => {
    if (await page.locator('.debug-toolbar').isVisible()) await endSession(page);
    const elf = buildKernel(kernelDir);
    const want = expectedGlobals(elf, 'table');
    const bytes = fs.readFileSync(elf);
    await kit.quickOpen(page, 'start.S');
    await languageShown(page, /x86 Guest Assembly \(GNU as\)/);
    await removeAllBreakpoints(page);
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
    // The second call: the first one has run, so boot_count is 42 there.
    const lines = fs.readFileSync(path.join(kernelDir, 'start.S'), 'utf8').split('\n');
    const second = lines.findIndex((l, i) => /^\s*call count_boot/.test(l) && lines.slice(0, i).some((x) => /^\s*call count_boot/.test(x))) + 1;
    await kit.goToLine(page, second);
    await page.keyboard.press('F9');
    await page.waitForSelector('.editor-group-container.active .monaco-editor .codicon-debug-breakpoint', { timeout: 10_000 });
    await page.keyboard.press('F5');
    await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
    const entry = await variablesCaughtUp(page);
    await page.keyboard.press('F5');
    await page.waitForFunction(() => /Breakpoint at start\.S/i.test([...document.querySelectorAll('.pane-header')].map((h: any) => h.textContent).join(' ')), null, { timeout: 30_000 });
    // The Call Stack list draws the new top frame after its header: wait for the breakpoint's line there.
    const frameLine = () => page.evaluate(() => Number(/start\.S\s+(\d+)/.exec((document.querySelector('.debug-call-stack')?.innerText ?? '') as string)?.[1]));
    await page.waitForFunction((want: number) => Number(/start\.S\s+(\d+)/.exec((document.querySelector('.debug-call-stack')?.innerText ?? '') as string)?.[1]) === want, second, { timeout: 15_000 })
      .catch(async () => { throw new Error(`stopped at start.S line ${await frameLine()}, the breakpoint is on ${second}`); });
    const line = await frameLine();
    const tab = kit.norm(await page.locator('.editor-group-container.active .tab.active').first().innerText());
    if (!/start\.S/.test(tab)) throw new Error(`the stop is shown in ${tab}, not start.S`);
    // Globals: every variable readelf describes, at its address, with its size, valued as the ELF's bytes.
    // Once the Variables view shows this stop (it re-opens Registers then), fold Registers so Globals shows.
    await variablesCaughtUp(page, entry);
    await setScopeExpanded(page, 'Registers', false);
    await setScopeExpanded(page, 'Globals', true);
    await variableRow(page, 'boot_count').waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(OUT, 'ui-19-kernel-S-breakpoint-globals.png') });
    const rows: Array<{ name: string; value: string }> = await page.evaluate(() => [...document.querySelectorAll('.debug-variables .monaco-list-row')].map((r: any) => ({
      name: (r.querySelector('.name')?.textContent ?? '').replace(/\s*[=:]\s*$/, '').trim(),
      value: (r.querySelector('.value')?.textContent ?? '').replace(/\u00a0/g, ' '),
    })));
    const shown = new Map(rows.map((r) => [r.name, r]));
    const problems: string[] = [];
    const textOf = (addr: number, n: number) => { // .data bytes from the file (readelf -S places them)
      const sec = /^\s*\[\s*\d+\]\s+\.data\s+\w+\s+([0-9a-f]{8})\s+([0-9a-f]+)/m.exec(run('readelf', ['-SW', elf], kernelDir))!;
      const off = parseInt(sec[2], 16) + addr - parseInt(sec[1], 16);
      return bytes.subarray(off, off + n);
    };
    for (const s of want) {
      if (!shown.has(s.name)) { problems.push(`${s.name} missing`); continue; }
      // The variable's type (Popek: "N bytes at 0x…") is in the hover over its name.
      const typeWant = `${s.size} byte${s.size === 1 ? '' : 's'} at 0x${s.address.toString(16).padStart(8, '0')}`;
      const hover = await typeHover(page, s.name, /bytes? at 0x/);
      if (!hover.includes(typeWant)) problems.push(`${s.name}: the hover says ${JSON.stringify(hover)}, readelf says ${typeWant}`);
      if (s.name === 'table') await page.screenshot({ path: path.join(OUT, 'ui-19b-kernel-globals-size-hover.png') });
    }
    for (const name of ['_start', 'count_boot', 'banner.end', 'stack_top']) if (shown.has(name)) problems.push(`${name} is listed as a variable`);
    // boot_count: 41 in the file, one count_boot has run.
    const boot = textOf(want.find((s) => s.name === 'boot_count')!.address, 4).readUInt32LE(0) + 1;
    if (!shown.get('boot_count')?.value.startsWith(`0x${boot.toString(16).padStart(8, '0')} (${boot})`)) problems.push(`boot_count = ${shown.get('boot_count')?.value}, want ${boot}`);
    const banner = want.find((s) => s.name === 'banner')!;
    const text = textOf(banner.address, banner.size).toString('latin1').replace(/\0.*$/s, '');
    if (!shown.get('banner')?.value.startsWith(JSON.stringify(text))) problems.push(`banner = ${shown.get('banner')?.value}, the ELF holds ${JSON.stringify(text)}`);
    if (problems.length) throw new Error(`${problems.join('; ')} (rows: ${JSON.stringify(rows.slice(0, 12))})`);
    await endSession(page);
    await removeAllBreakpoints(page);
    return `(stopped at start.S:${line}; Globals ${want.map((s) => `${s.name} ${s.size} B`).join(', ')}; boot_count = ${shown.get('boot_count')!.value})`;
  });
}
