/*
 * Launcher 2 and the screen checks: drives code-server's workbench in Debian's Chromium through
 * playwright-core. Waits on conditions (selectors, text, files), never on fixed sleeps.
 *
 *   node .e2e/build/workbench.js suite   open the workbench so the extension host starts and runs the
 *                                        suite (POPEK_E2E_SUITE hook); wait for its result file;
 *                                        photograph the compare webview it leaves open
 *   node .e2e/build/workbench.js ui      what only the screen shows: grammar colours, status-bar picker,
 *                                        squiggle, quick-fix menu, stop in the editor, Variables view,
 *                                        compare webview
 *
 * Env: CS_URL, WS (workspace folder), OUT (screenshots), RESULT (suite result file, suite phase),
 * POPEK_HAVE (comma list of built bundles: server, debugAdapter, cli, compare), CHROMIUM.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, Frame, Page } from 'playwright-core';
import { memoryChecks } from './memoryChecks';
import { debugEditorChecks } from './debugEditorChecks';
import { kernelChecks } from './kernelChecks';
import { openQuickInput } from './quickInput';

// The callbacks given to page.evaluate / waitForFunction run in the page; the project's tsconfig has
// no DOM lib (it is Node code), so the few page globals they use are declared here, for this file only.
/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare function getComputedStyle(e: unknown): { color: string; fontSize: string };
type HTMLElement = { innerText: string };

const CS_URL = process.env.CS_URL ?? 'http://127.0.0.1:8123';
const WS = process.env.WS ?? '';
const OUT = process.env.OUT ?? path.resolve('test-results', 'e2e');
const ONLY = process.env.POPEK_E2E_ONLY ? new RegExp(process.env.POPEK_E2E_ONLY, 'i') : undefined;
const HAVE = new Set((process.env.POPEK_HAVE ?? '').split(',').filter(Boolean));
fs.mkdirSync(OUT, { recursive: true });

let passed = 0, failed = 0, skipped = 0;
const t0 = Date.now();
const ms = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const norm = (s: string | null | undefined) => (s ?? '').replace(/\u00a0/g, ' ');

function check(name: string, ok: boolean, detail = ''): void {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name} (${ms()})${detail ? ` ${detail}` : ''}`);
}
function skip(name: string, why: string): void {
  skipped++;
  console.log(`skip ${name}: ${why}`);
}

/** Runs one check; an exception fails it (with a screenshot) without stopping the others. */
async function step(page: Page, name: string, needs: string[], fn: () => Promise<string | void>): Promise<void> {
  if (ONLY && !ONLY.test(name)) return;
  const missing = needs.filter((n) => !HAVE.has(n));
  if (missing.length) { skip(name, `${missing.map((m) => `dist/${m}`).join(', ')} not available yet`); return; }
  try {
    const detail = await fn();
    check(name, true, detail ?? '');
  } catch (err) {
    check(name, false, (err as Error).message.split('\n').slice(0, 8).join('\n'));
    await page.screenshot({ path: path.join(OUT, `failed-${name.replace(/\W+/g, '-')}.png`) }).catch(() => undefined);
  }
}

async function openWorkbench(page: Page): Promise<void> {
  await page.goto(`${CS_URL}/?folder=${encodeURIComponent(WS)}`);
  await page.waitForSelector('.monaco-workbench .part.editor', { timeout: 90_000 });
  await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: 90_000 });
}

async function quickOpen(page: Page, file: string): Promise<void> {
  await openQuickInput(page, 'Control+P', file);
  // Wait until the filtered list has the file focused: the unfiltered "recently opened" list comes first.
  await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: file }).waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.waitForSelector(`.tab.active[aria-label*="${file}"]`, { timeout: 15_000 });
  await page.locator('.monaco-editor .view-lines').first().click();
  // A click while the editor is still laying the file out can land below its last line and scroll
  // the top out of view (critical.gasm opened at line 76 on a CI host: no popfd, no squiggle to see).
  await page.keyboard.press('Control+Home');
}

async function goToLine(page: Page, line: number): Promise<void> {
  await openQuickInput(page, 'Control+G', `:${line}`);
  await page.keyboard.press('Enter');
}

