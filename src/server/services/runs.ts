import { randomBytes, randomInt } from 'node:crypto';
import type { z } from 'zod';
import type { ArtifactVersion, CallSite, CreateRunRequest, MetricsQuery, Provenance, Run, RunFile, RunMetrics, ServerEvent, UpdateRunRequest } from '../../core/api.js';
import { AmphoraError } from '../../core/errors.js';
import { validateEntity, validateJobType, validateProject } from '../../core/names.js';
import { parseReference } from '../../core/reference.js';
import { validateManifestPath } from '../../core/paths.js';
import type { BlobStore } from '../blobs/blobStore.js';
import type { EventBus } from '../events.js';
import type { Database, Queryable } from '../store/database.js';
import { RUN_SELECT, toRun, toVersion, VERSION_SELECT } from '../store/rows.js';
import { addEdge, explainMissing, selectVersion } from './artifacts.js';
import { clampLimit, decodeCursor, encodeCursor } from './paging.js';
import { ensureProject, requireProjectId } from './projects.js';
import { recordProjectBlobs } from '../auth/blobAccess.js';
import { appendBatch, readRows, type HistoryInput } from './historyStore.js';
import { runMetrics } from './metrics.js';

const ADJECTIVES = ['sunny', 'misty', 'quiet', 'brisk', 'golden', 'silent', 'lucky', 'swift', 'bold', 'calm', 'crisp', 'dapper', 'eager', 'fancy', 'gentle', 'hardy', 'jolly', 'keen', 'lively', 'mellow', 'noble', 'proud', 'rosy', 'snowy', 'tidy', 'vivid', 'warm', 'zesty', 'azure', 'cosmic'];
const NOUNS = ['smoke', 'river', 'forest', 'meadow', 'breeze', 'canyon', 'comet', 'dawn', 'ember', 'field', 'glade', 'harbor', 'island', 'lake', 'moon', 'night', 'ocean', 'pine', 'rain', 'shadow', 'sky', 'star', 'sun', 'thunder', 'valley', 'wave', 'wind', 'leaf', 'frost', 'cloud'];
const RUN_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function newRunId(): string {
  const bytes = randomBytes(8);
  return Array.from(bytes, (b) => RUN_ID_ALPHABET[b % RUN_ID_ALPHABET.length]).join('');
}

/** Runs: creation with friendly names, merges of config/summary, heartbeats, history, files, inputs. */
export class RunService {
  constructor(
    private readonly db: Database,
    private readonly blobs: BlobStore,
    private readonly events: EventBus,
    private readonly heartbeatTimeoutMs: number,
  ) {}

  async create(entity: string, project: string, req: z.infer<typeof CreateRunRequest>): Promise<{ run: Run; created: boolean }> {
    validateEntity(entity);
    validateProject(project);
    if (req.jobType !== undefined) validateJobType(req.jobType);
    if (req.provenance) validateProvenance(req.provenance);
    checkRunJsonSize('config', req.config);
    const events: ServerEvent[] = [];
    const out = await this.db.transaction(async (tx) => {
      const projectId = await ensureProject(tx, entity, project);
      if (req.id) {
        const existing = await tx.query(`${RUN_SELECT} WHERE r.project_id = $1 AND r.run_id = $2`, [projectId, req.id]);
        if (existing.length) {
          // Resuming a run: it beats again.
          // A resumed run that records new provenance (a new process) keeps the latest.
          await tx.query(
            `UPDATE runs SET heartbeat_at = now(), updated_at = now(), state = CASE WHEN state = 'crashed' THEN 'running' ELSE state END,
               provenance = COALESCE($3::jsonb, provenance) WHERE project_id = $1 AND run_id = $2`,
            [projectId, req.id, req.provenance ? JSON.stringify(req.provenance) : null],
          );
          const run = await readRun(tx, projectId, req.id);
          events.push({ type: 'run.updated', run });
          await this.events.stage(tx, events);
          return { run, created: false };
        }
      }
      const counter = (await tx.query<{ run_counter: number }>('UPDATE projects SET run_counter = run_counter + 1 WHERE id = $1 RETURNING run_counter', [projectId]))[0].run_counter;
      const id = req.id ?? newRunId();
      const name = req.name ?? `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${counter}`;
      await tx.query(
        `INSERT INTO runs (project_id, run_id, name, job_type, group_name, state, config, tags, notes, provenance) VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $8, $9)`,
        [projectId, id, name, req.jobType ?? null, req.group ?? null, JSON.stringify(req.config ?? {}), [...new Set(req.tags ?? [])], req.notes ?? null,
          req.provenance ? JSON.stringify(req.provenance) : null],
      );
      const run = await readRun(tx, projectId, id);
      events.push({ type: 'run.updated', run });
      await this.events.stage(tx, events);
      return { run, created: true };
    });
    this.events.emit(events);
    return out;
  }

