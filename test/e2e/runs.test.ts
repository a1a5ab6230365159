/**
 * End to end in code-server: the tutorial pipeline (Python, `import amphora as wandb`) logs its
 * runs; the run view opens from the Runs tree and shows the loss chart and config table; a live
 * run's chart grows as it logs; two runs are compared; Open Producer Code from a CodeLens opens
 * the producing program at the commit its run recorded (the work tree has moved on since).
 * Screenshots go to test-results/e2e/runs-*.png.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { Artifact } from '../../src/client/artifact.js';
import { Client } from '../../src/client/client.js';
import { init, type Run } from '../../src/client/run.js';
import { clickActivity, REPO, startHarness, until, type Harness } from './harness.js';
import { contextMenu, runCommand, showSideBar } from './ui.js';

const PROJECT = 'artifacts-example';
const USE_PY = `import amphora as wandb

run = wandb.init(project="${PROJECT}", job_type="report")
model = run.use_artifact("produced-model:latest")
`;
const PRODUCER_V1 = '# FIRST VERSION of the producer\nimport amphora as wandb\n\nrun = wandb.init(job_type="produce")\nrun.log_artifact(model)\n';
const TABLES_PY = `import amphora as wandb

run = wandb.init(project="${PROJECT}", job_type="evaluate")
preds = wandb.Table(columns=["id", "label", "score"], data=[[i, ["cat", "dog"][i % 2], i / 10] for i in range(250)])
run.log({"predictions": preds})
art = wandb.Artifact("eval-preds", type="predictions")
art.add(preds, "preds")
run.log_artifact(art)
run.finish()
`;
const PRODUCER_V2 = '# SECOND VERSION: the work tree moved on\nimport amphora as wandb\n';

function rowByText(page: Page, view: string, text: string | RegExp): Locator {
  const pane = page.locator('.pane').filter({ has: page.locator('.pane-header h3.title', { hasText: new RegExp(`^${view}$`, 'i') }) });
  return pane.locator('.monaco-list-row').filter({ hasText: text }).first();
}

/** The run webview's document (the active webview panel). */
function runFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
}

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } }).trim();

