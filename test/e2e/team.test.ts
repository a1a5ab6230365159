/**
 * The extension against a team server (code-server 4.100.3 driven through Chromium): Sign In
 * reports the user and role, the status bar names server and user, and a viewer's version rows
 * offer no Delete and no edits. Screenshots land in test-results/e2e/.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { Api } from '../integration/server-helpers.js';
import { startHarness, until, clickActivity, type Harness } from './harness.js';
import { acceptQuickInput } from './ui.js';

const BOOTSTRAP = 'e2e-team-bootstrap-key-0123456789abcdefghij';

async function row(page: Page, text: string | RegExp) {
  const pane = page.locator('.pane').filter({ has: page.locator('.pane-header h3.title', { hasText: /^Artifacts$/i }) });
  return pane.locator('.monaco-list-row').filter({ hasText: text }).first();
}

describe('e2e: the extension signed in to a team server', function () {
  this.timeout(240_000);
  let h: Harness;
  let bobKey: string;

  before(async function () {
    this.timeout(900_000);
    h = await startHarness({ files: { 'notes.txt': 'team\n' }, settings: (url) => ({ 'amphora.serverUrl': url }), team: { bootstrapKey: BOOTSTRAP } });
    const admin = new Api(h.server.url, BOOTSTRAP);
    const ok = async (p: Promise<{ status: number; body: any }>) => {
      const r = await p;
      assert.ok(r.status < 300, JSON.stringify(r.body));
      return r.body;
    };
    await ok(admin.post('/api/v1/teams', { name: 'vision' }));
    bobKey = (await ok(admin.post('/api/v1/users', { name: 'bob' }))).apiKey;
    await ok(admin.post('/api/v1/teams/vision/members', { user: 'bob', role: 'viewer' }));
    await ok(admin.logVersion('mnist', 'raw', 'dataset', { 'train.csv': 'x,y\n1,2\n' }, { entity: 'vision', aliases: ['best'] }));
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && h) await h.shot(`failed-team-${this.currentTest.title.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
  });
  after(async () => h?.stop());

  it('Sign In names the user and role; the status bar names user and server', async () => {
    const { page } = h;
    // Not signed in yet: the Artifacts view offers Sign In.
    await clickActivity(page, 'Amphora');
    const link = page.locator('.pane-body a, .welcome-view-content a, .monaco-button').filter({ hasText: 'Sign In to a Team Server' }).first();
    await link.waitFor({ timeout: 30_000 });
    await h.shot('team-00-disconnected');
    await link.click();
    await until('the API key prompt', async () => /Sign In to http/.test((await page.locator('.quick-input-widget .quick-input-title').textContent({ timeout: 1000 })) ?? ''), 15_000);
    await acceptQuickInput(page, bobKey);
    const toast = page.locator('.notifications-toasts').filter({ hasText: 'Signed in to' });
    await until('the signed-in message', async () => /as bob \(admin of bob, viewer of vision\)/.test((await toast.textContent({ timeout: 1000 })) ?? ''), 30_000);
    const host = new URL(h.server.url).host;
    await until('status bar with user and server', async () => (await page.locator('.statusbar-item').filter({ hasText: `Amphora: bob@${host}` }).count()) > 0, 20_000);
    await h.shot('team-01-signed-in');
  });

  it('a viewer\'s version rows offer download and copy, but no Delete and no alias or metadata edits', async () => {
    const { page } = h;
    // The side bar is still open from Sign In: clicking its icon again would close it.
    if (!(await page.locator('.pane-header h3.title', { hasText: /^Artifacts$/i }).first().isVisible())) await clickActivity(page, 'Amphora');
    for (const label of ['mnist', 'dataset', /^\s*raw/]) {
      const r = await row(page, label);
      await r.waitFor({ timeout: 30_000 });
      // A click selects; the right arrow expands even when a click only focused the row.
      await until(`${label} expanded`, async () => {
        if ((await r.getAttribute('aria-expanded')) === 'true') return true;
        await r.click();
        await page.keyboard.press('ArrowRight');
        return until(`${label} to take the expand`, async () => (await r.getAttribute('aria-expanded')) === 'true', 1_500, 100).catch(() => false);
      }, 15_000);
    }
    const v0 = await row(page, /v0.*best/);
    await v0.waitFor({ timeout: 15_000 });
    await v0.click({ button: 'right' });
    const labels = page.locator('.context-view .action-label');
    // What the menu must offer shows first; only a complete menu can prove what it leaves out.
    const items = await until('the menu with Copy Reference and Download', async () => {
      const shown = (await labels.allTextContents()).map((t) => t.trim()).filter(Boolean);
      return shown.includes('Copy Reference') && shown.includes('Download to Workspace') && shown.includes('Show Lineage') ? shown : undefined;
    }, 10_000, 100);
    await h.shot('team-02-viewer-menu');
    await page.keyboard.press('Escape');
    assert.ok(items.includes('Copy Reference'), items.join(' | '));
    assert.ok(items.includes('Download to Workspace'), items.join(' | '));
    for (const hidden of ['Delete Version…', 'Add Alias…', 'Remove Alias…', 'Edit Description…', 'Edit Metadata']) assert.ok(!items.includes(hidden), `${hidden} offered to a viewer: ${items.join(' | ')}`);
    // The tooltip says who logged the version.
    await v0.hover();
    await until('tooltip "by admin"', async () => /by admin/.test((await page.locator('.monaco-hover, .workbench-hover').first().textContent({ timeout: 1000 })) ?? ''), 15_000);
    await h.shot('team-03-tooltip-by-user');
  });
});
