/**
 * The table viewer in headless Chromium under the run webview's CSP: a run's logged tables by key
 * and step, sorting, filtering and paging (100,000 rows), image and nested cells, and a note (never
 * a blank view) for a malformed or oversized file; the `.table.json` editor page's Open as JSON.
 */
import assert from 'node:assert/strict';
import { openRunViewPage, sampleRun, useRunViewBrowser, type RunViewPage } from './runViewPage.js';

const SHOTS = 'test-results/webview';
const STATE = { kind: 'run' as const, entity: 'alice', project: 'mnist', runId: 'r1abc' };

const tableJson = (columns: string[], data: unknown[][]) => JSON.stringify({ _type: 'table', columns, data });
const rowIds = (p: RunViewPage) => p.page.$$eval('table.logged-table tbody tr', (trs) => trs.map((r) => Number((r as HTMLElement).dataset.row)));

describe('table viewer', function () {
  this.timeout(90_000);
  const browser = useRunViewBrowser(SHOTS);

  it('run view: a section per logged table key with a step slider; loads each table through the extension', async () => {
    const p = await openRunViewPage(browser());
    try {
      const run = sampleRun();
      const tables = [
        { key: 'preds', step: 0, index: 0, path: 'media/tables/preds_0_0.table.json', size: 100 },
        { key: 'preds', step: 5, index: 0, path: 'media/tables/preds_5_0.table.json', size: 100 },
        { key: 'val/errors', step: 5, index: 0, path: 'media/tables/val_errors_5_0.table.json', size: 100 },
      ];
      await p.send({ type: 'run', state: STATE, run, inputs: [], outputs: [], files: [], images: [], imagesOmitted: 0, tables });
      await p.page.waitForSelector('#tables .table-key');
      const loads = async () => (await p.posted()).filter((m) => m.type === 'loadTable');
      // The newest step of the first key first.
      assert.deepEqual(await loads(), [{ type: 'loadTable', path: 'media/tables/preds_5_0.table.json' }]);
      assert.match((await p.page.textContent('#tables .table-viewer'))!, /Loading media\/tables\/preds_5_0\.table\.json/);
      await p.send({ type: 'table', path: 'media/tables/preds_5_0.table.json', text: tableJson(['id', 'label', 'score'], [[1, 'cat', 0.9], [2, 'dog', 0.4], [3, 'cat', 'NaN']]), error: null });
      await p.page.waitForSelector('#tables table.logged-table');
      assert.deepEqual(await p.page.$$eval('#tables table.logged-table th[data-column]', (ths) => ths.map((t) => t.textContent)), ['id', 'label', 'score']);
      assert.deepEqual(await rowIds(p), [0, 1, 2]);
      assert.equal(await p.page.textContent('.step-label.table-step-label'), 'step 5 (2 of 2)');
      // Sort by score: ascending numbers, NaN after them; again: descending.
      await p.page.click('#tables th[data-column="2"] button');
      assert.deepEqual(await rowIds(p), [1, 0, 2]);
      await p.page.click('#tables th[data-column="2"] button');
      assert.deepEqual(await rowIds(p), [2, 0, 1]);
      assert.equal(await p.page.getAttribute('#tables th[data-column="2"]', 'aria-sort'), 'descending');
      // The filter matches words in any cell.
      await p.page.fill('#tables input.table-filter', 'cat');
      await p.page.waitForFunction(() => document.querySelectorAll('#tables table.logged-table tbody tr').length === 2);
      assert.match((await p.page.textContent('#tables .table-status'))!, /2 rows \(filtered from 3\)/);
      // Another step: asked for; a malformed file is a note that says why.
      await p.page.locator('#tables .table-step').fill('0');
      assert.deepEqual((await loads()).at(-1), { type: 'loadTable', path: 'media/tables/preds_0_0.table.json' });
      await p.send({ type: 'table', path: 'media/tables/preds_0_0.table.json', text: '{"_type": "table", "columns": ["a", "b"], "data": [[1]]}', error: null });
      await p.page.waitForSelector('#tables .table-viewer .note-error');
      assert.match((await p.page.textContent('#tables .table-viewer'))!, /row 0 has 1 cells but the table has 2 columns/);
      // Back to step 5: shown from what was already loaded, not asked again.
      const before = (await loads()).length;
      await p.page.locator('#tables .table-step').fill('1');
      await p.page.waitForSelector('#tables table.logged-table');
      assert.equal((await loads()).length, before);
      // Another key; its load failed on the extension side (too large): the reason is shown.
      await p.page.selectOption('#tables select.table-key', 'val/errors');
      assert.deepEqual((await loads()).at(-1), { type: 'loadTable', path: 'media/tables/val_errors_5_0.table.json' });
      await p.send({ type: 'table', path: 'media/tables/val_errors_5_0.table.json', text: null, error: 'val_errors_5_0.table.json is 80.0 MB: the table viewer shows tables up to 50.0 MB.' });
      await p.page.waitForSelector('#tables .table-viewer .note-error');
      assert.match((await p.page.textContent('#tables .table-viewer'))!, /80\.0 MB: the table viewer shows tables up to 50\.0 MB/);
      assert.deepEqual(await p.cspViolations(), []);
      assert.deepEqual(p.pageErrors, []);
    } finally {
      await p.page.close();
    }
  });

  it('a .table.json in an editor: 100,000 rows shown a page at a time, sorted, paged; images and nested cells; Open as JSON', async () => {
    const p = await openRunViewPage(browser(), { width: 1200, height: 800 });
    try {
      const n = 100_000;
      const data: unknown[][] = Array.from({ length: n }, (_, i) => [i, `sample-${i}`, (i * 7919) % 100_003, i === 3 ? { _type: 'image', caption: 'checker', pixels: [[0, 255], [255, 0]], path: null } : null, i % 2 ? { nested: [i, { deep: true }] } : [i]]);
      await p.send({ type: 'tableDocument', title: 'predictions.table.json', path: '/alice/mnist/preds/v0/predictions.table.json', size: 4_000_000, text: tableJson(['i', 'name', 'score', 'image', 'meta'], data), error: null });
      await p.page.waitForSelector('table.logged-table');
      assert.equal(await p.page.textContent('h1'), 'predictions.table.json');
      assert.equal(await p.page.locator('table.logged-table tbody tr').count(), 100, 'one page of rows in the DOM, not 100,000');
      assert.match((await p.page.textContent('.table-status'))!, /100,000 rows · 5 columns/);
      assert.match((await p.page.textContent('.page-label'))!, /rows 1–100 of 100,000 · page 1 of 1,000/);
      // Image cell: its pixels drawn on a canvas; nested values as compact JSON.
      const thumb = p.page.locator('tr[data-row="3"] canvas.thumb');
      assert.equal(await thumb.getAttribute('width'), '2');
      assert.equal(await p.page.textContent('tr[data-row="3"] figcaption'), 'checker');
      assert.equal(await p.page.textContent('tr[data-row="1"] td.cell-nested code'), '{"nested":[1,{"deep":true}]}');
      await p.page.screenshot({ path: `${SHOTS}/table-viewer.png` });
      // Pages.
      await p.page.click('button.page-last');
      assert.deepEqual((await rowIds(p)).slice(-2), [99_998, 99_999]);
      await p.page.click('button.page-prev');
      assert.equal((await rowIds(p))[0], 99_800);
      // Sorting all 100,000 rows by score, descending: the largest first, back on page 1.
      await p.page.click('th[data-column="2"] button');
      await p.page.click('th[data-column="2"] button');
      const top = await p.page.$$eval('table.logged-table tbody tr td:nth-child(4)', (tds) => tds.slice(0, 3).map((td) => Number(td.textContent)));
      assert.deepEqual(top, [100_002, 100_001, 100_000]);
      assert.match((await p.page.textContent('.page-label'))!, /page 1 of 1,000/);
      // Filtering all rows.
      await p.page.fill('input.table-filter', 'sample-99999');
      await p.page.waitForFunction(() => document.querySelectorAll('table.logged-table tbody tr').length === 1);
      assert.equal(await p.page.locator('.pager button').count(), 0, 'no pager for one page');
      await p.page.click('button.open-as-json');
      assert.deepEqual((await p.posted()).at(-1), { type: 'openAsJson' });
      // The page's heap after showing 100,000 rows stays modest.
      const cdp = await p.page.context().newCDPSession(p.page);
      await cdp.send('HeapProfiler.collectGarbage');
      await cdp.send('Performance.enable');
      const heap = (await cdp.send('Performance.getMetrics')).metrics.find((x) => x.name === 'JSHeapUsedSize')!.value / 1048576;
      assert.ok(heap < 150, `JS heap ${heap.toFixed(1)} MB`);
      assert.deepEqual(await p.cspViolations(), []);
      assert.deepEqual(p.pageErrors, []);
    } finally {
      await p.page.close();
    }
  });

  it('a malformed, an empty or an unreadable .table.json is a note with what to do, never a blank view', async () => {
    const p = await openRunViewPage(browser());
    try {
      const show = async (text: string | null, error: string | null = null) => {
        await p.send({ type: 'tableDocument', title: 'x.table.json', path: 'x.table.json', size: 10, text, error });
        await p.page.waitForFunction(() => !!document.querySelector('.table-viewer')?.textContent);
        return (await p.page.textContent('.table-viewer'))!;
      };
      assert.match(await show('{"_type": "table", "columns": '), /x\.table\.json is not valid JSON .*Open it as JSON/);
      assert.match(await show('{"rows": []}'), /not a table file at _type/);
      assert.match(await show(JSON.stringify({ _type: 'table', columns: ['a'], data: [] })), /This table has no rows/);
      assert.match(await show(null, 'x.table.json is 2.0 GB: the table viewer shows tables up to 50.0 MB. Open it as JSON.'), /2\.0 GB/);
      assert.equal(await p.page.locator('button.open-as-json').count(), 1, 'Open as JSON stays available');
      assert.deepEqual(p.pageErrors, []);
    } finally {
      await p.page.close();
    }
  });
});
