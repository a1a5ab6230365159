/**
 * Config and summary as tables, and their comparison across runs (browser-safe). Nested objects
 * flatten to dotted keys (`optimizer.lr`), as W&B's run table shows them; W&B-style
 * `{"value": …, "desc": …}` config entries show their value.
 */
/** Any value that came from JSON. */
type JsonValue = unknown;

/** Past this many keys a table stops and says how many it left out (a 10 MB config stays usable). */
export const MAX_TABLE_KEYS = 5_000;
/** A cell longer than this is cut (with "…") so one huge value does not swamp the table. */
export const MAX_CELL_CHARS = 500;

export interface FlatTable {
  rows: Array<{ key: string; value: JsonValue }>;
  /** Keys left out past MAX_TABLE_KEYS. */
  omitted: number;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** W&B stores config entries as `{value, desc}` when given descriptions; show the value. */
function unwrapConfigValue(v: JsonValue): JsonValue {
  if (isPlainObject(v) && 'value' in v && Object.keys(v).every((k) => k === 'value' || k === 'desc')) return v.value as JsonValue;
  return v;
}

/** Flattens a JSON object to sorted dotted keys; keys starting with `_` (W&B internals) are left out. */
export function flattenJson(obj: unknown, limit = MAX_TABLE_KEYS): FlatTable {
  const rows: FlatTable['rows'] = [];
  let omitted = 0;
  const walk = (v: JsonValue, prefix: string, depth: number) => {
    v = unwrapConfigValue(v);
    if (isPlainObject(v) && depth < 8 && Object.keys(v).length > 0) {
      for (const k of Object.keys(v).sort()) {
        if (!prefix && k.startsWith('_')) continue;
        walk(v[k], prefix ? `${prefix}.${k}` : k, depth + 1);
      }
      return;
    }
    if (depth === 0) return; // not an object: no keys to list
    if (rows.length >= limit) omitted++;
    else rows.push({ key: prefix, value: v });
  };
  if (isPlainObject(obj)) walk(obj, '', 0);
  return { rows, omitted };
}

/** A cell's text: strings as they are, everything else as compact JSON, cut at MAX_CELL_CHARS. */
export function cellText(v: JsonValue | undefined): string {
  if (v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'number' ? String(Number(v.toPrecision(8))) : JSON.stringify(v);
  return s.length > MAX_CELL_CHARS ? `${s.slice(0, MAX_CELL_CHARS)}…` : s;
}

export interface DiffRow {
  key: string;
  /** One cell per run, in the runs' order; '' where a run lacks the key. */
  cells: string[];
  /** Which runs lack the key. */
  missing: boolean[];
  /** Whether the runs disagree (a key some runs lack counts as differing). */
  differs: boolean;
}

export interface TableDiff {
  rows: DiffRow[];
  differing: number;
  omitted: number;
}

/** Side-by-side table of several runs' JSON (config or summary); `onlyDiffering` keeps the keys that differ. */
export function diffJson(objs: unknown[], opts: { onlyDiffering?: boolean } = {}): TableDiff {
  const flat = objs.map((o) => flattenJson(o));
  const maps = flat.map((f) => new Map(f.rows.map((r) => [r.key, r.value])));
  const keys = [...new Set(flat.flatMap((f) => f.rows.map((r) => r.key)))].sort();
  const rows: DiffRow[] = [];
  let differing = 0;
  for (const key of keys) {
    const values = maps.map((m) => m.get(key));
    const missing = values.map((v) => v === undefined);
    const canon = values.map((v) => (v === undefined ? '\u0000missing' : JSON.stringify(v)));
    const differs = canon.some((c) => c !== canon[0]);
    if (differs) differing++;
    if (opts.onlyDiffering && !differs) continue;
    rows.push({ key, cells: values.map(cellText), missing, differs });
  }
  return { rows, differing, omitted: Math.max(0, ...flat.map((f) => f.omitted)) };
}

/** Plain-text delta of two runs' config and summary (for the version diff document). */
export function renderRunDelta(left: { label: string; config: unknown; summary: unknown }, right: { label: string; config: unknown; summary: unknown }): string {
  const out: string[] = [];
  for (const part of ['config', 'summary'] as const) {
    const d = diffJson([left[part], right[part]], { onlyDiffering: true });
    out.push(`${part}: ${d.differing === 0 ? 'identical' : `${d.differing} key${d.differing === 1 ? ' differs' : 's differ'}`}`);
    for (const r of d.rows) {
      const a = r.missing[0] ? '(absent)' : r.cells[0];
      const b = r.missing[1] ? '(absent)' : r.cells[1];
      out.push(`  ~ ${r.key}: ${a} → ${b}`);
    }
    if (d.omitted) out.push(`  (${d.omitted} more keys not compared)`);
  }
  return out.join('\n');
}
