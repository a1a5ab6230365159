/**
 * The client's content-addressed download cache: small blobs (≤ 1 MiB) that were copied in go into
 * packs, <cacheDir>/packs/<32 hex>.pack (see cachePacks.ts); large ones, and small ones hard-linked
 * under the immutable policy, are files <cacheDir>/blobs/sha256/<2 hex>/<64 hex>. Every read
 * verifies SHA-256 (a corrupted blob is deleted, with its whole pack, and reported as missing); no
 * write leaves a torn blob that a read would trust.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import { copyFile, constants as fsc, lstat, mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { requireBlobDigest } from '../core/node/received.js';
import { hashIntoFile, writevFully } from '../core/node/hashedWrite.js';
import { AmphoraError } from '../core/errors.js';
import { CachePacks, PACK_NAME, PACKED_BLOB_MAX } from './cachePacks.js';

const SMALL = 512 * 1024;
const COPY_CHUNK = 4 << 20;
/** copyFile errors that mean "this file system (pair) cannot clone", not a failed copy. */
const NO_CLONE = new Set(['ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EINVAL', 'ENOSYS', 'ENOTTY', 'EBADF']);
/** A pack's temp file older than this was left by a crash (see BlobCache.cleanup). */
const STALE_PACK_TMP_MS = 3600_000;
/** A shard folder is listed (BlobCache.absent) when at least this many wanted blobs fall in it. */
const ABSENT_LISTING_MIN = 8;

/**
 * Writes a download to `file` (and to `copy`, an open file the caller owns, when given) while
 * hashing it (gathered into ~4 MiB writes, see hashIntoFile). Throws digest_mismatch (the caller
 * removes the files) when the bytes do not hash to `digest`.
 */
export async function streamVerified(source: Readable, file: string, digest: string, size: number, what: string, exclusive: boolean, onBytes?: (n: number) => void, copy?: FileHandle): Promise<Stats> {
  const fh = await open(file, exclusive ? 'wx' : 'w');
  try {
    const got = await hashIntoFile(source as AsyncIterable<Buffer>, copy ? [fh, copy] : fh, (chunk, received) => {
      // Stop at the first byte past the manifest's size: a server cannot fill the disk.
      if (received > size) throw sizeMismatch(what, `more than the ${size} bytes`);
      onBytes?.(chunk.length);
    });
    if (got.size !== size) throw sizeMismatch(what, `${got.size} bytes instead of the ${size}`);
    if (got.digest !== digest) {
      throw new AmphoraError('digest_mismatch', `Downloaded bytes of ${what} have SHA-256 ${got.digest}, expected ${digest}; nothing was saved. Retry; if it persists the server's copy is damaged.`);
    }
    return await fh.stat();
  } finally {
    await fh.close();
  }
}

/** Throws digest_mismatch unless downloaded `bytes` hash to `digest`. */
export function verifyBytes(bytes: Buffer, digest: string, what: string): void {
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== digest) {
    throw new AmphoraError('digest_mismatch', `Downloaded bytes of ${what} have SHA-256 ${got}, expected ${digest}; nothing was saved. Retry; if it persists the server's copy is damaged.`);
  }
}

function sizeMismatch(what: string, got: string): AmphoraError {
  return new AmphoraError('digest_mismatch', `The server sent ${got} the manifest lists for ${what}; nothing was saved. Retry; if it persists the server's copy or its manifest is damaged.`);
}


/**
 * Makes a blob at its cache path with `create`, an exclusive create (a new file, or a hard link).
 * A regular file already there is left alone (a concurrent writer stored the same bytes; a torn
 * one fails the read-time check and is fetched again) and false returned; anything else there (a
 * dangling symlink, say) is replaced, so it cannot keep the blob out of the cache.
 */
function createAtBlobPath(target: string, create: () => void): boolean {
  try {
    create();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const there = lstatSync(target, { throwIfNoEntry: false });
    if (!there || there.isFile()) return false;
    unlinkSync(target);
    create();
  }
  return true;
}

