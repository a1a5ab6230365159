import assert from 'node:assert/strict';
import { downsampleIndices, fromMetricValue, numericValue, toMetricValue } from '../../src/core/downsample.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('core: downsampling metric series (min-max per bucket)', () => {
  it('keeps every point when there are no more than asked for', () => {
    assert.deepEqual(downsampleIndices([], [], 10), []);
    assert.deepEqual(downsampleIndices([5], [1], 10), [0]);
    assert.deepEqual(downsampleIndices(range(10), range(10), 10), range(10));
  });

  it('keeps the extremes, the first and the last point, within the budget, in x order', () => {
    const n = 100_000;
    const x = range(n);
    const y = x.map((i) => Math.sin(i / 300));
    y[12_345] = -1000;
    y[87_654] = 1000;
    y[50_000] = 7; // a lone spike in the middle of a bucket
    for (const budget of [10, 100, 1000]) {
      const keep = downsampleIndices(x, y, budget);
      assert.ok(keep.length <= budget, `${keep.length} > ${budget}`);
      assert.ok(keep.length >= budget - 4, `${keep.length} points for a budget of ${budget}`);
      assert.equal(keep[0], 0);
      assert.equal(keep[keep.length - 1], n - 1);
      for (const i of [12_345, 87_654, 50_000]) assert.ok(keep.includes(i), `index ${i} lost at budget ${budget}`);
      assert.deepEqual(keep, [...keep].sort((a, b) => a - b));
      assert.equal(new Set(keep).size, keep.length);
    }
  });

  it('buckets by x, not by count: a dense stretch does not starve a sparse one', () => {
    // 10,000 points in x ∈ [0, 1), then 10 points at x = 1000 … 1009 with a minimum in there.
    const x = [...range(10_000).map((i) => i / 10_000), ...range(10).map((i) => 1000 + i)];
    const y = x.map((_, i) => (i === 10_004 ? -5 : 1));
    const keep = downsampleIndices(x, y, 50);
    assert.ok(keep.includes(10_004));
    assert.ok(keep.length <= 50);
  });

  it('keeps a NaN (or infinite) point of each bucket so gaps stay visible, and still within budget', () => {
    const n = 10_000;
    const x = range(n);
    const y = x.map((i) => (i % 1000 === 500 ? NaN : i === 7000 ? Infinity : i));
    const keep = downsampleIndices(x, y, 100);
    assert.ok(keep.length <= 100, `${keep.length}`);
    const gaps = keep.filter((i) => !Number.isFinite(y[i]));
    assert.ok(gaps.length >= 10, `only ${gaps.length} gaps kept`);
    assert.ok(keep.includes(7000), 'the infinite value is kept as a gap');
    assert.equal(y[keep[keep.length - 1]], n - 1);
    // All finite extremes still survive.
    assert.ok(keep.includes(0) && keep.includes(n - 1));
  });

  it('a single repeated x (all points at one step) still returns first, extremes and last', () => {
    const x = new Array(500).fill(3);
    const y = range(500).map((i) => (i === 250 ? 99 : i === 100 ? -99 : 0));
    const keep = downsampleIndices(x, y, 10);
    assert.deepEqual(keep, [0, 100, 250, 499]);
  });

  it('refuses y and x of different lengths', () => {
    assert.throws(() => downsampleIndices([1, 2], [1], 10), RangeError);
  });

  it('converts NaN and ±Infinity to and from their wire strings; other strings are not numbers', () => {
    assert.deepEqual([NaN, Infinity, -Infinity, 1.5].map(toMetricValue), ['NaN', 'Infinity', '-Infinity', 1.5]);
    assert.ok(Number.isNaN(fromMetricValue('NaN')));
    assert.equal(fromMetricValue('-Infinity'), -Infinity);
    assert.equal(fromMetricValue(2), 2);
    assert.equal(numericValue('Infinity'), Infinity);
    assert.equal(numericValue('nan'), undefined);
    assert.equal(numericValue('1.5'), undefined);
    assert.equal(numericValue(true), undefined);
    assert.equal(numericValue(null), undefined);
    assert.equal(numericValue(0), 0);
  });
});

describe('server: chunk overviews', () => {
  it('keep the first, last, lowest, highest and first non-finite point of every 64', async () => {
    const { overviewIndices, OVERVIEW_GROUP } = await import('../../src/server/services/historyStore.js');
    assert.equal(OVERVIEW_GROUP, 64);
    const v = Array.from({ length: 130 }, (_, i) => i % 64);
    v[10] = -5;
    v[20] = 500;
    v[30] = NaN;
    v[31] = NaN;
    v[100] = Infinity;
    assert.deepEqual(overviewIndices(v), [0, 10, 20, 30, 63, 64, 100, 127, 128, 129]);
    assert.deepEqual(overviewIndices([]), []);
    assert.deepEqual(overviewIndices([7]), [0]);
  });
});

describe('server: chart values on the wire', () => {
  it('are short decimals (7 significant digits), except the lowest, the highest and the last value, which stay exact', async () => {
    const { chartValues } = await import('../../src/server/services/metrics.js');
    const ys = [0.12345678901234, 5.5555555555555, -2.2222222222222, 0.33333333333333, NaN, -Infinity, 1.1111111111111];
    assert.deepEqual(chartValues(ys), [0.1234568, 5.5555555555555, -2.2222222222222, 0.3333333, 'NaN', '-Infinity', 1.1111111111111]);
    assert.deepEqual(chartValues([]), []);
    assert.deepEqual(chartValues([Math.PI]), [Math.PI]);
    assert.ok(JSON.stringify(chartValues(Array.from({ length: 1000 }, (_, i) => Math.sin(i)))).length < 0.6 * JSON.stringify(Array.from({ length: 1000 }, (_, i) => Math.sin(i))).length);
  });
});
