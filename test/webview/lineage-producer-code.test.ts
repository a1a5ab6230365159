/** A version node of the lineage view offers Open Producer Code when a run produced it. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { launchChromium, openLineagePage } from './lineagePage.js';
import { tutorialLineage, TUTORIAL_STATE } from './tutorialLineage.js';

describe('lineage webview: Open Producer Code on a version node', function () {
  this.timeout(60_000);
  let browser: Browser;
  before(async function () {
    if (!existsSync('dist/webview/lineage.js')) throw new Error('dist/webview/lineage.js is missing: run `npm run build` first.');
    browser = await launchChromium();
  });
  after(async () => browser?.close());

  it('posts producerCode for a produced version and offers nothing for a run', async () => {
    const p = await openLineagePage(browser);
    try {
      const g = tutorialLineage();
      await p.sendAndWaitRender({ type: 'graph', mode: 'replace', state: TUTORIAL_STATE, graph: g });
      const produced = g.nodes.find((n) => n.kind === 'artifact' && n.version?.producerRun)!;
      await p.page.click(`g.node[data-id="${produced.id}"]`);
      await p.page.waitForSelector(`.details[data-node-id="${produced.id}"]`);
      await p.page.click('.details button.producer-code');
      assert.deepEqual((await p.posted()).at(-1), { type: 'producerCode', nodeId: produced.id });
      await p.page.click('g.node[data-id="run:r4"]');
      await p.page.waitForSelector('.details[data-node-id="run:r4"]');
      assert.equal(await p.page.locator('.details button.producer-code').count(), 0);
    } finally {
      await p.page.close();
    }
  });
});