  async get(entity: string, project: string, runId: string): Promise<Run> {
    const projectId = await requireProjectId(this.db, entity, project);
    return readRun(this.db, projectId, runId);
  }

  async list(entity: string, project: string, opts: { limit?: number; cursor?: string; jobType?: string; state?: string }) {
    const n = clampLimit(opts.limit);
    const before = decodeCursor(opts.cursor, isRunCursor);
    const projectId = await requireProjectId(this.db, entity, project);
    const rows = await this.db.query(
      `${RUN_SELECT} WHERE r.project_id = $1 AND ($2::text IS NULL OR r.job_type = $2) AND ($3::text IS NULL OR r.state = $3)
         AND ($4::text IS NULL OR (r.created_at, r.run_id) < (($4::jsonb->>0)::timestamptz, $4::jsonb->>1))
       ORDER BY r.created_at DESC, r.run_id DESC LIMIT $5`,
      [projectId, opts.jobType ?? null, opts.state ?? null, before ?? null, n + 1],
    );
    const items = rows.slice(0, n).map(toRun);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > n ? encodeCursor(JSON.stringify([last.createdAt, last.id])) : null };
  }

  async update(entity: string, project: string, runId: string, req: z.infer<typeof UpdateRunRequest>): Promise<Run> {
    checkRunJsonSize('config', req.config);
    checkRunJsonSize('summary', req.summary);
    const events: ServerEvent[] = [];
    const run = await this.db.transaction(async (tx) => {
      const projectId = await requireProjectId(tx, entity, project);
      await readRun(tx, projectId, runId);
      await tx.query(
        `UPDATE runs SET config = config || $3::jsonb, summary = summary || $4::jsonb, updated_at = now(), heartbeat_at = now(),
           state = COALESCE($5, CASE WHEN state = 'crashed' THEN 'running' ELSE state END),
           finished_at = CASE WHEN $5::text IS NOT NULL THEN now() ELSE finished_at END
         WHERE project_id = $1 AND run_id = $2`,
        [projectId, runId, JSON.stringify(req.config ?? {}), JSON.stringify(req.summary ?? {}), req.state ?? null],
      );
      // Merging key by key can grow either document past the limit one update at a time.
      const sizes = await tx.query<{ config: number; summary: number }>(
        'SELECT octet_length(config::text) AS config, octet_length(summary::text) AS summary FROM runs WHERE project_id = $1 AND run_id = $2',
        [projectId, runId],
      );
      for (const what of ['config', 'summary'] as const) checkRunJsonBytes(what, Number(sizes[0][what]));
      if (req.tags !== undefined) await tx.query('UPDATE runs SET tags = $3 WHERE project_id = $1 AND run_id = $2', [projectId, runId, [...new Set(req.tags)]]);
      if (req.notes !== undefined) await tx.query('UPDATE runs SET notes = $3 WHERE project_id = $1 AND run_id = $2', [projectId, runId, req.notes]);
      if (req.name !== undefined) await tx.query('UPDATE runs SET name = $3 WHERE project_id = $1 AND run_id = $2', [projectId, runId, req.name]);
      const updated = await readRun(tx, projectId, runId);
      events.push({ type: 'run.updated', run: updated });
      await this.events.stage(tx, events);
      return updated;
    });
    this.events.emit(events);
    return run;
  }

  async heartbeat(entity: string, project: string, runId: string): Promise<Run> {
    const events: ServerEvent[] = [];
    const run = await this.db.transaction(async (tx) => {
      const projectId = await requireProjectId(tx, entity, project);
      const before = await readRun(tx, projectId, runId);
      await tx.query(
        `UPDATE runs SET heartbeat_at = now(), state = CASE WHEN state = 'crashed' THEN 'running' ELSE state END WHERE project_id = $1 AND run_id = $2`,
        [projectId, runId],
      );
      const after = await readRun(tx, projectId, runId);
      if (before.state !== after.state) events.push({ type: 'run.updated', run: after });
      await this.events.stage(tx, events);
      return after;
    });
    this.events.emit(events);
    return run;
  }

  /** Marks running runs whose last heartbeat is older than the timeout as crashed. */
  async sweep(): Promise<number> {
    // A read first: a write transaction on every tick would invalidate every replica's caches.
    const due = await this.db.query(
      `SELECT 1 FROM runs WHERE state = 'running' AND heartbeat_at < now() - ($1::double precision * interval '1 millisecond') LIMIT 1`,
      [this.heartbeatTimeoutMs],
    );
    if (!due.length) return 0;
    const events: ServerEvent[] = [];
    const runs = await this.db.transaction(async (tx) => {
      const ids = await tx.query<{ project_id: number; run_id: string }>(
        `UPDATE runs SET state = 'crashed', updated_at = now()
         WHERE state = 'running' AND heartbeat_at < now() - ($1::double precision * interval '1 millisecond')
         RETURNING project_id, run_id`,
        [this.heartbeatTimeoutMs],
      );
      const out: Run[] = [];
      for (const r of ids) out.push(await readRun(tx, r.project_id, r.run_id));
      events.push(...out.map((run) => ({ type: 'run.updated' as const, run })));
      await this.events.stage(tx, events);
      return out;
    });
    this.events.emit(events);
    return runs.length;
  }

  /** Stores a batch of history rows and announces the run's highest step (live charts). */
  async appendHistory(entity: string, project: string, runId: string, batch: HistoryInput): Promise<number> {
    const lastStep = await this.db.transaction(async (tx) => {
      const projectId = await requireProjectId(tx, entity, project);
      await readRun(tx, projectId, runId);
      const last = await appendBatch(tx, projectId, runId, batch);
      await tx.query('UPDATE runs SET heartbeat_at = now(), updated_at = now() WHERE project_id = $1 AND run_id = $2', [projectId, runId]);
      return last;
    });
    this.events.emit([{ type: 'run.logged', entity, project, runId, lastStep }]);
    return 'rows' in batch ? batch.rows.length : batch.columns.step.length;
  }

  async history(entity: string, project: string, runId: string, opts: { limit?: number; offset?: number; minStep?: number; maxStep?: number }) {
    const projectId = await requireProjectId(this.db, entity, project);
    await readRun(this.db, projectId, runId);
    const limit = Math.min(Math.max(1, opts.limit ?? 10_000), 100_000);
    return { items: await readRows(this.db, projectId, runId, { minStep: opts.minStep, maxStep: opts.maxStep, offset: opts.offset ?? 0, limit }) };
  }

  /** Chart series of a run (downsampled), its keys and notes about values that cannot be drawn. */
  async metrics(entity: string, project: string, runId: string, query: z.infer<typeof MetricsQuery>): Promise<RunMetrics> {
    const projectId = await requireProjectId(this.db, entity, project);
    await readRun(this.db, projectId, runId);
    return runMetrics(this.db, projectId, runId, query);
  }

  async putFiles(entity: string, project: string, runId: string, files: z.infer<typeof RunFile>[]): Promise<z.infer<typeof RunFile>[]> {
    for (const f of files) validateManifestPath(f.path);
    const present = await this.blobs.statMany(files.map((f) => f.digest));
    const missing = files.filter((f) => present.get(f.digest)?.size !== f.size).map((f) => f.digest);
    if (missing.length) {
      throw new AmphoraError('missing_blobs', `${missing.length} run file blob(s) are not on the server (first: ${missing[0]}); upload them with PUT /api/v1/blobs/<digest> first.`, { missing });
    }
    await this.blobs.flush(files.map((f) => f.digest));
    return this.db.transaction(async (tx) => {
      const projectId = await requireProjectId(tx, entity, project);
      await readRun(tx, projectId, runId);
      for (const f of files) {
        await tx.query(
          `INSERT INTO run_files (project_id, run_id, path, digest, size) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (project_id, run_id, path) DO UPDATE SET digest = EXCLUDED.digest, size = EXCLUDED.size`,
          [projectId, runId, f.path, f.digest, f.size],
        );
      }
      await recordProjectBlobs(tx, projectId, files.map((f) => f.digest));
      return listFiles(tx, projectId, runId);
    });
  }

  async files(entity: string, project: string, runId: string) {
    const projectId = await requireProjectId(this.db, entity, project);
    await readRun(this.db, projectId, runId);
    return listFiles(this.db, projectId, runId);
  }

  /** Declares that a run uses a version (input edge); idempotent. Unqualified refs resolve in the run's project. */
  async use(entity: string, project: string, runId: string, ref: string, callSite?: CallSite): Promise<ArtifactVersion> {
    const parsed = parseReference(ref);
    const e = parsed.entity ?? entity;
    const p = parsed.project ?? project;
    return this.db.transaction(async (tx) => {
      const projectId = await requireProjectId(tx, entity, project);
      await readRun(tx, projectId, runId);
      const v = await selectVersion(tx, e, p, parsed.name, parsed.selector);
      if (!v) throw await explainMissing(tx, e, p, parsed.name, parsed.selector);
      await addEdge(tx, Number(v.id), projectId, runId, 'input', callSite);
      return v;
    });
  }

  /** A run's inputs (each with `usedAt`, its use_artifact line) or outputs. */
  async artifacts(entity: string, project: string, runId: string, kind: 'input' | 'output'): Promise<(ArtifactVersion & { usedAt?: CallSite | null })[]> {
    const projectId = await requireProjectId(this.db, entity, project);
    await readRun(this.db, projectId, runId);
    // The edge's call site rides along as one more column of the version select.
    const rows = await this.db.query(
      `${VERSION_SELECT.replace(/^\s*SELECT/, 'SELECT e.call_site AS used_at,')} JOIN edges e ON e.version_id = v.id
        WHERE e.project_id = $1 AND e.run_id = $2 AND e.kind = $3 AND v.state = 'committed' ORDER BY e.created_at, v.id`,
      [projectId, runId, kind],
    );
    return rows.map((r) => (kind === 'input' ? { ...toVersion(r), usedAt: (r.used_at as CallSite | null) ?? null } : toVersion(r)));
  }
}

