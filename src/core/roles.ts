/**
 * Roles (SPEC §5), shared by the server (which enforces them) and the extension (which hides
 * what a role may not do). viewer < editor < admin; a grant on a whole entity (project null)
 * covers every project of it, a grant on a project only that project.
 */
import type { Role } from './api.js';

const RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

export interface RoleGrant {
  entity: string;
  /** null: the whole entity. */
  project: string | null;
  role: Role;
}

export function atLeast(role: Role | null | undefined, needed: Role): boolean {
  return !!role && RANK[role] >= RANK[needed];
}

export function higher(a: Role | null, b: Role | null): Role | null {
  if (!a) return b;
  if (!b) return a;
  return RANK[a] >= RANK[b] ? a : b;
}

/**
 * The caller's role on `entity/project` (or on the whole entity when `project` is null: only
 * entity-wide grants count then). Site admins are admin everywhere.
 */
export function roleOn(grants: readonly RoleGrant[], siteAdmin: boolean, entity: string, project: string | null): Role | null {
  if (siteAdmin) return 'admin';
  let best: Role | null = null;
  for (const g of grants) {
    if (g.entity !== entity) continue;
    if (g.project === null || (project !== null && g.project === project)) best = higher(best, g.role);
  }
  return best;
}

/**
 * The caller's role on one project, where `restricted` lists the `entity/project` of restricted
 * registries (W&B: "only invited members"): there, entity-wide roles below admin do not reach,
 * only the caller's own registry roles do. The server enforces this; the extension hides menus by it.
 */
export function projectRoleOn(grants: readonly RoleGrant[], siteAdmin: boolean, restricted: readonly string[], entity: string, project: string): Role | null {
  const reaching = restricted.includes(`${entity}/${project}`) ? grants.filter((g) => g.project !== null || g.role === 'admin') : grants;
  return roleOn(reaching, siteAdmin, entity, project);
}

/** What each role may do, for messages and for hiding actions. */
export const ROLE_ACTIONS: Record<Role, string> = {
  viewer: 'read and download',
  editor: 'read, download, log, alias, edit, use and create runs',
  admin: 'everything an editor may, plus delete versions and grant roles',
};

/** Every role, lowest first (a plain list: the CLI's parser must not load zod for it). */
export const ROLE_NAMES: readonly Role[] = ['viewer', 'editor', 'admin'];
