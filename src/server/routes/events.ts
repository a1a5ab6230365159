import type { ServerResponse } from 'node:http';
import type { ServerEvent } from '../../core/api.js';
import { canRead, type Principal } from '../auth/principal.js';
import type { RoutePlugin } from '../context.js';
import { P } from './common.js';

/** How often an open stream re-reads its key's grants (a revoked key's stream ends). */
const RECHECK_MS = 5_000;

function projectOf(e: ServerEvent): { entity: string; project: string } {
  switch (e.type) {
    case 'alias.moved':
      return e;
    case 'run.updated':
      return e.run;
    default:
      return e.version;
  }
}

/** Server-sent events: one `data:` line of ServerEvent JSON per event, comments as keep-alives. */
export const eventRoutes: RoutePlugin = (app, ctx) => {
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
    open.clear();
  });
  app.get(`${P}/events`, { schema: { summary: 'Server-sent events of the projects the key may read: version.created/updated/deleted, alias.moved, run.updated' } }, (req, reply) => {
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
    const unsubscribe = ctx.events.subscribe((e) => {
      const where = projectOf(e);
      if (canRead(principal, where.entity, where.project)) res.write(`data: ${JSON.stringify(e)}\n\n`);
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), ctx.sseKeepAliveMs);
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
  });
};
