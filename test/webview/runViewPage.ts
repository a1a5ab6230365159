/** The built run webview (run view, comparison, experiments) in headless Chromium (see webviewPage.ts), and sample data for it. */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { MetricKey, MetricSeries, Run, RunMetrics } from '../../src/core/api.js';
import type { ExtensionToRunView, RunViewToExtension } from '../../src/core/runViewMessages.js';
import { runHtml } from '../../src/extension/runs/runHtml.js';
import { launchChromium, openWebviewPage, type WebviewPage } from './webviewPage.js';

const ROOT = join(import.meta.dirname, '..', '..');

export type RunViewPage = WebviewPage<RunViewToExtension, ExtensionToRunView>;

/**
 * One headless Chromium for the calling `describe` (launched before its tests, closed after);
 * checks the built bundle is there and makes the screenshot folder.
 */
export function useRunViewBrowser(shots: string): () => Browser {
  let browser: Browser | undefined;
  before(async function () {
    if (!existsSync(join(ROOT, 'dist/webview/run.js'))) throw new Error('dist/webview/run.js is missing: run `npm run build` first.');
    mkdirSync(shots, { recursive: true });
    browser = await launchChromium();
  });
  after(async () => browser?.close());
  return () => browser!;
}

export function openRunViewPage(browser: Browser, opts: { width?: number; height?: number } = {}): Promise<RunViewPage> {
  return openWebviewPage(browser, 'run', runHtml, { width: opts.width ?? 1200, height: opts.height ?? 900 });
}

export function sampleRun(over: Partial<Run> = {}): Run {
  const t = '2026-01-02T03:04:05.000Z';
  return {
    entity: 'alice', project: 'mnist', id: 'r1abc', name: 'sunny-smoke-1', jobType: 'train', group: 'sweep-1', state: 'finished',
    config: { lr: 0.001, epochs: 5, optimizer: { name: 'adam', beta1: 0.9 } },
    summary: { loss: 0.12, accuracy: 0.97 },
    tags: ['baseline'], notes: null,
    provenance: { program: 'train.py', root: '/home/alice/mnist', git: { commit: 'a'.repeat(40), branch: 'main', remote: null, dirty: true, diffFile: 'code/diff.patch', diffTruncated: false } },
    createdAt: t, updatedAt: t, heartbeatAt: t, finishedAt: '2026-01-02T03:09:05.000Z',
    ...over,
  };
}

/** A numeric series of `n` points (a noisy decaying curve), with optional NaN gaps. */
export function sampleSeries(key: string, n: number, opts: { nanEvery?: number; t0?: number } = {}): MetricSeries {
  const step = new Array<number>(n);
  const time = new Array<number>(n);
  const value = new Array<MetricSeries['value'][number]>(n);
  const t0 = opts.t0 ?? Date.parse('2026-01-02T03:04:05.000Z');
  for (let i = 0; i < n; i++) {
    step[i] = i;
    time[i] = t0 + i * 10;
    value[i] = opts.nanEvery && i % opts.nanEvery === opts.nanEvery - 1 ? 'NaN' : 2 * Math.exp(-i / (n / 4)) + 0.1 * Math.sin(i / 7) + 0.05 * ((i * 7919) % 13) / 13;
  }
  return { key, total: n, downsampled: false, step, time, value };
}

export function metricsOf(runId: string, series: MetricSeries[], extraKeys: MetricKey[] = [], notes: string[] = []): RunMetrics {
  const keys: MetricKey[] = series.map((s) => ({ key: s.key, numeric: true, count: s.step.length, firstStep: s.step[0] ?? 0, lastStep: s.step[s.step.length - 1] ?? 0, min: null, max: null, last: s.value.at(-1) ?? null }));
  return { runId, keys: [...keys, ...extraKeys], series, notes };
}
