/**
 * Artifact: build a version locally (files, folders, new files, references), log it (hash with
 * the stat cache → manifest + digest → upload only missing blobs → commit), and use a logged
 * version (download through the verified cache, update, delete, lineage).
 */
import type { Stats } from 'node:fs';
import { lstat, mkdtemp, mkdir, open, readdir, realpath, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ArtifactVersion, CallSite, ManifestResponse, Run as RunInfo } from '../core/api.js';
import { AmphoraError } from '../core/errors.js';
import { artifactDigest, validateManifest, type Manifest, type ManifestEntry } from '../core/node/manifest.js';
import { validateAlias, validateArtifactName, validateArtifactType } from '../core/names.js';
import { joinInside, validateManifestPath } from '../core/paths.js';
import { checkReceivedManifest } from '../core/node/received.js';
import { formatReference } from '../core/reference.js';
import { defaultClient, type Client } from './client.js';
import { LOCAL_CONCURRENCY, mapPool, TRANSFER_CONCURRENCY } from './pool.js';
import { downloadReference, resolveReference, type ReferenceOptions } from './references.js';
import { maxObjectsOf, tooManyObjects } from './references/cloud.js';
import { streamVerified } from './cache.js';
import { BATCH_BLOB_MAX, fetchManyToCache, fetchToCache, StreamingUploader, type LocalBlob, type ProgressFn } from './transfer.js';
import { Limiter } from '../core/limiter.js';

/** Files above this are hashed a few at a time (see buildManifest). */
const LARGE_FILE = 8 * 1024 * 1024;

/** A file staged for logging: a local path (hashed at log time) or a finished manifest entry. */
interface Staged {
  localPath?: string;
  entry?: ManifestEntry;
}

export interface ArtifactOptions {
  description?: string;
  metadata?: Record<string, unknown>;
  /** Version tags (W&B's `tags`). */
  tags?: string[];
  /** Seconds from creation until `amphora gc` deletes the version (W&B's `ttl`); null keeps it. */
  ttlSeconds?: number | null;
}

export interface LogOptions {
  project?: string;
  entity?: string;
  runId?: string;
  aliases?: string[];
  /** Added to the artifact's own tags. */
  tags?: string[];
  onProgress?: ProgressFn;
  /** The producing run's line that logged this artifact (code provenance). */
  callSite?: CallSite;
}

export interface DownloadOptions {
  root?: string;
  onProgress?: ProgressFn;
}

export interface DownloadStats {
  root: string;
  /** Files fetched from the server or a reference URI. */
  fetched: number;
  /** Files copied from the local cache. */
  fromCache: number;
  /** Files already present in root with the right content. */
  unchanged: number;
}

export class NewFile {
  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}
  async write(data: string | Uint8Array): Promise<void> {
    await this.fh.write(typeof data === 'string' ? Buffer.from(data) : data);
  }
  async close(): Promise<void> {
    await this.fh.close();
  }
}

export class ArtifactEntry {
  constructor(
    private readonly artifact: Artifact,
    readonly path: string,
    readonly digest: string,
    readonly size: number,
    readonly refUri?: string,
    readonly extra?: Record<string, unknown>,
  ) {}
  /** Downloads this one file; returns its local path. */
  async download(root?: string): Promise<string> {
    const r = await this.artifact.download({ root, only: [this.path] });
    return path.join(r.root, ...this.path.split('/'));
  }
  /** The external URI for a reference entry, else `entity/project/name:vN/path`. */
  ref(): string {
    return this.refUri ?? `${this.artifact.qualifiedName()}/${this.path}`;
  }
}

export class Artifact {
  name: string;
  type: string;
  description: string | null;
  metadata: Record<string, unknown>;
  aliases: string[] = [];
  tags: string[] = [];
  ttlSeconds: number | null = null;
  /** What the server last reported, so save() sends only changes. */
  private saved?: { aliases: string[]; tags: string[]; ttlSeconds: number | null };
  /** Set once logged or fetched. */
  version?: string;
  digest?: string;
  size?: number;
  id?: string;
  entity?: string;
  project?: string;
  state?: ArtifactVersion['state'];
  fileCount?: number;
  producerRun?: ArtifactVersion['producerRun'];
  createdAt?: string;
  /** After logging: false when the content equalled an existing version (no new version was made). */
  created?: boolean;

