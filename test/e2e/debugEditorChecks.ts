/*
 * Screen checks of what a debug session adds to the editor (issue 14): inline values at line ends at
 * a stop, and the code-coverage decoration (gutter bar, overview ruler, hover naming the technique)
 * after a run. Called from workbench.ts's ui phase with its helpers; waits on conditions only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { endSession, type Kit } from './memoryChecks';

/* eslint-disable @typescript-eslint/no-explicit-any */
declare const document: any;
declare function getComputedStyle(e: unknown): { backgroundImage: string };



/** Line numbers (1-based) of the active editor's visible lines whose gutter shows the coverage bar. */
async function coveredLines(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const editor = document.querySelector('.editor-group-container.active .monaco-editor');
    if (!editor) return [];
    const numberAt = new Map<number, number>();
    for (const n of editor.querySelectorAll('.margin-view-overlays .line-numbers')) {
      const top = Math.round(n.parentElement.getBoundingClientRect().top);
      numberAt.set(top, Number(n.textContent));
    }
    const lines: number[] = [];
    for (const el of editor.querySelectorAll('.margin *')) {
      if (!/coverage\.svg/.test(getComputedStyle(el).backgroundImage)) continue;
      const line = numberAt.get(Math.round(el.getBoundingClientRect().top));
      if (line !== undefined) lines.push(line);
    }
    return [...new Set(lines)].sort((a, b) => a - b);
  });
}

/** Pixels of the coverage green (rgb 63, 185, 80) in the active editor's overview ruler (a canvas). */
function greenInOverviewRuler(page: Page): Promise<number> {
  return page.evaluate(() => {
    const canvas = document.querySelector('.editor-group-container.active .decorationsOverviewRuler');
    if (!canvas) return 0;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i] - 63) < 30 && Math.abs(data[i + 1] - 185) < 30 && Math.abs(data[i + 2] - 80) < 30 && data[i + 3] > 100) n++;
    return n;
  });
}

/** Waits until the active editor's gutter marks `line` as executed (the marks come at each stop and at the end). */
async function untilMarked(page: Page, line: number, timeoutMs = 60_000): Promise<number[]> {
  for (const end = Date.now() + timeoutMs; ;) {
    const lines = await coveredLines(page);
    if (lines.includes(line)) return lines;
    if (Date.now() > end) throw new Error(`line ${line} is not marked as executed: ${lines}`);
    await page.waitForTimeout(250);
  }
}

/** The coverage hover over the active editor's line holding `text`. */
async function coverageHover(page: Page, text: string): Promise<string> {
  const hover = page.locator('.monaco-hover', { hasText: 'Executed' }).first();
  await page.mouse.move(5, 5);
  await hover.waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
  const line = page.locator('.editor-group-container.active .view-line', { hasText: text }).first();
  for (let attempt = 0; attempt < 3; attempt++) {
    await line.hover({ position: { x: 40, y: 5 } });
    if (await hover.waitFor({ state: 'visible', timeout: 8_000 }).then(() => true, () => false)) break;
    await page.mouse.move(5, 5);
  }
  return ((await hover.innerText()) ?? '').replace(/\u00a0/g, ' ');
}

