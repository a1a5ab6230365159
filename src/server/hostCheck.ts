/**
 * DNS-rebinding defence for a server bound to loopback: a web page can point its own host name
 * at 127.0.0.1, but its requests still carry that name in `Host`. Only loopback names and
 * addresses are accepted there. Servers bound to other addresses (behind a proxy or load
 * balancer) are reached under names this process cannot know, so they are not checked.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isIP } from 'node:net';

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (LOOPBACK_NAMES.has(h) || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '0:0:0:0:0:0:0:1';
}

/** The host part of a Host header value (`name`, `name:port`, `[v6]:port`). */
function hostName(header: string): string {
  const v6 = /^\[([^\]]*)\](?::\d*)?$/.exec(header);
  if (v6) return v6[1];
  const i = header.lastIndexOf(':');
  return i === -1 || header.indexOf(':') !== i ? header : header.slice(0, i);
}

/** Extra names a loopback-bound server answers to (a reverse proxy on the same machine), from AMPHORA_ALLOWED_HOSTS. */
export function allowedHostsFromEnv(env: Record<string, string | undefined> = process.env): string[] {
  return (env.AMPHORA_ALLOWED_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
}

/**
 * An onRequest hook refusing Host headers that are neither loopback nor in `allowed`, or
 * undefined when `bindHost` is not loopback.
 */
export function loopbackHostGuard(bindHost: string, allowed: readonly string[] = []) {
  if (!isLoopbackHost(bindHost)) return undefined;
  const extra = new Set(allowed.map((h) => h.toLowerCase()));
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = req.headers.host;
    // No Host at all (HTTP/1.0 tools) cannot come from a browser page: nothing to rebind.
    if (header === undefined) return;
    const name = hostName(header).toLowerCase();
    if (isLoopbackHost(name) || extra.has(name)) return;
    await reply.code(403).send({
      error: {
        code: 'forbidden_host',
        message:
          `This Amphora server listens on loopback only and answers requests addressed to localhost, 127.0.0.1 or [::1], not to "${header.slice(0, 100)}" ` +
          '(a web page pointing its own host name at this machine, or a proxy passing its own Host). Connect through the URL in the discovery file (server.json); ' +
          'a reverse proxy on this machine can be allowed with AMPHORA_ALLOWED_HOSTS=name[,name…].',
      },
    });
  };
}