  private readonly staged = new Map<string, Staged>();
  private stagingDir?: string;
  private manifestCache?: ManifestResponse;
  /** @internal */
  client?: Client;

  constructor(name: string, type: string, opts: ArtifactOptions = {}) {
    this.name = validateArtifactName(name);
    this.type = validateArtifactType(type);
    this.description = opts.description ?? null;
    this.metadata = { ...(opts.metadata ?? {}) };
    this.tags = [...(opts.tags ?? [])];
    this.ttlSeconds = opts.ttlSeconds ?? null;
  }

  /** Wraps a version the server returned. */
  static fromVersion(client: Client, v: ArtifactVersion): Artifact {
    const a = new Artifact(v.name, v.type);
    a.client = client;
    a.apply(v);
    return a;
  }

  /** @internal */
  apply(v: ArtifactVersion): void {
    this.name = v.name;
    this.type = v.type;
    this.version = v.version;
    this.digest = v.digest;
    this.size = v.size;
    this.id = v.id;
    this.entity = v.entity;
    this.project = v.project;
    this.aliases = [...v.aliases];
    this.tags = [...(v.tags ?? [])];
    this.ttlSeconds = v.ttlSeconds ?? null;
    this.saved = { aliases: [...this.aliases], tags: [...this.tags], ttlSeconds: this.ttlSeconds };
    this.description = v.description;
    this.metadata = { ...v.metadata };
    this.state = v.state;
    this.fileCount = v.fileCount;
    this.producerRun = v.producerRun;
    this.createdAt = v.createdAt;
  }

  get logged(): boolean {
    return this.version !== undefined;
  }

  /** `entity/project/name:vN` */
  qualifiedName(): string {
    this.requireLogged('qualifiedName');
    return formatReference({ entity: this.entity, project: this.project, name: this.name, selector: this.version! });
  }

  // ------------------------------------------------------------------ building

  private requireDraft(what: string) {
    if (this.logged) {
      throw new AmphoraError('invalid_request', `${what}: ${this.name}:${this.version} is already logged and its files never change; create a new Artifact("${this.name}", "${this.type}") for a new version.`);
    }
  }

  private stage(logical: string, s: Staged) {
    validateManifestPath(logical);
    this.staged.set(logical, s);
  }

  /** Adds one file under `name` (default: its base name). */
  async addFile(localPath: string, opts: { name?: string } = {}): Promise<ArtifactEntry> {
    this.requireDraft('addFile');
    const abs = path.resolve(localPath);
    let st;
    try {
      st = await stat(abs);
    } catch {
      throw new AmphoraError('invalid_path', `Cannot add file ${abs}: it does not exist. Check the path.`);
    }
    if (!st.isFile()) throw new AmphoraError('invalid_path', `Cannot add ${abs} as a file: it is a ${st.isDirectory() ? 'folder (use addDir)' : 'special file'}.`);
    const logical = opts.name ?? path.basename(abs);
    this.stage(logical, { localPath: abs });
    return new ArtifactEntry(this, logical, '', st.size);
  }

