import type { Role } from '../../core/api.js';
import { AmphoraError } from '../../core/errors.js';
import { sameKey } from '../credentials.js';
import type { Database, Queryable } from '../store/database.js';
import { hashKey, sameHash } from './keys.js';
import type { Principal } from './principal.js';

/**
 * A resolved key is dropped from the cache by any write transaction on any replica (team mode:
 * the commit's NOTIFY bumps every replica's `generation`, so a revocation or grant change on one
 * replica reaches the others within milliseconds). This age limit is only a backstop.
 */
const CACHE_TTL_MS = 60_000;
const CACHE_MAX = 10_000;
/** last_used_at is written at most this often per key. */
const LAST_USED_EVERY_MS = 60_000;

interface Cached {
  principal: Principal;
  expiresAt: number | null;
  loadedAt: number;
  generation: number;
}

/**
 * Turns a bearer key into a Principal. Embedded mode: the single owner key of credentials.json
 * (the owner is site admin). Team mode: the SHA-256 of the key is looked up in `api_keys`;
 * revoked or expired keys are refused with a message saying so. Results are cached per key hash
 * until any write transaction (on any replica) or for CACHE_TTL_MS, whichever comes first.
 */
export class Authenticator {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly mode: 'embedded' | 'team',
    private readonly db: Database,
    private readonly owner: { apiKey: string; entity: string },
  ) {}

  async authenticate(key: string): Promise<Principal> {
    if (this.mode === 'embedded') {
      if (!sameKey(key, this.owner.apiKey)) throw new AmphoraError('unauthorized', 'Wrong API key');
      return { user: this.owner.entity, userId: null, siteAdmin: true, entity: this.owner.entity, grants: [], restricted: [], keyHash: null };
    }
    const hash = hashKey(key);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.generation === this.db.generation && now - hit.loadedAt < CACHE_TTL_MS && (hit.expiresAt === null || hit.expiresAt > now)) {
      return hit.principal;
    }
    const loaded = await this.load(hash, now);
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(hash, loaded);
    return loaded.principal;
  }

  /** Re-checks a principal from a long-lived request (SSE): undefined once its key stopped working. */
  async refresh(p: Principal): Promise<Principal | undefined> {
    if (!p.keyHash) return p;
    try {
      return (await this.load(p.keyHash, Date.now())).principal;
    } catch {
      return undefined;
    }
  }

  private async load(hash: string, now: number): Promise<Cached> {
    const generation = this.db.generation;
    const rows = await this.db.query<{ id: number; key_hash: string; user_id: number; name: string; site_admin: boolean; expires_at: Date | null; revoked_at: Date | null; last_used_at: Date | null }>(
      `SELECT k.id, k.key_hash, k.user_id, u.name, u.site_admin, k.expires_at, k.revoked_at, k.last_used_at
         FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1`,
      [hash],
    );
    const k = rows[0];
    if (!k || !sameHash(k.key_hash, hash)) throw new AmphoraError('unauthorized', 'Unknown API key');
    if (k.revoked_at) {
      throw new AmphoraError('unauthorized', `This API key (id ${k.id}) was revoked on ${new Date(k.revoked_at).toISOString()}; create a new one with \`amphora key create\` (or ask an admin).`);
    }
    const expiresAt = k.expires_at ? new Date(k.expires_at).getTime() : null;
    if (expiresAt !== null && expiresAt <= now) {
      throw new AmphoraError('unauthorized', `This API key (id ${k.id}) expired on ${new Date(expiresAt).toISOString()}; create a new one with \`amphora key create\` (or ask an admin).`);
    }
    const userId = Number(k.user_id);
    const grants = await loadGrants(this.db, userId);
    const personal = grants.find((g) => g.kind === 'user' && g.project === null && g.owner);
    if (!k.last_used_at || now - new Date(k.last_used_at).getTime() > LAST_USED_EVERY_MS) {
      await this.db.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [k.id]).catch(() => undefined);
    }
    return {
      principal: {
        user: k.name,
        userId,
        siteAdmin: !!k.site_admin,
        entity: personal?.entity ?? k.name,
        grants: grants.map(({ entity, project, role, kind }) => ({ entity, project, role, kind })),
        restricted: await restrictedRegistries(this.db, userId),
        keyHash: hash,
      },
      expiresAt,
      loadedAt: now,
      generation,
    };
  }
}

/**
 * A user's grants: their own, plus the roles on registries that teams they belong to (by an
 * entity-wide grant on the team) were given as registry members.
 */
export async function loadGrants(q: Queryable, userId: number) {
  const rows = await q.query<{ entity: string; project: string; role: Role; kind: 'user' | 'team' | null; owner_id: number | null }>(
    `SELECT g.entity, g.project, g.role, e.kind, e.user_id AS owner_id
       FROM grants g JOIN entities e ON e.name = g.entity WHERE g.user_id = $1
     UNION ALL
     SELECT p.entity, p.name, m.role, e.kind, NULL
       FROM registry_team_members m JOIN projects p ON p.id = m.project_id JOIN entities e ON e.name = p.entity
       JOIN grants tg ON tg.entity = m.team AND tg.project = '' WHERE tg.user_id = $1
     ORDER BY 1, 2`,
    [userId],
  );
  return rows.map((r) => ({
    entity: r.entity,
    project: r.project === '' ? null : r.project,
    role: r.role,
    kind: r.kind,
    owner: r.owner_id !== null && Number(r.owner_id) === userId,
  }));
}

/** Restricted registries of the entities where the user holds an entity-wide role (see projectRole). */
async function restrictedRegistries(q: Queryable, userId: number): Promise<string[]> {
  const rows = await q.query<{ entity: string; project: string }>(
    `SELECT p.entity, p.name AS project FROM registries r JOIN projects p ON p.id = r.project_id
      WHERE r.visibility = 'restricted' AND p.entity IN (SELECT entity FROM grants WHERE user_id = $1 AND project = '')`,
    [userId],
  );
  return rows.map((r) => `${r.entity}/${r.project}`);
}
