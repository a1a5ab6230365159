/**
 * Run history storage (see the migration "history storage that scales"). A batch of rows is
 * stored twice: as the JSON text the client sent (rows for GET …/history, in arrival order), and
 * split per key into columnar chunks of its numeric points (for the metrics route, which then
 * reads only the keys it is asked for). Chunks hold big-endian int4 steps and float8 times
 * (ms since epoch) and values, the encoding PostgreSQL's int4send/float8send produce, so the
 * migration can build them in SQL.
 */
import { numericValue } from '../../core/downsample.js';
import { AmphoraError } from '../../core/errors.js';
import type { Queryable } from '../store/database.js';

/** A batch with fewer points than this for a key is appended to that key's last chunk … */
const SMALL_APPEND = 64;
/** … as long as that chunk holds fewer points than this (a live run flushing every second stays compact). */
const CHUNK_CAP = 4096;
/** Columns per chunk row in a multi-row INSERT; keeps any batch under PostgreSQL's 65,535 parameters. */
const INSERT_COLUMNS = 19;
const INSERT_ROWS = Math.floor(60_000 / INSERT_COLUMNS);

export interface HistoryRowIn {
  step: number;
  data: Record<string, unknown>;
  at?: string;
}

/** One key's points of one batch. */
export interface KeyColumn {
  steps: number[];
  times: number[];
  values: number[];
  other: number;
  nan: number;
  inf: number;
  minStep: number;
  maxStep: number;
  minTime: number;
  maxTime: number;
  minValue: number | null;
  maxValue: number | null;
  lastStep: number;
  lastValue: unknown;
}

/** Splits rows into per-key columns. `at` (ISO) gives a row's time; rows without one get `now`. */
export function columnsOf(rows: HistoryRowIn[], now: number): Map<string, KeyColumn> {
  const out = new Map<string, KeyColumn>();
  for (const row of rows) {
    const parsed = row.at === undefined ? now : Date.parse(row.at);
    const time = Number.isFinite(parsed) ? parsed : now;
    const data = row.data;
    for (const key in data) {
      if (!Object.prototype.hasOwnProperty.call(data, key)) continue;
      const raw = data[key];
      let c = out.get(key);
      if (!c) {
        c = { steps: [], times: [], values: [], other: 0, nan: 0, inf: 0, minStep: row.step, maxStep: row.step, minTime: time, maxTime: time, minValue: null, maxValue: null, lastStep: row.step, lastValue: raw };
        out.set(key, c);
      }
      if (row.step < c.minStep) c.minStep = row.step;
      if (row.step > c.maxStep) c.maxStep = row.step;
      if (time < c.minTime) c.minTime = time;
      if (time > c.maxTime) c.maxTime = time;
      if (row.step >= c.lastStep) {
        c.lastStep = row.step;
        c.lastValue = raw;
      }
      const v = typeof raw === 'number' ? raw : numericValue(raw);
      if (v === undefined) {
        c.other++;
        continue;
      }
      c.steps.push(row.step);
      c.times.push(time);
      c.values.push(v);
      if (Number.isNaN(v)) c.nan++;
      else if (!Number.isFinite(v)) c.inf++;
      else {
        if (c.minValue === null || v < c.minValue) c.minValue = v;
        if (c.maxValue === null || v > c.maxValue) c.maxValue = v;
      }
    }
  }
  return out;
}

// Big-endian (as int4send/float8send write them), converted with Buffer's native byte swaps.
function int32s(xs: number[]): Buffer {
  return Buffer.from(Int32Array.from(xs).buffer).swap32();
}

function float64s(xs: number[]): Buffer {
  return Buffer.from(Float64Array.from(xs).buffer).swap64();
}

/** Copies (never swapping the driver's buffer in place) into an aligned array, then swaps natively. */
function readInt32s(u8: Uint8Array, n: number, into: Int32Array, at: number): void {
  const copy = new Uint8Array(n * 4);
  copy.set(u8.subarray(0, n * 4));
  Buffer.from(copy.buffer).swap32();
  into.set(new Int32Array(copy.buffer), at);
}

function readFloat64s(u8: Uint8Array, n: number, into: Float64Array, at: number): void {
  const copy = new Uint8Array(n * 8);
  copy.set(u8.subarray(0, n * 8));
  Buffer.from(copy.buffer).swap64();
  into.set(new Float64Array(copy.buffer), at);
}

