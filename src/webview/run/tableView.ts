/**
 * The table viewer: a logged `wandb.Table` (`.table.json`) as a sortable, filterable table shown a
 * page of rows at a time, so a 100,000-row table draws as fast as a 100-row one. Image cells show
 * their pixels as thumbnails, nested values as compact JSON. A malformed or oversized file is a
 * note saying why, never a blank view. Used by the run view's Tables section and by the viewer
 * of `.table.json` files opened in an editor.
 */
import { cellKind, filterTableRows, imageCell, parseTableFile, sortTableRows, tableCellText, type TableFile } from '../../core/runs/tableFile.js';
import { formatMetric } from '../../core/runs/metricSeries.js';
import { button, el, note } from './dom.js';

export const TABLE_PAGE_ROWS = 100;
/** Thumbnails past this many pixels are described instead of drawn. */
const MAX_THUMB_PIXELS = 512 * 512;
const THUMB_PX = 64;

export class TableView {
  readonly root = el('div', { class: 'table-viewer' });
  private table: TableFile | null = null;
  private rows: Uint32Array = new Uint32Array(0);
  private sort: { column: number; dir: 'asc' | 'desc' } | null = null;
  private filter = '';
  private page = 0;
  private readonly toolbar = el('div', { class: 'toolbar table-toolbar', role: 'toolbar', 'aria-label': 'Table' });
  private readonly status = el('span', { class: 'status table-status', 'aria-live': 'polite' });
  private readonly body = el('div', { class: 'table-wrap' });
  private readonly pager = el('div', { class: 'pager' });
  private filterTimer: number | undefined;

  constructor() {
    const search = el('input', { type: 'search', class: 'table-filter', placeholder: 'Filter rows (words in any cell)', 'aria-label': 'Filter rows' });
    search.addEventListener('input', () => {
      // Filtering 100,000 rows takes a moment: once typing pauses, not per key.
      clearTimeout(this.filterTimer);
      this.filterTimer = window.setTimeout(() => this.setFilter(search.value), 150);
    });
    this.toolbar.append(search, this.status);
  }

  /** Shows a file's text (checked here), or why there is none. */
  show(text: string | null, error: string | null, name: string): void {
    this.table = null;
    if (text === null) return this.fail(error ?? `${name} could not be loaded.`);
    const parsed = parseTableFile(text, name);
    if (!parsed.ok) return this.fail(parsed.error);
    this.table = parsed.table;
    this.sort = null;
    this.page = 0;
    this.root.replaceChildren(this.toolbar, this.body, this.pager);
    this.recompute();
  }

  /** Shown while the file loads. */
  loading(name: string): void {
    this.table = null;
    this.root.replaceChildren(note(`Loading ${name}…`));
  }

  private fail(message: string): void {
    this.root.replaceChildren(note(message, 'error'));
  }

  private setFilter(text: string): void {
    this.filter = text;
    this.page = 0;
    this.recompute();
  }

  private recompute(): void {
    const t = this.table;
    if (!t) return;
    let rows = filterTableRows(t, this.filter);
    if (this.sort) rows = sortTableRows(t, rows, this.sort.column, this.sort.dir);
    this.rows = rows;
    this.render();
  }

  private render(): void {
    const t = this.table!;
    const pages = Math.max(1, Math.ceil(this.rows.length / TABLE_PAGE_ROWS));
    this.page = Math.min(this.page, pages - 1);
    const from = this.page * TABLE_PAGE_ROWS;
    const to = Math.min(this.rows.length, from + TABLE_PAGE_ROWS);
    const filtered = this.rows.length !== t.data.length ? ` (filtered from ${t.data.length.toLocaleString()})` : '';
    this.status.textContent = `${this.rows.length.toLocaleString()} row${this.rows.length === 1 ? '' : 's'}${filtered} · ${t.columns.length} column${t.columns.length === 1 ? '' : 's'}`;
    if (t.columns.length === 0 || t.data.length === 0) {
      this.body.replaceChildren(note(t.columns.length === 0 ? 'This table has no columns.' : 'This table has no rows.'));
      this.pager.replaceChildren();
      return;
    }
    const table = el('table', { class: 'logged-table' });
    const head = el('tr', {}, el('th', { scope: 'col', class: 'row-number' }, '#'));
    t.columns.forEach((c, i) => {
      const active = this.sort?.column === i;
      const th = el('th', { scope: 'col', 'data-column': String(i), 'aria-sort': active ? (this.sort!.dir === 'asc' ? 'ascending' : 'descending') : 'none' });
      th.append(button(`${c}${active ? (this.sort!.dir === 'asc' ? ' ▲' : ' ▼') : ''}`, `Sort by ${c}`, () => this.toggleSort(i), 'sort'));
      head.append(th);
    });
    const body = el('tbody');
    for (let k = from; k < to; k++) {
      const i = this.rows[k];
      const tr = el('tr', { 'data-row': String(i) }, el('td', { class: 'row-number' }, String(i)));
      for (const v of t.data[i]) tr.append(this.cell(v));
      body.append(tr);
    }
    table.append(el('thead', {}, head), body);
    this.body.replaceChildren(this.rows.length ? table : note('No row matches the filter.'));
    this.renderPager(pages, from, to);
  }

