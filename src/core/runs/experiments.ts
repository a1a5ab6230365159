/**
 * The experiments table: runs of a project as rows, chosen config and summary keys as columns,
 * sorted and filtered in the webview without a round trip (browser-safe).
 */
import type { Run } from '../api.js';
import { flattenJson } from './runTables.js';

/** Built-in columns; `config.<key>` and `summary.<key>` name the chosen ones. */
export const FIXED_COLUMNS = ['name', 'state', 'jobType', 'group', 'createdAt', 'duration'] as const;
export type Column = (typeof FIXED_COLUMNS)[number] | `config.${string}` | `summary.${string}`;

export interface ExperimentRow {
  run: Run;
  /** Cell values by column (numbers stay numbers for sorting). */
  values: Map<string, unknown>;
}

/** Milliseconds from start to finish (or to the last heartbeat while running); null when unknown. */
export function runDurationMs(r: Pick<Run, 'createdAt' | 'finishedAt' | 'heartbeatAt' | 'state'>, now = Date.now()): number | null {
  const start = Date.parse(r.createdAt);
  const end = r.finishedAt ? Date.parse(r.finishedAt) : r.state === 'running' ? now : Date.parse(r.heartbeatAt);
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : null;
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

export function toRows(runs: Run[], now = Date.now()): ExperimentRow[] {
  return runs.map((run) => {
    const values = new Map<string, unknown>([
      ['name', run.name],
      ['state', run.state],
      ['jobType', run.jobType],
      ['group', run.group],
      ['createdAt', run.createdAt],
      ['duration', runDurationMs(run, now)],
    ]);
    for (const part of ['config', 'summary'] as const) {
      for (const { key, value } of flattenJson(run[part], 500).rows) values.set(`${part}.${key}`, value);
    }
    return { run, values };
  });
}

/** Config and summary columns the runs have, most common first (a sensible default choice). */
export function availableColumns(rows: ExperimentRow[]): Array<{ column: string; count: number }> {
  const counts = new Map<string, number>();
  for (const r of rows) for (const k of r.values.keys()) if (k.startsWith('config.') || k.startsWith('summary.')) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts].map(([column, count]) => ({ column, count })).sort((a, b) => b.count - a.count || a.column.localeCompare(b.column));
}

/** Default columns: up to 4 config and 4 summary keys present in most runs. */
export function defaultColumns(rows: ExperimentRow[]): string[] {
  const cols = availableColumns(rows);
  return [...cols.filter((c) => c.column.startsWith('config.')).slice(0, 4), ...cols.filter((c) => c.column.startsWith('summary.')).slice(0, 4)].map((c) => c.column);
}

export interface ExperimentFilter {
  states?: string[];
  jobTypes?: string[];
  groups?: string[];
  /** Words matched against the run's name and id. */
  text?: string;
}

export function filterRows(rows: ExperimentRow[], f: ExperimentFilter): ExperimentRow[] {
  const words = (f.text ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  return rows.filter((r) => {
    if (f.states?.length && !f.states.includes(r.run.state)) return false;
    if (f.jobTypes?.length && !f.jobTypes.includes(r.run.jobType ?? '')) return false;
    if (f.groups?.length && !f.groups.includes(r.run.group ?? '')) return false;
    const hay = `${r.run.name} ${r.run.id}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

/**
 * Sorts by one column: numbers numerically (before text), text naturally ("run-2" before
 * "run-10"), missing values last in either direction; ties keep the previous order.
 */
export function sortRows(rows: ExperimentRow[], column: string, dir: 'asc' | 'desc'): ExperimentRow[] {
  const sign = dir === 'asc' ? 1 : -1;
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  const rank = (v: unknown) => (v === undefined || v === null ? 2 : typeof v === 'number' ? 0 : 1);
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const va = a.r.values.get(column);
      const vb = b.r.values.get(column);
      const ra = rank(va);
      const rb = rank(vb);
      if (ra === 2 || rb === 2) return ra !== rb ? ra - rb : a.i - b.i;
      if (ra !== rb) return sign * (ra - rb);
      const c = ra === 0 ? (va as number) - (vb as number) : collator.compare(typeof va === 'string' ? va : JSON.stringify(va), typeof vb === 'string' ? vb : JSON.stringify(vb));
      return c !== 0 ? sign * c : a.i - b.i;
    })
    .map((x) => x.r);
}

/** Distinct values for the filter menus. */
export function facetValues(runs: Run[]): { states: string[]; jobTypes: string[]; groups: string[] } {
  const uniq = (xs: Array<string | null>) => [...new Set(xs.map((x) => x ?? ''))].sort();
  return { states: uniq(runs.map((r) => r.state)), jobTypes: uniq(runs.map((r) => r.jobType)), groups: uniq(runs.map((r) => r.group)) };
}
