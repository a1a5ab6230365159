/**
 * Draws a laid-out lineage graph with d3 into SVG: runs as pills, artifact versions as boxes,
 * the focus outlined, aliases under version labels. Pan and zoom with d3-zoom.
 *
 * Staying smooth at 2,000 nodes: one delegated listener instead of one per node; past
 * EDGE_PATH_THRESHOLD edges are drawn as two combined paths (input, output) instead of one
 * element each; when zoomed out on a big graph the labels are hidden (level of detail), which
 * is most of what the browser would otherwise repaint while panning.
 */
import { line, curveBasis, select, zoom, zoomIdentity, type Selection, type ZoomBehavior } from 'd3';
import type { LineageGraph, LineageNode } from '../../core/api.js';
import { labelLines, layoutGraph, LINE_HEIGHT, type GraphLayout, type PlacedEdge } from '../../core/graphLayout.js';
import { aliasText, edgeKey } from '../../core/lineageView.js';

export const EDGE_PATH_THRESHOLD = 600;
export const LOD_NODE_THRESHOLD = 300;
export const LOD_SCALE = 0.55;
const MAX_FIT_SCALE = 1.2;

export interface RenderTimings {
  layoutMs: number;
  renderMs: number;
}
export interface GraphViewEvents {
  select(id: string | null): void;
  open(id: string): void;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const edgeLine = line<{ x: number; y: number }>().x((p) => p.x).y((p) => p.y).curve(curveBasis);

export class GraphView {
  readonly svg: Selection<SVGSVGElement, unknown, null, undefined>;
  private readonly viewport: Selection<SVGGElement, unknown, null, undefined>;
  private readonly edgeLayer: Selection<SVGGElement, unknown, null, undefined>;
  private readonly highlightLayer: Selection<SVGGElement, unknown, null, undefined>;
  private readonly nodeLayer: Selection<SVGGElement, unknown, null, undefined>;
  private readonly zoomer: ZoomBehavior<SVGSVGElement, unknown>;
  private layout: GraphLayout | undefined;
  private graph: LineageGraph | undefined;
  private selected: string | null = null;
  /** Nodes a search matched (others are dimmed); null when no search is active. */
  private matches: Set<string> | null = null;
  private seq = 0;

  constructor(container: HTMLElement, private readonly events: GraphViewEvents) {
    this.svg = select(container).append('svg').attr('class', 'graph').attr('role', 'img').attr('aria-label', 'Lineage graph');
    const defs = this.svg.append('defs');
    for (const kind of ['input', 'output', 'hl']) {
      defs
        .append('marker')
        .attr('id', `arrow-${kind}`)
        .attr('viewBox', '0 0 10 10')
        .attr('refX', 9)
        .attr('refY', 5)
        // In user units: a highlighted (thicker) edge keeps the same arrowhead.
        .attr('markerUnits', 'userSpaceOnUse')
        .attr('markerWidth', 9)
        .attr('markerHeight', 9)
        .attr('orient', 'auto-start-reverse')
        .append('path')
        .attr('class', `arrow arrow-${kind}`)
        .attr('d', 'M0,0L10,5L0,10z');
    }
    this.viewport = this.svg.append('g').attr('class', 'viewport');
    this.edgeLayer = this.viewport.append('g').attr('class', 'edges');
    this.highlightLayer = this.viewport.append('g').attr('class', 'edge-highlights');
    this.nodeLayer = this.viewport.append('g').attr('class', 'nodes');

    this.zoomer = zoom<SVGSVGElement, unknown>()
      .scaleExtent([0.02, 4])
      .on('zoom', (ev: { transform: { k: number; toString(): string } }) => {
        this.viewport.attr('transform', ev.transform.toString());
        this.applyLevelOfDetail(ev.transform.k);
      });
    this.svg.call(this.zoomer).on('dblclick.zoom', null);

    // One listener for all nodes (2,000 listeners would cost more than the drawing).
    const nodeOf = (ev: Event) => (ev.target as Element | null)?.closest?.('g.node') as SVGGElement | null;
    this.svg.on('click', (ev: MouseEvent) => {
      const g = nodeOf(ev);
      this.setSelected(g?.dataset.id ?? null);
      this.events.select(this.selected);
    });
    this.svg.on('dblclick', (ev: MouseEvent) => {
      const g = nodeOf(ev);
      if (g?.dataset.id) this.events.open(g.dataset.id);
    });
    this.svg.on('keydown', (ev: KeyboardEvent) => {
      const g = nodeOf(ev);
      if (!g?.dataset.id) return;
      if (ev.key === 'Enter') this.events.open(g.dataset.id);
      if (ev.key === ' ') {
        ev.preventDefault();
        this.setSelected(g.dataset.id);
        this.events.select(g.dataset.id);
      }
    });
  }