async function runCommand(page: Page, title: string): Promise<void> {
  await openQuickInput(page, 'Control+Shift+P', `>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
}

/** The status-bar item naming the technique (as client/config.ts's MODE_LABELS say it). */
const TECHNIQUE_ITEM = /^\s*(Native|Trap and emulate|Binary translation|Paravirtual|Hardware assisted \(VT-x\))\s*$/;

/** Picks a technique with the status-bar picker, as a user does; resolves once the status bar shows it. */
async function chooseTechnique(page: Page, label: string): Promise<void> {
  await page.locator('.statusbar-item', { hasText: TECHNIQUE_ITEM }).first().click();
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(label);
  // Exactly this label focused (the filter also matches other techniques' descriptions).
  const exactly = new RegExp(`^\\s*${label.replace(/[()]/g, '\\$&')}\\s*$`);
  await page.locator('.quick-input-list .monaco-list-row.focused .label-name', { hasText: exactly }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  await page.locator('.statusbar-item', { hasText: exactly }).first().waitFor({ timeout: 15_000 });
}

/** "File: Revert File" on the active editor: its text as on disk again (the checks leave files as they found them). */
async function revertFile(page: Page): Promise<void> {
  if (!(await page.locator('.tab.active.dirty').count())) return;
  await runCommand(page, 'File: Revert File');
  await page.locator('.tab.active.dirty').first().waitFor({ state: 'detached', timeout: 15_000 });
}

/** Polls a condition outside the page (a file on disk) until it holds or `timeoutMs` passes. */
async function until(holds: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; !holds();) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
  return true;
}

function lineNumberOf(file: string, re: RegExp): number {
  const lines = fs.readFileSync(path.join(WS, file), 'utf8').split('\n');
  const i = lines.findIndex((l) => re.test(l));
  if (i < 0) throw new Error(`no ${re} in ${file}`);
  return i + 1;
}

/** The frame of the compare webview (nested iframes), once its page has rendered data. */
async function compareFrame(page: Page, timeoutMs = 30_000): Promise<Frame> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    for (const f of page.frames()) {
      const ready = await f.evaluate(() => document.body?.dataset.ready === 'true' && !!document.getElementById('table')).catch(() => false);
      if (ready) return f;
    }
    await page.waitForTimeout(200);
  }
  throw new Error('the compare webview did not render');
}

async function checkCompareView(page: Page, shot: string): Promise<string> {
  const frame = await compareFrame(page);
  // The page fetches nothing: its script and stylesheet are inline (code-server's webview service
  // worker once in a while failed the first page's fetches, and the view stayed unstyled and empty).
  const fetched = await frame.evaluate(() => document.querySelectorAll('link[href], script[src]').length);
  if (fetched !== 0) throw new Error(`the compare page links ${fetched} resources`);
  const styled = await frame.locator('#refresh').evaluate((e: any) => getComputedStyle(e).color);
  const rows = await frame.locator('#table tbody tr').count();
  const bars = await frame.locator('#chart .bar').count();
  const modes = await frame.locator('#table tbody tr th').allInnerTexts();
  await page.screenshot({ path: path.join(OUT, shot) });
  if (rows !== 5) throw new Error(`${rows} table rows, expected 5 (${modes})`);
  if (bars !== 5) throw new Error(`${bars} chart bars, expected 5`);
  // Native is the reference: ×1.00 (the ratio, not the overhead ratio − 1).
  const nativeRatio = norm(await frame.locator('#table tr[data-mode="native"] td.ratio').innerText());
  if (nativeRatio !== '×1.00') throw new Error(`native shows ${nativeRatio}, expected ×1.00`);
  // Stacked by cause: a deprivileged technique's bar has its guest instructions and its traps.
  const teCauses = await frame.locator('#chart .bar[data-mode="trap-and-emulate"] .seg').evaluateAll((e: any[]) => e.map((x) => x.dataset.cause));
  if (!teCauses.includes('instructions') || !teCauses.includes('trap')) throw new Error(`trap-and-emulate bar stacks ${teCauses}`);
  // The events table lists the traps the side-by-side table counts.
  const teTraps = Number(norm(await frame.locator('#table tr[data-mode="trap-and-emulate"] td').nth(7).innerText()).replace(/,/g, ''));
  const eventRows = await frame.locator('#events tbody tr').count();
  const caption = await frame.locator('#events caption').count();
  if (teTraps > 0 && (eventRows === 0 || caption > 0)) throw new Error(`${teTraps} traps but the events table has ${eventRows} rows`);
  // Readable at the default width: chart text at least 12 px, no label or value cut off.
  const text = await frame.locator('#chart .label, #chart .value').evaluateAll((els: any[]) => els.map((e) => ({
    size: parseFloat(getComputedStyle(e).fontSize), clipped: e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > document.documentElement.clientWidth + 1, text: e.textContent,
  })));
  const small = text.filter((t: { size: number }) => t.size < 12);
  const clipped = text.filter((t: { clipped: boolean }) => t.clipped);
  if (small.length) throw new Error(`chart text below 12 px: ${JSON.stringify(small)}`);
  if (clipped.length) throw new Error(`chart text cut off: ${JSON.stringify(clipped)}`);
  // The log scale option keeps native visible next to a technique a hundred times slower.
  const width = (mode: string) => frame.locator(`#chart .bar[data-mode="${mode}"]`).evaluate((e: any) => e.getBoundingClientRect().width);
  const linear = await width('native');
  await frame.locator('#log').check();
  await frame.waitForFunction(() => document.body.dataset.scale === 'log');
  const log = await width('native');
  await page.screenshot({ path: path.join(OUT, shot.replace(/\.png$/, '-log.png')) });
  if (!(log > linear * 2 && log > 40)) throw new Error(`native bar ${linear.toFixed(0)} px linear, ${log.toFixed(0)} px log`);
  await frame.locator('#log').uncheck();
  return `(${modes.join(', ')}; Refresh button text ${styled}; native ${nativeRatio}; trap-and-emulate stacks ${teCauses.join('+')}; native bar ${linear.toFixed(0)} → ${log.toFixed(0)} px on log scale; ${eventRows} event rows)`;
}

async function suitePhase(page: Page): Promise<void> {
  const resultFile = process.env.RESULT;
  if (!resultFile) throw new Error('RESULT is not set');
  await openWorkbench(page);
  check('workbench rendered; the extension host runs the suite', true);
  const end = Date.now() + 10 * 60_000;
  while (!fs.existsSync(resultFile) && Date.now() < end) await page.waitForTimeout(500);
  await page.screenshot({ path: path.join(OUT, 'suite-1-done.png') });
  if (!fs.existsSync(resultFile)) { check('suite finished', false, 'no result file after 10 minutes'); return; }
  const result = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as { passed: number; failed: number; skipped: number; tests: Array<{ title: string; state: string; error?: string }> };
  for (const t of result.tests) {
    const mark = t.state === 'passed' ? 'ok  ' : t.state === 'failed' ? 'FAIL' : 'skip';
    console.log(`  suite ${mark} ${t.title}${t.error ? `: ${t.error.split('\n')[0]}` : ''}`);
  }
  console.log(`  suite: ${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped`);
  check('vscode-API suite in code-server\'s extension host', result.failed === 0 && result.passed > 0, `(${result.passed} passed, ${result.failed} failed, ${result.skipped} skipped)`);
  await step(page, 'compare webview (figures from the suite) renders table and chart', [], () => checkCompareView(page, 'suite-2-compare-webview.png'));
}

async function uiPhase(page: Page): Promise<void> {
  await openWorkbench(page);
  check('workbench rendered', true);
  await page.screenshot({ path: path.join(OUT, 'ui-1-workbench.png') });

  await step(page, 'critical.gasm opens; the grammar colours critical and privileged instructions apart', [], async () => {
    await quickOpen(page, 'critical.gasm');
    const colour = async (word: string) => {
      const span = page.locator('.monaco-editor .view-line span span', { hasText: new RegExp(`^${word}$`) }).first();
      await span.waitFor({ timeout: 15_000 });
      return span.evaluate((e) => getComputedStyle(e).color);
    };
    const [popfd, cli, mov] = [await colour('popfd'), await colour('cli'), await colour('mov')];
    await page.screenshot({ path: path.join(OUT, 'ui-2-grammar.png') });
    if (popfd === mov) throw new Error(`popfd and mov have the same colour ${mov}`);
    if (popfd === cli) throw new Error(`popfd (critical) and cli (privileged) have the same colour ${cli}`);
    return `(popfd ${popfd}, cli ${cli}, mov ${mov})`;
  });

  await step(page, 'status bar shows the file\'s technique override', [], async () => {
    const item = page.locator('.statusbar-item', { hasText: 'Trap and emulate (file)' });
    await item.waitFor({ timeout: 15_000 });
  });

  await step(page, 'status-bar picker sets the technique', [], async () => {
    await quickOpen(page, 'hello.gasm');
    await page.locator('.statusbar-item', { hasText: 'Paravirtual' }).first().waitFor({ timeout: 15_000 });
    await chooseTechnique(page, 'Hardware assisted (VT-x)');
    const settings = JSON.parse(fs.readFileSync(path.join(WS, '.vscode', 'settings.json'), 'utf8'));
    if (settings['popek.mode'] !== 'hardware-assisted') throw new Error(`settings.json: ${JSON.stringify(settings)}`);
    // Back to the default for the checks below.
    await chooseTechnique(page, 'Paravirtual');
    return '(.vscode/settings.json has popek.mode)';
  });

  await step(page, 'warning squiggle under popfd and the Problems panel', ['server'], async () => {
    await quickOpen(page, 'critical.gasm');
    await page.waitForSelector('.monaco-editor .squiggly-warning', { timeout: 60_000 });
    await page.keyboard.press('Control+Shift+M');
    await page.waitForFunction(() => /critical-instruction/.test(document.querySelector('.markers-panel')?.textContent ?? ''), null, { timeout: 20_000 });
    await page.screenshot({ path: path.join(OUT, 'ui-4-squiggle-problems.png') });
    // One short sentence per problem: the message element of each row (no Markdown backticks).
    const messages: string[] = await page.evaluate(() => [...document.querySelectorAll('.markers-panel .monaco-list-row')].map((row: any) => {
      const leaves = [...row.querySelectorAll('span, div')].filter((e: any) => e.children.length === 0 && /is critical|traps \(|VM exit|binary translation/.test(e.textContent));
      return leaves.map((e: any) => e.textContent as string).sort((a, b) => b.length - a.length)[0] ?? '';
    }).filter(Boolean));
    if (messages.length < 2) throw new Error(`Problems rows: ${JSON.stringify(messages)}`);
    const long = messages.filter((m) => m.length > 120 || m.includes('`'));
    if (long.length) throw new Error(`Problems messages over 120 characters or with backticks: ${JSON.stringify(long)}`);
    await page.locator('.monaco-editor .view-lines').first().click();
    return `(${messages.length} problems, longest ${Math.max(...messages.map((m) => m.length))} characters: ${JSON.stringify(messages[0])})`;
  });

  await step(page, 'hover on popfd: one compact table of the techniques, real Markdown, the mnemonic as written, nothing said twice', ['server'], async () => {
    await quickOpen(page, 'critical.gasm');
    await goToLine(page, lineNumberOf('critical.gasm', /^\s*popfd/)); // in view, above the Problems panel
    const word = page.locator('.editor-group-container.active .monaco-editor .view-line span span', { hasText: /^popfd$/ }).first();
    await word.waitFor({ timeout: 15_000 });
    const hover = page.locator('.monaco-hover', { hasText: 'paravirtual' }).first();
    for (let attempt = 0; attempt < 3 && !(await hover.isVisible()); attempt++) {
      await page.mouse.move(5, 5);
      await word.hover();
      await hover.waitFor({ state: 'visible', timeout: 8_000 }).catch(() => undefined);
    }
    await hover.waitFor({ state: 'visible', timeout: 5_000 });
    const text = norm(await hover.innerText());
    const rows: string[][] = await hover.locator('table tr').evaluateAll((trs: any[]) => trs.map((tr) => [...tr.children].map((c: any) => c.textContent.trim())));
    await page.screenshot({ path: path.join(OUT, 'ui-4b-hover-popfd.png') });
    const techniques = rows.map((r) => r[0]).filter((c) => /^(native|trap-and-emulate|binary-translation|paravirtual|hardware-assisted)$/.test(c));
    if (techniques.length !== 5) throw new Error(`the hover's table has rows for ${JSON.stringify(techniques)}`);
    // Real Markdown: no literal backticks or asterisks; the mnemonic as the file writes it.
    if (/[`*]/.test(text)) throw new Error(`Markdown shown as text: ${JSON.stringify(text.slice(0, 300))}`);
    if (!/\bpopfd\b/.test(text)) throw new Error(`the hover does not say popfd: ${JSON.stringify(text.slice(0, 200))}`);
    // Nothing said twice: no sentence (of some length) appears twice in the hover.
    const sentences = text.split(/(?<=[.!?])\s+|\n+/).map((x) => x.trim()).filter((x) => x.length > 30);
    const twice = sentences.filter((x, i) => sentences.indexOf(x) !== i);
    if (twice.length) throw new Error(`said twice: ${JSON.stringify(twice)}`);
    await page.mouse.move(5, 5);
    return `(${rows.length} table rows, ${techniques.length} techniques; ${text.length} characters, ${sentences.length} sentences, none repeated)`;
  });

  await step(page, 'quick-fix menu on popfd, Enter applies the fix', ['server'], async () => {
    await quickOpen(page, 'critical.gasm');
    await goToLine(page, lineNumberOf('critical.gasm', /^\s*popfd/));
    await page.keyboard.press('End');
    await page.keyboard.press('Home'); // on the mnemonic
    // The diagnostics first (the language server may still be starting): a quick fix needs them.
    await page.waitForSelector('.editor-group-container.active .monaco-editor .squiggly-warning', { timeout: 60_000 });
    const menu = page.locator('.action-widget .monaco-list-row');
    for (let attempt = 0; ; attempt++) {
      await page.keyboard.press('Control+.');
      if (await menu.first().waitFor({ state: 'visible', timeout: 8_000 }).then(() => true, () => false)) break;
      if (attempt === 2) throw new Error('Ctrl+. on popfd offers no quick fix');
      await page.keyboard.press('Escape'); // "No code actions available": the actions came later
    }
    const titles = norm((await menu.allInnerTexts()).join(' | '));
    await page.screenshot({ path: path.join(OUT, 'ui-5-quickfix-menu.png') });
    await page.keyboard.press('Enter');
    // Readable: the block starts with a comment saying what it replaces (the rewrite's last line may be
    // the instruction itself, marked reviewed: so the comment is what says the fix is in).
    await page.waitForFunction(() => /; "popfd" replaced by /.test(((document.querySelector('.editor-group-container.active .monaco-editor .view-lines') as HTMLElement | null)?.innerText ?? '').replace(/\u00a0/g, ' ')), null, { timeout: 20_000 })
      .catch(() => undefined); // the message below says what is shown instead
    const shown = norm(await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().innerText());
    if (!/; "popfd" replaced by /.test(shown)) throw new Error(`no comment saying what the rewrite replaces: ${JSON.stringify(shown.slice(0, 300))}`);
    await page.screenshot({ path: path.join(OUT, 'ui-6-quickfix-applied.png') });
    // The Xen constants for plain nasm: the fix added `%include "xen.inc"` (checked in the file's
    // text through the language server's view below) and the server wrote xen.inc beside the file.
    const header = path.join(WS, 'xen.inc');
    if (!(await until(() => fs.existsSync(header), 15_000))) throw new Error('xen.inc was not written beside critical.gasm');
    if (!/^__HYPERVISOR_sched_op +equ 29$/m.test(fs.readFileSync(header, 'utf8'))) throw new Error('xen.inc does not define the hypercall numbers');
    await page.keyboard.press('Control+Home');
    await page.waitForFunction(() => /%include "xen\.inc"/.test(((document.querySelector('.editor-group-container.active .monaco-editor .view-lines') as HTMLElement | null)?.innerText ?? '').replace(/\u00a0/g, ' ')), null, { timeout: 10_000 });
    // Once the header exists, the include is not a problem (the server re-lints the file).
    await page.keyboard.press('Control+Shift+M');
    await page.waitForFunction(() => {
      const t = document.querySelector('.markers-panel')?.textContent ?? '';
      return /critical-instruction/.test(t) && !/xen\.inc/.test(t);
    }, null, { timeout: 15_000 });
    await page.screenshot({ path: path.join(OUT, 'ui-6b-quickfix-xen-inc.png') });
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
    await revertFile(page); // leave the file as it was
    return `(${titles.slice(0, 120)}; xen.inc written, included, no problem left about it)`;
  });

  await step(page, 'Paravirtualize This File: diff preview, the prompt counts the lines added, Apply keeps an edit not saved before, the saved file assembles with plain nasm', ['cli'], async () => {
    await quickOpen(page, 'critical.gasm');
    await revertFile(page);
    const file = path.join(WS, 'critical.gasm');
    const lineCount = (text: string) => text.split('\n').length;
    // An edit not saved yet: the command saves it first (popek fix reads the file), so Apply keeps it.
    const mark = '; edited in the editor, not saved yet';
    await page.keyboard.press('Control+Home');
    await page.keyboard.press('Enter');
    await page.keyboard.press('ArrowUp');
    await page.keyboard.type(mark);
    await page.locator('.tab.active.dirty').first().waitFor({ timeout: 10_000 });
    const edited = lineCount(fs.readFileSync(file, 'utf8')) + 1;
    await runCommand(page, 'Popek: Paravirtualize This File');
    await page.locator('.monaco-diff-editor').first().waitFor({ state: 'visible', timeout: 30_000 });
    const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'Apply' }).first();
    await toast.waitFor({ state: 'visible', timeout: 15_000 });
    const prompt = norm(await toast.innerText());
    await page.screenshot({ path: path.join(OUT, 'ui-7-paravirtualize-diff.png') });
    const added = Number(/(\d+) lines? added/.exec(prompt)?.[1]);
    if (!(added > 0)) throw new Error(`the prompt does not count the lines added: ${JSON.stringify(prompt)}`);
    // The quick fix (check 6) wrote xen.inc beside the file: the rewrite uses it, and says so.
    if (fs.existsSync(path.join(WS, 'xen.inc')) && !/uses the xen\.inc already there/.test(prompt)) throw new Error(`xen.inc is there, the prompt says ${JSON.stringify(prompt)}`);
    await toast.locator('.monaco-button', { hasText: 'Apply' }).click();
    // Applied: the diff closes, the file's tab is back and has changes to save.
    await page.locator('.monaco-diff-editor').first().waitFor({ state: 'hidden', timeout: 20_000 });
    await page.locator('.tab.active.dirty', { hasText: 'critical.gasm' }).first().waitFor({ timeout: 20_000 });
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+S');
    await page.locator('.tab.active.dirty').first().waitFor({ state: 'detached', timeout: 15_000 });
    await page.keyboard.press('Control+Home');
    await page.screenshot({ path: path.join(OUT, 'ui-8-paravirtualized.png') });
    // Saved: the rewrite, the edit made before, and exactly the lines the prompt said it adds; plain
    // nasm assembles it (the Xen constants from the xen.inc beside it).
    const saved = fs.readFileSync(file, 'utf8');
    if (!/VCPU_INFO_UPCALL_MASK|vmcall/.test(saved)) throw new Error('the saved file is not rewritten');
    if (!saved.startsWith(mark)) throw new Error('the saved file lost the edit made before the command');
    if (lineCount(saved) - edited !== added) throw new Error(`the prompt says ${added} lines added, the file grew by ${lineCount(saved) - edited}`);
    const bin = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'popek-e2e-nasm-')), 'critical.bin');
    const nasm = spawnSync('nasm', ['-f', 'bin', '-o', bin, 'critical.gasm'], { cwd: WS, encoding: 'utf8' });
    fs.rmSync(path.dirname(bin), { recursive: true, force: true });
    if (nasm.status !== 0) throw new Error(`nasm -f bin critical.gasm: ${nasm.error?.message ?? nasm.stderr}`);
    return `(prompt: ${JSON.stringify(/Popek: apply.*/s.exec(prompt)?.[0].replace(/\s+/g, ' ') ?? prompt)}; the file grew by ${added} lines; plain nasm assembles it)`;
  });

  await step(page, 'no Multiboot header: a warning where it belongs, a quick fix that inserts one, a clear message at launch', ['server', 'debugAdapter'], async () => {
    await quickOpen(page, 'flat.gasm');
    const at = lineNumberOf('flat.gasm', /^start:/);
    await page.keyboard.press('Control+Home'); // the warning's line in view (the editor can open scrolled to its end)
    await page.waitForSelector('.monaco-editor .squiggly-warning', { timeout: 60_000 });
    await page.keyboard.press('Control+Shift+M');
    await page.waitForFunction(() => /no Multiboot header/.test(document.querySelector('.markers-panel')?.textContent ?? ''), null, { timeout: 20_000 });
    const row = norm(await page.locator('.markers-panel .monaco-list-row', { hasText: 'no Multiboot header' }).first().innerText());
    const where = /\[Ln (\d+)/.exec(row)?.[1];
    if (Number(where) !== at) throw new Error(`the warning is on line ${where}, not ${at} (start:, where the header belongs): ${row}`);
    const message = await page.locator('.markers-panel .monaco-list-row', { hasText: 'no Multiboot header' }).first().evaluate((r: any) =>
      [...r.querySelectorAll('span, div')].filter((e: any) => e.children.length === 0 && /no Multiboot header/.test(e.textContent)).map((e: any) => e.textContent as string)[0] ?? '');
    if (message.length > 120) throw new Error(`${message.length} characters: ${message}`);
    await page.screenshot({ path: path.join(OUT, 'ui-8b-no-multiboot-warning.png') });
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
    await goToLine(page, at);
    await page.keyboard.press('Control+.');
    const menu = page.locator('.action-widget .monaco-list-row', { hasText: 'Insert a Multiboot header' });
    await menu.first().waitFor({ state: 'visible', timeout: 20_000 });
    await page.screenshot({ path: path.join(OUT, 'ui-8c-multiboot-quickfix-menu.png') });
    await page.keyboard.press('Enter'); // the only (preferred) fix is the focused row
    await page.waitForFunction(() => /multiboot_header:/.test(((document.querySelector('.editor-group-container.active .monaco-editor .view-lines') as HTMLElement | null)?.innerText ?? '')), null, { timeout: 20_000 });
    await page.waitForFunction(() => !/no Multiboot header/.test(document.querySelector('.markers-panel')?.textContent ?? ''), null, { timeout: 20_000 });
    await page.screenshot({ path: path.join(OUT, 'ui-8d-multiboot-header-inserted.png') });
    await page.keyboard.press('Control+Z');
    await page.waitForFunction(() => /no Multiboot header/.test(document.querySelector('.markers-panel')?.textContent ?? ''), null, { timeout: 20_000 });
    // F5 on it: it runs (flat), and the Debug Console says why QEMU would not, instead of a toast.
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
    await page.keyboard.press('F5');
    await page.locator('.panel .composite-bar .action-item', { hasText: 'Debug Console' }).first().click({ timeout: 30_000 }).catch(() => undefined);
    await page.waitForFunction(() => /no Multiboot header/.test(((document.querySelector('.repl') as HTMLElement | null)?.innerText ?? '')), null, { timeout: 60_000 });
    await page.screenshot({ path: path.join(OUT, 'ui-8e-no-multiboot-launch.png') });
    const toasts = norm((await page.locator('.notifications-toasts .notification-toast').allInnerTexts()).join(' | '));
    if (/bad memory reference/i.test(toasts)) throw new Error(`a toast: ${toasts}`);
    await page.keyboard.press('Shift+F5');
    await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 15_000 }).catch(() => undefined);
    return `(warning on line ${at}: ${JSON.stringify(message)}; the quick fix inserts multiboot_header; the launch says it in the Debug Console)`;
  });

  await step(page, 'F5 on an assembly error: the Problems panel and the Debug Console say where, with the source line; no dialog, the session ends', ['debugAdapter'], async () => {
    if (await page.locator('.debug-toolbar').isVisible()) { await page.keyboard.press('Shift+F5'); await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 15_000 }).catch(() => undefined); }
    await quickOpen(page, 'typo.gasm');
    const at = lineNumberOf('typo.gasm', /^\s*mvo /);
    const source = fs.readFileSync(path.join(WS, 'typo.gasm'), 'utf8').split('\n')[at - 1].trim();
    await page.keyboard.press('F5');
    // The Problems panel: the launch's error (source "popek debug") at the line of the typo. (The
    // extension brings the panel to the front and VS Code the Debug Console: either may be in front.)
    const row = page.locator('.markers-panel .monaco-list-row', { hasText: /unknown instruction[\s\S]*popek debug/ }).first();
    const end = Date.now() + 60_000;
    while (!(await row.isVisible())) {
      if (Date.now() > end) throw new Error('no "popek debug" problem in the Problems panel');
      await page.keyboard.press('Control+Shift+M');
      await row.waitFor({ timeout: 3_000 }).catch(() => undefined);
    }
    const said = norm(await row.innerText());
    await page.screenshot({ path: path.join(OUT, 'ui-8f-assembly-error-problems.png') });
    if (Number(/\[Ln (\d+)/.exec(said)?.[1]) !== at) throw new Error(`the Problems row is ${JSON.stringify(said)}, the typo is on line ${at}`);
    // The Debug Console: file:line and the source line itself.
    const inConsole = () => page.evaluate((want: string) => ((document.querySelector('.repl') as HTMLElement | null)?.innerText ?? '').replace(/\u00a0/g, ' ').includes(want), `typo.gasm:${at}:`);
    for (const until = Date.now() + 15_000; !(await inConsole());) {
      if (Date.now() > until) throw new Error(`the Debug Console does not say typo.gasm:${at}`);
      await page.locator('.panel .composite-bar .action-item', { hasText: 'Debug Console' }).first().click().catch(() => undefined);
      await page.waitForTimeout(300);
    }
    const repl = norm(await page.locator('.repl').first().innerText());
    await page.screenshot({ path: path.join(OUT, 'ui-8g-assembly-error-console.png') });
    if (!repl.includes(source)) throw new Error(`the Debug Console does not show the line ${JSON.stringify(source)}: ${JSON.stringify(repl.slice(0, 300))}`);
    // Stopped: no modal about launch.json, no toast instead, no session left running.
    if (await page.locator('.monaco-dialog-box').count()) throw new Error(`a dialog: ${norm(await page.locator('.monaco-dialog-box').first().innerText())}`);
    const toasts = norm((await page.locator('.notifications-toasts .notification-toast').allInnerTexts()).join(' | '));
    if (/launch\.json|No guest is running/.test(toasts)) throw new Error(`a toast: ${toasts}`);
    await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 15_000 });
    return `(Problems: ${JSON.stringify(said)}; the console shows ${JSON.stringify(source)})`;
  });

  await step(page, 'F9 + F5: the editor shows the stop and the Variables view the registers and flags', ['debugAdapter'], async () => {
    await quickOpen(page, 'hello.gasm');
    await goToLine(page, lineNumberOf('hello.gasm', /^\s*mov esi, message/));
    await page.keyboard.press('F9');
    await page.waitForSelector('.monaco-editor .codicon-debug-breakpoint', { timeout: 10_000 });
    await page.keyboard.press('F5');
    // stopOnEntry first, then continue to the breakpoint.
    await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
    const variables = () => page.evaluate(() => (document.querySelector('.debug-pane .debug-variables, .debug-view-content') as HTMLElement | null)?.innerText ?? '');
    await page.waitForFunction(() => /Registers/i.test(document.querySelector('.debug-pane')?.textContent ?? ''), null, { timeout: 30_000 });
    await page.keyboard.press('F5');
    // The stop is the breakpoint's (the call stack says so) and the Variables view shows the new state.
    await page.waitForFunction(() => /Breakpoint/i.test(document.querySelector('.debug-call-stack, .pane-header[aria-label*="Call Stack" i]')?.textContent ?? document.querySelector('.debug-pane')?.textContent ?? ''), null, { timeout: 30_000 });
    // The Variables view has caught up when its EIP is the top frame's address (shown as "name @ 0x…").
    await page.waitForFunction(() => {
      const text = (sel: string) => ((document.querySelector(sel) as HTMLElement | null)?.innerText ?? '').replace(/\u00a0/g, ' ');
      const at = /@\s*(0x[0-9a-f]+)/i.exec(text('.debug-call-stack'))?.[1];
      const eip = /eip\s*=\s*(0x[0-9a-f]+)/i.exec(text('.debug-pane .debug-variables, .debug-view-content'))?.[1];
      return !!at && !!eip && parseInt(at, 16) === parseInt(eip, 16);
    }, null, { timeout: 30_000 });
    const vars = norm(await variables());
    await page.screenshot({ path: path.join(OUT, 'ui-9-debug-stop-variables.png') });
    if (!/eax\s*=/i.test(vars) || !/esp\s*=/i.test(vars)) throw new Error(`Variables view: ${JSON.stringify(vars.slice(0, 200))}`);
    // The Debug Console: `help` answers there, and an unknown name is a line there, not a toast.
    await page.locator('.panel .composite-bar .action-item', { hasText: 'Debug Console' }).first().click().catch(() => undefined);
    const repl = () => page.evaluate(() => ((document.querySelector('.repl') as HTMLElement | null)?.innerText ?? '').replace(/\u00a0/g, ' '));
    await page.locator('.repl-input-wrapper').first().click();
    await page.keyboard.type('help');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /registers\s+eax/.test(((document.querySelector('.repl') as HTMLElement | null)?.innerText ?? '').replace(/\u00a0/g, ' ')), null, { timeout: 15_000 });
    await page.keyboard.type('no_such_name');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /no_such_name.*help/s.test(((document.querySelector('.repl') as HTMLElement | null)?.innerText ?? '').replace(/\u00a0/g, ' ')), null, { timeout: 15_000 });
    await page.screenshot({ path: path.join(OUT, 'ui-9b-debug-console-help.png') });
    const toasts = await page.locator('.notifications-toasts .notification-toast', { hasText: 'no_such_name' }).count();
    if (toasts) throw new Error('an unknown name in the Debug Console raised a notification');
    if (!/no_such_name/.test(await repl())) throw new Error('no answer in the console');
    await page.keyboard.press('Shift+F5');
    await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 15_000 }).catch(() => undefined);
    return `(${JSON.stringify(vars.replace(/\s+/g, ' ').slice(0, 100))})`;
  });

  await step(page, 'Show VM-Exit Trace lists every exit beside the code, readable, linked to the source', ['cli'], async () => {
    await quickOpen(page, 'hello.gasm');
    await runCommand(page, 'Popek: Show VM-Exit Trace');
    const tab = page.locator('.tab.active', { hasText: 'events.log' }).first();
    await tab.waitFor({ timeout: 30_000 });
    const editor = page.locator('.monaco-editor .view-lines', { hasText: 'Hypervisor events of' }).first();
    await editor.waitFor({ timeout: 20_000 });
    const text = norm(await editor.innerText());
    await page.screenshot({ path: path.join(OUT, 'ui-11-vmexit-trace.png') });
    if (/no events/i.test(text)) throw new Error('the trace says "no events"');
    const counted = /VM exits: ([^\n(]+)/.exec(text)?.[1] ?? '';
    const total = [...counted.matchAll(/\d[\d,]*/g)].reduce((s, m) => s + Number(m[0].replace(/,/g, '')), 0);
    if (!/CPUID/.test(text) || total === 0) throw new Error(`header: ${counted}`);
    // Not squeezed: the trace's editor group is at least a third of the window, and its longest
    // visible line is not wider than the editor (nothing cut at the right edge).
    const fit = await editor.evaluate((lines: any) => {
      const ed = lines.closest('.monaco-editor');
      const right = ed.querySelector('.minimap, .decorationsOverviewRuler')?.getBoundingClientRect().left ?? ed.getBoundingClientRect().right;
      const rows = [...lines.querySelectorAll('.view-line')] as any[];
      return { group: right - lines.getBoundingClientRect().left, window: document.documentElement.clientWidth,
        widest: Math.max(...rows.map((l) => l.firstElementChild?.getBoundingClientRect().width ?? 0)) };
    });
    if (fit.group < fit.window / 3) throw new Error(`the trace opened in a ${fit.group}-px column of ${fit.window}`);
    if (fit.widest > fit.group) throw new Error(`a line is ${fit.widest} px wide in a ${fit.group}-px editor`);
    // The source column is a link (Ctrl+click opens the line).
    const links = await editor.locator('.detected-link').count();
    if (links === 0) throw new Error('no source links in the trace');
    await page.keyboard.press('Control+W');
    return `(VM exits: ${counted.trim()}; ${links} visible links; editor ${fit.group.toFixed(0)} px)`;
  });

  await step(page, 'Disassembly view marks the row of EIP at every stop and decodes the bytes before it in step', ['debugAdapter'], async () => {
    await quickOpen(page, 'hello.gasm');
    await page.keyboard.press('F5');
    await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
    await runCommand(page, 'Open Disassembly View');
    await page.waitForSelector('.disassembly-view .monaco-list-row', { timeout: 30_000 });
    const eipOf = async () => {
      await page.waitForFunction(() => /@\s*0x[0-9a-f]+/i.test((document.querySelector('.debug-call-stack') as HTMLElement | null)?.innerText ?? ''), null, { timeout: 20_000 });
      return parseInt(/@\s*(0x[0-9a-f]+)/i.exec(norm(await page.locator('.debug-call-stack').innerText()))![1], 16);
    };
    const marked = async (eip: number) => {
      // The view marks the current instruction with the stack-frame icon; wait until it is EIP's row.
      await page.waitForFunction((want: number) => {
        const row = [...document.querySelectorAll('.disassembly-view .monaco-list-row')].find((r: any) => r.querySelector('.codicon-debug-stackframe')) as any;
        const addr = row ? /0x[0-9a-f]+/i.exec(row.innerText)?.[0] : undefined;
        return addr !== undefined && parseInt(addr, 16) === want;
      }, eip, { timeout: 15_000 });
      const rows = norm(await page.locator('.disassembly-view').innerText());
      if (/\?\?/.test(rows)) throw new Error(`a row shows ?? near EIP ${eip.toString(16)}`);
      return rows;
    };
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const eip = await eipOf();
      const rows = await marked(eip);
      if (i === 0) {
        await page.screenshot({ path: path.join(OUT, 'ui-12-disassembly.png') });
        // The Multiboot header's last dword (dd start) just above start: data, not a misdecoded instruction.
        if (!/db 0x20, 0x00, 0x10, 0x00/.test(rows)) throw new Error('the Multiboot header above start is not shown as data');
      }
      seen.push(eip.toString(16));
      // Step one instruction (F11 steps by instruction while the disassembly view has focus).
      await page.locator('.disassembly-view .monaco-list-row:has(.codicon-debug-stackframe)').first().click();
      await page.keyboard.press('F11');
      await page.waitForFunction((prev: number) => {
        const m = /@\s*(0x[0-9a-f]+)/i.exec((document.querySelector('.debug-call-stack') as HTMLElement | null)?.innerText ?? '');
        return m && parseInt(m[1], 16) !== prev;
      }, eip, { timeout: 15_000 });
    }
    await page.screenshot({ path: path.join(OUT, 'ui-13-disassembly-after-steps.png') });
    await page.keyboard.press('Shift+F5');
    // Until the session has ended F5 means Continue, not Start: the next step's F5 would be lost.
    await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 15_000 }).catch(() => undefined);
    await page.keyboard.press('Control+W');
    return `(EIP row marked at ${seen.join(', ')})`;
  });

  await step(page, 'the status bar shows guest instructions/s and modelled cycles while running, the totals after a pause', ['debugAdapter'], async () => {
    await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 15_000 }).catch(() => undefined);
    await quickOpen(page, 'spin.gasm');
    await page.keyboard.press('F5');
    await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
    // The lock-step twin costs speed: "Divergence from native" is not ticked by default.
    const divergence = page.locator('.debug-breakpoints .monaco-list-row', { hasText: 'Divergence from native' }).first();
    await divergence.waitFor({ timeout: 15_000 });
    if (await divergence.locator('input[type="checkbox"]').isChecked()) throw new Error('"Divergence from native" is ticked by default');
    await page.keyboard.press('F5'); // continue: the guest counts forever
    const item = page.locator('.statusbar-item', { hasText: 'instr/s' }).first();
    await item.waitFor({ timeout: 20_000 });
    const running = norm(await item.innerText());
    await page.screenshot({ path: path.join(OUT, 'ui-13b-status-running.png') });
    const rate = /([\d.]+)\s*([kMG]?)\s*instr\/s/.exec(running);
    if (!rate || Number(rate[1]) <= 0 || !/cycles/.test(running)) throw new Error(`status bar while running: ${JSON.stringify(running)}`);
    // Pause: the session stops — the toolbar offers Continue, the editor marks the stop line — and
    // the item shows the totals (no rate). The time from the key press to that screen is reported
    // (issue 14 asks ≤ 200 ms; a figure, not an assertion: this machine's load is not the guest's).
    await page.locator('.debug-toolbar .codicon-debug-pause').first().waitFor({ state: 'visible', timeout: 10_000 });
    const pressed = Date.now();
    await page.keyboard.press('F6');
    await page.waitForFunction(() => !!document.querySelector('.debug-toolbar .codicon-debug-continue') && !!document.querySelector('.monaco-editor .debug-top-stack-frame-line'), null, { timeout: 20_000, polling: 'raf' });
    const pauseMs = Date.now() - pressed;
    const totals = page.locator('.statusbar-item', { hasText: / instr · .* cycles/ }).first();
    await totals.waitFor({ timeout: 10_000 });
    const stopped = norm(await totals.innerText());
    await page.screenshot({ path: path.join(OUT, 'ui-13c-status-paused.png') });
    await page.keyboard.press('Shift+F5');
    await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 15_000 }).catch(() => undefined);
    return `(Divergence from native not ticked; running: ${JSON.stringify(running)}; paused: ${JSON.stringify(stopped)}; F6 → stopped on screen in ${pauseMs} ms)`;
  });

  // The memory view and data breakpoints from the Variables view (memoryChecks.ts) — before the
  // walkthrough, whose example is also named hello.gasm and would be the one Ctrl+P opens after it.
  await memoryChecks(page, { OUT, step, quickOpen, goToLine, runCommand, lineNumberOf, norm, chooseTechnique });

  // Inline values at a stop, the coverage decoration after a run (debugEditorChecks.ts) — before the
  // walkthrough too: its hello.gasm would be the one Ctrl+P opens, with other line numbers.
  await debugEditorChecks(page, { step, quickOpen, goToLine, runCommand, lineNumberOf, norm, OUT, chooseTechnique });

  // A kernel linked from a .S and a NASM object (kernelChecks.ts): .asm as NASM, F5 on the .S, the
  // NASM variables in Globals — before the walkthrough, which checks the workspace is left unchanged.
  await kernelChecks(page, { step, quickOpen, goToLine, runCommand, lineNumberOf, norm, OUT, chooseTechnique });

  await step(page, 'the walkthrough followed end to end: each step does what it says, ticks only then, writes nothing to the workspace', ['cli', 'debugAdapter', 'server'], async () => {
    const snapshot = () => fs.readdirSync(WS).filter((f) => f !== '.vscode').map((f) => `${f}:${fs.statSync(path.join(WS, f)).mtimeMs}`).sort().join(',');
    const before = snapshot();
    const openWalkthrough = async () => {
      // Back to its tab when it is open (the palette races the focus changes a step makes).
      const tab = page.locator('.tab', { hasText: 'Walkthrough: Popek' }).first();
      // (The floating debug toolbar can lie over the tab: then the palette instead.)
      if (await tab.count() && await tab.click({ timeout: 3_000 }).then(() => true, () => false)) {
        await page.locator('.gettingStartedContainer').first().waitFor({ timeout: 15_000 });
        return;
      }
      await runCommand(page, 'Welcome: Open Walkthrough...');
      await page.locator('.quick-input-widget input').fill('Popek');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Get started with Popek' }).first().waitFor({ timeout: 15_000 });
      await page.keyboard.press('Enter');
      await page.locator('.gettingStartedContainer').first().waitFor({ timeout: 15_000 });
    };
    const stepEl = (title: string) => page.locator('.gettingStartedContainer .getting-started-step', { hasText: title }).first();
    const ticked = (title: string) => stepEl(title).locator('.codicon-getting-started-step-checked').count().then((n) => n > 0);
    const waitTicked = async (title: string) => {
      const end = Date.now() + 20_000;
      while (!(await ticked(title))) { if (Date.now() > end) throw new Error(`step "${title}" did not tick`); await page.waitForTimeout(200); }
    };
    const press = async (title: string, button: string, effect: string) => {
      await openWalkthrough();
      await stepEl(title).click();
      await namesMatch(title);
      if (await ticked(title)) throw new Error(`step "${title}" ticked before it was done`);
      const b = page.locator('.gettingStartedContainer .monaco-button:visible, .gettingStartedContainer a:visible', { hasText: button }).first();
      if (!(await b.waitFor({ state: 'visible', timeout: 10_000 }).then(() => true, () => false))) {
        const html = await page.locator('.gettingStartedContainer').first().evaluate((e: any) => [...e.querySelectorAll('button, a')].filter((x: any) => /technique|hello|VM exits|Compare/i.test(x.textContent)).map((x: any) => x.outerHTML.slice(0, 200)).join('\n'));
        throw new Error(`no visible "${button}" button in step "${title}":\n${html}`);
      }
      // The step's detail is re-rendered as it expands: click again if the first click met the old button.
      for (let attempt = 0; attempt < 3; attempt++) {
        await b.click();
        if (await page.locator(effect).first().waitFor({ state: 'visible', timeout: 8_000 }).then(() => true, () => false)) return;
      }
      throw new Error(`"${button}" did nothing visible (${effect})`);
    };
    const titles = ['Open a guest kernel', 'See what a hypervisor sees', 'Paravirtualize with a quick fix', 'Debug the guest', 'Stop on a VM exit', 'Compare the techniques'];
    await openWalkthrough();
    for (const t of titles) await stepEl(t).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(OUT, 'ui-3b-walkthrough.png') });
    // Names as the UI says them: the Breakpoints view's filter is "VM exits", never "vmexit".
    const said: string[] = [];
    const namesMatch = async (where: string) => {
      const text = norm(await page.locator('.gettingStartedContainer').first().innerText());
      said.push(text);
      if (/\bvmexits?\b/i.test(text)) throw new Error(`the walkthrough (${where}) says ${JSON.stringify(/.{0,40}vm-?exits?.{0,40}/i.exec(text)?.[0])}`);
    };
    await namesMatch('the list');

    // 1. The example opens from the extension's storage, not the workspace.
    await press(titles[0], 'Open hello.gasm', '.tab.active >> text=hello.gasm');
    await page.locator('.tab.active', { hasText: 'hello.gasm' }).first().waitFor({ timeout: 15_000 });
    const tab = page.locator('.editor-group-container.active .tab.active').first();
    const where = await tab.getAttribute('title') ?? await tab.getAttribute('aria-label') ?? '';
    if (where.includes(WS)) throw new Error(`the example opened from the workspace: ${where}`);
    await openWalkthrough();
    await waitTicked(titles[0]);

    // 2. The technique picker; the step ticks when a technique is chosen. The user's explicit choice is
    // the one thing written: the workspace setting. The picker can close before the choice lands (it
    // closes on focus loss, and the walkthrough re-renders as step 1's tick settles): nothing is written
    // then, so the step is pressed again.
    const settings = path.join(WS, '.vscode', 'settings.json');
    const modeSet = () => fs.existsSync(settings) && /"popek\.mode":\s*"trap-and-emulate"/.test(fs.readFileSync(settings, 'utf8'));
    for (let attempt = 0; ; attempt++) {
      await press(titles[1], 'Choose a technique', '.quick-input-list .monaco-list-row >> text=Trap and emulate');
      const chosen = await page.locator('.quick-input-widget input').fill('trap', { timeout: 5_000 }).then(async () => {
        await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: 'Trap and emulate' }).first().waitFor({ state: 'attached', timeout: 5_000 });
        await page.keyboard.press('Enter');
      }).then(() => true, () => false);
      if (chosen && await until(modeSet, 10_000)) break;
      if (attempt === 2) throw new Error('popek.mode was not set to trap-and-emulate (the technique picker closed before the choice, three times)');
      await page.keyboard.press('Escape');
    }
    await openWalkthrough();
    await waitTicked(titles[1]);

    // 3. Paravirtualize the example (no editor active: the walkthrough's file), a diff, Apply.
    await press(titles[2], 'Paravirtualize hello.gasm', '.notifications-toasts, .monaco-diff-editor');
    await page.locator('.monaco-diff-editor').first().waitFor({ state: 'visible', timeout: 30_000 });
    const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'Apply' }).first();
    await toast.waitFor({ timeout: 15_000 });
    const prompt = norm(await toast.innerText());
    await page.screenshot({ path: path.join(OUT, 'ui-3c-walkthrough-paravirtualize.png') });
    if (/\/tmp\/|popek-fix-/.test(prompt)) throw new Error(`the prompt shows a temporary path: ${prompt}`);
    await toast.locator('.monaco-button', { hasText: 'Apply' }).click();
    // Applied to the example the walkthrough opened (kept in the extension's storage): its tab shows
    // the rewrite, and no error toast came instead.
    // (The active group's editor: its first lines show the include the rewrite added.)
    const applied = await page.waitForFunction(() => /%include "xen\.inc"|vmcall|VCPU_INFO_UPCALL_MASK/.test(((document.querySelector('.editor-group-container.active .monaco-editor .view-lines') as HTMLElement | null)?.innerText ?? '').replace(/\u00a0/g, ' ')), null, { timeout: 20_000 }).then(() => true, () => false);
    if (!applied) {
      const toasts = norm((await page.locator('.notifications-toasts .notification-toast').allInnerTexts()).join(' | '));
      await page.screenshot({ path: path.join(OUT, 'ui-3c2-walkthrough-apply-failed.png') });
      throw new Error(`Apply did not rewrite the example (toasts: ${toasts || 'none'})`);
    }
    await page.screenshot({ path: path.join(OUT, 'ui-3d-walkthrough-applied.png') });
    await openWalkthrough();
    await waitTicked(titles[2]);

    // 4. Debug: a session that stops at the entry point.
    await press(titles[3], 'Debug hello.gasm', '.debug-toolbar');
    await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
    const debugged = norm(await page.locator('.editor-group-container.active .tab.active').first().getAttribute('title') ?? '');
    if (debugged.includes(WS)) throw new Error(`the debug step stopped in ${debugged}, not the example`);
    await openWalkthrough();
    await waitTicked(titles[3]);
    await page.keyboard.press('Shift+F5');
    await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 15_000 }).catch(() => undefined);

    // 5. Hardware assisted with the VM exits filter: entry, F5, the stop on a VM exit.
    if (await ticked(titles[4])) throw new Error(`step "${titles[4]}" ticked before it was done`);
    await press(titles[4], 'Debug, stopping on VM exits', '.debug-toolbar');
    await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
    await page.keyboard.press('F5');
    await page.waitForFunction(() => /VM exit/i.test(document.querySelector('.debug-call-stack')?.textContent ?? '') || /VM exit/i.test(document.querySelector('.zone-widget .exception-widget')?.textContent ?? ''), null, { timeout: 30_000 });
    await page.screenshot({ path: path.join(OUT, 'ui-3e-walkthrough-vmexit.png') });
    // The stop's title names the filter as the Breakpoints view does ("VM exits"), not by its id.
    const widget = norm(await page.locator('.zone-widget .exception-widget').first().innerText().catch(() => ''));
    if (/\bvmexit\b/i.test(widget)) throw new Error(`the exception widget says ${JSON.stringify(widget.slice(0, 120))}`);
    await openWalkthrough();
    await waitTicked(titles[4]);
    await page.keyboard.press('Shift+F5');
    await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 15_000 }).catch(() => undefined);

    // 6. Compare: the webview, on the example, and the step ticks.
    await press(titles[5], 'Compare techniques', '.tab >> text=Compare:');
    await compareFrame(page, 60_000);
    if (!(await page.locator('.tab', { hasText: 'Compare: hello.gasm' }).count())) throw new Error('no "Compare: hello.gasm" tab');
    // It ticks only for the example the walkthrough opened (client/walkthrough.ts), so this tick
    // also says the comparison ran on that file.
    await openWalkthrough();
    await waitTicked(titles[5]);
    await page.screenshot({ path: path.join(OUT, 'ui-3f-walkthrough-done.png') });
    if (snapshot() !== before) throw new Error(`the walkthrough changed the workspace: ${before} → ${snapshot()}`);
    await page.keyboard.press('Control+W');
    if (!said.some((t) => /VM exits/.test(t))) throw new Error('no step names the "VM exits" filter');
    return '(6 steps done on the example, each ticked only after its effect, "VM exits" named as in the Breakpoints view; the workspace is unchanged)';
  });

  await step(page, 'Compare Techniques from the command palette opens the webview', ['cli', 'compare'], async () => {
    await quickOpen(page, 'hello.gasm');
    await runCommand(page, 'Popek: Compare Techniques');
    return checkCompareView(page, 'ui-10-compare-webview.png');
  });

}

(async () => {
  const phase = process.argv[2];
  if (phase !== 'suite' && phase !== 'ui') throw new Error('usage: workbench.js suite|ui');
  const userData = fs.mkdtempSync(path.join(os.tmpdir(), 'popek-chromium-'));
  const ctx = await chromium.launchPersistentContext(userData, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
  });
  const page = ctx.pages()[0] ?? await ctx.newPage();
  page.setDefaultTimeout(30_000);
  try {
    if (phase === 'suite') await suitePhase(page); else await uiPhase(page);
  } catch (err) {
    check(`${phase} phase`, false, (err as Error).message.split('\n')[0]);
    await page.screenshot({ path: path.join(OUT, `${phase}-failure.png`) }).catch(() => undefined);
  } finally {
    await ctx.close();
    fs.rmSync(userData, { recursive: true, force: true });
  }
  console.log(`${phase}: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed ? 1 : 0);
})();
