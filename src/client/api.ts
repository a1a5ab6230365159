/** Api: read access to artifacts, runs, projects and lineage (the public query surface). */
import type { ArtifactCollection, LineageGraph, Project, Run as RunInfo } from '../core/api.js';
import { validateArtifactType } from '../core/names.js';
import { runMatches, type Filters } from '../core/runFilters.js';
import { AmphoraError } from '../core/errors.js';
import { formatReference, parseReference } from '../core/reference.js';
import { Artifact } from './artifact.js';
import { Client, defaultClient, type ClientOptions } from './client.js';
import { Registry, type RegistryVisibility } from './registry.js';
import { lastInit } from './sessionDefaults.js';
import { MAX_PAGE_SIZE, paginate } from '../core/paginate.js';

export interface ApiOptions {
  client?: Client;
  connection?: ClientOptions;
  /** Default project for unqualified names (W&B's `overrides.project`). */
  project?: string;
  entity?: string;
}

export class Api {
  private clientPromise?: Promise<Client>;

  constructor(private readonly opts: ApiOptions = {}) {}

  async client(): Promise<Client> {
    this.clientPromise ??= this.opts.client ? Promise.resolve(this.opts.client) : this.opts.connection ? Client.connect(this.opts.connection) : defaultClient();
    return this.clientPromise;
  }

  /** The project unqualified names resolve in: the option, else the last `init` of this process, else AMPHORA_PROJECT / the server's default. */
  async defaultProject(): Promise<string> {
    return this.opts.project ?? lastInit()?.project ?? (await this.client()).defaultProject;
  }

  async defaultEntity(): Promise<string> {
    return this.opts.entity ?? lastInit()?.entity ?? (await this.client()).entity;
  }

  /** `[entity/][project/]name[:alias|:vN]` → that version. */
  async artifact(ref: string, opts: { type?: string } = {}): Promise<Artifact> {
    const c = await this.client();
    const r = parseReference(ref);
    const full = formatReference({ entity: r.entity ?? (await this.defaultEntity()), project: r.project ?? (await this.defaultProject()), name: r.name, selector: r.selector });
    const v = await c.http.resolve(full);
    if (opts.type && v.type !== opts.type) {
      throw new AmphoraError('type_mismatch', `${full} has type "${v.type}", not "${opts.type}"; check the name or the expected type.`);
    }
    return Artifact.fromVersion(c, v);
  }

  /** Every committed version of `[project/]name`, newest first as the server lists them. */
  async artifactVersions(type: string, name: string, opts: { perPage?: number } = {}): Promise<Artifact[]> {
    const { perPage } = opts;
    if (perPage !== undefined && !(Number.isSafeInteger(perPage) && perPage >= 1 && perPage <= MAX_PAGE_SIZE)) {
      throw new AmphoraError('invalid_request', `perPage must be a whole number from 1 to ${MAX_PAGE_SIZE}, not ${perPage}.`);
    }
    const c = await this.client();
    const r = parseReference(name);
    const e = r.entity ?? (await this.defaultEntity());
    const p = r.project ?? (await this.defaultProject());
    const versions = await paginate((q) => c.http.versions(e, p, r.name, q), { pageSize: perPage });
    const wrong = versions.find((v) => v.type !== type);
    if (wrong) throw new AmphoraError('type_mismatch', `${p}/${r.name} has type "${wrong.type}", not "${type}".`);
    return versions.map((v) => Artifact.fromVersion(c, v));
  }

  // ------------------------------------------------------------------ registries
  /** A new registry (the project `wandb-registry-NAME`); without `artifactTypes` every type may be linked. */
  async createRegistry(
    name: string,
    opts: { visibility: RegistryVisibility; organization?: string; description?: string; artifactTypes?: string[]; tags?: string[] },
  ): Promise<Registry> {
    const c = await this.client();
    const info = await c.http.createRegistry(opts.organization ?? (await this.defaultEntity()), name, {
      visibility: opts.visibility,
      description: opts.description ?? null,
      artifactTypes: opts.artifactTypes ?? null,
      tags: opts.tags,
    });
    return new Registry(c, info);
  }

  /** The registry `name` (without the `wandb-registry-` prefix). */
  async registry(name: string, opts: { organization?: string } = {}): Promise<Registry> {
    const c = await this.client();
    return new Registry(c, await c.http.registry(opts.organization ?? (await this.defaultEntity()), name));
  }

  /** The registries the key may read (of `organization` when given). */
  async registries(opts: { organization?: string } = {}): Promise<Registry[]> {
    const c = await this.client();
    return (await c.http.registries(opts.organization)).items.map((r) => new Registry(c, r));
  }

  async projects(): Promise<Project[]> {
    return (await (await this.client()).http.projects()).items;
  }

  /**
   * The runs of `[entity/]project`, newest first, keeping those that match W&B's MongoDB-style
   * `filters` on config, summary_metrics, state, tags, … (core/runFilters.ts, the Python client's rules).
   */
  async runs(path?: string, opts: { entity?: string; filters?: Filters } = {}): Promise<RunInfo[]> {
    const c = await this.client();
    const parts = (path ?? (await this.defaultProject())).split('/');
    const entity = parts.length === 2 ? parts[0] : (opts.entity ?? (await this.defaultEntity()));
    const runs = await paginate((q) => c.http.listRuns(entity, parts[parts.length - 1], q));
    return runs.filter((r) => runMatches(r, opts.filters));
  }

