import type { z } from 'zod';
import { BUILT_IN_REGISTRIES, REGISTRY_PREFIX } from '../../core/registry.js';
import type { CreateRegistryRequest, LinkVersionRequest, LinkVersionResponse, Registry, ServerEvent, UpdateRegistryRequest } from '../../core/api.js';
import { AmphoraError } from '../../core/errors.js';
import { validateArtifactName, validateArtifactType, validateEntity, validateProject } from '../../core/names.js';
import type { EventBus } from '../events.js';
import type { Database, Queryable } from '../store/database.js';
import { iso } from '../store/rows.js';
import { recordProjectBlobs } from '../auth/blobAccess.js';
import { audit, type Actor } from './audit.js';
import { explainMissing, lockOrCreateCollection, moveAlias, normalizeAliases, readVersion, selectVersion, type AliasCtx } from './artifacts.js';
import { ensureProject, findProjectId } from './projects.js';

type CreateRequest = z.infer<typeof CreateRegistryRequest>;
type UpdateRequest = z.infer<typeof UpdateRegistryRequest>;
type LinkRequest = z.infer<typeof LinkVersionRequest>;

interface RegistryRow {
  project_id: number;
  entity: string;
  project: string;
  visibility: Registry['visibility'];
  description: string | null;
  allow_all_types: boolean;
  artifact_types: string[];
  tags: string[];
  created_at: unknown;
  updated_at: unknown;
}

const REGISTRY_SELECT = `SELECT r.*, p.entity, p.name AS project FROM registries r JOIN projects p ON p.id = r.project_id`;

/** W&B's Registry: registries (projects of link collections) and links to logged versions. */
export class RegistryService {
  constructor(
    private readonly db: Database,
    private readonly events: EventBus,
  ) {}

  async create(entity: string, name: string, req: CreateRequest, actor: Actor = null): Promise<Registry> {
    const project = registryProject(entity, name);
    return this.db.transaction(async (tx) => {
      const projectId = await ensureProject(tx, entity, project);
      if ((await tx.query('SELECT 1 FROM registries WHERE project_id = $1', [projectId])).length) {
        throw new AmphoraError('conflict', `Registry "${name}" already exists in ${entity}; pick another name or open it with Api().registry("${name}").`);
      }
      const types = (req.artifactTypes ?? []).map((t) => validateArtifactType(t));
      await refuseLoggedVersions(tx, projectId, entity, project);
      await tx.query(
        `INSERT INTO registries (project_id, visibility, description, allow_all_types, artifact_types, tags) VALUES ($1, $2, $3, $4, $5, $6)`,
        [projectId, req.visibility, req.description ?? null, types.length === 0, [...new Set(types)], [...new Set(req.tags ?? [])]],
      );
      await audit(tx, actor, 'registry.create', entity, project, name, { visibility: req.visibility, artifactTypes: types });
      return this.read(tx, entity, name);
    });
  }

  async get(entity: string, name: string): Promise<Registry> {
    return this.read(this.db, entity, name);
  }

  /** Every registry of the given entities (all when `entities` is undefined), by entity and name. */
  async list(entities?: string[]): Promise<Registry[]> {
    const rows = await this.db.query<RegistryRow>(
      `${REGISTRY_SELECT} WHERE ($1::text[] IS NULL OR p.entity = ANY($1::text[])) ORDER BY p.entity, p.name`,
      [entities ?? null],
    );
    return rows.map(toRegistry);
  }

  async update(entity: string, name: string, req: UpdateRequest, actor: Actor = null): Promise<Registry> {
    return this.db.transaction(async (tx) => {
      const row = await this.requireRow(tx, entity, name, true);
      const added = (req.addArtifactTypes ?? []).map((t) => validateArtifactType(t));
      const allowAll = req.allowAllArtifactTypes ?? row.allow_all_types;
      if (added.length && allowAll) {
        throw new AmphoraError('invalid_request', `Registry "${name}" allows all artifact types, so a list of types means nothing; set allow_all_artifact_types to False to restrict it to its types.`);
      }
      await tx.query(
        `UPDATE registries SET visibility = $2, description = $3, allow_all_types = $4, artifact_types = $5, tags = $6, updated_at = now() WHERE project_id = $1`,
        [
          row.project_id,
          req.visibility ?? row.visibility,
          req.description !== undefined ? req.description : row.description,
          allowAll,
          [...new Set([...row.artifact_types, ...added])],
          req.tags ? [...new Set(req.tags)] : row.tags,
        ],
      );
      await audit(tx, actor, 'registry.update', entity, row.project, name, req);
      return this.read(tx, entity, name);
    });
  }

