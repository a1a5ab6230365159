/**
 * The lineage graph model shared by the server (which builds it) and the webview (which draws
 * and re-collapses it): node ids, labels, breadth-first expansion and the collapse to types.
 * Runs and artifact versions form a bipartite DAG: run --output--> version --input--> run.
 */
import type { ArtifactVersion, LineageEdge, LineageGraph, LineageNode, Run } from './api.js';

export type Direction = 'both' | 'upstream' | 'downstream';

export const artifactNodeId = (versionId: string): string => `artifact:${versionId}`;
export const runNodeId = (runId: string): string => `run:${runId}`;
export const artifactTypeNodeId = (type: string): string => `artifactType:${type}`;
/** Runs without a job type collapse together under `jobType:` (empty). */
export const jobTypeNodeId = (jobType: string | null): string => `jobType:${jobType ?? ''}`;

/** `dataset:mnist-raw:v1` */
export function artifactLabel(v: Pick<ArtifactVersion, 'type' | 'name' | 'version'>): string {
  return `${v.type}:${v.name}:${v.version}`;
}

/** `load-data:sunny-smoke-1` (just the name when the run has no job type). */
export function runLabel(r: Pick<Run, 'jobType' | 'name'>): string {
  return r.jobType ? `${r.jobType}:${r.name}` : r.name;
}

export function artifactNode(v: ArtifactVersion): LineageNode {
  return { id: artifactNodeId(v.id), kind: 'artifact', label: artifactLabel(v), version: v };
}

export function runNode(r: Run): LineageNode {
  return { id: runNodeId(r.id), kind: 'run', label: runLabel(r), run: r };
}

/** Parses a node id (`artifact:<versionId>` / `run:<runId>`), or undefined when it is neither. */
export function parseNodeId(id: string): { kind: 'artifact' | 'run'; key: string } | undefined {
  const m = /^(artifact|run):(.+)$/.exec(id);
  return m ? { kind: m[1] as 'artifact' | 'run', key: m[2] } : undefined;
}

/**
 * Breadth-first walk from `start` over `edges` up to `depth` hops (and at most `maxNodes`
 * nodes). Returns the reached node ids and whether anything was left out.
 */
export function walk(
  start: string,
  edges: readonly LineageEdge[],
  opts: { depth: number; direction: Direction; maxNodes: number },
): { nodes: Set<string>; truncated: boolean } {
  const out = new Map<string, string[]>();
  const inn = new Map<string, string[]>();
  for (const e of edges) {
    (out.get(e.source) ?? out.set(e.source, []).get(e.source)!).push(e.target);
    (inn.get(e.target) ?? inn.set(e.target, []).get(e.target)!).push(e.source);
  }
  const seen = new Set<string>([start]);
  let frontier = [start];
  let truncated = false;
  for (let d = 0; d < opts.depth && frontier.length; d++) {
    const next: string[] = [];
    for (const n of frontier) {
      const neighbours = [
        ...(opts.direction !== 'upstream' ? (out.get(n) ?? []) : []),
        ...(opts.direction !== 'downstream' ? (inn.get(n) ?? []) : []),
      ];
      for (const m of neighbours) {
        if (seen.has(m)) continue;
        if (seen.size >= opts.maxNodes) {
          truncated = true;
          continue;
        }
        seen.add(m);
        next.push(m);
      }
    }
    frontier = next;
  }
  // Cut at depth: more lies beyond if a frontier node still has unseen neighbours.
  if (!truncated) {
    for (const n of frontier) {
      const neighbours = [
        ...(opts.direction !== 'upstream' ? (out.get(n) ?? []) : []),
        ...(opts.direction !== 'downstream' ? (inn.get(n) ?? []) : []),
      ];
      if (neighbours.some((m) => !seen.has(m))) {
        truncated = true;
        break;
      }
    }
  }
  return { nodes: seen, truncated };
}

/**
 * Collapses an instance-level graph to types: every artifact version becomes its artifact type,
 * every run its job type, with `count` = instances folded in and edges deduplicated.
 */
export function collapseToTypes(graph: LineageGraph): LineageGraph {
  if (graph.level === 'type') return graph;
  const groupOf = new Map<string, string>();
  const groups = new Map<string, LineageNode>();
  for (const n of graph.nodes) {
    let id: string;
    let node: LineageNode;
    if (n.kind === 'artifact' && n.version) {
      id = artifactTypeNodeId(n.version.type);
      node = { id, kind: 'artifactType', label: n.version.type, count: 0 };
    } else if (n.kind === 'run' && n.run) {
      id = jobTypeNodeId(n.run.jobType);
      node = { id, kind: 'jobType', label: n.run.jobType ?? 'run', count: 0 };
    } else {
      id = n.id;
      node = { ...n, count: n.count ?? 1 };
    }
    groupOf.set(n.id, id);
    const g = groups.get(id) ?? groups.set(id, node).get(id)!;
    g.count = (g.count ?? 0) + (n.kind === 'artifact' || n.kind === 'run' ? 1 : 0);
  }
  const edges = new Map<string, LineageEdge>();
  for (const e of graph.edges) {
    const source = groupOf.get(e.source);
    const target = groupOf.get(e.target);
    if (!source || !target || source === target) continue;
    const key = `${source}\u0000${target}\u0000${e.kind}`;
    if (!edges.has(key)) edges.set(key, { source, target, kind: e.kind });
  }
  return {
    focus: graph.focus ? (groupOf.get(graph.focus) ?? graph.focus) : null,
    level: 'type',
    nodes: [...groups.values()],
    edges: [...edges.values()],
    truncated: graph.truncated,
  };
}

/** Edge direction convention: output = run → version, input = version → run. */
export function lineageEdge(versionId: string, runId: string, kind: 'input' | 'output'): LineageEdge {
  return kind === 'output'
    ? { source: runNodeId(runId), target: artifactNodeId(versionId), kind }
    : { source: artifactNodeId(versionId), target: runNodeId(runId), kind };
}