  /** Lays out and draws `graph`; `keepView` keeps the current pan/zoom (merges, live updates). */
  render(graph: LineageGraph, keepView: boolean): RenderTimings {
    const t0 = performance.now();
    this.graph = graph;
    // Small graphs get their boxes fitted to the measured text; big ones use the estimate
    // (measuring thousands of labels would cost more than the layout).
    const layout = layoutGraph(graph, graph.nodes.length <= LOD_NODE_THRESHOLD ? { textWidth: this.textMeasurer() } : {});
    this.layout = layout;
    const t1 = performance.now();
    const byId = new Map(graph.nodes.map((n) => [n.id, n] as const));
    const big = layout.edges.length > EDGE_PATH_THRESHOLD;

    this.edgeLayer.selectAll('*').remove();
    if (big) {
      for (const kind of ['input', 'output'] as const) {
        const d = layout.edges.filter((e) => e.kind === kind).map(polyline).join('');
        this.edgeLayer.append('path').attr('class', `edge-bulk edge-${kind}`).attr('d', d);
      }
    } else {
      this.edgeLayer
        .selectAll('path')
        .data(layout.edges)
        .join('path')
        .attr('class', (e) => `edge edge-${e.kind}`)
        .attr('data-source', (e) => e.source)
        .attr('data-target', (e) => e.target)
        .attr('marker-end', (e) => `url(#arrow-${e.kind})`)
        .attr('d', (e) => edgeLine(e.points));
    }

    // Nodes are built with plain DOM calls: for thousands of nodes it is markedly faster than a
    // d3 join with per-attribute callbacks, and the fragment is inserted in one go.
    const frag = document.createDocumentFragment();
    const smallGraph = graph.nodes.length <= LOD_NODE_THRESHOLD;
    for (const p of layout.nodes.values()) {
      const node = byId.get(p.id);
      if (!node) continue;
      const g = document.createElementNS(SVG_NS, 'g');
      g.setAttribute('class', nodeClass(node, graph.focus, this.selected));
      g.setAttribute('transform', `translate(${p.x - p.width / 2},${p.y - p.height / 2})`);
      g.dataset.id = node.id;
      g.dataset.kind = node.kind;
      if (smallGraph) g.setAttribute('tabindex', '0');
      const rect = document.createElementNS(SVG_NS, 'rect');
      rect.setAttribute('width', String(p.width));
      rect.setAttribute('height', String(p.height));
      const round = node.kind === 'run' || node.kind === 'jobType' ? p.height / 2 : 3;
      rect.setAttribute('rx', String(round));
      g.appendChild(rect);
      const label = document.createElementNS(SVG_NS, 'text');
      label.setAttribute('class', 'label');
      label.setAttribute('x', '12');
      label.setAttribute('y', '18');
      const lines = labelLines(node);
      if (lines.length === 1) label.textContent = lines[0];
      else {
        // "kind:" muted above the name; the text element still reads as the whole label.
        const kind = document.createElementNS(SVG_NS, 'tspan');
        kind.setAttribute('class', 'kind');
        kind.textContent = lines[0];
        const name = document.createElementNS(SVG_NS, 'tspan');
        name.setAttribute('x', '12');
        name.setAttribute('dy', String(LINE_HEIGHT));
        name.textContent = lines[1];
        label.append(kind, name);
      }
      g.appendChild(label);
      const aliases = aliasText(node);
      if (aliases) {
        const a = document.createElementNS(SVG_NS, 'text');
        a.setAttribute('class', 'aliases');
        a.setAttribute('x', '12');
        a.setAttribute('y', String(18 + LINE_HEIGHT * lines.length));
        a.textContent = aliases;
        g.appendChild(a);
      }
      if (smallGraph) {
        // Tooltips for small graphs; big ones rely on the details panel (fewer elements to lay out).
        const title = document.createElementNS(SVG_NS, 'title');
        title.textContent = node.label + (aliases ? ` (${aliases})` : '');
        g.appendChild(title);
      }
      frag.appendChild(g);
    }
    const layer = this.nodeLayer.node()!;
    layer.replaceChildren(frag);

    const el = this.svg.node()!;
    el.dataset.level = graph.level;
    el.dataset.nodeCount = String(layout.nodes.size);
    el.dataset.edgeCount = String(layout.edges.length);
    el.dataset.edgeMode = big ? 'bulk' : 'paths';
    if (!keepView) this.initialView();
    else this.applyLevelOfDetail(this.currentScale());
    this.highlightSelection();
    this.applyMatches();
    const t2 = performance.now();
    el.dataset.layoutMs = (t1 - t0).toFixed(1);
    el.dataset.renderMs = (t2 - t1).toFixed(1);
    el.dataset.renderSeq = String(++this.seq);
    return { layoutMs: t1 - t0, renderMs: t2 - t1 };
  }