  /** Deletes the registry and its links (the linked source versions stay). Irreversible, as in W&B. */
  async remove(entity: string, name: string, actor: Actor = null): Promise<Registry> {
    const events: ServerEvent[] = [];
    const registry = await this.db.transaction(async (tx) => {
      const row = await this.requireRow(tx, entity, name, true);
      const before = toRegistry(row);
      await tx.query('DELETE FROM aliases WHERE collection_id IN (SELECT id FROM collections WHERE project_id = $1)', [row.project_id]);
      const gone = await tx.query<{ id: number }>(
        `UPDATE versions SET state = 'deleted', updated_at = now(), deleted_by = $2
          WHERE state = 'committed' AND collection_id IN (SELECT id FROM collections WHERE project_id = $1) RETURNING id`,
        [row.project_id, actor],
      );
      for (const g of gone) events.push({ type: 'version.deleted', version: await readVersion(tx, g.id) });
      await tx.query('DELETE FROM registries WHERE project_id = $1', [row.project_id]);
      await audit(tx, actor, 'registry.delete', entity, row.project, name, { links: gone.length });
      return before;
    });
    this.events.emit(events);
    return registry;
  }

  /**
   * Links a committed version into a registry collection: a version row of the collection with
   * its own vN and aliases, the source's files and digest, and `source_version_id` for lineage.
   * The built-in registries (model, dataset) come into being on their first link.
   */
  async link(entity: string, project: string, name: string, req: LinkRequest, actor: Actor = null): Promise<z.infer<typeof LinkVersionResponse>> {
    validateEntity(entity);
    validateProject(project);
    validateArtifactName(name);
    const aliases = normalizeAliases(req.aliases ?? []);
    const src = req.source;
    const events: ServerEvent[] = [];
    const result = await this.db.transaction(async (tx) => {
      const source = await selectVersion(tx, src.entity, src.project, src.name, src.version);
      if (!source) throw await explainMissing(tx, src.entity, src.project, src.name, src.version);
      // A link of a link points at the original: lineage always reaches the logged version.
      const sourceId = Number((await tx.query<{ id: number }>('SELECT COALESCE(source_version_id, id) AS id FROM versions WHERE id = $1', [Number(source.id)]))[0].id);
      const registry = await this.registryForLink(tx, entity, project);
      if (!registry.allow_all_types && !registry.artifact_types.includes(source.type)) {
        throw new AmphoraError(
          'type_mismatch',
          `Registry ${entity}/${project} accepts the artifact types ${registry.artifact_types.join(', ')}, not "${source.type}"; add the type to the registry (registry.artifact_types.append("${source.type}"); registry.save()) or link to another registry.`,
        );
      }
      const coll = await lockOrCreateCollection(tx, registry.project_id, name, source.type);
      const ctx: AliasCtx = { entity, project, name, collectionId: coll.id, actor };
      const existing = await tx.query<{ id: number }>(
        `SELECT id FROM versions WHERE collection_id = $1 AND source_version_id = $2 AND state = 'committed' ORDER BY idx DESC LIMIT 1`,
        [coll.id, sourceId],
      );
      let linkId: number;
      const created = existing.length === 0;
      if (!created) {
        linkId = existing[0].id;
      } else {
        const idx = coll.next_index;
        await tx.query('UPDATE collections SET next_index = next_index + 1, updated_at = now() WHERE id = $1', [coll.id]);
        const ins = await tx.query<{ id: number }>(
          `INSERT INTO versions (collection_id, idx, state, digest, size, file_count, manifest, description, metadata, committed_at, created_by, source_version_id, blobs_recorded)
           SELECT $1, $2, 'committed', digest, size, file_count, manifest, description, metadata, now(), $3, id, true FROM versions WHERE id = $4 RETURNING id`,
          [coll.id, idx, actor, sourceId],
        );
        linkId = ins[0].id;
        // Readers of the registry may download the linked files (team mode's blob read rights).
        const digests = await tx.query<{ digest: string }>(
          `SELECT DISTINCT e.value->>'digest' AS digest FROM versions v, jsonb_each(v.manifest::jsonb) AS e WHERE v.id = $1 AND (e.value->>'ref') IS NULL`,
          [linkId],
        );
        await recordProjectBlobs(tx, registry.project_id, digests.map((d) => d.digest));
        await audit(tx, actor, 'version.link', entity, project, `${name}:v${idx}`, { source: `${src.entity}/${src.project}/${src.name}:${source.version}` });
      }
      for (const a of ['latest', ...aliases]) await moveAlias(tx, ctx, a, linkId, events);
      const version = await readVersion(tx, linkId);
      events.unshift({ type: created ? 'version.created' : 'version.updated', version });
      return { version, created };
    });
    this.events.emit(events);
    return result;
  }

