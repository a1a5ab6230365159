/**
 * Large graphs in the lineage webview (built bundle in Chromium): finding nodes by name, type, job
 * type or alias, jumping between matches, drawing only the matches, and the selected node staying
 * in view beside the details panel when the graph is wide or the editor narrows.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import type { LineageGraph, LineageNode } from '../../src/core/api.js';
import { launchChromium, openLineagePage, type LineagePage } from './lineagePage.js';
import { run, tutorialLineage, TUTORIAL_STATE, version } from './tutorialLineage.js';

const SHOTS = 'test-results/webview';

/** A long pipeline: step-0 → data-0 → step-1 → data-1 → … (one row, far wider than the page). */
function chain(steps: number): LineageGraph {
  const nodes: LineageNode[] = [];
  const edges: LineageGraph['edges'] = [];
  let prev: LineageNode | undefined;
  for (let i = 0; i < steps; i++) {
    const r = run(`r${i}`, `step-${i}`, i % 2 ? 'train' : 'prepare');
    const v = version(`a${i}`, `data-${i}`, i % 3 ? 'dataset' : 'model', 0, ['latest'], r);
    if (prev) edges.push({ source: prev.id, target: r.id, kind: 'input' });
    edges.push({ source: r.id, target: v.id, kind: 'output' });
    nodes.push(r, v);
    prev = v;
  }
  return { focus: nodes[0].id, level: 'instance', nodes, edges, truncated: false };
}

/** Whether node `id` is drawn wholly inside the graph's canvas (not under the details panel, not off-screen). */
async function inView(p: LineagePage, id: string): Promise<{ inside: boolean; node: DOMRect; canvas: DOMRect }> {
  return p.page.evaluate((nodeId) => {
    const node = document.querySelector(`g.node[data-id="${nodeId}"]`)!.getBoundingClientRect();
    const canvas = document.querySelector('svg.graph')!.getBoundingClientRect();
    const inside = node.left >= canvas.left && node.right <= canvas.right && node.top >= canvas.top && node.bottom <= canvas.bottom;
    return { inside, node: node.toJSON(), canvas: canvas.toJSON() };
  }, id);
}

const classes = (p: LineagePage, id: string) => p.page.locator(`g.node[data-id="${id}"]`).getAttribute('class');

