/**
 * Logged tables (`wandb.Table`): the `.table.json` files the clients write, checked before they
 * are shown (the bytes come from a server or a workspace, so nothing about them is trusted), and
 * the sorting and filtering the table viewer does without a round trip. Browser-safe.
 *
 * The file is W&B's table JSON: `{"_type": "table", "columns": [...], "data": [[...], ...]}`.
 * Python's `json` writes NaN and ±Infinity as bare `NaN` / `Infinity` tokens, which JSON has
 * not; they are read as the strings "NaN", "Infinity", "-Infinity" (as the metrics route does).
 */
import { z } from 'zod';
import { cellText } from './runTables.js';

/** Past this size the viewer says so instead of parsing (JSON of this size takes seconds and ~10× in memory). */
export const MAX_TABLE_FILE_BYTES = 50 * 1024 * 1024;
export const MAX_TABLE_COLUMNS = 1_000;

/** A table file as the viewer accepts it; other keys (`column_types`, `ncols`, …) are ignored. */
export const TableFile = z
  .object({
    _type: z.literal('table', { message: 'expected "_type": "table" (a wandb.Table file)' }),
    columns: z.array(z.union([z.string(), z.number()]).transform(String)).max(MAX_TABLE_COLUMNS),
    data: z.custom<unknown[][]>((d) => Array.isArray(d), 'expected "data" to be a list of rows'),
  })
  .passthrough()
  .superRefine((t, ctx) => {
    // One loop, not a schema per row: a table may have 100,000 rows.
    const n = t.columns.length;
    for (let i = 0; i < t.data.length; i++) {
      const row = t.data[i];
      if (!Array.isArray(row) || row.length !== n) {
        const what = Array.isArray(row) ? `${row.length} cells` : 'no list of cells';
        ctx.addIssue({ code: 'custom', path: ['data', i], message: `row ${i} has ${what} but the table has ${n} columns` });
        return;
      }
    }
  });
export type TableFile = { columns: string[]; data: unknown[][] };

export type TableParse = { ok: true; table: TableFile } | { ok: false; error: string };

/** Replaces Python's bare NaN / Infinity / -Infinity tokens (outside strings) with JSON strings. */
export function quoteNonFiniteTokens(text: string): string {
  let out = '';
  let from = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) {
      inString = true;
      continue;
    }
    for (const token of ['-Infinity', 'Infinity', 'NaN']) {
      if (text.startsWith(token, i)) {
        out += `${text.slice(from, i)}"${token}"`;
        i += token.length - 1;
        from = i + 1;
        break;
      }
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Parses and checks a `.table.json` file's text; the error says what is wrong and what to do. */
export function parseTableFile(text: string, name = 'this file'): TableParse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    try {
      json = JSON.parse(quoteNonFiniteTokens(text));
    } catch {
      return { ok: false, error: `${name} is not valid JSON (${(e as Error).message}). Open it as JSON to see where it breaks.` };
    }
  }
  const r = TableFile.safeParse(json);
  if (!r.success) {
    const first = r.error.issues[0];
    const where = first?.path.length ? ` at ${first.path.join('.')}` : '';
    return { ok: false, error: `${name} is not a table file${where}: ${first?.message ?? 'invalid'}. Tables are written by wandb.Table (run.log or artifact.add); open it as JSON to see its content.` };
  }
  return { ok: true, table: { columns: r.data.columns, data: r.data.data } };
}

/** What a cell holds, for how it is drawn. */
export type CellKind = 'empty' | 'number' | 'text' | 'boolean' | 'image' | 'nested';

export function cellKind(v: unknown): CellKind {
  if (v === null || v === undefined) return 'empty';
  if (typeof v === 'number' || v === 'NaN' || v === 'Infinity' || v === '-Infinity') return 'number';
  if (typeof v === 'string') return 'text';
  if (typeof v === 'boolean') return 'boolean';
  const t = (v as { _type?: unknown })._type;
  if (t === 'image' || t === 'image-file') return 'image';
  return 'nested';
}

