/**
 * Chart arithmetic for run metrics, shared by the run view and run comparison (browser-safe: no
 * Node or `vscode` imports). Series arrive as parallel arrays (see `MetricSeries` in api.ts) with
 * NaN and infinities as strings; charts draw them as gaps and say so.
 */
import type { MetricSeries, MetricValue } from '../api.js';

export type XAxis = 'step' | 'time';

/** A series ready to draw: x and y as numbers, non-finite y kept as NaN (a gap). */
export interface Points {
  key: string;
  xs: Float64Array;
  ys: Float64Array;
}

export function metricNumber(v: MetricValue): number {
  if (typeof v === 'number') return v;
  return v === 'NaN' ? Number.NaN : v === 'Infinity' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
}

/**
 * The points of one series along `x`, sorted by x (the server sorts by the query's axis, but a
 * merged live update or a metric logged at decreasing steps may not be): a stable sort keeps the
 * order of equal x values.
 */
export function toPoints(s: MetricSeries, x: XAxis): Points {
  const n = Math.min(s.step.length, s.time.length, s.value.length);
  const src = x === 'step' ? s.step : s.time;
  let sorted = true;
  for (let i = 1; i < n; i++) if (src[i] < src[i - 1]) { sorted = false; break; }
  const order = Array.from({ length: n }, (_, i) => i);
  if (!sorted) order.sort((a, b) => src[a] - src[b] || a - b);
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const i = order[j];
    xs[j] = src[i];
    const y = metricNumber(s.value[i]);
    ys[j] = Number.isFinite(y) ? y : Number.NaN;
  }
  return { key: s.key, xs, ys };
}

/** How many values of a series are not finite numbers, by kind (for the chart's note). */
export function countNonFinite(s: MetricSeries): { nan: number; infinite: number } {
  let nan = 0;
  let infinite = 0;
  for (const v of s.value) {
    if (v === 'NaN') nan++;
    else if (v === 'Infinity' || v === '-Infinity') infinite++;
  }
  return { nan, infinite };
}

/**
 * TensorBoard's smoothing: an exponential moving average debiased for its zero start, so the
 * first points are not dragged towards 0. `weight` in [0, 1): 0 is no smoothing. Gaps (NaN)
 * stay gaps and do not reset the average.
 */
export function emaSmooth(ys: ArrayLike<number>, weight: number): Float64Array {
  const out = new Float64Array(ys.length);
  const w = Math.min(Math.max(weight, 0), 0.999);
  if (w === 0) {
    out.set(Array.from(ys));
    return out;
  }
  let last = 0;
  let n = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (!Number.isFinite(y)) {
      out[i] = Number.NaN;
      continue;
    }
    last = last * w + (1 - w) * y;
    n++;
    out[i] = last / (1 - Math.pow(w, n));
  }
  return out;
}

/** On a log axis only positive values can be drawn; the others become gaps (counted for a note). */
export function forLogScale(ys: ArrayLike<number>): { ys: Float64Array; dropped: number } {
  const out = new Float64Array(ys.length);
  let dropped = 0;
  for (let i = 0; i < ys.length; i++) {
    const y = ys[i];
    if (Number.isFinite(y) && y <= 0) {
      dropped++;
      out[i] = Number.NaN;
    } else out[i] = y;
  }
  return { ys: out, dropped };
}

/** Index of the point whose x is nearest to `x` (xs sorted); -1 for an empty series. */
export function nearestIndex(xs: ArrayLike<number>, x: number): number {
  if (xs.length === 0) return -1;
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(xs[lo - 1] - x) <= Math.abs(xs[lo] - x)) return lo - 1;
  return lo;
}

/** Finite y extent within [x0, x1] (whole series when omitted); null when nothing is finite. */
export function yExtent(p: { xs: ArrayLike<number>; ys: ArrayLike<number> }, x0 = -Infinity, x1 = Infinity): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < p.xs.length; i++) {
    const x = p.xs[i];
    if (x < x0 || x > x1) continue;
    const y = p.ys[i];
    if (!Number.isFinite(y)) continue;
    if (y < lo) lo = y;
    if (y > hi) hi = y;
  }
  return lo <= hi ? [lo, hi] : null;
}

/**
 * Which points to draw for a chart `width` pixels wide showing [x0, x1]: per pixel column the
 * first, minimum, maximum and last point (in x order), so spikes and the line's shape survive
 * however many points come in; a gap inside a column is kept as one NaN point. Returns indices.
 */
export function pixelDecimate(xs: ArrayLike<number>, ys: ArrayLike<number>, x0: number, x1: number, width: number): number[] {
  const n = xs.length;
  const cols = Math.max(1, Math.floor(width));
  if (n <= cols * 4) {
    const all: number[] = [];
    for (let i = 0; i < n; i++) all.push(i);
    return all;
  }
  const span = x1 - x0 || 1;
  const out: number[] = [];
  let col = -Infinity;
  let first = -1, min = -1, max = -1, last = -1, gap = -1;
  const flush = () => {
    if (first < 0 && gap < 0) return;
    const picked = [first, min, max, last, gap].filter((i) => i >= 0);
    for (const i of [...new Set(picked)].sort((a, b) => a - b)) out.push(i);
    first = min = max = last = gap = -1;
  };
  for (let i = 0; i < n; i++) {
    const c = Math.floor(((xs[i] - x0) / span) * cols);
    if (c !== col) {
      flush();
      col = c;
    }
    const y = ys[i];
    if (!Number.isFinite(y)) {
      if (gap < 0) gap = i;
      continue;
    }
    if (first < 0) first = i;
    if (min < 0 || y < ys[min]) min = i;
    if (max < 0 || y > ys[max]) max = i;
    last = i;
  }
  flush();
  return out;
}

/**
 * Live updates: points of `incoming` past the last step of `current` are appended (rows arrive in
 * step order; anything at or before the last step is already shown or a re-log the next full
 * query will bring). Both series must be of the same key.
 */
export function appendSeries(current: MetricSeries, incoming: MetricSeries): MetricSeries {
  const lastStep = current.step.length ? current.step[current.step.length - 1] : -1;
  const from = incoming.step.findIndex((s) => s > lastStep);
  if (from === -1) return current;
  return {
    ...current,
    total: current.total + (incoming.step.length - from),
    step: [...current.step, ...incoming.step.slice(from)],
    time: [...current.time, ...incoming.time.slice(from)],
    value: [...current.value, ...incoming.value.slice(from)],
  };
}

/** Case-insensitive metric filter: space-separated words all present, or a /regex/. */
export function metricFilter(query: string): (key: string) => boolean {
  const q = query.trim();
  if (!q) return () => true;
  const re = /^\/(.+)\/([a-z]*)$/.exec(q);
  if (re) {
    try {
      const r = new RegExp(re[1], re[2].includes('i') ? re[2] : re[2] + 'i');
      return (k) => r.test(k);
    } catch {
      // Not a valid expression: fall through to plain words.
    }
  }
  const words = q.toLowerCase().split(/\s+/);
  return (k) => {
    const lk = k.toLowerCase();
    return words.every((w) => lk.includes(w));
  };
}

/** Compact number for axes and read-outs: 4 significant digits, exponent for very large/small. */
export function formatMetric(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-4) return v.toExponential(3);
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(5)));
}
