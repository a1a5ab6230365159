/**
 * W&B's registry members and roles, on the team server's grants (SPEC §5). A registry is the
 * project `wandb-registry-NAME`: a user member holds a grant on that project, a team member is a
 * `registry_team_members` row that gives every member of the team the role there (authenticator.ts
 * folds it into their grants). Registry roles map onto project roles: viewer = viewer,
 * member = editor, admin = admin. Embedded mode has a single owner: it is the only member.
 */
import type { RegistryMember, RegistryRole, Role } from '../../core/api.js';
import { AmphoraError } from '../../core/errors.js';
import type { Principal } from '../auth/principal.js';
import type { Database, Queryable } from '../store/database.js';
import { audit } from './audit.js';
import { findProjectId } from './projects.js';
import { registryName } from './registries.js';

type Kind = RegistryMember['kind'];

const TO_PROJECT_ROLE: Record<RegistryRole, Role> = { viewer: 'viewer', member: 'editor', admin: 'admin' };
const TO_REGISTRY_ROLE: Record<Role, RegistryRole> = { viewer: 'viewer', editor: 'member', admin: 'admin' };

/** How a member appears in the audit trail's target (a team is marked so it never reads as a user). */
const auditTarget = (kind: Kind, name: string) => (kind === 'team' ? `team:${name}` : name);

export class RegistryMembers {
  constructor(
    private readonly db: Database,
    private readonly mode: 'embedded' | 'team',
  ) {}

  async list(caller: Principal, entity: string, project: string): Promise<RegistryMember[]> {
    const projectId = await this.registryProjectId(this.db, entity, project);
    if (this.mode === 'embedded') return [{ kind: 'user', name: caller.user, role: 'admin' }];
    const users = await this.db.query<{ name: string; role: Role }>(
      `SELECT u.name, g.role FROM grants g JOIN users u ON u.id = g.user_id WHERE g.entity = $1 AND g.project = $2 ORDER BY u.name`,
      [entity, project],
    );
    const teams = await this.db.query<{ team: string; role: Role }>('SELECT team, role FROM registry_team_members WHERE project_id = $1 ORDER BY team', [projectId]);
    return [
      ...users.map((u): RegistryMember => ({ kind: 'user', name: u.name, role: TO_REGISTRY_ROLE[u.role] })),
      ...teams.map((t): RegistryMember => ({ kind: 'team', name: t.team, role: TO_REGISTRY_ROLE[t.role] })),
    ];
  }

  /** Adds members with `role` (W&B's default: viewer); a member already there keeps their role. */
  async add(actor: Principal, entity: string, project: string, members: { kind: Kind; name: string }[], role: RegistryRole = 'viewer'): Promise<RegistryMember[]> {
    this.requireTeamMode(entity, project);
    await this.db.transaction(async (tx) => {
      const projectId = await this.registryProjectId(tx, entity, project);
      for (const m of members) {
        const added =
          m.kind === 'user'
            ? await tx.query(
                `INSERT INTO grants (user_id, entity, project, role, granted_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, entity, project) DO NOTHING RETURNING role`,
                [await userId(tx, m.name), entity, project, TO_PROJECT_ROLE[role], actor.user],
              )
            : await tx.query(`INSERT INTO registry_team_members (project_id, team, role, added_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING role`, [
                projectId,
                await teamName(tx, m.name),
                TO_PROJECT_ROLE[role],
                actor.user,
              ]);
        if (added.length) await audit(tx, actor.user, 'grant.add', entity, project, auditTarget(m.kind, m.name), { role: TO_PROJECT_ROLE[role], registryRole: role, previousRole: null });
      }
    });
    return this.list(actor, entity, project);
  }

