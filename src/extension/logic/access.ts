/**
 * What the signed-in user may do, from GET /viewer: drives the tree items' context values
 * (so menus hide what the role forbids), the status bar and the Sign In message. No vscode here.
 */
import type { ArtifactVersion, Role, Viewer } from '../../core/api.js';
import { atLeast, projectRoleOn, ROLE_ACTIONS } from '../../core/roles.js';

/**
 * The user's role on a project. A server that does not describe grants (older servers) gets
 * admin: nothing is hidden and the server's own 403 explains a refusal.
 */
export function roleFor(viewer: Viewer | undefined, entity: string, project: string): Role | null {
  if (!viewer || viewer.siteAdmin || !viewer.entities) return 'admin';
  return projectRoleOn(viewer.entities, false, viewer.restricted ?? [], entity, project);
}

/** Context value of a version row: `version[.aliased][.canEdit][.canDelete]` (menus match on it). */
export function versionContextValue(v: Pick<ArtifactVersion, 'aliases'>, role: Role | null): string {
  let value = v.aliases.some((a) => a !== 'latest') ? 'version.aliased' : 'version';
  if (atLeast(role, 'editor')) value += '.canEdit';
  if (atLeast(role, 'admin')) value += '.canDelete';
  return value;
}

/** Why an action is refused, or undefined when the role allows it. */
export function forbiddenReason(role: Role | null, needed: Role, action: string, where: string): string | undefined {
  if (atLeast(role, needed)) return undefined;
  return `${action} needs the ${needed} role on ${where}; yours is ${role ?? 'none'} (${role ? ROLE_ACTIONS[role] : 'no access'}). Ask an admin of the project for a higher role.`;
}

/** "viewer of vision/mnist, editor of vision, admin of alice" (or "site admin"). */
export function describeRoles(viewer: Viewer): string {
  if (viewer.siteAdmin) return viewer.mode === 'embedded' ? 'owner of this local server' : 'site admin';
  const grants = viewer.entities ?? [];
  if (!grants.length) return 'no roles yet';
  return grants.map((g) => `${g.role} of ${g.entity}${g.project ? `/${g.project}` : ''}`).join(', ');
}

/** The message after a successful Sign In: who the key belongs to and what they may do. */
export function signInMessage(url: string, viewer: Viewer): string {
  return `Signed in to ${url} as ${viewer.user ?? viewer.entity} (${describeRoles(viewer)}).`;
}

/** Status-bar text: which server (team or local) and which user. */
export function statusText(mode: 'local' | 'started' | 'remote', baseUrl: string, viewer: Viewer | undefined): string {
  const who = viewer?.user ?? viewer?.entity ?? '?';
  if (mode !== 'remote') return `Amphora: local · ${who}`;
  let host = baseUrl;
  try {
    host = new URL(baseUrl).host;
  } catch {
    /* keep as given */
  }
  return `Amphora: ${who}@${host}`;
}
