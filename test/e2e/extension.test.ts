/**
 * The extension in a real VS Code (code-server 4.100.3) driven through Chromium: the sidebar
 * tree, Log as Artifact… from the Explorer, the CodeLens following a new version logged from
 * the SDK, the hover with metadata, and Use Artifact… downloading files.
 * Screenshots of every step land in test-results/e2e/.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { Artifact } from '../../src/client/artifact.js';
import { Client } from '../../src/client/client.js';
import { init } from '../../src/client/run.js';
import { startHarness, until, type Harness } from './harness.js';

const PROJECT = 'e2e-demo';
const TRAIN_PY = `import amphora as wandb

run = wandb.init(project="${PROJECT}", job_type="train")
raw = run.use_artifact("mnist-raw:latest")
path = raw.download()
`;

async function rowByText(page: Page, view: string, text: string | RegExp) {
  return page.locator(`[id="workbench.view.extension.amphora"] .monaco-list-row, .pane:has(.title:has-text("${view}")) .monaco-list-row`).filter({ hasText: text }).first();
}

async function quickInput(page: Page, titlePart: RegExp, value?: string) {
  const widget = page.locator('.quick-input-widget');
  await until(`quick input ${titlePart}`, async () => titlePart.test((await widget.locator('.quick-input-title').textContent({ timeout: 1000 })) ?? '') && (await widget.isVisible()), 15_000);
  const input = widget.locator('input[type="text"], .quick-input-box input').first();
  if (value !== undefined) {
    await input.fill(value);
  }
  await page.waitForTimeout(150);
  await input.press('Enter');
}

async function runCommand(page: Page, title: string) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input').first();
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  await page.locator('.quick-input-widget .monaco-list-row').filter({ hasText: title }).first().waitFor({ timeout: 10_000 });
  await page.waitForTimeout(200);
  await input.press('Enter');
}

describe('e2e: the Amphora extension in code-server', function () {
  this.timeout(240_000);
  let h: Harness;
  let client: Client;

  before(async function () {
    this.timeout(900_000);
    h = await startHarness({
      files: {
        'data/train.csv': 'x,y\n1,2\n3,4\n',
        'data/test.csv': 'x,y\n5,6\n',
        'data/labels/classes.txt': 'zero\none\n',
        'train.py': TRAIN_PY,
      },
    });
    client = await Client.connect({ baseUrl: h.server.url, apiKey: h.server.apiKey, cacheDir: path.join(h.root, 'sdk-cache'), env: {} });
    // v0 from a pipeline run (the extension connects through the discovery file in the data dir).
    const seed = path.join(h.root, 'seed');
    mkdirSync(seed, { recursive: true });
    writeFileSync(path.join(seed, 'train.csv'), 'x,y\n0,0\n');
    const run = await init({ client, project: PROJECT, jobType: 'load-data' });
    const a = new Artifact('mnist-raw', 'dataset', { description: 'raw MNIST split', metadata: { source: 'keras.datasets', rows: 70000 } });
    await a.addDir(seed);
    await run.logArtifact(a);
    await run.finish();
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await h?.stop();
  });

  it('shows logged artifacts and versions in the sidebar tree', async () => {
    const { page } = h;
    await page.locator('.activitybar .action-item a[aria-label^="Amphora"], .activitybar [aria-label^="Amphora"]').first().click({ timeout: 30_000 });
    await (await rowByText(page, 'Artifacts', PROJECT)).waitFor({ timeout: 30_000 });
    await (await rowByText(page, 'Artifacts', PROJECT)).click();
    await (await rowByText(page, 'Artifacts', 'mnist-raw')).click({ timeout: 15_000 });
    const v0 = await rowByText(page, 'Artifacts', /v0.*latest/);
    await v0.waitFor({ timeout: 15_000 });
    await v0.hover();
    await page.waitForTimeout(1200);
    await h.shot('01-tree-versions');
    assert.match((await v0.textContent()) ?? '', /latest/);
    await assert.doesNotReject(until('status bar connected', async () => (await page.locator('.statusbar-item').filter({ hasText: 'Amphora: local' }).count()) > 0, 10_000));
  });

  it('Log as Artifact… on a folder makes a new version that appears in the tree', async () => {
    const { page } = h;
    await page.locator('.activitybar [aria-label^="Explorer"]').first().click();
    const folder = page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: /^data$/ }).first();
    await folder.waitFor({ timeout: 15_000 });
    await folder.click({ button: 'right' });
    await page.locator('.context-view .action-label, .monaco-menu .action-label').filter({ hasText: 'Log as Artifact…' }).first().click({ timeout: 10_000 });
    await quickInput(page, /project/);
    await h.shot('02-log-name');
    await page.locator('.quick-input-widget input').first().fill('mnist-raw');
    await page.waitForTimeout(150);
    await page.locator('.quick-input-widget input').first().press('Enter');
    await quickInput(page, /type/);
    await quickInput(page, /aliases/, 'candidate');
    await quickInput(page, /description/, 'from the explorer');
    await until('v1 on the server', async () => (await client.http.version(client.entity, PROJECT, 'mnist-raw', 'v1')).fileCount === 3, 30_000);
    await page.locator('.activitybar [aria-label^="Amphora"]').first().click();
    const v1 = await rowByText(page, 'Artifacts', /v1.*latest/);
    await v1.waitFor({ timeout: 10_000 });
    await h.shot('03-logged-v1');
    assert.match((await v1.textContent()) ?? '', /candidate/);
  });

  it('the CodeLens on use_artifact("…:latest") shows the version and moves after a new log from the SDK', async () => {
    const { page } = h;
    await page.locator('.activitybar [aria-label^="Explorer"]').first().click();
    await page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: /^train\.py$/ }).first().click();
    const lens = page.locator('.codelens-decoration').filter({ hasText: 'mnist-raw:latest →' }).first();
    await until('lens → v1', async () => /→ v1 · 3 files/.test((await lens.textContent({ timeout: 1000 })) ?? ''), 30_000);
    await h.shot('04-codelens-v1');
    // A pipeline logs v2 from the terminal side; the lens must follow without any refresh.
    const dir = path.join(h.root, 'seed2');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'train.csv'), 'x,y\n9,9\n');
    writeFileSync(path.join(dir, 'extra.csv'), 'x\n1\n');
    const a = new Artifact('mnist-raw', 'dataset', { metadata: { source: 'sdk', rows: 2 } });
    await a.addDir(dir);
    const started = Date.now();
    await a.log({ client, project: PROJECT });
    assert.equal(a.version, 'v2');
    await until('lens → v2', async () => /→ v2 · 2 files/.test((await lens.textContent({ timeout: 1000 })) ?? ''), 15_000, 100);
    const moved = Date.now() - started;
    await h.shot('05-codelens-moved-v2');
    assert.ok(moved < 10_000, `lens moved after ${moved} ms`);
    console.log(`      lens moved ${moved} ms after the SDK logged v2`);
  });

  it('the hover on the reference shows the version and its metadata', async () => {
    const { page } = h;
    const token = page.locator('.view-lines span').filter({ hasText: 'mnist-raw:latest' }).last();
    await token.hover();
    const hover = page.locator('.monaco-hover:visible, .monaco-resizable-hover:visible').first();
    await until('hover with metadata', async () => /rows/.test((await hover.textContent({ timeout: 1000 })) ?? ''), 15_000);
    const text = (await hover.textContent()) ?? '';
    await h.shot('06-hover-metadata');
    assert.match(text, /v2/);
    assert.match(text, /source/);
    assert.match(text, /sdk/);
    assert.match(text, /digest/);
  });

  it('Use Artifact… downloads the files into the workspace', async () => {
    const { page } = h;
    await page.keyboard.press('Escape');
    await runCommand(page, 'Amphora: Use Artifact…');
    await quickInput(page, /Use Artifact/, 'mnist-raw:v1');
    const dest = path.join(h.workspace, 'artifacts', 'mnist-raw:v1');
    await until('downloaded files', () => existsSync(path.join(dest, 'labels', 'classes.txt')) && existsSync(path.join(dest, 'train.csv')), 30_000);
    assert.equal(readFileSync(path.join(dest, 'train.csv'), 'utf8'), 'x,y\n1,2\n3,4\n');
    assert.equal(readFileSync(path.join(dest, 'labels', 'classes.txt'), 'utf8'), 'zero\none\n');
    await page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: 'mnist-raw:v1' }).first().waitFor({ timeout: 10_000 });
    await page.waitForTimeout(500);
    await h.shot('07-use-artifact-downloaded');
  });
});
