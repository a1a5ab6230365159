/**
 * The download engine: writes a manifest's files under a root, each from the root itself (stat
 * cache), the verified local cache, the server (small blobs in batches, large ones streamed) or a
 * reference's URI.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import { lstat, mkdir, realpath, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { AmphoraError } from '../core/errors.js';
import type { Manifest, ManifestEntry } from '../core/node/manifest.js';
import { joinInside } from '../core/paths.js';
import { streamVerified, tempName, writeVerifiedBytes } from './cache.js';
import type { Client } from './client.js';
import { mapPool, TRANSFER_CONCURRENCY } from './pool.js';
import { downloadReference } from './references.js';
import { BATCH_BLOB_MAX, fetchManyToCache, fetchToCache, type ProgressFn } from './transfer.js';

export interface DownloadStats {
  root: string;
  /** Files fetched from the server or a reference URI. */
  fetched: number;
  /** Files copied from the local cache. */
  fromCache: number;
  /** Files already present in root with the right content. */
  unchanged: number;
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
  opts: { only?: string[]; onProgress?: ProgressFn; what?: string; skipCache?: boolean } = {},
): Promise<DownloadStats> {
  try {
    return await materializeInto(client, manifest, rootIn, opts);
  } finally {
    // The small blobs fetched go into the cache as one pack, also when the download failed
    // part way: a retry then fetches only the rest.
    client.blobCache.settle();
  }
}

async function materializeInto(
  client: Client,
  manifest: Manifest,
  rootIn: string,
  opts: { only?: string[]; onProgress?: ProgressFn; what?: string; skipCache?: boolean },
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
        // A folder that is already there (a download into a filled root) costs one plain lstat;
        // fs/promises' recursive mkdir spent ~0.6 ms of CPU on each.
        if (!lstatSync(dir, { throwIfNoEntry: false })?.isDirectory()) await mkdir(dir, { recursive: true });
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
  // 1. What is already in root costs one lstat per file; what is in the cache, a copy. Neither
  // asks the server, and a root that is already complete never touches the cache.
  const stale: typeof targets = [];
  await mapPool(targets, TRANSFER_CONCURRENCY, async (t) => {
    await ensureParent(path.dirname(t.dest));
    if (!(await unchangedInRoot(client, t.p, t.entry, t.dest))) return void stale.push(t);
    stats.unchanged++;
    progress(t.entry.size);
  });
  const missing: typeof targets = [];
  const uncached = client.blobCache.absent(stale.filter((t) => !t.entry.ref).map((t) => t.entry.digest));
  await mapPool(stale, TRANSFER_CONCURRENCY, async (t) => {
    const how = await placeLocal(client, t.p, t.entry, t.dest, uncached);
    if (how === 'missing') return void missing.push(t);
    stats[how]++;
    progress(t.entry.size);
  });
  // 2. The rest comes from the server: small blobs many per request, large ones one by one.
  const placed: { dest: string; st: Stats; digest: string }[] = [];
  await fetchAndPlace(client, missing.map((t) => ({ ...t, file: t.dest })), false, what, opts.skipCache, opts.onProgress && progress.chunk, (t, st) => {
    placed.push({ dest: t.dest, st, digest: t.entry.digest });
    stats.fetched++;
    progress(t.entry.size, t.entry.digest);
  });
  for (const w of placed) await client.statCache.record(w.dest, w.st, w.digest);
  await client.statCache.flush();
  return stats;
}

/**
 * Whether `dest` already holds `entry` (stat cache, else hashed). A symlink planted there is
 * removed, even one to the right bytes: the root must hold what verified, not a pointer someone
 * can retarget; a folder there is an error.
 */
async function unchangedInRoot(client: Client, logical: string, entry: ManifestEntry, dest: string): Promise<boolean> {
  // A plain syscall, not a thread-pool round trip: a download into a filled root asks once per file.
  const existing = lstatSync(dest, { throwIfNoEntry: false });
  if (!existing) return false;
  if (existing.isSymbolicLink()) {
    await unlink(dest);
    return false;
  }
  if (existing.isDirectory()) {
    throw new AmphoraError('invalid_path', `Cannot write "${logical}": ${dest} is a folder. Remove it or download into an empty root.`);
  }
  if (!existing.isFile() || existing.size !== entry.size) return false;
  const known = await client.statCache.lookup(dest, existing);
  if (known === entry.digest) return true;
  if (known || entry.ref) return false;
  return (await client.statCache.digest(dest, existing)).digest === entry.digest;
}