/** Writes a blob's verified bytes at its cache path (see createAtBlobPath). */
function createBlobFile(target: string, bytes: Buffer): void {
  createAtBlobPath(target, () => writeFileSync(target, bytes, { flag: 'wx' }));
}

/** Hard-links `file` at a blob's cache path (see createAtBlobPath); false when the blob was there. */
function linkBlob(file: string, target: string): boolean {
  return createAtBlobPath(target, () => linkSync(file, target));
}

/**
 * Writes verified bytes in hand to `dest` with plain syscalls (small blobs: an async call per file
 * costs a thread-pool round trip) and returns the stats of the file now at `dest`: created
 * exclusively when `direct` (a private folder nobody else sees yet), else via a temp file + rename.
 */
export function writeVerifiedBytes(bytes: Buffer, dest: string, direct: boolean): Stats {
  if (direct) return writeSmall(bytes, dest, true);
  const tmp = tempName(dest);
  try {
    writeSmall(bytes, tmp, true);
    renameSync(tmp, dest);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* never made */
    }
    throw e;
  }
  // The rename moved ctime, which the stat cache keys on.
  return statSync(dest);
}

/** One buffer for every small blob read: copySmall reads, hashes and writes it without yielding. */
let smallScratch: Buffer | undefined;

/**
 * The bytes of a cached small blob that should hold `size` bytes, in a buffer valid until the next
 * call: no allocation and no fstat per file (a cached get of 10,000 files reads 10,000). null when
 * it cannot be opened (absent), undefined when it holds another number of bytes (one more is
 * asked for, so a longer file shows).
 */
