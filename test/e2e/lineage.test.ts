/**
 * End to end in code-server: the tutorial pipeline (load-data → mnist-raw → preprocess-data →
 * mnist-preprocess → train (+ convnet from initialize-model) → trained-model → report) logged
 * through the TypeScript SDK; then the lineage panel, its toggle and reveal, a file opened from
 * the graph through the amphora: file system, completion inside a reference string, and the
 * quick fixes of the reference diagnostics. Screenshots go to test-results/e2e/lineage-*.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FrameLocator, Page } from 'playwright-core';
import { Artifact } from '../../src/client/artifact.js';
import { Client } from '../../src/client/client.js';
import { init, type Run } from '../../src/client/run.js';
import { clickActivity, startHarness, until, type Harness } from './harness.js';
import { answerQuickInput, runCommand } from './ui.js';

const PROJECT = 'artifacts-example';
const PIPELINE_PY = `import amphora as wandb

run = wandb.init(project="${PROJECT}", job_type="train")
raw = run.use_artifact("mnist-raw:latest")
model = run.use_artifact("trained-modle:latest")
data = run.use_artifact("mnist-")
`;

async function goToLine(page: Page, line: number, column: number) {
  const at = page.locator('.statusbar-item').filter({ hasText: `Ln ${line}, Col ${column}` }).first();
  const input = page.locator('.quick-input-widget input').first();
  await until(`the cursor at ${line}:${column}`, async () => {
    if (await at.isVisible()) return true;
    await page.keyboard.press('Control+G');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    await input.fill(`:${line}:${column}`);
    await until('the line number typed', async () => (await input.inputValue()) === `:${line}:${column}`, 5_000, 50);
    await input.press('Enter');
    // The status bar shows the cursor where we asked for it (else Enter came before the picker read the text: again).
    return at.waitFor({ timeout: 3_000 }).then(() => true, () => false);
  }, 30_000, 200);
}

/** The text of one editor line as rendered (non-breaking spaces normalised). */
async function lineText(page: Page, contains: string): Promise<string> {
  const lines = await page.locator('.monaco-editor .view-lines .view-line').allTextContents();
  return (lines.map((l) => l.replace(/\u00a0/g, ' ')).find((l) => l.includes(contains)) ?? '').trim();
}

/**
 * Opens the quick fix menu at the cursor until it offers `title` (diagnostics are recomputed
 * shortly after each edit, so the first request may still see the previous ones).
 */
async function openQuickFix(page: Page, title: string) {
  const item = page.locator('.action-widget .monaco-list-row, .context-view .action-label').filter({ hasText: title }).first();
  for (let attempt = 0; ; attempt++) {
    await page.keyboard.press('Control+.');
    try {
      await item.waitFor({ timeout: 5_000 });
      return item;
    } catch (e) {
      if (attempt === 3) {
        await page.screenshot({ path: 'test-results/e2e/lineage-quick-fix-FAILED.png' });
        throw e;
      }
      await page.keyboard.press('Escape');
      await page.locator('.action-widget').first().waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
    }
  }
}

/** Moves the code action menu's focus to `row` with the keyboard (the menu blocks pointer events) and applies it. */
async function chooseAction(page: Page, row: import('playwright-core').Locator) {
  for (let i = 0; i < 10 && !/\bfocused\b/.test((await row.getAttribute('class')) ?? ''); i++) await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
}

/**
 * Opens the quick fix `title`, chooses it and waits for `applied`. VS Code ignores keys in the
 * first moments after the action widget opens, so an Enter can be lost (the widget closes or
 * stays, the line is unchanged): then the quick fix is opened and chosen again.
 */
async function applyQuickFix(page: Page, title: string, applied: () => Promise<boolean>, shot?: () => Promise<unknown>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const row = await openQuickFix(page, title);
    await shot?.();
    await chooseAction(page, row);
    try {
      await until(`${title} applied`, async () => applied(), 5_000);
      return;
    } catch (e) {
      if (attempt === 2) throw e;
      await page.keyboard.press('Escape');
      await page.locator('.action-widget').first().waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
    }
  }
}

function lineageFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
}

