/**
 * Moving bytes: negotiate which blobs the server lacks (batches of ≤ 10,000), upload only those
 * with a bounded parallel pool, then make them durable; and fetch blobs into the local cache.
 */
import type { NegotiateResponse } from '../core/api.js';
import { AmphoraError } from '../core/errors.js';
import type { AmphoraHttp } from './http.js';
import type { Client } from './client.js';
import { mapPool, TRANSFER_CONCURRENCY } from './pool.js';
import { Limiter } from '../core/limiter.js';
import { verifyBytes } from './cache.js';

export const NEGOTIATE_BATCH = 10_000;
/** Blobs up to this size travel in batch requests (the server accepts up to 4 MiB each). */
export const BATCH_BLOB_MAX = 1 << 20;
const BATCH_FILES = 1_000;
const BATCH_BYTES = 16 << 20;

type Missing = NegotiateResponse['missing'][number];
/** Parts of one multipart upload in flight at once (on top of the blob-level pool). */
const PART_CONCURRENCY = 4;

export interface LocalBlob {
  digest: string;
  size: number;
  path: string;
  /** Bytes already read while hashing (small files only), so upload need not read again. */
  bytes?: Buffer;
}

export interface Progress {
  /** 'hash' | 'upload' | 'download' */
  phase: string;
  done: number;
  total: number;
  bytes?: number;
  totalBytes?: number;
}
export type ProgressFn = (p: Progress) => void;

/** Uploads what the server lacks; returns how many blobs and bytes were sent. */
export async function uploadMissing(client: Client, blobs: LocalBlob[], onProgress?: ProgressFn): Promise<{ uploaded: number; bytes: number }> {
  const byDigest = new Map<string, LocalBlob>();
  for (const b of blobs) byDigest.set(b.digest, b);
  const unique = [...byDigest.values()];
  const missing: Missing[] = [];
  for (let i = 0; i < unique.length; i += NEGOTIATE_BATCH) {
    const batch = unique.slice(i, i + NEGOTIATE_BATCH).map(({ digest, size }) => ({ digest, size }));
    missing.push(...(await client.http.negotiate(batch)).missing);
  }
  if (!missing.length) return { uploaded: 0, bytes: 0 };
  const totalBytes = missing.reduce((a, m) => a + m.size, 0);
  let done = 0;
  let bytes = 0;
  await mapPool(missing, TRANSFER_CONCURRENCY, async (m) => {
    const local = byDigest.get(m.digest);
    if (!local) throw new AmphoraError('internal', `The server asked for blob ${m.digest}, which this upload does not contain; retry the upload.`);
    await uploadBlob(client.http, m, local.bytes ?? local.path);
    done++;
    bytes += m.size;
    onProgress?.({ phase: 'upload', done, total: missing.length, bytes, totalBytes });
  });
  try {
    await client.http.flushBlobs();
  } catch (e) {
    // Servers that make blobs durable on upload need no flush.
    if (!(e instanceof AmphoraError && e.code === 'not_found')) throw e;
  }
  return { uploaded: missing.length, bytes };
}

/**
 * Sends one blob where the negotiation said: the server's blob route, one presigned PUT, or
 * presigned parts; bytes that went straight to storage are then confirmed (verified) by the server.
 */
export async function uploadBlob(http: AmphoraHttp, m: Missing, source: string | Buffer, onBytes?: (n: number) => void): Promise<void> {
  let parts: { number: number; etag: string }[] | undefined;
  if (m.parts) {
    const covered = m.parts.reduce((a, p) => a + p.size, 0);
    if (!m.confirm || covered !== m.size) throw new AmphoraError('internal', `The server's parts for blob ${m.digest.slice(0, 12)}… cover ${covered} of its ${m.size} bytes (or lack a confirm token); upgrade client and server to the same version.`);
    parts = await mapPool(m.parts, PART_CONCURRENCY, async (p) => {
      const etag = await http.putBlobPart(m.digest, source, p);
      onBytes?.(p.size);
      return { number: p.number, etag };
    });
  } else {
    await http.putBlob(m.digest, source, m.size, m.uploadUrl, m.headers, Boolean(m.confirm), onBytes);
  }
  if (m.confirm) await http.confirmBlobs([{ digest: m.digest, size: m.size, confirm: m.confirm, parts }]);
}

/**
 * Fetches blobs into the local cache: small ones in batch requests (≤ 1,000 blobs / 16 MiB, a few
 * in parallel), large ones streamed one per request. Every blob is verified before it is kept.
 * `onStored` receives the verified bytes of each blob that came in a batch, so the caller can write
 * its own copies without reading the cache back.
 */
