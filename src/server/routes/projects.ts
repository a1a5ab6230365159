import { ArtifactTypeList, ProjectList } from '../../core/api.js';
import type { RoutePlugin } from '../context.js';
import { errors, P, ProjectParams } from './common.js';

export const projectRoutes: RoutePlugin = (app, ctx) => {
  app.get(`${P}/projects`, { schema: { summary: 'Projects with artifact and run counts', response: { 200: ProjectList, ...errors } } }, async () =>
    ctx.artifacts.listProjects(),
  );
  app.get(
    `${P}/projects/:entity/:project/artifact-types`,
    { schema: { params: ProjectParams, response: { 200: ArtifactTypeList, ...errors } } },
    async (req) => ctx.artifacts.listTypes(req.params.entity, req.params.project),
  );
};