function readSmallBlob(src: string, size: number): Buffer | null | undefined {
  const scratch = (smallScratch ??= Buffer.allocUnsafe(SMALL + 1));
  let fd: number;
  try {
    fd = openSync(src, 'r');
  } catch {
    return null;
  }
  try {
    let got = 0;
    for (;;) {
      const n = readSync(fd, scratch, got, size + 1 - got, null);
      if (n === 0) break;
      got += n;
      if (got > size) return undefined;
    }
    return got === size ? scratch.subarray(0, size) : undefined;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

function writeSmall(bytes: Buffer, target: string, exclusive: boolean): Stats {
  const fd = openSync(target, exclusive ? 'wx' : 'w');
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    return fstatSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function tempName(target: string): string {
  return `${target}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`;
}

/** A transform that hashes what passes through it. */
export class HashingStream extends Transform {
  private readonly h = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.h.update(chunk);
    this.bytes += chunk.length;
    this.push(chunk);
    cb();
  }
  digest(): string {
    return this.h.digest('hex');
  }
}

/**
 * Copies `file` to `target` in the kernel (a reflink where the file system can) through a temp
 * file + rename. Best effort: the cache is an optimisation, so a failed copy leaves no temp file
 * and no error behind.
 */
async function copyIntoPlace(file: string, target: string): Promise<void> {
  const tmp = tempName(target);
  try {
    await copyFile(file, tmp, fsc.COPYFILE_FICLONE);
    await rename(tmp, target);
  } catch {
    await unlink(tmp).catch(() => {});
  }
}

export class BlobCache {
  readonly root: string;
  private readonly made = new Set<string>();
  /** Blobs found corrupted and dropped (tests observe this). */
  corrupted = 0;
  /** See absent(); tests lower it to list shards holding few blobs. */
  listShardsFrom = ABSENT_LISTING_MIN;
  /** Small blobs written from bytes in hand; callers settle() them at the end of each operation. */
  readonly packs: CachePacks;

  constructor(readonly cacheDir: string) {
    this.root = join(cacheDir, 'blobs', 'sha256');
    this.packs = new CachePacks(cacheDir);
  }

  /** End of a put or download: writes the small blobs it cached as one pack (best effort). */
  settle(): void {
    this.packs.settle();
  }

  /**
   * `cachedBlobPath` by concatenation onto the root joined once: a download of 10,000 small files
   * asks for ~20,000 paths, and path.join's normalising was ~50 ms of a cached get's CPU.
   */
  path(digest: string): string {
    requireBlobDigest(digest, 'a cache entry');
    return `${this.root}${sep}${digest.slice(0, 2)}${sep}${digest}`;
  }

  private async ensureDir(dir: string) {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  /** ensureDir with a plain syscall, for the synchronous small-blob paths. */
  private ensureDirSync(dir: string) {
    if (this.made.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    this.made.add(dir);
  }

  /**
   * Adds a local file the producer just logged. It is hard-linked when `link` (the producer's
   * promise not to change it, see CachePolicy) or when it is read-only: no second write, no extra
   * disk. Otherwise (or where the file system refuses the link) it is reflinked or copied, so a
   * user appending to it later never changes the cached blob. An existing blob is left alone.
   */
  async adopt(file: string, digest: string, link = false): Promise<void> {
    const target = this.path(digest);
    await this.ensureDir(dirname(target));
    try {
      // lstat: a symlink (mode 0777) is copied, since link(2) would link the symlink itself.
      if (link || ((await lstat(file)).mode & 0o222) === 0) {
        // One plain syscall: no thread-pool round trip.
        linkBlob(file, target);
        return;
      }
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
    }
    try {
      await stat(target);
      return;
    } catch {
      /* absent: copy */
    }
    await copyIntoPlace(file, target);
  }

  /**
   * Adds a small file the producer just hashed: a hard link to it when `link` (see adopt), else,
   * or where the file system refuses the link (another device, fs.protected_hardlinks), a new
   * blob from the bytes in hand. Returns whether it linked: the link moved the file's ctime.
   */
  adoptSmall(file: string, bytes: Buffer, digest: string, link: boolean): boolean {
    if (link) {
      const target = this.path(digest);
      try {
        this.ensureDirSync(dirname(target));
        return linkBlob(file, target); // false: cached already
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false; // cached meanwhile
        // Any other refusal (or a shard folder deleted meanwhile): the copy below, as for a mutable file.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') this.made.delete(dirname(target));
      }
    }
    this.adoptBytes(bytes, digest);
    return false;
  }

  /**
   * Opens a temp file next to `target` in the cache. The cache folder may be deleted while a
   * download runs (`amphora cache cleanup`, `rm -rf ~/.cache/amphora`): its folders are then made
   * again, and a second disappearance is a clear error instead of a raw ENOENT.
   */
  private async openTemp(target: string): Promise<{ tmp: string; fh: FileHandle }> {
    const dir = dirname(target);
    await this.ensureDir(dir);
    for (let attempt = 0; ; attempt++) {
      const tmp = tempName(target);
      try {
        return { tmp, fh: await open(tmp, 'wx') };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        if (attempt > 0) throw this.vanished(e);
        this.made.delete(dir);
        await this.ensureDir(dir);
      }
    }
  }

  /** Renames a finished temp file onto its digest name (re-making the folder once if it vanished). */
  private async publish(tmp: string, target: string): Promise<void> {
    try {
      await rename(tmp, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      throw this.vanished(e);
    }
  }

  private vanished(e: unknown): AmphoraError {
    return new AmphoraError(
      'internal',
      `The download cache ${this.cacheDir} was deleted while a download was writing to it (${(e as NodeJS.ErrnoException).code}); nothing was written to the download folder. Run the download again (and avoid removing the cache during downloads).`,
    );
  }

  /** Stores a stream under its digest, verifying the bytes; throws digest_mismatch otherwise. */
  async storeStream(source: Readable, digest: string, size: number, what: string, onBytes?: (n: number) => void): Promise<string> {
    const target = this.path(digest);
    const { tmp, fh } = await this.openTemp(target);
    await fh.close();
    try {
      await streamVerified(source, tmp, digest, size, what, false, onBytes);
      await this.publish(tmp, target);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw this.vanished(e);
      throw e;
    }
    return target;
  }

  /**
   * Streams a download to `dest` (created exclusively: a private folder nobody sees yet) and, from
   * the same buffers, to the cache (temp + rename once verified). Where files cannot be cloned this
   * beats writing `dest` and then copying it into the cache in the kernel: copy_file_range costs
   * ~2.5× the CPU of writing bytes already in hand (ext4 here, 64 MiB: 0.15 s vs 0.06 s). The cache
   * stays best effort: a cache that cannot take the copy leaves the download to `dest` alone.
   * Returns the stats of `dest`; on failure `dest` is the caller's to remove, the cache copy is gone.
   */
  async streamToAndStore(source: Readable, dest: string, digest: string, size: number, what: string, onBytes?: (n: number) => void): Promise<Stats> {
    const target = this.path(digest);
    const temp = await this.openTemp(target).catch(() => undefined);
    if (!temp) return streamVerified(source, dest, digest, size, what, true, onBytes);
    let published = false;
    try {
      const st = await streamVerified(source, dest, digest, size, what, true, onBytes, temp.fh);
      await temp.fh.close();
      published = await this.publish(temp.tmp, target).then(
        () => true,
        () => false,
      );
      return st;
    } finally {
      await temp.fh.close().catch(() => undefined);
      if (!published) await unlink(temp.tmp).catch(() => {});
    }
  }

  /**
   * Adds a file whose bytes were just verified against `digest` (a download written straight to
   * its destination) as a kernel-side copy (reflink where the file system can), via temp + rename.
   * A copy, not a hard link: editing the downloaded file must not touch the cache.
   */
  async adoptCopy(file: string, digest: string): Promise<void> {
    const target = this.path(digest);
    await this.ensureDir(dirname(target));
    await copyIntoPlace(file, target);
  }

  /**
   * Adds the bytes of a small file the producer just hashed, from memory: no second open and read
   * of the user's file, no thread-pool round trips (a first put of 10,000 small files adopts
   * 10,000). `digest` is the hash of exactly these bytes. Best effort, like adopt(): a cache that
   * cannot take them costs a later download, never the put.
   *
   * Up to 1 MiB they are held for the operation's pack (see settle). A larger blob is written in
   * place with an exclusive create, not through a temp file: one file call instead of an exists
   * check, a create and a rename. A blob torn by a crash mid-write is safe: every read of the
   * cache re-checks the hash (here and in the Python client) and drops a bad copy.
   */
  adoptBytes(bytes: Buffer, digest: string): void {
    if (bytes.length <= PACKED_BLOB_MAX) return this.packs.add(digest, bytes);
    const target = this.path(digest);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        // One mkdir per shard per process, before the create: a create that fails on a missing
        // folder costs a second create.
        this.ensureDirSync(dirname(target));
        createBlobFile(target, bytes);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // Created, then the write failed: leave no torn blob behind.
        if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EFBIG') {
          try {
            unlinkSync(target);
          } catch {
            // a reader dropped it already
          }
        }
        // EEXIST: already cached. ENOENT: the shard folder was deleted meanwhile (made again, once).
        if (code !== 'ENOENT' || attempt > 0) return;
        this.made.delete(dirname(target));
      }
    }
  }

  /** Stores bytes in hand under their digest, verified: a small blob into the next pack, a larger one as a file. */
  async storeBytes(bytes: Buffer, digest: string, what: string): Promise<void> {
    verifyBytes(bytes, digest, what);
    if (bytes.length <= PACKED_BLOB_MAX) return this.packs.add(digest, bytes);
    const target = this.path(digest);
    await this.ensureDir(dirname(target));
    // Plain syscalls: batch downloads store thousands of small blobs (see copySmall). One
    // exclusive create, as in adoptBytes: reads re-check every blob, so no temp file + rename.
    for (let attempt = 0; ; attempt++) {
      try {
        createBlobFile(target, bytes);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') {
          // Created, then the write failed: leave no torn blob behind.
          if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO' || code === 'EFBIG') await unlink(target).catch(() => {});
          throw e;
        }
        if (attempt > 0) throw this.vanished(e);
        // The cache folder was deleted meanwhile: make it again, once.
        this.made.delete(dirname(target));
        await this.ensureDir(dirname(target));
      }
    }
  }

  /**
   * Of `digests`, those certainly not cached, learnt by listing their shard folders instead of
   * one failed open per blob. Only shards holding several of them are listed (a listing costs as
   * much as a few opens on a large cache); blobs in the other shards are not reported, so callers
   * still try those and fall back when they are missing. When the first shard listed holds every
   * blob wanted from it, the rest are taken as cached too: a download of a cached version lists
   * one folder, not 256, and a blob that is missing after all costs one failed open. Packed blobs
   * are never absent (their pack's index says so without a syscall).
   */
  absent(digests: Iterable<string>): Set<string> {
    const byShard = new Map<string, string[]>();
    for (const d of digests) {
      if (this.packs.has(d)) continue;
      const shard = dirname(this.path(d));
      let list = byShard.get(shard);
      if (!list) byShard.set(shard, (list = []));
      list.push(d);
    }
    const out = new Set<string>();
    let listed = 0;
    for (const [shard, wanted] of byShard) {
      if (wanted.length < this.listShardsFrom) continue;
      let names: Set<string>;
      try {
        names = new Set(readdirSync(shard));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') continue;
        names = new Set();
      }
      const before = out.size;
      for (const d of wanted) if (!names.has(d)) out.add(d);
      if (++listed === 1 && out.size === before) break;
    }
    return out;
  }

  /**
   * Copies a cached blob to `dest` (temp + rename), verifying SHA-256 on the way. Returns false
   * when the blob is absent or corrupted (a corrupted blob is deleted so it is fetched again).
   */
  async materialize(digest: string, size: number, dest: string): Promise<boolean> {
    return (await this.copyOut(digest, size, dest)) !== undefined;
  }

  /**
   * Copies a cached blob to `dest` in one read pass: the bytes that are hashed are the bytes that
   * are written, so what lands in `dest` is exactly what verified. Goes through a temp file +
   * rename, unless `direct` (the caller owns a fresh private folder nobody else sees yet; then
   * `dest` is created exclusively). Returns the written file's stats, or undefined when the blob
   * is absent or corrupted (a corrupted blob is deleted so it is fetched again).
   */
  async copyOut(digest: string, size: number, dest: string, direct = false): Promise<Stats | undefined> {
    const target = direct ? dest : tempName(dest);
    try {
      const st =
        (size <= PACKED_BLOB_MAX ? this.copyPacked(digest, size, target, direct) : undefined) ??
        (size <= SMALL ? this.copySmall(this.path(digest), digest, size, target, direct) : await this.copyLarge(this.path(digest), digest, size, target, direct));
      if (st && !direct) await rename(target, dest);
      return st;
    } catch (e) {
      await unlink(target).catch(() => {});
      throw e;
    }
  }

  /**
   * A packed blob (see copySmall), or undefined when no pack holds it or its bytes fail their
   * digest: then its pack is deleted, and the caller looks for a file of it before fetching it.
   */
  private copyPacked(digest: string, size: number, target: string, exclusive: boolean): Stats | undefined {
    const bytes = this.readPacked(digest);
    // The right blob, but a manifest (a server's word) giving it another size: not the pack's
    // fault, so it stays; the fetch that follows refuses bytes of the wrong size.
    if (!bytes || bytes.length !== size) return undefined;
    return writeSmall(bytes, target, exclusive);
  }

  /** A packed blob's bytes once they verify (valid until the next read); a blob that fails deletes its pack. */
  private readPacked(digest: string): Buffer | undefined {
    const bytes = this.packs.read(digest);
    if (!bytes) return undefined;
    if (createHash('sha256').update(bytes).digest('hex') === digest) return bytes;
    this.corrupted++;
    this.packs.drop(digest);
    return undefined;
  }

  /**
   * Small blobs with plain syscalls: a few microseconds each, where every async fs call costs a
   * thread-pool round trip (10,000 files: several seconds of round trips).
   */
  private copySmall(src: string, digest: string, size: number, target: string, exclusive: boolean): Stats | undefined {
    const buf = readSmallBlob(src, size);
    if (buf === null) return undefined;
    if (buf === undefined || createHash('sha256').update(buf).digest('hex') !== digest) {
      this.dropSync(src);
      return undefined;
    }
    return writeSmall(buf, target, exclusive);
  }

  /**
   * Whether this cache's file system clones files (reflinks, e.g. btrfs, XFS): learnt from the
   * first large copy out of the cache. Until known, downloads write their cache copy themselves.
   */
  clones: boolean | undefined;

  /**
   * Large blobs: a clone where the file system has them (no bytes copied; then the clone itself
   * is hashed, so what is checked is what landed). Elsewhere one pass in user space: each 4 MiB
   * read is hashed and written from the same buffer while the next one is read. That costs about
   * 0.7× the CPU of a kernel copy (copy_file_range) plus a read back of the copy, and half the
   * wall time, on ext4 here (bench/transfer.ts, get cached into a new root).
   */
  private async copyLarge(src: string, digest: string, size: number, target: string, exclusive: boolean): Promise<Stats | undefined> {
    try {
      if ((await stat(src)).size !== size) {
        await this.drop(src);
        return undefined;
      }
    } catch {
      return undefined;
    }
    if (this.clones !== false) {
      try {
        await copyFile(src, target, fsc.COPYFILE_FICLONE_FORCE | (exclusive ? fsc.COPYFILE_EXCL : 0));
        this.clones = true;
        return await this.verifyCopy(src, digest, size, target);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        // The blob vanished between stat and copy (a cleanup): absent, like a failed open.
        if (code === 'ENOENT' && !(await stat(src).catch(() => undefined))) return undefined;
        if (!code || !NO_CLONE.has(code)) throw e;
        // Another file system (EXDEV) says nothing about this one's clones: try again next time.
        if (code !== 'EXDEV') this.clones = false;
      }
    }
    return this.readHashWrite(src, digest, size, target, exclusive);
  }

  /** Hashes a clone of a cached blob; drops both when it does not verify. */
  private async verifyCopy(src: string, digest: string, size: number, target: string): Promise<Stats | undefined> {
    const out = await open(target, 'r');
    try {
      const h = createHash('sha256');
      const buf = Buffer.allocUnsafe(COPY_CHUNK);
      for (;;) {
        const { bytesRead } = await out.read(buf, 0, buf.length, null);
        if (!bytesRead) break;
        h.update(buf.subarray(0, bytesRead));
      }
      const st = await out.stat();
      if (h.digest('hex') === digest && st.size === size) return st;
    } finally {
      await out.close();
    }
    await this.drop(src);
    await unlink(target).catch(() => {});
    return undefined;
  }

  /**
   * Copies a cached blob through two alternating buffers: the bytes hashed are the bytes written.
   * A blob that does not verify (or changed size meanwhile) is dropped and `target` removed.
   */
  private async readHashWrite(src: string, digest: string, size: number, target: string, exclusive: boolean): Promise<Stats | undefined> {
    let input: FileHandle;
    try {
      input = await open(src, 'r');
    } catch {
      return undefined;
    }
    let st: Stats | undefined;
    try {
      const out = await open(target, exclusive ? 'wx' : 'w');
      let writing: Promise<unknown> = Promise.resolve();
      try {
        const h = createHash('sha256');
        const bufs = [Buffer.allocUnsafe(COPY_CHUNK), Buffer.allocUnsafe(COPY_CHUNK)];
        let total = 0;
        for (let i = 0; total <= size; i++) {
          const buf = bufs[i & 1];
          const { bytesRead } = await input.read(buf, 0, buf.length, null);
          if (!bytesRead) break;
          total += bytesRead;
          h.update(buf.subarray(0, bytesRead));
          await writing;
          writing = writevFully(out, [buf.subarray(0, bytesRead)]);
        }
        await writing;
        if (total === size && h.digest('hex') === digest) st = await out.stat();
      } finally {
        await writing.catch(() => undefined); // a failed read: let the write in flight finish first
        await out.close();
        if (!st) await unlink(target).catch(() => {});
      }
    } finally {
      await input.close();
    }
    if (st) return st;
    await this.drop(src);
    return undefined;
  }

  /** True when the blob is cached and its bytes verify. */
  async verify(digest: string): Promise<boolean> {
    if (this.readPacked(digest)) return true;
    const src = this.path(digest);
    try {
      const fh = await open(src, 'r');
      try {
        const h = createHash('sha256');
        const buf = Buffer.allocUnsafe(1 << 20);
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (!bytesRead) break;
          h.update(buf.subarray(0, bytesRead));
        }
        if (h.digest('hex') === digest) return true;
      } finally {
        await fh.close();
      }
    } catch {
      return false;
    }
    await this.drop(src);
    return false;
  }

  private async drop(src: string) {
    this.corrupted++;
    await unlink(src).catch(() => {});
  }

  private dropSync(src: string) {
    this.corrupted++;
    try {
      unlinkSync(src);
    } catch {
      /* already gone */
    }
  }

  /**
   * Evicts least-recently-used blobs, packs and cached manifests until the cache holds at most
   * `maxBytes`. "Used" is the access time the kernel keeps when a file is read (relatime: at least
   * daily), so reads stay free of extra metadata writes. A pack goes whole: the blobs of one put or
   * download were written together and are mostly wanted together. The small packs that stay are
   * merged (CachePacks.consolidate).
   */
  async cleanup(maxBytes: number): Promise<{ removed: number; freedBytes: number; keptBytes: number; packsMerged: number; packsWritten: number }> {
    const files: { path: string; size: number; used: number }[] = [];
    for (const n of await readdir(this.packs.dir).catch(() => [] as string[])) {
      const p = join(this.packs.dir, n);
      const s = await lstat(p).catch(() => undefined);
      if (!s?.isFile()) continue;
      // A pack's temp file is being written (a put or download in flight) or was left by a crash:
      // removed only once it is an hour old.
      if (n.endsWith('.tmp')) {
        if (Date.now() - s.mtimeMs > STALE_PACK_TMP_MS) files.push({ path: p, size: s.size, used: 0 });
      } else if (PACK_NAME.test(n)) files.push({ path: p, size: s.size, used: Math.max(s.atimeMs, s.mtimeMs) });
    }
    for (const root of [this.root, join(this.cacheDir, 'manifests')]) {
      let shards: string[];
      try {
        shards = await readdir(root);
      } catch {
        continue;
      }
      for (const shard of shards) {
        const dir = join(root, shard);
        let names: string[];
        try {
          names = await readdir(dir);
        } catch {
          continue;
        }
        for (const n of names) {
          const p = join(dir, n);
          try {
            const s = await lstat(p);
            if (!s.isFile()) continue;
            // Stale temp files from interrupted downloads are always removed.
            files.push({ path: p, size: s.size, used: n.endsWith('.tmp') ? 0 : Math.max(s.atimeMs, s.mtimeMs) });
          } catch {
            /* vanished */
          }
        }
      }
    }
    let total = files.reduce((a, f) => a + f.size, 0);
    files.sort((a, b) => a.used - b.used);
    let removed = 0;
    let freed = 0;
    for (const f of files) {
      if (total <= maxBytes && f.used !== 0) break;
      await unlink(f.path).catch(() => {});
      total -= f.size;
      freed += f.size;
      removed++;
    }
    // What stays: many small packs (one per put or download) merged into few, so each process
    // start reads few indexes.
    const packs = this.packs.consolidate();
    return { removed, freedBytes: freed, keptBytes: total, packsMerged: packs.merged, packsWritten: packs.written };
  }
}

/** Parses "10GB", "500M", "1.5GiB", "0" into bytes. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$/i.exec(text);
  if (!m) throw new AmphoraError('invalid_request', `Invalid size "${text}": write a number with an optional unit, for example 10GB, 500MB or 0.`);
  const unit = (m[2] ?? '').toLowerCase().replace(/i?b$/, '');
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1;
  return Math.floor(Number(m[1]) * mult);
}
