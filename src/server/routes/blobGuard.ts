import { storedBlobs, type Manifest } from '../../core/node/manifest.js';
import { readableDigests } from '../auth/blobAccess.js';
import type { Principal } from '../auth/principal.js';
import type { Queryable } from '../store/database.js';
import { missingBlobsError } from '../services/missingBlobs.js';

/**
 * A manifest may only name blobs the caller may read (see auth/blobAccess.ts): otherwise knowing
 * a digest would be enough to copy another team's file into one's own project. Unreadable blobs
 * are reported exactly like absent ones, so the client uploads them and commits again.
 */
export async function requireReadableBlobs(q: Queryable, p: Principal, blobs: { digest: string; size: number }[]): Promise<void> {
  if (p.siteAdmin || !blobs.length) return;
  const ok = await readableDigests(q, p, blobs.map((b) => b.digest));
  const missing = blobs.filter((b) => !ok.has(b.digest));
  if (missing.length) throw missingBlobsError(missing);
}

export function manifestBlobs(manifest: unknown): { digest: string; size: number }[] {
  return storedBlobs(manifest as Manifest);
}