describe('lineage webview: find nodes and keep the selection in view (built bundle in Chromium)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let p: LineagePage;

  before(async function () {
    if (!existsSync('dist/webview/lineage.js')) throw new Error('dist/webview/lineage.js is missing: run `npm run build` first.');
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
  });
  after(async () => browser?.close());
  afterEach(async () => {
    assert.deepEqual(p.pageErrors, [], 'no uncaught errors in the page');
    assert.deepEqual(await p.cspViolations(), [], 'nothing blocked by the Content-Security-Policy');
    await p.page.close();
  });

  it('finds nodes by type, job type, name and alias, and dims the rest', async () => {
    p = await openLineagePage(browser);
    await p.sendAndWaitRender({ type: 'graph', mode: 'replace', state: TUTORIAL_STATE, graph: tutorialLineage() });
    const search = p.page.locator('.toolbar input.search');
    // "model": the two model versions (type) and initialize-model (job type).
    await search.fill('model');
    await p.page.locator('.match-count', { hasText: '3 found' }).waitFor();
    assert.match((await classes(p, 'artifact:a3')) ?? '', /\bmatch\b/);
    assert.match((await classes(p, 'artifact:a4')) ?? '', /\bmatch\b/);
    assert.match((await classes(p, 'run:r3')) ?? '', /\bmatch\b/);
    assert.doesNotMatch((await classes(p, 'run:r1')) ?? '', /\bmatch\b/);
    assert.equal(await p.page.locator('svg.graph.searching').count(), 1, 'the others are dimmed');
    await p.page.screenshot({ path: `${SHOTS}/find-model.png` });
    // Every word must match: the model with alias "best".
    await search.fill('model best');
    await p.page.locator('.match-count', { hasText: '1 found' }).waitFor();
    assert.equal(await p.page.locator('g.node.match').getAttribute('data-id'), 'artifact:a4');
    // A run by its name.
    await search.fill('QUIET-smoke');
    await p.page.locator('.match-count', { hasText: '1 found' }).waitFor();
    assert.equal(await p.page.locator('g.node.match').getAttribute('data-id'), 'run:r4');
    await search.fill('no-such-node');
    await p.page.locator('.match-count', { hasText: 'no match' }).waitFor();
    assert.equal(await p.page.locator('g.node.match').count(), 0);
    // Escape ends the search: nothing dimmed any more.
    await search.press('Escape');
    await p.page.waitForFunction(() => !document.querySelector('svg.graph')!.classList.contains('searching'));
    assert.equal(await search.inputValue(), '');
  });

  it('Enter jumps from match to match: selects it, shows its details, reveals it in the tree', async () => {
    p = await openLineagePage(browser);
    await p.sendAndWaitRender({ type: 'graph', mode: 'replace', state: TUTORIAL_STATE, graph: tutorialLineage() });
    const search = p.page.locator('.toolbar input.search');
    await search.fill('dataset');
    await search.press('Enter');
    await p.page.locator('.match-count', { hasText: '1 of 2' }).waitFor();
    const first = await p.page.locator('g.node.selected').getAttribute('data-id');
    assert.equal(await p.page.locator('.details').getAttribute('data-node-id'), first);
    assert.deepEqual((await p.posted()).at(-1), { type: 'reveal', nodeId: first });
    await search.press('Enter');
    await p.page.locator('.match-count', { hasText: '2 of 2' }).waitFor();
    const second = await p.page.locator('g.node.selected').getAttribute('data-id');
    assert.notEqual(second, first);
    assert.deepEqual(new Set([first, second]), new Set(['artifact:a1', 'artifact:a2']));
    await search.press('Shift+Enter');
    await p.page.locator('.match-count', { hasText: '1 of 2' }).waitFor();
    assert.equal(await p.page.locator('g.node.selected').getAttribute('data-id'), first);
  });

  it('"Only matches" draws the matches and their neighbours, and the whole graph again when turned off', async () => {
    p = await openLineagePage(browser);
    await p.sendAndWaitRender({ type: 'graph', mode: 'replace', state: TUTORIAL_STATE, graph: tutorialLineage() });
    await p.page.locator('.toolbar input.search').fill('convnet');
    await p.page.locator('.match-count', { hasText: '1 found' }).waitFor();
    await p.page.click('.toolbar button.only-matches');
    await p.page.waitForFunction(() => document.querySelector('svg.graph')!.getAttribute('data-node-count') === '3');
    const ids = (await p.page.locator('g.node').evaluateAll((els) => els.map((e) => (e as SVGGElement).dataset.id))).sort();
    // convnet, the run that made it and the run that used it.
    assert.deepEqual(ids, ['artifact:a3', 'run:r3', 'run:r4']);
    await p.page.screenshot({ path: `${SHOTS}/find-only-matches.png` });
    await p.page.click('.toolbar button.only-matches');
    await p.page.waitForFunction(() => document.querySelector('svg.graph')!.getAttribute('data-node-count') === '9');
  });

  it('a match far to the right of a wide graph is panned into view beside the details panel', async () => {
    p = await openLineagePage(browser, { width: 900, height: 600 });
    await p.sendAndWaitRender({ type: 'graph', mode: 'replace', state: { ...TUTORIAL_STATE, focus: 'run:r0' }, graph: chain(30) });
    assert.equal((await inView(p, 'artifact:a29')).inside, false, 'the last node starts out of view');
    const search = p.page.locator('.toolbar input.search');
    await search.fill('data-29');
    await search.press('Enter');
    await p.page.locator('.details[data-node-id="artifact:a29"]').waitFor();
    const where = await inView(p, 'artifact:a29');
    assert.ok(where.inside, `the node is inside the canvas: ${JSON.stringify(where)}`);
    await p.page.screenshot({ path: `${SHOTS}/find-wide-graph.png` });
  });

  it('the selected node stays in view when the editor narrows', async () => {
    p = await openLineagePage(browser, { width: 1200, height: 700 });
    await p.sendAndWaitRender({ type: 'graph', mode: 'replace', state: TUTORIAL_STATE, graph: tutorialLineage() });
    // report is the rightmost node of the fitted graph.
    await p.page.click('g.node[data-id="run:r5"]');
    await p.page.locator('.details[data-node-id="run:r5"]').waitFor();
    assert.ok((await inView(p, 'run:r5')).inside);
    await p.page.setViewportSize({ width: 650, height: 700 });
    await p.page.waitForFunction(() => document.querySelector('svg.graph')!.getBoundingClientRect().width < 500);
    await p.page.waitForFunction(() => {
      const node = document.querySelector('g.node[data-id="run:r5"]')!.getBoundingClientRect();
      const canvas = document.querySelector('svg.graph')!.getBoundingClientRect();
      return node.left >= canvas.left && node.right <= canvas.right;
    }, undefined, { timeout: 5_000 });
    await p.page.screenshot({ path: `${SHOTS}/narrowed-keeps-selection.png` });
  });
});
