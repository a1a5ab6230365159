/**
 * What the lineage view shows, as pure functions over the wire graph (`LineageGraph`): merging
 * expansion results and live updates into the graph, and collapsing instances to their types
 * (the "Graph View": artifact types and job types).
 */
import type { LineageEdge, LineageGraph, LineageNode } from './api.js';
import { formatBytes } from './bytes.js';

/** Jobless runs still need a type node. */
export const NO_JOB_TYPE = '(no job type)';

export function edgeKey(e: Pick<LineageEdge, 'source' | 'target'>): string {
  return `${e.source}\u0000${e.target}`;
}

/**
 * Adds `more` to `base`: new nodes and edges are appended, known nodes take the newer payload
 * (an alias moved, a run finished). Order is stable so the layout does not jump.
 */
export function mergeGraphs(base: LineageGraph, more: LineageGraph): LineageGraph {
  const nodes = new Map(base.nodes.map((n) => [n.id, n] as const));
  for (const n of more.nodes) nodes.set(n.id, n);
  const edges = new Map(base.edges.map((e) => [edgeKey(e), e] as const));
  for (const e of more.edges) if (nodes.has(e.source) && nodes.has(e.target)) edges.set(edgeKey(e), e);
  return { focus: base.focus ?? more.focus, level: base.level, nodes: [...nodes.values()], edges: [...edges.values()], truncated: base.truncated || more.truncated };
}

/** Drops nodes (deleted versions) and every edge touching them. */
export function removeNodes(graph: LineageGraph, ids: Iterable<string>): LineageGraph {
  const gone = new Set(ids);
  return {
    ...graph,
    focus: graph.focus && gone.has(graph.focus) ? null : graph.focus,
    nodes: graph.nodes.filter((n) => !gone.has(n.id)),
    edges: graph.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)),
  };
}

/** The collapse to types lives with the graph model (the server uses it for `level=type`). */
export { collapseToTypes } from './lineage.js';

/** Neighbours of a node in a graph (both directions), for highlighting. */
export function neighbourIds(graph: Pick<LineageGraph, 'edges'>, id: string): Set<string> {
  const out = new Set<string>();
  for (const e of graph.edges) {
    if (e.source === id) out.add(e.target);
    if (e.target === id) out.add(e.source);
  }
  return out;
}

/** A version's aliases as shown under its label (`latest` first). */
export function aliasText(node: LineageNode): string {
  const aliases = node.version?.aliases ?? [];
  return [...aliases].sort((a, b) => (a === 'latest' ? -1 : b === 'latest' ? 1 : a.localeCompare(b))).join(', ');
}

/** Human summary of a node for the details panel: [label, value] rows. */
export function detailRows(node: LineageNode): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  if (node.version) {
    const v = node.version;
    rows.push(['Artifact', `${v.name}:${v.version}`], ['Type', v.type], ['Project', `${v.entity}/${v.project}`]);
    if (v.aliases.length) rows.push(['Aliases', aliasText(node)]);
    rows.push(['Files', String(v.fileCount)], ['Size', formatBytes(v.size)], ['Digest', v.digest.slice(0, 16) + '…'], ['Created', v.createdAt]);
    if (v.producerRun) rows.push(['Produced by', `${v.producerRun.jobType ?? NO_JOB_TYPE}/${v.producerRun.name}`]);
    if (v.description) rows.push(['Description', v.description]);
  } else if (node.run) {
    const r = node.run;
    rows.push(['Run', r.name], ['Job type', r.jobType ?? NO_JOB_TYPE], ['State', r.state], ['Project', `${r.entity}/${r.project}`], ['Created', r.createdAt]);
    if (r.group) rows.push(['Group', r.group]);
  } else {
    rows.push([node.kind === 'artifactType' ? 'Artifact type' : node.kind === 'jobType' ? 'Job type' : node.kind, node.label]);
    if (node.count !== undefined) rows.push([node.kind === 'artifactType' ? 'Versions' : 'Runs', String(node.count)]);
  }
  return rows;
}

/**
 * What a search in the lineage view looks at for a node: its label, the artifact's name, type,
 * version and aliases, the run's name, id and job type, or the type a collapsed node stands for.
 */
function searchableText(node: LineageNode): string {
  const parts = [node.label];
  if (node.version) parts.push(node.version.name, node.version.type, node.version.version, ...node.version.aliases);
  if (node.run) parts.push(node.run.name, node.run.id, node.run.jobType ?? NO_JOB_TYPE);
  return parts.join('\n').toLowerCase();
}

/**
 * The ids of the nodes a search query matches, in drawing order: every whitespace-separated word
 * must occur (case-insensitively) in the node's label, name, type, job type, version or aliases,
 * so `model v2` or `train crashed-run` narrow down. An empty query matches nothing.
 */
export function matchNodes(graph: Pick<LineageGraph, 'nodes'>, query: string): string[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  return graph.nodes.filter((n) => {
    const text = searchableText(n);
    return words.every((w) => text.includes(w));
  }).map((n) => n.id);
}

/** The part of a graph a filtered view draws: the matching nodes, their direct neighbours, and the edges among those. */
export function filterToMatches(graph: LineageGraph, matches: Iterable<string>): LineageGraph {
  const matched = new Set(matches);
  // Edges that touch a match, and their ends: one step out, never two.
  const edges = graph.edges.filter((e) => matched.has(e.source) || matched.has(e.target));
  const keep = new Set(matched);
  for (const e of edges) {
    keep.add(e.source);
    keep.add(e.target);
  }
  return { ...graph, nodes: graph.nodes.filter((n) => keep.has(n.id)), edges, focus: graph.focus && keep.has(graph.focus) ? graph.focus : null };
}
