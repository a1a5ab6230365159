import type { Role } from '../../core/api.js';
import { AmphoraError } from '../../core/errors.js';
import { atLeast, projectRoleOn, type RoleGrant } from '../../core/roles.js';

/** Who is calling, with every grant they hold (loaded once per key, see authenticator.ts). */
export interface Principal {
  /** User name; the embedded owner is named like its entity. */
  user: string;
  /** Row id in `users`; null for the embedded owner (who has no row). */
  userId: number | null;
  siteAdmin: boolean;
  /** The user's personal entity: the default for unqualified references. */
  entity: string;
  grants: (RoleGrant & { kind: 'user' | 'team' | null })[];
  /**
   * `entity/project` of restricted registries in entities where the caller holds an entity-wide
   * role: there only their own registry roles (and an entity admin role) count.
   */
  restricted: string[];
  /** SHA-256 of the key used (team mode), so long-lived streams can re-check it. */
  keyHash: string | null;
}

export function projectRole(p: Principal, entity: string, project: string): Role | null {
  return projectRoleOn(p.grants, p.siteAdmin, p.restricted, entity, project);
}

export function canRead(p: Principal, entity: string, project: string): boolean {
  return projectRole(p, entity, project) !== null;
}

/**
 * The one answer for a project the caller may not see: the same whether it exists or not, and
 * naming nothing, so a 404 reveals neither other teams' names nor what they hold.
 */
export function hiddenProject(): AmphoraError {
  return new AmphoraError(
    'not_found',
    'No such project, or your API key has no role on it. Check the entity/project part of the reference (`amphora whoami` lists your roles; over HTTP, GET /api/v1/viewer), or ask an admin of that entity for a role (amphora user grant USER ENTITY[/PROJECT] ROLE).',
  );
}

/** 404 when the caller cannot see the project, 403 (naming their role) when they can but may not act. */
export function requireRole(p: Principal, entity: string, project: string, needed: Role, what: string): void {
  const role = projectRole(p, entity, project);
  if (!role) throw hiddenProject();
  if (!atLeast(role, needed)) {
    throw new AmphoraError(
      'forbidden',
      `Your role on ${entity}/${project} is ${role}; ${what} needs ${needed}. Ask an admin of ${entity} for a higher role (amphora user grant ${p.user} ${entity}/${project} ${needed}).`,
    );
  }
}

/** The projects whose blobs a caller may read: everything, or these entities and entity/project pairs. */
export function readScope(p: Principal): { all: true } | { all: false; entities: string[]; projects: string[]; except: string[] } {
  if (p.siteAdmin) return { all: true };
  return {
    all: false,
    entities: p.grants.filter((g) => g.project === null).map((g) => g.entity),
    projects: p.grants.filter((g) => g.project !== null).map((g) => `${g.entity}/${g.project}`),
    // Restricted registries the entity-wide roles do not reach (projectRole's rule).
    except: p.restricted.filter((key) => {
      const [entity, project] = key.split('/');
      return projectRole(p, entity, project) === null;
    }),
  };
}
