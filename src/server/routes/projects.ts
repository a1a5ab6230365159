import { ArtifactTypeList, AuditList, ProjectList } from '../../core/api.js';
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
    { schema: { operationId: 'listAudit', summary: 'Who logged, aliased, edited and deleted what in this project, newest first (paged)', params: ProjectParams, querystring: PageQuery, response: { 200: AuditList, ...errors } } },
    async (req) => listAudit(ctx.db, req.params.entity, req.params.project, req.query),
  );
};