export async function debugEditorChecks(page: Page, h: Kit): Promise<void> {
  await h.step(page, 'inline values at a stop: the registers, flags and memory operands the lines up to the stop use', ['debugAdapter'], async () => {
    await h.quickOpen(page, 'hello.gasm');
    const line = h.lineNumberOf('hello.gasm', /^\s*mov \[vendor \+ 4\], edx/);
    await h.goToLine(page, line);
    await page.keyboard.press('F9');
    await page.keyboard.press('F5');
    await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
    // Past the entry stop (and any breakpoint an earlier check left) to this line.
    for (let i = 0; i < 4; i++) {
      const at = await page.evaluate(() => /@\s*(0x[0-9a-f]+)/i.exec(document.querySelector('.debug-call-stack')?.innerText ?? '')?.[1]);
      const stopLine = await page.evaluate(() => {
        const el = document.querySelector('.editor-group-container.active .monaco-editor .debug-top-stack-frame-line');
        if (!el) return 0;
        const top = Math.round(el.getBoundingClientRect().top);
        for (const n of document.querySelectorAll('.editor-group-container.active .margin-view-overlays .line-numbers')) {
          if (Math.round(n.parentElement.getBoundingClientRect().top) === top) return Number(n.textContent);
        }
        return 0;
      });
      if (stopLine === line) break;
      await page.keyboard.press('F5');
      await page.waitForFunction((prev: string | undefined) => {
        const now = /@\s*(0x[0-9a-f]+)/i.exec(document.querySelector('.debug-call-stack')?.innerText ?? '')?.[1];
        return !!now && now !== prev;
      }, at, { timeout: 30_000 });
    }
    // VS Code asks the provider, then the adapter evaluates each expression: `name = value` after the line.
    await page.waitForFunction(() => /edx = 0x/.test([...document.querySelectorAll('.editor-group-container.active .debug-inline-value')].map((e: any) => e.textContent.replace(/\u00a0/g, ' ')).join(' | ')), null, { timeout: 30_000 });
    const values: string[] = await page.evaluate(() => [...document.querySelectorAll('.editor-group-container.active .debug-inline-value')].map((e: any) => e.textContent.replace(/\u00a0/g, ' ')));
    await page.screenshot({ path: path.join(h.OUT, 'ui-14-inline-values.png') });
    const text = values.join(' | ');
    // The stop line's own operands (its memory operand through the adapter), and an earlier line's.
    if (!/dword \[vendor\+4\] = /.test(text)) throw new Error(`no memory operand value: ${text}`);
    if (!/\bebx = 0x/.test(text)) throw new Error(`no value for the earlier line's ebx: ${text}`);
    // Lines below the stop have not run: no values there.
    if (/\[vendor\+8\]/.test(text)) throw new Error(`a value on a line below the stop: ${text}`);
    await page.keyboard.press('F9'); // the breakpoint off again, for the checks after this one
    await endSession(page);
    return `(${values.length} lines: ${JSON.stringify(text.slice(0, 160))})`;
  });

  await h.step(page, 'code coverage after a run: executed lines marked in the gutter and the overview ruler, the technique in the hover, toggled off by the command', ['debugAdapter'], async () => {
    // The guest's file first: it activates the extension (when this check runs alone).
    await h.quickOpen(page, 'branch.gasm');
    await h.runCommand(page, 'Popek: Toggle Code Coverage');
    await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
    await page.keyboard.press('F5');
    await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
    await page.keyboard.press('F5'); // runs to its exit: the end-of-run line, then the marks
    await page.waitForFunction(() => /exited with code/.test(document.querySelector('.repl')?.innerText ?? ''), null, { timeout: 60_000 });
    const loop = h.lineNumberOf('branch.gasm', /^\s*add eax, ecx/), never = h.lineNumberOf('branch.gasm', /^\.unreachable:/) + 1;
    const exit = h.lineNumberOf('branch.gasm', /^\s*out 0xF4, al\s+; exit/);
    await page.waitForFunction(() => [...document.querySelectorAll('.editor-group-container.active .monaco-editor .margin *')].some((e: any) => /coverage\.svg/.test(getComputedStyle(e).backgroundImage)), null, { timeout: 30_000 });
    // Lines from the loop to the unreachable ones in view (Ctrl+G centres the line).
    await h.goToLine(page, never);
    await page.waitForFunction((n: number) => [...document.querySelectorAll('.editor-group-container.active .margin-view-overlays .line-numbers')].some((e: any) => Number(e.textContent) === n + 1), never, { timeout: 10_000 });
    const lines = await coveredLines(page);
    const ruler = await greenInOverviewRuler(page);
    await page.screenshot({ path: path.join(h.OUT, 'ui-15-coverage.png') });
    if (!lines.includes(loop) || !lines.includes(exit)) throw new Error(`the loop (${loop}) and the exit (${exit}) are not marked: ${lines}`);
    if (lines.includes(never) || lines.includes(never + 1)) throw new Error(`a line after the untaken branch is marked: ${lines}`);
    if (ruler === 0) throw new Error('no coverage mark in the overview ruler');
    // The hover on an executed line names the technique.
    await h.goToLine(page, loop);
    const lineEl = page.locator('.editor-group-container.active .view-line', { hasText: 'add eax, ecx' }).first();
    await lineEl.hover({ position: { x: 40, y: 5 } });
    const hover = page.locator('.monaco-hover', { hasText: 'Executed' }).first();
    await hover.waitFor({ state: 'visible', timeout: 15_000 });
    const said = h.norm(await hover.innerText());
    await page.screenshot({ path: path.join(h.OUT, 'ui-15b-coverage-hover.png') });
    if (!/Executed under (native|trap and emulate|binary translation|paravirtual|hardware assisted)/.test(said)) throw new Error(`hover: ${said}`);
    await page.mouse.move(5, 5);
    // Off: the decoration goes.
    await h.runCommand(page, 'Popek: Toggle Code Coverage');
    await page.waitForFunction(() => ![...document.querySelectorAll('.editor-group-container.active .monaco-editor .margin *')].some((e: any) => /coverage\.svg/.test(getComputedStyle(e).backgroundImage)), null, { timeout: 15_000 });
    if (await greenInOverviewRuler(page) !== 0) throw new Error('the overview ruler keeps coverage marks after the toggle');
    return `(lines ${lines.join(', ')} marked, ${never} not; ${ruler} ruler pixels; hover ${JSON.stringify(/Executed[^\n]*/.exec(said)?.[0])})`;
  });

  await h.step(page, 'code coverage per technique: ring.nasm takes another path under trap and emulate than natively; the gutter marks both paths, the hover names the technique of each line', ['debugAdapter'], async () => {
    if (await page.locator('.debug-toolbar').isVisible()) await endSession(page);
    await h.quickOpen(page, 'ring.nasm');
    // The guest reads CS: its RPL is the CPL, 0 natively, 1 where the kernel is deprivileged
    // (trap and emulate runs it at CPL 1, and the read does not trap).
    const read = h.lineNumberOf('ring.nasm', /^\s*mov ax, cs/);
    const ring0 = h.lineNumberOf('ring.nasm', /^\s*mov al, 0/), ring1 = h.lineNumberOf('ring.nasm', /^\s*mov al, 1/);
    // Coverage on (the toggle's status-bar message says so; if it went off, it was on: once more).
    for (let attempt = 0; ; attempt++) {
      await h.runCommand(page, 'Popek: Toggle Code Coverage');
      const on = page.locator('.statusbar-item', { hasText: 'code coverage on' }).first();
      if (await on.waitFor({ timeout: 10_000 }).then(() => true, () => false)) break;
      if (attempt === 1) throw new Error('"Popek: Toggle Code Coverage" did not say "code coverage on"');
    }
    const runUnder = async (technique: string, lastLine: number) => {
      await h.chooseTechnique(page, technique);
      await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
      await page.keyboard.press('F5');
      await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
      await page.keyboard.press('F5'); // to the guest's exit
      await h.goToLine(page, ring0); // both paths in view (the gutter is drawn for visible lines only)
      const lines = await untilMarked(page, lastLine);
      await page.waitForSelector('.debug-toolbar', { state: 'hidden', timeout: 30_000 });
      return lines;
    };
    const native = await runUnder('Native', ring0 + 1);
    if (native.includes(ring1)) throw new Error(`natively, the deprivileged path (line ${ring1}) is marked: ${native}`);
    const both = await runUnder('Trap and emulate', ring1 + 1);
    await page.screenshot({ path: path.join(h.OUT, 'ui-15c-coverage-two-techniques.png') });
    if (![read, ring0, ring1].every((l) => both.includes(l))) throw new Error(`lines ${read}, ${ring0}, ${ring1} should all be marked: ${both}`);
    // Each path's lines name the technique that ran them; the shared read names both.
    const only = (hover: string) => /Executed under ([^(]*?) \(/.exec(hover)?.[1].split(', ').sort().join(', ') ?? hover;
    const said = { read: only(await coverageHover(page, 'mov ax, cs')), ring0: only(await coverageHover(page, 'mov al, 0')), ring1: only(await coverageHover(page, 'mov al, 1')) };
    await page.screenshot({ path: path.join(h.OUT, 'ui-15d-coverage-hover-per-technique.png') });
    await page.mouse.move(5, 5);
    if (said.read !== 'native, trap and emulate' || said.ring0 !== 'native' || said.ring1 !== 'trap and emulate') throw new Error(`hovers: ${JSON.stringify(said)}`);
    // Back to the default technique, coverage off.
    await h.chooseTechnique(page, 'Paravirtual');
    await h.runCommand(page, 'Popek: Toggle Code Coverage');
    await page.waitForFunction(() => ![...document.querySelectorAll('.editor-group-container.active .monaco-editor .margin *')].some((e: any) => /coverage\.svg/.test(getComputedStyle(e).backgroundImage)), null, { timeout: 15_000 });
    return `(native marked ${native.join(', ')}; with trap and emulate ${both.join(', ')}; hovers ${JSON.stringify(said)})`;
  });

  await h.step(page, 'Divergence from native: ticked in the Breakpoints view, no launch.json: F5 stops right after the first instruction whose effect differs from native (ring.nasm reading CS under trap and emulate), ticked at the entry stop and ticked before the launch', ['debugAdapter'], async () => {
    if (await page.locator('.debug-toolbar').isVisible()) await endSession(page);
    await h.quickOpen(page, 'ring.nasm');
    const read = h.lineNumberOf('ring.nasm', /^\s*mov ax, cs/);
    // No launch configuration: F5 debugs the open file with the technique of the status bar (the
    // twin comes with the filter, not with a launch.json flag).
    const launch = path.join(process.env.WS ?? '', '.vscode', 'launch.json');
    if (fs.existsSync(launch)) throw new Error(`${launch} is there: F5 would take it`);
    await h.chooseTechnique(page, 'Trap and emulate');
    const filter = page.locator('.debug-breakpoints .monaco-list-row', { hasText: 'Divergence from native' }).first().locator('input[type="checkbox"]');
    const showFilter = async () => {
      if (!(await filter.isVisible())) {
        const header = page.locator('.pane-header[aria-label^="Breakpoints Section"]').first();
        if (await header.getAttribute('aria-expanded') === 'false') await header.click();
      }
      await filter.waitFor({ timeout: 15_000 });
    };
    const said: string[] = [];
    try {
      // First ticked at the entry stop (the Breakpoints view lists the adapter's filters once a
      // session has started), then kept ticked for a second launch: set before the guest runs.
      for (const when of ['at the entry stop', 'before the launch'] as const) {
        if (when === 'before the launch') {
          await showFilter();
          if (!(await filter.isChecked())) throw new Error('the filter ticked in the last session is no longer ticked');
        }
        await page.locator('.editor-group-container.active .monaco-editor .view-lines').first().click();
        await page.keyboard.press('F5');
        await page.waitForSelector('.monaco-editor .debug-top-stack-frame-line', { timeout: 60_000 });
        if (when === 'at the entry stop') {
          await showFilter();
          await filter.check();
        }
        await page.keyboard.press('F5');
        // The stop (reason "divergence"): its description heads the Call Stack (cut to the header's
        // width: the whole sentence is the element's text or tooltip); the top frame is the next line.
        await page.waitForFunction(() => /Divergence from native/i.test([...document.querySelectorAll('.pane-header')].map((x: any) => x.textContent).join(' ')), null, { timeout: 60_000 });
        const header = h.norm(await page.locator('.pane-header', { hasText: 'Divergence from native' }).first().evaluate((x: any) =>
          [x.textContent, ...[...x.querySelectorAll('[title], [aria-label]')].map((e: any) => `${e.getAttribute('title') ?? ''} ${e.getAttribute('aria-label') ?? ''}`)].join(' ')));
        const line = Number(await (await page.waitForFunction(() => /ring\.nasm\s+(\d+)/.exec((document.querySelector('.debug-call-stack')?.innerText ?? '') as string)?.[1], null, { timeout: 15_000 })).jsonValue());
        const repl = h.norm(await page.locator('.repl').first().innerText().catch(() => ''));
        await page.screenshot({ path: path.join(h.OUT, `ui-15e-divergence-stop-${when === 'at the entry stop' ? 'ticked-at-entry' : 'ticked-before-launch'}.png`) });
        // It names the instruction that differed and what differs (CS's RPL, read into EAX: 1 here, 0 natively).
        if (!header.includes(`ring.nasm:${read}`)) throw new Error(`${when}: the stop does not name ring.nasm:${read} (mov ax, cs): ${JSON.stringify(header)}`);
        if (!/EAX|\bCS\b|RPL/.test(header)) throw new Error(`${when}: the stop does not say what differed: ${JSON.stringify(header)}`);
        if (line !== read + 1) throw new Error(`${when}: stopped at line ${line}, not right after the read (line ${read + 1})`);
        if (!repl.includes(`ring.nasm:${read}`)) throw new Error(`${when}: the Debug Console does not list the difference: ${JSON.stringify(repl.slice(0, 300))}`);
        if (/launch\.json|checkEquivalence"/.test(repl)) throw new Error(`${when}: the Debug Console asks for a launch.json flag: ${JSON.stringify(repl.slice(0, 300))}`);
        said.push(`${when}: ring.nasm:${line}: ${JSON.stringify(/Divergence from native[^\n]*/.exec(header)?.[0].slice(0, 160))}`);
        await endSession(page);
      }
      return `(${said.join('; ')})`;
    } finally {
      await endSession(page);
      if (await filter.isChecked().catch(() => false)) await filter.uncheck();
      await h.chooseTechnique(page, 'Paravirtual');
    }
  });
}
