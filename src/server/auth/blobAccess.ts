import type { Database, Queryable } from '../store/database.js';
import { readScope, type Principal } from './principal.js';

/**
 * Which blobs a caller may read. A digest names content, so knowing one must not be enough to
 * fetch it (or to commit it into one's own project and then fetch it). A caller may read a blob
 * when it belongs to a version or run file of a project they can read (`blob_projects`, written
 * at commit), or when they uploaded it themselves (`blob_uploads`). Negotiation reports every
 * other blob as missing, so a client uploads it (proving it holds the bytes) before committing.
 */
export async function readableDigests(q: Queryable, p: Principal, digests: string[]): Promise<Set<string>> {
  const unique = [...new Set(digests)];
  const scope = readScope(p);
  if (scope.all || !unique.length) return new Set(unique);
  const rows = await q.query<{ digest: string }>(
    `SELECT d.digest FROM unnest($1::text[]) AS d(digest)
      WHERE EXISTS (SELECT 1 FROM blob_uploads u WHERE u.digest = d.digest AND u.user_id = $2)
         OR EXISTS (SELECT 1 FROM blob_projects bp JOIN projects pr ON pr.id = bp.project_id
                     WHERE bp.digest = d.digest
                       AND ((pr.entity = ANY($3::text[]) AND NOT (pr.entity || '/' || pr.name) = ANY($5::text[])) OR (pr.entity || '/' || pr.name) = ANY($4::text[])))`,
    [unique, p.userId ?? -1, scope.entities, scope.projects, scope.except],
  );
  return new Set(rows.map((r) => r.digest));
}

/** Remembers who uploaded a blob (team users only: the embedded owner reads everything anyway). */
export async function recordUploads(q: Queryable, p: Principal, digests: string[]): Promise<void> {
  if (p.userId === null || p.siteAdmin || !digests.length) return;
  await q.query(
    `INSERT INTO blob_uploads (digest, user_id) SELECT DISTINCT d, $2::bigint FROM unnest($1::text[]) AS d ON CONFLICT DO NOTHING`,
    [digests, p.userId],
  );
}

/** A committed version's blobs now belong to its project; the version is marked as recorded. */
export async function recordVersionBlobs(q: Queryable, versionId: number, projectId: number, digests: string[]): Promise<void> {
  await recordProjectBlobs(q, projectId, digests);
  await q.query('UPDATE versions SET blobs_recorded = true WHERE id = $1', [versionId]);
}

/**
 * Back-fills blob_projects for versions committed without it (embedded mode skips it), so a data
 * dir first served embedded keeps every version downloadable for its readers once served --team.
 */
export async function recordMissingBlobOwners(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(
      `INSERT INTO blob_projects (digest, project_id)
         SELECT DISTINCT e.value->>'digest', c.project_id
           FROM versions v JOIN collections c ON c.id = v.collection_id, jsonb_each(v.manifest::jsonb) AS e
          WHERE NOT v.blobs_recorded AND v.state IN ('committed', 'pending') AND (e.value->>'ref') IS NULL
       ON CONFLICT DO NOTHING`,
    );
    await tx.query('UPDATE versions SET blobs_recorded = true WHERE NOT blobs_recorded');
  });
}

/** Blobs now belong to a project (at commit / run file save): its readers may download them. */
export async function recordProjectBlobs(q: Queryable, projectId: number, digests: string[]): Promise<void> {
  if (!digests.length) return;
  await q.query(
    `INSERT INTO blob_projects (digest, project_id) SELECT DISTINCT d, $2::bigint FROM unnest($1::text[]) AS d ON CONFLICT DO NOTHING`,
    [digests, projectId],
  );
}