/** An image cell: pixels (a logged `Image` array, HxW or HxWxC) or the path of an image file. */
export interface ImageCell {
  pixels: unknown[] | null;
  path: string | null;
  caption: string | null;
}

export function imageCell(v: unknown): ImageCell | null {
  if (cellKind(v) !== 'image') return null;
  const o = v as { pixels?: unknown; path?: unknown; caption?: unknown };
  return {
    pixels: Array.isArray(o.pixels) && o.pixels.length > 0 ? o.pixels : null,
    path: typeof o.path === 'string' ? o.path : null,
    caption: typeof o.caption === 'string' ? o.caption : null,
  };
}

/** A cell's text for display and filtering (images by caption or path, nested values as JSON). */
export function tableCellText(v: unknown): string {
  const img = imageCell(v);
  if (img) return `image${img.caption ? `: ${img.caption}` : img.path ? `: ${img.path}` : ''}`;
  if (typeof v === 'boolean') return String(v);
  return cellText(v ?? undefined);
}

/** Rows (as indices into the table) whose cells contain every word of `text` (case-insensitive). */
export function filterTableRows(table: TableFile, text: string): Uint32Array {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  const out: number[] = [];
  const texts = words.length ? table.data.map((r) => r.map(tableCellText).join('\u0000').toLowerCase()) : null;
  for (let i = 0; i < table.data.length; i++) if (!texts || words.every((w) => texts[i].includes(w))) out.push(i);
  return Uint32Array.from(out);
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
const asNumber = (v: unknown) => (typeof v === 'number' ? v : v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v === 'NaN' ? NaN : null);

/**
 * Sorts row indices by a column. Ascending: numbers numerically, then NaN, then text (naturally:
 * "img-2" before "img-10") and other values by their text; descending the reverse. Empty cells
 * come last either way; ties keep the file's order.
 */
export function sortTableRows(table: TableFile, rows: Uint32Array, column: number, dir: 'asc' | 'desc'): Uint32Array {
  const sign = dir === 'asc' ? 1 : -1;
  const keyOf = (i: number) => {
    const v = table.data[i][column];
    const n = asNumber(v);
    if (v === null || v === undefined) return { rank: 3, n: 0, s: '' };
    if (n !== null) return Number.isNaN(n) ? { rank: 1, n: 0, s: '' } : { rank: 0, n, s: '' };
    return { rank: 2, n: 0, s: tableCellText(v) };
  };
  const keys = Array.from(rows, keyOf);
  const order = Array.from(rows.keys());
  order.sort((a, b) => {
    const ka = keys[a];
    const kb = keys[b];
    if (ka.rank === 3 || kb.rank === 3) return ka.rank !== kb.rank ? ka.rank - kb.rank : a - b;
    if (ka.rank !== kb.rank) return sign * (ka.rank - kb.rank);
    const c = ka.rank === 0 ? ka.n - kb.n : ka.rank === 2 ? collator.compare(ka.s, kb.s) : 0;
    return c !== 0 ? sign * c : a - b;
  });
  return Uint32Array.from(order, (k) => rows[k]);
}

/** A logged table of a run: `media/tables/<key>_<step>_<index>.table.json`. */
export interface LoggedTable {
  key: string;
  step: number;
  index: number;
  path: string;
  size: number;
}

const TABLE_FILE = /^media\/tables\/(.+)_(\d+)_(\d+)\.table\.json$/;

/** The run's logged tables from its file list, by key, step and index; `realKey` maps file-name keys back. */
export function loggedTables(files: Array<{ path: string; size: number }>, realKey: (fileKey: string) => string = (k) => k): LoggedTable[] {
  const out: LoggedTable[] = [];
  for (const f of files) {
    const m = TABLE_FILE.exec(f.path);
    if (m) out.push({ key: realKey(m[1]), step: Number(m[2]), index: Number(m[3]), path: f.path, size: f.size });
  }
  return out.sort((a, b) => a.key.localeCompare(b.key) || a.step - b.step || a.index - b.index);
}
