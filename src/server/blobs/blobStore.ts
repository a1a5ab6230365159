import type { Readable } from 'node:stream';

/** Where blob bytes live, addressed by SHA-256. Local folder now; an S3-compatible store later. */
export interface BlobStore {
  /** Size in bytes of a stored blob, or undefined when absent. */
  stat(digest: string): Promise<{ size: number; mtimeMs: number } | undefined>;
  /**
   * Streams `body` into the store while hashing it; rejects (storing nothing) when the bytes
   * do not hash to `digest` or do not have `expectedSize`. `created` is false when the blob was
   * already present. The new blob is durable only after `flush()`.
   */
  put(digest: string, body: Readable, expectedSize?: number): Promise<{ size: number; created: boolean }>;
  /** Stores bytes already in memory (small blobs of a batch upload), verifying their digest. */
  putBytes(digest: string, bytes: Buffer): Promise<{ size: number; created: boolean }>;
  /** A small blob's bytes in one piece (batch downloads). */
  readBytes(digest: string): Promise<Buffer>;
  /** Read stream of a blob (optionally a byte range, inclusive end). */
  read(digest: string, range?: { start: number; end: number }): Readable;
  /** fsyncs every blob written since the last flush, and their folders. */
  flush(): Promise<void>;
  /** Marks a blob as recently wanted, so GC's grace period starts again. */
  touch(digest: string): Promise<void>;
  /** Every stored blob, for GC. */
  list(): AsyncIterable<{ digest: string; size: number; mtimeMs: number }>;
  remove(digest: string): Promise<void>;
  /** Temp files older than `olderThanMs` left behind by interrupted uploads. */
  removeStaleTemp(olderThanMs: number): Promise<number>;
}
