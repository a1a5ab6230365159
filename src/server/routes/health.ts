import { Health, Viewer } from '../../core/api.js';
import { DEFAULT_PROJECT } from '../../core/config.js';
import type { RoutePlugin } from '../context.js';
import { SERVER_VERSION } from '../version.js';
import { errors, P } from './common.js';

export const healthRoutes: RoutePlugin = (app, ctx) => {
  app.get(`${P}/health`, { schema: { summary: 'Liveness (no API key needed)', response: { 200: Health } } }, async () => ({
    ok: true as const,
    version: SERVER_VERSION,
    mode: ctx.mode,
  }));
  app.get(`${P}/viewer`, { schema: { summary: 'Who the API key belongs to', response: { 200: Viewer, ...errors } } }, async () => ({
    entity: ctx.entity,
    defaultProject: DEFAULT_PROJECT,
  }));
};
