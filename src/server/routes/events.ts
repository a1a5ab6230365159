import type { ServerResponse } from 'node:http';
import type { RoutePlugin } from '../context.js';
import { P } from './common.js';

/** Server-sent events: one `data:` line of ServerEvent JSON per event, comments as keep-alives. */
export const eventRoutes: RoutePlugin = (app, ctx) => {
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
    open.clear();
  });
  app.get(`${P}/events`, { schema: { summary: 'Server-sent events: version.created/updated/deleted, alias.moved, run.updated' } }, (req, reply) => {
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
    const unsubscribe = ctx.events.subscribe((e) => {
      res.write(`data: ${JSON.stringify(e)}\n\n`);
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), ctx.sseKeepAliveMs);
    const done = () => {
      clearInterval(keepAlive);
      unsubscribe();
      open.delete(res);
    };
    req.raw.on('close', done);
    res.on('close', done);
  });
};
