/**
 * One metric chart: lines drawn on a canvas (100,000 points stay fast: each pixel column draws
 * only its first, lowest, highest and last point), axes, brush-to-zoom and a hover read-out in
 * SVG. Several lines overlay for run comparison. The page owns the data; the chart only draws it
 * and reports zooms so the page can ask the server for full detail of the range.
 */
import { axisBottom, axisLeft, brushX, scaleLinear, scaleLog, scaleTime, select } from 'd3';
import { emaSmooth, forLogScale, formatMetric, nearestIndex, pixelDecimate, yExtent, type Points, type XAxis } from '../../core/runs/metricSeries.js';
import { el, themeColor } from './dom.js';

export interface ChartLine {
  label: string;
  color: string;
  points: Points;
}
export interface ChartOptions {
  x: XAxis;
  /** EMA weight in [0, 1). */
  smoothing: number;
  log: boolean;
}

const HEIGHT = 210;
const M = { left: 58, right: 14, top: 10, bottom: 26 };

interface Drawn {
  line: ChartLine;
  xs: Float64Array;
  raw: Float64Array;
  smooth: Float64Array | null;
}

function lowerBound(xs: Float64Array, x: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class LineChart {
  readonly root: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly svg: SVGSVGElement;
  private readonly readout: HTMLElement;
  private readonly notes: HTMLElement;
  private lines: ChartLine[] = [];
  private opts: ChartOptions = { x: 'step', smoothing: 0, log: false };
  private extraNotes: string[] = [];
  private zoom: [number, number] | null = null;
  private drawn: Drawn[] = [];
  private scales: { x: (v: number) => number; invert: (px: number) => number; y: (v: number) => number } | null = null;
  private seq = 0;
  /** Data or options changed since the last draw (off-screen charts draw when scrolled to). */
  dirty = true;

  constructor(readonly key: string, private readonly onZoom: (range: [number, number] | null) => void) {
    this.root = el('figure', { class: 'chart', 'data-key': key });
    const title = el('figcaption', { class: 'chart-title', title: key }, key);
    const plot = el('div', { class: 'plot' });
    this.canvas = el('canvas', { class: 'lines', 'aria-hidden': 'true' });
    this.svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    this.svg.setAttribute('class', 'axes');
    this.svg.setAttribute('role', 'img');
    this.svg.setAttribute('aria-label', `${key} over step`);
    this.readout = el('div', { class: 'readout', hidden: '' });
    plot.append(this.canvas, this.svg, this.readout);
    this.notes = el('div', { class: 'chart-notes' });
    this.root.append(title, plot, this.notes);
    this.svg.addEventListener('mousemove', (e) => this.hover(e));
    this.svg.addEventListener('mouseleave', () => {
      this.readout.hidden = true;
      const rule = this.svg.querySelector<SVGLineElement>('line.rule');
      if (rule) rule.style.display = 'none';
    });
    this.svg.addEventListener('dblclick', () => this.resetZoom());
  }

  /** Lines and options to draw; `notes` are shown under the chart (NaN gaps, dropped points…). */
  setData(lines: ChartLine[], opts: ChartOptions, notes: string[] = []): void {
    if (opts.x !== this.opts.x) this.zoom = null;
    this.lines = lines;
    this.opts = opts;
    this.extraNotes = notes;
    this.dirty = true;
    this.svg.setAttribute('aria-label', `${this.key} over ${opts.x === 'time' ? 'wall time' : 'step'}`);
  }

  get zoomed(): [number, number] | null {
    return this.zoom;
  }

  setZoom(range: [number, number] | null): void {
    this.zoom = range;
    this.dirty = true;
  }

  resetZoom(): void {
    if (!this.zoom) return;
    this.zoom = null;
    this.render();
    this.onZoom(null);
  }

  /** Draws now; `knownWidth` saves a layout per chart when the grid already measured one. */
  render(knownWidth?: number): void {
    const t0 = performance.now();
    this.dirty = false;
    const width = Math.max(240, Math.floor(knownWidth ?? (this.root.clientWidth || 480)));
    const plotW = width - M.left - M.right;
    const plotH = HEIGHT - M.top - M.bottom;
    const notes = [...this.extraNotes];
    // Data → drawable numbers (smoothing, log scale) once per render.
    let logDropped = 0;
    this.drawn = this.lines.map((line) => {
      let raw: Float64Array = line.points.ys;
      let smooth = this.opts.smoothing > 0 ? emaSmooth(raw, this.opts.smoothing) : null;
      if (this.opts.log) {
        const r = forLogScale(raw);
        logDropped += r.dropped;
        raw = r.ys;
        if (smooth) smooth = forLogScale(smooth).ys;
      }
      return { line, xs: line.points.xs, raw, smooth };
    });
    if (logDropped) notes.push(`${logDropped} value${logDropped === 1 ? ' is' : 's are'} zero or negative and cannot be drawn on a log scale.`);
    let x0 = Infinity;
    let x1 = -Infinity;
    for (const d of this.drawn) if (d.xs.length) (x0 = Math.min(x0, d.xs[0])), (x1 = Math.max(x1, d.xs[d.xs.length - 1]));
    if (this.zoom) [x0, x1] = this.zoom;
    let ylo = Infinity;
    let yhi = -Infinity;
    for (const d of this.drawn) {
      for (const ys of d.smooth ? [d.raw, d.smooth] : [d.raw]) {
        const e = yExtent({ xs: d.xs, ys }, x0, x1);
        if (e) (ylo = Math.min(ylo, e[0])), (yhi = Math.max(yhi, e[1]));
      }
    }
    const empty = !(x0 <= x1) || !(ylo <= yhi);
    if (empty) notes.push(this.lines.every((l) => l.points.xs.length === 0) ? 'No points logged yet.' : 'No finite values to draw in this range.');
    if (!empty && x0 === x1) (x0 -= 1), (x1 += 1);
    if (!empty && ylo === yhi) {
      const pad = Math.abs(ylo) * 0.1 || 1;
      ylo = this.opts.log ? ylo / 2 : ylo - pad;
      yhi = this.opts.log ? yhi * 2 : yhi + pad;
    } else if (!empty && !this.opts.log) {
      const pad = (yhi - ylo) * 0.05;
      ylo -= pad;
      yhi += pad;
    }
    if (empty) [x0, x1, ylo, yhi] = [0, 1, this.opts.log ? 1 : 0, this.opts.log ? 10 : 1];

    const xScale = this.opts.x === 'time' ? scaleTime().domain([new Date(x0), new Date(x1)]).range([0, plotW]) : scaleLinear().domain([x0, x1]).range([0, plotW]);
    const yScale = (this.opts.log ? scaleLog() : scaleLinear()).domain([ylo, yhi]).range([plotH, 0]);
    const xpx = (v: number) => xScale(v as number & Date) as number;
    this.scales = { x: xpx, invert: (px) => +xScale.invert(px), y: (v) => yScale(v) };

    // Canvas lines, at the device's pixel density.
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(HEIGHT * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${HEIGHT}px`;
    const ctx = this.canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, HEIGHT);
    ctx.save();
    ctx.beginPath();
    ctx.rect(M.left, M.top, plotW, plotH);
    ctx.clip();
    ctx.translate(M.left, M.top);
    let drawnPoints = 0;
    for (const d of this.drawn) {
      const from = Math.max(0, lowerBound(d.xs, x0) - 1);
      const to = Math.min(d.xs.length, lowerBound(d.xs, x1) + 1);
      const xs = d.xs.subarray(from, to);
      const passes: Array<[Float64Array, number, number]> = d.smooth ? [[d.raw.subarray(from, to), 0.25, 1], [d.smooth.subarray(from, to), 1, 1.6]] : [[d.raw.subarray(from, to), 1, 1.4]];
      for (const [ys, alpha, lw] of passes) {
        const idx = pixelDecimate(xs, ys, x0, x1, plotW);
        drawnPoints += idx.length;
        ctx.globalAlpha = alpha;
        ctx.strokeStyle = d.line.color;
        ctx.lineWidth = lw;
        ctx.beginPath();
        let pen = false;
        let lone: [number, number] | null = null;
        for (const i of idx) {
          const y = ys[i];
          if (!Number.isFinite(y)) {
            pen = false;
            continue;
          }
          const px = xpx(xs[i]);
          const py = yScale(y);
          if (pen) ctx.lineTo(px, py);
          else {
            ctx.moveTo(px, py);
            lone = [px, py];
          }
          pen = true;
        }
        ctx.stroke();
        // A single point (one logged step) would be invisible as a line.
        if (idx.length === 1 && lone) {
          ctx.fillStyle = d.line.color;
          ctx.beginPath();
          ctx.arc(lone[0], lone[1], 2.5, 0, Math.PI * 2);
          ctx.fill();
        }
      }
    }
    ctx.restore();
    ctx.globalAlpha = 1;

    // Axes and the brush in SVG.
    const svg = select(this.svg).attr('width', width).attr('height', HEIGHT).attr('viewBox', `0 0 ${width} ${HEIGHT}`);
    svg.selectAll('*').remove();
    const fg = themeColor('--vscode-descriptionForeground', '#717171');
    const xAxis = svg.append('g').attr('class', 'x-axis').attr('transform', `translate(${M.left},${M.top + plotH})`);
    if (this.opts.x === 'time') xAxis.call(axisBottom(scaleTime().domain([new Date(x0), new Date(x1)]).range([0, plotW])).ticks(Math.max(2, Math.floor(plotW / 90))));
    else xAxis.call(axisBottom(scaleLinear().domain([x0, x1]).range([0, plotW])).ticks(Math.max(2, Math.floor(plotW / 80))).tickFormat((v) => formatMetric(+v)));
    const yAxis = svg.append('g').attr('class', 'y-axis').attr('transform', `translate(${M.left},${M.top})`);
    yAxis.call(axisLeft(yScale).ticks(this.opts.log ? 4 : 5).tickFormat((v) => formatMetric(+v)));
    svg.selectAll('.domain, .tick line').attr('stroke', fg);
    svg.selectAll('.tick text').attr('fill', fg);
    svg.append('line').attr('class', 'rule').attr('y1', M.top).attr('y2', M.top + plotH).style('display', 'none');
    const brush = brushX()
      .extent([[M.left, M.top], [M.left + plotW, M.top + plotH]])
      .on('end', (event: { selection: [number, number] | null }) => {
        if (!event.selection) return;
        const [a, b] = event.selection.map((px) => +xScale.invert(px - M.left));
        svg.select<SVGGElement>('g.brush').call(brush.move, null);
        if (b - a <= 0) return;
        this.zoom = [a, b];
        this.render();
        this.onZoom(this.zoom);
      });
    svg.append('g').attr('class', 'brush').call(brush);

    this.notes.replaceChildren(...notes.map((n) => el('p', { class: 'note note-info' }, n)));
    this.root.classList.toggle('zoomed', !!this.zoom);
    this.root.dataset.points = String(drawnPoints);
    this.root.dataset.total = String(this.lines.reduce((s, l) => s + l.points.xs.length, 0));
    this.root.dataset.renderMs = (performance.now() - t0).toFixed(1);
    this.root.dataset.renderSeq = String(++this.seq);
  }

  private hover(e: MouseEvent): void {
    if (!this.scales || this.drawn.length === 0) return;
    const rect = this.svg.getBoundingClientRect();
    const px = e.clientX - rect.left - M.left;
    const x = this.scales.invert(px);
    const rows: Array<Node> = [];
    let at: number | null = null;
    for (const d of this.drawn) {
      const i = nearestIndex(d.xs, x);
      if (i < 0) continue;
      at ??= d.xs[i];
      const raw = d.line.points.ys[i];
      const sm = d.smooth ? ` (smoothed ${formatMetric(d.smooth[i])})` : '';
      const swatch = el('span', { class: 'swatch' });
      swatch.style.background = d.line.color; // CSSOM, which the CSP allows (style attributes it does not)
      rows.push(el('div', { class: 'readout-row' }, swatch, `${d.line.label}: ${formatMetric(raw)}${sm}`));
    }
    if (at === null) return;
    const xLabel = this.opts.x === 'time' ? new Date(at).toLocaleString() : `step ${at}`;
    this.readout.replaceChildren(el('div', { class: 'readout-x' }, xLabel), ...rows);
    this.readout.hidden = false;
    const left = Math.min(rect.width - 180, Math.max(0, e.clientX - rect.left + 12));
    this.readout.style.left = `${left}px`;
    const rule = this.svg.querySelector('line.rule');
    if (rule) {
      const rx = M.left + this.scales.x(at);
      rule.setAttribute('x1', String(rx));
      rule.setAttribute('x2', String(rx));
      (rule as SVGLineElement).style.display = '';
    }
  }
}