/**
 * Config and summary travel with every run read (the Runs tree, the run view, every event
 * subscriber's resync), so a huge one would make all of them slow or blank. Beyond this they
 * are refused with a message saying where large values belong.
 */
export const MAX_RUN_JSON_BYTES = 2 * 1024 * 1024;

function checkRunJsonSize(what: 'config' | 'summary', value: Record<string, unknown> | undefined): void {
  if (value) checkRunJsonBytes(what, Buffer.byteLength(JSON.stringify(value)));
}

function checkRunJsonBytes(what: 'config' | 'summary', bytes: number): void {
  if (bytes <= MAX_RUN_JSON_BYTES) return;
  throw new AmphoraError(
    'payload_too_large',
    `The run ${what} would be ${(bytes / 1048576).toFixed(1)} MiB; at most ${MAX_RUN_JSON_BYTES / 1048576} MiB is kept per run. ` +
      `Keep hyperparameters and final metrics there, and save large values as a run file (run.save) or log them as an artifact.`,
  );
}

/** Paths inside provenance name files: the same rules as manifest paths where they are relative. */
function validateProvenance(p: Provenance): void {
  const diff = p.git?.diffFile;
  if (diff) validateManifestPath(diff);
  if (p.git && !p.git.dirty && diff) {
    throw new AmphoraError('invalid_request', `provenance.git.diffFile is "${diff}" but the tree is not dirty; send diffFile only with dirty: true.`);
  }
}

