import type { ServerResponse } from 'node:http';
import { eventProject } from '../../core/api.js';
import { canRead, type Principal } from '../auth/principal.js';
import type { RoutePlugin } from '../context.js';
import { SseStream } from '../sseStream.js';
import { errors, EventStream, P } from './common.js';

/** How often an open stream re-reads its key's grants (a revoked key's stream ends). */
const RECHECK_MS = 5_000;


/** Server-sent events: one `data:` line of ServerEvent JSON per event, comments as keep-alives. */
export const eventRoutes: RoutePlugin = (app, ctx) => {
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
    open.clear();
  });
  app.get(
    `${P}/events`,
    {
      schema: {
        operationId: 'streamEvents',
        summary: 'Server-sent events of the projects the key may read: version.created/updated/deleted, alias.moved, run.updated',
        description: 'Events name what changed (no metadata, config or summary: fetch them). A subscriber more than 1 MiB behind is disconnected; reconnect and reload what you show.',
        response: { 200: EventStream, ...errors },
      },
    },
    (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write('retry: 2000\n: connected\n\n');
      open.add(res);
      let principal: Principal = req.principal;
      const stream = new SseStream(res, () => req.log.warn('event subscriber fell behind; disconnected it (it reconnects and resyncs)'));
      const unsubscribe = ctx.events.subscribe((frame, e) => {
        const where = eventProject(e);
        if (canRead(principal, where.entity, where.project)) stream.send(frame);
      });
      const keepAlive = setInterval(() => stream.send(': keep-alive\n\n'), ctx.sseKeepAliveMs);
      const recheck = setInterval(() => {
        void ctx.auth.refresh(principal).then((p) => {
          if (p) principal = p;
          else res.end();
        });
      }, RECHECK_MS);
      recheck.unref();
      const done = () => {
        clearInterval(keepAlive);
        clearInterval(recheck);
        unsubscribe();
        open.delete(res);
      };
      req.raw.on('close', done);
      res.on('close', done);
    },
  );
};
