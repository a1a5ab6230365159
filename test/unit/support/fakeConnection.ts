/**
 * A fake connection for the editor's tree and lens logic in plain Node: an in-memory server that
 * answers the HTTP client's calls (projects, types, collections, versions with cursors, runs and
 * their inputs/outputs, manifests, resolve) from data a test builds, and counts the calls it got.
 * Paging follows the server: `limit` rows, then a `nextCursor` until the list ends.
 */
import type { ArtifactCollection, ArtifactVersion, Run } from '../../../src/core/api.js';
import { AmphoraError } from '../../../src/core/errors.js';
import { parseReference } from '../../../src/core/reference.js';
import type { TreeHttp } from '../../../src/extension/views/nodes.js';

const T = '2026-11-23T09:00:00.000Z';

export function fakeVersion(entity: string, project: string, name: string, type: string, index: number, over: Partial<ArtifactVersion> = {}): ArtifactVersion {
  return {
    id: `${project}-${name}-${index}`, entity, project, name, type, version: `v${index}`, index,
    digest: index.toString(16).padStart(64, '0'), size: 1000 * (index + 1), fileCount: 2, aliases: [], description: null, metadata: {},
    state: 'committed', createdAt: T, updatedAt: T, producerRun: null, ...over,
  };
}

export function fakeRun(entity: string, project: string, id: string, jobType: string | null, over: Partial<Run> = {}): Run {
  return { entity, project, id, name: `run-${id}`, jobType, group: null, state: 'finished', config: {}, summary: {}, createdAt: T, updatedAt: T, heartbeatAt: T, finishedAt: T, ...over };
}

function page<T>(all: readonly T[], q: { limit?: number; cursor?: string } = {}): { items: T[]; nextCursor: string | null } {
  const start = q.cursor ? Number(q.cursor) : 0;
  const limit = q.limit ?? 100;
  const items = all.slice(start, start + limit);
  return { items, nextCursor: start + limit < all.length ? String(start + limit) : null };
}

export class FakeConnection implements TreeHttp {
  readonly versionsByName = new Map<string, ArtifactVersion[]>();
  readonly runs: Run[] = [];
  readonly inputs = new Map<string, ArtifactVersion[]>();
  readonly calls: string[] = [];
  readonly entity = 'me';

  /** Adds versions v0…v(count-1) of an artifact (newest is `latest`). */
  addArtifact(project: string, name: string, type: string, count: number, over: (i: number) => Partial<ArtifactVersion> = () => ({})): ArtifactVersion[] {
    const list = Array.from({ length: count }, (_, i) => fakeVersion(this.entity, project, name, type, i, { aliases: i === count - 1 ? ['latest'] : [], ...over(i) }));
    this.versionsByName.set(`${project}/${name}`, list);
    return list;
  }

  addRun(project: string, id: string, jobType: string | null, io: { uses?: ArtifactVersion[] } = {}, over: Partial<Run> = {}): Run {
    const r = fakeRun(this.entity, project, id, jobType, over);
    this.runs.push(r);
    this.inputs.set(id, io.uses ?? []);
    return r;
  }

  private all(): ArtifactVersion[] {
    return [...this.versionsByName.values()].flat();
  }

  private collectionOf(list: ArtifactVersion[]): ArtifactCollection {
    const latest = list.at(-1)!;
    return {
      entity: latest.entity, project: latest.project, name: latest.name, type: latest.type, description: null, versionCount: list.length, latest,
      aliases: list.flatMap((v) => v.aliases.map((alias) => ({ alias, version: v.version }))), createdAt: T, updatedAt: T,
    };
  }

  async projects() {
    this.calls.push('projects');
    const names = new Set([...this.all().map((v) => v.project), ...this.runs.map((r) => r.project)]);
    return {
      items: [...names].map((name) => ({
        entity: this.entity, name, updatedAt: T,
        artifactCount: new Set(this.all().filter((v) => v.project === name).map((v) => v.name)).size,
        runCount: this.runs.filter((r) => r.project === name).length,
      })),
    };
  }

  async artifactTypes(_e: string, p: string) {
    this.calls.push(`types ${p}`);
    const cols = [...this.versionsByName.values()].filter((l) => l[0].project === p);
    const types = [...new Set(cols.map((l) => l[0].type))];
    return { items: types.map((type) => ({ type, collectionCount: cols.filter((l) => l[0].type === type).length })) };
  }

  async collections(_e: string, p: string, q: { limit?: number; cursor?: string; type?: string } = {}) {
    this.calls.push(`collections ${p} ${q.type ?? '*'} ${q.cursor ?? ''}`.trim());
    const cols = [...this.versionsByName.values()].filter((l) => l[0].project === p && (!q.type || l[0].type === q.type)).map((l) => this.collectionOf(l));
    return page(cols.sort((a, b) => a.name.localeCompare(b.name)), q);
  }

  async versions(_e: string, p: string, n: string, q: { limit?: number; cursor?: string } = {}) {
    this.calls.push(`versions ${p}/${n} ${q.cursor ?? ''}`.trim());
    // Newest first, as the server lists them.
    return page([...(this.versionsByName.get(`${p}/${n}`) ?? [])].reverse(), q);
  }

  async version(_e: string, p: string, n: string, sel: string) {
    this.calls.push(`version ${p}/${n}:${sel}`);
    const list = this.versionsByName.get(`${p}/${n}`) ?? [];
    const v = list.find((x) => x.version === sel || x.aliases.includes(sel));
    if (!v) throw new AmphoraError('not_found', `${p}/${n}:${sel} not found`);
    return v;
  }

  async resolve(ref: string) {
    const r = parseReference(ref);
    return this.version(r.entity ?? this.entity, r.project!, r.name, r.selector);
  }

  async manifest(_e: string, p: string, n: string, sel: string) {
    const v = await this.version(_e, p, n, sel);
    const d = 'a'.repeat(64);
    return { version: v.version, digest: v.digest, entries: { 'train.csv': { digest: d, size: 10 }, 'labels/classes.txt': { digest: d, size: 5 } } };
  }

  async listRuns(_e: string, p: string, q: { limit?: number; cursor?: string } = {}) {
    this.calls.push(`runs ${p} ${q.cursor ?? ''}`.trim());
    return page(this.runs.filter((r) => r.project === p), q);
  }

  async runInputs(_e: string, _p: string, id: string) {
    return { items: this.inputs.get(id) ?? [] };
  }

  async runOutputs(_e: string, _p: string, id: string) {
    return { items: this.all().filter((v) => v.producerRun?.id === id) };
  }
}
