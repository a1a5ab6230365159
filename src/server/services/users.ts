import type { z } from 'zod';
import type { ApiKeyInfo, CreateKeyRequest, Grant, GrantRequest, RevokeGrantQuery, Role, Team, User } from '../../core/api.js';
import { AmphoraError } from '../../core/errors.js';
import { validateEntity, validateProject } from '../../core/names.js';
import { atLeast, roleOn } from '../../core/roles.js';
import { hashKey, newApiKey } from '../auth/keys.js';
import { hiddenProject, type Principal } from '../auth/principal.js';
import type { Database, Queryable } from '../store/database.js';
import { iso } from '../store/rows.js';
import { audit, ENTITY_WIDE } from './audit.js';

/** Advisory lock key of the site admin's creation (beside the store's 7_411_001/2 in postgres.ts). */
const BOOTSTRAP_LOCK = 7_411_003;

interface KeyRow {
  id: number;
  user: string;
  label: string | null;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
}

/**
 * Users, teams, grants and API keys of a team server (SPEC §5). A user owns a personal entity of
 * the same name (admin of it); a team is an entity whose members hold entity-wide grants. Keys
 * are returned once and stored as their SHA-256 only.
 */
export class UserService {
  constructor(
    private readonly db: Database,
    private readonly mode: 'embedded' | 'team',
  ) {}

  private requireTeamMode(): void {
    if (this.mode !== 'team') {
      throw new AmphoraError(
        'unsupported',
        'This server runs in embedded mode: one owner key (its credentials.json), no users or teams. Start a team server (amphora serve --team, or with --db) to manage users, teams and keys.',
      );
    }
  }