  /**
   * Adds every file under a folder (under `name/` when given). Symlinks are followed only when
   * they stay inside the folder; one pointing outside is an error, so an artifact never captures
   * files the folder does not own.
   */
  async addDir(localPath: string, opts: { name?: string } = {}): Promise<number> {
    this.requireDraft('addDir');
    const abs = path.resolve(localPath);
    let rootReal: string;
    try {
      rootReal = await realpath(abs);
      if (!(await stat(rootReal)).isDirectory()) throw new Error('not a folder');
    } catch {
      throw new AmphoraError('invalid_path', `Cannot add folder ${abs}: it does not exist or is not a folder. Check the path (use addFile for a single file).`);
    }
    const prefix = opts.name ? validateManifestPath(opts.name.replace(/\/+$/, '')) + '/' : '';
    const found: [string, string][] = [];
    const visited = new Set<string>([rootReal]);
    const inside = (real: string) => real === rootReal || real.startsWith(rootReal + path.sep);
    const walk = async (dir: string, rel: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        const logical = rel ? `${rel}/${e.name}` : e.name;
        if (e.isSymbolicLink()) {
          let real: string;
          try {
            real = await realpath(full);
          } catch {
            throw new AmphoraError('invalid_path', `Cannot add folder ${abs}: symlink ${full} is broken. Remove it or point it at a file inside the folder.`);
          }
          if (!inside(real)) {
            throw new AmphoraError(
              'invalid_path',
              `Cannot add folder ${abs}: symlink ${full} points outside it (to ${real}). Copy that file into the folder, or add it separately with addFile.`,
            );
          }
          const st = await stat(real);
          if (st.isDirectory()) {
            if (visited.has(real)) continue;
            visited.add(real);
            await walk(real, logical);
          } else if (st.isFile()) found.push([logical, full]);
        } else if (e.isDirectory()) {
          await walk(full, logical);
        } else if (e.isFile()) {
          found.push([logical, full]);
        }
      }
    };
    await walk(abs, '');
    for (const [logical, full] of found) this.stage(prefix + logical, { localPath: full });
    return found.length;
  }

  /** A new file written into a private staging folder and added under `name`. */
  async newFile(name: string): Promise<NewFile> {
    this.requireDraft('newFile');
    validateManifestPath(name);
    this.stagingDir ??= await mkdtemp(path.join(tmpdir(), 'amphora-staging-'));
    const full = joinInside(this.stagingDir, name, path);
    await mkdir(path.dirname(full), { recursive: true });
    const fh = await open(full, 'w');
    this.stage(name, { localPath: full });
    return new NewFile(full, fh);
  }

  /**
   * Tracks external objects without copying them: http(s)://, file:// (a folder: its files),
   * s3:// and gs:// (a key, or a prefix ending in `/`: its objects, at most `maxObjects`, default
   * 10,000). Cloud objects are read with the caller's own AWS / Google credentials.
   */
  async addReference(uri: string, opts: ReferenceOptions = {}): Promise<ArtifactEntry[]> {
    this.requireDraft('addReference');
    const entries = await resolveReference(uri, opts);
    // s3:// and gs:// stop listing at the cap; a file:// folder is counted once walked.
    if (opts.maxObjects !== undefined && entries.length > maxObjectsOf(opts)) throw tooManyObjects(uri, maxObjectsOf(opts));
    return entries.map(({ path: p, ...entry }) => {
      this.stage(p, { entry });
      return new ArtifactEntry(this, p, entry.digest, entry.size, entry.ref, entry.extra);
    });
  }

  /** Removes a staged path before logging. */
  remove(name: string): boolean {
    this.requireDraft('remove');
    return this.staged.delete(name);
  }

  // ------------------------------------------------------------------ logging

  /** Hashes staged files (stat cache) and returns the manifest plus the local path of each blob. */
  async buildManifest(
    client: Client,
    onProgress?: ProgressFn,
    onHashed?: (blob: LocalBlob, fromStatCache: boolean) => void,
  ): Promise<{ manifest: Manifest; local: Map<string, string>; fresh: Set<string> }> {
    const items = [...this.staged];
    const manifest: Manifest = {};
    const local = new Map<string, string>();
    /** Digests hashed this time (not answered by the stat cache). */
    const fresh = new Set<string>();
    // Large files are hashed two at a time so their uploads start while the rest is hashed.
    const large = new Limiter(2);
    let done = 0;
    await mapPool(items, LOCAL_CONCURRENCY, async ([logical, s]) => {
      if (s.entry) {
        manifest[logical] = s.entry;
      } else {
        let h;
        try {
          const st = await stat(s.localPath!);
          h = st.size > LARGE_FILE ? await large.run(() => client.statCache.digest(s.localPath!, st)) : await client.statCache.digest(s.localPath!, st);
        } catch (e) {
          throw new AmphoraError('invalid_path', `Cannot read ${s.localPath} for "${logical}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); it was moved or deleted after being added.`);
        }
        manifest[logical] = { digest: h.digest, size: h.size };
        local.set(h.digest, s.localPath!);
        if (!h.cached) fresh.add(h.digest);
        onHashed?.({ digest: h.digest, size: h.size, path: s.localPath!, bytes: h.bytes }, !!h.cached);
      }
      done++;
      if (onProgress && (done % 500 === 0 || done === items.length)) onProgress({ phase: 'hash', done, total: items.length });
    });
    await client.statCache.flush();
    validateManifest(manifest);
    return { manifest, local, fresh };
  }

  /**
   * Hashes staged files and uploads the ones the server lacks while hashing goes on. With
   * `optimistic`, files the stat cache already knew are not negotiated when nothing else changed:
   * the commit itself answers `missing_blobs` if the server lacks any (then `retry` uploads them).
   */
  private async stageOnServer(
    client: Client,
    onProgress?: ProgressFn,
    optimistic = false,
  ): Promise<{ manifest: Manifest; local: Map<string, string>; fresh: Set<string>; negotiated: boolean; retry: () => Promise<void> }> {
    const uploader = new StreamingUploader(client, onProgress);
    const known: LocalBlob[] = [];
    let built;
    try {
      built = await this.buildManifest(client, onProgress, (b, fromStatCache) => (optimistic && fromStatCache ? known.push(b) : uploader.add(b)));
    } catch (e) {
      await uploader.abort(e);
      throw e;
    }
    const negotiated = !optimistic || built.fresh.size > 0;
    if (negotiated) for (const b of known) uploader.add(b);
    await uploader.finish();
    const retry = async () => {
      const again = new StreamingUploader(client, onProgress);
      for (const b of known) again.add(b);
      await again.finish();
    };
    return { ...built, negotiated, retry };
  }

  /** Copies newly hashed files into the local cache (hard link when possible) so a later download is free. */
  private async adoptIntoCache(client: Client, local: Map<string, string>, only: Set<string>) {
    const todo = [...local].filter(([digest]) => only.has(digest));
    await mapPool(todo, LOCAL_CONCURRENCY, ([digest, file]) => client.blobCache.adopt(file, digest).catch(() => {}));
    await client.statCache.refreshLinked(todo.map(([, file]) => path.resolve(file)));
    await client.statCache.flush();
  }

  /** @internal Logs this artifact as a new version (or the existing one with the same digest). */
  async commit(client: Client, opts: LogOptions = {}): Promise<this> {
    this.requireDraft('logArtifact');
    const aliases = (opts.aliases ?? []).filter((a) => a !== 'latest').map(validateAlias);
    const project = opts.project ?? client.defaultProject;
    const entity = opts.entity ?? client.entity;
    const staged = await this.stageOnServer(client, opts.onProgress, true);
    // The cache is content-addressed and verified on every read, so it can take the new files
    // while the server commits: the links then cost no wall time (10,000 files: ~0.3 s of syscalls).
    const adopting = this.adoptIntoCache(client, staged.local, staged.fresh);
    const request = {
      type: this.type,
      manifest: staged.manifest,
      description: this.description ?? undefined,
      metadata: this.metadata,
      aliases,
      runId: opts.runId,
      callSite: opts.runId ? opts.callSite : undefined,
      ...this.tagsAndTtl(opts.tags),
    };
    let res;
    try {
      res = await client.http.commitVersion(entity, project, this.name, request);
    } catch (e) {
      if (staged.negotiated || !(e instanceof AmphoraError && e.code === 'missing_blobs')) throw e;
      // The stat cache knew every file but this server lacks some blobs: upload them, commit again.
      await staged.retry();
      res = await client.http.commitVersion(entity, project, this.name, request);
    } finally {
      await adopting;
    }
    const digest = artifactDigest(staged.manifest);
    if (res.version.digest !== digest) {
      throw new AmphoraError('internal', `The server answered the commit of ${this.name} with a version of digest ${res.version.digest}, but the files sent hash to ${digest}; the server is broken or not trustworthy. Check ${this.name}:${res.version.version} before using it.`);
    }
    this.client = client;
    this.created = res.created;
    this.apply(res.version);
    this.manifestCache = { version: res.version.version, digest: res.version.digest, entries: staged.manifest };
    return this;
  }

  /** Logs without a run (CLI `artifact put`). */
  async log(opts: LogOptions & { client?: Client } = {}): Promise<this> {
    return this.commit(opts.client ?? (await defaultClient()), opts);
  }

  /** @internal Adds this artifact's files to a distributed pending version. */
  async upsertPending(client: Client, distributedId: string, opts: LogOptions = {}): Promise<void> {
    this.requireDraft('upsertArtifact');
    const { manifest, local, fresh } = await this.stageOnServer(client, opts.onProgress);
    await client.http.upsertPending(opts.entity ?? client.entity, opts.project ?? client.defaultProject, this.name, distributedId, {
      type: this.type,
      manifest,
      runId: opts.runId,
      callSite: opts.runId ? opts.callSite : undefined,
      description: this.description ?? undefined,
      metadata: this.metadata,
    });
    this.client = client;
    await this.adoptIntoCache(client, local, fresh);
  }

  /** @internal Commits a distributed pending version. */
  async finishPending(client: Client, distributedId: string, opts: LogOptions = {}): Promise<this> {
    const res = await client.http.finishPending(opts.entity ?? client.entity, opts.project ?? client.defaultProject, this.name, distributedId, {
      runId: opts.runId,
      aliases: (opts.aliases ?? []).filter((a) => a !== 'latest').map(validateAlias),
      description: this.description ?? undefined,
      metadata: this.metadata,
    });
    this.client = client;
    this.apply(res.version);
    return this;
  }

  /** The manifest digest the staged content will have (without logging). */
  async computeDigest(client?: Client): Promise<string> {
    const { manifest } = await this.buildManifest(client ?? (await defaultClient()));
    return artifactDigest(manifest);
  }

  // ------------------------------------------------------------------ using a logged version

  private requireLogged(what: string): Client {
    if (!this.logged || !this.client) {
      throw new AmphoraError('invalid_request', `${what}: artifact "${this.name}" is not logged yet; log it with run.logArtifact(artifact) or fetch one with new Api().artifact("${this.name}:latest").`);
    }
    return this.client;
  }

  private sel(): [string, string, string, string] {
    return [this.entity!, this.project!, this.name, this.version!];
  }

  async manifest(): Promise<Manifest> {
    const client = this.requireLogged('manifest');
    if (!this.manifestCache) {
      const m = await client.http.manifest(...this.sel());
      // The manifest must be the one this version's digest, file count and size describe.
      checkReceivedManifest(m.entries, { what: this.qualifiedName(), digest: this.digest, fileCount: this.fileCount, size: this.size });
      this.manifestCache = m;
    }
    return this.manifestCache.entries;
  }

  /** One entry of a logged version (or a staged one of a draft). */
  async getPath(name: string): Promise<ArtifactEntry> {
    if (!this.logged) {
      const s = this.staged.get(name);
      if (!s) throw new AmphoraError('not_found', `Artifact "${this.name}" has no path "${name}"; staged paths: ${[...this.staged.keys()].slice(0, 10).join(', ') || 'none'}.`);
      return new ArtifactEntry(this, name, s.entry?.digest ?? '', s.entry?.size ?? 0, s.entry?.ref, s.entry?.extra);
    }
    const m = await this.manifest();
    const e = m[name];
    if (!e) {
      const some = Object.keys(m).slice(0, 10).join(', ');
      throw new AmphoraError('not_found', `${this.qualifiedName()} has no file "${name}"${some ? `; it has ${some}${Object.keys(m).length > 10 ? ', …' : ''}` : ''}.`);
    }
    return new ArtifactEntry(this, name, e.digest, e.size, e.ref, e.extra);
  }

  /** Default download root: ./artifacts/<name>:<version> (`-` on Windows, where `:` is not allowed). */
  defaultRoot(): string {
    return path.resolve('artifacts', `${this.name}${process.platform === 'win32' ? '-' : ':'}${this.version}`);
  }

  /**
   * Materializes the version under `root`, fetching only what the cache lacks, verifying every
   * hash, writing via temp files + rename and never outside `root`.
   */
  async download(opts: DownloadOptions & { only?: string[] } = {}): Promise<DownloadStats> {
    const client = this.requireLogged('download');
    const manifest = await this.manifest();
    const root = path.resolve(opts.root ?? this.defaultRoot());
    return materialize(client, manifest, root, { only: opts.only, onProgress: opts.onProgress, what: this.qualifiedName() });
  }

  /** Saves description, metadata, aliases (`latest` too, as in W&B), tags and ttl changed on this object. */
  async save(): Promise<this> {
    const client = this.requireLogged('save');
    const saved = this.saved ?? { aliases: [], tags: [], ttlSeconds: null };
    const aliases = this.aliases.map(validateAlias);
    const tags = [...new Set(this.tags)];
    const v = await client.http.updateVersion(...this.sel(), {
      description: this.description,
      metadata: this.metadata,
      aliases: { add: aliases.filter((a) => !saved.aliases.includes(a)), remove: saved.aliases.filter((a) => !aliases.includes(a)) },
      ...(tags.join('\n') !== saved.tags.join('\n') ? { tags } : {}),
      ...(this.ttlSeconds !== saved.ttlSeconds ? { ttlSeconds: this.ttlSeconds } : {}),
    });
    this.apply(v);
    return this;
  }

  private tagsAndTtl(extra: string[] = []): { tags?: string[]; ttlSeconds?: number | null } {
    const tags = [...new Set([...this.tags, ...extra])];
    return { ...(tags.length ? { tags } : {}), ...(this.ttlSeconds !== null ? { ttlSeconds: this.ttlSeconds } : {}) };
  }

  /** Soft-deletes the version; refused while it has aliases unless deleteAliases is true. */
  async delete(opts: { deleteAliases?: boolean } = {}): Promise<void> {
    const client = this.requireLogged('delete');
    const res = await client.http.deleteVersion(...this.sel(), opts.deleteAliases ?? false);
    this.apply(res.version);
  }

  /** The run that logged this version (null when logged without a run). */
  async loggedBy(): Promise<RunInfo | null> {
    const client = this.requireLogged('loggedBy');
    if (!this.producerRun) return null;
    return client.http.getRun(this.entity!, this.project!, this.producerRun.id);
  }

  /** Runs that used this version. */
  async usedBy(): Promise<RunInfo[]> {
    const client = this.requireLogged('usedBy');
    return (await client.http.consumers(...this.sel())).items;
  }

  /** The staged paths of a draft (for tools that show what will be logged). */
  stagedPaths(): string[] {
    return [...this.staged.keys()];
  }
}