export async function readRun(q: Queryable, projectId: number, runId: string): Promise<Run> {
  const rows = await q.query(`${RUN_SELECT} WHERE r.project_id = $1 AND r.run_id = $2`, [projectId, runId]);
  if (!rows.length) throw new AmphoraError('not_found', `There is no run "${runId}" in this project; check the run id (GET …/runs lists them).`);
  return toRun(rows[0]);
}

async function listFiles(q: Queryable, projectId: number, runId: string) {
  const rows = await q.query<{ path: string; digest: string; size: number }>(
    'SELECT path, digest, size FROM run_files WHERE project_id = $1 AND run_id = $2 ORDER BY path',
    [projectId, runId],
  );
  return rows.map((r) => ({ path: r.path, digest: r.digest, size: Number(r.size) }));
}

/** A runs cursor: JSON text of [createdAt ISO timestamp, run id], as `list` encodes it. */
function isRunCursor(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  try {
    const k: unknown = JSON.parse(v);
    return (
      Array.isArray(k) && k.length === 2 && typeof k[0] === 'string' && typeof k[1] === 'string' &&
      /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(k[0]) && !Number.isNaN(Date.parse(k[0])) && /^[a-z0-9]{1,64}$/.test(k[1])
    );
  } catch {
    return false;
  }
}
