import { ArtifactTypeList, AuditList, ProjectList } from '../../core/api.js';
import { roleOn } from '../../core/roles.js';
import { canRead } from '../auth/principal.js';
import type { RoutePlugin } from '../context.js';
import { listAudit } from '../services/audit.js';
import { errors, P, PageQuery, ProjectParams } from './common.js';

export const projectRoutes: RoutePlugin = (app, ctx) => {
  app.get(`${P}/projects`, { schema: { operationId: 'listProjects', summary: 'Projects the key may read, with artifact and run counts', response: { 200: ProjectList, ...errors } } }, async (req) => {
    const all = await ctx.artifacts.listProjects();
    return { items: all.items.filter((p) => canRead(req.principal, p.entity, p.name)) };
  });
  app.get(
    `${P}/projects/:entity/:project/artifact-types`,
    { schema: { operationId: 'listArtifactTypes', summary: 'Artifact types used in a project, with their collection counts', params: ProjectParams, response: { 200: ArtifactTypeList, ...errors } } },
    async (req) => ctx.artifacts.listTypes(req.params.entity, req.params.project),
  );
  app.get(
    `${P}/projects/:entity/:project/audit`,
    {
      schema: {
        operationId: 'listAudit',
        summary: "Who logged, aliased, edited, deleted, granted and revoked what in this project, newest first (paged); the entity's grants and keys for callers with a role on the whole entity",
        params: ProjectParams,
        querystring: PageQuery,
        response: { 200: AuditList, ...errors },
      },
    },
    // Entity-wide rows name the entity's members and keys: only those who belong to the whole entity see them.
    async (req) => listAudit(ctx.db, req.params.entity, req.params.project, { ...req.query, entityWide: roleOn(req.principal.grants, req.principal.siteAdmin, req.params.entity, null) !== null }),
  );
};
