import { join, resolve } from 'node:path';
import { AmphoraError } from '../../core/errors.js';
import type { Database } from '../store/database.js';
import type { BlobStore } from './blobStore.js';
import { LocalBlobStore } from './localBlobs.js';
import { S3BlobStore } from './s3Blobs.js';

/** S3 refuses parts below 5 MiB (except the last). */
const S3_MIN_PART_BYTES = 5 << 20;

/**
 * The blob store named by `--blobs` / AMPHORA_BLOBS: `file:DIR` (default `<dataDir>/blobs`) or
 * `s3://BUCKET[/PREFIX]` (endpoint, region and credentials from the standard AWS environment).
 * Checks that a bucket is usable before anything is created locally, so a wrong URL, a missing
 * bucket or missing credentials fail with one clear line and leave nothing behind; `attach`
 * then finishes the setup once the data dir is locked and the database open.
 */
export async function openBlobStore(
  uri: string | undefined,
  opts: { dataDir: string },
): Promise<{ store: BlobStore & { close?(): void }; attach(db: Database): Promise<void> }> {
  if (!uri || uri.startsWith('file:')) {
    const dir = uri ? resolve(uri.slice('file:'.length).replace(/^\/\/(?=\/)/, '')) : join(opts.dataDir, 'blobs');
    if (uri && uri.slice('file:'.length).trim() === '') throw new AmphoraError('invalid_request', `--blobs "${uri}" names no folder; use file:/path/to/blobs.`);
    const store = new LocalBlobStore(dir);
    return { store, attach: () => store.init() };
  }
  if (uri.startsWith('s3://')) {
    const store = new S3BlobStore({
      location: uri,
      tmpDir: join(opts.dataDir, 'upload-tmp'),
      multipartThreshold: byteCount('AMPHORA_S3_MULTIPART_THRESHOLD', S3_MIN_PART_BYTES + 1),
      partSize: byteCount('AMPHORA_S3_PART_SIZE', S3_MIN_PART_BYTES),
      directMinBytes: byteCount('AMPHORA_S3_DIRECT_MIN', 0),
    });
    try {
      await store.init();
    } catch (e) {
      store.close();
      throw e;
    }
    return { store, attach: async (db) => store.attach(db) };
  }
  throw new AmphoraError('invalid_request', `--blobs "${uri}" is not a blob location; use file:DIR (a local folder) or s3://BUCKET[/PREFIX] (an S3-compatible bucket).`);
}

/** A size in bytes from the environment (tuning for multipart uploads), or undefined when unset. */
function byteCount(name: string, min: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new AmphoraError('invalid_request', `${name}=${raw} must be a whole number of bytes, at least ${min}.`);
  return n;
}