  async update(actor: Principal, entity: string, project: string, kind: Kind, name: string, role: RegistryRole): Promise<RegistryMember> {
    this.requireTeamMode(entity, project);
    await this.db.transaction(async (tx) => {
      const projectId = await this.registryProjectId(tx, entity, project);
      const [select, change, params] =
        kind === 'user'
          ? [
              'SELECT role FROM grants WHERE user_id = (SELECT id FROM users WHERE name = $1) AND entity = $2 AND project = $3 FOR UPDATE',
              'UPDATE grants SET role = $4, granted_by = $5 WHERE user_id = (SELECT id FROM users WHERE name = $1) AND entity = $2 AND project = $3',
              [name, entity, project],
            ]
          : ['SELECT role FROM registry_team_members WHERE team = $1 AND project_id = $2 FOR UPDATE', 'UPDATE registry_team_members SET role = $3, added_by = $4 WHERE team = $1 AND project_id = $2', [name, projectId]];
      const before = await tx.query<{ role: Role }>(select, params);
      if (!before.length) throw notAMember(entity, project, kind, name);
      await tx.query(change, [...params, TO_PROJECT_ROLE[role], actor.user]);
      await audit(tx, actor.user, 'grant.add', entity, project, auditTarget(kind, name), { role: TO_PROJECT_ROLE[role], registryRole: role, previousRole: before[0].role });
    });
    return { kind, name, role };
  }

  async remove(actor: Principal, entity: string, project: string, kind: Kind, name: string): Promise<RegistryMember> {
    this.requireTeamMode(entity, project);
    return this.db.transaction(async (tx) => {
      const projectId = await this.registryProjectId(tx, entity, project);
      const rows =
        kind === 'user'
          ? await tx.query<{ role: Role }>('DELETE FROM grants WHERE user_id = (SELECT id FROM users WHERE name = $1) AND entity = $2 AND project = $3 RETURNING role', [name, entity, project])
          : await tx.query<{ role: Role }>('DELETE FROM registry_team_members WHERE project_id = $1 AND team = $2 RETURNING role', [projectId, name]);
      if (!rows.length) throw notAMember(entity, project, kind, name);
      await audit(tx, actor.user, 'grant.remove', entity, project, auditTarget(kind, name), { role: rows[0].role, registryRole: TO_REGISTRY_ROLE[rows[0].role] });
      return { kind, name, role: TO_REGISTRY_ROLE[rows[0].role] };
    });
  }

  private requireTeamMode(entity: string, project: string): void {
    if (this.mode === 'team') return;
    throw new AmphoraError(
      'unsupported',
      `This server runs in embedded mode: its one owner is the only member (admin) of ${entity}/${project}, and there are no other users to add. Start a team server (amphora serve --team, or with --db) for registry members.`,
    );
  }

  /** The registry's project id; 404 naming the registry when the project is not one. */
  private async registryProjectId(q: Queryable, entity: string, project: string): Promise<number> {
    const name = registryName(project);
    const projectId = await findProjectId(q, entity, project);
    const rows = projectId === undefined ? [] : await q.query('SELECT 1 FROM registries WHERE project_id = $1', [projectId]);
    if (!rows.length) throw new AmphoraError('not_found', `There is no registry "${name}" in ${entity}; create it with Api().create_registry("${name}", visibility="restricted") first.`);
    return projectId!;
  }
}

async function userId(q: Queryable, name: string): Promise<number> {
  const rows = await q.query<{ id: number }>('SELECT id FROM users WHERE name = $1', [name]);
  if (!rows.length) throw new AmphoraError('not_found', `There is no user "${name}"; create it first (amphora user create ${name}), or add a team with kind "team".`);
  return Number(rows[0].id);
}

async function teamName(q: Queryable, name: string): Promise<string> {
  const rows = await q.query<{ kind: string }>('SELECT kind FROM entities WHERE name = $1', [name]);
  if (!rows.length || rows[0].kind !== 'team') {
    throw new AmphoraError('not_found', `There is no team "${name}"${rows.length ? ' (that name is a user: add it with kind "user")' : ''}; create it with \`amphora team create ${name}\`.`);
  }
  return name;
}

function notAMember(entity: string, project: string, kind: Kind, name: string): AmphoraError {
  return new AmphoraError('not_found', `${kind === 'team' ? `Team ${name}` : name} is not a member of ${entity}/${project}; \`amphora registry members ${registryName(project)}\` lists its members (add one with add-member).`);
}
