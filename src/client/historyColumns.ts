/**
 * History batches in the server's compact form (HistoryColumns, the same encoding the Python
 * client sends): keys that every row logged as a number become base64 float64 columns
 * (little-endian; NaN and ±Infinity as themselves), every other cell goes in `other` as JSON.
 */
import { endianness } from 'node:os';
import type { z } from 'zod';
import type { HistoryColumns, HistoryRow } from '../core/api.js';
import { toMetricValue } from '../core/downsample.js';

/** A committed row: its step, its time (ms since the epoch) and its data as logged. */
export interface PendingRow {
  step: number;
  time: number;
  data: Record<string, unknown>;
}

const BIG_ENDIAN_HOST = endianness() === 'BE';

export function encodeColumns(rows: PendingRow[]): HistoryColumns {
  const numbers: Record<string, string> = {};
  for (const key of Object.keys(rows[0]?.data ?? {})) {
    const values = new Float64Array(rows.length);
    let dense = true;
    for (let i = 0; i < rows.length && dense; i++) {
      const v = rows[i].data[key];
      if (typeof v === 'number') values[i] = v;
      else dense = false; // missing in a row, or not a number: its cells go in `other`
    }
    if (!dense) continue;
    const bytes = Buffer.from(values.buffer);
    if (BIG_ENDIAN_HOST) bytes.swap64();
    numbers[key] = bytes.toString('base64');
  }
  const width = Object.keys(numbers).length;
  const other: Record<string, Record<string, unknown>> = {};
  let anyOther = false;
  rows.forEach((r, i) => {
    const keys = Object.keys(r.data);
    if (keys.length === width) return; // every numbers key is in every row: nothing else here
    const cells: Record<string, unknown> = {};
    for (const k of keys) if (!(k in numbers)) cells[k] = jsonCell(r.data[k]);
    other[String(i)] = cells;
    anyOther = true;
  });
  return { step: rows.map((r) => r.step), time: rows.map((r) => r.time), numbers, ...(anyOther ? { other } : {}) };
}

/** The same rows in the `rows` form (HistoryRow): what an offline run records. */
export function rowsOf(rows: PendingRow[]): z.infer<typeof HistoryRow>[] {
  return rows.map((r) => ({ step: r.step, data: jsonCell(r.data) as Record<string, unknown>, at: new Date(r.time).toISOString() }));
}

/** JSON has no NaN or infinities: inside `other` they travel as the strings the server and charts read back. */
function jsonCell(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : toMetricValue(v);
  if (Array.isArray(v)) return v.map(jsonCell);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonCell(x)]));
  return v;
}