export async function fetchManyToCache(
  client: Client,
  blobs: Map<string, { size: number; what: string }>,
  onBytes?: (digest: string, n: number) => void,
  onStored?: (digest: string, bytes: Buffer) => void,
  opts: { skipCache?: boolean } = {},
): Promise<void> {
  const small: string[][] = [];
  const large: string[] = [];
  let group: string[] = [];
  let groupBytes = 0;
  for (const [digest, { size }] of blobs) {
    if (size > BATCH_BLOB_MAX || !client.http.batchSupported) {
      large.push(digest);
      continue;
    }
    group.push(digest);
    groupBytes += size;
    if (group.length >= BATCH_FILES || groupBytes >= BATCH_BYTES) {
      small.push(group);
      group = [];
      groupBytes = 0;
    }
  }
  if (group.length) small.push(group);
  await mapPool(small, 4, async (digests) => {
    if (client.http.batchSupported) {
      try {
        await fetchBatch(client, digests, blobs, onStored, opts.skipCache);
        return;
      } catch (e) {
        // Not found: an older server without the route, or a blob it lacks; one request per
        // blob then names exactly what is missing.
        if (!(e instanceof AmphoraError && e.code === 'not_found')) throw e;
      }
    }
    large.push(...digests);
  });
  // With skipCache the caller streams these straight to their files (they never reach onStored).
  if (opts.skipCache) return;
  await mapPool(large, TRANSFER_CONCURRENCY, (d) => fetchToCache(client, d, blobs.get(d)!.size, blobs.get(d)!.what, onBytes && ((n) => onBytes(d, n))));
}

async function fetchBatch(client: Client, digests: string[], info: Map<string, { size: number; what: string }>, onStored?: (digest: string, bytes: Buffer) => void, skipCache = false): Promise<void> {
  const body = await client.http.getBlobBatch(digests);
  let buf: Buffer = Buffer.alloc(0);
  let i = 0;
  const take = async () => {
    while (i < digests.length && buf.length >= info.get(digests[i])!.size) {
      const d = digests[i];
      const { size, what } = info.get(d)!;
      const bytes = buf.subarray(0, size);
      if (skipCache) verifyBytes(bytes, d, what);
      else await client.blobCache.storeBytes(bytes, d, what);
      onStored?.(d, bytes);
      buf = buf.subarray(size);
      i++;
    }
  };
  for await (const chunk of body as AsyncIterable<Buffer>) {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    await take();
  }
  await take();
  if (i < digests.length) {
    throw new AmphoraError('internal', `The server's batch download ended after ${i} of ${digests.length} blobs; retry the download.`);
  }
  if (buf.length) {
    throw new AmphoraError('digest_mismatch', `The server's batch download sent ${buf.length} bytes after the last of its ${digests.length} blobs; the sizes it listed are wrong. Retry; if it persists ask the server's administrator.`);
  }
}

/** Makes sure a blob is in the local cache (fetching it when absent). */
export async function fetchToCache(client: Client, digest: string, size: number, what: string, onBytes?: (n: number) => void): Promise<void> {
  const stream = await client.http.getBlobStream(digest);
  await client.blobCache.storeStream(stream, digest, size, what, onBytes);
}


/**
 * Overlaps hashing with uploading: files are fed in as soon as they are hashed, negotiated in
 * batches (≤ 1,000 files or 64 MiB, well under the 10,000 limit) and the missing ones uploaded by
 * a bounded pool while hashing goes on. `finish()` waits for everything and makes blobs durable.
 */
export class StreamingUploader {
  private readonly seen = new Set<string>();
  private batch: LocalBlob[] = [];
  private batchBytes = 0;
  private negotiation: Promise<void> = Promise.resolve();
  private readonly uploads: Promise<void>[] = [];
  private readonly limiter = new Limiter(TRANSFER_CONCURRENCY);
  private error: { e: unknown } | undefined;
  uploaded = 0;
  uploadedBytes = 0;
  private totalMissing = 0;
  private totalMissingBytes = 0;

  constructor(
    private readonly client: Client,
    private readonly onProgress?: ProgressFn,
    private readonly maxBatch = 1_000,
    private readonly maxBatchBytes = 64 << 20,
  ) {}

  /** Bytes of small files held in memory until uploaded (bounded; beyond it upload re-reads). */
  private held = 0;
  private static readonly MAX_HELD = 128 << 20;

  add(blob: LocalBlob): void {
    if (this.seen.has(blob.digest) || this.error) return;
    this.seen.add(blob.digest);
    if (blob.bytes) {
      if (this.held + blob.bytes.length > StreamingUploader.MAX_HELD) blob.bytes = undefined;
      else this.held += blob.bytes.length;
    }
    this.batch.push(blob);
    this.batchBytes += blob.size;
    if (this.batch.length >= this.maxBatch || this.batchBytes >= this.maxBatchBytes) this.dispatch();
  }

