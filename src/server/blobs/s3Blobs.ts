/**
 * Blob bytes in an S3-compatible bucket (AWS S3, MinIO, R2, s3rver in tests), with the record of
 * which blobs were verified in the shared database (table `blobs`), so every replica agrees.
 *
 * Keys: `<prefix>sha256/ab/<hex>` hold verified bytes only, written by a replica and never by a
 * client. Clients upload large blobs to `<prefix>staging/<hex>.<nonce>` through presigned URLs;
 * `confirm` verifies that object (the store's enforced SHA-256 checksum, or by streaming it),
 * copies it into place inside the bucket and records it. So a truncated or wrong upload, or a
 * second upload to a URL after its blob was verified, can never replace verified bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { silenceAwsNodeVersionWarning } from '../../core/node/awsNodeWarning.js';
import { AmphoraError } from '../../core/errors.js';
import type { Database, Queryable } from '../store/database.js';
import type { BlobStat, BlobStore, UploadTarget } from './blobStore.js';
import { type BlobLocation, planReads, windows } from './packReads.js';
import { REPACK_BELOW_LIVE_SHARE, verifyPackBlobs } from './packBlobs.js';
import { Limiter } from '../../core/limiter.js';

const HEX64 = /^[0-9a-f]{64}$/;
const NONCE = /^[0-9a-f]{16,64}$/;
/** Blobs up to this size travel through the replica (batched); larger ones go client ↔ bucket. */
export const S3_PROXY_MAX_BYTES = 1 << 20;
/** Server-side uploads up to this size are verified in memory; larger ones spill to a temp file. */
const IN_MEMORY_MAX_BYTES = 8 << 20;
/** S3's limit for one PUT and one CopyObject. */
const SINGLE_OBJECT_MAX_BYTES = 5 * 1024 ** 3;
const MAX_PARTS = 10_000;
/** Blobs up to this size are packed when they arrive in a batch upload. */
export const PACK_MAX_BLOB_BYTES = S3_PROXY_MAX_BYTES;
/** Bytes of requested blobs fetched per window of a batch download (the next window loads while one is sent). */
const READ_WINDOW_BYTES = 16 << 20;
/** Ranged GETs in flight per window. */
const READ_PARALLELISM = 8;

export interface S3BlobStoreOptions {
  /** `s3://bucket[/prefix]` */
  location: string;
  /** Local folder of this store alone for spilling large uploads that come through the server (removed on close). */
  tmpDir: string;
  /** Presigned URLs stay valid this long (a large upload must finish within it). */
  presignSeconds?: number;
  /** Blobs from this size on are uploaded in parts. */
  multipartThreshold?: number;
  partSize?: number;
  /** Blobs from this size on go client ↔ bucket directly; smaller ones through the replica (batched). */
  directMinBytes?: number;
  /** Override the SDK's client config (tests); endpoint, region and credentials otherwise come from the standard AWS environment. */
  clientConfig?: S3ClientConfig;
}

export function parseS3Location(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri);
  if (!m || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1])) {
    throw new AmphoraError('invalid_request', `"${uri}" is not a bucket location; use s3://BUCKET or s3://BUCKET/PREFIX (bucket: 3–63 lowercase letters, digits, "." or "-").`);
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: m[1], prefix: prefix ? prefix + '/' : '' };
}

interface Token {
  /** nonce of the staging key */
  n: string;
  /** multipart upload id */
  u?: string;
}

