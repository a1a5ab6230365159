/**
 * Lineage view at scale: layout + first render of generated lineages in headless Chromium, with
 * the built webview bundle under its real CSP, then panning smoothness (frame intervals while
 * dragging, zoomed in with labels and zoomed out with level of detail).
 *
 *   npm run build && npx tsx bench/lineage-render.ts [sizes…]     (default 250 500 1000 2000)
 *
 * Target: layout + first render of 2,000 nodes under 1,500 ms.
 */
import type { LineageGraph } from '../src/core/api.js';
import { launchChromium, openLineagePage, timeFirstRender } from '../test/webview/lineagePage.js';
import { generateLineage } from './lineageFixture.js';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const SIZES = sizes.length ? sizes : [250, 500, 1000, 2000];
const RUNS = 3;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const browser = await launchChromium();
  const rows: string[][] = [];
  try {
    for (const n of SIZES) {
      const graph: LineageGraph = generateLineage(n, 42);
      const totals: number[] = [];
      const layouts: number[] = [];
      const draws: number[] = [];
      let pan = { near: NaN, far: NaN };
      for (let i = 0; i < RUNS; i++) {
        const p = await openLineagePage(browser, { width: 1400, height: 900 });
        const state = { entity: 'bench', project: 'pipeline', focus: graph.focus, level: 'instance' as const, depth: 5 };
        const t = await timeFirstRender(p, { type: 'graph', mode: 'replace', state, graph });
        totals.push(t.totalMs);
        layouts.push(t.layoutMs);
        draws.push(t.renderMs);
        if (i === RUNS - 1) {
          const near = await panFrames(p.page);
          await p.page.click('button.fit');
          const far = await panFrames(p.page);
          pan = { near, far };
        }
        if (p.pageErrors.length) throw new Error(p.pageErrors.join('\n'));
        await p.page.close();
      }
      rows.push([String(n), String(graph.edges.length), median(layouts).toFixed(0), median(draws).toFixed(0), median(totals).toFixed(0), median(totals) < 1500 ? 'yes' : 'NO', pan.near.toFixed(1), pan.far.toFixed(1)]);
      console.error(`measured ${n} nodes`);
    }
  } finally {
    await browser.close();
  }
  const head = ['nodes', 'edges', 'layout ms', 'draw ms', 'to first paint ms', '< 1.5 s', 'pan p95 frame ms (labels)', 'pan p95 frame ms (fit, LOD)'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => '| ' + r.map((c, i) => c.padStart(widths[i])).join(' | ') + ' |';
  console.log(`Lineage layout + first render, headless Chromium, median of ${RUNS} (machine: ${process.arch}, Node ${process.version})`);
  console.log(fmt(head));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(fmt(r));
}

/** Drags the graph for 40 steps and returns the 95th percentile of frame intervals seen meanwhile. */
async function panFrames(page: import('playwright-core').Page): Promise<number> {
  await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean };
    w.__frames = [];
    w.__stop = false;
    let last = performance.now();
    const tick = (t: number) => {
      w.__frames.push(t - last);
      last = t;
      if (!w.__stop) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
  await page.mouse.move(500, 450);
  await page.mouse.down();
  for (let i = 0; i < 40; i++) await page.mouse.move(500 + (i % 20) * 12, 450 + (i % 10) * 9);
  await page.mouse.up();
  const frames = await page.evaluate(() => {
    const w = window as unknown as { __frames: number[]; __stop: boolean };
    w.__stop = true;
    return w.__frames.slice(1);
  });
  const sorted = frames.sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? NaN;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
