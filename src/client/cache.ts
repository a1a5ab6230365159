/**
 * The client's content-addressed download cache: <cacheDir>/blobs/sha256/<2 hex>/<64 hex>.
 * Every read verifies SHA-256 (a corrupted blob is deleted and reported as missing); every write
 * goes through a temp file + rename so a crash never leaves a half blob under its digest name.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type Stats } from 'node:fs';
import { copyFile, constants as fsc, link, mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { cachedBlobPath } from '../core/config.js';
import { AmphoraError } from '../core/errors.js';

const SMALL = 512 * 1024;

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

export class BlobCache {
  readonly root: string;
  private readonly made = new Set<string>();
  /** Blobs found corrupted and dropped (tests observe this). */
  corrupted = 0;

  constructor(readonly cacheDir: string) {
    this.root = join(cacheDir, 'blobs', 'sha256');
  }

  path(digest: string): string {
    return cachedBlobPath(this.cacheDir, digest);
  }

  private async ensureDir(dir: string) {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  /**
   * Adds a local file the producer just logged: a hard link (free) or a copy when linking fails
   * (other device). An existing blob is left alone.
   */
  async adopt(file: string, digest: string): Promise<void> {
    const target = this.path(digest);
    await this.ensureDir(dirname(target));
    try {
      await link(file, target);
      return;
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
    const tmp = tempName(target);
    try {
      await copyFile(file, tmp, fsc.COPYFILE_FICLONE);
      await rename(tmp, target);
    } catch {
      await unlink(tmp).catch(() => {});
    }
  }

  /** Stores a stream under its digest, verifying the bytes; throws digest_mismatch otherwise. */
  async storeStream(source: Readable, digest: string, what: string): Promise<string> {
    const target = this.path(digest);
    await this.ensureDir(dirname(target));
    const tmp = tempName(target);
    const hasher = new HashingStream();
    try {
      await pipeline(source, hasher, createWriteStream(tmp));
      const got = hasher.digest();
      if (got !== digest) {
        throw new AmphoraError('digest_mismatch', `Downloaded bytes of ${what} have SHA-256 ${got}, expected ${digest}; nothing was saved. Retry; if it persists the server's copy is damaged.`);
      }
      await rename(tmp, target);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    return target;
  }

  /** Stores bytes in hand under their digest (verified; temp file + rename). */
  async storeBytes(bytes: Buffer, digest: string, what: string): Promise<void> {
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== digest) {
      throw new AmphoraError('digest_mismatch', `Downloaded bytes of ${what} have SHA-256 ${got}, expected ${digest}; nothing was saved. Retry; if it persists the server's copy is damaged.`);
    }
    const target = this.path(digest);
    await this.ensureDir(dirname(target));
    const tmp = tempName(target);
    try {
      await writeFile(tmp, bytes);
      await rename(tmp, target);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }

  /**
   * Copies a cached blob to `dest` (temp + rename), verifying SHA-256 on the way. Returns false
   * when the blob is absent or corrupted (a corrupted blob is deleted so it is fetched again).
   */
  async materialize(digest: string, size: number, dest: string): Promise<boolean> {
    const src = this.path(digest);
    const tmp = tempName(dest);
    try {
      if (size <= SMALL) {
        let buf: Buffer;
        try {
          buf = await readFile(src);
        } catch {
          return false;
        }
        if (buf.length !== size || createHash('sha256').update(buf).digest('hex') !== digest) {
          await this.drop(src);
          return false;
        }
        await writeFile(tmp, buf);
      } else {
        let st: Stats;
        try {
          st = await stat(src);
        } catch {
          return false;
        }
        if (st.size !== size) {
          await this.drop(src);
          return false;
        }
        const hasher = new HashingStream();
        await pipeline(createReadStream(src, { highWaterMark: 1 << 20 }), hasher, createWriteStream(tmp));
        if (hasher.digest() !== digest) {
          await unlink(tmp).catch(() => {});
          await this.drop(src);
          return false;
        }
      }
      await rename(tmp, dest);
      return true;
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
  }

  /** True when the blob is cached and its bytes verify. */
  async verify(digest: string): Promise<boolean> {
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

  /**
   * Evicts least-recently-used blobs until the cache holds at most `maxBytes`. "Used" is the
   * access time the kernel keeps when a blob is read (relatime: at least daily), so reads stay
   * free of extra metadata writes.
   */
  async cleanup(maxBytes: number): Promise<{ removed: number; freedBytes: number; keptBytes: number }> {
    const files: { path: string; size: number; used: number }[] = [];
    let shards: string[] = [];
    try {
      shards = await readdir(this.root);
    } catch {
      return { removed: 0, freedBytes: 0, keptBytes: 0 };
    }
    for (const shard of shards) {
      const dir = join(this.root, shard);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const n of names) {
        const p = join(dir, n);
        try {
          const s = await stat(p);
          if (!s.isFile()) continue;
          // Stale temp files from interrupted downloads are always removed.
          files.push({ path: p, size: s.size, used: n.endsWith('.tmp') ? 0 : Math.max(s.atimeMs, s.mtimeMs) });
        } catch {
          /* vanished */
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
    return { removed, freedBytes: freed, keptBytes: total };
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
