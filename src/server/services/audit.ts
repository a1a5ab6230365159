import type { AuditEntry } from '../../core/api.js';
import type { Database, Queryable } from '../store/database.js';
import { iso } from '../store/rows.js';
import { clampLimit, decodeCursor, encodeCursor } from './paging.js';

/** The user a change is attributed to (null: a caller without a name, e.g. internal sweeps). */
export type Actor = string | null;

/** Appends one audit row in the caller's transaction, so the trail commits with the change. */
export async function audit(tx: Queryable, actor: Actor, action: AuditEntry['action'], entity: string, project: string, target: string, detail: Record<string, unknown>): Promise<void> {
  if (actor === null) return;
  await tx.query('INSERT INTO audit_log (actor, action, entity, project, target, detail) VALUES ($1, $2, $3, $4, $5, $6)', [actor, action, entity, project, target, JSON.stringify(detail)]);
}

const isAuditId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;

/** Project of the audit rows that concern a whole entity (grants on it, its user's keys). */
export const ENTITY_WIDE = '';

/** A project's trail, newest first (paged); with `entityWide`, the entity's own rows (grants, keys) too. */
export async function listAudit(db: Database, entity: string, project: string, opts: { limit?: number; cursor?: string; entityWide?: boolean }) {
  const n = clampLimit(opts.limit);
  const before = decodeCursor(opts.cursor, isAuditId);
  const rows = await db.query<{ id: number; at: Date; actor: string; action: AuditEntry['action']; project: string; target: string; detail: Record<string, unknown> }>(
    `SELECT id, at, actor, action, project, target, detail FROM audit_log
      WHERE entity = $1 AND project = ANY($2::text[]) AND ($3::bigint IS NULL OR id < $3) ORDER BY id DESC LIMIT $4`,
    [entity, opts.entityWide ? [project, ENTITY_WIDE] : [project], before ?? null, n + 1],
  );
  const page = rows.slice(0, n);
  return {
    items: page.map((r) => ({ at: iso(r.at), actor: r.actor, action: r.action, project: r.project === ENTITY_WIDE ? null : r.project, target: r.target, detail: r.detail ?? {} })),
    nextCursor: rows.length > n ? encodeCursor(Number(page[page.length - 1].id)) : null,
  };
}