describe('e2e: runs in the editor (run view, live charts, compare, Open Producer Code)', function () {
  this.timeout(300_000);
  let h: Harness;
  let client: Client;
  let recordedCommit = '';

  before(async function () {
    this.timeout(900_000);
    h = await startHarness({ files: { 'use.py': USE_PY, 'producer.py': PRODUCER_V1 }, settings: { 'amphora.project': PROJECT } });
    client = await Client.connect({ baseUrl: h.server.url, apiKey: h.server.apiKey, cacheDir: path.join(h.root, 'sdk-cache'), env: {} });
    // The tutorial pipeline, as a user runs it.
    copyFileSync(path.join(REPO, 'examples/tutorial/pipeline.py'), path.join(h.workspace, 'pipeline.py'));
    execFileSync('python3', ['pipeline.py'], {
      cwd: h.workspace,
      env: { ...process.env, PYTHONPATH: path.join(REPO, 'python'), AMPHORA_BASE_URL: h.server.url, AMPHORA_API_KEY: h.server.apiKey, AMPHORA_CACHE_DIR: h.cacheDir },
      stdio: 'pipe',
      timeout: 240_000,
    });
    // A producer whose recorded commit is no longer HEAD: the code must open at that commit.
    git(h.workspace, 'init', '-q', '-b', 'main');
    git(h.workspace, 'add', 'producer.py', 'use.py');
    git(h.workspace, 'commit', '-qm', 'first');
    recordedCommit = git(h.workspace, 'rev-parse', 'HEAD');
    writeFileSync(path.join(h.workspace, 'producer.py'), PRODUCER_V2);
    git(h.workspace, 'commit', '-qam', 'second');
    const producer = await client.http.createRun(client.entity, PROJECT, {
      jobType: 'produce',
      provenance: { program: 'producer.py', root: h.workspace, git: { commit: recordedCommit, branch: 'main', remote: null, dirty: false, diffFile: null, diffTruncated: false } },
    });
    const weights = path.join(h.root, 'produced');
    mkdirSync(weights, { recursive: true });
    writeFileSync(path.join(weights, 'model.bin'), 'weights');
    const art = new Artifact('produced-model', 'model');
    await art.addDir(weights);
    await art.log({ client, project: PROJECT, runId: producer.id });
    await client.http.updateRun(client.entity, PROJECT, producer.id, { state: 'finished' });
    // The git extension finds the repository created after start-up once the window reloads.
    await runCommand(h.page, 'Developer: Reload Window');
    await h.page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await until('the git extension to show the repository\'s branch', async () => (await h.page.locator('.statusbar-item', { hasText: /^\s*main\*?\s*$/ }).count()) > 0, 60_000);
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && h) await h.shot(`runs-failed-${this.currentTest.title.slice(0, 40).replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await h?.stop();
  });

  async function showAmphora(page: Page) {
    await until('Amphora side bar', async () => {
      if (await page.locator('.pane-header h3.title', { hasText: /^Runs$/i }).first().isVisible()) return true;
      await clickActivity(page, 'Amphora');
      return false;
    }, 30_000, 1000);
  }

  async function openRunFromTree(page: Page, jobType: string, name: RegExp): Promise<Locator> {
    await showAmphora(page);
    const project = rowByText(page, 'Runs', PROJECT);
    await project.waitFor({ timeout: 30_000 });
    if ((await project.getAttribute('aria-expanded')) !== 'true') await project.click();
    const jt = rowByText(page, 'Runs', new RegExp(`^${jobType}`));
    await jt.waitFor({ timeout: 15_000 });
    if ((await jt.getAttribute('aria-expanded')) !== 'true') await jt.click();
    const row = rowByText(page, 'Runs', name);
    await row.waitFor({ timeout: 15_000 });
    // The tree may redraw between the hover and the click (a run that just finished moves rows):
    // hover again until the row's inline action takes the click.
    await until(`the Open Run action of ${name}`, async () => {
      await row.hover();
      return row.locator('.action-label[aria-label="Open Run"]').click({ timeout: 2_000 }).then(() => true, () => false);
    }, 30_000, 200);
    return row;
  }

  it('opens a run of the tutorial from the Runs tree: loss chart, config table, header', async () => {
    const { page } = h;
    await openRunFromTree(page, 'train', /finished/);
    const frame = runFrame(page);
    const chart = frame.locator('figure.chart[data-key="train/loss"]');
    await chart.waitFor({ timeout: 30_000 });
    await until('the loss chart drawn', async () => Number(await chart.getAttribute('data-total', { timeout: 1000 })) > 0, 20_000);
    assert.equal(await frame.locator('.run-header .state').textContent(), 'finished');
    assert.equal(await frame.locator('dd[data-field="job type"]').textContent(), 'train');
    const config = (await frame.locator('table.config-table').textContent()) ?? '';
    assert.match(config, /epochs/);
    assert.match(config, /batch_size/);
    assert.ok(await frame.locator('figure.chart[data-key="validation/accuracy"]').count(), 'accuracy is charted too');
    assert.match((await frame.locator('#artifacts').textContent()) ?? '', /trained-model:v0/);
    await h.shot('runs-01-run-view');
  });

  it('a live run’s chart grows as it logs, without a refresh', async () => {
    const { page } = h;
    const live: Run = await init({ client, project: PROJECT, jobType: 'live-train', config: { lr: 0.5 } });
    for (let i = 0; i < 5; i++) live.log({ loss: 1 / (i + 1) });
    await live.flush();
    try {
      await openRunFromTree(page, 'live-train', /running/);
      const chart = runFrame(page).locator('figure.chart[data-key="loss"]');
      await until('5 points', async () => (await chart.getAttribute('data-total', { timeout: 1000 })) === '5', 30_000);
      await h.shot('runs-02-live-before');
      for (let i = 5; i < 12; i++) live.log({ loss: 1 / (i + 1) });
      await live.flush();
      await until('12 points after live logging', async () => (await chart.getAttribute('data-total', { timeout: 1000 })) === '12', 30_000);
      await h.shot('runs-03-live-after');
    } finally {
      await live.finish();
    }
  });

  it('compares two runs selected in the Runs tree: overlaid charts and the config diff', async () => {
    const { page } = h;
    await showAmphora(page);
    const a = await init({ client, project: PROJECT, jobType: 'sweep', config: { lr: 0.1, epochs: 3 } });
    const b = await init({ client, project: PROJECT, jobType: 'sweep', config: { lr: 0.01, epochs: 3 } });
    for (let i = 0; i < 10; i++) {
      a.log({ loss: 2 / (i + 1) });
      b.log({ loss: 1 / (i + 1) });
    }
    await a.finish();
    await b.finish();
    const jt = rowByText(page, 'Runs', /^sweep/);
    await until('the sweep job type in the tree', async () => jt.isVisible(), 30_000, 500);
    // A click toggles: on a row the tree already shows open it would hide both runs.
    if ((await jt.getAttribute('aria-expanded')) !== 'true') await jt.click();
    const ra = rowByText(page, 'Runs', a.name);
    const rb = rowByText(page, 'Runs', b.name);
    await until('both sweep runs in the tree', async () => (await ra.isVisible()) && (await rb.isVisible()), 30_000, 500);
    await ra.click();
    await rb.click({ modifiers: ['Control'] });
    await contextMenu(page, rb, 'Compare Runs');
    const frame = runFrame(page);
    const chart = frame.locator('figure.chart[data-key="loss"]');
    await until('both runs charted', async () => (await chart.getAttribute('data-total', { timeout: 1000 })) === '20', 30_000);
    const rows = await frame.locator('table.config-diff tbody tr').evaluateAll((trs) => trs.map((r) => `${r.className}: ${r.textContent}`));
    assert.deepEqual(rows, ['differs: lr0.10.01']);
    await h.shot('runs-04-compare');
  });

  it('Open Producer Code from a CodeLens opens the producer at its recorded commit', async () => {
    const { page } = h;
    // Show the Explorer first: clicking a row of a hidden view waited out Playwright's 30 s timeout.
    await showSideBar(page, 'Explorer');
    await page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: /^use\.py$/ }).first().click();
    const lens = page.locator('.codelens-decoration a').filter({ hasText: 'Producer Code' }).first();
    await lens.waitFor({ timeout: 30_000 });
    await h.shot('runs-05-lens');
    await lens.click();
    const tab = page.locator('.tabs-container .tab.active');
    await until('producer.py opened', async () => /producer\.py/.test((await tab.textContent({ timeout: 1000 })) ?? ''), 20_000);
    // Rendered lines use non-breaking spaces.
    const shown = async () => (await page.locator('.editor-group-container.active .monaco-editor .view-lines').allTextContents()).join('\n').replace(/\u00a0/g, ' ');
    await until('the recorded version of the file', async () => /FIRST VERSION/.test(await shown()), 20_000);
    assert.doesNotMatch(await shown(), /SECOND VERSION/);
    assert.match((await tab.getAttribute('title')) ?? (await tab.textContent()) ?? '', /producer\.py/);
    assert.match(readFileSync(path.join(h.workspace, 'producer.py'), 'utf8'), /SECOND VERSION/, 'the work tree moved on');
    await h.shot('runs-06-producer-code');
  });

  it('logged tables: the run view shows them; a version\'s .table.json opens in the table viewer, and as JSON on request', async () => {
    const { page } = h;
    writeFileSync(path.join(h.workspace, 'tables.py'), TABLES_PY);
    execFileSync('python3', ['tables.py'], {
      cwd: h.workspace,
      env: { ...process.env, PYTHONPATH: path.join(REPO, 'python'), AMPHORA_BASE_URL: h.server.url, AMPHORA_API_KEY: h.server.apiKey, AMPHORA_CACHE_DIR: h.cacheDir },
      stdio: 'pipe',
      timeout: 120_000,
    });
    await openRunFromTree(page, 'evaluate', /finished/);
    const frame = runFrame(page);
    const table = frame.locator('#tables table.logged-table');
    await table.waitFor({ timeout: 30_000 });
    assert.deepEqual(await frame.locator('#tables th[data-column]').allTextContents(), ['id', 'label', 'score']);
    assert.match((await frame.locator('#tables .table-status').textContent()) ?? '', /250 rows · 3 columns/);
    assert.equal(await frame.locator('#tables table.logged-table tbody tr').count(), 100);
    await frame.locator('#tables th[data-column="2"] button').click();
    await frame.locator('#tables th[data-column="2"] button').click();
    await until('sorted by score, descending', async () => (await frame.locator('#tables table.logged-table tbody tr').first().getAttribute('data-row')) === '249', 10_000);
    await h.shot('runs-07-run-view-table');

    // The artifact's table from the Artifacts tree: the viewer, not the text editor.
    await showAmphora(page);
    for (const label of [PROJECT, /^\s*predictions/, /^\s*eval-preds/, /^\s*v0/]) {
      const row = rowByText(page, 'Artifacts', label);
      await row.waitFor({ timeout: 15_000 });
      if ((await row.getAttribute('aria-expanded')) !== 'true') await row.click();
    }
    await rowByText(page, 'Artifacts', /^\s*preds\.table\.json/).click({ timeout: 15_000 });
    await page.locator('.tabs-container .tab').filter({ hasText: 'preds.table.json' }).first().waitFor({ timeout: 20_000 });
    const viewer = runFrame(page);
    await viewer.locator('table.logged-table').waitFor({ timeout: 30_000 });
    assert.equal(await viewer.locator('h1').textContent(), 'preds.table.json');
    assert.match((await viewer.locator('.page-label').textContent()) ?? '', /rows 1–100 of 250 · page 1 of 3/);
    await h.shot('runs-08-table-viewer');
    await viewer.locator('button.open-as-json').click();
    const shown = async () => (await page.locator('.editor-group-container.active .monaco-editor .view-lines').allTextContents()).join('\n').replace(/\u00a0/g, ' ');
    await until('the same file as JSON text', async () => /"_type": ?"table"/.test(await shown()), 20_000);
    await h.shot('runs-09-table-as-json');
  });

  it('the experiments table keeps its chosen columns and sort per project after closing and after a window reload', async () => {
    const { page } = h;
    const tab = page.locator('.tabs-container .tab').filter({ hasText: `Experiments: ${PROJECT}` }).first();
    await runCommand(page, 'Amphora: Show Experiments');
    await tab.waitFor({ timeout: 30_000 });
    let frame = runFrame(page);
    await frame.locator('table.experiments tbody tr').first().waitFor({ timeout: 30_000 });
    await frame.locator('.columns-chooser summary').click();
    const box = frame.locator('.column-list input[type="checkbox"]:not(:checked)').first();
    const column = (await box.getAttribute('value'))!;
    await box.check();
    await frame.locator(`th[data-column="${column}"]`).waitFor({ timeout: 10_000 });
    await frame.locator('th[data-column="name"] button').click();
    await until('sorted by name', async () => (await frame.locator('th[data-column="name"]').getAttribute('aria-sort')) === 'ascending', 10_000);
    const chosen = await frame.locator('th[data-column]').evaluateAll((ths) => ths.map((t) => (t as HTMLElement).dataset.column));
    // Closed and opened again: the same columns and sort.
    await tab.locator('.codicon-close').first().click();
    await tab.waitFor({ state: 'detached', timeout: 10_000 });
    await runCommand(page, 'Amphora: Show Experiments');
    await tab.waitFor({ timeout: 30_000 });
    frame = runFrame(page);
    await frame.locator(`th[data-column="${column}"]`).waitFor({ timeout: 30_000 });
    assert.deepEqual(await frame.locator('th[data-column]').evaluateAll((ths) => ths.map((t) => (t as HTMLElement).dataset.column)), chosen);
    assert.equal(await frame.locator('th[data-column="name"]').getAttribute('aria-sort'), 'ascending');
    // After a window reload the restored panel shows them too.
    await runCommand(page, 'Developer: Reload Window');
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    await tab.waitFor({ timeout: 60_000 });
    await tab.click();
    frame = runFrame(page);
    await frame.locator(`th[data-column="${column}"]`).waitFor({ timeout: 60_000 });
    assert.equal(await frame.locator('th[data-column="name"]').getAttribute('aria-sort'), 'ascending');
    await h.shot('runs-10-experiments-restored');
    // Reset columns: back to the default choice, which is saved too.
    await frame.locator('.columns-chooser summary').click();
    await frame.locator('button.reset-columns').click();
    await until('the chosen column gone', async () => (await frame.locator(`th[data-column="${column}"]`).count()) === 0, 10_000);
  });
});
