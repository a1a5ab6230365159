/**
 * Run history storage (see the migrations "history storage that scales" and "history rows from
 * chunks"). A batch of rows is split per key into columnar chunks of its numeric points (for the
 * metrics route, which then reads only the keys it is asked for); the batch row keeps what the
 * chunks cannot give back: each row's step and time, and its non-numeric cells (strings, media
 * pointers, objects) as JSON. Every row has a run-wide ordinal, stored with each of its points,
 * so GET …/history rebuilds rows in arrival order from the chunks. Batches stored before that
 * change keep their rows as JSON text (`rows`) and are served from it.
 * Chunks hold big-endian int4 steps and ordinals and float8 times (ms since epoch) and values,
 * the encoding PostgreSQL's int4send/float8send produce, so migrations can build them in SQL.
 */
import { numericValue, toMetricValue } from '../../core/downsample.js';
import { AmphoraError } from '../../core/errors.js';
import { endianness } from 'node:os';
import type { HistoryColumns } from '../../core/api.js';
import type { Queryable } from '../store/database.js';
import { MAX_INT4 } from '../inputLimits.js';

/** A batch with fewer points than this for a key is appended to that key's last chunk … */
const SMALL_APPEND = 64;
/** … as long as that chunk holds fewer points than this (a live run flushing every second stays compact). */
const CHUNK_CAP = 4096;
/** Columns per chunk row in a multi-row INSERT; keeps any batch under PostgreSQL's 65,535 parameters. */
const INSERT_COLUMNS = 25;
const INSERT_ROWS = Math.floor(60_000 / INSERT_COLUMNS);

export interface HistoryRowIn {
  step: number;
  data: Record<string, unknown>;
  at?: string;
}