/**
 * Writes `manifest` under `root`. Each file: skip when already present with the same content
 * (stat cache), else copy from the verified cache, else fetch into the cache first. References
 * are fetched from their URI and checked against the recorded checksum.
 */
export async function materialize(
  client: Client,
  manifest: Manifest,
  rootIn: string,
  opts: { only?: string[]; onProgress?: ProgressFn; what?: string } = {},
): Promise<DownloadStats> {
  const root = path.resolve(rootIn);
  const paths = opts.only ?? Object.keys(manifest);
  // Validate every path before writing anything: a hostile manifest writes nothing at all.
  const targets = paths.map((p) => {
    const entry = manifest[p];
    if (!entry) throw new AmphoraError('not_found', `${opts.what ?? 'The artifact'} has no file "${p}".`);
    return { p, entry, dest: joinInside(root, p, path) };
  });
  if (!(await exists(root))) {
    const done = await materializeFresh(client, targets, root, opts);
    if (done) return done;
  }
  await mkdir(root, { recursive: true });
  const rootReal = await realpath(root);
  const checkedDirs = new Map<string, Promise<void>>();
  const ensureParent = (dir: string) => {
    let pr = checkedDirs.get(dir);
    if (!pr) {
      pr = (async () => {
        await mkdir(dir, { recursive: true });
        // A symlinked folder inside root could redirect writes elsewhere: refuse.
        const real = await realpath(dir);
        if (real !== rootReal && !real.startsWith(rootReal + path.sep)) {
          throw new AmphoraError('invalid_path', `Refusing to write into ${dir}: it resolves to ${real}, outside the download root ${root}. Remove the symlink or pick another root.`);
        }
      })();
      checkedDirs.set(dir, pr);
    }
    return pr;
  };
  const stats: DownloadStats = { root, fetched: 0, fromCache: 0, unchanged: 0 };
  const progress = downloadProgress(targets, opts.onProgress);
  const what = opts.what ?? 'artifact';
  // 1. What is already in root or in the cache costs no request.
  const missing: typeof targets = [];
  await mapPool(targets, TRANSFER_CONCURRENCY, async (t) => {
    await ensureParent(path.dirname(t.dest));
    const how = await placeLocal(client, t.p, t.entry, t.dest);
    if (how === 'missing') return void missing.push(t);
    stats[how]++;
    progress(t.entry.size);
  });
  // 2. The rest comes from the server: small blobs many per request, large ones one by one.
  const byDigest = new Map<string, { size: number; what: string }>();
  for (const t of missing) byDigest.set(t.entry.digest, { size: t.entry.size, what: `"${t.p}" of ${what}` });
  await fetchManyToCache(client, byDigest, opts.onProgress && progress.chunk);
  await mapPool(missing, TRANSFER_CONCURRENCY, async ({ p, entry, dest }) => {
    if (!(await client.blobCache.materialize(entry.digest, entry.size, dest))) {
      // Dropped between fetch and copy (a concurrent cleanup, a bad disk): fetch it once more.
      await fetchToCache(client, entry.digest, entry.size, `"${p}" of ${what}`);
      if (!(await client.blobCache.materialize(entry.digest, entry.size, dest))) {
        throw new AmphoraError('digest_mismatch', `The cached copy of "${p}" failed verification right after download; check the disk under ${client.cacheDir} and retry.`);
      }
    }
    await client.statCache.record(dest, await stat(dest), entry.digest);
    stats.fetched++;
    progress(entry.size, entry.digest);
  });
  await client.statCache.flush();
  return stats;
}

