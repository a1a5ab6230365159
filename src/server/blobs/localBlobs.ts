import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AmphoraError } from '../../core/errors.js';
import type { BlobStore } from './blobStore.js';

const HEX64 = /^[0-9a-f]{64}$/;
/** fsyncs run on libuv's thread pool; more in flight than its size only queues. */
const SYNC_PARALLELISM = 8;

/** Content-addressed folder: `<root>/sha256/ab/<hex>`, written through `<root>/tmp` + rename. */
export class LocalBlobStore implements BlobStore {
  private readonly unsynced = new Set<string>();
  private readonly unsyncedDirs = new Set<string>();
  private syncing: Promise<void> = Promise.resolve();

  constructor(private readonly root: string) {}

  async init(): Promise<void> {
    await mkdir(join(this.root, 'sha256'), { recursive: true });
    await mkdir(this.tmpDir, { recursive: true });
  }

  private get tmpDir(): string {
    return join(this.root, 'tmp');
  }

  pathOf(digest: string): string {
    if (!HEX64.test(digest)) throw new AmphoraError('invalid_request', `"${digest.slice(0, 80)}" is not a SHA-256 digest (64 lowercase hex characters).`);
    return join(this.root, 'sha256', digest.slice(0, 2), digest);
  }

  async stat(digest: string): Promise<{ size: number; mtimeMs: number } | undefined> {
    try {
      const s = await stat(this.pathOf(digest));
      return { size: s.size, mtimeMs: s.mtimeMs };
    } catch {
      return undefined;
    }
  }

  async put(digest: string, body: Readable, expectedSize?: number): Promise<{ size: number; created: boolean }> {
    const final = this.pathOf(digest);
    const tmp = join(this.tmpDir, `${digest.slice(0, 16)}.${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(tmp));
    } catch (e) {
      await rm(tmp, { force: true });
      throw new AmphoraError('invalid_request', `Upload of blob ${digest} was interrupted after ${size} bytes (${(e as Error).message}); upload it again.`);
    }
    const actual = hash.digest('hex');
    if (actual !== digest || (expectedSize !== undefined && size !== expectedSize)) {
      await rm(tmp, { force: true });
      throw new AmphoraError(
        'digest_mismatch',
        actual !== digest
          ? `The uploaded bytes hash to ${actual}, not ${digest}; nothing was stored. Re-hash the file and upload it again.`
          : `The upload has ${size} bytes but the request announced ${expectedSize}; nothing was stored. Upload the whole file again.`,
        { expected: digest, actual, size },
      );
    }
    const existing = await this.stat(digest);
    if (existing && existing.size === size) {
      await rm(tmp, { force: true });
      await this.touch(digest);
      return { size, created: false };
    }
    await mkdir(dirname(final), { recursive: true });
    await rename(tmp, final);
    this.unsynced.add(final);
    this.unsyncedDirs.add(dirname(final));
    return { size, created: true };
  }

  read(digest: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(digest), range ? { start: range.start, end: range.end } : undefined);
  }

  async flush(): Promise<void> {
    const files = [...this.unsynced];
    const dirs = [...this.unsyncedDirs];
    this.unsynced.clear();
    this.unsyncedDirs.clear();
    // A concurrent flush may have taken our blobs into its batch: wait for it too.
    const earlier = this.syncing;
    const mine = (async () => {
      await syncAll(files);
      await syncAll(dirs);
    })();
    this.syncing = Promise.all([earlier, mine]).then(
      () => undefined,
      () => undefined,
    );
    try {
      await Promise.all([earlier, mine]);
    } catch (e) {
      // Keep them queued so the next flush tries again; the commit that needed them fails.
      for (const f of files) this.unsynced.add(f);
      for (const d of dirs) this.unsyncedDirs.add(d);
      throw e;
    }
  }

  async touch(digest: string): Promise<void> {
    const now = new Date();
    await utimes(this.pathOf(digest), now, now).catch(() => undefined);
  }

  async *list(): AsyncIterable<{ digest: string; size: number; mtimeMs: number }> {
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
    const p = this.pathOf(digest);
    this.unsynced.delete(p);
    await rm(p, { force: true });
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

async function syncAll(paths: string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const p = paths[next++];
      let fh;
      try {
        fh = await open(p, 'r');
      } catch {
        continue; // removed meanwhile (GC of a never-committed blob)
      }
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(SYNC_PARALLELISM, paths.length) }, worker));
}