  /** True when the reference resolves to a committed version; false when it does not exist. */
  async artifactExists(ref: string, opts: { type?: string } = {}): Promise<boolean> {
    try {
      await this.artifact(ref, opts);
      return true;
    } catch (e) {
      if (e instanceof AmphoraError && e.code === 'not_found') return false;
      throw e;
    }
  }

  /** The collections of one type (every type without it) in `[entity/]project`, by name. */
  async artifactCollections(project?: string, type?: string): Promise<ArtifactCollection[]> {
    const c = await this.client();
    const { entity, name } = await this.projectParts(project);
    if (type !== undefined) validateArtifactType(type);
    return paginate((q) => c.http.collections(entity, name, { ...q, type }));
  }

  /** One collection, `[entity/][project/]name`; a type_mismatch error when it has another type. */
  async artifactCollection(type: string, name: string): Promise<ArtifactCollection> {
    const c = await this.client();
    const r = parseReference(name);
    const coll = await c.http.collection(r.entity ?? (await this.defaultEntity()), r.project ?? (await this.defaultProject()), r.name);
    if (coll.type !== validateArtifactType(type)) throw new AmphoraError('type_mismatch', `Artifact "${name}" has type "${coll.type}", not "${type}".`);
    return coll;
  }

  /** W&B's `artifacts(type_name, name, per_page, tags)`: the collection's versions, newest first, read `perPage` per request; `tags` keeps versions holding all of them. */
  async artifacts(type: string, name: string, opts: { perPage?: number; tags?: string | string[] } = {}): Promise<Artifact[]> {
    const wanted = typeof opts.tags === 'string' ? [opts.tags] : (opts.tags ?? []);
    return (await this.artifactVersions(type, name, { perPage: opts.perPage })).filter((a) => wanted.every((t) => a.tags.includes(t)));
  }

  /** W&B's `artifact_type(type_name, project)`: one type of `[entity/]project`, with its collection count. */
  async artifactType(type: string, project?: string): Promise<{ type: string; collectionCount: number }> {
    const found = (await this.artifactTypes(project)).find((t) => t.type === validateArtifactType(type));
    if (!found) throw new AmphoraError('not_found', `Project "${project ?? (await this.defaultProject())}" has no artifacts of type "${type}".`);
    return found;
  }

  /** The artifact types used in `[entity/]project`, with how many collections each has. */
  async artifactTypes(project?: string): Promise<{ type: string; collectionCount: number }[]> {
    const c = await this.client();
    const { entity, name } = await this.projectParts(project);
    return (await c.http.artifactTypes(entity, name)).items;
  }

  private async projectParts(project?: string): Promise<{ entity: string; name: string }> {
    const parts = (project ?? (await this.defaultProject())).split('/');
    if (parts.length > 2 || parts.some((p) => !p)) throw new AmphoraError('invalid_request', `Invalid project "${project}": write it as [entity/]project.`);
    return { entity: parts.length === 2 ? parts[0] : await this.defaultEntity(), name: parts[parts.length - 1] };
  }

  /** `entity/project/runId`, `project/runId` or `runId`. */
  async run(path: string): Promise<RunInfo> {
    const c = await this.client();
    const parts = path.split('/');
    if (parts.length > 3 || parts.some((x) => !x)) throw new AmphoraError('invalid_request', `Invalid run path "${path}": write entity/project/runId.`);
    const id = parts[parts.length - 1];
    const project = parts.length >= 2 ? parts[parts.length - 2] : await this.defaultProject();
    const entity = parts.length === 3 ? parts[0] : await this.defaultEntity();
    return c.http.getRun(entity, project, id);
  }

  /**
   * The lineage graph around a node: an Artifact, an artifact reference string, a run
   * (`{project, id}`), or a raw node id (`artifact:<id>`, `run:<id>`) with `project`.
   */
  async lineage(
    node: Artifact | string | { project: string; entity?: string; id: string },
    opts: { depth?: number; level?: 'instance' | 'type'; direction?: 'both' | 'upstream' | 'downstream'; project?: string } = {},
  ): Promise<LineageGraph> {
    const c = await this.client();
    let entity = await this.defaultEntity();
    let project = opts.project ?? (await this.defaultProject());
    let id: string;
    if (node instanceof Artifact) {
      if (!node.id) throw new AmphoraError('invalid_request', 'lineage: the artifact is not logged yet.');
      id = `artifact:${node.id}`;
      entity = node.entity!;
      project = node.project!;
    } else if (typeof node === 'string' && /^(artifact|run):/.test(node)) {
      id = node;
    } else if (typeof node === 'string') {
      const a = await this.artifact(node);
      id = `artifact:${a.id}`;
      entity = a.entity!;
      project = a.project!;
    } else {
      id = `run:${node.id}`;
      project = node.project;
      entity = node.entity ?? entity;
    }
    return c.http.lineage(entity, project, { node: id, depth: opts.depth, level: opts.level, direction: opts.direction });
  }
}
