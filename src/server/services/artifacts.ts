import type { z } from 'zod';
import type {
  CallSite,
  ArtifactCollection,
  ArtifactVersion,
  CommitVersionRequest,
  CommitVersionResponse,
  FinishPendingRequest,
  ManifestResponse,
  RelogVersionRequest,
  ServerEvent,
  UpdateVersionRequest,
  UpsertPendingRequest,
} from '../../core/api.js';
import { AmphoraError } from '../../core/errors.js';
import { artifactDigest, storedBlobs, validateManifest, type Manifest } from '../../core/node/manifest.js';
import { NAME_PATTERN, validateAlias, validateArtifactName, validateArtifactType, validateEntity, validateProject } from '../../core/names.js';
import { versionIndex } from '../../core/reference.js';
import type { BlobStore } from '../blobs/blobStore.js';
import type { EventBus } from '../events.js';
import type { Database, Queryable } from '../store/database.js';
import { iso, toRun, toVersion, RUN_SELECT, VERSION_SELECT } from '../store/rows.js';
import { MAX_INT4 } from '../inputLimits.js';
import { clampLimit, decodeCursor, encodeCursor, isVersionIndex } from './paging.js';
import { ensureProject, findProjectId, requireProjectId } from './projects.js';
import { recordVersionBlobs } from '../auth/blobAccess.js';
import { audit, type Actor } from './audit.js';
import { missingBlobsError } from './missingBlobs.js';
import type { Run } from '../../core/api.js';

type CommitRequest = z.infer<typeof CommitVersionRequest>;
type UpsertRequest = z.infer<typeof UpsertPendingRequest>;
type FinishRequest = z.infer<typeof FinishPendingRequest>;
type UpdateRequest = z.infer<typeof UpdateVersionRequest>;

const LATEST = 'latest';
const RESOLVE_CACHE_MAX = 10_000;

interface CollectionRow {
  id: number;
  project_id: number;
  name: string;
  type: string;
  next_index: number;
}

/** The artifact rules of SPEC §1: commit, dedup, contiguous vN, aliases, pending versions, deletes. */
export class ArtifactService {
  private readonly resolveCache = new Map<string, ArtifactVersion>();
  private resolveCacheGeneration = -1;

  /**
   * @param recordBlobOwners team mode: remember at commit which project each blob belongs to
   *   (blob read rights). The embedded owner reads everything, so it skips the ~10,000 row
   *   inserts per big commit; a later team start back-fills them (recordMissingBlobOwners).
   */
  constructor(
    private readonly db: Database,
    private readonly blobs: BlobStore,
    private readonly events: EventBus,
    private readonly recordBlobOwners = true,
  ) {}

  // ------------------------------------------------------------------ commit

  async commit(entity: string, project: string, name: string, req: CommitRequest, actor: Actor = null): Promise<z.infer<typeof CommitVersionResponse>> {
    const aliases = checkLogTarget(entity, project, name, req);
    const manifest = req.manifest as Manifest;
    const size = validateManifest(manifest);
    const digest = artifactDigest(manifest);
    const needed = storedBlobs(manifest);
    // Logging unchanged content again (a pipeline run once more) is the common case. A committed
    // version of this collection with the same digest holds every blob, checked and flushed when
    // it was committed, and GC keeps them while it lives: the per-blob stat and flush are skipped.
    // Should that version be deleted before the transaction locks the collection, the blobs are
    // checked inside it after all.
    const duplicate = await hasCommittedDigest(this.db, entity, project, name, digest);
    return this.commitTransaction(duplicate ? [] : needed, async (tx, events) => {
      const { projectId, coll } = await lockLogTarget(tx, entity, project, name, req);
      if (duplicate && !(await committedWithDigest(tx, coll.id, digest)).length) await this.requireDurableBlobs(needed);
      return this.settleVersion(tx, events, {
        entity, project, name, projectId, coll, digest, blobs: needed, aliases, actor, req,
        insert: async (idx) =>
          (
            await tx.query<{ id: number }>(
              `INSERT INTO versions (collection_id, idx, state, digest, size, file_count, manifest, description, metadata, producer_run_id, committed_at, created_by, call_site)
               VALUES ($1, $2, 'committed', $3, $4, $5, $6, $7, $8, $9, now(), $10, $11) RETURNING id`,
              [coll.id, idx, digest, size, Object.keys(manifest).length, JSON.stringify(manifest), req.description ?? null, JSON.stringify(req.metadata ?? {}), req.runId ?? null, actor,
                req.runId && req.callSite ? JSON.stringify(req.callSite) : null],
            )
          )[0].id,
      });
    });
  }

  /**
   * A commit named by digest (see RelogVersionRequest): the committed version of this collection
   * with that digest gets the aliases, tags, TTL and output edge a commit of the same content would
   * give it. Its blobs were checked and flushed when it was committed, and GC keeps them while it
   * lives. None: not_found, and nothing is left behind (the transaction rolls back).
   */
  async relog(entity: string, project: string, name: string, req: z.infer<typeof RelogVersionRequest>, actor: Actor = null): Promise<z.infer<typeof CommitVersionResponse>> {
    const aliases = checkLogTarget(entity, project, name, req);
    return this.commitTransaction([], async (tx, events) => {
      const { projectId, coll } = await lockLogTarget(tx, entity, project, name, req);
      if (!(await committedWithDigest(tx, coll.id, req.digest)).length) {
        throw new AmphoraError(
          'not_found',
          `${entity}/${project}/${name} has no committed version with digest ${req.digest}; commit the manifest instead (POST …/artifacts/${name}/versions).`,
          { digest: req.digest },
        );
      }
      return this.settleVersion(tx, events, {
        entity, project, name, projectId, coll, digest: req.digest, blobs: [], aliases, actor, req,
        insert: () => Promise.reject(new Error('relog: the version exists, nothing is inserted')),
      });
    });
  }