  /** Makes the first site admin on a database with no users; undefined when users exist already. */
  async bootstrap(name: string, key: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // Replicas starting together on an empty database: one at a time decides (the lock ends with
      // the transaction), and the unique user name backs it up, so exactly one creates the admin.
      await tx.query('SELECT pg_advisory_xact_lock($1)', [BOOTSTRAP_LOCK]);
      const any = await tx.query('SELECT 1 FROM users LIMIT 1');
      if (any.length) return false;
      // Replicas starting together: the unique name lets exactly one of them create the admin.
      const ins = await tx.query<{ id: number }>(`INSERT INTO users (name, site_admin) VALUES ($1, true) ON CONFLICT (name) DO NOTHING RETURNING id`, [name]);
      if (!ins.length) return false;
      await this.addPersonalEntity(tx, Number(ins[0].id), name);
      await tx.query('INSERT INTO api_keys (user_id, key_hash, label) VALUES ($1, $2, $3)', [ins[0].id, hashKey(key), 'bootstrap']);
      return true;
    });
  }

  async createUser(actor: Principal, name: string, siteAdmin = false): Promise<{ user: User; apiKey: string }> {
    this.requireTeamMode();
    validateEntity(name);
    const apiKey = newApiKey();
    await this.db.transaction(async (tx) => {
      const taken = await tx.query<{ kind: string }>('SELECT kind FROM entities WHERE name = $1 UNION ALL SELECT \'user\' FROM users WHERE name = $1', [name]);
      if (taken.length) {
        throw new AmphoraError('conflict', `The name "${name}" is taken by an existing ${taken[0].kind}; user names and team names share one namespace. Pick another name (amphora user ls lists users).`);
      }
      const id = Number((await tx.query<{ id: number }>('INSERT INTO users (name, site_admin) VALUES ($1, $2) RETURNING id', [name, siteAdmin]))[0].id);
      await this.addPersonalEntity(tx, id, name, actor.user);
      await tx.query('INSERT INTO api_keys (user_id, key_hash, label) VALUES ($1, $2, $3)', [id, hashKey(apiKey), 'first key']);
      // In the new user's own trail (entity-wide): they and site admins see who made them.
      await audit(tx, actor.user, 'user.create', name, ENTITY_WIDE, name, { user: name, siteAdmin });
    });
    return { user: await this.getUser(name), apiKey };
  }

  private async addPersonalEntity(tx: Queryable, userId: number, name: string, grantedBy: string | null = null): Promise<void> {
    await tx.query(`INSERT INTO entities (name, kind, user_id) VALUES ($1, 'user', $2)`, [name, userId]);
    await tx.query(`INSERT INTO grants (user_id, entity, project, role, granted_by) VALUES ($1, $2, '', 'admin', $3)`, [userId, name, grantedBy]);
  }

  async listUsers(): Promise<User[]> {
    this.requireTeamMode();
    const users = await this.db.query<{ id: number; name: string; site_admin: boolean; created_at: Date }>('SELECT id, name, site_admin, created_at FROM users ORDER BY name');
    const grants = await this.db.query<{ user: string; entity: string; project: string; role: Role }>(
      'SELECT u.name AS user, g.entity, g.project, g.role FROM grants g JOIN users u ON u.id = g.user_id ORDER BY g.entity, g.project',
    );
    return users.map((u) => ({
      name: u.name,
      siteAdmin: !!u.site_admin,
      createdAt: iso(u.created_at),
      grants: grants.filter((g) => g.user === u.name).map(toGrant),
    }));
  }

  private async getUser(name: string): Promise<User> {
    return (await this.listUsers()).find((u) => u.name === name)!;
  }

  private async userId(q: Queryable, name: string): Promise<number> {
    const rows = await q.query<{ id: number }>('SELECT id FROM users WHERE name = $1', [name]);
    if (!rows.length) throw new AmphoraError('not_found', `There is no user "${name}"; create it first (amphora user create ${name}).`);
    return Number(rows[0].id);
  }

  /**
   * Gives `user` a role on an entity or one project of it. Site admins grant anywhere; others
   * need admin on what they grant (an entity-wide grant needs an entity-wide admin role).
   */
  async grant(actor: Principal, req: z.infer<typeof GrantRequest>): Promise<Grant> {
    this.requireTeamMode();
    validateEntity(req.entity);
    if (req.project !== undefined) validateProject(req.project);
    const project = req.project ?? null;
    const mine = roleOn(actor.grants, actor.siteAdmin, req.entity, project);
    // Callers who cannot see the entity learn nothing about it (same 404 as for a missing one).
    if (!actor.siteAdmin && !actor.grants.some((g) => g.entity === req.entity)) throw hiddenProject();
    if (!atLeast(mine, 'admin')) {
      throw new AmphoraError('forbidden', `Granting a role on ${req.entity}${project ? `/${project}` : ''} needs admin there; your role is ${mine ?? 'none on the whole entity'}. Ask an admin of ${req.entity}.`);
    }
    await this.db.transaction(async (tx) => {
      const ent = await tx.query('SELECT 1 FROM entities WHERE name = $1', [req.entity]);
      if (!ent.length) throw new AmphoraError('not_found', `There is no user or team named "${req.entity}"; create a team with \`amphora team create ${req.entity}\`.`);
      const userId = await this.userId(tx, req.user);
      const before = await tx.query<{ role: Role }>('SELECT role FROM grants WHERE user_id = $1 AND entity = $2 AND project = $3 FOR UPDATE', [userId, req.entity, project ?? '']);
      await tx.query(
        `INSERT INTO grants (user_id, entity, project, role, granted_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (user_id, entity, project) DO UPDATE SET role = EXCLUDED.role, granted_by = EXCLUDED.granted_by, created_at = now()`,
        [userId, req.entity, project ?? '', req.role, actor.user],
      );
      await audit(tx, actor.user, 'grant.add', req.entity, project ?? ENTITY_WIDE, req.user, { role: req.role, previousRole: before[0]?.role ?? null });
    });
    return { user: req.user, entity: req.entity, project, role: req.role };
  }

  /** Removes one grant (entity-wide or one project's), with the same rights as granting it. */
  async revokeGrant(actor: Principal, req: z.infer<typeof RevokeGrantQuery>): Promise<Grant> {
    this.requireTeamMode();
    validateEntity(req.entity);
    if (req.project !== undefined) validateProject(req.project);
    const project = req.project ?? null;
    const where = `${req.entity}${project ? `/${project}` : ''}`;
    const mine = roleOn(actor.grants, actor.siteAdmin, req.entity, project);
    if (!actor.siteAdmin && !actor.grants.some((g) => g.entity === req.entity)) throw hiddenProject();
    if (!atLeast(mine, 'admin')) {
      throw new AmphoraError('forbidden', `Removing a role on ${where} needs admin there; your role is ${mine ?? 'none on the whole entity'}. Ask an admin of ${req.entity}.`);
    }
    if (req.user === req.entity && project === null) {
      throw new AmphoraError('invalid_request', `${req.user} is always admin of their personal entity ${req.entity}; that role cannot be removed. Remove roles on other entities or on single projects.`);
    }
    const removed = await this.db.transaction(async (tx) => {
      const userId = await this.userId(tx, req.user);
      const gone = await tx.query<{ role: Role }>('DELETE FROM grants WHERE user_id = $1 AND entity = $2 AND project = $3 RETURNING role', [userId, req.entity, project ?? '']);
      if (gone.length) await audit(tx, actor.user, 'grant.remove', req.entity, project ?? ENTITY_WIDE, req.user, { role: gone[0].role });
      return gone;
    });
    if (!removed.length) {
      const hint = project ? ` (a role on the whole entity ${req.entity} is removed without the project)` : ' (roles on single projects are removed with ENTITY/PROJECT)';
      throw new AmphoraError('not_found', `${req.user} has no role of their own on ${where}${hint}; \`amphora user ls\` lists every grant.`);
    }
    return { user: req.user, entity: req.entity, project, role: removed[0].role };
  }

  async createTeam(actor: Principal, name: string): Promise<Team> {
    this.requireTeamMode();
    validateEntity(name);
    await this.db.transaction(async (tx) => {
      const taken = await tx.query<{ kind: string }>('SELECT kind FROM entities WHERE name = $1 UNION ALL SELECT \'user\' FROM users WHERE name = $1', [name]);
      if (taken.length) throw new AmphoraError('conflict', `The name "${name}" is taken by an existing ${taken[0].kind}; user names and team names share one namespace. Pick another team name.`);
      await tx.query(`INSERT INTO entities (name, kind) VALUES ($1, 'team')`, [name]);
      await audit(tx, actor.user, 'team.create', name, ENTITY_WIDE, name, {});
    });
    return this.team(this.db, name);
  }

  async addMember(actor: Principal, team: string, user: string, role: Role): Promise<Team> {
    this.requireTeamMode();
    validateEntity(team);
    const kind = await this.db.query<{ kind: string }>('SELECT kind FROM entities WHERE name = $1', [team]);
    if (!actor.siteAdmin && !actor.grants.some((g) => g.entity === team)) throw hiddenProject();
    if (!kind.length || kind[0].kind !== 'team') {
      throw new AmphoraError('not_found', `There is no team "${team}"${kind.length ? ' (that name is a user)' : ''}; create it with \`amphora team create ${team}\`.`);
    }
    await this.grant(actor, { user, entity: team, role });
    return this.team(this.db, team);
  }

  private async team(q: Queryable, name: string): Promise<Team> {
    const rows = await q.query<{ created_at: Date }>('SELECT created_at FROM entities WHERE name = $1', [name]);
    const members = await q.query<{ user: string; role: Role }>(
      `SELECT u.name AS user, g.role FROM grants g JOIN users u ON u.id = g.user_id WHERE g.entity = $1 AND g.project = '' ORDER BY u.name`,
      [name],
    );
    return { name, members, createdAt: iso(rows[0]?.created_at) };
  }

  async createKey(actor: Principal, req: z.infer<typeof CreateKeyRequest>): Promise<{ key: ApiKeyInfo; apiKey: string }> {
    this.requireTeamMode();
    const owner = await this.keyOwner(actor, req.user);
    const apiKey = newApiKey();
    const rows = await this.db.transaction(async (tx) => {
      const ins = await tx.query<{ id: number }>(
        `INSERT INTO api_keys (user_id, key_hash, label, expires_at)
         VALUES ($1, $2, $3, CASE WHEN $4::double precision IS NULL THEN NULL ELSE now() + $4::double precision * interval '1 second' END) RETURNING id`,
        [owner, hashKey(apiKey), req.label ?? null, req.expiresInSeconds ?? null],
      );
      await this.auditKey(tx, actor, 'key.create', owner, ins[0].id, { label: req.label ?? null, expiresInSeconds: req.expiresInSeconds ?? null });
      return ins;
    });
    return { key: (await this.keys(this.db, 'k.id = $1', [rows[0].id]))[0], apiKey };
  }

  async listKeys(actor: Principal, user?: string): Promise<ApiKeyInfo[]> {
    this.requireTeamMode();
    return this.keys(this.db, 'k.user_id = $1', [await this.keyOwner(actor, user)]);
  }

  /** Revokes one of the caller's keys (site admins: anyone's). Unknown ids and other users' keys look alike. */
  async revokeKey(actor: Principal, id: string): Promise<ApiKeyInfo> {
    this.requireTeamMode();
    const unknown = () => new AmphoraError('not_found', `You have no API key with id "${id.slice(0, 40)}"; \`amphora key ls\` lists your keys and their ids.`);
    if (!/^[0-9]{1,18}$/.test(id)) throw unknown();
    await this.db.transaction(async (tx) => {
      const rows = await tx.query<{ user_id: number }>('SELECT user_id FROM api_keys WHERE id = $1 FOR UPDATE', [Number(id)]);
      if (!rows.length || (!actor.siteAdmin && Number(rows[0].user_id) !== actor.userId)) throw unknown();
      const changed = await tx.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id', [Number(id)]);
      if (changed.length) await this.auditKey(tx, actor, 'key.revoke', Number(rows[0].user_id), Number(id), {});
    });
    return (await this.keys(this.db, 'k.id = $1', [Number(id)]))[0];
  }

  /** A key's audit row belongs to its owner's personal entity (entity-wide: seen by that user and site admins). */
  private async auditKey(tx: Queryable, actor: Principal, action: 'key.create' | 'key.revoke', ownerId: number, keyId: number, detail: Record<string, unknown>): Promise<void> {
    const owner = await tx.query<{ user: string; entity: string }>(
      `SELECT u.name AS user, COALESCE(e.name, u.name) AS entity FROM users u LEFT JOIN entities e ON e.user_id = u.id AND e.kind = 'user' WHERE u.id = $1`,
      [ownerId],
    );
    await audit(tx, actor.user, action, owner[0].entity, ENTITY_WIDE, `key ${keyId}`, { user: owner[0].user, ...detail });
  }

  private async keyOwner(actor: Principal, user: string | undefined): Promise<number> {
    if (user === undefined || user === actor.user) {
      if (actor.userId === null) throw new AmphoraError('unsupported', 'The embedded owner has one key (credentials.json) and no others.');
      return actor.userId;
    }
    if (!actor.siteAdmin) throw new AmphoraError('forbidden', `Only site admins manage other users' keys; you are "${actor.user}" (leave out --user for your own keys).`);
    return this.userId(this.db, user);
  }

  private async keys(q: Queryable, where: string, params: unknown[]): Promise<ApiKeyInfo[]> {
    const rows = await q.query<KeyRow>(
      `SELECT k.id, u.name AS user, k.label, k.created_at, k.expires_at, k.revoked_at, k.last_used_at
         FROM api_keys k JOIN users u ON u.id = k.user_id WHERE ${where} ORDER BY k.id`,
      params,
    );
    return rows.map((r) => ({
      id: String(r.id),
      user: r.user,
      label: r.label,
      createdAt: iso(r.created_at),
      expiresAt: r.expires_at ? iso(r.expires_at) : null,
      revokedAt: r.revoked_at ? iso(r.revoked_at) : null,
      lastUsedAt: r.last_used_at ? iso(r.last_used_at) : null,
    }));
  }
}

function toGrant(g: { user: string; entity: string; project: string; role: Role }): Grant {
  return { user: g.user, entity: g.entity, project: g.project === '' ? null : g.project, role: g.role };
}
