/**
 * The tutorial pipeline (9 nodes, 7 layers) must be readable as first shown in a lineage panel of
 * the size VS Code gives it by default: all of it in view, with labels drawn at a legible size.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { launchChromium, openLineagePage } from './lineagePage.js';
import { tutorialLineage, TUTORIAL_STATE } from './tutorialLineage.js';

const SHOTS = 'test-results/webview';
/** The editor area of a 1500×950 window with the side bar open (as in the end-to-end tests). */
const PANEL = { width: 1150, height: 800 };
const MIN_LABEL_PX = 10.5;

describe('lineage webview: the tutorial graph is readable at the default panel size', function () {
  this.timeout(60_000);
  let browser: Browser;
  before(async function () {
    if (!existsSync('dist/webview/lineage.js')) throw new Error('dist/webview/lineage.js is missing: run `npm run build` first.');
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
  });
  after(async () => browser?.close());

  it('fits every node in view with labels at least 10.5 px high', async () => {
    const p = await openLineagePage(browser, PANEL);
    try {
      await p.sendAndWaitRender({ type: 'graph', mode: 'replace', state: TUTORIAL_STATE, graph: tutorialLineage() });
      const m = await p.page.evaluate(() => {
        const svg = document.querySelector('svg.graph')!.getBoundingClientRect();
        const nodes = [...document.querySelectorAll('g.node')].map((g) => {
          const r = g.getBoundingClientRect();
          const label = g.querySelector('text.label')!;
          return { id: (g as SVGGElement).dataset.id!, left: r.left, right: r.right, top: r.top, bottom: r.bottom, fontPx: parseFloat(getComputedStyle(label).fontSize) * Number(document.querySelector('svg.graph')!.getAttribute('data-scale')) };
        });
        return { svg: { left: svg.left, right: svg.right, top: svg.top, bottom: svg.bottom }, nodes };
      });
      await p.page.screenshot({ path: `${SHOTS}/tutorial-default-panel.png` });
      assert.equal(m.nodes.length, 9);
      for (const n of m.nodes) {
        assert.ok(n.left >= m.svg.left && n.right <= m.svg.right && n.top >= m.svg.top && n.bottom <= m.svg.bottom, `${n.id} is in view`);
        assert.ok(n.fontPx >= MIN_LABEL_PX, `${n.id}'s label is drawn ${n.fontPx.toFixed(1)} px high (want ≥ ${MIN_LABEL_PX})`);
      }
    } finally {
      await p.page.close();
    }
  });

  it('counts in the toolbar agree in number ("1 version · 1 run")', async () => {
    const p = await openLineagePage(browser, PANEL);
    try {
      const g = tutorialLineage();
      const keep = new Set(['run:r1', 'artifact:a1']);
      const small = { ...g, nodes: g.nodes.filter((n) => keep.has(n.id)), edges: g.edges.filter((e) => keep.has(e.source) && keep.has(e.target)) };
      await p.sendAndWaitRender({ type: 'graph', mode: 'replace', state: TUTORIAL_STATE, graph: small });
      assert.equal(await p.page.textContent('.toolbar .status'), '1 version · 1 run');
    } finally {
      await p.page.close();
    }
  });
});