  private renderPager(pages: number, from: number, to: number): void {
    if (pages <= 1) {
      this.pager.replaceChildren();
      return;
    }
    const go = (p: number) => () => {
      this.page = Math.max(0, Math.min(pages - 1, p));
      this.render();
      this.root.scrollIntoView({ block: 'nearest' });
    };
    const first = button('« First', 'First page', go(0), 'page-first');
    const prev = button('‹ Previous', 'Previous page', go(this.page - 1), 'page-prev');
    const next = button('Next ›', 'Next page', go(this.page + 1), 'page-next');
    const last = button('Last »', 'Last page', go(pages - 1), 'page-last');
    first.disabled = prev.disabled = this.page === 0;
    next.disabled = last.disabled = this.page === pages - 1;
    const label = el('span', { class: 'page-label' }, `rows ${(from + 1).toLocaleString()}–${to.toLocaleString()} of ${this.rows.length.toLocaleString()} · page ${this.page + 1} of ${pages.toLocaleString()}`);
    this.pager.replaceChildren(first, prev, label, next, last);
  }

  private toggleSort(column: number): void {
    const s = this.sort;
    this.sort = s?.column !== column ? { column, dir: 'asc' } : s.dir === 'asc' ? { column, dir: 'desc' } : null;
    this.page = 0;
    this.recompute();
  }

  private cell(v: unknown): HTMLTableCellElement {
    const kind = cellKind(v);
    const td = el('td', { class: `cell-${kind}` });
    if (kind === 'number') td.textContent = typeof v === 'number' ? formatMetric(v) : String(v);
    else if (kind === 'image') td.append(imageThumb(v));
    else if (kind === 'nested') {
      const text = tableCellText(v);
      td.append(el('code', { title: text }, text));
    } else td.textContent = tableCellText(v);
    return td;
  }
}

/** An image cell: its pixels drawn small (a canvas: the CSP allows no inline image data), or its description. */
function imageThumb(v: unknown): HTMLElement {
  const img = imageCell(v)!;
  const fig = el('figure', { class: 'table-image' });
  const label = img.caption ?? img.path ?? 'image';
  const canvas = img.pixels ? drawPixels(img.pixels) : null;
  if (canvas) fig.append(canvas);
  else fig.append(el('span', { class: 'muted' }, img.path ? `image file ${img.path} (not stored in the table)` : 'image (no pixels stored)'));
  if (img.caption) fig.append(el('figcaption', {}, img.caption));
  fig.title = label;
  return fig;
}

/** Draws HxW (grey) or HxWx3/4 pixels, 0–255 or 0–1 floats as Python's Image writes them; null if not such an array. */
function drawPixels(pixels: unknown[]): HTMLCanvasElement | null {
  const h = pixels.length;
  const first = pixels[0];
  if (!Array.isArray(first)) return null;
  const w = first.length;
  if (!w || h * w > MAX_THUMB_PIXELS) return null;
  const channels = Array.isArray(first[0]) ? (first[0] as unknown[]).length : 1;
  let max = 0;
  for (const row of pixels) for (const px of row as unknown[]) for (const c of Array.isArray(px) ? px : [px]) if (typeof c === 'number' && c > max) max = c;
  const scale = max <= 1 ? 255 : 1;
  const canvas = el('canvas', { class: 'thumb', width: String(w), height: String(h), 'aria-label': `image ${w}×${h}` });
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  const data = ctx.createImageData(w, h);
  for (let y = 0; y < h; y++) {
    const row = pixels[y];
    if (!Array.isArray(row)) return null;
    for (let x = 0; x < w; x++) {
      const px = row[x];
      const vals = Array.isArray(px) ? px : [px];
      const c = (j: number) => {
        const n = vals[Math.min(j, vals.length - 1)];
        return typeof n === 'number' && Number.isFinite(n) ? Math.max(0, Math.min(255, Math.round(n * scale))) : 0;
      };
      const o = (y * w + x) * 4;
      data.data[o] = c(0);
      data.data[o + 1] = channels >= 3 ? c(1) : c(0);
      data.data[o + 2] = channels >= 3 ? c(2) : c(0);
      data.data[o + 3] = channels === 4 ? c(3) : 255;
    }
  }
  ctx.putImageData(data, 0, 0);
  // Small images scale up crisply; large ones down to a thumbnail.
  const zoom = THUMB_PX / Math.max(w, h);
  canvas.style.width = `${Math.round(w * zoom)}px`;
  canvas.style.height = `${Math.round(h * zoom)}px`;
  return canvas;
}
