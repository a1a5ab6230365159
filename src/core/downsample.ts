/**
 * Downsampling of metric series for charts. Pure and browser-safe: the server uses it to answer
 * the metrics route, and a chart may reuse it on zoom.
 *
 * Min-max per bucket: the x range is cut into equal-width buckets; each bucket keeps its lowest
 * and highest finite value (in x order), and its first non-finite value (NaN, ±Infinity) so a
 * gap stays visible. The first and last points always survive, so the line spans the same range.
 * Equal-width buckets in x (not in point count) keep irregularly spaced steps honest.
 */
import type { MetricValue } from './api.js';

/**
 * Indices of the points to keep, ascending, at most `maxPoints` (≥ 2) of them.
 * `x` must be sorted ascending; `y` holds JS numbers (NaN and ±Infinity allowed).
 */
export function downsampleIndices(x: ArrayLike<number>, y: ArrayLike<number>, maxPoints: number): number[] {
  const n = x.length;
  if (y.length !== n) throw new RangeError(`downsample: ${n} x values but ${y.length} y values`);
  const budget = Math.max(2, Math.floor(maxPoints));
  if (n <= budget) return Array.from({ length: n }, (_, i) => i);

  let hasNonFinite = false;
  for (let i = 1; i < n - 1 && !hasNonFinite; i++) hasNonFinite = !Number.isFinite(y[i]);
  // Each bucket keeps up to 2 points (3 when non-finite markers may be kept); first and last come on top.
  const perBucket = hasNonFinite ? 3 : 2;
  const buckets = Math.max(1, Math.floor((budget - 2) / perBucket));
  const x0 = x[0];
  const span = x[n - 1] - x0;
  const bucketOf = (xi: number) => (span > 0 ? Math.min(buckets - 1, Math.floor(((xi - x0) / span) * buckets)) : 0);

  const keep: number[] = [0];
  let b = -1;
  let lo = -1;
  let hi = -1;
  let odd = -1;
  const close = () => {
    if (b < 0) return;
    const picked = [lo, hi, odd].filter((v, k, a) => v >= 0 && a.indexOf(v) === k).sort((p, q) => p - q);
    for (const i of picked) keep.push(i);
  };
  for (let i = 1; i < n - 1; i++) {
    const bi = bucketOf(x[i]);
    if (bi !== b) {
      close();
      b = bi;
      lo = hi = odd = -1;
    }
    const v = y[i];
    if (!Number.isFinite(v)) {
      if (odd < 0) odd = i;
      continue;
    }
    if (lo < 0 || v < y[lo]) lo = i;
    if (hi < 0 || v > y[hi]) hi = i;
  }
  close();
  keep.push(n - 1);
  return keep;
}

/** A stored number as it travels in JSON (which has no NaN or infinities). */
export function toMetricValue(v: number): MetricValue {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? 'Infinity' : '-Infinity';
}

/** The number a wire value stands for. */
export function fromMetricValue(v: MetricValue): number {
  return typeof v === 'number' ? v : v === 'NaN' ? NaN : v === 'Infinity' ? Infinity : -Infinity;
}

/**
 * A logged value as a chart number, or undefined when it is not numeric. Clients send NaN and
 * ±Infinity as the strings "NaN", "Infinity" and "-Infinity" (JSON cannot carry them), so those
 * exact strings count as numbers; any other string, boolean, object or null does not.
 */
export function numericValue(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (v === 'NaN') return NaN;
  if (v === 'Infinity') return Infinity;
  if (v === '-Infinity') return -Infinity;
  return undefined;
}