/** One key's points of one batch. */
export interface KeyColumn {
  /** Run-wide ordinals of the rows the points belong to. */
  ords: ArrayLike<number>;
  steps: ArrayLike<number>;
  times: ArrayLike<number>;
  values: ArrayLike<number>;
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

/** A batch split for storage: each row's step and time, per-key columns, and the cells no column holds. */
export interface SplitBatch {
  steps: ArrayLike<number>;
  times: ArrayLike<number>;
  columns: Map<string, KeyColumn>;
  /** Non-numeric cells by row index within the batch (null: every cell is a number). */
  other: Record<number, Record<string, unknown>> | null;
}

/** A batch as clients send it (AppendHistoryRequest): rows, or the compact columns. */
export type HistoryInput = { rows: HistoryRowIn[] } | { columns: HistoryColumns };

type Growing = KeyColumn & { ords: number[]; steps: number[]; times: number[]; values: number[] };

/** Adds one cell to its key's column: a point when it is a number (or "NaN"/"±Infinity"), else an "other" cell. */
function addCell(out: Map<string, KeyColumn>, batch: SplitBatch, r: number, ord: number, step: number, time: number, key: string, raw: unknown): void {
  let c = out.get(key) as Growing | undefined;
  if (!c) {
    c = { ords: [], steps: [], times: [], values: [], other: 0, nan: 0, inf: 0, minStep: step, maxStep: step, minTime: time, maxTime: time, minValue: null, maxValue: null, lastStep: step, lastValue: raw };
    out.set(key, c);
  }
  if (step < c.minStep) c.minStep = step;
  if (step > c.maxStep) c.maxStep = step;
  if (time < c.minTime) c.minTime = time;
  if (time > c.maxTime) c.maxTime = time;
  if (step >= c.lastStep) {
    c.lastStep = step;
    c.lastValue = raw;
  }
  const v = typeof raw === 'number' ? raw : numericValue(raw);
  if (v === undefined) {
    c.other++;
    ((batch.other ??= {})[r] ??= {})[key] = raw;
    return;
  }
  c.ords.push(ord);
  c.steps.push(step);
  c.times.push(time);
  c.values.push(v);
  if (Number.isNaN(v)) c.nan++;
  else if (!Number.isFinite(v)) c.inf++;
  else {
    if (c.minValue === null || v < c.minValue) c.minValue = v;
    if (c.maxValue === null || v > c.maxValue) c.maxValue = v;
  }
}

/**
 * Splits rows into per-key columns; row i gets ordinal `firstOrd + i`. `at` (ISO) gives a row's
 * time; rows without one get `now`.
 */
export function columnsOf(rows: HistoryRowIn[], now: number, firstOrd = 0): SplitBatch {
  const cols = new Map<string, KeyColumn>();
  const times: number[] = [];
  const batch: SplitBatch = { steps: rows.map((r) => r.step), times, columns: cols, other: null };
  for (let r = 0; r < rows.length; r++) {
    const row = rows[r];
    let time = now;
    if (row.at !== undefined) {
      time = Date.parse(row.at);
      if (!Number.isFinite(time)) {
        throw new AmphoraError('invalid_request', `History row ${r} (step ${row.step}) has "at": ${JSON.stringify(row.at.slice(0, 40))}, which is not an ISO-8601 timestamp; send e.g. "2026-01-01T12:00:00.000Z" or leave it out.`);
      }
    }
    times.push(time);
    const data = row.data;
    for (const key in data) if (Object.prototype.hasOwnProperty.call(data, key)) addCell(cols, batch, r, firstOrd + r, row.step, time, key, data[key]);
  }
  return batch;
}

const BIG_ENDIAN_HOST = endianness() === 'BE';

/**
 * Splits a batch sent in columns: each `numbers` key becomes a column as it is (its float64s
 * decoded in one go), the `other` cells go through the same rules as rows.
 */
export function columnsOfWire(b: HistoryColumns, firstOrd = 0): SplitBatch {
  const n = b.step.length;
  if (b.time.length !== n) {
    throw new AmphoraError('invalid_request', `History columns: "time" has ${b.time.length} entries but "step" has ${n}; send one time (ms since the epoch) per row.`);
  }
  const cols = new Map<string, KeyColumn>();
  const batch: SplitBatch = { steps: b.step, times: b.time, columns: cols, other: null };
  for (const [index, cells] of Object.entries(b.other ?? {})) {
    const r = Number(index);
    if (r >= n) throw new AmphoraError('invalid_request', `History columns: "other" has cells for row ${r}, but the batch has ${n} rows (0–${n - 1}).`);
    for (const key in cells) {
      if (!Object.prototype.hasOwnProperty.call(cells, key)) continue;
      if (Object.prototype.hasOwnProperty.call(b.numbers, key)) {
        throw new AmphoraError('invalid_request', `History columns: "${key.slice(0, 80)}" is in "numbers" (a value for every row) and also in "other" row ${r}; send each key once per row.`);
      }
      addCell(cols, batch, r, firstOrd + r, b.step[r], b.time[r], key, cells[key]);
    }
  }
  const ords = Int32Array.from({ length: n }, (_, i) => firstOrd + i);
  for (const [key, b64] of Object.entries(b.numbers)) {
    const bytes = Buffer.from(b64, 'base64');
    if (bytes.length !== n * 8) {
      throw new AmphoraError('invalid_request', `History columns: "numbers.${key.slice(0, 80)}" holds ${bytes.length} bytes; ${n} rows need ${n * 8} (one little-endian float64 each, base64).`);
    }
    const copy = new Uint8Array(bytes); // aligned, and never the decoder's shared pool
    if (BIG_ENDIAN_HOST) Buffer.from(copy.buffer).swap64();
    cols.set(key, denseColumn(b.step, b.time, ords, new Float64Array(copy.buffer)));
  }
  return batch;
}

/** A key with a number in every row of the batch. */
function denseColumn(steps: number[], times: number[], ords: Int32Array, values: Float64Array): KeyColumn {
  const c: KeyColumn = { ords, steps, times, values, other: 0, nan: 0, inf: 0, minStep: steps[0], maxStep: steps[0], minTime: times[0], maxTime: times[0], minValue: null, maxValue: null, lastStep: steps[0], lastValue: null };
  let last = 0;
  for (let i = 0; i < values.length; i++) {
    const step = steps[i];
    if (step < c.minStep) c.minStep = step;
    if (step > c.maxStep) c.maxStep = step;
    if (times[i] < c.minTime) c.minTime = times[i];
    if (times[i] > c.maxTime) c.maxTime = times[i];
    if (step >= c.lastStep) {
      c.lastStep = step;
      last = i;
    }
    const v = values[i];
    if (Number.isNaN(v)) c.nan++;
    else if (!Number.isFinite(v)) c.inf++;
    else {
      if (c.minValue === null || v < c.minValue) c.minValue = v;
      if (c.maxValue === null || v > c.maxValue) c.maxValue = v;
    }
  }
  c.lastValue = toMetricValue(values[last]);
  return c;
}

/** Points per overview group: an overview keeps up to 5 of every 64 points. */
export const OVERVIEW_GROUP = 64;

/**
 * Indices of a chunk's overview points: of every OVERVIEW_GROUP consecutive points, the first,
 * the last, the lowest and highest finite value and the first non-finite one, in order. A
 * min-max downsampling coarser than the groups gives the same extremes from these alone.
 */
export function overviewIndices(values: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let g = 0; g < values.length; g += OVERVIEW_GROUP) {
    const end = Math.min(values.length, g + OVERVIEW_GROUP);
    let lo = -1;
    let hi = -1;
    let odd = -1;
    for (let i = g; i < end; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) {
        if (odd < 0) odd = i;
      } else {
        if (lo < 0 || v < values[lo]) lo = i;
        if (hi < 0 || v > values[hi]) hi = i;
      }
    }
    for (const i of [...new Set([g, lo, hi, odd, end - 1])].filter((i) => i >= 0).sort((a, b) => a - b)) out.push(i);
  }
  return out;
}

