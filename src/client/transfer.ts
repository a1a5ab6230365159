/**
 * Moving bytes: negotiate which blobs the server lacks (batches of ≤ 10,000), upload only those
 * with a bounded parallel pool, then make them durable; and fetch blobs into the local cache.
 */
import { AmphoraError } from '../core/errors.js';
import type { Client } from './client.js';
import { mapPool, TRANSFER_CONCURRENCY } from './pool.js';

export const NEGOTIATE_BATCH = 10_000;

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
  const missing: { digest: string; size: number; uploadUrl: string; headers?: Record<string, string> }[] = [];
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
    await client.http.putBlob(m.digest, local.bytes ?? local.path, local.size, m.uploadUrl, m.headers);
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

/** Makes sure a blob is in the local cache (fetching it when absent). */
export async function fetchToCache(client: Client, digest: string, what: string): Promise<void> {
  const stream = await client.http.getBlobStream(digest);
  await client.blobCache.storeStream(stream, digest, what);
}