export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  /** True when the store refuses a PUT whose x-amz-checksum-sha256 does not match (probed in init). */
  checksumsEnforced = false;
  readonly packMaxBlobBytes = PACK_MAX_BLOB_BYTES;
  private dbHandle: Database | undefined;
  private readonly tmpDir: string;
  private readonly presignSeconds: number;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly directMinBytes: number;

  constructor(opts: S3BlobStoreOptions) {
    const { bucket, prefix } = parseS3Location(opts.location);
    this.bucket = bucket;
    this.prefix = prefix;
    this.tmpDir = opts.tmpDir;
    this.presignSeconds = opts.presignSeconds ?? 3600;
    this.multipartThreshold = opts.multipartThreshold ?? 256 << 20;
    this.partSize = opts.partSize ?? 64 << 20;
    this.directMinBytes = opts.directMinBytes ?? S3_PROXY_MAX_BYTES + 1;
    const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL;
    silenceAwsNodeVersionWarning();
    this.client = new S3Client({
      // Virtual-host addressing needs DNS per bucket; MinIO, R2 and local servers are addressed by path.
      forcePathStyle: Boolean(endpoint),
      // Amphora verifies SHA-256 itself; the SDK's automatic CRC32 would make presigned URLs carry
      // a checksum of an empty body and streamed uploads use aws-chunked framing some stores keep.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...opts.clientConfig,
    });
  }

  /** The database holding the verified-blob records (opened after the bucket was checked). */
  attach(db: Database): void {
    this.dbHandle = db;
  }

  private get db(): Database {
    if (!this.dbHandle) throw new Error('S3BlobStore used before attach(db)');
    return this.dbHandle;
  }

  /** Checks that the bucket is reachable and ours, and whether the store enforces SHA-256 checksums. */
  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (e) {
      throw this.setupError(e);
    }
    this.checksumsEnforced = await this.probeChecksumEnforcement();
  }

  /** PUTs a probe with a wrong x-amz-checksum-sha256: a store that refuses it checks our checksums. */
  private async probeChecksumEnforcement(): Promise<boolean> {
    const Key = `${this.prefix}staging/checksum-probe.${randomBytes(8).toString('hex')}`;
    const wrong = createHash('sha256').update('not the body').digest('base64');
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: 'amphora checksum probe', ChecksumSHA256: wrong }));
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 400) return true;
      throw this.setupError(e);
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })).catch(() => undefined);
    return false;
  }

  private setupError(e: unknown): AmphoraError {
    const err = e as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const where = `s3://${this.bucket}${this.prefix ? '/' + this.prefix : ''}`;
    const endpoint = process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || 'AWS S3';
    const status = err.$metadata?.httpStatusCode;
    if (err.name === 'CredentialsProviderError' || /credential/i.test(err.message ?? '')) {
      return new AmphoraError('unauthorized', `No credentials for ${where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for the bucket's store.`);
    }
    if (/region is missing/i.test(err.message ?? '')) {
      return new AmphoraError('invalid_request', `No region for ${where}: set AWS_REGION (any value, e.g. us-east-1, for MinIO or s3rver).`);
    }
    if (status === 404 || err.name === 'NotFound' || err.name === 'NoSuchBucket') {
      return new AmphoraError('not_found', `Bucket "${this.bucket}" does not exist at ${endpoint}; create it first (e.g. \`aws s3 mb s3://${this.bucket}\`) or fix --blobs.`);
    }
    if (status === 403 || status === 401) {
      return new AmphoraError('unauthorized', `Access to bucket "${this.bucket}" at ${endpoint} was denied (HTTP ${status}); check the credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE) and the bucket's policy.`);
    }
    const code = err.code ?? (err as { cause?: { code?: string } }).cause?.code ?? err.name;
    if (code && /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN|TimeoutError/.test(code)) {
      return new AmphoraError('server_unreachable', `Cannot reach the S3 endpoint ${endpoint} (${code}); check AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and that the store is running.`);
    }
    return new AmphoraError('internal', `Cannot use ${where} at ${endpoint}: ${err.name ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${err.message ?? String(e)}`);
  }

  // ------------------------------------------------------------------ keys and records

  private finalKey(digest: string): string {
    checkDigest(digest);
    return `${this.prefix}sha256/${digest.slice(0, 2)}/${digest}`;
  }

  private stagingKey(digest: string, nonce: string): string {
    return `${this.prefix}staging/${digest}.${nonce}`;
  }

  async stat(digest: string): Promise<BlobStat | undefined> {
    checkDigest(digest);
    return (await this.statMany([digest])).get(digest);
  }

  async statMany(digests: string[]): Promise<Map<string, BlobStat>> {
    const out = new Map<string, BlobStat>();
    if (!digests.length) return out;
    const rows = await this.db.query<{ digest: string; size: string | number; touched_at: Date }>('SELECT digest, size, touched_at FROM blobs WHERE digest = ANY($1::text[])', [digests]);
    for (const r of rows) out.set(r.digest, { size: Number(r.size), mtimeMs: new Date(r.touched_at).getTime() });
    return out;
  }

  private recordQueue: { digest: string; size: number; done: (e?: unknown) => void }[] = [];
  private recordScheduled = false;

  /**
   * Marks a blob verified. Concurrent calls (the parallel puts of a batch upload) are gathered
   * into one multi-row INSERT: one database round trip per ~16 blobs instead of one each.
   */
  private record(digest: string, size: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.recordQueue.push({ digest, size, done: (e) => (e ? reject(e) : resolve()) });
      if (this.recordScheduled) return;
      this.recordScheduled = true;
      setImmediate(() => {
        this.recordScheduled = false;
        const batch = this.recordQueue;
        this.recordQueue = [];
        const uniq = new Map(batch.map((b) => [b.digest, b.size]));
        this.db
          .query(
            `INSERT INTO blobs (digest, size) SELECT * FROM unnest($1::text[], $2::bigint[])
             ON CONFLICT (digest) DO UPDATE SET touched_at = now()`,
            [[...uniq.keys()], [...uniq.values()]],
          )
          .then(
            () => batch.forEach((b) => b.done()),
            (e: unknown) => batch.forEach((b) => b.done(e)),
          );
      });
    });
  }

  async touch(digest: string): Promise<void> {
    await this.db.query('UPDATE blobs SET touched_at = now() WHERE digest = $1', [digest]);
  }

  // ------------------------------------------------------------------ bytes through the server

  async putBytes(digest: string, bytes: Buffer, opts: { knownAbsent?: boolean } = {}): Promise<{ size: number; created: boolean }> {
    const actual = sha256Hex(bytes);
    if (actual !== digest) throw mismatch(digest, actual, bytes.length, bytes.length);
    // A concurrent upload of the same digest writes the same verified bytes: harmless.
    const present = opts.knownAbsent ? undefined : await this.stat(digest);
    if (present && present.size === bytes.length) {
      await this.touch(digest);
      return { size: bytes.length, created: false };
    }
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.finalKey(digest), Body: bytes, ContentLength: bytes.length, ChecksumSHA256: hexToBase64(digest) }));
    await this.record(digest, bytes.length);
    return { size: bytes.length, created: true };
  }

  async put(digest: string, body: Readable, expectedSize?: number): Promise<{ size: number; created: boolean }> {
    checkDigest(digest);
    if (expectedSize !== undefined && expectedSize > SINGLE_OBJECT_MAX_BYTES) {
      await drain(body);
      throw new AmphoraError('payload_too_large', `Blob ${digest} has ${expectedSize} bytes; uploads through the server stop at 5 GiB. Negotiate it (POST /api/v1/blobs/negotiate) and upload it in parts to the URLs given.`);
    }
    if (expectedSize !== undefined && expectedSize <= IN_MEMORY_MAX_BYTES) {
      const { bytes, size } = await collect(digest, body, expectedSize);
      if (size !== expectedSize) throw mismatch(digest, sha256Hex(bytes), size, expectedSize);
      return this.putBytes(digest, bytes);
    }
    // Larger: spill to a local temp file while hashing, so nothing unverified reaches the bucket.
    await mkdir(this.tmpDir, { recursive: true });
    const tmp = join(this.tmpDir, `${digest.slice(0, 16)}.${randomBytes(6).toString('hex')}`);
    try {
      const hash = createHash('sha256');
      let size = 0;
      try {
        await pipeline(
          body,
          async function* (src: AsyncIterable<Buffer>) {
            for await (const chunk of src) {
              hash.update(chunk);
              size += chunk.length;
              yield chunk;
            }
          },
          createWriteStream(tmp, { highWaterMark: 1 << 20 }),
        );
      } catch (e) {
        throw new AmphoraError('invalid_request', `Upload of blob ${digest} was interrupted after ${size} bytes (${(e as Error).message}); upload it again.`);
      }
      const actual = hash.digest('hex');
      if (actual !== digest || (expectedSize !== undefined && size !== expectedSize)) throw mismatch(digest, actual, size, expectedSize);
      if (size > SINGLE_OBJECT_MAX_BYTES) throw new AmphoraError('payload_too_large', `Blob ${digest} has ${size} bytes; uploads through the server stop at 5 GiB. Negotiate it and upload it in parts.`);
      const present = await this.stat(digest);
      if (present && present.size === size) {
        await this.touch(digest);
        return { size, created: false };
      }
      await this.client.send(
        new PutObjectCommand({ Bucket: this.bucket, Key: this.finalKey(digest), Body: createReadStream(tmp, { highWaterMark: 1 << 20 }), ContentLength: size, ChecksumSHA256: hexToBase64(digest) }),
      );
      await this.record(digest, size);
      return { size, created: true };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  // ------------------------------------------------------------------ packs of small blobs

  private packKey(): string {
    return `${this.prefix}packs/${randomBytes(16).toString('hex')}`;
  }

  /**
   * One object for many small blobs: each blob is verified in memory, the verified ones are
   * concatenated into a new pack (unique key, never overwritten) PUT with its SHA-256, and only
   * then recorded — pack row and blob rows in one statement, so a pack that reached the bucket
   * without its rows (a replica died in between) is an orphan GC deletes. A blob recorded
   * meanwhile by another upload keeps its location; its copy in this pack is garbage.
   */
  async putPack(blobs: { digest: string; bytes: Buffer }[]): Promise<{ stored: { digest: string; size: number; created: boolean }[]; failed: { digest: string; actual: string }[] }> {
    const { good, failed } = verifyPackBlobs(blobs, PACK_MAX_BLOB_BYTES);
    if (!good.size) return { stored: [], failed };
    const digests = [...good.keys()];
    const offsets: number[] = [];
    let size = 0;
    for (const bytes of good.values()) {
      offsets.push(size);
      size += bytes.length;
    }
    const body = Buffer.concat([...good.values()], size);
    const Key = this.packKey();
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, ContentLength: size, ChecksumSHA256: createHash('sha256').update(body).digest('base64') }));
    const rows = await this.db.query<{ digest: string; created: boolean }>(
      `WITH pack AS (INSERT INTO blob_packs (pack_key, size) VALUES ($1, $2))
       INSERT INTO blobs (digest, size, pack_key, pack_offset)
         SELECT u.digest, u.size, $1, u.off FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS u(digest, size, off)
       ON CONFLICT (digest) DO UPDATE SET touched_at = now()
       RETURNING digest, (xmax = 0) AS created`,
      [Key, size, digests, digests.map((d) => good.get(d)!.length), offsets],
    );
    const created = new Map(rows.map((r) => [r.digest, r.created]));
    return { stored: digests.map((d) => ({ digest: d, size: good.get(d)!.length, created: created.get(d) ?? false })), failed };
  }

  /** Where each stored blob's bytes are (one query). Absent blobs are not in the map. */
  private async locate(digests: string[]): Promise<Map<string, BlobLocation>> {
    const rows = await this.db.query<{ digest: string; size: string | number; pack_key: string | null; pack_offset: string | number | null }>(
      'SELECT digest, size, pack_key, pack_offset FROM blobs WHERE digest = ANY($1::text[])',
      [digests],
    );
    return new Map(rows.map((r) => [r.digest, { size: Number(r.size), pack: r.pack_key ? { key: r.pack_key, offset: Number(r.pack_offset) } : undefined }]));
  }

  private async locateOne(digest: string): Promise<BlobLocation | undefined> {
    checkDigest(digest);
    return (await this.locate([digest])).get(digest);
  }

  /** A blob's bytes out of its pack, checked against its digest (a wrong offset never yields wrong bytes). */
  private checkedSlice(digest: string, bytes: Buffer, where: string): Buffer {
    if (sha256Hex(bytes) !== digest) {
      throw new AmphoraError('internal', `The bytes of blob ${digest} read from ${where} do not hash to its digest; the bucket's copy is damaged. Upload the file again (a new upload repairs it) or ask the administrator to check the bucket.`);
    }
    return bytes;
  }

  async *readMany(blobs: { digest: string; size: number }[]): AsyncIterable<Buffer> {
    const parts = windows(blobs, READ_WINDOW_BYTES);
    let next = parts.length ? this.readWindow(parts[0].map((b) => b.digest)) : undefined;
    for (let w = 0; w < parts.length; w++) {
      const current = next!;
      next = w + 1 < parts.length ? this.readWindow(parts[w + 1].map((b) => b.digest)) : undefined;
      next?.catch(() => undefined); // awaited in its turn
      yield* await current;
    }
  }

  /** The window's blobs in order. A pack GC rewrote between lookup and read is looked up again once. */
  private async readWindow(digests: string[], retried = false): Promise<Buffer[]> {
    const where = await this.locate(digests);
    const absent = digests.find((d) => !where.has(d));
    if (absent) throw new AmphoraError('not_found', `Blob ${absent} is no longer stored (garbage-collected during the download?); download the version again.`);
    const out: Buffer[] = new Array(digests.length);
    const limiter = new Limiter(READ_PARALLELISM);
    try {
      await Promise.all(
        planReads(digests, where).map((seg) =>
          limiter.run(async () => {
            const Key = seg.packKey ?? this.finalKey(digests[seg.members[0].index]);
            const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key, Range: seg.packKey ? `bytes=${seg.start}-${seg.end - 1}` : undefined }));
            const bytes = Buffer.from(await res.Body!.transformToByteArray());
            for (const m of seg.members) out[m.index] = this.checkedSlice(digests[m.index], bytes.subarray(m.at, m.at + m.size), seg.packKey ? `pack ${seg.packKey}` : Key);
          }),
        ),
      );
    } catch (e) {
      if (!retried && isNotFound(e)) return this.readWindow(digests, true);
      throw e;
    }
    return out;
  }

  /** Deletes packs none of whose blobs are left, and rewrites old ones that are mostly garbage. */
  async compactPacks(db: Queryable, olderThanMs: number): Promise<{ deleted: number; rewritten: number; bytesReclaimed: number }> {
    const packs = await db.query<{ pack_key: string; size: string | number; live: string | number; n: string | number; created_at: Date }>(
      `SELECT p.pack_key, p.size, p.created_at, COALESCE(sum(b.size), 0) AS live, count(b.digest) AS n
         FROM blob_packs p LEFT JOIN blobs b ON b.pack_key = p.pack_key
        GROUP BY p.pack_key, p.size, p.created_at`,
    );
    const cutoff = Date.now() - olderThanMs;
    let deleted = 0;
    let rewritten = 0;
    let bytesReclaimed = 0;
    for (const p of packs) {
      const size = Number(p.size);
      const live = Number(p.live);
      if (Number(p.n) === 0) {
        // Row first: an object that outlives a failed delete is an orphan removeStaleTemp finds.
        await db.query('DELETE FROM blob_packs WHERE pack_key = $1', [p.pack_key]);
        await this.deleteKey(p.pack_key);
        deleted++;
        bytesReclaimed += size;
      } else if (live < size * REPACK_BELOW_LIVE_SHARE && new Date(p.created_at).getTime() < cutoff) {
        await this.rewritePack(db, p.pack_key);
        rewritten++;
        bytesReclaimed += size - live;
      }
    }
    return { deleted, rewritten, bytesReclaimed };
  }

  /**
   * Copies a pack's remaining blobs (verified again) into a new pack, moves their rows in one
   * statement, then deletes the old object. GC holds every commit off meanwhile; a download that
   * looked the old pack up just before reads it again from the new one (readWindow's retry).
   */
  private async rewritePack(db: Queryable, oldKey: string): Promise<void> {
    const rows = await db.query<{ digest: string; size: string | number; pack_offset: string | number }>('SELECT digest, size, pack_offset FROM blobs WHERE pack_key = $1 ORDER BY pack_offset', [oldKey]);
    const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: oldKey }));
    const old = Buffer.from(await res.Body!.transformToByteArray());
    const pieces: Buffer[] = [];
    const offsets: number[] = [];
    let size = 0;
    for (const r of rows) {
      const at = Number(r.pack_offset);
      pieces.push(this.checkedSlice(r.digest, old.subarray(at, at + Number(r.size)), `pack ${oldKey}`));
      offsets.push(size);
      size += Number(r.size);
    }
    const body = Buffer.concat(pieces, size);
    const Key = this.packKey();
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, ContentLength: size, ChecksumSHA256: createHash('sha256').update(body).digest('base64') }));
    await db.query(
      `WITH pack AS (INSERT INTO blob_packs (pack_key, size) VALUES ($1, $2)),
            moved AS (UPDATE blobs b SET pack_key = $1, pack_offset = u.off FROM unnest($4::text[], $5::bigint[]) AS u(digest, off) WHERE b.digest = u.digest AND b.pack_key = $3)
       DELETE FROM blob_packs WHERE pack_key = $3`,
      [Key, size, oldKey, rows.map((r) => r.digest), offsets],
    );
    await this.deleteKey(oldKey);
  }

  // ------------------------------------------------------------------ bytes around the server

  async uploadTarget(digest: string, size: number): Promise<UploadTarget | undefined> {
    checkDigest(digest);
    if (size < this.directMinBytes) return undefined;
    const nonce = randomBytes(12).toString('hex');
    const Key = this.stagingKey(digest, nonce);
    if (size < this.multipartThreshold) {
      const checksum = hexToBase64(digest);
      // The checksum header is signed into the URL: a store that enforces it refuses other bytes.
      const url = await getSignedUrl(this.client, new PutObjectCommand({ Bucket: this.bucket, Key, ChecksumSHA256: checksum }), {
        expiresIn: this.presignSeconds,
        unhoistableHeaders: new Set(['x-amz-checksum-sha256']),
      });
      return { url, headers: { 'x-amz-checksum-sha256': checksum }, confirm: encodeToken({ n: nonce }) };
    }
    const partSize = Math.max(this.partSize, Math.ceil(size / MAX_PARTS));
    const created = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key }));
    const uploadId = created.UploadId!;
    const parts: NonNullable<UploadTarget['parts']> = [];
    for (let offset = 0, number = 1; offset < size; offset += partSize, number++) {
      const url = await getSignedUrl(this.client, new UploadPartCommand({ Bucket: this.bucket, Key, UploadId: uploadId, PartNumber: number }), { expiresIn: this.presignSeconds });
      parts.push({ number, offset, size: Math.min(partSize, size - offset), url });
    }
    return { parts, confirm: encodeToken({ n: nonce, u: uploadId }) };
  }

  async confirm(digest: string, size: number, token: string, parts?: { number: number; etag: string }[], opts: { proveUpload?: boolean } = {}): Promise<{ size: number; created: boolean }> {
    checkDigest(digest);
    const t = decodeToken(token, digest);
    const Key = this.stagingKey(digest, t.n);
    const present = await this.stat(digest);
    if (present && present.size === size && !opts.proveUpload) {
      // Someone else's upload of the same bytes was verified first: ours is not needed.
      if (t.u) await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: t.u })).catch(() => undefined);
      await this.deleteKey(Key);
      await this.touch(digest);
      return { size, created: false };
    }
    if (t.u) {
      if (!parts?.length) throw new AmphoraError('invalid_request', `Blob ${digest} was uploaded in parts: confirm it with every part's number and ETag.`);
      try {
        await this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key,
            UploadId: t.u,
            MultipartUpload: { Parts: [...parts].sort((a, b) => a.number - b.number).map((p) => ({ PartNumber: p.number, ETag: p.etag })) },
          }),
        );
      } catch (e) {
        throw new AmphoraError('invalid_request', `The storage refused to complete the multipart upload of blob ${digest} (${(e as Error).name}: ${(e as Error).message}); negotiate and upload it again.`);
      }
    }
    const verdict = await this.verifyObject(Key, digest, size, !t.u);
    if (verdict !== 'ok') {
      await this.deleteKey(Key);
      if (verdict === 'absent') {
        throw new AmphoraError('missing_blobs', `Blob ${digest} is not at the URL it was to be uploaded to (nothing arrived, or the upload expired); negotiate and upload it again.`, { missing: [{ digest, size }] });
      }
      throw mismatch(digest, verdict.actual, verdict.size, size);
    }
    if (present && present.size === size) {
      // Verified proof of possession; the stored bytes stay as they are (never overwritten).
      await this.deleteKey(Key);
      await this.touch(digest);
      return { size, created: false };
    }
    await this.copyIntoPlace(Key, this.finalKey(digest), size);
    await this.record(digest, size);
    await this.deleteKey(Key);
    return { size, created: true };
  }

  /**
   * Whether the object at `Key` holds exactly the blob's bytes. Trusts the store's SHA-256 only
   * when the store enforces checksums and the object came from one PUT carrying ours; otherwise
   * streams the whole object through SHA-256 (never HEAD alone: s3rver keeps truncated uploads).
   */
  private async verifyObject(Key: string, digest: string, size: number, singlePut: boolean): Promise<'ok' | 'absent' | { actual: string; size: number }> {
    if (this.checksumsEnforced && singlePut) {
      try {
        const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key, ChecksumMode: 'ENABLED' }));
        if (head.ChecksumSHA256 === hexToBase64(digest) && head.ContentLength === size) return 'ok';
      } catch (e) {
        if (isNotFound(e)) return 'absent';
        throw e;
      }
    }
    let res;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
    } catch (e) {
      if (isNotFound(e)) return 'absent';
      throw e;
    }
    const hash = createHash('sha256');
    let n = 0;
    for await (const chunk of res.Body as Readable) {
      hash.update(chunk as Buffer);
      n += (chunk as Buffer).length;
    }
    const actual = hash.digest('hex');
    return actual === digest && n === size ? 'ok' : { actual, size: n };
  }

  /** Copies inside the bucket (no bytes through the replica); in 1 GiB parts beyond S3's 5 GiB copy limit. */
  private async copyIntoPlace(from: string, to: string, size: number): Promise<void> {
    const CopySource = `${this.bucket}/${encodeURIComponent(from).replace(/%2F/g, '/')}`;
    if (size <= SINGLE_OBJECT_MAX_BYTES) {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource }));
      return;
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: to }));
    try {
      const step = 1024 ** 3;
      const Parts = [];
      for (let start = 0, n = 1; start < size; start += step, n++) {
        const end = Math.min(start + step, size) - 1;
        const r = await this.client.send(new UploadPartCopyCommand({ Bucket: this.bucket, Key: to, UploadId, PartNumber: n, CopySource, CopySourceRange: `bytes=${start}-${end}` }));
        Parts.push({ PartNumber: n, ETag: r.CopyPartResult?.ETag });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId, MultipartUpload: { Parts } }));
    } catch (e) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: to, UploadId })).catch(() => undefined);
      throw e;
    }
  }

  async downloadUrl(digest: string, size: number): Promise<string | undefined> {
    if (size < this.directMinBytes) return undefined;
    // A packed blob is a range of its pack: served through the replica (a presigned URL cannot carry the Range).
    if (size <= PACK_MAX_BLOB_BYTES && (await this.locateOne(digest))?.pack) return undefined;
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.finalKey(digest) }), { expiresIn: this.presignSeconds });
  }

  // ------------------------------------------------------------------ reads

  async readBytes(digest: string): Promise<Buffer> {
    const [bytes] = await this.readWindow([digest]);
    return bytes;
  }

  read(digest: string, range?: { start: number; end: number }): Readable {
    const key = this.finalKey(digest);
    const self = this;
    return Readable.from(
      (async function* () {
        const loc = await self.locateOne(digest);
        let Key = key;
        let Range = range ? `bytes=${range.start}-${range.end}` : undefined;
        if (loc?.pack) {
          // A range of the pack: the whole blob, or the asked part of it.
          const from = loc.pack.offset + (range?.start ?? 0);
          const to = loc.pack.offset + (range ? range.end : loc.size - 1);
          Key = loc.pack.key;
          Range = `bytes=${from}-${to}`;
        }
        const res = await self.client.send(new GetObjectCommand({ Bucket: self.bucket, Key, Range }));
        yield* res.Body as Readable;
      })(),
      { objectMode: false },
    );
  }

  /** PUT answers only once the store has the object durably: nothing to sync. */
  async flush(): Promise<void> {}

  // ------------------------------------------------------------------ GC

  async *list(db?: Queryable): AsyncIterable<{ digest: string; size: number; mtimeMs: number }> {
    const Prefix = `${this.prefix}sha256/`;
    for await (const page of paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.bucket, Prefix })) {
      const objects = (page.Contents ?? []).map((o) => ({ digest: o.Key!.slice(o.Key!.lastIndexOf('/') + 1), size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0 })).filter((o) => HEX64.test(o.digest));
      if (!objects.length) continue;
      // The grace period counts from the latest touch (negotiations re-touch wanted blobs).
      const rows = await (db ?? this.db).query<{ digest: string; touched_at: Date }>('SELECT digest, touched_at FROM blobs WHERE digest = ANY($1::text[])', [objects.map((o) => o.digest)]);
      const touched = new Map(rows.map((r) => [r.digest, new Date(r.touched_at).getTime()]));
      for (const o of objects) yield { ...o, mtimeMs: Math.max(o.mtimeMs, touched.get(o.digest) ?? 0) };
    }
    // Packed blobs are no objects of their own: their rows are the listing.
    let after = '';
    for (;;) {
      const rows = await (db ?? this.db).query<{ digest: string; size: string | number; touched_at: Date }>(
        'SELECT digest, size, touched_at FROM blobs WHERE pack_key IS NOT NULL AND digest > $1 ORDER BY digest LIMIT 1000',
        [after],
      );
      if (!rows.length) break;
      for (const r of rows) yield { digest: r.digest, size: Number(r.size), mtimeMs: new Date(r.touched_at).getTime() };
      after = rows[rows.length - 1].digest;
    }
  }

  async remove(digest: string, db?: Queryable): Promise<void> {
    // Record first: a blob whose object outlives a failed delete is only garbage, never "present".
    const [row] = await (db ?? this.db).query<{ pack_key: string | null }>('DELETE FROM blobs WHERE digest = $1 RETURNING pack_key', [digest]);
    // A packed blob's bytes go with its pack (compactPacks, at the end of the sweep).
    if (row?.pack_key) return;
    await this.deleteKey(this.finalKey(digest));
  }

  async removeStaleTemp(olderThanMs: number, db?: Queryable): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let n = 0;
    for await (const page of paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.bucket, Prefix: `${this.prefix}staging/` })) {
      for (const o of page.Contents ?? []) {
        if ((o.LastModified?.getTime() ?? 0) < cutoff) {
          await this.deleteKey(o.Key!);
          n++;
        }
      }
    }
    // Packs that reached the bucket but were never recorded (the replica died before its INSERT).
    for await (const page of paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.bucket, Prefix: `${this.prefix}packs/` })) {
      const old = (page.Contents ?? []).filter((o) => (o.LastModified?.getTime() ?? 0) < cutoff).map((o) => o.Key!);
      if (!old.length) continue;
      const known = new Set((await (db ?? this.db).query<{ pack_key: string }>('SELECT pack_key FROM blob_packs WHERE pack_key = ANY($1::text[])', [old])).map((r) => r.pack_key));
      for (const Key of old) {
        if (known.has(Key)) continue;
        await this.deleteKey(Key);
        n++;
      }
    }
    // Parts of uploads that were never confirmed (not every store can list them: s3rver cannot).
    try {
      const open = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: `${this.prefix}staging/` }));
      for (const u of open.Uploads ?? []) {
        if ((u.Initiated?.getTime() ?? Infinity) < cutoff) {
          await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key!, UploadId: u.UploadId! })).catch(() => undefined);
          n++;
        }
      }
    } catch {
      /* unsupported by this store */
    }
    return n;
  }

  private async deleteKey(Key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }

  close(): void {
    this.client.destroy();
    // The spill folder is this store's own (one per process and store).
    rmSync(this.tmpDir, { recursive: true, force: true });
  }
}