function overviewOf(c: KeyColumn): { n: number; steps: Buffer; times: Buffer; values: Buffer } {
  const keep = overviewIndices(c.values);
  return { n: keep.length, steps: int32s(keep.map((i) => c.steps[i])), times: float64s(keep.map((i) => c.times[i])), values: float64s(keep.map((i) => c.values[i])) };
}

// Big-endian (as int4send/float8send write them), converted with Buffer's native byte swaps.
function int32s(xs: ArrayLike<number>): Buffer {
  return Buffer.from(Int32Array.from(xs).buffer).swap32();
}

function float64s(xs: ArrayLike<number>): Buffer {
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

/** Stores a batch (rows or columns); returns the highest step the run now has in its history. */
export async function appendBatch(tx: Queryable, projectId: number, runId: string, input: HistoryInput): Promise<number> {
  const rowCount = 'rows' in input ? input.rows.length : input.columns.step.length;
  // The run's row lock keeps ordinals contiguous when two batches of one run arrive at once.
  await tx.query('SELECT 1 FROM runs WHERE project_id = $1 AND run_id = $2 FOR UPDATE', [projectId, runId]);
  const prev = await tx.query<{ next: string | number }>(
    `SELECT first_ord + row_count AS next FROM run_history_batches WHERE project_id = $1 AND run_id = $2 AND first_ord IS NOT NULL ORDER BY seq DESC LIMIT 1`,
    [projectId, runId],
  );
  const firstOrd = prev.length ? Number(prev[0].next) : 0;
  if (firstOrd + rowCount > MAX_INT4) {
    throw new AmphoraError('invalid_request', `This run already holds ${firstOrd.toLocaleString('en')} history rows; a run holds at most ${MAX_INT4.toLocaleString('en')}. Log further steps in a new run.`);
  }
  const { steps, times, columns, other } = 'rows' in input ? columnsOf(input.rows, Date.now(), firstOrd) : columnsOfWire(input.columns, firstOrd);
  let first = steps[0];
  let last = steps[0];
  for (let i = 1; i < steps.length; i++) {
    if (steps[i] < first) first = steps[i];
    if (steps[i] > last) last = steps[i];
  }
  await tx.query(
    'INSERT INTO run_history_batches (project_id, run_id, first_step, last_step, row_count, first_ord, steps, times, other) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
    [projectId, runId, first, last, rowCount, firstOrd, int32s(steps), float64s(times), other === null ? null : JSON.stringify(other)],
  );
  const small = [...columns].filter(([, c]) => c.steps.length + c.other < SMALL_APPEND).map(([k]) => k);
  const appended = new Set<string>();
  if (small.length) {
    // Chunks stored before rows had ordinals (ords IS NULL) are never appended to.
    const open = await tx.query<{ key: string; seq: number; size: number }>(
      `SELECT DISTINCT ON (key) key, seq, n + other_count AS size FROM run_metric_chunks
        WHERE project_id = $1 AND run_id = $2 AND key = ANY($3::text[]) AND ords IS NOT NULL ORDER BY key, seq DESC`,
      [projectId, runId, small],
    );
    for (const o of open) {
      if (Number(o.size) >= CHUNK_CAP) continue;
      const c = columns.get(o.key)!;
      const ov = overviewOf(c);
      const [minOrd, maxOrd] = ordRange(c, firstOrd);
      await tx.query(
        `UPDATE run_metric_chunks SET n = n + $4, other_count = other_count + $5, nan_count = nan_count + $6, inf_count = inf_count + $7,
           min_step = LEAST(min_step, $8), max_step = GREATEST(max_step, $9), min_time = LEAST(min_time, $10), max_time = GREATEST(max_time, $11),
           min_value = LEAST(min_value, $12), max_value = GREATEST(max_value, $13),
           last_value = CASE WHEN $14 >= last_step THEN $15 ELSE last_value END, last_step = GREATEST(last_step, $14),
           steps = steps || $16, times = times || $17, vals = vals || $18,
           ov_n = ov_n + $20, ov_steps = ov_steps || $21, ov_times = ov_times || $22, ov_vals = ov_vals || $23,
           ords = ords || $24, min_ord = LEAST(min_ord, $25), max_ord = GREATEST(max_ord, $26)
         WHERE project_id = $1 AND run_id = $2 AND key = $3 AND seq = $19`,
        [projectId, runId, o.key, c.steps.length, c.other, c.nan, c.inf, c.minStep, c.maxStep, c.minTime, c.maxTime, c.minValue, c.maxValue, c.lastStep,
          JSON.stringify(c.lastValue), int32s(c.steps), float64s(c.times), float64s(c.values), o.seq, ov.n, ov.steps, ov.times, ov.values,
          int32s(c.ords), minOrd, maxOrd],
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
      const ov = overviewOf(c);
      const [minOrd, maxOrd] = ordRange(c, firstOrd);
      params.push(projectId, runId, key, c.steps.length, c.other, c.nan, c.inf, c.minStep, c.maxStep, c.minTime, c.maxTime, c.minValue, c.maxValue, c.lastStep,
        JSON.stringify(c.lastValue), int32s(c.steps), float64s(c.times), float64s(c.values), ov.n, ov.steps, ov.times, ov.values, int32s(c.ords), minOrd, maxOrd);
      return `(${Array.from({ length: INSERT_COLUMNS }, (_, j) => `$${at + j + 1}`).join(', ')})`;
    });
    await tx.query(
      `INSERT INTO run_metric_chunks (project_id, run_id, key, n, other_count, nan_count, inf_count, min_step, max_step, min_time, max_time,
         min_value, max_value, last_step, last_value, steps, times, vals, ov_n, ov_steps, ov_times, ov_vals, ords, min_ord, max_ord) VALUES ${tuples.join(', ')}`,
      params,
    );
  }
  const top = await tx.query<{ last: number }>('SELECT max(last_step) AS last FROM run_history_batches WHERE project_id = $1 AND run_id = $2', [projectId, runId]);
  return Number(top[0].last);
}

/** The ordinals a key's column covers; a key with only non-numeric cells spans the batch. */
function ordRange(c: KeyColumn, firstOrd: number): [number, number] {
  return c.ords.length ? [c.ords[0], c.ords[c.ords.length - 1]] : [firstOrd, firstOrd];
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

/** A key's numeric points in arrival order (some chunks possibly by their overview only). */
export interface KeyPoints {
  steps: Int32Array;
  times: Float64Array;
  values: Float64Array;
  /** Chunks read by their overview (wholly inside the window): the real points, NaN and ±Infinity values the overview leaves out. */
  hidden: { points: number; nan: number; inf: number } | null;
}

/**
 * The numeric points of `keys` that a chart of `budget` points over [min, max] on `axis` needs.
 * Chunks that overlap the window are read; those wholly inside it are read by their overview
 * when the window holds so many points that each downsampling bucket spans two or more overview
 * groups (the run's extremes stay exact). Points outside the window may come back: the
 * caller filters.
 */
export async function readPoints(
  q: Queryable,
  projectId: number,
  runId: string,
  keys: string[],
  axis: 'step' | 'time',
  min: number | null,
  max: number | null,
  budget = Infinity,
): Promise<Map<string, KeyPoints>> {
  const [lo, hi] = axis === 'step' ? ['min_step', 'max_step'] : ['min_time', 'max_time'];
  const heads = await q.query<{ key: string; seq: number; n: number; ov_n: number; lo: number; hi: number; nan_count: number; inf_count: number }>(
    `SELECT key, seq, n, ov_n, ${lo} AS lo, ${hi} AS hi, nan_count, inf_count FROM run_metric_chunks
      WHERE project_id = $1 AND run_id = $2 AND key = ANY($3::text[]) AND n > 0
        AND ($4::double precision IS NULL OR ${hi} >= $4) AND ($5::double precision IS NULL OR ${lo} <= $5)`,
    [projectId, runId, keys, min, max],
  );
  const inside = (h: (typeof heads)[number]) => (min === null || Number(h.lo) >= min) && (max === null || Number(h.hi) <= max);
  const insideCount = new Map<string, number>();
  for (const h of heads) if (inside(h)) insideCount.set(h.key, (insideCount.get(h.key) ?? 0) + Number(h.n));
  // Each of the budget/2 buckets should span at least 2 overview groups: every group's extremes
  // are kept, so a bucket's extreme can only move to a neighbouring point of the same group.
  const coarse = (key: string) => (insideCount.get(key) ?? 0) >= (budget / 2) * OVERVIEW_GROUP * 2;
  const byOverview = heads.filter((h) => inside(h) && coarse(h.key) && Number(h.ov_n) < Number(h.n));
  const ovSeqs = byOverview.map((h) => Number(h.seq));
  const rows = heads.length
    ? await q.query<{ key: string; seq: number; n: number; steps: Uint8Array; times: Uint8Array; vals: Uint8Array }>(
        `SELECT key, seq, CASE WHEN seq = ANY($4::bigint[]) THEN ov_n ELSE n END AS n,
                CASE WHEN seq = ANY($4::bigint[]) THEN ov_steps ELSE steps END AS steps,
                CASE WHEN seq = ANY($4::bigint[]) THEN ov_times ELSE times END AS times,
                CASE WHEN seq = ANY($4::bigint[]) THEN ov_vals ELSE vals END AS vals
           FROM run_metric_chunks WHERE project_id = $1 AND run_id = $2 AND seq = ANY($3::bigint[]) ORDER BY key, seq`,
        [projectId, runId, heads.map((h) => Number(h.seq)), ovSeqs],
      )
    : [];
  const hidden = new Map<string, NonNullable<KeyPoints['hidden']>>();
  for (const h of byOverview) {
    const o = hidden.get(h.key) ?? { points: 0, nan: 0, inf: 0 };
    o.points += Number(h.n) - Number(h.ov_n);
    o.nan += Number(h.nan_count);
    o.inf += Number(h.inf_count);
    hidden.set(h.key, o);
  }
  const ovSet = new Set(ovSeqs);
  const sizes = new Map<string, number>();
  for (const r of rows) sizes.set(r.key, (sizes.get(r.key) ?? 0) + Number(r.n));
  const out = new Map<string, KeyPoints>();
  const filled = new Map<string, number>();
  for (const r of rows) {
    let p = out.get(r.key);
    if (!p) {
      const size = sizes.get(r.key)!;
      p = { steps: new Int32Array(size), times: new Float64Array(size), values: new Float64Array(size), hidden: hidden.get(r.key) ?? null };
      out.set(r.key, p);
    }
    const at = filled.get(r.key) ?? 0;
    const n = Number(r.n);
    readInt32s(r.steps, n, p.steps, at);
    readFloat64s(r.times, n, p.times, at);
    readFloat64s(r.vals, n, p.values, at);
    if (ovSet.has(Number(r.seq))) {
      // The overview's own NaN/±Infinity points are counted by the caller; the header counted them all.
      for (let i = at; i < at + n; i++) {
        const v = p.values[i];
        if (Number.isNaN(v)) p.hidden!.nan--;
        else if (!Number.isFinite(v)) p.hidden!.inf--;
      }
    }
    filled.set(r.key, at + n);
  }
  return out;
}

interface StoredBatch {
  rows: string | null;
  first_ord: string | number | null;
  row_count: number;
  steps: Uint8Array | null;
  times: Uint8Array | null;
  other: string | null;
}

/**
 * History rows in arrival order (GET …/history): each row's step and time from its batch, its
 * numbers from the chunks (by ordinal), its other cells from the batch. Rows carry the keys in
 * key order, numbers first; NaN and ±Infinity come back as the strings they were sent as.
 */
export async function readRows(
  q: Queryable,
  projectId: number,
  runId: string,
  opts: { minStep?: number; maxStep?: number; offset?: number; limit: number },
): Promise<HistoryRowIn[]> {
  const batches = await q.query<StoredBatch>(
    `SELECT rows, first_ord, row_count, steps, times, other FROM run_history_batches WHERE project_id = $1 AND run_id = $2
        AND ($3::int IS NULL OR last_step >= $3) AND ($4::int IS NULL OR first_step <= $4) ORDER BY seq`,
    [projectId, runId, opts.minStep ?? null, opts.maxStep ?? null],
  );
  // Rows in the step bounds are counted; the first `offset` of them are skipped (paging by rows).
  let skip = opts.offset ?? 0;
  const within = (step: number) => (opts.minStep === undefined || step >= opts.minStep) && (opts.maxStep === undefined || step <= opts.maxStep) && skip-- <= 0;
  const out: HistoryRowIn[] = [];
  // Rows to fill from the chunks, by ordinal.
  const byOrd = new Map<number, Record<string, unknown>>();
  let loOrd = Infinity;
  let hiOrd = -Infinity;
  const iso = isoCache();
  for (const b of batches) {
    if (out.length >= opts.limit) break;
    if (skip >= Number(b.row_count)) {
      // A whole batch before the page: only its steps say how many of its rows count.
      if (opts.minStep === undefined && opts.maxStep === undefined) {
        skip -= Number(b.row_count);
        continue;
      }
    }
    if (b.rows !== null) {
      // Stored before rows were rebuilt from chunks: the JSON text as the client sent it.
      for (const row of JSON.parse(b.rows) as HistoryRowIn[]) {
        if (!within(row.step)) continue;
        out.push(row);
        if (out.length >= opts.limit) break;
      }
      continue;
    }
    const n = Number(b.row_count);
    const steps = new Int32Array(n);
    const times = new Float64Array(n);
    readInt32s(b.steps!, n, steps, 0);
    readFloat64s(b.times!, n, times, 0);
    const other = b.other === null ? null : (JSON.parse(b.other) as Record<string, Record<string, unknown>>);
    const firstOrd = Number(b.first_ord);
    for (let i = 0; i < n && out.length < opts.limit; i++) {
      if (!within(steps[i])) continue;
      const data: Record<string, unknown> = {};
      out.push({ step: steps[i], data, at: iso(times[i]) });
      byOrd.set(firstOrd + i, data);
      if (firstOrd + i < loOrd) loOrd = firstOrd + i;
      if (firstOrd + i > hiOrd) hiOrd = firstOrd + i;
      const cells = other?.[i];
      if (cells) Object.assign(data, cells);
    }
  }
  if (byOrd.size) await fillNumbers(q, projectId, runId, byOrd, loOrd, hiOrd);
  return out;
}

/**
 * Puts each chunk point whose ordinal is in `byOrd` into that row's data. Values are gathered per
 * key first and each row is then filled key after key, so every row object is built in one go
 * (filling 100,000 rows one key at a time kept them all growing at once: mostly GC).
 */
async function fillNumbers(q: Queryable, projectId: number, runId: string, byOrd: Map<number, Record<string, unknown>>, loOrd: number, hiOrd: number): Promise<void> {
  const chunks = await q.query<{ key: string; n: number; ords: Uint8Array; vals: Uint8Array }>(
    `SELECT key, n, ords, vals FROM run_metric_chunks
      WHERE project_id = $1 AND run_id = $2 AND ords IS NOT NULL AND n > 0 AND max_ord >= $3 AND min_ord <= $4 ORDER BY key, seq`,
    [projectId, runId, loOrd, hiOrd],
  );
  const span = hiOrd - loOrd + 1;
  const columns: { key: string; values: Float64Array; present: Uint8Array }[] = [];
  for (const c of chunks) {
    let col = columns[columns.length - 1];
    if (col?.key !== c.key) columns.push((col = { key: c.key, values: new Float64Array(span), present: new Uint8Array(span) }));
    const n = Number(c.n);
    const ords = new Int32Array(n);
    const vals = new Float64Array(n);
    readInt32s(c.ords, n, ords, 0);
    readFloat64s(c.vals, n, vals, 0);
    for (let i = 0; i < n; i++) {
      const at = ords[i] - loOrd;
      if (at < 0 || at >= span) continue;
      col.values[at] = vals[i];
      col.present[at] = 1;
    }
  }
  for (const [ord, data] of byOrd) {
    const at = ord - loOrd;
    for (const col of columns) if (col.present[at]) data[col.key] = toMetricValue(col.values[at]);
  }
}

/** ISO-8601 of ms since the epoch; consecutive rows often share a millisecond. */
function isoCache(): (ms: number) => string {
  let lastMs = NaN;
  let last = '';
  return (ms) => {
    if (ms !== lastMs) {
      last = new Date(ms).toISOString();
      lastMs = ms;
    }
    return last;
  };
}
