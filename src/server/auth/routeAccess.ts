import type { Role } from '../../core/api.js';

/**
 * Who may call each route. Every route the server registers must have a rule here, or the
 * server refuses to start (see checkRouteHasRule) — so a new route cannot ship unguarded.
 *
 * - `public`: no key (health check).
 * - `user`: any valid key; the handler filters or checks what the request names (projects in
 *   a reference, blob digests, keys of the caller).
 * - `{ project: role }`: the route's :entity/:project; no role → 404, a lower role → 403.
 * - `siteAdmin`: site admins only (403 for others).
 */
export type AccessRule = 'public' | 'user' | 'siteAdmin' | { project: Role; action: string };

const P = '/api/v1';
const PROJ = `${P}/projects/:entity/:project`;
const ART = `${PROJ}/artifacts`;
const RUN = `${PROJ}/runs`;
const read = (action: string): AccessRule => ({ project: 'viewer', action });
const edit = (action: string): AccessRule => ({ project: 'editor', action });

export const ROUTE_ACCESS: Record<string, AccessRule> = {
  [`GET ${P}/health`]: 'public',
  [`GET ${P}/openapi.json`]: 'user',
  [`GET ${P}/viewer`]: 'user',
  [`GET ${P}/events`]: 'user',
  [`GET ${P}/resolve`]: 'user',
  [`GET ${P}/projects`]: 'user',
  [`GET ${PROJ}/artifact-types`]: read('listing artifact types'),
  [`GET ${PROJ}/lineage`]: read('reading lineage'),
  [`GET ${PROJ}/audit`]: read('reading the audit trail'),
  [`GET ${ART}`]: read('listing artifacts'),
  [`GET ${ART}/:name`]: read('reading an artifact'),
  [`GET ${ART}/:name/versions`]: read('listing versions'),
  [`POST ${ART}/:name/versions`]: edit('logging a version'),
  [`POST ${ART}/:name/relog`]: edit('logging a version'),
  [`GET ${ART}/:name/versions/:selector`]: read('reading a version'),
  [`GET ${ART}/:name/versions/:selector/manifest`]: read('reading a manifest'),
  [`GET ${ART}/:name/versions/:selector/consumers`]: read('listing consumers'),
  [`PATCH ${ART}/:name/versions/:selector`]: edit('changing aliases, description or metadata'),
  [`DELETE ${ART}/:name/versions/:selector`]: { project: 'admin', action: 'deleting a version' },
  [`POST ${ART}/:name/pending/:distributedId`]: edit('adding files to a distributed version'),
  [`POST ${ART}/:name/pending/:distributedId/finish`]: edit('committing a distributed version'),
  // Registries: the list shows what the key may read; a registry's settings live on its project.
  [`GET ${P}/registries`]: 'user',
  [`GET ${PROJ}/registry`]: read('reading a registry'),
  [`PUT ${PROJ}/registry`]: edit('creating a registry'),
  [`PATCH ${PROJ}/registry`]: { project: 'admin', action: 'changing a registry' },
  [`DELETE ${PROJ}/registry`]: { project: 'admin', action: 'deleting a registry' },
  // Registry members: members see who else is one; registry admins (project admins) manage them.
  [`GET ${PROJ}/registry/members`]: read('listing registry members'),
  [`POST ${PROJ}/registry/members`]: { project: 'admin', action: 'adding registry members' },
  [`PATCH ${PROJ}/registry/members/:kind/:name`]: { project: 'admin', action: 'changing a registry member\'s role' },
  [`DELETE ${PROJ}/registry/members/:kind/:name`]: { project: 'admin', action: 'removing a registry member' },
  // The target registry needs editor; the handler also checks that the source is readable.
  [`POST ${ART}/:name/links`]: edit('linking a version into a registry'),
  [`POST ${RUN}`]: edit('creating a run'),
  [`GET ${RUN}`]: read('listing runs'),
  [`GET ${RUN}/:runId`]: read('reading a run'),
  [`PATCH ${RUN}/:runId`]: edit('updating a run'),
  [`POST ${RUN}/:runId/heartbeat`]: edit('sending run heartbeats'),
  [`POST ${RUN}/:runId/history`]: edit('logging run metrics'),
  [`GET ${RUN}/:runId/history`]: read('reading run metrics'),
  [`GET ${RUN}/:runId/metrics`]: read('reading run metrics'),
  [`PUT ${RUN}/:runId/files`]: edit('saving run files'),
  [`GET ${RUN}/:runId/files`]: read('listing run files'),
  [`POST ${RUN}/:runId/inputs`]: edit('declaring a used artifact'),
  [`GET ${RUN}/:runId/inputs`]: read('listing a run\'s inputs'),
  [`GET ${RUN}/:runId/outputs`]: read('listing a run\'s outputs'),
  // Blobs are content-addressed and shared: the handlers check which digests the caller may read.
  [`POST ${P}/blobs/negotiate`]: 'user',
  // After a presigned upload to storage: verifies the bytes and records the caller as their uploader.
  [`POST ${P}/blobs/confirm`]: 'user',
  [`PUT ${P}/blobs/:digest`]: 'user',
  [`POST ${P}/blobs/batch`]: 'user',
  [`POST ${P}/blobs/batch-get`]: 'user',
  [`POST ${P}/blobs/flush`]: 'user',
  [`GET ${P}/blobs/:digest`]: 'user',
  [`POST ${P}/admin/gc`]: 'siteAdmin',
  [`GET ${P}/users`]: 'siteAdmin',
  [`POST ${P}/users`]: 'siteAdmin',
  // Entity/project admins grant within what they administer (checked by the handler).
  [`POST ${P}/grants`]: 'user',
  [`DELETE ${P}/grants`]: 'user',
  [`POST ${P}/teams`]: 'siteAdmin',
  [`POST ${P}/teams/:team/members`]: 'user',
  [`GET ${P}/keys`]: 'user',
  [`POST ${P}/keys`]: 'user',
  [`DELETE ${P}/keys/:keyId`]: 'user',
};

/** The rule of a route (HEAD shares its GET's rule); undefined when the route has none. */
export function ruleFor(method: string, url: string): AccessRule | undefined {
  return ROUTE_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

export function checkRouteHasRule(method: string | string[], url: string): void {
  for (const m of Array.isArray(method) ? method : [method]) {
    if (!ruleFor(m, url)) {
      throw new Error(`Route ${m} ${url} has no access rule; add one to ROUTE_ACCESS in src/server/auth/routeAccess.ts.`);
    }
  }
}