  /** Measures text as drawn (same classes, so the same font), caching per string. */
  private textMeasurer(): (text: string, small: boolean) => number {
    const probe = this.svg.append('g').attr('class', 'node measure').attr('aria-hidden', 'true');
    const label = probe.append('text').attr('class', 'label').node()!;
    const aliases = probe.append('text').attr('class', 'aliases').node()!;
    const cache = new Map<string, number>();
    queueMicrotask(() => probe.remove());
    return (text, small) => {
      const key = `${small ? 1 : 0}${text}`;
      let w = cache.get(key);
      if (w === undefined) {
        const el = small ? aliases : label;
        el.textContent = text;
        w = el.getComputedTextLength();
        cache.set(key, w);
      }
      return w;
    };
  }

  setSelected(id: string | null): void {
    this.selected = id && this.layout?.nodes.has(id) ? id : null;
    for (const g of this.nodeLayer.node()!.querySelectorAll<SVGGElement>('g.node.selected')) g.classList.remove('selected');
    if (this.selected) this.nodeElement(this.selected)?.classList.add('selected');
    this.highlightSelection();
  }

  get selectedId(): string | null {
    return this.selected;
  }

  nodeElement(id: string): SVGGElement | null {
    return this.nodeLayer.node()!.querySelector<SVGGElement>(`g.node[data-id="${CSS.escape(id)}"]`);
  }

  /** Whole graph in view, unless that would make it unreadably small (then: around the focus). */
  fit(): void {
    const el = this.svg.node()!;
    if (!this.layout) return;
    const w = el.clientWidth || 800;
    const h = el.clientHeight || 600;
    // Capped so that two or three nodes are not blown up to poster size.
    const k = Math.min(w / Math.max(1, this.layout.width), h / Math.max(1, this.layout.height), MAX_FIT_SCALE);
    const t = zoomIdentity.translate((w - this.layout.width * k) / 2, (h - this.layout.height * k) / 2).scale(k);
    this.svg.call(this.zoomer.transform, t);
  }

  /** Marks the nodes a search matched and dims the rest; null ends the search. */
  setMatches(ids: Set<string> | null): void {
    this.matches = ids;
    this.applyMatches();
  }

  private applyMatches(): void {
    this.svg.node()!.classList.toggle('searching', this.matches !== null);
    for (const g of this.nodeLayer.node()!.querySelectorAll<SVGGElement>('g.node')) g.classList.toggle('match', !!this.matches?.has(g.dataset.id ?? ''));
  }

