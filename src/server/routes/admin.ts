import { GcRequest, GcResponse } from '../../core/api.js';
import type { RoutePlugin } from '../context.js';
import { collectGarbage } from '../gc.js';
import { errors, P } from './common.js';

export const adminRoutes: RoutePlugin = (app, ctx) => {
  app.post(
    `${P}/admin/gc`,
    { schema: { summary: 'Delete blobs no committed/pending version or run file references, older than the grace period (default 24 h)', body: GcRequest.optional(), response: { 200: GcResponse, ...errors } } },
    async (req) => collectGarbage(ctx.db, ctx.blobs, req.body ?? {}),
  );
};
