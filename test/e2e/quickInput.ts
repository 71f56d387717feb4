/*
 * The quick input (Ctrl+P, the command palette) as the screen checks open it. A key press can land
 * while focus is moving (a closing picker, a walkthrough re-rendering, a webview taking focus as it
 * loads), and the widget then stays shut or closes again before the text is typed: try again then.
 */
import type { Page } from 'playwright-core';

/** Presses `key` (Control+P, Control+Shift+P) and types `text` into the quick input that opens. */
export async function openQuickInput(page: Page, key: string, text: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 0; ; attempt++) {
    await page.keyboard.press(key);
    const typed = await input.waitFor({ state: 'visible', timeout: 5_000 })
      .then(() => input.fill(text, { timeout: 5_000 }))
      .then(() => true, () => false);
    if (typed) return;
    if (attempt === 2) throw new Error(`the quick input did not open (or closed) for ${JSON.stringify(text)}, three times`);
    await page.keyboard.press('Escape');
    await page.locator('.monaco-workbench').first().click({ position: { x: 5, y: 5 } }).catch(() => undefined);
  }
}
