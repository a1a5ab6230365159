import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { AmphoraError } from '../../core/errors.js';
import type { BlobStat, BlobStore } from './blobStore.js';
import { Limiter } from '../../core/limiter.js';
import { mapPool } from '../../core/pool.js';
import { hashIntoFile } from '../../core/node/hashedWrite.js';
import { LocalPacks } from './localPacks.js';
import { verifyPackBlobs } from './packBlobs.js';
import { windows } from './packReads.js';

const HEX64 = /^[0-9a-f]{64}$/;
/** fsyncs run on libuv's thread pool; more in flight than its size only queues. */
const SYNC_PARALLELISM = 8;
/** Blobs up to this size are collected and written with plain syscalls (see putSmall). */
const SMALL_BLOB_BYTES = 256 * 1024;
/** From this many unsynced blobs on, one file-system-wide sync beats per-file fsyncs. */
const SYNCFS_THRESHOLD = 32;
/** Blobs from this size on start their fsync right after upload (see put). */
const EARLY_SYNC_BYTES = 8 << 20;
/** libuv has 4 threads by default: leave two for the writes and reads of other requests. */
const EARLY_SYNC_PARALLELISM = 2;
/** Blobs remembered as synced by this process (beyond that the set starts over: at worst one more sync). */
const DURABLE_MEMORY = 1_000_000;
/** Placed blobs whose size and time are remembered (~160 bytes each); older ones cost a stat again. */
const PLACED_MEMORY = 100_000;
/** Blobs of a batch upload up to this size go into packs (when this process is the folder's sole user). */
const PACK_MAX_BLOB_BYTES = 1 << 20;
/** Bytes of small blobs read per window of a batch download. */
const READ_WINDOW_BYTES = 8 << 20;


/**
 * Content-addressed folder: `<root>/sha256/ab/<hex>`, written through `<root>/tmp` + rename; the
 * small blobs of batch uploads in `<root>/packs/` (see LocalPacks) when this process is the
 * folder's sole user.
 */
export class LocalBlobStore implements BlobStore {
  private readonly unsynced = new Set<string>();
  /**
   * Size and time of the blobs this process placed (the most recent PLACED_MEMORY), when it is the
   * folder's only writer: nothing else adds or removes blobs there, and its own removals go through
   * remove(). The commit that follows an upload looks them up without a stat each (10,000 small
   * blobs: 10,000 stats fewer). Kept across flushes, since clients flush before they commit.
   */
  private readonly placedStats = new Map<string, BlobStat>();
  private readonly unsyncedDirs = new Set<string>();
  private syncing: Promise<void> = Promise.resolve();
  private readonly placing = new Set<Promise<void>>();
  /** Large blobs whose fsync was started on upload: flush awaits these instead of syncing again. */
  private readonly syncingFiles = new Map<string, Promise<void>>();
  private readonly earlySyncs = new Limiter(EARLY_SYNC_PARALLELISM);
  /** Blob paths this process fsynced (or saw fsynced by its flushes): a commit need not sync them again. */
  private readonly durable = new Set<string>();

  /** This process is the folder's only writer (see init): what it placed is all that changes. */
  private sole = false;
  private readonly packs: LocalPacks;

  constructor(private readonly root: string) {
    this.tmpDir = join(root, 'tmp');
    this.shaDir = join(root, 'sha256');
    this.packs = new LocalPacks(root, this.tmpDir);
  }

  /** Batch uploads pack blobs up to this size; 0 (no packs) for a folder shared by replicas. */
  get packMaxBlobBytes(): number {
    return this.sole ? PACK_MAX_BLOB_BYTES : 0;
  }

  /**
   * Creates the folders. `sole`: this process is the folder's only user (an embedded server
   * holding the data-dir lock), so whatever is in `tmp/` was left by an interrupted upload (a
   * crash or SIGKILL) and is deleted. Replicas sharing a folder leave `tmp/` to GC's grace period.
   */
  async init(opts: { sole?: boolean } = {}): Promise<{ removedTemp: number; damagedPacks: { file: string; why: string }[] }> {
    this.sole = opts.sole === true;
    await mkdir(join(this.root, 'sha256'), { recursive: true, mode: 0o700 });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    if (this.sole) await this.packs.ensureDir();
    // Replicas read packs too: an embedded server may have written them before the move to team mode.
    const { damaged } = await this.packs.load();
    if (!opts.sole) return { removedTemp: 0, damagedPacks: damaged };
    const leftovers = await readdir(this.tmpDir);
    await Promise.all(leftovers.map((name) => rm(join(this.tmpDir, name), { recursive: true, force: true })));
    return { removedTemp: leftovers.length, damagedPacks: damaged };
  }

