import { ErrorBody, Health, Viewer } from '../../core/api.js';
import { DEFAULT_PROJECT } from '../../core/node/config.js';
import type { RoutePlugin } from '../context.js';
import { SERVER_VERSION } from '../version.js';
import { errors, P } from './common.js';

export const healthRoutes: RoutePlugin = (app, ctx) => {
  app.get(`${P}/health`, { schema: { operationId: 'getHealth', summary: 'Liveness (no API key needed)', response: { 200: Health, 403: ErrorBody } } }, async () => ({
    ok: true as const,
    version: SERVER_VERSION,
    mode: ctx.mode,
  }));
  app.get(`${P}/viewer`, { schema: { operationId: 'getViewer', summary: 'Who the API key belongs to: user, personal entity, grants with roles', response: { 200: Viewer, ...errors } } }, async (req) => {
    const p = req.principal;
    return {
      entity: p.entity,
      defaultProject: DEFAULT_PROJECT,
      user: p.user,
      mode: ctx.mode,
      siteAdmin: p.siteAdmin,
      entities: p.grants.map((g) => ({ entity: g.entity, kind: g.kind, project: g.project, role: g.role })),
      restricted: p.restricted,
    };
  });
};
