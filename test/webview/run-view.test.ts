/**
 * The run webviews in headless Chromium under their real CSP: the run view's header, charts and
 * tables; a 100,000-point chart; gaps and notes instead of a blank view; zoom asking the
 * extension for detail; live appends; comparison's config diff; the experiments table.
 */
import assert from 'node:assert/strict';
import type { RunPanelState } from '../../src/core/runViewMessages.js';
import { metricsOf, openRunViewPage, sampleRun, sampleSeries, useRunViewBrowser, type RunViewPage } from './runViewPage.js';

const SHOTS = 'test-results/webview';
const STATE = { kind: 'run' as const, entity: 'alice', project: 'mnist', runId: 'r1abc' } satisfies RunPanelState;

async function showRun(p: RunViewPage, over = {}) {
  const run = sampleRun(over);
  await p.send({ type: 'run', state: { ...STATE, runId: run.id }, run, inputs: [], outputs: [], files: [{ path: 'code/diff.patch', digest: 'b'.repeat(64), size: 120 }], images: [], imagesOmitted: 0, tables: [] });
  return run;
}

const chartText = (p: RunViewPage, key: string) => p.page.locator(`figure.chart[data-key="${key}"]`);

describe('run webview', function () {
  this.timeout(60_000);
  const browser = useRunViewBrowser(SHOTS);

  it('says ready, then shows the header, a chart per numeric metric, config and summary tables', async () => {
    const p = await openRunViewPage(browser());
    try {
      assert.deepEqual(await p.posted(), [{ type: 'ready' }]);
      const run = await showRun(p);
      await p.send({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: run.id, metrics: metricsOf(run.id, [sampleSeries('loss', 50), sampleSeries('accuracy', 50)], [{ key: 'phase', numeric: false, count: 50, firstStep: 0, lastStep: 49, min: null, max: null, last: { label: 'eval' } }]) }] });
      await p.page.waitForSelector('figure.chart[data-key="loss"][data-render-seq]');
      assert.equal(await p.page.textContent('h1'), 'sunny-smoke-1');
      assert.equal(await p.page.textContent('.state'), 'finished');
      assert.equal(await p.page.textContent('dd[data-field="job type"]'), 'train');
      assert.equal(await p.page.textContent('dd[data-field="group"]'), 'sweep-1');
      assert.equal(await p.page.textContent('dd[data-field="duration"]'), '5m 0s');
      assert.match((await p.page.textContent('.code-line'))!, /train\.py @ aaaaaaaa \(main\) · uncommitted changes/);
      assert.deepEqual(await p.page.$$eval('figure.chart', (fs) => fs.map((f) => (f as HTMLElement).dataset.key)), ['accuracy', 'loss']);
      assert.equal(await chartText(p, 'loss').getAttribute('data-total'), '50');
      const config = await p.page.$$eval('table.config-table tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
      assert.deepEqual(config, [['epochs', '5'], ['lr', '0.001'], ['optimizer.beta1', '0.9'], ['optimizer.name', 'adam']]);
      const summary = await p.page.$$eval('table.summary-table tbody tr', (rows) => rows.map((r) => r.textContent));
      assert.deepEqual(summary, ['accuracy0.97', 'loss0.12']);
      // Strings are listed, not charted.
      assert.match((await p.page.textContent('table.values-table'))!, /phase.*\{"label":"eval"\}/);
      assert.deepEqual(await p.cspViolations(), []);
      assert.deepEqual(p.pageErrors, []);
      await p.page.screenshot({ path: `${SHOTS}/run-view.png`, fullPage: true });
    } finally {
      await p.page.close();
    }
  });

  it('draws a 100,000-point series in at most four points per pixel column, extremes kept', async () => {
    const p = await openRunViewPage(browser(), { width: 1000 });
    try {
      const run = await showRun(p);
      const big = sampleSeries('loss', 100_000);
      big.value[77_777] = 50; // a spike the decimation must keep
      await p.send({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: run.id, metrics: metricsOf(run.id, [big]) }] });
      await p.page.waitForSelector('figure.chart[data-key="loss"][data-render-seq]', { timeout: 20_000 });
      const chart = chartText(p, 'loss');
      assert.equal(await chart.getAttribute('data-total'), '100000');
      const drawn = Number(await chart.getAttribute('data-points'));
      const width = await chart.evaluate((f) => f.clientWidth);
      assert.ok(drawn > 0 && drawn <= width * 4, `drew ${drawn} points for a ${width} px wide chart`);
      // The y axis reaches the spike: its top tick is at least 45.
      const ticks = await chart.locator('.y-axis .tick text').allTextContents();
      assert.ok(Math.max(...ticks.map(Number)) >= 45, `y ticks ${ticks.join(', ')} include the spike`);
      assert.deepEqual(p.pageErrors, []);
    } finally {
      await p.page.close();
    }
  });

  it('draws only the charts on screen, the rest when scrolled to', async () => {
    const p = await openRunViewPage(browser(), { width: 1000, height: 800 });
    try {
      const run = await showRun(p);
      const many = Array.from({ length: 20 }, (_, i) => sampleSeries(`m${String(i).padStart(2, '0')}`, 200));
      await p.send({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: run.id, metrics: metricsOf(run.id, many) }] });
      await p.page.waitForSelector('figure.chart[data-key="m00"][data-render-seq]');
      assert.equal(await chartText(p, 'm19').getAttribute('data-render-seq'), null, 'the last chart is off screen and not drawn yet');
      await chartText(p, 'm19').scrollIntoViewIfNeeded();
      await p.page.waitForSelector('figure.chart[data-key="m19"][data-render-seq]', { timeout: 5_000 });
    } finally {
      await p.page.close();
    }
  });

  it('shows NaN as gaps with a note, the server notes, and a note for no numeric metrics — never a blank view', async () => {
    const p = await openRunViewPage(browser());
    try {
      await p.send({ type: 'error', message: 'Could not load run r404: not found.' });
      assert.match((await p.page.textContent('main.content'))!, /Could not load run r404/);
      const run = await showRun(p);
      await p.send({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: run.id, metrics: metricsOf(run.id, [sampleSeries('loss', 40, { nanEvery: 10 })], [], ['loss: 4 NaN values are shown as gaps']) }] });
      await p.page.waitForSelector('figure.chart[data-key="loss"][data-render-seq]');
      assert.match((await chartText(p, 'loss').textContent())!, /4 NaN values shown as gaps/);
      assert.match((await p.page.textContent('.notes'))!, /loss: 4 NaN values are shown as gaps/);
      await p.send({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: run.id, metrics: metricsOf(run.id, []) }] });
      assert.match((await p.page.textContent('.charts'))!, /logged no numeric metrics/);
    } finally {
      await p.page.close();
    }
  });

  it('zooms every chart on a brush and asks for full detail of the range; the reply replaces the drawn points', async () => {
    const p = await openRunViewPage(browser());
    try {
      const run = await showRun(p);
      await p.send({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: run.id, metrics: metricsOf(run.id, [sampleSeries('loss', 1000), sampleSeries('acc', 1000)]) }] });
      const plot = p.page.locator('figure.chart[data-key="loss"] svg.axes');
      await plot.waitFor();
      const box = (await plot.boundingBox())!;
      await p.page.mouse.move(box.x + 100, box.y + 80);
      await p.page.mouse.down();
      await p.page.mouse.move(box.x + 200, box.y + 80, { steps: 5 });
      await p.page.mouse.up();
      const q = (await p.posted()).filter((m) => m.type === 'queryMetrics');
      assert.equal(q.length, 1);
      const range = (q[0] as { range: { min: number; max: number } }).range;
      assert.ok(range.min > 0 && range.max > range.min && range.max < 1000, `zoom range ${JSON.stringify(range)}`);
      assert.ok(await p.page.locator('figure.chart[data-key="acc"].zoomed').count(), 'the other chart zoomed too');
      const detail = sampleSeries('loss', 1000);
      const lo = Math.ceil(range.min);
      const hi = Math.floor(range.max);
      const cut = { ...detail, step: detail.step.slice(lo, hi + 1), time: detail.time.slice(lo, hi + 1), value: detail.value.slice(lo, hi + 1), total: hi - lo + 1 };
      await p.send({ type: 'metrics', mode: 'zoom', x: 'step', range, runs: [{ runId: run.id, metrics: metricsOf(run.id, [cut]) }] });
      assert.equal(await chartText(p, 'loss').getAttribute('data-total'), String(hi - lo + 1));
      await p.page.click('button.reset-zoom');
      assert.equal(await chartText(p, 'loss').getAttribute('data-total'), '1000');
      assert.equal(await p.page.locator('figure.chart.zoomed').count(), 0);
    } finally {
      await p.page.close();
    }
  });

  it('extends the charts of a live run as points are appended', async () => {
    const p = await openRunViewPage(browser());
    try {
      const run = await showRun(p, { state: 'running', finishedAt: null });
      await p.send({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: run.id, metrics: metricsOf(run.id, [sampleSeries('loss', 10)]) }] });
      await p.page.waitForSelector('figure.chart[data-key="loss"][data-total="10"]');
      const more = sampleSeries('loss', 15);
      const tail = { ...more, step: more.step.slice(8), time: more.time.slice(8), value: more.value.slice(8), total: 7 };
      await p.send({ type: 'metrics', mode: 'append', x: 'step', range: null, runs: [{ runId: run.id, metrics: metricsOf(run.id, [tail]) }] });
      // Steps 8 and 9 were already shown: only 10–14 are new.
      await p.page.waitForSelector('figure.chart[data-key="loss"][data-total="15"]');
    } finally {
      await p.page.close();
    }
  });

  it('applies smoothing, log scale, the metric filter and the wall-time axis', async () => {
    const p = await openRunViewPage(browser());
    try {
      const run = await showRun(p);
      await p.send({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: run.id, metrics: metricsOf(run.id, [sampleSeries('train/loss', 200), sampleSeries('val/loss', 200), sampleSeries('lr', 200)]) }] });
      await p.page.waitForSelector('figure.chart[data-key="lr"][data-render-seq]');
      await p.page.fill('input.metric-filter', 'loss');
      assert.deepEqual(await p.page.$$eval('figure.chart', (fs) => fs.map((f) => (f as HTMLElement).dataset.key)), ['train/loss', 'val/loss']);
      await p.page.fill('input.metric-filter', '/^val/');
      assert.deepEqual(await p.page.$$eval('figure.chart', (fs) => fs.map((f) => (f as HTMLElement).dataset.key)), ['val/loss']);
      const before = Number(await chartText(p, 'val/loss').getAttribute('data-points'));
      await p.page.locator('.smoothing input').fill('0.9');
      // Smoothing draws the raw line faintly plus the smoothed one.
      assert.equal(Number(await chartText(p, 'val/loss').getAttribute('data-points')), before * 2);
      await p.page.check('input.log-scale');
      assert.ok((await chartText(p, 'val/loss').locator('.y-axis .tick').count()) > 0);
      await p.page.click('button[data-x="time"]');
      const q = (await p.posted()).filter((m) => m.type === 'queryMetrics').at(-1);
      assert.deepEqual(q, { type: 'queryMetrics', x: 'time', range: null });
    } finally {
      await p.page.close();
    }
  });

  it('compares runs: overlaid lines, only the config keys that differ (highlighted), summaries side by side', async () => {
    const p = await openRunViewPage(browser());
    try {
      const a = sampleRun({ id: 'ra', name: 'run-a', config: { lr: 0.1, epochs: 5, seed: 1 }, summary: { loss: 0.5 } });
      const b = sampleRun({ id: 'rb', name: 'run-b', config: { lr: 0.01, epochs: 5 }, summary: { loss: 0.3 } });
      await p.send({ type: 'compare', state: { kind: 'compare', entity: 'alice', project: 'mnist', runIds: ['ra', 'rb'] }, runs: [a, b] });
      await p.send({ type: 'metrics', mode: 'replace', x: 'step', range: null, runs: [{ runId: 'ra', metrics: metricsOf('ra', [sampleSeries('loss', 30)]) }, { runId: 'rb', metrics: metricsOf('rb', [sampleSeries('loss', 20)]) }] });
      await p.page.waitForSelector('figure.chart[data-key="loss"][data-total="50"]');
      const rows = await p.page.$$eval('table.config-diff tbody tr', (trs) => trs.map((r) => ({ cls: r.className, cells: [...r.querySelectorAll('td')].map((td) => td.textContent) })));
      assert.deepEqual(rows, [
        { cls: 'differs', cells: ['lr', '0.1', '0.01'] },
        { cls: 'differs', cells: ['seed', '1', '—'] },
      ]);
      await p.page.uncheck('input.only-differing');
      assert.equal(await p.page.locator('table.config-diff tbody tr').count(), 3);
      assert.deepEqual(await p.page.$$eval('table.summary-diff tbody tr td', (tds) => tds.map((t) => t.textContent)), ['loss', '0.5', '0.3']);
      await p.page.screenshot({ path: `${SHOTS}/run-compare.png`, fullPage: true });
    } finally {
      await p.page.close();
    }
  });

  it('lists runs in the experiments table: sortable config/summary columns, filters, compare selection', async () => {
    const p = await openRunViewPage(browser());
    try {
      const runs = [
        sampleRun({ id: 'r1', name: 'run-1', state: 'finished', jobType: 'train', config: { lr: 0.1 }, summary: { acc: 0.8 } }),
        sampleRun({ id: 'r2', name: 'run-2', state: 'failed', jobType: 'train', config: { lr: 0.01 }, summary: { acc: 0.9 } }),
        sampleRun({ id: 'r10', name: 'run-10', state: 'finished', jobType: 'eval', config: { lr: 0.001 }, summary: {} }),
      ];
      await p.send({ type: 'experiments', state: { kind: 'experiments', entity: 'alice', project: 'mnist' }, runs, truncated: false, prefs: null });
      await p.page.waitForSelector('table.experiments');
      const names = () => p.page.$$eval('table.experiments tbody tr', (trs) => trs.map((r) => (r as HTMLElement).dataset.run));
      await p.page.click('th[data-column="summary.acc"] button');
      assert.deepEqual(await names(), ['r2', 'r1', 'r10'], 'descending, missing last');
      await p.page.click('th[data-column="summary.acc"] button');
      assert.deepEqual(await names(), ['r1', 'r2', 'r10'], 'ascending, missing still last');
      await p.page.click('th[data-column="name"] button');
      assert.deepEqual(await names(), ['r1', 'r2', 'r10'], 'natural order of names');
      await p.page.selectOption('select.filter-states', 'finished');
      assert.deepEqual(await names(), ['r1', 'r10']);
      await p.page.selectOption('select.filter-jobTypes', 'eval');
      assert.deepEqual(await names(), ['r10']);
      await p.page.selectOption('select.filter-states', '');
      await p.page.selectOption('select.filter-jobTypes', '');
      await p.page.check('tr[data-run="r1"] input');
      await p.page.check('tr[data-run="r2"] input');
      await p.page.click('button.compare');
      assert.deepEqual((await p.posted()).at(-1), { type: 'compareRuns', runIds: ['r1', 'r2'] });
      await p.page.click('tr[data-run="r10"] button.link');
      assert.deepEqual((await p.posted()).at(-1), { type: 'openRun', runId: 'r10' });
      await p.page.screenshot({ path: `${SHOTS}/experiments.png`, fullPage: true });
    } finally {
      await p.page.close();
    }
  });

  it('experiments table: saves columns, sort and filters for the project, shows saved ones, and Reset columns', async () => {
    const p = await openRunViewPage(browser());
    try {
      const runs = [
        sampleRun({ id: 'r1', name: 'run-1', state: 'finished', jobType: 'train', config: { lr: 0.1, seed: 1 }, summary: { acc: 0.8 } }),
        sampleRun({ id: 'r2', name: 'run-2', state: 'failed', jobType: 'train', config: { lr: 0.01, seed: 2 }, summary: { acc: 0.9 } }),
        sampleRun({ id: 'r3', name: 'run-3', state: 'finished', jobType: 'eval', config: { lr: 0.001, seed: 3 }, summary: { acc: 0.7 } }),
      ];
      const state = { kind: 'experiments' as const, entity: 'alice', project: 'mnist' };
      const prefsPosted = async () => (await p.posted()).filter((m) => m.type === 'experimentsPrefs');
      const headers = () => p.page.$$eval('table.experiments th[data-column]', (ths) => ths.map((t) => (t as HTMLElement).dataset.column));
      const names = () => p.page.$$eval('table.experiments tbody tr', (trs) => trs.map((r) => (r as HTMLElement).dataset.run));
      // Saved choices: only config.seed, sorted by summary.acc ascending, finished runs only.
      const saved = { columns: ['config.seed'], sort: { column: 'summary.acc', dir: 'asc' as const }, filter: { states: ['finished'] } };
      await p.send({ type: 'experiments', state, runs, truncated: false, prefs: saved });
      await p.page.waitForSelector('table.experiments');
      assert.deepEqual(await headers(), ['name', 'state', 'jobType', 'group', 'createdAt', 'duration', 'config.seed']);
      assert.deepEqual(await names(), ['r3', 'r1']);
      assert.equal(await p.page.inputValue('select.filter-states'), 'finished');
      assert.deepEqual(await prefsPosted(), [], 'showing saved choices saves nothing');
      // Every change is saved.
      await p.page.click('.columns-chooser summary');
      await p.page.check('.column-list input[value="summary.acc"]');
      assert.deepEqual((await prefsPosted()).at(-1), { type: 'experimentsPrefs', prefs: { ...saved, columns: ['config.seed', 'summary.acc'] } });
      await p.page.click('th[data-column="name"] button');
      assert.deepEqual((await prefsPosted()).at(-1)?.prefs.sort, { column: 'name', dir: 'asc' });
      await p.page.selectOption('select.filter-states', '');
      await p.page.fill('input.run-filter', 'run-');
      assert.deepEqual((await prefsPosted()).at(-1)?.prefs.filter, { states: [], text: 'run-' });
      // A live update of the same project keeps the choices made since.
      await p.send({ type: 'experiments', state, runs, truncated: false, prefs: saved });
      assert.deepEqual(await headers(), ['name', 'state', 'jobType', 'group', 'createdAt', 'duration', 'config.seed', 'summary.acc']);
      assert.deepEqual(await names(), ['r1', 'r2', 'r3']);
      // Reset columns: the default choice again, saved as "default" (null).
      await p.page.click('.columns-chooser summary').catch(() => undefined);
      await p.page.click('button.reset-columns');
      assert.deepEqual(await headers(), ['name', 'state', 'jobType', 'group', 'createdAt', 'duration', 'config.lr', 'config.seed', 'summary.acc']);
      assert.equal((await prefsPosted()).at(-1)?.prefs.columns, null);
      await p.page.screenshot({ path: `${SHOTS}/experiments-prefs.png`, fullPage: true });
      // Another project: its own saved choices (none: the defaults, no filters).
      await p.send({ type: 'experiments', state: { ...state, project: 'other' }, runs, truncated: false, prefs: null });
      assert.deepEqual(await names(), ['r1', 'r2', 'r3']);
      assert.equal(await p.page.inputValue('input.run-filter'), '');
      assert.deepEqual(p.pageErrors, []);
    } finally {
      await p.page.close();
    }
  });

  it('shows a step-slider gallery of logged images, loading each through the extension', async () => {
    const p = await openRunViewPage(browser());
    try {
      const run = sampleRun();
      const images = [0, 1, 2].map((step) => ({ key: 'examples', step, index: 0, path: `media/images/examples_${step}_0.png`, size: 70, caption: step === 2 ? 'a three' : null }));
      await p.send({ type: 'run', state: STATE, run, inputs: [], outputs: [], files: [], images, imagesOmitted: 0, tables: [] });
      await p.page.waitForSelector('.gallery-item');
      assert.deepEqual((await p.posted()).filter((m) => m.type === 'loadImage'), [{ type: 'loadImage', path: 'media/images/examples_2_0.png' }]);
      const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
      await p.send({ type: 'image', path: 'media/images/examples_2_0.png', dataUrl: png, error: null });
      await p.page.waitForSelector('.gallery-item img');
      assert.equal(await p.page.textContent('.gallery-item figcaption'), 'a three');
      assert.equal(await p.page.textContent('.step-label'), 'step 2 (3 of 3)');
      await p.page.locator('.step-slider').fill('0');
      assert.equal(await p.page.textContent('.step-label'), 'step 0 (1 of 3)');
      assert.deepEqual((await p.posted()).filter((m) => m.type === 'loadImage').at(-1), { type: 'loadImage', path: 'media/images/examples_0_0.png' });
      assert.deepEqual(await p.cspViolations(), []);
    } finally {
      await p.page.close();
    }
  });
});
