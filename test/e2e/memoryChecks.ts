/*
 * Screen checks of the memory view and of data breakpoints from the Variables view (issue 14), run by
 * workbench.ts's ui phase with its helpers. Expected bytes come from what the Variables view shows for
 * the registers the guest stores (hello.gasm: CPUID's vendor string into `vendor`), never written in.
 */
import * as path from 'node:path';
import type { Frame, Locator, Page } from 'playwright-core';
import { openQuickInput } from './quickInput';

/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;

/** What workbench.ts lends these checks. */
export interface Kit {
  OUT: string;
  step(page: Page, name: string, needs: string[], fn: () => Promise<string | void>): Promise<void>;
  quickOpen(page: Page, file: string): Promise<void>;
  goToLine(page: Page, line: number): Promise<void>;
  runCommand(page: Page, title: string): Promise<void>;
  lineNumberOf(file: string, re: RegExp): number;
  norm(s: string | null | undefined): string;
  /** Picks a technique with the status-bar picker (popek.mode, the workspace setting). */
  chooseTechnique(page: Page, label: string): Promise<void>;
}

/** The memory webview's frame once it has drawn rows (following `expect` when given). */
async function memoryFrame(page: Page, expect?: string, timeoutMs = 30_000): Promise<Frame> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const f of page.frames()) {
      const ok = await f.evaluate((want: string | undefined) => document.body?.dataset.ready === 'true' && !!document.getElementById('memory')
        && (!want || (document.getElementById('target')?.textContent ?? '').startsWith(`${want} = `)), expect).catch(() => false);
      if (ok) return f;
    }
    await page.waitForTimeout(200);
  }
  throw new Error(`the memory view did not draw rows${expect ? ` following ${expect}` : ''}`);
}

/** A row of the Variables view by the variable's name. */
export function variableRow(page: Page, name: string): Locator {
  // The name element may carry the separator ("esp =" / "esp:").
  return page.locator('.debug-variables .monaco-list-row', { has: page.locator('.name', { hasText: new RegExp(`^\\s*${name}\\s*[=:]?\\s*$`) }) }).first();
}

/** A scope's row in the Variables view. */
function scopeRow(page: Page, name: string): Locator {
  return page.locator('.debug-variables .monaco-list-row', { hasText: new RegExp(`^\\s*${name}\\s*$`) }).first();
}

/**
 * Waits until the Variables view shows the state of the stop the Call Stack shows (EIP = the top
 * frame's address), and not the stop at `notAt` (both views may still show the previous stop). Returns EIP.
 */
export async function variablesCaughtUp(page: Page, notAt = -1): Promise<number> {
  const handle = await page.waitForFunction((previous: number) => {
    const text = (sel: string) => ((document.querySelector(sel)?.innerText ?? '') as string).replace(/\u00a0/g, ' ');
    const at = /@\s*(0x[0-9a-f]+)/i.exec(text('.debug-call-stack'))?.[1];
    const eip = /eip\s*[=:]\s*(0x[0-9a-f]+)/i.exec(text('.debug-variables'))?.[1];
    return !!at && !!eip && parseInt(at, 16) === parseInt(eip, 16) && parseInt(eip, 16) !== previous && parseInt(eip, 16);
  }, notAt, { timeout: 30_000 });
  return Number(await handle.jsonValue());
}

/** Opens or folds a scope of the Variables view (again if a click met the list while it re-rendered after a stop). */
export async function setScopeExpanded(page: Page, name: string, expanded: boolean): Promise<void> {
  const row = scopeRow(page, name);
  await row.waitFor({ timeout: 30_000 });
  const want = String(expanded);
  for (let attempt = 0; attempt < 4; attempt++) {
    if ((await row.getAttribute('aria-expanded')) === want) return;
    await row.click();
    const end = Date.now() + 3_000;
    while (Date.now() < end && (await row.getAttribute('aria-expanded')) !== want) await page.waitForTimeout(100);
  }
  if ((await row.getAttribute('aria-expanded')) !== want) throw new Error(`the ${name} scope did not ${expanded ? 'open' : 'fold'}`);
}

/** A register's value as the Variables view shows it. */
async function registerValue(page: Page, kit: Kit, name: string): Promise<number> {
  const text = kit.norm(await variableRow(page, name).locator('.value').first().innerText());
  const v = parseInt(text, 16);
  if (!Number.isFinite(v)) throw new Error(`${name} shows ${text}`);
  return v >>> 0;
}

async function contextMenu(page: Page, row: Locator, item: string): Promise<void> {
  await row.click({ button: 'right' });
  const entry = page.locator('.context-view .action-item', { hasText: item }).first();
  await entry.waitFor({ state: 'visible', timeout: 10_000 });
  await entry.hover();
  await entry.click();
  // A click that met the menu while it was still settling does nothing: the hovered item takes Enter.
  if (!(await entry.waitFor({ state: 'hidden', timeout: 3_000 }).then(() => true, () => false))) await page.keyboard.press('Enter');
  await entry.waitFor({ state: 'hidden', timeout: 5_000 });
}

