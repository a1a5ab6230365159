/** What every store that keeps small blobs in packs (the S3 bucket, an embedded server's folder) shares. */
import { createHash } from 'node:crypto';
import { AmphoraError } from '../../core/errors.js';

const HEX64 = /^[0-9a-f]{64}$/;

/** GC rewrites a pack (older than the grace period) once less than this share of its bytes is still referenced. */
export const REPACK_BELOW_LIVE_SHARE = 0.5;

/**
 * Hashes each blob of a batch bound for a pack: the ones that match their digest (once each, in
 * order) are `good`; the others are listed in `failed` with what they hash to, and stored nowhere.
 */
export function verifyPackBlobs(blobs: { digest: string; bytes: Buffer }[], maxBlobBytes: number): { good: Map<string, Buffer>; failed: { digest: string; actual: string }[] } {
  const failed: { digest: string; actual: string }[] = [];
  const good = new Map<string, Buffer>();
  for (const b of blobs) {
    if (!HEX64.test(b.digest)) throw new AmphoraError('invalid_request', `"${b.digest.slice(0, 80)}" is not a SHA-256 digest (64 lowercase hex characters).`);
    if (b.bytes.length > maxBlobBytes) throw new Error(`putPack: blob ${b.digest} has ${b.bytes.length} bytes, over the pack limit`);
    const actual = createHash('sha256').update(b.bytes).digest('hex');
    if (actual !== b.digest) failed.push({ digest: b.digest, actual });
    else good.set(b.digest, b.bytes);
  }
  return { good, failed };
}