  /**
   * Pans (same zoom) just enough that node `id` is inside the canvas, on both axes; a node larger
   * than the canvas is centred instead.
   */
  keepInView(id: string, margin = 16): void {
    const g = this.nodeElement(id);
    if (!g) return;
    const view = this.svg.node()!.getBoundingClientRect();
    const box = g.getBoundingClientRect();
    const shift = (lo: number, hi: number, viewLo: number, viewHi: number) => {
      if (hi - lo > viewHi - viewLo - 2 * margin) return (viewLo + viewHi) / 2 - (lo + hi) / 2;
      if (hi > viewHi - margin) return viewHi - margin - hi;
      if (lo < viewLo + margin) return viewLo + margin - lo;
      return 0;
    };
    const dx = shift(box.left, box.right, view.left, view.right);
    const dy = shift(box.top, box.bottom, view.top, view.bottom);
    if (dx === 0 && dy === 0) return;
    const k = this.currentScale();
    this.svg.call(this.zoomer.translateBy, dx / k, dy / k);
  }

  centreOn(id: string, k = 0.9): void {
    const el = this.svg.node()!;
    const p = this.layout?.nodes.get(id);
    if (!p) return;
    const w = el.clientWidth || 800;
    const h = el.clientHeight || 600;
    this.svg.call(this.zoomer.transform, zoomIdentity.translate(w / 2 - p.x * k, h / 2 - p.y * k).scale(k));
  }

  private initialView(): void {
    const el = this.svg.node()!;
    if (!this.layout) return;
    const w = el.clientWidth || 800;
    const h = el.clientHeight || 600;
    const fitK = Math.min(w / Math.max(1, this.layout.width), h / Math.max(1, this.layout.height));
    const focus = this.graph?.focus;
    if (fitK >= 0.45 || !focus || !this.layout.nodes.has(focus)) this.fit();
    else this.centreOn(focus);
  }

  private currentScale(): number {
    const t = this.svg.node()!.getAttribute('data-scale');
    return t ? Number(t) : 1;
  }

  private applyLevelOfDetail(k: number): void {
    const el = this.svg.node()!;
    el.setAttribute('data-scale', k.toFixed(3));
    const low = (this.layout?.nodes.size ?? 0) > LOD_NODE_THRESHOLD && k < LOD_SCALE;
    el.classList.toggle('lod-low', low);
  }

  /** Edges touching the selected node, drawn on top in the highlight colour. */
  private highlightSelection(): void {
    this.highlightLayer.selectAll('*').remove();
    for (const p of this.edgeLayer.node()!.querySelectorAll('path.edge.edge-hl')) p.classList.remove('edge-hl');
    if (!this.selected || !this.layout) return;
    const touching = this.layout.edges.filter((e) => e.source === this.selected || e.target === this.selected);
    if (this.edgeLayer.select('path.edge-bulk').empty()) {
      const keys = new Set(touching.map(edgeKey));
      this.edgeLayer.selectAll<SVGPathElement, PlacedEdge>('path.edge').classed('edge-hl', (e) => keys.has(edgeKey(e)));
    } else {
      this.highlightLayer.append('path').attr('class', 'edge-bulk edge-hl').attr('d', touching.map(polyline).join(''));
    }
  }
}

function nodeClass(node: LineageNode, focus: string | null, selected: string | null): string {
  const c = ['node', `kind-${node.kind}`];
  if (node.id === focus) c.push('focus');
  if (node.id === selected) c.push('selected');
  if (node.run) c.push(`state-${node.run.state}`);
  return c.join(' ');
}

function polyline(e: PlacedEdge): string {
  if (e.points.length === 0) return '';
  let d = `M${e.points[0].x.toFixed(1)},${e.points[0].y.toFixed(1)}`;
  for (let i = 1; i < e.points.length; i++) d += `L${e.points[i].x.toFixed(1)},${e.points[i].y.toFixed(1)}`;
  return d;
}
