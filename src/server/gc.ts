import type { GcResponse } from '../core/api.js';
import type { BlobStore } from './blobs/blobStore.js';
import type { Database } from './store/database.js';

export const DEFAULT_GC_GRACE_SECONDS = 24 * 3600;

/**
 * Deletes blobs that no committed or pending version and no run file references, once they are
 * older than the grace period (so a blob uploaded for a commit still in flight is kept). Runs
 * with the database held exclusively (one mutex embedded; an advisory lock every write transaction
 * of every replica takes shared in team mode), so no commit can start referencing a blob mid-sweep.
 */
export async function collectGarbage(
  db: Database,
  blobs: BlobStore,
  opts: { graceSeconds?: number; dryRun?: boolean },
): Promise<GcResponse> {
  const graceMs = (opts.graceSeconds ?? DEFAULT_GC_GRACE_SECONDS) * 1000;
  const cutoff = Date.now() - graceMs;
  return db.exclusive(async (q) => {
    const rows = await q.query<{ digest: string }>(
      `SELECT DISTINCT e.value->>'digest' AS digest
         FROM versions v, jsonb_each(v.manifest::jsonb) AS e
        WHERE v.state IN ('committed', 'pending') AND (e.value->>'ref') IS NULL
       UNION
       SELECT digest FROM run_files`,
    );
    const referenced = new Set(rows.map((r) => r.digest));
    let deletedBlobs = 0;
    let freedBytes = 0;
    let keptYoung = 0;
    for await (const b of blobs.list(q)) {
      if (referenced.has(b.digest)) continue;
      if (b.mtimeMs > cutoff) {
        keptYoung++;
        continue;
      }
      if (!opts.dryRun) await blobs.remove(b.digest, q);
      deletedBlobs++;
      freedBytes += b.size;
    }
    let packs: GcResponse['packs'];
    if (!opts.dryRun) {
      packs = await blobs.compactPacks?.(q, graceMs);
      await blobs.removeStaleTemp(Math.max(graceMs, 3600_000), q);
      await q.query('UPDATE gc_state SET epoch = epoch + 1 WHERE id = 1');
    }
    return { deletedBlobs, freedBytes, keptYoung, ...(packs ? { packs } : {}) };
  });
}
