/**
 * The built lineage webview in Chromium, driven across its real host boundary
 * (`acquireVsCodeApi` + window messages), under the extension's Content-Security-Policy.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { generateLineage } from '../../bench/lineageFixture.js';
import { launchChromium, openLineagePage, type LineagePage } from './lineagePage.js';
import { tutorialLineage, TUTORIAL_STATE, version } from './tutorialLineage.js';

const SHOTS = 'test-results/webview';

describe('lineage webview at its host boundary (built bundle in Chromium)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let p: LineagePage;

  before(async function () {
    if (!existsSync('dist/webview/lineage.js')) throw new Error('dist/webview/lineage.js is missing: run `npm run build` first.');
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
  });
  after(async () => browser?.close());
  beforeEach(async () => {
    p = await openLineagePage(browser);
  });
  afterEach(async () => {
    assert.deepEqual(p.pageErrors, [], 'no uncaught errors in the page');
    assert.deepEqual(await p.cspViolations(), [], 'nothing blocked by the Content-Security-Policy');
    await p.page.close();
  });

  const showTutorial = () => p.sendAndWaitRender({ type: 'graph', mode: 'replace', state: TUTORIAL_STATE, graph: tutorialLineage() });

  it('posts ready once its script runs, before anything is sent to it', async () => {
    await p.page.waitForFunction(() => (window as unknown as { __posted: unknown[] }).__posted.length > 0);
    assert.deepEqual(await p.posted(), [{ type: 'ready' }]);
  });

  it('draws every run and version of the tutorial pipeline with its edges, runs and versions told apart', async () => {
    await showTutorial();
    const g = tutorialLineage();
    const ids = await p.page.$$eval('g.node', (els) => els.map((e) => `${(e as SVGGElement).dataset.id}|${(e as SVGGElement).dataset.kind}`));
    assert.deepEqual(ids.sort(), g.nodes.map((n) => `${n.id}|${n.kind}`).sort());
    const edges = await p.page.$$eval('path.edge', (els) => els.map((e) => `${e.getAttribute('data-source')}>${e.getAttribute('data-target')}|${e.classList.contains('edge-input') ? 'input' : 'output'}`));
    assert.deepEqual(edges.sort(), g.edges.map((e) => `${e.source}>${e.target}|${e.kind}`).sort());
    // Runs are pills (rounded), versions boxes; they differ in stroke colour too.
    const look = await p.page.evaluate(() => {
      const rect = (id: string) => document.querySelector(`g.node[data-id="${id}"] rect`)!;
      const s = (id: string) => getComputedStyle(rect(id)).stroke;
      return { runRx: Number(rect('run:r1').getAttribute('rx')), artRx: Number(rect('artifact:a2').getAttribute('rx')), runStroke: s('run:r1'), artStroke: s('artifact:a2') };
    });
    assert.ok(look.runRx > look.artRx, 'runs are rounder than versions');
    assert.notEqual(look.runStroke, look.artStroke);
    // Left to right: each edge goes from a node further left to one further right.
    const xs = await p.page.$$eval('g.node', (els) => Object.fromEntries(els.map((e) => [(e as SVGGElement).dataset.id, (e as SVGGElement).getBoundingClientRect().x])));
    for (const e of g.edges) assert.ok(xs[e.source] < xs[e.target], `${e.source} left of ${e.target}`);
    // The focus stands out; aliases are written under versions.
    assert.equal(await p.page.getAttribute('g.node.focus', 'data-id'), 'artifact:a1');
    assert.equal(await p.page.textContent('g.node[data-id="artifact:a4"] text.aliases'), 'latest, best');
    assert.match((await p.page.textContent('.toolbar .status')) ?? '', /4 versions · 5 runs/);
    await p.page.screenshot({ path: `${SHOTS}/tutorial-instances.png` });
  });

  it('toggles to the collapsed view of artifact types and job types, and back', async () => {
    await showTutorial();
    await p.page.click('.segmented button[data-level="type"]');
    await p.page.waitForSelector('svg.graph[data-level="type"]');
    const types = await p.page.$$eval('g.node', (els) => els.map((e) => (e as SVGGElement).dataset.id).sort());
    assert.deepEqual(types, ['artifactType:dataset', 'artifactType:model', 'jobType:initialize-model', 'jobType:load-data', 'jobType:preprocess-data', 'jobType:report', 'jobType:train']);
    assert.equal(await p.page.textContent('g.node[data-id="artifactType:dataset"] text.label'), 'dataset (2)');
    assert.equal(await p.page.getAttribute('g.node.focus', 'data-id'), 'artifactType:dataset');
    assert.equal(await p.page.getAttribute('.segmented button[data-level="type"]', 'aria-pressed'), 'true');
    assert.deepEqual((await p.posted()).at(-1), { type: 'levelChanged', level: 'type' });
    const state = await p.page.evaluate(() => (window as unknown as { __state: { level: string } }).__state);
    assert.equal(state.level, 'type', 'the level is persisted for the panel serializer');
    await p.page.screenshot({ path: `${SHOTS}/tutorial-types.png` });
    await p.page.click('.segmented button[data-level="instance"]');
    await p.page.waitForSelector('svg.graph[data-level="instance"]');
    assert.equal(await p.page.locator('g.node').count(), 9);
  });

  it('click reveals the node and shows its details; double-click opens it; expand asks for neighbours', async () => {
    await showTutorial();
    await p.page.click('g.node[data-id="run:r4"]');
    await p.page.waitForSelector('.details[data-node-id="run:r4"]');
    assert.deepEqual((await p.posted()).at(-1), { type: 'reveal', nodeId: 'run:r4' });
    const details = (await p.page.textContent('.details')) ?? '';
    assert.match(details, /quiet-smoke-4/);
    assert.match(details, /Job type\s*train/);
    assert.equal(await p.page.locator('g.node.selected').getAttribute('data-id'), 'run:r4');
    assert.equal(await p.page.locator('path.edge.edge-hl').count(), 3, 'the run\'s two inputs and one output are highlighted');
    await p.page.screenshot({ path: `${SHOTS}/tutorial-selected.png` });

    await p.page.dblclick('g.node[data-id="artifact:a3"]');
    assert.deepEqual((await p.posted()).at(-1), { type: 'open', nodeId: 'artifact:a3' });

    await p.page.click('.details button.expand');
    assert.deepEqual((await p.posted()).at(-1), { type: 'expand', nodeId: 'artifact:a3', depth: 1 });
  });

  it('merges expansion results and live updates without losing the view, and drops deleted versions', async () => {
    await showTutorial();
    await p.page.click('g.node[data-id="artifact:a4"]');
    const extra = version('a9', 'trained-model', 'model', 1, ['latest']);
    const g = tutorialLineage();
    const train = g.nodes.find((n) => n.id === 'run:r4')!;
    await p.sendAndWaitRender({
      type: 'graph', mode: 'merge', state: TUTORIAL_STATE,
      graph: { focus: null, level: 'instance', nodes: [train, extra], edges: [{ source: 'run:r4', target: 'artifact:a9', kind: 'output' }], truncated: false },
    });
    assert.equal(await p.page.locator('g.node').count(), 10);
    assert.equal(await p.page.locator('path.edge[data-target="artifact:a9"]').count(), 1);
    assert.equal(await p.page.getAttribute('g.node.focus', 'data-id'), 'artifact:a1', 'the focus is kept');
    assert.equal(await p.page.locator('g.node.selected').getAttribute('data-id'), 'artifact:a4', 'the selection is kept');
    await p.sendAndWaitRender({ type: 'removeNodes', nodeIds: ['artifact:a9'] });
    assert.equal(await p.page.locator('g.node').count(), 9);
    assert.equal(await p.page.locator('path.edge[data-target="artifact:a9"]').count(), 0);
  });

  it('rejects malformed messages with an error message to the host instead of drawing them', async () => {
    await showTutorial();
    await p.send({ type: 'graph', mode: 'replace', state: TUTORIAL_STATE, graph: { nodes: 'nope' } } as never);
    await p.page.waitForFunction(() => (window as unknown as { __posted: Array<{ type: string }> }).__posted.some((m) => m.type === 'error'));
    const err = (await p.posted()).find((m) => m.type === 'error') as { message: string };
    assert.match(err.message, /malformed message "graph".*graph/);
    assert.equal(await p.page.locator('g.node').count(), 9, 'the previous graph stays');
    await p.send({ type: 'error', message: 'Amphora server unreachable: start one with `amphora serve`.' });
    await p.page.waitForSelector('.banner:not([hidden])');
    assert.match((await p.page.textContent('.banner')) ?? '', /unreachable/);
  });

  it('keeps 2,000 nodes usable: combined edge paths, labels hidden when zoomed out', async () => {
    const big = generateLineage(2000, 7);
    await p.sendAndWaitRender({ type: 'graph', mode: 'replace', state: { ...TUTORIAL_STATE, focus: big.focus }, graph: big });
    assert.equal(await p.page.locator('g.node').count(), 2000);
    assert.equal(await p.page.getAttribute('svg.graph', 'data-edge-mode'), 'bulk');
    assert.equal(await p.page.getAttribute('svg.graph', 'data-edge-count'), String(big.edges.length));
    // Zoom far out with the wheel: labels disappear (level of detail).
    await p.page.mouse.move(600, 400);
    for (let i = 0; i < 8; i++) await p.page.mouse.wheel(0, 600);
    await p.page.waitForSelector('svg.graph.lod-low');
    assert.equal(await p.page.$eval('g.node text.label', (t) => getComputedStyle(t).display), 'none');
    await p.page.screenshot({ path: `${SHOTS}/large-zoomed-out.png` });
  });

  it('follows the theme through VS Code CSS variables', async () => {
    await p.page.close();
    p = await openLineagePage(browser, { bodyClass: 'vscode-dark' });
    await p.page.addStyleTag({ content: ':root { --vscode-editor-background: rgb(30, 30, 30); --vscode-charts-orange: rgb(255, 140, 0); }' }).catch(() => undefined);
    // addStyleTag is blocked by the CSP (inline style): set the variables the way VS Code does, on the element's style.
    await p.page.evaluate(() => {
      document.documentElement.style.setProperty('--vscode-editor-background', 'rgb(30, 30, 30)');
      document.documentElement.style.setProperty('--vscode-charts-orange', 'rgb(255, 140, 0)');
    });
    await showTutorial();
    const c = await p.page.evaluate(() => ({
      bg: getComputedStyle(document.body).backgroundColor,
      run: getComputedStyle(document.querySelector('g.node[data-id="run:r1"] rect')!).stroke,
    }));
    assert.equal(c.bg, 'rgb(30, 30, 30)');
    assert.equal(c.run, 'rgb(255, 140, 0)');
    // The inline style tag attempt above must have been refused by the CSP.
    const violations = await p.cspViolations();
    assert.ok(violations.some((v) => v.startsWith('style-src')), 'inline <style> is blocked');
    await p.page.evaluate(() => ((window as unknown as { __csp: string[] }).__csp.length = 0));
  });
});
