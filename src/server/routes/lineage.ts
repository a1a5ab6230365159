import { z } from 'zod';
import { LineageGraph } from '../../core/api.js';
import { canRead } from '../auth/principal.js';
import type { RoutePlugin } from '../context.js';
import { errors, P, ProjectParams } from './common.js';

export const lineageRoutes: RoutePlugin = (app, ctx) => {
  app.get(
    `${P}/projects/:entity/:project/lineage`,
    {
      schema: {
        operationId: 'getLineage',
        summary: 'Lineage graph around a node (or the whole project), at instance or type level',
        params: ProjectParams,
        querystring: z.object({
          node: z.string().max(256).optional(),
          depth: z.coerce.number().int().min(0).max(100).optional(),
          level: z.enum(['instance', 'type']).optional(),
          direction: z.enum(['both', 'upstream', 'downstream']).optional(),
        }),
        response: { 200: LineageGraph, ...errors },
      },
    },
    async (req) => ctx.lineage.graph(req.params.entity, req.params.project, req.query, req.principal.siteAdmin ? undefined : (e, p) => canRead(req.principal, e, p)),
  );
};