  /**
   * The frame of every commit (a direct one, a finished distributed version): its blobs must be
   * present and durable before the transaction, and checked again inside it if GC ran meanwhile
   * (GC on any replica bumps the epoch); events go out only after the transaction committed.
   */
  private async commitTransaction<T>(needed: { digest: string; size: number }[], body: (tx: Queryable, events: ServerEvent[]) => Promise<T>): Promise<T> {
    const epoch = await gcEpoch(this.db);
    await this.requireDurableBlobs(needed);
    // Team mode: the events are a NOTIFY inside the transaction, so PostgreSQL delivers them at COMMIT.
    return this.events.inTransaction(this.db, async (tx, events) => {
      if (epoch !== (await gcEpoch(tx))) await this.requireBlobs(needed);
      return body(tx, events);
    });
  }

  /**
   * The steps every commit shares, inside its transaction: content equal to a committed version
   * of the collection makes no new version (dedup); otherwise the next vN is taken and the row
   * made by `insert`; then `latest` and the requested aliases move to it, tags and ttl apply, the
   * producing run gets its output edge, and a version.created/updated event is queued.
   */
  private async settleVersion(tx: Queryable, events: ServerEvent[], c: SettleRequest): Promise<{ version: ArtifactVersion; created: boolean }> {
    const existing = await committedWithDigest(tx, c.coll.id, c.digest);
    let versionId: number;
    const created = !existing.length;
    if (!created) {
      versionId = existing[0].id;
      await c.onDuplicate?.(versionId);
    } else {
      const idx = c.coll.next_index;
      await tx.query('UPDATE collections SET next_index = next_index + 1 WHERE id = $1', [c.coll.id]);
      versionId = await c.insert(idx);
      if (this.recordBlobOwners) await recordVersionBlobs(tx, versionId, c.projectId, c.blobs.map((b) => b.digest));
      await audit(tx, c.actor, 'version.create', c.entity, c.project, `${c.name}:v${idx}`, { digest: c.digest, ...c.auditDetails });
    }
    const ctx: AliasCtx = { entity: c.entity, project: c.project, name: c.name, collectionId: c.coll.id, actor: c.actor };
    for (const a of new Set([LATEST, ...c.aliases])) await moveAlias(tx, ctx, a, versionId, events);
    await applyTagsAndTtl(tx, versionId, c.req.tags, c.req.ttlSeconds);
    if (c.req.runId) await addEdge(tx, versionId, c.projectId, c.req.runId, 'output');
    await tx.query('UPDATE collections SET updated_at = now() WHERE id = $1', [c.coll.id]);
    const version = await readVersion(tx, versionId);
    events.unshift({ type: created ? 'version.created' : 'version.updated', version });
    return { version, created };
  }

  /** The blobs are present (see requireBlobs) and on disk for good before a version may hold them. */
  private async requireDurableBlobs(needed: { digest: string; size: number }[]): Promise<void> {
    await this.requireBlobs(needed);
    await this.blobs.flush(needed.map((b) => b.digest));
  }

  /** Every non-reference blob must be on the server with the size the manifest claims. */
  private async requireBlobs(needed: { digest: string; size: number }[]): Promise<void> {
    const present = await this.blobs.statMany(needed.map((b) => b.digest));
    const missing = needed.filter((b) => present.get(b.digest)?.size !== b.size);
    if (missing.length) throw missingBlobsError(missing);
  }

  // ------------------------------------------------------------------ distributed (pending) versions