  private async registryForLink(tx: Queryable, entity: string, project: string): Promise<RegistryRow> {
    const name = project.startsWith(REGISTRY_PREFIX) ? project.slice(REGISTRY_PREFIX.length) : undefined;
    const found = name === undefined ? undefined : await this.findRow(tx, entity, name, true);
    if (found) return found;
    if (name !== undefined && (BUILT_IN_REGISTRIES as readonly string[]).includes(name)) {
      const projectId = await ensureProject(tx, entity, project);
      await refuseLoggedVersions(tx, projectId, entity, project);
      await tx.query(`INSERT INTO registries (project_id, visibility) VALUES ($1, 'organization') ON CONFLICT DO NOTHING`, [projectId]);
      return (await this.findRow(tx, entity, name, true))!;
    }
    throw new AmphoraError(
      'not_found',
      name === undefined
        ? `${entity}/${project} is not a registry: link into a registry collection such as ${REGISTRY_PREFIX}model/${'<collection>'} (registries are projects named ${REGISTRY_PREFIX}NAME).`
        : `There is no registry "${name}" in ${entity}; create it first (Api().create_registry("${name}", visibility="organization")) or link into ${REGISTRY_PREFIX}model or ${REGISTRY_PREFIX}dataset.`,
    );
  }

  private async read(q: Queryable, entity: string, name: string): Promise<Registry> {
    return toRegistry(await this.requireRow(q, entity, name, false));
  }

  private async findRow(q: Queryable, entity: string, name: string, lock: boolean): Promise<RegistryRow | undefined> {
    const projectId = await findProjectId(q, entity, registryProject(entity, name));
    if (projectId === undefined) return undefined;
    const rows = await q.query<RegistryRow>(`${REGISTRY_SELECT} WHERE r.project_id = $1${lock ? ' FOR UPDATE OF r' : ''}`, [projectId]);
    return rows[0];
  }

  private async requireRow(q: Queryable, entity: string, name: string, lock: boolean): Promise<RegistryRow> {
    const row = await this.findRow(q, entity, name, lock);
    if (!row) {
      const known = (await this.list([entity])).map((r) => r.name);
      throw new AmphoraError('not_found', `There is no registry "${name}" in ${entity}${known.length ? `; its registries are ${known.join(', ')}` : ' (it has none yet)'}. Create it with Api().create_registry("${name}", visibility="organization").`);
    }
    return row;
  }
}

/** The registry name of a registry project (`wandb-registry-model` → `model`). */
export function registryName(project: string): string {
  if (!project.startsWith(REGISTRY_PREFIX) || project.length === REGISTRY_PREFIX.length) {
    throw new AmphoraError('invalid_request', `Project "${project}" cannot be a registry: registries are projects named ${REGISTRY_PREFIX}NAME (Api().create_registry("NAME", ...) names it so).`);
  }
  return project.slice(REGISTRY_PREFIX.length);
}

export function registryProject(entity: string, name: string): string {
  validateEntity(entity);
  if (name.startsWith(REGISTRY_PREFIX)) {
    throw new AmphoraError('invalid_name', `Give the registry's name without the "${REGISTRY_PREFIX}" prefix ("${name.slice(REGISTRY_PREFIX.length)}"); its project is named with it.`);
  }
  return validateProject(REGISTRY_PREFIX + name);
}

/** A project that already holds logged versions cannot become a registry (links only). */
async function refuseLoggedVersions(tx: Queryable, projectId: number, entity: string, project: string): Promise<void> {
  const logged = await tx.query(
    `SELECT 1 FROM versions v JOIN collections c ON c.id = v.collection_id WHERE c.project_id = $1 AND v.source_version_id IS NULL AND v.state <> 'deleted' LIMIT 1`,
    [projectId],
  );
  if (logged.length) {
    throw new AmphoraError('conflict', `${entity}/${project} already holds logged artifacts, so it cannot become a registry; pick another registry name.`);
  }
}

function toRegistry(r: RegistryRow): Registry {
  return {
    entity: r.entity,
    name: r.project.slice(REGISTRY_PREFIX.length),
    project: r.project,
    visibility: r.visibility,
    description: r.description ?? null,
    allowAllArtifactTypes: r.allow_all_types,
    artifactTypes: r.artifact_types ?? [],
    tags: r.tags ?? [],
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}