/** Stores a batch of rows; returns the highest step the run now has in its history. */
export async function appendBatch(tx: Queryable, projectId: number, runId: string, given: HistoryRowIn[]): Promise<number> {
  const now = Date.now();
  const nowIso = new Date(now).toISOString();
  const rows = given.map((r, i) => {
    if (r.at === undefined) return { ...r, at: nowIso };
    if (!Number.isFinite(Date.parse(r.at))) {
      throw new AmphoraError('invalid_request', `History row ${i} (step ${r.step}) has "at": ${JSON.stringify(r.at.slice(0, 40))}, which is not an ISO-8601 timestamp; send e.g. "2026-01-01T12:00:00.000Z" or leave it out.`);
    }
    return r;
  });
  let first = rows[0].step;
  let last = rows[0].step;
  for (const r of rows) {
    if (r.step < first) first = r.step;
    if (r.step > last) last = r.step;
  }
  await tx.query('INSERT INTO run_history_batches (project_id, run_id, first_step, last_step, row_count, rows) VALUES ($1, $2, $3, $4, $5, $6)', [
    projectId,
    runId,
    first,
    last,
    rows.length,
    JSON.stringify(rows),
  ]);
  const columns = columnsOf(rows, now);
  const small = [...columns].filter(([, c]) => c.steps.length + c.other < SMALL_APPEND).map(([k]) => k);
  const appended = new Set<string>();
  if (small.length) {
    const open = await tx.query<{ key: string; seq: number; size: number }>(
      `SELECT DISTINCT ON (key) key, seq, n + other_count AS size FROM run_metric_chunks
        WHERE project_id = $1 AND run_id = $2 AND key = ANY($3::text[]) ORDER BY key, seq DESC`,
      [projectId, runId, small],
    );
    for (const o of open) {
      if (Number(o.size) >= CHUNK_CAP) continue;
      const c = columns.get(o.key)!;
      await tx.query(
        `UPDATE run_metric_chunks SET n = n + $4, other_count = other_count + $5, nan_count = nan_count + $6, inf_count = inf_count + $7,
           min_step = LEAST(min_step, $8), max_step = GREATEST(max_step, $9), min_time = LEAST(min_time, $10), max_time = GREATEST(max_time, $11),
           min_value = LEAST(min_value, $12), max_value = GREATEST(max_value, $13),
           last_value = CASE WHEN $14 >= last_step THEN $15 ELSE last_value END, last_step = GREATEST(last_step, $14),
           steps = steps || $16, times = times || $17, vals = vals || $18
         WHERE project_id = $1 AND run_id = $2 AND key = $3 AND seq = $19`,
        [projectId, runId, o.key, c.steps.length, c.other, c.nan, c.inf, c.minStep, c.maxStep, c.minTime, c.maxTime, c.minValue, c.maxValue, c.lastStep,
          JSON.stringify(c.lastValue), int32s(c.steps), float64s(c.times), float64s(c.values), o.seq],
      );
      appended.add(o.key);
    }
  }
  const fresh = [...columns].filter(([k]) => !appended.has(k));
  for (let i = 0; i < fresh.length; i += INSERT_ROWS) {
    const group = fresh.slice(i, i + INSERT_ROWS);
    const params: unknown[] = [];
    const tuples = group.map(([key, c]) => {
      const at = params.length;
      params.push(projectId, runId, key, c.steps.length, c.other, c.nan, c.inf, c.minStep, c.maxStep, c.minTime, c.maxTime, c.minValue, c.maxValue, c.lastStep,
        JSON.stringify(c.lastValue), int32s(c.steps), float64s(c.times), float64s(c.values));
      return `(${Array.from({ length: 18 }, (_, j) => `$${at + j + 1}`).join(', ')})`;
    });
    await tx.query(
      `INSERT INTO run_metric_chunks (project_id, run_id, key, n, other_count, nan_count, inf_count, min_step, max_step, min_time, max_time,
         min_value, max_value, last_step, last_value, steps, times, vals) VALUES ${tuples.join(', ')}`,
      params,
    );
  }
  const top = await tx.query<{ last: number }>('SELECT max(last_step) AS last FROM run_history_batches WHERE project_id = $1 AND run_id = $2', [projectId, runId]);
  return Number(top[0].last);
}