  private dispatch(): void {
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    if (!batch.length) return;
    this.negotiation = this.negotiation.then(async () => {
      if (this.error) return;
      try {
        const byDigest = new Map(batch.map((b) => [b.digest, b]));
        const { missing } = await this.client.http.negotiate(batch.map(({ digest, size }) => ({ digest, size })));
        const wanted = new Set(missing.map((m) => m.digest));
        for (const b of batch) if (b.bytes && !wanted.has(b.digest)) this.release(b);
        this.totalMissing += missing.length;
        this.totalMissingBytes += missing.reduce((a, m) => a + m.size, 0);
        for (const m of missing) {
          const local = byDigest.get(m.digest);
          if (!local) throw new AmphoraError('internal', `The server asked for blob ${m.digest}, which this upload does not contain; retry the upload.`);
          if (m.size <= BATCH_BLOB_MAX && this.client.http.batchSupported && !m.confirm) this.queueSmall(m, local);
          else this.uploads.push(this.track(() => this.putOne(m, local)));
        }
      } catch (e) {
        this.error ??= { e };
      }
    });
  }

  private group: { m: Missing; local: LocalBlob }[] = [];
  private groupBytes = 0;

  private track(fn: () => Promise<void>): Promise<void> {
    return this.limiter
      .run(async () => {
        if (!this.error) await fn();
      })
      .catch((e: unknown) => {
        this.error ??= { e };
      });
  }

  private done(m: Missing, local: LocalBlob) {
    this.release(local);
    this.uploaded++;
    this.uploadedBytes += m.size;
    this.onProgress?.({ phase: 'upload', done: this.uploaded, total: this.totalMissing, bytes: this.uploadedBytes + this.inFlightBytes, totalBytes: this.totalMissingBytes });
  }

  /** Bytes of blobs still uploading (a large file's progress shows before it is done). */
  private inFlightBytes = 0;

  private async putOne(m: Missing, local: LocalBlob) {
    let sent = 0;
    const onBytes = (n: number) => {
      sent += n;
      this.inFlightBytes += n;
      this.onProgress?.({ phase: 'upload', done: this.uploaded, total: this.totalMissing, bytes: this.uploadedBytes + this.inFlightBytes, totalBytes: this.totalMissingBytes });
    };
    try {
      await uploadBlob(this.client.http, m, local.bytes ?? local.path, this.onProgress ? onBytes : undefined);
    } finally {
      this.inFlightBytes -= sent;
    }
    this.done(m, local);
  }

  /** Small blobs travel together: one request per ≤ 1,000 blobs / 16 MiB. */
  private queueSmall(m: Missing, local: LocalBlob) {
    this.group.push({ m, local });
    this.groupBytes += m.size;
    if (this.group.length >= BATCH_FILES || this.groupBytes >= BATCH_BYTES) this.sendGroup();
  }

  private sendGroup() {
    const g = this.group;
    this.group = [];
    this.groupBytes = 0;
    if (!g.length) return;
    this.uploads.push(
      this.track(async () => {
        const http = this.client.http;
        if (http.batchSupported) {
          try {
            await http.putBlobBatch(g.map(({ m, local }) => ({ digest: m.digest, size: m.size, source: local.bytes ?? local.path })));
            for (const { m, local } of g) this.done(m, local);
            return;
          } catch (e) {
            // An older server without the batch route: fall back to one request per blob.
            if (!(e instanceof AmphoraError && e.code === 'not_found')) throw e;
            http.batchSupported = false;
          }
        }
        for (const { m, local } of g) await this.putOne(m, local);
      }),
    );
  }

  private release(b: LocalBlob) {
    if (b.bytes) this.held -= b.bytes.length;
    b.bytes = undefined;
  }

  async finish(): Promise<{ uploaded: number; bytes: number }> {
    this.dispatch();
    await this.negotiation;
    this.sendGroup();
    await Promise.all(this.uploads);
    if (this.error) throw this.error.e;
    if (this.uploaded) {
      try {
        await this.client.http.flushBlobs();
      } catch (e) {
        if (!(e instanceof AmphoraError && e.code === 'not_found')) throw e;
      }
    }
    return { uploaded: this.uploaded, bytes: this.uploadedBytes };
  }

  /** Stops taking work after a failure elsewhere (e.g. hashing) and waits for in-flight uploads. */
  async abort(reason: unknown): Promise<void> {
    this.error ??= { e: reason };
    await this.negotiation.catch(() => {});
    await Promise.all(this.uploads);
  }
}