  async upsertPending(entity: string, project: string, name: string, distributedId: string, req: UpsertRequest, actor: Actor = null) {
    validateEntity(entity);
    validateProject(project);
    validateArtifactName(name);
    validateArtifactType(req.type);
    validateDistributedId(distributedId);
    const upsertAliases = normalizeAliases(req.aliases ?? []);
    const manifest = req.manifest as Manifest;
    validateManifest(manifest);
    await this.requireBlobs(storedBlobs(manifest));
    return this.db.transaction(async (tx) => {
      const projectId = await ensureProject(tx, entity, project);
      await refuseRegistry(tx, projectId, entity, project, name);
      if (req.runId) await requireRun(tx, projectId, entity, project, req.runId);
      const coll = await lockOrCreateCollection(tx, projectId, name, req.type);
      const rows = await tx.query<{ id: number; manifest: string; metadata: Record<string, unknown> }>(
        `SELECT id, manifest, metadata FROM versions WHERE collection_id = $1 AND distributed_id = $2 AND state = 'pending' FOR UPDATE`,
        [coll.id, distributedId],
      );
      const merged: Manifest = rows.length ? parseManifest(rows[0].manifest) : {};
      for (const [p, e] of Object.entries(manifest)) {
        const had = merged[p];
        if (had && had.digest !== e.digest) {
          throw new AmphoraError(
            'conflict',
            `Path "${p}" is already in distributed version "${distributedId}" of ${name} with digest ${had.digest.slice(0, 12)}…, and this upsert brings ${e.digest.slice(0, 12)}…; each path may hold one content. Rename one of the files.`,
          );
        }
        merged[p] = e;
      }
      const size = validateManifest(merged);
      const metadata = { ...(rows[0]?.metadata ?? {}), ...(req.metadata ?? {}) };
      let versionId: number;
      if (rows.length) {
        versionId = rows[0].id;
        await tx.query(
          `UPDATE versions SET manifest = $2, size = $3, file_count = $4, metadata = $5, description = COALESCE($6, description), updated_at = now(),
             pending_aliases = ARRAY(SELECT DISTINCT unnest(pending_aliases || $7::text[])), call_site = COALESCE(call_site, $8::jsonb) WHERE id = $1`,
          [versionId, JSON.stringify(merged), size, Object.keys(merged).length, JSON.stringify(metadata), req.description ?? null, upsertAliases,
            req.runId && req.callSite ? JSON.stringify(req.callSite) : null],
        );
      } else {
        const ins = await tx.query<{ id: number }>(
          `INSERT INTO versions (collection_id, state, size, file_count, manifest, description, metadata, distributed_id, producer_run_id, pending_aliases, created_by, call_site)
           VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
          [coll.id, size, Object.keys(merged).length, JSON.stringify(merged), req.description ?? null, JSON.stringify(metadata), distributedId, req.runId ?? null, upsertAliases, actor,
            req.runId && req.callSite ? JSON.stringify(req.callSite) : null],
        );
        versionId = ins[0].id;
      }
      if (req.runId) await addEdge(tx, versionId, projectId, req.runId, 'output');
      return { distributedId, fileCount: Object.keys(merged).length, size };
    });
  }

  async finishPending(entity: string, project: string, name: string, distributedId: string, req: FinishRequest, actor: Actor = null) {
    validateDistributedId(distributedId);
    const aliases = normalizeAliases(req.aliases ?? []);
    const pending = await this.db.query<{ manifest: string }>(
      `SELECT v.manifest FROM versions v JOIN collections c ON c.id = v.collection_id JOIN projects p ON p.id = c.project_id
       WHERE p.entity = $1 AND p.name = $2 AND c.name = $3 AND v.distributed_id = $4 AND v.state = 'pending'`,
      [entity, project, name, distributedId],
    );
    if (!pending.length) {
      throw new AmphoraError('not_found', `There is no pending distributed version "${distributedId}" of ${entity}/${project}/${name}; upsert files into it first (or it was already finished).`);
    }
    const needed = storedBlobs(parseManifest(pending[0].manifest));
    return this.commitTransaction(needed, async (tx, events) => {
      const projectId = (await requireProjectId(tx, entity, project))!;
      if (req.runId) await requireRun(tx, projectId, entity, project, req.runId);
      const coll = (await tx.query<CollectionRow>('SELECT * FROM collections WHERE project_id = $1 AND name = $2 FOR UPDATE', [projectId, name]))[0];
      const rows = await tx.query<{ id: number; manifest: string; metadata: Record<string, unknown>; description: string | null; pending_aliases: string[] }>(
        `SELECT id, manifest, metadata, description, pending_aliases FROM versions WHERE collection_id = $1 AND distributed_id = $2 AND state = 'pending' FOR UPDATE`,
        [coll.id, distributedId],
      );
      if (!rows.length) throw new AmphoraError('not_found', `Distributed version "${distributedId}" of ${name} was finished meanwhile.`);
      const pendingRow = rows[0];
      const manifest = parseManifest(pendingRow.manifest);
      const digest = artifactDigest(manifest);
      return this.settleVersion(tx, events, {
        entity, project, name, projectId, coll, digest, blobs: storedBlobs(manifest), actor, req,
        aliases: [...(pendingRow.pending_aliases ?? []), ...aliases],
        auditDetails: { distributedId },
        // Same content as a committed version: fold the pending row's edges into it and drop the row.
        onDuplicate: async (versionId) => {
          await tx.query(
            `INSERT INTO edges (version_id, project_id, run_id, kind, call_site) SELECT $2, project_id, run_id, kind, call_site FROM edges WHERE version_id = $1 ON CONFLICT DO NOTHING`,
            [pendingRow.id, versionId],
          );
          await tx.query('DELETE FROM edges WHERE version_id = $1', [pendingRow.id]);
          await tx.query('DELETE FROM versions WHERE id = $1', [pendingRow.id]);
        },
        // New content: the pending row itself becomes the committed version.
        insert: async (idx) => {
          const metadata = { ...pendingRow.metadata, ...(req.metadata ?? {}) };
          await tx.query(
            `UPDATE versions SET state = 'committed', idx = $2, digest = $3, metadata = $4, description = COALESCE($5, description),
               producer_run_id = COALESCE($6, producer_run_id), committed_at = now(), updated_at = now(), created_by = COALESCE($7, created_by) WHERE id = $1`,
            [pendingRow.id, idx, digest, JSON.stringify(metadata), req.description ?? null, req.runId ?? null, actor],
          );
          return pendingRow.id;
        },
      });
    });
  }

  // ------------------------------------------------------------------ reads

  async resolve(entity: string, project: string, name: string, selector: string): Promise<ArtifactVersion> {
    // Hot path (CodeLens, clients resolving refs): answers from memory until any write happens.
    const key = `${entity}/${project}/${name}:${selector}`;
    const generation = this.db.generation;
    if (this.resolveCacheGeneration !== generation) {
      this.resolveCache.clear();
      this.resolveCacheGeneration = generation;
    }
    const cached = this.resolveCache.get(key);
    if (cached) return cached;
    const row = await selectVersion(this.db, entity, project, name, selector);
    if (row) {
      if (this.db.generation === generation && this.resolveCache.size < RESOLVE_CACHE_MAX) this.resolveCache.set(key, row);
      return row;
    }
    throw await explainMissing(this.db, entity, project, name, selector);
  }

  async listVersions(entity: string, project: string, name: string, limit?: number, cursor?: string) {
    const n = clampLimit(limit);
    const before = decodeCursor(cursor, isVersionIndex);
    const collId = await requireCollectionId(this.db, entity, project, name);
    const rows = await this.db.query(
      `${VERSION_SELECT} WHERE v.collection_id = $1 AND v.state = 'committed' AND ($2::int IS NULL OR v.idx < $2) ORDER BY v.idx DESC LIMIT $3`,
      [collId, before ?? null, n + 1],
    );
    const items = rows.slice(0, n).map(toVersion);
    return { items, nextCursor: rows.length > n ? encodeCursor(items[items.length - 1].index) : null };
  }

  async manifest(entity: string, project: string, name: string, selector: string): Promise<z.infer<typeof ManifestResponse>> {
    const v = await this.resolve(entity, project, name, selector);
    const rows = await this.db.query<{ manifest: string }>('SELECT manifest FROM versions WHERE id = $1', [Number(v.id)]);
    return { version: v.version, digest: v.digest, entries: parseManifest(rows[0].manifest) };
  }

  async consumers(entity: string, project: string, name: string, selector: string): Promise<Run[]> {
    const v = await this.resolve(entity, project, name, selector);
    const rows = await this.db.query(
      // A link's consumers are its source's (uses of a link are recorded on the source).
      `${RUN_SELECT} JOIN edges e ON e.project_id = r.project_id AND e.run_id = r.run_id
       WHERE e.version_id = (SELECT COALESCE(source_version_id, id) FROM versions WHERE id = $1) AND e.kind = 'input' ORDER BY r.created_at`,
      [Number(v.id)],
    );
    return rows.map(toRun);
  }

  async getCollection(entity: string, project: string, name: string): Promise<ArtifactCollection> {
    const collId = await requireCollectionId(this.db, entity, project, name);
    return (await this.collections(entity, project, { ids: [collId] }))[0];
  }

  async listCollections(entity: string, project: string, opts: { type?: string; limit?: number; cursor?: string }) {
    const n = clampLimit(opts.limit);
    const after = decodeCursor(opts.cursor, isName);
    const projectId = await requireProjectId(this.db, entity, project);
    const rows = await this.db.query<{ id: number; name: string }>(
      `SELECT id, name FROM collections WHERE project_id = $1 AND ($2::text IS NULL OR type = $2) AND ($3::text IS NULL OR name > $3)
       ORDER BY name LIMIT $4`,
      [projectId, opts.type ?? null, after ?? null, n + 1],
    );
    const page = rows.slice(0, n);
    const items = await this.collections(entity, project, { ids: page.map((r) => r.id) });
    return { items, nextCursor: rows.length > n ? encodeCursor(page[page.length - 1].name) : null };
  }

  private async collections(entity: string, project: string, { ids }: { ids: number[] }): Promise<ArtifactCollection[]> {
    if (!ids.length) return [];
    const rows = await this.db.query(
      `SELECT c.id, c.name, c.type, c.description, c.created_at, c.updated_at,
              (SELECT count(*) FROM versions v WHERE v.collection_id = c.id AND v.state = 'committed')::int AS version_count,
              (SELECT a.version_id FROM aliases a WHERE a.collection_id = c.id AND a.alias = 'latest') AS latest_id,
              COALESCE((SELECT json_agg(json_build_object('alias', a.alias, 'version', 'v' || v.idx) ORDER BY a.alias <> 'latest', a.alias)
                 FROM aliases a JOIN versions v ON v.id = a.version_id WHERE a.collection_id = c.id), '[]') AS aliases
       FROM collections c WHERE c.id = ANY($1::bigint[]) ORDER BY c.name`,
      [ids],
    );
    const latestIds = rows.map((r) => r.latest_id).filter((x) => x !== null && x !== undefined) as number[];
    const latest = new Map<string, ArtifactVersion>();
    if (latestIds.length) {
      for (const r of await this.db.query(`${VERSION_SELECT} WHERE v.id = ANY($1::bigint[])`, [latestIds])) {
        const v = toVersion(r);
        latest.set(v.id, v);
      }
    }
    return rows.map((r) => ({
      entity,
      project,
      name: r.name as string,
      type: r.type as string,
      description: (r.description as string | null) ?? null,
      versionCount: r.version_count as number,
      latest: r.latest_id != null ? (latest.get(String(r.latest_id)) ?? null) : null,
      aliases: r.aliases as { alias: string; version: string }[],
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
    }));
  }

  async listTypes(entity: string, project: string) {
    const projectId = await requireProjectId(this.db, entity, project);
    const rows = await this.db.query<{ type: string; n: number }>(
      'SELECT type, count(*)::int AS n FROM collections WHERE project_id = $1 GROUP BY type ORDER BY type',
      [projectId],
    );
    return { items: rows.map((r) => ({ type: r.type, collectionCount: r.n })) };
  }

  async listProjects() {
    const rows = await this.db.query(
      `SELECT p.entity, p.name, p.updated_at,
              (SELECT count(*) FROM collections c WHERE c.project_id = p.id)::int AS artifact_count,
              (SELECT count(*) FROM runs r WHERE r.project_id = p.id)::int AS run_count
       FROM projects p ORDER BY p.entity, p.name`,
    );
    return {
      items: rows.map((r) => ({
        entity: r.entity as string,
        name: r.name as string,
        artifactCount: r.artifact_count as number,
        runCount: r.run_count as number,
        updatedAt: iso(r.updated_at),
      })),
    };
  }

  // ------------------------------------------------------------------ updates and deletes

  async update(entity: string, project: string, name: string, selector: string, req: UpdateRequest, actor: Actor = null): Promise<ArtifactVersion> {
    const add = req.aliases?.add ? normalizeAliases(req.aliases.add, true) : [];
    const remove = req.aliases?.remove ? normalizeAliases(req.aliases.remove, true) : [];
    const set = req.aliases?.set ? normalizeAliases(req.aliases.set, true) : undefined;
    if (req.metadata !== undefined && req.metadataPatch !== undefined) {
      throw new AmphoraError('invalid_request', 'Send either "metadata" (replaces the whole object) or "metadataPatch" (merges key by key), not both.');
    }
    return this.events.inTransaction(this.db, async (tx, events) => {
      const { current, id, ctx } = await lockVersion(tx, entity, project, name, selector, actor);
      if (req.description !== undefined || req.metadata !== undefined || req.metadataPatch !== undefined) {
        const changed = [req.description !== undefined && 'description', (req.metadata !== undefined || req.metadataPatch !== undefined) && 'metadata'].filter(Boolean);
        await audit(tx, actor, 'version.update', entity, project, `${name}:${current.version}`, { changed });
      }
      if (req.description !== undefined) {
        await tx.query('UPDATE versions SET description = $2 WHERE id = $1', [id, req.description]);
      }
      if (req.metadata !== undefined || req.metadataPatch !== undefined) {
        let metadata: Record<string, unknown> = req.metadata ?? { ...current.metadata };
        if (req.metadataPatch) {
          for (const [k, v] of Object.entries(req.metadataPatch)) {
            if (v === null) delete metadata[k];
            else metadata[k] = v;
          }
        }
        metadata = JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>;
        await tx.query('UPDATE versions SET metadata = $2 WHERE id = $1', [id, JSON.stringify(metadata)]);
      }
      if (req.tags !== undefined) await tx.query('UPDATE versions SET tags = $2 WHERE id = $1', [id, normalizeTags(req.tags)]);
      if (req.ttlSeconds !== undefined) await tx.query('UPDATE versions SET ttl_seconds = $2 WHERE id = $1', [id, req.ttlSeconds]);
      // `latest` may be removed or moved by hand as in W&B; the next logged version takes it again.
      const custom = current.aliases;
      // `set` names the custom aliases; it leaves `latest` alone unless it lists it.
      const toRemove = set ? custom.filter((a) => a !== LATEST && !set.includes(a)) : remove.filter((a) => custom.includes(a));
      const toAdd = set ?? add;
      for (const a of remove) {
        if (!custom.includes(a)) {
          throw new AmphoraError('not_found', `Version ${current.version} of ${name} has no alias "${a}" to remove; its aliases are ${current.aliases.join(', ') || '(none)'}.`);
        }
      }
      for (const a of toRemove) await dropAlias(tx, ctx, a, current.version, events);
      for (const a of toAdd) await moveAlias(tx, ctx, a, id, events);
      await tx.query('UPDATE versions SET updated_at = now(), updated_by = COALESCE($2, updated_by) WHERE id = $1', [id, actor]);
      const updated = await readVersion(tx, id);
      events.unshift({ type: 'version.updated', version: updated });
      return updated;
    });
  }

  /** Soft-deletes (with their aliases) the committed versions whose time-to-live ran out; returns their references. */
  async expire(dryRun: boolean, actor: Actor = null): Promise<string[]> {
    const rows = await this.db.query<{ entity: string; project: string; name: string; idx: number }>(
      `SELECT p.entity, p.name AS project, c.name, v.idx FROM versions v
         JOIN collections c ON c.id = v.collection_id JOIN projects p ON p.id = c.project_id
        WHERE v.state = 'committed' AND v.ttl_seconds IS NOT NULL AND v.created_at + v.ttl_seconds * interval '1 second' <= now()
        ORDER BY p.entity, p.name, c.name, v.idx`,
    );
    const refs: string[] = [];
    for (const r of rows) {
      if (!dryRun) await this.remove(r.entity, r.project, r.name, `v${r.idx}`, true, actor);
      refs.push(`${r.entity}/${r.project}/${r.name}:v${r.idx}`);
    }
    return refs;
  }

  async remove(entity: string, project: string, name: string, selector: string, deleteAliases: boolean, actor: Actor = null): Promise<ArtifactVersion> {
    return this.events.inTransaction(this.db, async (tx, events) => {
      const { current, id, ctx } = await lockVersion(tx, entity, project, name, selector, actor);
      const collectionId = ctx.collectionId;
      // W&B counts `latest` too: a version any alias points at is kept unless deleteAliases.
      if (current.aliases.length && !deleteAliases) {
        throw new AmphoraError(
          'aliased_version',
          `Version ${current.version} of ${name} has the alias(es) ${current.aliases.join(', ')}; remove them first or delete it together with its aliases (delete_aliases=True in Python, --delete-aliases on the command line).`,
          { aliases: current.aliases },
        );
      }
      for (const a of current.aliases) await dropAlias(tx, ctx, a, current.version, events);
      await tx.query(`UPDATE versions SET state = 'deleted', updated_at = now(), deleted_by = $2 WHERE id = $1`, [id, actor]);
      await audit(tx, actor, 'version.delete', entity, project, `${name}:${current.version}`, { deleteAliases, aliases: current.aliases });
      if (current.aliases.includes(LATEST)) {
        // `latest` falls back to the most recently committed version that remains.
        const next = await tx.query<{ id: number }>(
          `SELECT id FROM versions WHERE collection_id = $1 AND state = 'committed' ORDER BY committed_at DESC, idx DESC LIMIT 1`,
          [collectionId],
        );
        if (next.length) await moveAlias(tx, ctx, LATEST, next[0].id, events);
      }
      const deleted = await readVersion(tx, id);
      events.unshift({ type: 'version.deleted', version: deleted });
      return deleted;
    });
  }
}

// ------------------------------------------------------------------ helpers shared with runs/lineage

export async function readVersion(q: Queryable, id: number): Promise<ArtifactVersion> {
  const rows = await q.query(`${VERSION_SELECT} WHERE v.id = $1`, [id]);
  return toVersion(rows[0]);
}

/** One indexed query: the version a selector (vN or alias) names, committed only. */
export async function selectVersion(q: Queryable, entity: string, project: string, name: string, selector: string): Promise<ArtifactVersion | undefined> {
  const idx = versionIndex(selector);
  // Beyond the integer column's range no version can exist (and the query would fail).
  if (idx !== undefined && idx > MAX_INT4) return undefined;
  const rows =
    idx !== undefined
      ? await q.query(`${VERSION_SELECT} WHERE p.entity = $1 AND p.name = $2 AND c.name = $3 AND v.idx = $4 AND v.state = 'committed'`, [entity, project, name, idx])
      : await q.query(
          `${VERSION_SELECT} WHERE p.entity = $1 AND p.name = $2 AND c.name = $3
             AND v.id = (SELECT a.version_id FROM aliases a WHERE a.collection_id = c.id AND a.alias = $4)`,
          [entity, project, name, selector],
        );
  return rows.length ? toVersion(rows[0]) : undefined;
}

/** Builds the not_found error that says which part of the reference is unknown and what exists. */
export async function explainMissing(q: Queryable, entity: string, project: string, name: string, selector: string): Promise<AmphoraError> {
  const projectId = await findProjectId(q, entity, project);
  if (projectId === undefined) {
    return new AmphoraError('not_found', `There is no project "${entity}/${project}"; check the project part of the reference (GET /api/v1/projects lists them).`);
  }
  const coll = await q.query<{ id: number }>('SELECT id FROM collections WHERE project_id = $1 AND name = $2', [projectId, name]);
  if (!coll.length) {
    const names = await q.query<{ name: string }>('SELECT name FROM collections WHERE project_id = $1 LIMIT 5000', [projectId]);
    const near = names.sort((a, b) => editDistance(a.name, name) - editDistance(b.name, name)).slice(0, 3);
    return new AmphoraError(
      'not_found',
      `There is no artifact "${name}" in ${entity}/${project}${near.length ? `; existing artifacts include ${near.map((r) => r.name).join(', ')}` : ' (it has no artifacts yet)'}.`,
    );
  }
  const idx = versionIndex(selector);
  if (idx !== undefined) {
    const v = idx > MAX_INT4 ? [] : await q.query<{ state: string }>('SELECT state FROM versions WHERE collection_id = $1 AND idx = $2', [coll[0].id, idx]);
    const top = await q.query<{ n: number }>('SELECT next_index AS n FROM collections WHERE id = $1', [coll[0].id]);
    if (v.length && v[0].state === 'deleted') return new AmphoraError('not_found', `Version ${selector} of ${name} was deleted; version numbers are never reused.`);
    return new AmphoraError('not_found', `Artifact ${name} has no version ${selector}; its versions go from v0 to v${Math.max(0, top[0].n - 1)}${top[0].n === 0 ? ' (none committed yet)' : ''}.`);
  }
  const aliases = await q.query<{ alias: string }>('SELECT alias FROM aliases WHERE collection_id = $1 ORDER BY alias', [coll[0].id]);
  return new AmphoraError(
    'not_found',
    `Artifact ${name} has no alias "${selector}"; its aliases are ${aliases.map((a) => a.alias).join(', ') || '(none)'}. Use one of them or a version such as v0.`,
  );
}

/**
 * The version an edit or delete names, locked: collection row first, then the version — the order
 * commits take (commit locks the collection, then its alias rows lock the version key), so two
 * writers cannot deadlock. Not found: the error says what exists instead.
 */
async function lockVersion(tx: Queryable, entity: string, project: string, name: string, selector: string, actor: Actor): Promise<{ current: ArtifactVersion; id: number; ctx: AliasCtx }> {
  const current = await selectVersion(tx, entity, project, name, selector);
  if (!current) throw await explainMissing(tx, entity, project, name, selector);
  const id = Number(current.id);
  const collectionId = (await tx.query<{ collection_id: number }>('SELECT collection_id FROM versions WHERE id = $1', [id]))[0].collection_id;
  await tx.query('SELECT id FROM collections WHERE id = $1 FOR UPDATE', [collectionId]);
  await tx.query('SELECT id FROM versions WHERE id = $1 FOR UPDATE', [id]);
  return { current, id, ctx: { entity, project, name, collectionId, actor } };
}

async function requireCollectionId(q: Queryable, entity: string, project: string, name: string): Promise<number> {
  const rows = await q.query<{ id: number }>(
    'SELECT c.id FROM collections c JOIN projects p ON p.id = c.project_id WHERE p.entity = $1 AND p.name = $2 AND c.name = $3',
    [entity, project, name],
  );
  if (!rows.length) throw await explainMissing(q, entity, project, name, LATEST);
  return rows[0].id;
}

/** Registries hold links only: a version is logged to a project, then linked (W&B's rule). */
export async function refuseRegistry(q: Queryable, projectId: number, entity: string, project: string, name: string): Promise<void> {
  if ((await q.query('SELECT 1 FROM registries WHERE project_id = $1', [projectId])).length) {
    throw new AmphoraError(
      'invalid_request',
      `${entity}/${project} is a registry, which holds links to versions logged elsewhere: log "${name}" to a project, then link it into the registry (run.link_artifact, artifact.link, or amphora artifact link SRC ${project}/${name}).`,
    );
  }
}

/** The names a commit or re-log names, checked before any query; returns its aliases, normalised. */
function checkLogTarget(entity: string, project: string, name: string, req: { type: string; aliases?: string[] }): string[] {
  validateEntity(entity);
  validateProject(project);
  validateArtifactName(name);
  validateArtifactType(req.type);
  return normalizeAliases(req.aliases ?? []);
}

/** Inside a commit's or re-log's transaction: its project (made if new, never a registry), its run, and its collection, locked. */
async function lockLogTarget(tx: Queryable, entity: string, project: string, name: string, req: { type: string; runId?: string }): Promise<{ projectId: number; coll: CollectionRow }> {
  const projectId = await ensureProject(tx, entity, project);
  await refuseRegistry(tx, projectId, entity, project, name);
  if (req.runId) await requireRun(tx, projectId, entity, project, req.runId);
  return { projectId, coll: await lockOrCreateCollection(tx, projectId, name, req.type) };
}

export async function lockOrCreateCollection(tx: Queryable, projectId: number, name: string, type: string): Promise<CollectionRow> {
  let rows = await tx.query<CollectionRow>('SELECT * FROM collections WHERE project_id = $1 AND name = $2 FOR UPDATE', [projectId, name]);
  if (!rows.length) {
    await tx.query('INSERT INTO collections (project_id, name, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [projectId, name, type]);
    rows = await tx.query<CollectionRow>('SELECT * FROM collections WHERE project_id = $1 AND name = $2 FOR UPDATE', [projectId, name]);
  }
  const coll = rows[0];
  if (coll.type !== type) {
    throw new AmphoraError(
      'type_mismatch',
      `Artifact "${name}" has type "${coll.type}", so it cannot be logged as type "${type}"; the type of a name is fixed once created. Use type "${coll.type}" or another name.`,
      { existingType: coll.type, requestedType: type },
    );
  }
  return coll;
}

export async function requireRun(q: Queryable, projectId: number, entity: string, project: string, runId: string): Promise<void> {
  const rows = await q.query('SELECT 1 FROM runs WHERE project_id = $1 AND run_id = $2', [projectId, runId]);
  if (!rows.length) throw new AmphoraError('not_found', `There is no run "${runId}" in ${entity}/${project}; create the run first (POST …/runs) or omit runId.`);
}

/**
 * Records a lineage edge; an input's first recorded `use_artifact` line is kept (using again is
 * idempotent). A run using a registry link uses the linked source: lineage is the source's (W&B's rule).
 */
export async function addEdge(tx: Queryable, versionId: number, projectId: number, runId: string, kind: 'input' | 'output', callSite?: CallSite): Promise<void> {
  await tx.query(
    `INSERT INTO edges (version_id, project_id, run_id, kind, call_site)
     SELECT COALESCE(source_version_id, id), $2, $3, $4, $5 FROM versions WHERE id = $1
     ON CONFLICT (version_id, project_id, run_id, kind) DO UPDATE SET call_site = COALESCE(edges.call_site, EXCLUDED.call_site)`,
    [versionId, projectId, runId, kind, callSite ? JSON.stringify(callSite) : null],
  );
}

/** What `settleVersion` needs to know about one commit (see there). */
interface SettleRequest {
  entity: string;
  project: string;
  name: string;
  projectId: number;
  coll: CollectionRow;
  digest: string;
  /** The stored (non-reference) blobs of the manifest: their owners are recorded in team mode. */
  blobs: { digest: string; size: number }[];
  aliases: string[];
  actor: Actor;
  req: { runId?: string | null; tags?: string[]; ttlSeconds?: number | null };
  /** Makes the new version's row as committed with index `idx`; returns its id. */
  insert(idx: number): Promise<number>;
  /** The content equals committed version `versionId`: clean up whatever the commit staged. */
  onDuplicate?(versionId: number): Promise<void>;
  auditDetails?: Record<string, unknown>;
}

export interface AliasCtx {
  entity: string;
  project: string;
  name: string;
  collectionId: number;
  actor: Actor;
}

/** Points `alias` at `versionId`, taking it from whichever version held it (aliases are unique). */
export async function moveAlias(tx: Queryable, ctx: AliasCtx, alias: string, versionId: number, events: ServerEvent[]): Promise<void> {
  const prev = await tx.query<{ version_id: number; idx: number }>(
    'SELECT a.version_id, v.idx FROM aliases a JOIN versions v ON v.id = a.version_id WHERE a.collection_id = $1 AND a.alias = $2',
    [ctx.collectionId, alias],
  );
  if (prev.length && Number(prev[0].version_id) === Number(versionId)) return;
  await tx.query(
    `INSERT INTO aliases (collection_id, alias, version_id, moved_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (collection_id, alias) DO UPDATE SET version_id = EXCLUDED.version_id, moved_by = EXCLUDED.moved_by`,
    [ctx.collectionId, alias, versionId, ctx.actor],
  );
  const idx = (await tx.query<{ idx: number }>('SELECT idx FROM versions WHERE id = $1', [versionId]))[0].idx;
  await audit(tx, ctx.actor, 'alias.move', ctx.entity, ctx.project, `${ctx.name}:${alias}`, { version: `v${idx}`, previous: prev.length ? `v${prev[0].idx}` : null });
  events.push({
    type: 'alias.moved',
    entity: ctx.entity,
    project: ctx.project,
    name: ctx.name,
    alias,
    version: `v${idx}`,
    previous: prev.length ? `v${prev[0].idx}` : null,
  });
}

async function dropAlias(tx: Queryable, ctx: AliasCtx, alias: string, from: string, events: ServerEvent[]): Promise<void> {
  await tx.query('DELETE FROM aliases WHERE collection_id = $1 AND alias = $2', [ctx.collectionId, alias]);
  await audit(tx, ctx.actor, 'alias.remove', ctx.entity, ctx.project, `${ctx.name}:${alias}`, { previous: from });
  events.push({ type: 'alias.moved', entity: ctx.entity, project: ctx.project, name: ctx.name, alias, version: null, previous: from });
}

/** Validates aliases. On commit `latest` is dropped (it is applied anyway); edits may add or remove it. */
export function normalizeAliases(list: string[], forEdit = false): string[] {
  const out: string[] = [];
  for (const a of list) {
    validateAlias(a);
    if (a === LATEST && !forEdit) continue;
    if (!out.includes(a)) out.push(a);
  }
  return out;
}

function isName(v: unknown): v is string {
  return typeof v === 'string' && NAME_PATTERN.test(v);
}

/** Tags keep their first-seen order without duplicates. */
function normalizeTags(list: string[]): string[] {
  return [...new Set(list)];
}

/** On commit (also a deduplicated one) tags are added to the version's and a given ttl replaces its. */
async function applyTagsAndTtl(tx: Queryable, versionId: number, tags: string[] | undefined, ttlSeconds: number | null | undefined): Promise<void> {
  if (tags?.length) {
    await tx.query(
      `UPDATE versions SET tags = ARRAY(SELECT t FROM unnest(tags || $2::text[]) WITH ORDINALITY AS u(t, o) GROUP BY t ORDER BY min(o)) WHERE id = $1`,
      [versionId, normalizeTags(tags)],
    );
  }
  if (ttlSeconds !== undefined) await tx.query('UPDATE versions SET ttl_seconds = $2 WHERE id = $1', [versionId, ttlSeconds]);
}

/** Manifests are stored as JSON text (see migrations). */
function parseManifest(stored: unknown): Manifest {
  return (typeof stored === 'string' ? JSON.parse(stored) : stored) as Manifest;
}

function validateDistributedId(id: string): void {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(id)) {
    throw new AmphoraError('invalid_request', `Invalid distributed id "${id.slice(0, 80)}": use 1–128 letters, digits, "_", "-" or "." (for example the run group's name).`);
  }
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** How many garbage collections have run, on any replica (see gc.ts). */
export async function gcEpoch(q: Queryable): Promise<number> {
  return Number((await q.query<{ epoch: number }>('SELECT epoch FROM gc_state WHERE id = 1'))[0].epoch);
}

/** Whether collection ENTITY/PROJECT/NAME has a committed version with this content digest (no lock taken). */
async function hasCommittedDigest(q: Queryable, entity: string, project: string, name: string, digest: string): Promise<boolean> {
  const rows = await q.query(
    `SELECT 1 FROM versions v JOIN collections c ON c.id = v.collection_id JOIN projects p ON p.id = c.project_id
     WHERE p.entity = $1 AND p.name = $2 AND c.name = $3 AND v.digest = $4 AND v.state = 'committed' LIMIT 1`,
    [entity, project, name, digest],
  );
  return rows.length > 0;
}

/** The committed version of a collection whose content has this digest (dedup), if any. */
function committedWithDigest(tx: Queryable, collectionId: number, digest: string): Promise<{ id: number }[]> {
  return tx.query<{ id: number }>(
    `SELECT id FROM versions WHERE collection_id = $1 AND digest = $2 AND state = 'committed' ORDER BY idx DESC LIMIT 1`,
    [collectionId, digest],
  );
}
