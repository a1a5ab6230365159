import { GcRequest, GcResponse } from '../../core/api.js';
import type { RoutePlugin } from '../context.js';
import { collectGarbage } from '../gc.js';
import { errors, P } from './common.js';

export const adminRoutes: RoutePlugin = (app, ctx) => {
  app.post(
    `${P}/admin/gc`,
    { schema: { operationId: 'collectGarbage', summary: 'Soft-delete versions whose ttl ran out, then delete blobs no committed/pending version or run file references, older than the grace period (default 24 h)', body: GcRequest.optional(), response: { 200: GcResponse, ...errors } } },
    async (req) => {
      const body = req.body ?? {};
      // Expired versions go first, so blobs only they held are collected by this same run.
      const expiredVersions = await ctx.artifacts.expire(!!body.dryRun, req.principal.user);
      return { ...(await collectGarbage(ctx.db, ctx.blobs, body)), expiredVersions };
    },
  );
};