describe('e2e: lineage, amphora: files, completion and diagnostics in code-server', function () {
  this.timeout(240_000);
  let h: Harness;
  let client: Client;
  const runs: Record<string, Run> = {};
  let step: (jobType: string, uses: string[], logs?: [string, string, Record<string, string>]) => Promise<void>;

  before(async function () {
    this.timeout(900_000);
    h = await startHarness({ files: { 'pipeline.py': PIPELINE_PY }, settings: { 'amphora.project': PROJECT, 'editor.quickSuggestions': { strings: false } } });
    client = await Client.connect({ baseUrl: h.server.url, apiKey: h.server.apiKey, cacheDir: path.join(h.root, 'sdk-cache'), env: {} });
    let n = 0;
    const log = async (run: Run, name: string, type: string, files: Record<string, string>) => {
      const dir = path.join(h.root, `seed-${n++}`);
      mkdirSync(dir, { recursive: true });
      for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
      const a = new Artifact(name, type, { description: `${name} of the tutorial` });
      await a.addDir(dir);
      await run.logArtifact(a);
    };
    step = async (jobType, uses, logs) => {
      const run = await init({ client, project: PROJECT, jobType });
      for (const ref of uses) await run.useArtifact(ref);
      if (logs) await log(run, ...logs);
      await run.finish();
      runs[jobType] = run;
    };
    await step('load-data', [], ['mnist-raw', 'dataset', { 'training.csv': 'x,y\n0,0\n' }]);
    await step('preprocess-data', ['mnist-raw:latest'], ['mnist-preprocess', 'dataset', { 'training.csv': 'x,y\n0,0\n', 'notes.txt': 'normalised\n' }]);
    await step('initialize-model', [], ['convnet', 'model', { 'initialized_model.pth': 'weights-0' }]);
    await step('train', ['mnist-preprocess:latest', 'convnet:latest'], ['trained-model', 'model', { 'trained_model.pth': 'weights-1' }]);
    await step('report', ['mnist-preprocess:latest', 'trained-model:latest']);
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await h?.stop();
  });

  it('the lineage panel shows every run and version of the tutorial pipeline with the right edges', async () => {
    const { page } = h;
    await clickActivity(page, 'Amphora');
    await page.locator('.statusbar-item').filter({ hasText: /Amphora/ }).first().waitFor({ timeout: 30_000 });
    await runCommand(page, 'Amphora: Show Lineage');
    // From the palette with nothing selected: the whole project (amphora.project names it).
    await answerQuickInput(page, /Show Lineage: artifact in artifacts-example/, undefined, /whole project/);
    const frame = lineageFrame(page);
    await frame.locator('svg.graph[data-level="instance"]').waitFor({ timeout: 30_000 });
    const nodes = frame.locator('g.node');
    await until('9 nodes', async () => (await nodes.count()) === 9, 15_000);
    const labelById = new Map<string, string>();
    for (const g of await nodes.all()) labelById.set((await g.getAttribute('data-id'))!, (await g.locator('text.label').textContent())!);
    const label = (jobType: string) => `${jobType}:${runs[jobType].name}`;
    const expectedLabels = [
      label('load-data'), label('preprocess-data'), label('initialize-model'), label('train'), label('report'),
      'dataset:mnist-raw:v0', 'dataset:mnist-preprocess:v0', 'model:convnet:v0', 'model:trained-model:v0',
    ];
    assert.deepEqual([...labelById.values()].sort(), expectedLabels.sort());
    const edges: string[] = [];
    for (const e of await frame.locator('path.edge').all()) {
      edges.push(`${labelById.get((await e.getAttribute('data-source'))!)} → ${labelById.get((await e.getAttribute('data-target'))!)}`);
    }
    assert.deepEqual(edges.sort(), [
      `${label('load-data')} → dataset:mnist-raw:v0`,
      `dataset:mnist-raw:v0 → ${label('preprocess-data')}`,
      `${label('preprocess-data')} → dataset:mnist-preprocess:v0`,
      `${label('initialize-model')} → model:convnet:v0`,
      `dataset:mnist-preprocess:v0 → ${label('train')}`,
      `model:convnet:v0 → ${label('train')}`,
      `${label('train')} → model:trained-model:v0`,
      `dataset:mnist-preprocess:v0 → ${label('report')}`,
      `model:trained-model:v0 → ${label('report')}`,
    ].sort());
    assert.equal(await frame.locator('g.node[data-id^="run:"]').count(), 5);
    assert.equal(await frame.locator('g.node[data-id^="artifact:"] text.aliases').count(), 4, 'every version shows its aliases');
    await h.shot('lineage-01-instances');
  });

  it('the toggle switches to the collapsed view of types and back', async () => {
    const { page } = h;
    const frame = lineageFrame(page);
    await frame.locator('.segmented button[data-level="type"]').click();
    await frame.locator('svg.graph[data-level="type"]').waitFor({ timeout: 10_000 });
    const ids = (await frame.locator('g.node').evaluateAll((els) => els.map((e) => (e as SVGGElement).dataset.id))).sort();
    assert.deepEqual(ids, ['artifactType:dataset', 'artifactType:model', 'jobType:initialize-model', 'jobType:load-data', 'jobType:preprocess-data', 'jobType:report', 'jobType:train']);
    assert.equal(await frame.locator('g.node[data-id="artifactType:dataset"] text.label').textContent(), 'dataset (2)');
    await h.shot('lineage-02-types');
    await frame.locator('.segmented button[data-level="instance"]').click();
    await frame.locator('svg.graph[data-level="instance"]').waitFor({ timeout: 10_000 });
    assert.equal(await frame.locator('g.node').count(), 9);
  });

  it('a click reveals the node in the tree and shows its details; a double-click opens its file read-only', async () => {
    const { page } = h;
    const frame = lineageFrame(page);
    const node = frame.locator('g.node').filter({ has: frame.locator('text.label', { hasText: /^dataset:mnist-preprocess:v0$/ }) });
    await node.click();
    await frame.locator('.details h2', { hasText: 'dataset:mnist-preprocess:v0' }).waitFor({ timeout: 10_000 });
    const selected = page.locator('.pane:has(.title:has-text("Artifacts")) .monaco-list-row.selected, [id="workbench.view.extension.amphora"] .monaco-list-row.selected').first();
    await until('the version row selected in the Artifacts tree', async () => /v0/.test((await selected.textContent({ timeout: 1000 })) ?? ''), 20_000);
    const parentRow = page.locator('.monaco-list-row').filter({ hasText: 'mnist-preprocess' }).first();
    assert.equal(await parentRow.getAttribute('aria-expanded'), 'true', 'the tree expanded down to the revealed version');
    await h.shot('lineage-03-click-reveals');

    const raw = frame.locator('g.node').filter({ has: frame.locator('text.label', { hasText: /^dataset:mnist-raw:v0$/ }) });
    await raw.dblclick();
    const tab = page.locator('.tabs-container .tab').filter({ hasText: 'training.csv' }).first();
    try {
      await tab.waitFor({ timeout: 20_000 });
    } catch (e) {
      await h.shot('lineage-04-open-file-FAILED');
      const banner = await frame.locator('.banner').textContent().catch(() => '');
      const notes = await page.locator('.notifications-toasts').textContent().catch(() => '');
      throw new Error(`no editor tab for training.csv (banner: ${banner}; notifications: ${notes})`);
    }
    await until('the file content from the server', async () => (await page.locator('.monaco-editor .view-lines').first().textContent())?.includes('x,y'), 15_000);
    await h.shot('lineage-04-open-file-amphora-fs');
  });

  it('a double-click on a run node (and its Open run action) opens the run view, not JSON details', async () => {
    const { page } = h;
    // The previous test left a file's editor in front of the graph.
    await page.locator('.tabs-container .tab').filter({ hasText: /Lineage/ }).first().click();
    const frame = lineageFrame(page);
    const name = runs['train'].name;
    const runNode = frame.locator('g.node').filter({ has: frame.locator('text.label', { hasText: new RegExp(`^train:${name}$`) }) });
    await runNode.dblclick();
    const tab = page.locator('.tabs-container .tab').filter({ hasText: `Run: ${name}` }).first();
    await tab.waitFor({ timeout: 20_000 });
    // Some webview frame (the run view's) shows the run's name as its heading.
    await until('the run view of the train run', async () => {
      for (const f of page.frames()) if ((await f.locator('.run-header h1').textContent({ timeout: 500 }).catch(() => null)) === name) return true;
      return false;
    }, 30_000);
    assert.equal(await page.locator('.tabs-container .tab').filter({ hasText: /Untitled|\.json/ }).count(), 0, 'no JSON document opened');
    await h.shot('lineage-04b-run-node-opens-run-view');
    // The details panel's "Open run" does the same (it is the node's context action).
    await tab.locator('.codicon-close, .action-label.codicon-close').first().click();
    await tab.waitFor({ state: 'detached', timeout: 10_000 });
    await page.locator('.tabs-container .tab').filter({ hasText: /Lineage/ }).first().click();
    await runNode.click();
    await frame.locator('.details button.open', { hasText: 'Open run' }).click();
    await page.locator('.tabs-container .tab').filter({ hasText: `Run: ${name}` }).first().waitFor({ timeout: 20_000 });
    await page.locator('.tabs-container .tab').filter({ hasText: /Lineage/ }).first().click();
  });

  it('updates live when a pipeline logs a new version, without a refresh', async () => {
    const { page } = h;
    await page.locator('.tabs-container .tab').filter({ hasText: 'Lineage' }).first().click();
    const frame = lineageFrame(page);
    await until('the graph shown again', async () => (await frame.locator('g.node').count()) === 9, 20_000);
    const started = Date.now();
    await step('load-data', [], ['mnist-raw', 'dataset', { 'training.csv': 'x,y\n0,0\n1,1\n' }]);
    await until('the new run and version in the graph', async () => (await frame.locator('g.node').count()) === 11, 15_000, 100);
    const ms = Date.now() - started;
    assert.equal(await frame.locator('g.node text.label', { hasText: /^dataset:mnist-raw:v1$/ }).count(), 1);
    await h.shot('lineage-08-live-update');
    console.log(`      new version drawn ${ms} ms after the SDK started logging it`);
  });

  it('restores the panel after a window reload', async () => {
    const { page } = h;
    await page.reload();
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    const tab = page.locator('.tabs-container .tab').filter({ hasText: 'Lineage' }).first();
    await tab.waitFor({ timeout: 30_000 });
    await tab.click();
    const frame = lineageFrame(page);
    await until('the restored graph', async () => (await frame.locator('g.node').count()) === 11, 30_000);
    await h.shot('lineage-09-restored-after-reload');
  });

  it('compares two versions: manifest diff, then the diff editor for a changed text file', async () => {
    const { page } = h;
    await runCommand(page, 'Amphora: Compare Versions…');
    const pick = (title: RegExp, value: string) => answerQuickInput(page, title, value);
    await pick(/artifact in/, 'mnist-raw');
    await pick(/version of .*mnist-raw/, 'v0');
    await pick(/Compare mnist-raw:v0 with/, 'v1');
    const report = page.locator('.monaco-editor .view-lines').filter({ hasText: 'Compare mnist-raw:v0 → mnist-raw:v1' }).first();
    await report.waitFor({ timeout: 20_000 });
    assert.match((await report.textContent())?.replace(/\u00a0/g, ' ') ?? '', /0 added, 0 removed, 1 changed.*~ changed training\.csv {2}8 B → 12 B \(\+4 B\)/);
    await h.shot('lineage-10-compare-report');
    await pick(/changed text file/, 'training.csv');
    const diff = page.locator('.monaco-diff-editor').first();
    await diff.waitFor({ timeout: 20_000 });
    await until('both sides loaded', async () => ((await diff.textContent()) ?? '').includes('1,1'), 15_000);
    await h.shot('lineage-11-text-diff');
  });

  it('completion offers artifact names inside a reference string', async () => {
    const { page } = h;
    await clickActivity(page, 'Explorer');
    await page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: /^pipeline\.py$/ }).first().click();
    await page.locator('.monaco-editor .view-lines').filter({ hasText: 'wandb.init' }).first().waitFor({ timeout: 15_000 });
    // Line 6: data = run.use_artifact("mnist-") — cursor right after "mnist-".
    await goToLine(page, 6, 'data = run.use_artifact("mnist-'.length + 1);
    await page.keyboard.press('Control+Space');
    const suggest = page.locator('.suggest-widget .monaco-list-row');
    await until('suggestions with artifact names', async () => {
      const rows = await suggest.allTextContents();
      return rows.some((r) => r.includes('mnist-raw')) && rows.some((r) => r.includes('mnist-preprocess'));
    }, 20_000);
    await h.shot('lineage-05-completion');
    await page.locator('.suggest-widget .monaco-list-row').filter({ hasText: 'mnist-preprocess' }).first().click();
    await until('the name completed', async () => (await lineText(page, 'data = ')).includes('"mnist-preprocess"'), 10_000);
  });

  it('the "Pin to vN" quick fix replaces a moving alias; the typo fix changes to the nearest name', async () => {
    const { page } = h;
    // Line 4: raw = run.use_artifact("mnist-raw:latest") — an information hint on "latest".
    await goToLine(page, 4, 'raw = run.use_artifact("mnist-raw:la'.length);
    await until('a diagnostic on the alias', async () => (await page.locator('.squiggly-info, .squiggly-hint, .squiggly-warning').count()) > 0, 20_000);
    // The live-update test logged mnist-raw:v1, so latest points there now.
    await applyQuickFix(page, 'Pin to v1', async () => (await lineText(page, 'raw = ')).includes('"mnist-raw:v1"'), () => h.shot('lineage-06-pin-quick-fix'));

    await goToLine(page, 5, 'model = run.use_artifact("trained-mo'.length);
    await applyQuickFix(page, 'Change to "trained-model"', async () => (await lineText(page, 'model = ')).includes('"trained-model:latest"'));
    await h.shot('lineage-07-after-fixes');
  });
  it('Show Lineage on a reference focuses its version; expanding a node fetches its neighbours', async () => {
    const { page } = h;
    // Line 6 now reads data = run.use_artifact("mnist-preprocess") (completed above).
    await goToLine(page, 6, 'data = run.use_artifact("mnist-pre'.length);
    await runCommand(page, 'Amphora: Show Lineage');
    const frame = lineageFrame(page);
    const focus = frame.locator('g.node.focus text.label');
    await until('focus on mnist-preprocess:v0', async () => (await focus.textContent({ timeout: 1000 })) === 'dataset:mnist-preprocess:v0', 30_000);
    // Depth 2 around it: its producer, consumers, their inputs and outputs; not load-data nor initialize-model.
    const labels = async () => (await frame.locator('g.node text.label').allTextContents()).sort();
    await until('depth-2 graph', async () => (await frame.locator('g.node').count()) === 7, 15_000);
    assert.ok(!(await labels()).some((l) => l.startsWith('load-data:')), 'load-data is beyond depth 2');
    await frame.locator('g.node').filter({ has: frame.locator('text.label', { hasText: /^dataset:mnist-raw:v0$/ }) }).click();
    await frame.locator('.details button.expand').click();
    await until('load-data after expanding mnist-raw:v0', async () => (await labels()).some((l) => l.startsWith('load-data:')), 15_000);
    assert.equal(await frame.locator('g.node').count(), 8);
    assert.equal(await frame.locator('.details button.expand').textContent(), 'Expand again');
    await h.shot('lineage-12-expanded');
  });

  it('the Lineage action of a reference\'s CodeLens focuses that version', async () => {
    const { page } = h;
    // Back to the script (the panel took the editor); line 4 was pinned to mnist-raw:v1 above.
    await page.locator('.tabs-container .tab').filter({ hasText: 'pipeline.py' }).first().click();
    const lens = page.locator('.codelens-decoration').filter({ hasText: 'mnist-raw:v1 →' }).first();
    const action = lens.locator('a', { hasText: /^Lineage$/ });
    await until('the lens with its actions', async () => (await action.count()) > 0, 20_000);
    assert.match((await lens.textContent()) ?? '', /Reveal.*Lineage.*Download/);
    await action.click();
    const frame = lineageFrame(page);
    const focus = frame.locator('g.node.focus text.label');
    await until('focus on mnist-raw:v1', async () => (await focus.textContent({ timeout: 1000 })) === 'dataset:mnist-raw:v1', 30_000);
    await h.shot('lineage-13-from-codelens');
  });
});