const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24].map((b) => b.toString(16).padStart(2, '0'));

/** Remove All Breakpoints (the palette lists it only while there are some). */
export async function removeAllBreakpoints(page: Page): Promise<void> {
  await openQuickInput(page, 'Control+Shift+P', '>Remove All Breakpoints');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Remove All Breakpoints' }).first();
  if (await row.waitFor({ state: 'visible', timeout: 3_000 }).then(() => true, () => false)) await page.keyboard.press('Enter');
  else await page.keyboard.press('Escape');
}

/** Ends the session and waits until it has (until then F5 means Continue). */
export async function endSession(page: Page): Promise<void> {
  await page.keyboard.press('Shift+F5');
  await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 15_000 }).catch(() => undefined);
}

export async function memoryChecks(page: Page, kit: Kit): Promise<void> {
  const { OUT } = kit;

  await kit.step(page, 'memory view: opened from esp in Variables, follows a symbol, a step marks the bytes the guest stored', ['debugAdapter'], async () => {
    if (await page.locator('.debug-toolbar').isVisible()) await endSession(page);
    await kit.quickOpen(page, 'hello.gasm');
    await removeAllBreakpoints(page); // earlier checks leave theirs
    await page.locator('.editor-group-container .monaco-editor .view-lines').first().click();
    const store = kit.lineNumberOf('hello.gasm', /^\s*mov \[vendor\], ebx/);
    await kit.goToLine(page, store);
    await page.keyboard.press('F9');
    await page.keyboard.press('F5');
    await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
    await variableRow(page, 'esp').waitFor({ timeout: 30_000 });
    const entry = await variablesCaughtUp(page);
    await page.keyboard.press('F5'); // from the entry to the breakpoint before the stores
    await page.waitForFunction(() => /Breakpoint at hello\.gasm/i.test([...document.querySelectorAll('.pane-header')].map((h: any) => h.textContent).join(' ')), null, { timeout: 30_000 });
    await variablesCaughtUp(page, entry);
    const esp = await registerValue(page, kit, 'esp');
    // Right-click esp → Show in Popek Memory View: the view follows esp.
    await contextMenu(page, variableRow(page, 'esp'), 'Show in Popek Memory View');
    let frame = await memoryFrame(page, 'esp');
    const followed = kit.norm(await frame.locator('#target').innerText());
    if (parseInt(followed.split('= ')[1], 16) !== esp) throw new Error(`the view follows ${followed}, esp is 0x${esp.toString(16)}`);
    const targetCell = kit.norm(await frame.locator('.byte.target').first().getAttribute('title'));
    if (parseInt(targetCell, 16) !== esp) throw new Error(`the marked byte is ${targetCell}`);
    await page.screenshot({ path: path.join(OUT, 'ui-14-memory-view-esp.png') });
    // Readable beside the editor at the default width: the ASCII column is not cut off.
    const fits = await frame.evaluate(() => document.querySelector('.memory').getBoundingClientRect().right <= document.documentElement.clientWidth + 1);
    if (!fits) throw new Error('the rows are wider than the view: the ASCII column is cut off');
    // Follow a symbol typed in the view.
    await frame.locator('#expression').fill('vendor');
    await frame.locator('#expression').press('Enter');
    frame = await memoryFrame(page, 'vendor');
    const before = await frame.locator('.byte.changed').count();
    // Step over the store: the 4 bytes of EBX appear at vendor, marked as changed.
    const ebx = await registerValue(page, kit, 'ebx');
    await page.locator('.editor-group-container .monaco-editor .view-lines').first().click();
    await page.keyboard.press('F10');
    await frame.waitForFunction(() => document.querySelectorAll('.byte.changed').length > 0, null, { timeout: 15_000 });
    const changed = await frame.locator('.byte.changed').allInnerTexts();
    const want = le32(ebx).filter((b) => b !== '00');
    await page.screenshot({ path: path.join(OUT, 'ui-15-memory-view-step-changed.png') });
    if (before !== 0) throw new Error(`${before} bytes marked before the step`);
    if (changed.join(' ') !== want.join(' ')) throw new Error(`marked ${changed.join(' ')}, EBX was stored as ${le32(ebx).join(' ')}`);
    const ascii = kit.norm(await frame.locator('.char.changed').allInnerTexts().then((t) => t.join('')));
    const summary = kit.norm(await frame.locator('#summary').innerText());
    if (!new RegExp(`^${want.length} bytes? changed since the previous stop`).test(summary)) throw new Error(`summary: ${summary}`);
    // Edit a byte: click it, type two hex digits; the guest's memory has it (the view reads it back).
    const cell = frame.locator('.byte.target').first();
    await cell.click();
    await page.keyboard.type('5a');
    await frame.waitForFunction(() => document.querySelector('.byte.target')?.textContent === '5a', null, { timeout: 10_000 });
    await page.screenshot({ path: path.join(OUT, 'ui-15b-memory-view-edited.png') });
    await endSession(page);
    await removeAllBreakpoints(page);
    return `(followed esp = 0x${esp.toString(16)}, then vendor; the step marked ${changed.join(' ')} = "${ascii}"; a byte typed over reads back 5a)`;
  });

  await kit.step(page, 'Variables: Break on Value Change on a global in the Globals scope, continue stops right after the write', ['debugAdapter'], async () => {
    if (await page.locator('.debug-toolbar').isVisible()) await endSession(page);
    await kit.quickOpen(page, 'hello.gasm');
    // No breakpoints but the data breakpoint: remove the ones left from earlier checks.
    await removeAllBreakpoints(page);
    await page.keyboard.press('F5');
    await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
    // The list draws only the rows in view: fold Registers so that the Globals scope shows.
    await setScopeExpanded(page, 'Registers', true);
    const entry = await variablesCaughtUp(page);
    await setScopeExpanded(page, 'Registers', false);
    await setScopeExpanded(page, 'Globals', true);
    const vendor = variableRow(page, 'vendor');
    await vendor.waitFor({ timeout: 15_000 });
    await contextMenu(page, vendor, 'Break on Value Change');
    await page.locator('.debug-breakpoints .monaco-list-row', { hasText: 'vendor' }).first().waitFor({ timeout: 15_000 })
      .catch(() => undefined); // the Breakpoints view may be collapsed; the stop below is what matters
    await page.screenshot({ path: path.join(OUT, 'ui-16-break-on-value-change.png') });
    // The Call Stack's line at the entry stop: after F5 the list redraws some time after the header
    // says "data breakpoint" (a loaded host showed the entry's line there), so wait for it to move.
    const entryLine = await page.evaluate(() => /hello\.gasm\s+(\d+)/.exec((document.querySelector('.debug-call-stack')?.innerText ?? '') as string)?.[1]);
    await page.keyboard.press('F5');
    // The stop's description is in the Call Stack's header (the thread's state), its frame in the list.
    await page.waitForFunction(() => /Data breakpoint/i.test([...document.querySelectorAll('.pane-header')].map((h: any) => h.textContent).join(' ')), null, { timeout: 30_000 });
    // The header cuts the sentence to its width; the whole of it is the element's text or its tooltip.
    const header = kit.norm(await page.locator('.pane-header', { hasText: 'Data breakpoint' }).first().evaluate((h: any) =>
      [h.textContent, ...[...h.querySelectorAll('[title], [aria-label]')].map((e: any) => `${e.getAttribute('title') ?? ''} ${e.getAttribute('aria-label') ?? ''}`)].join(' ')));
    // The top frame's line, once the Call Stack list has drawn it.
    const line = Number(await (await page.waitForFunction((from) => {
      const l = /hello\.gasm\s+(\d+)/.exec((document.querySelector('.debug-call-stack')?.innerText ?? '') as string)?.[1];
      return l !== undefined && l !== from ? l : undefined;
    }, entryLine, { timeout: 15_000 }).catch(() => page.waitForFunction(() => /hello\.gasm\s+(\d+)/.exec((document.querySelector('.debug-call-stack')?.innerText ?? '') as string)?.[1]))).jsonValue());
    const stack = kit.norm(await page.locator('.debug-call-stack').innerText());
    const after = kit.lineNumberOf('hello.gasm', /^\s*mov \[vendor \+ 4\], edx/);
    // EBX as the Variables view shows it at this stop, then vendor in the Globals scope holds it.
    await setScopeExpanded(page, 'Registers', true);
    await variablesCaughtUp(page, entry);
    const ebx = await registerValue(page, kit, 'ebx');
    await setScopeExpanded(page, 'Registers', false);
    const stored = variableRow(page, 'vendor').locator('.value', { hasText: le32(ebx).join(' ') });
    const shown = await stored.first().waitFor({ timeout: 15_000 }).then(() => true, () => false);
    const value = kit.norm(await variableRow(page, 'vendor').locator('.value').first().innerText());
    await page.screenshot({ path: path.join(OUT, 'ui-17-data-breakpoint-stop.png') });
    if (line !== after) throw new Error(`stopped at line ${line}, the instruction after the write is line ${after}: ${stack.slice(0, 300)}`);
    if (!shown) throw new Error(`vendor shows ${value}, EBX is 0x${ebx.toString(16)}`);
    const said = /written by .*?\)(: \S+ → \S+)?/.exec(header)?.[0] ?? '';
    const writer = kit.lineNumberOf('hello.gasm', /^\s*mov \[vendor\], ebx/);
    if (!said.startsWith(`written by hello.gasm:${writer} `)) throw new Error(`the stop says ${JSON.stringify(header)}, the writer is line ${writer}`);
    await endSession(page);
    await removeAllBreakpoints(page);
    // Leave one editor group, as the checks after these expect (the memory view opened beside).
    await kit.runCommand(page, 'View: Close All Editor Groups');
    return `(stopped at line ${line}: ${JSON.stringify(said)}; vendor = ${value})`;
  });
}