/** Places one entry that is not in root yet without asking the server for blob bytes; 'missing' when it must be fetched. */
async function placeLocal(client: Client, logical: string, entry: ManifestEntry, dest: string, uncached: Set<string>): Promise<'fetched' | 'fromCache' | 'missing'> {
  if (entry.ref) {
    await downloadReference(logical, entry, dest);
    await client.statCache.record(dest, await stat(dest), entry.digest);
    return 'fetched';
  }
  if (uncached.has(entry.digest) || !(await client.blobCache.materialize(entry.digest, entry.size, dest))) return 'missing';
  await client.statCache.record(dest, await stat(dest), entry.digest);
  return 'fromCache';
}

/**
 * Fetches the blobs of `targets` into the cache and writes each target's `file` (see
 * writeVerifiedBytes for `direct`). Blobs that came in a batch are written from the verified bytes
 * in hand: one file created per target, no failed open probing the cache and no read back. A large
 * blob is streamed to its first target and the cache at once (see streamLarge). Anything else
 * (further targets of a large blob, an older server's one-by-one answers, targets marked
 * `fetch: false` because their blob is already cached) is copied out of the cache. With
 * `skipCache` nothing is written to the cache: those are fetched again, each straight to its file.
 */
async function fetchAndPlace<T extends { p: string; entry: ManifestEntry; file: string; fetch?: boolean }>(
  client: Client,
  targets: T[],
  direct: boolean,
  what: string,
  skipCache: boolean | undefined,
  onBytes: ((digest: string, n: number) => void) | undefined,
  placed: (t: T, st: Stats) => void,
): Promise<void> {
  const byDigest = new Map<string, { size: number; what: string; targets: T[] }>();
  for (const t of targets) {
    if (t.fetch === false) continue;
    let b = byDigest.get(t.entry.digest);
    if (!b) byDigest.set(t.entry.digest, (b = { size: t.entry.size, what: `"${t.p}" of ${what}`, targets: [] }));
    b.targets.push(t);
  }
  const large = [...byDigest].filter(([, b]) => b.size > BATCH_BLOB_MAX);
  for (const [digest] of large) byDigest.delete(digest);
  const delivered = new Set<string>();
  await fetchManyToCache(
    client,
    byDigest,
    onBytes,
    (digest, bytes) => {
      for (const t of byDigest.get(digest)?.targets ?? []) placed(t, writeVerifiedBytes(bytes, t.file, direct));
      delivered.add(digest);
    },
    { skipCache },
  );
  // Large blobs go straight from the response to their first target and into the cache in the
  // same pass; further targets of the same blob are copied out of the cache below.
  const streamed = new Set<T>();
  await mapPool(large, TRANSFER_CONCURRENCY, async ([digest, b]) => {
    const t = b.targets[0];
    streamed.add(t);
    placed(t, await streamInto(t.file, direct, (file) => streamLarge(client, t.entry, file, b.what, skipCache, onBytes && ((n) => onBytes(digest, n)))));
  });
  await mapPool(
    targets.filter((t) => !delivered.has(t.entry.digest) && !streamed.has(t)),
    TRANSFER_CONCURRENCY,
    async (t) =>
      placed(
        t,
        skipCache
          ? await streamInto(t.file, direct, (file) => streamLarge(client, t.entry, file, `"${t.p}" of ${what}`, true, onBytes && ((n) => onBytes(t.entry.digest, n))))
          : await copyFetched(client, t.p, t.entry, t.file, direct, what),
      ),
  );
}

/**
 * Writes `dest` with `write`: directly when `direct` (a private folder), else through a temp file
 * renamed into place. Returns the stats of the file at `dest`.
 */
async function streamInto(dest: string, direct: boolean, write: (file: string) => Promise<Stats>): Promise<Stats> {
  if (direct) return write(dest);
  const file = tempName(dest);
  await write(file);
  await rename(file, dest).catch(async (e: unknown) => {
    await unlink(file).catch(() => {});
    throw e;
  });
  // A rename changes the file's ctime, which the stat cache keys on: stat the final name.
  return stat(dest);
}

