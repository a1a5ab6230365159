import type { LineageEdge, LineageGraph, LineageNode } from '../../core/api.js';
import { AmphoraError } from '../../core/errors.js';
import { artifactNode, collapseToTypes, lineageEdge, parseNodeId, runNode, walk, type Direction } from '../../core/lineage.js';
import type { Database } from '../store/database.js';
import { RUN_SELECT, toRun, toVersion, VERSION_SELECT } from '../store/rows.js';
import { requireProjectId } from './projects.js';

export const MAX_LINEAGE_NODES = 5000;

export interface LineageQuery {
  node?: string;
  depth?: number;
  level?: 'instance' | 'type';
  direction?: Direction;
}

/** Graph queries over the bipartite run/version DAG of one project (committed versions only). */
export class LineageService {
  constructor(private readonly db: Database) {}

  /**
   * `visible` (team mode) says which projects the caller may read: edges touching any other
   * project are dropped before the walk, so hidden runs and versions neither appear nor connect.
   */
  async graph(entity: string, project: string, q: LineageQuery, visible?: (entity: string, project: string) => boolean): Promise<LineageGraph> {
    const projectId = await requireProjectId(this.db, entity, project);
    let edgeRows = await this.db.query<{ version_id: number; run_id: string; project_id: number; version_project_id: number; kind: 'input' | 'output' }>(
      `SELECT e.version_id, e.run_id, e.project_id, c.project_id AS version_project_id, e.kind
         FROM edges e JOIN versions v ON v.id = e.version_id JOIN collections c ON c.id = v.collection_id
       WHERE v.state = 'committed' AND (e.project_id = $1 OR c.project_id = $1)`,
      [projectId],
    );
    if (visible) {
      const ids = [...new Set(edgeRows.flatMap((e) => [Number(e.project_id), Number(e.version_project_id)]))];
      const projects = await this.db.query<{ id: number; entity: string; name: string }>('SELECT id, entity, name FROM projects WHERE id = ANY($1::bigint[])', [ids]);
      const ok = new Set(projects.filter((p) => visible(p.entity, p.name)).map((p) => Number(p.id)));
      edgeRows = edgeRows.filter((e) => ok.has(Number(e.project_id)) && ok.has(Number(e.version_project_id)));
    }
    const edges: LineageEdge[] = edgeRows.map((e) => lineageEdge(String(e.version_id), e.run_id, e.kind));

    let selected: Set<string>;
    let truncated = false;
    const focus = q.node ?? null;
    if (focus) {
      const parsed = parseNodeId(focus);
      if (!parsed) {
        throw new AmphoraError('invalid_request', `Lineage node "${focus.slice(0, 80)}" is not "artifact:<versionId>" or "run:<runId>".`);
      }
      await this.requireNode(projectId, parsed);
      const r = walk(focus, edges, { depth: q.depth ?? 2, direction: q.direction ?? 'both', maxNodes: MAX_LINEAGE_NODES });
      selected = r.nodes;
      truncated = r.truncated;
    } else {
      selected = new Set<string>();
      const versions = await this.db.query<{ id: number }>(
        `SELECT v.id FROM versions v JOIN collections c ON c.id = v.collection_id WHERE c.project_id = $1 AND v.state = 'committed' ORDER BY v.id LIMIT $2`,
        [projectId, MAX_LINEAGE_NODES + 1],
      );
      const runs = await this.db.query<{ run_id: string }>('SELECT run_id FROM runs WHERE project_id = $1 ORDER BY created_at LIMIT $2', [projectId, MAX_LINEAGE_NODES + 1]);
      for (const id of [...versions.map((v) => `artifact:${v.id}`), ...runs.map((r) => `run:${r.run_id}`), ...edges.flatMap((e) => [e.source, e.target])]) {
        if (selected.has(id)) continue;
        if (selected.size >= MAX_LINEAGE_NODES) {
          truncated = true;
          break;
        }
        selected.add(id);
      }
    }

    const versionIds: number[] = [];
    const runIds: string[] = [];
    for (const id of selected) {
      const p = parseNodeId(id)!;
      if (p.kind === 'artifact') versionIds.push(Number(p.key));
      else runIds.push(p.key);
    }
    const nodes: LineageNode[] = [];
    if (versionIds.length) {
      const rows = await this.db.query(`${VERSION_SELECT} WHERE v.id = ANY($1::bigint[]) AND v.state = 'committed' ORDER BY v.id`, [versionIds]);
      nodes.push(...rows.map((r) => artifactNode(toVersion(r))));
    }
    if (runIds.length) {
      const projectIds = [...new Set([projectId, ...edgeRows.map((e) => e.project_id)])];
      const rows = await this.db.query(`${RUN_SELECT} WHERE r.run_id = ANY($1::text[]) AND r.project_id = ANY($2::bigint[]) ORDER BY r.created_at`, [runIds, projectIds]);
      nodes.push(...rows.map((r) => runNode(toRun(r))));
    }
    if (visible) {
      // Belt and braces: a focus id may name any version; nothing of a hidden project leaves.
      const shown = nodes.filter((n) => (n.version ? visible(n.version.entity, n.version.project) : n.run ? visible(n.run.entity, n.run.project) : false));
      nodes.length = 0;
      nodes.push(...shown);
    }
    const present = new Set(nodes.map((n) => n.id));
    const graph: LineageGraph = {
      focus,
      level: 'instance',
      nodes,
      edges: edges.filter((e) => present.has(e.source) && present.has(e.target)),
      truncated,
    };
    return q.level === 'type' ? collapseToTypes(graph) : graph;
  }

  private async requireNode(projectId: number, node: { kind: 'artifact' | 'run'; key: string }): Promise<void> {
    if (node.kind === 'artifact') {
      const ok = /^[0-9]{1,18}$/.test(node.key)
        ? await this.db.query(`SELECT 1 FROM versions WHERE id = $1 AND state = 'committed'`, [Number(node.key)])
        : [];
      if (!ok.length) throw new AmphoraError('not_found', `There is no committed artifact version with id "${node.key}"; take ids from the "id" field of a version.`);
    } else {
      const ok = await this.db.query('SELECT 1 FROM runs WHERE project_id = $1 AND run_id = $2', [projectId, node.key]);
      if (!ok.length) throw new AmphoraError('not_found', `There is no run "${node.key}" in this project.`);
    }
  }
}
