/**
 * Run view at scale: first paint of a run's charts in headless Chromium (the built webview bundle
 * under its real CSP) and the page's JS heap afterwards.
 *
 *   npm run build && npx tsx bench/run-view.ts
 *
 * Rows: 20 metrics as the server sends them for a 100,000-step run (downsampled to 1,500 points
 * each, the run view's overview), one metric sent whole (100,000 points), and 20 metrics at the
 * zoom detail limit (20,000 points each). Targets: first paint < 500 ms, heap < 150 MB.
 * (20 × 100,000 raw points in one message crashed the headless page here; the view never asks
 * for that: the server downsamples every answer.)
 *
 * Besides wall time it prints the renderer's main-thread time for the first paint (Chromium's
 * TaskDuration, split into script, layout and style recalculation): busy time, which other load
 * on the machine moves far less than the wall clock. `--profile` also writes a CPU profile of one
 * first paint per case to test-results/bench/run-view-N.cpuprofile (`node bench/prof-summary.mjs F`).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { MetricSeries } from '../src/core/api.js';
import { downsampleIndices } from '../src/core/downsample.js';
import { launchChromium } from '../test/webview/lineagePage.js';
import { metricsOf, openRunViewPage, sampleRun, sampleSeries } from '../test/webview/runViewPage.js';

const RUNS = Number(process.env.RUNS ?? 3);
const PROFILE = process.argv.includes('--profile');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function downsampled(s: MetricSeries, points: number): MetricSeries {
  const idx = downsampleIndices(s.step, s.value.map((v) => (typeof v === 'number' ? v : NaN)), points);
  return { ...s, downsampled: true, step: idx.map((i) => s.step[i]), time: idx.map((i) => s.time[i]), value: idx.map((i) => s.value[i]) };
}

async function main(): Promise<void> {
  const browser = await launchChromium();
  const cases: Array<[string, () => MetricSeries[]]> = [
    ['20 metrics × 1,500 points (server-downsampled 100,000 steps)', () => Array.from({ length: 20 }, (_, i) => downsampled(sampleSeries(`metric/${i}`, 100_000), 1_500))],
    ['1 metric × 100,000 points (raw)', () => [sampleSeries('loss', 100_000)]],
    ['20 metrics × 20,000 points (zoomed detail, the most the view asks for)', () => Array.from({ length: 20 }, (_, i) => sampleSeries(`metric/${i}`, 20_000))],
  ];
  const rows: string[][] = [];
  try {
    for (const [label, make] of cases) {
      const series = make();
      const paints: number[] = [];
      const heaps: number[] = [];
      const busy: Array<Record<string, number>> = [];
      for (let i = 0; i < RUNS; i++) {
        const p = await openRunViewPage(browser, { width: 1400, height: 900 });
        const run = sampleRun();
        await p.send({ type: 'run', state: { kind: 'run', entity: run.entity, project: run.project, runId: run.id }, run, inputs: [], outputs: [], files: [], images: [], imagesOmitted: 0, tables: [] });
        const msg = { type: 'metrics' as const, mode: 'replace' as const, x: 'step' as const, range: null, runs: [{ runId: run.id, metrics: metricsOf(run.id, series) }] };
        const cdp = await p.page.context().newCDPSession(p.page);
        await cdp.send('Performance.enable');
        const mainThread = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.filter((x) => /^(Task|Script|Layout|RecalcStyle)Duration$/.test(x.name)).map((x) => [x.name, x.value * 1000]));
        const profiling = PROFILE && i === 0;
        if (profiling) {
          await cdp.send('Profiler.enable');
          await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
          await cdp.send('Profiler.start');
        }
        // The message is handed to the page first, so the main-thread figures count the view's work, not the benchmark's transfer of it.
        await p.page.evaluate((m) => ((window as unknown as { __bench: unknown }).__bench = m), msg);
        const cpu0 = await mainThread();
        // Timed inside the page: from the message to the frame after every chart is drawn.
        const ms = await p.page.evaluate(async ({ n }) => {
          const t0 = performance.now();
          window.postMessage((window as unknown as { __bench: unknown }).__bench, '*');
          await new Promise<void>((resolve) => {
            // Every chart on screen drawn (off-screen ones draw when scrolled to).
            const onScreen = () => [...document.querySelectorAll<HTMLElement>('figure.chart')].filter((f) => f.getBoundingClientRect().top < window.innerHeight);
            const check = () => (document.querySelectorAll('figure.chart').length >= Math.min(n, 1) && onScreen().every((f) => f.dataset.renderSeq) ? resolve() : setTimeout(check, 1));
            check();
          });
          await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
          return performance.now() - t0;
        }, { n: series.length });
        const cpu1 = await mainThread();
        busy.push(Object.fromEntries(Object.keys(cpu1).map((k) => [k, cpu1[k] - cpu0[k]])));
        if (profiling) {
          const { profile } = await cdp.send('Profiler.stop');
          mkdirSync('test-results/bench', { recursive: true });
          const file = `test-results/bench/run-view-${cases.findIndex((c) => c[0] === label)}.cpuprofile`;
          writeFileSync(file, JSON.stringify(profile));
          console.error(`wrote ${file}`);
        }
        // Then scrolling through every chart draws the rest.
        await p.page.evaluate(async () => {
          for (const f of document.querySelectorAll('figure.chart')) f.scrollIntoView();
          await new Promise((r) => setTimeout(r, 300));
        });
        await p.page.waitForFunction(() => [...document.querySelectorAll<HTMLElement>('figure.chart')].every((f) => f.dataset.renderSeq), undefined, { timeout: 60_000 });
        await cdp.send('HeapProfiler.collectGarbage');
        const metrics = (await cdp.send('Performance.getMetrics')).metrics;
        heaps.push((metrics.find((x) => x.name === 'JSHeapUsedSize')?.value ?? NaN) / 1048576);
        paints.push(ms);
        if (p.pageErrors.length) throw new Error(p.pageErrors.join('\n'));
        await p.page.close();
      }
      const med = (k: string) => median(busy.map((b) => b[k])).toFixed(0);
      rows.push([label, median(paints).toFixed(0), median(paints) < 500 ? 'yes' : 'NO', med('TaskDuration'), med('ScriptDuration'), med('LayoutDuration'), med('RecalcStyleDuration'), median(heaps).toFixed(1), median(heaps) < 150 ? 'yes' : 'NO']);
      console.error(`measured: ${label}`);
    }
  } finally {
    await browser.close();
  }
  const head = ['charts', 'first paint ms', '< 500 ms', 'main thread ms', 'script', 'layout', 'style', 'JS heap MB', '< 150 MB'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => '| ' + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ') + ' |';
  console.log(`Run view first paint and heap, headless Chromium, median of ${RUNS} (machine: ${process.arch}, Node ${process.version})`);
  console.log(fmt(head));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(fmt(r));
}

await main();
