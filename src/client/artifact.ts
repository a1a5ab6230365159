/**
 * Artifact: build a version locally (files, folders, new files, references), log it (hash with
 * the stat cache → manifest + digest → upload only missing blobs → commit), and use a logged
 * version (download through the verified cache, update, delete, lineage).
 */
import { statSync } from 'node:fs';
import { lstat, mkdtemp, mkdir, open, readdir, readFile, realpath, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { z } from 'zod';
import type { ArtifactVersion, CallSite, CommitVersionResponse, LinkSource, ManifestResponse, RelogVersionRequest, Run as RunInfo } from '../core/api.js';
import { AmphoraError, EntryNotFoundError } from '../core/errors.js';
import { artifactDigest, validateManifest, type Manifest, type ManifestEntry } from '../core/node/manifest.js';
import { validateAlias, validateArtifactName, validateArtifactType } from '../core/names.js';
import { joinInside, validateManifestPath } from '../core/paths.js';
import { formatReference } from '../core/reference.js';
import { parseLinkTarget } from '../core/registry.js';
import { defaultClient, type Client } from './client.js';
import { LOCAL_CONCURRENCY, LoopYield, mapPool } from './pool.js';
import { resolveReference, type ReferenceOptions } from './references.js';
import { maxObjectsOf, tooManyObjects } from './references/cloud.js';
import { hashFile } from './hash.js';
import { StreamingUploader, type LocalBlob, type ProgressFn } from './transfer.js';
import { Limiter } from '../core/limiter.js';
import { materialize, type DownloadStats } from './download.js';
import type { CachedVersion } from './manifestCache.js';


/** Files above this are hashed a few at a time (see buildManifest). */
const LARGE_FILE = 8 * 1024 * 1024;

/** A file staged for logging: a local path (hashed at log time) or a finished manifest entry. */
export interface Staged {
  localPath?: string;
  entry?: ManifestEntry;
  /** How the local cache takes the file once logged (see CachePolicy). */
  cache?: CacheUse;
}

/**
 * W&B's `policy`: `immutable` is the producer's promise not to change the file, so the local
 * cache takes a hard link to it instead of a copy (no second write, no extra disk while the file
 * exists). A file changed in place anyway only costs a download: every cache read re-checks the
 * blob's SHA-256, drops a changed one and fetches it again.
 */
export type CachePolicy = 'mutable' | 'immutable';
/** What the cache does with a staged file: copy it, link it (immutable), or leave it out (skipCache). */
export type CacheUse = 'copy' | 'link' | 'skip';

/** Options of addFile / addDir that say how the local cache takes the files once logged. */
export interface CacheOptions {
  policy?: CachePolicy;
  /** Keep these files out of the local cache (W&B's `skip_cache`). */
  skipCache?: boolean;
}

function cacheUse(opts: CacheOptions, what: string): CacheUse {
  if (opts.policy !== undefined && opts.policy !== 'mutable' && opts.policy !== 'immutable') {
    throw new AmphoraError('invalid_request', `${what}: policy must be "mutable" or "immutable", got ${JSON.stringify(opts.policy)}.`);
  }
  return opts.skipCache ? 'skip' : opts.policy === 'immutable' ? 'link' : 'copy';
}

/** link(2) would link a symlink itself, not its file: the cache copies what a symlink points at. */
function cacheUseThrough(use: CacheUse, viaSymlink: boolean): CacheUse {
  return viaSymlink && use === 'link' ? 'copy' : use;
}

/** A fresh large blob the cache takes after its upload: from which file, and how. */
interface ToAdopt {
  file: string;
  use: CacheUse;
}

/** Of a blob's local files, which one the cache takes and how: a link beats a copy beats nothing. */
const CACHE_USE_RANK: Record<CacheUse, number> = { skip: 0, copy: 1, link: 2 };

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
  /** Only the files whose path starts with this (W&B's `path_prefix`). */
  pathPrefix?: string;
  /** Skip references whose object is gone instead of failing (W&B's `allow_missing_references`). */
  allowMissingReferences?: boolean;
  /**
   * Add nothing to the local cache (W&B's `skip_cache`): fetched files are written to the root
   * only, one write per byte instead of two. Blobs the cache already holds are still used.
   */
  skipCache?: boolean;
}

