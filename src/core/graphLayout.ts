/**
 * Layered left-to-right placement of the lineage DAG (dagre's Sugiyama layout), with node sizes
 * estimated from label lengths so it runs without a DOM (plain Node tests, the benchmark) and
 * without measuring 2,000 text elements in the webview.
 */
import dagre from '@dagrejs/dagre';
import type { LineageGraph, LineageNode } from './api.js';
import { aliasText } from './lineageView.js';

export interface PlacedNode {
  id: string;
  /** Centre. */
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface PlacedEdge {
  source: string;
  target: string;
  kind: 'input' | 'output';
  points: Array<{ x: number; y: number }>;
}
export interface GraphLayout {
  nodes: Map<string, PlacedNode>;
  edges: PlacedEdge[];
  width: number;
  height: number;
  /** Milliseconds spent in the layout library. */
  ms: number;
}

export const CHAR_WIDTH = 7;
const PAD_X = 24;
const MAX_LABEL_CHARS = 40;

/** Label as drawn (long names are cut so one node cannot widen a whole layer). */
export function displayLabel(node: LineageNode): string {
  const base = node.count !== undefined ? `${node.label} (${node.count})` : node.label;
  return base.length > MAX_LABEL_CHARS ? base.slice(0, MAX_LABEL_CHARS - 1) + '…' : base;
}

/**
 * The label as drawn on one or two lines: `kind:` above the name (`load-data:` / `sunny-smoke-1`,
 * `dataset:` / `mnist-raw:v0`), which halves the width of a pipeline's layers. Joined, the lines
 * are the whole label again.
 */
export function labelLines(node: LineageNode): [string] | [string, string] {
  const label = displayLabel(node);
  const colon = label.indexOf(':');
  if (colon <= 0 || colon === label.length - 1 || node.count !== undefined) return [label];
  return [label.slice(0, colon + 1), label.slice(colon + 1)];
}

/** Vertical distance between lines of a node's text, and the padding around it. */
export const LINE_HEIGHT = 14;
const PAD_Y = 14;

/**
 * A node's box. `textWidth` measures drawn text when a DOM is at hand (small graphs); without
 * it the width is estimated from the character count.
 */
export function nodeSize(node: LineageNode, textWidth?: (text: string, small: boolean) => number): { width: number; height: number } {
  const aliases = aliasText(node);
  const lines = labelLines(node);
  const shownAliases = aliases.length > MAX_LABEL_CHARS ? aliases.slice(0, MAX_LABEL_CHARS) : aliases;
  const text = textWidth
    ? // + 8%: the focus node's label is drawn bold.
      Math.max(...lines.map((l) => textWidth(l, false) * 1.08), shownAliases ? textWidth(shownAliases, true) : 0)
    : Math.max(...lines.map((l) => l.length), shownAliases.length) * CHAR_WIDTH;
  const width = Math.max(64, Math.ceil(text) + PAD_X);
  const height = LINE_HEIGHT * (lines.length + (aliases ? 1 : 0)) + PAD_Y;
  return { width, height };
}

export interface LayoutOptions {
  /**
   * dagre's ranker. `network-simplex` gives the tightest layers but grows fast with size;
   * `tight-tree` is near-linear and good enough for big pipelines (see bench/lineage-render.ts).
   */
  ranker?: 'network-simplex' | 'tight-tree' | 'longest-path';
  nodesep?: number;
  ranksep?: number;
  /** Skip dagre's extra crossing-reduction sweeps (much faster on big graphs, a few more crossings). */
  fastOrder?: boolean;
  /** Measures drawn text (see nodeSize). */
  textWidth?: (text: string, small: boolean) => number;
}

/** Graphs above this size use the linear-time ranker by default. */
export const LARGE_GRAPH_NODES = 400;

export function layoutGraph(graph: Pick<LineageGraph, 'nodes' | 'edges'>, opts: LayoutOptions = {}): GraphLayout {
  const t0 = now();
  const large = graph.nodes.length > LARGE_GRAPH_NODES;
  const g = new dagre.graphlib.Graph({ multigraph: false, compound: false });
  g.setGraph({
    rankdir: 'LR',
    nodesep: opts.nodesep ?? (large ? 8 : 14),
    ranksep: opts.ranksep ?? (large ? 48 : 40),
    edgesep: 6,
    marginx: 16,
    marginy: 16,
    ranker: opts.ranker ?? (large ? 'tight-tree' : 'network-simplex'),
  });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set<string>();
  for (const n of graph.nodes) {
    ids.add(n.id);
    g.setNode(n.id, { ...nodeSize(n, opts.textWidth) });
  }
  const kinds = new Map<string, 'input' | 'output'>();
  for (const e of graph.edges) {
    if (!ids.has(e.source) || !ids.has(e.target) || e.source === e.target) continue;
    g.setEdge(e.source, e.target, {});
    kinds.set(`${e.source}\u0000${e.target}`, e.kind);
  }
  dagre.layout(g, { disableOptimalOrderHeuristic: opts.fastOrder ?? large });
  const nodes = new Map<string, PlacedNode>();
  for (const id of g.nodes()) {
    const n = g.node(id) as { x: number; y: number; width: number; height: number };
    nodes.set(id, { id, x: n.x, y: n.y, width: n.width, height: n.height });
  }
  const edges: PlacedEdge[] = g.edges().map((e: { v: string; w: string }) => ({
    source: e.v,
    target: e.w,
    kind: kinds.get(`${e.v}\u0000${e.w}`) ?? 'input',
    points: ((g.edge(e) as { points?: Array<{ x: number; y: number }> }).points ?? []).map((p) => ({ x: p.x, y: p.y })),
  }));
  const label = g.graph() as { width?: number; height?: number };
  return { nodes, edges, width: label.width ?? 0, height: label.height ?? 0, ms: now() - t0 };
}

function now(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now();
}
