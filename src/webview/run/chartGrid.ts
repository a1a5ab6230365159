/**
 * The charts of one or more runs: a toolbar (metric filter, x axis, smoothing, log scale, reset
 * zoom) over one chart per numeric metric, every run a line of its own colour. Zooming one chart
 * zooms all of them (they share the x axis) and asks the extension for full detail of the range.
 */
import type { MetricSeries, RunMetrics } from '../../core/api.js';
import { appendSeries, countNonFinite, metricFilter, toPoints, type XAxis } from '../../core/runs/metricSeries.js';
import type { RunViewToExtension } from '../../core/runViewMessages.js';
import { LineChart } from './chart.js';
import { button, el, note } from './dom.js';

export interface GridRun {
  runId: string;
  label: string;
  color: string;
}

/** Past this many points per series after live appends, ask for a freshly downsampled overview. */
const REFRESH_AFTER_POINTS = 5_000;

export class ChartGrid {
  readonly root: HTMLElement;
  private readonly grid: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly status: HTMLElement;
  private readonly charts = new Map<string, LineChart>();
  private overview = new Map<string, RunMetrics>();
  private detail: Map<string, RunMetrics> | null = null;
  private x: XAxis = 'step';
  private smoothing = 0;
  private log = false;
  private filter = metricFilter('');
  private zoom: [number, number] | null = null;
  private refreshAsked = false;