/** What a Run may do to an Artifact that user code may not: set in Artifact's static block. */
let runHooks: {
  commit(a: Artifact, client: Client, opts: LogOptions): Promise<Artifact>;
  upsertPending(a: Artifact, client: Client, distributedId: string, opts: LogOptions): Promise<void>;
  finishPending(a: Artifact, client: Client, distributedId: string, opts: LogOptions): Promise<Artifact>;
  staged(a: Artifact, what: string): ReadonlyMap<string, Staged>;
};

/** A run's logArtifact: logs `a` as a new version (or the existing one with the same digest). */
export const logVersion = (a: Artifact, client: Client, opts: LogOptions) => runHooks.commit(a, client, opts);
/** A run's upsertArtifact: adds `a`'s files to a distributed pending version. */
export const upsertPendingVersion = (a: Artifact, client: Client, id: string, opts: LogOptions) => runHooks.upsertPending(a, client, id, opts);
/** A run's finishArtifact: commits a distributed pending version. */
export const finishPendingVersion = (a: Artifact, client: Client, id: string, opts: LogOptions) => runHooks.finishPending(a, client, id, opts);
/** An offline run's logArtifact: the draft's staged files (local paths) and finished entries. */
export const draftContents = (a: Artifact, what: string) => ({ staged: runHooks.staged(a, what) });

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
  static {
    // Run logs through these; they stay off the public class (see logVersion below).
    runHooks = {
      commit: (a, client, opts) => a.commit(client, opts),
      upsertPending: (a, client, id, opts) => a.upsertPending(client, id, opts),
      finishPending: (a, client, id, opts) => a.finishPending(client, id, opts),
      staged: (a, what) => {
        a.requireDraft(what);
        return a.staged;
      },
    };
  }

  /** The collection's name (`mnist-raw`), whether logged or not. */
  collectionName: string;
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
  updatedAt?: string;
  /** A version reached through a registry collection: where it was logged (W&B's linked artifact). */
  linkedFrom?: LinkSource | null;
  /** After logging: false when the content equalled an existing version (no new version was made). */
  created?: boolean;

  private readonly staged = new Map<string, Staged>();
  private stagingDir?: string;
  /** This version's manifest, once fetched or committed. */
  private loaded?: ManifestResponse;
  private client?: Client;

  constructor(name: string, type: string, opts: ArtifactOptions = {}) {
    this.collectionName = validateArtifactName(name);
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

  private apply(v: ArtifactVersion): void {
    this.collectionName = v.name;
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
    this.updatedAt = v.updatedAt;
    this.linkedFrom = v.linkedFrom ?? null;
  }

  /** `name:vN` once logged or fetched, the bare name for a draft (W&B's `Artifact.name`). */
  get name(): string {
    return this.version ? `${this.collectionName}:${this.version}` : this.collectionName;
  }

  /** True for a version reached through a registry collection. */
  get isLink(): boolean {
    return Boolean(this.linkedFrom);
  }

  /** `name:vN` where the version was logged (a link's source), or the name of a draft. */
  get sourceName(): string {
    if (this.linkedFrom) return `${this.linkedFrom.name}:${this.linkedFrom.version}`;
    return this.name;
  }

  /** `entity/project/name:vN` where the version was logged (a link's source; itself otherwise). */
  get sourceQualifiedName(): string {
    const src = this.linkedFrom;
    return src ? formatReference({ entity: src.entity, project: src.project, name: src.name, selector: src.version }) : this.qualifiedName();
  }

  /**
   * Links this version into a registry collection (`wandb-registry-NAME/COLLECTION`) and returns the
   * link; a draft is logged first. Linking the same version again adds the aliases to its link.
   */
  async link(targetPath: string, opts: { aliases?: string[] } = {}): Promise<Artifact> {
    if (!this.logged) await this.log();
    const client = this.requireLogged('link');
    const target = parseLinkTarget(targetPath);
    const aliases = (opts.aliases ?? []).map(validateAlias);
    const src = this.linkedFrom ?? { entity: this.entity!, project: this.project!, name: this.collectionName, version: this.version! };
    const res = await client.http.linkVersion(target.entity ?? this.entity!, target.project, target.name, { source: src, aliases });
    return Artifact.fromVersion(client, res.version);
  }

  get logged(): boolean {
    return this.version !== undefined;
  }

  /** W&B's `is_draft()`: true until logged. */
  isDraft(): boolean {
    return !this.logged;
  }

  /** W&B's `wait()`: logging returns once the version is committed, so this only checks that it is. */
  async wait(): Promise<this> {
    this.requireLogged('wait');
    return this;
  }

  /** `entity/project/name:vN` */
  qualifiedName(): string {
    this.requireLogged('qualifiedName');
    return formatReference({ entity: this.entity, project: this.project, name: this.collectionName, selector: this.version! });
  }

  // ------------------------------------------------------------------ building

  private requireDraft(what: string) {
    if (this.logged) {
      throw new AmphoraError('invalid_request', `${what}: ${this.collectionName}:${this.version} is already logged and its files never change; create a new Artifact("${this.collectionName}", "${this.type}") for a new version.`);
    }
  }

  /**
   * W&B's rule: a path already in the draft may only get other content with `overwrite` (the same
   * file or the same content again is fine). The Python client's message, in TypeScript's words.
   */
  private async stage(logical: string, s: Staged, overwrite = false): Promise<void> {
    validateManifestPath(logical);
    const had = this.staged.get(logical);
    if (had && !overwrite && !(had.localPath !== undefined && had.localPath === s.localPath) && (await stagedDigest(had)) !== (await stagedDigest(s))) {
      throw new AmphoraError(
        'invalid_path',
        `Cannot add the same path twice: "${logical}" is already in artifact '${this.collectionName}' with other content. Pass overwrite: true to replace it (merge: true for addDir), or store it under another name.`,
      );
    }
    this.staged.set(logical, s);
  }

  /** Adds one file under `name` (default: its base name); `policy` and `skipCache`: see CachePolicy. */
  async addFile(localPath: string, opts: { name?: string; overwrite?: boolean } & CacheOptions = {}): Promise<ArtifactEntry> {
    this.requireDraft('addFile');
    const cache = cacheUse(opts, 'addFile');
    const abs = path.resolve(localPath);
    let st;
    try {
      st = await stat(abs);
    } catch {
      throw new AmphoraError('invalid_path', `Cannot add file ${abs}: it does not exist. Check the path.`);
    }
    if (!st.isFile()) throw new AmphoraError('invalid_path', `Cannot add ${abs} as a file: it is a ${st.isDirectory() ? 'folder (use addDir)' : 'special file'}.`);
    const logical = opts.name ?? path.basename(abs);
    const viaSymlink = cache === 'link' && (await lstat(abs)).isSymbolicLink();
    await this.stage(logical, { localPath: abs, cache: cacheUseThrough(cache, viaSymlink) }, opts.overwrite);
    return new ArtifactEntry(this, logical, '', st.size);
  }

  /**
   * Adds every file under a folder (under `name/` when given). Symlinks are followed only when
   * they stay inside the folder; one pointing outside is an error, so an artifact never captures
   * files the folder does not own.
   */
  async addDir(localPath: string, opts: { name?: string; merge?: boolean } & CacheOptions = {}): Promise<number> {
    this.requireDraft('addDir');
    const cache = cacheUse(opts, 'addDir');
    const abs = path.resolve(localPath);
    let rootReal: string;
    try {
      rootReal = await realpath(abs);
      if (!(await stat(rootReal)).isDirectory()) throw new Error('not a folder');
    } catch {
      throw new AmphoraError('invalid_path', `Cannot add folder ${abs}: it does not exist or is not a folder. Check the path (use addFile for a single file).`);
    }
    const prefix = opts.name ? validateManifestPath(opts.name.replace(/\/+$/, '')) + '/' : '';
    /** [logical path, local path, reached through a symlink]. */
    const found: [string, string, boolean][] = [];
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
          } else if (st.isFile()) found.push([logical, full, true]);
        } else if (e.isDirectory()) {
          await walk(full, logical);
        } else if (e.isFile()) {
          found.push([logical, full, false]);
        }
      }
    };
    await walk(abs, '');
    for (const [logical, full, viaSymlink] of found) await this.stage(prefix + logical, { localPath: full, cache: cacheUseThrough(cache, viaSymlink) }, opts.merge);
    return found.length;
  }

  /** A new file written into a private staging folder and added under `name` (W&B's mode "x": the path must be new). */
  async newFile(name: string, opts: { overwrite?: boolean } = {}): Promise<NewFile> {
    this.requireDraft('newFile');
    validateManifestPath(name);
    if (this.staged.has(name) && !opts.overwrite) {
      throw new AmphoraError('invalid_path', `Cannot create "${name}" in artifact '${this.collectionName}': it already holds that path. Pass overwrite: true to replace it, or pick another name.`);
    }
    this.stagingDir ??= await mkdtemp(path.join(tmpdir(), 'amphora-staging-'));
    const full = joinInside(this.stagingDir, name, path);
    await mkdir(path.dirname(full), { recursive: true });
    const fh = await open(full, 'w');
    await this.stage(name, { localPath: full }, true);
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
    const out: ArtifactEntry[] = [];
    for (const { path: p, ...entry } of entries) {
      await this.stage(p, { entry });
      out.push(new ArtifactEntry(this, p, entry.digest, entry.size, entry.ref, entry.extra));
    }
    return out;
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
    onHashed?: (blob: LocalBlob, fromStatCache: boolean, cache: CacheUse) => void,
  ): Promise<{ manifest: Manifest; local: Map<string, string>; fresh: Set<string> }> {
    const items = [...this.staged];
    const manifest: Manifest = {};
    const local = new Map<string, string>();
    /** Digests hashed this time (not answered by the stat cache). */
    const fresh = new Set<string>();
    // Large files are hashed two at a time so their uploads start while the rest is hashed.
    const large = new Limiter(2);
    let done = 0;
    const breathe = new LoopYield();
    await mapPool(items, LOCAL_CONCURRENCY, async ([logical, s]) => {
      await breathe.maybe();
      if (s.entry) {
        manifest[logical] = s.entry;
      } else {
        let h;
        try {
          // A plain syscall, not a thread-pool round trip: an unchanged folder costs one stat per file and nothing else.
          const st = statSync(s.localPath!);
          h = st.size > LARGE_FILE ? await large.run(() => client.statCache.digest(s.localPath!, st)) : await client.statCache.digest(s.localPath!, st);
        } catch (e) {
          throw new AmphoraError('invalid_path', `Cannot read ${s.localPath} for "${logical}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); it was moved or deleted after being added.`);
        }
        manifest[logical] = { digest: h.digest, size: h.size };
        local.set(h.digest, s.localPath!);
        if (!h.cached) fresh.add(h.digest);
        onHashed?.({ digest: h.digest, size: h.size, path: s.localPath!, bytes: h.bytes }, !!h.cached, s.cache ?? 'copy');
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
  ): Promise<{ manifest: Manifest; local: Map<string, string>; fresh: Set<string>; toAdopt: Map<string, ToAdopt>; adoptingSmall: Promise<void>; linked: string[]; negotiated: boolean; retry: () => Promise<void> }> {
    const uploader = new StreamingUploader(client, onProgress);
    const known: LocalBlob[] = [];
    /** Fresh small files the cache takes (linked, or written from the bytes just hashed). */
    const adopted = new Set<string>();
    /** Those whose cache copy waits until hashing is done (see adoptSmallFiles). */
    const smallToAdopt: SmallToAdopt[] = [];
    let smallToAdoptBytes = 0;
    /** Fresh large files the cache takes from their paths while the server commits (adoptIntoCache). */
    const toAdopt = new Map<string, ToAdopt>();
    /** Files hard-linked into the cache: the link moved their ctime (see StatCache.refreshLinked). */
    const linked: string[] = [];
    let built;
    try {
      built = await this.buildManifest(client, onProgress, (b, fromStatCache, use) => {
        if (!fromStatCache && use !== 'skip' && !adopted.has(b.digest)) {
          if (b.bytes) {
            if (smallToAdoptBytes + b.bytes.length <= DEFERRED_ADOPT_BYTES) {
              smallToAdopt.push({ file: b.path, bytes: b.bytes, digest: b.digest, link: use === 'link' });
              smallToAdoptBytes += b.bytes.length;
            } else if (client.blobCache.adoptSmall(b.path, b.bytes, b.digest, use === 'link')) linked.push(b.path);
            adopted.add(b.digest);
          } else {
            const had = toAdopt.get(b.digest);
            if (!had || CACHE_USE_RANK[use] > CACHE_USE_RANK[had.use]) toAdopt.set(b.digest, { file: b.path, use });
          }
        }
        if (optimistic && fromStatCache) known.push(b);
        else uploader.add(b);
      });
    } catch (e) {
      await uploader.abort(e);
      throw e;
    }
    const negotiated = !optimistic || built.fresh.size > 0;
    if (negotiated) for (const b of known) uploader.add(b);
    // Goes on while the uploads drain and the server commits; adoptIntoCache waits for it.
    const adoptingSmall = adoptSmallFiles(client, smallToAdopt, linked);
    try {
      await uploader.finish();
    } catch (e) {
      await adoptingSmall;
      throw e;
    }
    const retry = async () => {
      const again = new StreamingUploader(client, onProgress);
      for (const b of known) again.add(b);
      await again.finish();
    };
    return { ...built, negotiated, retry, toAdopt, adoptingSmall, linked };
  }

  /**
   * Puts newly hashed large files into the local cache from their paths (a hard link when
   * immutable or read-only, else a copy) so a later download is free, waits for the small files'
   * copies, and keeps every linked file known to the stat cache.
   */
  private async adoptIntoCache(client: Client, toAdopt: Map<string, ToAdopt>, adoptingSmall: Promise<void>, linked: string[]) {
    const todo = [...toAdopt];
    await mapPool(todo, LOCAL_CONCURRENCY, ([digest, { file, use }]) => client.blobCache.adopt(file, digest, use === 'link').catch(() => {}));
    await adoptingSmall; // its links join `linked`
    client.blobCache.settle(); // the small files' copies, as one pack
    await client.statCache.refreshLinked([...linked, ...todo.map(([, { file }]) => file)].map((f) => path.resolve(f)));
    await client.statCache.flush();
  }

  /** Logs this artifact as a new version (or the existing one with the same digest). */
  private async commit(client: Client, opts: LogOptions = {}): Promise<this> {
    this.requireDraft('logArtifact');
    const aliases = (opts.aliases ?? []).filter((a) => a !== 'latest').map(validateAlias);
    const project = opts.project ?? client.defaultProject;
    const entity = opts.entity ?? client.entity;
    const staged = await this.stageOnServer(client, opts.onProgress, true);
    // The cache is content-addressed and verified on every read, so it takes the new files while
    // the server commits (large ones from their paths, small ones from the bytes hashed).
    const adopting = this.adoptIntoCache(client, staged.toAdopt, staged.adoptingSmall, staged.linked);
    const fields = {
      type: this.type,
      description: this.description ?? undefined,
      metadata: this.metadata,
      aliases,
      runId: opts.runId,
      callSite: opts.runId ? opts.callSite : undefined,
      ...this.tagsAndTtl(opts.tags),
    };
    const request = { ...fields, manifest: staged.manifest };
    const digest = artifactDigest(staged.manifest);
    let res;
    try {
      // Nothing newly hashed: most likely content a version already holds. Named by its digest,
      // the server need not receive and check the whole manifest again; 404 means it is new after all.
      if (!staged.negotiated) res = await this.relogByDigest(client, entity, project, { ...fields, digest });
      res ??= await client.http.commitVersion(entity, project, this.collectionName, request);
    } catch (e) {
      if (staged.negotiated || !(e instanceof AmphoraError && e.code === 'missing_blobs')) throw e;
      // The stat cache knew every file but this server lacks some blobs: upload them, commit again.
      await staged.retry();
      res = await client.http.commitVersion(entity, project, this.collectionName, request);
    } finally {
      await adopting;
    }
    if (res.version.digest !== digest) {
      throw new AmphoraError('internal', `The server answered the commit of ${this.collectionName} with a version of digest ${res.version.digest}, but the files sent hash to ${digest}; the server is broken or not trustworthy. Check ${this.collectionName}:${res.version.version} before using it.`);
    }
    this.client = client;
    this.created = res.created;
    this.apply(res.version);
    this.loaded = { version: res.version.version, digest: res.version.digest, entries: staged.manifest };
    const cached = this.diskKey(client);
    if (cached) client.manifestCache.write(cached, staged.manifest);
    return this;
  }

  /** A commit by digest (see RelogVersionRequest); undefined when the server holds no such version (or predates the route). */
  private async relogByDigest(client: Client, entity: string, project: string, body: z.infer<typeof RelogVersionRequest>): Promise<CommitVersionResponse | undefined> {
    try {
      return await client.http.relogVersion(entity, project, this.collectionName, body);
    } catch (e) {
      if (e instanceof AmphoraError && e.code === 'not_found') return undefined;
      throw e;
    }
  }

  /** Logs without a run (CLI `artifact put`). */
  async log(opts: LogOptions & { client?: Client } = {}): Promise<this> {
    return this.commit(opts.client ?? (await defaultClient()), opts);
  }

  /** Adds this artifact's files to a distributed pending version. */
  private async upsertPending(client: Client, distributedId: string, opts: LogOptions = {}): Promise<void> {
    this.requireDraft('upsertArtifact');
    const { manifest, toAdopt, adoptingSmall, linked } = await this.stageOnServer(client, opts.onProgress);
    await client.http.upsertPending(opts.entity ?? client.entity, opts.project ?? client.defaultProject, this.collectionName, distributedId, {
      type: this.type,
      manifest,
      runId: opts.runId,
      callSite: opts.runId ? opts.callSite : undefined,
      description: this.description ?? undefined,
      metadata: this.metadata,
    });
    this.client = client;
    await this.adoptIntoCache(client, toAdopt, adoptingSmall, linked);
  }

  /** Commits a distributed pending version. */
  private async finishPending(client: Client, distributedId: string, opts: LogOptions = {}): Promise<this> {
    const res = await client.http.finishPending(opts.entity ?? client.entity, opts.project ?? client.defaultProject, this.collectionName, distributedId, {
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
      throw new AmphoraError('invalid_request', `${what}: artifact "${this.collectionName}" is not logged yet; log it with run.logArtifact(artifact) or fetch one with new Api().artifact("${this.collectionName}:latest").`);
    }
    return this.client;
  }

  private sel(): [string, string, string, string] {
    return [this.entity!, this.project!, this.collectionName, this.version!];
  }

  async manifest(): Promise<Manifest> {
    const client = this.requireLogged('manifest');
    if (!this.loaded) {
      const cached = this.diskKey(client);
      const entries = cached && client.manifestCache.read(cached);
      if (entries) {
        this.loaded = { version: this.version!, digest: this.digest!, entries };
      } else {
        // The manifest must be the one this version's digest, file count and size describe.
        this.loaded = await client.http.manifest(...this.sel(), { what: this.qualifiedName(), digest: this.digest, fileCount: this.fileCount, size: this.size });
        if (cached) client.manifestCache.write(cached, this.loaded.entries);
      }
    }
    return this.loaded.entries;
  }

  /** Where this version's manifest is kept on disk; none until committed (only then is it final). */
  private diskKey(client: Client): CachedVersion | undefined {
    if (this.state !== 'committed' || this.id === undefined || this.digest === undefined || this.fileCount === undefined || this.size === undefined) return undefined;
    return { baseUrl: client.http.baseUrl, id: this.id, digest: this.digest, fileCount: this.fileCount, size: this.size };
  }

  /** One entry of a logged version (or a staged one of a draft). */
  async getPath(name: string): Promise<ArtifactEntry> {
    if (!this.logged) {
      const s = this.staged.get(name);
      if (!s) throw new EntryNotFoundError(`Artifact ${this.collectionName} has no file "${name}"; its files are: ${[...this.staged.keys()].sort().slice(0, 10).join(', ') || '(none)'}.`);
      return new ArtifactEntry(this, name, s.entry?.digest ?? '', s.entry?.size ?? 0, s.entry?.ref, s.entry?.extra);
    }
    const m = await this.manifest();
    const e = m[name];
    if (!e) {
      // The Python client's get_entry message, word for word.
      throw new EntryNotFoundError(`Artifact ${this.qualifiedName()} has no file "${name}"; its files are: ${Object.keys(m).sort().slice(0, 10).join(', ') || '(none)'}.`);
    }
    return new ArtifactEntry(this, name, e.digest, e.size, e.ref, e.extra);
  }

  /** The version's files (name, size, digest), sorted by path; `names` keeps only those. */
  async files(opts: { names?: string[] } = {}): Promise<ArtifactEntry[]> {
    this.requireLogged('files');
    const m = await this.manifest();
    const wanted = opts.names ? new Set(opts.names) : undefined;
    return Object.keys(m)
      .sort()
      .filter((p) => !wanted || wanted.has(p))
      .map((p) => new ArtifactEntry(this, p, m[p].digest, m[p].size, m[p].ref, m[p].extra));
  }

  /**
   * Checks that `root` (default: the download folder) holds exactly this version's files with their
   * recorded SHA-256 (references are not checked); throws naming the first difference, as Python's verify.
   */
  async verify(opts: { root?: string } = {}): Promise<void> {
    this.requireLogged('verify');
    const m = await this.manifest();
    const root = path.resolve(opts.root ?? this.defaultRoot());
    for (const rel of await filesUnder(root)) {
      if (!m[rel]) throw new AmphoraError('invalid_path', `verify: found "${rel}" in ${root}, which is not a file of ${this.qualifiedName()}.`);
    }
    for (const p of Object.keys(m).sort()) {
      if (m[p].ref) continue;
      const local = path.join(root, ...p.split('/'));
      const h = await hashFile(local).catch(() => undefined);
      if (!h) throw new AmphoraError('invalid_path', `verify: "${p}" of ${this.qualifiedName()} is missing from ${root}; download it again.`);
      if (h.digest !== m[p].digest) throw new AmphoraError('digest_mismatch', `verify: "${p}" in ${root} differs from ${this.qualifiedName()} (digest mismatch); download it again.`);
    }
  }

  /** Makes `root` hold exactly this version: downloads it and deletes every other file there. */
  async checkout(opts: { root?: string } = {}): Promise<DownloadStats> {
    this.requireLogged('checkout');
    const m = await this.manifest();
    const root = path.resolve(opts.root ?? this.defaultRoot());
    for (const rel of await filesUnder(root)) if (!m[rel]) await unlink(path.join(root, ...rel.split('/')));
    return this.download({ root });
  }

  /** A draft holding this version's files, name, type, description and metadata: change it, then log it as the next version. */
  async newDraft(): Promise<Artifact> {
    this.requireLogged('newDraft');
    const m = await this.manifest();
    const draft = new Artifact(this.collectionName, this.type, { description: this.description ?? undefined, metadata: structuredClone(this.metadata) });
    for (const [p, entry] of Object.entries(m)) draft.staged.set(p, { entry: { ...entry } });
    return draft;
  }

  /** W&B's name for getPath. */
  getEntry(name: string): Promise<ArtifactEntry> {
    return this.getPath(name);
  }

  /** Default download root: ./artifacts/<name>:<version> (`-` on Windows, where `:` is not allowed). */
  defaultRoot(): string {
    return path.resolve('artifacts', `${this.collectionName}${process.platform === 'win32' ? '-' : ':'}${this.version}`);
  }

  /**
   * Materializes the version under `root`, fetching only what the cache lacks, verifying every
   * hash, writing via temp files + rename and never outside `root`.
   */
  async download(opts: DownloadOptions & { only?: string[] } = {}): Promise<DownloadStats> {
    const client = this.requireLogged('download');
    const manifest = await this.manifest();
    const root = path.resolve(opts.root ?? this.defaultRoot());
    const prefix = opts.pathPrefix;
    const only = prefix === undefined && !opts.allowMissingReferences ? opts.only : (opts.only ?? Object.keys(manifest)).filter((p) => prefix === undefined || p.startsWith(prefix));
    const what = this.qualifiedName();
    const skipCache = opts.skipCache;
    if (!opts.allowMissingReferences) return materialize(client, manifest, root, { only, onProgress: opts.onProgress, what, skipCache });
    // Stored files as usual; each reference alone, so one whose object is gone is skipped, as Python does.
    const paths = only ?? Object.keys(manifest);
    const stats = await materialize(client, manifest, root, { only: paths.filter((p) => !manifest[p].ref), onProgress: opts.onProgress, what, skipCache });
    for (const p of paths.filter((x) => manifest[x].ref)) {
      await materialize(client, manifest, root, { only: [p], what }).catch((e: unknown) => {
        if (!(e instanceof AmphoraError && e.code === 'not_found')) throw e;
      });
    }
    return { ...stats, root };
  }

  /**
   * W&B's `get(name)`: the object stored under `name` (or `name.table.json` / `name.json`), parsed
   * from JSON; null when the version holds no such object.
   */
  async get(name: string): Promise<unknown> {
    this.requireLogged('get');
    const m = await this.manifest();
    const logical = [`${name}.table.json`, `${name}.json`, name].find((p) => m[p] && !m[p].ref);
    if (!logical) return null;
    const dir = await mkdtemp(path.join(tmpdir(), 'amphora-get-'));
    try {
      const file = await new ArtifactEntry(this, logical, m[logical].digest, m[logical].size).download(dir);
      return JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      if (e instanceof SyntaxError) throw new AmphoraError('invalid_request', `get(${JSON.stringify(name)}): "${logical}" of ${this.qualifiedName()} is not JSON; download it with getEntry("${logical}").download() instead.`);
      throw e;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
    // A link's producer ran in the project its source was logged to.
    return client.http.getRun(this.linkedFrom?.entity ?? this.entity!, this.linkedFrom?.project ?? this.project!, this.producerRun.id);
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

/** Every regular file under `root` as a POSIX relative path (none when root does not exist). */
async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(path.join(dir, e.name), r);
      else out.push(r);
    }
  };
  await walk(root, '');
  return out;
}

/** A staged entry's content digest (a local file is hashed when the question comes up). */
async function stagedDigest(s: Staged): Promise<string | undefined> {
  if (s.entry) return s.entry.digest;
  return s.localPath ? (await hashFile(s.localPath)).digest : undefined;
}

/** A small file's cache copy, taken once hashing is done (see adoptSmallFiles). */
interface SmallToAdopt {
  file: string;
  bytes: Buffer;
  digest: string;
  link: boolean;
}

/** Bytes of small files held for their deferred cache copies; past it, files are copied as they are hashed. */
const DEFERRED_ADOPT_BYTES = 64 << 20;

/**
 * Writes the producer's cache copies of small files (or links them) after hashing, while the
 * uploads drain and the server makes them durable: during hashing the client is the busy side of a
 * put, afterwards it mostly waits. A few milliseconds at a time, so upload responses and the next
 * batches are not held up. Never fails: the cache is an optimisation.
 */
async function adoptSmallFiles(client: Client, files: SmallToAdopt[], linked: string[]): Promise<void> {
  const breathe = new LoopYield();
  for (const f of files) {
    await breathe.maybe();
    try {
      if (client.blobCache.adoptSmall(f.file, f.bytes, f.digest, f.link)) linked.push(f.file);
    } catch {
      // not cached: a later download fetches it
    }
  }
}