/** Places one entry without asking the server for blob bytes; 'missing' when it must be fetched. */
async function placeLocal(client: Client, logical: string, entry: ManifestEntry, dest: string): Promise<'fetched' | 'fromCache' | 'unchanged' | 'missing'> {
  let existing = await lstat(dest).catch(() => undefined);
  if (existing?.isSymbolicLink()) {
    // A link planted in the root (even one to the right bytes) is replaced by a regular file:
    // the root must hold what verified, not a pointer someone can retarget.
    await unlink(dest);
    existing = undefined;
  }
  if (existing?.isFile() && existing.size === entry.size) {
    const known = await client.statCache.lookup(dest, existing);
    if (known === entry.digest) return 'unchanged';
    if (!known && !entry.ref) {
      const h = await client.statCache.digest(dest, existing);
      if (h.digest === entry.digest) return 'unchanged';
    }
  }
  if (existing?.isDirectory()) {
    throw new AmphoraError('invalid_path', `Cannot write "${logical}": ${dest} is a folder. Remove it or download into an empty root.`);
  }
  if (entry.ref) {
    await downloadReference(logical, entry, dest);
    await client.statCache.record(dest, await stat(dest), entry.digest);
    return 'fetched';
  }
  if (!(await client.blobCache.materialize(entry.digest, entry.size, dest))) return 'missing';
  await client.statCache.record(dest, await stat(dest), entry.digest);
  return 'fromCache';
}

