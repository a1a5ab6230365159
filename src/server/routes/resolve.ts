import { z } from 'zod';
import { ResolveResponse } from '../../core/api.js';
import { DEFAULT_PROJECT } from '../../core/node/config.js';
import { parseReference } from '../../core/reference.js';
import { canRead, hiddenProject } from '../auth/principal.js';
import type { RoutePlugin } from '../context.js';
import { errors, P } from './common.js';

export const resolveRoutes: RoutePlugin = (app, ctx) => {
  app.get(
    `${P}/resolve`,
    {
      schema: {
        operationId: 'resolveReference',
        summary: 'Resolve a reference [entity/][project/]name[:alias|:vN] to a version (the fast path)',
        description: 'Missing parts default to the `entity` / `project` query parameters, else the key\'s entity and "uncategorized".',
        querystring: z.object({ ref: z.string().min(1).max(512), entity: z.string().optional(), project: z.string().optional() }),
        response: { 200: ResolveResponse, ...errors },
      },
    },
    async (req) => {
      const ref = parseReference(req.query.ref);
      const entity = ref.entity ?? req.query.entity ?? req.principal.entity;
      const project = ref.project ?? req.query.project ?? DEFAULT_PROJECT;
      if (!canRead(req.principal, entity, project)) throw hiddenProject();
      return ctx.artifacts.resolve(entity, project, ref.name, ref.selector);
    },
  );
};
