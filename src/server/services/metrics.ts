/** GET …/runs/:runId/metrics: key list, series in a window, downsampled for charts, and notes. */
import type { z } from 'zod';
import type { MetricKey, MetricSeries, MetricsQuery, MetricValue, RunMetrics } from '../../core/api.js';
import { downsampleIndices, toMetricValue } from '../../core/downsample.js';
import { AmphoraError } from '../../core/errors.js';
import type { Queryable } from '../store/database.js';
import { keyStats, readPoints, type KeyPoints, type KeyStats } from './historyStore.js';

const DEFAULT_POINTS = 1_000;
const MAX_KEYS = 1_000;

type Query = z.infer<typeof MetricsQuery>;

/** The keys a query names (comma-separated, blanks ignored), or undefined for "every numeric key". */
export function parseKeys(keys: string | undefined): string[] | undefined {
  if (keys === undefined) return undefined;
  const list = [...new Set(keys.split(',').map((k) => k.trim()).filter(Boolean))];
  if (!list.length) throw new AmphoraError('invalid_request', `keys=${JSON.stringify(keys.slice(0, 80))} names no metric; list keys separated by commas (keys=loss,accuracy) or leave keys out for every numeric key.`);
  if (list.length > MAX_KEYS) throw new AmphoraError('invalid_request', `keys names ${list.length} metrics; ask for at most ${MAX_KEYS} at a time.`);
  return list;
}

export async function runMetrics(q: Queryable, projectId: number, runId: string, query: Query): Promise<RunMetrics> {
  const axis = query.x ?? 'step';
  const min = query.min ?? null;
  const max = query.max ?? null;
  if (min !== null && max !== null && min > max) {
    throw new AmphoraError('invalid_request', `min (${min}) is greater than max (${max}); both are in units of x=${axis}: swap them or leave one out.`);
  }
  const asked = parseKeys(query.keys);
  const stats = await keyStats(q, projectId, runId);
  const byKey = new Map(stats.map((s) => [s.key, s]));
  const wanted = asked ?? stats.filter((s) => s.numericCount > 0).map((s) => s.key);
  const notes: string[] = [];
  for (const k of asked ?? []) {
    const s = byKey.get(k);
    if (!s) notes.push(`${k}: this run logged no such key (it logged ${stats.length ? stats.slice(0, 10).map((x) => x.key).join(', ') + (stats.length > 10 ? ', …' : '') : 'nothing yet'}).`);
    else if (!s.numericCount) notes.push(`${k}: its values are not numbers (strings or objects), so it is listed, not charted.`);
  }
  const charted = wanted.filter((k) => (byKey.get(k)?.numericCount ?? 0) > 0);
  const points = charted.length ? await readPoints(q, projectId, runId, charted, axis, min, max, query.points ?? DEFAULT_POINTS) : new Map<string, KeyPoints>();
  const series = wanted.map((k) => seriesOf(k, points.get(k), byKey.get(k), axis, min, max, query.points ?? DEFAULT_POINTS, notes));
  return { runId, keys: stats.map(toMetricKey), series, notes };
}

function toMetricKey(s: KeyStats): MetricKey {
  return {
    key: s.key,
    numeric: s.numericCount > 0,
    count: s.numericCount + s.otherCount,
    firstStep: s.firstStep,
    lastStep: s.lastStep,
    min: s.min,
    max: s.max,
    last: s.last,
  };
}

function seriesOf(key: string, p: KeyPoints | undefined, stats: KeyStats | undefined, axis: 'step' | 'time', min: number | null, max: number | null, budget: number, notes: string[]): MetricSeries {
  const empty: MetricSeries = { key, total: 0, downsampled: false, step: [], time: [], value: [] };
  if (!p || !stats) return empty;
  const xs = axis === 'step' ? p.steps : p.times;
  // Points inside the window, in arrival order; then sorted by x (stable) if they arrived out of order.
  let idx: number[] = [];
  let outOfOrder = false;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    if ((min !== null && x < min) || (max !== null && x > max)) continue;
    if (idx.length && x < xs[idx[idx.length - 1]]) outOfOrder = true;
    idx.push(i);
  }
  if (outOfOrder) {
    idx = idx.sort((a, b) => xs[a] - xs[b] || a - b);
    notes.push(`${key}: some points arrived at a lower ${axis} than earlier ones; they are shown sorted by ${axis}.`);
  }
  let nan = p.hidden?.nan ?? 0;
  let inf = p.hidden?.inf ?? 0;
  const x = new Float64Array(idx.length);
  const y = new Float64Array(idx.length);
  for (let j = 0; j < idx.length; j++) {
    x[j] = xs[idx[j]];
    const v = p.values[idx[j]];
    y[j] = v;
    if (Number.isNaN(v)) nan++;
    else if (!Number.isFinite(v)) inf++;
  }
  if (nan) notes.push(`${key}: ${nan} NaN value${nan === 1 ? ' is' : 's are'} shown as gaps.`);
  if (inf) notes.push(`${key}: ${inf} infinite value${inf === 1 ? ' is' : 's are'} shown as gaps.`);
  if (stats.otherCount) notes.push(`${key}: ${stats.otherCount} non-numeric value${stats.otherCount === 1 ? ' is' : 's are'} not charted.`);
  const keep = downsampleIndices(x, y, budget);
  const total = idx.length + (p.hidden?.points ?? 0);
  return {
    key,
    total,
    downsampled: keep.length < total,
    step: keep.map((j) => p.steps[idx[j]]),
    time: keep.map((j) => p.times[idx[j]]),
    value: chartValues(keep.map((j) => y[j])),
  };
}

/** Significant digits of a chart point: float32 holds 7; a 1,000-pixel chart cannot show more. */
const CHART_DIGITS = 7;

/**
 * The values as sent: short decimals (about half the JSON of full float64 digits), except the
 * series' lowest and highest finite values and its last value, which stay exact.
 */
export function chartValues(ys: number[]): MetricValue[] {
  let lo = -1;
  let hi = -1;
  for (let i = 0; i < ys.length; i++) {
    if (!Number.isFinite(ys[i])) continue;
    if (lo < 0 || ys[i] < ys[lo]) lo = i;
    if (hi < 0 || ys[i] > ys[hi]) hi = i;
  }
  const last = ys.length - 1;
  return ys.map((v, i) => (Number.isFinite(v) && i !== lo && i !== hi && i !== last ? Number(v.toPrecision(CHART_DIGITS)) : toMetricValue(v)));
}