  private tempCounter = 0;
  /** Per process and random: replicas on several machines may share one blob folder (team mode). */
  private readonly tempTag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  private tempName(digest: string): string {
    return `${this.tmpDir}${sep}${digest.slice(0, 16)}.${this.tempTag}.${++this.tempCounter}`;
  }

  // Joined once: a batch of 10,000 blobs names each several times (path.join was ~5% of its CPU).
  private readonly tmpDir: string;
  private readonly shaDir: string;

  pathOf(digest: string): string {
    if (!HEX64.test(digest)) throw new AmphoraError('invalid_request', `"${digest.slice(0, 80)}" is not a SHA-256 digest (64 lowercase hex characters).`);
    return `${this.shaDir}${sep}${digest.slice(0, 2)}${sep}${digest}`;
  }

  async stat(digest: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    const packed = this.packs.get(digest);
    if (packed) return { size: packed.size, mtimeMs: packed.pack.mtimeMs };
    // Synchronous on purpose: a stat of a local file takes microseconds, while the async form
    // costs a thread-pool round trip plus an Error with a stack for every absent blob (the
    // common case while negotiating), which dominated small-file uploads.
    const s = statSync(this.pathOf(digest), { throwIfNoEntry: false });
    return s ? { size: s.size, mtimeMs: s.mtimeMs } : undefined;
  }

  async statMany(digests: string[]): Promise<Map<string, BlobStat>> {
    const out = new Map<string, BlobStat>();
    for (const d of digests) {
      const s = (this.placedStats.size ? this.placedStats.get(this.pathOf(d)) : undefined) ?? (await this.stat(d));
      if (s) out.set(d, s);
    }
    return out;
  }

  async put(digest: string, body: Readable, expectedSize?: number): Promise<{ size: number; created: boolean }> {
    try {
      return await this.putStream(digest, body, expectedSize);
    } catch (e) {
      throw diskFullOr(e, digest);
    }
  }

  private async putStream(digest: string, body: Readable, expectedSize?: number): Promise<{ size: number; created: boolean }> {
    const final = this.pathOf(digest);
    const tmp = this.tempName(digest);
    let size = 0;
    // A FileHandle and awaited writes: streaming with natural backpressure, and about a tenth
    // of the CPU of a stream pipeline per small blob (what bounds many-small-files uploads).
    // Already stored: verify the bytes but write nothing.
    const present = await this.stat(digest);
    if (expectedSize !== undefined && expectedSize <= SMALL_BLOB_BYTES) return this.putSmall(digest, body, expectedSize, present);
    const fh = present && present.size === expectedSize ? undefined : await open(tmp, 'w', 0o600);
    let actual: string;
    try {
      // Hashed to the end to report the real digest; bytes past the expected size are not written.
      ({ digest: actual } = await hashIntoFile(body as AsyncIterable<Buffer>, fh, (_chunk, received) => {
        size = received;
        return expectedSize === undefined || received <= expectedSize;
      }));
    } catch (e) {
      await fh?.close().catch(() => undefined);
      await rm(tmp, { force: true });
      if (isDiskFull(e)) throw e;
      throw new AmphoraError('invalid_request', `Upload of blob ${digest} was interrupted after ${size} bytes (${(e as Error).message}); upload it again.`);
    }
    // A large blob starts its fsync now, in the background: the disk writes overlap with the next
    // uploads instead of all landing in the commit's flush (1 GiB ≈ 2 s of disk here).
    const synced = fh && actual === digest && size >= EARLY_SYNC_BYTES ? this.earlySync(fh) : undefined;
    if (!synced) await fh?.close();
    if (actual !== digest || (expectedSize !== undefined && size !== expectedSize)) {
      await synced?.catch(() => undefined);
      await rm(tmp, { force: true });
      throw mismatch(digest, actual, size, expectedSize);
    }
    const existing = fh ? await this.stat(digest) : present;
    if (existing && existing.size === size) {
      await synced?.catch(() => undefined);
      if (fh) await rm(tmp, { force: true });
      await this.touch(digest);
      return { size, created: false };
    }
    // Once renamed the blob is visible to commits; flush() waits for renames in flight so a
    // commit can never see a blob that its flush does not cover.
    const placing = (async () => {
      try {
        await rename(tmp, final);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        await mkdir(dirname(final), { recursive: true, mode: 0o700 });
        await rename(tmp, final);
      }
      if (synced) this.syncingFiles.set(final, synced);
      else this.unsynced.add(final);
      this.unsyncedDirs.add(dirname(final));
      this.notePlaced(final, size);
    })();
    this.placing.add(placing);
    try {
      await placing;
    } finally {
      this.placing.delete(placing);
    }
    return { size, created: true };
  }