async function exists(p: string): Promise<boolean> {
  return (await lstat(p).catch(() => undefined)) !== undefined;
}

/**
 * A root that does not exist yet is built in a private sibling folder and renamed into place
 * once complete: nobody can see or race on its files meanwhile, so each file is written directly
 * (exclusive create) instead of through its own temp file + rename, and an interrupted download
 * leaves no half-filled root behind. Returns undefined (after cleaning up) when the root appeared
 * meanwhile, so the caller takes the ordinary per-file path.
 */
async function materializeFresh(
  client: Client,
  targets: { p: string; entry: ManifestEntry; dest: string }[],
  root: string,
  opts: { onProgress?: ProgressFn; what?: string },
): Promise<DownloadStats | undefined> {
  await mkdir(path.dirname(root), { recursive: true });
  const staging = await mkdtemp(path.join(path.dirname(root), `.${path.basename(root)}.amphora-`));
  const what = opts.what ?? 'artifact';
  const stats: DownloadStats = { root, fetched: 0, fromCache: 0, unchanged: 0 };
  const progress = downloadProgress(targets, opts.onProgress);
  const written: { dest: string; st: Stats; digest: string }[] = [];
  try {
    // Every folder once, parents first (paths were validated to stay inside the root).
    const staged = targets.map((t) => ({ ...t, tmp: joinInside(staging, t.p, path) }));
    const dirs = [...new Set(staged.map((t) => path.dirname(t.tmp)))].sort();
    for (const d of dirs) await mkdir(d, { recursive: true });
    const missing: typeof staged = [];
    // Cached blobs: small ones are copied with plain syscalls, so a modest pool suffices; it
    // keeps a few large copies' reads and writes in flight together.
    await mapPool(staged, 4, async (t) => {
      if (t.entry.ref) {
        await downloadReference(t.p, t.entry, t.tmp);
        written.push({ dest: t.dest, st: await stat(t.tmp), digest: t.entry.digest });
        stats.fetched++;
        return progress(t.entry.size);
      }
      const st = await client.blobCache.copyOut(t.entry.digest, t.entry.size, t.tmp, true);
      if (!st) return void missing.push(t);
      written.push({ dest: t.dest, st, digest: t.entry.digest });
      stats.fromCache++;
      progress(t.entry.size);
    });
    // Large blobs go straight from the response to their file, hashed on the way, and reach the
    // cache by a kernel-side copy: one hash pass and no read back (once per digest; duplicates
    // of it are copied from the cache below).
    const direct = new Map<string, (typeof missing)[number]>();
    for (const t of missing) if (t.entry.size > BATCH_BLOB_MAX && !direct.has(t.entry.digest)) direct.set(t.entry.digest, t);
    await mapPool([...direct.values()], TRANSFER_CONCURRENCY, async ({ p, entry, tmp, dest }) => {
      const body = await client.http.getBlobStream(entry.digest);
      let st: Stats;
      try {
        st = await streamVerified(body, tmp, entry.digest, entry.size, `"${p}" of ${what}`, true, opts.onProgress && ((n) => progress.chunk(entry.digest, n)));
      } catch (e) {
        await unlink(tmp).catch(() => {});
        throw e;
      }
      await client.blobCache.adoptCopy(tmp, entry.digest);
      written.push({ dest, st, digest: entry.digest });
      stats.fetched++;
      progress(entry.size, entry.digest);
    });
    const rest = missing.filter((t) => direct.get(t.entry.digest) !== t);
    const byDigest = new Map<string, { size: number; what: string }>();
    for (const t of rest) if (!direct.has(t.entry.digest)) byDigest.set(t.entry.digest, { size: t.entry.size, what: `"${t.p}" of ${what}` });
    await fetchManyToCache(client, byDigest);
    await mapPool(rest, TRANSFER_CONCURRENCY, async ({ p, entry, tmp, dest }) => {
      let st = await client.blobCache.copyOut(entry.digest, entry.size, tmp, true);
      if (!st) {
        // Dropped between fetch and copy (a concurrent cleanup, a bad disk): fetch it once more.
        await fetchToCache(client, entry.digest, entry.size, `"${p}" of ${what}`);
        st = await client.blobCache.copyOut(entry.digest, entry.size, tmp, true);
        if (!st) throw new AmphoraError('digest_mismatch', `The cached copy of "${p}" failed verification right after download; check the disk under ${client.cacheDir} and retry.`);
      }
      written.push({ dest, st, digest: entry.digest });
      stats.fetched++;
      progress(entry.size);
    });
    try {
      await rename(staging, root);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOTDIR') {
        await rm(staging, { recursive: true, force: true });
        return undefined;
      }
      throw e;
    }
  } catch (e) {
    await rm(staging, { recursive: true, force: true }).catch(() => {});
    throw e;
  }
  // A folder rename keeps each file's inode, size and mtime: the stats stay valid for the stat cache.
  for (const w of written) await client.statCache.record(w.dest, w.st, w.digest);
  await client.statCache.flush();
  return stats;
}

