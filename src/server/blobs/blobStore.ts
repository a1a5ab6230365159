import type { Readable } from 'node:stream';
import type { Queryable } from '../store/database.js';

export interface BlobStat {
  size: number;
  mtimeMs: number;
}

/** Where a client sends one missing blob's bytes when they go around the server (team mode). */
export interface UploadTarget {
  /** Single PUT of the whole blob (with `headers`). */
  url?: string;
  headers?: Record<string, string>;
  /** Multipart: each byte range to its own URL. */
  parts?: { number: number; offset: number; size: number; url: string }[];
  /** Opaque token the client hands back to /blobs/confirm once the bytes are up. */
  confirm: string;
}

/**
 * Where blob bytes live, addressed by SHA-256: a local folder (embedded) or an S3-compatible
 * bucket (team mode). "Present" always means "bytes verified against the digest".
 */
export interface BlobStore {
  /** Size in bytes of a stored (verified) blob, or undefined when absent. */
  stat(digest: string): Promise<BlobStat | undefined>;
  /** `stat` of many blobs at once (one query in team mode); absent blobs are not in the map. */
  statMany(digests: string[]): Promise<Map<string, BlobStat>>;
  /**
   * Streams `body` into the store while hashing it; rejects (storing nothing) when the bytes
   * do not hash to `digest` or do not have `expectedSize`. `created` is false when the blob was
   * already present. The new blob is durable only after `flush()`.
   */
  put(digest: string, body: Readable, expectedSize?: number): Promise<{ size: number; created: boolean }>;
  /**
   * Stores bytes already in memory (small blobs of a batch upload), verifying their digest.
   * `knownAbsent`: the caller just looked the blob up (statMany) and it was absent.
   */
  putBytes(digest: string, bytes: Buffer, opts?: { knownAbsent?: boolean }): Promise<{ size: number; created: boolean }>;
  /** A small blob's bytes in one piece (batch downloads). */
  readBytes(digest: string): Promise<Buffer>;
  /** Read stream of a blob (optionally a byte range, inclusive end). */
  read(digest: string, range?: { start: number; end: number }): Readable;
  /**
   * fsyncs every blob written since the last flush, and their folders. `digests`: blobs a commit
   * is about to reference; those this process did not write or sync itself (another replica on a
   * shared folder wrote them, or an earlier run of this server) are made durable too.
   */
  flush(digests?: string[]): Promise<void>;
  /** Marks a blob as recently wanted, so GC's grace period starts again. */
  touch(digest: string): Promise<void>;
  /** Every stored blob, for GC (`db`: the connection GC holds, for stores that keep records). */
  list(db?: Queryable): AsyncIterable<{ digest: string; size: number; mtimeMs: number }>;
  remove(digest: string, db?: Queryable): Promise<void>;
  /** Temp files (staging objects, unrecorded packs) older than `olderThanMs` left behind by interrupted uploads (`db`: GC's connection). */
  removeStaleTemp(olderThanMs: number, db?: Queryable): Promise<number>;
  /** Team mode: where a client uploads this blob directly; undefined = through the server. */
  uploadTarget?(digest: string, size: number): Promise<UploadTarget | undefined>;
  /** Team mode: verifies a blob uploaded with an `uploadTarget` and records it as present. */
  /**
   * `proveUpload`: verify the uploaded object even when the blob is already stored, because the
   * caller gains read access to it by this upload (team mode: a blob they could not read before).
   */
  confirm?(digest: string, size: number, token: string, parts?: { number: number; etag: string }[], opts?: { proveUpload?: boolean }): Promise<{ size: number; created: boolean }>;
  /** Largest blob `putPack` takes (0: none now); stores without packs leave `putPack` undefined. */
  readonly packMaxBlobBytes?: number;
  /**
   * Stores many small blobs of one batch upload as one pack (one store request or one file
   * instead of one per blob). Verifies each blob's bytes first; mismatches are listed in
   * `failed` and stored nowhere.
   */
  putPack?(blobs: { digest: string; bytes: Buffer }[]): Promise<{ stored: { digest: string; size: number; created: boolean }[]; failed: { digest: string; actual: string }[] }>;
  /** Small blobs' bytes in the order asked, fetched with few store requests or file opens (ranged reads of their packs). */
  readMany?(blobs: { digest: string; size: number }[]): AsyncIterable<Buffer>;
  /**
   * End of a GC sweep (`db`: GC's connection): deletes packs none of whose blobs are left, and
   * rewrites packs older than `olderThanMs` that are mostly garbage.
   */
  compactPacks?(db: Queryable, olderThanMs: number): Promise<{ deleted: number; rewritten: number; bytesReclaimed: number }>;
  /** Team mode: a URL the client downloads this blob from directly; undefined = through the server. */
  downloadUrl?(digest: string, size: number): Promise<string | undefined>;
}