/**
 * Streams a blob from the server to `file` (created exclusively), hashed on the way, and into the
 * cache in the same pass (unless `skipCache`), or by a clone where the file system has them: one
 * hash pass and no read back. On failure `file` is removed and the response abandoned.
 */
async function streamLarge(client: Client, entry: ManifestEntry, file: string, what: string, skipCache: boolean | undefined, onBytes?: (n: number) => void): Promise<Stats> {
  const body = await client.http.getBlobStream(entry.digest);
  const clones = client.blobCache.clones === true;
  try {
    if (skipCache) return await streamVerified(body, file, entry.digest, entry.size, what, true, onBytes);
    const st = clones
      ? await streamVerified(body, file, entry.digest, entry.size, what, true, onBytes)
      : await client.blobCache.streamToAndStore(body, file, entry.digest, entry.size, what, onBytes);
    if (clones) await client.blobCache.adoptCopy(file, entry.digest);
    return st;
  } catch (e) {
    body.destroy();
    await unlink(file).catch(() => {});
    throw e;
  }
}

/**
 * Copies a blob that was just fetched into the cache to `dest` (see BlobCache.copyOut for
 * `direct`) and returns the stats of the file now at `dest`. A blob dropped between fetch and
 * copy (a concurrent cleanup, a bad disk) is fetched once more.
 */
async function copyFetched(client: Client, p: string, entry: ManifestEntry, dest: string, direct: boolean, what: string): Promise<Stats> {
  const copy = () => client.blobCache.copyOut(entry.digest, entry.size, dest, direct);
  let st = await copy();
  if (!st) {
    await fetchToCache(client, entry.digest, entry.size, `"${p}" of ${what}`);
    st = await copy();
    if (!st) throw new AmphoraError('digest_mismatch', `The cached copy of "${p}" failed verification right after download; check the disk under ${client.cacheDir} and retry.`);
  }
  // A rename changes the file's ctime, which the stat cache keys on: stat the final name.
  return direct ? st : await stat(dest);
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
  opts: { onProgress?: ProgressFn; what?: string; skipCache?: boolean },
): Promise<DownloadStats | undefined> {
  await mkdir(path.dirname(root), { recursive: true });
  // Not mkdtemp: its mode 0700 would become the root's (a root gets the usual mode, per umask).
  const staging = path.join(path.dirname(root), `.${path.basename(root)}.amphora-${randomBytes(6).toString('hex')}`);
  await mkdir(staging);
  const what = opts.what ?? 'artifact';
  const stats: DownloadStats = { root, fetched: 0, fromCache: 0, unchanged: 0 };
  const progress = downloadProgress(targets, opts.onProgress);
  const written: { dest: string; st: Stats; digest: string }[] = [];
  try {
    // Every folder once, parents first (paths were validated to stay inside the root).
    const staged = targets.map((t) => ({ ...t, tmp: joinInside(staging, t.p, path) }));
    const dirs = [...new Set(staged.map((t) => path.dirname(t.tmp)))].sort();
    for (const d of dirs) mkdirSync(d, { recursive: true });
    const missing: typeof staged = [];
    const uncached = client.blobCache.absent(staged.filter((t) => !t.entry.ref).map((t) => t.entry.digest));
    // Cached blobs: small ones are copied with plain syscalls, so a modest pool suffices; it
    // keeps a few large copies' reads and writes in flight together.
    await mapPool(staged, 4, async (t) => {
      if (t.entry.ref) {
        await downloadReference(t.p, t.entry, t.tmp);
        written.push({ dest: t.dest, st: await stat(t.tmp), digest: t.entry.digest });
        stats.fetched++;
        return progress(t.entry.size);
      }
      const st = uncached.has(t.entry.digest) ? undefined : await client.blobCache.copyOut(t.entry.digest, t.entry.size, t.tmp, true);
      if (!st) return void missing.push(t);
      written.push({ dest: t.dest, st, digest: t.entry.digest });
      stats.fromCache++;
      progress(t.entry.size);
    });
    // Small blobs come in batches and are written from the bytes in hand; a large one streams
    // straight to its file (see fetchAndPlace).
    await fetchAndPlace(client, missing.map((t) => ({ ...t, file: t.tmp })), true, what, opts.skipCache, opts.onProgress && progress.chunk, (t, st) => {
      written.push({ dest: t.dest, st, digest: t.entry.digest });
      stats.fetched++;
      progress(t.entry.size, t.entry.digest);
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