  /** fsyncs and closes `fh` in the background (a few at a time: fsyncs hold thread-pool threads). */
  private earlySync(fh: FileHandle): Promise<void> {
    const p = this.earlySyncs.run(() => fh.sync()).finally(() => fh.close());
    p.catch(() => undefined); // a failure is reported by the flush that awaits it
    return p;
  }

  /**
   * Small blobs (size known from Content-Length, at most SMALL_BLOB_BYTES): collect the bytes,
   * verify, then write + rename with plain syscalls — a few microseconds each, where the async
   * path costs several thread-pool round trips per file.
   */
  private async putSmall(
    digest: string,
    body: Readable,
    expectedSize: number,
    present: { size: number } | undefined,
  ): Promise<{ size: number; created: boolean }> {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        if (size <= expectedSize) chunks.push(chunk);
      }
    } catch (e) {
      throw new AmphoraError('invalid_request', `Upload of blob ${digest} was interrupted after ${size} bytes (${(e as Error).message}); upload it again.`);
    }
    const actual = hash.digest('hex');
    if (actual !== digest || size !== expectedSize) throw mismatch(digest, actual, size, expectedSize);
    return this.place(digest, Buffer.concat(chunks, size), present);
  }

  /**
   * Stores bytes in hand (one blob of a batch upload) after verifying their digest. `knownAbsent`
   * (the batch looked every blob up at once): when this process is the folder's only writer, a
   * blob can only have appeared since through this process, which tracks what it placed, so no
   * stat is needed (10,000 small blobs: 10,000 stats fewer).
   */
  async putBytes(digest: string, bytes: Buffer, opts: { knownAbsent?: boolean } = {}): Promise<{ size: number; created: boolean }> {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== digest) throw mismatch(digest, actual, bytes.length, bytes.length);
    try {
      return await this.place(digest, bytes, this.sole && opts.knownAbsent ? this.placedHere(digest, bytes.length) : await this.stat(digest));
    } catch (e) {
      throw diskFullOr(e, digest);
    }
  }

  private notePlaced(file: string, size: number): void {
    if (!this.sole) return;
    this.placedStats.set(file, { size, mtimeMs: Date.now() });
    if (this.placedStats.size > PLACED_MEMORY) this.placedStats.delete(this.placedStats.keys().next().value!);
  }

  /** A blob this process placed (unsynced, syncing or synced) since it started, or packed, as `stat` would see it. */
  private placedHere(digest: string, size: number): { size: number } | undefined {
    const packed = this.packs.get(digest);
    if (packed) return { size: packed.size };
    const p = this.pathOf(digest);
    return this.unsynced.has(p) || this.syncingFiles.has(p) || this.durable.has(p) ? { size } : undefined;
  }

  /** Writes verified bytes to a temp file and renames it into place with plain syscalls. */
  private async place(digest: string, bytes: Buffer, present: { size: number } | undefined): Promise<{ size: number; created: boolean }> {
    const size = bytes.length;
    if (present && present.size === size) {
      await this.touch(digest);
      return { size, created: false };
    }
    const final = this.pathOf(digest);
    const tmp = this.tempName(digest);
    try {
      writeFileSync(tmp, bytes, { mode: 0o600 });
      try {
        renameSync(tmp, final);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        mkdirSync(dirname(final), { recursive: true, mode: 0o700 });
        renameSync(tmp, final);
      }
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
    this.unsynced.add(final);
    this.unsyncedDirs.add(dirname(final));
    this.notePlaced(final, size);
    return { size, created: true };
  }

  /**
   * Verifies a batch upload's small blobs and writes them as one pack (one file created instead
   * of one per blob). Durable, like any blob, after the next flush.
   */
  async putPack(blobs: { digest: string; bytes: Buffer }[]): Promise<{ stored: { digest: string; size: number; created: boolean }[]; failed: { digest: string; actual: string }[] }> {
    if (!this.sole) throw new Error('putPack: only the sole user of a blob folder writes packs (packMaxBlobBytes is 0)');
    const { good, failed } = verifyPackBlobs(blobs, PACK_MAX_BLOB_BYTES);
    if (!good.size) return { stored: [], failed };
    let written;
    try {
      written = this.packs.write(good);
    } catch (e) {
      throw diskFullOr(e);
    }
    this.unsynced.add(written.file);
    this.unsyncedDirs.add(this.packs.dir);
    return { stored: [...good].map(([digest, bytes]) => ({ digest, size: bytes.length, created: written.created.get(digest) ?? false })), failed };
  }

  async readBytes(digest: string): Promise<Buffer> {
    // Plain syscall: for the small blobs of a batch this is far cheaper than a stream per file.
    return this.packs.read(digest) ?? readFileSync(this.pathOf(digest));
  }

  /** Small blobs in the order asked, a window at a time; each pack is opened once per window. */
  async *readMany(blobs: { digest: string; size: number }[]): AsyncIterable<Buffer> {
    for (const w of windows(blobs, READ_WINDOW_BYTES)) yield* this.packs.readMany(w.map((b) => b.digest), (d) => readFileSync(this.pathOf(d)));
  }

  read(digest: string, range?: { start: number; end: number }): Readable {
    const packed = this.packs.openFor(digest);
    if (packed) {
      const start = packed.offset + (range?.start ?? 0);
      const end = packed.offset + (range ? range.end : packed.size - 1);
      if (end < start) {
        closeSync(packed.fd);
        return Readable.from([]);
      }
      return createReadStream('', { fd: packed.fd, start, end, highWaterMark: 1 << 20 });
    }
    // 1 MiB reads: a sixteenth of the read calls and socket writes of the 64 KiB default.
    return createReadStream(this.pathOf(digest), { highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async flush(digests: string[] = []): Promise<void> {
    await Promise.allSettled([...this.placing]);
    const files = [...this.unsynced];
    const dirs = [...this.unsyncedDirs];
    // Blobs a commit names that this process never wrote nor synced: another replica wrote them
    // into the shared folder (its own flush may not have run yet), or a previous run of this
    // server did before it was killed. The page cache holding them is no promise of the disk.
    const named = new Set<string>();
    for (const d of digests) {
      const p = this.packs.get(d)?.pack.file ?? this.pathOf(d);
      if (this.durable.has(p) || this.unsynced.has(p) || this.syncingFiles.has(p) || named.has(p)) continue;
      named.add(p);
      files.push(p);
      dirs.push(dirname(p));
    }
    const early = [...this.syncingFiles];
    this.unsynced.clear();
    this.unsyncedDirs.clear();
    this.syncingFiles.clear();
    // An early fsync that failed is retried below as an ordinary one.
    for (const [file, p] of early) await p.catch(() => files.push(file));
    // A concurrent flush may have taken our blobs into its batch: wait for it too.
    const earlier = this.syncing;
    const mine = (async () => {
      // Many small blobs: one syncfs(2) of the blob file system is ~20× faster than an fsync
      // per file and per folder (10,000 × 4 KiB: ~130 ms instead of ~3 s here).
      if (files.length >= SYNCFS_THRESHOLD && (await syncFileSystem(this.root))) return;
      await syncAll(files);
      await syncAll(dirs);
    })();
    this.syncing = Promise.all([earlier, mine]).then(
      () => undefined,
      () => undefined,
    );
    try {
      await Promise.all([earlier, mine]);
      if (this.durable.size + files.length > DURABLE_MEMORY) this.durable.clear();
      for (const f of files) this.durable.add(f);
      for (const [f] of early) this.durable.add(f);
    } catch (e) {
      // Keep them queued so the next flush tries again; the commit that needed them fails.
      for (const f of files) this.unsynced.add(f);
      for (const d of dirs) this.unsyncedDirs.add(d);
      throw diskFullOr(e);
    }
  }

  async touch(digest: string): Promise<void> {
    if (await this.packs.touch(digest)) return;
    const now = new Date();
    const p = this.pathOf(digest);
    await utimes(p, now, now).catch(() => undefined);
    const known = this.placedStats.get(p);
    if (known) known.mtimeMs = now.getTime();
  }

  async *list(): AsyncIterable<{ digest: string; size: number; mtimeMs: number }> {
    // Replicas sharing the folder never reclaim packed blobs: each would keep its own idea of
    // which are live, so one could delete a pack another still serves.
    if (this.sole) yield* this.packs.list();
    const base = join(this.root, 'sha256');
    for (const prefix of await readdir(base).catch(() => [] as string[])) {
      for (const name of await readdir(join(base, prefix)).catch(() => [] as string[])) {
        if (!HEX64.test(name)) continue;
        const s = await stat(join(base, prefix, name)).catch(() => undefined);
        if (s) yield { digest: name, size: s.size, mtimeMs: s.mtimeMs };
      }
    }
  }

  async remove(digest: string): Promise<void> {
    if (this.sole && this.packs.forget(digest)) return;
    const p = this.pathOf(digest);
    this.unsynced.delete(p);
    this.placedStats.delete(p);
    this.durable.delete(p);
    this.syncingFiles.delete(p);
    await rm(p, { force: true });
  }

  /** End of a GC sweep: deletes packs with no blob left, rewrites old ones that are mostly garbage (sole user only). */
  async compactPacks(_db: unknown, olderThanMs: number): Promise<{ deleted: number; rewritten: number; bytesReclaimed: number }> {
    if (!this.sole) return { deleted: 0, rewritten: 0, bytesReclaimed: 0 };
    return this.packs.compact(olderThanMs, async (file, dir) => {
      await syncAll([file]);
      await syncAll([dir]);
      this.durable.add(file);
    });
  }

  async removeStaleTemp(olderThanMs: number): Promise<number> {
    let n = 0;
    const cutoff = Date.now() - olderThanMs;
    for (const name of await readdir(this.tmpDir).catch(() => [] as string[])) {
      const p = join(this.tmpDir, name);
      const s = await stat(p).catch(() => undefined);
      if (s && s.mtimeMs < cutoff) {
        await rm(p, { force: true });
        n++;
      }
    }
    return n;
  }
}

/** syncfs(2) through coreutils `sync -f` (Linux). False when unavailable, so the caller fsyncs per file. */
function syncFileSystem(path: string): Promise<boolean> {
  if (process.platform !== 'linux') return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile('sync', ['-f', path], { timeout: 120_000 }, (err) => resolve(!err));
  });
}


async function syncAll(paths: string[]): Promise<void> {
  await mapPool(paths, SYNC_PARALLELISM, async (p) => {
    let fh;
    try {
      fh = await open(p, 'r');
    } catch {
      return; // removed meanwhile (GC of a never-committed blob)
    }
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
}

/** ENOSPC / EDQUOT: the blob file system (or the user's quota) is full. */
function isDiskFull(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** A full disk becomes a 507 that says so (nothing was stored); any other error passes through. */
function diskFullOr(e: unknown, digest?: string): unknown {
  if (!isDiskFull(e)) return e;
  return new AmphoraError(
    'insufficient_storage',
    `The server's disk is full${digest ? ` (while storing blob ${digest})` : ''}; nothing was stored. ` +
      'Free space on the server (e.g. `amphora gc` removes unreferenced blobs) and upload again.',
  );
}

function mismatch(digest: string, actual: string, size: number, expectedSize: number | undefined): AmphoraError {
  return new AmphoraError(
    'digest_mismatch',
    actual !== digest
      ? `The uploaded bytes hash to ${actual}, not ${digest}; nothing was stored. Re-hash the file and upload it again.`
      : `The upload has ${size} bytes but the request announced ${expectedSize}; nothing was stored. Upload the whole file again.`,
    { expected: digest, actual, size },
  );
}
