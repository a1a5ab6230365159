import type { ArtifactVersion, CallSite, Provenance, Run } from '../../core/api.js';
import type { Row } from './database.js';

/** Columns every ArtifactVersion read needs; append WHERE/ORDER clauses after it. */
export const VERSION_SELECT = `
  SELECT v.id, p.entity, p.name AS project, c.name, c.type, v.idx, v.digest, v.size, v.file_count,
         v.description, v.metadata, v.state, v.created_at, v.updated_at, v.tags, v.ttl_seconds,
         v.created_by, v.updated_by, v.call_site,
         r.run_id AS producer_id, r.name AS producer_name, r.job_type AS producer_job_type,
         COALESCE((SELECT array_agg(a.alias ORDER BY a.alias <> 'latest', a.alias) FROM aliases a WHERE a.version_id = v.id), '{}') AS aliases
  FROM versions v
  JOIN collections c ON c.id = v.collection_id
  JOIN projects p ON p.id = c.project_id
  LEFT JOIN runs r ON r.project_id = c.project_id AND r.run_id = v.producer_run_id`;

export function iso(v: unknown): string {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'string') return new Date(v).toISOString();
  return new Date(0).toISOString();
}

function isoOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : iso(v);
}

export function toVersion(r: Row): ArtifactVersion {
  return {
    id: String(r.id),
    entity: r.entity as string,
    project: r.project as string,
    name: r.name as string,
    type: r.type as string,
    version: r.idx === null || r.idx === undefined ? 'pending' : `v${r.idx as number}`,
    index: (r.idx as number | null) ?? 0,
    digest: (r.digest as string) || '0'.repeat(64),
    size: Number(r.size),
    fileCount: Number(r.file_count),
    aliases: (r.aliases as string[]) ?? [],
    description: (r.description as string | null) ?? null,
    metadata: (r.metadata as Record<string, unknown>) ?? {},
    state: r.state as ArtifactVersion['state'],
    tags: (r.tags as string[] | null) ?? [],
    ttlSeconds: r.ttl_seconds === null || r.ttl_seconds === undefined ? null : Number(r.ttl_seconds),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    producerRun: r.producer_id
      ? { id: r.producer_id as string, name: r.producer_name as string, jobType: (r.producer_job_type as string | null) ?? null }
      : null,
    createdBy: (r.created_by as string | null) ?? null,
    updatedBy: (r.updated_by as string | null) ?? null,
    callSite: (r.call_site as CallSite | null) ?? null,
  };
}

/** Columns every Run read needs. */
export const RUN_SELECT = `
  SELECT p.entity, p.name AS project, r.run_id, r.name, r.job_type, r.group_name, r.state, r.config, r.summary, r.tags, r.notes, r.provenance,
         r.created_at, r.updated_at, r.heartbeat_at, r.finished_at
  FROM runs r JOIN projects p ON p.id = r.project_id`;

export function toRun(r: Row): Run {
  return {
    entity: r.entity as string,
    project: r.project as string,
    id: r.run_id as string,
    name: r.name as string,
    jobType: (r.job_type as string | null) ?? null,
    group: (r.group_name as string | null) ?? null,
    state: r.state as Run['state'],
    config: (r.config as Record<string, unknown>) ?? {},
    summary: (r.summary as Record<string, unknown>) ?? {},
    tags: (r.tags as string[] | null) ?? [],
    notes: (r.notes as string | null) ?? null,
    provenance: (r.provenance as Provenance | null) ?? null,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    heartbeatAt: iso(r.heartbeat_at),
    finishedAt: isoOrNull(r.finished_at),
  };
}