/** What the run logged under one key, over all its chunks. */
export interface KeyStats {
  key: string;
  numericCount: number;
  otherCount: number;
  nanCount: number;
  infCount: number;
  firstStep: number;
  lastStep: number;
  min: number | null;
  max: number | null;
  last: unknown;
}

export async function keyStats(q: Queryable, projectId: number, runId: string): Promise<KeyStats[]> {
  const rows = await q.query<Record<string, unknown>>(
    `SELECT key, sum(n) AS n, sum(other_count) AS other, sum(nan_count) AS nan, sum(inf_count) AS inf, min(min_step) AS first_step, max(max_step) AS last_step,
            min(min_value) AS min, max(max_value) AS max, (array_agg(last_value ORDER BY last_step DESC, seq DESC))[1] AS last
       FROM run_metric_chunks WHERE project_id = $1 AND run_id = $2 GROUP BY key ORDER BY key`,
    [projectId, runId],
  );
  return rows.map((r) => ({
    key: r.key as string,
    numericCount: Number(r.n),
    otherCount: Number(r.other),
    nanCount: Number(r.nan),
    infCount: Number(r.inf),
    firstStep: Number(r.first_step),
    lastStep: Number(r.last_step),
    min: r.min === null ? null : Number(r.min),
    max: r.max === null ? null : Number(r.max),
    last: JSON.parse(r.last as string) as unknown,
  }));
}

/** A key's numeric points in arrival order. */
export interface KeyPoints {
  steps: Int32Array;
  times: Float64Array;
  values: Float64Array;
}

/**
 * The numeric points of `keys`, reading only chunks that overlap [min, max] on `axis` (points
 * outside it still come back: chunks are the unit read; the caller filters).
 */
export async function readPoints(
  q: Queryable,
  projectId: number,
  runId: string,
  keys: string[],
  axis: 'step' | 'time',
  min: number | null,
  max: number | null,
): Promise<Map<string, KeyPoints>> {
  const [lo, hi] = axis === 'step' ? ['min_step', 'max_step'] : ['min_time', 'max_time'];
  const rows = await q.query<{ key: string; n: number; steps: Uint8Array; times: Uint8Array; vals: Uint8Array }>(
    `SELECT key, n, steps, times, vals FROM run_metric_chunks
      WHERE project_id = $1 AND run_id = $2 AND key = ANY($3::text[]) AND n > 0
        AND ($4::double precision IS NULL OR ${hi} >= $4) AND ($5::double precision IS NULL OR ${lo} <= $5)
      ORDER BY key, seq`,
    [projectId, runId, keys, min, max],
  );
  const sizes = new Map<string, number>();
  for (const r of rows) sizes.set(r.key, (sizes.get(r.key) ?? 0) + Number(r.n));
  const out = new Map<string, KeyPoints>();
  const filled = new Map<string, number>();
  for (const r of rows) {
    let p = out.get(r.key);
    if (!p) {
      const size = sizes.get(r.key)!;
      p = { steps: new Int32Array(size), times: new Float64Array(size), values: new Float64Array(size) };
      out.set(r.key, p);
    }
    const at = filled.get(r.key) ?? 0;
    const n = Number(r.n);
    readInt32s(r.steps, n, p.steps, at);
    readFloat64s(r.times, n, p.times, at);
    readFloat64s(r.vals, n, p.values, at);
    filled.set(r.key, at + n);
  }
  return out;
}

/** History rows in arrival order (GET …/history), from the stored batches. */
export async function readRows(
  q: Queryable,
  projectId: number,
  runId: string,
  opts: { minStep?: number; maxStep?: number; limit: number },
): Promise<HistoryRowIn[]> {
  const batches = await q.query<{ rows: string }>(
    `SELECT rows FROM run_history_batches WHERE project_id = $1 AND run_id = $2
        AND ($3::int IS NULL OR last_step >= $3) AND ($4::int IS NULL OR first_step <= $4) ORDER BY seq`,
    [projectId, runId, opts.minStep ?? null, opts.maxStep ?? null],
  );
  const out: HistoryRowIn[] = [];
  for (const b of batches) {
    for (const row of JSON.parse(b.rows) as HistoryRowIn[]) {
      if (opts.minStep !== undefined && row.step < opts.minStep) continue;
      if (opts.maxStep !== undefined && row.step > opts.maxStep) continue;
      out.push(row);
      if (out.length >= opts.limit) return out;
    }
  }
  return out;
}