/**
 * Counts finished files and bytes; reports every 200 files, on the last one, and after any file
 * > 16 MiB. `chunk` counts bytes of a blob still streaming (at most every 100 ms), so a single
 * large file shows progress as it arrives; they are taken back when a file of that digest is done.
 */
function downloadProgress(
  targets: readonly { entry: { size: number } }[],
  onProgress: ProgressFn | undefined,
): ((size: number, digest?: string) => void) & { chunk: (digest: string, n: number) => void } {
  const totalBytes = targets.reduce((a, t) => a + t.entry.size, 0);
  let done = 0;
  let bytes = 0;
  let streaming = 0;
  let lastEmit = 0;
  const streamed = new Map<string, number>();
  const emit = () => onProgress?.({ phase: 'download', done, total: targets.length, bytes: Math.min(totalBytes, bytes + streaming), totalBytes });
  const file = (size: number, digest?: string) => {
    done++;
    bytes += size;
    if (digest !== undefined) {
      streaming -= streamed.get(digest) ?? 0;
      streamed.delete(digest);
    }
    if (done % 200 === 0 || done === targets.length || size > 1 << 24) emit();
  };
  file.chunk = (digest: string, n: number) => {
    streamed.set(digest, (streamed.get(digest) ?? 0) + n);
    streaming += n;
    const now = Date.now();
    if (now - lastEmit >= 100) {
      lastEmit = now;
      emit();
    }
  };
  return file;
}
