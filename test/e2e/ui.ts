/**
 * Driving the VS Code workbench in code-server: the palette, quick inputs, context menus, side
 * bars and tree rows. Every step waits for the state it needs (a focused row, a visible widget)
 * rather than for a fixed time.
 */
import type { Locator, Page } from 'playwright-core';
import { clickActivity, until } from './harness.js';

/** A row of one of the side bar's tree views ("Artifacts", "Runs", …). */
export function treeRow(page: Page, view: string, text: string | RegExp): Locator {
  const pane = page.locator('.pane').filter({ has: page.locator('.pane-header h3.title', { hasText: new RegExp(`^${view}$`, 'i') }) });
  return pane.locator('.monaco-list-row').filter({ hasText: text }).first();
}

const widget = (page: Page) => page.locator('.quick-input-widget');

/** Waits until the quick input's title matches. */
export async function waitForQuickInput(page: Page, title: RegExp, ms = 15_000): Promise<void> {
  await until(`quick input ${title}`, async () => (await widget(page).isVisible()) && title.test((await widget(page).locator('.quick-input-title').textContent({ timeout: 1000 })) ?? ''), ms);
}

/**
 * Types `value` (when given) into the open quick input and accepts it once VS Code has taken the
 * text in: the box holds it and, in a pick list, the focused row is the one that matches.
 */
export async function acceptQuickInput(page: Page, value?: string, row: string | RegExp | undefined = value): Promise<void> {
  const input = widget(page).locator('input').first();
  if (value !== undefined) await input.fill(value);
  await until(`the quick input to take ${JSON.stringify(value ?? '')}`, async () => {
    if (value !== undefined && (await input.inputValue()) !== value) return false;
    const list = widget(page).locator('.quick-input-list');
    if (!(await list.isVisible()) || (await list.locator('.monaco-list-row').count()) === 0) return true;
    const focused = ((await list.locator('.monaco-list-row.focused').first().textContent({ timeout: 500 })) ?? '');
    if (!focused) return false;
    return row === undefined || (typeof row === 'string' ? focused.includes(row) : row.test(focused));
  }, 10_000, 50);
  await input.press('Enter');
}

/** Waits for a quick input titled `title`, then accepts `value` in it. */
export async function answerQuickInput(page: Page, title: RegExp, value?: string, row?: string | RegExp): Promise<void> {
  await waitForQuickInput(page, title);
  await acceptQuickInput(page, value, row ?? value);
}

/** Runs a command from the Command Palette (F1), exactly as a user picks it there. */
export async function runCommand(page: Page, title: string): Promise<void> {
  const input = widget(page).locator('input').first();
  const rowLabels = widget(page).locator('.monaco-list-row .label-name');
  // The palette matches fuzzily: wait until the exact title is the focused row.
  const exact = new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  let seen = '';
  await until(`${title} focused in the palette`, async () => {
    // A reveal finishing elsewhere (a download shown in the Explorer) or a quick pick a previous
    // command opened late can take the focus or replace the palette: open it again.
    if (!(await input.isVisible()) || (await input.inputValue()) !== `>${title}`) {
      if (!(await input.isVisible()) || !(await input.inputValue()).startsWith('>')) {
        await page.keyboard.press('F1');
        await input.waitFor({ state: 'visible', timeout: 5_000 });
      }
      await input.fill(`>${title}`);
    }
    const rows = (await rowLabels.allTextContents()).map((r) => r.trim());
    const focused = ((await widget(page).locator('.monaco-list-row.focused .label-name').first().textContent({ timeout: 500 }).catch(() => '')) ?? '').trim();
    seen = `input ${JSON.stringify(await input.inputValue().catch(() => ''))}, focused ${JSON.stringify(focused)}, rows ${JSON.stringify(rows.slice(0, 6))}`;
    if (exact.test(focused)) return true;
    // Another entry has the focus (results re-sort while the list fills): move to ours, up or down.
    const ours = rows.findIndex((r) => exact.test(r));
    const at = rows.indexOf(focused);
    if (ours >= 0 && at >= 0) await input.press(ours > at ? 'ArrowDown' : 'ArrowUp');
    return false;
  }, 15_000, 100).catch((e: Error) => {
    throw new Error(`${e.message} (last seen: ${seen})`);
  });
  await input.press('Enter');
}

/** Right-clicks `target` and chooses `label` once the menu item has taken the pointer's focus. */
export async function contextMenu(page: Page, target: Locator, label: string): Promise<void> {
  await target.click({ button: 'right' });
  const item = page.locator('.context-view .action-item').filter({ has: page.locator('.action-label', { hasText: label }) }).first();
  await item.waitFor({ state: 'visible', timeout: 10_000 });
  // VS Code ignores input in the first moments after a menu opens: hover until the item is focused.
  await until(`${label} focused in the menu`, async () => {
    await item.hover();
    return /\bfocused\b/.test((await item.getAttribute('class')) ?? '');
  }, 5_000, 100);
  await page.keyboard.press('Enter');
  await until(`context menu to close after ${label}`, async () => !(await page.locator('.context-view .monaco-menu').isVisible()), 5_000);
}

/** Shows a side bar container (clicking its icon only while it is not showing: a second click hides it). */
export async function showSideBar(page: Page, which: 'Amphora' | 'Explorer'): Promise<void> {
  const marker = which === 'Amphora' ? page.locator('.pane-header h3.title', { hasText: /^Artifacts$/i }) : page.locator('.explorer-folders-view');
  await until(`${which} side bar`, async () => {
    if (await marker.first().isVisible()) return true;
    await clickActivity(page, which);
    return marker.first().waitFor({ state: 'visible', timeout: 2_000 }).then(() => true, () => false);
  }, 15_000, 100);
}

/** Expands a tree row unless it already is. */
export async function expand(row: Locator): Promise<void> {
  await row.waitFor({ timeout: 15_000 });
  if ((await row.getAttribute('aria-expanded')) === 'false') await row.click();
  // Expanding waits for the children (a page of versions from a loaded server can take a while).
  await until('the row expanded', async () => (await row.getAttribute('aria-expanded')) === 'true', 30_000, 100);
}

/** The text of the visible hover (editor hover or workbench tooltip), once it shows `expected`. */
export async function hoverText(page: Page, expected: RegExp, ms = 15_000): Promise<string> {
  const hover = page.locator('.monaco-hover:visible, .monaco-resizable-hover:visible, .workbench-hover:visible').first();
  return until(`a hover with ${expected}`, async () => {
    const t = (await hover.textContent({ timeout: 1000 })) ?? '';
    return expected.test(t) ? t : undefined;
  }, ms);
}