  constructor(private runs: GridRun[], private readonly post: (m: RunViewToExtension) => void) {
    this.root = el('div', { class: 'chart-grid-wrap' });
    const toolbar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Charts' });
    const search = el('input', { type: 'search', class: 'metric-filter', placeholder: 'Filter metrics (words or /regex/)', 'aria-label': 'Filter metrics' });
    search.addEventListener('input', () => {
      this.filter = metricFilter(search.value);
      this.renderAll();
    });
    const axis = el('div', { class: 'segmented', role: 'group', 'aria-label': 'X axis' });
    const stepBtn = button('Step', 'Plot against the logged step', () => this.setX('step'));
    const timeBtn = button('Wall time', 'Plot against the time each step was logged', () => this.setX('time'));
    stepBtn.dataset.x = 'step';
    timeBtn.dataset.x = 'time';
    axis.append(stepBtn, timeBtn);
    const smoothLabel = el('label', { class: 'smoothing' }, 'Smoothing ');
    const slider = el('input', { type: 'range', min: '0', max: '0.99', step: '0.01', value: '0', 'aria-label': 'Smoothing' });
    const smoothValue = el('output', { class: 'smoothing-value' }, '0');
    slider.addEventListener('input', () => {
      this.smoothing = Number(slider.value);
      smoothValue.textContent = slider.value;
      this.renderAll();
    });
    smoothLabel.append(slider, smoothValue);
    const logBox = el('input', { type: 'checkbox', class: 'log-scale' });
    logBox.addEventListener('change', () => {
      this.log = logBox.checked;
      this.renderAll();
    });
    const logLabel = el('label', {}, logBox, ' Log scale');
    const reset = button('Reset zoom', 'Show every step again (or double-click a chart)', () => this.setZoom(null), 'reset-zoom');
    this.status = el('span', { class: 'status', 'aria-live': 'polite' });
    toolbar.append(search, axis, smoothLabel, logLabel, reset, this.status);
    this.banner = el('div', { class: 'notes' });
    this.grid = el('div', { class: 'charts' });
    this.root.append(toolbar, this.banner, this.grid);
    this.updateAxisButtons();
    // Charts take the width they are given (redrawn when it changes, not on the first report).
    let resizeTimer: number | undefined;
    let lastWidth = -1;
    new ResizeObserver((entries) => {
      const w = Math.round(entries[0]?.contentRect.width ?? 0);
      if (w === lastWidth) return;
      const first = lastWidth === -1;
      lastWidth = w;
      if (first) return;
      clearTimeout(resizeTimer);
      resizeTimer = window.setTimeout(() => {
        for (const c of this.charts.values()) c.dirty = true;
        this.renderAll();
      }, 80);
    }).observe(this.grid);
    // Only charts on screen are drawn; the others when scrolled into view (a run may log hundreds).
    this.visibility = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const key = (e.target as HTMLElement).dataset.key ?? '';
        if (e.isIntersecting) this.visible.add(key);
        else this.visible.delete(key);
        const chart = this.charts.get(key);
        if (e.isIntersecting && chart?.dirty) chart.render();
      }
    }, { rootMargin: '200px' });
  }

  private readonly visibility: IntersectionObserver;
  private readonly visible = new Set<string>();

  setRuns(runs: GridRun[]): void {
    this.runs = runs;
  }

  get xAxis(): XAxis {
    return this.x;
  }

  /** Handles a `metrics` message. */
  receive(mode: 'replace' | 'zoom' | 'append', x: XAxis, runs: Array<{ runId: string; metrics: RunMetrics }>): void {
    if (x !== this.x) return; // an answer to an earlier axis
    if (mode === 'replace') {
      this.overview = new Map(runs.map((r) => [r.runId, r.metrics]));
      this.detail = null;
      this.refreshAsked = false;
      if (this.zoom) this.post({ type: 'queryMetrics', x: this.x, range: { min: this.zoom[0], max: this.zoom[1] } });
    } else if (mode === 'zoom') {
      if (!this.zoom) return;
      this.detail = new Map(runs.map((r) => [r.runId, r.metrics]));
    } else {
      let biggest = 0;
      for (const r of runs) {
        const cur = this.overview.get(r.runId);
        if (!cur) {
          this.overview.set(r.runId, r.metrics);
          continue;
        }
        const byKey = new Map(cur.series.map((s) => [s.key, s]));
        for (const s of r.metrics.series) byKey.set(s.key, byKey.has(s.key) ? appendSeries(byKey.get(s.key)!, s) : s);
        const series = [...byKey.values()];
        biggest = Math.max(biggest, ...series.map((s) => s.step.length));
        this.overview.set(r.runId, { ...cur, keys: r.metrics.keys.length ? r.metrics.keys : cur.keys, series, notes: r.metrics.notes.length ? r.metrics.notes : cur.notes });
      }
      if (biggest > REFRESH_AFTER_POINTS && !this.refreshAsked) {
        this.refreshAsked = true;
        this.post({ type: 'queryMetrics', x: this.x, range: null });
      }
    }
    this.renderAll();
  }

  /** Keys with at least one numeric value in any run, sorted. */
  numericKeys(): string[] {
    const keys = new Set<string>();
    for (const m of this.overview.values()) {
      for (const k of m.keys) if (k.numeric) keys.add(k.key);
      for (const s of m.series) keys.add(s.key);
    }
    return [...keys].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  }

  private setX(x: XAxis): void {
    if (x === this.x) return;
    this.x = x;
    this.zoom = null;
    this.detail = null;
    for (const c of this.charts.values()) c.setZoom(null);
    this.updateAxisButtons();
    this.status.textContent = 'Loading…';
    this.post({ type: 'queryMetrics', x, range: null });
  }

  private updateAxisButtons(): void {
    for (const b of this.root.querySelectorAll<HTMLButtonElement>('[data-x]')) b.setAttribute('aria-pressed', String(b.dataset.x === this.x));
  }

  /** Zooms every chart to `range` (null: all steps) and asks for full detail of the range. */
  private setZoom(range: [number, number] | null): void {
    this.zoom = range;
    this.detail = null;
    for (const c of this.charts.values()) c.setZoom(range);
    if (range) this.post({ type: 'queryMetrics', x: this.x, range: { min: range[0], max: range[1] } });
    this.renderAll();
  }

  private seriesOf(runId: string, key: string): MetricSeries | undefined {
    const d = this.detail?.get(runId)?.series.find((s) => s.key === key);
    return d ?? this.overview.get(runId)?.series.find((s) => s.key === key);
  }

  renderAll(): void {
    const keys = this.numericKeys();
    const serverNotes = [...new Set([...this.overview.values()].flatMap((m) => m.notes))];
    this.banner.replaceChildren(...serverNotes.map((n) => note(n, 'warning')));
    if (keys.length === 0) {
      this.grid.replaceChildren(note(this.overview.size === 0 ? 'Loading metrics…' : 'This run logged no numeric metrics yet. Values logged with log() appear here as charts.'));
      this.charts.clear();
      this.status.textContent = '';
      return;
    }
    for (const k of [...this.charts.keys()]) {
      if (keys.includes(k)) continue;
      this.visibility.unobserve(this.charts.get(k)!.root);
      this.charts.delete(k);
    }
    const shown: HTMLElement[] = [];
    let downsampled = false;
    for (const key of keys) {
      let chart = this.charts.get(key);
      if (!chart) {
        chart = new LineChart(key, (range) => this.setZoom(range));
        chart.setZoom(this.zoom);
        this.charts.set(key, chart);
        this.visibility.observe(chart.root);
      }
      if (!this.filter(key)) continue;
      shown.push(chart.root);
    }
    this.grid.replaceChildren(...shown);
    // One layout for all charts: they share the grid's column width.
    const width = shown[0]?.clientWidth;
    const viewport = window.scrollY + window.innerHeight + 200;
    const tops = new Map(shown.map((el) => [el.dataset.key, el.offsetTop]));
    for (const key of keys) {
      if (!this.filter(key)) continue;
      const chart = this.charts.get(key)!;
      const notes: string[] = [];
      const lines = this.runs.flatMap((r) => {
        const s = this.seriesOf(r.runId, key);
        if (!s) return [];
        if (s.downsampled) downsampled = true;
        const bad = countNonFinite(s);
        const who = this.runs.length > 1 ? `${r.label}: ` : '';
        if (bad.nan) notes.push(`${who}${bad.nan} NaN value${bad.nan === 1 ? '' : 's'} shown as gaps.`);
        if (bad.infinite) notes.push(`${who}${bad.infinite} infinite value${bad.infinite === 1 ? '' : 's'} shown as gaps.`);
        return [{ label: r.label, color: r.color, points: toPoints(s, this.x) }];
      });
      chart.setData(lines, { x: this.x, smoothing: this.smoothing, log: this.log }, notes);
      // Draw what is on screen now (before the observer's first report, judge by position).
      if (this.visible.has(key) || (tops.get(key) ?? Infinity) < viewport) chart.render(width);
    }
    const hidden = keys.length - shown.length;
    this.status.textContent = [
      `${shown.length} chart${shown.length === 1 ? '' : 's'}${hidden ? ` (${hidden} filtered out)` : ''}`,
      this.zoom ? (this.detail ? 'zoomed, full detail' : 'zoomed, loading detail…') : downsampled ? 'downsampled; zoom for full detail' : '',
    ]
      .filter(Boolean)
      .join(' · ');
  }
}