function encodeToken(t: Token): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(token: string, digest: string): Token {
  let t: Token | undefined;
  try {
    t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Token;
  } catch {
    t = undefined;
  }
  if (!t || typeof t.n !== 'string' || !NONCE.test(t.n) || (t.u !== undefined && (typeof t.u !== 'string' || !t.u || t.u.length > 1024))) {
    throw new AmphoraError('invalid_request', `The confirm token for blob ${digest} is not one this server handed out; send back the "confirm" value of the negotiation answer unchanged.`);
  }
  return t;
}

function checkDigest(digest: string): void {
  if (!HEX64.test(digest)) throw new AmphoraError('invalid_request', `"${digest.slice(0, 80)}" is not a SHA-256 digest (64 lowercase hex characters).`);
}

function sha256Hex(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function hexToBase64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

function isNotFound(e: unknown): boolean {
  const err = e as { name?: string; $metadata?: { httpStatusCode?: number } };
  return err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata?.httpStatusCode === 404;
}

async function drain(body: Readable): Promise<void> {
  for await (const _ of body) {
    /* discard */
  }
}

async function collect(digest: string, body: Readable, limit: number): Promise<{ bytes: Buffer; size: number }> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    }
  } catch (e) {
    throw new AmphoraError('invalid_request', `Upload of blob ${digest} was interrupted after ${size} bytes (${(e as Error).message}); upload it again.`);
  }
  return { bytes: Buffer.concat(chunks), size };
}

function mismatch(digest: string, actual: string, size: number, expectedSize: number | undefined): AmphoraError {
  return new AmphoraError(
    'digest_mismatch',
    actual !== digest
      ? `The uploaded bytes hash to ${actual}, not ${digest}; nothing was stored. Re-hash the file and upload it again.`
      : `The upload has ${size} bytes but ${expectedSize} were announced; nothing was stored. Upload the whole file again.`,
    { expected: digest, actual, size },
  );
}
